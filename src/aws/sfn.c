/* sfn.c -- Step Functions activity calls on the AWS JSON 1.0 client.
 *
 * Each call writes its input (one flat object of strings) with the JSON
 * string escaping cJSON uses, straight into a buffer: building and printing
 * a cJSON tree cost more than the rest of the request. Answers are read
 * with cJSON. Tokens are treated as secrets: wiped before they are freed,
 * never put in an error message.
 */
#include "aws/sfn.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "aws/endpoint.h"
#include "util/buf.h"
#include "util/jsonout.h"

#define SFN_HEARTBEAT_TIMEOUT_MS 10000

enum bf_rc sfn_client_new(struct awsenv *env, struct awsjson_client **out,
                          struct bf_err *err)
{
    return awsjson_client_new(env, &endpoint_svc_sfn, "AWSStepFunctions",
                              "1.0", out, err);
}

void sfn_token_free(char *token)
{
    if (token == NULL)
        return;
    OPENSSL_cleanse(token, strlen(token));
    free(token);
}

int sfn_task_closed(const struct bf_err *err)
{
    return err != NULL && err->rc == BF_E_AWS &&
           (strcmp(err->aws_code, "TaskTimedOut") == 0 ||
            strcmp(err->aws_code, "TaskDoesNotExist") == 0 ||
            strcmp(err->aws_code, "InvalidToken") == 0);
}

/* {"k0":"v0","k1":"v1",...} from NULL-terminated name/value pairs; a NULL
 * value leaves its member out (as cJSON_AddStringToObject did). Strings are
 * escaped as cJSON escapes them (jsonout.h); UTF-8 passes as is. */
static enum bf_rc put_object(struct buf *b, const char *const *kv)
{
    enum bf_rc rc = buf_append(b, "{", 1);
    int first = 1;

    for (; rc == BF_OK && kv[0] != NULL; kv += 2) {
        if (kv[1] == NULL)
            continue;
        if (!first)
            rc = buf_append(b, ",", 1);
        if (rc == BF_OK)
            rc = jsonout_string(b, kv[0], strlen(kv[0]));
        if (rc == BF_OK)
            rc = buf_append(b, ":", 1);
        if (rc == BF_OK)
            rc = jsonout_string(b, kv[1], strlen(kv[1]));
        first = 0;
    }
    if (rc == BF_OK)
        rc = buf_append(b, "}", 1);
    return rc;
}

/* The size of put_object's output when nothing needs escaping. */
static size_t object_size(const char *const *kv)
{
    size_t n = 2;

    for (; kv[0] != NULL; kv += 2)
        n += kv[1] != NULL ? strlen(kv[0]) + strlen(kv[1]) + 6 : 0;
    return n;
}

/* One call with the body made of `kv`; the body holds the task token, so
 * it is wiped once the call is over. */
static enum bf_rc call(struct awsjson_client *c, const char *op,
                       const char *const *kv,
                       const struct awsjson_call_opts *opts, cJSON **resp,
                       struct bf_err *err)
{
    struct buf body;
    enum bf_rc rc;

    buf_init_secret(&body, 0);
    /* Room for the usual case up front, one allocation; should it grow
     * anyway, a secret buffer wipes the blocks it leaves. */
    if (buf_reserve(&body, object_size(kv)) != BF_OK ||
        put_object(&body, kv) != BF_OK) {
        buf_cleanup_secure(&body);
        return bf_err_set(err, BF_E_NOMEM, "%s: out of memory", op);
    }
    rc = awsjson_call(c, op, body.data, opts, resp, err); /* names `op` */
    buf_cleanup_secure(&body);
    return rc;
}

static char *dup_member(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsString(m) || m->valuestring == NULL || m->valuestring[0] == '\0')
        return NULL;
    return strdup(m->valuestring);
}

enum bf_rc sfn_get_activity_task(struct awsjson_client *c, const char *arn,
                                 const char *worker_name, char **token,
                                 char **input, struct bf_err *err)
{
    const char *kv[] = { "activityArn", arn, "workerName", worker_name,
                         NULL };
    cJSON *resp = NULL;
    struct awsjson_call_opts opts = { SFN_POLL_TIMEOUT_MS, 1, 0 };
    enum bf_rc rc;

    *token = NULL;
    *input = NULL;
    rc = call(c, "GetActivityTask", kv, &opts, &resp, err);
    if (rc != BF_OK)
        return rc;
    /* No task: taskToken absent, null or empty. */
    *token = dup_member(resp, "taskToken");
    if (*token != NULL) {
        *input = dup_member(resp, "input");
        if (*input == NULL)
            *input = strdup("");
        if (*input == NULL || strlen(*token) > SFN_TOKEN_MAX) {
            rc = bf_err_set(err, *input == NULL ? BF_E_NOMEM : BF_E_LIMIT,
                            "GetActivityTask: bad task token or no memory");
            sfn_token_free(*token);
            free(*input);
            *token = NULL;
            *input = NULL;
        }
    }
    cJSON_Delete(resp);
    return rc;
}

/* The Send* calls answer with nothing the worker reads: only whether they
 * were taken. */
static enum bf_rc send_answer(struct awsjson_client *c, const char *op,
                              const char *const *kv,
                              const struct awsjson_call_opts *opts,
                              struct bf_err *err)
{
    cJSON *resp = NULL;
    enum bf_rc rc = call(c, op, kv, opts, &resp, err);

    cJSON_Delete(resp);
    return rc;
}

enum bf_rc sfn_send_success(struct awsjson_client *c, const char *token,
                            const char *output, struct bf_err *err)
{
    const char *kv[] = { "taskToken", token, "output", output, NULL };

    return send_answer(c, "SendTaskSuccess", kv, NULL, err);
}

enum bf_rc sfn_send_failure(struct awsjson_client *c, const char *token,
                            const char *error, const char *cause,
                            struct bf_err *err)
{
    const char *kv[] = { "taskToken", token, "error", error, "cause", cause,
                         NULL };

    return send_answer(c, "SendTaskFailure", kv, NULL, err);
}

enum bf_rc sfn_send_heartbeat(struct awsjson_client *c, const char *token,
                              struct bf_err *err)
{
    const char *kv[] = { "taskToken", token, NULL };
    struct awsjson_call_opts opts = { SFN_HEARTBEAT_TIMEOUT_MS, 0, 0 };

    return send_answer(c, "SendTaskHeartbeat", kv, &opts, err);
}
