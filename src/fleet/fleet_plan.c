/* fleet_plan.c -- the fleet's "plan" task: every tenant's chunks as JSON
 * Lines, cut by the one plan rule (src/plan).
 *
 * Input: {"fleet_task":"plan", "backfill_id", "now" (the execution's start,
 * the default end), "plan_key", "request": the fleet execution input}.
 * The request is an execution input (README section "statemachine") with
 * "tenants" (a list, or "enabled": every enabled tenant of the file store)
 * instead of tenant_id, and the fleet's ceilings. A disabled tenant is left
 * out and listed under "skipped"; a tenant the store does not know is
 * invalid input. The answer is small (no chunks): the counts per tenant
 * and the request as the plan read it.
 */
#include "fleet/fleet.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "sink/sink.h"

struct fleet_tenants {
    char (*ids)[65];
    size_t n;
};

static enum bf_rc named_tenants(const cJSON *list, struct fleet_tenants *t,
                                struct bf_err *err)
{
    const cJSON *it = NULL;
    size_t i, k = 0;

    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "tenants: must be a non-empty array or \"enabled\"");
    if (cJSON_GetArraySize(list) > FLEET_TENANTS_MAX)
        return bf_err_set(err, BF_E_INVALID_INPUT, "tenants: more than %d",
                          FLEET_TENANTS_MAX);
    t->ids = calloc((size_t)cJSON_GetArraySize(list), sizeof *t->ids);
    if (t->ids == NULL)
        return bf_err_set(err, BF_E_NOMEM, "plan: out of memory");
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it) || !task_tenant_id_ok(it->valuestring))
            return bf_err_set(err, BF_E_INVALID_INPUT,
                              "tenants: item %zu must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", k);
        for (i = 0; i < k; i++)
            if (strcmp(t->ids[i], it->valuestring) == 0)
                return bf_err_set(err, BF_E_INVALID_INPUT,
                                  "tenants: \"%s\" listed twice", it->valuestring);
        snprintf(t->ids[k++], sizeof t->ids[0], "%s", it->valuestring);
    }
    t->n = k;
    return BF_OK;
}

static enum bf_rc resolve_tenants(struct fleet *f, const cJSON *req,
                                  const char *service, struct fleet_tenants *t,
                                  struct bf_err *err)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(req, "tenants");

    if (list == NULL || cJSON_IsNull(list))
        return bf_err_set(err, BF_E_INVALID_INPUT, "tenants: missing");
    if (cJSON_IsString(list) && strcmp(list->valuestring, "enabled") == 0) {
        enum bf_rc rc = tenant_list_enabled(fleet_tenants(f), service, &t->ids, &t->n, err);
        if (rc == BF_OK && t->n == 0)
            rc = bf_err_set(err, BF_E_INVALID_INPUT, "tenants: the store has no enabled tenant");
        if (rc == BF_OK && t->n > FLEET_TENANTS_MAX)
            rc = bf_err_set(err, BF_E_INVALID_INPUT, "tenants: more than %d enabled",
                            FLEET_TENANTS_MAX);
        return rc;
    }
    return named_tenants(list, t, err);
}

/* Write one tenant's chunks; `*count` lines. */
static enum bf_rc write_tenant(struct sink_object *o, const struct plan_request *req,
                               const char *backfill_id, long *count, struct bf_err *err)
{
    long n = plan_chunk_count(req->start_ms, req->end_ms, req->chunk_size_days);
    long i;
    int t;
    enum bf_rc rc = BF_OK;

    *count = 0;
    for (t = 0; t < req->ntables && rc == BF_OK; t++) {
        for (i = 0; i < n && rc == BF_OK; i++) {
            cJSON *c = plan_chunk_object(req, req->tables[t], i, n);
            char *line = NULL;

            if (c != NULL) {
                cJSON_AddStringToObject(c, "backfill_id", backfill_id);
                cJSON_AddNumberToObject(c, "task_timeout_seconds", req->task_timeout_seconds);
                line = cJSON_PrintUnformatted(c);
            }
            cJSON_Delete(c);
            if (line == NULL)
                return bf_err_set(err, BF_E_NOMEM, "plan: out of memory");
            rc = sink_object_write(o, line, strlen(line), err);
            if (rc == BF_OK)
                rc = sink_object_write(o, "\n", 1, err);
            free(line);
            (*count)++;
        }
    }
    return rc;
}

/* The plan rule's header, without the one-tenant fields (the fleet's
 * total_chunks is added once every tenant is planned). */
static cJSON *answer_header(const struct plan_request *req, const char *key)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || plan_add_header(o, req, 0) != BF_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, "tenant_id");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "total_chunks");
    cJSON_AddStringToObject(o, "plan_key", key);
    return o;
}

static enum bf_rc parse_task(const cJSON *root, const char **id, const char **key,
                             int64_t *now, struct bf_err *err)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "backfill_id");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "plan_key");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "now");

    if (!cJSON_IsString(b) || b->valuestring[0] == '\0' || strlen(b->valuestring) > 80)
        return bf_err_set(err, BF_E_INVALID_INPUT, "backfill_id: must be a string of 1 to 80");
    if (!cJSON_IsString(k) || k->valuestring[0] == '\0' || strstr(k->valuestring, "..") != NULL)
        return bf_err_set(err, BF_E_INVALID_INPUT, "plan_key: must be a relative key");
    if (!cJSON_IsString(n) || time_parse_iso8601(n->valuestring, now, NULL) != BF_OK)
        return bf_err_set(err, BF_E_INVALID_INPUT, "now: must be an ISO 8601 timestamp");
    *id = b->valuestring;
    *key = k->valuestring;
    return BF_OK;
}

/* Every tenant: looked up, then its chunks written (or it is skipped). */
static enum bf_rc plan_all(struct fleet *f, struct plan_request *req,
                           const struct fleet_tenants *t, struct sink_object *o,
                           const char *id, cJSON *ans, struct bf_err *err)
{
    cJSON *rows = cJSON_AddArrayToObject(ans, "tenants");
    cJSON *skipped = cJSON_AddArrayToObject(ans, "skipped");
    long total = 0, count;
    size_t i;
    enum bf_rc rc = BF_OK;

    for (i = 0; i < t->n && rc == BF_OK; i++) {
        struct tenant_info info;
        cJSON *row;

        rc = tenant_lookup(fleet_tenants(f), t->ids[i], req->service, &info, err);
        if (rc == BF_E_TENANT_DISABLED || rc == BF_E_TENANT_NOT_CONFIGURED) {
            if (rc == BF_E_TENANT_NOT_CONFIGURED)
                return bf_err_set(err, BF_E_INVALID_INPUT,
                                  "tenants: \"%s\" is not in the tenant store for %s",
                                  t->ids[i], req->service);
            row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "tenant_id", t->ids[i]);
            cJSON_AddStringToObject(row, "reason", "disabled");
            cJSON_AddItemToArray(skipped, row);
            rc = BF_OK;
            continue;
        }
        if (rc != BF_OK)
            return rc;
        snprintf(req->tenant_id, sizeof req->tenant_id, "%s", t->ids[i]);
        rc = write_tenant(o, req, id, &count, err);
        total += count;
        row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "tenant_id", t->ids[i]);
        cJSON_AddNumberToObject(row, "chunks", (double)count);
        cJSON_AddItemToArray(rows, row);
        if (total > FLEET_CHUNKS_MAX)
            return bf_err_set(err, BF_E_INVALID_INPUT,
                              "chunk_size_days: more than %ld chunks over the fleet; "
                              "use larger chunks or split the window", FLEET_CHUNKS_MAX);
    }
    if (rc == BF_OK && total == 0)
        return bf_err_set(err, BF_E_INVALID_INPUT, "tenants: every tenant is disabled");
    cJSON_AddNumberToObject(ans, "total_chunks", (double)total);
    return rc;
}

enum bf_rc fleet_plan_run(struct fleet *f, const char *input, size_t len,
                          char **output, struct bf_err *err)
{
    static const struct plan_limits lim = { 0, FLEET_CONCURRENCY_MAX,
                                            FLEET_CHUNKS_PER_TENANT_MAX };
    cJSON *root = cJSON_ParseWithLength(input, len), *ans = NULL;
    const cJSON *reqj = cJSON_GetObjectItemCaseSensitive(root, "request");
    struct fleet_tenants t = { NULL, 0 };
    struct plan_request req;
    struct sink *s = NULL;
    struct sink_object *o = NULL;
    const char *id = NULL, *key = NULL;
    char *reqtext = NULL;
    int64_t now = 0;
    enum bf_rc rc;

    *output = NULL;
    rc = parse_task(root, &id, &key, &now, err);
    if (rc == BF_OK && !cJSON_IsObject(reqj))
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "input: must be a JSON object");
    if (rc == BF_OK) {
        reqtext = cJSON_PrintUnformatted(reqj);
        rc = reqtext == NULL ? bf_err_set(err, BF_E_NOMEM, "plan: out of memory")
                             : plan_parse_request_limits(reqtext, strlen(reqtext), now,
                                                         &lim, &req, err);
    }
    if (rc == BF_OK)
        rc = resolve_tenants(f, reqj, req.service, &t, err);
    if (rc == BF_OK)
        rc = fleet_sink(f, &s, err);
    if (rc == BF_OK)
        rc = sink_object_begin(s, key, &o, err);
    if (rc == BF_OK) {
        ans = answer_header(&req, key);
        rc = ans == NULL ? bf_err_set(err, BF_E_NOMEM, "plan: out of memory")
                         : plan_all(f, &req, &t, o, id, ans, err);
        if (rc == BF_OK)
            rc = sink_object_commit(o, err);
        else
            sink_object_abort(o);
    }
    if (rc == BF_OK && (*output = cJSON_PrintUnformatted(ans)) == NULL)
        rc = bf_err_set(err, BF_E_NOMEM, "plan: out of memory");
    cJSON_Delete(ans);
    sink_free(s);
    free(t.ids);
    free(reqtext);
    cJSON_Delete(root);
    return rc;
}
