# tests/arch/module.mk -- `make check-arch`: the module graph read from the
# #include lines of src/ and include/ is acyclic and points downward in the
# layer order src/README.md declares.
CHECK_TARGETS += check-arch

check-arch:
	@echo "== arch (module dependency graph)"
	@node --test tests/arch/graph.js
