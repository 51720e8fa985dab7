#!/usr/bin/env bash
# Times ballast's backtester and the Python anchors on the same work in one run on this
# machine, and prints the issue's ratios:
#   - one path (hybrid: daily check, 5-point band, 30-day floor, 10 bps, targets
#     20/30/15/15/10/10, data/services_3650.csv) against run_backtest.py's pandas loop (goal
#     ≥ 1000×) and numpy loop (goal ≥ 100×), with the final value to 1e-9 relative and the
#     same rebalances;
#   - Monte Carlo path-days per second against the numpy loop vectorized over 1,000 paths ×
#     3,650 days (goal ≥ 20×). Both sides EXCLUDE path generation: the Python draws its paths
#     before timing numpy_paths, and ballast's bench generates its paths before the clock.
#
#   benches/vs_python_backtest.sh                  # PATHS=1000 by default
#   VENV=/path/to/venv benches/vs_python_backtest.sh   # a venv with numpy, pandas, scipy
#
# The Python side is ../shared/anchors/bench/run_backtest.py in the virtual environment that
# benches/vs_python.sh builds from the anchors' requirements.txt (built here too if missing).
# The anchors directory is read-only shared material, so the scripts and data are copied
# into target/ and run there (run_backtest.py writes its results next to its data).
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PATHS="${PATHS:-1000}"
anchors_venv

fresh_work vs_python_backtest data results
cp -r "$ANCHORS/bench" "$WORK/bench"
cp "$ANCHORS/data/services_3650.csv" "$WORK/data/"
chmod -R u+w "$WORK"

echo "== Rust (cargo bench --bench backtest, release)" >&2
(cd "$ROOT" && cargo bench -j1 -q -p ballast --bench backtest -- \
  "$WORK/data/services_3650.csv" "$PATHS" 3650) | grep '^{' > "$WORK/rust.json"

echo "== Python anchors (run_backtest.py $PATHS)" >&2
(cd "$WORK/bench" && "$VENV/bin/python" run_backtest.py "$PATHS") >&2

python3 - "$WORK/rust.json" "$WORK/results/backtest.json" <<'PY'
import json, sys
rust = json.load(open(sys.argv[1]))
py = json.load(open(sys.argv[2]))
row = lambda prefix: next(r for r in py["rows"] if r["impl"].startswith(prefix))
pd_, np_, vec = row("pandas"), row("numpy loop"), row("numpy vectorized")
one, mc = rust["one_path"], rust["monte_carlo"]
rel = abs(one["final_value"] / np_["final_value"] - 1)
same = one["rebalances"] == np_["rebalances"]
print(f"\n## Backtest: ballast against run_backtest.py (same machine, same run, {rust['threads']} threads)\n")
print("| work | Python | Python ms | ballast ms | ratio | goal | met |")
print("|---|---|---|---|---|---|---|")
for name, p, goal in [("one path, 3,650 days", pd_, 1000), ("one path, 3,650 days", np_, 100)]:
    ratio = p["median_ms"] / one["median_ms"]
    print(f"| {name} | {p['impl']} | {p['median_ms']:.2f} | {one['median_ms']:.4f} | {ratio:,.0f}× | ≥{goal}× | {'yes' if ratio >= goal else 'NO'} |")
ratio = mc["path_days_per_s"] / vec["path_days_per_s"]
print(f"| Monte Carlo, {mc['paths']:,} × {mc['days']:,} path-days (generation excluded) | {vec['impl']} | {vec['median_ms']:.1f} | {mc['median_ms']:.1f} | {ratio:,.1f}× | ≥20× | {'yes' if ratio >= 20 else 'NO'} |")
print()
print(f"- one path: final value {one['final_value']:.10f} (Python {np_['final_value']:.10f}, relative difference {rel:.1e}, "
      f"{'within' if rel <= 1e-9 else 'OUTSIDE'} 1e-9); rebalances {one['rebalances']} (Python {np_['rebalances']}, {'same' if same else 'DIFFERENT'})")
print(f"- Monte Carlo: {mc['path_days_per_s']:.3g} path-days/s (Python {vec['path_days_per_s']:.3g}); "
      f"median final value {mc['median_final_value']:.2f} (Python {vec['final_value']:.2f}, other draws of the same model), "
      f"mean rebalances {mc['mean_rebalances']:.1f} (Python {vec['rebalances']:.1f})")
print(f"- with every metric computed (tracking error, turnover, drawdown, ...; the Python computes none): "
      f"one path {one['with_metrics_median_ms']:.4f} ms, Monte Carlo {mc['with_metrics_path_days_per_s']:.3g} path-days/s; "
      f"generating the {mc['paths']:,} paths (excluded above) took {mc['generation_ms']:.0f} ms")
PY
