# tests/fresh/module.mk -- `make check-fresh`: the README's quick start on
# a bare Debian 12 root (tests/fresh/fresh.sh; tests/README.md, "The
# fresh-machine check"). Not in `make check`: it builds a whole Debian system and runs
# `make check` inside it. FRESH_ARGS=--demo-only runs the demo half (CI).
.PHONY: check-fresh

check-fresh:
	@tests/fresh/fresh.sh $(FRESH_ARGS)
