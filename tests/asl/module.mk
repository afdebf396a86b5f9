# tests/asl/module.mk -- tests of statemachine/backfill.asl.json.
#
# check-asl validates the definition with asl-validator, evaluates every
# JSONata expression read from the definition file with the reference
# implementation, and compares the definition's plan with the C plan
# (plan_oracle, linked against libbackfill, plus `backfill-worker plan`
# when the CLI offers it). TZ=UTC: a timestamp without offset is UTC.
CHECK_TARGETS += check-asl

ASL_ORACLE := $(BUILD)/tests/asl_plan_oracle
# Linked against the library archive: the linker takes only the objects the
# plan, the task contract and the endpoint table need.
$(ASL_ORACLE): tests/asl/plan_oracle.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_BF)

check-asl: $(ASL_ORACLE)
	@echo "== statemachine (tests/asl)"
	@TZ=UTC BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) \
	    BF_PLAN_ORACLE=$(abspath $(ASL_ORACLE)) \
	    node --test tests/asl/asl.test.js
