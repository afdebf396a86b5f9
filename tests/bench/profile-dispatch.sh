#!/usr/bin/env bash
# profile-dispatch.sh -- where a worker's CPU per task goes (make bench, dispatch).
#
#   tests/bench/profile-dispatch.sh BIN [SLOTS] [SECONDS]
#
# Starts tests/bench/fake_activity.js (tasks mode, 127.0.0.1) and
# `BIN worker --handler noop` with SLOTS slots (default 1), then profiles
# the worker for SECONDS (default 5): `perf record -e cpu-clock` (this VM
# has no hardware counters) reported by library and by symbol, and `strace
# -c` for the system calls per task. tests/bench/README.md quotes it
# for the one dispatch target still missed. Needs perf and strace (root).
set -euo pipefail

bin=$(realpath "${1:?usage: profile-dispatch.sh BIN [SLOTS] [SECONDS]}")
slots=${2:-1}
secs=${3:-5}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
fake=""
worker=""
cleanup() {
  [ -n "$worker" ] && kill "$worker" 2>/dev/null
  [ -n "$fake" ] && kill "$fake" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=tests/bench/dispatch-lib.sh
. "$top/tests/bench/dispatch-lib.sh"
dl_start_fake "$work"
fake=$dl_fake
dl_start_worker "$bin" "$slots" "$work"
worker=$dl_worker
sleep 2

echo "== perf, $slots slot(s), $secs s"
t0=$(dl_succeeded)
perf record -q -F 4000 -e cpu-clock -p "$worker" -o "$work/perf.data" -- sleep "$secs" >/dev/null 2>&1
t1=$(dl_succeeded)
echo "tasks: $((t1 - t0))"
perf report -i "$work/perf.data" --no-children --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8 || true
perf report -i "$work/perf.data" --no-children --sort dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -15 || true

echo "== strace -c, $slots slot(s), $secs s (slows the worker; counts only)"
t0=$(dl_succeeded)
timeout -s INT "$secs" strace -f -c -p "$worker" -o "$work/strace.txt" 2>/dev/null || true
sleep 0.3
t1=$(dl_succeeded)
echo "tasks: $((t1 - t0))"
head -12 "$work/strace.txt"
