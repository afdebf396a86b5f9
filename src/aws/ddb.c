/* ddb.c -- DynamoDB GetItem on the AWS JSON 1.0 client.
 *
 * Only what the tenant store needs: one consistent GetItem and readers for
 * the S and BOOL attribute types. Retries, signing and error parsing are
 * awsjson's; this file never reclassifies an error (the caller knows more).
 */
#include "aws/ddb.h"

#include <string.h>

#include "aws/endpoint.h"

enum bf_rc ddb_client_new(struct awsenv *env, struct awsjson_client **out,
                          struct bf_err *err)
{
    return awsjson_client_new(env, &endpoint_svc_dynamodb,
                              "DynamoDB_20120810", "1.0", out, err);
}

static char *get_item_body(const char *table, const cJSON *key,
                           int consistent_read)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *k = NULL;
    char *text = NULL;

    if (req == NULL)
        return NULL;
    k = cJSON_Duplicate(key, 1);
    if (k == NULL)
        goto out;
    cJSON_AddItemToObject(req, "Key", k);
    if (cJSON_AddStringToObject(req, "TableName", table) == NULL)
        goto out;
    if (cJSON_AddBoolToObject(req, "ConsistentRead", consistent_read) == NULL)
        goto out;
    text = cJSON_PrintUnformatted(req);
out:
    cJSON_Delete(req);
    return text;
}

enum bf_rc ddb_get_item(struct awsjson_client *c, const char *table,
                        const cJSON *key, int consistent_read, cJSON **item,
                        struct bf_err *err)
{
    char *body = NULL;
    cJSON *resp = NULL;
    cJSON *it = NULL;
    enum bf_rc rc;

    *item = NULL;
    body = get_item_body(table, key, consistent_read);
    if (body == NULL)
        return bf_err_set(err, BF_E_NOMEM, "dynamodb GetItem: out of memory");
    rc = awsjson_call(c, "GetItem", body, NULL, &resp, err);
    if (rc != BF_OK)
        goto out;
    /* No "Item" member (or an empty one) is DynamoDB's "no such key". */
    it = cJSON_DetachItemFromObjectCaseSensitive(resp, "Item");
    if (it != NULL && !cJSON_IsObject(it)) {
        rc = bf_err_set(err, BF_E_AWS, "dynamodb GetItem: Item is not an object");
        goto out;
    }
    if (it != NULL && it->child == NULL)
        goto out;
    *item = it;
    it = NULL;
out:
    cJSON_Delete(it);
    cJSON_Delete(resp);
    cJSON_free(body);
    return rc;
}

const char *ddb_attr_str(const cJSON *item, const char *name)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "S");

    return cJSON_IsString(s) ? s->valuestring : NULL;
}

int ddb_attr_bool(const cJSON *item, const char *name, int dflt)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *v = NULL;

    if (a == NULL)
        return dflt;
    v = cJSON_GetObjectItemCaseSensitive(a, "BOOL");
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? 1 : 0;
    v = cJSON_GetObjectItemCaseSensitive(a, "N");
    if (cJSON_IsString(v) && (strcmp(v->valuestring, "0") == 0 ||
                              strcmp(v->valuestring, "1") == 0))
        return v->valuestring[0] == '1';
    v = cJSON_GetObjectItemCaseSensitive(a, "S");
    if (cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0)
        return 1;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "false") == 0)
        return 0;
    return -1;
}
