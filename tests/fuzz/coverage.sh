#!/usr/bin/env bash
# coverage.sh -- line coverage of what each fuzz target is meant to reach
# (tests/fuzz/module.mk, `make fuzz-coverage`).
#
# Each coverage-instrumented target replays, once, its committed seeds plus
# any corpus a previous check-fuzz / fuzz run left in --corpora dirs; the
# profiles are merged and llvm-cov reports, per target, the lines covered in
# the functions listed below for it (the parsers the target exists for, not
# the whole file, most of which is network code the target never calls).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bin='' work='' corpora=''
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --corpora) corpora=$2; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

# target -> "file:function ..." (static helpers they call are included by
# naming them; a function that does not exist is reported as such).
declare -A funcs=(
  [fuzz_task_input]="src/task/task.c:task_input_parse src/task/task.c:task_result_json"
  [fuzz_cw_page]="src/source/cw.c:cw_split_page src/source/cw.c:scan_container src/source/cw.c:scan_value src/transform/xform.c:xform_write_record src/transform/xform.c:hash_line"
  [fuzz_cw_headers]="src/source/cw.c:cw_link_next src/source/cw.c:cw_retry_after_ms src/source/cw.c:cw_api_root src/source/cw.c:parse_http_date"
  [fuzz_aws_error]="src/aws/awsjson.c:awsjson_parse_error src/aws/awsrest.c:awsrest_parse_error src/aws/retry.c:retry_clock_skew_update"
  [fuzz_creds_profile]="src/aws/creds_profile.c:ini_line src/aws/creds_profile.c:ini_parse src/aws/creds_profile.c:profile_get src/aws/creds_http.c:creds_parse_json"
  [fuzz_sigv4]="src/aws/sigv4.c:sigv4_uri_encode src/aws/sigv4.c:sigv4_canonical_uri src/aws/sigv4.c:sigv4_canonical_query src/aws/sigv4.c:sigv4_sign"
  [fuzz_endpoint]="src/aws/endpoint.c:endpoint_parse_url src/aws/endpoint.c:parse_authority src/aws/awsrest.c:awsrest_make_target"
  [fuzz_iso8601]="src/util/timeutil.c:time_parse_iso8601 src/util/timeutil.c:time_format_iso8601"
  [fuzz_tenant_secret]="src/source/cw.c:cw_creds_parse src/tenant/secrets.c:secrets_fetch_file src/tenant/secrets.c:secret_value_text"
)

mkdir -p "$work"
for t in "${targets[@]}"; do
  dirs=("$top/tests/fuzz/corpus/$t")
  IFS=, read -ra cs <<<"$corpora"
  for c in "${cs[@]}"; do
    [ -d "$c/$t/corpus" ] && dirs+=("$c/$t/corpus")
    [ -d "$c/$t" ] && [ ! -d "$c/$t/corpus" ] && dirs+=("$c/$t")
  done
  rm -f "$work/$t".*
  LLVM_PROFILE_FILE="$work/$t.%p.profraw" "$bin/$t" -runs=0 "${dirs[@]}" \
    >"$work/$t.log" 2>&1
  llvm-profdata merge -sparse "$work/$t".*.profraw -o "$work/$t.profdata"
  inputs=$(find "${dirs[@]}" -type f | wc -l)
  printf '%s (%s inputs)\n' "$t" "$inputs"
  for fs in ${funcs[$t]}; do
    file=${fs%%:*} fn=${fs#*:}
    # llvm-cov report --show-functions: Name Regions Miss Cover Lines Miss Cover ...
    line=$(llvm-cov report --show-functions "$bin/$t" -instr-profile="$work/$t.profdata" \
             "$top/$file" 2>/dev/null | awk -v f="$fn" '$1 == f || $1 ~ (":" f "$") {print; exit}')
    if [ -z "$line" ]; then
      printf '  %-28s %s\n' "$fn" "(not found)"
      continue
    fi
    read -r _ _ _ rcov lines lmiss lcov _ <<<"$line"
    printf '  %-28s lines %4d/%-4d %7s   regions %7s  (%s)\n' "$fn" \
      "$((lines - lmiss))" "$lines" "$lcov" "$rcov" "$file"
  done
done
