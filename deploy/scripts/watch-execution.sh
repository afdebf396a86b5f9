#!/usr/bin/env bash
# watch-execution.sh -- show a backfill execution's status, chunk progress and summary.
#
# Progress comes from the execution history (activity events: one
# ActivityScheduled per chunk attempt); the summary is the execution output
# (the same JSON the state machine writes to backfill_metadata/).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: watch-execution.sh EXECUTION_ARN [--follow] [--interval SECONDS] [options]

Print the status of a backfill execution, how many chunk attempts were
scheduled, started, succeeded, failed and timed out, and, once it has ended,
its summary (or error and cause).

Options:
  --follow                  Poll until the execution is no longer RUNNING
  --interval SECONDS        Poll interval with --follow (default: 30)
  --no-progress             Skip the history scan (large executions)
  --region REGION           AWS region
  --profile PROFILE         AWS CLI profile
  -h, --help                Show this help

Exit status: 0 SUCCEEDED, 1 FAILED/TIMED_OUT/ABORTED, 3 still RUNNING.
USAGE
}

OPS_SCRIPT=watch-execution.sh
# shellcheck source=deploy/scripts/ops-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/ops-common.sh"

arn=""
follow=0
interval=30
progress=1
aws_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --follow) follow=1; shift ;;
    --interval) interval=${2:?--interval needs a value}; shift 2 ;;
    --no-progress) progress=0; shift ;;
    --region) aws_opts+=(--region "${2:?--region needs a value}"); shift 2 ;;
    --profile) aws_opts+=(--profile "${2:?--profile needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --execution-arn) arn=${2:?--execution-arn needs a value}; shift 2 ;;
    -*) usage >&2; die "unknown argument: $1" ;;
    *) [ -z "$arn" ] || die "one execution ARN only"; arn=$1; shift ;;
  esac
done
[[ "$arn" == arn:*:states:*:execution:* ]] || die "an execution ARN is required (see --help)"
[[ "$interval" =~ ^[1-9][0-9]*$ ]] || die "bad --interval: $interval"
require_aws

show_progress() {
  local q
  q="[length(events[?type=='ActivityScheduled']), length(events[?type=='ActivityStarted']),"
  q+=" length(events[?type=='ActivitySucceeded']), length(events[?type=='ActivityFailed']),"
  q+=" length(events[?type=='ActivityTimedOut'])]"
  local counts
  counts=$(awsx stepfunctions get-execution-history --execution-arn "$arn" \
    --query "$q" --output text)
  read -r sched started ok failed timedout <<<"$counts"
  printf 'chunk attempts: scheduled %s, started %s, succeeded %s, failed %s, timed out %s\n' \
    "$sched" "$started" "$ok" "$failed" "$timedout"
}

status=""
while :; do
  line=$(awsx stepfunctions describe-execution --execution-arn "$arn" \
    --query '[status, startDate, stopDate, redriveCount, redriveStatus]' --output text)
  read -r status started stopped redrives redrivable <<<"$line"
  printf '%s  status %s  started %s  stopped %s  redrives %s  redrive %s\n' \
    "$(date -u +%H:%M:%SZ)" "$status" "$started" "$stopped" "$redrives" "$redrivable"
  [ "$progress" -eq 0 ] || show_progress
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
    echo "redrive with: deploy/scripts/redrive.sh $arn" >&2
    exit 1 ;;
esac
