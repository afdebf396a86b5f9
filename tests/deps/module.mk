# tests/deps/module.mk -- `make check-install-deps`: deploy/scripts/
# install-deps.sh (what `make deps` runs) against stub apt-get, npm and id.
#
# The fresh-machine check (`make check-fresh`, tests/fresh/fresh.sh) runs
# the real thing on a bare Debian root; it is not part of `make check`
# because it downloads a whole Debian system (see tests/README.md).
CHECK_TARGETS += check-install-deps

check-install-deps:
	@echo "== install-deps.sh (tests/deps)"
	@BF_TOP=$(CURDIR) node --test tests/deps/install-deps.test.js
