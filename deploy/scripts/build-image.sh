#!/usr/bin/env bash
# build-image.sh -- build the worker image from deploy/docker/Dockerfile and optionally push it to ECR.
#
# The build context is the repository root (deploy/docker/Dockerfile.dockerignore
# keeps it to Makefile, VERSION, include/ and src/). With --push it logs in to
# the registry of an ECR repository URI and pushes; the printed image URI is
# what the stack's WorkerImage parameter wants.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: build-image.sh [--repo URI] [--tag TAG] [--push] [options]

Build the backfill-worker image (Debian 12, non-root, tini as PID 1) and print
the image reference on the last line.

Options:
  --repo URI        Image repository (default: avesa-backfill), e.g.
                    123456789012.dkr.ecr.us-east-1.amazonaws.com/avesa-backfill
  --tag TAG         Image tag (default: the VERSION file)
  --platform P      Target platform (default: linux/amd64, matching the stack)
  --push            docker push after the build; logs in to ECR first when the
                    repository is an ECR URI
  --region REGION   AWS region for the ECR login (default: from the URI)
  -h, --help        Show this help

Needs a Docker engine with BuildKit (docker build).
USAGE
}

die() { echo "build-image.sh: $*" >&2; exit 2; }

top=$(cd "$(dirname "$0")/../.." && pwd)
repo=avesa-backfill
tag=""
platform=linux/amd64
push=0
region=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) repo=${2:?--repo needs a value}; shift 2 ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --platform) platform=${2:?--platform needs a value}; shift 2 ;;
    --push) push=1; shift ;;
    --region) region=${2:?--region needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
tag=${tag:-$(cat "$top/VERSION")}
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "bad --tag: $tag"
command -v docker >/dev/null 2>&1 || die "docker is not installed"
image="$repo:$tag"

DOCKER_BUILDKIT=1 docker build --platform "$platform" \
  -f "$top/deploy/docker/Dockerfile" -t "$image" "$top" >&2

if [ "$push" -eq 1 ]; then
  registry=${repo%%/*}
  if [[ "$registry" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$ ]]; then
    region=${region:-${BASH_REMATCH[1]}}
    aws ecr get-login-password --region "$region" |
      docker login --username AWS --password-stdin "$registry" >&2
  fi
  docker push "$image" >&2
fi
echo "$image"
