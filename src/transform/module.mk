# src/transform/module.mk -- embed the mapping files (src/transform/mappings/
# *.json) in the binary as C byte arrays, so the worker ships its mappings
# and BACKFILL_MAPPINGS_DIR only overrides them. The generated table is
# declared in src/transform/xform.c (xform_embedded[], xform_embedded_count);
# the top-level Makefile's gen_c and embed_bytes write it, and compile it.

XFORM_MAP_JSON := $(sort $(wildcard src/transform/mappings/*.json))
XFORM_MAP_C    := $(BUILD)/gen/xform_mappings_data.c

GEN_SRCS += $(XFORM_MAP_C)

XFORM_MAP_BODY = \
	echo 'struct xform_embedded { const char *name; const unsigned char *data; size_t len; };'; \
	echo 'extern const struct xform_embedded xform_embedded[];'; \
	echo 'extern const size_t xform_embedded_count;'; \
	i=0; for f in $(XFORM_MAP_JSON); do \
	  $(call embed_bytes,static const unsigned char xform_map_$$i,$$f); \
	  i=$$((i+1)); \
	done; \
	echo 'const struct xform_embedded xform_embedded[] = {'; \
	i=0; for f in $(XFORM_MAP_JSON); do \
	  echo "  { \"$$(basename $$f)\", xform_map_$$i, $$(wc -c < $$f) },"; i=$$((i+1)); \
	done; \
	echo '  { NULL, NULL, 0 }'; \
	echo '};'; \
	echo "const size_t xform_embedded_count = $(words $(XFORM_MAP_JSON));";

$(XFORM_MAP_C): $(XFORM_MAP_JSON) src/transform/module.mk
	$(call gen_c,the files in src/transform/mappings,src/transform/module.mk,XFORM_MAP_BODY)
