/* compat.h -- Lambda compatibility mode: run the original AVESA ingestion
 * and canonical-transform Lambdas as the chunk's ingest or transform step
 * (BACKFILL_INGEST=lambda, BACKFILL_TRANSFORM=lambda).
 *
 * Function names: avesa-{service}-ingestion-{env} and
 * avesa-canonical-transform-{canonical table with '_' -> '-'}-{env}.
 * A FunctionError, a non-200 statusCode or a timeout is BF_E_LAMBDA_FAILED,
 * with err->retryable saying whether a retry can help. Counts come from the
 * response when present and stay -1 (JSON null) when absent.
 */
#ifndef BF_COMPAT_COMPAT_H
#define BF_COMPAT_COMPAT_H

#include "aws/awsenv.h"
#include "task/task.h"
#include "util/err.h"

/* Fills out->records_ingested / pages when the Lambda reports them. */
enum bf_rc compat_ingest_lambda(struct awsenv *aws, const char *env,
                                const struct task_input *in,
                                struct task_result *out, struct bf_err *err);

/* `invocation`: "RequestResponse" (default when NULL) or "Event". Fills
 * out->records_transformed when reported. */
enum bf_rc compat_transform_lambda(struct awsenv *aws, const char *env,
                                   const char *canonical_table,
                                   const char *invocation,
                                   const struct task_input *in,
                                   struct task_result *out, struct bf_err *err);

/* Per-call settings; zero members mean the defaults. */
struct compat_options {
    long timeout_ms;   /* 0 = 910000: Lambda's 15-minute limit + margin */
};

/* The same two calls with options (NULL = defaults). */
enum bf_rc compat_ingest_lambda_opts(struct awsenv *aws, const char *env,
                                     const struct task_input *in,
                                     const struct compat_options *opts,
                                     struct task_result *out,
                                     struct bf_err *err);
enum bf_rc compat_transform_lambda_opts(struct awsenv *aws, const char *env,
                                        const char *canonical_table,
                                        const char *invocation,
                                        const struct task_input *in,
                                        const struct compat_options *opts,
                                        struct task_result *out,
                                        struct bf_err *err);

/* The payloads, exposed for tests: malloc'd JSON text, NULL on OOM. */
char *compat_ingest_payload(const struct task_input *in);
char *compat_transform_payload(const struct task_input *in);

/* The function names, exposed for tests. `out` holds 128 bytes. */
void compat_ingest_function_name(const char *service, const char *env,
                                 char out[128]);
void compat_transform_function_name(const char *canonical_table,
                                    const char *env, char out[128]);

#endif
