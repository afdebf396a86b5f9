/* tenant.c -- tenant configuration and source credentials, with caches.
 *
 * Owns the tenant store (file://tenants.json or dynamodb://TenantServices-
 * {env}), the secrets store (file://secrets.json or secretsmanager:) and a
 * small TTL cache for each, behind one mutex. Network and file reads happen
 * outside the lock; fetching secret text is secrets.c's, and judging what
 * it holds is the caller's check (the source that reads it), run before a
 * fetched secret is cached. Secret text lives only in cache entries and
 * the copies handed out, all wiped with OPENSSL_cleanse when dropped.
 * Messages name fields and secret names, never values (src/README.md
 * "Tenants, source credentials and Lambda compatibility mode").
 */
#include "tenant/tenant.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "aws/ddb.h"
#include "tenant/secrets.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/jsonstrict.h"

#define TENANT_TTL_DEFAULT_MS 60000L
#define SECRET_TTL_DEFAULT_MS 300000L
#define TENANT_CACHE_SLOTS 256
#define SECRET_CACHE_SLOTS 128

enum tenants_kind { TENANTS_FILE, TENANTS_DYNAMODB };
enum secrets_kind { SECRETS_FILE, SECRETS_MANAGER };

/* What a slot of either cache starts with, so that one search
 * (cache_pick) serves both arrays. */
struct cache_slot {
    int used;
    int64_t expires_ms;
};

struct tenant_slot {
    struct cache_slot slot;   /* first: cache_pick's view of it */
    enum bf_rc rc;            /* BF_OK, NOT_CONFIGURED or DISABLED */
    struct tenant_info info;  /* tenant_id and service are the key */
};

struct secret_slot {
    struct cache_slot slot;   /* first: cache_pick's view of it */
    char name[256];
    char *value;              /* the secret's JSON text; wiped on drop */
    size_t len;
};

struct tenant_store {
    enum tenants_kind tenants_kind;
    enum secrets_kind secrets_kind;
    char tenants_loc[1024];   /* file path or table name */
    char secrets_loc[1024];   /* file path, "" for Secrets Manager */
    char env[32];
    struct awsenv *aws;       /* a reference, or NULL */
    struct tenant_store_options opts;
    pthread_mutex_t lock;     /* guards both caches */
    struct tenant_slot tenants[TENANT_CACHE_SLOTS];
    struct secret_slot secrets[SECRET_CACHE_SLOTS];
};

/* ---- small helpers ---------------------------------------------------- */

static int64_t store_now(const struct tenant_store *s)
{
    if (s->opts.now_ms != NULL)
        return s->opts.now_ms(s->opts.clock_ctx);
    return time_mono_ms();
}

/* Replace every "{env}" in `in` with `env`. Returns -1 when it won't fit. */
static int expand_env(const char *in, const char *env, char *out, size_t cap)
{
    size_t n = 0;

    while (*in != '\0') {
        const char *piece = in;
        size_t plen = 1;

        if (strncmp(in, "{env}", 5) == 0) {
            piece = env;
            plen = strlen(env);
            in += 5;
        } else {
            in++;
        }
        if (n + plen >= cap)
            return -1;
        memcpy(out + n, piece, plen);
        n += plen;
    }
    out[n] = '\0';
    return 0;
}

void tenant_secret_wipe(struct tenant_secret *sec)
{
    if (sec == NULL)
        return;
    secrets_text_free(sec->text, sec->len);
    sec->text = NULL;
    sec->len = 0;
}

/* A copy for the caller, sized once (no stray copies in freed memory). */
static enum bf_rc secret_copy(const char *text, size_t len,
                              struct tenant_secret *out, struct bf_err *err)
{
    out->text = malloc(len + 1);
    if (out->text == NULL) {
        out->len = 0;
        return bf_err_set(err, BF_E_NOMEM, "secrets: out of memory");
    }
    memcpy(out->text, text, len);
    out->text[len] = '\0';
    out->len = len;
    return BF_OK;
}

/* ---- construction ----------------------------------------------------- */

/* What follows `scheme` in `url`, or NULL when `url` does not start with
 * it or nothing follows. */
static const char *after_scheme(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);

    return strncmp(url, scheme, n) == 0 && url[n] != '\0' ? url + n : NULL;
}

/* Keep `where` (a file path or table name) as a store's location. */
static enum bf_rc store_loc(char *loc, size_t cap, const char *where,
                           const char *var, struct bf_err *err)
{
    if (buf_copy_str(loc, cap, where) != BF_OK)
        return bf_err_set(err, BF_E_CONFIG, "%s: too long", var);
    return BF_OK;
}

static enum bf_rc parse_tenants_url(struct tenant_store *s, const char *url,
                                    struct bf_err *err)
{
    char expanded[1024];
    const char *file = NULL, *table = NULL;

    if (expand_env(url, s->env, expanded, sizeof(expanded)) != 0)
        return bf_err_set(err, BF_E_CONFIG, "BACKFILL_TENANTS: too long");
    file = after_scheme(expanded, "file://");
    table = after_scheme(expanded, "dynamodb://");
    /* DynamoDB's table name limit; a '/' would be a path, not a table. */
    if (table != NULL && (strlen(table) > 255 || strchr(table, '/') != NULL))
        table = NULL;
    if (file == NULL && table == NULL)
        return bf_err_set(err, BF_E_CONFIG,
                          "BACKFILL_TENANTS: expected file://PATH or "
                          "dynamodb://TABLE, got \"%.200s\"", url);
    s->tenants_kind = file != NULL ? TENANTS_FILE : TENANTS_DYNAMODB;
    return store_loc(s->tenants_loc, sizeof(s->tenants_loc),
                     file != NULL ? file : table, "BACKFILL_TENANTS", err);
}

static enum bf_rc parse_secrets_url(struct tenant_store *s, const char *url,
                                    struct bf_err *err)
{
    char expanded[1024];
    const char *file = NULL;

    if (expand_env(url, s->env, expanded, sizeof(expanded)) != 0)
        return bf_err_set(err, BF_E_CONFIG, "BACKFILL_SECRETS: too long");
    file = after_scheme(expanded, "file://");
    if (file != NULL) {
        s->secrets_kind = SECRETS_FILE;
        return store_loc(s->secrets_loc, sizeof(s->secrets_loc), file,
                         "BACKFILL_SECRETS", err);
    }
    if (strcmp(expanded, "secretsmanager:") == 0 ||
        strcmp(expanded, "secretsmanager://") == 0) {
        s->secrets_kind = SECRETS_MANAGER;
        s->secrets_loc[0] = '\0';
        return BF_OK;
    }
    return bf_err_set(err, BF_E_CONFIG,
                      "BACKFILL_SECRETS: expected file://PATH or "
                      "secretsmanager:, got \"%.200s\"", url);
}

enum bf_rc tenant_store_new_opts(const struct bf_config *cfg,
                                 struct awsenv *aws,
                                 const struct tenant_store_options *opts,
                                 struct tenant_store **out,
                                 struct bf_err *err)
{
    struct tenant_store *s = NULL;
    enum bf_rc rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return bf_err_set(err, BF_E_NOMEM, "tenant store: out of memory");
    if (opts != NULL)
        s->opts = *opts;
    if (s->opts.tenant_ttl_ms <= 0)
        s->opts.tenant_ttl_ms = TENANT_TTL_DEFAULT_MS;
    if (s->opts.secret_ttl_ms <= 0)
        s->opts.secret_ttl_ms = SECRET_TTL_DEFAULT_MS;
    snprintf(s->env, sizeof(s->env), "%s", cfg->env[0] != '\0' ? cfg->env : "dev");
    rc = parse_tenants_url(s, cfg->tenants, err);
    if (rc == BF_OK)
        rc = parse_secrets_url(s, cfg->secrets, err);
    if (rc != BF_OK) {
        free(s);
        return rc;
    }
    if ((s->tenants_kind == TENANTS_DYNAMODB ||
         s->secrets_kind == SECRETS_MANAGER) && aws == NULL) {
        free(s);
        return bf_err_set(err, BF_E_CONFIG,
                          "tenant store: DynamoDB or Secrets Manager needs "
                          "AWS settings (region, credentials)");
    }
    if (s->tenants_kind == TENANTS_DYNAMODB || s->secrets_kind == SECRETS_MANAGER)
        s->aws = awsenv_acquire(aws);
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return BF_OK;
}

enum bf_rc tenant_store_new(const struct bf_config *cfg, struct awsenv *aws,
                            struct tenant_store **out, struct bf_err *err)
{
    return tenant_store_new_opts(cfg, aws, NULL, out, err);
}

static void secret_slot_drop(struct secret_slot *e)
{
    secrets_text_free(e->value, e->len);
    OPENSSL_cleanse(e, sizeof(*e));
}

void tenant_store_free(struct tenant_store *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < SECRET_CACHE_SLOTS; i++)
        secret_slot_drop(&s->secrets[i]);
    pthread_mutex_destroy(&s->lock);
    awsenv_release(s->aws);
    free(s);
}

/* ---- tenant items ----------------------------------------------------- */

/* Fill `info` from one item's fields (both stores use the same names).
 * `enabled` absent counts as enabled: an item exists, so the service is
 * configured; operators switch it off with enabled=false. */
static enum bf_rc item_to_info(struct tenant_store *s, const char *tenant_id,
                               const char *service, int enabled,
                               const char *secret_name,
                               struct tenant_info *info, struct bf_err *err)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->tenant_id, sizeof(info->tenant_id), "%s", tenant_id);
    snprintf(info->service, sizeof(info->service), "%s", service);
    if (enabled < 0)
        return bf_err_set(err, BF_E_TENANT_NOT_CONFIGURED,
                          "tenant %s/%s: \"enabled\" is not a boolean",
                          tenant_id, service);
    info->enabled = enabled;
    if (secret_name != NULL && secret_name[0] != '\0') {
        if (buf_copy_str(info->secret_name, sizeof(info->secret_name),
                         secret_name) != BF_OK)
            return bf_err_set(err, BF_E_TENANT_NOT_CONFIGURED,
                              "tenant %s/%s: secret_name too long",
                              tenant_id, service);
        return BF_OK;
    }
    snprintf(info->secret_name, sizeof(info->secret_name), "%s/%s",
             tenant_id, s->env);
    return BF_OK;
}

static int json_bool_field(const cJSON *item, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);

    if (v == NULL)
        return dflt;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? 1 : 0;
    return -1;
}

static const char *json_str_field(const cJSON *item, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *find_file_item(cJSON *root, const char *tenant_id,
                             const char *service)
{
    cJSON *it = NULL;

    cJSON_ArrayForEach(it, root) {
        const char *t = json_str_field(it, "tenant_id");
        const char *v = json_str_field(it, "service");

        if (t != NULL && v != NULL && strcmp(t, tenant_id) == 0 &&
            strcmp(v, service) == 0)
            return it;
    }
    return NULL;
}

/* The item of (tenant_id, service) in the tenants file, detached for the
 * caller to free; *item = NULL when there is none. A broken file is
 * BF_E_CONFIG. */
static enum bf_rc fetch_tenant_file(struct tenant_store *s, const char *tenant_id,
                                    const char *service, cJSON **item,
                                    struct bf_err *err)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    cJSON *it = NULL;
    enum bf_rc rc;

    *item = NULL;
    rc = secrets_read_file(s->tenants_loc, &text, &len, err);
    if (rc != BF_OK) {
        bf_err_prefix(err, "tenants file");
        return rc == BF_E_IO ? bf_err_reclassify(err, BF_E_CONFIG) : rc;
    }
    rc = json_strict_parse(text, len, "tenants file", BF_E_CONFIG, 0, &root, err);
    if (rc != BF_OK)
        goto out;
    if (!cJSON_IsArray(root)) {
        rc = bf_err_set(err, BF_E_CONFIG,
                        "tenants file %s: not a JSON array of items",
                        s->tenants_loc);
        goto out;
    }
    it = find_file_item(root, tenant_id, service);
    if (it != NULL)
        *item = cJSON_DetachItemViaPointer(root, it);
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

static cJSON *tenant_key(const char *tenant_id, const char *service)
{
    cJSON *key = cJSON_CreateObject();
    cJSON *t = cJSON_AddObjectToObject(key, "tenant_id");
    cJSON *v = cJSON_AddObjectToObject(key, "service");

    if (t == NULL || v == NULL || cJSON_AddStringToObject(t, "S", tenant_id) == NULL ||
        cJSON_AddStringToObject(v, "S", service) == NULL) {
        cJSON_Delete(key);
        return NULL;
    }
    return key;
}

/* The item of (tenant_id, service) in the DynamoDB table, for the caller
 * to free; *item = NULL when there is none. */
static enum bf_rc fetch_tenant_ddb(struct tenant_store *s, const char *tenant_id,
                                   const char *service, cJSON **item,
                                   struct bf_err *err)
{
    struct awsjson_client *c = NULL;
    cJSON *key = tenant_key(tenant_id, service);
    enum bf_rc rc;

    *item = NULL;
    if (key == NULL)
        return bf_err_set(err, BF_E_NOMEM, "tenant store: out of memory");
    rc = ddb_client_new(s->aws, &c, err);
    if (rc != BF_OK)
        goto out;
    rc = ddb_get_item(c, s->tenants_loc, key, 1, item, err);
    if (rc != BF_OK) {
        bf_err_prefix(err, "tenant store %s", s->tenants_loc);
        if (err != NULL && err->endpoint[0] == '\0')
            snprintf(err->endpoint, sizeof(err->endpoint), "dynamodb:GetItem");
    }
out:
    cJSON_Delete(key);
    awsjson_client_free(c);
    return rc;
}

/* The configuration of (tenant_id, service) from the store: BF_OK with
 * *found 0 or 1. The two stores spell an item's fields differently. */
static enum bf_rc fetch_tenant(struct tenant_store *s, const char *tenant_id,
                               const char *service, struct tenant_info *info,
                               int *found, struct bf_err *err)
{
    int file = s->tenants_kind == TENANTS_FILE;
    cJSON *item = NULL;
    enum bf_rc rc;

    *found = 0;
    rc = file ? fetch_tenant_file(s, tenant_id, service, &item, err)
              : fetch_tenant_ddb(s, tenant_id, service, &item, err);
    if (rc == BF_OK && item != NULL) {
        *found = 1;
        rc = item_to_info(s, tenant_id, service,
                          file ? json_bool_field(item, "enabled", 1)
                               : ddb_attr_bool(item, "enabled", 1),
                          file ? json_str_field(item, "secret_name")
                               : ddb_attr_str(item, "secret_name"),
                          info, err);
    }
    cJSON_Delete(item);
    return rc;
}

/* The answer a fetched (or cached) item gives the caller. */
static enum bf_rc tenant_verdict(const struct tenant_slot *e, struct bf_err *err)
{
    if (e->rc == BF_E_TENANT_NOT_CONFIGURED)
        return bf_err_set(err, BF_E_TENANT_NOT_CONFIGURED,
                          "tenant %s has no %s configuration",
                          e->info.tenant_id, e->info.service);
    if (e->rc == BF_E_TENANT_DISABLED)
        return bf_err_set(err, BF_E_TENANT_DISABLED,
                          "tenant %s: service %s is disabled",
                          e->info.tenant_id, e->info.service);
    return BF_OK;
}

/* Whether a used slot holds `key`. */
typedef int (*cache_match_fn)(const struct cache_slot *slot, const void *key);

/* In `n` slots of `size` bytes each from `slots`, each starting with a
 * struct cache_slot: the used one that `match` finds (*found = 1), else a
 * free one, else the one that expires first (*found = 0), for the caller
 * to fill. `found` may be NULL. The caller holds the store's lock. */
static struct cache_slot *cache_pick(void *slots, size_t n, size_t size,
                                     cache_match_fn match, const void *key,
                                     int *found)
{
    struct cache_slot *free_slot = NULL, *oldest = slots;
    size_t i;

    for (i = 0; i < n; i++) {
        struct cache_slot *e = (struct cache_slot *)(void *)((char *)slots + i * size);

        if (!e->used) {
            if (free_slot == NULL)
                free_slot = e;
        } else if (match(e, key)) {
            if (found != NULL)
                *found = 1;
            return e;
        } else if (e->expires_ms < oldest->expires_ms) {
            oldest = e;
        }
    }
    if (found != NULL)
        *found = 0;
    return free_slot != NULL ? free_slot : oldest;
}

struct tenant_key {
    const char *tenant_id;
    const char *service;
};

static int tenant_slot_is(const struct cache_slot *slot, const void *key)
{
    const struct tenant_slot *e = (const struct tenant_slot *)(const void *)slot;
    const struct tenant_key *k = key;

    return strcmp(e->info.tenant_id, k->tenant_id) == 0 &&
           strcmp(e->info.service, k->service) == 0;
}

/* The slot of (tenant_id, service), or the one to fill; see cache_pick. */
static struct tenant_slot *tenant_cache_pick(struct tenant_store *s,
                                             const char *tenant_id,
                                             const char *service, int *found)
{
    const struct tenant_key k = { tenant_id, service };

    return (struct tenant_slot *)(void *)cache_pick(
        s->tenants, TENANT_CACHE_SLOTS, sizeof s->tenants[0], tenant_slot_is, &k, found);
}

static void tenant_cache_put(struct tenant_store *s, const struct tenant_slot *v)
{
    struct tenant_slot *e = NULL;

    pthread_mutex_lock(&s->lock);
    e = tenant_cache_pick(s, v->info.tenant_id, v->info.service, NULL);
    *e = *v;
    pthread_mutex_unlock(&s->lock);
}

static int tenant_cache_get(struct tenant_store *s, const char *tenant_id,
                            const char *service, struct tenant_slot *copy)
{
    struct tenant_slot *e = NULL;
    int found = 0, hit;

    pthread_mutex_lock(&s->lock);
    e = tenant_cache_pick(s, tenant_id, service, &found);
    hit = found && e->slot.expires_ms > store_now(s);
    if (hit)
        *copy = *e;
    pthread_mutex_unlock(&s->lock);
    return hit;
}

enum bf_rc tenant_lookup(struct tenant_store *s, const char *tenant_id,
                         const char *service, struct tenant_info *out,
                         struct bf_err *err)
{
    struct tenant_slot v;
    int found = 0;
    enum bf_rc rc;

    memset(out, 0, sizeof(*out));
    if (strlen(tenant_id) >= sizeof(v.info.tenant_id) ||
        strlen(service) >= sizeof(v.info.service))
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "tenant_id or service too long");
    if (tenant_cache_get(s, tenant_id, service, &v)) {
        *out = v.info;
        return tenant_verdict(&v, err);
    }
    memset(&v, 0, sizeof(v));
    rc = fetch_tenant(s, tenant_id, service, &v.info, &found, err);
    if (rc != BF_OK)
        return rc;
    if (!found) {
        snprintf(v.info.tenant_id, sizeof(v.info.tenant_id), "%s", tenant_id);
        snprintf(v.info.service, sizeof(v.info.service), "%s", service);
    }
    v.rc = !found ? BF_E_TENANT_NOT_CONFIGURED
                  : (v.info.enabled ? BF_OK : BF_E_TENANT_DISABLED);
    v.slot.used = 1;
    v.slot.expires_ms = store_now(s) + s->opts.tenant_ttl_ms;
    tenant_cache_put(s, &v);
    *out = v.info;
    return tenant_verdict(&v, err);
}

/* ---- secrets ---------------------------------------------------------- */

static int secret_slot_is(const struct cache_slot *slot, const void *key)
{
    const struct secret_slot *e = (const struct secret_slot *)(const void *)slot;

    return strcmp(e->name, (const char *)key) == 0;
}

/* The slot of secret `name`, or the one to fill; see cache_pick. */
static struct secret_slot *secret_cache_pick(struct tenant_store *s,
                                             const char *name, int *found)
{
    return (struct secret_slot *)(void *)cache_pick(
        s->secrets, SECRET_CACHE_SLOTS, sizeof s->secrets[0], secret_slot_is, name, found);
}

/* Copy the cached secret under the lock (the entry may be replaced by
 * another thread the moment the lock is released). 1 on a hit. */
static int secret_cache_read(struct tenant_store *s, const struct tenant_info *t,
                             struct tenant_secret *out, enum bf_rc *rc,
                             struct bf_err *err)
{
    struct secret_slot *e = NULL;
    int found = 0, hit;

    pthread_mutex_lock(&s->lock);
    e = secret_cache_pick(s, t->secret_name, &found);
    hit = found && e->slot.expires_ms > store_now(s);
    if (hit)
        *rc = secret_copy(e->value, e->len, out, err);
    pthread_mutex_unlock(&s->lock);
    return hit;
}

/* Takes ownership of `value`. */
static void secret_cache_put(struct tenant_store *s, const char *name,
                             char *value, size_t len)
{
    struct secret_slot *e = NULL;

    pthread_mutex_lock(&s->lock);
    e = secret_cache_pick(s, name, NULL);
    secret_slot_drop(e);
    e->slot.used = 1;
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->value = value;
    e->len = len;
    e->slot.expires_ms = store_now(s) + s->opts.secret_ttl_ms;
    pthread_mutex_unlock(&s->lock);
}

static void log_secret_loaded(const struct tenant_info *t, int refreshed,
                              const char *store)
{
    struct log_line l;

    if (!log_begin(&l, LOG_DEBUG, "secret_loaded"))
        return;
    log_str(&l, "tenant", t->tenant_id);
    log_str(&l, "service", t->service);
    log_str(&l, "secret_name", t->secret_name);
    log_str(&l, "store", store);
    log_bool(&l, "refresh", refreshed);
    log_end(&l);
}

enum bf_rc tenant_secret_get(struct tenant_store *s,
                             const struct tenant_info *t, int force_refresh,
                             tenant_secret_check_fn check,
                             struct tenant_secret *out, struct bf_err *err)
{
    char *value = NULL;
    size_t len = 0;
    enum bf_rc rc = BF_OK;

    memset(out, 0, sizeof(*out));
    if (t->secret_name[0] == '\0')
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                          "tenant %s: no secret name", t->tenant_id);
    if (!force_refresh && secret_cache_read(s, t, out, &rc, err)) {
        if (rc == BF_OK && check != NULL)
            rc = check(out->text, out->len, t->secret_name, t->service, err);
        if (rc != BF_OK)
            tenant_secret_wipe(out);
        return rc;
    }
    if (s->secrets_kind == SECRETS_FILE)
        rc = secrets_fetch_file(s->secrets_loc, t->secret_name, &value, &len, err);
    else
        rc = secrets_fetch_sm(s->aws, t->secret_name, &value, &len, err);
    if (rc != BF_OK)
        return rc;
    if (check != NULL)
        rc = check(value, len, t->secret_name, t->service, err);
    if (rc == BF_OK)
        rc = secret_copy(value, len, out, err);
    if (rc != BF_OK) {
        secrets_text_free(value, len);
        return rc;
    }
    log_secret_loaded(t, force_refresh,
                      s->secrets_kind == SECRETS_FILE ? "file" : "secretsmanager");
    secret_cache_put(s, t->secret_name, value, len);
    return BF_OK;
}

/* ---- listing ------------------------------------------------------------ */

enum bf_rc tenant_list_enabled(struct tenant_store *s, const char *service,
                               char (**ids)[65], size_t *n, struct bf_err *err)
{
    char *text = NULL;
    size_t len = 0, cap;
    cJSON *root = NULL;
    const cJSON *it = NULL;
    enum bf_rc rc;

    *ids = NULL;
    *n = 0;
    if (s->tenants_kind != TENANTS_FILE)
        return bf_err_set(err, BF_E_CONFIG,
                          "tenants: listing a DynamoDB tenant store is not "
                          "implemented; name the tenants in the input");
    rc = secrets_read_file(s->tenants_loc, &text, &len, err);
    if (rc != BF_OK) {
        bf_err_prefix(err, "tenants file");
        return rc == BF_E_IO ? bf_err_reclassify(err, BF_E_CONFIG) : rc;
    }
    root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return bf_err_set(err, BF_E_CONFIG, "tenants file %s: not a JSON array of items",
                          s->tenants_loc);
    }
    cap = (size_t)cJSON_GetArraySize(root) + 1;
    *ids = calloc(cap, sizeof **ids);
    if (*ids == NULL) {
        cJSON_Delete(root);
        return bf_err_set(err, BF_E_NOMEM, "tenants: out of memory");
    }
    cJSON_ArrayForEach(it, root) {
        const char *t = json_str_field(it, "tenant_id");
        const char *v = json_str_field(it, "service");

        if (t != NULL && v != NULL && strcmp(v, service) == 0 &&
            json_bool_field(it, "enabled", 1) == 1 && strlen(t) < 65)
            snprintf((*ids)[(*n)++], 65, "%s", t);
    }
    cJSON_Delete(root);
    return BF_OK;
}
