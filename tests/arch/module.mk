# tests/arch/module.mk -- `make check-arch`: the module graph read from the
# #include lines of src/ and include/ is acyclic and points downward in the
# layer order src/README.md declares; and the house rules a grep can check
# (tests/arch/rules.test.js).
CHECK_TARGETS += check-arch

check-arch:
	@echo "== arch (module dependency graph)"
	@node --test tests/arch/graph.js
	@echo "== arch (house rules: sleeping, backoff, configuration, self-contained docs)"
	@node --test tests/arch/rules.test.js
