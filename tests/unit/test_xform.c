/* test_xform.c -- the canonical transform: golden files per table, rejects,
 * type coercion, path spellings, the mappings directory override, hashes.
 *
 * Everything here maps with the worker's writer (xform_write_record). The
 * reference transform of tests/support/xform_oracle.c builds each record
 * as a cJSON tree from its own reading of the same mapping files; the
 * golden, coercion, random-record and clashing-name tests check that the
 * writer's line is byte for byte cJSON_PrintUnformatted() of that tree.
 *
 * Golden files live in tests/unit/fixtures/xform/: <table>.raw.jsonl holds
 * raw ConnectWise records, <table>.expected.jsonl one line per raw line:
 * the canonical record, or {"rejected": "<reason>"}. To regenerate after a
 * deliberate mapping change: BF_XFORM_REGEN=1 make check-unit T=xform, then
 * review the diff line by line before committing it.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "transform/jsonin.h"
#include "util/jsonout.h"
#include "transform/xform.h"
#include "util/buf.h"

#include "testsuite.h"
#include "xform_oracle.h"

static const struct xform_ctx base_ctx = {
    .tenant_id = "acme",
    .source_system = "connectwise",
    .source_table = NULL,
    .canonical_table = NULL,
    .ingestion_timestamp = "2026-01-02T03:04:05.000Z",
    .backfill_id = "bf-test-1",
};

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    struct buf b;
    char tmp[4096];
    size_t n;

    if (fp == NULL)
        return NULL;
    buf_init(&b, 0);
    for (;;) {
        n = fread(tmp, 1, sizeof(tmp), fp);
        if (n == 0)
            break;
        ck_assert_int_eq(buf_append(&b, tmp, n), BF_OK);
    }
    fclose(fp);
    return buf_detach(&b);
}

/* Map `raw` with a writer of its own and read the line back as a tree:
 * *out is the canonical record (caller frees) or NULL with `reason`. */
static enum bf_rc writer_map(const struct xform_table *t, const cJSON *raw,
                             const struct xform_ctx *ctx, cJSON **out,
                             char reason[XFORM_REASON_MAX], int *nulls,
                             struct bf_err *e)
{
    struct xform_writer *w = NULL;
    const char *line = NULL;
    size_t len = 0;
    enum bf_rc rc;

    *out = NULL;
    ck_assert_int_eq(xform_writer_new(t, ctx, &w, e), BF_OK);
    rc = xform_write_record(w, raw, &line, &len, reason, nulls, e);
    if (rc == BF_OK && line != NULL) {
        *out = cJSON_ParseWithLength(line, len);
        ck_assert_msg(*out != NULL, "the writer's line is not JSON: %s", line);
    }
    xform_writer_free(w);
    return rc;
}

/* Map one raw line into the golden-file form. Caller frees. */
static char *golden_line(const struct xform_table *t, const char *raw_text,
                         const struct xform_ctx *ctx)
{
    cJSON *raw = cJSON_Parse(raw_text);
    cJSON *rej = NULL;
    struct xform_writer *w = NULL;
    char reason[XFORM_REASON_MAX];
    const char *line = NULL;
    size_t len = 0;
    struct bf_err e;
    char *s = NULL;

    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(xform_writer_new(t, ctx, &w, &e), BF_OK);
    ck_assert_int_eq(xform_write_record(w, raw, &line, &len, reason, NULL, &e),
                     BF_OK);
    if (line != NULL) {
        ck_assert_str_eq(reason, "");
        s = strndup(line, len);
    } else {
        ck_assert_str_ne(reason, "");
        rej = cJSON_CreateObject();
        cJSON_AddStringToObject(rej, "rejected", reason);
        s = cJSON_PrintUnformatted(rej);
    }
    xform_writer_free(w);
    cJSON_Delete(raw);
    cJSON_Delete(rej);
    return s;
}

/* The oracle's table for the same (system, table) as `t`. */
static const struct xoracle_table *oracle_table(const struct xoracle_mappings *om,
                                                const struct xform_ctx *ctx)
{
    const struct xoracle_table *ot =
        xoracle_find(om, ctx->source_system, ctx->source_table);

    ck_assert_ptr_nonnull(ot);
    return ot;
}

/* The writer must give what the oracle's tree + cJSON_PrintUnformatted
 * give for `raw_text`: the same line byte for byte, or the same reject
 * reason, and the same coercion_nulls. */
static void check_writer_same(const struct xform_table *t,
                              const struct xoracle_table *ot,
                              const char *raw_text, const struct xform_ctx *ctx)
{
    cJSON *raw = cJSON_Parse(raw_text);
    cJSON *out = NULL;
    struct xform_writer *w = NULL;
    char r1[XFORM_REASON_MAX], r2[XFORM_REASON_MAX];
    const char *line = NULL;
    size_t len = 0;
    int n1 = -1, n2 = -1;
    struct bf_err e;
    char *s = NULL;

    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(xoracle_map_record(ot, raw, ctx, &out, r1, &n1, &e), BF_OK);
    ck_assert_int_eq(xform_writer_new(t, ctx, &w, &e), BF_OK);
    /* Twice: the second call reuses the writer's buffers. */
    ck_assert_int_eq(xform_write_record(w, raw, &line, &len, r2, &n2, &e), BF_OK);
    ck_assert_int_eq(xform_write_record(w, raw, &line, &len, r2, &n2, &e), BF_OK);
    ck_assert_str_eq(r1, r2);
    ck_assert_int_eq(n1, n2);
    if (out == NULL) {
        ck_assert_ptr_null(line);
    } else {
        s = cJSON_PrintUnformatted(out);
        ck_assert_ptr_nonnull(line);
        ck_assert_uint_eq(len, strlen(line));
        ck_assert_msg(strcmp(s, line) == 0, "raw %s\noracle %s\nwriter %s",
                      raw_text, s, line);
    }
    free(s);
    xform_writer_free(w);
    cJSON_Delete(out);
    cJSON_Delete(raw);
}

static const char *const golden_tables[][2] = {
    { "tickets", "service/tickets" },
    { "time_entries", "time/entries" },
    { "companies", "company/companies" },
    { "contacts", "company/contacts" },
    { "products", "procurement/products" },
    { "agreements", "finance/agreements" },
    { "projects", "project/projects" },
    { "members", "system/members" },
};

START_TEST(golden_per_table)
{
    const char *table = golden_tables[_i][0];
    struct xform_mappings *m = NULL;
    struct xoracle_mappings *om = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx;
    struct bf_err e;
    char path[4096];
    char *raw = NULL, *exp = NULL, *rl = NULL, *el = NULL, *rs = NULL, *es = NULL;
    struct buf got;
    int n = 0;

    ck_assert_int_eq(xform_mappings_load(NULL, &m, &e), BF_OK);
    ck_assert_int_eq(xoracle_load(NULL, &om, &e), BF_OK);
    t = xform_find(m, "connectwise", golden_tables[_i][1]);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(xform_table_canonical(t), table);
    ctx.source_table = golden_tables[_i][1];
    ctx.canonical_table = table;
    snprintf(path, sizeof(path), "%s/tests/unit/fixtures/xform/%s.raw.jsonl",
             getenv("BF_TOP"), table);
    raw = slurp(path);
    ck_assert_msg(raw != NULL, "cannot read %s", path);
    buf_init(&got, 0);
    for (rl = strtok_r(raw, "\n", &rs); rl != NULL; rl = strtok_r(NULL, "\n", &rs)) {
        char *line = golden_line(t, rl, &ctx);

        check_writer_same(t, oracle_table(om, &ctx), rl, &ctx);

        buf_printf(&got, "%s\n", line);
        free(line);
    }
    snprintf(path, sizeof(path), "%s/tests/unit/fixtures/xform/%s.expected.jsonl",
             getenv("BF_TOP"), table);
    if (getenv("BF_XFORM_REGEN") != NULL) {
        FILE *fp = fopen(path, "wb");

        ck_assert_ptr_nonnull(fp);
        fwrite(got.data, 1, got.len, fp);
        fclose(fp);
    }
    exp = slurp(path);
    ck_assert_msg(exp != NULL, "cannot read %s", path);
    /* Line by line, so a failure names the record. */
    rl = strtok_r(got.data, "\n", &rs);
    el = strtok_r(exp, "\n", &es);
    while (rl != NULL || el != NULL) {
        n++;
        ck_assert_msg(rl != NULL && el != NULL, "%s: line count differs at %d",
                      table, n);
        ck_assert_msg(strcmp(rl, el) == 0, "%s line %d:\n got  %s\n want %s",
                      table, n, rl, el);
        rl = strtok_r(NULL, "\n", &rs);
        el = strtok_r(NULL, "\n", &es);
    }
    ck_assert_int_ge(n, 3);
    buf_cleanup(&got);
    free(raw);
    free(exp);
    xform_mappings_free(m);
    xoracle_free(om);
}
END_TEST

/* ---- a probe mapping in a temporary override directory ---- */

static char probe_dir[256];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *fp = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void make_dir(void)
{
    snprintf(probe_dir, sizeof(probe_dir), "/tmp/bf-xform-%d-XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(probe_dir));
}

static void remove_dir(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", probe_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char probe_mapping[] =
    "{\"canonical_table\": \"probe\", \"sources\": {\"test\": {\"probe\": {"
    "\"fields\": {"
    " \"s\": {\"path\": \"v\", \"type\": \"string\"},"
    " \"i\": {\"path\": \"v\", \"type\": \"integer\"},"
    " \"n\": {\"path\": \"v\", \"type\": \"number\"},"
    " \"b\": {\"path\": \"v\", \"type\": \"boolean\"},"
    " \"t\": {\"path\": \"v\", \"type\": \"timestamp\"},"
    " \"j\": {\"path\": \"v\", \"type\": \"json\"}"
    "}}}}}";

static cJSON *map_probe(const struct xform_table *t, const char *raw_text,
                        int *nulls)
{
    cJSON *raw = cJSON_Parse(raw_text);
    cJSON *out = NULL;
    char reason[XFORM_REASON_MAX];
    struct bf_err e;
    struct xform_ctx ctx = base_ctx;

    ctx.source_system = "test";
    ctx.source_table = "probe";
    ctx.canonical_table = "probe";
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(writer_map(t, raw, &ctx, &out, reason, nulls, &e), BF_OK);
    cJSON_Delete(raw);
    ck_assert_msg(out != NULL, "rejected: %s", reason);
    return out;
}

/* The compact JSON of member `k`, for compact comparisons. */
static void expect_member(const cJSON *o, const char *k, const char *want,
                          const char *input)
{
    char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, k));

    ck_assert_msg(s != NULL && strcmp(s, want) == 0,
                  "input %s as %s: got %s, want %s", input, k, s ? s : "(none)",
                  want);
    free(s);
}

START_TEST(coercion_rules)
{
    static const struct {
        const char *v;
        const char *s, *i, *n, *b, *t;
        int nulls;
    } cases[] = {
        { "42", "\"42\"", "42", "42", "null", "null", 2 },
        { "1", "\"1\"", "1", "1", "true", "null", 1 },
        { "0", "\"0\"", "0", "0", "false", "null", 1 },
        { "2.5", "\"2.5\"", "null", "2.5", "null", "null", 3 },
        { "0.1", "\"0.1\"", "null", "0.1", "null", "null", 3 },
        { "\"17\"", "\"17\"", "17", "17", "null", "null", 2 },
        { "\" 17 \"", "\" 17 \"", "17", "17", "null", "null", 2 },
        { "\"3.25\"", "\"3.25\"", "null", "3.25", "null", "null", 3 },
        { "\"abc\"", "\"abc\"", "null", "null", "null", "null", 4 },
        { "\"\"", "\"\"", "null", "null", "null", "null", 4 },
        { "\"0x1A\"", "\"0x1A\"", "null", "null", "null", "null", 4 },
        { "\"nan\"", "\"nan\"", "null", "null", "null", "null", 4 },
        { "true", "\"true\"", "null", "null", "true", "null", 3 },
        { "\"TRUE\"", "\"TRUE\"", "null", "null", "true", "null", 3 },
        { "\"false\"", "\"false\"", "null", "null", "false", "null", 3 },
        { "1e16", "\"1e+16\"", "null", "1e+16", "null", "null", 3 },
        { "\"2025-06-13T06:00:57Z\"", "\"2025-06-13T06:00:57Z\"", "null",
          "null", "null", "\"2025-06-13T06:00:57.000Z\"", 3 },
        { "\"2025-06-13T08:00:57.295053+02:00\"",
          "\"2025-06-13T08:00:57.295053+02:00\"", "null", "null", "null",
          "\"2025-06-13T06:00:57.295Z\"", 3 },
        { "\"2025-06-13\"", "\"2025-06-13\"", "null", "null", "null",
          "\"2025-06-13T00:00:00.000Z\"", 3 },
        { "\"2025-02-30T00:00:00Z\"", "\"2025-02-30T00:00:00Z\"", "null",
          "null", "null", "null", 4 },
        { "{\"b\":1,\"a\":[true]}", "\"{\\\"b\\\":1,\\\"a\\\":[true]}\"", "null",
          "null", "null", "null", 4 },
        { "null", "null", "null", "null", "null", "null", 0 },
    };
    struct xform_mappings *m = NULL;
    struct xoracle_mappings *om = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx;
    struct bf_err e;
    size_t k;

    make_dir();
    write_file(probe_dir, "probe.json", probe_mapping);
    ck_assert_int_eq(xform_mappings_load(probe_dir, &m, &e), BF_OK);
    ck_assert_int_eq(xoracle_load(probe_dir, &om, &e), BF_OK);
    t = xform_find(m, "test", "probe");
    ck_assert_ptr_nonnull(t);
    ctx.source_system = "test";
    ctx.source_table = "probe";
    ctx.canonical_table = "probe";
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char raw[256];
        int nulls = -1;
        cJSON *o = NULL;

        snprintf(raw, sizeof(raw), "{\"v\": %s}", cases[k].v);
        check_writer_same(t, oracle_table(om, &ctx), raw, &ctx);
        o = map_probe(t, raw, &nulls);
        expect_member(o, "s", cases[k].s, cases[k].v);
        expect_member(o, "i", cases[k].i, cases[k].v);
        expect_member(o, "n", cases[k].n, cases[k].v);
        expect_member(o, "b", cases[k].b, cases[k].v);
        expect_member(o, "t", cases[k].t, cases[k].v);
        ck_assert_msg(nulls == cases[k].nulls, "input %s: %d coercion nulls, want %d",
                      cases[k].v, nulls, cases[k].nulls);
        cJSON_Delete(o);
    }
    /* Absent is null, not a coercion failure; json passes values through. */
    {
        int nulls = -1;
        cJSON *o = map_probe(t, "{\"other\": 1}", &nulls);

        expect_member(o, "s", "null", "absent");
        expect_member(o, "j", "null", "absent");
        ck_assert_int_eq(nulls, 0);
        cJSON_Delete(o);
        o = map_probe(t, "{\"v\": {\"b\": 1, \"a\": [true]}}", &nulls);
        expect_member(o, "j", "{\"b\":1,\"a\":[true]}", "object");
        cJSON_Delete(o);
    }
    xform_mappings_free(m);
    xoracle_free(om);
    remove_dir();
}
END_TEST

START_TEST(path_spellings_and_override)
{
    static const char mapping[] =
        "{\"canonical_table\": \"tickets\", \"sources\": {\"connectwise\": {"
        "\"service/tickets\": {\"fields\": {"
        " \"id\": {\"path\": \"id\", \"type\": \"integer\", \"required\": true},"
        " \"summary\": {\"path\": \"summary\", \"required\": true},"
        " \"by_slash\": {\"path\": \"status/name\"},"
        " \"by_dot\": {\"path\": \"status.name\"},"
        " \"by_underscores\": {\"path\": \"status__name\"},"
        " \"info_updated\": {\"path\": \"_info__lastUpdated\", \"type\": \"timestamp\"},"
        " \"first_type\": {\"path\": \"types/0/name\"},"
        " \"fallback\": {\"path\": [\"missing/x\", \"nullish\", \"owner.identifier\"]},"
        " \"shorthand\": \"owner__identifier\""
        "}}}}}";
    struct xform_mappings *m = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx;
    cJSON *raw = NULL, *out = NULL;
    char reason[XFORM_REASON_MAX];
    struct bf_err e;

    make_dir();
    write_file(probe_dir, "my-tickets.json", mapping);
    write_file(probe_dir, "README.txt", "not a mapping");
    ck_assert_int_eq(xform_mappings_load(probe_dir, &m, &e), BF_OK);
    t = xform_find(m, "connectwise", "service/tickets");
    ck_assert_ptr_nonnull(t);
    /* The other embedded tables are still there. */
    ck_assert_ptr_nonnull(xform_find(m, "connectwise", "company/contacts"));
    ck_assert_ptr_null(xform_find(m, "connectwise", "no/such"));
    ctx.source_table = "service/tickets";
    ctx.canonical_table = "tickets";
    raw = cJSON_Parse("{\"id\": 7, \"summary\": \"s\", \"status\": {\"name\": \"Open\"},"
                      " \"_info\": {\"lastUpdated\": \"2025-01-02T03:04:05Z\"},"
                      " \"types\": [{\"name\": \"A\"}, {\"name\": \"B\"}],"
                      " \"nullish\": null, \"owner\": {\"identifier\": \"jsmith\"}}");
    ck_assert_int_eq(writer_map(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
    ck_assert_ptr_nonnull(out);
    expect_member(out, "by_slash", "\"Open\"", "status");
    expect_member(out, "by_dot", "\"Open\"", "status");
    expect_member(out, "by_underscores", "\"Open\"", "status");
    expect_member(out, "info_updated", "\"2025-01-02T03:04:05.000Z\"", "_info");
    expect_member(out, "first_type", "\"A\"", "types");
    expect_member(out, "fallback", "\"jsmith\"", "fallback");
    expect_member(out, "shorthand", "\"jsmith\"", "shorthand");
    /* The override replaced the embedded tickets mapping entirely. */
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(out, "status"));
    cJSON_Delete(out);
    cJSON_Delete(raw);
    xform_mappings_free(m);
    remove_dir();
}
END_TEST

START_TEST(bad_mapping_is_config_error)
{
    static const char *const bad[] = {
        "{not json",
        "{\"sources\": {}}",
        "{\"canonical_table\": \"x\", \"sources\": {\"s\": {\"t\": {\"fields\": {\"a\": {\"path\": \"a\", \"type\": \"date\"}}}}}}",
        "{\"canonical_table\": \"x\", \"sources\": {\"s\": {\"t\": {\"fields\": {\"a\": {\"path\": \"a//b\"}}}}}}",
        "{\"canonical_table\": \"x\", \"sources\": {\"s\": {\"t\": {\"fields\": {\"a\": {\"path\": \"a\", \"required\": \"yes\"}}}}}}",
        "{\"canonical_table\": \"x\", \"sources\": {\"s\": {\"t\": {\"fields\": {}}}}}",
    };
    struct xform_mappings *m = NULL;
    struct bf_err e;
    size_t k;

    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        make_dir();
        write_file(probe_dir, "bad.json", bad[k]);
        bf_err_init(&e);
        ck_assert_int_eq(xform_mappings_load(probe_dir, &m, &e), BF_E_CONFIG);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(e.message, "bad.json") != NULL, "case %zu: %s", k,
                      e.message);
        remove_dir();
    }
    ck_assert_int_eq(xform_mappings_load("/nonexistent/dir", &m, &e), BF_E_CONFIG);
}
END_TEST

START_TEST(rejects_carry_reason_and_record)
{
    struct xform_mappings *m = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx;
    cJSON *raw = NULL, *out = NULL, *rej = NULL;
    char reason[XFORM_REASON_MAX];
    struct bf_err e;
    char *s = NULL;

    ck_assert_int_eq(xform_mappings_load(NULL, &m, &e), BF_OK);
    t = xform_find(m, "connectwise", "time/entries");
    ctx.source_table = "time/entries";
    ctx.canonical_table = "time_entries";
    raw = cJSON_Parse("{\"id\": 9, \"notes\": \"x\"}");
    ck_assert_int_eq(writer_map(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(reason, "missing required field 'actual_hours' "
                             "(source path 'actualHours')");
    rej = xform_reject_record(raw, reason, &ctx);
    s = cJSON_PrintUnformatted(rej);
    ck_assert_str_eq(s, "{\"reason\":\"missing required field 'actual_hours' "
                        "(source path 'actualHours')\",\"tenant_id\":\"acme\","
                        "\"source_system\":\"connectwise\",\"source_table\":"
                        "\"time/entries\",\"canonical_table\":\"time_entries\","
                        "\"ingestion_timestamp\":\"2026-01-02T03:04:05.000Z\","
                        "\"backfill_id\":\"bf-test-1\",\"record\":{\"id\":9,"
                        "\"notes\":\"x\"}}");
    free(s);
    cJSON_Delete(rej);
    cJSON_Delete(raw);
    /* A required field that is null counts as missing. */
    raw = cJSON_Parse("{\"id\": null, \"actualHours\": 1}");
    ck_assert_int_eq(writer_map(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(reason, "missing required field 'id' (source path 'id')");
    cJSON_Delete(raw);
    xform_mappings_free(m);
}
END_TEST

START_TEST(record_hash_is_stable)
{
    struct xform_mappings *m = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx, ctx2 = base_ctx;
    cJSON *raw = NULL, *a = NULL, *b = NULL, *c = NULL;
    char reason[XFORM_REASON_MAX], h[65];
    struct bf_err e;
    const char *ha, *hb, *hc;

    ck_assert_int_eq(xform_mappings_load(NULL, &m, &e), BF_OK);
    t = xform_find(m, "connectwise", "company/companies");
    ctx.source_table = ctx2.source_table = "company/companies";
    ctx.canonical_table = ctx2.canonical_table = "companies";
    ctx2.ingestion_timestamp = "2030-01-01T00:00:00.000Z";
    ctx2.backfill_id = "another-run";
    raw = cJSON_Parse("{\"id\": 1, \"name\": \"A\", \"city\": \"X\"}");
    ck_assert_int_eq(writer_map(t, raw, &ctx, &a, reason, NULL, &e), BF_OK);
    ck_assert_int_eq(writer_map(t, raw, &ctx2, &b, reason, NULL, &e), BF_OK);
    cJSON_ReplaceItemInObject(raw, "city", cJSON_CreateString("Y"));
    ck_assert_int_eq(writer_map(t, raw, &ctx, &c, reason, NULL, &e), BF_OK);
    ha = cJSON_GetObjectItem(a, "record_hash")->valuestring;
    hb = cJSON_GetObjectItem(b, "record_hash")->valuestring;
    hc = cJSON_GetObjectItem(c, "record_hash")->valuestring;
    ck_assert_int_eq(strlen(ha), 64);
    ck_assert_str_eq(ha, hb);
    ck_assert_str_ne(ha, hc);
    /* The hash is the SHA-256 of the sorted compact form, recomputable:
     * the oracle's reading of the rule gives the writer's hash. */
    ck_assert_int_eq(xoracle_record_hash(a, h, &e), BF_OK);
    ck_assert_str_eq(h, ha);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(raw);
    /* Key order inside nested values does not matter; known answer:
     * printf '{"a":1,"b":{"x":null,"y":[2,"z"]}}' | sha256sum */
    a = cJSON_Parse("{\"b\": {\"y\": [2, \"z\"], \"x\": null}, \"a\": 1,"
                    " \"backfill_id\": \"q\", \"ingestion_timestamp\": \"t\"}");
    ck_assert_int_eq(xoracle_record_hash(a, h, &e), BF_OK);
    ck_assert_str_eq(h, "d719f6d38390b67ee8a37ce8f748273c2fafcb41bd59707e670f5f2f45d54d43");
    cJSON_Delete(a);
    xform_mappings_free(m);
}
END_TEST

/* The required fields: a record with just those maps; without any
 * one of them it is rejected, naming the field. */
START_TEST(required_fields_per_table)
{
    static const struct {
        const char *table, *canonical, *raw_ok, *drop[2], *field[2];
    } cases[] = {
        { "service/tickets", "tickets", "{\"id\":1,\"summary\":\"s\"}",
          { "{\"summary\":\"s\"}", "{\"id\":1}" }, { "id", "summary" } },
        { "time/entries", "time_entries", "{\"id\":1,\"actualHours\":2}",
          { "{\"actualHours\":2}", "{\"id\":1}" }, { "id", "actual_hours" } },
        { "company/companies", "companies", "{\"id\":1,\"name\":\"n\"}",
          { "{\"name\":\"n\"}", "{\"id\":1}" }, { "id", "company_name" } },
        { "company/contacts", "contacts", "{\"id\":1,\"firstName\":\"f\"}",
          { "{\"firstName\":\"f\"}", "{\"id\":1}" }, { "id", "first_name" } },
        { "procurement/products", "products", "{\"id\":1,\"catalogItem\":{\"id\":2}}",
          { "{\"catalogItem\":{\"id\":2}}", "{\"id\":1}" }, { "id", "catalog_item_id" } },
        { "finance/agreements", "agreements", "{\"id\":1,\"name\":\"n\"}",
          { "{\"name\":\"n\"}", "{\"id\":1}" }, { "id", "name" } },
        { "project/projects", "projects", "{\"id\":1,\"name\":\"n\"}",
          { "{\"name\":\"n\"}", "{\"id\":1}" }, { "id", "name" } },
        { "system/members", "members", "{\"id\":1,\"identifier\":\"m\"}",
          { "{\"identifier\":\"m\"}", "{\"id\":1}" }, { "id", "identifier" } },
    };
    struct xform_mappings *m = NULL;
    struct bf_err e;
    size_t k, d;

    ck_assert_int_eq(xform_mappings_load(NULL, &m, &e), BF_OK);
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct xform_table *t = xform_find(m, "connectwise", cases[k].table);
        struct xform_ctx ctx = base_ctx;
        char reason[XFORM_REASON_MAX], want[128];
        cJSON *raw = cJSON_Parse(cases[k].raw_ok), *out = NULL;

        ck_assert_ptr_nonnull(t);
        ctx.source_table = cases[k].table;
        ctx.canonical_table = cases[k].canonical;
        ck_assert_int_eq(writer_map(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
        ck_assert_msg(out != NULL, "%s: %s", cases[k].table, reason);
        cJSON_Delete(out);
        cJSON_Delete(raw);
        for (d = 0; d < 2; d++) {
            raw = cJSON_Parse(cases[k].drop[d]);
            ck_assert_int_eq(writer_map(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
            ck_assert_ptr_null(out);
            snprintf(want, sizeof(want), "missing required field '%s'", cases[k].field[d]);
            ck_assert_msg(strncmp(reason, want, strlen(want)) == 0, "%s", reason);
            cJSON_Delete(raw);
        }
    }
    xform_mappings_free(m);
}
END_TEST


/* The number rule of the old xform number_text(), the reference for
 * jsonout_number_short(). */
static void ref_short(double d, char out[32])
{
    if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
        snprintf(out, 32, "%.0f", d);
        return;
    }
    snprintf(out, 32, "%.15g", d);
    if (strtod(out, NULL) != d)
        snprintf(out, 32, "%.17g", d);
}

static void check_number(double d)
{
    cJSON *n = cJSON_CreateNumber(d);
    char *want = cJSON_PrintUnformatted(n);
    char ref[32];
    struct buf b;

    buf_init(&b, 0);
    ck_assert_int_eq(jsonout_number_cjson(&b, d), BF_OK);
    ck_assert_msg(strcmp(b.data, want) == 0, "%.17g: cJSON %s, jsonout %s", d,
                  want, b.data);
    buf_reset(&b);
    ref_short(d, ref);
    ck_assert_int_eq(jsonout_number_short(&b, d), BF_OK);
    ck_assert_msg(strcmp(b.data, ref) == 0, "%.17g: short %s, jsonout %s", d,
                  ref, b.data);
    buf_cleanup(&b);
    free(want);
    cJSON_Delete(n);
}

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

START_TEST(jsonout_numbers_match_cjson)
{
    static const double fixed[] = {
        0, 1, -1, 7, 10, 100, 2147483647.0, 2147483648.0, -2147483648.0,
        -2147483649.0, 4294967296.0, 999999999999999.0, 1e15, -1e15,
        9007199254740992.0, -9007199254740992.0, 9007199254740994.0,
        9007199254740993.0, 1e16, 1e17, 1e21, 1e300, -1e300, 1e-300, 5e-324,
        DBL_MAX, -DBL_MAX, DBL_MIN, 0.1, 0.2, 0.3, 0.1 + 0.2, 1.0 / 3, 2.0 / 3,
        9.25, -9.75, 0.5, -0.5, 2.5, 0.0001, 0.00012, 0.00001, 1.5e-5,
        123456.789, 100.5, 12345678901234.5, 99999999999999.9,
        999999999999.9999, 0.1234, 1.0001, 2147483647.5, -2147483648.5,
        3.14159, 1e14 + 0.5, 4503599627370495.5, 1.7976931348623157e308,
    };
    size_t i;
    int k;

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        check_number(fixed[i]);
        check_number(-fixed[i]);
    }
    check_number(-0.0);
    check_number(NAN);
    check_number(INFINITY);
    check_number(-INFINITY);
    /* Short decimals (the fast path) and arbitrary bit patterns. */
    for (i = 0; i < 100000; i++) {
        int64_t m = (int64_t)(rnd() % 2000000000000000ull) - 1000000000000000;
        static const double p10[] = { 1, 10, 100, 1000, 10000, 100000, 1e6 };
        double d;
        uint64_t bits = rnd();

        k = (int)(rnd() % 7);
        check_number((double)(m % (int64_t)(1 + rnd() % 100000000)) / p10[k]);
        check_number((double)m / p10[k]);
        memcpy(&d, &bits, sizeof(d));
        if (isfinite(d))
            check_number(d);
    }
}
END_TEST

START_TEST(jsonout_strings_and_trees_match_cjson)
{
    static const char *const texts[] = {
        "", "plain", "quote \" and backslash \\", "\n\r\t\b\f",
        "ctl \001\002\037 del \177", "utf-8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "slash / stays", "\"\"\"\\\\\\",
    };
    static const char *const trees[] = {
        "{}", "[]", "[[],{}]", "{\"a\":{\"b\":[1,2.5,-0,\"x\",null,true,false]}}",
        "{\"k\\u0001\\n\":\"v\\t\",\"\xc3\xa9\":[1e300,0.1,-7,2147483648]}",
        "[1,[2,[3,[4,{\"deep\":[\"\\u00e9\\ud83d\\ude00\"]}]]]]",
        "{\"dup\":1,\"dup\":2,\"n\":12345678901234567890}",
    };
    char all[256];
    cJSON *v = NULL;
    char *want = NULL;
    struct buf b;
    size_t i;

    buf_init(&b, 0);
    for (i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    all[255] = '\0';
    for (i = 0; i <= sizeof(texts) / sizeof(texts[0]); i++) {
        const char *t = i < sizeof(texts) / sizeof(texts[0]) ? texts[i] : all;

        v = cJSON_CreateString(t);
        want = cJSON_PrintUnformatted(v);
        buf_reset(&b);
        ck_assert_int_eq(jsonout_string(&b, t, strlen(t)), BF_OK);
        ck_assert_str_eq(b.data, want);
        buf_reset(&b);
        ck_assert_int_eq(jsonout_value(&b, v), BF_OK);
        ck_assert_str_eq(b.data, want);
        free(want);
        cJSON_Delete(v);
    }
    for (i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
        v = cJSON_Parse(trees[i]);
        ck_assert_msg(v != NULL, "%s", trees[i]);
        want = cJSON_PrintUnformatted(v);
        buf_reset(&b);
        ck_assert_int_eq(jsonout_value(&b, v), BF_OK);
        ck_assert_str_eq(b.data, want);
        free(want);
        cJSON_Delete(v);
    }
    buf_cleanup(&b);
}
END_TEST

/* A random value for a source path: every JSON type, numeric and boolean
 * strings, timestamps with offsets and odd years, nested containers. */
static void random_value(struct buf *b)
{
    static const char *const pool[] = {
        "null", "true", "false", "0", "1", "-1", "42", "2.5", "-0", "0.1",
        "1e16", "9007199254740993", "2147483648", "123.456", "1e300", "-7.25",
        "\"17\"", "\" 3.5 \"", "\"abc\"", "\"\"", "\"TRUE\"", "\"0\"",
        "\"0x1A\"", "\"nan\"", "\"1e999\"", "1e999",
        "\"2025-01-02T03:04:05Z\"", "\"2025-01-02T03:04:05.123456+05:30\"",
        "\"0000-01-01T00:00:00+01:00\"", "\"9999-12-31T23:59:59.999-01:00\"",
        "\"2024-02-29T12:00:00\"", "\"2023-02-29T12:00:00Z\"", "\"2025-01-02\"",
        "\"q\\\"uote\\\\ \\n\\t\\u0001 \\u00e9\"", "{}", "[]",
        "{\"name\":\"N\",\"id\":3}", "[{\"name\":\"A\"},2,\"x\"]",
        "{\"b\":1,\"a\":{\"d\":[1.5,{\"z\":0,\"y\":-0}],\"c\":null}}",
    };

    buf_append_str(b, pool[rnd() % (sizeof(pool) / sizeof(pool[0]))]);
}

START_TEST(writer_matches_oracle_on_random_records)
{
    /* Paths of the tickets mapping, plus a json field and alternatives,
     * through a mapping override with every type. */
    static const char mapping[] =
        "{\"canonical_table\": \"tickets\", \"sources\": {\"connectwise\": {"
        "\"service/tickets\": {\"fields\": {"
        " \"zeta\": {\"path\": \"a\", \"type\": \"string\"},"
        " \"id\": {\"path\": \"id\", \"type\": \"integer\"},"
        " \"num\": {\"path\": \"b\", \"type\": \"number\"},"
        " \"flag\": {\"path\": \"c\", \"type\": \"boolean\"},"
        " \"when\": {\"path\": [\"d\", \"e/f\"], \"type\": \"timestamp\"},"
        " \"blob\": {\"path\": \"e\", \"type\": \"json\"},"
        " \"first\": {\"path\": \"g/0/name\", \"type\": \"string\"},"
        " \"e_f\": {\"path\": \"e.f\", \"type\": \"json\"},"
        " \"Alpha\": {\"path\": \"a\", \"type\": \"integer\"},"
        " \"k\\u00e9y \\\"q\\\"\": {\"path\": \"b\"},"
        " \"req\": {\"path\": \"h\", \"type\": \"number\", \"required\": %s}"
        "}}}}}";
    static const char *const keys[] = { "a", "id", "b", "c", "d", "e", "g", "h" };
    struct xform_mappings *m = NULL;
    struct xoracle_mappings *om = NULL;
    const struct xoracle_table *ot = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx;
    struct bf_err e;
    char text[4096];
    struct buf raw;
    size_t k;
    int i, req, nest;

    ctx.source_table = "service/tickets";
    ctx.canonical_table = "tickets";
    buf_init(&raw, 0);
    for (req = 0; req < 2; req++) {
        make_dir();
        snprintf(text, sizeof(text), mapping, req ? "true" : "false");
        write_file(probe_dir, "t.json", text);
        ck_assert_int_eq(xform_mappings_load(probe_dir, &m, &e), BF_OK);
        ck_assert_int_eq(xoracle_load(probe_dir, &om, &e), BF_OK);
        t = xform_find(m, "connectwise", "service/tickets");
        ck_assert_ptr_nonnull(t);
        ot = oracle_table(om, &ctx);
        for (i = 0; i < 3000; i++) {
            buf_reset(&raw);
            buf_append_str(&raw, "{");
            for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                if (rnd() % 5 == 0)
                    continue; /* absent */
                buf_printf(&raw, "%s\"%s\":", raw.len > 1 ? "," : "", keys[k]);
                nest = k == 5 && rnd() % 2; /* e/f for the alternative */
                if (nest)
                    buf_append_str(&raw, "{\"f\":");
                random_value(&raw);
                if (nest)
                    buf_append_str(&raw, "}");
            }
            buf_append_str(&raw, "}");
            check_writer_same(t, ot, raw.data, &ctx);
        }
        /* The context members may be null. */
        ctx.backfill_id = NULL;
        check_writer_same(t, ot, "{\"id\": 1, \"h\": 2}", &ctx);
        ctx.backfill_id = base_ctx.backfill_id;
        check_writer_same(t, ot, "[1]", &ctx);
        xform_mappings_free(m);
        xoracle_free(om);
        remove_dir();
    }
    buf_cleanup(&raw);
}
END_TEST

START_TEST(writer_handles_clashing_names)
{
    /* Canonical names that appear twice: a field named like each context
     * member (hashed or not) and two fields of one name. The record has
     * such a member twice and the hash keeps both (or leaves both out). */
    static const char mapping[] =
        "{\"canonical_table\": \"tickets\", \"sources\": {\"connectwise\": {"
        "\"service/tickets\": {\"fields\": {"
        " \"id\": {\"path\": \"id\", \"type\": \"integer\", \"required\": true},"
        " \"tenant_id\": {\"path\": \"tenant\"},"
        " \"x\": {\"path\": \"x\", \"type\": \"json\"},"
        " \"canonical_table\": {\"path\": \"x\", \"type\": \"json\"},"
        " \"ingestion_timestamp\": {\"path\": \"when\", \"type\": \"timestamp\"},"
        " \"backfill_id\": {\"path\": \"tenant\"},"
        " \"record_hash\": {\"path\": \"id\"},"
        " \"x\": {\"path\": \"n\", \"type\": \"number\"}"
        "}}}}}";
    static const char *const raws[] = {
        "{\"id\": 5, \"tenant\": \"other\", \"x\": {\"b\": 1, \"a\": [2]}}",
        "{\"tenant\": \"other\"}",
        "{\"id\": 6, \"x\": [1.5, {\"z\": 0, \"y\": null}], \"n\": 0.1,"
        " \"when\": \"2025-06-13T08:00:57+02:00\"}",
        "{\"id\": 7, \"n\": \"x\", \"tenant\": 3}",
    };
    struct xform_mappings *m = NULL;
    struct xoracle_mappings *om = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx;
    struct bf_err e;
    size_t k;

    ctx.source_table = "service/tickets";
    ctx.canonical_table = "tickets";
    make_dir();
    write_file(probe_dir, "t.json", mapping);
    ck_assert_int_eq(xform_mappings_load(probe_dir, &m, &e), BF_OK);
    ck_assert_int_eq(xoracle_load(probe_dir, &om, &e), BF_OK);
    t = xform_find(m, "connectwise", "service/tickets");
    ck_assert_ptr_nonnull(t);
    for (k = 0; k < sizeof(raws) / sizeof(raws[0]); k++)
        check_writer_same(t, oracle_table(om, &ctx), raws[k], &ctx);
    xform_mappings_free(m);
    xoracle_free(om);
    remove_dir();
}
END_TEST


/* jsonin's tree must be cJSON's: types, names, values (bit for bit),
 * member order and the prev links cJSON sets. */
static void same_tree(const cJSON *a, const cJSON *b, const char *what)
{
    const cJSON *x = NULL, *y = NULL, *last = NULL;

    ck_assert_msg(a->type == b->type, "%s: type %d vs %d", what, a->type, b->type);
    ck_assert_msg((a->string == NULL) == (b->string == NULL), "%s: name", what);
    if (a->string != NULL)
        ck_assert_msg(strcmp(a->string, b->string) == 0, "%s: name %s vs %s",
                      what, a->string, b->string);
    ck_assert_msg((a->valuestring == NULL) == (b->valuestring == NULL),
                  "%s: valuestring", what);
    if (a->valuestring != NULL)
        ck_assert_msg(strcmp(a->valuestring, b->valuestring) == 0,
                      "%s: string %s vs %s", what, a->valuestring, b->valuestring);
    ck_assert_msg(memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) == 0,
                  "%s: number %.17g vs %.17g", what, a->valuedouble, b->valuedouble);
    ck_assert_msg(a->valueint == b->valueint, "%s: valueint", what);
    for (x = a->child, y = b->child; x != NULL && y != NULL; x = x->next, y = y->next) {
        same_tree(x, y, what);
        last = y;
    }
    ck_assert_msg(x == NULL && y == NULL, "%s: child count", what);
    if (b->child != NULL)
        ck_assert_msg(b->child->prev == last, "%s: prev link", what);
}

/* Parse `len` bytes both ways. Returns 1 when jsonin took it. */
static int check_parse(struct jsonin *j, const char *text, size_t len)
{
    char *copy = malloc(len + 8);
    cJSON *a = NULL;
    const cJSON *b = NULL;
    int took;

    memcpy(copy, text, len);
    memset(copy + len, 0, 8);
    a = cJSON_ParseWithLength(copy, len);
    b = jsonin_parse(j, copy, len);
    took = b != NULL;
    if (b != NULL) {
        ck_assert_msg(a != NULL, "jsonin took what cJSON refuses: %.*s",
                      (int)len, text);
        same_tree(a, b, text);
    }
    cJSON_Delete(a);
    free(copy);
    return took;
}

START_TEST(jsonin_matches_cjson)
{
    static const struct {
        const char *text;
        int taken; /* 1: jsonin must take it, 0: must leave it to cJSON */
    } cases[] = {
        { "{}", 1 }, { "[]", 1 }, { " \t\r\n {\"a\" : [ 1 , 2 ] } ", 1 },
        { "{\"a\":1} trailing text", 1 }, { "null", 1 }, { "true", 1 },
        { "false", 1 }, { "\"str\"", 1 }, { "0", 1 }, { "-0", 1 },
        { "01", 1 }, { "-12.5e3", 1 }, { "1e999", 1 }, { "123456789012345", 1 },
        { "1234567890123456", 1 }, { "9007199254740993", 1 },
        { "[1.2.3]", 0 }, { "[1e]", 0 }, { "[-]", 0 }, { "[+1]", 0 },
        { "1234567890123456789012345678901234567890123", 0 },
        { "{\"s\":\"\\b\\f\\n\\r\\t\\\"\\\\\\/\"}", 1 },
        { "[\"\\u00e9\\u20ac\\u0041\\u07ff\\u0800\\uffff\"]", 1 },
        { "[\"\\ud83d\\ude00\"]", 0 }, { "[\"\\u0000\"]", 0 },
        { "[\"\\uzzzz\"]", 0 }, { "[\"\\x\"]", 0 }, { "[\"\\u12\"]", 0 },
        { "[\"raw \x01\x1f ctl\"]", 1 }, { "[\"unterminated]", 0 },
        { "{\"a\":{}", 0 }, { "{\"a\":[]", 0 }, { "[1,]", 0 }, { "{,}", 0 },
        { "{\"a\"}", 0 }, { "{\"a\":}", 0 }, { "{1:2}", 0 }, { "nul", 0 },
        { "tru", 0 }, { "[", 0 }, { " ", 0 }, { "x", 0 },
        { "\xEF\xBB\xBF{\"bom\":1}", 1 }, { "\xEF\xBB\xBF" "1", 0 },
        { "{\"dup\":1,\"dup\":2}", 1 }, { "[[[[[[[[[[]]]]]]]]]]", 1 },
    };
    struct jsonin *j = NULL;
    struct bf_err e;
    char deep[300], path[4096];
    char *raw = NULL, *line = NULL, *save = NULL, *mut = NULL;
    char **lines = NULL;
    size_t i, n = 0, len;
    int taken = 0, tries = 0;

    ck_assert_int_eq(jsonin_new(&j, &e), BF_OK);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(check_parse(j, cases[i].text, strlen(cases[i].text)) ==
                      cases[i].taken, "%s", cases[i].text);
    /* A NUL byte inside a string, and nesting past jsonin's depth. */
    ck_assert_int_eq(check_parse(j, "[\"a\0b\"]", 7), 0);
    memset(deep, '[', 150);
    memset(deep + 150, ']', 150);
    ck_assert_int_eq(check_parse(j, deep, sizeof(deep)), 0);
    ck_assert_int_eq(check_parse(j, deep + 100, 100), 1);
    /* The golden raw records, whole and mutated at random. */
    for (i = 0; i < sizeof(golden_tables) / sizeof(golden_tables[0]); i++) {
        snprintf(path, sizeof(path), "%s/tests/unit/fixtures/xform/%s.raw.jsonl",
                 getenv("BF_TOP"), golden_tables[i][0]);
        raw = slurp(path);
        ck_assert_ptr_nonnull(raw);
        for (line = strtok_r(raw, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            lines = realloc(lines, (n + 1) * sizeof(*lines));
            lines[n++] = strdup(line);
        }
        free(raw);
    }
    for (i = 0; i < n; i++)
        check_parse(j, lines[i], strlen(lines[i]));
    for (tries = 0; tries < 30000; tries++) {
        static const char bytes[] = "\"\\{}[],:0-.eE+ u\x01\xc3";
        size_t k, m;

        line = lines[rnd() % n];
        len = strlen(line);
        mut = strdup(line);
        m = 1 + rnd() % 3;
        for (k = 0; k < m; k++)
            mut[rnd() % len] = rnd() % 4 ? bytes[rnd() % (sizeof(bytes) - 1)]
                                         : (char)(rnd() % 256);
        if (rnd() % 4 == 0)
            len = rnd() % len + 1;
        taken += check_parse(j, mut, len);
        free(mut);
    }
    /* The mutations must reach both outcomes often. */
    ck_assert_int_gt(taken, 1000);
    ck_assert_int_lt(taken, 29000);
    for (i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    jsonin_free(j);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("xform");
    TCase *tc = tcase_create("xform");

    tcase_add_loop_test(tc, golden_per_table, 0,
                        (int)(sizeof(golden_tables) / sizeof(golden_tables[0])));
    tcase_add_test(tc, coercion_rules);
    tcase_add_test(tc, path_spellings_and_override);
    tcase_add_test(tc, bad_mapping_is_config_error);
    tcase_add_test(tc, rejects_carry_reason_and_record);
    tcase_add_test(tc, record_hash_is_stable);
    tcase_add_test(tc, required_fields_per_table);
    tcase_add_test(tc, jsonout_numbers_match_cjson);
    tcase_add_test(tc, jsonout_strings_and_trees_match_cjson);
    tcase_add_test(tc, writer_matches_oracle_on_random_records);
    tcase_add_test(tc, writer_handles_clashing_names);
    tcase_add_test(tc, jsonin_matches_cjson);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
