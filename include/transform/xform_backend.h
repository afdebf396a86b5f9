/* xform_backend.h -- a transform that works on a whole chunk once its raw
 * output is written, instead of record by record as the built-in mapping
 * does (xform.h).
 *
 * The original AVESA canonical-transform Lambda (BACKFILL_TRANSFORM=lambda)
 * is the one such backend: the function reads the raw chunk and writes the
 * canonical one itself, and the backend reports the counts it gave. The
 * chunk runner makes one backend at start-up and runs it after the raw
 * manifest is written; with the built-in transform it has none. One
 * backend serves all worker slots at once.
 */
#ifndef BF_TRANSFORM_XFORM_BACKEND_H
#define BF_TRANSFORM_XFORM_BACKEND_H

#include "aws/awsenv.h"
#include "task/task.h"
#include "util/err.h"

struct xform_backend;

struct xform_backend_ops {
    /* Transform the chunk of `in` into `canonical_table`; fill
     * out->records_transformed / records_rejected as reported (-1 when
     * not). */
    enum bf_rc (*run)(struct xform_backend *b, const struct task_input *in,
                      const char *canonical_table, struct task_result *out,
                      struct bf_err *err);
    void (*free)(struct xform_backend *b);
};

struct xform_backend {
    const struct xform_backend_ops *ops;
};

enum bf_rc xform_backend_run(struct xform_backend *b,
                             const struct task_input *in,
                             const char *canonical_table,
                             struct task_result *out, struct bf_err *err);
void xform_backend_free(struct xform_backend *b); /* NULL-safe */

/* ---- the canonical-transform Lambda (xform_lambda.c) ---- */

struct xform_lambda_params {
    struct awsenv *aws;      /* a reference is taken */
    const char *env;         /* copied */
    const char *invocation;  /* "RequestResponse" (NULL, "") or "Event";
                                anything else fails each run, BF_E_CONFIG */
    long timeout_ms;         /* per call; 0 = 910000: Lambda's 15 minutes
                                plus a margin */
};

/* avesa-canonical-transform-{canonical table, '_' -> '-'}-{env}. A
 * FunctionError, a non-200 statusCode or a timeout is BF_E_LAMBDA_FAILED
 * (aws/lambda_step.h). */
enum bf_rc xform_lambda_new(const struct xform_lambda_params *p,
                            struct xform_backend **out, struct bf_err *err);

/* {tenant_id, service_name, table_name, backfill_mode, force_reprocess,
 * start_date, end_date}: malloc'd JSON text (free with cJSON_free), NULL on
 * OOM. Exposed for tests. */
char *xform_lambda_payload(const struct task_input *in);

/* The function name, exposed for tests. */
void xform_lambda_function_name(const char *canonical_table, const char *env,
                                char out[128]);

#endif
