/* sfn.c -- Step Functions activity calls on the AWS JSON 1.0 client.
 *
 * Each call builds its input with cJSON (so tokens and outputs are escaped
 * correctly), calls awsjson and reads the answer. Tokens are treated as
 * secrets: wiped before they are freed, never put in an error message.
 */
#include "aws/sfn.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "aws/endpoint.h"

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

/* Serialize `o`, free it, wipe nothing: the body holds a token, so the
 * caller wipes the text after the call. */
static char *to_text(cJSON *o)
{
    char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    return s;
}

static void body_free(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    cJSON_free(s);
}

static enum bf_rc call(struct awsjson_client *c, const char *op, char *body,
                       const struct awsjson_call_opts *opts, cJSON **resp,
                       struct bf_err *err)
{
    enum bf_rc rc;

    if (body == NULL)
        return bf_err_set(err, BF_E_NOMEM, "%s: out of memory", op);
    rc = awsjson_call(c, op, body, opts, resp, err); /* names `op` itself */
    body_free(body);
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
    cJSON *req = cJSON_CreateObject();
    cJSON *resp = NULL;
    struct awsjson_call_opts opts = { SFN_POLL_TIMEOUT_MS, 1, 0 };
    enum bf_rc rc;

    *token = NULL;
    *input = NULL;
    cJSON_AddStringToObject(req, "activityArn", arn);
    cJSON_AddStringToObject(req, "workerName", worker_name);
    rc = call(c, "GetActivityTask", to_text(req), &opts, &resp, err);
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

enum bf_rc sfn_send_success(struct awsjson_client *c, const char *token,
                            const char *output, struct bf_err *err)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *resp = NULL;
    enum bf_rc rc;

    cJSON_AddStringToObject(req, "taskToken", token);
    cJSON_AddStringToObject(req, "output", output);
    rc = call(c, "SendTaskSuccess", to_text(req), NULL, &resp, err);
    cJSON_Delete(resp);
    return rc;
}

enum bf_rc sfn_send_failure(struct awsjson_client *c, const char *token,
                            const char *error, const char *cause,
                            struct bf_err *err)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *resp = NULL;
    enum bf_rc rc;

    cJSON_AddStringToObject(req, "taskToken", token);
    cJSON_AddStringToObject(req, "error", error);
    cJSON_AddStringToObject(req, "cause", cause);
    rc = call(c, "SendTaskFailure", to_text(req), NULL, &resp, err);
    cJSON_Delete(resp);
    return rc;
}

enum bf_rc sfn_send_heartbeat(struct awsjson_client *c, const char *token,
                              struct bf_err *err)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *resp = NULL;
    struct awsjson_call_opts opts = { SFN_HEARTBEAT_TIMEOUT_MS, 0, 0 };
    enum bf_rc rc;

    cJSON_AddStringToObject(req, "taskToken", token);
    rc = call(c, "SendTaskHeartbeat", to_text(req), &opts, &resp, err);
    cJSON_Delete(resp);
    return rc;
}
