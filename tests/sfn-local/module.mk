# tests/sfn-local/module.mk -- the local Step Functions runner's own tests.
CHECK_TARGETS += check-sfn-local

check-sfn-local:
	@echo "== sfn-local runner"
	@node --test tests/sfn-local/test/runner.test.js
