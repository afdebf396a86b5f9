/* xform.h -- the table-specific canonical transform (mapping engine).
 *
 * A mapping file (src/transform/mappings/<canonical_table>.json, embedded
 * in the binary at build time, overridable from BACKFILL_MAPPINGS_DIR) says
 * for each source system and source table which canonical fields to build:
 * canonical name -> source path, type, required. A writer
 * (xform_write_record) turns one raw record into one canonical JSON line,
 * or into a reject reason when a required field is missing or cannot be
 * coerced. The rules (paths, types,
 * coercion) are documented in src/README.md, "Mapping files and coercion
 * rules", and at the top of src/transform/xform.c. Loaded mappings are
 * immutable and may be shared by threads.
 */
#ifndef BF_TRANSFORM_XFORM_H
#define BF_TRANSFORM_XFORM_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/err.h"

struct xform_mappings;
struct xform_table;

/* Load the embedded mappings, then (when `dir` is neither NULL nor "") every
 * *.json file in `dir`, each replacing the embedded mapping of the same
 * canonical table or adding a new one. BF_E_CONFIG naming the file and the
 * problem for a malformed mapping or an unreadable directory. */
enum bf_rc xform_mappings_load(const char *dir, struct xform_mappings **out,
                               struct bf_err *err);
void xform_mappings_free(struct xform_mappings *m); /* NULL-safe */

/* The mapping for (source_system "connectwise", source_table
 * "service/tickets"), or NULL when there is none. Borrowed from `m`. */
const struct xform_table *xform_find(const struct xform_mappings *m,
                                     const char *source_system,
                                     const char *source_table);

/* The canonical table a mapping produces ("tickets"). Never NULL. */
const char *xform_table_canonical(const struct xform_table *t);

/* Per-record context: the fields every canonical record gets. All borrowed.
 * ingestion_timestamp is the chunk's run time (one value per chunk). */
struct xform_ctx {
    const char *tenant_id;
    const char *source_system;       /* "connectwise" */
    const char *source_table;        /* "service/tickets" */
    const char *canonical_table;     /* "tickets" */
    const char *ingestion_timestamp; /* "2026-11-27T23:18:22.000Z" */
    const char *backfill_id;         /* may be NULL: written as null */
};

#define XFORM_REASON_MAX 256

/* The line written to a rejects part: {"reason", "tenant_id",
 * "source_system", "source_table", "canonical_table", "ingestion_timestamp",
 * "backfill_id", "record": <raw, as received>}. Caller frees. NULL on OOM. */
cJSON *xform_reject_record(const cJSON *raw, const char *reason,
                           const struct xform_ctx *ctx);

/* ---- one raw record straight to its canonical line ----
 * The line is the mapping's fields in mapping order, then tenant_id,
 * source_system, source_table, canonical_table, ingestion_timestamp,
 * backfill_id (ctx; null when NULL) and record_hash, as cJSON prints an
 * object, into a buffer the writer reuses. record_hash is the SHA-256 (64
 * hex digits) of the record serialised compactly with object keys sorted
 * at every level, leaving out the top-level members ingestion_timestamp,
 * backfill_id and record_hash, so the hash is stable across runs; the
 * serialisation is what Python's json.dumps(rec, sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False) writes for these values. One
 * writer per chunk; `t` and `ctx` (and the strings it points to) are
 * borrowed and must outlive it. Not for sharing between threads. */
struct xform_writer;

enum bf_rc xform_writer_new(const struct xform_table *t,
                            const struct xform_ctx *ctx,
                            struct xform_writer **out, struct bf_err *err);
void xform_writer_free(struct xform_writer *w); /* NULL-safe */

/* Map `raw`. On BF_OK exactly one of these holds:
 *   *line != NULL: the canonical JSON text, *len bytes, no newline; owned by
 *                  `w` and valid until the next call;
 *   *line == NULL: the record is rejected and `reason` says why.
 * `coercion_nulls` (may be NULL) receives how many optional fields became
 * null because their value could not be coerced to the field's type.
 * Only BF_E_NOMEM is returned as an error. */
enum bf_rc xform_write_record(struct xform_writer *w, const cJSON *raw,
                              const char **line, size_t *len,
                              char reason[XFORM_REASON_MAX],
                              int *coercion_nulls, struct bf_err *err);

#endif
