# src/chunk/module.mk -- the chunk pipeline's benchmark: one 200,000-ticket
# chunk (~500 MB of JSON) from the fake ConnectWise through the real
# backfill-worker run-chunk, reporting and bounding its peak RSS. The unit
# suite (test_chunk) runs the same check at 20,000 records.

BENCH_TARGETS += bench-chunk

bench-chunk: $(BIN) $(BUILD)/tests/test_chunk
	@echo "== bench-chunk: 200,000-record chunk, peak RSS"
	@BF_CHUNK_BIG=1 CK_RUN_CASE=big BF_BIN=$(abspath $(BIN)) BF_TOP=$(CURDIR) \
	    $(BUILD)/tests/test_chunk
