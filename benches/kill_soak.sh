#!/usr/bin/env bash
# Kill soak: `ballast run` is killed with SIGKILL at random moments (KILLS times, 50 by
# default) against `ballast sim` with every fault switched on, and restarted on the same store
# each time; then it runs once more and is stopped gracefully. Nothing may be traded twice and
# nothing may be lost track of:
#   - the venue's applied transfers equal the store's applied legs,
#   - no idempotency key was applied twice,
#   - no leg is left pending (of unknown outcome) after the graceful stop,
#   - the venue's accounting identity holds.
#
#   benches/kill_soak.sh                  # 50 kills, each 0.2 to 2.5 s after a start
#   KILLS=100 MAX_LIFE=4 benches/kill_soak.sh
#   FAULTS="http5xx=0.1,lost_ack=0.1" benches/kill_soak.sh
#
# Everything runs on 127.0.0.1 with a temporary store under target/; exit status 1 when a
# check fails. The companion plans often (every event's balances are band-checked against a
# 1-point band) so that kills land in the middle of plans.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
KILLS="${KILLS:-50}"
MIN_LIFE="${MIN_LIFE:-0.2}"
MAX_LIFE="${MAX_LIFE:-2.5}"
SPEED="${SPEED:-21600}"
SEED="${SEED:-14}"
FAULTS="${FAULTS:-latency=20ms,jitter=20ms,http5xx=0.03,http429=0.02,drop_ws=0.003,silent_ws=0.002,duplicate=0.02,reorder=0.02,malformed=0.02,lost_ack=0.1}"
FINAL_SECONDS="${FINAL_SECONDS:-5}"

build_ballast
fresh_work kill_soak
STORE="$WORK/ballast.db"

cleanup() {
  [ -n "${RUN_PID:-}" ] && kill -KILL "$RUN_PID" 2>/dev/null || true
  [ -n "${SIM_PID:-}" ] && kill "$SIM_PID" 2>/dev/null || true
}
trap cleanup EXIT

start_sim "$SEED" "$SPEED" "$FAULTS"
echo "venue $BASE_URL faults=$FAULTS speed=${SPEED}x kills=$KILLS" >&2

start_companion() {
  BALLAST__STORE__PATH="$STORE" \
  BALLAST__POLICY__THRESHOLD_ON_EVENTS=true \
  BALLAST__POLICY__BAND=0.01 \
  BALLAST__VENUE__IDLE_TIMEOUT_MS=3000 \
  BALLAST__VENUE__REQUEST_TIMEOUT_MS=500 \
  BALLAST__VENUE__RECONNECT_MAX_MS=1000 \
  BALLAST__EXECUTOR__LEG_RETRY_BASE_MS=50 \
  BALLAST__OUTPUT__LOG=error \
    "$BIN" run --json --quiet --venue "$BASE_URL" >>"$WORK/run.out" 2>>"$WORK/run.err" &
  RUN_PID=$!
}

pending() {
  "$BIN" --json status --store "$STORE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["legs_pending"])'
}

# The kills: each at a random moment of its life, mid-sync, mid-plan or idle.
for i in $(seq 1 "$KILLS"); do
  start_companion
  sleep "$(python3 -c "import random; print(round(random.uniform($MIN_LIFE, $MAX_LIFE), 3))")"
  kill -KILL "$RUN_PID" 2>/dev/null || true
  wait "$RUN_PID" 2>/dev/null || true
  RUN_PID=
  [ $((i % 10)) -eq 0 ] && echo "  $i kills, $(pending) leg(s) pending" >&2
done

# The graceful stop: a run long enough to reconcile what the kills left. A status query can
# meet an injected fault, leaving a leg pending until the next reconciliation: when legs are
# still pending after the stop, one more run reconciles them (counted below).
FINAL_RUNS=0
while :; do
  FINAL_RUNS=$((FINAL_RUNS + 1))
  start_companion
  sleep "$FINAL_SECONDS"
  kill -INT "$RUN_PID"
  wait "$RUN_PID" || { echo "kill_soak: the graceful stop exited non-zero; see $WORK/run.err" >&2; exit 1; }
  RUN_PID=
  [ "$(pending)" -eq 0 ] && break
  [ "$FINAL_RUNS" -ge 5 ] && break
done

save_sim_stats
"$BIN" --json status --store "$STORE" >"$WORK/status.json"
stop_sim

python3 - "$WORK" "$KILLS" "$FINAL_RUNS" <<'PY'
import json, sys
work, kills, final_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stats = json.load(open(f"{work}/stats.json"))
status = json.load(open(f"{work}/status.json"))
posts = sum(v for k, v in stats["requests_by_endpoint"].items() if k.startswith("POST") and k.endswith("/rebalance"))
status_queries = sum(v for k, v in stats["requests_by_endpoint"].items() if k.startswith("GET") and "/rebalance/" in k)
checks = {
    "venue applied = store applied": stats["applied_transfers"] == status["legs_applied"],
    "duplicate keys = 0": stats["duplicate_transfer_keys"] == 0,
    "pending legs = 0": status["legs_pending"] == 0,
    "accounting identity holds": bool(stats["accounting"]["ok"]),
}
rows = [
    ("SIGKILLs", kills),
    ("runs recorded", status["runs"]),
    ("graceful final runs", final_runs),
    ("plans recorded", status["plans"]),
    ("transfers applied by venue", stats["applied_transfers"]),
    ("legs applied in store", status["legs_applied"]),
    ("legs failed (refused, abandoned, skipped)", status["legs_failed"]),
    ("legs pending (must be 0)", status["legs_pending"]),
    ("rebalance POSTs at venue", posts),
    ("status queries at venue", status_queries),
    ("idempotent replays", stats["idempotent_replays"]),
    ("duplicate keys (must be 0)", stats["duplicate_transfer_keys"]),
    ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(stats["faults_injected"].items()))),
    ("accounting identity", "ok" if stats["accounting"]["ok"] else "VIOLATED"),
]
width = max(len(k) for k, _ in rows)
for k, v in rows:
    print(f"{k:<{width}}  {v}")
failed = [name for name, ok in checks.items() if not ok]
for name in failed:
    print(f"FAILED: {name}")
sys.exit(1 if failed else 0)
PY
