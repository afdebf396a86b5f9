/* tenant.h -- tenant configuration and source credentials.
 *
 * Which tenants have which service enabled (file://tenants.json or
 * dynamodb://TenantServices-{env}), and the credentials to call the source
 * (file://secrets.json or secretsmanager:). Both are cached with a short
 * TTL; after a 401 the pipeline asks again with force_refresh to pick up a
 * rotated secret. Thread-safe: one store serves every worker slot.
 * Secret values live only in `struct tenant_source_creds`, which callers
 * wipe with tenant_source_creds_wipe(); they never reach logs or errors.
 */
#ifndef BF_TENANT_TENANT_H
#define BF_TENANT_TENANT_H

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

struct tenant_source_creds {
    char api_base_url[512];
    char company_id[128];
    char public_key[256];
    char private_key[256];
    char client_id[128];
};

void tenant_source_creds_wipe(struct tenant_source_creds *c);

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

/* BF_E_CREDENTIALS_INVALID with the missing *field* named, never a value. */
enum bf_rc tenant_source_creds_get(struct tenant_store *s,
                                   const struct tenant_info *t,
                                   int force_refresh,
                                   struct tenant_source_creds *out,
                                   struct bf_err *err);

#endif
