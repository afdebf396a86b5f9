/* test_awsrest.c -- the REST path (S3 rules and plain REST) against the
 * verifying fake, plus the addressing decision as a pure function.
 *
 * The fake runs services/generic.js twice: signing as "s3" (object store,
 * S3 XML errors, verifier with S3's single encoding and payload hash) and as
 * "generic" (plain REST, JSON errors). Every recorded call must carry
 * sigv4 == "ok", which is the reference signer agreeing with ours on paths
 * with spaces, unicode, reserved characters and dot segments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/awsrest.h"
#include "fakesrv.h"
#include "testsuite.h"

static const struct endpoint_service svc_generic = {
    "GENERIC", "generic", "generic" };

static struct fakesrv fake;

static void no_sleep(void *ctx, long ms)
{
    (void)ctx;
    (void)ms;
}

static void start_fake(void)
{
    static const char *const args[] = {
        "--services", "generic:s3,generic", "--max-seconds", "120", NULL };

    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js",
                                   args), 0);
    setenv("AWS_ENDPOINT_URL_S3", fake.url, 1);
    setenv("AWS_ENDPOINT_URL_GENERIC", fake.url, 1);
    setenv("AWS_REGION", "us-east-1", 1);
}

static void stop_fake(void)
{
    fakesrv_stop(&fake);
}

static int calls_all_ok(void)
{
    struct buf b;
    cJSON *arr = NULL;
    cJSON *c = NULL;
    int n = 0;

    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&fake, "GET", "calls", NULL, &b), 200);
    arr = cJSON_Parse(b.data);
    ck_assert_ptr_nonnull(arr);
    cJSON_ArrayForEach(c, arr) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(c, "sigv4"));
        ck_assert_msg(s != NULL && strcmp(s, "ok") == 0, "call %d: %s (%s)",
                      n, s ? s : "?", cJSON_GetStringValue(
                          cJSON_GetObjectItem(c, "error")));
        n++;
    }
    cJSON_Delete(arr);
    buf_cleanup(&b);
    return n;
}

static struct awsenv *env_new(void)
{
    struct creds cr;
    struct creds_provider *p = NULL;
    struct awsenv *env = NULL;
    struct bf_err e;

    memset(&cr, 0, sizeof(cr));
    strcpy(cr.access_key_id, "AKIDEXAMPLE");
    strcpy(cr.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    p = creds_provider_new_static(&cr);
    ck_assert_int_eq(awsenv_new(&(struct awsenv_options){
                                    .creds = p, .sleep_ms = no_sleep },
                                &env, &e), BF_OK);
    creds_provider_release(p);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "reset", "{}", NULL), 200);
    return env;
}

static enum bf_rc s3_do(struct awsrest_client *c, const char *method,
                        const char *key, const char *body,
                        struct http_response *r, struct bf_err *e)
{
    struct http_header h[] = { { "Content-Type", "text/plain" } };
    struct awsrest_request req = {
        .method = method, .bucket = "my-bucket", .path = key,
        .headers = body != NULL ? h : NULL, .nheaders = body != NULL ? 1 : 0,
        .body = body, .body_len = body != NULL ? strlen(body) : 0 };

    bf_err_init(e);
    return awsrest_call(c, &req, r, e);
}

START_TEST(put_get_delete_encoded_keys)
{
    static const char *const keys[] = {
        "plain/key.jsonl.gz",
        "dir with spaces/file name.txt",
        "unicode/\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.json",
        "reserved/a+b=c&d;e,f:g@h$i!j'k(l)m*n",
        "pct/100%25 done?x#y",
        "dots/./x/../y",
        "slashes//double/",
        "tilde~under_score-dash.dot",
        NULL };
    struct awsenv *env = env_new();
    struct awsrest_client *c = NULL;
    struct http_response r;
    struct bf_err e;
    struct buf list;
    int i;

    ck_assert_int_eq(awsrest_client_new(env, &endpoint_svc_s3, &c, &e), BF_OK);
    http_response_init(&r);
    for (i = 0; keys[i] != NULL; i++) {
        char want[256];
        ck_assert_msg(s3_do(c, "PUT", keys[i], keys[i], &r, &e) == BF_OK,
                      "PUT %s: %s", keys[i], e.message);
        ck_assert_int_eq(r.status, 200);
        ck_assert_ptr_nonnull(http_response_header(&r, "ETag"));
        ck_assert_msg(s3_do(c, "GET", keys[i], NULL, &r, &e) == BF_OK,
                      "GET %s: %s", keys[i], e.message);
        ck_assert_str_eq(r.body.data, keys[i]);
        ck_assert_str_eq(http_response_header(&r, "content-type"),
                         "text/plain");
        /* The store saw the exact key: path-style, decoded once. */
        snprintf(want, sizeof(want), "\"/my-bucket/%s\"", keys[i]);
        buf_init(&list, 0);
        fakesrv_admin(&fake, "GET", "svc/s3/objects", NULL, &list);
        ck_assert_msg(strstr(list.data, want) != NULL, "%s not in %s", want,
                      list.data);
        buf_cleanup(&list);
        ck_assert_int_eq(s3_do(c, "DELETE", keys[i], NULL, &r, &e), BF_OK);
        ck_assert_int_eq(r.status, 204);
    }
    ck_assert_int_eq(calls_all_ok(), 3 * i);
    http_response_cleanup(&r);
    awsrest_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(s3_errors_and_unsigned)
{
    struct awsenv *env = env_new();
    struct awsrest_client *c = NULL;
    struct http_response r;
    struct bf_err e;
    struct awsrest_request req = {
        .method = "PUT", .bucket = "my-bucket", .path = "u/obj",
        .body = "streamed", .body_len = 8, .unsigned_payload = 1 };

    ck_assert_int_eq(awsrest_client_new(env, &endpoint_svc_s3, &c, &e), BF_OK);
    http_response_init(&r);
    ck_assert_int_eq(s3_do(c, "GET", "missing/key", NULL, &r, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "NoSuchKey");
    ck_assert_int_eq(e.http_status, 404);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_nonnull(strstr(r.body.data, "<Code>NoSuchKey</Code>"));
    ck_assert_int_eq(s3_do(c, "HEAD", "missing/key", NULL, &r, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "NotFound");
    ck_assert_int_eq(awsrest_call(c, &req, &r, &e), BF_OK);
    /* SlowDown (XML, 503) twice, then through. */
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults",
        "{\"faults\":[{\"service\":\"s3\",\"times\":2,\"status\":503,"
        "\"headers\":{\"content-type\":\"application/xml\"},\"body\":"
        "\"<Error><Code>SlowDown</Code><Message>Please reduce your "
        "request rate.</Message></Error>\"}]}", NULL), 200);
    ck_assert_int_eq(s3_do(c, "GET", "u/obj", NULL, &r, &e), BF_OK);
    ck_assert_str_eq(r.body.data, "streamed");
    /* Exhausted: the last answer is kept for the caller. */
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults",
        "{\"faults\":[{\"service\":\"s3\",\"times\":3,\"status\":503,"
        "\"body\":\"<Error><Code>SlowDown</Code><Message>a &amp; b"
        "</Message></Error>\"}]}", NULL), 200);
    ck_assert_int_eq(s3_do(c, "GET", "u/obj", NULL, &r, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "SlowDown");
    ck_assert_ptr_nonnull(strstr(e.message, "a & b"));
    ck_assert_int_eq(r.status, 503);
    ck_assert_int_eq(calls_all_ok(), 3 + 3 + 3);
    http_response_cleanup(&r);
    awsrest_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(plain_rest_and_json_errors)
{
    struct awsenv *env = env_new();
    struct awsrest_client *c = NULL;
    struct http_response r;
    struct bf_err e;
    struct http_header h[] = { { "Content-Type", "application/json" },
                               { "X-Amz-Invocation-Type", "RequestResponse" } };
    struct awsrest_request req = {
        .method = "POST", .path = "/2015-03-31/functions/arn:aws:fn:x/invocations",
        .query = "Qualifier=%24LATEST", .headers = h, .nheaders = 2,
        .body = "{\"k\":1}", .body_len = 7 };

    ck_assert_int_eq(awsrest_client_new(env, &svc_generic, &c, &e), BF_OK);
    http_response_init(&r);
    ck_assert_int_eq(awsrest_call(c, &req, &r, &e), BF_OK);
    ck_assert_ptr_nonnull(strstr(r.body.data,
        "\"key\":\"/2015-03-31/functions/arn:aws:fn:x/invocations\""));
    req.method = "GET";
    req.path = "no/leading slash";
    req.query = NULL;
    req.body = NULL;
    req.body_len = 0;
    req.nheaders = 0;
    bf_err_init(&e);
    ck_assert_int_eq(awsrest_call(c, &req, &r, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "ResourceNotFoundException");
    ck_assert_ptr_nonnull(strstr(e.message, "no key /no/leading slash"));
    ck_assert_int_eq(calls_all_ok(), 2);
    http_response_cleanup(&r);
    awsrest_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(transport_fault_rest)
{
    struct awsenv *env = env_new();
    struct awsrest_client *c = NULL;
    struct http_response r;
    struct bf_err e;

    ck_assert_int_eq(awsrest_client_new(env, &endpoint_svc_s3, &c, &e), BF_OK);
    http_response_init(&r);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults",
        "{\"faults\":[{\"service\":\"s3\",\"reset\":true}]}", NULL), 200);
    ck_assert_int_eq(s3_do(c, "PUT", "k", "v", &r, &e), BF_OK);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults",
        "{\"faults\":[{\"service\":\"s3\",\"delayMs\":3000}]}", NULL), 200);
    {
        struct awsrest_request req = { .method = "GET", .bucket = "my-bucket",
                                       .path = "k", .timeout_ms = 300,
                                       .max_attempts = 1 };
        bf_err_init(&e);
        ck_assert_int_eq(awsrest_call(c, &req, &r, &e), BF_E_TRANSPORT);
        ck_assert_int_eq(r.timed_out, 1);
    }
    http_response_cleanup(&r);
    awsrest_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(addressing)
{
    struct endpoint ep;
    struct awsrest_target t;
    struct bf_err e;

    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL");
    awsrest_target_init(&t);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_s3, "eu-west-1", 0, &ep, &e),
                     BF_OK);
    ck_assert_int_eq(awsrest_make_target(&ep, "my-bucket", "a b/c.json",
                                         "x=1", &t, &e), BF_OK);
    ck_assert_int_eq(t.virtual_host, 1);
    ck_assert_str_eq(t.host_header, "my-bucket.s3.eu-west-1.amazonaws.com");
    ck_assert_str_eq(t.path.data, "/a%20b/c.json");
    ck_assert_str_eq(t.url.data,
        "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b/c.json?x=1");
    /* Dots over https, upper case, underscores: path style. */
    ck_assert_int_eq(awsrest_make_target(&ep, "my.bucket", "k", NULL, &t, &e),
                     BF_OK);
    ck_assert_int_eq(t.virtual_host, 0);
    ck_assert_str_eq(t.url.data,
                     "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
    ck_assert_int_eq(awsrest_make_target(&ep, "My_Bucket", "k", NULL, &t, &e),
                     BF_OK);
    ck_assert_int_eq(t.virtual_host, 0);
    /* Bucket-level request. */
    ck_assert_int_eq(awsrest_make_target(&ep, "bkt", NULL, "list-type=2", &t,
                                         &e), BF_OK);
    ck_assert_str_eq(t.url.data,
                     "https://bkt.s3.eu-west-1.amazonaws.com/?list-type=2");
    ck_assert_int_eq(awsrest_make_target(&ep, "a/b", "k", NULL, &t, &e),
                     BF_E_INVALID_INPUT);
    ck_assert_int_eq(awsrest_make_target(&ep, "", "k", NULL, &t, &e),
                     BF_E_INVALID_INPUT);
    /* Overridden endpoint with a base path: always path style. */
    setenv("AWS_ENDPOINT_URL_S3", "http://localhost:9000/s3", 1);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_s3, "eu-west-1", 0, &ep, &e),
                     BF_OK);
    ck_assert_int_eq(awsrest_make_target(&ep, "my-bucket", "k/\xc3\xa9", NULL,
                                         &t, &e), BF_OK);
    ck_assert_int_eq(t.virtual_host, 0);
    ck_assert_str_eq(t.host_header, "localhost:9000");
    ck_assert_str_eq(t.url.data, "http://localhost:9000/s3/my-bucket/k/%C3%A9");
    ck_assert_int_eq(awsrest_bucket_virtual_ok("my.bucket", "http"), 1);
    ck_assert_int_eq(awsrest_bucket_virtual_ok("ab", "https"), 0);
    ck_assert_int_eq(awsrest_bucket_virtual_ok("-ab", "https"), 0);
    awsrest_target_cleanup(&t);
}
END_TEST

START_TEST(error_parsing)
{
    struct http_response r;
    char code[64], msg[128];
    const char *xml = "<?xml version=\"1.0\"?>\n<Error><Code>AccessDenied"
                      "</Code><Message>Access &lt;Denied&gt;</Message></Error>";

    http_response_init(&r);
    r.status = 403;
    buf_append_str(&r.body, xml);
    awsrest_parse_error(&r, code, sizeof(code), msg, sizeof(msg));
    ck_assert_str_eq(code, "AccessDenied");
    ck_assert_str_eq(msg, "Access <Denied>");
    buf_reset(&r.body);
    buf_append_str(&r.body, "{\"Type\":\"User\",\"message\":\"bad\"}");
    r.status = 400;
    awsrest_parse_error(&r, code, sizeof(code), msg, sizeof(msg));
    ck_assert_str_eq(code, "BadRequest"); /* no type anywhere */
    ck_assert_str_eq(msg, "bad");
    buf_reset(&r.body);
    r.status = 502;
    awsrest_parse_error(&r, code, sizeof(code), msg, sizeof(msg));
    ck_assert_str_eq(code, "HTTP502");
    http_response_cleanup(&r);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("awsrest");
    TCase *unit = tcase_create("pure");
    TCase *tc = tcase_create("fake");

    tcase_add_test(unit, addressing);
    tcase_add_test(unit, error_parsing);
    suite_add_tcase(s, unit);
    tcase_add_unchecked_fixture(tc, start_fake, stop_fake);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, put_get_delete_encoded_keys);
    tcase_add_test(tc, s3_errors_and_unsigned);
    tcase_add_test(tc, plain_rest_and_json_errors);
    tcase_add_test(tc, transport_fault_rest);
    suite_add_tcase(s, tc);
    return s;
}
