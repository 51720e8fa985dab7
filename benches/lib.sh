#!/usr/bin/env bash
# Shared by the benchmark scripts, which source it (it runs nothing itself): where the
# repository and cargo's target directory are, and a fresh work directory under target/.

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
