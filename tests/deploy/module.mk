# tests/deploy/module.mk -- `make check-deploy`: the deploy/ checks (tests/deploy/check.js).
#
# Template against the CloudFormation spec (npm @aws-cdk/cfnspec), IAM rules,
# the packaged state machine, scripts (shellcheck and stub-aws runs),
# Dockerfile (dockerfile-utils) and systemd unit. node:test: one test per check.
CHECK_TARGETS += check-deploy

check-deploy:
	@echo "== check-deploy"
	@BF_TOP=$(CURDIR) BF_BIN=$(abspath $(BIN)) node --test tests/deploy/check.js
