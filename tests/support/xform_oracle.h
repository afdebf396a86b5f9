/* xform_oracle.h -- the reference canonical transform (tests only).
 *
 * A second, independent implementation of the mapping rules that builds a
 * cJSON tree per record (xform_oracle.c says why it exists). Tests compare
 * what the worker's writer (transform/xform.h, xform_write_record) prints
 * with cJSON_PrintUnformatted() of the oracle's tree.
 */
#ifndef BF_TESTS_XFORM_ORACLE_H
#define BF_TESTS_XFORM_ORACLE_H

#include <cjson/cJSON.h>

#include "transform/xform.h"
#include "util/err.h"

struct xoracle_mappings;
struct xoracle_table;

/* As xform_mappings_load(): the embedded mappings, and first the *.json
 * files of `dir` when it is neither NULL nor "". BF_E_CONFIG when a file
 * is malformed or the directory cannot be read. */
enum bf_rc xoracle_load(const char *dir, struct xoracle_mappings **out,
                        struct bf_err *err);
void xoracle_free(struct xoracle_mappings *m); /* NULL-safe */

/* As xform_find(). Borrowed from `m`; NULL when there is none. */
const struct xoracle_table *xoracle_find(const struct xoracle_mappings *m,
                                         const char *source_system,
                                         const char *source_table);

/* Map `raw` as the writer must. On BF_OK exactly one of these holds:
 *   *out != NULL: the canonical record (caller frees with cJSON_Delete);
 *   *out == NULL: the record is rejected and `reason` says why.
 * `coercion_nulls` (may be NULL) as for xform_write_record(). Only
 * BF_E_NOMEM is returned as an error. */
enum bf_rc xoracle_map_record(const struct xoracle_table *t, const cJSON *raw,
                              const struct xform_ctx *ctx, cJSON **out,
                              char reason[XFORM_REASON_MAX],
                              int *coercion_nulls, struct bf_err *err);

/* SHA-256 (64 hex digits + NUL) of `rec` serialised compactly with object
 * keys sorted at every level, leaving out the top-level members
 * ingestion_timestamp, backfill_id and record_hash: the record_hash rule.
 * BF_E_NOMEM, or BF_E_LIMIT past 64 levels of nesting. */
enum bf_rc xoracle_record_hash(const cJSON *rec, char out[65],
                               struct bf_err *err);

#endif
