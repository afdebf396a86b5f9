#!/usr/bin/env bash
# run.sh -- static analysis of src/: cppcheck, then clang-tidy
# (tests/README.md "Static analysis").
#
# cppcheck runs with warning, style, performance and portability checks and
# the reviewed exceptions in tests/lint/cppcheck.supp. clang-tidy runs with
# the checked-in .clang-tidy on every src/**/*.c (2 files at a time); its
# findings are compared with tests/lint/tidy-baseline.txt (file + check,
# each entry reviewed) and any other finding, or any file clang-tidy cannot
# parse, fails. Ends with "N passed, N failed" (one per tool).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
jobs=${LINT_JOBS:-2}
out=${LINT_OUT:-build/lint}
mkdir -p "$out"
pass=0 fail=0

mapfile -t srcs < <(find src -name '*.c' | sort)
read -ra pkgflags <<<"$(pkg-config --cflags libcurl libcjson openssl zlib 2>/dev/null)"
cflags=(-std=c11 -D_GNU_SOURCE -Iinclude -DBF_VERSION='"lint"' -pthread "${pkgflags[@]}")

echo "-- cppcheck $(cppcheck --version | sed 's/Cppcheck //') on ${#srcs[@]} files"
if cppcheck --enable=warning,style,performance,portability --std=c11 \
     -D_GNU_SOURCE -Iinclude --inline-suppr --quiet -j"$jobs" \
     --suppressions-list=tests/lint/cppcheck.supp --error-exitcode=1 \
     --template='{file}:{line}: {severity}: {message} [{id}]' \
     "${srcs[@]}" >"$out/cppcheck.log" 2>&1; then
  echo "PASS cppcheck: 0 findings"
  pass=$((pass + 1))
else
  echo "FAIL cppcheck: $(grep -c ': \(error\|warning\|style\|performance\|portability\):' "$out/cppcheck.log") findings"
  sed 's/^/  /' "$out/cppcheck.log" | head -40
  fail=$((fail + 1))
fi

echo "-- clang-tidy $(clang-tidy --version | sed -n 's/.*LLVM version //p') on ${#srcs[@]} files"
rm -f "$out"/tidy.*.log
# shellcheck disable=SC2016 # the inner sh expands $0/$1/$@, not this one
printf '%s\n' "${srcs[@]}" | xargs -P "$jobs" -I{} sh -c \
  'clang-tidy --quiet "$1" -- "$@" >"$0/tidy.$(echo "$1" | tr / _).log" 2>&1' \
  "$out" {} "${cflags[@]}" 2>/dev/null
# Keep warnings/errors with their check name, relative path.
cat "$out"/tidy.*.log 2>/dev/null |
  grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): .*\[[a-z0-9.,-]+\]$' |
  sed "s|^$top/||" | sort -u >"$out/tidy.all"
: >"$out/tidy.new"
while IFS= read -r line; do
  file=${line%%:*}
  check=$(sed -E 's/.*\[([a-z0-9.,-]+)\]$/\1/' <<<"$line")
  if ! grep -qE "^${file}[[:space:]]+${check}([[:space:]]|$)" tests/lint/tidy-baseline.txt; then
    echo "$line" >>"$out/tidy.new"
  fi
done <"$out/tidy.all"
total=$(wc -l <"$out/tidy.all")
new=$(wc -l <"$out/tidy.new")
if [ "$new" -eq 0 ]; then
  echo "PASS clang-tidy: 0 findings ($total reviewed in tests/lint/tidy-baseline.txt)"
  pass=$((pass + 1))
else
  echo "FAIL clang-tidy: $new findings not in the baseline"
  sed 's/^/  /' "$out/tidy.new" | head -40
  fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
