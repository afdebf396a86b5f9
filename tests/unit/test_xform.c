/* test_xform.c -- the canonical transform: golden files per table, rejects,
 * type coercion, path spellings, the mappings directory override, hashes.
 *
 * Golden files live in tests/unit/fixtures/xform/: <table>.raw.jsonl holds
 * raw ConnectWise records, <table>.expected.jsonl one line per raw line:
 * the canonical record, or {"rejected": "<reason>"}. To regenerate after a
 * deliberate mapping change: BF_XFORM_REGEN=1 make check-unit T=xform, then
 * review the diff line by line before committing it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "transform/xform.h"
#include "util/buf.h"

#include "testsuite.h"

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

/* Map one raw line into the golden-file form. Caller frees. */
static char *golden_line(const struct xform_table *t, const char *raw_text,
                         const struct xform_ctx *ctx)
{
    cJSON *raw = cJSON_Parse(raw_text);
    cJSON *out = NULL, *rej = NULL;
    char reason[XFORM_REASON_MAX];
    struct bf_err e;
    char *s = NULL;

    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(xform_map_record(t, raw, ctx, &out, reason, NULL, &e), BF_OK);
    if (out != NULL) {
        ck_assert_str_eq(reason, "");
        s = cJSON_PrintUnformatted(out);
    } else {
        ck_assert_str_ne(reason, "");
        rej = cJSON_CreateObject();
        cJSON_AddStringToObject(rej, "rejected", reason);
        s = cJSON_PrintUnformatted(rej);
    }
    cJSON_Delete(raw);
    cJSON_Delete(out);
    cJSON_Delete(rej);
    return s;
}

static const char *const golden_tables[][2] = {
    { "tickets", "service/tickets" },
    { "time_entries", "time/entries" },
    { "companies", "company/companies" },
    { "contacts", "company/contacts" },
};

START_TEST(golden_per_table)
{
    const char *table = golden_tables[_i][0];
    struct xform_mappings *m = NULL;
    const struct xform_table *t = NULL;
    struct xform_ctx ctx = base_ctx;
    struct bf_err e;
    char path[4096];
    char *raw = NULL, *exp = NULL, *rl = NULL, *el = NULL, *rs = NULL, *es = NULL;
    struct buf got;
    int n = 0;

    ck_assert_int_eq(xform_mappings_load(NULL, &m, &e), BF_OK);
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
    ck_assert_int_eq(xform_map_record(t, raw, &ctx, &out, reason, nulls, &e), BF_OK);
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
    const struct xform_table *t = NULL;
    struct bf_err e;
    size_t k;

    make_dir();
    write_file(probe_dir, "probe.json", probe_mapping);
    ck_assert_int_eq(xform_mappings_load(probe_dir, &m, &e), BF_OK);
    t = xform_find(m, "test", "probe");
    ck_assert_ptr_nonnull(t);
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char raw[256];
        int nulls = -1;
        cJSON *o = NULL;

        snprintf(raw, sizeof(raw), "{\"v\": %s}", cases[k].v);
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
    ck_assert_int_eq(xform_map_record(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
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
    ck_assert_int_eq(xform_map_record(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
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
    ck_assert_int_eq(xform_map_record(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
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
    ck_assert_int_eq(xform_map_record(t, raw, &ctx, &a, reason, NULL, &e), BF_OK);
    ck_assert_int_eq(xform_map_record(t, raw, &ctx2, &b, reason, NULL, &e), BF_OK);
    cJSON_ReplaceItemInObject(raw, "city", cJSON_CreateString("Y"));
    ck_assert_int_eq(xform_map_record(t, raw, &ctx, &c, reason, NULL, &e), BF_OK);
    ha = cJSON_GetObjectItem(a, "record_hash")->valuestring;
    hb = cJSON_GetObjectItem(b, "record_hash")->valuestring;
    hc = cJSON_GetObjectItem(c, "record_hash")->valuestring;
    ck_assert_int_eq(strlen(ha), 64);
    ck_assert_str_eq(ha, hb);
    ck_assert_str_ne(ha, hc);
    /* The hash is the SHA-256 of the sorted compact form, recomputable. */
    ck_assert_int_eq(xform_record_hash(a, h, &e), BF_OK);
    ck_assert_str_eq(h, ha);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(raw);
    /* Key order inside nested values does not matter; known answer:
     * printf '{"a":1,"b":{"x":null,"y":[2,"z"]}}' | sha256sum */
    a = cJSON_Parse("{\"b\": {\"y\": [2, \"z\"], \"x\": null}, \"a\": 1,"
                    " \"backfill_id\": \"q\", \"ingestion_timestamp\": \"t\"}");
    ck_assert_int_eq(xform_record_hash(a, h, &e), BF_OK);
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
        ck_assert_int_eq(xform_map_record(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
        ck_assert_msg(out != NULL, "%s: %s", cases[k].table, reason);
        cJSON_Delete(out);
        cJSON_Delete(raw);
        for (d = 0; d < 2; d++) {
            raw = cJSON_Parse(cases[k].drop[d]);
            ck_assert_int_eq(xform_map_record(t, raw, &ctx, &out, reason, NULL, &e), BF_OK);
            ck_assert_ptr_null(out);
            snprintf(want, sizeof(want), "missing required field '%s'", cases[k].field[d]);
            ck_assert_msg(strncmp(reason, want, strlen(want)) == 0, "%s", reason);
            cJSON_Delete(raw);
        }
    }
    xform_mappings_free(m);
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
    suite_add_tcase(s, tc);
    return s;
}
