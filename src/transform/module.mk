# src/transform/module.mk -- embed the mapping files (src/transform/mappings/
# *.json) in the binary as C byte arrays, so the worker ships its mappings
# and BACKFILL_MAPPINGS_DIR only overrides them. The generated table is
# declared in src/transform/xform.c (xform_embedded[], xform_embedded_count).

XFORM_MAP_JSON := $(sort $(wildcard src/transform/mappings/*.json))
XFORM_MAP_C    := $(BUILD)/gen/xform_mappings_data.c

GEN_SRCS += $(XFORM_MAP_C)

$(XFORM_MAP_C): $(XFORM_MAP_JSON) src/transform/module.mk
	@mkdir -p $(dir $@)
	{ echo '/* generated from the files in src/transform/mappings by src/transform/module.mk */'; \
	  echo '#include <stddef.h>'; \
	  echo 'struct xform_embedded { const char *name; const unsigned char *data; size_t len; };'; \
	  echo 'extern const struct xform_embedded xform_embedded[];'; \
	  echo 'extern const size_t xform_embedded_count;'; \
	  i=0; for f in $(XFORM_MAP_JSON); do \
	    echo "static const unsigned char xform_map_$$i[] = {"; \
	    od -An -v -tx1 $$f | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo '0x00 };'; i=$$((i+1)); \
	  done; \
	  echo 'const struct xform_embedded xform_embedded[] = {'; \
	  i=0; for f in $(XFORM_MAP_JSON); do \
	    echo "  { \"$$(basename $$f)\", xform_map_$$i, $$(wc -c < $$f) },"; i=$$((i+1)); \
	  done; \
	  echo '  { NULL, NULL, 0 }'; \
	  echo '};'; \
	  echo "const size_t xform_embedded_count = $(words $(XFORM_MAP_JSON));"; \
	} > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/xform_mappings_data.o: $(XFORM_MAP_C)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
