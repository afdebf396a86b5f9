#!/usr/bin/env bash
# redrive.sh -- redrive a failed, timed-out or aborted backfill execution.
#
# RedriveExecution restarts the execution from its failed state with the same
# ARN, input and definition: succeeded chunks are not run again; only the
# failed (or aborted) Map iterations are. Possible for 14 days after the
# execution ended.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: redrive.sh EXECUTION_ARN [--client-token TOKEN] [options]

Redrive a FAILED, TIMED_OUT or ABORTED backfill execution. Only the chunks
that did not succeed run again; print the redrive date and the console URL.

Options:
  --client-token TOKEN      Idempotency token (default: none; a retry of the
                            same command with the same token redrives once)
  --region REGION           AWS region
  --profile PROFILE         AWS CLI profile
  -h, --help                Show this help
USAGE
}

OPS_SCRIPT=redrive.sh
# shellcheck source=deploy/scripts/ops-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/ops-common.sh"

arn=""
token=""
aws_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --client-token) token=${2:?--client-token needs a value}; shift 2 ;;
    --region) aws_opts+=(--region "${2:?--region needs a value}"); shift 2 ;;
    --profile) aws_opts+=(--profile "${2:?--profile needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --execution-arn) arn=${2:?--execution-arn needs a value}; shift 2 ;;
    -*) usage >&2; die "unknown argument: $1" ;;
    *) [ -z "$arn" ] || die "one execution ARN only"; arn=$1; shift ;;
  esac
done
[[ "$arn" == arn:*:states:*:execution:* ]] || die "an execution ARN is required (see --help)"
require_aws

require_redrivable "$arn"

args=(stepfunctions redrive-execution --execution-arn "$arn" --query redriveDate --output text)
[ -z "$token" ] || args+=(--client-token "$token")
when=$(awsx "${args[@]}")
echo "redriven at $when (earlier redrives: $count)"
region=$(cut -d: -f4 <<<"$arn")
echo "https://$region.console.aws.amazon.com/states/home?region=$region#/v2/executions/details/$arn"
