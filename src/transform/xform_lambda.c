/* xform_lambda.c -- the original AVESA canonical-transform Lambda as a
 * transform backend (xform_backend.h), and the backend interface's
 * dispatch.
 *
 * Builds the function name and the original payload, invokes the function
 * (aws/lambda_step.c judges the answer) and reads the counts it reported;
 * the function writes the canonical chunk itself. An Event invocation is
 * not waited for and reports nothing.
 */
#include "transform/xform_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/lambda_step.h"

#define TRANSFORM_PREFIX "avesa-canonical-transform-"

struct xform_lambda {
    struct xform_backend base;
    struct awsenv *aws;     /* a reference */
    char env[64];
    char invocation[64];
    long timeout_ms;
};

/* ---- dispatch ---- */

enum bf_rc xform_backend_run(struct xform_backend *b,
                             const struct task_input *in,
                             const char *canonical_table,
                             struct task_result *out, struct bf_err *err)
{
    return b->ops->run(b, in, canonical_table, out, err);
}

void xform_backend_free(struct xform_backend *b)
{
    if (b != NULL)
        b->ops->free(b);
}

/* ---- names and payload ---- */

/* The whole canonical table with '_' -> '-': time_entries gives
 * time-entries (the original cut it to "entries", a function that never
 * existed). The env keeps its own spelling. */
void xform_lambda_function_name(const char *canonical_table, const char *env,
                                char out[128])
{
    char table[64];
    size_t i;

    snprintf(table, sizeof(table), "%s", canonical_table);
    for (i = 0; table[i] != '\0'; i++) {
        if (table[i] == '_')
            table[i] = '-';
    }
    snprintf(out, 128, TRANSFORM_PREFIX "%s-%s", table, env);
}

/* table_name is the source endpoint, as the original sent it;
 * force_reprocess is always true (a backfilled window is rewritten whole),
 * the dates are new: they let the function stay inside the chunk. */
char *xform_lambda_payload(const struct task_input *in)
{
    cJSON *o = lambda_step_payload_new(in->tenant_id, in->service, in->table_name);
    int bad = 0;

    if (o == NULL)
        return NULL;
    bad |= cJSON_AddBoolToObject(o, "backfill_mode", in->backfill_mode) == NULL;
    bad |= cJSON_AddBoolToObject(o, "force_reprocess", 1) == NULL;
    bad |= cJSON_AddStringToObject(o, "start_date", in->start_date) == NULL;
    bad |= cJSON_AddStringToObject(o, "end_date", in->end_date) == NULL;
    return lambda_step_payload_text(o, bad);
}

/* ---- the backend ---- */

static const char *const transformed_keys[] = {
    "records_transformed", "records_processed", "record_count", NULL,
};
static const char *const rejected_keys[] = { "records_rejected", NULL };

static enum bf_rc xl_run(struct xform_backend *b, const struct task_input *in,
                         const char *canonical_table, struct task_result *out,
                         struct bf_err *err)
{
    struct xform_lambda *xl = (struct xform_lambda *)b;
    const char *invocation = xl->invocation;
    struct lambda_step_answer ans;
    char function[128];
    char *payload = NULL;
    enum bf_rc rc;

    if (invocation[0] == '\0')
        invocation = "RequestResponse";
    if (strcmp(invocation, "RequestResponse") != 0 &&
        strcmp(invocation, "Event") != 0)
        return bf_err_set(err, BF_E_CONFIG,
                          "transform invocation must be RequestResponse or "
                          "Event, not \"%.32s\"", invocation);
    out->records_transformed = -1;
    out->records_rejected = -1;
    xform_lambda_function_name(canonical_table, xl->env, function);
    payload = xform_lambda_payload(in);
    if (payload == NULL)
        return bf_err_set(err, BF_E_NOMEM, "lambda transform: out of memory");
    rc = lambda_step_invoke(xl->aws, function, invocation, payload,
                            xl->timeout_ms, &ans, err);
    cJSON_free(payload);
    if (rc == BF_OK && strcmp(invocation, "Event") != 0) {
        out->records_transformed = lambda_step_count(&ans, transformed_keys);
        out->records_rejected = lambda_step_count(&ans, rejected_keys);
    }
    lambda_step_answer_cleanup(&ans);
    return rc;
}

static void xl_free(struct xform_backend *b)
{
    struct xform_lambda *xl = (struct xform_lambda *)b;

    awsenv_release(xl->aws);
    free(xl);
}

static const struct xform_backend_ops xl_ops = {xl_run, xl_free};

enum bf_rc xform_lambda_new(const struct xform_lambda_params *p,
                            struct xform_backend **out, struct bf_err *err)
{
    struct xform_lambda *xl = calloc(1, sizeof(*xl));

    *out = NULL;
    if (xl == NULL)
        return bf_err_set(err, BF_E_NOMEM, "lambda transform: out of memory");
    xl->base.ops = &xl_ops;
    xl->aws = p->aws != NULL ? awsenv_acquire(p->aws) : NULL;
    snprintf(xl->env, sizeof(xl->env), "%s", p->env != NULL ? p->env : "");
    /* Over-long text is kept cut short but still refused by the check in
     * xl_run, as before: only the two names are valid. */
    snprintf(xl->invocation, sizeof(xl->invocation), "%s",
             p->invocation != NULL ? p->invocation : "");
    xl->timeout_ms = p->timeout_ms;
    *out = &xl->base;
    return BF_OK;
}
