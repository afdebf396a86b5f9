# tests/hardening/module.mk -- sanitizer, valgrind and secret-hygiene runs
# (issue 10).
#
#   make check-secrets    in `make check`: the worker's run-chunk path against
#                         the fakes with recognisable secrets; asserts none
#                         reaches a log line, result, cause or output file
#   make check-faults     in `make check`: fault-injection rows no other suite
#                         covers (tests/hardening/faults.js): truncated and
#                         oversized GetActivityTask answers, a full disk
#                         (tmpfs, when root can mount) and a file size limit
#                         under the file sink
#   make check-sanitize   every unit suite under ASan+UBSan, then the threaded
#                         suites under TSan (own build trees, not in check)
#   make check-valgrind   every unit binary under valgrind memcheck (slow)
#   make check-tsan       just the TSan part
# Trees: $(HARD_PREFIX)-asan, -tsan (build/hard-* by default).
CHECK_TARGETS += check-secrets check-faults

HARD_PREFIX ?= $(if $(filter build,$(BUILD)),build/hard,$(BUILD)/hard)
# The suites that start threads (worker slots and heartbeats, the creds
# cache, the retry budget, the rate limiter, concurrent chunk runs).
HARD_TSAN_SUITES ?= worker creds retry awsjson cw tenant chunk
HARD_VALGRIND_SUITES ?=

.PHONY: check-secrets check-faults check-sanitize check-tsan check-asan check-valgrind

check-secrets: $(BIN)
	@echo "== secret hygiene (tests/hardening/secret_hygiene.sh)"
	@BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) tests/hardening/secret_hygiene.sh

check-faults: $(BIN)
	@echo "== fault injection (tests/hardening/faults.js)"
	@BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) node tests/hardening/faults.js

check-asan:
	@echo "== ASan+UBSan: every unit suite ($(HARD_PREFIX)-asan)"
	@$(MAKE) --no-print-directory BUILD=$(HARD_PREFIX)-asan \
	    SANITIZE=address,undefined all check-unit

# TSAN_OPTIONS: second_deadlock_stack for readable lock reports; halt on
# the first report so a race fails the suite.
check-tsan:
	@echo "== TSan: threaded suites ($(HARD_TSAN_SUITES))"
	@$(MAKE) --no-print-directory BUILD=$(HARD_PREFIX)-tsan SANITIZE=thread all
	@fail=0; for s in $(HARD_TSAN_SUITES); do \
	    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    $(MAKE) --no-print-directory BUILD=$(HARD_PREFIX)-tsan \
	        SANITIZE=thread check-unit T=$$s || fail=1; \
	done; exit $$fail

check-sanitize:
	@fail=0; \
	$(MAKE) --no-print-directory check-asan || fail=1; \
	$(MAKE) --no-print-directory check-tsan || fail=1; \
	exit $$fail

check-valgrind: $(BIN) $(UNIT_BINS)
	@echo "== valgrind memcheck: unit suites"
	@BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) \
	    tests/hardening/valgrind.sh $(if $(HARD_VALGRIND_SUITES),$(patsubst %,$(BUILD)/tests/test_%,$(HARD_VALGRIND_SUITES)),$(UNIT_BINS))
