# src/catalog/module.mk -- embed the endpoint table (endpoints.json) at build
# time as a C byte array, so the table is data and the binary needs no file.
# The generated source lives in the build tree and joins the library.

CATALOG_EP_JSON := src/catalog/endpoints.json
CATALOG_EP_C    := $(BUILD)/gen/catalog_endpoints_data.c

GEN_SRCS += $(CATALOG_EP_C)

$(CATALOG_EP_C): $(CATALOG_EP_JSON) src/catalog/module.mk
	@mkdir -p $(dir $@)
	{ echo '/* generated from $(CATALOG_EP_JSON) by src/catalog/module.mk */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char catalog_endpoints_json[];'; \
	  echo 'extern const size_t catalog_endpoints_json_len;'; \
	  echo 'const unsigned char catalog_endpoints_json[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00 };'; \
	  echo "const size_t catalog_endpoints_json_len = $$(wc -c < $<);"; \
	} > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/catalog_endpoints_data.o: $(CATALOG_EP_C)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
