# tests/integration/module.mk -- `make check-integration`: the Check suites
# that leave the test process: they start the Node fakes
# (tests/support/fake/*.js through fakesrv_start) or run the built worker
# ($BF_BIN, fork/execv). They are kept apart from tests/unit, which holds
# in-process suites only, so `make check-unit` needs neither Node nor a
# built binary to mean something and stays fast.
#
# Each tests/integration/test_<name>.c is one binary $(BUILD)/tests/test_<name>
# (the same directory as the unit binaries, so the sanitizer and valgrind
# runs find every suite by name); fixtures are in tests/integration/fixtures.
# T=name runs one suite (make check-integration T=worker).
CHECK_TARGETS += check-integration

INTEGRATION_SRCS := $(sort $(wildcard tests/integration/test_*.c))
INTEGRATION_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(INTEGRATION_SRCS))
TEST_BINS        += $(INTEGRATION_BINS)

.PHONY: check-integration

$(INTEGRATION_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(SUPPORT_OBJS) $(LIB) $(CURL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(SUPPORT_OBJS) $(LIB) \
	    $(TEST_LDLIBS) $(LDLIBS_BF)

# Like check-unit: every suite runs before the target fails.
check-integration: $(BIN) $(INTEGRATION_BINS)
	@$(call no_such_suite,check-integration,$(INTEGRATION_BINS),check-unit)
	@fail=0; for t in $(if $(T),$(BUILD)/tests/test_$(T),$(INTEGRATION_BINS)); do \
	    echo "== $$t"; \
	    BF_BIN=$(abspath $(BIN)) BF_TOP=$(CURDIR) $$t || fail=1; \
	done; exit $$fail
