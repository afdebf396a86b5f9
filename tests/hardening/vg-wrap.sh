#!/usr/bin/env bash
# vg-wrap.sh -- stands in for backfill-worker (BF_BIN) and runs the real
# binary ($VG_REAL_BIN) under valgrind memcheck, one log per process in
# $VG_LOG_DIR, so the Node-driven integration tests (secret_hygiene.js,
# faults.js) exercise the real binary under memcheck. The exit status is the
# program's own (no --error-exitcode: the tests assert exit codes);
# vg-summary.sh reads the logs afterwards.
exec valgrind --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --num-callers=20 \
  --log-file="${VG_LOG_DIR:?}/worker.%p.log" "${VG_REAL_BIN:?}" "$@"
