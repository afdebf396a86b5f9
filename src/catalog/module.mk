# src/catalog/module.mk -- embed the endpoint table (endpoints.json) at build
# time as a C byte array, so the table is data and the binary needs no file.
# The generated source lives in the build tree and joins the library (the
# top-level Makefile's gen_c and embed_bytes write it, and compile it).

CATALOG_EP_JSON := src/catalog/endpoints.json
CATALOG_EP_C    := $(BUILD)/gen/catalog_endpoints_data.c

GEN_SRCS += $(CATALOG_EP_C)

CATALOG_EP_BODY = \
	echo 'extern const unsigned char catalog_endpoints_json[];'; \
	echo 'extern const size_t catalog_endpoints_json_len;'; \
	$(call embed_bytes,const unsigned char catalog_endpoints_json,$<); \
	echo "const size_t catalog_endpoints_json_len = $$(wc -c < $<);";

$(CATALOG_EP_C): $(CATALOG_EP_JSON) src/catalog/module.mk
	$(call gen_c,$(CATALOG_EP_JSON),src/catalog/module.mk,CATALOG_EP_BODY)
