/* test_endpoint.c -- region lookup order and endpoint URL parsing.
 *
 * Pure tests over getenv(): each case sets the variables it needs (Check
 * forks every test, so the environment does not leak between cases).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/endpoint.h"
#include "testsuite.h"

static void clear_env(void)
{
    static const char *const vars[] = {
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL_LAMBDA", "BACKFILL_ALLOW_INSECURE_HTTP", NULL };
    int i;

    for (i = 0; vars[i] != NULL; i++)
        unsetenv(vars[i]);
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-creds", 1);
}

static void one_line(const struct bf_err *e)
{
    ck_assert_ptr_null(strchr(e->message, '\n'));
    ck_assert_int_gt((int)strlen(e->message), 10);
}

START_TEST(region_order)
{
    char r[64];
    struct bf_err e;

    clear_env();
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    ck_assert_int_eq(endpoint_region(r, &e), BF_OK);
    ck_assert_str_eq(r, "eu-west-1");
    setenv("AWS_REGION", "us-west-2", 1);
    ck_assert_int_eq(endpoint_region(r, &e), BF_OK);
    ck_assert_str_eq(r, "us-west-2");
    setenv("AWS_REGION", "", 1); /* empty = unset */
    ck_assert_int_eq(endpoint_region(r, &e), BF_OK);
    ck_assert_str_eq(r, "eu-west-1");
}
END_TEST

START_TEST(region_from_profile)
{
    char path[] = "/tmp/bf-endpoint-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "[default]\nregion = ap-south-1\n"
                       "[profile other]\nregion = ca-central-1\n";
    char r[64];
    struct bf_err e;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    clear_env();
    setenv("AWS_CONFIG_FILE", path, 1);
    ck_assert_int_eq(endpoint_region(r, &e), BF_OK);
    ck_assert_str_eq(r, "ap-south-1");
    setenv("AWS_PROFILE", "other", 1);
    ck_assert_int_eq(endpoint_region(r, &e), BF_OK);
    ck_assert_str_eq(r, "ca-central-1");
    unlink(path);
}
END_TEST

START_TEST(region_missing)
{
    char r[64];
    struct bf_err e;

    clear_env();
    bf_err_init(&e);
    ck_assert_int_eq(endpoint_region(r, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "no AWS region"));
    ck_assert_ptr_nonnull(strstr(e.message, "AWS_REGION"));
    one_line(&e);
}
END_TEST

START_TEST(region_bad)
{
    char r[64];
    struct bf_err e;

    clear_env();
    setenv("AWS_REGION", "us-east-1.evil.com/", 1);
    bf_err_init(&e);
    ck_assert_int_eq(endpoint_region(r, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "AWS_REGION"));
    one_line(&e);
}
END_TEST

START_TEST(default_endpoints)
{
    struct endpoint ep;
    struct bf_err e;

    clear_env();
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_sfn, "us-east-1", 0, &ep, &e),
                     BF_OK);
    ck_assert_str_eq(ep.url, "https://states.us-east-1.amazonaws.com");
    ck_assert_str_eq(ep.host_header, "states.us-east-1.amazonaws.com");
    ck_assert_int_eq(ep.port, 443);
    ck_assert_int_eq(ep.overridden, 0);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_s3, "eu-west-1", 0, &ep, &e),
                     BF_OK);
    ck_assert_str_eq(ep.url, "https://s3.eu-west-1.amazonaws.com");
    ck_assert_int_eq(ep.path_style, 0);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_secretsmanager,
                                      "cn-north-1", 0, &ep, &e), BF_OK);
    ck_assert_str_eq(ep.url, "https://secretsmanager.cn-north-1.amazonaws.com.cn");
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_dynamodb, NULL, 0, &ep, &e),
                     BF_E_CONFIG);
}
END_TEST

START_TEST(override_order)
{
    struct endpoint ep;
    struct bf_err e;

    clear_env();
    setenv("AWS_ENDPOINT_URL", "http://localhost:4566", 1);
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/base/", 1);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_s3, "us-east-1", 0, &ep, &e),
                     BF_OK);
    ck_assert_str_eq(ep.url, "http://127.0.0.1:9000/base");
    ck_assert_str_eq(ep.base_path, "/base");
    ck_assert_str_eq(ep.host_header, "127.0.0.1:9000");
    ck_assert_int_eq(ep.overridden, 1);
    ck_assert_int_eq(ep.path_style, 1);
    ck_assert_int_eq(ep.is_loopback, 1);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_lambda, "us-east-1", 0, &ep,
                                      &e), BF_OK);
    ck_assert_str_eq(ep.url, "http://localhost:4566");
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://[::1]:8443", 1);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_secretsmanager, "x", 0, &ep,
                                      &e), BF_OK);
    ck_assert_str_eq(ep.host, "::1");
    ck_assert_str_eq(ep.host_header, "[::1]:8443");
}
END_TEST

START_TEST(bad_override)
{
    struct endpoint ep;
    struct bf_err e;

    clear_env();
    setenv("AWS_ENDPOINT_URL_SFN", "htp://127.0.0.1:1", 1);
    bf_err_init(&e);
    ck_assert_int_eq(endpoint_resolve(&endpoint_svc_sfn, "us-east-1", 0, &ep, &e),
                     BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "AWS_ENDPOINT_URL_SFN"));
    ck_assert_ptr_nonnull(strstr(e.message, "htp://127.0.0.1:1"));
    one_line(&e);
}
END_TEST

START_TEST(parse_rejects)
{
    static const char *const bad[] = {
        "", "127.0.0.1:80", "http://", "http://:80", "http://h:0",
        "http://h:65536", "http://h:80x", "http://user@127.0.0.1",
        "https://a b.com", "https://host/path?q=1", "https://host#frag",
        "https://host/p#f", "https://[::1", "https://.bad.com",
        "https://bad..com", "ftp://x.com", "https://x.com:", NULL };
    struct endpoint ep;
    struct bf_err e;
    char longv6[400];
    int i;

    clear_env();
    /* An IPv6 literal longer than the host buffer (found by fuzz_endpoint:
     * it used to be copied without a bound). */
    memset(longv6, ':', sizeof(longv6));
    memcpy(longv6, "http://[", 8);
    memcpy(longv6 + sizeof(longv6) - 3, "]/", 3);
    bf_err_init(&e);
    ck_assert_int_eq(endpoint_parse_url(longv6, 0, &ep, &e), BF_E_CONFIG);
    one_line(&e);
    for (i = 0; bad[i] != NULL; i++) {
        bf_err_init(&e);
        ck_assert_msg(endpoint_parse_url(bad[i], 0, &ep, &e) == BF_E_CONFIG,
                      "accepted \"%s\"", bad[i]);
        one_line(&e);
    }
}
END_TEST

START_TEST(plain_http_only_loopback)
{
    struct endpoint ep;
    struct bf_err e;

    clear_env();
    bf_err_init(&e);
    ck_assert_int_eq(endpoint_parse_url("http://s3.example.com", 0, &ep, &e),
                     BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "BACKFILL_ALLOW_INSECURE_HTTP"));
    /* The setting is the caller's (config), never the environment here. */
    setenv("BACKFILL_ALLOW_INSECURE_HTTP", "1", 1);
    ck_assert_int_eq(endpoint_parse_url("http://s3.example.com", 0, &ep, &e),
                     BF_E_CONFIG);
    unsetenv("BACKFILL_ALLOW_INSECURE_HTTP");
    ck_assert_int_eq(endpoint_parse_url("http://127.1.2.3:9", 0, &ep, &e), BF_OK);
    ck_assert_int_eq(endpoint_parse_url("http://LOCALHOST", 0, &ep, &e), BF_OK);
    ck_assert_int_eq(ep.port, 80);
    ck_assert_str_eq(ep.host_header, "LOCALHOST");
    ck_assert_int_eq(endpoint_parse_url("http://127.0.0.1.evil.com", 0, &ep, &e),
                     BF_E_CONFIG);
    ck_assert_int_eq(endpoint_parse_url("http://minio.internal:9000", 1, &ep, &e),
                     BF_OK);
    ck_assert_int_eq(ep.is_loopback, 0);
    ck_assert_int_eq(endpoint_parse_url("https://s3.example.com:443/", 0, &ep, &e),
                     BF_OK);
    ck_assert_str_eq(ep.host_header, "s3.example.com");
    ck_assert_str_eq(ep.url, "https://s3.example.com");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("endpoint");
    TCase *tc = tcase_create("endpoint");

    tcase_add_test(tc, region_order);
    tcase_add_test(tc, region_from_profile);
    tcase_add_test(tc, region_missing);
    tcase_add_test(tc, region_bad);
    tcase_add_test(tc, default_endpoints);
    tcase_add_test(tc, override_order);
    tcase_add_test(tc, bad_override);
    tcase_add_test(tc, parse_rejects);
    tcase_add_test(tc, plain_http_only_loopback);
    suite_add_tcase(s, tc);
    return s;
}
