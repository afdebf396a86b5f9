/* awsenv.h -- what every AWS call shares: region, credentials, retry budget.
 *
 * One `struct awsenv` is made in main() and shared by all threads
 * (reference-counted). It owns the credentials provider (the default chain
 * unless a test passes its own), the region, the signing-key cache and the
 * retry budget that keeps a dead endpoint from causing a retry storm.
 * Service clients (awsjson, awsrest) are per thread and borrow it.
 */
#ifndef BF_AWS_AWSENV_H
#define BF_AWS_AWSENV_H

#include <stdint.h>

#include "aws/creds.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "util/err.h"

struct awsenv_options {
    const char *region;               /* NULL: endpoint_region() */
    struct creds_provider *creds;     /* NULL: the default chain (takes a ref) */
    int max_attempts;                 /* 0: 3, as the SDKs' standard mode */
    int64_t (*now_ms)(void *ctx);     /* clock seam for signing; NULL = real */
    void *clock_ctx;
    /* Zero is the default for each of these, so designated initialisers
     * name only what they change: */
    int retry_capacity;               /* 0: 500 tokens, as the SDKs */
    void (*sleep_ms)(void *ctx, long ms); /* backoff seam; NULL = real */
    void *sleep_ctx;
    /* Transport settings, from config (BACKFILL_CA_BUNDLE or
     * AWS_CA_BUNDLE; BACKFILL_ALLOW_INSECURE_HTTP): the AWS layer never
     * reads them from the environment itself. */
    const char *ca_bundle;            /* NULL or "": the system's CAs */
    int allow_insecure_http;          /* 1: plain http to any override host */
};

struct awsenv;

/* Build the shared environment. BF_E_CONFIG with a one-line reason when the
 * region is missing or the configuration is malformed. */
enum bf_rc awsenv_new(const struct awsenv_options *opts, struct awsenv **out,
                      struct bf_err *err);
struct awsenv *awsenv_acquire(struct awsenv *env);
void awsenv_release(struct awsenv *env); /* NULL-safe */

const char *awsenv_region(const struct awsenv *env);

/* For the protocol clients (awsjson.c, awsrest.c); all borrowed, valid
 * while the caller holds a reference to `env`. */
struct creds_provider *awsenv_creds(struct awsenv *env);
struct sigv4_key_cache *awsenv_key_cache(struct awsenv *env);
struct retry_budget *awsenv_retry_budget(struct awsenv *env);
int awsenv_max_attempts(const struct awsenv *env);
const char *awsenv_ca_bundle(const struct awsenv *env); /* NULL: system's */
int awsenv_allow_insecure_http(const struct awsenv *env);
int64_t awsenv_now_ms(const struct awsenv *env);
/* Sleep `ms` through the seam (the backoff between attempts). */
void awsenv_sleep_ms(void *env, long ms);

#endif
