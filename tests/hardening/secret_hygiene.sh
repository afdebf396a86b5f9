#!/usr/bin/env bash
# secret_hygiene.sh -- `make check-secrets`: runs secret_hygiene.js (the
# scenarios and assertions are documented there) with BF_BIN and BF_TOP.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --test tests/hardening/secret_hygiene.js
