#!/usr/bin/env bash
# start-fleet.sh -- start one fleet backfill execution and print its ARN and console URL.
#
# The input file is the fleet execution input: the fields of a single
# backfill input with "tenants" (a list of tenant ids, or "enabled") instead
# of "tenant_id" (statemachine/README.md, "Fleet backfills"). The state
# machine ARN comes from --state-machine-arn or from the stack's
# FleetStateMachineArn output. The execution name becomes the backfill_id of
# every tenant's summary and of the fleet_metadata/ keys.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: start-fleet.sh --input FILE [--env ENV | --stack-name NAME | --state-machine-arn ARN] [options]

Start a fleet backfill execution. Prints the execution ARN on the first line
and the Step Functions console URL on the second.

Options:
  --input FILE              Fleet execution input JSON with "tenants" (required)
  --name NAME               Execution name = backfill_id (default: fleet-UTCSTAMP-PID);
                            1-80 characters from A-Z a-z 0-9 - _
  --env ENV                 Find the state machine in stack avesa-backfill-ENV (default: dev)
  --stack-name NAME         Find the state machine in this stack
  --state-machine-arn ARN   Use this state machine directly
  --region REGION           AWS region
  --profile PROFILE         AWS CLI profile
  -h, --help                Show this help

When the state machine comes from the stack and jq is installed, an input
without heartbeat_seconds gets the stack's HeartbeatSeconds output.
Follow the run with watch-fleet.sh ARN --follow.
USAGE
}

OPS_SCRIPT=start-fleet.sh
# shellcheck source=deploy/scripts/ops-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/ops-common.sh"


input=""
name=""
env_name=dev
stack=""
sm_arn=""
aws_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --input) input=${2:?--input needs a file}; shift 2 ;;
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --env) env_name=${2:?--env needs a value}; shift 2 ;;
    --stack-name) stack=${2:?--stack-name needs a value}; shift 2 ;;
    --state-machine-arn) sm_arn=${2:?--state-machine-arn needs a value}; shift 2 ;;
    --region) aws_opts+=(--region "${2:?--region needs a value}"); shift 2 ;;
    --profile) aws_opts+=(--profile "${2:?--profile needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[ -n "$input" ] || die "--input is required (see --help)"
[ -r "$input" ] || die "cannot read input file: $input"
name=${name:-fleet-$(date -u +%Y%m%dT%H%M%SZ)-$$}
[[ "$name" =~ ^[A-Za-z0-9_-]{1,80}$ ]] || die "bad --name (1-80 of A-Z a-z 0-9 - _): $name"
[[ "$env_name" =~ ^[a-z][a-z0-9-]{0,15}$ ]] || die "bad --env: $env_name"
[ -z "$sm_arn" ] || [[ "$sm_arn" == arn:*:states:*:stateMachine:* ]] || die "bad --state-machine-arn: $sm_arn"

body=$(cat "$input")
# The worker checks every field (Backfill.InvalidInput names it); this only
# catches a single-tenant input sent to the fleet by mistake.
if command -v jq >/dev/null 2>&1; then
  jq -e 'type == "object" and has("tenants")' >/dev/null 2>&1 <<<"$body" ||
    die "$input: not a JSON object with \"tenants\" (a single-tenant input goes to start-backfill.sh)"
elif ! grep -q '"tenants"' <<<"$body"; then
  die "$input: no \"tenants\" field (a single-tenant input goes to start-backfill.sh)"
fi
require_aws

if [ -z "$sm_arn" ]; then
  stack=${stack:-avesa-backfill-$env_name}
  sm_arn=$(stack_output "$stack" FleetStateMachineArn)
  [[ "$sm_arn" == arn:* ]] || die "stack $stack has no FleetStateMachineArn output"
else
  stack=""
fi
start_execution "$sm_arn" "$stack" "$name" "$body"
