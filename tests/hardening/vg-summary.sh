#!/usr/bin/env bash
# vg-summary.sh -- summarise the valgrind logs vg-wrap.sh left in DIR: one
# line per process (errors, definitely / indirectly lost bytes) and the
# usual "N passed, N failed" (a process passes with 0 errors, which with
# --errors-for-leak-kinds=definite,indirect also means no such leak).
set -uo pipefail
dir=${1:?usage: vg-summary.sh DIR}
pass=0 fail=0
for log in "$dir"/worker.*.log; do
  [ -e "$log" ] || continue
  cmd=$(sed -n 's/^==[0-9]*== Command: //p' "$log" | head -1 | sed 's|.*/backfill-worker|backfill-worker|')
  errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
  def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
  ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
  if [ "${errs:-x}" = 0 ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    printf 'FAIL %s: errors %s, definitely lost %s, indirectly lost %s (%s)\n' \
      "$cmd" "${errs:-?}" "${def:-0}" "${ind:-0}" "$log"
  fi
done
echo "valgrind: $pass processes clean, $fail with errors or leaks"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
