/* config.c -- every setting of backfill-worker, from defaults, env and flags.
 *
 * One table (settings[]) names each setting's environment variable, its
 * flag and the function that checks and stores a value, so env and flags
 * cannot drift apart. main() applies defaults, then the environment, then
 * the flags (flags win). Nothing below main() reads BACKFILL_* itself.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum bf_rc (*setting_fn)(struct bf_config *cfg, const char *name,
                                 const char *value, struct bf_err *err);

struct setting {
    const char *env;
    const char *flag; /* without the leading "--" */
    setting_fn apply;
};

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

static enum bf_rc set_activity_arn(struct bf_config *cfg, const char *name,
                                   const char *value, struct bf_err *err)
{
    if (value[0] != '\0' && !has_prefix(value, "arn:"))
        return bf_err_set(err, BF_E_CONFIG, "%s: not an ARN (want arn:aws:states:...)", name);
    return copy_str(cfg->activity_arn, sizeof cfg->activity_arn, name, value, err);
}

static enum bf_rc set_worker_name(struct bf_config *cfg, const char *name,
                                  const char *value, struct bf_err *err)
{
    if (value[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "%s: must not be empty", name);
    return copy_str(cfg->worker_name, sizeof cfg->worker_name, name, value, err);
}

static enum bf_rc set_concurrency(struct bf_config *cfg, const char *name,
                                  const char *value, struct bf_err *err)
{
    /* 1000 concurrent pollers per activity is the service's limit. */
    return parse_int(name, value, 1, 1000, &cfg->concurrency, err);
}

static enum bf_rc set_drain(struct bf_config *cfg, const char *name,
                            const char *value, struct bf_err *err)
{
    return parse_int(name, value, 0, 86400, &cfg->drain_seconds, err);
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

static enum bf_rc set_output(struct bf_config *cfg, const char *name,
                             const char *value, struct bf_err *err)
{
    if (!has_prefix(value, "file://") && !has_prefix(value, "s3://"))
        return bf_err_set(err, BF_E_CONFIG, "%s: want file:///dir or s3://bucket/prefix", name);
    return copy_str(cfg->output, sizeof cfg->output, name, value, err);
}

static enum bf_rc set_tenants(struct bf_config *cfg, const char *name,
                              const char *value, struct bf_err *err)
{
    if (!has_prefix(value, "file://") && !has_prefix(value, "dynamodb://"))
        return bf_err_set(err, BF_E_CONFIG, "%s: want file://PATH or dynamodb://TABLE", name);
    return copy_str(cfg->tenants, sizeof cfg->tenants, name, value, err);
}

static enum bf_rc set_secrets(struct bf_config *cfg, const char *name,
                              const char *value, struct bf_err *err)
{
    if (!has_prefix(value, "file://") && !has_prefix(value, "secretsmanager:"))
        return bf_err_set(err, BF_E_CONFIG, "%s: want file://PATH or secretsmanager:", name);
    return copy_str(cfg->secrets, sizeof cfg->secrets, name, value, err);
}

static enum bf_rc set_ingest(struct bf_config *cfg, const char *name,
                             const char *value, struct bf_err *err)
{
    static const char *const ok[] = { "builtin", "lambda", NULL };

    if (!one_of(value, ok))
        return bf_err_set(err, BF_E_CONFIG, "%s: want builtin or lambda", name);
    return copy_str(cfg->ingest, sizeof cfg->ingest, name, value, err);
}

static enum bf_rc set_transform(struct bf_config *cfg, const char *name,
                                const char *value, struct bf_err *err)
{
    static const char *const ok[] = { "builtin", "lambda", NULL };

    if (!one_of(value, ok))
        return bf_err_set(err, BF_E_CONFIG, "%s: want builtin or lambda", name);
    return copy_str(cfg->transform, sizeof cfg->transform, name, value, err);
}

static enum bf_rc set_invocation(struct bf_config *cfg, const char *name,
                                 const char *value, struct bf_err *err)
{
    static const char *const ok[] = { "RequestResponse", "Event", NULL };

    if (!one_of(value, ok))
        return bf_err_set(err, BF_E_CONFIG, "%s: want RequestResponse or Event", name);
    return copy_str(cfg->transform_invocation, sizeof cfg->transform_invocation,
                    name, value, err);
}

static enum bf_rc set_mappings(struct bf_config *cfg, const char *name,
                               const char *value, struct bf_err *err)
{
    return copy_str(cfg->mappings_dir, sizeof cfg->mappings_dir, name, value, err);
}

static enum bf_rc set_endpoints(struct bf_config *cfg, const char *name,
                                const char *value, struct bf_err *err)
{
    return copy_str(cfg->endpoints_file, sizeof cfg->endpoints_file, name, value, err);
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

static enum bf_rc set_metrics(struct bf_config *cfg, const char *name,
                              const char *value, struct bf_err *err)
{
    static const char *const ok[] = { "off", "emf", NULL };

    if (!one_of(value, ok))
        return bf_err_set(err, BF_E_CONFIG, "%s: want off or emf", name);
    return copy_str(cfg->metrics, sizeof cfg->metrics, name, value, err);
}

static enum bf_rc set_namespace(struct bf_config *cfg, const char *name,
                                const char *value, struct bf_err *err)
{
    if (value[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "%s: must not be empty", name);
    return copy_str(cfg->metrics_namespace, sizeof cfg->metrics_namespace,
                    name, value, err);
}

static enum bf_rc set_kms(struct bf_config *cfg, const char *name,
                          const char *value, struct bf_err *err)
{
    return copy_str(cfg->sse_kms_key_id, sizeof cfg->sse_kms_key_id, name, value, err);
}

static enum bf_rc set_handler(struct bf_config *cfg, const char *name,
                              const char *value, struct bf_err *err)
{
    static const char *const ok[] = { "chunk", "noop", NULL };

    if (!one_of(value, ok))
        return bf_err_set(err, BF_E_CONFIG, "%s: want chunk or noop", name);
    return copy_str(cfg->handler, sizeof cfg->handler, name, value, err);
}

static enum bf_rc set_noop_sleep(struct bf_config *cfg, const char *name,
                                 const char *value, struct bf_err *err)
{
    return parse_int(name, value, 0, 86400000, &cfg->noop_sleep_ms, err);
}

static enum bf_rc set_ca_bundle(struct bf_config *cfg, const char *name,
                                const char *value, struct bf_err *err)
{
    return copy_str(cfg->ca_bundle, sizeof cfg->ca_bundle, name, value, err);
}

static enum bf_rc set_insecure(struct bf_config *cfg, const char *name,
                               const char *value, struct bf_err *err)
{
    return parse_int(name, value, 0, 1, &cfg->allow_insecure_http, err);
}

/* libdeflate's scale. 3 is the default because it writes fewer bytes than
 * zlib's level 3 at about 1.7x its speed; 1 trades about 8% more bytes for
 * about 1.7x again (tests/bench/README.md, table 2b). */
static enum bf_rc set_gzip_level(struct bf_config *cfg, const char *name,
                                 const char *value, struct bf_err *err)
{
    return parse_int(name, value, 1, 12, &cfg->gzip_level, err);
}

static const struct setting settings[] = {
    { "BACKFILL_ACTIVITY_ARN", "activity-arn", set_activity_arn },
    { "BACKFILL_WORKER_NAME", "worker-name", set_worker_name },
    { "BACKFILL_CONCURRENCY", "concurrency", set_concurrency },
    { "BACKFILL_DRAIN_SECONDS", "drain-seconds", set_drain },
    { "BACKFILL_ENV", "env", set_env },
    { "BACKFILL_OUTPUT", "output", set_output },
    { "BACKFILL_TENANTS", "tenants", set_tenants },
    { "BACKFILL_SECRETS", "secrets", set_secrets },
    { "BACKFILL_INGEST", "ingest", set_ingest },
    { "BACKFILL_TRANSFORM", "transform", set_transform },
    { "BACKFILL_TRANSFORM_INVOCATION", "transform-invocation", set_invocation },
    { "BACKFILL_MAPPINGS_DIR", "mappings-dir", set_mappings },
    { "BACKFILL_ENDPOINTS_FILE", "endpoints-file", set_endpoints },
    { "BACKFILL_SOURCE_RPS", "source-rps", set_rps },
    { "BACKFILL_LOG_LEVEL", "log-level", set_log_level },
    { "BACKFILL_METRICS", "metrics", set_metrics },
    { "BACKFILL_METRICS_NAMESPACE", "metrics-namespace", set_namespace },
    { "BACKFILL_SSE_KMS_KEY_ID", "sse-kms-key-id", set_kms },
    { "BACKFILL_HANDLER", "handler", set_handler },
    { "BACKFILL_NOOP_SLEEP_MS", "noop-sleep-ms", set_noop_sleep },
    { "BACKFILL_CA_BUNDLE", "ca-bundle", set_ca_bundle },
    { "BACKFILL_ALLOW_INSECURE_HTTP", "allow-insecure-http", set_insecure },
    { "BACKFILL_GZIP_LEVEL", "gzip-level", set_gzip_level },
};

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
        rc = settings[i].apply(cfg, settings[i].env, v, err);
        if (rc != BF_OK)
            return rc;
    }
    /* The SDKs' variable when ours is unset or empty, as the AWS CLI
     * would use it. */
    if (cfg->ca_bundle[0] == '\0') {
        const char *v = getenv("AWS_CA_BUNDLE");

        if (v != NULL)
            return set_ca_bundle(cfg, "AWS_CA_BUNDLE", v, err);
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
        return settings[i].apply(cfg, name, value, err);
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
