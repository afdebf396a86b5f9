/* test_creds.c -- the credentials providers, each on its own, then chained.
 *
 * Environment, shared files (including malformed ones), the profile region,
 * the chain's ordering rules, the cache's refresh-before-expiry with a mock
 * clock and with a refresh in flight on another thread, and the container
 * (ECS/EKS) and IMDSv2 providers against tests/support/fake/metadata.js on
 * 127.0.0.1. Every test that could reach a metadata service sets the
 * override variables first: nothing here talks to 169.254.x.x.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "fakesrv.h"
#include "util/buf.h"

#include "testsuite.h"

/* ---- helpers ---- */

static char tmpdir[64];

/* A fresh HOME with no ~/.aws, no credential variables, metadata off:
 * each test then turns on only what it tests. */
static void clean_env(void)
{
    static const char *const vars[] = {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN", NULL
    };
    int i;

    for (i = 0; vars[i] != NULL; i++)
        unsetenv(vars[i]);
    strcpy(tmpdir, "/tmp/bf-creds-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    setenv("HOME", tmpdir, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    FILE *f;

    snprintf(p, 256, "%s/%s", tmpdir, name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static enum bf_rc get_from(struct creds_provider *p, struct creds *c,
                           struct bf_err *e)
{
    bf_err_init(e);
    memset(c, 0, sizeof(*c));
    return creds_provider_get(p, c, e);
}

/* ---- environment ---- */

START_TEST(env_provider)
{
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;

    clean_env();
    p = creds_provider_new_env();
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_DECLINED);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message,
                     "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message,
                     "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    /* An empty variable is an unset one. */
    setenv("AWS_ACCESS_KEY_ID", "", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDENV");
    ck_assert_str_eq(c.secret_access_key, "secretenv");
    ck_assert_str_eq(c.session_token, "");
    ck_assert_int_eq(c.expiration_ms, 0);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.session_token, "tok");
    creds_provider_release(p);
}
END_TEST

/* ---- shared files ---- */

START_TEST(profile_files_and_selection)
{
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;

    clean_env();
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "# comment line\n"
        "; another comment\n"
        "[default]\n"
        "aws_access_key_id = AKIDDEFAULT\n"
        "aws_secret_access_key=secretdefault   # trailing comment\n"
        "\n"
        "[dev]\r\n"
        "  aws_secret_access_key =  secretdev-from-credentials\r\n"
        "aws_session_token = tok/dev+==\r\n"), 1);
    setenv("AWS_CONFIG_FILE", write_file("config",
        "[default]\n"
        "region = us-east-1\n"
        "[profile dev]\n"
        "aws_access_key_id = AKIDDEV\n"
        "aws_secret_access_key = secretdev-from-config\n"
        "region = eu-west-2\n"
        "s3 =\n"
        "  addressing_style = path\n"
        "[dev]\n"
        "aws_access_key_id = NOT-USED: config needs [profile dev]\n"), 1);
    p = creds_provider_new_profile(NULL);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDDEFAULT");
    ck_assert_str_eq(c.secret_access_key, "secretdefault");
    setenv("AWS_PROFILE", "dev", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDDEV");
    /* The credentials file wins over the config file. */
    ck_assert_str_eq(c.secret_access_key, "secretdev-from-credentials");
    ck_assert_str_eq(c.session_token, "tok/dev+==");
    creds_provider_release(p);
    /* An explicit profile beats AWS_PROFILE. */
    p = creds_provider_new_profile("default");
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDDEFAULT");
    creds_provider_release(p);
    p = creds_provider_new_profile("absent");
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "profile absent not found"));
    creds_provider_release(p);
}
END_TEST

START_TEST(profile_home_default_paths)
{
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;
    char dir[128];

    clean_env();
    p = creds_provider_new_profile(NULL);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_DECLINED);
    ck_assert_ptr_nonnull(strstr(e.message, "/.aws/credentials"));
    snprintf(dir, sizeof(dir), "%s/.aws", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    write_file(".aws/credentials", "[default]\naws_access_key_id=AKIDHOME\n"
                                   "aws_secret_access_key=s\n");
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDHOME");
    creds_provider_release(p);
}
END_TEST

static void expect_malformed(const char *text, const char *want)
{
    struct creds_provider *p = creds_provider_new_profile(NULL);
    struct creds c;
    struct bf_err e;
    char full[512];
    const char *path = write_file("bad-credentials", text);

    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    snprintf(full, sizeof(full), "%s:%s", path, want);
    ck_assert_msg(strcmp(e.message, full) == 0, "got '%s', want '%s'",
                  e.message, full);
    ck_assert_ptr_null(strchr(e.message, '\n'));
    ck_assert_str_eq(c.access_key_id, "");
    creds_provider_release(p);
}

START_TEST(profile_malformed_files)
{
    clean_env();
    expect_malformed("[default]\naws_access_key_id = A\nthis line is junk\n",
                     "3: expected 'key = value' or '[section]'");
    expect_malformed("\n\n[default\naws_access_key_id = A\n",
                     "3: section header without ']'");
    expect_malformed("aws_access_key_id = A\n[default]\n",
                     "1: setting before any [section]");
    expect_malformed("[default]\n = value\n", "2: empty key name");
    expect_malformed("[ ]\n", "1: malformed section header");
    expect_malformed("[default] junk\n", "1: malformed section header");
}
END_TEST

START_TEST(profile_unusable_profiles)
{
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;
    char big[70000];
    size_t i;

    clean_env();
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[half]\naws_access_key_id = A\n"
        "[role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = half\n"
        "[empty]\n"), 1);
    setenv("AWS_PROFILE", "half", 1);
    p = creds_provider_new_profile(NULL);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message,
                     "profile half: aws_access_key_id without aws_secret_access_key");
    setenv("AWS_PROFILE", "role", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "uses role_arn"));
    setenv("AWS_PROFILE", "empty", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message, "profile empty has no keys");
    /* A value longer than the field is refused, not cut. */
    memcpy(big, "[empty]\naws_session_token = ", 28);
    for (i = 28; i < sizeof(big) - 2; i++)
        big[i] = 'x';
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials", big), 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, ":2: value of aws_session_token too long"));
    creds_provider_release(p);
}
END_TEST

START_TEST(profile_region)
{
    char region[64];
    struct bf_err e;

    clean_env();
    ck_assert_int_eq(creds_profile_region(NULL, region, &e), BF_OK);
    ck_assert_str_eq(region, "");
    setenv("AWS_CONFIG_FILE", write_file("config",
        "[default]\nregion = us-west-2\n"
        "[profile dev]\nregion=ap-southeast-2 ; comment\n"
        "[profile noregion]\noutput = json\n"), 1);
    ck_assert_int_eq(creds_profile_region(NULL, region, &e), BF_OK);
    ck_assert_str_eq(region, "us-west-2");
    ck_assert_int_eq(creds_profile_region("dev", region, &e), BF_OK);
    ck_assert_str_eq(region, "ap-southeast-2");
    setenv("AWS_PROFILE", "noregion", 1);
    ck_assert_int_eq(creds_profile_region(NULL, region, &e), BF_OK);
    ck_assert_str_eq(region, "");
    setenv("AWS_CONFIG_FILE", write_file("config", "[default\nregion=x\n"), 1);
    bf_err_init(&e);
    ck_assert_int_eq(creds_profile_region(NULL, region, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "config:1: section header without ']'"));
}
END_TEST

/* ---- a scriptable provider for chain and cache tests ---- */

struct mock {
    struct creds_provider base;
    enum bf_rc rc;          /* what get() returns */
    const char *akid;
    int64_t expiration_ms;
    int calls;
    /* Blocking, for the concurrency test. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int block, entered;
    int64_t *clock;         /* for expiring_get */
};

static enum bf_rc mock_get(struct creds_provider *p, struct creds *out,
                           struct bf_err *err)
{
    struct mock *m = p->impl;
    int n;

    pthread_mutex_lock(&m->lock);
    n = ++m->calls;
    m->entered = 1;
    pthread_cond_broadcast(&m->cond);
    while (m->block)
        pthread_cond_wait(&m->cond, &m->lock);
    pthread_mutex_unlock(&m->lock);
    if (m->rc != BF_OK)
        return bf_err_set(err, m->rc, "mock %s says no", p->name);
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s-%d",
             m->akid, n);
    strcpy(out->secret_access_key, "mocksecret");
    out->expiration_ms = m->expiration_ms;
    return BF_OK;
}

static void mock_destroy(struct creds_provider *p)
{
    (void)p; /* lives on the test's stack */
}

static const struct creds_provider_vtable mock_vtable = { mock_get, mock_destroy };

static void mock_init(struct mock *m, const char *name, enum bf_rc rc,
                      const char *akid)
{
    memset(m, 0, sizeof(*m));
    creds_provider_init(&m->base, &mock_vtable, name, m);
    m->rc = rc;
    m->akid = akid;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
}

START_TEST(chain_order_and_rules)
{
    struct mock a, b, c3;
    struct creds_provider *list[3] = { &a.base, &b.base, &c3.base };
    struct creds_provider *chain;
    struct creds c;
    struct bf_err e;

    mock_init(&a, "first", BF_E_DECLINED, "A");
    mock_init(&b, "second", BF_OK, "B");
    mock_init(&c3, "third", BF_OK, "C");
    chain = creds_provider_new_chain(list, 3);
    ck_assert_int_eq(a.base.refcount, 2);
    ck_assert_int_eq(get_from(chain, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "B-1");
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(c3.calls, 0);
    /* A source that has credentials but fails stops the chain. */
    b.rc = BF_E_TRANSPORT;
    ck_assert_int_eq(get_from(chain, &c, &e), BF_E_TRANSPORT);
    ck_assert_str_eq(e.message, "credentials from second: mock second says no");
    ck_assert_int_eq(c3.calls, 0);
    /* So does one that is there but misconfigured: only a decline moves
     * on, though the third would answer. */
    b.rc = BF_E_CONFIG;
    ck_assert_int_eq(get_from(chain, &c, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message, "credentials from second: mock second says no");
    ck_assert_int_eq(c3.calls, 0);
    ck_assert_str_eq(c.access_key_id, "");
    /* Nobody has any: one line naming every place looked. */
    b.rc = BF_E_DECLINED;
    c3.rc = BF_E_DECLINED;
    ck_assert_int_eq(get_from(chain, &c, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message, "no AWS credentials found (first: mock first "
                     "says no; second: mock second says no; third: mock "
                     "third says no)");
    creds_provider_release(chain);
    ck_assert_int_eq(a.base.refcount, 1);
}
END_TEST

/* ---- the real providers in a chain whose last member always answers ---- */

struct stop_case {
    struct mock later;
    struct creds_provider *chain;
};

static void stop_case_init(struct stop_case *t, struct creds_provider *first,
                           struct creds_provider *second)
{
    struct creds_provider *list[3] = { first, second, NULL };

    mock_init(&t->later, "later", BF_OK, "LATER");
    list[2] = &t->later.base;
    t->chain = creds_provider_new_chain(list, 3);
    creds_provider_release(first);
    creds_provider_release(second);
}

/* The chain stops with BF_E_CONFIG and `want` (a prefix or the whole
 * message); the member that would have answered was never asked, and no
 * secret value reaches the message. */
static void expect_stop(struct stop_case *t, const char *want)
{
    struct creds c;
    struct bf_err e;
    int before = t->later.calls;

    ck_assert_int_eq(get_from(t->chain, &c, &e), BF_E_CONFIG);
    ck_assert_msg(strncmp(e.message, want, strlen(want)) == 0,
                  "got '%s', want '%s...'", e.message, want);
    ck_assert_int_eq(t->later.calls, before);
    ck_assert_str_eq(c.access_key_id, "");
    ck_assert_ptr_null(strstr(e.message, "SECRETVALUE"));
}

/* The chain declines down to `later`, which answers. */
static void expect_moves_on(struct stop_case *t)
{
    struct creds c;
    struct bf_err e;
    int before = t->later.calls;

    ck_assert_int_eq(get_from(t->chain, &c, &e), BF_OK);
    ck_assert_int_eq(t->later.calls, before + 1);
    ck_assert_ptr_nonnull(strstr(c.access_key_id, "LATER-"));
}

START_TEST(env_half_pair_stops_chain)
{
    struct stop_case t;

    clean_env();
    /* A good default profile that the chain must not fall back on. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[default]\naws_access_key_id=AKIDPROFILE\n"
        "aws_secret_access_key=SECRETVALUE\n"), 1);
    stop_case_init(&t, creds_provider_new_env(), creds_provider_new_profile(NULL));
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    expect_stop(&t, "credentials from environment: AWS_ACCESS_KEY_ID is set "
                    "but AWS_SECRET_ACCESS_KEY is not");
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "SECRETVALUE", 1);
    expect_stop(&t, "credentials from environment: AWS_SECRET_ACCESS_KEY is "
                    "set but AWS_ACCESS_KEY_ID is not");
    /* Neither set: the environment declines and the profile answers. */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    expect_moves_on(&t);
    creds_provider_release(t.chain);
}
END_TEST

START_TEST(profile_misconfigured_stops_chain)
{
    struct stop_case t;

    clean_env();
    stop_case_init(&t, creds_provider_new_env(), creds_provider_new_profile(NULL));
    /* A profile named by AWS_PROFILE must exist: no files at all... */
    setenv("AWS_PROFILE", "nosuch", 1);
    expect_stop(&t, "credentials from profile: profile nosuch: no file ");
    /* ...or files without it. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[other]\naws_access_key_id=AKIDOTHER\n"
        "aws_secret_access_key=SECRETVALUE\n"), 1);
    expect_stop(&t, "credentials from profile: profile nosuch not found in ");
    /* Named and there, but with no keys. */
    setenv("AWS_CONFIG_FILE", write_file("config",
        "[profile nosuch]\nregion = eu-west-1\n"), 1);
    expect_stop(&t, "credentials from profile: profile nosuch has no keys");
    unsetenv("AWS_CONFIG_FILE");
    /* Nothing named and no default: the profile declines. */
    unsetenv("AWS_PROFILE");
    expect_moves_on(&t);
    /* The default half written stops the chain even unnamed, either half. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[default]\naws_secret_access_key=SECRETVALUE\n"), 1);
    expect_stop(&t, "credentials from profile: profile default: "
                    "aws_secret_access_key without aws_access_key_id");
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[default]\naws_access_key_id=AKIDHALF\n"), 1);
    expect_stop(&t, "credentials from profile: profile default: "
                    "aws_access_key_id without aws_secret_access_key");
    /* A source this worker cannot use is named, not skipped. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[default]\ncredential_process = /bin/false SECRETVALUE\n"), 1);
    expect_stop(&t, "credentials from profile: profile default uses "
                    "credential_process");
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[default]\nrole_arn = arn:aws:iam::1:role/x\n"
        "source_profile = missing\n"), 1);
    expect_stop(&t, "credentials from profile: profile default uses role_arn");
    /* A default holding only a region (common in ~/.aws/config) declines. */
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    setenv("AWS_CONFIG_FILE", write_file("config",
        "[default]\nregion = us-east-1\n"), 1);
    expect_moves_on(&t);
    /* A file that is there but unreadable is named. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", tmpdir, 1); /* a directory */
    expect_stop(&t, "credentials from profile: ");
    creds_provider_release(t.chain);
}
END_TEST

START_TEST(ecs_token_file_unreadable_stops_chain)
{
    struct stop_case t;
    char missing[128];
    struct creds c;
    struct bf_err e;

    clean_env();
    stop_case_init(&t, creds_provider_new_env(), creds_provider_new_ecs(NULL));
    /* Not in a container: declined. */
    expect_moves_on(&t);
    /* The token file is read before any connection, so this port is never
     * dialled. */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds", 1);
    snprintf(missing, sizeof(missing), "%s/no-such-token", tmpdir);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", missing, 1);
    expect_stop(&t, "credentials from container: "
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ");
    ck_assert_int_eq(get_from(t.chain, &c, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, missing));
    creds_provider_release(t.chain);
}
END_TEST

START_TEST(webid_set_stops_chain)
{
    struct stop_case t;
    char missing[128];
    struct creds c;
    struct bf_err e;

    clean_env();
    stop_case_init(&t, creds_provider_new_env(), creds_provider_new_webid());
    /* Not set up for web identity: declined. */
    expect_moves_on(&t);
    /* A role without a token file is half a setup. */
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/x", 1);
    expect_stop(&t, "credentials from web identity: AWS_ROLE_ARN is set but "
                    "AWS_WEB_IDENTITY_TOKEN_FILE is not");
    /* An unreadable token file is named, with the path. */
    snprintf(missing, sizeof(missing), "%s/no-such-token", tmpdir);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", missing, 1);
    expect_stop(&t, "credentials from web identity: "
                    "AWS_WEB_IDENTITY_TOKEN_FILE: cannot read ");
    ck_assert_int_eq(get_from(t.chain, &c, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, missing));
    /* A readable token is never exchanged by this worker, and never
     * quoted in the message. */
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE",
           write_file("token", "SECRETVALUE"), 1);
    expect_stop(&t, "credentials from web identity: "
                    "AWS_WEB_IDENTITY_TOKEN_FILE is set: this worker does "
                    "not exchange");
    unsetenv("AWS_ROLE_ARN");
    expect_stop(&t, "credentials from web identity: "
                    "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN");
    creds_provider_release(t.chain);
}
END_TEST

/* ---- the cache, with a mock clock ---- */

struct clock {
    int64_t now;
};

static int64_t clock_now(void *ctx)
{
    return ((struct clock *)ctx)->now;
}

#define MIN_MS (60 * 1000LL)

START_TEST(cache_refreshes_before_expiry)
{
    struct clock clk = { 1700000000000LL };
    struct creds_seams seams = { clock_now, &clk };
    struct mock m;
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;

    mock_init(&m, "mock", BF_OK, "TEMP");
    m.expiration_ms = clk.now + 60 * MIN_MS;
    p = creds_provider_new_cached(&m.base, 5 * MIN_MS, &seams);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "TEMP-1");
    clk.now += 54 * MIN_MS; /* 6 minutes left: cached */
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "TEMP-1");
    ck_assert_int_eq(m.calls, 1);
    clk.now += 2 * MIN_MS;  /* 4 minutes left: refreshed ahead of expiry */
    m.expiration_ms = clk.now + 60 * MIN_MS;
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "TEMP-2");
    ck_assert_int_eq(c.expiration_ms, m.expiration_ms);
    /* A failed early refresh keeps the still-valid credentials... */
    clk.now += 57 * MIN_MS;
    m.rc = BF_E_TRANSPORT;
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "TEMP-2");
    ck_assert_int_eq(m.calls, 3);
    /* ...and does not ask again on every call. */
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_int_eq(m.calls, 3);
    /* Once they have expired, the error comes through. */
    clk.now += 4 * MIN_MS;
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_TRANSPORT);
    ck_assert_str_eq(c.access_key_id, "");
    m.rc = BF_OK;
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "TEMP-5");
    creds_provider_release(p);
    ck_assert_int_eq(m.base.refcount, 1);
}
END_TEST

START_TEST(cache_keeps_static_creds)
{
    struct clock clk = { 1000 };
    struct creds_seams seams = { clock_now, &clk };
    struct mock m;
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;

    mock_init(&m, "mock", BF_OK, "LONG");
    p = creds_provider_new_cached(&m.base, 0, &seams);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    clk.now += 400LL * 24 * 3600 * 1000;
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_int_eq(m.calls, 1);
    creds_provider_release(p);
}
END_TEST

struct getter {
    struct creds_provider *p;
    struct creds c;
    enum bf_rc rc;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    struct bf_err e;

    g->rc = get_from(g->p, &g->c, &e);
    return NULL;
}

START_TEST(cache_does_not_hold_up_signing)
{
    struct clock clk = { 1700000000000LL };
    struct creds_seams seams = { clock_now, &clk };
    struct mock m;
    struct creds_provider *p;
    struct getter g;
    pthread_t t;
    struct creds c;
    struct bf_err e;
    int i;

    mock_init(&m, "mock", BF_OK, "TEMP");
    m.expiration_ms = clk.now + 10 * MIN_MS;
    p = creds_provider_new_cached(&m.base, 5 * MIN_MS, &seams);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    clk.now += 6 * MIN_MS; /* inside the refresh window, still valid */
    /* Another thread starts the refresh and the inner provider hangs. */
    m.block = 1;
    m.entered = 0;
    g.p = p;
    ck_assert_int_eq(pthread_create(&t, NULL, getter_main, &g), 0);
    pthread_mutex_lock(&m.lock);
    while (!m.entered)
        pthread_cond_wait(&m.cond, &m.lock);
    pthread_mutex_unlock(&m.lock);
    /* Meanwhile this thread signs with the current credentials, at once. */
    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
        ck_assert_str_eq(c.access_key_id, "TEMP-1");
    }
    ck_assert_int_eq(m.calls, 2);
    pthread_mutex_lock(&m.lock);
    m.expiration_ms = clk.now + 60 * MIN_MS;
    m.block = 0;
    pthread_cond_broadcast(&m.cond);
    pthread_mutex_unlock(&m.lock);
    pthread_join(t, NULL);
    ck_assert_int_eq(g.rc, BF_OK);
    ck_assert_str_eq(g.c.access_key_id, "TEMP-2");
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "TEMP-2");
    creds_provider_release(p);
}
END_TEST

/* Many threads, a clock that moves with every call, credentials that keep
 * expiring: every get() succeeds with unexpired credentials and the inner
 * provider is asked about once per lifetime, not once per call. */
struct stress {
    struct creds_provider *p;
    int64_t *clock;
    int failures;
};

static int64_t stress_now(void *ctx)
{
    return __atomic_load_n((int64_t *)ctx, __ATOMIC_RELAXED);
}

static void *stress_main(void *arg)
{
    struct stress *st = arg;
    struct creds c;
    struct bf_err e;
    int i;

    for (i = 0; i < 2000; i++) {
        int64_t now = __atomic_add_fetch(st->clock, 1000, __ATOMIC_RELAXED);

        if (get_from(st->p, &c, &e) != BF_OK ||
            c.expiration_ms <= now)
            st->failures++;
    }
    return NULL;
}

static enum bf_rc expiring_get(struct creds_provider *p, struct creds *out,
                               struct bf_err *err)
{
    struct mock *m = p->impl;
    int64_t now = stress_now(m->clock);

    (void)err;
    __atomic_add_fetch(&m->calls, 1, __ATOMIC_RELAXED);
    strcpy(out->access_key_id, "STRESS");
    strcpy(out->secret_access_key, "s");
    out->expiration_ms = now + 15 * MIN_MS; /* 15 minutes from "now" */
    return BF_OK;
}

static const struct creds_provider_vtable expiring_vtable = {
    expiring_get, mock_destroy
};

START_TEST(cache_under_threads)
{
    int64_t clock_ms = 1700000000000LL;
    struct creds_seams seams = { stress_now, &clock_ms };
    struct stress st[8];
    pthread_t t[8];
    struct mock m;
    struct creds_provider *p;
    int i, failures = 0;

    mock_init(&m, "expiring", BF_OK, "STRESS");
    m.base.vtable = &expiring_vtable;
    m.clock = &clock_ms;
    p = creds_provider_new_cached(&m.base, 5 * MIN_MS, &seams);
    for (i = 0; i < 8; i++) {
        st[i].p = p;
        st[i].clock = &clock_ms;
        st[i].failures = 0;
        ck_assert_int_eq(pthread_create(&t[i], NULL, stress_main, &st[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        failures += st[i].failures;
    }
    ck_assert_int_eq(failures, 0);
    /* 16000 s of mock time, a refresh every ~10 minutes: about 27 calls. */
    ck_assert_int_ge(m.calls, 20);
    ck_assert_int_le(m.calls, 40);
    creds_provider_release(p);
}
END_TEST

/* ---- container and instance metadata against the local fake ---- */

static void start_metadata(struct fakesrv *s)
{
    static const char *const argv[] = { "--max-seconds", "60", NULL };

    ck_assert_int_eq(fakesrv_start(s, "tests/support/fake/metadata.js", argv), 0);
}

START_TEST(ecs_full_uri_with_token)
{
    struct fakesrv s;
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;
    char url[128];
    struct buf resp;

    clean_env();
    start_metadata(&s);
    p = creds_provider_new_ecs(NULL);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_DECLINED);
    ck_assert_int_eq(fakesrv_admin(&s, "POST", "config",
        "{\"authToken\":\"Bearer pod-token\",\"accessKeyId\":\"ASIAECS\","
        "\"expiration\":\"2030-01-02T03:04:05Z\"}", NULL), 200);
    snprintf(url, sizeof(url), "%s/v1/credentials", s.url);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    /* No token: the agent refuses. */
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_HTTP);
    ck_assert_int_eq(e.http_status, 401);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer pod-token", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "ASIAECS");
    ck_assert_str_eq(c.secret_access_key, "metadataSecretKeyExample/+=");
    ck_assert_str_eq(c.session_token, "metadata-session-token//+==");
    ck_assert_int_eq(c.expiration_ms, 1893553445000LL);
    /* The token file wins over the variable (EKS rotates the file). */
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
           write_file("token", "Bearer pod-token\n"), 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    buf_init(&resp, 0);
    ck_assert_int_eq(fakesrv_admin(&s, "GET", "calls", NULL, &resp), 200);
    ck_assert_ptr_nonnull(strstr(resp.data, "\"auth\":\"Bearer pod-token\""));
    buf_cleanup(&resp);
    /* A token file too long for the header is refused, not cut short. */
    {
        static char big[5001];

        memset(big, 'a', sizeof(big) - 1);
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
               write_file("token", big), 1);
        ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
        ck_assert_ptr_nonnull(strstr(e.message,
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
               write_file("token", "Bearer pod-token\n"), 1);
    }
    /* Bad answers are errors, not credentials. */
    ck_assert_int_eq(fakesrv_admin(&s, "POST", "faults",
        "{\"faults\":[{\"path\":\"^/v1\",\"status\":200,\"body\":\"{}\"},"
        "{\"path\":\"^/v1\",\"status\":200,\"body\":\"not json\"},"
        "{\"path\":\"^/v1\",\"status\":500}]}", NULL), 200);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_HTTP);
    ck_assert_str_eq(e.message, "container credentials: answer has no AccessKeyId");
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_HTTP);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_HTTP);
    ck_assert_int_eq(e.http_status, 500);
    creds_provider_release(p);
    fakesrv_stop(&s);
}
END_TEST

START_TEST(ecs_refuses_plain_http_elsewhere)
{
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;

    clean_env();
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds", 1);
    p = creds_provider_new_ecs(NULL);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "use https"));
    /* Checked before any connection is tried. */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1.evil.example/", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.2.evil/", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/", 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    creds_provider_release(p);
}
END_TEST

START_TEST(imds_v2_flow)
{
    struct fakesrv s;
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;
    struct buf resp;
    const char *calls;

    clean_env();
    start_metadata(&s);
    p = creds_provider_new_imds(NULL);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
    /* Disabled wins over everything. */
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_DECLINED);
    ck_assert_str_eq(e.message, "disabled by AWS_EC2_METADATA_DISABLED");
    unsetenv("AWS_EC2_METADATA_DISABLED");
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "ASIAMETADATAEXAMPLE");
    ck_assert_str_eq(c.session_token, "metadata-session-token//+==");
    ck_assert_int_gt(c.expiration_ms, 0);
    buf_init(&resp, 0);
    ck_assert_int_eq(fakesrv_admin(&s, "GET", "calls", NULL, &resp), 200);
    calls = resp.data;
    /* Token first, then role and credentials, both with the token. */
    ck_assert_ptr_nonnull(strstr(calls,
        "{\"method\":\"PUT\",\"path\":\"/latest/api/token\",\"auth\":null,\"imdsToken\":false},"
        "{\"method\":\"GET\",\"path\":\"/latest/meta-data/iam/security-credentials/\",\"auth\":null,\"imdsToken\":true},"
        "{\"method\":\"GET\",\"path\":\"/latest/meta-data/iam/security-credentials/backfill-role\",\"auth\":null,\"imdsToken\":true}"));
    buf_cleanup(&resp);
    /* Failures along the way. */
    ck_assert_int_eq(fakesrv_admin(&s, "POST", "faults",
        "{\"faults\":[{\"path\":\"backfill-role$\",\"status\":500},"
        "{\"path\":\"token$\",\"status\":403}]}", NULL), 200);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_HTTP);
    ck_assert_str_eq(e.message, "instance metadata token: HTTP 403");
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_HTTP);
    ck_assert_str_eq(e.message, "instance metadata credentials: HTTP 500");
    ck_assert_int_eq(fakesrv_admin(&s, "POST", "config",
                                   "{\"role\":\"\"}", NULL), 200);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_HTTP);
    /* No IAM role attached (404 on the role list): nothing here, declined. */
    ck_assert_int_eq(fakesrv_admin(&s, "POST", "faults",
        "{\"faults\":[{\"path\":\"security-credentials/$\",\"status\":404}]}",
        NULL), 200);
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_DECLINED);
    ck_assert_str_eq(e.message, "instance metadata: no IAM role attached");
    fakesrv_stop(&s);
    /* Nobody listening: "not on EC2", so a chain moves on. */
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_DECLINED);
    ck_assert_ptr_nonnull(strstr(e.message, "no instance metadata at"));
    creds_provider_release(p);
}
END_TEST

START_TEST(cached_imds_refreshes_from_server)
{
    struct clock clk;
    struct creds_seams seams = { clock_now, &clk };
    struct fakesrv s;
    struct creds_provider *imds, *p;
    struct creds c;
    struct bf_err e;

    clean_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    start_metadata(&s);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
    ck_assert_int_eq(fakesrv_admin(&s, "POST", "config",
        "{\"rotate\":true,\"expiration\":\"2030-01-01T01:00:00Z\"}", NULL), 200);
    clk.now = 1893456000000LL; /* 2030-01-01T00:00:00Z */
    imds = creds_provider_new_imds(&seams);
    p = creds_provider_new_cached(imds, 5 * MIN_MS, &seams);
    creds_provider_release(imds);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "ASIAMETADATAEXAMPLE-1");
    clk.now += 50 * MIN_MS;
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "ASIAMETADATAEXAMPLE-1");
    clk.now += 6 * MIN_MS;
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "ASIAMETADATAEXAMPLE-2");
    creds_provider_release(p);
    fakesrv_stop(&s);
}
END_TEST

/* ---- the default chain ---- */

START_TEST(default_chain_order)
{
    struct creds_provider *p;
    struct creds c;
    struct bf_err e;

    clean_env();
    p = creds_provider_new_default();
    ck_assert_int_eq(get_from(p, &c, &e), BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "environment: "));
    ck_assert_ptr_nonnull(strstr(e.message, "; profile: "));
    ck_assert_ptr_nonnull(strstr(e.message,
        "; web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set; container: "));
    ck_assert_ptr_nonnull(strstr(e.message,
        "; instance-metadata: disabled by AWS_EC2_METADATA_DISABLED"));
    /* The profile answers when the environment has nothing... */
    setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials",
        "[default]\naws_access_key_id=AKIDPROFILE\naws_secret_access_key=s\n"), 1);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDPROFILE");
    creds_provider_release(p);
    /* ...and the environment comes first. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
    p = creds_provider_new_default();
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDENV");
    creds_provider_release(p);
}
END_TEST

START_TEST(static_and_refcount)
{
    struct creds in, c;
    struct creds_provider *p;
    struct bf_err e;

    memset(&in, 0, sizeof(in));
    strcpy(in.access_key_id, "AKIDSTATIC");
    strcpy(in.secret_access_key, "s");
    p = creds_provider_new_static(&in);
    ck_assert_ptr_eq(creds_provider_acquire(p), p);
    ck_assert_int_eq(p->refcount, 2);
    creds_provider_release(p);
    ck_assert_int_eq(get_from(p, &c, &e), BF_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDSTATIC");
    creds_provider_release(p);
    creds_provider_release(NULL);
    creds_wipe(&c);
    ck_assert_str_eq(c.secret_access_key, "");
    ck_assert_int_eq(creds_provider_get(NULL, &c, &e), BF_E_CONFIG);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("creds");
    TCase *tc = tcase_create("providers");
    TCase *net = tcase_create("metadata");

    tcase_add_test(tc, env_provider);
    tcase_add_test(tc, profile_files_and_selection);
    tcase_add_test(tc, profile_home_default_paths);
    tcase_add_test(tc, profile_malformed_files);
    tcase_add_test(tc, profile_unusable_profiles);
    tcase_add_test(tc, profile_region);
    tcase_add_test(tc, chain_order_and_rules);
    tcase_add_test(tc, env_half_pair_stops_chain);
    tcase_add_test(tc, profile_misconfigured_stops_chain);
    tcase_add_test(tc, ecs_token_file_unreadable_stops_chain);
    tcase_add_test(tc, webid_set_stops_chain);
    tcase_add_test(tc, cache_refreshes_before_expiry);
    tcase_add_test(tc, cache_keeps_static_creds);
    tcase_add_test(tc, cache_does_not_hold_up_signing);
    tcase_add_test(tc, cache_under_threads);
    tcase_add_test(tc, default_chain_order);
    tcase_add_test(tc, static_and_refcount);
    tcase_add_test(tc, ecs_refuses_plain_http_elsewhere);
    tcase_set_timeout(net, 30);
    tcase_add_test(net, ecs_full_uri_with_token);
    tcase_add_test(net, imds_v2_flow);
    tcase_add_test(net, cached_imds_refreshes_from_server);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, net);
    return s;
}
