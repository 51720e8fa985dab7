#!/usr/bin/env bash
# Soak benchmark: `ballast run` against `ballast sim` with every fault switched on at a
# moderate rate, for at least SIM_DAYS simulated days at high clock speed. Prints what the
# issue asks for: events, reconnects, retries, orders, duplicate legs (must be 0),
# accounting-identity violations (must be 0) and the companion's peak RSS.
#
#   benches/soak.sh                       # 10 simulated days at 1 day per 2 real seconds
#   SIM_DAYS=30 SPEED=86400 benches/soak.sh
#   FAULTS="http5xx=0.1,lost_ack=0.05" benches/soak.sh
#
# Everything runs on 127.0.0.1 with a temporary store; nothing outside target/ is written.
# The identity is polled from the venue's /sim/stats every POLL_SECONDS while the run lasts,
# and checked once more at the end. Exit status 1 when a must-be-zero figure is not zero.
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIM_DAYS="${SIM_DAYS:-10}"
SPEED="${SPEED:-43200}"
SEED="${SEED:-6}"
POLL_SECONDS="${POLL_SECONDS:-0.25}"
FAULTS="${FAULTS:-latency=2ms,jitter=8ms,http5xx=0.03,http429=0.02,drop_ws=0.003,silent_ws=0.002,duplicate=0.02,reorder=0.02,malformed=0.02,lost_ack=0.03}"

build_ballast
fresh_work soak

cleanup() {
  [ -n "${RUN_PID:-}" ] && kill "$RUN_PID" 2>/dev/null || true
  [ -n "${SIM_PID:-}" ] && kill "$SIM_PID" 2>/dev/null || true
}
trap cleanup EXIT

# The venue: a free port on loopback; its first JSON line names the address.
start_sim "$SEED" "$SPEED" "$FAULTS"
echo "venue $BASE_URL faults=$FAULTS speed=${SPEED}x" >&2

# The companion: a short idle timeout so silent sockets are noticed within the run, and
# quick leg retries; everything else is the default configuration.
BALLAST__STORE__PATH="$WORK/ballast.db" \
BALLAST__VENUE__IDLE_TIMEOUT_MS=3000 \
BALLAST__VENUE__REQUEST_TIMEOUT_MS=1000 \
BALLAST__VENUE__RECONNECT_MAX_MS=2000 \
BALLAST__EXECUTOR__LEG_RETRY_BASE_MS=50 \
BALLAST__OUTPUT__LOG=error \
  "$BIN" run --json --venue "$BASE_URL" --quiet >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!

# Poll the venue until SIM_DAYS have passed: identity checks and the companion's peak RSS.
python3 - "$BASE_URL" "$SIM_DAYS" "$POLL_SECONDS" "$RUN_PID" "$WORK/poll.json" <<'PY'
import json, sys, time, urllib.request, datetime
base, days, poll, pid, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
def stats():
    with urllib.request.urlopen(base + "/sim/stats", timeout=5) as r:
        return json.load(r)
def hwm_kib():
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None
first = stats()
t0 = datetime.datetime.fromisoformat(first["sim_time"].replace("Z", "+00:00"))
checks = violations = 0
peak = 0
wall0 = time.time()
while True:
    s = stats()
    checks += 1
    if not s["accounting"]["ok"]:
        violations += 1
    peak = max(peak, hwm_kib() or 0)
    now = datetime.datetime.fromisoformat(s["sim_time"].replace("Z", "+00:00"))
    if (now - t0).total_seconds() >= days * 86400:
        break
    if time.time() - wall0 > 3600:
        sys.exit("soak: the simulated clock did not advance")
    time.sleep(poll)
json.dump({"checks": checks, "violations": violations, "peak_rss_kib": peak,
           "sim_days": (now - t0).total_seconds() / 86400, "wall_seconds": time.time() - wall0},
          open(out, "w"))
PY

kill -INT "$RUN_PID"
wait "$RUN_PID" || { echo "ballast run exited non-zero; see $WORK/run.err" >&2; exit 1; }
RUN_PID=
save_sim_stats
stop_sim

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
poll = json.load(open(f"{work}/poll.json"))
stats = json.load(open(f"{work}/stats.json"))
summary = None
for line in open(f"{work}/run.out"):
    try:
        obj = json.loads(line)
    except ValueError:
        continue
    if obj.get("kind") == "summary":
        summary = obj["summary"]
if summary is None:
    sys.exit("soak: no summary from ballast run")
posts = sum(v for k, v in stats["requests_by_endpoint"].items() if k.startswith("POST") and k.endswith("/rebalance"))
status_queries = sum(v for k, v in stats["requests_by_endpoint"].items() if k.startswith("GET") and "/rebalance/" in k)
final_ok = stats["accounting"]["ok"]
violations = poll["violations"] + (0 if final_ok else 1)
rows = [
    ("simulated days", f'{poll["sim_days"]:.1f} in {poll["wall_seconds"]:.1f} s'),
    ("events seen", summary["events_seen"]),
    ("malformed frames ignored", summary["malformed_frames"]),
    ("connections (reconnects)", f'{summary["connections"]} ({max(summary["connections"] - 1, 0)})'),
    ("websockets accepted by venue", stats["websocket_connections"]),
    ("rebalances", summary["rebalances"]),
    ("orders (legs applied)", summary["legs_applied"]),
    ("legs failed or skipped", summary["legs_failed"]),
    ("leg retries (same key)", summary["leg_retries"]),
    ("rebalance POSTs at venue", posts),
    ("status queries at venue", status_queries),
    ("idempotent replays", stats["idempotent_replays"]),
    ("transfers applied by venue", stats["applied_transfers"]),
    ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(stats["faults_injected"].items()))),
    ("duplicate legs (must be 0)", stats["duplicate_transfer_keys"]),
    ("identity checks", poll["checks"] + 1),
    ("identity violations (must be 0)", violations),
    ("peak RSS of ballast run", f'{poll["peak_rss_kib"] / 1024:.1f} MiB'),
]
width = max(len(k) for k, _ in rows)
for k, v in rows:
    print(f"{k:<{width}}  {v}")
mismatch = stats["applied_transfers"] != summary["legs_applied"]
if mismatch:
    print(f"note: the venue applied {stats['applied_transfers']} transfers, ballast counted {summary['legs_applied']}")
sys.exit(1 if (stats["duplicate_transfer_keys"] or violations or mismatch) else 0)
PY
