/* fleet_summary.c -- the fleet's "summary" task: the Distributed Map's
 * ResultWriter output, per tenant, per table and overall.
 *
 * Input: {"fleet_task":"summary", "backfill_id", "round", "redrive_count",
 * "started_at", "data_prefix" (the bucket prefix the sink's root sits at),
 * "manifests": [manifest keys, round 1 first], "plan": the plan task's
 * answer, "retry_key"}. Each manifest lists result files (SUCCEEDED_n,
 * FAILED_n, PENDING_n: JSON arrays of child executions whose "Input" is
 * the chunk and whose "Output" is the worker's result). A chunk's outcome
 * is its last reported one, except that a success is never undone. A
 * planned chunk no file reports counts as failed ("Backfill.NotRun").
 *
 * Writes {tenant}/backfill_metadata/{service}/{backfill_id}.json for every
 * planned tenant, the fleet summary at fleet_metadata/{service}/
 * {backfill_id}/summary.json, and, when chunks failed, their inputs as JSON
 * Lines at retry_key (the next round's ItemReader object).
 */
#include "fleet/fleet.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sink.h"
#include "util/buf.h"
#include "util/strmap.h"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An absolute key from a manifest, relative to the sink's root. */
static const char *relative(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);

    if (n > 0 && strncmp(key, prefix, n) == 0 && key[n] == '/')
        return key + n + 1;
    return key;
}

static enum bf_rc read_json(struct sink *s, const char *key, cJSON **out,
                            struct bf_err *err)
{
    struct buf b;
    int found = 0;
    enum bf_rc rc;

    *out = NULL;
    buf_init(&b, FLEET_RESULT_FILE_MAX);
    rc = sink_get(s, key, &b, &found, err);
    if (rc == BF_OK && !found)
        rc = bf_err_set(err, BF_E_SINK_UNAVAILABLE, "summary: %s does not exist", key);
    if (rc == BF_OK && (*out = cJSON_ParseWithLength(b.data, b.len)) == NULL)
        rc = bf_err_set(err, BF_E_INTERNAL, "summary: %s is not JSON", key);
    buf_cleanup(&b);
    return rc;
}

/* Every chunk's outcome: `seen` holds the records in first-report order,
 * `chunks` finds one by "tenant|table|n" in constant time, so reading N
 * results costs N, not N squared. */
struct summary_index {
    cJSON *seen;
    struct strmap *chunks;
};

/* One child execution into the index. A later report replaces an earlier
 * one in place (its fields are swapped in), except that a success is never
 * undone. */
static enum bf_rc record(struct summary_index *ix, const cJSON *child,
                         struct bf_err *err)
{
    cJSON *in = NULL, *out = NULL, *rec, *old, *tmp;
    const char *status = str(child, "Status");
    char key[256];

    if (str(child, "Input") == NULL || status == NULL)
        return BF_OK;
    in = cJSON_Parse(str(child, "Input"));
    if (!cJSON_IsObject(in) || str(in, "tenant_id") == NULL || str(in, "table_name") == NULL ||
        !cJSON_IsNumber(get(in, "chunk_number"))) {
        cJSON_Delete(in);
        return BF_OK;
    }
    snprintf(key, sizeof key, "%s|%s|%d", str(in, "tenant_id"), str(in, "table_name"),
             get(in, "chunk_number")->valueint);
    old = strmap_get(ix->chunks, key);
    if (old != NULL && strcmp(str(old, "status"), "SUCCEEDED") == 0) {
        cJSON_Delete(in);
        return BF_OK;
    }
    rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "status", strcmp(status, "SUCCEEDED") == 0 ? "SUCCEEDED" : "FAILED");
    cJSON_AddItemToObject(rec, "chunk", in);
    if (str(child, "Output") != NULL)
        out = cJSON_Parse(str(child, "Output"));
    if (out != NULL)
        cJSON_AddItemToObject(rec, "result", out);
    cJSON_AddStringToObject(rec, "error", str(child, "Error") ? str(child, "Error")
                                          : strcmp(status, "SUCCEEDED") == 0 ? "" : status);
    cJSON_AddStringToObject(rec, "cause", str(child, "Cause") ? str(child, "Cause") : "");
    if (old != NULL) {
        tmp = old->child;
        old->child = rec->child;
        rec->child = tmp;
        cJSON_Delete(rec);
        return BF_OK;
    }
    if (strmap_put(ix->chunks, key, rec) != BF_OK) {
        cJSON_Delete(rec);
        return bf_err_set(err, BF_E_NOMEM, "summary: out of memory");
    }
    cJSON_AddItemToArray(ix->seen, rec);
    return BF_OK;
}

static enum bf_rc read_manifest(struct sink *s, const char *key, const char *prefix,
                                struct summary_index *ix, struct task_cancel *cancel,
                                struct bf_err *err)
{
    static const char *const kinds[] = { "SUCCEEDED", "FAILED", "PENDING" };
    cJSON *m = NULL;
    const cJSON *files, *f = NULL, *child = NULL;
    size_t k;
    enum bf_rc rc = read_json(s, relative(key, prefix), &m, err);

    files = get(m, "ResultFiles");
    for (k = 0; rc == BF_OK && k < 3; k++) {
        cJSON_ArrayForEach(f, get(files, kinds[k])) {
            cJSON *arr = NULL;

            if (task_cancelled(cancel)) {
                rc = bf_err_set(err, BF_E_CANCELLED, "summary: cancelled");
                break;
            }
            if (str(f, "Key") == NULL)
                continue;
            rc = read_json(s, relative(str(f, "Key"), prefix), &arr, err);
            if (rc != BF_OK)
                break;
            for (child = arr != NULL ? arr->child : NULL; child != NULL && rc == BF_OK;
                 child = child->next)
                rc = record(ix, child, err);
            cJSON_Delete(arr);
        }
    }
    cJSON_Delete(m);
    return rc;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Counts for one tenant or one tenant's table. `failed` (tenant totals
 * only) lists the first FLEET_FAILED_LISTED failures. */
struct summary_acc {
    double ok, nfail, ing, xf, rej;
    cJSON *failed;
    struct summary_acc *next; /* every accumulator, for freeing */
};

/* The totals of one pass over the index: per tenant and per
 * "tenant|table", and every failed chunk's input as a JSON line. */
struct summary_totals {
    struct strmap *tenants;
    struct strmap *tables;
    struct summary_acc *all;
    struct buf retry;
};

static struct summary_acc *acc_for(struct summary_totals *t, struct strmap *m,
                                   const char *key)
{
    struct summary_acc *a = strmap_get(m, key);

    if (a != NULL)
        return a;
    if ((a = calloc(1, sizeof *a)) == NULL)
        return NULL;
    if (strmap_put(m, key, a) != BF_OK) {
        free(a);
        return NULL;
    }
    a->next = t->all;
    t->all = a;
    return a;
}

static void acc_add(struct summary_acc *a, const cJSON *r)
{
    if (strcmp(str(r, "status"), "SUCCEEDED") == 0) {
        a->ok++;
        a->ing += num(get(r, "result"), "records_ingested");
        a->xf += num(get(r, "result"), "records_transformed");
        a->rej += num(get(r, "result"), "records_rejected");
    } else {
        a->nfail++;
    }
}

static void list_failure(struct summary_acc *a, const cJSON *r)
{
    const cJSON *c = get(r, "chunk");
    cJSON *x;

    if (a->failed == NULL)
        a->failed = cJSON_CreateArray();
    if (cJSON_GetArraySize(a->failed) >= FLEET_FAILED_LISTED)
        return;
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "table_name", str(c, "table_name"));
    cJSON_AddNumberToObject(x, "chunk_number", num(c, "chunk_number"));
    cJSON_AddStringToObject(x, "start_date", str(c, "start_date") ? str(c, "start_date") : "");
    cJSON_AddStringToObject(x, "end_date", str(c, "end_date") ? str(c, "end_date") : "");
    cJSON_AddStringToObject(x, "error", str(r, "error"));
    cJSON_AddStringToObject(x, "cause", str(r, "cause"));
    cJSON_AddItemToArray(a->failed, x);
}

/* One pass over every outcome into `t`. */
static enum bf_rc totals_build(struct summary_totals *t, const cJSON *seen,
                               struct bf_err *err)
{
    const cJSON *r = NULL;
    char key[256];

    cJSON_ArrayForEach(r, seen) {
        const cJSON *c = get(r, "chunk");
        struct summary_acc *ta, *tt;

        snprintf(key, sizeof key, "%s|%s", str(c, "tenant_id"), str(c, "table_name"));
        ta = acc_for(t, t->tenants, str(c, "tenant_id"));
        tt = acc_for(t, t->tables, key);
        if (ta == NULL || tt == NULL)
            return bf_err_set(err, BF_E_NOMEM, "summary: out of memory");
        acc_add(ta, r);
        acc_add(tt, r);
        if (strcmp(str(r, "status"), "SUCCEEDED") != 0) {
            char *line = cJSON_PrintUnformatted(c);

            list_failure(ta, r);
            if (line != NULL) {
                buf_append_str(&t->retry, line);
                buf_append_str(&t->retry, "\n");
            }
            free(line);
        }
    }
    return BF_OK;
}

static void totals_cleanup(struct summary_totals *t)
{
    while (t->all != NULL) {
        struct summary_acc *next = t->all->next;

        cJSON_Delete(t->all->failed);
        free(t->all);
        t->all = next;
    }
    strmap_free(t->tenants);
    strmap_free(t->tables);
    buf_cleanup(&t->retry);
}

/* {chunks_total, chunks_succeeded, chunks_failed, records_*} from an
 * accumulator (NULL: nothing reported). A chunk planned but never
 * reported counts as failed: not run. */
static cJSON *stats(const struct summary_acc *a, double planned)
{
    static const struct summary_acc none;
    cJSON *o = cJSON_CreateObject();
    double nfail;

    if (a == NULL)
        a = &none;
    nfail = planned > a->ok + a->nfail ? planned - a->ok : a->nfail;
    cJSON_AddNumberToObject(o, "chunks_total", a->ok + nfail);
    cJSON_AddNumberToObject(o, "chunks_succeeded", a->ok);
    cJSON_AddNumberToObject(o, "chunks_failed", nfail);
    cJSON_AddNumberToObject(o, "records_ingested", a->ing);
    cJSON_AddNumberToObject(o, "records_transformed", a->xf);
    cJSON_AddNumberToObject(o, "records_rejected", a->rej);
    return o;
}

static enum bf_rc put_json(struct sink *s, const char *key, const cJSON *o,
                           struct bf_err *err)
{
    char *text = cJSON_PrintUnformatted(o);
    enum bf_rc rc;

    if (text == NULL)
        return bf_err_set(err, BF_E_NOMEM, "summary: out of memory");
    rc = sink_put(s, key, text, strlen(text), err);
    free(text);
    return rc;
}

/* One tenant's summary written at its metadata key; returns its totals. */
static cJSON *tenant_summary(struct sink *s, const cJSON *task, const cJSON *row,
                             struct summary_totals *tot, enum bf_rc *rc,
                             struct bf_err *err)
{
    const cJSON *plan = get(task, "plan"), *t = NULL;
    const char *tenant = str(row, "tenant_id"), *svc = str(plan, "service");
    double planned = num(row, "chunks");
    int ntables = cJSON_GetArraySize(get(plan, "tables"));
    struct summary_acc *ta = strmap_get(tot->tenants, tenant);
    cJSON *failed = ta != NULL && ta->failed != NULL ? cJSON_Duplicate(ta->failed, 1)
                                                      : cJSON_CreateArray();
    cJSON *all = stats(ta, planned);
    cJSON *sum = cJSON_CreateObject(), *tables = NULL;
    char key[512];

    snprintf(key, sizeof key, "%s/backfill_metadata/%s/%s.json", tenant, svc,
             str(task, "backfill_id"));
    cJSON_AddStringToObject(sum, "backfill_id", str(task, "backfill_id"));
    cJSON_AddStringToObject(sum, "tenant_id", tenant);
    cJSON_AddStringToObject(sum, "service", svc);
    cJSON_AddStringToObject(sum, "status", num(all, "chunks_failed") == 0 ? "SUCCEEDED" : "FAILED");
    cJSON_AddNumberToObject(sum, "round", num(task, "round"));
    cJSON_AddNumberToObject(sum, "redrive_count", num(task, "redrive_count"));
    cJSON_AddStringToObject(sum, "start_date", str(plan, "start_date"));
    cJSON_AddStringToObject(sum, "end_date", str(plan, "end_date"));
    cJSON_AddNumberToObject(sum, "chunk_size_days", num(plan, "chunk_size_days"));
    if (str(task, "started_at") != NULL)
        cJSON_AddStringToObject(sum, "started_at", str(task, "started_at"));
    t = NULL;
    cJSON_ArrayForEach(t, all) {
        cJSON_AddItemToObject(sum, t->string, cJSON_Duplicate(t, 1));
    }
    cJSON_AddNumberToObject(sum, "failed_chunks_listed", cJSON_GetArraySize(failed));
    cJSON_AddItemToObject(sum, "failed_chunks", failed);
    tables = cJSON_AddArrayToObject(sum, "tables");
    cJSON_ArrayForEach(t, get(plan, "tables")) {
        char tk[256];
        cJSON *ts;

        snprintf(tk, sizeof tk, "%s|%s", tenant, t->valuestring);
        ts = stats(strmap_get(tot->tables, tk), ntables > 0 ? planned / ntables : 0);
        cJSON_AddStringToObject(ts, "table_name", t->valuestring);
        cJSON_AddItemToArray(tables, ts);
    }
    cJSON_AddStringToObject(sum, "metadata_key", key);
    *rc = put_json(s, key, sum, err);
    cJSON_Delete(sum);
    cJSON_AddStringToObject(all, "tenant_id", tenant);
    return all;
}

static enum bf_rc summarize(struct sink *s, const cJSON *task, const cJSON *seen,
                            char **output, struct bf_err *err)
{
    const cJSON *plan = get(task, "plan"), *row = NULL;
    cJSON *fleet = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(fleet, "tenants");
    double total = 0, ok = 0;
    struct summary_totals tot = { strmap_new(), strmap_new(), NULL, { 0 } };
    char key[512];
    enum bf_rc rc = BF_OK;

    buf_init(&tot.retry, FLEET_RESULT_FILE_MAX);
    if (tot.tenants == NULL || tot.tables == NULL)
        rc = bf_err_set(err, BF_E_NOMEM, "summary: out of memory");
    if (rc == BF_OK)
        rc = totals_build(&tot, seen, err);
    cJSON_ArrayForEach(row, get(plan, "tenants")) {
        cJSON *all;

        if (rc != BF_OK)
            break;
        all = tenant_summary(s, task, row, &tot, &rc, err);
        total += num(all, "chunks_total");
        ok += num(all, "chunks_succeeded");
        cJSON_AddItemToArray(rows, all);
    }
    snprintf(key, sizeof key, "fleet_metadata/%s/%s/summary.json", str(plan, "service"),
             str(task, "backfill_id"));
    cJSON_AddStringToObject(fleet, "backfill_id", str(task, "backfill_id"));
    cJSON_AddStringToObject(fleet, "status", total == ok ? "SUCCEEDED" : "FAILED");
    cJSON_AddNumberToObject(fleet, "round", num(task, "round"));
    cJSON_AddNumberToObject(fleet, "chunks_total", total);
    cJSON_AddNumberToObject(fleet, "chunks_succeeded", ok);
    cJSON_AddNumberToObject(fleet, "chunks_failed", total - ok);
    cJSON_AddItemToObject(fleet, "skipped", cJSON_Duplicate(get(plan, "skipped"), 1));
    cJSON_AddStringToObject(fleet, "summary_key", key);
    if (rc == BF_OK)
        rc = put_json(s, key, fleet, err);
    if (rc == BF_OK && total > ok && str(task, "retry_key") != NULL) {
        rc = sink_put(s, str(task, "retry_key"), tot.retry.data, tot.retry.len, err);
        cJSON_AddStringToObject(fleet, "retry_key", str(task, "retry_key"));
    }
    /* The answer stays small: per-tenant rows only up to the tenant cap. */
    if (rc == BF_OK && (*output = cJSON_PrintUnformatted(fleet)) == NULL)
        rc = bf_err_set(err, BF_E_NOMEM, "summary: out of memory");
    totals_cleanup(&tot);
    cJSON_Delete(fleet);
    return rc;
}

enum bf_rc fleet_summary_run(struct fleet *f, const char *input, size_t len,
                             struct task_cancel *cancel, char **output,
                             struct bf_err *err)
{
    cJSON *task = cJSON_ParseWithLength(input, len);
    struct summary_index ix = { cJSON_CreateArray(), strmap_new() };
    const cJSON *m = NULL;
    const char *prefix = str(task, "data_prefix") ? str(task, "data_prefix") : "";
    struct sink *s = NULL;
    enum bf_rc rc = BF_OK;

    *output = NULL;
    if (ix.seen == NULL || ix.chunks == NULL)
        rc = bf_err_set(err, BF_E_NOMEM, "summary: out of memory");
    else if (str(task, "backfill_id") == NULL)
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "backfill_id: missing");
    else if (!cJSON_IsArray(get(task, "manifests")))
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "manifests: must be an array of keys");
    else if (!cJSON_IsArray(get(get(task, "plan"), "tenants")) ||
             str(get(task, "plan"), "service") == NULL)
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "plan: must be the plan task's answer");
    if (rc == BF_OK)
        rc = fleet_sink(f, &s, err);
    cJSON_ArrayForEach(m, get(task, "manifests")) {
        if (rc != BF_OK)
            break;
        if (cJSON_IsString(m))
            rc = read_manifest(s, m->valuestring, prefix, &ix, cancel, err);
    }
    if (rc == BF_OK)
        rc = summarize(s, task, ix.seen, output, err);
    sink_free(s);
    strmap_free(ix.chunks);
    cJSON_Delete(ix.seen);
    cJSON_Delete(task);
    return rc;
}
