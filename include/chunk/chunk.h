/* chunk.h -- one chunk end to end: ingest, then the canonical transform.
 *
 * The chunk runner is the worker's production task handler (and what
 * `backfill-worker run-chunk` calls). It looks up the tenant, gets the
 * tenant's secret, opens the source (source.h: ConnectWise or the
 * ingestion Lambda, per BACKFILL_INGEST) and the outputs, and for each page
 * writes the records raw and maps them through the table's mapping into the
 * canonical writer; each writer finishes with a manifest written last.
 * BACKFILL_TRANSFORM=lambda hands the transform to a backend
 * (transform/xform_backend.h) that runs after the raw chunk is written.
 * One runner serves all worker slots at once (thread-safe).
 */
#ifndef BF_CHUNK_CHUNK_H
#define BF_CHUNK_CHUNK_H

#include <stddef.h>

#include "aws/awsenv.h"
#include "config/config.h"
#include "source/source.h"
#include "task/task.h"
#include "util/err.h"

struct chunk_runner;
struct sink;

/* `aws` may be NULL when nothing configured needs AWS (all file://, builtin).
 * Takes a reference to it otherwise. Copies what it needs from `cfg`. */
enum bf_rc chunk_runner_new(const struct bf_config *cfg, struct awsenv *aws,
                            struct chunk_runner **out, struct bf_err *err);
void chunk_runner_free(struct chunk_runner *r); /* NULL-safe */

/* Tuning, and the sink the chunks write to (tests). Zero fields keep the
 * defaults; set before the first chunk_run(). */
struct chunk_options {
    struct source_options source; /* retry budgets, page size (source.h) */
    size_t part_max_bytes;      /* compressed bytes per part; 0 = 64 MiB */
    int gzip_level;             /* 1..12; 0 = BACKFILL_GZIP_LEVEL */
    struct sink *sink;          /* NULL: each chunk opens its own sink on
                                   BACKFILL_OUTPUT (production). Else every
                                   chunk writes through this one instead,
                                   borrowed (never freed by the runner; it
                                   must outlive the runs): how a test puts a
                                   failing sink (tests/support/failsink.h)
                                   under a whole chunk */
};
void chunk_runner_set_options(struct chunk_runner *r,
                              const struct chunk_options *o);

/* The task_handler.run function; ctx is a struct chunk_runner. */
enum bf_rc chunk_run(void *ctx, const struct task_input *in,
                     struct task_cancel *cancel, struct task_result *out,
                     struct bf_err *err);

#endif
