#!/usr/bin/env bash
# deploy.sh -- package and deploy the avesa-backfill CloudFormation stack.
#
# Runs `aws cloudformation package`, which uploads statemachine/backfill.asl.json
# (named by DefinitionS3Location in deploy/cloudformation/backfill.yaml) to the
# artifact bucket and writes a packaged template, then `aws cloudformation
# deploy` with CAPABILITY_IAM, and prints the stack outputs.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy.sh --artifact-bucket BUCKET --param DataBucket=NAME [options]

Package and deploy the avesa-backfill stack (activity, state machine, IAM,
optional Fargate workers, alarms).

Options:
  --env ENV                 Environment parameter (default: dev)
  --stack-name NAME         Stack name (default: avesa-backfill-ENV)
  --artifact-bucket BUCKET  S3 bucket for packaged artifacts (required)
  --artifact-prefix PREFIX  Key prefix for artifacts (default: avesa-backfill/ENV)
  --param KEY=VALUE         Template parameter; repeat for more
                            (e.g. --param DataBucket=data-storage-msp-dev
                                  --param DeployFargate=true --param WorkerImage=...)
  --packaged-file FILE      Where to write the packaged template
                            (default: build/deploy/packaged-ENV.yaml)
  --package-only            Stop after `aws cloudformation package`
  --no-execute              Create the change set but do not execute it
  --region REGION           AWS region (default: AWS CLI configuration)
  --profile PROFILE         AWS CLI profile
  -h, --help                Show this help

Needs the AWS CLI and permission to create IAM roles (CAPABILITY_IAM).
USAGE
}

die() { echo "deploy.sh: $*" >&2; exit 2; }

top=$(cd "$(dirname "$0")/../.." && pwd)
env_name=dev
stack=""
bucket=""
prefix=""
packaged=""
package_only=0
no_execute=0
params=()
aws_opts=()

while [ $# -gt 0 ]; do
  case "$1" in
    --env) env_name=${2:?--env needs a value}; shift 2 ;;
    --stack-name) stack=${2:?--stack-name needs a value}; shift 2 ;;
    --artifact-bucket) bucket=${2:?--artifact-bucket needs a value}; shift 2 ;;
    --artifact-prefix) prefix=${2:?--artifact-prefix needs a value}; shift 2 ;;
    --param) params+=("${2:?--param needs KEY=VALUE}"); shift 2 ;;
    --packaged-file) packaged=${2:?--packaged-file needs a value}; shift 2 ;;
    --package-only) package_only=1; shift ;;
    --no-execute) no_execute=1; shift ;;
    --region) aws_opts+=(--region "${2:?--region needs a value}"); shift 2 ;;
    --profile) aws_opts+=(--profile "${2:?--profile needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[ -n "$bucket" ] || die "--artifact-bucket is required (see --help)"
[[ "$env_name" =~ ^[a-z][a-z0-9-]{0,15}$ ]] || die "bad --env: $env_name"
for p in "${params[@]+"${params[@]}"}"; do
  [[ "$p" == ?*=* ]] || die "--param must be KEY=VALUE: $p"
  [[ "$p" != Environment=* ]] || die "use --env, not --param Environment=..."
done
stack=${stack:-avesa-backfill-$env_name}
prefix=${prefix:-avesa-backfill/$env_name}
packaged=${packaged:-$top/build/deploy/packaged-$env_name.yaml}
command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is not installed"

awsx() { aws "${aws_opts[@]+"${aws_opts[@]}"}" "$@"; }

mkdir -p "$(dirname "$packaged")"
echo "deploy.sh: packaging deploy/cloudformation/backfill.yaml -> $packaged" >&2
awsx cloudformation package \
  --template-file "$top/deploy/cloudformation/backfill.yaml" \
  --s3-bucket "$bucket" --s3-prefix "$prefix" \
  --output-template-file "$packaged" >/dev/null
if [ "$package_only" -eq 1 ]; then
  echo "$packaged"
  exit 0
fi

deploy_args=(cloudformation deploy --template-file "$packaged" --stack-name "$stack"
             --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset
             --parameter-overrides "Environment=$env_name" "${params[@]+"${params[@]}"}")
[ "$no_execute" -eq 0 ] || deploy_args+=(--no-execute-changeset)
echo "deploy.sh: deploying stack $stack" >&2
awsx "${deploy_args[@]}"
[ "$no_execute" -eq 0 ] || exit 0

awsx cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
