/* test_http.c -- the libcurl client: headers, caps, timeouts, keep-alive,
 * TLS verification staying on.
 *
 * Talks to the fake (server.js --no-verify, services/generic.js as a plain
 * REST store) on 127.0.0.1; the TLS cases use a closed or plain-text port
 * on 127.0.0.1, so nothing leaves the machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/http.h"
#include "fakesrv.h"
#include "testsuite.h"

static struct fakesrv fake;
static char url[128];

static void start_fake(void)
{
    static const char *const args[] = {
        "--services", "generic", "--no-verify", "--max-seconds", "120", NULL };

    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js",
                                   args), 0);
    snprintf(url, sizeof(url), "%s/obj/key", fake.url);
}

static void stop_fake(void)
{
    fakesrv_stop(&fake);
}

static cJSON *calls(void)
{
    struct buf b;
    cJSON *arr = NULL;

    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&fake, "GET", "calls", NULL, &b), 200);
    arr = cJSON_Parse(b.data);
    buf_cleanup(&b);
    ck_assert_ptr_nonnull(arr);
    return arr;
}

static void script(const char *json)
{
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "svc/generic/script", json,
                                   NULL), 200);
}

START_TEST(put_get_headers_keepalive)
{
    struct http_client *c = http_client_new();
    struct http_response r;
    struct http_header h[] = { { "Content-Type", "text/plain" },
                               { "X-Custom", "v1" } };
    struct http_request put = { .method = "PUT", .url = url, .headers = h,
                                .nheaders = 2, .body = "hello", .body_len = 5 };
    struct http_request get = { .method = "GET", .url = url };
    struct http_request head = { .method = "HEAD", .url = url };
    struct bf_err e;
    cJSON *arr = NULL;

    fakesrv_admin(&fake, "POST", "reset", "{}", NULL);
    http_response_init(&r);
    ck_assert_int_eq(http_perform(c, &put, &r, &e), BF_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_response_header(&r, "ETAG"), "\"5\"");
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "hello");
    ck_assert_uint_eq(r.body.len, 5);
    ck_assert_str_eq(http_response_header(&r, "content-type"), "text/plain");
    ck_assert_ptr_null(http_response_header(&r, "etag")); /* reset per call */
    ck_assert_int_eq(http_perform(c, &head, &r, &e), BF_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, 0);
    arr = calls();
    ck_assert_int_eq(cJSON_GetArraySize(arr), 3);
    {
        cJSON *c0 = cJSON_GetArrayItem(arr, 0);
        cJSON *hd = cJSON_GetObjectItem(c0, "headers");
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c0, "body")),
                         "hello");
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(hd,
                         "x-custom")), "v1");
        /* One connection for all three: kept alive. */
        ck_assert_int_eq(cJSON_GetObjectItem(c0, "conn")->valueint,
                         cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 2),
                                             "conn")->valueint);
        /* A GET without a body gets no invented Content-Type. */
        ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(
            cJSON_GetArrayItem(arr, 1), "headers"), "content-type"));
    }
    cJSON_Delete(arr);
    http_response_cleanup(&r);
    http_client_free(c);
}
END_TEST

START_TEST(no_expect_no_invented_content_type)
{
    struct http_client *c = http_client_new();
    struct http_response r;
    size_t n = 2u << 20; /* curl sends Expect: 100-continue above 1 MiB */
    char *big = malloc(n);
    struct http_request put = { .method = "PUT", .url = url, .body = big,
                                .body_len = n };
    struct bf_err e;
    cJSON *arr = NULL;
    cJSON *hd = NULL;

    memset(big, 'z', n);
    fakesrv_admin(&fake, "POST", "reset", "{}", NULL);
    http_response_init(&r);
    ck_assert_int_eq(http_perform(c, &put, &r, &e), BF_OK);
    ck_assert_int_eq(r.status, 200);
    arr = calls();
    hd = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "headers");
    ck_assert_ptr_null(cJSON_GetObjectItem(hd, "expect"));
    ck_assert_ptr_null(cJSON_GetObjectItem(hd, "content-type"));
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0),
                                         "bodyBytes")->valueint, (int)n);
    cJSON_Delete(arr);
    free(big);
    http_response_cleanup(&r);
    http_client_free(c);
}
END_TEST

START_TEST(header_injection_refused)
{
    struct http_client *c = http_client_new();
    struct http_response r;
    const struct http_header bad[] = { { "clientId", "abc\r\nX-Injected: 1" } };
    struct http_request get = { .method = "GET", .url = url, .headers = bad,
                                .nheaders = 1 };
    struct bf_err e;
    cJSON *arr = NULL;

    fakesrv_admin(&fake, "POST", "reset", "{}", NULL);
    http_response_init(&r);
    bf_err_init(&e);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "clientId"));
    ck_assert_ptr_null(strstr(e.message, "Injected"));
    arr = calls();
    ck_assert_int_eq(cJSON_GetArraySize(arr), 0); /* nothing was sent */
    cJSON_Delete(arr);
    http_response_cleanup(&r);
    http_client_free(c);
}
END_TEST

START_TEST(response_cap)
{
    struct http_client *c = http_client_new();
    struct http_response r;
    struct http_request get = { .method = "GET", .url = url,
                                .max_response = 100 };
    struct bf_err e;
    char body[400];

    memset(body, 'a', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    http_response_init(&r);
    fakesrv_admin(&fake, "POST", "reset", "{}", NULL);
    /* With Content-Length (refused up front) and chunked (cut mid-way). */
    {
        struct buf j;
        buf_init(&j, 0);
        buf_printf(&j, "{\"responses\":[{\"body\":\"%s\"},"
                   "{\"body\":\"%s\",\"chunked\":true},{\"body\":\"ok\"}]}",
                   body, body);
        script(j.data);
        buf_cleanup(&j);
    }
    bf_err_init(&e);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.message, "larger than 100 bytes"));
    bf_err_init(&e);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_LIMIT);
    ck_assert_uint_le(r.body.len, 100);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_OK);
    ck_assert_str_eq(r.body.data, "ok");
    http_response_cleanup(&r);
    http_client_free(c);
}
END_TEST

START_TEST(timeouts)
{
    struct http_client *c = http_client_new();
    struct http_response r;
    struct http_request get = { .method = "GET", .url = url,
                                .timeout_ms = 1500 };
    struct bf_err e;

    http_response_init(&r);
    fakesrv_admin(&fake, "POST", "reset", "{}", NULL);
    fakesrv_admin(&fake, "POST", "faults",
                  "{\"faults\":[{\"delayMs\":300},{\"delayMs\":2000}]}", NULL);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_OK);
    ck_assert_int_eq(r.timed_out, 0);
    get.timeout_ms = 400;
    bf_err_init(&e);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_TRANSPORT);
    ck_assert_int_eq(r.timed_out, 1);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(e.message, "GET http://127.0.0.1"));
    http_response_cleanup(&r);
    http_client_free(c);
}
END_TEST

START_TEST(reset_and_refused)
{
    struct http_client *c = http_client_new();
    struct http_response r;
    struct http_request get = { .method = "GET", .url = url };
    struct http_request closed = { .method = "GET",
                                   .url = "http://127.0.0.1:1/x",
                                   .connect_timeout_ms = 1000 };
    struct bf_err e;

    http_response_init(&r);
    fakesrv_admin(&fake, "POST", "reset", "{}", NULL);
    fakesrv_admin(&fake, "POST", "faults",
                  "{\"faults\":[{\"reset\":true}]}", NULL);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_TRANSPORT);
    ck_assert_int_eq(r.timed_out, 0);
    ck_assert_int_eq(http_perform(c, &closed, &r, &e), BF_E_TRANSPORT);
    http_response_cleanup(&r);
    http_client_free(c);
}
END_TEST

START_TEST(tls_always_verified)
{
    struct http_client *c = http_client_new();
    struct http_response r;
    char tls_url[128];
    struct http_request get = { .method = "GET", .url = tls_url,
                                .timeout_ms = 3000 };
    struct bf_err e;

    /* https to a plain-text port: the handshake fails, never "insecure". */
    snprintf(tls_url, sizeof(tls_url), "https://127.0.0.1:%d/x", fake.port);
    http_response_init(&r);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_TRANSPORT);
    /* A CA bundle that does not exist is an error, not a fallback. */
    ck_assert_int_eq(http_client_set_ca_bundle(c, "/nonexistent/ca.pem", &e), BF_OK);
    bf_err_init(&e);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "BACKFILL_CA_BUNDLE"));
    ck_assert_int_eq(http_client_set_ca_bundle(c, NULL, &e), BF_OK);
    /* Only http and https. */
    get.url = "file:///etc/passwd";
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_CONFIG);
    http_response_cleanup(&r);
    http_client_free(c);
}
END_TEST

START_TEST(tls_ca_bundle_override)
{
    char cert[1024], key[1024], tls_url[128];
    const char *args[] = { "--services", "generic", "--no-verify",
                           "--tls-cert", cert, "--tls-key", key,
                           "--max-seconds", "60", NULL };
    struct fakesrv tls;
    struct http_client *c = http_client_new();
    struct http_response r;
    struct http_request get = { .method = "GET", .url = tls_url,
                                .timeout_ms = 5000 };
    struct bf_err e;

    snprintf(cert, sizeof(cert), "%s",
             fakesrv_top_path("tests/support/fake/tls/test-cert.pem"));
    snprintf(key, sizeof(key), "%s",
             fakesrv_top_path("tests/support/fake/tls/test-key.pem"));
    ck_assert_int_eq(fakesrv_start(&tls, "tests/support/fake/server.js",
                                   args), 0);
    snprintf(tls_url, sizeof(tls_url), "https://127.0.0.1:%d/obj/k", tls.port);
    http_response_init(&r);
    /* A self-signed server is refused with the system CAs, and the
     * client never reads the environment for a bundle. */
    setenv("BACKFILL_CA_BUNDLE", cert, 1);
    setenv("AWS_CA_BUNDLE", cert, 1);
    bf_err_init(&e);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_TRANSPORT);
    ck_assert_int_eq(r.status, 0);
    unsetenv("BACKFILL_CA_BUNDLE");
    unsetenv("AWS_CA_BUNDLE");
    /* Trusted through the configured bundle (by address and by name); the
     * answer is the store's 404. */
    ck_assert_int_eq(http_client_set_ca_bundle(c, cert, &e), BF_OK);
    ck_assert_msg(http_perform(c, &get, &r, &e) == BF_OK, "%s", e.message);
    ck_assert_int_eq(r.status, 404);
    snprintf(tls_url, sizeof(tls_url), "https://localhost:%d/obj/k", tls.port);
    ck_assert_msg(http_perform(c, &get, &r, &e) == BF_OK, "%s", e.message);
    ck_assert_int_eq(r.status, 404);
    /* Back to the system's CAs: refused again. */
    ck_assert_int_eq(http_client_set_ca_bundle(c, "", &e), BF_OK);
    ck_assert_int_eq(http_perform(c, &get, &r, &e), BF_E_TRANSPORT);
    http_response_cleanup(&r);
    http_client_free(c);
    fakesrv_stop(&tls);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("fake");

    tcase_add_unchecked_fixture(tc, start_fake, stop_fake);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, put_get_headers_keepalive);
    tcase_add_test(tc, no_expect_no_invented_content_type);
    tcase_add_test(tc, header_injection_refused);
    tcase_add_test(tc, response_cap);
    tcase_add_test(tc, timeouts);
    tcase_add_test(tc, reset_and_refused);
    tcase_add_test(tc, tls_always_verified);
    tcase_add_test(tc, tls_ca_bundle_override);
    suite_add_tcase(s, tc);
    return s;
}
