/* test_lambda.c -- Lambda compatibility mode: the ingestion Lambda as a
 * source (source/lambda_ingest.h, opened through source_open) and the
 * canonical-transform Lambda as a transform backend
 * (transform/xform_backend.h).
 *
 * Against the fake Lambda (tests/support/fake/server.js), which verifies
 * SigV4 and records every Invoke: the exact function names and payloads for
 * the four default tables, success with and without counts, FunctionError,
 * statusCode 500 in the payload, a missing function, an Event invocation and
 * a timeout (a fault that delays the answer past the call timeout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/awsenv.h"
#include "aws/creds.h"
#include "catalog/catalog.h"
#include "sink/chunkout.h"
#include "sink/sink.h"
#include "source/lambda_ingest.h"
#include "source/source.h"
#include "transform/xform_backend.h"
#include "awstest.h"
#include "fakesrv.h"
#include "task/task.h"
#include "testsuite.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

static struct fakesrv fake;

static void setup_env(void)
{
    const char *const args[] = { "--services", "lambda", "--max-seconds", "120", NULL };

    /* Invocation logs would only clutter the test output. */
    log_setup(LOG_ERROR, "test", 2);
    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js", args), 0);
    setenv("AWS_ENDPOINT_URL_LAMBDA", fake.url, 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
}

static void teardown_env(void)
{
    fakesrv_stop(&fake);
}

static void make_input(struct task_input *in, const char *table)
{
    memset(in, 0, sizeof(*in));
    snprintf(in->tenant_id, sizeof(in->tenant_id), "sitetechnology");
    snprintf(in->service, sizeof(in->service), "connectwise");
    snprintf(in->table_name, sizeof(in->table_name), "%s", table);
    in->start_ms = 1749794457295LL; /* 2025-06-13T06:00:57.295Z */
    in->end_ms = in->start_ms + 2 * 86400000LL;
    time_format_iso8601(in->start_ms, in->start_date);
    time_format_iso8601(in->end_ms, in->end_date);
    in->chunk_number = 2;
    in->total_chunks = 4;
    snprintf(in->backfill_id, sizeof(in->backfill_id), "manual");
    in->backfill_mode = 1;
    in->force_full_sync = 1;
    in->heartbeat_seconds = 60;
}

static void script(const char *function, const char *responses)
{
    char path[256], body[4096];

    snprintf(path, sizeof(path), "svc/lambda/functions/%s", function);
    snprintf(body, sizeof(body), "{\"responses\":%s}", responses);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", path, body, NULL), 200);
}

static void reset_fake(void)
{
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "reset", NULL, NULL), 200);
}

static cJSON *calls(void)
{
    struct buf b;
    cJSON *j = NULL;

    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&fake, "GET", "calls?service=lambda", NULL, &b), 200);
    j = cJSON_Parse(b.data);
    buf_cleanup(&b);
    ck_assert(cJSON_IsArray(j));
    return j;
}

static const char *str_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The ingestion Lambda through the source factory, as a chunk opens it
 * when a Lambda transform follows (no records read back). */
static enum bf_rc ingest_lambda(struct awsenv *aws, const char *env,
                                const struct task_input *in, long timeout_ms,
                                struct task_result *out, struct bf_err *err)
{
    struct source_open_params p;
    struct source *src = NULL;
    const struct source_page *pg = NULL;
    enum bf_rc rc;

    memset(&p, 0, sizeof(p));
    p.mode = SOURCE_LAMBDA;
    p.in = in;
    p.aws = aws;
    p.env = env;
    p.opts.timeout_ms = timeout_ms;
    p.report = out;
    rc = source_open(&p, &src, err);
    if (rc != BF_OK) {
        ck_assert_ptr_null(src);
        return rc;
    }
    ck_assert_int_eq(source_next_page(src, &pg, err), BF_OK);
    ck_assert_ptr_null(pg);
    source_close(src);
    return rc;
}

/* The canonical-transform Lambda as the chunk runner makes and runs it. */
static enum bf_rc transform_lambda(struct awsenv *aws, const char *env,
                                   const char *canonical_table,
                                   const char *invocation,
                                   const struct task_input *in,
                                   struct task_result *out, struct bf_err *err)
{
    struct xform_lambda_params xp;
    struct xform_backend *b = NULL;
    enum bf_rc rc;

    memset(&xp, 0, sizeof(xp));
    xp.aws = aws;
    xp.env = env;
    xp.invocation = invocation;
    ck_assert_int_eq(xform_lambda_new(&xp, &b, err), BF_OK);
    rc = xform_backend_run(b, in, canonical_table, out, err);
    xform_backend_free(b);
    return rc;
}

/* ---- names and payloads ------------------------------------------------ */

struct table_case {
    const char *endpoint;
    const char *canonical;
    const char *function;
};

static const struct table_case tables[] = {
    { "service/tickets", "tickets", "avesa-canonical-transform-tickets-dev" },
    { "time/entries", "time_entries", "avesa-canonical-transform-time-entries-dev" },
    { "company/companies", "companies", "avesa-canonical-transform-companies-dev" },
    { "company/contacts", "contacts", "avesa-canonical-transform-contacts-dev" },
    { "procurement/products", "products", "avesa-canonical-transform-products-dev" },
    { "finance/agreements", "agreements", "avesa-canonical-transform-agreements-dev" },
    { "project/projects", "projects", "avesa-canonical-transform-projects-dev" },
    { "system/members", "members", "avesa-canonical-transform-members-dev" },
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

START_TEST(function_names)
{
    char name[128];
    size_t i;

    lambda_ingest_function_name("connectwise", "dev", name);
    ck_assert_str_eq(name, "avesa-connectwise-ingestion-dev");
    lambda_ingest_function_name("connectwise", "prod", name);
    ck_assert_str_eq(name, "avesa-connectwise-ingestion-prod");
    for (i = 0; i < NTABLES; i++) {
        xform_lambda_function_name(tables[i].canonical, "dev", name);
        ck_assert_str_eq(name, tables[i].function);
    }
    /* Every enabled endpoint of the endpoint table is in the list above,
     * with the canonical table the endpoint table gives it. */
    for (i = 0; i < catalog_count(); i++) {
        const struct catalog_endpoint *e = catalog_at(i);
        size_t k;

        for (k = 0; k < NTABLES && strcmp(tables[k].endpoint, e->endpoint) != 0; k++)
            ;
        ck_assert_msg(!e->enabled || k < NTABLES, "%s not covered", e->endpoint);
        if (k < NTABLES)
            ck_assert_str_eq(tables[k].canonical, e->canonical_table);
    }
    /* The env keeps its own spelling; only the table's '_' change. */
    xform_lambda_function_name("time_entries", "qa_1", name);
    ck_assert_str_eq(name, "avesa-canonical-transform-time-entries-qa_1");
}
END_TEST

/* The exact JSON the ingestion Lambda receives for `table`. */
static void check_ingest_body(const char *body, const char *table)
{
    char want[1024];

    snprintf(want, sizeof(want),
             "{\"tenant_id\":\"sitetechnology\",\"service_name\":\"connectwise\","
             "\"table_name\":\"%s\",\"start_date\":\"2025-06-13T06:00:57.295Z\","
             "\"end_date\":\"2025-06-15T06:00:57.295Z\",\"backfill_mode\":true,"
             "\"force_full_sync\":true,\"chunk_number\":2,\"total_chunks\":4}", table);
    ck_assert_str_eq(body, want);
}

static void check_transform_body(const char *body, const char *table)
{
    char want[1024];

    snprintf(want, sizeof(want),
             "{\"tenant_id\":\"sitetechnology\",\"service_name\":\"connectwise\","
             "\"table_name\":\"%s\",\"backfill_mode\":true,\"force_reprocess\":true,"
             "\"start_date\":\"2025-06-13T06:00:57.295Z\","
             "\"end_date\":\"2025-06-15T06:00:57.295Z\"}", table);
    ck_assert_str_eq(body, want);
}

START_TEST(every_table_names_and_payloads)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;
    cJSON *cs = NULL;
    size_t i;
    char path[256];

    reset_fake();
    script("avesa-connectwise-ingestion-dev", "[{\"payload\":{\"statusCode\":200}}]");
    for (i = 0; i < NTABLES; i++)
        script(tables[i].function, "[{\"payload\":{\"statusCode\":200}}]");
    for (i = 0; i < NTABLES; i++) {
        make_input(&in, tables[i].endpoint);
        task_result_init(&r);
        bf_err_init(&err);
        ck_assert_msg(ingest_lambda(aws, "dev", &in, 0, &r, &err) == BF_OK,
                      "%s", err.message);
        ck_assert_msg(transform_lambda(aws, "dev", tables[i].canonical, NULL,
                                              &in, &r, &err) == BF_OK, "%s", err.message);
    }
    cs = calls();
    ck_assert_int_eq(cJSON_GetArraySize(cs), (int)(2 * NTABLES));
    for (i = 0; i < NTABLES; i++) {
        const cJSON *ing = cJSON_GetArrayItem(cs, (int)(2 * i));
        const cJSON *tr = cJSON_GetArrayItem(cs, (int)(2 * i + 1));

        ck_assert_str_eq(str_at(ing, "sigv4"), "ok");
        ck_assert_str_eq(str_at(ing, "method"), "POST");
        ck_assert_str_eq(str_at(ing, "path"),
                         "/2015-03-31/functions/avesa-connectwise-ingestion-dev/invocations");
        ck_assert_str_eq(str_at(cJSON_GetObjectItem(ing, "headers"),
                                "x-amz-invocation-type"), "RequestResponse");
        check_ingest_body(str_at(ing, "body"), tables[i].endpoint);

        snprintf(path, sizeof(path), "/2015-03-31/functions/%s/invocations",
                 tables[i].function);
        ck_assert_str_eq(str_at(tr, "sigv4"), "ok");
        ck_assert_str_eq(str_at(tr, "path"), path);
        ck_assert_str_eq(str_at(cJSON_GetObjectItem(tr, "headers"),
                                "x-amz-invocation-type"), "RequestResponse");
        check_transform_body(str_at(tr, "body"), tables[i].endpoint);
    }
    cJSON_Delete(cs);
    awsenv_release(aws);
}
END_TEST

/* ---- answers ------------------------------------------------------------ */

START_TEST(success_counts_present)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;

    reset_fake();
    /* As the original returned it: body a JSON string. */
    script("avesa-connectwise-ingestion-dev",
           "[{\"payload\":{\"statusCode\":200,"
           "\"body\":\"{\\\"records_processed\\\":1234,\\\"pages\\\":3}\"}}]");
    /* And as an object. */
    script("avesa-canonical-transform-tickets-dev",
           "[{\"payload\":{\"statusCode\":200,\"body\":{\"records_transformed\":1200,"
           "\"records_rejected\":34}}}]");
    make_input(&in, "service/tickets");
    task_result_init(&r);
    bf_err_init(&err);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err), BF_OK);
    ck_assert_int_eq(r.records_ingested, 1234);
    ck_assert_int_eq(r.pages, 3);
    ck_assert_int_eq(transform_lambda(aws, "dev", "tickets", "RequestResponse",
                                             &in, &r, &err), BF_OK);
    ck_assert_int_eq(r.records_transformed, 1200);
    ck_assert_int_eq(r.records_rejected, 34);
    awsenv_release(aws);
}
END_TEST

START_TEST(success_counts_absent_are_null)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;
    char *json = NULL;
    cJSON *j = NULL;

    reset_fake();
    script("avesa-connectwise-ingestion-dev", "[{\"payload\":{\"statusCode\":200}}]");
    script("avesa-canonical-transform-tickets-dev", "[{\"payload\":null}]");
    make_input(&in, "service/tickets");
    task_result_init(&r);
    r.records_ingested = 99; /* must be overwritten, not left */
    bf_err_init(&err);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err), BF_OK);
    ck_assert_int_eq(r.records_ingested, -1);
    ck_assert_int_eq(r.pages, -1);
    ck_assert_int_eq(transform_lambda(aws, "dev", "tickets", NULL, &in, &r, &err),
                     BF_OK);
    ck_assert_int_eq(r.records_transformed, -1);
    /* The result says null, not 0. */
    json = task_result_json(&in, &r, "w1", TASK_OUTPUT_MAX);
    ck_assert_ptr_nonnull(json);
    j = cJSON_Parse(json);
    ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(j, "records_ingested")), "%s", json);
    ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(j, "records_transformed")), "%s", json);
    cJSON_Delete(j);
    free(json);
    awsenv_release(aws);
}
END_TEST

START_TEST(function_error)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;

    reset_fake();
    script("avesa-connectwise-ingestion-dev",
           "[{\"functionError\":\"Unhandled\",\"payload\":{\"errorType\":\"ValueError\","
           "\"errorMessage\":\"bad table\"}},"
           "{\"functionError\":\"Unhandled\",\"payload\":{\"errorType\":\"Runtime.ExitError\","
           "\"errorMessage\":\"exited\"}},"
           "{\"functionError\":\"Unhandled\",\"payload\":{\"errorMessage\":"
           "\"2025-06-13 Task timed out after 900.00 seconds\"}}]");
    make_input(&in, "service/tickets");
    task_result_init(&r);
    bf_err_init(&err);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err), BF_E_LAMBDA_FAILED);
    ck_assert_str_eq(bf_rc_error_name(err.rc), "Backfill.LambdaFailed");
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_ptr_nonnull(strstr(err.message, "ValueError"));
    ck_assert_ptr_nonnull(strstr(err.message, "avesa-connectwise-ingestion-dev"));
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err), BF_E_LAMBDA_FAILED);
    ck_assert_int_eq(err.retryable, 1);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err), BF_E_LAMBDA_FAILED);
    ck_assert_int_eq(err.retryable, 1);
    awsenv_release(aws);
}
END_TEST

START_TEST(status_code_in_payload)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;
    char *cause = NULL;

    reset_fake();
    script("avesa-connectwise-ingestion-dev",
           "[{\"payload\":{\"statusCode\":500,\"body\":{\"error\":\"ConnectWise down\"}}},"
           "{\"payload\":{\"statusCode\":400,\"body\":\"{\\\"error\\\":\\\"bad dates\\\"}\"}}]");
    make_input(&in, "time/entries");
    task_result_init(&r);
    bf_err_init(&err);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err), BF_E_LAMBDA_FAILED);
    ck_assert_int_eq(err.retryable, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "500"));
    ck_assert_ptr_nonnull(strstr(err.message, "ConnectWise down"));
    cause = bf_err_cause_json(&err, TASK_CAUSE_MAX);
    ck_assert_ptr_nonnull(cause);
    ck_assert_msg(strstr(cause, "\"retryable\":true") != NULL ||
                  strstr(cause, "\"retryable\": true") != NULL, "%s", cause);
    free(cause);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err), BF_E_LAMBDA_FAILED);
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_ptr_nonnull(strstr(err.message, "bad dates"));
    awsenv_release(aws);
}
END_TEST

/* statusCode is the function's to write: anything that is not a whole
 * HTTP status (a fraction, a number far out of range) is a failed step,
 * never read as 200 nor cast out of range. */
START_TEST(status_code_not_a_status)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;

    reset_fake();
    script("avesa-connectwise-ingestion-dev",
           "[{\"payload\":{\"statusCode\":200.5,\"records_ingested\":3}},"
           "{\"payload\":{\"statusCode\":1e300,\"records_ingested\":3}},"
           "{\"payload\":{\"statusCode\":\"200\",\"records_ingested\":3}}]");
    make_input(&in, "time/entries");
    task_result_init(&r);
    bf_err_init(&err);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err),
                     BF_E_LAMBDA_FAILED);
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_ptr_nonnull(strstr(err.message, "statusCode"));
    bf_err_init(&err);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err),
                     BF_E_LAMBDA_FAILED);
    ck_assert_ptr_nonnull(strstr(err.message, "statusCode"));
    bf_err_init(&err);
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 0, &r, &err),
                     BF_E_LAMBDA_FAILED);
    ck_assert_int_eq(err.retryable, 0);
    awsenv_release(aws);
}
END_TEST

START_TEST(missing_function)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;

    reset_fake();
    make_input(&in, "time/entries");
    task_result_init(&r);
    bf_err_init(&err);
    ck_assert_int_eq(transform_lambda(aws, "dev", "time_entries", NULL, &in, &r,
                                             &err), BF_E_LAMBDA_FAILED);
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_ptr_nonnull(strstr(err.message, "avesa-canonical-transform-time-entries-dev"));
    ck_assert_int_eq(err.http_status, 404);
    awsenv_release(aws);
}
END_TEST

START_TEST(event_invocation)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;
    cJSON *cs = NULL;

    reset_fake();
    script("avesa-canonical-transform-contacts-dev",
           "[{\"payload\":{\"statusCode\":500}}]");
    make_input(&in, "company/contacts");
    task_result_init(&r);
    bf_err_init(&err);
    ck_assert_int_eq(transform_lambda(aws, "dev", "contacts", "Event", &in, &r, &err),
                     BF_OK);
    ck_assert_int_eq(r.records_transformed, -1);
    ck_assert_int_eq(transform_lambda(aws, "dev", "contacts", "Sometimes", &in, &r,
                                             &err), BF_E_CONFIG);
    cs = calls();
    ck_assert_int_eq(cJSON_GetArraySize(cs), 1);
    ck_assert_str_eq(str_at(cJSON_GetObjectItem(cJSON_GetArrayItem(cs, 0), "headers"),
                            "x-amz-invocation-type"), "Event");
    cJSON_Delete(cs);
    awsenv_release(aws);
}
END_TEST

START_TEST(timeout)
{
    struct awsenv *aws = awstest_env();
    struct task_input in;
    struct task_result r;
    struct bf_err err;
    int64_t t0;

    reset_fake();
    script("avesa-connectwise-ingestion-dev", "[{\"payload\":{\"statusCode\":200}}]");
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults",
                                   "{\"faults\":[{\"service\":\"lambda\",\"op\":\"Invoke\","
                                   "\"delayMs\":3000,\"times\":5}]}", NULL), 200);
    make_input(&in, "service/tickets");
    task_result_init(&r);
    bf_err_init(&err);
    t0 = time_mono_ms();
    ck_assert_int_eq(ingest_lambda(aws, "dev", &in, 500, &r, &err),
                     BF_E_LAMBDA_FAILED);
    ck_assert_int_lt(time_mono_ms() - t0, 2500);
    ck_assert_int_eq(err.retryable, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "timed out"));
    ck_assert_int_eq(r.records_ingested, -1);
    awsenv_release(aws);
}
END_TEST

/* Record `n` of the raw chunk below: its summary is pseudo-random hex, so
 * that the parts really compress to several. */
static void rec_line(long n, char out[128])
{
    unsigned long long x = (unsigned long long)n * 6364136223846793005ULL + 1442695040888963407ULL;
    int k = snprintf(out, 128, "{\"id\":%ld,\"summary\":\"", n);
    int i;

    for (i = 0; i < 4; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        k += snprintf(out + k, 128 - (size_t)k, "%016llx", x);
    }
    snprintf(out + k, 128 - (size_t)k, "\"}");
}

/* A built-in transform after the ingestion Lambda: the source is the raw
 * chunk the function wrote, read back through its manifest (data parts
 * only) in pages of 1000 records, and the Lambda's counts are reported.
 * Without a manifest there is nothing to transform. */
START_TEST(ingest_reads_raw_chunk_back)
{
    struct awsenv *aws = awstest_env();
    char tmpl[] = "/tmp/bf-lambda-XXXXXX", uri[64], line[128];
    const char *dir = "acme/raw/connectwise/service/tickets/backfill/w";
    struct source_open_params p;
    struct source *src = NULL;
    const struct source_page *pg = NULL;
    struct chunkout_options co = {0};
    struct chunkout_summary sum = {0};
    struct chunkout *c = NULL;
    struct sink *sk = NULL;
    struct task_input in;
    struct task_result r;
    struct bf_err err;
    long pages = 0, n = 0, i;
    enum bf_rc rc;

    reset_fake();
    script("avesa-connectwise-ingestion-dev",
           "[{\"payload\":{\"statusCode\":200,\"body\":{\"records_ingested\":2500,"
           "\"pages\":3}}},{\"payload\":{\"statusCode\":200}}]");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(uri, sizeof(uri), "file://%s", tmpl);
    bf_err_init(&err);
    ck_assert_int_eq(sink_open(uri, NULL, NULL, &sk, &err), BF_OK);
    make_input(&in, "service/tickets");
    task_result_init(&r);
    memset(&p, 0, sizeof(p));
    p.mode = SOURCE_LAMBDA;
    p.in = &in;
    p.aws = aws;
    p.env = "dev";
    p.sink = sk;
    p.raw_dir = dir;
    p.want_records = 1;
    p.report = &r;
    ck_assert_int_eq(source_writes_raw(SOURCE_LAMBDA), 1);

    /* The function's raw chunk: 2500 records over several data parts. */
    co.dir = dir;
    co.part_max_bytes = 16384;
    co.inline_gzip = 1;
    ck_assert_int_eq(chunkout_open(sk, &co, &c, &err), BF_OK);
    for (i = 0; i < 2500; i++) {
        rec_line(i, line);
        ck_assert_int_eq(chunkout_write(c, CHUNKOUT_DATA, line, strlen(line), &err), BF_OK);
    }
    ck_assert_msg(chunkout_finish(c, NULL, &sum, &err) == BF_OK, "%s", err.message);
    ck_assert_int_gt(sum.parts, 1);
    chunkout_summary_cleanup(&sum);

    rc = source_open(&p, &src, &err);
    ck_assert_msg(rc == BF_OK, "%s", err.message);
    ck_assert_int_eq(r.records_ingested, 2500);
    ck_assert_int_eq(r.pages, 3);
    while ((rc = source_next_page(src, &pg, &err)) == BF_OK && pg != NULL) {
        ck_assert_int_eq(pg->number, ++pages);
        ck_assert_int_le(pg->count, 1000);
        for (i = 0; i < (long)pg->count; i++, n++) {
            rec_line(n, line);
            ck_assert_int_eq(pg->records[i].len, strlen(line));
            ck_assert(memcmp(pg->records[i].json, line, strlen(line)) == 0);
        }
    }
    ck_assert_msg(rc == BF_OK, "%s", err.message);
    ck_assert_int_eq(n, 2500);
    ck_assert_int_eq(pages, 3);
    source_close(src);

    /* No manifest: nothing to transform (the counts are still reported). */
    p.raw_dir = "acme/raw/none";
    task_result_init(&r);
    bf_err_init(&err);
    ck_assert_int_eq(source_open(&p, &src, &err), BF_E_TRANSFORM_FAILED);
    ck_assert_ptr_null(src);
    ck_assert_ptr_nonnull(strstr(err.message, "no raw manifest"));
    ck_assert_int_eq(r.records_ingested, -1);
    sink_free(sk);
    snprintf(line, sizeof(line), "rm -rf '%s'", tmpl);
    ck_assert_int_eq(system(line), 0);
    awsenv_release(aws);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("lambda");
    TCase *tc = tcase_create("lambda");

    tcase_add_unchecked_fixture(tc, setup_env, teardown_env);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, function_names);
    tcase_add_test(tc, every_table_names_and_payloads);
    tcase_add_test(tc, success_counts_present);
    tcase_add_test(tc, success_counts_absent_are_null);
    tcase_add_test(tc, function_error);
    tcase_add_test(tc, status_code_in_payload);
    tcase_add_test(tc, status_code_not_a_status);
    tcase_add_test(tc, missing_function);
    tcase_add_test(tc, event_invocation);
    tcase_add_test(tc, timeout);
    tcase_add_test(tc, ingest_reads_raw_chunk_back);
    suite_add_tcase(s, tc);
    return s;
}
