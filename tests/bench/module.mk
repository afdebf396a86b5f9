# tests/bench/module.mk -- `make bench` (tests/bench/README.md): benchmarks, not
# tests.
#
# bench-all runs tests/bench/bench.js: dispatch overhead against boto3 and
# @aws-sdk/client-sfn workers, pipeline throughput against a plain Python
# script and the parse+serialize+gzip limit (limit.c), run-chunk's peak RSS
# at 10k/100k/1M records, and the idle footprint of 16 open polls (beside
# idle_floor.c: the same libraries with curl_global_init and 16 threads,
# no request, the floor under any worker built on them), and the fleet
# state machine at 1,000 and 5,000 chunks on the local runner (fleet.js). Results:
# $(BUILD)/bench/results/*.json (results-quick/ with BENCH_QUICK=1).
# BENCH_QUICK=1 runs every benchmark at tiny sizes (a check of the harness;
# its figures mean nothing). BENCH=dispatch
# (or pipeline, memory, idle, fleet; space-separated) runs a subset.
# Measure an optimised build without sanitizers: `make bench` uses build/
# (OPT=-O2 by default); the figures in tests/bench/README.md came from
# `make BUILD=build/bench OPT=-O2 bench`.
#
# Prerequisites, installed here when missing (as root; Debian):
# python3-boto3 for the boto3 baseline (run by /usr/bin/python3, not a PATH
# python that may lack boto3), and `npm ci` of tests/bench/package.json
# (@aws-sdk/client-sfn, pinned) for the Node baseline.
BENCH_TARGETS += bench-all

BENCH_LIMIT   := $(BUILD)/bench/limit
BENCH_DEFLATE := $(BUILD)/bench/deflate
BENCH_FLOOR   := $(BUILD)/bench/idle_floor
BENCH_FLOOR_SYS := $(BUILD)/bench/idle_floor-debian-libcurl
BENCH_OUT     = $(BUILD)/bench/results$(if $(BENCH_QUICK),-quick)
BENCH_NODE_MOD := tests/bench/node_modules/@aws-sdk/client-sfn/package.json

$(BENCH_LIMIT): tests/bench/limit.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS_BF)

# zlib, libdeflate and ISA-L igzip side by side; ISA-L (libisal-dev) is
# for this comparison only, bench-deps installs it.
$(BENCH_DEFLATE): tests/bench/deflate.c | bench-deps
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o $@ $< -lz -ldeflate -lisal

$(BENCH_FLOOR): tests/bench/idle_floor.c | $(CURL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS_BF)

# The same floor on Debian's shared libcurl (libcurl4-openssl-dev), for the
# comparison with CURL=static.
$(BENCH_FLOOR_SYS): tests/bench/idle_floor.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 $(shell $(PKG_CONFIG) --cflags libcurl libcjson) \
	    -o $@ $< $(shell $(PKG_CONFIG) --libs libcurl libcjson openssl zlib) -pthread

$(BENCH_NODE_MOD): tests/bench/package.json tests/bench/package-lock.json
	cd tests/bench && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench-deps: $(BENCH_NODE_MOD)
	@if ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then \
	    echo "bench: installing python3-boto3 (Debian)"; \
	    if [ "$$(id -u)" = 0 ]; then \
	        apt-get install -y python3-boto3 || \
	            { apt-get update && apt-get install -y python3-boto3; }; \
	    else \
	        echo "bench: run as root or install python3-boto3" >&2; exit 1; \
	    fi; \
	fi
	@if [ ! -e /usr/include/isa-l/igzip_lib.h ]; then \
	    echo "bench: installing libisal-dev (Debian)"; \
	    if [ "$$(id -u)" = 0 ]; then \
	        apt-get install -y libisal-dev || \
	            { apt-get update && apt-get install -y libisal-dev; }; \
	    else \
	        echo "bench: run as root or install libisal-dev" >&2; exit 1; \
	    fi; \
	fi

bench-all: $(BIN) $(BENCH_LIMIT) $(BENCH_DEFLATE) $(BENCH_FLOOR) $(BENCH_FLOOR_SYS) bench-deps
	@echo "== bench ($(if $(BENCH_QUICK),quick,full); BUILD=$(BUILD))"
	@node tests/bench/bench.js --bin $(BIN) --limit $(BENCH_LIMIT) --deflate $(BENCH_DEFLATE) --floor $(BENCH_FLOOR) --floor-system $(BENCH_FLOOR_SYS) \
	    --out $(BENCH_OUT) $(if $(BENCH_QUICK),--quick) $(BENCH)

.PHONY: bench-deps
