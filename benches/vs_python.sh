#!/usr/bin/env bash
# Times ballast's portfolio math and the Python anchors on the same data in one run on this
# machine, and prints the issue's table: ratio of medians and the accuracy of each side.
#
#   benches/vs_python.sh                      # all four anchor datasets (~10 min, most of it Python)
#   DATASETS="services_730 factor_100" benches/vs_python.sh
#
# The Python side is ../shared/anchors/bench (run_optimizers.py) in its own virtual environment
# built from its requirements.txt. The anchors directory is read-only shared material, so the
# scripts and data are copied into target/ and run there (run_optimizers.py writes its results
# next to its data). This script is the only part of the repository that reads ../shared.
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATASETS="${DATASETS:-services_730 factor_20 factor_100 factor_500}"
anchors_venv

fresh_work vs_python data expected results
cp -r "$ANCHORS/bench" "$WORK/bench"
for d in $DATASETS; do
  cp "$ANCHORS/data/$d.csv" "$WORK/data/"
  cp "$ANCHORS/expected/$d.json" "$WORK/expected/"
done
chmod -R u+w "$WORK"

echo "== Rust (cargo bench --bench timings, release)" >&2
# shellcheck disable=SC2086
(cd "$ROOT" && cargo bench -j1 -q -p ballast --bench timings -- "$WORK" $DATASETS) \
  | grep '^\[' > "$WORK/rust.json"

echo "== Python anchors (run_optimizers.py)" >&2
# shellcheck disable=SC2086
(cd "$WORK/bench" && "$VENV/bin/python" run_optimizers.py $DATASETS) >&2

PY_RESULTS="$(ls "$WORK"/results/optimizers-*.json)"
python3 - "$WORK/rust.json" "$PY_RESULTS" <<'PY'
import json, math, sys
rust = json.load(open(sys.argv[1]))
py = json.load(open(sys.argv[2]))
ok = lambda r: r["median_ms"] == r["median_ms"] and not r["quality"].startswith(("FAILED", "skipped"))
# (problem, dataset, Python implementation the goal compares with, goal ratio)
goals = [
    ("risk-parity", "services_730", "seed SLSQP (bounds .01-.80)", 1000),
    ("risk-parity", "factor_100", "cvxpy+clarabel log-barrier", 20),
    ("risk-parity", "factor_500", "cvxpy+clarabel log-barrier", 20),
    ("min-variance", "services_730", "seed SLSQP", 1000),
    ("max-sharpe", "services_730", "seed SLSQP", 1000),
    ("min-variance", "factor_100", "PyPortfolioOpt", 20),
    ("max-sharpe", "factor_100", "PyPortfolioOpt", 20),
    ("min-variance", "factor_500", "PyPortfolioOpt", 10),
    ("max-sharpe", "factor_500", "PyPortfolioOpt", 10),
    ("frontier-50", "services_730", "PyPortfolioOpt CLA", 20),
    ("frontier-50", "factor_100", "cvxpy+clarabel (parametrized, default tol)", 20),
    ("ledoit-wolf", "factor_500", "sklearn", 10),
]
def rust_row(ds, m):
    return next((r for r in rust if r["dataset"] == ds and r["method"] == m), None)
print("\n## The issue's table (median ms, same machine, same run)\n")
print("| problem | dataset (n) | Python anchor | Python ms | Python quality | ballast ms | ballast quality | ratio | goal | met |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m, ds, impl, goal in goals:
    p = next((r for r in py if r["dataset"] == ds and r["method"] == m and r["impl"] == impl), None)
    r = rust_row(ds, m)
    if p is None or r is None:
        continue
    if not ok(p):
        print(f"| {m} | {ds} ({r['n']}) | {impl} | – | {p['quality']} | {r['median_ms']:.4f} | {r['quality']} | – | ≥{goal}× | – |")
        continue
    ratio = p["median_ms"] / r["median_ms"]
    print(f"| {m} | {ds} ({r['n']}) | {impl} | {p['median_ms']:.3f} | {p['quality']} | {r['median_ms']:.4f} | {r['quality']} | {ratio:,.0f}× | ≥{goal}× | {'yes' if ratio >= goal else 'NO'} |")
print("\n## Every method against the fastest working Python implementation\n")
print("| dataset | method | fastest Python | Python ms | ballast ms | ratio | ballast quality |")
print("|---|---|---|---|---|---|---|")
for r in rust:
    cands = [p for p in py if p["dataset"] == r["dataset"] and p["method"] == r["method"] and ok(p)]
    if not cands:
        continue
    best = min(cands, key=lambda p: p["median_ms"])
    print(f"| {r['dataset']} | {r['method']} | {best['impl']} | {best['median_ms']:.3f} | {r['median_ms']:.4f} | {best['median_ms']/r['median_ms']:,.0f}× | {r['quality']} |")
PY
