/* lambda_ingest.h -- the original AVESA ingestion Lambda as a chunk's source
 * (BACKFILL_INGEST=lambda).
 *
 * Opening the source invokes avesa-{service}-ingestion-{env}, which pages
 * ConnectWise and writes the raw chunk itself; the source is then that raw
 * chunk read back through its manifest, a page of up to 1000 records at a
 * time, for a built-in transform (source_writes_raw() is 1: nothing is
 * written raw again). The invocation is judged by aws/lambda_step.h. Opened
 * through source_open() (source.h); the names and the payload are exposed
 * for tests.
 */
#ifndef BF_SOURCE_LAMBDA_INGEST_H
#define BF_SOURCE_LAMBDA_INGEST_H

#include "source/source.h"
#include "task/task.h"
#include "util/err.h"

/* Uses p->aws, env, in, opts.timeout_ms, sink, raw_dir, want_records and
 * report. */
enum bf_rc lambda_ingest_open(const struct source_open_params *p,
                              struct source **out, struct bf_err *err);

/* {tenant_id, service_name, table_name, start_date, end_date, backfill_mode,
 * force_full_sync, chunk_number, total_chunks}: malloc'd JSON text (free
 * with cJSON_free), NULL on OOM. */
char *lambda_ingest_payload(const struct task_input *in);

/* avesa-{service}-ingestion-{env}. */
void lambda_ingest_function_name(const char *service, const char *env,
                                 char out[128]);

#endif
