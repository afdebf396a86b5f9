/* test_cw.c -- the ConnectWise source and the endpoint table.
 *
 * Pure parsers (API root, Link, Retry-After, page splitting) by table;
 * then the real source against tests/support/fake/connectwise.js: window
 * correctness over a 30-day data set for several chunk sizes, both paging
 * modes and the page/pageSize fallback, base URL forms, 429/500/401/invalid
 * JSON with bounded retries, endless Link loops, cancellation between pages
 * and the per-tenant rate limiter.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fakesrv.h"
#include "source/cw.h"
#include "source/source.h"
#include "catalog/catalog.h"
#include "task/task.h"
#include "testsuite.h"
#include "util/timeutil.h"

/* ---- pure functions ---- */

START_TEST(api_root_forms)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"https://na.example.com", "https://na.example.com/v4_6_release/apis/3.0"},
        {"https://na.example.com/", "https://na.example.com/v4_6_release/apis/3.0"},
        {"https://na.example.com/v4_6_release",
         "https://na.example.com/v4_6_release/apis/3.0"},
        {"https://na.example.com/v4_6_release/",
         "https://na.example.com/v4_6_release/apis/3.0"},
        {"https://na.example.com/v4_6_release/apis/3.0/",
         "https://na.example.com/v4_6_release/apis/3.0"},
        {"https://na.example.com/v2025_1/apis/3.0",
         "https://na.example.com/v2025_1/apis/3.0"},
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080/v4_6_release/apis/3.0"},
        {"https://h.example/cw", "https://h.example/cw/v4_6_release/apis/3.0"},
    };
    char out[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(cw_api_root(cases[i].in, "v4_6_release", out,
                                     sizeof(out)), 0);
        ck_assert_str_eq(out, cases[i].want);
    }
    ck_assert_int_eq(cw_api_root("ftp://x", "v4_6_release", out, sizeof(out)), -1);
    ck_assert_int_eq(cw_api_root("na.example.com", "v4_6_release", out, sizeof(out)), -1);
    ck_assert_int_eq(cw_api_root("https://", "v4_6_release", out, sizeof(out)), -1);
    ck_assert_int_eq(cw_api_root("https://a.example", "v4_6_release", out, 10), -1);
}
END_TEST

START_TEST(link_header)
{
    char out[256];

    ck_assert_int_eq(cw_link_next("<https://h/a?pageId=5>; rel=\"next\"", out,
                                  sizeof(out)), 1);
    ck_assert_str_eq(out, "https://h/a?pageId=5");
    ck_assert_int_eq(cw_link_next("<https://h/1>; rel=\"first\", "
                                  "<https://h/3>; rel=\"next\", "
                                  "<https://h/9>; rel=\"last\"", out,
                                  sizeof(out)), 1);
    ck_assert_str_eq(out, "https://h/3");
    ck_assert_int_eq(cw_link_next("<https://h/9>; rel=\"last\"", out, sizeof(out)), 0);
    ck_assert_int_eq(cw_link_next("<https://h/4>;rel=next", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "https://h/4");
    ck_assert_int_eq(cw_link_next("<https://h/5>; title=\"x\"; REL=\"prev next\"",
                                  out, sizeof(out)), 1);
    ck_assert_str_eq(out, "https://h/5");
    ck_assert_int_eq(cw_link_next("", out, sizeof(out)), 0);
    ck_assert_int_eq(cw_link_next(NULL, out, sizeof(out)), 0);
    ck_assert_int_eq(cw_link_next("<https://h/5; rel=\"next\"", out, sizeof(out)), -1);
    ck_assert_int_eq(cw_link_next("<>; rel=\"next\"", out, sizeof(out)), -1);
    ck_assert_int_eq(cw_link_next("<https://h/very-long>; rel=\"next\"", out, 8), -1);
    /* "nextish" is not "next" */
    ck_assert_int_eq(cw_link_next("<https://h/6>; rel=\"nextish\"", out, sizeof(out)), 0);
}
END_TEST

START_TEST(retry_after_forms)
{
    int64_t ms = -1;
    int64_t now = 784111777000LL; /* Sun, 06 Nov 1994 08:49:37 GMT */

    ck_assert_int_eq(cw_retry_after_ms("120", now, &ms), 0);
    ck_assert_int_eq(ms, 120000);
    ck_assert_int_eq(cw_retry_after_ms(" 0 ", now, &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(cw_retry_after_ms("Sun, 06 Nov 1994 08:49:40 GMT", now, &ms), 0);
    ck_assert_int_eq(ms, 3000);
    ck_assert_int_eq(cw_retry_after_ms("Sunday, 06-Nov-94 08:49:47 GMT", now, &ms), 0);
    ck_assert_int_eq(ms, 10000);
    ck_assert_int_eq(cw_retry_after_ms("Sun Nov  6 08:49:39 1994", now, &ms), 0);
    ck_assert_int_eq(ms, 2000);
    /* a date in the past means "now" */
    ck_assert_int_eq(cw_retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", now, &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(cw_retry_after_ms("soon", now, &ms), -1);
    ck_assert_int_eq(cw_retry_after_ms("12s", now, &ms), -1);
    ck_assert_int_eq(cw_retry_after_ms("-5", now, &ms), -1);
    ck_assert_int_eq(cw_retry_after_ms("Sun, 06 Foo 1994 08:49:40 GMT", now, &ms), -1);
    ck_assert_int_eq(cw_retry_after_ms("Sun, 06 Nov 1994 08:49:40 PST", now, &ms), -1);
    ck_assert_int_eq(cw_retry_after_ms("99999999999999999999", now, &ms), -1);
    ck_assert_int_eq(cw_retry_after_ms(NULL, now, &ms), -1);
}
END_TEST

static enum bf_rc split(const char *s, size_t *count, struct bf_err *err)
{
    struct source_record *recs = NULL;
    size_t cap = 0;
    enum bf_rc rc = cw_split_page(s, strlen(s), 8, &recs, &cap, count, err);

    free(recs);
    return rc;
}

START_TEST(split_page)
{
    const char *page = " [ {\"id\":1,\"a\":[1,2,{\"b\":null}]} ,\n{\"id\":2,"
                       "\"s\":\"x\\\"]}\\u00e9\"}] ";
    struct source_record *recs = NULL;
    size_t cap = 0, n = 0;
    struct bf_err err;

    bf_err_init(&err);
    ck_assert_int_eq(cw_split_page(page, strlen(page), 8, &recs, &cap, &n, &err),
                     BF_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(recs[0].len, strlen("{\"id\":1,\"a\":[1,2,{\"b\":null}]}"));
    ck_assert(memcmp(recs[0].json, "{\"id\":1,\"a\":[1,2,{\"b\":null}]}", recs[0].len) == 0);
    ck_assert(memcmp(recs[1].json, "{\"id\":2,\"s\":\"x\\\"]}\\u00e9\"}", recs[1].len) == 0);
    free(recs);

    ck_assert_int_eq(split("[]", &n, &err), BF_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(split("[{\"a\":-1.5e+3,\"b\":true,\"c\":false}]", &n, &err), BF_OK);
    ck_assert_int_eq(n, 1);
    /* everything below is a protocol error */
    ck_assert_int_eq(split("", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("{\"id\":1}", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"id\":1},", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"id\":1", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"id\":\"abc", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[1,2]", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"id\" 1}]", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"id\":tru}]", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"id\":01}]", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"id\":1}] x", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"a\":\"x\ny\"}]", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("[{\"a\":\"\\q\"}]", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(split("<html>502</html>", &n, &err), BF_E_SOURCE_PROTOCOL);
    /* depth 8 allowed (the array is level 1), 9 refused */
    ck_assert_int_eq(split("[{\"a\":[[[[[[1]]]]]]}]", &n, &err), BF_OK);
    ck_assert_int_eq(split("[{\"a\":[[[[[[[1]]]]]]]}]", &n, &err), BF_E_SOURCE_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err.message, "deep"));
}
END_TEST

/* The scanner skips plain string bytes eight at a time: a quote, an escape
 * or a control character must be found at every offset in a word, and
 * bytes >= 0x20 (DEL, UTF-8) must pass wherever they are. */
START_TEST(split_page_string_offsets)
{
    static const unsigned char plain[] = { ' ', 'a', 0x7f, 0x80, 0xc3, 0xff };
    char page[128], *at = NULL;
    size_t k, i, n = 0, len;
    struct bf_err err;

    bf_err_init(&err);
    for (k = 0; k < 24; k++) {
        /* [{"s":"aaaa<X>aaaa"}] with X at offset k of the string. */
        memset(page, 0, sizeof(page));
        memcpy(page, "[{\"s\":\"", 7);
        at = page + 7;
        memset(at, 'a', 30);
        memcpy(at + 30, "\"}]", 3);
        len = strlen(page);
        for (i = 0; i < sizeof(plain); i++) {
            at[k] = (char)plain[i];
            ck_assert_int_eq(split(page, &n, &err), BF_OK);
            ck_assert_int_eq(n, 1);
        }
        at[k] = 0x01;
        ck_assert_int_eq(split(page, &n, &err), BF_E_SOURCE_PROTOCOL);
        at[k] = 0x1f;
        ck_assert_int_eq(split(page, &n, &err), BF_E_SOURCE_PROTOCOL);
        at[k] = '\t';
        ck_assert_int_eq(split(page, &n, &err), BF_E_SOURCE_PROTOCOL);
        at[k] = '\\'; /* \a is not an escape */
        ck_assert_int_eq(split(page, &n, &err), BF_E_SOURCE_PROTOCOL);
        at[k + 1] = '"'; /* \" is, and does not end the string */
        ck_assert_int_eq(split(page, &n, &err), BF_OK);
        ck_assert_int_eq(n, 1);
        at[k] = '"'; /* the string ends early: "a...a"" */
        ck_assert_int_eq(split(page, &n, &err), BF_E_SOURCE_PROTOCOL);
        memcpy(at + k, "\"}]", 4); /* a shorter string, properly closed */
        ck_assert_int_eq(split(page, &n, &err), BF_OK);
        ck_assert_int_eq(n, 1);
        ck_assert_uint_eq(strlen(page), len - 30 + k);
    }
}
END_TEST

/* Random mutations of a valid page: the scanner never reads out of bounds
 * (ASan builds check that), and whatever it accepts cJSON accepts too, as
 * an array of exactly that many objects. */
START_TEST(split_page_mutations)
{
    const char *seed_page = "[{\"id\":1,\"summary\":\"a \\\"b\\\" \\u00e9\",\"n\":-1.5e3,"
                            "\"o\":{\"x\":[true,false,null,{}]}},{\"id\":2,\"s\":\"\"}]";
    size_t len = strlen(seed_page);
    char *buf = malloc(len + 8);
    unsigned int st = 12345;
    int iter, accepted = 0;

    for (iter = 0; iter < 20000; iter++) {
        struct source_record *recs = NULL;
        size_t cap = 0, n = 0, blen = len, k;
        int muts = 1 + (int)(rand_r(&st) % 3);
        struct bf_err err;

        memcpy(buf, seed_page, len);
        for (k = 0; k < (size_t)muts; k++) {
            size_t at = (size_t)rand_r(&st) % blen;
            int op = rand_r(&st) % 3;

            if (op == 0)
                buf[at] = (char)(rand_r(&st) % 256);
            else if (op == 1 && blen > 1)
                blen = at + 1; /* truncate */
            else
                buf[at] = "{}[],:\"\\ 0-eE.tfn"[rand_r(&st) % 18];
        }
        bf_err_init(&err);
        if (cw_split_page(buf, blen, 8, &recs, &cap, &n, &err) == BF_OK) {
            cJSON *j = cJSON_ParseWithLength(buf, blen);
            size_t i;

            accepted++;
            ck_assert_msg(j != NULL, "accepted what cJSON rejects: %.*s", (int)blen, buf);
            ck_assert(cJSON_IsArray(j));
            ck_assert_int_eq((size_t)cJSON_GetArraySize(j), n);
            for (i = 0; i < n; i++) {
                cJSON *r = cJSON_ParseWithLength(recs[i].json, recs[i].len);

                ck_assert(cJSON_IsObject(r));
                cJSON_Delete(r);
            }
            cJSON_Delete(j);
        } else {
            ck_assert_int_eq(err.rc, BF_E_SOURCE_PROTOCOL);
        }
        free(recs);
    }
    ck_assert_int_gt(accepted, 100); /* the mutations do not all break it */
    free(buf);
}
END_TEST

/* The header parsers on random bytes: no crash, sane answers. */
START_TEST(header_parsers_random)
{
    unsigned int st = 777;
    char in[64], out[32];
    int iter;

    for (iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rand_r(&st) % (sizeof(in) - 1)), i;
        int64_t ms = 0;
        int r;

        for (i = 0; i < n; i++)
            in[i] = "<>;,= \"relnxtRE0123456789:/aGMTSun"[rand_r(&st) % 33];
        in[n] = '\0';
        r = cw_link_next(in, out, sizeof(out));
        ck_assert(r >= -1 && r <= 1);
        if (r == 1)
            ck_assert(strlen(out) > 0 && strlen(out) < sizeof(out));
        if (cw_retry_after_ms(in, 0, &ms) == 0)
            ck_assert_int_ge(ms, 0);
    }
}
END_TEST

START_TEST(endpoint_table)
{
    const struct catalog_endpoint *e = catalog_find("connectwise", "service/tickets");
    size_t i, enabled = 0, defaults = 0;

    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->canonical_table, "tickets");
    ck_assert_int_eq(e->page_size, 1000);
    ck_assert_str_eq(e->date_field, "_info/lastUpdated");
    ck_assert(e->enabled);
    e = catalog_find("connectwise", "time/entries");
    ck_assert_str_eq(e->canonical_table, "time_entries");
    ck_assert_str_eq(catalog_find("connectwise", "company/companies")->canonical_table,
                     "companies");
    ck_assert_str_eq(catalog_find("connectwise", "company/contacts")->canonical_table,
                     "contacts");
    ck_assert(e->is_default && e->forward_only);
    e = catalog_find("connectwise", "finance/agreements");
    ck_assert_ptr_nonnull(e);
    ck_assert(e->enabled);
    ck_assert(!e->is_default);
    ck_assert_str_eq(e->canonical_table, "agreements");
    ck_assert_str_eq(catalog_find("connectwise", "procurement/products")->canonical_table,
                     "products");
    ck_assert_str_eq(catalog_find("connectwise", "project/projects")->canonical_table,
                     "projects");
    ck_assert_str_eq(catalog_find("connectwise", "system/members")->date_field,
                     "_info/lastUpdated");
    ck_assert_ptr_null(catalog_find("connectwise", "service/nope"));
    ck_assert_ptr_null(catalog_find("servicenow", "service/tickets"));
    ck_assert_ptr_null(catalog_find(NULL, "service/tickets"));
    for (i = 0; i < catalog_count(); i++) {
        enabled += catalog_at(i)->enabled ? 1 : 0;
        defaults += catalog_at(i)->is_default ? 1 : 0;
    }
    ck_assert_int_eq(enabled, 8);
    ck_assert_int_eq(defaults, 4);
    ck_assert_ptr_null(catalog_at(catalog_count()));
    ck_assert_str_eq(catalog_codebase("connectwise"), "v4_6_release");
}
END_TEST

/* An extra endpoint catalog is checked strictly and all or nothing. */
START_TEST(extra_endpoints_file)
{
    static const struct { const char *text, *want; } bad[] = {
        { "[1]", "want a JSON object" },
        { "{\"connectwise\": {\"endpoints\": [", "not valid JSON" },
        { "{\"servicenow\": {\"endpoints\": []}}", "not a known service" },
        { "{\"connectwise\": {\"endpoints\": {}}}", "want an array" },
        { "{\"connectwise\": {\"codebase\": \"x\", \"endpoints\": []}}", "unknown key \"codebase\"" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 10, \"date_field\": \"_info/lastUpdated\", \"enabeld\": true}]}}", "unknown key \"enabeld\"" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a//b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 10, \"date_field\": \"_info/lastUpdated\"}]}}", "endpoints[0]: endpoint:" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"A-b\", "
          "\"page_size\": 10, \"date_field\": \"_info/lastUpdated\"}]}}", "canonical_table:" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 1001, \"date_field\": \"_info/lastUpdated\"}]}}", "page_size:" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 10, \"date_field\": \"x] or id > [0\"}]}}", "date_field:" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 10, \"date_field\": \"d\", \"enabled\": \"yes\"}]}}", "enabled/default:" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 10, \"date_field\": \"d\", \"paging\": \"backwards\"}]}}", "paging:" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 10, \"date_field\": \"d\"}, {\"endpoint\": \"service/tickets\", "
          "\"canonical_table\": \"t\", \"page_size\": 10, \"date_field\": \"d\"}]}}", "endpoints[1]: \"service/tickets\" is already" },
        { "{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"a/b\", \"canonical_table\": \"ab\", "
          "\"page_size\": 10, \"date_field\": \"d\"}, {\"endpoint\": \"a/b\", "
          "\"canonical_table\": \"t\", \"page_size\": 10, \"date_field\": \"d\"}]}}", "endpoints[1]: \"a/b\" is already" },
    };
    char dir[] = "/tmp/bf-test-endpoints-XXXXXX", path[128], top[1024];
    size_t n0 = catalog_count(), i;
    const struct catalog_endpoint *e = NULL;
    struct bf_err err;
    FILE *f = NULL;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/endpoints.json", dir);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(bad[i].text, f);
        fclose(f);
        bf_err_init(&err);
        ck_assert_int_eq(catalog_add_file(path, &err), BF_E_CONFIG);
        ck_assert_msg(strstr(err.message, bad[i].want) != NULL, "case %zu: %s", i, err.message);
        ck_assert_int_eq(catalog_count(), n0); /* nothing added */
    }
    ck_assert_ptr_null(catalog_find("connectwise", "a/b"));
    bf_err_init(&err);
    ck_assert_int_eq(catalog_add_file("/nonexistent/endpoints.json", &err), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/endpoints.json"));
    unlink(path);
    rmdir(dir);

    snprintf(top, sizeof(top), "%s/tests/integration/fixtures/extra-endpoint/endpoints.json",
             getenv("BF_TOP"));
    bf_err_init(&err);
    ck_assert_msg(catalog_add_file(top, &err) == BF_OK, "%s", err.message);
    ck_assert_int_eq(catalog_count(), n0 + 1);
    e = catalog_find("connectwise", "fixture/widgets");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->canonical_table, "widgets");
    ck_assert_int_eq(e->page_size, 50);
    ck_assert(e->enabled && !e->is_default && !e->forward_only);
    ck_assert(task_table_known("connectwise", "fixture/widgets"));
    /* the same file again: every endpoint is already there */
    ck_assert_int_eq(catalog_add_file(top, &err), BF_E_CONFIG);
    ck_assert_int_eq(catalog_count(), n0 + 1);
}
END_TEST

/* ---- against the fake ---- */

#define DS_START "2025-01-01T00:00:00Z"

static struct fakesrv g_cw;

static void start_fake(const char *const *extra)
{
    const char *args[32] = {"--seed", "7", "--start", DS_START, "--days", "30",
                            "--tickets", "3000", "--max-seconds", "300"};
    size_t n = 10;

    while (extra != NULL && *extra != NULL && n < 30)
        args[n++] = *extra++;
    args[n] = NULL;
    ck_assert_int_eq(fakesrv_start(&g_cw, "tests/support/fake/connectwise.js", args), 0);
}

static void setup_fake(void)
{
    start_fake(NULL);
}

static void teardown_fake(void)
{
    fakesrv_stop(&g_cw);
}

static void creds_for(struct cw_creds *c, const char *base_suffix)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->api_base_url, sizeof(c->api_base_url), "%s%s", g_cw.url, base_suffix);
    strcpy(c->company_id, "acme");
    strcpy(c->public_key, "pubkey");
    strcpy(c->private_key, "privkey");
    strcpy(c->client_id, "client-guid-1");
}

static int64_t ms_of(const char *iso)
{
    int64_t ms = 0;

    ck_assert_int_eq(time_parse_iso8601(iso, &ms, NULL), BF_OK);
    return ms;
}

struct ids {
    long *v;
    size_t n;
    size_t cap;
};

static void ids_push(struct ids *a, long id)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->v = realloc(a->v, a->cap * sizeof(long));
        ck_assert_ptr_nonnull(a->v);
    }
    a->v[a->n++] = id;
}

struct run {
    enum bf_rc rc;
    struct bf_err err;
    long pages;
    struct ids ids;
    int64_t elapsed_ms;
};

/* Page one window to the end; records must be in [start, end). */
static void run_source(const struct cw_creds *c, const char *table,
                       int64_t start, int64_t end, const struct cw_options *o,
                       struct task_cancel *cancel, long cancel_after,
                       struct source_ratelimit *rl, struct run *r)
{
    struct cw_params p;
    struct source *src = NULL;
    const struct source_page *pg = NULL;
    int64_t t0 = time_mono_ms();

    memset(&p, 0, sizeof(p));
    bf_err_init(&r->err);
    p.ep = catalog_find("connectwise", table);
    p.creds = c;
    p.start_ms = start;
    p.end_ms = end;
    p.cancel = cancel;
    p.ratelimit = rl;
    if (o != NULL)
        p.opts = *o;
    r->rc = cw_open(&p, &src, &r->err);
    while (r->rc == BF_OK) {
        size_t i;

        r->rc = source_next_page(src, &pg, &r->err);
        if (r->rc != BF_OK || pg == NULL)
            break;
        r->pages++;
        ck_assert_int_eq(pg->number, r->pages);
        for (i = 0; i < pg->count; i++) {
            cJSON *rec = cJSON_ParseWithLength(pg->records[i].json, pg->records[i].len);
            const cJSON *info = cJSON_GetObjectItem(rec, "_info");
            const char *lu = cJSON_GetStringValue(cJSON_GetObjectItem(info, "lastUpdated"));

            ck_assert_ptr_nonnull(rec);
            ck_assert_ptr_nonnull(lu);
            ck_assert(ms_of(lu) >= start && ms_of(lu) < end);
            ids_push(&r->ids, (long)cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "id")));
            cJSON_Delete(rec);
        }
        if (cancel != NULL && r->pages == cancel_after)
            task_cancel_set(cancel, BF_E_CANCELLED);
    }
    source_close(src);
    r->elapsed_ms = time_mono_ms() - t0;
}

static void expected_ids(const char *table, const char *start, const char *end,
                         struct ids *out)
{
    char path[512];
    struct buf b;
    cJSON *j = NULL, *e = NULL;

    buf_init(&b, 0);
    snprintf(path, sizeof(path), "expected?table=%s&start=%s&end=%s", table, start, end);
    ck_assert_int_eq(fakesrv_admin(&g_cw, "GET", path, NULL, &b), 200);
    j = cJSON_Parse(b.data);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "ids"))
        ids_push(out, (long)e->valuedouble);
    ck_assert_int_eq(out->n, (size_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "count")));
    cJSON_Delete(j);
    buf_cleanup(&b);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return x < y ? -1 : x > y;
}

/* The calls the fake recorded, as parsed JSON (caller deletes). */
static cJSON *fake_calls(void)
{
    struct buf b;
    cJSON *j = NULL;

    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&g_cw, "GET", "calls", NULL, &b), 200);
    j = cJSON_Parse(b.data);
    buf_cleanup(&b);
    ck_assert_ptr_nonnull(j);
    return j;
}

static void faults(const char *json)
{
    ck_assert_int_eq(fakesrv_admin(&g_cw, "POST", "faults", json, NULL), 200);
}

static void reset_fake(void)
{
    ck_assert_int_eq(fakesrv_admin(&g_cw, "POST", "reset", "{}", NULL), 200);
}

/* For each chunk size, the union of the chunks equals the records in the
 * whole range, ids ascending within each chunk, and no id twice. */
START_TEST(window_union_chunk_sizes)
{
    static const int sizes_days[] = {1, 3, 7, 30};
    struct cw_creds c;
    struct ids want = {0};
    int64_t lo = ms_of(DS_START), hi = lo + 30LL * 86400000;
    size_t s;

    creds_for(&c, "");
    expected_ids("service/tickets", DS_START, "2025-01-31T00:00:00Z", &want);
    ck_assert_int_gt(want.n, 2500);
    for (s = 0; s < sizeof(sizes_days) / sizeof(sizes_days[0]); s++) {
        struct ids got = {0};
        int64_t step = sizes_days[s] * 86400000LL, a;
        struct cw_options o = {0};
        size_t i;

        o.page_size = 250;
        for (a = lo; a < hi; a += step) {
            struct run r = {0};
            int64_t b = a + step < hi ? a + step : hi;

            run_source(&c, "service/tickets", a, b, &o, NULL, 0, NULL, &r);
            ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
            for (i = 1; i < r.ids.n; i++)
                ck_assert_int_lt(r.ids.v[i - 1], r.ids.v[i]);
            for (i = 0; i < r.ids.n; i++)
                ids_push(&got, r.ids.v[i]);
            free(r.ids.v);
        }
        qsort(got.v, got.n, sizeof(long), cmp_long);
        ck_assert_int_eq(got.n, want.n);
        for (i = 0; i < got.n; i++)
            ck_assert_int_eq(got.v[i], want.v[i]);
        free(got.v);
    }
    free(want.v);
}
END_TEST

/* A chunk boundary in the middle of the data set: adjacent windows share
 * the bound, records exactly on it land in the later chunk only. */
START_TEST(window_boundary_exact)
{
    struct cw_creds c;
    struct ids all = {0}, left = {0}, right = {0};
    struct run r1 = {0}, r2 = {0};
    struct cw_options o = {0};
    int64_t lo = ms_of(DS_START);
    int64_t mid = lo + 15LL * 86400000 + 12345000; /* a whole second */

    o.page_bytes = 64u * 1024 * 1024; /* keep pages at 1000 records */
    creds_for(&c, "");
    expected_ids("service/tickets", DS_START, "2025-01-31T00:00:00Z", &all);
    run_source(&c, "service/tickets", lo, mid, &o, NULL, 0, NULL, &r1);
    run_source(&c, "service/tickets", mid, lo + 30LL * 86400000, &o, NULL, 0, NULL, &r2);
    ck_assert_int_eq(r1.rc, BF_OK);
    ck_assert_int_eq(r2.rc, BF_OK);
    ck_assert_int_eq(r1.ids.n + r2.ids.n, all.n);
    ck_assert_int_eq(r1.pages, 2); /* 1000-record pages */
    (void)left;
    (void)right;
    free(r1.ids.v);
    free(r2.ids.v);
    free(all.v);
}
END_TEST

/* A small page budget: later pages ask for fewer records (pageSize in the
 * followed link rewritten), and every record still arrives once, in order. */
START_TEST(page_bytes_shrink_pages)
{
    struct cw_creds c;
    struct ids all = {0};
    struct run r = {0};
    struct cw_options o = {0};
    size_t i;

    o.page_bytes = 64u * 1024; /* ~25 tickets of ~2.5 KB */
    creds_for(&c, "");
    expected_ids("service/tickets", DS_START, "2025-01-31T00:00:00Z", &all);
    run_source(&c, "service/tickets", ms_of(DS_START), ms_of(DS_START) + 30LL * 86400000,
               &o, NULL, 0, NULL, &r);
    ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
    ck_assert_int_eq(r.ids.n, all.n);
    for (i = 0; i < r.ids.n; i++)
        ck_assert_int_eq(r.ids.v[i], all.v[i]);
    ck_assert_int_gt(r.pages, (long)(all.n / 1000) + 10);
    free(r.ids.v);
    free(all.v);
}
END_TEST

static void check_paging_mode(const char *mode, const char *needle, int page_mode)
{
    struct cw_creds c;
    struct ids want = {0};
    struct run r = {0};
    struct cw_options o = {0};
    char body[64];
    cJSON *calls = NULL, *call = NULL;
    int n = 0;

    snprintf(body, sizeof(body), "{\"mode\":\"%s\"}", mode);
    reset_fake();
    ck_assert_int_eq(fakesrv_admin(&g_cw, "POST", "mode", body, NULL), 200);
    creds_for(&c, "");
    o.page_size = 100;
    expected_ids("service/tickets", "2025-01-03T00:00:00Z", "2025-01-08T00:00:00Z", &want);
    run_source(&c, "service/tickets", ms_of("2025-01-03T00:00:00Z"),
               ms_of("2025-01-08T00:00:00Z"), &o, NULL, 0, NULL, &r);
    ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
    ck_assert_int_eq(r.ids.n, want.n);
    ck_assert_int_eq(memcmp(r.ids.v, want.v, want.n * sizeof(long)), 0);
    /* full pages plus (when the total is a multiple) one empty page */
    ck_assert_int_ge(r.pages, (long)(want.n + 99) / 100);
    ck_assert_int_le(r.pages, (long)want.n / 100 + 1);
    calls = fake_calls();
    cJSON_ArrayForEach(call, calls) {
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(call, "query"));
        const cJSON *h = cJSON_GetObjectItem(call, "headers");

        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(call, "path")),
                         "/v4_6_release/apis/3.0/service/tickets");
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(h, "clientid")),
                         "client-guid-1");
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(call, "hasAuth")));
        ck_assert_ptr_nonnull(strstr(q, "pageSize=100"));
        ck_assert_ptr_nonnull(strstr(q, "orderBy=id"));
        /* our own first request; later ones follow the server's links */
        if (n == 0 || page_mode)
            ck_assert_ptr_nonnull(strstr(q, "conditions=_info%2FlastUpdated%20%3E%3D%20%5B2025-01-03T00%3A00%3A00Z%5D"
                                            "%20and%20_info%2FlastUpdated%20%3C%20%5B2025-01-08T00%3A00%3A00Z%5D"
                                            "&orderBy=id%20asc&pageSize=100"));
        if (n++ > 0)
            ck_assert_msg(strstr(q, needle) != NULL, "%s lacks %s", q, needle);
    }
    ck_assert_int_eq(n, r.pages);
    cJSON_Delete(calls);
    free(r.ids.v);
    free(want.v);
}

START_TEST(paging_forward_only)
{
    check_paging_mode("auto", "pageId=", 0);
}
END_TEST

START_TEST(paging_navigable_links)
{
    check_paging_mode("navigable", "page=", 0);
}
END_TEST

START_TEST(paging_page_fallback)
{
    check_paging_mode("nolink", "&page=", 1);
}
END_TEST

static int ncalls(void)
{
    cJSON *calls = fake_calls();
    int n = cJSON_GetArraySize(calls);

    cJSON_Delete(calls);
    return n;
}

/* A window holding exactly one full page: the first page has no Link (no
 * more data), so the source falls back to page=2, which must come back
 * empty instead of repeating page 1 (found by the pipeline benchmark). */
static void run_exactly_one_page(const char *mode, struct run *r, size_t *want_n)
{
    struct cw_creds c;
    struct ids want = {0};
    struct cw_options o = {0};
    char body[64];

    snprintf(body, sizeof(body), "{\"mode\":\"%s\"}", mode);
    reset_fake();
    ck_assert_int_eq(fakesrv_admin(&g_cw, "POST", "mode", body, NULL), 200);
    creds_for(&c, "");
    expected_ids("service/tickets", "2025-01-03T00:00:00Z", "2025-01-05T00:00:00Z", &want);
    ck_assert_uint_gt(want.n, 0);
    ck_assert_uint_le(want.n, 1000);
    o.page_size = (int)want.n;
    run_source(&c, "service/tickets", ms_of("2025-01-03T00:00:00Z"),
               ms_of("2025-01-05T00:00:00Z"), &o, NULL, 0, NULL, r);
    *want_n = want.n;
    free(want.v);
}

START_TEST(exactly_one_full_page_ends)
{
    struct run r = {0};
    size_t want_n = 0;

    run_exactly_one_page("auto", &r, &want_n);
    ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
    ck_assert_uint_eq(r.ids.n, want_n);
    ck_assert_int_le(r.pages, 2);
    ck_assert_int_le(ncalls(), 2);
    free(r.ids.v);
}
END_TEST

START_TEST(page_param_ignored_is_protocol_error)
{
    struct run r = {0};
    size_t want_n = 0;

    /* A server that always pages forward-only and ignores page=: the same
     * page again is a protocol error at once, not a loop to the page cap. */
    run_exactly_one_page("forward", &r, &want_n);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(r.err.message, "repeats page"));
    ck_assert_int_le(ncalls(), 2);
    free(r.ids.v);
}
END_TEST

START_TEST(base_url_forms)
{
    static const char *const suffixes[] = {"", "/", "/v4_6_release",
                                           "/v4_6_release/apis/3.0/"};
    size_t i;

    for (i = 0; i < 4; i++) {
        struct cw_creds c;
        struct run r = {0};
        cJSON *calls = NULL;

        reset_fake();
        creds_for(&c, suffixes[i]);
        run_source(&c, "company/companies", ms_of(DS_START),
                   ms_of("2025-01-31T00:00:00Z"), NULL, NULL, 0, NULL, &r);
        ck_assert_msg(r.rc == BF_OK, "%s: %s", suffixes[i], r.err.message);
        ck_assert_int_eq(r.ids.n, 200);
        calls = fake_calls();
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
                             cJSON_GetArrayItem(calls, 0), "path")),
                         "/v4_6_release/apis/3.0/company/companies");
        cJSON_Delete(calls);
        free(r.ids.v);
    }
}
END_TEST


static void run_small(const struct cw_options *o, struct run *r)
{
    struct cw_creds c;

    creds_for(&c, "");
    run_source(&c, "company/contacts", ms_of(DS_START), ms_of("2025-01-31T00:00:00Z"),
               o, NULL, 0, NULL, r);
}

START_TEST(retry_429_retry_after_seconds)
{
    struct run r = {0};
    struct cw_options o = {0};

    reset_fake();
    faults("{\"faults\":[{\"status\":429,\"headers\":{\"Retry-After\":\"1\"},\"times\":2}]}");
    o.backoff_base_ms = 10;
    run_small(&o, &r);
    ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
    ck_assert_int_eq(r.ids.n, 300);
    ck_assert_int_ge(r.elapsed_ms, 1900); /* two waits of 1 s, not 10 ms */
    ck_assert_int_eq(ncalls(), 3);
    free(r.ids.v);
}
END_TEST

START_TEST(retry_429_retry_after_date)
{
    struct run r = {0};
    struct cw_options o = {0};
    char body[256], date[64];
    time_t t = time(NULL) + 2;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(body, sizeof(body),
             "{\"faults\":[{\"status\":429,\"headers\":{\"Retry-After\":\"%s\"}}]}", date);
    reset_fake();
    faults(body);
    o.backoff_base_ms = 10;
    run_small(&o, &r);
    ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
    ck_assert_int_ge(r.elapsed_ms, 900);  /* waited for the date */
    ck_assert_int_le(r.elapsed_ms, 3500);
    ck_assert_int_eq(ncalls(), 2);
    free(r.ids.v);
}
END_TEST

START_TEST(retry_429_backoff_then_budget)
{
    struct run r = {0};
    struct cw_options o = {0};

    reset_fake();
    faults("{\"faults\":[{\"status\":429,\"times\":2}]}");
    o.backoff_base_ms = 20;
    run_small(&o, &r);
    ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
    ck_assert_int_eq(ncalls(), 3);
    free(r.ids.v);

    memset(&r, 0, sizeof(r));
    reset_fake();
    faults("{\"faults\":[{\"status\":429,\"times\":100}]}");
    o.max_attempts_429 = 4;
    run_small(&o, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_RATE_LIMITED);
    ck_assert_str_eq(bf_rc_error_name(r.rc), "Backfill.SourceRateLimited");
    ck_assert_int_eq(r.err.http_status, 429);
    ck_assert_str_eq(r.err.endpoint, "company/contacts");
    ck_assert_int_eq(r.err.page, 1);
    ck_assert_int_eq(ncalls(), 4);

    /* A Retry-After beyond what we are willing to wait fails at once. */
    memset(&r, 0, sizeof(r));
    reset_fake();
    faults("{\"faults\":[{\"status\":429,\"headers\":{\"Retry-After\":\"3600\"}}]}");
    run_small(&o, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_RATE_LIMITED);
    ck_assert_int_eq(ncalls(), 1);
}
END_TEST

START_TEST(retry_5xx_and_transport)
{
    struct run r = {0};
    struct cw_options o = {0};

    reset_fake();
    faults("{\"faults\":[{\"status\":500,\"times\":1},{\"status\":503,\"times\":1},"
           "{\"reset\":true,\"times\":1}]}");
    o.backoff_base_ms = 10;
    o.max_attempts_5xx = 4;
    run_small(&o, &r);
    ck_assert_msg(r.rc == BF_OK, "%s", r.err.message);
    ck_assert_int_eq(r.ids.n, 300);
    free(r.ids.v);

    memset(&r, 0, sizeof(r));
    reset_fake();
    faults("{\"faults\":[{\"status\":500,\"times\":100}]}");
    o.max_attempts_5xx = 3;
    run_small(&o, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_UNAVAILABLE);
    ck_assert_str_eq(bf_rc_error_name(r.rc), "Backfill.SourceUnavailable");
    ck_assert_int_eq(r.err.http_status, 500);
    ck_assert_int_eq(ncalls(), 3);
}
END_TEST

START_TEST(auth_failed_not_retried)
{
    struct run r = {0};
    struct cw_creds c;

    reset_fake();
    creds_for(&c, "");
    strcpy(c.private_key, "wrong");
    run_source(&c, "service/tickets", ms_of(DS_START), ms_of("2025-01-02T00:00:00Z"),
               NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_AUTH_FAILED);
    ck_assert_str_eq(bf_rc_error_name(r.rc), "Backfill.SourceAuthFailed");
    ck_assert_int_eq(r.err.http_status, 401);
    ck_assert_str_eq(r.err.endpoint, "service/tickets");
    ck_assert_ptr_null(strstr(r.err.message, "wrong"));
    ck_assert_int_eq(ncalls(), 1);

    /* a wrong clientId is refused too; a 403 is the same class */
    memset(&r, 0, sizeof(r));
    creds_for(&c, "");
    strcpy(c.client_id, "other");
    run_source(&c, "service/tickets", ms_of(DS_START), ms_of("2025-01-02T00:00:00Z"),
               NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_AUTH_FAILED);
    memset(&r, 0, sizeof(r));
    faults("{\"faults\":[{\"status\":403}]}");
    run_small(NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_AUTH_FAILED);
}
END_TEST

START_TEST(protocol_errors)
{
    static const char *const cases[] = {
        "{\"faults\":[{\"invalid\":true}]}",
        "{\"faults\":[{\"truncate\":true}]}",
        "{\"faults\":[{\"status\":200,\"body\":{\"not\":\"an array\"}}]}",
        "{\"faults\":[{\"status\":404}]}",
        "{\"faults\":[{\"foreignLink\":true}]}",
    };
    struct cw_options o = {0};
    size_t i;

    o.page_size = 100;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r = {0};

        reset_fake();
        faults(cases[i]);
        run_small(&o, &r);
        ck_assert_msg(r.rc == BF_E_SOURCE_PROTOCOL, "case %zu: %s", i, bf_rc_str(r.rc));
        ck_assert_str_eq(bf_rc_error_name(r.rc), "Backfill.SourceProtocolError");
        ck_assert_str_eq(r.err.endpoint, "company/contacts");
        ck_assert_int_eq(ncalls(), 1); /* not retried here: the state machine may */
        free(r.ids.v);
    }
}
END_TEST

/* More records than the pageSize asked for is a broken server. */
START_TEST(records_per_page_cap)
{
    struct run r = {0};
    struct cw_options o = {0};

    reset_fake();
    faults("{\"faults\":[{\"status\":200,\"body\":\"[{\\\"id\\\":1},{\\\"id\\\":2},"
           "{\\\"id\\\":3}]\"}]}");
    o.page_size = 2;
    run_small(&o, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(r.err.message, "3 records on a page of 2"));
    free(r.ids.v);
}
END_TEST

START_TEST(protocol_error_names_page)
{
    struct run r = {0};
    struct cw_options o = {0};

    reset_fake();
    faults("{\"faults\":[{\"truncate\":true,\"skip\":2}]}");
    o.page_size = 100;
    run_small(&o, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(r.err.page, 3);
    ck_assert_int_eq(r.pages, 2);
    free(r.ids.v);
}
END_TEST

START_TEST(endless_link_loop)
{
    struct run r = {0};
    struct cw_options o = {0};

    reset_fake();
    faults("{\"faults\":[{\"repeatLink\":true,\"skip\":1}]}");
    o.page_size = 100;
    run_small(&o, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(r.err.message, "loop"));
    ck_assert_int_eq(ncalls(), 2);
    free(r.ids.v);

    /* the page cap stops a source that never ends */
    memset(&r, 0, sizeof(r));
    reset_fake();
    o.max_pages = 2;
    run_small(&o, &r);
    ck_assert_int_eq(r.rc, BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(r.pages, 2);
    free(r.ids.v);
}
END_TEST

START_TEST(response_size_cap)
{
    struct run r = {0};
    struct cw_options o = {0};

    reset_fake();
    o.max_response = 10000; /* a page of tickets is ~2.5 MB */
    {
        struct cw_creds c;

        creds_for(&c, "");
        run_source(&c, "service/tickets", ms_of(DS_START), ms_of("2025-01-31T00:00:00Z"),
                   &o, NULL, 0, NULL, &r);
    }
    ck_assert_int_eq(r.rc, BF_E_SOURCE_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(r.err.message, "larger"));
}
END_TEST

START_TEST(slow_page_ok)
{
    struct run r = {0};

    reset_fake();
    faults("{\"faults\":[{\"delayMs\":400}]}");
    run_small(NULL, &r);
    ck_assert_int_eq(r.rc, BF_OK);
    ck_assert_int_ge(r.elapsed_ms, 390);
    free(r.ids.v);
}
END_TEST

START_TEST(cancel_between_pages)
{
    struct cw_creds c;
    struct task_cancel cancel;
    struct cw_options o = {0};
    struct run r = {0};

    reset_fake();
    task_cancel_init(&cancel);
    creds_for(&c, "");
    o.page_size = 100;
    o.no_prefetch = 1;
    run_source(&c, "service/tickets", ms_of(DS_START), ms_of("2025-01-31T00:00:00Z"),
               &o, &cancel, 2, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_CANCELLED);
    ck_assert_int_eq(r.pages, 2);
    ck_assert_int_eq(ncalls(), 2); /* no request after the flag */
    free(r.ids.v);

    /* With prefetch, the request already under way may complete: at most
     * one more page, and no request after that. */
    memset(&r, 0, sizeof(r));
    reset_fake();
    task_cancel_init(&cancel);
    o.no_prefetch = 0;
    run_source(&c, "service/tickets", ms_of(DS_START), ms_of("2025-01-31T00:00:00Z"),
               &o, &cancel, 2, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_CANCELLED);
    ck_assert_int_ge(r.pages, 2);
    ck_assert_int_le(r.pages, 3);
    ck_assert_int_le(ncalls(), 3);
    free(r.ids.v);
}
END_TEST

START_TEST(credentials_checked)
{
    struct cw_creds c;
    struct run r = {0};

    creds_for(&c, "");
    c.public_key[0] = '\0';
    run_source(&c, "service/tickets", 0, 1000, NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_nonnull(strstr(r.err.message, "public_key"));
    creds_for(&c, "");
    strcpy(c.api_base_url, "not a url");
    memset(&r, 0, sizeof(r));
    run_source(&c, "service/tickets", 0, 1000, NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_CREDENTIALS_INVALID);
    /* the private key never travels in clear text to a remote host */
    creds_for(&c, "");
    strcpy(c.api_base_url, "http://cw.example.com/v4_6_release");
    memset(&r, 0, sizeof(r));
    run_source(&c, "service/tickets", 0, 1000, NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_nonnull(strstr(r.err.message, "https"));
    strcpy(c.api_base_url, "http://127.0.0.1.evil.example");
    memset(&r, 0, sizeof(r));
    run_source(&c, "service/tickets", 0, 1000, NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.rc, BF_E_CREDENTIALS_INVALID);
}
END_TEST

/* Through the factory: the source reads its credentials from the tenant's
 * secret document (the per-service form here), pages the window exactly as
 * cw_open() does, and refuses a secret that lacks a field, naming the field
 * and never a value. */
START_TEST(source_open_reads_its_secret)
{
    struct source_open_params p;
    struct source *src = NULL;
    const struct source_page *pg = NULL;
    struct task_input in;
    struct ids want = {0};
    struct bf_err err;
    char secret[2048];
    size_t n = 0;
    enum bf_rc rc;

    reset_fake();
    memset(&in, 0, sizeof(in));
    snprintf(in.service, sizeof(in.service), "connectwise");
    snprintf(in.table_name, sizeof(in.table_name), "service/tickets");
    in.start_ms = ms_of(DS_START);
    in.end_ms = ms_of("2025-01-03T00:00:00Z");
    expected_ids("service/tickets", DS_START, "2025-01-03T00:00:00Z", &want);
    snprintf(secret, sizeof(secret),
             "{\"connectwise\":{\"api_base_url\":\"%s\",\"company_id\":\"acme\","
             "\"public_key\":\"pubkey\",\"private_key\":\"privkey\","
             "\"client_id\":\"client-guid-1\"},\"other\":{}}", g_cw.url);
    memset(&p, 0, sizeof(p));
    p.mode = SOURCE_CONNECTWISE;
    p.in = &in;
    p.ep = catalog_find("connectwise", "service/tickets");
    p.secret = secret;
    p.secret_len = strlen(secret);
    p.secret_name = "acme/test";
    p.opts.page_size = 100;
    ck_assert_int_eq(source_writes_raw(SOURCE_CONNECTWISE), 0);
    ck_assert_ptr_nonnull(source_secret_check(SOURCE_CONNECTWISE));
    ck_assert_ptr_null(source_secret_check(SOURCE_LAMBDA));
    bf_err_init(&err);
    ck_assert_int_eq(source_secret_check(SOURCE_CONNECTWISE)(
                         secret, strlen(secret), "acme/test", "connectwise", &err),
                     BF_OK);
    rc = source_open(&p, &src, &err);
    ck_assert_msg(rc == BF_OK, "%s", err.message);
    while ((rc = source_next_page(src, &pg, &err)) == BF_OK && pg != NULL)
        n += pg->count;
    ck_assert_msg(rc == BF_OK, "%s", err.message);
    ck_assert_int_gt(want.n, 0);
    ck_assert_int_eq(n, want.n);
    source_close(src);
    free(want.v);

    /* No client_id: refused before any request, the field named. */
    snprintf(secret, sizeof(secret),
             "{\"api_base_url\":\"%s\",\"company_id\":\"acme\","
             "\"public_key\":\"pubkey\",\"private_key\":\"privkey\"}", g_cw.url);
    p.secret_len = strlen(secret);
    bf_err_init(&err);
    ck_assert_int_eq(source_open(&p, &src, &err), BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_null(src);
    ck_assert_ptr_nonnull(strstr(err.message, "acme/test"));
    ck_assert_ptr_nonnull(strstr(err.message, "client_id"));
    ck_assert_ptr_null(strstr(err.message, "privkey"));
}
END_TEST

/* 5 pages at 5 requests/s with a burst of 1: at least 0.8 s. */
START_TEST(ratelimit_paces_source)
{
    struct cw_creds c;
    struct source_ratelimit *rl = source_ratelimit_new(5, 1);
    struct cw_options o = {0};
    struct run r = {0};

    reset_fake();
    creds_for(&c, "");
    o.page_size = 60;
    run_source(&c, "company/contacts", ms_of(DS_START), ms_of("2025-01-31T00:00:00Z"),
               &o, NULL, 0, rl, &r);
    ck_assert_int_eq(r.rc, BF_OK);
    ck_assert_int_ge(r.pages, 5);
    ck_assert_int_ge(r.elapsed_ms, (r.pages - 1) * 200 - 20);
    source_ratelimit_free(rl);
    free(r.ids.v);
}
END_TEST

struct rl_thread {
    struct source_ratelimit *rl;
    int n;
};

static void *rl_worker(void *arg)
{
    struct rl_thread *t = arg;
    int i;

    for (i = 0; i < t->n; i++)
        source_ratelimit_acquire(t->rl, NULL, NULL);
    return NULL;
}

/* Two slots of one tenant share the bucket: 2 x 6 tokens at 20/s with a
 * burst of 2 take at least (12 - 2) / 20 = 0.5 s together. */
START_TEST(ratelimit_shared_by_threads)
{
    struct source_ratelimit *rl = source_ratelimit_new(20, 2);
    struct rl_thread t = {rl, 6};
    pthread_t a, b;
    int64_t t0 = time_mono_ms(), el;

    pthread_create(&a, NULL, rl_worker, &t);
    pthread_create(&b, NULL, rl_worker, &t);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    el = time_mono_ms() - t0;
    ck_assert_int_ge(el, 480);
    ck_assert_int_le(el, 1500);
    source_ratelimit_free(rl);
}
END_TEST

/* Sets the flag after a delay, from another thread, as the worker's
 * heartbeat thread or coordinator does. */
struct late_cancel {
    struct task_cancel *cancel;
    int after_ms;
};

static void *cancel_later(void *arg)
{
    struct late_cancel *lc = arg;

    time_sleep_ms(lc->after_ms);
    task_cancel_set(lc->cancel, BF_E_CANCELLED);
    return NULL;
}

/* A cancelled task gives up the ConnectWise request in flight: with the
 * page held 6 s by the server, the source returns BF_E_CANCELLED soon
 * after the flag (it used to wait for the answer, up to the 120 s
 * timeout). With prefetch, closing the source must not wait either. */
START_TEST(cancel_abandons_request_in_flight)
{
    struct cw_creds c;
    struct task_cancel cancel;
    struct cw_options o = {0};
    struct late_cancel lc;
    struct run r = {0};
    pthread_t th;
    int prefetch;

    creds_for(&c, "");
    o.page_size = 100;
    for (prefetch = 0; prefetch <= 1; prefetch++) {
        reset_fake();
        faults("{\"faults\":[{\"delayMs\":6000,\"skip\":1,\"times\":1}]}");
        task_cancel_init(&cancel);
        lc.cancel = &cancel;
        lc.after_ms = 800;
        o.no_prefetch = !prefetch;
        memset(&r, 0, sizeof(r));
        ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &lc), 0);
        run_source(&c, "service/tickets", ms_of(DS_START),
                   ms_of("2025-01-31T00:00:00Z"), &o, &cancel, -1, NULL, &r);
        pthread_join(th, NULL);
        ck_assert_int_eq(r.rc, BF_E_CANCELLED);
        ck_assert_int_eq(r.pages, 1); /* page 2 is the one held */
        ck_assert_msg(r.elapsed_ms < 3000, "prefetch %d: returned after %lld ms",
                      prefetch, (long long)r.elapsed_ms);
        free(r.ids.v);
    }
}
END_TEST

START_TEST(ratelimit_cancel_and_unlimited)
{
    struct source_ratelimit *rl = source_ratelimit_new(0.5, 1);
    struct task_cancel c;
    struct bf_err err;
    int64_t t0 = time_mono_ms();

    task_cancel_init(&c);
    ck_assert_int_eq(source_ratelimit_acquire(rl, &c, &err), BF_OK);
    task_cancel_set(&c, BF_E_CANCELLED);
    ck_assert_int_eq(source_ratelimit_acquire(rl, &c, &err), BF_E_CANCELLED);
    ck_assert_int_lt(time_mono_ms() - t0, 500);
    source_ratelimit_free(rl);
    rl = source_ratelimit_new(0, 1);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(source_ratelimit_acquire(rl, NULL, NULL), BF_OK);
    ck_assert_int_eq(source_ratelimit_acquire(NULL, NULL, NULL), BF_OK);
    source_ratelimit_free(rl);
    source_ratelimit_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("cw");
    TCase *pure = tcase_create("pure");
    TCase *fake = tcase_create("fake");
    TCase *rl = tcase_create("ratelimit");

    tcase_add_test(pure, api_root_forms);
    tcase_add_test(pure, link_header);
    tcase_add_test(pure, retry_after_forms);
    tcase_add_test(pure, split_page);
    tcase_add_test(pure, split_page_string_offsets);
    tcase_add_test(pure, split_page_mutations);
    tcase_add_test(pure, header_parsers_random);
    tcase_add_test(pure, endpoint_table);
    tcase_add_test(pure, extra_endpoints_file);
    suite_add_tcase(s, pure);

    tcase_add_unchecked_fixture(fake, setup_fake, teardown_fake);
    tcase_set_timeout(fake, 60);
    tcase_add_test(fake, window_union_chunk_sizes);
    tcase_add_test(fake, window_boundary_exact);
    tcase_add_test(fake, page_bytes_shrink_pages);
    tcase_add_test(fake, paging_forward_only);
    tcase_add_test(fake, paging_navigable_links);
    tcase_add_test(fake, paging_page_fallback);
    tcase_add_test(fake, exactly_one_full_page_ends);
    tcase_add_test(fake, page_param_ignored_is_protocol_error);
    tcase_add_test(fake, base_url_forms);
    tcase_add_test(fake, retry_429_retry_after_seconds);
    tcase_add_test(fake, retry_429_retry_after_date);
    tcase_add_test(fake, retry_429_backoff_then_budget);
    tcase_add_test(fake, retry_5xx_and_transport);
    tcase_add_test(fake, auth_failed_not_retried);
    tcase_add_test(fake, protocol_errors);
    tcase_add_test(fake, protocol_error_names_page);
    tcase_add_test(fake, records_per_page_cap);
    tcase_add_test(fake, endless_link_loop);
    tcase_add_test(fake, response_size_cap);
    tcase_add_test(fake, slow_page_ok);
    tcase_add_test(fake, cancel_between_pages);
    tcase_add_test(fake, cancel_abandons_request_in_flight);
    tcase_add_test(fake, credentials_checked);
    tcase_add_test(fake, source_open_reads_its_secret);
    tcase_add_test(fake, ratelimit_paces_source);
    suite_add_tcase(s, fake);

    tcase_set_timeout(rl, 20);
    tcase_add_test(rl, ratelimit_shared_by_threads);
    tcase_add_test(rl, ratelimit_cancel_and_unlimited);
    suite_add_tcase(s, rl);
    return s;
}
