# tests/e2e/module.mk -- the whole system end to end: the real
# worker binary and definition on the local runner, against the fakes.
CHECK_TARGETS += check-e2e

check-e2e: $(BIN)
	@echo "== end-to-end"
	@BF_BIN=$(abspath $(BIN)) node --test tests/e2e/e2e.test.js

# The fleet state machine (statemachine/backfill-fleet.asl.json) on the
# runner's Distributed Map: 1,024 chunks, a failed table, a redrive. Run
# with plain node, not --test: the file takes arguments (demo-fleet).
CHECK_TARGETS += check-fleet

check-fleet: $(BIN)
	@echo "== fleet end-to-end"
	@BF_BIN=$(abspath $(BIN)) node tests/e2e/fleet.test.js

# A smaller fleet run (8 days: 128 chunks) with progress, for a person.
.PHONY: demo-fleet
demo-fleet: deps $(BIN)
	@BF_BIN=$(abspath $(BIN)) node tests/e2e/fleet.test.js --days 8 --watch
