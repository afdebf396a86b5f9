#!/usr/bin/env bash
# watch-fleet.sh -- a fleet execution's status, its Map Runs and the chunks per tenant.
#
# Sources, all read-only:
#   - DescribeExecution: the execution's status (and, when it ended, its
#     output, the fleet summary, or its error and cause);
#   - ListMapRuns + DescribeMapRun: one Map Run per round (round 1 every
#     planned chunk, round 2 only round 1's failures), with AWS's item counts;
#   - the Plan task's answer in the execution history: chunks planned per tenant;
#   - ListExecutions --map-run-arn: every child execution (one per chunk and
#     round) and its status; DescribeExecution of each child, once, for its
#     input (tenant_id, table_name, chunk_number). Inputs never change, so
#     they are kept in a cache file and the next run describes only new
#     children (--cache-dir).
# Per tenant a chunk is done once any round succeeded it, otherwise it has
# the status of its latest round: failed (FAILED, TIMED_OUT, ABORTED) or
# running (RUNNING, PENDING_REDRIVE); planned chunks no round has started yet
# are pending.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: watch-fleet.sh EXECUTION_ARN [--follow] [--interval SECONDS] [options]

Print the status of a fleet backfill execution, each round's Map Run item
counts, and a table of chunks per tenant: planned, done, failed, running,
pending. Once the execution has ended, print its summary (or error and cause).

Options:
  --follow                  Poll until the execution is no longer RUNNING
  --interval SECONDS        Poll interval with --follow (default: 60)
  --no-tenants              Skip the per-tenant table (no ListExecutions or
                            DescribeExecution of child executions)
  --cache-dir DIR           Where child inputs are cached
                            (default: ${XDG_CACHE_HOME:-~/.cache}/avesa-backfill/watch-fleet)
  --region REGION           AWS region
  --profile PROFILE         AWS CLI profile
  -h, --help                Show this help

The first run describes every child execution once (one call per chunk and
round); later runs describe only children that are new since.

Exit status: 0 SUCCEEDED, 1 FAILED/TIMED_OUT/ABORTED, 3 still RUNNING.
USAGE
}

OPS_SCRIPT=watch-fleet.sh
# shellcheck source=deploy/scripts/ops-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/ops-common.sh"

arn=""
follow=0
interval=60
tenants=1
cache_root="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/avesa-backfill/watch-fleet"
aws_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --follow) follow=1; shift ;;
    --interval) interval=${2:?--interval needs a value}; shift 2 ;;
    --no-tenants) tenants=0; shift ;;
    --cache-dir) cache_root=${2:?--cache-dir needs a value}; shift 2 ;;
    --region) aws_opts+=(--region "${2:?--region needs a value}"); shift 2 ;;
    --profile) aws_opts+=(--profile "${2:?--profile needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --execution-arn) arn=${2:?--execution-arn needs a value}; shift 2 ;;
    -*) usage >&2; die "unknown argument: $1" ;;
    *) [ -z "$arn" ] || die "one execution ARN only"; arn=$1; shift ;;
  esac
done
[[ "$arn" =~ ^arn:[a-z-]+:states:[a-z0-9-]+:[0-9]{12}:execution:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{1,80}$ ]] ||
  die "a fleet execution ARN is required (arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME; see --help)"
[[ "$interval" =~ ^[1-9][0-9]*$ ]] || die "bad --interval: $interval"
require_aws

# One cache file per execution: child ARN, tenant, table, chunk number.
cache=""
if [ "$tenants" -eq 1 ]; then
  machine=$(cut -d: -f7 <<<"$arn")
  name=$(cut -d: -f8 <<<"$arn")
  mkdir -p "$cache_root"
  cache="$cache_root/$machine.$name.tsv"
  touch "$cache"
fi

# A string field of a compact JSON object, by regular expression: the
# fields read here (tenant ids, table names) hold no quote or backslash.
json_str() { sed -n "s/.*\"$1\" *: *\"\\([^\"\\\\]*\\)\".*/\\1/p" <<<"$2"; }
json_num() { sed -n "s/.*\"$1\" *: *\\([0-9][0-9]*\\).*/\\1/p" <<<"$2"; }

# Map Run ARNs, oldest (round 1) first.
map_runs() {
  awsx stepfunctions list-map-runs --execution-arn "$arn" \
    --query 'sort_by(mapRuns, &startDate)[].mapRunArn' --output text | tr '\t' '\n' | grep -v '^None$' || true
}

show_map_runs() {
  local round=0 m line
  while read -r m; do
    [ -n "$m" ] || continue
    round=$((round + 1))
    line=$(awsx stepfunctions describe-map-run --map-run-arn "$m" \
      --query '[status, itemCounts.total, itemCounts.succeeded, itemCounts.failed, itemCounts.timedOut, itemCounts.aborted, itemCounts.running, itemCounts.pending]' \
      --output text)
    read -r st total ok failed timedout aborted running pending <<<"$line"
    printf 'round %d: Map Run %s, items %s: succeeded %s, failed %s, timed out %s, aborted %s, running %s, pending %s\n' \
      "$round" "$st" "$total" "$ok" "$failed" "$timedout" "$aborted" "$running" "$pending"
  done <<<"$runs"
  [ "$round" -gt 0 ] || echo "no Map Run yet (the plan is being written)"
}

# "planned<TAB>tenant<TAB>chunks" lines from the Plan task's answer.
planned_rows() {
  local out
  out=$(awsx stepfunctions get-execution-history --execution-arn "$arn" \
    --query "events[?type=='TaskStateExited' && stateExitedEventDetails.name=='Plan'] | [-1].stateExitedEventDetails.output" \
    --output text)
  if [ -z "$out" ] || [ "$out" = None ]; then return 0; fi
  # The answer's "tenants" array: [{"tenant_id": ..., "chunks": N}, ...].
  local list=${out#*\"tenants\"}
  list=${list%%]*}
  local row t n
  while read -r row; do
    t=$(json_str tenant_id "$row")
    n=$(json_num chunks "$row")
    if [ -n "$t" ] && [ -n "$n" ]; then printf 'planned\t%s\t%s\n' "$t" "$n"; fi
  done < <(tr '}' '\n' <<<"$list")
}

# "child<TAB>round<TAB>tenant/table/chunk<TAB>tenant<TAB>status" for every
# child execution of every round; inputs come from the cache or are described.
child_rows() {
  local round=0 m child status input t tb c cached
  while read -r m; do
    [ -n "$m" ] || continue
    round=$((round + 1))
    while IFS=$'\t' read -r child status; do
      if [ -z "$child" ] || [ "$child" = None ]; then continue; fi
      cached=$(awk -F'\t' -v a="$child" '$1 == a { print; exit }' "$cache")
      if [ -z "$cached" ]; then
        input=$(awsx stepfunctions describe-execution --execution-arn "$child" --query input --output text)
        t=$(json_str tenant_id "$input")
        tb=$(json_str table_name "$input")
        c=$(json_num chunk_number "$input")
        [ -n "$t" ] || { echo "watch-fleet.sh: child $child has no tenant_id in its input" >&2; continue; }
        cached=$(printf '%s\t%s\t%s\t%s' "$child" "$t" "$tb" "$c")
        printf '%s\n' "$cached" >>"$cache"
      fi
      IFS=$'\t' read -r _ t tb c <<<"$cached"
      printf 'child\t%d\t%s/%s/%s\t%s\t%s\n' "$round" "$t" "$tb" "$c" "$t" "$status"
    done < <(awsx stepfunctions list-executions --map-run-arn "$m" \
      --query 'executions[].[executionArn, status]' --output text)
  done <<<"$runs"
}

show_tenants() {
  { planned_rows; child_rows; } | awk -F'\t' '
    $1 == "planned" { planned[$2] = $3; seen[$2] = 1; next }
    $1 == "child" {
      key = $3; seen[$4] = 1; tenant[key] = $4
      # Rows come round by round: the status of the latest round wins, except
      # that a success is never undone.
      if (st[key] != "SUCCEEDED") st[key] = $5
    }
    END {
      for (k in st) {
        t = tenant[k]
        if (st[k] == "SUCCEEDED") done[t]++
        else if (st[k] == "RUNNING" || st[k] == "PENDING_REDRIVE") running[t]++
        else failed[t]++
        started[t]++
      }
      n = 0
      for (t in seen) names[++n] = t
      for (i = 2; i <= n; i++) for (j = i; j > 1 && names[j] < names[j - 1]; j--) { x = names[j]; names[j] = names[j - 1]; names[j - 1] = x }
      printf "%-24s %8s %8s %8s %8s %8s\n", "tenant", "planned", "done", "failed", "running", "pending"
      for (i = 1; i <= n; i++) {
        t = names[i]
        p = (t in planned) ? planned[t] : started[t]
        pend = p - started[t]; if (pend < 0) pend = 0
        printf "%-24s %8d %8d %8d %8d %8d\n", t, p, done[t], failed[t], running[t], pend
        tp += p; td += done[t]; tf += failed[t]; tr += running[t]; tq += pend
      }
      printf "%-24s %8d %8d %8d %8d %8d\n", "(all tenants)", tp, td, tf, tr, tq
    }'
}

status=""
while :; do
  line=$(awsx stepfunctions describe-execution --execution-arn "$arn" \
    --query '[status, startDate, stopDate, redriveCount, redriveStatus]' --output text)
  read -r status started stopped redrives redrivable <<<"$line"
  printf '%s  status %s  started %s  stopped %s  redrives %s  redrive %s\n' \
    "$(date -u +%H:%M:%SZ)" "$status" "$started" "$stopped" "$redrives" "$redrivable"
  runs=$(map_runs)
  show_map_runs
  [ "$tenants" -eq 0 ] || show_tenants
  if [ "$follow" -eq 0 ] || [ "$status" != RUNNING ]; then
    break
  fi
  sleep "$interval"
done

case "$status" in
  SUCCEEDED)
    echo "summary:"
    awsx stepfunctions describe-execution --execution-arn "$arn" --query output --output text
    exit 0 ;;
  RUNNING) exit 3 ;;
  *)
    awsx stepfunctions describe-execution --execution-arn "$arn" \
      --query '[error, cause]' --output text
    echo "redrive with: deploy/scripts/redrive-fleet.sh $arn" >&2
    exit 1 ;;
esac
