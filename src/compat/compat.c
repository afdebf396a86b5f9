/* compat.c -- Lambda compatibility mode: the original AVESA Lambdas as the
 * chunk's ingest or transform step (BACKFILL_INGEST / BACKFILL_TRANSFORM).
 *
 * Builds the original payloads, invokes the functions (aws/lambda.c) and
 * judges the answer: a FunctionError, a non-200 statusCode in the payload, a
 * refusal by the service or a timeout is BF_E_LAMBDA_FAILED, and
 * err->retryable says whether trying again can help. Counts come from the
 * response when the function reports them; otherwise they stay -1 (null),
 * never 0 (the original reported 0 for everything).
 */
#include "compat/compat.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/awsjson.h"
#include "aws/retry.h"
#include "aws/lambda.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/jsonstrict.h"

#define TRANSFORM_PREFIX "avesa-canonical-transform-"

void compat_ingest_function_name(const char *service, const char *env,
                                 char out[128])
{
    snprintf(out, 128, "avesa-%s-ingestion-%s", service, env);
}

/* The whole canonical table with '_' -> '-': time_entries gives
 * time-entries (the original cut it to "entries", a function that never
 * existed). The env keeps its own spelling. */
void compat_transform_function_name(const char *canonical_table,
                                    const char *env, char out[128])
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

/* ---- payloads --------------------------------------------------------- */

static int add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL ? 0 : -1;
}

static int add_bool(cJSON *o, const char *k, int v)
{
    return cJSON_AddBoolToObject(o, k, v) != NULL ? 0 : -1;
}

static int add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL ? 0 : -1;
}

static char *print_and_free(cJSON *o, int failed)
{
    char *text = failed ? NULL : cJSON_PrintUnformatted(o);

    cJSON_Delete(o);
    return text;
}

/* {tenant_id, service_name, table_name, start_date, end_date, backfill_mode,
 *  force_full_sync, chunk_number, total_chunks}: the original's fields. */
char *compat_ingest_payload(const struct task_input *in)
{
    cJSON *o = cJSON_CreateObject();
    int bad = o == NULL;

    if (bad)
        return NULL;
    bad |= add_str(o, "tenant_id", in->tenant_id);
    bad |= add_str(o, "service_name", in->service);
    bad |= add_str(o, "table_name", in->table_name);
    bad |= add_str(o, "start_date", in->start_date);
    bad |= add_str(o, "end_date", in->end_date);
    bad |= add_bool(o, "backfill_mode", in->backfill_mode);
    bad |= add_bool(o, "force_full_sync", in->force_full_sync);
    bad |= add_num(o, "chunk_number", in->chunk_number);
    bad |= add_num(o, "total_chunks", in->total_chunks);
    return print_and_free(o, bad);
}

/* {tenant_id, service_name, table_name, backfill_mode, force_reprocess,
 * start_date, end_date}. table_name is the source endpoint, as the original
 * sent it; force_reprocess is always true (a backfilled window is rewritten
 * whole), the dates are new: they let the function stay inside the chunk. */
char *compat_transform_payload(const struct task_input *in)
{
    cJSON *o = cJSON_CreateObject();
    int bad = o == NULL;

    if (bad)
        return NULL;
    bad |= add_str(o, "tenant_id", in->tenant_id);
    bad |= add_str(o, "service_name", in->service);
    bad |= add_str(o, "table_name", in->table_name);
    bad |= add_bool(o, "backfill_mode", in->backfill_mode);
    bad |= add_bool(o, "force_reprocess", 1);
    bad |= add_str(o, "start_date", in->start_date);
    bad |= add_str(o, "end_date", in->end_date);
    return print_and_free(o, bad);
}

/* ---- judging the answer ----------------------------------------------- */

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether a function error is worth retrying: crashes of the runtime,
 * timeouts and throttling are; an exception the code raised for this input
 * will be raised again. */
static int function_error_retryable(const char *type, const char *message)
{
    static const char *const transient[] = {
        "Timeout", "Throttl", "TooManyRequests", "Connection", "Unavailable",
    };
    size_t i;

    if (message != NULL && strstr(message, "Task timed out") != NULL)
        return 1;
    if (type == NULL)
        return 1; /* no type: the runtime died before it could say */
    if (strncmp(type, "Runtime.", 8) == 0 || strncmp(type, "Sandbox.", 8) == 0)
        return 1;
    for (i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        if (strstr(type, transient[i]) != NULL)
            return 1;
    }
    return 0;
}

/* Record BF_E_LAMBDA_FAILED with whether a retry can help. */
static enum bf_rc lambda_failed(struct bf_err *err, int retryable, int status,
                                const char *function, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum bf_rc lambda_failed(struct bf_err *err, int retryable, int status,
                                const char *function, const char *fmt, ...)
{
    char why[BF_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    bf_err_set(err, BF_E_LAMBDA_FAILED, "lambda %s: %s", function, why);
    if (err != NULL) {
        err->retryable = retryable;
        err->http_status = status;
        snprintf(err->endpoint, sizeof(err->endpoint), "lambda:%s", function);
    }
    return BF_E_LAMBDA_FAILED;
}

static enum bf_rc judge_function_error(const char *function,
                                       const struct lambda_invoke_result *r,
                                       const cJSON *root, struct bf_err *err)
{
    const char *type = json_str(root, "errorType");
    const char *msg = json_str(root, "errorMessage");

    return lambda_failed(err, function_error_retryable(type, msg),
                         (int)r->status, function, "FunctionError %s: %.200s",
                         r->function_error,
                         type != NULL ? type : (msg != NULL ? msg : "no details"));
}

/* The body of an API-Gateway-style answer, which may be an object or a JSON
 * string holding one. `*owned` is set when it had to be parsed. */
static const cJSON *answer_body(const cJSON *root, cJSON **owned)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "body");

    *owned = NULL;
    if (cJSON_IsObject(b))
        return b;
    if (cJSON_IsString(b)) {
        if (json_strict_parse(b->valuestring, strlen(b->valuestring), "body",
                              BF_E_LAMBDA_FAILED, 0, owned, NULL) != BF_OK)
            *owned = NULL;
        if (cJSON_IsObject(*owned))
            return *owned;
    }
    return NULL;
}

static enum bf_rc judge_status_code(const char *function, const cJSON *root,
                                    const cJSON *body, struct bf_err *err)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(root, "statusCode");
    const char *why = NULL;
    int status;

    if (sc == NULL)
        return BF_OK;
    /* The payload is the function's to write: check the range before the
     * cast (a huge double in an int is undefined), and 200.5 is not 200. */
    if (!cJSON_IsNumber(sc) || sc->valuedouble < 100 ||
        sc->valuedouble > 599 || floor(sc->valuedouble) != sc->valuedouble)
        return lambda_failed(err, 0, 0, function,
                             "statusCode is not an HTTP status code");
    status = (int)sc->valuedouble;
    if (status == 200)
        return BF_OK;
    why = json_str(body, "error");
    if (why == NULL)
        why = json_str(body, "message");
    return lambda_failed(err, status >= 500 || status == 429 || status == 408,
                         0, function, "statusCode %d: %.200s", status,
                         why != NULL ? why : "no details");
}

/* A non-negative integer count under the first of `keys` present in `o`. */
static long long find_count(const cJSON *o, const char *const *keys)
{
    for (; *keys != NULL; keys++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *keys);

        if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
            v->valuedouble <= 9e15 && floor(v->valuedouble) == v->valuedouble)
            return (long long)v->valuedouble;
    }
    return -1;
}

static long long count_in(const cJSON *root, const cJSON *body,
                          const char *const *keys)
{
    long long n = body != NULL ? find_count(body, keys) : -1;

    return n >= 0 ? n : find_count(root, keys);
}

static const char *const ingested_keys[] = {
    "records_ingested", "records_processed", "record_count", "total_records",
    NULL,
};
static const char *const pages_keys[] = { "pages", "pages_fetched", NULL };
static const char *const transformed_keys[] = {
    "records_transformed", "records_processed", "record_count", NULL,
};
static const char *const rejected_keys[] = { "records_rejected", NULL };

enum compat_step { STEP_INGEST, STEP_TRANSFORM };

static void fill_counts(enum compat_step step, const cJSON *root,
                        const cJSON *body, struct task_result *out)
{
    if (step == STEP_INGEST) {
        out->records_ingested = count_in(root, body, ingested_keys);
        out->pages = (long)count_in(root, body, pages_keys);
        return;
    }
    out->records_transformed = count_in(root, body, transformed_keys);
    out->records_rejected = count_in(root, body, rejected_keys);
}

/* The answer's payload. Text that is not JSON at all is judged as before
 * (no counts); JSON that two readers could read differently (a duplicate
 * member, bytes after the value, bad string contents) is refused. */
static enum bf_rc parse_payload(const char *function,
                                const struct lambda_invoke_result *r,
                                cJSON **root, struct bf_err *err)
{
    struct json_strict_report rep;
    char why[160];

    *root = NULL;
    if (r->payload == NULL || r->payload_len == 0)
        return BF_OK;
    switch (json_strict_scan(r->payload, r->payload_len, 0, NULL, &rep)) {
    case JSON_STRICT_OK:
        *root = cJSON_ParseWithLength(r->payload, r->payload_len);
        return BF_OK;
    case JSON_STRICT_SYNTAX:
    case JSON_STRICT_DEPTH:
        return BF_OK;
    default:
        json_strict_describe(&rep, why, sizeof why);
        return lambda_failed(err, 0, (int)r->status, function,
                             "answer refused: %s", why);
    }
}

static enum bf_rc judge_answer(enum compat_step step, const char *function,
                               const struct lambda_invoke_result *r,
                               struct task_result *out, struct bf_err *err)
{
    cJSON *root = NULL;
    cJSON *owned = NULL;
    const cJSON *body = NULL;
    enum bf_rc rc = BF_OK;

    rc = parse_payload(function, r, &root, err);
    if (rc != BF_OK)
        goto out;
    if (r->function_error[0] != '\0') {
        rc = judge_function_error(function, r, root, err);
        goto out;
    }
    if (cJSON_IsObject(root)) {
        body = answer_body(root, &owned);
        rc = judge_status_code(function, root, body, err);
    }
    if (rc == BF_OK)
        fill_counts(step, cJSON_IsObject(root) ? root : NULL, body, out);
out:
    cJSON_Delete(owned);
    cJSON_Delete(root);
    return rc;
}

/* The service refused or nobody answered. */
static enum bf_rc judge_call_failure(const char *function, enum bf_rc rc,
                                     struct bf_err *err)
{
    char why[BF_ERR_MSG_MAX];
    int retryable;

    if (rc != BF_E_AWS && rc != BF_E_TRANSPORT && rc != BF_E_LIMIT)
        return rc;
    snprintf(why, sizeof(why), "%s", err != NULL ? err->message : "");
    if (rc == BF_E_TRANSPORT)
        retryable = 1;
    else if (rc == BF_E_LIMIT)
        retryable = 0;
    else
        retryable = retry_is_retryable(err != NULL ? err->http_status : 0,
                                         err != NULL ? err->aws_code : "");
    return lambda_failed(err, retryable, err != NULL ? err->http_status : 0,
                         function, "invoke failed: %.300s%s", why,
                         rc == BF_E_TRANSPORT ? " (timed out or no answer)" : "");
}

static void log_invoked(const char *function, const char *type,
                        const struct lambda_invoke_result *r, int64_t ms,
                        enum bf_rc rc)
{
    struct log_line l;

    if (!log_begin(&l, rc == BF_OK ? LOG_INFO : LOG_WARN, "lambda_invoked"))
        return;
    log_str(&l, "function", function);
    log_str(&l, "invocation", type);
    log_int(&l, "status", r->status);
    if (r->function_error[0] != '\0')
        log_str(&l, "function_error", r->function_error);
    log_int(&l, "duration_ms", ms);
    log_str(&l, "result", bf_rc_str(rc));
    log_end(&l);
}

static enum bf_rc invoke_step(struct awsenv *aws, enum compat_step step,
                              const char *function, const char *type,
                              const char *payload,
                              const struct compat_options *opts,
                              struct task_result *out, struct bf_err *err)
{
    struct awsrest_client *c = NULL;
    struct lambda_invoke_opts lo;
    struct lambda_invoke_result r;
    int64_t t0 = time_mono_ms();
    enum bf_rc rc;

    memset(&lo, 0, sizeof(lo));
    lo.invocation_type = type;
    lo.timeout_ms = opts != NULL ? opts->timeout_ms : 0;
    lambda_invoke_result_init(&r);
    rc = lambda_client_new(aws, &c, err);
    if (rc != BF_OK)
        return rc;
    rc = lambda_invoke(c, function, payload, strlen(payload), &lo, &r, err);
    if (rc != BF_OK)
        rc = judge_call_failure(function, rc, err);
    else if (strcmp(type, "Event") != 0)
        rc = judge_answer(step, function, &r, out, err);
    log_invoked(function, type, &r, time_mono_ms() - t0, rc);
    lambda_invoke_result_cleanup(&r);
    awsrest_client_free(c);
    return rc;
}

enum bf_rc compat_ingest_lambda_opts(struct awsenv *aws, const char *env,
                                     const struct task_input *in,
                                     const struct compat_options *opts,
                                     struct task_result *out,
                                     struct bf_err *err)
{
    char function[128];
    char *payload = NULL;
    enum bf_rc rc;

    out->records_ingested = -1;
    out->pages = -1;
    compat_ingest_function_name(in->service, env, function);
    payload = compat_ingest_payload(in);
    if (payload == NULL)
        return bf_err_set(err, BF_E_NOMEM, "lambda ingest: out of memory");
    rc = invoke_step(aws, STEP_INGEST, function, "RequestResponse", payload,
                     opts, out, err);
    cJSON_free(payload);
    return rc;
}

enum bf_rc compat_ingest_lambda(struct awsenv *aws, const char *env,
                                const struct task_input *in,
                                struct task_result *out, struct bf_err *err)
{
    return compat_ingest_lambda_opts(aws, env, in, NULL, out, err);
}

enum bf_rc compat_transform_lambda_opts(struct awsenv *aws, const char *env,
                                        const char *canonical_table,
                                        const char *invocation,
                                        const struct task_input *in,
                                        const struct compat_options *opts,
                                        struct task_result *out,
                                        struct bf_err *err)
{
    char function[128];
    char *payload = NULL;
    enum bf_rc rc;

    if (invocation == NULL || invocation[0] == '\0')
        invocation = "RequestResponse";
    if (strcmp(invocation, "RequestResponse") != 0 &&
        strcmp(invocation, "Event") != 0)
        return bf_err_set(err, BF_E_CONFIG,
                          "transform invocation must be RequestResponse or "
                          "Event, not \"%.32s\"", invocation);
    out->records_transformed = -1;
    out->records_rejected = -1;
    compat_transform_function_name(canonical_table, env, function);
    payload = compat_transform_payload(in);
    if (payload == NULL)
        return bf_err_set(err, BF_E_NOMEM, "lambda transform: out of memory");
    rc = invoke_step(aws, STEP_TRANSFORM, function, invocation, payload, opts,
                     out, err);
    cJSON_free(payload);
    return rc;
}

enum bf_rc compat_transform_lambda(struct awsenv *aws, const char *env,
                                   const char *canonical_table,
                                   const char *invocation,
                                   const struct task_input *in,
                                   struct task_result *out, struct bf_err *err)
{
    return compat_transform_lambda_opts(aws, env, canonical_table, invocation,
                                        in, NULL, out, err);
}
