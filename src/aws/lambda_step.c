/* lambda_step.c -- one of the original AVESA Lambdas as a pipeline step:
 * invoke it and judge the answer.
 *
 * Shared by the Lambda ingest source and the Lambda transform backend,
 * which build the payloads and read the counts. A FunctionError, a non-200
 * statusCode in the payload, a refusal by the service or a timeout is
 * BF_E_LAMBDA_FAILED, and err->retryable says whether trying again can
 * help. Counts are read only when the function reports them; otherwise they
 * stay -1 (null), never 0 (the original reported 0 for everything).
 */
#include "aws/lambda_step.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/lambda.h"
#include "aws/retry.h"
#include "util/jsonstrict.h"
#include "util/log.h"
#include "util/timeutil.h"

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

static enum bf_rc judge_answer(const char *function,
                               const struct lambda_invoke_result *r,
                               struct lambda_step_answer *ans,
                               struct bf_err *err)
{
    cJSON *root = NULL;
    enum bf_rc rc = BF_OK;

    rc = parse_payload(function, r, &root, err);
    if (rc != BF_OK)
        goto out;
    if (r->function_error[0] != '\0') {
        rc = judge_function_error(function, r, root, err);
        goto out;
    }
    if (cJSON_IsObject(root)) {
        ans->body = answer_body(root, &ans->owned_body);
        rc = judge_status_code(function, root, ans->body, err);
        if (rc == BF_OK) {
            ans->root = root;
            root = NULL;
        }
    }
out:
    cJSON_Delete(root);
    if (rc != BF_OK)
        lambda_step_answer_cleanup(ans);
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

enum bf_rc lambda_step_invoke(struct awsenv *aws, const char *function,
                              const char *invocation, const char *payload,
                              long timeout_ms, struct lambda_step_answer *ans,
                              struct bf_err *err)
{
    struct awsrest_client *c = NULL;
    struct lambda_invoke_opts lo;
    struct lambda_invoke_result r;
    int64_t t0 = time_mono_ms();
    enum bf_rc rc;

    memset(ans, 0, sizeof(*ans));
    memset(&lo, 0, sizeof(lo));
    lo.invocation_type = invocation;
    lo.timeout_ms = timeout_ms;
    lambda_invoke_result_init(&r);
    rc = lambda_client_new(aws, &c, err);
    if (rc != BF_OK)
        return rc;
    rc = lambda_invoke(c, function, payload, strlen(payload), &lo, &r, err);
    if (rc != BF_OK)
        rc = judge_call_failure(function, rc, err);
    else if (strcmp(invocation, "Event") != 0)
        rc = judge_answer(function, &r, ans, err);
    log_invoked(function, invocation, &r, time_mono_ms() - t0, rc);
    lambda_invoke_result_cleanup(&r);
    awsrest_client_free(c);
    return rc;
}

cJSON *lambda_step_payload_new(const char *tenant_id, const char *service,
                               const char *table_name)
{
    cJSON *o = cJSON_CreateObject();

    if (o != NULL &&
        (cJSON_AddStringToObject(o, "tenant_id", tenant_id) == NULL ||
         cJSON_AddStringToObject(o, "service_name", service) == NULL ||
         cJSON_AddStringToObject(o, "table_name", table_name) == NULL)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

char *lambda_step_payload_text(cJSON *o, int bad)
{
    char *text = NULL;

    if (o != NULL && !bad)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void lambda_step_answer_cleanup(struct lambda_step_answer *a)
{
    if (a == NULL)
        return;
    cJSON_Delete(a->owned_body);
    cJSON_Delete(a->root);
    memset(a, 0, sizeof(*a));
}

long long lambda_step_count(const struct lambda_step_answer *a,
                            const char *const *keys)
{
    long long n = a->body != NULL ? find_count(a->body, keys) : -1;

    return n >= 0 ? n : find_count(a->root, keys);
}
