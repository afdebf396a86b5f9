#!/usr/bin/env bash
# demo.sh -- `make demo` (see demo.js): the whole system locally.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node tests/e2e/demo.js "$@"
