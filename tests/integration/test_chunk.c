/* test_chunk.c -- one chunk end to end: fake ConnectWise -> raw + canonical
 * gzip JSON Lines + manifests in a directory, and the task result.
 *
 * Window correctness through the files (a 30-day data set cut into chunks of
 * several sizes), rejects, idempotency (twice, and after a crash half-way),
 * the secret re-read after a 401, tenant errors, cancellation, the shared
 * per-tenant rate limit, and `backfill-worker run-chunk` through the real
 * binary, including its peak RSS on a 200,000-record chunk. Part files are
 * read back with zlib directly, not with the sink's own reader.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "chunk/chunk.h"
#include "config/config.h"
#include "failsink.h"
#include "fakesrv.h"
#include "task/task.h"
#include "testsuite.h"
#include "util/timeutil.h"

#define DS_START "2025-01-01T00:00:00Z"
#define DS_END "2025-01-31T00:00:00Z"

static struct fakesrv g_cw;
static char g_dir[256];   /* per-test scratch: tenants, secrets, output */

/* ---- small helpers ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_secrets(const char *private_key)
{
    char path[512], text[2048];

    snprintf(path, sizeof(path), "%s/secrets.json", g_dir);
    snprintf(text, sizeof(text),
             "{\"acme/dev\": {\"connectwise\": {\"api_base_url\": \"%s\", "
             "\"company_id\": \"acme\", \"public_key\": \"pubkey\", "
             "\"private_key\": \"%s\", \"client_id\": \"client-guid-1\"}}, "
             "\"slow/dev\": {\"connectwise\": {\"api_base_url\": \"%s/v4_6_release\", "
             "\"company_id\": \"acme\", \"public_key\": \"pubkey\", "
             "\"private_key\": \"privkey\", \"client_id\": \"client-guid-1\"}}}",
             g_cw.url, private_key, g_cw.url);
    write_file(path, text);
}

static void make_scratch(void)
{
    char path[512];

    snprintf(g_dir, sizeof(g_dir), "/tmp/bf-test-chunk-%d-XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(path, sizeof(path), "%s/tenants.json", g_dir);
    write_file(path,
               "[{\"tenant_id\": \"acme\", \"service\": \"connectwise\", \"enabled\": true, "
               "\"secret_name\": \"acme/dev\"},"
               " {\"tenant_id\": \"slow\", \"service\": \"connectwise\", \"enabled\": true, "
               "\"secret_name\": \"slow/dev\"},"
               " {\"tenant_id\": \"off\", \"service\": \"connectwise\", \"enabled\": false}]");
    write_secrets("privkey");
}

static void rm_rf(const char *dir)
{
    char cmd[600];

    if (strncmp(dir, "/tmp/bf-test-chunk-", 19) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A ninth, test-only endpoint: its catalog entry, mapping and fake
 * records are files here, and nothing else (src/README.md, `ConnectWise ingest`). */
#define EXTRA_DIR "tests/integration/fixtures/extra-endpoint"

static void setup_fake(void)
{
    const char *args[] = {"--seed", "11", "--start", DS_START, "--days", "30",
                          "--tickets", "2000", "--contacts", "1500",
                          "--products", "600", "--agreements", "400",
                          "--projects", "400", "--members", "300",
                          "--extra", "fixture/widgets=" EXTRA_DIR "/fake.js:180",
                          "--max-seconds", "600", NULL};

    ck_assert_int_eq(fakesrv_start(&g_cw, "tests/support/fake/connectwise.js", args), 0);
}

static void teardown_fake(void)
{
    fakesrv_stop(&g_cw);
}

/* Each test (forked) gets its own scratch directory. */
static void setup_test(void)
{
    make_scratch();
    fakesrv_admin(&g_cw, "POST", "reset", "{}", NULL);
}

static void teardown_test(void)
{
    rm_rf(g_dir);
}

static void config_for(struct bf_config *cfg, const char *out_sub)
{
    config_defaults(cfg);
    snprintf(cfg->output, sizeof(cfg->output), "file://%s/%s", g_dir, out_sub);
    snprintf(cfg->tenants, sizeof(cfg->tenants), "file://%s/tenants.json", g_dir);
    snprintf(cfg->secrets, sizeof(cfg->secrets), "file://%s/secrets.json", g_dir);
    snprintf(cfg->worker_name, sizeof(cfg->worker_name), "test-worker");
    cfg->source_rps = 0; /* unlimited unless a test says otherwise */
}

static void input_for(struct task_input *in, const char *tenant, const char *table,
                      const char *start, const char *end)
{
    char json[1024];
    struct bf_err err;

    snprintf(json, sizeof(json),
             "{\"tenant_id\":\"%s\",\"service\":\"connectwise\",\"table_name\":\"%s\","
             "\"start_date\":\"%s\",\"end_date\":\"%s\",\"backfill_id\":\"bf-test\"}",
             tenant, table, start, end);
    bf_err_init(&err);
    ck_assert_msg(task_input_parse(json, strlen(json), in, &err) == BF_OK, "%s",
                  err.message);
}

struct outcome {
    enum bf_rc rc;
    struct bf_err err;
    struct task_result res;
};

static void run_chunk(struct chunk_runner *r, const struct task_input *in,
                      struct task_cancel *cancel, struct outcome *o)
{
    struct task_cancel local;

    if (cancel == NULL) {
        task_cancel_init(&local);
        cancel = &local;
    }
    bf_err_init(&o->err);
    o->rc = chunk_run(r, in, cancel, &o->res, &o->err);
}

static struct chunk_runner *runner_for(const struct bf_config *cfg)
{
    struct chunk_runner *r = NULL;
    struct bf_err err;

    bf_err_init(&err);
    ck_assert_msg(chunk_runner_new(cfg, NULL, &r, &err) == BF_OK, "%s", err.message);
    return r;
}

/* The chunk directory (a local path) from a file:// result URI. */
static const char *uri_path(const char *uri)
{
    ck_assert_msg(strncmp(uri, "file://", 7) == 0, "%s", uri);
    return uri + 7;
}

/* Sorted names in a directory (excluding . and ..), joined by '\n'. */
static void list_dir(const char *dir, char *out, size_t n)
{
    struct dirent **ents = NULL;
    int k = scandir(dir, &ents, NULL, alphasort), i;

    out[0] = '\0';
    ck_assert_msg(k >= 0, "scandir %s: %s", dir, strerror(errno));
    for (i = 0; i < k; i++) {
        if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0) {
            strncat(out, ents[i]->d_name, n - strlen(out) - 2);
            strcat(out, "\n");
        }
        free(ents[i]);
    }
    free(ents);
}

typedef void (*line_fn)(const char *line, void *ud);

/* Every line of every `prefix`*.jsonl.gz in `dir`, read with zlib. */
static long read_parts(const char *dir, const char *prefix, line_fn fn, void *ud)
{
    struct dirent **ents = NULL;
    int k = scandir(dir, &ents, NULL, alphasort), i;
    static char line[1 << 20];
    long lines = 0;

    ck_assert_int_ge(k, 0);
    for (i = 0; i < k; i++) {
        char path[1024];
        gzFile gz = NULL;

        if (strncmp(ents[i]->d_name, prefix, strlen(prefix)) == 0 &&
            strstr(ents[i]->d_name, ".jsonl.gz") != NULL) {
            snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
            gz = gzopen(path, "rb");
            ck_assert_ptr_nonnull(gz);
            while (gzgets(gz, line, sizeof(line)) != NULL) {
                size_t len = strlen(line);

                ck_assert_msg(len > 0 && line[len - 1] == '\n', "line not terminated");
                line[len - 1] = '\0';
                fn(line, ud);
                lines++;
            }
            gzclose(gz);
        }
        free(ents[i]);
    }
    free(ents);
    return lines;
}

struct idset {
    long *v;
    size_t n, cap;
    const char *key; /* "id" */
};

static void idset_add(struct idset *s, long id)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof(long));
    }
    s->v[s->n++] = id;
}

static void collect_id(const char *line, void *ud)
{
    struct idset *s = ud;
    cJSON *j = cJSON_Parse(line);
    const cJSON *rec = j;

    ck_assert_msg(j != NULL, "invalid JSON line");
    if (cJSON_GetObjectItem(j, "record") != NULL)   /* a reject line */
        rec = cJSON_GetObjectItem(j, "record");
    idset_add(s, (long)cJSON_GetNumberValue(cJSON_GetObjectItem(rec, s->key)));
    cJSON_Delete(j);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return x < y ? -1 : x > y;
}

static void expected_ids(const char *table, const char *start, const char *end,
                         struct idset *out)
{
    char path[512];
    struct buf b;
    cJSON *j = NULL, *e = NULL;

    buf_init(&b, 0);
    snprintf(path, sizeof(path), "expected?table=%s&start=%s&end=%s", table, start, end);
    ck_assert_int_eq(fakesrv_admin(&g_cw, "GET", path, NULL, &b), 200);
    j = cJSON_Parse(b.data);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "ids"))
        idset_add(out, (long)e->valuedouble);
    cJSON_Delete(j);
    buf_cleanup(&b);
}

static cJSON *read_manifest(const char *dir)
{
    char path[1024];
    FILE *f = NULL;
    static char text[1 << 16];
    size_t n;

    snprintf(path, sizeof(path), "%s/_manifest.json", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return cJSON_Parse(text);
}

/* ---- tests ---- */

/* For several chunk sizes over 30 days: the union of the raw outputs is
 * exactly the records in range, each once; canonical + rejects cover the
 * same ids; the result's counts are the files' counts. */
START_TEST(window_union_through_files)
{
    static const int sizes[] = {2, 7, 30};
    struct idset want = {0};
    size_t s;

    want.key = "id";
    expected_ids("service/tickets", DS_START, DS_END, &want);
    ck_assert_int_gt(want.n, 1900);
    for (s = 0; s < 3; s++) {
        struct bf_config cfg;
        struct chunk_runner *r = NULL;
        struct idset raw = {0}, canon = {0};
        int64_t lo = 0, hi = 0, step = sizes[s] * 86400000LL, a;
        char sub[32];
        size_t i;

        raw.key = "id";
        canon.key = "id";
        snprintf(sub, sizeof(sub), "out%d", sizes[s]);
        config_for(&cfg, sub);
        r = runner_for(&cfg);
        time_parse_iso8601(DS_START, &lo, NULL);
        time_parse_iso8601(DS_END, &hi, NULL);
        for (a = lo; a < hi; a += step) {
            char sa[TIME_ISO_LEN], sb[TIME_ISO_LEN];
            struct task_input in;
            struct outcome o;
            long nraw, ncanon;
            cJSON *m = NULL;

            time_format_iso8601(a, sa);
            time_format_iso8601(a + step < hi ? a + step : hi, sb);
            input_for(&in, "acme", "service/tickets", sa, sb);
            run_chunk(r, &in, NULL, &o);
            ck_assert_msg(o.rc == BF_OK, "%s", o.err.message);
            nraw = read_parts(uri_path(o.res.raw.uri), "part-", collect_id, &raw);
            ncanon = read_parts(uri_path(o.res.canonical.uri), "part-", collect_id, &canon);
            ncanon += read_parts(uri_path(o.res.canonical.uri), "rejects-", collect_id, &canon);
            ck_assert_int_eq(o.res.records_ingested, nraw);
            ck_assert_int_eq(o.res.records_transformed + o.res.records_rejected, ncanon);
            ck_assert_int_eq(nraw, ncanon);
            ck_assert_int_ge(o.res.pages, 1);
            ck_assert_str_eq(o.res.canonical_table, "tickets");
            m = read_manifest(uri_path(o.res.raw.uri));
            ck_assert_ptr_nonnull(m);
            ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "records")), nraw);
            cJSON_Delete(m);
            m = read_manifest(uri_path(o.res.canonical.uri));
            ck_assert_ptr_nonnull(m);
            cJSON_Delete(m);
        }
        qsort(raw.v, raw.n, sizeof(long), cmp_long);
        qsort(canon.v, canon.n, sizeof(long), cmp_long);
        ck_assert_int_eq(raw.n, want.n);
        ck_assert_int_eq(canon.n, want.n);
        for (i = 0; i < want.n; i++) {
            ck_assert_int_eq(raw.v[i], want.v[i]);
            ck_assert_int_eq(canon.v[i], want.v[i]);
        }
        free(raw.v);
        free(canon.v);
        chunk_runner_free(r);
    }
    free(want.v);
}
END_TEST

/* The raw lines are the exact bytes the API served. */
static void check_raw_exact(const char *line, void *ud)
{
    cJSON *j = cJSON_Parse(line);
    char path[128];
    struct buf b;

    (void)ud;
    snprintf(path, sizeof(path), "record?table=company/contacts&id=%ld",
             (long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "id")));
    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&g_cw, "GET", path, NULL, &b), 200);
    ck_assert_str_eq(line, b.data);
    buf_cleanup(&b);
    cJSON_Delete(j);
}

static void count_null_first(const char *line, void *ud)
{
    cJSON *j = cJSON_Parse(line);

    if (cJSON_IsNull(cJSON_GetObjectItem(j, "firstName")))
        (*(long *)ud)++;
    cJSON_Delete(j);
}

static void check_canonical(const char *line, void *ud)
{
    cJSON *j = cJSON_Parse(line);

    (void)ud;
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "tenant_id")), "acme");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "source_system")), "connectwise");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "source_table")), "company/contacts");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "canonical_table")), "contacts");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "backfill_id")), "bf-test");
    ck_assert_int_eq(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(j, "record_hash"))), 64);
    ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(j, "first_name")));
    cJSON_Delete(j);
}

static void check_reject(const char *line, void *ud)
{
    cJSON *j = cJSON_Parse(line);
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(j, "reason"));

    (void)ud;
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "first_name") != NULL, "%s", why);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "record"), "firstName")));
    cJSON_Delete(j);
}

static void count_dup_reject(const char *line, void *ud)
{
    cJSON *j = cJSON_Parse(line);
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(j, "reason"));

    if (why != NULL && strcmp(why, "duplicate key: id") == 0)
        (*(long *)ud)++;
    cJSON_Delete(j);
}

static void count_lone_surrogates(const char *line, void *ud)
{
    if (strstr(line, "\"pasted \\ud800 text\"") != NULL)
        (*(long *)ud)++;
    if (strstr(line, "\"\\udc00\"") != NULL)
        (*(long *)ud)++;
}

/* Poison records (lone surrogates, a duplicate member) on tickets and time
 * entries: the chunk succeeds, raw keeps their bytes, the canonical side
 * counts the replacements and rejects the duplicate with its reason. */
START_TEST(hostile_records_do_not_fail_the_chunk)
{
    static const char *const tables[] = { "service/tickets", "time/entries" };
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct outcome o;
    size_t t;

    config_for(&cfg, "out");
    r = runner_for(&cfg);
    for (t = 0; t < 2; t++) {
        long dups = 0, lone = 0;

        input_for(&in, "acme", tables[t], DS_START, DS_END);
        fakesrv_admin(&g_cw, "POST", "faults",
                      "{\"faults\":[{\"hostile\":true,\"times\":1}]}", NULL);
        run_chunk(r, &in, NULL, &o);
        ck_assert_msg(o.rc == BF_OK, "%s: %s", tables[t], o.err.message);
        ck_assert_int_eq(o.res.text_replaced, 2);
        ck_assert_int_ge(o.res.records_rejected, 1);
        ck_assert_int_eq(o.res.records_transformed + o.res.records_rejected,
                         o.res.records_ingested);
        read_parts(uri_path(o.res.canonical.uri), "rejects-", count_dup_reject, &dups);
        ck_assert_int_eq(dups, 1);
        read_parts(uri_path(o.res.raw.uri), "part-", count_lone_surrogates, &lone);
        ck_assert_int_eq(lone, 2);
        fakesrv_admin(&g_cw, "DELETE", "faults", NULL, NULL);
    }
    chunk_runner_free(r);
}
END_TEST

START_TEST(contacts_rejects_and_raw_bytes)
{
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct outcome o;
    long null_first = 0, nrej;
    cJSON *m = NULL;

    config_for(&cfg, "out");
    r = runner_for(&cfg);
    input_for(&in, "acme", "company/contacts", DS_START, DS_END);
    run_chunk(r, &in, NULL, &o);
    ck_assert_msg(o.rc == BF_OK, "%s", o.err.message);
    ck_assert_int_eq(o.res.records_ingested, 1500);
    ck_assert_int_eq(o.res.pages, 2);
    read_parts(uri_path(o.res.raw.uri), "part-", count_null_first, &null_first);
    ck_assert_int_gt(null_first, 0);
    ck_assert_int_eq(o.res.records_rejected, null_first);
    ck_assert_int_eq(o.res.records_transformed, 1500 - null_first);
    nrej = read_parts(uri_path(o.res.canonical.uri), "rejects-", check_reject, NULL);
    ck_assert_int_eq(nrej, null_first);
    read_parts(uri_path(o.res.canonical.uri), "part-", check_canonical, NULL);
    /* a sample of raw lines against the fake's bytes */
    read_parts(uri_path(o.res.raw.uri), "part-", check_raw_exact, NULL);
    m = read_manifest(uri_path(o.res.raw.uri));
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "backfill_id")), "bf-test");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "start_date")),
                     "2025-01-01T00:00:00.000Z");
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "records")), 1500);
    cJSON_Delete(m);
    ck_assert_ptr_nonnull(strstr(o.res.raw.uri,
                                 "/out/acme/raw/connectwise/company/contacts/backfill/"
                                 "2025-01-01T00-00-00.000Z_2025-01-31T00-00-00.000Z"));
    ck_assert_ptr_nonnull(strstr(o.res.canonical.uri,
                                 "/out/acme/canonical/contacts/backfill/"
                                 "2025-01-01T00-00-00.000Z_2025-01-31T00-00-00.000Z"));
    ck_assert_int_gt(o.res.raw.bytes, 0);
    ck_assert_int_eq(o.res.raw.parts, 1);
    ck_assert_int_eq(o.res.canonical.parts, 2); /* data + rejects */
    chunk_runner_free(r);
}
END_TEST

/* The four tables beyond the priority ones: every record the window holds
 * arrives, the ones without a required field are rejected naming it, and a
 * money or hours value the API sent as a string comes out as a number. */
static const struct new_table {
    const char *endpoint, *canonical, *required, *required_raw;
    const char *coerce_raw, *coerce;
} new_tables[] = {
    { "procurement/products", "products", "catalog_item_id", "catalogItem", "price", "price" },
    { "finance/agreements", "agreements", "name", "name", "billAmount", "bill_amount" },
    { "project/projects", "projects", "name", "name", "actualHours", "actual_hours" },
    { "system/members", "members", "identifier", "identifier", "hourlyCost", "hourly_cost" },
};

struct new_table_seen {
    const struct new_table *t;
    long string_values; /* raw records carrying coerce_raw as a string */
    long numbers;       /* canonical records with a number there */
};

static void new_raw(const char *line, void *ud)
{
    struct new_table_seen *seen = ud;
    cJSON *j = cJSON_Parse(line);

    if (cJSON_IsString(cJSON_GetObjectItem(j, seen->t->coerce_raw)))
        seen->string_values++;
    cJSON_Delete(j);
}

static void new_canonical(const char *line, void *ud)
{
    struct new_table_seen *seen = ud;
    cJSON *j = cJSON_Parse(line);
    const cJSON *v = cJSON_GetObjectItem(j, seen->t->coerce);

    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "source_table")),
                     seen->t->endpoint);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "canonical_table")),
                     seen->t->canonical);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "tenant_id")), "acme");
    ck_assert_int_eq(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(j, "record_hash"))), 64);
    ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(j, "last_updated")));
    ck_assert(!cJSON_IsNull(cJSON_GetObjectItem(j, seen->t->required)));
    ck_assert_msg(cJSON_IsNumber(v) || cJSON_IsNull(v), "%s: %s", seen->t->coerce, line);
    seen->numbers += cJSON_IsNumber(v) ? 1 : 0;
    cJSON_Delete(j);
}

static void new_reject(const char *line, void *ud)
{
    struct new_table_seen *seen = ud;
    cJSON *j = cJSON_Parse(line);
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(j, "reason"));
    const cJSON *raw = cJSON_GetObjectItem(j, "record");

    ck_assert_msg(why != NULL && strstr(why, seen->t->required) != NULL, "%s", line);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(raw, seen->t->required_raw)) ||
              cJSON_GetObjectItem(raw, seen->t->required_raw) == NULL);
    cJSON_Delete(j);
}

START_TEST(new_tables_one_chunk)
{
    const struct new_table *t = &new_tables[_i];
    struct new_table_seen seen = { t, 0, 0 };
    struct idset want = {0};
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct outcome o;
    long nrej;

    want.key = "id";
    expected_ids(t->endpoint, DS_START, DS_END, &want);
    ck_assert_int_gt(want.n, 250);
    config_for(&cfg, "out");
    r = runner_for(&cfg);
    input_for(&in, "acme", t->endpoint, DS_START, DS_END);
    run_chunk(r, &in, NULL, &o);
    ck_assert_msg(o.rc == BF_OK, "%s: %s", t->endpoint, o.err.message);
    ck_assert_int_eq(o.res.records_ingested, (long long)want.n);
    ck_assert_int_gt(o.res.records_rejected, 0);
    ck_assert_int_eq(o.res.records_transformed + o.res.records_rejected, want.n);
    read_parts(uri_path(o.res.raw.uri), "part-", new_raw, &seen);
    ck_assert_int_gt(seen.string_values, 0);
    ck_assert_int_eq(read_parts(uri_path(o.res.canonical.uri), "part-", new_canonical, &seen),
                     o.res.records_transformed);
    ck_assert_int_gt(seen.numbers, 0);
    nrej = read_parts(uri_path(o.res.canonical.uri), "rejects-", new_reject, &seen);
    ck_assert_int_eq(nrej, o.res.records_rejected);
    ck_assert_ptr_nonnull(strstr(o.res.canonical.uri, t->canonical));
    free(want.v);
    chunk_runner_free(r);
}
END_TEST

static void hash_of(const char *line, void *ud)
{
    struct idset *s = ud;
    cJSON *j = cJSON_Parse(line);
    const char *h = cJSON_GetStringValue(cJSON_GetObjectItem(j, "record_hash"));

    /* the first 15 hex digits of record_hash, as a number */
    idset_add(s, h != NULL ? strtol((char[16]){h[0], h[1], h[2], h[3], h[4], h[5], h[6],
                                               h[7], h[8], h[9], h[10], h[11], h[12],
                                               h[13], h[14], 0}, NULL, 16) : -1);
    cJSON_Delete(j);
}

static void snapshot(const struct outcome *o, char *raw_names, char *canon_names,
                     char **raw_bytes, struct idset *hashes)
{
    char path[1024];
    FILE *f = NULL;
    long n;

    list_dir(uri_path(o->res.raw.uri), raw_names, 4096);
    list_dir(uri_path(o->res.canonical.uri), canon_names, 4096);
    snprintf(path, sizeof(path), "%s/part-00000.jsonl.gz", uri_path(o->res.raw.uri));
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    *raw_bytes = malloc((size_t)n + sizeof(long));
    memcpy(*raw_bytes, &n, sizeof(long));
    ck_assert_int_eq(fread(*raw_bytes + sizeof(long), 1, (size_t)n, f), (size_t)n);
    fclose(f);
    read_parts(uri_path(o->res.canonical.uri), "part-", hash_of, hashes);
}

/* Twice, then a crash half-way, then once more: one complete identical set. */
START_TEST(idempotent_rerun_and_crash)
{
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct outcome o1, o2, o3, o4;
    char rn1[4096], cn1[4096], rn2[4096], cn2[4096];
    char *rb1 = NULL, *rb2 = NULL;
    struct idset h1 = {0}, h2 = {0};
    struct chunk_options opts = {0};
    cJSON *m1 = NULL, *m2 = NULL;

    config_for(&cfg, "out");
    r = runner_for(&cfg);
    input_for(&in, "acme", "service/tickets", DS_START, "2025-01-11T00:00:00Z");
    /* small parts so the chunk has several */
    opts.part_max_bytes = 64 * 1024;
    chunk_runner_set_options(r, &opts);
    run_chunk(r, &in, NULL, &o1);
    ck_assert_msg(o1.rc == BF_OK, "%s", o1.err.message);
    ck_assert_int_gt(o1.res.raw.parts, 2);
    snapshot(&o1, rn1, cn1, &rb1, &h1);
    m1 = read_manifest(uri_path(o1.res.raw.uri));

    run_chunk(r, &in, NULL, &o2);
    ck_assert_int_eq(o2.rc, BF_OK);
    snapshot(&o2, rn2, cn2, &rb2, &h2);
    ck_assert_str_eq(rn1, rn2);
    ck_assert_str_eq(cn1, cn2);
    ck_assert(memcmp(rb1, rb2, *(long *)rb1 + sizeof(long)) == 0);
    ck_assert_int_eq(h1.n, h2.n);
    ck_assert(memcmp(h1.v, h2.v, h1.n * sizeof(long)) == 0);
    m2 = read_manifest(uri_path(o2.res.raw.uri));
    ck_assert(cJSON_Compare(m1, m2, 1));
    cJSON_Delete(m2);
    free(rb2);
    free(h2.v);
    memset(&h2, 0, sizeof(h2));

    /* A crash half-way, in another process (as a real crash would be): the
     * chunk writes through a failing sink (tests/support/failsink.h) whose
     * 3rd object write fails, and its temporary file stays behind. */
    {
        /* The child reports its result through a pipe, not its exit code:
         * valgrind rewrites a forked child's exit status. */
        int fds[2];
        pid_t pid;
        int status = 0;
        char verdict = '?';

        ck_assert_int_eq(pipe(fds), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct sink *inner = NULL;
            struct bf_err e;

            close(fds[0]);
            /* Never freed: the child exits as a crashed process would,
             * keeping the failed object's temporary file. */
            if (sink_open(cfg.output, NULL, NULL, &inner, &e) != BF_OK ||
                failsink_new(inner, 3, &opts.sink, &e) != BF_OK)
                _exit(2);
            chunk_runner_set_options(r, &opts);
            run_chunk(r, &in, NULL, &o3);
            verdict = o3.rc == BF_OK ? 'k' : 'f';
            if (write(fds[1], &verdict, 1) != 1)
                _exit(2);
            _exit(0);
        }
        close(fds[1]);
        ck_assert_int_eq(read(fds[0], &verdict, 1), 1);
        close(fds[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(verdict == 'f', "the crashing attempt did not fail");
    }
    /* the interrupted attempt removed the old manifest first, and left
     * its half-written temporary file */
    ck_assert_ptr_null(read_manifest(uri_path(o1.res.raw.uri)));
    list_dir(uri_path(o1.res.raw.uri), rn2, sizeof(rn2));
    list_dir(uri_path(o1.res.canonical.uri), cn2, sizeof(cn2));
    ck_assert_msg(strstr(rn2, ".tmp-") != NULL || strstr(cn2, ".tmp-") != NULL,
                  "no debris: %s / %s", rn2, cn2);

    run_chunk(r, &in, NULL, &o4);
    ck_assert_msg(o4.rc == BF_OK, "%s", o4.err.message);
    snapshot(&o4, rn2, cn2, &rb2, &h2);
    ck_assert_str_eq(rn1, rn2);
    ck_assert_str_eq(cn1, cn2);
    ck_assert(memcmp(rb1, rb2, *(long *)rb1 + sizeof(long)) == 0);
    ck_assert(memcmp(h1.v, h2.v, h1.n * sizeof(long)) == 0);
    m2 = read_manifest(uri_path(o4.res.raw.uri));
    ck_assert(cJSON_Compare(m1, m2, 1));
    ck_assert_int_eq(o4.res.records_ingested, o1.res.records_ingested);
    cJSON_Delete(m1);
    cJSON_Delete(m2);
    free(rb1);
    free(rb2);
    free(h1.v);
    free(h2.v);
    chunk_runner_free(r);
}
END_TEST

static int count_calls(void)
{
    struct buf b;
    cJSON *j = NULL;
    int n;

    buf_init(&b, 0);
    fakesrv_admin(&g_cw, "GET", "calls", NULL, &b);
    j = cJSON_Parse(b.data);
    n = cJSON_GetArraySize(j);
    cJSON_Delete(j);
    buf_cleanup(&b);
    return n;
}

/* 401: the secret is read again once (bypassing the cache) before failing;
 * a rotated secret is picked up that way. */
START_TEST(auth_failure_rereads_secret)
{
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct outcome o;

    write_secrets("stale-key");
    config_for(&cfg, "out");
    r = runner_for(&cfg);
    input_for(&in, "acme", "company/companies", DS_START, DS_END);
    run_chunk(r, &in, NULL, &o);
    ck_assert_int_eq(o.rc, BF_E_SOURCE_AUTH_FAILED);
    ck_assert_str_eq(o.err.endpoint, "company/companies");
    ck_assert_int_eq(o.err.http_status, 401);
    ck_assert_ptr_null(strstr(o.err.message, "stale-key"));
    ck_assert_int_eq(count_calls(), 2); /* once per secret read */

    /* rotate: the runner's cache still holds the stale one */
    write_secrets("privkey");
    fakesrv_admin(&g_cw, "POST", "reset", "{}", NULL);
    run_chunk(r, &in, NULL, &o);
    ck_assert_msg(o.rc == BF_OK, "%s", o.err.message);
    ck_assert_int_eq(o.res.records_ingested, 200);
    chunk_runner_free(r);
}
END_TEST

START_TEST(tenant_errors)
{
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct outcome o;

    config_for(&cfg, "out");
    r = runner_for(&cfg);
    input_for(&in, "nobody", "service/tickets", DS_START, DS_END);
    run_chunk(r, &in, NULL, &o);
    ck_assert_int_eq(o.rc, BF_E_TENANT_NOT_CONFIGURED);
    input_for(&in, "off", "service/tickets", DS_START, DS_END);
    run_chunk(r, &in, NULL, &o);
    ck_assert_int_eq(o.rc, BF_E_TENANT_DISABLED);
    ck_assert_int_eq(count_calls(), 0);
    chunk_runner_free(r);
}
END_TEST

START_TEST(source_errors_reach_result)
{
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct outcome o;
    struct chunk_options opts = {0};
    char path[1024];

    config_for(&cfg, "out");
    r = runner_for(&cfg);
    opts.source.max_attempts_429 = 2;
    opts.source.backoff_base_ms = 10;
    chunk_runner_set_options(r, &opts);
    input_for(&in, "acme", "service/tickets", DS_START, DS_END);
    fakesrv_admin(&g_cw, "POST", "faults", "{\"faults\":[{\"status\":429,\"times\":10}]}", NULL);
    run_chunk(r, &in, NULL, &o);
    ck_assert_int_eq(o.rc, BF_E_SOURCE_RATE_LIMITED);
    ck_assert_str_eq(o.err.endpoint, "service/tickets");
    ck_assert_int_eq(o.err.page, 1);
    fakesrv_admin(&g_cw, "DELETE", "faults", NULL, NULL);
    fakesrv_admin(&g_cw, "POST", "faults", "{\"faults\":[{\"invalid\":true,\"skip\":1}]}", NULL);
    run_chunk(r, &in, NULL, &o);
    ck_assert_int_eq(o.rc, BF_E_SOURCE_PROTOCOL);
    ck_assert_int_eq(o.err.page, 2);
    /* no manifest for a failed chunk */
    snprintf(path, sizeof(path), "%s/out/acme/raw/connectwise/service/tickets/backfill/"
             "2025-01-01T00-00-00.000Z_2025-01-31T00-00-00.000Z", g_dir);
    ck_assert_ptr_null(read_manifest(path));
    chunk_runner_free(r);
}
END_TEST

START_TEST(cancel_and_shutdown)
{
    struct bf_config cfg;
    struct chunk_runner *r = NULL;
    struct task_input in;
    struct task_cancel c;
    struct outcome o;

    config_for(&cfg, "out");
    r = runner_for(&cfg);
    input_for(&in, "acme", "service/tickets", DS_START, DS_END);
    task_cancel_init(&c);
    task_cancel_set(&c, BF_E_CANCELLED);
    run_chunk(r, &in, &c, &o);
    ck_assert_int_eq(o.rc, BF_E_CANCELLED);
    ck_assert_int_eq(count_calls(), 0);
    task_cancel_init(&c);
    task_cancel_set(&c, BF_E_WORKER_SHUTDOWN);
    run_chunk(r, &in, &c, &o);
    ck_assert_int_eq(o.rc, BF_E_WORKER_SHUTDOWN);
    ck_assert_str_eq(bf_rc_error_name(o.rc), "Backfill.WorkerShutdown");
    chunk_runner_free(r);
}
END_TEST

struct par {
    struct chunk_runner *r;
    struct task_input in;
    struct outcome o;
};

static void *par_run(void *arg)
{
    struct par *p = arg;

    run_chunk(p->r, &p->in, NULL, &p->o);
    return NULL;
}

/* Two slots, one tenant, BACKFILL_SOURCE_RPS=4: together they stay inside
 * 4 requests/s (burst 4); another tenant is not slowed by them. */
START_TEST(rate_limit_shared_per_tenant)
{
    struct bf_config cfg;
    struct par a, b;
    pthread_t ta, tb;
    struct chunk_options opts = {0};
    int64_t t0, el;
    long pages;

    config_for(&cfg, "out");
    cfg.source_rps = 4;
    a.r = runner_for(&cfg);
    b.r = a.r;
    opts.source.page_size = 100; /* 1500 contacts: 15-16 pages per chunk */
    chunk_runner_set_options(a.r, &opts);
    input_for(&a.in, "acme", "company/contacts", DS_START, "2025-01-16T00:00:00Z");
    input_for(&b.in, "acme", "company/contacts", "2025-01-16T00:00:00Z", DS_END);
    t0 = time_mono_ms();
    pthread_create(&ta, NULL, par_run, &a);
    pthread_create(&tb, NULL, par_run, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    el = time_mono_ms() - t0;
    ck_assert_int_eq(a.o.rc, BF_OK);
    ck_assert_int_eq(b.o.rc, BF_OK);
    pages = a.o.res.pages + b.o.res.pages;
    ck_assert_int_ge(pages, 15);
    /* (pages - burst) / rps seconds at least */
    ck_assert_int_ge(el, (pages - 4) * 250 - 50);

    /* a different tenant has its own bucket: 2 pages go at once */
    input_for(&a.in, "slow", "company/companies", DS_START, DS_END);
    t0 = time_mono_ms();
    par_run(&a);
    ck_assert_int_eq(a.o.rc, BF_OK);
    ck_assert_int_lt(time_mono_ms() - t0, 1000);
    chunk_runner_free(a.r);
}
END_TEST

/* ---- through the real binary ---- */

struct child_run {
    int status;
    long maxrss_kb;
    int64_t ms;
    char out[65536];
};

/* Run BF_BIN run-chunk with `input` on stdin and env overrides; capture
 * stdout and the child's peak RSS (wait4). */
static void run_binary(const char *input, const char *const *env, struct child_run *cr)
{
    int in[2], out[2];
    pid_t pid;
    struct rusage ru;
    size_t n = 0;
    ssize_t k;
    int64_t t0 = time_mono_ms();
    const char *bin = getenv("BF_BIN");

    ck_assert_ptr_nonnull(bin);
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        for (; env != NULL && *env != NULL; env += 2)
            setenv(env[0], env[1], 1);
        execl(bin, bin, "run-chunk", "--input", "-", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    ck_assert_int_eq(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
    close(in[1]);
    for (;;) {
        k = read(out[0], cr->out + n, sizeof(cr->out) - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    cr->out[n] = '\0';
    close(out[0]);
    ck_assert_int_eq(wait4(pid, &cr->status, 0, &ru), pid);
    cr->maxrss_kb = ru.ru_maxrss;
    cr->ms = time_mono_ms() - t0;
}

static void binary_env(char (*vals)[1100], const char **env, const char *rps)
{
    snprintf(vals[0], 1100, "file://%s/bin-out", g_dir);
    snprintf(vals[1], 1100, "file://%s/tenants.json", g_dir);
    snprintf(vals[2], 1100, "file://%s/secrets.json", g_dir);
    env[0] = "BACKFILL_OUTPUT";
    env[1] = vals[0];
    env[2] = "BACKFILL_TENANTS";
    env[3] = vals[1];
    env[4] = "BACKFILL_SECRETS";
    env[5] = vals[2];
    env[6] = "BACKFILL_SOURCE_RPS";
    env[7] = rps;
    env[8] = "BACKFILL_WORKER_NAME";
    env[9] = "bin-worker";
    env[10] = "BACKFILL_LOG_LEVEL";
    env[11] = "warn";
    env[12] = NULL;
}

/* Adding an endpoint is data only: the binary, given the fixture's endpoint
 * catalog and mapping directory, plans and runs a chunk of fixture/widgets;
 * without them the same input is refused. */
static void check_widget(const char *line, void *ud)
{
    cJSON *j = cJSON_Parse(line);

    (void)ud;
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "canonical_table")), "widgets");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "source_table")), "fixture/widgets");
    ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(j, "label")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "weight_kg")));
    cJSON_Delete(j);
}

START_TEST(ninth_endpoint_from_fixtures)
{
    static const char input[] =
        "{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"fixture/widgets\","
        "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-31\",\"backfill_id\":\"w-1\"}";
    char vals[3][1100], top[1024], cat[1100], maps[1100], path[1300];
    const char *env[18];
    struct child_run cr;
    struct idset want = {0};
    cJSON *j = NULL, *calls = NULL, *c = NULL;
    struct buf b;
    long lines, navigable = 0, unlabelled = 0;
    size_t i;
    FILE *f = NULL;

    binary_env(vals, env, "50");
    run_binary(input, env, &cr);
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) != 0, "%s", cr.out);
    ck_assert_msg(strstr(cr.out, "Backfill.InvalidInput") != NULL, "%s", cr.out);
    /* An invalid catalog stops the program before any work (exit 2). */
    snprintf(cat, sizeof(cat), "%s/bad-endpoints.json", g_dir);
    f = fopen(cat, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"connectwise\": {\"endpoints\": [{\"endpoint\": \"fixture/widgets\"}]}}", f);
    fclose(f);
    env[12] = "BACKFILL_ENDPOINTS_FILE";
    env[13] = cat;
    env[14] = NULL;
    run_binary(input, env, &cr);
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 2, "%s", cr.out);
    ck_assert_msg(strstr(cr.out, "SUCCEEDED") == NULL, "%s", cr.out);

    snprintf(top, sizeof(top), "%s", getenv("BF_TOP"));
    snprintf(cat, sizeof(cat), "%s/" EXTRA_DIR "/endpoints.json", top);
    snprintf(maps, sizeof(maps), "%s/" EXTRA_DIR "/mappings", top);
    env[12] = "BACKFILL_ENDPOINTS_FILE";
    env[13] = cat;
    env[14] = "BACKFILL_MAPPINGS_DIR";
    env[15] = maps;
    env[16] = NULL;
    want.key = "id";
    expected_ids("fixture/widgets", "2025-01-01T00:00:00Z", "2025-01-31T00:00:00Z", &want);
    ck_assert_int_eq(want.n, 180);
    run_binary(input, env, &cr);
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0, "%s", cr.out);
    j = cJSON_Parse(cr.out);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "SUCCEEDED");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "canonical_table")), "widgets");
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_ingested")), 180);
    /* a widget whose id is a multiple of 10 has no label (fake.js) */
    for (i = 0; i < want.n; i++)
        unlabelled += want.v[i] % 10 == 0 ? 1 : 0;
    ck_assert_int_gt(unlabelled, 0);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_rejected")),
                     unlabelled);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pages")), 4);
    snprintf(path, sizeof(path), "%s", cJSON_GetStringValue(cJSON_GetObjectItem(
                                           cJSON_GetObjectItem(j, "canonical"), "uri")));
    lines = read_parts(uri_path(path), "part-", check_widget, NULL);
    ck_assert_int_eq(lines, 180 - unlabelled);
    cJSON_Delete(j);
    /* The entry's "paging": "navigable" is honoured: no forward-only header. */
    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&g_cw, "GET", "calls", NULL, &b), 200);
    calls = cJSON_Parse(b.data);
    cJSON_ArrayForEach(c, calls) {
        const cJSON *h = cJSON_GetObjectItem(c, "headers");
        const char *cp = cJSON_GetStringValue(cJSON_GetObjectItem(c, "path"));

        if (cp == NULL || strstr(cp, "fixture/widgets") == NULL)
            continue;
        ck_assert_ptr_null(cJSON_GetObjectItem(h, "pagination-type"));
        navigable++;
    }
    ck_assert_int_eq(navigable, 4);
    cJSON_Delete(calls);
    buf_cleanup(&b);
    free(want.v);
}
END_TEST

START_TEST(run_chunk_binary)
{
    char vals[3][1100];
    const char *env[14];
    struct child_run cr;
    cJSON *j = NULL;
    struct idset want = {0};

    binary_env(vals, env, "50");
    want.key = "id";
    expected_ids("time/entries", "2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z", &want);
    run_binary("{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"time/entries\","
               "\"start_date\":\"2025-01-05\",\"end_date\":\"2025-01-12\",\"chunk_number\":2,"
               "\"total_chunks\":5,\"backfill_id\":\"exec-1\",\"attempt\":1}", env, &cr);
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0, "%s", cr.out);
    j = cJSON_Parse(cr.out);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "SUCCEEDED");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "canonical_table")), "time_entries");
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_ingested")),
                     (long)want.n);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_transformed")) +
                     (long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_rejected")),
                     (long)want.n);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "chunk_number")), 2);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "worker")), "bin-worker");
    ck_assert_ptr_nonnull(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(
                                     cJSON_GetObjectItem(j, "raw"), "uri")),
                                 "bin-out/acme/raw/connectwise/time/entries/backfill/"
                                 "2025-01-05T00-00-00.000Z_2025-01-12T00-00-00.000Z"));
    ck_assert_int_ge((long)cJSON_GetNumberValue(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(j, "canonical"), "bytes")), 100);
    cJSON_Delete(j);
    free(want.v);

    /* a failure prints the error and exits non-zero */
    fakesrv_admin(&g_cw, "POST", "faults", "{\"faults\":[{\"status\":401}]}", NULL);
    write_secrets("bad");
    run_binary("{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"time/entries\","
               "\"start_date\":\"2025-01-05\",\"end_date\":\"2025-01-12\"}", env, &cr);
    ck_assert(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) != 0);
    ck_assert_msg(strstr(cr.out, "Backfill.SourceAuthFailed") != NULL, "%s", cr.out);
    ck_assert_ptr_null(strstr(cr.out, "bad"));
}
END_TEST

/* Lines in a gzip JSON Lines object held in memory. */
static long gunzip_lines(const unsigned char *p, size_t n)
{
    z_stream z;
    unsigned char out[65536];
    long lines = 0;
    int r = Z_OK;

    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    while (r != Z_STREAM_END) {
        size_t i;

        z.next_out = out;
        z.avail_out = sizeof(out);
        r = inflate(&z, Z_NO_FLUSH);
        ck_assert_msg(r == Z_OK || r == Z_STREAM_END, "inflate: %d", r);
        for (i = 0; i < sizeof(out) - z.avail_out; i++)
            lines += out[i] == '\n';
    }
    inflateEnd(&z);
    return lines;
}

/* BACKFILL_OUTPUT=s3://...: the same chunk lands in the fake S3 (SigV4
 * verified), and BACKFILL_TRANSFORM=lambda hands the transform to the
 * original Lambda while the raw side stays built in. */
START_TEST(run_chunk_binary_s3_and_lambda)
{
    struct fakesrv aws;
    const char *aws_args[] = {"--services", "s3,lambda", "--max-seconds", "300", NULL};
    char vals[3][1100];
    const char *env[40];
    struct child_run cr;
    struct buf b;
    cJSON *j = NULL, *e = NULL;
    int nobj = 0, found_raw = 0;
    const char *input = "{\"tenant_id\":\"acme\",\"service\":\"connectwise\","
                        "\"table_name\":\"company/contacts\",\"start_date\":\"2025-01-01\","
                        "\"end_date\":\"2025-01-31\"}";
    size_t k;

    ck_assert_int_eq(fakesrv_start(&aws, "tests/support/fake/server.js", aws_args), 0);
    binary_env(vals, env, "100");
    k = 12;
    env[1] = "s3://lake/pre";
    env[k++] = "AWS_ENDPOINT_URL_S3";
    env[k++] = aws.url;
    env[k++] = "AWS_ENDPOINT_URL_LAMBDA";
    env[k++] = aws.url;
    env[k++] = "AWS_REGION";
    env[k++] = "us-east-1";
    env[k++] = "AWS_ACCESS_KEY_ID";
    env[k++] = "AKIDEXAMPLE";
    env[k++] = "AWS_SECRET_ACCESS_KEY";
    env[k++] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    env[k++] = "AWS_EC2_METADATA_DISABLED";
    env[k++] = "true";
    env[k] = NULL;
    run_binary(input, env, &cr);
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0, "%s", cr.out);
    j = cJSON_Parse(cr.out);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_ingested")), 1500);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "raw"), "uri")),
                     "s3://lake/pre/acme/raw/connectwise/company/contacts/backfill/"
                     "2025-01-01T00-00-00.000Z_2025-01-31T00-00-00.000Z");
    cJSON_Delete(j);

    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&aws, "GET", "svc/s3/objects?bucket=lake&prefix=pre/acme/",
                                   NULL, &b), 200);
    j = cJSON_Parse(b.data);
    buf_cleanup(&b);
    cJSON_ArrayForEach(e, j) {
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(e, "key"));

        nobj++;
        if (strstr(key, "/raw/") != NULL && strstr(key, "part-00000.jsonl.gz") != NULL) {
            char path[600];
            struct buf obj;

            snprintf(path, sizeof(path), "svc/s3/object?bucket=lake&key=%s", key);
            buf_init(&obj, 0);
            ck_assert_int_eq(fakesrv_admin(&aws, "GET", path, NULL, &obj), 200);
            ck_assert_int_eq(gunzip_lines((const unsigned char *)obj.data, obj.len), 1500);
            buf_cleanup(&obj);
            found_raw = 1;
        }
    }
    /* raw part + manifest, canonical part + rejects + manifest */
    ck_assert_int_eq(nobj, 5);
    ck_assert(found_raw);
    cJSON_Delete(j);

    /* the transform as the original Lambda */
    ck_assert_int_eq(fakesrv_admin(&aws, "POST", "svc/lambda/functions/avesa-canonical-transform-contacts-dev",
                                   "{\"responses\":[{\"payload\":{\"statusCode\":200,"
                                   "\"body\":\"{}\"}}]}", NULL), 200);
    env[k++] = "BACKFILL_TRANSFORM";
    env[k++] = "lambda";
    env[k] = NULL;
    run_binary(input, env, &cr);
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0, "%s", cr.out);
    j = cJSON_Parse(cr.out);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_ingested")), 1500);
    cJSON_Delete(j);
    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&aws, "GET", "svc/lambda/functions", NULL, &b), 200);
    ck_assert_msg(strstr(b.data, "avesa-canonical-transform-contacts-dev") != NULL, "%s", b.data);
    buf_cleanup(&b);
    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&aws, "GET", "calls?service=lambda", NULL, &b), 200);
    j = cJSON_Parse(b.data);
    ck_assert_int_eq(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    buf_cleanup(&b);

    /* the ingest as the original Lambda, the built-in transform reading the
     * raw chunk (written above) back from S3 through its manifest */
    ck_assert_int_eq(fakesrv_admin(&aws, "POST", "svc/lambda/functions/avesa-connectwise-ingestion-dev",
                                   "{\"responses\":[{\"payload\":{\"statusCode\":200,"
                                   "\"body\":\"{}\"}}]}", NULL), 200);
    env[k - 1] = "builtin";
    env[k++] = "BACKFILL_INGEST";
    env[k++] = "lambda";
    env[k] = NULL;
    fakesrv_admin(&g_cw, "POST", "reset", "{}", NULL);
    run_binary(input, env, &cr);
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0, "%s", cr.out);
    j = cJSON_Parse(cr.out);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_transformed")) +
                     (long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_rejected")), 1500);
    cJSON_Delete(j);
    ck_assert_int_eq(count_calls(), 0); /* ConnectWise was not called */
    fakesrv_stop(&aws);
}
END_TEST

/* `n` tickets in one chunk through the binary: peak RSS (the child's
 * ru_maxrss) stays bounded by a page, not by the chunk. */
static void memory_chunk(long n)
{
    struct fakesrv big;
    char count[32];
    const char *args[] = {"--seed", "3", "--start", DS_START, "--days", "30",
                          "--tickets", count, "--max-seconds", "900", NULL};
    char vals[3][1100];
    const char *env[14];
    struct child_run cr;
    cJSON *j = NULL;
    struct fakesrv saved = g_cw;

    snprintf(count, sizeof(count), "%ld", n);
    ck_assert_int_eq(fakesrv_start(&big, "tests/support/fake/connectwise.js", args), 0);
    g_cw = big;
    write_secrets("privkey");
    binary_env(vals, env, "1000");
    run_binary("{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
               "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-31\"}", env, &cr);
    fakesrv_stop(&big);
    g_cw = saved;
    ck_assert_msg(WIFEXITED(cr.status) && WEXITSTATUS(cr.status) == 0, "%s", cr.out);
    j = cJSON_Parse(cr.out);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_ingested")), n);
    ck_assert_int_eq((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "records_transformed")), n);
    /* Pages of at most 1000 records; fewer when they are large (the
     * ConnectWise source sizes pages by bytes). */
    ck_assert_int_ge((long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pages")), (n + 999) / 1000);
    fprintf(stderr, "memory_chunk: %ld records, %ld pages, peak RSS %ld KiB, %lld ms wall, "
            "raw %.0f bytes, canonical %.0f bytes\n", n,
            (long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pages")), cr.maxrss_kb,
            (long long)cr.ms,
            cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "raw"), "bytes")),
            cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "canonical"), "bytes")));
    /* a page is ~2.5 MB of JSON; 64 MiB leaves room for zlib, cJSON trees,
     * curl and the libraries, and is far below a 200k chunk's 500 MB */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* The sanitizers' shadow memory (and ASan's quarantine) make RSS
     * meaningless here. */
    (void)0;
#else
    /* Under valgrind (tests/hardening/valgrind.sh sets BF_UNDER_VALGRIND)
     * the child's ru_maxrss counts the large valgrind parent's pages. */
    if (getenv("BF_UNDER_VALGRIND") == NULL)
        ck_assert_int_lt(cr.maxrss_kb, 64 * 1024);
#endif
    cJSON_Delete(j);
}

START_TEST(memory_20k_chunk)
{
    memory_chunk(20000);
}
END_TEST

/* Only with BF_CHUNK_BIG=1 (make bench-chunk): ~500 MB of JSON. */
START_TEST(memory_200k_chunk)
{
    memory_chunk(200000);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("chunk");
    TCase *tc = tcase_create("pipeline");
    TCase *bin = tcase_create("binary");

    tcase_add_unchecked_fixture(tc, setup_fake, teardown_fake);
    tcase_add_checked_fixture(tc, setup_test, teardown_test);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, window_union_through_files);
    tcase_add_test(tc, contacts_rejects_and_raw_bytes);
    tcase_add_test(tc, ninth_endpoint_from_fixtures);
    tcase_add_loop_test(tc, new_tables_one_chunk, 0,
                        (int)(sizeof(new_tables) / sizeof(new_tables[0])));
    tcase_add_test(tc, hostile_records_do_not_fail_the_chunk);
    tcase_add_test(tc, idempotent_rerun_and_crash);
    tcase_add_test(tc, auth_failure_rereads_secret);
    tcase_add_test(tc, tenant_errors);
    tcase_add_test(tc, source_errors_reach_result);
    tcase_add_test(tc, cancel_and_shutdown);
    tcase_add_test(tc, rate_limit_shared_per_tenant);
    suite_add_tcase(s, tc);

    tcase_add_unchecked_fixture(bin, setup_fake, teardown_fake);
    tcase_add_checked_fixture(bin, setup_test, teardown_test);
    tcase_set_timeout(bin, 300);
    tcase_add_test(bin, run_chunk_binary);
    tcase_add_test(bin, run_chunk_binary_s3_and_lambda);
    tcase_add_test(bin, memory_20k_chunk);
    suite_add_tcase(s, bin);
    if (getenv("BF_CHUNK_BIG") != NULL && strcmp(getenv("BF_CHUNK_BIG"), "1") == 0) {
        TCase *big = tcase_create("big");

        tcase_add_checked_fixture(big, make_scratch, teardown_test);
        tcase_set_timeout(big, 900);
        tcase_add_test(big, memory_200k_chunk);
        suite_add_tcase(s, big);
    }
    return s;
}
