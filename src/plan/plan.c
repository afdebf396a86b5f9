/* plan.c -- the chunk plan: a date window cut into per-table chunks.
 *
 * Works in whole milliseconds (timeutil truncates finer fractions as
 * JSONata's $toMillis does) and writes dates as $fromMillis does, so the
 * output is byte-comparable with the state machine's JSONata plan. The
 * request is validated with the same rules as a task input (task.h) so a
 * plan never names a table or tenant the worker would reject.
 */
#include "plan/plan.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "task/task.h"

#define MS_PER_DAY 86400000LL

long plan_chunk_count(int64_t start_ms, int64_t end_ms, int chunk_size_days)
{
    int64_t step = (int64_t)chunk_size_days * MS_PER_DAY;

    if (end_ms <= start_ms || step <= 0)
        return 0;
    return (long)((end_ms - start_ms + step - 1) / step);
}

void plan_chunk_bounds(int64_t start_ms, int64_t end_ms, int chunk_size_days,
                       long i, int64_t *chunk_start, int64_t *chunk_end)
{
    int64_t step = (int64_t)chunk_size_days * MS_PER_DAY;
    int64_t s = start_ms + (int64_t)i * step;
    int64_t e = s + step;

    *chunk_start = s;
    *chunk_end = e < end_ms ? e : end_ms;
}

static const cJSON *member(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    return (m == NULL || cJSON_IsNull(m)) ? NULL : m;
}

static enum bf_rc get_str(const cJSON *o, const char *name, char *out,
                          size_t cap, struct bf_err *err)
{
    const cJSON *m = member(o, name);

    if (m == NULL)
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: missing", name);
    if (!cJSON_IsString(m))
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: must be a string", name);
    if (strlen(m->valuestring) >= cap)
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: too long", name);
    snprintf(out, cap, "%s", m->valuestring);
    return BF_OK;
}

static enum bf_rc get_int(const cJSON *o, const char *name, int lo, int hi,
                          int *out, struct bf_err *err)
{
    const cJSON *m = member(o, name);

    if (m == NULL)
        return BF_OK;
    if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) ||
        m->valuedouble != floor(m->valuedouble))
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: must be an integer", name);
    if (m->valuedouble < lo || m->valuedouble > hi)
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: must be from %d to %d",
                          name, lo, hi);
    *out = (int)m->valuedouble;
    return BF_OK;
}

static enum bf_rc get_date(const cJSON *o, const char *name, int64_t *ms,
                           struct bf_err *err)
{
    char text[64];
    struct bf_err perr;
    enum bf_rc rc;

    if (member(o, name) == NULL)
        return BF_OK;
    rc = get_str(o, name, text, sizeof text, err);
    if (rc != BF_OK)
        return rc;
    bf_err_init(&perr);
    if (time_parse_iso8601(text, ms, &perr) != BF_OK)
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: %s", name, perr.message);
    return BF_OK;
}

static enum bf_rc add_table(struct plan_request *r, const char *field,
                            const char *t, struct bf_err *err)
{
    int i;

    if (!task_table_known(r->service, t))
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "%s: \"%.64s\" is not a known %s endpoint", field, t, r->service);
    for (i = 0; i < r->ntables; i++)
        if (strcmp(r->tables[i], t) == 0)
            return bf_err_set(err, BF_E_INVALID_INPUT, "tables: \"%s\" listed twice", t);
    if (r->ntables >= PLAN_TABLES_MAX)
        return bf_err_set(err, BF_E_INVALID_INPUT, "tables: more than %d",
                          PLAN_TABLES_MAX);
    snprintf(r->tables[r->ntables++], sizeof r->tables[0], "%s", t);
    return BF_OK;
}

static enum bf_rc parse_tables(const cJSON *o, struct plan_request *r,
                               struct bf_err *err)
{
    const cJSON *one = member(o, "table_name");
    const cJSON *list = member(o, "tables");
    const cJSON *t = NULL;
    enum bf_rc rc = BF_OK;
    size_t i;

    if (one != NULL) {
        if (!cJSON_IsString(one))
            return bf_err_set(err, BF_E_INVALID_INPUT, "table_name: must be a string");
        return add_table(r, "table_name", one->valuestring, err);
    }
    if (list == NULL) {
        /* The endpoint table's "default" entries, in table order. */
        for (i = 0; i < catalog_count(); i++) {
            const struct catalog_endpoint *e = catalog_at(i);

            if (e->is_default && e->enabled && strcmp(e->service, r->service) == 0) {
                rc = add_table(r, "tables", e->endpoint, err);
                if (rc != BF_OK)
                    return rc;
            }
        }
        return BF_OK;
    }
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return bf_err_set(err, BF_E_INVALID_INPUT, "tables: must be a non-empty array");
    cJSON_ArrayForEach(t, list) {
        if (!cJSON_IsString(t))
            return bf_err_set(err, BF_E_INVALID_INPUT, "tables: items must be strings");
        rc = add_table(r, "tables", t->valuestring, err);
        if (rc != BF_OK)
            return rc;
    }
    return BF_OK;
}

static enum bf_rc parse_window(const cJSON *o, int64_t now_ms,
                               struct plan_request *r, struct bf_err *err)
{
    enum bf_rc rc;

    r->end_ms = now_ms;
    rc = get_date(o, "end_date", &r->end_ms, err);
    if (rc != BF_OK)
        return rc;
    r->start_ms = r->end_ms - PLAN_DEFAULT_DAYS * MS_PER_DAY;
    rc = get_date(o, "start_date", &r->start_ms, err);
    if (rc != BF_OK)
        return rc;
    if (r->end_ms <= r->start_ms)
        return bf_err_set(err, BF_E_INVALID_INPUT, "end_date: must be after start_date");
    return BF_OK;
}

static enum bf_rc check_size(const struct plan_request *r, long max,
                             struct bf_err *err)
{
    long n = plan_chunk_count(r->start_ms, r->end_ms, r->chunk_size_days);

    if (n * r->ntables > max)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "chunk_size_days: %ld chunks over all tables, more than %ld; "
                          "use larger chunks or split the window", n * r->ntables,
                          max);
    return BF_OK;
}

/* What each chunk's task gets besides its window. */
static enum bf_rc parse_task_options(const cJSON *o, struct plan_request *r,
                                     struct bf_err *err)
{
    const cJSON *ffs = member(o, "force_full_sync");
    enum bf_rc rc;

    rc = get_int(o, "heartbeat_seconds", 1, PLAN_HEARTBEAT_MAX,
                 &r->heartbeat_seconds, err);
    if (rc == BF_OK)
        rc = get_int(o, "task_timeout_seconds", 1, PLAN_TASK_TIMEOUT_MAX,
                     &r->task_timeout_seconds, err);
    if (rc == BF_OK && r->task_timeout_seconds <= r->heartbeat_seconds)
        rc = bf_err_set(err, BF_E_INVALID_INPUT,
                        "task_timeout_seconds: must be more than heartbeat_seconds");
    if (rc != BF_OK)
        return rc;
    if (ffs != NULL && !cJSON_IsBool(ffs))
        return bf_err_set(err, BF_E_INVALID_INPUT, "force_full_sync: must be true or false");
    if (ffs != NULL)
        r->force_full_sync = cJSON_IsTrue(ffs) ? 1 : 0;
    return BF_OK;
}

enum bf_rc plan_parse_request(const char *json, size_t len, int64_t now_ms,
                              struct plan_request *out, struct bf_err *err)
{
    static const struct plan_limits one = { 1, PLAN_CONCURRENCY_MAX, PLAN_CHUNKS_MAX };

    return plan_parse_request_limits(json, len, now_ms, &one, out, err);
}

enum bf_rc plan_parse_request_limits(const char *json, size_t len, int64_t now_ms,
                                     const struct plan_limits *lim,
                                     struct plan_request *out, struct bf_err *err)
{
    cJSON *root = NULL;
    enum bf_rc rc = BF_OK;
    const char *svc = NULL;

    memset(out, 0, sizeof *out);
    out->chunk_size_days = PLAN_DEFAULT_CHUNK_DAYS;
    out->max_concurrency = PLAN_DEFAULT_CONCURRENCY;
    out->heartbeat_seconds = PLAN_DEFAULT_HEARTBEAT;
    out->task_timeout_seconds = PLAN_DEFAULT_TASK_TIMEOUT;
    out->force_full_sync = 1;
    root = cJSON_ParseWithLength(json, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "input: must be a JSON object");
        goto out;
    }
    if (lim->need_tenant) {
        rc = get_str(root, "tenant_id", out->tenant_id, sizeof out->tenant_id, err);
        if (rc != BF_OK)
            goto out;
    }
    /* The tenant rule lives in task.c; ask it rather than copy it. */
    if (lim->need_tenant && !task_tenant_id_ok(out->tenant_id)) {
        rc = bf_err_set(err, BF_E_INVALID_INPUT,
                        "tenant_id: must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$");
        goto out;
    }
    svc = member(root, "service") != NULL ? "service" : "service_name";
    rc = get_str(root, svc, out->service, sizeof out->service, err);
    if (rc != BF_OK)
        goto out;
    if (strcmp(out->service, "connectwise") != 0) {
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "%s: unknown service", svc);
        goto out;
    }
    rc = parse_tables(root, out, err);
    if (rc == BF_OK)
        rc = parse_window(root, now_ms, out, err);
    if (rc == BF_OK)
        rc = get_int(root, "chunk_size_days", 1, 366, &out->chunk_size_days, err);
    if (rc == BF_OK)
        rc = check_size(out, lim->chunks_max, err);
    if (rc == BF_OK)
        rc = get_int(root, "max_concurrency", 1, lim->concurrency_max,
                     &out->max_concurrency, err);
    if (rc == BF_OK)
        rc = parse_task_options(root, out, err);
out:
    cJSON_Delete(root);
    return rc;
}

cJSON *plan_chunk_object(const struct plan_request *req, const char *table,
                         long i, long n)
{
    cJSON *c = cJSON_CreateObject();
    int64_t s, e;
    char iso[TIME_ISO_LEN];

    if (c == NULL)
        return NULL;
    plan_chunk_bounds(req->start_ms, req->end_ms, req->chunk_size_days, i, &s, &e);
    cJSON_AddStringToObject(c, "tenant_id", req->tenant_id);
    cJSON_AddStringToObject(c, "service", req->service);
    cJSON_AddStringToObject(c, "table_name", table);
    cJSON_AddNumberToObject(c, "chunk_number", (double)(i + 1));
    cJSON_AddNumberToObject(c, "total_chunks", (double)n);
    time_format_iso8601(s, iso);
    cJSON_AddStringToObject(c, "start_date", iso);
    time_format_iso8601(e, iso);
    cJSON_AddStringToObject(c, "end_date", iso);
    cJSON_AddBoolToObject(c, "backfill_mode", 1);
    cJSON_AddBoolToObject(c, "force_full_sync", req->force_full_sync);
    cJSON_AddNumberToObject(c, "heartbeat_seconds", req->heartbeat_seconds);
    return c;
}

enum bf_rc plan_add_header(struct cJSON *o, const struct plan_request *req, long total)
{
    char iso[TIME_ISO_LEN];
    cJSON *tables = cJSON_AddArrayToObject(o, "tables");
    int i;

    if (tables == NULL)
        return BF_E_NOMEM;
    for (i = 0; i < req->ntables; i++)
        cJSON_AddItemToArray(tables, cJSON_CreateString(req->tables[i]));
    cJSON_AddStringToObject(o, "tenant_id", req->tenant_id);
    cJSON_AddStringToObject(o, "service", req->service);
    time_format_iso8601(req->start_ms, iso);
    cJSON_AddStringToObject(o, "start_date", iso);
    time_format_iso8601(req->end_ms, iso);
    cJSON_AddStringToObject(o, "end_date", iso);
    cJSON_AddNumberToObject(o, "chunk_size_days", req->chunk_size_days);
    cJSON_AddNumberToObject(o, "max_concurrency", req->max_concurrency);
    cJSON_AddNumberToObject(o, "heartbeat_seconds", req->heartbeat_seconds);
    cJSON_AddNumberToObject(o, "task_timeout_seconds", req->task_timeout_seconds);
    cJSON_AddBoolToObject(o, "force_full_sync", req->force_full_sync);
    cJSON_AddNumberToObject(o, "total_chunks", (double)total);
    return BF_OK;
}

enum bf_rc plan_json(const struct plan_request *req, char **out,
                     struct bf_err *err)
{
    cJSON *o = NULL, *chunks = NULL;
    long n = plan_chunk_count(req->start_ms, req->end_ms, req->chunk_size_days);
    long i;
    int t;
    enum bf_rc rc = BF_OK;

    *out = NULL;
    if (n * req->ntables > PLAN_CHUNKS_MAX)
        return bf_err_set(err, BF_E_LIMIT, "plan: %ld chunks, more than %d",
                          n * req->ntables, PLAN_CHUNKS_MAX);
    o = cJSON_CreateObject();
    if (o == NULL || plan_add_header(o, req, n * req->ntables) != BF_OK)
        goto nomem;
    chunks = cJSON_AddArrayToObject(o, "chunks");
    if (chunks == NULL)
        goto nomem;
    for (t = 0; t < req->ntables; t++) {
        for (i = 0; i < n; i++) {
            cJSON *c = plan_chunk_object(req, req->tables[t], i, n);
            if (c == NULL)
                goto nomem;
            cJSON_AddItemToArray(chunks, c);
        }
    }
    *out = cJSON_PrintUnformatted(o);
    if (*out == NULL)
        goto nomem;
    goto done;
nomem:
    rc = bf_err_set(err, BF_E_NOMEM, "plan: out of memory");
done:
    cJSON_Delete(o);
    return rc;
}
