#!/usr/bin/env bash
# valgrind.sh -- run Check unit binaries under valgrind memcheck.
#
# CK_FORK=no (the default; VG_CK_FORK=yes to change it) keeps every test in
# the one process valgrind watches. With VG_CK_FORK=yes each test runs in a
# forked child that valgrind also checks at its exit, so a leak shows up as
# that test's "Early exit with return value 1" (per-test attribution).
# Known artefacts: a test that forks a child and checks its exit status
# sees 1 when that child leaks at _exit (valgrind's --error-exitcode), and
# ru_maxrss of a child forked from the (large) valgrind process includes
# the parent's pages, so peak-RSS assertions do not hold under valgrind
# (BF_UNDER_VALGRIND=1 is set so a test can skip them). Errors and definitely
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
  BF_UNDER_VALGRIND=1 CK_FORK=${VG_CK_FORK:-no} CK_DEFAULT_TIMEOUT=${VG_TIMEOUT:-120} \
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
