# tests/sigv4/module.mk -- the SigV4 oracle test.
#
# check-sigv4-oracle builds oracle_sign (the C signer, one JSON request per
# line) and runs oracle.js, which generates a deterministic corpus of
# requests and compares every C signature with @smithy/signature-v4's
# (node:test, one test per request; run directly, as it takes arguments).
# The known-answer cases in tests/sigv4/cases/ run in tests/unit/test_sigv4.c.
CHECK_TARGETS += check-sigv4-oracle

SIGV4_ORACLE := $(BUILD)/tests/sigv4_oracle_sign

$(SIGV4_ORACLE): tests/sigv4/oracle_sign.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_BF)

check-sigv4-oracle: $(SIGV4_ORACLE)
	@echo "== sigv4 oracle (tests/sigv4)"
	@node tests/sigv4/oracle.js $(abspath $(SIGV4_ORACLE)) --count 240
