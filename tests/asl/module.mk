# tests/asl/module.mk -- tests of statemachine/backfill.asl.json (issue 6).
#
# check-asl validates the definition with asl-validator, evaluates every
# JSONata expression read from the definition file with the reference
# implementation, and compares the definition's plan with the C plan
# (plan_oracle, linked against libbackfill, plus `backfill-worker plan`
# when the CLI offers it). TZ=UTC: a timestamp without offset is UTC.
CHECK_TARGETS += check-asl

ASL_ORACLE := $(BUILD)/tests/asl_plan_oracle
# Only the plan, the task contract, the endpoint table and util: the oracle
# does not wait for (or break with) the rest of the library.
ASL_ORACLE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,src/plan/plan.c \
    src/task/task.c src/source/source.c src/util/err.c src/util/timeutil.c \
    src/util/buf.c src/util/log.c) $(BUILD)/gen/source_endpoints_data.o

$(ASL_ORACLE): tests/asl/plan_oracle.c $(ASL_ORACLE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(ASL_ORACLE_OBJS) $(LDLIBS_BF)

check-asl: $(ASL_ORACLE)
	@echo "== statemachine (tests/asl)"
	@TZ=UTC BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) \
	    BF_PLAN_ORACLE=$(abspath $(ASL_ORACLE)) \
	    node tests/asl/asl.test.js
