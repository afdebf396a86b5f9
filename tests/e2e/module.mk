# tests/e2e/module.mk -- the whole system end to end: the real
# worker binary and definition on the local runner, against the fakes.
CHECK_TARGETS += check-e2e

check-e2e: $(BIN)
	@echo "== end-to-end"
	@BF_BIN=$(abspath $(BIN)) node tests/e2e/e2e.test.js
