#!/usr/bin/env bash
# run.sh -- run libFuzzer targets and summarise them (tests/fuzz/module.mk).
#
# For each target: a fresh work corpus (or the persistent --keep one) is
# fuzzed together with the committed seeds in tests/fuzz/corpus/<name>
# (read-only: libFuzzer writes new inputs to the first directory only),
# with the target's dictionary when tests/fuzz/<name>.dict exists. Runs
# --jobs targets at a time, prints one line per target (executions, edges
# covered of the edges instrumented, corpus size) and ends with
# "N passed, N failed". A crash, leak, timeout or sanitizer report fails
# the target and leaves the input in the work directory.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bin='' work='' keep='' seconds=20 jobs=2 seed=''
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ -z "$bin" ] || [ -z "$work" ] || [ ${#targets[@]} -eq 0 ]; then
  echo "usage: run.sh --bin DIR --work DIR [--keep DIR] [--seconds N] [--jobs N] [--seed N] target..." >&2
  exit 2
fi

# One target; writes $work/<t>/log and $work/<t>/status.
run_one() {
  local t=$1 dir="$work/$1" corpus args=()
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ -n "$keep" ]; then
    corpus="$keep/$t"
  else
    corpus="$dir/corpus"
  fi
  mkdir -p "$corpus"
  [ -n "$seed" ] && args+=("-seed=$seed")
  [ -f "$top/tests/fuzz/$t.dict" ] && args+=("-dict=$top/tests/fuzz/$t.dict")
  "$bin/$t" "${args[@]}" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$dir/" "$corpus" "$top/tests/fuzz/corpus/$t" \
      >"$dir/log" 2>&1
  echo $? >"$dir/status"
}

mkdir -p "$work"
start=$(date +%s)
running=0
for t in "${targets[@]}"; do
  if [ ! -x "$bin/$t" ]; then
    echo "run.sh: $bin/$t not built" >&2
    exit 2
  fi
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

pass=0 fail=0
for t in "${targets[@]}"; do
  log="$work/$t/log"
  st=$(cat "$work/$t/status" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  total=$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  if [ "$st" = 0 ]; then
    pass=$((pass + 1))
    printf 'PASS %-20s %10s execs  cov %5s of %s edges  corpus %s\n' \
      "$t" "${execs:-?}" "${cov:-?}" "${total:-?}" "${corp:-?}"
  else
    fail=$((fail + 1))
    printf 'FAIL %-20s exit %s (log: %s)\n' "$t" "$st" "$log"
    grep -E 'ERROR|runtime error|SUMMARY|deadly signal|Test unit written' "$log" | head -8 | sed 's/^/     /'
  fi
done
echo "fuzz: $(( $(date +%s) - start )) s wall"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
