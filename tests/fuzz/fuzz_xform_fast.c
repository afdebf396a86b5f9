/* fuzz_xform_fast.c -- libFuzzer target: the chunk's transform (the
 * writer) against the reference transform of tests/support/xform_oracle.c,
 * on the same record bytes.
 *
 * The first byte picks the table; the rest is one raw record's text, as
 * cw_split_page() hands it out. Two differentials, each aborting on any
 * difference:
 *  - jsonin_parse() (the reused-arena parser) may give up, but whenever it
 *    returns a tree it must be the one cJSON_ParseWithLength() builds
 *    (node by node: types, keys, values, order; and the same compact text);
 *  - xform_write_record() (the canonical line written straight from the
 *    raw tree) must give byte for byte what xoracle_map_record() +
 *    cJSON_PrintUnformatted() give, or the same reject reason, with the
 *    same coercion count.
 * Plus no crash, no leak, no read outside the record.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "transform/jsonin.h"
#include "transform/xform.h"
#include "xform_oracle.h"

/* Every table of src/catalog/endpoints.json with a mapping. */
static const char *const tables[] = {"service/tickets", "time/entries",
                                     "company/companies", "company/contacts",
                                     "procurement/products", "finance/agreements",
                                     "project/projects", "system/members"};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))
static struct xform_mappings *maps;
static struct xoracle_mappings *omaps;
static struct xform_ctx ctxs[NTABLES];
static struct xform_writer *writers[NTABLES];
static struct jsonin *jin;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct bf_err err;
    int i;

    (void)argc;
    (void)argv;
    bf_err_init(&err);
    if (xform_mappings_load(NULL, &maps, &err) != BF_OK ||
        xoracle_load(NULL, &omaps, &err) != BF_OK ||
        jsonin_new(&jin, &err) != BF_OK) {
        fprintf(stderr, "fuzz_xform_fast: set-up: %s\n", err.message);
        abort();
    }
    for (i = 0; i < (int)NTABLES; i++) {
        const struct xform_table *t = xform_find(maps, "connectwise", tables[i]);

        if (t == NULL)
            abort();
        ctxs[i] = (struct xform_ctx){"tenant-1", "connectwise", tables[i],
                                     xform_table_canonical(t),
                                     "2026-01-01T00:00:00.000Z", "bf-1"};
        if (xform_writer_new(t, &ctxs[i], &writers[i], &err) != BF_OK)
            abort();
    }
    return 0;
}

/* Node by node, in order: cJSON_Compare() looks object members up by
 * name, so it calls two trees with a repeated key different. */
static int same_tree(const cJSON *a, const cJSON *b)
{
    const cJSON *x = NULL, *y = NULL;

    if ((a->type & 0xFF) != (b->type & 0xFF) || a->valueint != b->valueint ||
        memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0)
        return 0;
    if ((a->string == NULL) != (b->string == NULL) ||
        (a->string != NULL && strcmp(a->string, b->string) != 0))
        return 0;
    if ((a->valuestring == NULL) != (b->valuestring == NULL) ||
        (a->valuestring != NULL && strcmp(a->valuestring, b->valuestring) != 0))
        return 0;
    for (x = a->child, y = b->child; x != NULL && y != NULL; x = x->next, y = y->next)
        if (!same_tree(x, y))
            return 0;
    return x == NULL && y == NULL;
}

/* jsonin's tree, when it has one, is cJSON's. */
static void check_parse(const cJSON *fast, const cJSON *ref)
{
    char *a = NULL, *b = NULL;

    if (fast == NULL)
        return; /* it may leave a record to cJSON */
    if (ref == NULL || !same_tree(fast, ref))
        abort();
    a = cJSON_PrintUnformatted(fast);
    b = cJSON_PrintUnformatted(ref);
    if (a == NULL || b == NULL || strcmp(a, b) != 0)
        abort();
    free(a);
    free(b);
}

/* The writer says what the reference mapping says. */
static void check_write(int k, const cJSON *raw)
{
    const struct xoracle_table *t = xoracle_find(omaps, "connectwise", tables[k]);
    char reason_ref[XFORM_REASON_MAX] = "", reason_fast[XFORM_REASON_MAX] = "";
    cJSON *rec = NULL;
    const char *line = NULL;
    char *text = NULL;
    size_t len = 0;
    int nulls_ref = 0, nulls_fast = 0;
    struct bf_err err;

    bf_err_init(&err);
    if (t == NULL)
        abort();
    if (xoracle_map_record(t, raw, &ctxs[k], &rec, reason_ref, &nulls_ref, &err) != BF_OK)
        return; /* only BF_E_NOMEM */
    if (xform_write_record(writers[k], raw, &line, &len, reason_fast, &nulls_fast,
                           &err) != BF_OK)
        abort();
    if ((rec == NULL) != (line == NULL))
        abort();
    if (rec == NULL) {
        if (strcmp(reason_ref, reason_fast) != 0)
            abort();
        return;
    }
    text = cJSON_PrintUnformatted(rec);
    if (text == NULL || strlen(text) != len || memcmp(text, line, len) != 0 ||
        nulls_ref != nulls_fast)
        abort();
    free(text);
    cJSON_Delete(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const cJSON *fast = NULL;
    cJSON *ref = NULL;
    char *body = NULL;
    int k;

    if (size < 1)
        return 0;
    k = data[0] % NTABLES;
    /* Exact-size copy: neither parser may read past the record. */
    body = malloc(size);
    if (body == NULL)
        abort();
    memcpy(body, data + 1, size - 1);
    fast = jsonin_parse(jin, body, size - 1);
    ref = cJSON_ParseWithLength(body, size - 1);
    check_parse(fast, ref);
    if (ref != NULL && cJSON_IsObject(ref))
        check_write(k, ref);
    if (fast != NULL && cJSON_IsObject(fast))
        check_write(k, fast);
    cJSON_Delete(ref);
    free(body);
    return 0;
}
