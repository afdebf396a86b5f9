/* sm.c -- Secrets Manager GetSecretValue on the AWS JSON 1.1 client.
 *
 * Returns the SecretString as a private copy and wipes the parsed response
 * that carried it, so the only live copy of a secret is the caller's.
 * Interpreting the secret (which fields, which form) is the tenant store's.
 */
#include "aws/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws/endpoint.h"

enum bf_rc sm_client_new(struct awsenv *env, struct awsjson_client **out,
                         struct bf_err *err)
{
    return awsjson_client_new(env, &endpoint_svc_secretsmanager,
                              "secretsmanager", "1.1", out, err);
}

void sm_secret_free(char *value, size_t len)
{
    if (value == NULL)
        return;
    OPENSSL_cleanse(value, len);
    free(value);
}

static void wipe_tree(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->valuestring != NULL)
            OPENSSL_cleanse(j->valuestring, strlen(j->valuestring));
        if (j->string != NULL)
            OPENSSL_cleanse(j->string, strlen(j->string));
        j->valuedouble = 0;
        j->valueint = 0;
        wipe_tree(j->child);
    }
}

void sm_json_wipe_free(cJSON *json)
{
    if (json == NULL)
        return;
    wipe_tree(json);
    cJSON_Delete(json);
}

static char *secret_id_body(const char *secret_id)
{
    cJSON *req = cJSON_CreateObject();
    char *text = NULL;

    if (req == NULL)
        return NULL;
    if (cJSON_AddStringToObject(req, "SecretId", secret_id) != NULL)
        text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return text;
}

enum bf_rc sm_get_secret_string(struct awsjson_client *c, const char *secret_id,
                                char **value, size_t *len, struct bf_err *err)
{
    char *body = NULL;
    cJSON *resp = NULL;
    const cJSON *s = NULL;
    enum bf_rc rc;

    *value = NULL;
    *len = 0;
    body = secret_id_body(secret_id);
    if (body == NULL)
        return bf_err_set(err, BF_E_NOMEM, "secretsmanager: out of memory");
    rc = awsjson_call(c, "GetSecretValue", body, NULL, &resp, err);
    if (rc != BF_OK)
        goto out;
    s = cJSON_GetObjectItemCaseSensitive(resp, "SecretString");
    if (!cJSON_IsString(s)) {
        if (err != NULL)
            snprintf(err->aws_code, sizeof(err->aws_code), "NoSecretString");
        rc = bf_err_set(err, BF_E_AWS,
                        "secretsmanager GetSecretValue: secret has no SecretString");
        goto out;
    }
    *len = strlen(s->valuestring);
    *value = malloc(*len + 1);
    if (*value == NULL) {
        rc = bf_err_set(err, BF_E_NOMEM, "secretsmanager: out of memory");
        goto out;
    }
    memcpy(*value, s->valuestring, *len + 1);
out:
    sm_json_wipe_free(resp);
    cJSON_free(body);
    return rc;
}
