/* task.c -- the task contract: input schema, validation, result JSON.
 *
 * One table (input_fields below) lists every task input field with its type
 * and whether it is required, so the schema lives in one place. Validation
 * is strict because tenant ids and table names end up in object keys and
 * URLs; every rejection is BF_E_INVALID_INPUT naming the field. The result
 * JSON is built with cJSON and shrunk by dropping optional detail, never by
 * cutting text, so Step Functions always receives valid JSON.
 */
#include "task/task.h"

#include "catalog/catalog.h"
#include "util/buf.h"
#include "util/jsonout.h"
#include "util/jsonstrict.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000LL
#define WINDOW_MAX_DAYS 366
#define CHUNKS_MAX 1000000

/* The endpoint table in src/source/ (endpoints.json) is the one list of
 * tables; a disabled entry is known but refused. */
int task_table_known(const char *service, const char *table)
{
    const struct catalog_endpoint *e = NULL;

    if (service == NULL || table == NULL)
        return 0;
    e = catalog_find(service, table);
    return e != NULL && e->enabled;
}

/* 1 when `s` is 1 to `max` characters, the first a letter or digit, the
 * others letters, digits or one of `extra`: identifiers that go into
 * object keys, URLs and resource names unescaped. */
static int name_ok(const char *s, size_t max, const char *extra)
{
    size_t i, n = strlen(s);

    if (n < 1 || n > max)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || strchr(extra, c) == NULL))
            return 0;
    }
    return 1;
}

/* ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ */
int task_tenant_id_ok(const char *s)
{
    return name_ok(s, 64, "_-");
}

/* Execution names: ^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$ (a subset of what
 * Step Functions allows, safe in an object key). */
static int backfill_id_ok(const char *s)
{
    return name_ok(s, 80, "_-.");
}

/* A present, non-null member, or NULL. */
static const cJSON *member(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    if (m == NULL || cJSON_IsNull(m))
        return NULL;
    return m;
}

static enum bf_rc get_string(const cJSON *o, const char *name, int required,
                             char *out, size_t cap, struct bf_err *err)
{
    const cJSON *m = member(o, name);

    if (m == NULL) {
        if (required)
            return bf_err_set(err, BF_E_INVALID_INPUT, "%s: missing", name);
        return BF_OK;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL)
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: must be a string", name);
    if (strlen(m->valuestring) >= cap)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "%s: longer than %zu characters", name, cap - 1);
    snprintf(out, cap, "%s", m->valuestring);
    return BF_OK;
}

static enum bf_rc get_int(const cJSON *o, const char *name, long lo, long hi,
                          int *out, struct bf_err *err)
{
    const cJSON *m = member(o, name);
    double v;

    if (m == NULL)
        return BF_OK;
    if (!cJSON_IsNumber(m))
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: must be an integer", name);
    v = m->valuedouble;
    if (!isfinite(v) || v != floor(v))
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: must be an integer", name);
    if (v < (double)lo || v > (double)hi)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "%s: must be from %ld to %ld", name, lo, hi);
    *out = (int)v;
    return BF_OK;
}

static enum bf_rc get_bool(const cJSON *o, const char *name, int *out,
                           struct bf_err *err)
{
    const cJSON *m = member(o, name);

    if (m == NULL)
        return BF_OK;
    if (!cJSON_IsBool(m))
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: must be true or false", name);
    *out = cJSON_IsTrue(m) ? 1 : 0;
    return BF_OK;
}

static enum bf_rc get_date(const cJSON *o, const char *name, int64_t *ms,
                           char iso[TIME_ISO_LEN], struct bf_err *err)
{
    char text[64];
    struct bf_err perr;
    enum bf_rc rc;
    /* Years 1..9999: what $fromMillis writes as four digits. */
    const int64_t lo = time_days_from_civil(1, 1, 1) * MS_PER_DAY;
    const int64_t hi = time_days_from_civil(10000, 1, 1) * MS_PER_DAY;

    rc = get_string(o, name, 1, text, sizeof text, err);
    if (rc != BF_OK)
        return rc;
    bf_err_init(&perr);
    rc = time_parse_iso8601(text, ms, &perr);
    if (rc != BF_OK)
        return bf_err_set(err, BF_E_INVALID_INPUT, "%s: %s", name, perr.message);
    if (*ms < lo || *ms >= hi)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "%s: year must be from 0001 to 9999", name);
    time_format_iso8601(*ms, iso);
    return BF_OK;
}

static void input_defaults(struct task_input *in)
{
    memset(in, 0, sizeof *in);
    in->chunk_number = 1;
    in->total_chunks = 1;
    snprintf(in->backfill_id, sizeof in->backfill_id, "manual");
    in->backfill_mode = 1;
    in->force_full_sync = 1;
    in->heartbeat_seconds = 60;
}

/* Identity fields: who, what and which table. */
static enum bf_rc parse_identity(const cJSON *o, struct task_input *in,
                                 struct bf_err *err)
{
    enum bf_rc rc;
    const char *svc_key = member(o, "service") ? "service" : "service_name";

    rc = get_string(o, "tenant_id", 1, in->tenant_id, sizeof in->tenant_id, err);
    if (rc != BF_OK)
        return rc;
    if (!task_tenant_id_ok(in->tenant_id))
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "tenant_id: must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$");
    rc = get_string(o, svc_key, 0, in->service, sizeof in->service, err);
    if (rc != BF_OK)
        return rc;
    if (in->service[0] == '\0')
        return bf_err_set(err, BF_E_INVALID_INPUT, "service: missing");
    if (strcmp(in->service, "connectwise") != 0)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "%s: unknown service (known: connectwise)", svc_key);
    rc = get_string(o, "table_name", 1, in->table_name, sizeof in->table_name, err);
    if (rc != BF_OK)
        return rc;
    if (!task_table_known(in->service, in->table_name))
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "table_name: not a known %s endpoint", in->service);
    return BF_OK;
}

static enum bf_rc parse_window(const cJSON *o, struct task_input *in,
                               struct bf_err *err)
{
    enum bf_rc rc;

    rc = get_date(o, "start_date", &in->start_ms, in->start_date, err);
    if (rc == BF_OK)
        rc = get_date(o, "end_date", &in->end_ms, in->end_date, err);
    if (rc != BF_OK)
        return rc;
    if (in->end_ms <= in->start_ms)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "end_date: must be after start_date");
    if (in->end_ms - in->start_ms > WINDOW_MAX_DAYS * MS_PER_DAY)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "end_date: window longer than %d days", WINDOW_MAX_DAYS);
    return BF_OK;
}

static enum bf_rc parse_options(const cJSON *o, struct task_input *in,
                                struct bf_err *err)
{
    enum bf_rc rc;

    rc = get_int(o, "chunk_number", 1, CHUNKS_MAX, &in->chunk_number, err);
    if (rc == BF_OK)
        rc = get_int(o, "total_chunks", 1, CHUNKS_MAX, &in->total_chunks, err);
    if (rc == BF_OK && in->chunk_number > in->total_chunks)
        rc = bf_err_set(err, BF_E_INVALID_INPUT,
                        "chunk_number: must not exceed total_chunks");
    if (rc == BF_OK)
        rc = get_string(o, "backfill_id", 0, in->backfill_id,
                        sizeof in->backfill_id, err);
    if (rc == BF_OK && !backfill_id_ok(in->backfill_id))
        rc = bf_err_set(err, BF_E_INVALID_INPUT,
                        "backfill_id: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$");
    if (rc == BF_OK)
        rc = get_bool(o, "backfill_mode", &in->backfill_mode, err);
    if (rc == BF_OK)
        rc = get_bool(o, "force_full_sync", &in->force_full_sync, err);
    if (rc == BF_OK)
        rc = get_int(o, "heartbeat_seconds", 1, 99999999,
                     &in->heartbeat_seconds, err);
    if (rc == BF_OK)
        rc = get_int(o, "attempt", 0, 1000000, &in->attempt, err);
    if (rc == BF_OK)
        rc = get_int(o, "redrive_count", 0, 1000000, &in->redrive_count, err);
    return rc;
}

enum bf_rc task_input_parse(const char *json, size_t len,
                            struct task_input *out, struct bf_err *err)
{
    cJSON *root = NULL;
    enum bf_rc rc = BF_OK;

    input_defaults(out);
    if (json == NULL)
        return bf_err_set(err, BF_E_INVALID_INPUT, "input: missing");
    if (len > TASK_INPUT_MAX)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "input: %zu bytes, more than %d", len, TASK_INPUT_MAX);
    /* Strict: a duplicate member, trailing bytes, NUL, invalid UTF-8 or
     * a lone surrogate anywhere is refused (tests/README.md, "Input
     * hardening"). */
    rc = json_strict_parse(json, len, "input", BF_E_INVALID_INPUT, 0, &root, err);
    if (rc != BF_OK)
        goto out;
    if (!cJSON_IsObject(root)) {
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "input: must be a JSON object");
        goto out;
    }
    rc = parse_identity(root, out, err);
    if (rc == BF_OK)
        rc = parse_window(root, out, err);
    if (rc == BF_OK)
        rc = parse_options(root, out, err);
out:
    cJSON_Delete(root);
    return rc;
}

void task_result_init(struct task_result *r)
{
    memset(r, 0, sizeof *r);
    r->records_ingested = -1;
    r->records_transformed = -1;
    r->records_rejected = -1;
    r->text_replaced = -1;
    r->pages = -1;
}

/* A count, or null when unknown (-1). */
static void add_count(cJSON *o, const char *name, long long v)
{
    if (v < 0)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddNumberToObject(o, name, (double)v);
}

static void add_location(cJSON *o, const char *name, const struct task_location *l)
{
    cJSON *loc = cJSON_AddObjectToObject(o, name);

    if (loc == NULL)
        return;
    cJSON_AddStringToObject(loc, "uri", l->uri);
    cJSON_AddNumberToObject(loc, "parts", (double)l->parts);
    cJSON_AddNumberToObject(loc, "bytes", (double)l->bytes);
}

static cJSON *result_object(const struct task_input *in,
                            const struct task_result *r, const char *worker)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "status", "SUCCEEDED");
    cJSON_AddStringToObject(o, "tenant_id", in->tenant_id);
    cJSON_AddStringToObject(o, "service", in->service);
    cJSON_AddStringToObject(o, "table_name", in->table_name);
    cJSON_AddStringToObject(o, "start_date", in->start_date);
    cJSON_AddStringToObject(o, "end_date", in->end_date);
    cJSON_AddNumberToObject(o, "chunk_number", in->chunk_number);
    cJSON_AddNumberToObject(o, "total_chunks", in->total_chunks);
    cJSON_AddStringToObject(o, "backfill_id", in->backfill_id);
    cJSON_AddStringToObject(o, "canonical_table", r->canonical_table);
    add_count(o, "records_ingested", r->records_ingested);
    add_count(o, "records_transformed", r->records_transformed);
    add_count(o, "records_rejected", r->records_rejected);
    add_count(o, "text_replaced", r->text_replaced);
    add_count(o, "pages", r->pages);
    add_location(o, "raw", &r->raw);
    add_location(o, "canonical", &r->canonical);
    cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_ms);
    cJSON_AddStringToObject(o, "worker", worker != NULL ? worker : "");
    cJSON_AddNumberToObject(o, "attempt", in->attempt);
    return o;
}

/* Optional detail, least useful first: dropped one by one until the
 * output fits. The identifying fields and the status always stay. */
static const char *const trim_order[] = {
    "raw", "canonical", "worker", "canonical_table", "backfill_id",
};

char *task_result_json(const struct task_input *in, const struct task_result *r,
                       const char *worker, size_t max)
{
    cJSON *o = result_object(in, r, worker);
    struct buf b;
    char *s = NULL;
    size_t i = 0;
    enum bf_rc rc;

    if (o == NULL)
        return NULL;
    /* jsonout prints what cJSON_PrintUnformatted would, without its
     * sprintf/sscanf round trip per number (one answer per task adds up);
     * the cap makes an over-long text fail fast instead of growing. */
    buf_init(&b, max);
    for (;;) {
        buf_reset(&b);
        rc = jsonout_value(&b, o);
        if (rc == BF_OK && b.len < max) {
            s = buf_detach(&b);
            break;
        }
        /* Too long (over the cap, or exactly at it): trim; anything else
         * (a tree cJSON could not print either) ends here. */
        if ((rc != BF_OK && rc != BF_E_LIMIT) ||
            i >= sizeof trim_order / sizeof trim_order[0])
            break;
        cJSON_DeleteItemFromObjectCaseSensitive(o, trim_order[i++]);
        if (cJSON_GetObjectItemCaseSensitive(o, "truncated") == NULL)
            cJSON_AddTrueToObject(o, "truncated");
    }
    buf_cleanup(&b);
    cJSON_Delete(o);
    return s;
}
