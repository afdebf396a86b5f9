/* jsonout.h -- compact JSON text straight into a struct buf.
 *
 * The canonical writer (xform.c) serialises records without building a
 * cJSON tree and without cJSON_PrintUnformatted's malloc per record, but its
 * output must stay byte-identical to what cJSON 1.7 prints (and the record
 * hash to what the original number rule printed). These functions are those
 * two rules, with fast paths for the common values (integers, short
 * decimals, strings without escapes) and printf only for the rest.
 */
#ifndef BF_UTIL_JSONOUT_H
#define BF_UTIL_JSONOUT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/err.h"

/* A JSON string: quotes, \" \\ \b \f \n \r \t, \u00xx for the other
 * controls, every other byte (UTF-8 included) as is. cJSON's and Python's
 * json.dumps(ensure_ascii=False) rule alike. BF_E_LIMIT / BF_E_NOMEM. */
enum bf_rc jsonout_string(struct buf *b, const char *s, size_t n);

/* A number exactly as cJSON 1.7.15's cJSON_PrintUnformatted writes it:
 * "null" for NaN and infinities, else %1.15g unless that does not read back
 * (within cJSON's relative DBL_EPSILON tolerance), then %1.17g. */
enum bf_rc jsonout_number_cjson(struct buf *b, double d);

/* The shortest round-trip rule of the mapping engine: integral values within
 * +-2^53 as "%.0f" (so -0.0 is "-0"), else %.15g unless that does not read
 * back exactly, then %.17g. */
enum bf_rc jsonout_number_short(struct buf *b, double d);

/* `v` as cJSON_PrintUnformatted(v) would print it (objects in member
 * order). BF_E_INVALID_INPUT for an item cJSON cannot print (invalid type,
 * raw item without text). */
enum bf_rc jsonout_value(struct buf *b, const cJSON *v);

#endif
