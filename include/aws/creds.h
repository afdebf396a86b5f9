/* creds.h -- AWS credentials and the provider chain that finds them.
 *
 * As in the AWS SDKs: a provider is a small object behind a two-entry vtable
 * (get, destroy). Each source is one file (creds_env.c, creds_profile.c,
 * creds_webid.c, creds_ecs.c, creds_imds.c, creds_static.c); the chain is
 * itself a provider that asks its members in order; the cache decorator refreshes
 * temporary credentials before they expire without holding up signing.
 * Providers are shared between threads, so they are reference-counted and
 * their get() is thread-safe. Secrets are wiped when freed and never logged.
 *
 * Declined versus fatal (src/README.md, "AWS layer: signing and
 * credentials"): as in the AWS SDKs, a source that is absent is skipped,
 * a source that is present but misconfigured stops the chain, so another
 * source further down never answers in its place.
 */
#ifndef BF_AWS_CREDS_H
#define BF_AWS_CREDS_H

#include <stdint.h>

#include "util/err.h"

struct creds {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096]; /* empty when none */
    int64_t expiration_ms;    /* 0 when they do not expire */
};

/* Wipe a creds struct (OPENSSL_cleanse). NULL-safe. */
void creds_wipe(struct creds *c);

struct creds_provider;

struct creds_provider_vtable {
    /* Fill `out`. BF_E_DECLINED only when this source is simply not set
     * up here (no variables, no files, not on EC2): the one code that
     * lets a chain ask the next source. Anything else stops the chain:
     * BF_E_CONFIG when the source is set up but wrong (half a key pair, a
     * named profile missing or half written, an unreadable token file),
     * naming the variable or file and never a value; BF_E_TRANSPORT,
     * BF_E_HTTP, ... when it is right but could not deliver. */
    enum bf_rc (*get)(struct creds_provider *p, struct creds *out,
                      struct bf_err *err);
    void (*destroy)(struct creds_provider *p);
};

struct creds_provider {
    const struct creds_provider_vtable *vtable;
    const char *name;  /* "environment", "profile", ... for messages */
    void *impl;
    int refcount;      /* atomic */
};

/* Test seams: a clock. NULL members mean the real one. */
struct creds_seams {
    int64_t (*now_ms)(void *ctx);
    void *clock_ctx;
};

/* For constructors: set up the base of a new provider, holding one
 * reference. `name` must be static. This function can't fail. */
void creds_provider_init(struct creds_provider *p,
                         const struct creds_provider_vtable *vtable,
                         const char *name, void *impl);

/* For providers with no state of their own, whose get() reads only the
 * process (environment, files, metadata endpoints): a new bare base, freed
 * by creds_provider_free_stateless, which such a provider names as its
 * vtable's destroy. `name` must be static. NULL when out of memory. */
struct creds_provider *creds_provider_new_stateless(
    const struct creds_provider_vtable *vtable, const char *name);
void creds_provider_free_stateless(struct creds_provider *p);

enum bf_rc creds_provider_get(struct creds_provider *p, struct creds *out,
                              struct bf_err *err);
struct creds_provider *creds_provider_acquire(struct creds_provider *p);
void creds_provider_release(struct creds_provider *p); /* NULL-safe */

/* Constructors; each returns NULL only when out of memory. */
struct creds_provider *creds_provider_new_static(const struct creds *c);
struct creds_provider *creds_provider_new_env(void);
/* Shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials),
 * AWS_CONFIG_FILE (~/.aws/config, "[profile x]"), AWS_PROFILE. */
struct creds_provider *creds_provider_new_profile(const char *profile);
/* AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN: declines when unset, and is a
 * configuration error when set (no STS exchange in this worker). */
struct creds_provider *creds_provider_new_webid(void);
/* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI (+ authorization token
 * or token file). */
struct creds_provider *creds_provider_new_ecs(const struct creds_seams *seams);
/* IMDSv2; AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT. */
struct creds_provider *creds_provider_new_imds(const struct creds_seams *seams);
/* Takes a reference to each member. */
struct creds_provider *creds_provider_new_chain(struct creds_provider **list,
                                                int n);
/* Caches the inner provider's credentials; refreshes `refresh_ms` before
 * expiry (default 5 minutes when 0). Takes a reference to `inner`. */
struct creds_provider *creds_provider_new_cached(struct creds_provider *inner,
                                                 int64_t refresh_ms,
                                                 const struct creds_seams *seams);
/* The `region` of a profile in AWS_CONFIG_FILE (~/.aws/config), for
 * endpoint_region(). BF_E_CONFIG when the file is malformed; BF_OK with
 * out[0] == '\0' when there is no such setting. `profile` NULL = AWS_PROFILE
 * or "default". */
enum bf_rc creds_profile_region(const char *profile, char out[64],
                                struct bf_err *err);

/* The SDK default chain: env, profile, webid, ecs, imds, behind the cache. */
struct creds_provider *creds_provider_new_default(void);

#endif
