/* config.c -- every setting of backfill-worker, from defaults, env and flags.
 *
 * One table (settings[]) names each setting's environment variable, its
 * flag, the field it fills and the rule a value must pass, so env and flags
 * cannot drift apart and a new setting is one row. Most rules are of a few
 * kinds (any string, non-empty, a prefix, a choice, an integer range); the
 * few that are not get their own function. main() applies defaults, then
 * the environment, then the flags (flags win). Nothing below main() reads
 * BACKFILL_* itself.
 */
#include "config/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum bf_rc (*setting_fn)(struct bf_config *cfg, const char *name,
                                 const char *value, struct bf_err *err);

enum setting_kind {
    SET_STR,      /* any string that fits the field */
    SET_NONEMPTY, /* a string that fits, not "" */
    SET_PREFIX,   /* a string starting with one of ok[] */
    SET_CHOICE,   /* exactly one of ok[] */
    SET_INT,      /* an int field, a decimal integer from lo to hi */
    SET_CUSTOM    /* apply() checks and stores */
};

struct setting {
    const char *env;
    const char *flag; /* without the leading "--" */
    enum setting_kind kind;
    size_t off, size; /* the field in struct bf_config (not SET_CUSTOM) */
    long lo, hi;      /* SET_INT */
    const char *ok[4]; /* SET_PREFIX, SET_CHOICE: up to 3, NULL-ended */
    const char *want; /* SET_PREFIX: the message after "NAME: " */
    setting_fn apply; /* SET_CUSTOM */
};

/* The field a row fills: where it is in struct bf_config and its size. */
#define FIELD(f) .off = offsetof(struct bf_config, f), \
                 .size = sizeof(((struct bf_config *)0)->f)

static enum bf_rc copy_str(char *dst, size_t cap, const char *name,
                           const char *value, struct bf_err *err)
{
    if (strlen(value) >= cap)
        return bf_err_set(err, BF_E_CONFIG, "%s: longer than %zu characters",
                          name, cap - 1);
    snprintf(dst, cap, "%s", value);
    return BF_OK;
}

static enum bf_rc parse_int(const char *name, const char *value, long lo,
                            long hi, int *out, struct bf_err *err)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi)
        return bf_err_set(err, BF_E_CONFIG, "%s: want an integer from %ld to %ld, got \"%.40s\"",
                          name, lo, hi, value);
    *out = (int)v;
    return BF_OK;
}

static int one_of(const char *value, const char *const *choices)
{
    for (; *choices != NULL; choices++)
        if (strcmp(value, *choices) == 0)
            return 1;
    return 0;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int any_prefix(const char *value, const char *const *prefixes)
{
    for (; *prefixes != NULL; prefixes++)
        if (has_prefix(value, *prefixes))
            return 1;
    return 0;
}

/* "NAME: want a, b or c": the message lists the choices themselves, so it
 * cannot drift from them. */
static enum bf_rc choice_error(const char *name, const char *const *choices,
                               struct bf_err *err)
{
    char want[128] = "";
    size_t i;

    for (i = 0; choices[i] != NULL; i++) {
        const char *sep = i == 0 ? "" : choices[i + 1] == NULL ? " or " : ", ";
        size_t len = strlen(want);

        snprintf(want + len, sizeof want - len, "%s%s", sep, choices[i]);
    }
    return bf_err_set(err, BF_E_CONFIG, "%s: want %s", name, want);
}

static enum bf_rc set_activity_arn(struct bf_config *cfg, const char *name,
                                   const char *value, struct bf_err *err)
{
    /* Empty is allowed: only the worker command needs one, and it says so. */
    if (value[0] != '\0' && !has_prefix(value, "arn:"))
        return bf_err_set(err, BF_E_CONFIG, "%s: not an ARN (want arn:aws:states:...)", name);
    return copy_str(cfg->activity_arn, sizeof cfg->activity_arn, name, value, err);
}

static enum bf_rc set_env(struct bf_config *cfg, const char *name,
                          const char *value, struct bf_err *err)
{
    size_t i;

    /* It ends up in resource names (TenantServices-{env}). */
    for (i = 0; value[i] != '\0'; i++) {
        char c = value[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok)
            return bf_err_set(err, BF_E_CONFIG, "%s: only letters, digits, - and _", name);
    }
    if (i == 0)
        return bf_err_set(err, BF_E_CONFIG, "%s: must not be empty", name);
    return copy_str(cfg->env, sizeof cfg->env, name, value, err);
}

static enum bf_rc set_rps(struct bf_config *cfg, const char *name,
                          const char *value, struct bf_err *err)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !(v > 0.0) || v > 1000.0)
        return bf_err_set(err, BF_E_CONFIG, "%s: want a number above 0 and at most 1000", name);
    cfg->source_rps = v;
    return BF_OK;
}

static enum bf_rc set_log_level(struct bf_config *cfg, const char *name,
                                const char *value, struct bf_err *err)
{
    if (log_level_parse(value, &cfg->log_level) != 0)
        return bf_err_set(err, BF_E_CONFIG, "%s: want debug, info, warn, error or off", name);
    return BF_OK;
}

/* SET_INT rows: FIELD(f), then lo and hi. */
static const struct setting settings[] = {
    { "BACKFILL_ACTIVITY_ARN", "activity-arn", SET_CUSTOM, .apply = set_activity_arn },
    { "BACKFILL_WORKER_NAME", "worker-name", SET_NONEMPTY, FIELD(worker_name) },
    /* 1000 concurrent pollers per activity is the service's limit. */
    { "BACKFILL_CONCURRENCY", "concurrency", SET_INT, FIELD(concurrency), 1, 1000 },
    { "BACKFILL_DRAIN_SECONDS", "drain-seconds", SET_INT, FIELD(drain_seconds), 0, 86400 },
    { "BACKFILL_ENV", "env", SET_CUSTOM, .apply = set_env },
    { "BACKFILL_OUTPUT", "output", SET_PREFIX, FIELD(output), .ok = { "file://", "s3://" },
      .want = "want file:///dir or s3://bucket/prefix" },
    { "BACKFILL_TENANTS", "tenants", SET_PREFIX, FIELD(tenants),
      .ok = { "file://", "dynamodb://" }, .want = "want file://PATH or dynamodb://TABLE" },
    { "BACKFILL_SECRETS", "secrets", SET_PREFIX, FIELD(secrets),
      .ok = { "file://", "secretsmanager:" }, .want = "want file://PATH or secretsmanager:" },
    { "BACKFILL_INGEST", "ingest", SET_CHOICE, FIELD(ingest), .ok = { "builtin", "lambda" } },
    { "BACKFILL_TRANSFORM", "transform", SET_CHOICE, FIELD(transform),
      .ok = { "builtin", "lambda" } },
    { "BACKFILL_TRANSFORM_INVOCATION", "transform-invocation", SET_CHOICE,
      FIELD(transform_invocation), .ok = { "RequestResponse", "Event" } },
    { "BACKFILL_MAPPINGS_DIR", "mappings-dir", SET_STR, FIELD(mappings_dir) },
    { "BACKFILL_ENDPOINTS_FILE", "endpoints-file", SET_STR, FIELD(endpoints_file) },
    { "BACKFILL_SOURCE_RPS", "source-rps", SET_CUSTOM, .apply = set_rps },
    { "BACKFILL_LOG_LEVEL", "log-level", SET_CUSTOM, .apply = set_log_level },
    { "BACKFILL_METRICS", "metrics", SET_CHOICE, FIELD(metrics), .ok = { "off", "emf" } },
    { "BACKFILL_METRICS_NAMESPACE", "metrics-namespace", SET_NONEMPTY, FIELD(metrics_namespace) },
    { "BACKFILL_SSE_KMS_KEY_ID", "sse-kms-key-id", SET_STR, FIELD(sse_kms_key_id) },
    { "BACKFILL_HANDLER", "handler", SET_CHOICE, FIELD(handler), .ok = { "chunk", "noop" } },
    { "BACKFILL_NOOP_SLEEP_MS", "noop-sleep-ms", SET_INT, FIELD(noop_sleep_ms), 0, 86400000 },
    { "BACKFILL_CA_BUNDLE", "ca-bundle", SET_STR, FIELD(ca_bundle) },
    { "BACKFILL_ALLOW_INSECURE_HTTP", "allow-insecure-http", SET_INT,
      FIELD(allow_insecure_http), 0, 1 },
    /* libdeflate's scale. 3 is the default because it writes fewer bytes
     * than zlib's level 3 at about 1.7x its speed; 1 trades about 8% more
     * bytes for about 1.7x again (tests/bench/README.md, table 2b). */
    { "BACKFILL_GZIP_LEVEL", "gzip-level", SET_INT, FIELD(gzip_level), 1, 12 },
};

/* Check `value` against the rule of setting `s` and store it; `name` is
 * the variable or "--flag" that messages name. */
static enum bf_rc setting_apply(const struct setting *s, struct bf_config *cfg,
                                const char *name, const char *value,
                                struct bf_err *err)
{
    char *field = (char *)cfg + s->off;

    switch (s->kind) {
    case SET_CUSTOM:
        return s->apply(cfg, name, value, err);
    case SET_INT:
        return parse_int(name, value, s->lo, s->hi, (int *)(void *)field, err);
    case SET_NONEMPTY:
        if (value[0] == '\0')
            return bf_err_set(err, BF_E_CONFIG, "%s: must not be empty", name);
        break;
    case SET_PREFIX:
        if (!any_prefix(value, s->ok))
            return bf_err_set(err, BF_E_CONFIG, "%s: %s", name, s->want);
        break;
    case SET_CHOICE:
        if (!one_of(value, s->ok))
            return choice_error(name, s->ok, err);
        break;
    case SET_STR:
        break;
    }
    return copy_str(field, s->size, name, value, err);
}

#define NSETTINGS (sizeof settings / sizeof settings[0])

void config_defaults(struct bf_config *cfg)
{
    char host[64] = "localhost";

    memset(cfg, 0, sizeof *cfg);
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    /* hostname:pid, cut to the service's 80-character workerName limit. */
    snprintf(cfg->worker_name, sizeof cfg->worker_name, "%.60s:%ld", host,
             (long)getpid());
    cfg->concurrency = 4;
    cfg->drain_seconds = 90;
    snprintf(cfg->env, sizeof cfg->env, "dev");
    snprintf(cfg->output, sizeof cfg->output, "file://./backfill-data");
    snprintf(cfg->tenants, sizeof cfg->tenants, "file://./tenants.json");
    snprintf(cfg->secrets, sizeof cfg->secrets, "file://./secrets.json");
    snprintf(cfg->ingest, sizeof cfg->ingest, "builtin");
    snprintf(cfg->transform, sizeof cfg->transform, "builtin");
    snprintf(cfg->transform_invocation, sizeof cfg->transform_invocation,
             "RequestResponse");
    cfg->source_rps = 4.0;
    cfg->gzip_level = 3;
    cfg->log_level = LOG_INFO;
    snprintf(cfg->metrics, sizeof cfg->metrics, "off");
    snprintf(cfg->metrics_namespace, sizeof cfg->metrics_namespace, "AvesaBackfill");
    snprintf(cfg->handler, sizeof cfg->handler, "chunk");
}

enum bf_rc config_from_env(struct bf_config *cfg, struct bf_err *err)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        enum bf_rc rc;

        if (v == NULL)
            continue;
        rc = setting_apply(&settings[i], cfg, settings[i].env, v, err);
        if (rc != BF_OK)
            return rc;
    }
    /* The SDKs' variable when ours is unset or empty, as the AWS CLI
     * would use it. */
    if (cfg->ca_bundle[0] == '\0') {
        const char *v = getenv("AWS_CA_BUNDLE");

        if (v != NULL)
            return copy_str(cfg->ca_bundle, sizeof cfg->ca_bundle, "AWS_CA_BUNDLE",
                            v, err);
    }
    return BF_OK;
}

/* Apply one setting by flag name (without "--"); *known = 0 when `flag`
 * is no setting. */
static enum bf_rc set_flag(struct bf_config *cfg, const char *flag,
                           const char *value, int *known, struct bf_err *err)
{
    size_t i;
    char name[2 + 64]; /* "--" and a flag of config_from_args' flag[] */

    *known = 0;
    for (i = 0; i < NSETTINGS; i++) {
        if (strcmp(flag, settings[i].flag) != 0)
            continue;
        *known = 1;
        snprintf(name, sizeof name, "--%s", flag);
        return setting_apply(&settings[i], cfg, name, value, err);
    }
    return BF_OK;
}

enum bf_rc config_from_args(struct bf_config *cfg, int argc, char **argv,
                            struct config_args *args, struct bf_err *err)
{
    int i;

    memset(args, 0, sizeof *args);
    for (i = 0; i < argc; i++) {
        char flag[64];
        const char *arg = argv[i], *eq = strchr(arg, '='), *value = NULL;
        int known = 0;
        enum bf_rc rc;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            args->help = 1;
            continue;
        }
        if (!has_prefix(arg, "--") || strlen(arg) >= sizeof flag)
            return bf_err_set(err, BF_E_CONFIG, "unexpected argument \"%s\"", arg);
        snprintf(flag, sizeof flag, "%.*s",
                 eq ? (int)(eq - arg - 2) : (int)strlen(arg) - 2, arg + 2);
        if (eq != NULL)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        if (value == NULL)
            return bf_err_set(err, BF_E_CONFIG, "--%s needs a value", flag);
        /* Not a setting: the input of the command that runs. */
        if (strcmp(flag, "input") == 0) {
            args->input = value;
            continue;
        }
        rc = set_flag(cfg, flag, value, &known, err);
        if (rc != BF_OK)
            return rc;
        if (!known)
            return bf_err_set(err, BF_E_CONFIG, "unknown flag --%s (try --help)", flag);
    }
    return BF_OK;
}

void config_usage(FILE *out)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++)
        fprintf(out, "  --%-22s %s\n", settings[i].flag, settings[i].env);
}
