/* test_tenant.c -- tenant configuration and source credentials.
 *
 * File stores in a temporary directory; DynamoDB and Secrets Manager
 * against the local fake (tests/support/fake/server.js), which verifies
 * every SigV4 signature and records every call. Covers found / missing /
 * disabled items, both secret forms, each missing field, malformed secrets,
 * the rotated-key refresh and the cache TTLs, and searches logs and error
 * messages for the secret values.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aws/awsenv.h"
#include "aws/creds.h"
#include "config/config.h"
#include "awstest.h"
#include "fakesrv.h"
#include "source/cw.h"
#include "tenant/tenant.h"
#include "testsuite.h"
#include "util/buf.h"
#include "util/log.h"

/* Values that must never show up in a log line or a message. */
#define PUB "PUBKEY-q7Zx3Lm"
#define PRIV "PRIVKEY-S3cr3t-91b2d4x"
#define PRIV2 "PRIVKEY-R0tated-55aa7c"
#define CLIENT "b1c2d3e4-0000-4fff-8aaa-123456789abc"
#define COMPANY "sitetechcorp"
#define URL "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"

static struct fakesrv fake;
static char dir[256];
static char tenants_path[512];
static char secrets_path[512];

static const char *const all_secrets[] = { PUB, PRIV, PRIV2, CLIENT, NULL };

/* ---- fixtures ------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char *creds_json(const char *priv)
{
    static char s[1024];

    snprintf(s, sizeof(s),
             "{\"api_base_url\":\"" URL "\",\"company_id\":\"" COMPANY "\","
             "\"public_key\":\"" PUB "\",\"private_key\":\"%s\","
             "\"client_id\":\"" CLIENT "\"}", priv);
    return s;
}

static void setup_env(void)
{
    const char *const args[] = {
        "--services", "dynamodb,secretsmanager", "--max-seconds", "120", NULL,
    };
    char tmpl[] = "/tmp/bf-tenant-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(dir, sizeof(dir), "%s", tmpl);
    snprintf(tenants_path, sizeof(tenants_path), "%s/tenants.json", dir);
    snprintf(secrets_path, sizeof(secrets_path), "%s/secrets.json", dir);
    ck_assert_int_eq(fakesrv_start(&fake, "tests/support/fake/server.js", args), 0);
    setenv("AWS_ENDPOINT_URL_DYNAMODB", fake.url, 1);
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", fake.url, 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
}

static void teardown_env(void)
{
    char cmd[512];

    fakesrv_stop(&fake);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void reset_fake(void)
{
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "reset", NULL, NULL), 200);
}

/* A clock the tests move by hand. */
static int64_t fake_now;

static int64_t test_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static struct tenant_store *new_store(const char *tenants, const char *secrets)
{
    struct bf_config cfg;
    struct tenant_store_options o;
    struct tenant_store *s = NULL;
    struct awsenv *aws = awstest_env();
    struct bf_err err;

    config_defaults(&cfg);
    snprintf(cfg.env, sizeof(cfg.env), "test");
    snprintf(cfg.tenants, sizeof(cfg.tenants), "%s", tenants);
    snprintf(cfg.secrets, sizeof(cfg.secrets), "%s", secrets);
    memset(&o, 0, sizeof(o));
    o.tenant_ttl_ms = 10000;
    o.secret_ttl_ms = 60000;
    o.now_ms = test_clock;
    fake_now = 1000000;
    bf_err_init(&err);
    ck_assert_msg(tenant_store_new_opts(&cfg, aws, &o, &s, &err) == BF_OK,
                  "%s", err.message);
    awsenv_release(aws);
    return s;
}

static char file_tenants[600];
static char file_secrets[600];

static struct tenant_store *file_store(void)
{
    snprintf(file_tenants, sizeof(file_tenants), "file://%s", tenants_path);
    snprintf(file_secrets, sizeof(file_secrets), "file://%s", secrets_path);
    return new_store(file_tenants, file_secrets);
}

static void no_secret_in(const char *text, const char *where)
{
    size_t i;

    for (i = 0; all_secrets[i] != NULL; i++)
        ck_assert_msg(strstr(text, all_secrets[i]) == NULL,
                      "secret value found in %s: %s", where, text);
}

static void put_ddb_item(const char *tenant, const char *service,
                         const char *extra)
{
    char body[1024];

    snprintf(body, sizeof(body),
             "{\"TableName\":\"TenantServices-test\",\"Item\":{"
             "\"tenant_id\":{\"S\":\"%s\"},\"service\":{\"S\":\"%s\"}%s}}",
             tenant, service, extra);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "svc/dynamodb/items", body, NULL), 200);
}

static void put_sm_secret(const char *name, const char *value_json)
{
    char body[2048];

    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"value\":%s}", name, value_json);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "svc/secretsmanager/secrets",
                                   body, NULL), 200);
}

/* The recorded calls of one service, parsed. */
static cJSON *calls_of(const char *service)
{
    struct buf b;
    char path[64];
    cJSON *j = NULL;

    buf_init(&b, 0);
    snprintf(path, sizeof(path), "calls?service=%s", service);
    ck_assert_int_eq(fakesrv_admin(&fake, "GET", path, NULL, &b), 200);
    j = cJSON_Parse(b.data);
    buf_cleanup(&b);
    ck_assert(cJSON_IsArray(j));
    return j;
}

static int count_calls(const char *service)
{
    cJSON *j = calls_of(service);
    int n = cJSON_GetArraySize(j);

    cJSON_Delete(j);
    return n;
}

static const char *str_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- tenant items: file store ----------------------------------------- */

static const char *TENANTS_JSON =
    "[{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"enabled\":true,"
    "\"secret_name\":\"acme/custom\"},"
    "{\"tenant_id\":\"plain\",\"service\":\"connectwise\",\"enabled\":true},"
    "{\"tenant_id\":\"sleepy\",\"service\":\"connectwise\",\"enabled\":false}]";

START_TEST(file_item_found)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct bf_err err;

    write_file(tenants_path, TENANTS_JSON);
    s = file_store();
    bf_err_init(&err);
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err), BF_OK);
    ck_assert_int_eq(t.enabled, 1);
    ck_assert_str_eq(t.secret_name, "acme/custom");
    ck_assert_int_eq(tenant_lookup(s, "plain", "connectwise", &t, &err), BF_OK);
    ck_assert_str_eq(t.secret_name, "plain/test");
    tenant_store_free(s);
}
END_TEST

START_TEST(file_item_missing_and_disabled)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct bf_err err;

    write_file(tenants_path, TENANTS_JSON);
    s = file_store();
    bf_err_init(&err);
    ck_assert_int_eq(tenant_lookup(s, "nobody", "connectwise", &t, &err),
                     BF_E_TENANT_NOT_CONFIGURED);
    ck_assert_str_eq(bf_rc_error_name(err.rc), "Backfill.TenantNotConfigured");
    ck_assert_int_eq(tenant_lookup(s, "acme", "servicenow", &t, &err),
                     BF_E_TENANT_NOT_CONFIGURED);
    ck_assert_int_eq(tenant_lookup(s, "sleepy", "connectwise", &t, &err),
                     BF_E_TENANT_DISABLED);
    ck_assert_str_eq(bf_rc_error_name(err.rc), "Backfill.TenantDisabled");
    ck_assert_ptr_nonnull(strstr(err.message, "sleepy"));
    tenant_store_free(s);
}
END_TEST

START_TEST(file_tenants_broken)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct bf_err err;

    write_file(tenants_path, "{\"not\": \"an array\"");
    s = file_store();
    bf_err_init(&err);
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err), BF_E_CONFIG);
    unlink(tenants_path);
    fake_now += 20000;
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "tenants.json"));
    tenant_store_free(s);
}
END_TEST

START_TEST(bad_urls_rejected)
{
    struct bf_config cfg;
    struct tenant_store *s = NULL;
    struct bf_err err;

    config_defaults(&cfg);
    snprintf(cfg.tenants, sizeof(cfg.tenants), "mysql://x");
    bf_err_init(&err);
    ck_assert_int_eq(tenant_store_new(&cfg, NULL, &s, &err), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "BACKFILL_TENANTS"));
    config_defaults(&cfg);
    snprintf(cfg.secrets, sizeof(cfg.secrets), "vault:");
    ck_assert_int_eq(tenant_store_new(&cfg, NULL, &s, &err), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "BACKFILL_SECRETS"));
    config_defaults(&cfg);
    snprintf(cfg.tenants, sizeof(cfg.tenants), "dynamodb://TenantServices-{env}");
    ck_assert_int_eq(tenant_store_new(&cfg, NULL, &s, &err), BF_E_CONFIG);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- tenant items: DynamoDB ------------------------------------------- */

START_TEST(ddb_item_found)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct bf_err err;
    cJSON *calls = NULL, *c = NULL, *body = NULL;

    reset_fake();
    put_ddb_item("acme", "connectwise",
                 ",\"enabled\":{\"BOOL\":true},\"secret_name\":{\"S\":\"acme/prod\"}");
    put_ddb_item("plain", "connectwise", ",\"enabled\":{\"BOOL\":true}");
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    bf_err_init(&err);
    ck_assert_msg(tenant_lookup(s, "acme", "connectwise", &t, &err) == BF_OK,
                  "%s", err.message);
    ck_assert_int_eq(t.enabled, 1);
    ck_assert_str_eq(t.secret_name, "acme/prod");
    ck_assert_int_eq(tenant_lookup(s, "plain", "connectwise", &t, &err), BF_OK);
    ck_assert_str_eq(t.secret_name, "plain/test");

    calls = calls_of("dynamodb");
    ck_assert_int_eq(cJSON_GetArraySize(calls), 2);
    c = cJSON_GetArrayItem(calls, 0);
    ck_assert_str_eq(str_at(c, "sigv4"), "ok");
    ck_assert_str_eq(str_at(c, "op"), "GetItem");
    ck_assert_str_eq(str_at(cJSON_GetObjectItem(c, "headers"), "x-amz-target"),
                     "DynamoDB_20120810.GetItem");
    ck_assert_str_eq(str_at(cJSON_GetObjectItem(c, "headers"), "content-type"),
                     "application/x-amz-json-1.0");
    body = cJSON_Parse(str_at(c, "body"));
    ck_assert_str_eq(str_at(body, "TableName"), "TenantServices-test");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(body, "ConsistentRead")));
    ck_assert_str_eq(str_at(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "Key"),
                                                "tenant_id"), "S"), "acme");
    ck_assert_str_eq(str_at(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "Key"),
                                                "service"), "S"), "connectwise");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(body, "Key")), 2);
    cJSON_Delete(body);
    cJSON_Delete(calls);
    tenant_store_free(s);
}
END_TEST

START_TEST(ddb_item_missing_and_disabled)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct bf_err err;

    reset_fake();
    put_ddb_item("sleepy", "connectwise", ",\"enabled\":{\"BOOL\":false}");
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    bf_err_init(&err);
    ck_assert_int_eq(tenant_lookup(s, "nobody", "connectwise", &t, &err),
                     BF_E_TENANT_NOT_CONFIGURED);
    ck_assert_int_eq(tenant_lookup(s, "sleepy", "connectwise", &t, &err),
                     BF_E_TENANT_DISABLED);
    tenant_store_free(s);
    /* A table that does not exist is a deployment fault, not "no item". */
    s = new_store("dynamodb://NoSuchTable", "secretsmanager:");
    ck_assert_int_eq(tenant_lookup(s, "sleepy", "connectwise", &t, &err), BF_E_AWS);
    ck_assert_str_eq(err.aws_code, "ResourceNotFoundException");
    tenant_store_free(s);
}
END_TEST

START_TEST(ddb_cache_ttl)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct bf_err err;

    reset_fake();
    put_ddb_item("acme", "connectwise", ",\"enabled\":{\"BOOL\":true}");
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    bf_err_init(&err);
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err), BF_OK);
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err), BF_OK);
    ck_assert_int_eq(count_calls("dynamodb"), 1);
    /* Disabled in the table: the cache keeps the old answer until the TTL. */
    put_ddb_item("acme", "connectwise", ",\"enabled\":{\"BOOL\":false}");
    fake_now += 9000;
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err), BF_OK);
    ck_assert_int_eq(count_calls("dynamodb"), 1);
    fake_now += 2000;
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err),
                     BF_E_TENANT_DISABLED);
    ck_assert_int_eq(count_calls("dynamodb"), 2);
    tenant_store_free(s);
}
END_TEST

/* ---- secrets ---------------------------------------------------------- */

static void info_for(struct tenant_info *t, const char *secret_name)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->tenant_id, sizeof(t->tenant_id), "acme");
    snprintf(t->service, sizeof(t->service), "connectwise");
    t->enabled = 1;
    snprintf(t->secret_name, sizeof(t->secret_name), "%s", secret_name);
}

/* The store's secret for `t`, checked and parsed as the ConnectWise source
 * does (the store itself hands over an opaque document). */
static enum bf_rc creds_get(struct tenant_store *s, const struct tenant_info *t,
                            int force_refresh, struct cw_creds *c,
                            struct bf_err *err)
{
    struct tenant_secret sec;
    enum bf_rc rc = tenant_secret_get(s, t, force_refresh, cw_secret_check,
                                      &sec, err);

    memset(c, 0, sizeof(*c));
    if (rc == BF_OK)
        rc = cw_creds_parse(sec.text, sec.len, t->secret_name, t->service, c,
                            err);
    tenant_secret_wipe(&sec);
    return rc;
}

static void assert_creds(const struct cw_creds *c, const char *priv)
{
    ck_assert_str_eq(c->api_base_url, URL);
    ck_assert_str_eq(c->company_id, COMPANY);
    ck_assert_str_eq(c->public_key, PUB);
    ck_assert_str_eq(c->private_key, priv);
    ck_assert_str_eq(c->client_id, CLIENT);
}

/* A store file that cannot be read is a configuration error: the code
 * returned and the one in `err` (which the cause's "retryable" is read
 * from) must agree, and the message reads as one line of context. */
START_TEST(unreadable_store_files_are_config_errors)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;

    unlink(tenants_path);
    unlink(secrets_path);
    s = file_store();
    bf_err_init(&err);
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err),
                     BF_E_CONFIG);
    ck_assert_int_eq(err.rc, BF_E_CONFIG);
    ck_assert_msg(strncmp(err.message, "tenants file: ", 14) == 0 &&
                  strstr(err.message, ": :") == NULL, "%s", err.message);
    ck_assert_ptr_nonnull(strstr(err.message, "tenants.json"));
    bf_err_init(&err);
    info_for(&t, "acme/test");
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_E_CONFIG);
    ck_assert_int_eq(err.rc, BF_E_CONFIG);
    ck_assert_msg(strncmp(err.message, "secrets file: ", 14) == 0 &&
                  strstr(err.message, ": :") == NULL, "%s", err.message);
    tenant_store_free(s);
}
END_TEST

START_TEST(file_secret_both_forms)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;
    char text[4096];

    snprintf(text, sizeof(text),
             "{\"acme/test\":{\"connectwise\":%s,\"other\":{}},", creds_json(PRIV));
    snprintf(text + strlen(text), sizeof(text) - strlen(text),
             "\"flat/test\":%s,", creds_json(PRIV));
    /* Stored as Secrets Manager would: SecretString text. */
    snprintf(text + strlen(text), sizeof(text) - strlen(text),
             "\"text/test\":\"{\\\"connectwise\\\":{\\\"api_base_url\\\":\\\"" URL
             "\\\",\\\"company_id\\\":\\\"" COMPANY "\\\",\\\"public_key\\\":\\\""
             PUB "\\\",\\\"private_key\\\":\\\"" PRIV "\\\",\\\"client_id\\\":\\\""
             CLIENT "\\\"}}\"}");
    write_file(secrets_path, text);
    write_file(tenants_path, TENANTS_JSON);
    s = file_store();
    bf_err_init(&err);
    info_for(&t, "acme/test");
    ck_assert_msg(creds_get(s, &t, 0, &c, &err) == BF_OK, "%s", err.message);
    assert_creds(&c, PRIV);
    info_for(&t, "flat/test");
    ck_assert_msg(creds_get(s, &t, 0, &c, &err) == BF_OK, "%s", err.message);
    assert_creds(&c, PRIV);
    info_for(&t, "text/test");
    ck_assert_msg(creds_get(s, &t, 0, &c, &err) == BF_OK, "%s", err.message);
    assert_creds(&c, PRIV);
    cw_creds_wipe(&c);
    ck_assert_str_eq(c.private_key, "");
    info_for(&t, "absent/test");
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "absent/test"));
    tenant_store_free(s);
}
END_TEST

START_TEST(sm_secret_both_forms)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;
    char v[2048];
    cJSON *calls = NULL, *call = NULL, *hdrs = NULL;

    reset_fake();
    snprintf(v, sizeof(v), "{\"connectwise\":%s}", creds_json(PRIV));
    put_sm_secret("acme/test", v);
    put_sm_secret("flat/test", creds_json(PRIV));
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    bf_err_init(&err);
    info_for(&t, "acme/test");
    ck_assert_msg(creds_get(s, &t, 0, &c, &err) == BF_OK, "%s", err.message);
    assert_creds(&c, PRIV);
    info_for(&t, "flat/test");
    ck_assert_msg(creds_get(s, &t, 0, &c, &err) == BF_OK, "%s", err.message);
    assert_creds(&c, PRIV);
    info_for(&t, "missing/test");
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "ResourceNotFoundException"));
    ck_assert_int_eq(err.retryable, 0);

    calls = calls_of("secretsmanager");
    ck_assert_int_eq(cJSON_GetArraySize(calls), 3);
    call = cJSON_GetArrayItem(calls, 0);
    hdrs = cJSON_GetObjectItem(call, "headers");
    ck_assert_str_eq(str_at(call, "sigv4"), "ok");
    ck_assert_str_eq(str_at(hdrs, "x-amz-target"), "secretsmanager.GetSecretValue");
    ck_assert_str_eq(str_at(hdrs, "content-type"), "application/x-amz-json-1.1");
    ck_assert_str_eq(str_at(call, "body"), "{\"SecretId\":\"acme/test\"}");
    cJSON_Delete(calls);
    cw_creds_wipe(&c);
    tenant_store_free(s);
}
END_TEST

/* Each required field, removed in turn, is named in the error; no value
 * is. Checked for both stores. */
static void missing_field_case(struct tenant_store *s, int use_sm, const char *field,
                               size_t idx)
{
    cJSON *o = cJSON_Parse(creds_json(PRIV));
    cJSON *wrap = cJSON_CreateObject();
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;
    char name[64], *text = NULL, *file = NULL;

    cJSON_DeleteItemFromObject(o, field);
    cJSON_AddItemToObject(wrap, "connectwise", o);
    text = cJSON_PrintUnformatted(wrap);
    /* The name must not contain the field, or the check proves nothing. */
    snprintf(name, sizeof(name), "miss-%zu/test", idx);
    if (use_sm) {
        put_sm_secret(name, text);
    } else {
        file = malloc(strlen(text) + 128);
        sprintf(file, "{\"%s\":%s}", name, text);
        write_file(secrets_path, file);
        free(file);
    }
    info_for(&t, name);
    bf_err_init(&err);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    ck_assert_msg(strstr(err.message, field) != NULL, "%s", err.message);
    ck_assert_str_eq(bf_rc_error_name(err.rc), "Backfill.CredentialsInvalid");
    no_secret_in(err.message, "error message");
    ck_assert_str_eq(c.private_key, "");
    cJSON_free(text);
    cJSON_Delete(wrap);
}

START_TEST(missing_fields_named)
{
    static const char *const fields[] = {
        "company_id", "public_key", "private_key", "client_id", "api_base_url",
    };
    struct tenant_store *s = NULL;
    size_t i;

    reset_fake();
    write_file(tenants_path, TENANTS_JSON);
    s = file_store();
    for (i = 0; i < 5; i++)
        missing_field_case(s, 0, fields[i], i);
    tenant_store_free(s);
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    for (i = 0; i < 5; i++)
        missing_field_case(s, 1, fields[i], i);
    tenant_store_free(s);
}
END_TEST

START_TEST(malformed_secrets)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;

    /* A secret whose text is not JSON (it holds the private key). */
    write_file(secrets_path, "{\"acme/test\": \"{\\\"private_key\\\": \\\"" PRIV "\\\", \"}");
    s = file_store();
    info_for(&t, "acme/test");
    bf_err_init(&err);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    no_secret_in(err.message, "error message");
    /* The whole file broken. */
    write_file(secrets_path, "{\"acme/test\": {\"connectwise\": {\"private_key\": \"" PRIV "\"");
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    no_secret_in(err.message, "error message");
    /* A field of the wrong type. */
    write_file(secrets_path, "{\"acme/test\": {\"connectwise\": {\"company_id\": 17}}}");
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "company_id"));
    tenant_store_free(s);

    reset_fake();
    put_sm_secret("acme/test", "\"not json {\\\"private_key\\\": \\\"" PRIV "\"");
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    no_secret_in(err.message, "error message");
    tenant_store_free(s);
}
END_TEST

/* The store does not know what a secret holds: without a check it hands
 * the text over as stored; the check it is given decides whether a fetched
 * secret is usable, and a refused one is neither returned nor cached. */
START_TEST(secret_is_opaque)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct tenant_secret sec;
    struct bf_err err;

    write_file(secrets_path, "{\"acme/test\":\"{\\\"anything\\\":1}\"}");
    s = file_store();
    info_for(&t, "acme/test");
    bf_err_init(&err);
    ck_assert_int_eq(tenant_secret_get(s, &t, 0, cw_secret_check, &sec, &err),
                     BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_null(sec.text);
    ck_assert_ptr_nonnull(strstr(err.message, "missing field company_id"));
    ck_assert_msg(tenant_secret_get(s, &t, 0, NULL, &sec, &err) == BF_OK, "%s",
                  err.message);
    ck_assert_str_eq(sec.text, "{\"anything\":1}");
    ck_assert_int_eq(sec.len, strlen("{\"anything\":1}"));
    tenant_secret_wipe(&sec);
    ck_assert_ptr_null(sec.text);
    /* From the cache now, and still refused by the check. */
    ck_assert_int_eq(tenant_secret_get(s, &t, 0, cw_secret_check, &sec, &err),
                     BF_E_CREDENTIALS_INVALID);
    ck_assert_ptr_null(sec.text);
    tenant_store_free(s);
}
END_TEST

START_TEST(rotated_key_refresh_sm)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;
    char v[2048];

    reset_fake();
    snprintf(v, sizeof(v), "{\"connectwise\":%s}", creds_json(PRIV));
    put_sm_secret("acme/test", v);
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    info_for(&t, "acme/test");
    bf_err_init(&err);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV);
    /* Rotate. Within the TTL the cached key is served without a call. */
    snprintf(v, sizeof(v), "{\"connectwise\":%s}", creds_json(PRIV2));
    put_sm_secret("acme/test", v);
    fake_now += 30000;
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV);
    ck_assert_int_eq(count_calls("secretsmanager"), 1);
    /* After a 401 the pipeline forces a re-read: the new key. */
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV2);
    ck_assert_int_eq(count_calls("secretsmanager"), 2);
    /* And the cache now holds the new key. */
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV2);
    ck_assert_int_eq(count_calls("secretsmanager"), 2);
    /* Past the TTL it is read again. */
    fake_now += 61000;
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_int_eq(count_calls("secretsmanager"), 3);
    cw_creds_wipe(&c);
    tenant_store_free(s);
}
END_TEST

START_TEST(rotated_key_refresh_file)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;
    char text[2048];

    snprintf(text, sizeof(text), "{\"acme/test\":{\"connectwise\":%s}}", creds_json(PRIV));
    write_file(secrets_path, text);
    s = file_store();
    info_for(&t, "acme/test");
    bf_err_init(&err);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    snprintf(text, sizeof(text), "{\"acme/test\":{\"connectwise\":%s}}", creds_json(PRIV2));
    write_file(secrets_path, text);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV);
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV2);
    /* A refresh that finds a broken secret fails and keeps the cache. */
    write_file(secrets_path, "{\"acme/test\":{\"connectwise\":{}}}");
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV2);
    cw_creds_wipe(&c);
    tenant_store_free(s);
}
END_TEST

/* Everything above, at debug level, with the log captured: no line holds a
 * secret value, and neither does any error message. */
START_TEST(secrets_never_logged)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;
    char v[2048], text[2048];
    char *logbuf = NULL;
    size_t loglen = 0;
    int fds[2];
    ssize_t n;

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    log_setup(LOG_DEBUG, "test", fds[1]);
    reset_fake();
    snprintf(v, sizeof(v), "{\"connectwise\":%s}", creds_json(PRIV));
    put_sm_secret("acme/test", v);
    put_ddb_item("acme", "connectwise",
                 ",\"enabled\":{\"BOOL\":true},\"secret_name\":{\"S\":\"acme/test\"}");
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    bf_err_init(&err);
    ck_assert_int_eq(tenant_lookup(s, "acme", "connectwise", &t, &err), BF_OK);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err), BF_OK);
    put_sm_secret("acme/test", "\"{\\\"private_key\\\":\\\"" PRIV "\\\"}\"");
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err),
                     BF_E_CREDENTIALS_INVALID);
    no_secret_in(err.message, "error message");
    tenant_store_free(s);
    snprintf(text, sizeof(text), "{\"acme/test\":{\"connectwise\":%s}}", creds_json(PRIV));
    write_file(secrets_path, text);
    s = file_store();
    ck_assert_int_eq(creds_get(s, &t, 1, &c, &err), BF_OK);
    tenant_store_free(s);
    log_msg(LOG_INFO, "test_end", "done");

    logbuf = malloc(1 << 20);
    while ((n = read(fds[0], logbuf + loglen, (1 << 20) - 1 - loglen)) > 0)
        loglen += (size_t)n;
    logbuf[loglen] = '\0';
    ck_assert_msg(strstr(logbuf, "secret_loaded") != NULL, "no debug lines: %s", logbuf);
    ck_assert_ptr_nonnull(strstr(logbuf, "test_end"));
    no_secret_in(logbuf, "log");
    free(logbuf);
    cw_creds_wipe(&c);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* A 500 from DynamoDB is retried by the JSON client; Secrets Manager
 * throttling that outlasts the retries passes up as a retryable AWS error,
 * not as CredentialsInvalid (a retry of the chunk can still succeed). */
START_TEST(store_transient_errors)
{
    struct tenant_store *s = NULL;
    struct tenant_info t;
    struct cw_creds c;
    struct bf_err err;
    char v[2048];

    reset_fake();
    put_ddb_item("acme", "connectwise", ",\"enabled\":{\"BOOL\":true}");
    snprintf(v, sizeof(v), "{\"connectwise\":%s}", creds_json(PRIV));
    put_sm_secret("acme/test", v);
    ck_assert_int_eq(fakesrv_admin(&fake, "POST", "faults",
        "{\"faults\":[{\"service\":\"dynamodb\",\"op\":\"GetItem\",\"status\":500,"
        "\"body\":{\"__type\":\"InternalServerError\",\"message\":\"boom\"}},"
        "{\"service\":\"secretsmanager\",\"op\":\"GetSecretValue\",\"status\":400,"
        "\"times\":10,\"body\":{\"__type\":\"ThrottlingException\",\"message\":\"slow\"}}]}",
        NULL), 200);
    s = new_store("dynamodb://TenantServices-{env}", "secretsmanager:");
    bf_err_init(&err);
    ck_assert_msg(tenant_lookup(s, "acme", "connectwise", &t, &err) == BF_OK, "%s", err.message);
    ck_assert_int_eq(count_calls("dynamodb"), 2);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_E_AWS);
    ck_assert_str_eq(err.aws_code, "ThrottlingException");
    ck_assert_int_eq(err.retryable, 1);
    ck_assert_int_ge(count_calls("secretsmanager"), 2);
    ck_assert_int_eq(fakesrv_admin(&fake, "DELETE", "faults", NULL, NULL), 200);
    ck_assert_int_eq(creds_get(s, &t, 0, &c, &err), BF_OK);
    ck_assert_str_eq(c.private_key, PRIV);
    cw_creds_wipe(&c);
    tenant_store_free(s);
}
END_TEST

/* Many threads share one store while its entries expire constantly (1 ms
 * TTL, the real clock) and some callers force refreshes: every answer must
 * stay whole and right. Run under SANITIZE=thread to check the locking. */
struct hammer_ctx {
    struct tenant_store *s;
    int failures;
};

static void *hammer(void *ud)
{
    struct hammer_ctx *h = ud;
    struct tenant_info t, other;
    struct cw_creds c;
    struct bf_err err;
    int i;

    bf_err_init(&err);
    for (i = 0; i < 200; i++) {
        if (tenant_lookup(h->s, "acme", "connectwise", &t, &err) != BF_OK ||
            strcmp(t.secret_name, "acme/custom") != 0) {
            h->failures++;
            continue;
        }
        if (tenant_lookup(h->s, "sleepy", "connectwise", &other, &err) !=
            BF_E_TENANT_DISABLED)
            h->failures++;
        if (creds_get(h->s, &t, i % 10 == 0, &c, &err) != BF_OK ||
            strcmp(c.private_key, PRIV) != 0 || strcmp(c.api_base_url, URL) != 0)
            h->failures++;
    }
    cw_creds_wipe(&c);
    return NULL;
}

START_TEST(concurrent_use)
{
    struct bf_config cfg;
    struct tenant_store_options o;
    struct tenant_store *s = NULL;
    struct hammer_ctx ctx[8];
    pthread_t th[8];
    struct bf_err err;
    char text[2048];
    int i;

    write_file(tenants_path, TENANTS_JSON);
    snprintf(text, sizeof(text), "{\"acme/custom\":{\"connectwise\":%s}}",
             creds_json(PRIV));
    write_file(secrets_path, text);
    config_defaults(&cfg);
    snprintf(cfg.env, sizeof(cfg.env), "test");
    snprintf(cfg.tenants, sizeof(cfg.tenants), "file://%s", tenants_path);
    snprintf(cfg.secrets, sizeof(cfg.secrets), "file://%s", secrets_path);
    memset(&o, 0, sizeof(o));
    o.tenant_ttl_ms = 1;
    o.secret_ttl_ms = 1;
    bf_err_init(&err);
    ck_assert_int_eq(tenant_store_new_opts(&cfg, NULL, &o, &s, &err), BF_OK);
    for (i = 0; i < 8; i++) {
        ctx[i].s = s;
        ctx[i].failures = 0;
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &ctx[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(ctx[i].failures, 0);
    }
    tenant_store_free(s);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("tenant");
    TCase *tc = tcase_create("tenant");

    tcase_add_unchecked_fixture(tc, setup_env, teardown_env);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, file_item_found);
    tcase_add_test(tc, file_item_missing_and_disabled);
    tcase_add_test(tc, file_tenants_broken);
    tcase_add_test(tc, unreadable_store_files_are_config_errors);
    tcase_add_test(tc, bad_urls_rejected);
    tcase_add_test(tc, ddb_item_found);
    tcase_add_test(tc, ddb_item_missing_and_disabled);
    tcase_add_test(tc, ddb_cache_ttl);
    tcase_add_test(tc, file_secret_both_forms);
    tcase_add_test(tc, sm_secret_both_forms);
    tcase_add_test(tc, missing_fields_named);
    tcase_add_test(tc, malformed_secrets);
    tcase_add_test(tc, secret_is_opaque);
    tcase_add_test(tc, rotated_key_refresh_sm);
    tcase_add_test(tc, rotated_key_refresh_file);
    tcase_add_test(tc, secrets_never_logged);
    tcase_add_test(tc, store_transient_errors);
    tcase_add_test(tc, concurrent_use);
    suite_add_tcase(s, tc);
    return s;
}
