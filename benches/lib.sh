#!/usr/bin/env bash
# Shared by the benchmark scripts, which source it (it runs nothing itself): where the
# repository and cargo's target directory are, a fresh work directory under target/, the
# release binary and a simulated venue on loopback.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

# fresh_work NAME [SUBDIR...]: sets WORK to $TARGET/NAME, emptied, with the SUBDIRs made.
fresh_work() {
  WORK="$TARGET/$1"
  shift
  rm -rf "$WORK" && mkdir -p "$WORK"
  for sub in "$@"; do
    mkdir -p "$WORK/$sub"
  done
}

# anchors_venv: sets ANCHORS (default ../shared/anchors, or $ANCHORS) and VENV (default
# $TARGET/anchors-venv, or $VENV), building the anchors' Python environment from their
# requirements.txt once, and again only when those requirements change.
anchors_venv() {
  ANCHORS="${ANCHORS:-$ROOT/../shared/anchors}"
  [ -d "$ANCHORS/bench" ] || { echo "no anchors at $ANCHORS (set ANCHORS=...)" >&2; exit 2; }
  if [ -n "${VENV:-}" ]; then
    [ -x "$VENV/bin/python" ] || { echo "VENV=$VENV has no bin/python" >&2; exit 2; }
    return
  fi
  VENV="$TARGET/anchors-venv"
  if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$ANCHORS/bench/requirements.txt" "$VENV/requirements.txt"; then
    echo "== building the anchors' Python environment (once)" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ANCHORS/bench/requirements.txt"
    cp "$ANCHORS/bench/requirements.txt" "$VENV/requirements.txt"
  fi
}

# build_ballast: builds the release `ballast` binary and sets BIN to it.
build_ballast() {
  cargo build --release -j2 -p ballast-actors --bin ballast >&2
  BIN="$TARGET/release/ballast"
}

# start_sim SEED SPEED FAULTS: starts `$BIN sim` in the background on a free loopback port
# with that seed, clock speed and faults (its output in $WORK/sim.out and $WORK/sim.err);
# sets SIM_PID, and BASE_URL from the first JSON line it prints.
start_sim() {
  "$BIN" sim --json --listen 127.0.0.1:0 --seed "$1" --speed "$2" --faults "$3" \
    >"$WORK/sim.out" 2>"$WORK/sim.err" &
  SIM_PID=$!
  for _ in $(seq 1 200); do
    [ -s "$WORK/sim.out" ] && break
    sleep 0.05
  done
  BASE_URL="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["base_url"])' "$WORK/sim.out")"
}

# save_sim_stats: writes the venue's /sim/stats (the venue at $BASE_URL) to $WORK/stats.json.
save_sim_stats() {
  curl -fsS "$BASE_URL/sim/stats" >"$WORK/stats.json" 2>/dev/null \
    || python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]+"/sim/stats").read().decode())' "$BASE_URL" >"$WORK/stats.json"
}

# stop_sim: stops the venue start_sim started, gracefully, and clears SIM_PID.
stop_sim() {
  kill -INT "$SIM_PID"
  wait "$SIM_PID" || true
  SIM_PID=
}
