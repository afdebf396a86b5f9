/* config.h -- every setting of backfill-worker (README "Configuration").
 *
 * Each setting has an environment variable (BACKFILL_*) and a flag; flags
 * win. config_load() reads both into one struct that main() owns and hands
 * down read-only; nothing below main() reads the environment for these.
 */
#ifndef BF_CONFIG_CONFIG_H
#define BF_CONFIG_CONFIG_H

#include <stdio.h>

#include "util/err.h"
#include "util/log.h"

struct bf_config {
    char activity_arn[257];    /* BACKFILL_ACTIVITY_ARN / --activity-arn */
    char worker_name[81];      /* BACKFILL_WORKER_NAME, default hostname:pid */
    int concurrency;           /* BACKFILL_CONCURRENCY, default 4 */
    int drain_seconds;         /* BACKFILL_DRAIN_SECONDS, default 90 */
    char env[32];              /* BACKFILL_ENV, default "dev" */
    char output[1024];         /* BACKFILL_OUTPUT, file://./backfill-data */
    char tenants[1024];        /* BACKFILL_TENANTS, file://./tenants.json */
    char secrets[1024];        /* BACKFILL_SECRETS, file://./secrets.json */
    char ingest[16];           /* BACKFILL_INGEST: builtin | lambda */
    char transform[16];        /* BACKFILL_TRANSFORM: builtin | lambda */
    char transform_invocation[16]; /* RequestResponse | Event */
    char mappings_dir[1024];   /* BACKFILL_MAPPINGS_DIR, "" = embedded */
    char endpoints_file[1024]; /* BACKFILL_ENDPOINTS_FILE: extra endpoints, "" = none */
    double source_rps;         /* BACKFILL_SOURCE_RPS, default 4 */
    enum log_level log_level;  /* BACKFILL_LOG_LEVEL, default info */
    char metrics[16];          /* BACKFILL_METRICS: off | emf */
    char metrics_namespace[128]; /* BACKFILL_METRICS_NAMESPACE, AvesaBackfill */
    char sse_kms_key_id[256];  /* BACKFILL_SSE_KMS_KEY_ID, "" = none */
    char handler[16];          /* BACKFILL_HANDLER: chunk | noop (diagnostic) */
    int noop_sleep_ms;         /* BACKFILL_NOOP_SLEEP_MS: noop handler's work */
    char ca_bundle[1024];      /* BACKFILL_CA_BUNDLE, else AWS_CA_BUNDLE;
                                  "" = the system's CAs */
    int allow_insecure_http;   /* BACKFILL_ALLOW_INSECURE_HTTP: 0 | 1 */
    int gzip_level;            /* BACKFILL_GZIP_LEVEL, 1..12, default 3 */
};

/* Fill defaults. This function can't fail. */
void config_defaults(struct bf_config *cfg);

/* Apply BACKFILL_* environment variables over the current values.
 * BF_E_CONFIG naming the variable for an invalid value. */
enum bf_rc config_from_env(struct bf_config *cfg, struct bf_err *err);

/* What a command line holds besides settings. */
struct config_args {
    const char *input; /* --input FILE|- (borrowed from argv), NULL if absent */
    int help;          /* --help or -h was given */
};

/* The command line after the command: apply "--flag value" and
 * "--flag=value" settings over the current values, in order (the last
 * one wins), and fill `args` (cleared first) with --input and --help/-h.
 * The one parser of `backfill-worker COMMAND [flags]`. BF_E_CONFIG with
 * the message main() prints for an argument that is not a flag, a flag
 * without a value, an unknown flag or an invalid value (naming --flag). */
enum bf_rc config_from_args(struct bf_config *cfg, int argc, char **argv,
                            struct config_args *args, struct bf_err *err);

/* One line per setting: "  --flag  ENV_VAR", for --help. */
void config_usage(FILE *out);

#endif
