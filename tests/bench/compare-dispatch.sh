#!/usr/bin/env bash
# compare-dispatch.sh -- two worker binaries' CPU per task, interleaved.
#
#   tests/bench/compare-dispatch.sh OLD_BIN NEW_BIN [SLOTS] [ROUNDS]
#
# For a before/after figure that machine load does not skew: ROUNDS
# (default 3) rounds, each running OLD then NEW as `worker --handler noop`
# with SLOTS slots (default 1) against a fresh tests/bench/fake_activity.js
# (127.0.0.1), 2 s warm-up, then 5 s measured: tasks answered and the
# worker's utime+stime from /proc/<pid>/stat. Prints one line per run.
set -euo pipefail

old=$(realpath "${1:?usage: compare-dispatch.sh OLD_BIN NEW_BIN [SLOTS] [ROUNDS]}")
new=$(realpath "${2:?usage: compare-dispatch.sh OLD_BIN NEW_BIN [SLOTS] [ROUNDS]}")
slots=${3:-1}
rounds=${4:-3}
top=$(cd "$(dirname "$0")/../.." && pwd)
tck=$(getconf CLK_TCK)
# shellcheck source=tests/bench/dispatch-lib.sh
. "$top/tests/bench/dispatch-lib.sh"

one() {
  local bin=$1 work fake worker c0 c1 t0 t1
  work=$(mktemp -d)
  dl_start_fake "$work"
  fake=$dl_fake
  dl_start_worker "$bin" "$slots" "$work"
  worker=$dl_worker
  sleep 2
  c0=$(dl_cpu_ticks "$worker"); t0=$(dl_succeeded)
  sleep 5
  c1=$(dl_cpu_ticks "$worker"); t1=$(dl_succeeded)
  kill "$worker" 2>/dev/null || true
  wait "$worker" 2>/dev/null || true
  kill "$fake" 2>/dev/null || true
  wait "$fake" 2>/dev/null || true
  rm -rf "$work"
  awk -v n="$((t1 - t0))" -v c="$((c1 - c0))" -v hz="$tck" -v b="$bin" -v s="$slots" \
    'BEGIN { printf "%-40s x%-2s %6d tasks  %.3f CPU-s per 1000 tasks\n", b, s, n, n ? c / hz / n * 1000 : 0 }'
}

for _ in $(seq "$rounds"); do
  one "$old"
  one "$new"
done
