# Makefile -- avesa-backfill: build, test, demo, install.
#
# Layout: src/<module>/*.c with headers in include/<module>/*.h. Every object
# except src/main.c goes into $(BUILD)/libbackfill.a, which the program, the
# unit tests, the fuzzers and the benchmarks all link against.
#
# Modules and test suites add their own rules in a `module.mk` beside their
# sources (src/*/module.mk, tests/*/module.mk), appending to:
#   GEN_SRCS       generated C sources compiled into the library
#   CHECK_TARGETS  phony targets that `make check` runs after the unit tests
#   BENCH_TARGETS  phony targets that `make bench` runs
#   TEST_BINS      test binaries that `make tests` builds
#   CLEAN_FILES    extra files `make clean` removes
# so that no two concerns fight over this file.

.DEFAULT_GOAL := all
SHELL := /bin/bash

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
PKG_CONFIG ?= pkg-config
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

TEST_PKGS := check

# libcurl: CURL=static (default) builds and links a static libcurl with
# HTTP(S) only, from Debian's curl source package (deploy/scripts/
# build-curl.sh; once, shared by every build tree, in CURL_DIR); it keeps
# the 33 shared libraries of Debian's all-protocols libcurl out of the
# worker (tests/bench/README.md: idle footprint). CURL=system links
# Debian's shared libcurl (libcurl4-openssl-dev) instead.
CURL     ?= static
CURL_DIR ?= build/curl-static
ifeq ($(CURL),static)
PKGS      := libcjson openssl zlib libdeflate
CURL_A    := $(CURL_DIR)/lib/libcurl.a
CURL_CFLAGS := -I$(CURL_DIR)/include -DCURL_STATICLIB
CURL_LIBS := $(CURL_A)
else ifeq ($(CURL),system)
PKGS      := libcurl libcjson openssl zlib libdeflate
CURL_A    :=
CURL_CFLAGS :=
CURL_LIBS :=
else
$(error CURL must be static or system, not $(CURL))
endif

# Warnings are errors in CI (CI=true) or on request (WERROR=1).
WERROR ?= $(if $(filter true 1,$(CI)),1,0)

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN     += -Werror
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Iinclude $(CURL_CFLAGS) $(WARN) $(CFLAGS) \
             $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) \
             -DBF_VERSION='"$(VERSION)"' -pthread -MMD -MP
LDLIBS_BF = $(CURL_LIBS) $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -pthread -lm

# SANITIZE=address,undefined (or thread) builds into its own tree.
SANITIZE ?=
comma := ,
ifneq ($(SANITIZE),)
BUILD    ?= build/san-$(subst $(comma),-,$(SANITIZE))
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
              -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
else
BUILD    ?= build
endif

BIN      := $(BUILD)/backfill-worker
LIB      := $(BUILD)/libbackfill.a

GEN_SRCS      :=
CHECK_TARGETS :=
BENCH_TARGETS :=
TEST_BINS     :=
CLEAN_FILES   :=

# Check suites: tests/<kind>/test_<name>.c, each its own Check binary
# $(BUILD)/tests/test_<name>, linked with the C test support (fake server
# launcher, helpers) in tests/support. Defined before the modules are read,
# since tests/integration/module.mk links its suites with the same support.
# Unit suites (tests/unit) are in-process only: no fake server, no child
# process running the worker binary; those are in tests/integration.
UNIT_SRCS    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
SUPPORT_SRCS := $(sort $(wildcard tests/support/*.c))
SUPPORT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SUPPORT_SRCS))
TEST_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null) \
                -Itests/support
TEST_LDLIBS   = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

# For the module.mk rules that embed data files in the library as C
# arrays, so that each module.mk says only what its file declares:
#
# $(call gen_c,FROM,MK,BODY) is the recipe that writes the generated source
# $@ whole or not at all: a comment "generated from FROM by MK",
# #include <stddef.h>, then what the shell commands in the variable named
# BODY print (they end with ';'; named, so that they may hold commas).
define gen_c
@mkdir -p $(dir $@)
{ echo '/* generated from $(1) by $(2) */'; \
  echo '#include <stddef.h>'; \
  $($(3)) \
} > $@.tmp && mv $@.tmp $@
endef
# $(call embed_bytes,DECL,FILE) is shell that prints "DECL[] = {", FILE's
# bytes as 0x.., entries and "0x00 };" (the NUL lets a reader take the
# bytes as a C string). DECL may name a shell variable.
embed_bytes = echo "$(1)[] = {"; \
	od -An -v -tx1 $(2) | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	echo '0x00 };'

-include $(sort $(wildcard src/*/module.mk tests/*/module.mk))

LIB_SRCS  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
             $(patsubst %.c,%.o,$(GEN_SRCS))
MAIN_OBJ  := $(BUILD)/obj/src/main.o

# Every test runs with the instance metadata service off, so that no code
# path can ever reach 169.254.169.254 from a test (tests that exercise IMDS
# point AWS_EC2_METADATA_SERVICE_ENDPOINT at a local fake and re-enable it).
export AWS_EC2_METADATA_DISABLED := true

.PHONY: all deps check check-unit demo bench install clean help tests
.PHONY: $(CHECK_TARGETS) $(BENCH_TARGETS)
.SECONDARY:

all: $(BIN)

help:
	@echo "make            build $(BIN)"
	@echo "make demo       run the whole system locally (fake ConnectWise, local Step Functions)"
	@echo "make check      run every test (SANITIZE=address,undefined for a sanitizer build)"
	@echo "make bench      run the benchmarks"
	@echo "make deps       install build and test prerequisites (Debian, as root)"
	@echo "make install    install to \$$DESTDIR\$$PREFIX/bin"

$(BIN): $(MAIN_OBJ) $(LIB) $(CURL_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS_BF)

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# Every object may include <curl/curl.h>: the static libcurl's headers come
# first (order-only: a rebuilt libcurl does not recompile everything).
$(BUILD)/obj/%.o: %.c | $(CURL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The sources that module.mk rules generate (GEN_SRCS, in $(BUILD)/gen).
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c | $(CURL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

# A static pattern rule: integration binaries share $(BUILD)/tests/ and are
# linked by tests/integration/module.mk from their own directory.
$(UNIT_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SUPPORT_OBJS) $(LIB) $(CURL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(SUPPORT_OBJS) $(LIB) \
	    $(TEST_LDLIBS) $(LDLIBS_BF)

tests: $(BIN) $(UNIT_BINS) $(TEST_BINS)

# $(call no_such_suite,TARGET,BINS,OTHER_TARGET): a recipe line that fails
# when T names no suite in BINS, naming the target that runs it if any.
no_such_suite = $(if $(T),$(if $(filter $(BUILD)/tests/test_$(T),$(2)),,\
    echo "$(1): no suite '$(T)'$(if $(wildcard tests/*/test_$(T).c),; it is run by make $(3) T=$(T))" >&2; exit 2))

ifneq ($(CURL_A),)
$(CURL_A): deploy/scripts/build-curl.sh
	@deploy/scripts/build-curl.sh $(CURL_DIR)
endif

deps:
	@deploy/scripts/install-deps.sh

# Each unit binary prints Check's own summary line; any failure fails the
# target, but every suite runs first so one red suite does not hide others.
# T=name runs one suite (make check-unit T=sigv4); a name that is not a unit
# suite is an error rather than a silently stale binary from another kind.
check-unit: $(BIN) $(UNIT_BINS)
	@$(call no_such_suite,check-unit,$(UNIT_BINS),check-integration)
	@fail=0; for t in $(if $(T),$(BUILD)/tests/test_$(T),$(UNIT_BINS)); do \
	    echo "== $$t"; \
	    BF_BIN=$(abspath $(BIN)) BF_TOP=$(CURDIR) $$t || fail=1; \
	done; exit $$fail

# Every step runs even when an earlier one failed, so one red suite does not
# hide another; the failed steps are listed at the end. A step that cannot
# run a check for want of a tool `make deps` does not install (the only
# skips allowed) writes the tool to BF_SKIP_LOG, listed last.
check: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD); skips=$(abspath $(BUILD))/check-skipped.txt; : >$$skips; \
	failed=""; for t in check-unit $(CHECK_TARGETS); do \
	    BF_SKIP_LOG=$$skips $(MAKE) --no-print-directory $$t || failed="$$failed $$t"; \
	done; \
	if [ -s $$skips ]; then echo "make check: skipped, optional tools not installed by make deps:"; \
	    sed 's/^/  /' $$skips; fi; \
	if [ -n "$$failed" ]; then echo "make check: FAILED:$$failed"; exit 1; fi; \
	echo "make check: all steps passed"

bench: deps
	@fail=0; for t in $(BENCH_TARGETS); do \
	    $(MAKE) --no-print-directory $$t || fail=1; \
	done; exit $$fail

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/backfill-worker

clean:
	rm -rf build $(CLEAN_FILES)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The README's first command: the whole system on local defaults.
demo: deps all
	@tests/e2e/demo.sh
