/* jsonin.h -- a reusable-arena JSON parser that yields cJSON trees.
 *
 * cJSON_ParseWithLength mallocs every node and string and the tree is freed
 * node by node, per record; that was a sixth of the transform's CPU. This
 * parser builds the same cJSON nodes (same types, values, member order and
 * decoded strings) in blocks it keeps from record to record. It takes the
 * common subset of what cJSON accepts and returns NULL for anything else
 * (errors, \u surrogates, NUL bytes, very long numbers, deep nesting), so
 * the caller falls back to cJSON_ParseWithLength, which then decides.
 */
#ifndef BF_TRANSFORM_JSONIN_H
#define BF_TRANSFORM_JSONIN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/err.h"

struct jsonin;

enum bf_rc jsonin_new(struct jsonin **out, struct bf_err *err);
void jsonin_free(struct jsonin *j); /* NULL-safe */

/* Parse the first JSON value in p[0..n) the way cJSON_ParseWithLength does
 * (leading whitespace and a UTF-8 BOM skipped, trailing text ignored). The
 * tree belongs to `j` and lives until the next call: read it, duplicate it
 * (cJSON_Duplicate), never cJSON_Delete it. NULL: not handled here (or out
 * of memory); parse it with cJSON instead. */
const cJSON *jsonin_parse(struct jsonin *j, const char *p, size_t n);

#endif
