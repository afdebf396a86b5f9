# src/source/module.mk -- embed the endpoint table (endpoints.json) at build
# time as a C byte array, so the table is data and the binary needs no file.
# The generated source lives in the build tree and joins the library.

SOURCE_EP_JSON := src/source/endpoints.json
SOURCE_EP_C    := $(BUILD)/gen/source_endpoints_data.c

GEN_SRCS += $(SOURCE_EP_C)

$(SOURCE_EP_C): $(SOURCE_EP_JSON) src/source/module.mk
	@mkdir -p $(dir $@)
	{ echo '/* generated from $(SOURCE_EP_JSON) by src/source/module.mk */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char source_endpoints_json[];'; \
	  echo 'extern const size_t source_endpoints_json_len;'; \
	  echo 'const unsigned char source_endpoints_json[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00 };'; \
	  echo "const size_t source_endpoints_json_len = $$(wc -c < $<);"; \
	} > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/source_endpoints_data.o: $(SOURCE_EP_C)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
