# tests/fuzz/module.mk -- libFuzzer targets (tests/README.md "Fuzzing").
#
# Every tests/fuzz/fuzz_<name>.c is one target, linked with a copy of the
# library built by clang with -fsanitize=fuzzer-no-link,address,undefined
# into its own tree ($(FUZZ_BUILD)), by a recursive make, so no ordinary
# object is ever rebuilt with fuzzing flags. Seed corpora are committed in
# tests/fuzz/corpus/<name>/ (read-only to the runs).
#
#   make check-fuzz               every target FUZZ_CHECK_SECONDS (20) s,
#                                 fixed seed, 2 at a time (in make check)
#   make fuzz [FUZZ_SECONDS=60]   longer runs; new inputs are kept in
#                                 $(FUZZ_BUILD)/corpus/<name>/ across runs
#   make fuzz-build               just build $(FUZZ_BUILD)/bin/fuzz_*
#   make fuzz-coverage            line coverage of the functions each target
#                                 exercises, replaying the committed seeds and
#                                 the last check-fuzz/fuzz corpora (a clang
#                                 source-coverage build in $(FUZZ_BUILD)/cov)
# A crash leaves its input in $(FUZZ_BUILD)/work/<name>/crash-*; replay it
# with `$(FUZZ_BUILD)/bin/fuzz_<name> <file>`.
CHECK_TARGETS += check-fuzz

FUZZ_CC       ?= clang
FUZZ_SAN      := fuzzer-no-link,address,undefined
FUZZ_BUILD    ?= $(if $(filter build,$(BUILD)),build/fuzz,$(BUILD)/fuzz)
FUZZ_SECONDS  ?= 60
FUZZ_CHECK_SECONDS ?= 20
FUZZ_JOBS     ?= 2
FUZZ_TARGETS  := $(sort $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))

.PHONY: fuzz fuzz-build fuzz-bins check-fuzz fuzz-coverage
FUZZ_LINK_SAN ?= fuzzer,address,undefined

# The inner make: BUILD is the fuzz tree, so $(LIB) is the fuzz library.
fuzz-bins: $(patsubst %,$(BUILD)/bin/%,$(FUZZ_TARGETS))

# Every target also links the reference transform (tests/support), which
# the differential targets compare the worker's writer with.
FUZZ_SUPPORT := tests/support/xform_oracle.c
$(BUILD)/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_SUPPORT) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/support -fsanitize=$(FUZZ_LINK_SAN) $(LDFLAGS) \
	    -o $@ $< $(FUZZ_SUPPORT) $(LIB) $(LDLIBS_BF)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
	    SANITIZE=$(FUZZ_SAN) fuzz-bins

check-fuzz: fuzz-build
	@echo "== fuzz ($(words $(FUZZ_TARGETS)) targets x $(FUZZ_CHECK_SECONDS) s, seed 1, $(FUZZ_JOBS) at a time)"
	@tests/fuzz/run.sh --bin $(FUZZ_BUILD)/bin --work $(FUZZ_BUILD)/work \
	    --seconds $(FUZZ_CHECK_SECONDS) --jobs $(FUZZ_JOBS) --seed 1 \
	    $(FUZZ_TARGETS)

fuzz: fuzz-build
	@tests/fuzz/run.sh --bin $(FUZZ_BUILD)/bin --work $(FUZZ_BUILD)/work \
	    --keep $(FUZZ_BUILD)/corpus --seconds $(FUZZ_SECONDS) \
	    --jobs $(FUZZ_JOBS) $(FUZZ_TARGETS)

# Source-based coverage: the same targets built without sanitizers but with
# -fprofile-instr-generate, each run once over its corpora (-runs=0).
FUZZ_COV_FLAGS := -O1 -g -fprofile-instr-generate -fcoverage-mapping

fuzz-coverage:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD)/cov CC=$(FUZZ_CC) \
	    SANITIZE=fuzzer-no-link FUZZ_LINK_SAN=fuzzer \
	    CFLAGS="$(FUZZ_COV_FLAGS)" LDFLAGS="-fprofile-instr-generate" fuzz-bins
	@tests/fuzz/coverage.sh --bin $(FUZZ_BUILD)/cov/bin \
	    --work $(FUZZ_BUILD)/cov/prof --corpora $(FUZZ_BUILD)/work,$(FUZZ_BUILD)/corpus \
	    $(FUZZ_TARGETS)
