#!/usr/bin/env bash
# valgrind.sh -- run Check unit binaries under valgrind memcheck.
#
# CK_FORK=no keeps every test in the one process valgrind watches (with
# fork, the children's leaks would go unreported). Errors and definitely
# or indirectly lost bytes fail a suite; "still reachable" (libcurl's and
# OpenSSL's process-wide tables) and "possibly lost" do not. Child programs
# (the node fakes) are not traced. Logs: $VG_OUT (default /tmp). Ends with
# "N passed, N failed".
set -uo pipefail

out=${VG_OUT:-${TMPDIR:-/tmp}/bf-valgrind.$$}
mkdir -p "$out"
pass=0 fail=0
for t in "$@"; do
  name=$(basename "$t")
  log="$out/$name.log"
  CK_FORK=no CK_DEFAULT_TIMEOUT=${VG_TIMEOUT:-120} \
    valgrind --error-exitcode=1 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
      --num-callers=20 --log-file="$log" "$t" >"$out/$name.out" 2>&1
  rc=$?
  errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
  def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
  ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
  summary=$(grep -E '^[0-9]+%: Checks' "$out/$name.out" | tail -1)
  if [ "$rc" -eq 0 ]; then
    pass=$((pass + 1))
    printf 'PASS %-14s errors %s, definitely lost %s, indirectly lost %s; %s\n' \
      "$name" "${errs:-0}" "${def:-0}" "${ind:-0}" "$summary"
  else
    fail=$((fail + 1))
    printf 'FAIL %-14s exit %s: errors %s, definitely lost %s, indirectly lost %s; %s (log %s)\n' \
      "$name" "$rc" "${errs:-?}" "${def:-0}" "${ind:-0}" "${summary:-no summary}" "$log"
    grep -E '^[^:]+:[0-9]+:[EF]:' "$out/$name.out" | head -5 | sed 's/^/     /'
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
