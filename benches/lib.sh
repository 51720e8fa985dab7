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
