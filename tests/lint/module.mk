# tests/lint/module.mk -- `make check-lint`: cppcheck and clang-tidy over
# src/ (tests/README.md "Static analysis"). Configuration: .clang-tidy at the top,
# the reviewed exceptions in tests/lint/cppcheck.supp and tests/lint/tidy-baseline.txt.
# Fails on any finding not reviewed there. Logs go to $(BUILD)/lint.
CHECK_TARGETS += check-lint

check-lint:
	@echo "== lint (cppcheck, clang-tidy)"
	@LINT_OUT=$(BUILD)/lint tests/lint/run.sh
