/* test_config.c -- defaults, environment, flags (flags win), bad values. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#include "testsuite.h"

static void clear_env(void)
{
    static const char *const vars[] = {
        "BACKFILL_ACTIVITY_ARN", "BACKFILL_WORKER_NAME", "BACKFILL_CONCURRENCY",
        "BACKFILL_DRAIN_SECONDS", "BACKFILL_ENV", "BACKFILL_OUTPUT", "BACKFILL_TENANTS",
        "BACKFILL_SECRETS", "BACKFILL_INGEST", "BACKFILL_TRANSFORM", "BACKFILL_MAPPINGS_DIR",
        "BACKFILL_SOURCE_RPS", "BACKFILL_LOG_LEVEL", "BACKFILL_METRICS",
        "BACKFILL_METRICS_NAMESPACE", "BACKFILL_HANDLER", "BACKFILL_NOOP_SLEEP_MS",
        "BACKFILL_TRANSFORM_INVOCATION", "BACKFILL_SSE_KMS_KEY_ID", "BACKFILL_ENDPOINTS_FILE",
        "BACKFILL_CA_BUNDLE", "AWS_CA_BUNDLE", "BACKFILL_ALLOW_INSECURE_HTTP",
        "BACKFILL_GZIP_LEVEL", NULL,
    };
    int i;

    for (i = 0; vars[i] != NULL; i++)
        unsetenv(vars[i]);
}

START_TEST(defaults_match_design)
{
    struct bf_config c;

    config_defaults(&c);
    ck_assert_int_eq(c.concurrency, 4);
    ck_assert_int_eq(c.drain_seconds, 90);
    ck_assert_str_eq(c.env, "dev");
    ck_assert_str_eq(c.output, "file://./backfill-data");
    ck_assert_str_eq(c.tenants, "file://./tenants.json");
    ck_assert_str_eq(c.secrets, "file://./secrets.json");
    ck_assert_str_eq(c.ingest, "builtin");
    ck_assert_str_eq(c.transform, "builtin");
    ck_assert(c.source_rps == 4.0);
    ck_assert_int_eq(c.log_level, LOG_INFO);
    ck_assert_str_eq(c.metrics, "off");
    ck_assert_str_eq(c.handler, "chunk");
    ck_assert_str_eq(c.activity_arn, "");
    ck_assert_str_eq(c.endpoints_file, "");
    ck_assert_str_eq(c.ca_bundle, "");
    ck_assert_int_eq(c.allow_insecure_http, 0);
    ck_assert_int_eq(c.gzip_level, 3);
    ck_assert(strchr(c.worker_name, ':') != NULL);
    ck_assert(strlen(c.worker_name) <= 80);
}
END_TEST

START_TEST(env_then_flags_win)
{
    struct bf_config c;
    struct config_args a;
    struct bf_err e;
    char *argv[] = { "--concurrency", "8", "--log-level=debug", "--output",
                     "s3://b/p", "--activity-arn", "arn:aws:states:us-east-1:1:activity:y",
                     "--gzip-level", "1" };

    clear_env();
    setenv("BACKFILL_CONCURRENCY", "2", 1);
    setenv("BACKFILL_DRAIN_SECONDS", "5", 1);
    setenv("BACKFILL_ACTIVITY_ARN", "arn:aws:states:us-east-1:1:activity:x", 1);
    setenv("BACKFILL_METRICS", "emf", 1);
    setenv("BACKFILL_TENANTS", "dynamodb://TenantServices-prod", 1);
    setenv("BACKFILL_ENDPOINTS_FILE", "/etc/backfill/extra-endpoints.json", 1);
    setenv("BACKFILL_GZIP_LEVEL", "6", 1);
    config_defaults(&c);
    bf_err_init(&e);
    ck_assert_int_eq(config_from_env(&c, &e), BF_OK);
    ck_assert_int_eq(c.concurrency, 2);
    ck_assert_int_eq(c.drain_seconds, 5);
    ck_assert_str_eq(c.metrics, "emf");
    ck_assert_str_eq(c.tenants, "dynamodb://TenantServices-prod");
    ck_assert_str_eq(c.endpoints_file, "/etc/backfill/extra-endpoints.json");
    ck_assert_int_eq(c.gzip_level, 6);
    ck_assert_int_eq(config_from_args(&c, 9, argv, &a, &e), BF_OK);
    ck_assert_int_eq(c.gzip_level, 1);
    ck_assert_int_eq(c.concurrency, 8);
    ck_assert_int_eq(c.log_level, LOG_DEBUG);
    ck_assert_str_eq(c.output, "s3://b/p");
    ck_assert_str_eq(c.activity_arn, "arn:aws:states:us-east-1:1:activity:y");
    ck_assert_int_eq(c.drain_seconds, 5);
    clear_env();
}
END_TEST

static void expect_env_error(const char *var, const char *value);

/* The transport settings the AWS layer and the ConnectWise source get
 * from here: ours wins over the SDKs' AWS_CA_BUNDLE, which fills in when
 * ours is unset or empty. */
START_TEST(transport_settings)
{
    struct bf_config c;
    struct config_args a;
    struct bf_err e;
    char *argv[] = { "--ca-bundle", "/etc/flag.pem", "--allow-insecure-http", "0" };

    clear_env();
    setenv("AWS_CA_BUNDLE", "/etc/aws.pem", 1);
    config_defaults(&c);
    ck_assert_int_eq(config_from_env(&c, &e), BF_OK);
    ck_assert_str_eq(c.ca_bundle, "/etc/aws.pem");
    setenv("BACKFILL_CA_BUNDLE", "", 1);
    config_defaults(&c);
    ck_assert_int_eq(config_from_env(&c, &e), BF_OK);
    ck_assert_str_eq(c.ca_bundle, "/etc/aws.pem");
    setenv("BACKFILL_CA_BUNDLE", "/etc/ours.pem", 1);
    setenv("BACKFILL_ALLOW_INSECURE_HTTP", "1", 1);
    config_defaults(&c);
    ck_assert_int_eq(config_from_env(&c, &e), BF_OK);
    ck_assert_str_eq(c.ca_bundle, "/etc/ours.pem");
    ck_assert_int_eq(c.allow_insecure_http, 1);
    ck_assert_int_eq(config_from_args(&c, 4, argv, &a, &e), BF_OK);
    ck_assert_str_eq(c.ca_bundle, "/etc/flag.pem");
    ck_assert_int_eq(c.allow_insecure_http, 0);
    clear_env();
    expect_env_error("BACKFILL_ALLOW_INSECURE_HTTP", "yes");
}
END_TEST

static void expect_env_error(const char *var, const char *value)
{
    struct bf_config c;
    struct bf_err e;

    clear_env();
    setenv(var, value, 1);
    config_defaults(&c);
    bf_err_init(&e);
    ck_assert_msg(config_from_env(&c, &e) == BF_E_CONFIG, "%s=%s accepted", var, value);
    ck_assert_msg(strstr(e.message, var) != NULL, "\"%s\" does not name %s", e.message, var);
    clear_env();
}

START_TEST(bad_values_name_the_setting)
{
    struct bf_config c;
    struct config_args a;
    struct bf_err e;
    char *unknown[] = { "--bogus", "1" };
    char *bad[] = { "--concurrency", "0" };
    char *novalue[] = { "--env" };

    expect_env_error("BACKFILL_CONCURRENCY", "four");
    expect_env_error("BACKFILL_CONCURRENCY", "0");
    expect_env_error("BACKFILL_DRAIN_SECONDS", "-1");
    expect_env_error("BACKFILL_OUTPUT", "/tmp/x");
    expect_env_error("BACKFILL_TENANTS", "http://x");
    expect_env_error("BACKFILL_INGEST", "magic");
    expect_env_error("BACKFILL_LOG_LEVEL", "loud");
    expect_env_error("BACKFILL_METRICS", "prometheus");
    expect_env_error("BACKFILL_SOURCE_RPS", "0");
    expect_env_error("BACKFILL_ENV", "a/b");
    expect_env_error("BACKFILL_ACTIVITY_ARN", "my-activity");
    expect_env_error("BACKFILL_WORKER_NAME",
                     "123456789012345678901234567890123456789012345678901234567890123456789012345678901");
    expect_env_error("BACKFILL_HANDLER", "other");
    expect_env_error("BACKFILL_GZIP_LEVEL", "0");
    expect_env_error("BACKFILL_GZIP_LEVEL", "13");
    expect_env_error("BACKFILL_GZIP_LEVEL", "fast");
    config_defaults(&c);
    bf_err_init(&e);
    ck_assert_int_eq(config_from_args(&c, 2, unknown, &a, &e), BF_E_CONFIG);
    ck_assert(strstr(e.message, "--bogus") != NULL);
    ck_assert_int_eq(config_from_args(&c, 2, bad, &a, &e), BF_E_CONFIG);
    ck_assert(strstr(e.message, "--concurrency") != NULL);
    ck_assert_int_eq(config_from_args(&c, 1, novalue, &a, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message, "--env needs a value");
}
END_TEST

/* What main() prints after "backfill-worker COMMAND: " for each kind of
 * bad command line, and the non-setting flags: --input and --help/-h. */
START_TEST(command_line_extras_and_messages)
{
    static const struct {
        int argc;
        const char *argv[3];
        const char *message;
    } bad[] = {
        { 1, { "input.json" }, "unexpected argument \"input.json\"" },
        { 1, { "-x" }, "unexpected argument \"-x\"" },
        { 1, { "--a-flag-name-long-enough-to-fill-all-of-the-sixty-four-bytes-of-a-flag=1" },
          "unexpected argument \"--a-flag-name-long-enough-to-fill-all-of-the-sixty-four-bytes-of-a-flag=1\"" },
        { 1, { "--input" }, "--input needs a value" },
        { 2, { "--bogus=1", "--help" }, "unknown flag --bogus (try --help)" },
        { 1, { "--concurrency=0" }, "--concurrency: want an integer from 1 to 1000, got \"0\"" },
    };
    char *ok[] = { "--input", "task.json", "-h", "--env=prod", "--input=-",
                   "--concurrency", "--help" };
    struct bf_config c;
    struct config_args a;
    struct bf_err e;
    size_t k;

    clear_env();
    config_defaults(&c);
    bf_err_init(&e);
    ck_assert_int_eq(config_from_args(&c, 0, NULL, &a, &e), BF_OK);
    ck_assert_ptr_null(a.input);
    ck_assert_int_eq(a.help, 0);
    /* The last --input wins; a value that looks like a flag is a value. */
    ck_assert_int_eq(config_from_args(&c, 6, ok, &a, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message, "--concurrency needs a value");
    ck_assert_int_eq(config_from_args(&c, 5, ok, &a, &e), BF_OK);
    ck_assert_str_eq(a.input, "-");
    ck_assert_int_eq(a.help, 1);
    ck_assert_str_eq(c.env, "prod");
    ok[5] = "--concurrency";
    ok[6] = "--help";
    ck_assert_int_eq(config_from_args(&c, 7, ok, &a, &e), BF_E_CONFIG);
    ck_assert_msg(strstr(e.message, "--concurrency") != NULL, "%s", e.message);
    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        config_defaults(&c);
        bf_err_init(&e);
        ck_assert_int_eq(config_from_args(&c, bad[k].argc, (char **)bad[k].argv,
                                          &a, &e), BF_E_CONFIG);
        ck_assert_str_eq(e.message, bad[k].message);
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_test(tc, defaults_match_design);
    tcase_add_test(tc, env_then_flags_win);
    tcase_add_test(tc, transport_settings);
    tcase_add_test(tc, bad_values_name_the_setting);
    tcase_add_test(tc, command_line_extras_and_messages);
    suite_add_tcase(s, tc);
    return s;
}
