/* test_sinks3.c -- the S3 sink and S3 client against the local fake S3
 * (tests/support/fake/services/s3.js), which verifies every SigV4
 * signature: objects, listings, chunk output, multipart upload (and its
 * abort on a failure half-way), SSE-KMS, retries and error classes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aws/awsenv.h"
#include "aws/awsrest.h"
#include "aws/creds.h"
#include "aws/s3.h"
#include "sink/chunkout.h"
#include "sink/sink.h"
#include "util/buf.h"

#include "failsink.h"
#include "fakesrv.h"
#include "testsuite.h"

static struct fakesrv fake;
static struct awsenv *env;

static void no_sleep(void *ctx, long ms)
{
    (void)ctx;
    (void)ms;
}

static void setup(void)
{
    static const char *const args[] = { "--services", "s3", "--max-seconds",
                                        "120", NULL };
    struct creds cr;
    struct creds_provider *p = NULL;
    struct bf_err e;

    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js", args), 0);
    setenv("AWS_ENDPOINT_URL_S3", fake.url, 1);
    setenv("AWS_REGION", "us-east-1", 1);
    memset(&cr, 0, sizeof(cr));
    strcpy(cr.access_key_id, "AKIDEXAMPLE");
    strcpy(cr.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    p = creds_provider_new_static(&cr);
    ck_assert_int_eq(awsenv_new(&(struct awsenv_options){ .creds = p,
                                                          .sleep_ms = no_sleep },
                                &env, &e), BF_OK);
    creds_provider_release(p);
}

static void teardown(void)
{
    awsenv_release(env);
    env = NULL;
    fakesrv_stop(&fake);
}

static struct sink *open_s3(size_t part, const char *kms)
{
    struct sink_options o = { .sse_kms_key_id = kms, .multipart_part_size = part,
                              .allow_small_parts = 1 };
    struct sink *s = NULL;
    struct bf_err e;

    ck_assert_int_eq(sink_open("s3://lake-bucket/data/prefix/", env, &o, &s, &e),
                     BF_OK);
    return s;
}

static cJSON *admin_json(const char *path)
{
    struct buf b;
    cJSON *j = NULL;

    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&fake, "GET", path, NULL, &b), 200);
    j = cJSON_Parse(b.data);
    ck_assert_ptr_nonnull(j);
    buf_cleanup(&b);
    return j;
}

/* Count calls of `op` and check that every call's signature verified. */
static int count_calls(const char *op, int *faulted)
{
    cJSON *calls = admin_json("calls?service=s3"), *c = NULL;
    int n = 0;

    if (faulted != NULL)
        *faulted = 0;
    cJSON_ArrayForEach(c, calls) {
        const char *sig = cJSON_GetStringValue(cJSON_GetObjectItem(c, "sigv4"));
        const char *cop = cJSON_GetStringValue(cJSON_GetObjectItem(c, "op"));

        ck_assert_msg(sig != NULL && strcmp(sig, "ok") == 0, "%s: sigv4 %s",
                      cop ? cop : "?", sig ? sig : "?");
        if (op == NULL || (cop != NULL && strcmp(cop, op) == 0)) {
            n++;
            if (faulted != NULL && cJSON_GetObjectItem(c, "fault") != NULL)
                (*faulted)++;
        }
    }
    cJSON_Delete(calls);
    return n;
}

static void add_fault(const char *op, int status, const char *code, int times)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"faults\":[{\"service\":\"s3\",\"op\":\"%s\",\"status\":%d,"
             "\"times\":%d,\"body\":\"<Error><Code>%s</Code><Message>injected"
             "</Message></Error>\"}]}", op, status, times, code);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults", body, NULL), 200);
}

START_TEST(objects_round_trip)
{
    struct sink *s = open_s3(0, NULL);
    struct buf b;
    struct bf_err e;
    char **names = NULL, u[512];
    size_t n = 0;
    int found = -1;

    buf_init(&b, 1 << 20);
    ck_assert_str_eq(sink_kind(s), "s3");
    sink_uri(s, "t/a.json", u, sizeof(u));
    ck_assert_str_eq(u, "s3://lake-bucket/data/prefix/t/a.json");
    ck_assert_int_eq(sink_put(s, "t/a.json", "{\"a\":1}", 7, &e), BF_OK);
    ck_assert_int_eq(sink_put(s, "t/b c&d.json", "x", 1, &e), BF_OK);
    ck_assert_int_eq(sink_put(s, "t/sub/deeper", "y", 1, &e), BF_OK);
    ck_assert_int_eq(sink_get(s, "t/a.json", &b, &found, &e), BF_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(b.data, "{\"a\":1}");
    buf_reset(&b);
    ck_assert_int_eq(sink_get(s, "t/none", &b, &found, &e), BF_OK);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(sink_list(s, "t", &names, &n, &e), BF_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "a.json");
    ck_assert_str_eq(names[1], "b c&d.json");
    sink_names_free(names, n);
    ck_assert_int_eq(sink_delete(s, "t/a.json", &e), BF_OK);
    ck_assert_int_eq(sink_delete(s, "t/a.json", &e), BF_OK);
    ck_assert_int_eq(sink_get(s, "t/a.json", &b, &found, &e), BF_OK);
    ck_assert_int_eq(found, 0);
    {
        struct sink_reader *rd = NULL;
        char tmp[8];
        size_t got = 1;

        ck_assert_int_eq(sink_put(s, "t/empty", "", 0, &e), BF_OK);
        ck_assert_int_eq(sink_read_open(s, "t/empty", &rd, &found, &e), BF_OK);
        ck_assert_int_eq(found, 1);
        ck_assert_int_eq(sink_read(rd, tmp, sizeof(tmp), &got, &e), BF_OK);
        ck_assert_int_eq(got, 0);
        sink_read_close(rd);
        rd = NULL;
        ck_assert_int_eq(sink_read_open(s, "t/none", &rd, &found, &e), BF_OK);
        ck_assert_int_eq(found, 0);
        ck_assert_ptr_null(rd);
    }
    ck_assert_int_ge(count_calls(NULL, NULL), 9);
    buf_cleanup(&b);
    sink_free(s);
}
END_TEST

START_TEST(listing_pages)
{
    static const char *const args[] = { "--services", "s3", "--config",
        "{\"s3\":{\"maxKeys\":3}}", "--max-seconds", "60", NULL };
    struct s3_client *c = NULL;
    struct bf_err e;
    char **keys = NULL, k[64];
    size_t n = 0;
    int i;

    fakesrv_stop(&fake);
    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js", args), 0);
    setenv("AWS_ENDPOINT_URL_S3", fake.url, 1);
    ck_assert_int_eq(s3_client_new(env, &c, &e), BF_OK);
    for (i = 0; i < 10; i++) {
        snprintf(k, sizeof(k), "p/k%02d", i);
        ck_assert_int_eq(s3_put_object(c, "b1x", k, "v", 1, NULL, &e), BF_OK);
    }
    ck_assert_int_eq(s3_list_objects(c, "b1x", "p/", 1, 0, &keys, &n, &e), BF_OK);
    ck_assert_int_eq(n, 10);
    ck_assert_str_eq(keys[9], "p/k09");
    s3_keys_free(keys, n);
    ck_assert_int_eq(count_calls("ListObjectsV2", NULL), 4);
    ck_assert_int_eq(s3_list_objects(c, "b1x", "p/", 1, 5, &keys, &n, &e), BF_E_LIMIT);
    s3_client_free(c);
}
END_TEST

START_TEST(fake_keeps_objects_in_a_dir)
{
    char dir[128], cfg[256], path[512];
    const char *args[] = { "--services", "s3", "--config", cfg, "--max-seconds",
                           "60", NULL };
    struct sink *s = NULL;
    struct bf_err e;
    FILE *fp = NULL;
    char got[16] = "";

    snprintf(dir, sizeof(dir), "/tmp/bf-fakes3-%d-XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "{\"s3\":{\"dir\":\"%s\"}}", dir);
    fakesrv_stop(&fake);
    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js", args), 0);
    setenv("AWS_ENDPOINT_URL_S3", fake.url, 1);
    s = open_s3(0, NULL);
    ck_assert_int_eq(sink_put(s, "k/v.txt", "stored", 6, &e), BF_OK);
    snprintf(path, sizeof(path), "%s/lake-bucket/data/prefix/k/v.txt", dir);
    fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fread(got, 1, sizeof(got) - 1, fp), 6);
    fclose(fp);
    ck_assert_str_eq(got, "stored");
    ck_assert_int_eq(sink_delete(s, "k/v.txt", &e), BF_OK);
    ck_assert_int_ne(access(path, F_OK), 0);
    sink_free(s);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(chunk_on_s3_with_multipart_and_kms)
{
    struct sink *s = open_s3(64 * 1024, "arn:aws:kms:us-east-1:111122223333:key/k-1");
    struct chunkout *c = NULL;
    struct chunkout_options o = { .dir = "t1/raw/connectwise/service/tickets/backfill/A_B",
                                  .part_max_bytes = 150 * 1024, .gzip_level = 1 };
    struct chunkout_summary sum;
    struct jsonl_reader *r = NULL;
    struct bf_err e;
    cJSON *objs = NULL, *it = NULL;
    char line[256];
    const char *got = NULL;
    size_t len = 0, k;
    int i, seen = 0, multipart = 0;

    ck_assert_int_eq(chunkout_open(s, &o, &c, &e), BF_OK);
    for (i = 0; i < 30000; i++) {
        snprintf(line, sizeof(line), "{\"id\":%d,\"h\":\"%08x%08x\"}", i,
                 (unsigned)(i * 2654435761u), (unsigned)(i * 40503u + 7));
        ck_assert_int_eq(chunkout_write(c, CHUNKOUT_DATA, line, strlen(line), &e), BF_OK);
    }
    ck_assert_int_eq(chunkout_finish(c, NULL, &sum, &e), BF_OK);
    ck_assert_int_ge(sum.parts, 2);
    ck_assert_str_eq(sum.uri, "s3://lake-bucket/data/prefix/t1/raw/connectwise/"
                              "service/tickets/backfill/A_B");
    for (k = 0, i = 0; k < sum.parts; k++) {
        ck_assert_int_eq(jsonl_reader_open(s, sum.part_keys[k], 0, &r, &e), BF_OK);
        for (;;) {
            ck_assert_int_eq(jsonl_reader_next(r, &got, &len, &e), BF_OK);
            if (got == NULL)
                break;
            snprintf(line, sizeof(line), "{\"id\":%d,\"h\":\"%08x%08x\"}", i,
                     (unsigned)(i * 2654435761u), (unsigned)(i * 40503u + 7));
            ck_assert_str_eq(got, line);
            i++;
        }
        jsonl_reader_free(r);
    }
    ck_assert_int_eq(i, 30000);
    /* Parts were read back in ranges of one multipart part (64 KiB here),
     * so reading never holds a whole part. */
    ck_assert_int_ge(count_calls("GetObject", NULL), (int)sum.parts * 2);
    /* Parts over 64 KiB went up as multipart uploads; all carry SSE-KMS. */
    objs = admin_json("svc/s3/objects?bucket=lake-bucket");
    cJSON_ArrayForEach(it, objs) {
        ck_assert_str_eq(cJSON_GetObjectItem(it, "sse")->valuestring, "aws:kms");
        ck_assert_str_eq(cJSON_GetObjectItem(it, "kmsKeyId")->valuestring,
                         "arn:aws:kms:us-east-1:111122223333:key/k-1");
        multipart += cJSON_GetObjectItem(it, "parts")->valueint > 1;
        seen++;
    }
    ck_assert_int_eq(seen, (int)sum.parts + 1);
    ck_assert_int_ge(multipart, 1);
    ck_assert_int_ge(count_calls("CompleteMultipartUpload", NULL), 1);
    ck_assert_int_ge(count_calls("PutObject", NULL), 1); /* the manifest */
    cJSON_Delete(objs);
    chunkout_summary_cleanup(&sum);
    sink_free(s);
}
END_TEST

START_TEST(multipart_failure_aborts)
{
    struct sink *s = open_s3(64 * 1024, NULL);
    struct sink_object *o = NULL;
    struct bf_err e;
    static char block[64 * 1024 + 1];
    cJSON *uploads = NULL;
    enum bf_rc rc;

    memset(block, 'x', sizeof(block));
    ck_assert_int_eq(sink_object_begin(s, "big/object.bin", &o, &e), BF_OK);
    /* One byte past a part: part 1 is uploaded. */
    ck_assert_int_eq(sink_object_write(o, block, sizeof(block), &e), BF_OK);
    ck_assert_int_eq(count_calls("UploadPart", NULL), 1);
    /* Part 2 fails with 500 on every attempt. */
    add_fault("UploadPart", 500, "InternalError", 10);
    bf_err_init(&e);
    rc = sink_object_write(o, block, sizeof(block), &e);
    ck_assert_int_eq(rc, BF_E_SINK_UNAVAILABLE);
    ck_assert_str_eq(bf_rc_error_name(rc), "Backfill.SinkUnavailable");
    ck_assert_int_eq(e.http_status, 500);
    ck_assert_int_eq(e.retryable, 1);
    ck_assert_int_ge(count_calls("UploadPart", NULL), 3); /* retried */
    sink_object_abort(o);
    ck_assert_int_eq(count_calls("AbortMultipartUpload", NULL), 1);
    uploads = admin_json("svc/s3/uploads");
    ck_assert_int_eq(cJSON_GetArraySize(uploads), 0);
    cJSON_Delete(uploads);
    ck_assert_int_eq(count_calls("CompleteMultipartUpload", NULL), 0);
    /* A failure at Complete aborts too, and nothing is visible. */
    ck_assert_int_eq(fakesrv_admin(&fake, "DELETE", "faults", NULL, NULL), 200);
    ck_assert_int_eq(sink_object_begin(s, "big/two.bin", &o, &e), BF_OK);
    ck_assert_int_eq(sink_object_write(o, block, sizeof(block), &e), BF_OK);
    add_fault("CompleteMultipartUpload", 503, "ServiceUnavailable", 10);
    ck_assert_int_eq(sink_object_commit(o, &e), BF_E_SINK_UNAVAILABLE);
    ck_assert_int_eq(count_calls("AbortMultipartUpload", NULL), 2);
    uploads = admin_json("svc/s3/objects?prefix=data/prefix/big/");
    ck_assert_int_eq(cJSON_GetArraySize(uploads), 0);
    cJSON_Delete(uploads);
    sink_free(s);
}
END_TEST

START_TEST(slowdown_is_retried)
{
    struct sink *s = open_s3(0, NULL);
    struct bf_err e;
    int faulted = 0;

    add_fault("PutObject", 503, "SlowDown", 1);
    ck_assert_int_eq(sink_put(s, "r/one", "1", 1, &e), BF_OK);
    ck_assert_int_eq(count_calls("PutObject", &faulted), 2);
    ck_assert_int_eq(faulted, 1);
    /* Throttled on every attempt: SinkUnavailable, retryable. */
    add_fault("PutObject", 503, "SlowDown", 20);
    bf_err_init(&e);
    ck_assert_int_eq(sink_put(s, "r/two", "2", 1, &e), BF_E_SINK_UNAVAILABLE);
    ck_assert_str_eq(e.aws_code, "SlowDown");
    ck_assert_int_eq(e.retryable, 1);
    ck_assert_ptr_nonnull(strstr(e.message, "PutObject"));
    sink_free(s);
}
END_TEST

START_TEST(unreachable_is_unavailable)
{
    struct sink *s = open_s3(0, NULL);
    struct bf_err e;

    fakesrv_stop(&fake); /* nothing listens on that port any more */
    bf_err_init(&e);
    ck_assert_int_eq(sink_put(s, "u/x", "1", 1, &e), BF_E_SINK_UNAVAILABLE);
    ck_assert_int_eq(e.retryable, 1);
    ck_assert_str_eq(e.endpoint, "s3:PutObject");
    sink_free(s);
}
END_TEST

START_TEST(forbidden_is_access_denied)
{
    struct sink *s = open_s3(0, NULL);
    struct bf_err e;
    enum bf_rc rc;

    add_fault("PutObject", 403, "AccessDenied", 5);
    bf_err_init(&e);
    rc = sink_put(s, "d/x", "1", 1, &e);
    ck_assert_int_eq(rc, BF_E_SINK_ACCESS_DENIED);
    ck_assert_str_eq(bf_rc_error_name(rc), "Backfill.SinkAccessDenied");
    ck_assert_int_eq(e.http_status, 403);
    ck_assert_int_eq(e.retryable, 0);
    ck_assert_int_eq(count_calls("PutObject", NULL), 1); /* not retried */
    ck_assert_int_eq(fakesrv_admin(&fake, "DELETE", "faults", NULL, NULL), 200);
    add_fault("ListObjectsV2", 403, "AccessDenied", 1);
    {
        char **names = NULL;
        size_t n = 0;

        ck_assert_int_eq(sink_list(s, "d", &names, &n, &e), BF_E_SINK_ACCESS_DENIED);
    }
    sink_free(s);
}
END_TEST

/* The keys under the chunk directory with their ETags, one per line. */
static void s3_snapshot(const char *prefix, struct buf *out)
{
    char path[512];
    cJSON *objs = NULL, *it = NULL;

    buf_reset(out);
    snprintf(path, sizeof(path), "svc/s3/objects?bucket=lake-bucket&prefix=%s", prefix);
    objs = admin_json(path);
    cJSON_ArrayForEach(it, objs)
        buf_printf(out, "%s %s\n", cJSON_GetObjectItem(it, "key")->valuestring,
                   cJSON_GetObjectItem(it, "etag")->valuestring);
    cJSON_Delete(objs);
}

/* One chunk; with crash_after > 0 through a failing sink whose
 * crash_after-th object write fails (tests/support/failsink.h). */
static enum bf_rc s3_chunk(struct sink *s, size_t part_max, int crash_after)
{
    struct chunkout *c = NULL;
    struct chunkout_options o = { .dir = "t/canonical/tickets/backfill/A_B",
                                  .part_max_bytes = part_max };
    struct sink *fs = NULL;
    struct bf_err e;
    char line[128];
    enum bf_rc rc;
    int i;

    if (crash_after > 0)
        ck_assert_int_eq(failsink_new(s, crash_after, &fs, &e), BF_OK);
    rc = chunkout_open(fs != NULL ? fs : s, &o, &c, &e);
    for (i = 0; i < 6000 && rc == BF_OK; i++) {
        snprintf(line, sizeof(line), "{\"id\":%d,\"x\":\"%08x\"}", i,
                 (unsigned)(i * 2654435761u));
        rc = chunkout_write(c, CHUNKOUT_DATA, line, strlen(line), &e);
    }
    if (rc != BF_OK)
        chunkout_abort(c);
    else
        rc = chunkout_finish(c, NULL, NULL, &e);
    sink_free(fs);
    return rc;
}

START_TEST(idempotent_on_s3)
{
    struct sink *s = open_s3(0, NULL);
    struct buf first, again;
    const char *pre = "data/prefix/t/canonical/tickets/backfill/A_B/";

    buf_init(&first, 0);
    buf_init(&again, 0);
    ck_assert_int_eq(s3_chunk(s, 16 * 1024, 0), BF_OK);
    s3_snapshot(pre, &first);
    ck_assert_ptr_nonnull(strstr(first.data, "part-00002.jsonl.gz"));
    ck_assert_int_eq(s3_chunk(s, 16 * 1024, 0), BF_OK);
    s3_snapshot(pre, &again);
    ck_assert_str_eq(again.data, first.data);
    ck_assert_int_eq(s3_chunk(s, 16 * 1024, 2), BF_E_SINK_UNAVAILABLE);
    s3_snapshot(pre, &again);
    ck_assert_ptr_null(strstr(again.data, "_manifest.json"));
    /* A crash in a multipart upload leaves it in progress: the re-run
     * aborts it (and only the ones in its own directory). */
    {
        struct s3_client *c = NULL;
        struct bf_err e;
        char *id = NULL;
        cJSON *ups = NULL;

        ck_assert_int_eq(s3_client_new(env, &c, &e), BF_OK);
        ck_assert_int_eq(s3_mpu_create(c, "lake-bucket", "data/prefix/t/canonical/"
                                       "tickets/backfill/A_B/part-00007.jsonl.gz",
                                       NULL, &id, &e), BF_OK);
        free(id);
        ck_assert_int_eq(s3_mpu_create(c, "lake-bucket", "data/prefix/t/canonical/"
                                       "tickets/backfill/OTHER/part-00000.jsonl.gz",
                                       NULL, &id, &e), BF_OK);
        free(id);
        s3_client_free(c);
        ck_assert_int_eq(s3_chunk(s, 16 * 1024, 0), BF_OK);
        ups = admin_json("svc/s3/uploads");
        ck_assert_int_eq(cJSON_GetArraySize(ups), 1);
        ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(ups, 0),
                                                         "key")->valuestring, "OTHER"));
        cJSON_Delete(ups);
    }
    s3_snapshot(pre, &again);
    ck_assert_str_eq(again.data, first.data);
    ck_assert_int_eq(s3_chunk(s, 0, 0), BF_OK); /* one part now */
    s3_snapshot(pre, &again);
    ck_assert_ptr_null(strstr(again.data, "part-00001"));
    ck_assert_ptr_nonnull(strstr(again.data, "part-00000.jsonl.gz"));
    count_calls(NULL, NULL); /* every call signed correctly */
    buf_cleanup(&first);
    buf_cleanup(&again);
    sink_free(s);
}
END_TEST

/* The upload listing comes from the network: an answer that names keys
 * outside the directory (a short one, and a long one with no '/' after the
 * prefix length) must not make the sink abort uploads that are not its
 * own, nor read past the end of a short key. */
/* Make the fake answer the next ListMultipartUploads with `uploads` (the
 * <Upload> elements) and run sink_abort_incomplete() on directory "mine". */
static void abort_incomplete_with(struct sink *s, const char *uploads)
{
    struct bf_err e;
    char fault[1024];

    snprintf(fault, sizeof(fault),
             "{\"faults\":[{\"service\":\"s3\",\"op\":\"ListMultipartUploads\","
             "\"status\":200,\"headers\":{\"content-type\":\"application/xml\"},"
             "\"body\":\"<ListMultipartUploadsResult>%s"
             "</ListMultipartUploadsResult>\"}]}", uploads);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults", fault, NULL), 200);
    bf_err_init(&e);
    ck_assert_int_eq(sink_abort_incomplete(s, "mine", &e), BF_OK);
}

START_TEST(abort_incomplete_ignores_foreign_uploads)
{
    struct sink *s = open_s3(0, NULL);
    cJSON *calls = NULL, *c = NULL;
    int aborts = 0;

    /* u3 is ours but unknown to the fake: its 404 counts as "gone". */
    abort_incomplete_with(s,
        "<Upload><Key>x</Key><UploadId>u1</UploadId></Upload>"
        "<Upload><Key>zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz</Key>"
        "<UploadId>u2</UploadId></Upload>"
        "<Upload><Key>data/prefix/mine/part-1</Key><UploadId>u3</UploadId>"
        "</Upload>");
    calls = admin_json("calls?service=s3");
    cJSON_ArrayForEach(c, calls) {
        const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(c, "op"));
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(c, "query"));

        if (op == NULL || strcmp(op, "AbortMultipartUpload") != 0)
            continue;
        aborts++;
        ck_assert_msg(q != NULL && strstr(q, "u3") != NULL,
                      "aborted a foreign upload: %s", q ? q : "?");
    }
    ck_assert_int_eq(aborts, 1);
    cJSON_Delete(calls);
    sink_free(s);
}
END_TEST

/* An <Upload> without an <UploadId> must not lend its key to the next
 * upload's id: that would abort another directory's upload. */
START_TEST(abort_incomplete_pairs_within_one_upload)
{
    struct sink *s = open_s3(0, NULL);

    abort_incomplete_with(s,
        "<Upload><Key>data/prefix/mine/part-1</Key></Upload>"
        "<Upload><Key>data/prefix/other/part-1</Key><UploadId>u9</UploadId>"
        "</Upload>");
    ck_assert_int_eq(count_calls("AbortMultipartUpload", NULL), 0);
    sink_free(s);
}
END_TEST

/* A bucket name S3 cannot have is a configuration error at open, not an
 * "unavailable" sink that the state machine would retry. */
START_TEST(bad_bucket_is_config)
{
    struct sink *s = NULL;
    struct bf_err e;

    bf_err_init(&e);
    ck_assert_int_eq(sink_open("s3://bad bucket!/p", env, NULL, &s, &e),
                     BF_E_CONFIG);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(e.message, "bucket"));
    ck_assert_int_eq(count_calls(NULL, NULL), 0);
}
END_TEST

/* Misconfigured credentials (half a key pair) stop the call before any
 * request: a configuration error naming the variable, not an "unavailable"
 * S3 that the state machine would retry. */
START_TEST(misconfigured_credentials_are_config)
{
    struct sink *s = NULL;
    struct awsenv *half = NULL;
    struct creds_provider *p = creds_provider_new_env();
    struct bf_err e;

    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    ck_assert_int_eq(awsenv_new(&(struct awsenv_options){ .creds = p,
                                                          .sleep_ms = no_sleep },
                                &half, &e), BF_OK);
    creds_provider_release(p);
    ck_assert_int_eq(sink_open("s3://lake-bucket/p/", half, NULL, &s, &e), BF_OK);
    bf_err_init(&e);
    ck_assert_int_eq(sink_put(s, "c/x", "1", 1, &e), BF_E_CONFIG);
    ck_assert_int_eq(e.retryable, 0);
    ck_assert_ptr_nonnull(strstr(e.message, "AWS_SECRET_ACCESS_KEY is set but "
                                            "AWS_ACCESS_KEY_ID is not"));
    ck_assert_ptr_null(strstr(e.message, "EXAMPLEKEY"));
    ck_assert_int_eq(count_calls(NULL, NULL), 0);
    sink_free(s);
    awsenv_release(half);
    unsetenv("AWS_SECRET_ACCESS_KEY");
}
END_TEST

START_TEST(xml_reader)
{
    const char *x = "<a><Key>one &amp; two</Key><Key>&lt;3&gt;</Key><Key></Key></a>";
    char out[32];
    size_t pos = 0;

    ck_assert_int_eq(awsrest_xml_next(x, &pos, "Key", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "one & two");
    ck_assert_int_eq(awsrest_xml_next(x, &pos, "Key", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "<3>");
    ck_assert_int_eq(awsrest_xml_next(x, &pos, "Key", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(awsrest_xml_next(x, &pos, "Key", out, sizeof(out)), 0);
    pos = 0;
    ck_assert_int_eq(awsrest_xml_next("<Key>unterminated", &pos, "Key", out, sizeof(out)), 0);
    pos = 0;
    ck_assert_int_eq(awsrest_xml_next("<Key>abcdefghij</Key>", &pos, "Key", out, 4), 1);
    ck_assert_str_eq(out, "abc");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("sinks3");
    TCase *tc = tcase_create("s3");
    TCase *tx = tcase_create("xml");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, objects_round_trip);
    tcase_add_test(tc, misconfigured_credentials_are_config);
    tcase_add_test(tc, listing_pages);
    tcase_add_test(tc, fake_keeps_objects_in_a_dir);
    tcase_add_test(tc, chunk_on_s3_with_multipart_and_kms);
    tcase_add_test(tc, multipart_failure_aborts);
    tcase_add_test(tc, slowdown_is_retried);
    tcase_add_test(tc, unreachable_is_unavailable);
    tcase_add_test(tc, forbidden_is_access_denied);
    tcase_add_test(tc, idempotent_on_s3);
    tcase_add_test(tc, abort_incomplete_ignores_foreign_uploads);
    tcase_add_test(tc, abort_incomplete_pairs_within_one_upload);
    tcase_add_test(tc, bad_bucket_is_config);
    tcase_add_test(tx, xml_reader);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tx);
    return s;
}
