/* tenant.h -- tenant configuration and source credentials.
 *
 * Which tenants have which service enabled (file://tenants.json or
 * dynamodb://TenantServices-{env}), and the credentials to call the source
 * (file://secrets.json or secretsmanager:). Both are cached with a short
 * TTL; after a 401 the pipeline asks again with force_refresh to pick up a
 * rotated secret. Thread-safe: one store serves every worker slot.
 * A secret is handed over as an opaque document (`struct tenant_secret`):
 * the source that uses it parses it (source/cw.h), so the store knows no
 * service's credential shape. Callers wipe their copy with
 * tenant_secret_wipe(); secret text never reaches logs or errors.
 */
#ifndef BF_TENANT_TENANT_H
#define BF_TENANT_TENANT_H

#include <stddef.h>
#include <stdint.h>

#include "aws/awsenv.h"
#include "config/config.h"
#include "util/err.h"

struct tenant_info {
    char tenant_id[65];
    char service[32];
    int enabled;
    char secret_name[256]; /* from the item, else "{tenant_id}/{env}" */
};

/* A copy of one secret's text (NUL-terminated, `len` bytes), the caller's
 * to wipe and free with tenant_secret_wipe(). */
struct tenant_secret {
    char *text;
    size_t len;
};

void tenant_secret_wipe(struct tenant_secret *sec); /* NULL-safe */

/* Whether a secret's text is usable by the service that reads it
 * (source.h: source_secret_check_fn has the same shape). Run on every
 * secret handed out, and on a fetched one before it is cached, so a broken
 * secret never replaces a good one: BF_E_CREDENTIALS_INVALID naming the
 * secret and the field, never a value. */
typedef enum bf_rc (*tenant_secret_check_fn)(const char *text, size_t len,
                                             const char *secret_name,
                                             const char *service,
                                             struct bf_err *err);

struct tenant_store;

/* `aws` may be NULL when neither store is an AWS service. Takes a reference
 * to `aws` when it uses it. */
enum bf_rc tenant_store_new(const struct bf_config *cfg, struct awsenv *aws,
                            struct tenant_store **out, struct bf_err *err);
void tenant_store_free(struct tenant_store *s); /* NULL-safe */

/* Cache lifetimes and a clock seam (tests). Zero members mean the defaults:
 * tenant items 60 s, secrets 300 s, the monotonic clock. */
struct tenant_store_options {
    long tenant_ttl_ms;
    long secret_ttl_ms;
    int64_t (*now_ms)(void *ctx);
    void *clock_ctx;
};

/* tenant_store_new() with options (NULL = the defaults). */
enum bf_rc tenant_store_new_opts(const struct bf_config *cfg,
                                 struct awsenv *aws,
                                 const struct tenant_store_options *opts,
                                 struct tenant_store **out,
                                 struct bf_err *err);

/* BF_E_TENANT_NOT_CONFIGURED (no item), BF_E_TENANT_DISABLED (enabled
 * false), or a transient code when the store itself failed. */
enum bf_rc tenant_lookup(struct tenant_store *s, const char *tenant_id,
                         const char *service, struct tenant_info *out,
                         struct bf_err *err);

/* Every enabled tenant of `service`, in store order: `*ids` is a malloc'd
 * array of `*n` entries of 65 bytes. The file store only; a DynamoDB store
 * is BF_E_CONFIG (a Scan is not implemented: name the tenants). */
enum bf_rc tenant_list_enabled(struct tenant_store *s, const char *service,
                               char (**ids)[65], size_t *n, struct bf_err *err);

/* The text of `t`'s secret (t->secret_name), from the cache unless
 * `force_refresh`, checked by `check` for t->service (NULL: not checked).
 * BF_E_CREDENTIALS_INVALID when it is missing or `check` refuses it; a
 * transient code when the store itself failed. `out` is empty on failure. */
enum bf_rc tenant_secret_get(struct tenant_store *s,
                             const struct tenant_info *t, int force_refresh,
                             tenant_secret_check_fn check,
                             struct tenant_secret *out, struct bf_err *err);

#endif
