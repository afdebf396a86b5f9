# tests/hardening/module.mk -- sanitizer, valgrind and secret-hygiene runs
# (tests/README.md "Reliability").
#
#   make check-secrets    in `make check`: the worker's run-chunk path against
#                         the fakes with recognisable secrets; asserts none
#                         reaches a log line, result, cause or output file
#   make check-faults     in `make check`: fault-injection rows no other suite
#                         covers (tests/hardening/faults.js): truncated and
#                         oversized GetActivityTask answers, a full disk
#                         (tmpfs, when root can mount) and a file size limit
#                         under the file sink
#   make check-header-injection  CR/LF in a secret's client_id must not
#                         inject headers (secrets.c refuses it; http.c refuses
#                         control characters in any header as well)
#   make check-sanitize   every unit and integration suite under ASan+UBSan,
#                         then the threaded suites under TSan (own build
#                         trees, not in check)
#   make check-valgrind   every unit and integration binary under valgrind
#                         memcheck (slow), then check-valgrind-bin
#   make check-valgrind-bin  secret_hygiene.js and faults.js with the real
#                         binary under memcheck (tests/hardening/vg-wrap.sh)
#   make check-tsan       just the TSan part
# Trees: $(HARD_PREFIX)-asan, -tsan (build/hard-* by default).
CHECK_TARGETS += check-secrets check-faults check-header-injection

HARD_PREFIX ?= $(if $(filter build,$(BUILD)),build/hard,$(BUILD)/hard)
# The suites that start threads (worker slots and heartbeats, the creds
# cache, the retry budget, the rate limiter, concurrent chunk runs), unit or
# integration: check-tsan runs each with the target of its directory.
HARD_TSAN_SUITES ?= worker creds retry awsjson cw tenant chunk sink sinks3
HARD_VALGRIND_SUITES ?=

.PHONY: check-secrets check-faults check-sanitize check-tsan check-asan check-valgrind \
        check-valgrind-bin check-header-injection

check-secrets: $(BIN)
	@echo "== secret hygiene (tests/hardening/secret_hygiene.sh)"
	@BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) tests/hardening/secret_hygiene.sh

check-faults: $(BIN)
	@echo "== fault injection (tests/hardening/faults.js)"
	@BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) node --test tests/hardening/faults.js

check-header-injection: $(BIN)
	@echo "== header injection through a secret (tests/hardening/header_injection.js)"
	@BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) node --test tests/hardening/header_injection.js

# check-unit and check-integration are separate goals of one make, so each
# runs once and an integration failure still lets the unit suites report.
check-asan:
	@echo "== ASan+UBSan: every unit and integration suite ($(HARD_PREFIX)-asan)"
	@$(MAKE) --no-print-directory -k BUILD=$(HARD_PREFIX)-asan \
	    SANITIZE=address,undefined all check-unit check-integration

# TSAN_OPTIONS: second_deadlock_stack for readable lock reports; halt on
# the first report so a race fails the suite.
check-tsan:
	@echo "== TSan: threaded suites ($(HARD_TSAN_SUITES))"
	@$(MAKE) --no-print-directory BUILD=$(HARD_PREFIX)-tsan SANITIZE=thread all
	@fail=0; for s in $(HARD_TSAN_SUITES); do \
	    if [ -f tests/unit/test_$$s.c ]; then t=check-unit; else t=check-integration; fi; \
	    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    $(MAKE) --no-print-directory BUILD=$(HARD_PREFIX)-tsan \
	        SANITIZE=thread $$t T=$$s || fail=1; \
	done; exit $$fail

check-sanitize:
	@fail=0; \
	$(MAKE) --no-print-directory check-asan || fail=1; \
	$(MAKE) --no-print-directory check-tsan || fail=1; \
	exit $$fail

# `tests` builds every Check binary: the integration list is not defined yet
# when this file is read (tests/integration/module.mk comes after it).
check-valgrind: tests
	@echo "== valgrind memcheck: unit and integration suites"
	@fail=0; BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) \
	    tests/hardening/valgrind.sh $(if $(HARD_VALGRIND_SUITES),$(patsubst %,$(BUILD)/tests/test_%,$(HARD_VALGRIND_SUITES)),$(UNIT_BINS) $(INTEGRATION_BINS)) || fail=1; \
	$(MAKE) --no-print-directory check-valgrind-bin || fail=1; exit $$fail

# The integration runs drive BF_BIN; the wrapper runs the real binary under
# memcheck and vg-summary.sh fails on any process with errors or leaks.
# Each script's own verdict is its exit status; only node:test's counts are
# shown.
check-valgrind-bin: $(BIN)
	@echo "== valgrind memcheck: the binary through secret_hygiene.js and faults.js"
	@set -o pipefail; d=$$(mktemp -d $${TMPDIR:-/tmp}/bf-vgbin.XXXXXX); fail=0; \
	for t in secret_hygiene faults; do \
	    BF_TOP=$(CURDIR) BF_BIN=$(CURDIR)/tests/hardening/vg-wrap.sh \
	    VG_REAL_BIN=$(abspath $(BIN)) VG_LOG_DIR=$$d \
	    node tests/hardening/$$t.js | grep -E '^# (pass|fail|skipped) ' || fail=1; \
	done; \
	tests/hardening/vg-summary.sh $$d || fail=1; \
	[ $$fail -eq 0 ] && rm -rf $$d; exit $$fail
