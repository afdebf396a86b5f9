/* fuzz_cw_page.c -- libFuzzer target: a ConnectWise page through the
 * splitter and the transform, as the chunk pipeline runs it.
 *
 * The first byte picks the table (tickets, time entries, companies,
 * contacts); the rest is the response body. cw_split_page() must accept
 * only an array of objects within the depth cap, and each element it hands
 * out must be exact JSON-object bytes inside the body; every element is
 * then parsed, mapped by the writer (xform_write_record) or turned into a
 * reject line, exactly as src/chunk/chunk.c does. No crash, no leak, no read
 * outside the body.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "source/cw.h"
#include "transform/xform.h"

#define FUZZ_MAX_DEPTH 64 /* cw_options.max_depth's default */

/* Every table of src/catalog/endpoints.json with a mapping. */
static const char *const tables[] = {"service/tickets", "time/entries",
                                     "company/companies", "company/contacts",
                                     "procurement/products", "finance/agreements",
                                     "project/projects", "system/members"};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))
static struct xform_mappings *maps;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct bf_err err;

    (void)argc;
    (void)argv;
    bf_err_init(&err);
    if (xform_mappings_load(NULL, &maps, &err) != BF_OK) {
        fprintf(stderr, "fuzz_cw_page: mappings: %s\n", err.message);
        abort();
    }
    return 0;
}

static void map_one(struct xform_writer *w, const struct xform_ctx *ctx,
                    const cJSON *raw)
{
    char reason[XFORM_REASON_MAX] = "";
    const char *line = NULL;
    size_t len = 0;
    cJSON *rec = NULL;
    int nulls = 0;
    struct bf_err err;

    bf_err_init(&err);
    if (xform_write_record(w, raw, &line, &len, reason, &nulls, &err) != BF_OK)
        return; /* only BF_E_NOMEM */
    if (line != NULL) {
        /* ...,"record_hash":"<64 hex digits>"} */
        if (len < 82 || memcmp(line + len - 82, ",\"record_hash\":\"", 16) != 0)
            abort();
        return;
    }
    if (reason[0] == '\0')
        abort(); /* a reject always says why */
    rec = xform_reject_record(raw, reason, ctx);
    cJSON_Delete(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct xform_table *t = NULL;
    struct xform_writer *w = NULL;
    struct source_record *recs = NULL;
    size_t cap = 0, count = 0;
    struct bf_err err;
    struct xform_ctx ctx;
    char *body = NULL;

    if (size < 1)
        return 0;
    t = xform_find(maps, "connectwise", tables[data[0] % NTABLES]);
    if (t == NULL)
        abort();
    ctx = (struct xform_ctx){"tenant-1", "connectwise", tables[data[0] % NTABLES],
                             xform_table_canonical(t),
                             "2026-01-01T00:00:00.000Z", "bf-1"};
    /* Exact-size copy: the splitter must stay inside `len`. */
    body = malloc(size);
    memcpy(body, data + 1, size - 1);
    bf_err_init(&err);
    if (xform_writer_new(t, &ctx, &w, &err) != BF_OK)
        goto out;
    if (cw_split_page(body, size - 1, FUZZ_MAX_DEPTH, &recs, &cap, &count,
                      &err) != BF_OK)
        goto out;
    for (size_t i = 0; i < count; i++) {
        cJSON *raw = NULL;

        if (recs[i].json < body || recs[i].len == 0 ||
            recs[i].json + recs[i].len > body + size - 1 ||
            recs[i].json[0] != '{' || recs[i].json[recs[i].len - 1] != '}')
            abort();
        raw = cJSON_ParseWithLength(recs[i].json, recs[i].len);
        if (raw == NULL)
            continue; /* chunk.c: Backfill.TransformFailed */
        map_one(w, &ctx, raw);
        cJSON_Delete(raw);
    }
out:
    xform_writer_free(w);
    free(recs);
    free(body);
    return 0;
}
