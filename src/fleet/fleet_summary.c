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

/* One child execution into `seen` (key "tenant|table|n" -> outcome). */
static void record(cJSON *seen, const cJSON *child)
{
    cJSON *in = NULL, *out = NULL, *rec, *old;
    const char *status = str(child, "Status");
    char key[256];

    if (str(child, "Input") == NULL || status == NULL)
        return;
    in = cJSON_Parse(str(child, "Input"));
    if (!cJSON_IsObject(in) || str(in, "tenant_id") == NULL || str(in, "table_name") == NULL ||
        !cJSON_IsNumber(get(in, "chunk_number"))) {
        cJSON_Delete(in);
        return;
    }
    snprintf(key, sizeof key, "%s|%s|%d", str(in, "tenant_id"), str(in, "table_name"),
             get(in, "chunk_number")->valueint);
    old = cJSON_GetObjectItemCaseSensitive(seen, key);
    if (old != NULL && strcmp(str(old, "status"), "SUCCEEDED") == 0) {
        cJSON_Delete(in);
        return;
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
    if (old != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(seen, key, rec);
    else
        cJSON_AddItemToObject(seen, key, rec);
}

static enum bf_rc read_manifest(struct sink *s, const char *key, const char *prefix,
                                cJSON *seen, struct task_cancel *cancel,
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
            cJSON_ArrayForEach(child, arr) {
                record(seen, child);
            }
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

/* {chunks_total, chunks_succeeded, chunks_failed, records_*} for one tenant
 * and, when `table` is non-NULL, one table. `failed` collects the first
 * FLEET_FAILED_LISTED failures; `retry` (may be NULL) every failed input. */
static cJSON *stats(const cJSON *seen, const char *tenant, const char *table,
                    double planned, cJSON *failed, struct buf *retry)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *r = NULL;
    double ok = 0, nfail = 0, ing = 0, xf = 0, rej = 0;
    size_t tl = strlen(tenant);

    cJSON_ArrayForEach(r, seen) {
        const char *k = r->string;
        const cJSON *c = get(r, "chunk");

        if (strncmp(k, tenant, tl) != 0 || k[tl] != '|')
            continue;
        if (table != NULL && strcmp(str(c, "table_name"), table) != 0)
            continue;
        if (strcmp(str(r, "status"), "SUCCEEDED") == 0) {
            ok++;
            ing += num(get(r, "result"), "records_ingested");
            xf += num(get(r, "result"), "records_transformed");
            rej += num(get(r, "result"), "records_rejected");
            continue;
        }
        nfail++;
        if (failed != NULL && cJSON_GetArraySize(failed) < FLEET_FAILED_LISTED) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "table_name", str(c, "table_name"));
            cJSON_AddNumberToObject(x, "chunk_number", num(c, "chunk_number"));
            cJSON_AddStringToObject(x, "start_date", str(c, "start_date") ? str(c, "start_date") : "");
            cJSON_AddStringToObject(x, "end_date", str(c, "end_date") ? str(c, "end_date") : "");
            cJSON_AddStringToObject(x, "error", str(r, "error"));
            cJSON_AddStringToObject(x, "cause", str(r, "cause"));
            cJSON_AddItemToArray(failed, x);
        }
        if (retry != NULL) {
            char *line = cJSON_PrintUnformatted(c);
            if (line != NULL) {
                buf_append_str(retry, line);
                buf_append_str(retry, "\n");
            }
            free(line);
        }
    }
    if (planned > ok + nfail)
        nfail = planned - ok; /* planned but never reported: not run */
    cJSON_AddNumberToObject(o, "chunks_total", ok + nfail);
    cJSON_AddNumberToObject(o, "chunks_succeeded", ok);
    cJSON_AddNumberToObject(o, "chunks_failed", nfail);
    cJSON_AddNumberToObject(o, "records_ingested", ing);
    cJSON_AddNumberToObject(o, "records_transformed", xf);
    cJSON_AddNumberToObject(o, "records_rejected", rej);
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
                             const cJSON *seen, struct buf *retry, enum bf_rc *rc,
                             struct bf_err *err)
{
    const cJSON *plan = get(task, "plan"), *t = NULL;
    const char *tenant = str(row, "tenant_id"), *svc = str(plan, "service");
    double planned = num(row, "chunks");
    int ntables = cJSON_GetArraySize(get(plan, "tables"));
    cJSON *failed = cJSON_CreateArray();
    cJSON *all = stats(seen, tenant, NULL, planned, failed, retry);
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
        cJSON *ts = stats(seen, tenant, t->valuestring, ntables > 0 ? planned / ntables : 0,
                          NULL, NULL);
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
    struct buf retry;
    char key[512];
    enum bf_rc rc = BF_OK;

    buf_init(&retry, FLEET_RESULT_FILE_MAX);
    cJSON_ArrayForEach(row, get(plan, "tenants")) {
        cJSON *all = tenant_summary(s, task, row, seen, &retry, &rc, err);
        total += num(all, "chunks_total");
        ok += num(all, "chunks_succeeded");
        cJSON_AddItemToArray(rows, all);
        if (rc != BF_OK)
            break;
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
        rc = sink_put(s, str(task, "retry_key"), retry.data, retry.len, err);
        cJSON_AddStringToObject(fleet, "retry_key", str(task, "retry_key"));
    }
    /* The answer stays small: per-tenant rows only up to the tenant cap. */
    if (rc == BF_OK && (*output = cJSON_PrintUnformatted(fleet)) == NULL)
        rc = bf_err_set(err, BF_E_NOMEM, "summary: out of memory");
    buf_cleanup(&retry);
    cJSON_Delete(fleet);
    return rc;
}

enum bf_rc fleet_summary_run(struct fleet *f, const char *input, size_t len,
                             struct task_cancel *cancel, char **output,
                             struct bf_err *err)
{
    cJSON *task = cJSON_ParseWithLength(input, len), *seen = cJSON_CreateObject();
    const cJSON *m = NULL;
    const char *prefix = str(task, "data_prefix") ? str(task, "data_prefix") : "";
    struct sink *s = NULL;
    enum bf_rc rc = BF_OK;

    *output = NULL;
    if (str(task, "backfill_id") == NULL)
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
            rc = read_manifest(s, m->valuestring, prefix, seen, cancel, err);
    }
    if (rc == BF_OK)
        rc = summarize(s, task, seen, output, err);
    sink_free(s);
    cJSON_Delete(seen);
    cJSON_Delete(task);
    return rc;
}
