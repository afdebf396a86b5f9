# shellcheck shell=bash
# ops-common.sh -- what the operator scripts share (start-backfill.sh,
# start-fleet.sh, watch-execution.sh, watch-fleet.sh, redrive.sh,
# redrive-fleet.sh). Sourced, never run: each script sets OPS_SCRIPT (its
# name, for messages) and aws_opts (--region/--profile) before calling
# these, so one fix to the AWS calls or the messages reaches all of them.

die() { echo "${OPS_SCRIPT:-ops}: $*" >&2; exit 2; }

require_aws() {
  command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is not installed"
}

# shellcheck disable=SC2154 # aws_opts is the sourcing script's
awsx() { aws "${aws_opts[@]+"${aws_opts[@]}"}" "$@"; }

# The Step Functions console page of an execution ARN
# (arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME).
console_url() {
  local arn=$1 partition region host
  partition=$(cut -d: -f2 <<<"$arn")
  region=$(cut -d: -f4 <<<"$arn")
  case "$partition" in
    aws-cn) host="console.amazonaws.cn" ;;
    aws-us-gov) host="console.amazonaws-us-gov.com" ;;
    *) host="$region.console.aws.amazon.com" ;;
  esac
  echo "https://$host/states/home?region=$region#/v2/executions/details/$arn"
}

# One output of a CloudFormation stack ("None" when it has no such output).
stack_output() {
  awsx cloudformation describe-stacks --stack-name "$1" \
    --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue" --output text
}

# start_execution SM_ARN STACK NAME BODY: start it and print its ARN and
# console URL. With STACK (the state machine came from the stack) and jq,
# an input without heartbeat_seconds gets the stack's HeartbeatSeconds.
start_execution() {
  local sm_arn=$1 stack=$2 name=$3 body=$4 hb exec_arn
  if [ -n "$stack" ] && command -v jq >/dev/null 2>&1; then
    hb=$(stack_output "$stack" HeartbeatSeconds)
    if [[ "$hb" =~ ^[0-9]+$ ]]; then
      body=$(jq -c --argjson hb "$hb" 'if has("heartbeat_seconds") then . else . + {heartbeat_seconds: $hb} end' <<<"$body")
    fi
  fi
  exec_arn=$(awsx stepfunctions start-execution --state-machine-arn "$sm_arn" \
    --name "$name" --input "$body" --query executionArn --output text)
  [[ "$exec_arn" == arn:* ]] || die "start-execution returned no execution ARN"
  echo "$exec_arn"
  console_url "$exec_arn"
}

# Exit 2, with the service's reason, unless the execution can be redriven;
# sets status and count (its redriveCount) for the caller.
require_redrivable() {
  local arn=$1 line redrivable reason
  line=$(awsx stepfunctions describe-execution --execution-arn "$arn" \
    --query '[status, redriveStatus, redriveCount]' --output text)
  # shellcheck disable=SC2034 # status and count are for the caller
  read -r status redrivable count <<<"$line"
  if [ "$redrivable" != REDRIVABLE ]; then
    reason=$(awsx stepfunctions describe-execution --execution-arn "$arn" \
      --query redriveStatusReason --output text)
    die "execution is $status and $redrivable: $reason"
  fi
}
