#!/usr/bin/env bash
# redrive-fleet.sh -- redrive a failed, timed-out or aborted fleet execution.
#
# RedriveExecution restarts the execution at its failed state with the same
# ARN, input and definition. When that state is RunChunks (round 2's Map Run
# failed), Step Functions redrives the Map Run: only its child executions that
# did not succeed (and items never started) run again; Summarize then runs
# over both rounds. This script shows what will run again (the last Map
# Run's item counts) before it redrives, and only that with --dry-run.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: redrive-fleet.sh EXECUTION_ARN [--dry-run] [--client-token TOKEN] [options]

Redrive a FAILED, TIMED_OUT or ABORTED fleet backfill execution. Prints the
last Map Run's counts (the chunks that run again), then the redrive date and
the console URL.

Options:
  --dry-run                 Show what would run again; do not redrive
  --client-token TOKEN      Idempotency token (1-64 of A-Z a-z 0-9 - _; a retry
                            of the same command with the same token redrives once)
  --region REGION           AWS region
  --profile PROFILE         AWS CLI profile
  -h, --help                Show this help

Exit status: 0 redriven (or --dry-run), 2 not redrivable or bad arguments.
USAGE
}

OPS_SCRIPT=redrive-fleet.sh
# shellcheck source=deploy/scripts/ops-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/ops-common.sh"

arn=""
token=""
dry=0
aws_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1; shift ;;
    --client-token) token=${2:?--client-token needs a value}; shift 2 ;;
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
[ -z "$token" ] || [[ "$token" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "bad --client-token (1-64 of A-Z a-z 0-9 - _)"
require_aws

require_redrivable "$arn"

runs=$(awsx stepfunctions list-map-runs --execution-arn "$arn" \
  --query 'sort_by(mapRuns, &startDate)[].mapRunArn' --output text | tr '\t' '\n' | grep -v '^None$' || true)
rounds=$(grep -c . <<<"$runs" || true)
if [ "$rounds" -eq 0 ]; then
  echo "no Map Run yet: the redrive runs the plan again"
else
  last=$(tail -n 1 <<<"$runs")
  counts=$(awsx stepfunctions describe-map-run --map-run-arn "$last" \
    --query '[status, itemCounts.total, itemCounts.succeeded, itemCounts.failed, itemCounts.timedOut, itemCounts.aborted, itemCounts.pending, itemCounts.failuresNotRedrivable]' \
    --output text)
  read -r mst total ok failed timedout aborted pending notredrivable <<<"$counts"
  if [ "$mst" = SUCCEEDED ]; then
    echo "round $rounds: Map Run SUCCEEDED ($ok of $total chunks); no chunk runs again, the failed state after it does"
  else
    again=$((failed + timedout + aborted + pending))
    [[ "$notredrivable" =~ ^[0-9]+$ ]] && again=$((again - notredrivable))
    printf 'round %s: Map Run %s, %s of %s chunks succeeded; run again: %s (failed %s, timed out %s, aborted %s, not started %s)\n' \
      "$rounds" "$mst" "$ok" "$total" "$again" "$failed" "$timedout" "$aborted" "$pending"
  fi
fi

if [ "$dry" -eq 1 ]; then
  echo "dry run: not redriven (earlier redrives: $count)"
  exit 0
fi

args=(stepfunctions redrive-execution --execution-arn "$arn" --query redriveDate --output text)
[ -z "$token" ] || args+=(--client-token "$token")
when=$(awsx "${args[@]}")
echo "redriven at $when (earlier redrives: $count)"
region=$(cut -d: -f4 <<<"$arn")
echo "https://$region.console.aws.amazon.com/states/home?region=$region#/v2/executions/details/$arn"
echo "follow with: deploy/scripts/watch-fleet.sh $arn --follow" >&2
