/* test_awsjson.c -- the JSON protocol client against the verifying fake.
 *
 * One fake (tests/support/fake/server.js with services/generic.js) is
 * started per test case in the parent process; every test resets it, drives
 * awsjson_call, and checks the fake's record: the number of attempts and
 * that the reference verifier accepted every signature (sigv4 == "ok").
 * Backoff sleeps go through the awsenv seam, recorded, so no time passes
 * except in the timeout cases.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/awsjson.h"
#include "aws/retry.h"
#include "util/timeutil.h"
#include "fakesrv.h"
#include "testsuite.h"

static const struct endpoint_service svc_generic = {
    "GENERIC", "generic", "generic" };

static struct fakesrv fake;

/* Atomic: threads_share_env retries from several threads at once. */
static struct sleeps {
    atomic_long total_ms;
    atomic_int n;
} slept;

static void record_sleep(void *ctx, long ms)
{
    (void)ctx;
    atomic_fetch_add(&slept.total_ms, ms);
    atomic_fetch_add(&slept.n, 1);
}

static void start_fake(void)
{
    static const char *const args[] = {
        "--services", "generic",
        "--keys", "AKIDEXAMPLE=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,"
                  "AKIDTOKEN=tokensecret=the-session-token",
        "--max-seconds", "120", NULL };

    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js",
                                   args), 0);
    setenv("AWS_ENDPOINT_URL_GENERIC", fake.url, 1);
    setenv("AWS_REGION", "us-east-1", 1);
}

static void stop_fake(void)
{
    fakesrv_stop(&fake);
}

static void reset_fake(void)
{
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "reset", "{}", NULL), 200);
    atomic_store(&slept.total_ms, 0);
    atomic_store(&slept.n, 0);
}

static void add_faults(const char *json)
{
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults", json, NULL), 200);
}

/* The recorded calls; asserts every signature verified. */
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
        cJSON *s = cJSON_GetObjectItem(c, "sigv4");
        ck_assert_str_eq(cJSON_GetStringValue(s), "ok");
        n++;
    }
    cJSON_Delete(arr);
    buf_cleanup(&b);
    return n;
}

static struct awsenv *make_env(const char *akid, const char *secret,
                               const char *token, int capacity)
{
    struct creds cr;
    struct creds_provider *p = NULL;
    struct awsenv *env = NULL;
    struct awsenv_options o;
    struct bf_err e;

    memset(&cr, 0, sizeof(cr));
    strcpy(cr.access_key_id, akid);
    strcpy(cr.secret_access_key, secret);
    if (token != NULL)
        strcpy(cr.session_token, token);
    p = creds_provider_new_static(&cr);
    ck_assert_ptr_nonnull(p);
    memset(&o, 0, sizeof(o));
    o.creds = p;
    o.retry_capacity = capacity;
    o.sleep_ms = record_sleep;
    ck_assert_int_eq(awsenv_new(&o, &env, &e), BF_OK);
    creds_provider_release(p);
    return env;
}

static struct awsjson_client *make_client(struct awsenv *env)
{
    struct awsjson_client *c = NULL;
    struct bf_err e;

    ck_assert_int_eq(awsjson_client_new(env, &svc_generic, "GenericService",
                                        "1.0", &c, &e), BF_OK);
    return c;
}

static struct awsenv *default_env(void)
{
    return make_env("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                    NULL, 0);
}

START_TEST(parse_error_shapes)
{
    char code[64], msg[128];
    const char *b1 = "{\"__type\":\"com.amazonaws.swf.base.model#"
                     "TaskDoesNotExist\",\"message\":\"gone\"}";
    const char *b2 = "{\"__type\":\"ValidationException:http://internal."
                     "amazon.com/coral/\",\"Message\":\"bad input\"}";
    const char *b3 = "{\"message\":\"nope\"}";

    awsjson_parse_error(b1, strlen(b1), NULL, code, sizeof(code), msg,
                        sizeof(msg));
    ck_assert_str_eq(code, "TaskDoesNotExist");
    ck_assert_str_eq(msg, "gone");
    awsjson_parse_error(b2, strlen(b2), NULL, code, sizeof(code), msg,
                        sizeof(msg));
    ck_assert_str_eq(code, "ValidationException");
    ck_assert_str_eq(msg, "bad input");
    awsjson_parse_error(b3, strlen(b3), "AccessDeniedException:http://x/",
                        code, sizeof(code), msg, sizeof(msg));
    ck_assert_str_eq(code, "AccessDeniedException");
    ck_assert_str_eq(msg, "nope");
    awsjson_parse_error("<html>", 6, NULL, code, sizeof(code), msg,
                        sizeof(msg));
    ck_assert_str_eq(code, "");
    ck_assert_str_eq(msg, "");
    awsjson_parse_error(NULL, 0, NULL, code, sizeof(code), msg, sizeof(msg));
    ck_assert_str_eq(code, "");
    ck_assert(retry_is_retryable(400, "ThrottlingException"));
    ck_assert(!retry_is_retryable(400, "TaskDoesNotExist"));
}
END_TEST

START_TEST(call_ok_signed)
{
    struct awsenv *env = default_env();
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;

    reset_fake();
    ck_assert_int_eq(awsjson_call(c, "DoThing", "{\"a\":\"x y\",\"n\":1}",
                                  NULL, &out, &e), BF_OK);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out, "target")),
                     "GenericService.DoThing");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out,
                     "contentType")), "application/x-amz-json-1.0");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                     cJSON_GetObjectItem(out, "input"), "a")), "x y");
    cJSON_Delete(out);
    /* A second call reuses the connection and the cached signing key. */
    ck_assert_int_eq(awsjson_call(c, "Other", NULL, NULL, &out, &e), BF_OK);
    cJSON_Delete(out);
    ck_assert_int_eq(calls_all_ok(), 2);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(session_token_and_json11)
{
    struct awsenv *env = make_env("AKIDTOKEN", "tokensecret",
                                  "the-session-token", 0);
    struct awsjson_client *c = NULL;
    cJSON *out = NULL;
    struct bf_err e;

    reset_fake();
    ck_assert_int_eq(awsjson_client_new(env, &svc_generic, "Svc", "1.1", &c,
                                        &e), BF_OK);
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e), BF_OK);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out,
                     "contentType")), "application/x-amz-json-1.1");
    cJSON_Delete(out);
    ck_assert_int_eq(calls_all_ok(), 1);
    awsjson_client_free(c);
    ck_assert_int_eq(awsjson_client_new(env, &svc_generic, "Svc", "2.0", &c,
                                        &e), BF_E_CONFIG);
    awsenv_release(env);
}
END_TEST

START_TEST(throttle_then_success)
{
    struct awsenv *env = default_env();
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;

    reset_fake();
    add_faults("{\"faults\":[{\"op\":\"Poll\",\"times\":2,\"status\":400,"
               "\"body\":{\"__type\":\"ThrottlingException\","
               "\"message\":\"Rate exceeded\"}}]}");
    ck_assert_int_eq(awsjson_call(c, "Poll", "{}", NULL, &out, &e), BF_OK);
    cJSON_Delete(out);
    ck_assert_int_eq(calls_all_ok(), 3);
    ck_assert_int_eq(atomic_load(&slept.n), 2);
    /* Throttling backoff: base 500 ms, so < 500 + 1000. */
    ck_assert_int_lt(atomic_load(&slept.total_ms), 1500);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(server_errors_exhaust_attempts)
{
    struct awsenv *env = default_env();
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;

    reset_fake();
    add_faults("{\"faults\":[{\"times\":5,\"status\":500,"
               "\"body\":{\"__type\":\"InternalFailure\"}}]}");
    bf_err_init(&e);
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e), BF_E_AWS);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(e.aws_code, "InternalFailure");
    ck_assert_int_eq(e.http_status, 500);
    ck_assert_ptr_nonnull(strstr(e.message, "after 3 attempts"));
    ck_assert_int_eq(calls_all_ok(), 3);
    /* max_attempts = 1 turns retries off. */
    reset_fake();
    add_faults("{\"faults\":[{\"times\":5,\"status\":503,\"body\":\"<html>\"}]}");
    ck_assert_int_eq(awsjson_call(c, "Op", "{}",
                                  &(struct awsjson_call_opts){ .max_attempts = 1 },
                                  &out, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "HTTP503");
    ck_assert_int_eq(calls_all_ok(), 1);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(connection_reset)
{
    int n;
    struct awsenv *env = default_env();
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;

    reset_fake();
    add_faults("{\"faults\":[{\"reset\":true}]}");
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e), BF_OK);
    cJSON_Delete(out);
    ck_assert_int_eq(calls_all_ok(), 2);
    reset_fake();
    add_faults("{\"faults\":[{\"reset\":true,\"times\":10}]}");
    bf_err_init(&e);
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e),
                     BF_E_TRANSPORT);
    ck_assert_int_eq(e.http_status, 0);
    ck_assert_int_eq(e.retryable, 1);
    ck_assert_ptr_nonnull(strstr(e.message, "after 3 attempts"));
    /* 3 attempts; curl itself re-sends once when a *reused* connection
     * dies before answering, so the fake may see up to 2 per attempt. */
    n = calls_all_ok();
    ck_assert_int_ge(n, 3);
    ck_assert_int_le(n, 6);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(slow_responses)
{
    struct awsenv *env = default_env();
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;
    struct awsjson_call_opts o = { .timeout_ms = 1500, .max_attempts = 1 };

    reset_fake();
    add_faults("{\"faults\":[{\"delayMs\":400}]}");
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", &o, &out, &e), BF_OK);
    cJSON_Delete(out);
    add_faults("{\"faults\":[{\"delayMs\":3000}]}");
    bf_err_init(&e);
    o.timeout_ms = 500;
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", &o, &out, &e),
                     BF_E_TRANSPORT);
    ck_assert_ptr_nonnull(strstr(e.message, "Op"));
    /* The fake hangs once more; the retry gets through. */
    add_faults("{\"faults\":[{\"hang\":true}]}");
    o.max_attempts = 2;
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", &o, &out, &e), BF_OK);
    cJSON_Delete(out);
    ck_assert_int_eq(calls_all_ok(), 4);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(error_shapes_from_fake)
{
    struct awsenv *env = default_env();
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;

    reset_fake();
    add_faults("{\"faults\":[{\"op\":\"A\",\"status\":400,\"body\":"
               "{\"__type\":\"com.amazon.coral#TaskTimedOut\","
               "\"message\":\"Task Timed Out\"}},"
               "{\"op\":\"B\",\"status\":400,\"body\":{\"Message\":\"m2\"},"
               "\"headers\":{\"x-amzn-RequestId\":\"req-123\","
               "\"x-amzn-ErrorType\":"
               "\"ResourceNotFoundException:http://internal.amazon.com/\"}}]}");
    bf_err_init(&e);
    ck_assert_int_eq(awsjson_call(c, "A", "{\"taskToken\":\"SECRET-TOKEN-42\"}",
                                  NULL, &out, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "TaskTimedOut");
    ck_assert_int_eq(e.http_status, 400);
    ck_assert_int_eq(e.retryable, 0);
    ck_assert_ptr_nonnull(strstr(e.message, "Task Timed Out"));
    ck_assert_ptr_null(strstr(e.message, "SECRET-TOKEN"));
    ck_assert_str_eq(e.endpoint, "generic:A");
    bf_err_init(&e);
    ck_assert_int_eq(awsjson_call(c, "B", "{}", NULL, &out, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "ResourceNotFoundException");
    ck_assert_ptr_nonnull(strstr(e.message, "m2"));
    ck_assert_ptr_nonnull(strstr(e.message, "request id req-123"));
    ck_assert_int_eq(calls_all_ok(), 2);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(retry_budget_exhaustion)
{
    /* 10 tokens = two retries; shared by two clients of one env. */
    struct awsenv *env = make_env("AKIDEXAMPLE",
                                  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                  NULL, 10);
    struct awsjson_client *c1 = make_client(env);
    struct awsjson_client *c2 = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;

    reset_fake();
    add_faults("{\"faults\":[{\"times\":100,\"status\":503,"
               "\"body\":{\"__type\":\"ServiceUnavailable\"}}]}");
    ck_assert_int_eq(awsjson_call(c1, "Op", "{}", NULL, &out, &e), BF_E_AWS);
    ck_assert_int_eq(calls_all_ok(), 3);
    bf_err_init(&e);
    ck_assert_int_eq(awsjson_call(c2, "Op", "{}", NULL, &out, &e), BF_E_AWS);
    ck_assert_ptr_nonnull(strstr(e.message, "retry budget exhausted"));
    ck_assert_str_eq(e.aws_code, "ServiceUnavailable");
    ck_assert_int_eq(calls_all_ok(), 4);
    ck_assert_int_eq(retry_budget_available(awsenv_retry_budget(env)), 0);
    /* Successes refill it, one token each. */
    ck_assert_int_eq(fakesrv_admin(&fake, "DELETE", "faults", NULL, NULL), 200);
    ck_assert_int_eq(awsjson_call(c1, "Op", "{}", NULL, &out, &e), BF_OK);
    cJSON_Delete(out);
    ck_assert_int_eq(retry_budget_available(awsenv_retry_budget(env)), 1);
    awsjson_client_free(c1);
    awsjson_client_free(c2);
    awsenv_release(env);
}
END_TEST

START_TEST(bad_signature)
{
    struct awsenv *env = make_env("AKIDEXAMPLE", "not-the-secret", NULL, 0);
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;
    struct buf b;

    reset_fake();
    bf_err_init(&e);
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e), BF_E_AWS);
    ck_assert_str_eq(e.aws_code, "SignatureDoesNotMatch");
    ck_assert_int_eq(e.http_status, 403);
    ck_assert_ptr_null(strstr(e.message, "not-the-secret"));
    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&fake, "GET", "calls", NULL, &b), 200);
    ck_assert_ptr_nonnull(strstr(b.data, "\"sigv4\":\"bad\""));
    buf_cleanup(&b);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(response_cap)
{
    struct awsenv *env = default_env();
    struct awsjson_client *c = make_client(env);
    cJSON *out = NULL;
    struct bf_err e;
    char big[4096];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    reset_fake();
    add_faults("{\"faults\":[{\"status\":200,\"body\":{\"pad\":\"x\"}}]}");
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e), BF_OK);
    cJSON_Delete(out);
    bf_err_init(&e);
    /* The echo of a 4 KiB input is over a 1 KiB cap: BF_E_LIMIT, no retry. */
    {
        struct buf in;
        buf_init(&in, 0);
        ck_assert_int_eq(buf_printf(&in, "{\"pad\":\"%s\"}", big), BF_OK);
        ck_assert_int_eq(awsjson_call(c, "Op", in.data,
                                      &(struct awsjson_call_opts){
                                          .max_response = 1024 },
                                      &out, &e), BF_E_LIMIT);
        buf_cleanup(&in);
    }
    ck_assert_int_eq(calls_all_ok(), 2);
    awsjson_client_free(c);
    awsenv_release(env);
}
END_TEST

START_TEST(bad_endpoint_at_start)
{
    struct awsenv *env = default_env();
    struct awsjson_client *c = NULL;
    struct bf_err e;

    setenv("AWS_ENDPOINT_URL_GENERIC", "http://10.0.0.1:80", 1);
    bf_err_init(&e);
    ck_assert_int_eq(awsjson_client_new(env, &svc_generic, "X", "1.0", &c, &e),
                     BF_E_CONFIG);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(e.message, "AWS_ENDPOINT_URL_GENERIC"));
    ck_assert_ptr_null(strchr(e.message, '\n'));
    awsenv_release(env);
    setenv("AWS_ENDPOINT_URL_GENERIC", fake.url, 1); /* for CK_FORK=no */
}
END_TEST

struct worker_arg {
    struct awsenv *env;
    int ok;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    struct awsjson_client *c = NULL;
    struct bf_err e;
    int i;

    if (awsjson_client_new(a->env, &svc_generic, "Par", "1.0", &c, &e) != BF_OK)
        return NULL;
    for (i = 0; i < 10; i++) {
        cJSON *out = NULL;
        /* 7 attempts: even one thread taking all 6 throttles gets through. */
        if (awsjson_call(c, "Op", "{\"i\":1}",
                         &(struct awsjson_call_opts){ .max_attempts = 7 },
                         &out, &e) == BF_OK)
            a->ok++;
        cJSON_Delete(out);
    }
    awsjson_client_free(c);
    return NULL;
}

START_TEST(threads_share_env)
{
    struct awsenv *env = default_env();
    struct worker_arg args[4];
    pthread_t t[4];
    int i;

    reset_fake();
    /* A few throttles spread over the threads: budget and keys shared. */
    add_faults("{\"faults\":[{\"times\":6,\"status\":400,\"body\":"
               "{\"__type\":\"ThrottlingException\"}}]}");
    for (i = 0; i < 4; i++) {
        args[i].env = env;
        args[i].ok = 0;
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(args[i].ok, 10);
    }
    ck_assert_int_eq(calls_all_ok(), 46);
    awsenv_release(env);
}
END_TEST

START_TEST(env_needs_region)
{
    struct awsenv *env = NULL;
    struct bf_err e;

    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    bf_err_init(&e);
    ck_assert_int_eq(awsenv_new(NULL, &env, &e), BF_E_CONFIG);
    ck_assert_ptr_null(env);
    ck_assert_ptr_nonnull(strstr(e.message, "no AWS region"));
    ck_assert_int_eq(awsenv_new(&(struct awsenv_options){ .region = "eu-west-1" },
                                &env, &e), BF_OK);
    ck_assert_str_eq(awsenv_region(env), "eu-west-1");
    awsenv_release(env);
    env = NULL;
    ck_assert_int_eq(awsenv_new(&(struct awsenv_options){
                                    .region = "eu-west-1.evil.com" },
                                &env, &e), BF_E_CONFIG);
    ck_assert_ptr_null(env);
    ck_assert_int_eq(awsenv_new(&(struct awsenv_options){ .region = "eu-west-1" },
                                &env, &e), BF_OK);
    ck_assert_int_eq(awsenv_max_attempts(env), 3);
    ck_assert_int_eq(retry_budget_available(awsenv_retry_budget(env)), 500);
    ck_assert_ptr_eq(awsenv_acquire(env), env);
    awsenv_release(env);
    awsenv_release(env);
}
END_TEST

static int64_t slow_clock(void *ctx)
{
    (void)ctx;
    return time_now_ms() - 15 * 60 * 1000; /* 15 minutes behind */
}

START_TEST(clock_skew_corrected)
{
    static const char *const args[] = { "--services", "generic",
                                        "--max-skew-ms", "300000",
                                        "--max-seconds", "60", NULL };
    struct fakesrv strict;
    struct creds cr;
    struct creds_provider *p = NULL;
    struct awsenv *env = NULL;
    struct awsjson_client *c = NULL;
    cJSON *out = NULL;
    struct bf_err e;
    struct buf b;

    ck_assert_int_eq(fakesrv_start(&strict, "tests/support/fake/server.js",
                                   args), 0);
    setenv("AWS_ENDPOINT_URL_GENERIC", strict.url, 1);
    memset(&cr, 0, sizeof(cr));
    strcpy(cr.access_key_id, "AKIDEXAMPLE");
    strcpy(cr.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    p = creds_provider_new_static(&cr);
    ck_assert_int_eq(awsenv_new(&(struct awsenv_options){
                                    .creds = p, .now_ms = slow_clock,
                                    .sleep_ms = record_sleep },
                                &env, &e), BF_OK);
    creds_provider_release(p);
    c = make_client(env);
    /* The first attempt is refused as expired; the Date header of that
     * answer corrects the client's clock and the retry is accepted. */
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e), BF_OK);
    cJSON_Delete(out);
    ck_assert_int_eq(awsjson_call(c, "Op", "{}", NULL, &out, &e), BF_OK);
    cJSON_Delete(out);
    buf_init(&b, 0);
    ck_assert_int_eq(fakesrv_admin(&strict, "GET", "calls", NULL, &b), 200);
    out = cJSON_Parse(b.data);
    ck_assert_int_eq(cJSON_GetArraySize(out), 3);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
        cJSON_GetArrayItem(out, 0), "sigv4")), "bad");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
        cJSON_GetArrayItem(out, 1), "sigv4")), "ok");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
        cJSON_GetArrayItem(out, 2), "sigv4")), "ok");
    cJSON_Delete(out);
    buf_cleanup(&b);
    awsjson_client_free(c);
    awsenv_release(env);
    fakesrv_stop(&strict);
    setenv("AWS_ENDPOINT_URL_GENERIC", fake.url, 1);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("awsjson");
    TCase *unit = tcase_create("parse");
    TCase *tc = tcase_create("fake");

    tcase_add_test(unit, parse_error_shapes);
    tcase_add_test(unit, env_needs_region);
    suite_add_tcase(s, unit);
    tcase_add_unchecked_fixture(tc, start_fake, stop_fake);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, call_ok_signed);
    tcase_add_test(tc, session_token_and_json11);
    tcase_add_test(tc, throttle_then_success);
    tcase_add_test(tc, server_errors_exhaust_attempts);
    tcase_add_test(tc, connection_reset);
    tcase_add_test(tc, slow_responses);
    tcase_add_test(tc, error_shapes_from_fake);
    tcase_add_test(tc, retry_budget_exhaustion);
    tcase_add_test(tc, bad_signature);
    tcase_add_test(tc, response_cap);
    tcase_add_test(tc, bad_endpoint_at_start);
    tcase_add_test(tc, threads_share_env);
    tcase_add_test(tc, clock_skew_corrected);
    suite_add_tcase(s, tc);
    return s;
}
