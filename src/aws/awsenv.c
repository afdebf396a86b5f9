/* awsenv.c -- what every AWS call shares: region, credentials, retry budget.
 *
 * One reference-counted object made in main() and shared by all threads.
 * Owns the credentials provider reference, the signing-key cache and the
 * retry budget (each thread-safe on its own), and the clock and sleep
 * seams the tests use. Everything else here is read-only after awsenv_new.
 */
#include "aws/awsenv.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/endpoint.h"
#include "util/timeutil.h"

struct awsenv {
    atomic_int refcount;
    char region[64];
    struct creds_provider *creds;
    struct sigv4_key_cache keys;
    struct retry_budget budget;
    int max_attempts;
    int64_t (*now_ms)(void *ctx);
    void *clock_ctx;
    void (*sleep_ms)(void *ctx, long ms);
    void *sleep_ctx;
    char ca_bundle[1024];     /* "" for the system's CAs */
    int allow_insecure_http;
};

static enum bf_rc pick_region(const struct awsenv_options *opts,
                              char out[64], struct bf_err *err)
{
    if (opts != NULL && opts->region != NULL && opts->region[0] != '\0') {
        if (!endpoint_region_valid(opts->region))
            return bf_err_set(err, BF_E_CONFIG, "bad AWS region \"%.64s\"",
                              opts->region);
        snprintf(out, 64, "%s", opts->region);
        return BF_OK;
    }
    return endpoint_region(out, err);
}

enum bf_rc awsenv_new(const struct awsenv_options *opts, struct awsenv **out,
                      struct bf_err *err)
{
    struct awsenv *env = NULL;
    enum bf_rc rc;

    *out = NULL;
    env = calloc(1, sizeof(*env));
    if (env == NULL)
        return bf_err_set(err, BF_E_NOMEM, "awsenv: out of memory");
    rc = pick_region(opts, env->region, err);
    if (rc != BF_OK) {
        free(env);
        return rc;
    }
    if (opts != NULL && opts->creds != NULL)
        env->creds = creds_provider_acquire(opts->creds);
    else
        env->creds = creds_provider_new_default();
    if (env->creds == NULL) {
        free(env);
        return bf_err_set(err, BF_E_NOMEM, "awsenv: out of memory");
    }
    atomic_init(&env->refcount, 1);
    sigv4_key_cache_init(&env->keys);
    retry_budget_init(&env->budget, opts != NULL ? opts->retry_capacity : 0);
    env->max_attempts = (opts != NULL && opts->max_attempts > 0)
                            ? opts->max_attempts : RETRY_DEFAULT_ATTEMPTS;
    if (opts != NULL && opts->ca_bundle != NULL &&
        strlen(opts->ca_bundle) >= sizeof(env->ca_bundle)) {
        creds_provider_release(env->creds);
        free(env);
        return bf_err_set(err, BF_E_CONFIG, "CA bundle path too long");
    }
    if (opts != NULL) {
        if (opts->ca_bundle != NULL)
            snprintf(env->ca_bundle, sizeof(env->ca_bundle), "%s",
                     opts->ca_bundle);
        env->allow_insecure_http = opts->allow_insecure_http != 0;
        env->now_ms = opts->now_ms;
        env->clock_ctx = opts->clock_ctx;
        env->sleep_ms = opts->sleep_ms;
        env->sleep_ctx = opts->sleep_ctx;
    }
    *out = env;
    return BF_OK;
}

struct awsenv *awsenv_acquire(struct awsenv *env)
{
    if (env != NULL)
        atomic_fetch_add(&env->refcount, 1);
    return env;
}

void awsenv_release(struct awsenv *env)
{
    if (env == NULL || atomic_fetch_sub(&env->refcount, 1) != 1)
        return;
    creds_provider_release(env->creds);
    sigv4_key_cache_cleanup(&env->keys);
    retry_budget_cleanup(&env->budget);
    free(env);
}

const char *awsenv_region(const struct awsenv *env)
{
    return env->region;
}

struct creds_provider *awsenv_creds(struct awsenv *env)
{
    return env->creds;
}

struct sigv4_key_cache *awsenv_key_cache(struct awsenv *env)
{
    return &env->keys;
}

struct retry_budget *awsenv_retry_budget(struct awsenv *env)
{
    return &env->budget;
}

int awsenv_max_attempts(const struct awsenv *env)
{
    return env->max_attempts;
}

int64_t awsenv_now_ms(const struct awsenv *env)
{
    if (env->now_ms != NULL)
        return env->now_ms(env->clock_ctx);
    return time_now_ms();
}

void awsenv_sleep_ms(void *ctx, long ms)
{
    struct awsenv *env = ctx;

    if (env != NULL && env->sleep_ms != NULL)
        env->sleep_ms(env->sleep_ctx, ms);
    else
        time_sleep_ms(ms);
}

const char *awsenv_ca_bundle(const struct awsenv *env)
{
    return env->ca_bundle[0] != '\0' ? env->ca_bundle : NULL;
}

int awsenv_allow_insecure_http(const struct awsenv *env)
{
    return env->allow_insecure_http;
}
