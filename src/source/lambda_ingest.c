/* lambda_ingest.c -- the original AVESA ingestion Lambda as a chunk's source.
 *
 * Opening invokes the function (aws/lambda_step.c judges the answer) and
 * reports the counts it gave; the function has written the raw chunk
 * itself. When the caller maps records (a built-in transform), the raw
 * chunk is then read back through its manifest, data part by data part,
 * and handed out in pages of up to LI_PAGE_RECORDS records: each page's
 * lines are copied into one reused arena, so memory stays at a page.
 */
#include "source/lambda_ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/lambda_step.h"
#include "sink/chunkout.h"
#include "util/buf.h"

/* As many records as the read-back checked the cancellation flag after. */
#define LI_PAGE_RECORDS 1000
#define LI_DIR_MAX 1024

struct li_source {
    struct source base;
    struct sink *sink;               /* borrowed */
    char raw_dir[LI_DIR_MAX];
    cJSON *manifest;                 /* NULL: no read-back */
    const cJSON *next_part;          /* the manifest's next "parts" entry */
    struct jsonl_reader *rd;         /* the part being read, or NULL */
    struct buf arena;                /* this page's lines, back to back */
    size_t offs[LI_PAGE_RECORDS];    /* where each line starts in arena */
    struct source_record recs[LI_PAGE_RECORDS];
    struct source_page page;
};

void lambda_ingest_function_name(const char *service, const char *env,
                                 char out[128])
{
    snprintf(out, 128, "avesa-%s-ingestion-%s", service, env);
}

/* The original's fields. */
char *lambda_ingest_payload(const struct task_input *in)
{
    cJSON *o = lambda_step_payload_new(in->tenant_id, in->service, in->table_name);
    int bad = 0;

    if (o == NULL)
        return NULL;
    bad |= cJSON_AddStringToObject(o, "start_date", in->start_date) == NULL;
    bad |= cJSON_AddStringToObject(o, "end_date", in->end_date) == NULL;
    bad |= cJSON_AddBoolToObject(o, "backfill_mode", in->backfill_mode) == NULL;
    bad |= cJSON_AddBoolToObject(o, "force_full_sync", in->force_full_sync) ==
           NULL;
    bad |= cJSON_AddNumberToObject(o, "chunk_number", in->chunk_number) == NULL;
    bad |= cJSON_AddNumberToObject(o, "total_chunks", in->total_chunks) == NULL;
    return lambda_step_payload_text(o, bad);
}

static const char *const ingested_keys[] = {
    "records_ingested", "records_processed", "record_count", "total_records",
    NULL,
};
static const char *const pages_keys[] = { "pages", "pages_fetched", NULL };

static enum bf_rc invoke(const struct source_open_params *p,
                         struct bf_err *err)
{
    struct lambda_step_answer ans;
    char function[128];
    char *payload = NULL;
    enum bf_rc rc;

    if (p->report != NULL) {
        p->report->records_ingested = -1;
        p->report->pages = -1;
    }
    lambda_ingest_function_name(p->in->service, p->env, function);
    payload = lambda_ingest_payload(p->in);
    if (payload == NULL)
        return bf_err_set(err, BF_E_NOMEM, "lambda ingest: out of memory");
    rc = lambda_step_invoke(p->aws, function, "RequestResponse", payload,
                            p->opts.timeout_ms, &ans, err);
    cJSON_free(payload);
    if (rc == BF_OK && p->report != NULL) {
        p->report->records_ingested = lambda_step_count(&ans, ingested_keys);
        p->report->pages = (long)lambda_step_count(&ans, pages_keys);
    }
    lambda_step_answer_cleanup(&ans);
    return rc;
}

/* Whether a raw manifest's "parts" entry is a data part ({"name",
 * "kind": "data", ...}, see chunkout.h); rejects parts are skipped. */
static int part_is_data(const cJSON *e)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "kind");

    return !cJSON_IsString(k) || strcmp(k->valuestring, "data") == 0;
}

static const char *part_name(const cJSON *e)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "name");

    return cJSON_IsString(k) ? k->valuestring : NULL;
}

/* Open the next data part. *done = 1 when there is none. */
static enum bf_rc open_next_part(struct li_source *li, int *done,
                                 struct bf_err *err)
{
    char key[LI_DIR_MAX + 128];

    *done = 0;
    while (li->next_part != NULL && !part_is_data(li->next_part))
        li->next_part = li->next_part->next;
    if (li->next_part == NULL) {
        *done = 1;
        return BF_OK;
    }
    if (part_name(li->next_part) == NULL ||
        strchr(part_name(li->next_part), '/') != NULL)
        return bf_err_set(err, BF_E_TRANSFORM_FAILED,
                          "raw manifest lists a part without a plain name");
    snprintf(key, sizeof(key), "%s/%s", li->raw_dir, part_name(li->next_part));
    li->next_part = li->next_part->next;
    return jsonl_reader_open(li->sink, key, 0, &li->rd, err);
}

static enum bf_rc li_next_page(struct source *s,
                               const struct source_page **out,
                               struct bf_err *err)
{
    struct li_source *li = (struct li_source *)s;
    size_t n = 0, i;
    enum bf_rc rc = BF_OK;
    int done = 0;

    *out = NULL;
    buf_reset(&li->arena);
    while (rc == BF_OK && n < LI_PAGE_RECORDS && li->manifest != NULL) {
        const char *line = NULL;
        size_t len = 0;

        if (li->rd == NULL) {
            rc = open_next_part(li, &done, err);
            if (rc != BF_OK || done)
                break;
        }
        rc = jsonl_reader_next(li->rd, &line, &len, err);
        if (rc != BF_OK)
            break;
        if (line == NULL) {
            jsonl_reader_free(li->rd);
            li->rd = NULL;
            continue;
        }
        li->offs[n] = li->arena.len;
        rc = buf_append(&li->arena, line, len);
        if (rc != BF_OK)
            rc = bf_err_set(err, BF_E_NOMEM, "raw read-back: out of memory");
        li->recs[n++].len = len;
    }
    if (rc != BF_OK || n == 0)
        return rc;
    for (i = 0; i < n; i++)
        li->recs[i].json = li->arena.data + li->offs[i];
    li->page.number++;
    li->page.count = n;
    li->page.records = li->recs;
    *out = &li->page;
    return BF_OK;
}

static void li_close(struct source *s)
{
    struct li_source *li = (struct li_source *)s;

    jsonl_reader_free(li->rd);
    cJSON_Delete(li->manifest);
    buf_cleanup(&li->arena);
    free(li);
}

static const struct source_ops li_ops = {li_next_page, li_close};

enum bf_rc lambda_ingest_open(const struct source_open_params *p,
                              struct source **out, struct bf_err *err)
{
    struct li_source *li = NULL;
    int found = 0;
    enum bf_rc rc;

    *out = NULL;
    rc = invoke(p, err);
    if (rc != BF_OK)
        return rc;
    li = calloc(1, sizeof(*li));
    if (li == NULL)
        return bf_err_set(err, BF_E_NOMEM, "lambda ingest: out of memory");
    li->base.ops = &li_ops;
    li->sink = p->sink;
    buf_init(&li->arena, 0);
    if (p->want_records) {
        snprintf(li->raw_dir, sizeof(li->raw_dir), "%s", p->raw_dir);
        rc = chunkout_read_manifest(p->sink, p->raw_dir, &li->manifest,
                                    &found, err);
        if (rc == BF_OK && !found)
            rc = bf_err_set(err, BF_E_TRANSFORM_FAILED,
                            "no raw manifest in %s to transform", p->raw_dir);
        if (rc == BF_OK) {
            const cJSON *parts =
                cJSON_GetObjectItemCaseSensitive(li->manifest, "parts");

            li->next_part = parts != NULL ? parts->child : NULL;
        }
    }
    if (rc != BF_OK) {
        li_close(&li->base);
        return rc;
    }
    *out = &li->base;
    return BF_OK;
}
