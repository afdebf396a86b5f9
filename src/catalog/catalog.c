/* catalog.c -- the endpoint catalog: which tables each service has.
 *
 * The table is src/catalog/endpoints.json, compiled in as a byte array by
 * src/catalog/module.mk and parsed once (pthread_once) into an immutable
 * array: the one kind of global state the house rules allow. An extra
 * catalog (BACKFILL_ENDPOINTS_FILE) is appended by main() before any other
 * thread starts, and never after. The catalog sits below `task`, so task
 * validation, the plan, the sources and the chunk runner all read the same
 * table without depending on each other.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog/catalog.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/log.h"

extern const unsigned char catalog_endpoints_json[];
extern const size_t catalog_endpoints_json_len;

#define CATALOG_MAX_ENDPOINTS 64
#define CATALOG_MAX_SERVICES 8

struct catalog_service {
    char *name;
    char *codebase;
};

/* Written once under pthread_once, read-only afterwards. */
static struct catalog_endpoint g_endpoints[CATALOG_MAX_ENDPOINTS];
static size_t g_nendpoints;
static struct catalog_service g_services[CATALOG_MAX_SERVICES];
static size_t g_nservices;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* ---- the catalog format (src/README.md, section `ConnectWise ingest`) ---- */

/* [A-Za-z0-9_-] segments joined by single '/', 1..63 characters: the
 * shape of an endpoint ("service/tickets") and of a condition field
 * ("_info/lastUpdated"). Both end up in URLs and output paths. */
static int path_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 63 || s[0] == '/' || s[n - 1] == '/')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '/' ? s[i + 1] == '/' : !(isalnum(c) || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* ^[a-z][a-z0-9_]{0,62}$: a canonical table names a directory and, with
 * '_' -> '-', a Lambda function. */
static int table_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 63 || !islower((unsigned char)s[0]))
        return 0;
    for (i = 1; i < n; i++) {
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
              s[i] == '_'))
            return 0;
    }
    return 1;
}

static const char *str_member(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1 when `v` is absent (keep *out) or a boolean (store it); 0 otherwise. */
static int opt_bool(const cJSON *e, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);

    if (v == NULL)
        return 1;
    if (!cJSON_IsBool(v))
        return 0;
    *out = cJSON_IsTrue(v);
    return 1;
}

static int refuse(char why[96], const char *msg)
{
    snprintf(why, 96, "%s", msg);
    return 0;
}

/* Check one entry; `why` says what is wrong with it. Nothing is allocated
 * here, so a rejected entry needs no clean-up. */
static int entry_check(const cJSON *e, struct catalog_endpoint *ep, char why[96])
{
    static const char *const keys[] = {
        "endpoint", "canonical_table", "page_size", "date_field", "enabled",
        "default", "paging", "comment", NULL,
    };
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(e, "page_size");
    const char *paging = str_member(e, "paging");
    const cJSON *m = NULL;
    size_t k;

    memset(ep, 0, sizeof(*ep));
    cJSON_ArrayForEach(m, e) {
        for (k = 0; keys[k] != NULL && strcmp(keys[k], m->string) != 0; k++)
            ;
        if (keys[k] == NULL) {
            snprintf(why, 96, "unknown key \"%.40s\"", m->string);
            return 0;
        }
    }
    ep->endpoint = str_member(e, "endpoint");
    ep->canonical_table = str_member(e, "canonical_table");
    ep->date_field = str_member(e, "date_field");
    ep->enabled = 1;
    ep->forward_only = 1;
    if (ep->endpoint == NULL || !path_ok(ep->endpoint))
        return refuse(why, "endpoint: want segments of [A-Za-z0-9_-] joined by '/'");
    if (ep->canonical_table == NULL || !table_ok(ep->canonical_table))
        return refuse(why, "canonical_table: want ^[a-z][a-z0-9_]{0,62}$");
    if (ep->date_field == NULL || !path_ok(ep->date_field))
        return refuse(why, "date_field: want a field path such as _info/lastUpdated");
    if (!cJSON_IsNumber(ps) || ps->valuedouble != floor(ps->valuedouble) ||
        ps->valuedouble < 1 || ps->valuedouble > 1000)
        return refuse(why, "page_size: want an integer from 1 to 1000");
    ep->page_size = (int)ps->valuedouble;
    if (!opt_bool(e, "enabled", &ep->enabled) ||
        !opt_bool(e, "default", &ep->is_default))
        return refuse(why, "enabled/default: want true or false");
    if (cJSON_GetObjectItemCaseSensitive(e, "paging") != NULL) {
        if (paging == NULL || (strcmp(paging, "forward-only") != 0 &&
                               strcmp(paging, "navigable") != 0))
            return refuse(why, "paging: want \"forward-only\" or \"navigable\"");
        ep->forward_only = strcmp(paging, "forward-only") == 0;
    }
    if (cJSON_GetObjectItemCaseSensitive(e, "comment") != NULL &&
        str_member(e, "comment") == NULL)
        return refuse(why, "comment: want a string");
    return 1;
}

/* Store a checked entry: the strings are copied, the table owns them. */
static int entry_store(const char *service, const struct catalog_endpoint *c)
{
    struct catalog_endpoint *ep = &g_endpoints[g_nendpoints];

    *ep = *c;
    ep->service = service;
    ep->endpoint = strdup(c->endpoint);
    ep->canonical_table = strdup(c->canonical_table);
    ep->date_field = strdup(c->date_field);
    if (ep->endpoint == NULL || ep->canonical_table == NULL ||
        ep->date_field == NULL) {
        free((char *)ep->endpoint);
        free((char *)ep->canonical_table);
        free((char *)ep->date_field);
        memset(ep, 0, sizeof(*ep));
        return 0;
    }
    g_nendpoints++;
    return 1;
}

/* The embedded table: a broken entry is a build defect the unit tests
 * catch, so it is logged and skipped rather than stopping the worker. */
static void load_service(const cJSON *svc)
{
    struct catalog_service *s = &g_services[g_nservices];
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(svc, "endpoints");
    const cJSON *e = NULL;
    const char *cb = str_member(svc, "codebase");

    s->name = strdup(svc->string);
    s->codebase = cb != NULL && cb[0] != '\0' ? strdup(cb) : NULL;
    if (s->name == NULL)
        return;
    g_nservices++;
    cJSON_ArrayForEach(e, eps) {
        struct catalog_endpoint c;
        char why[96];

        if (g_nendpoints >= CATALOG_MAX_ENDPOINTS)
            break;
        if (!cJSON_IsObject(e) || !entry_check(e, &c, why) ||
            !entry_store(s->name, &c))
            log_msg(LOG_ERROR, "source_table_bad", "endpoint entry skipped");
    }
}

static void load_table(void)
{
    cJSON *root = cJSON_ParseWithLength((const char *)catalog_endpoints_json,
                                        catalog_endpoints_json_len);
    const cJSON *svc = NULL;

    cJSON_ArrayForEach(svc, root) {
        if (cJSON_IsObject(svc) && g_nservices < CATALOG_MAX_SERVICES)
            load_service(svc);
    }
    cJSON_Delete(root);
}

static const char *service_name(const char *service)
{
    size_t i;

    for (i = 0; i < g_nservices; i++) {
        if (strcmp(g_services[i].name, service) == 0)
            return g_services[i].name;
    }
    return NULL;
}

/* Check every entry of an extra catalog before adding any, so a bad file
 * changes nothing. Returns the number of entries, or -1 with `err` set. */
static long extra_check(const cJSON *root, const char *path, struct bf_err *err)
{
    const cJSON *svc = NULL;
    long n = 0;

    if (!cJSON_IsObject(root))
        return bf_err_set(err, BF_E_CONFIG, "%.200s: want a JSON object", path), -1;
    cJSON_ArrayForEach(svc, root) {
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(svc, "endpoints");
        const cJSON *e = NULL, *m = NULL;
        long i = 0;

        if (strcmp(svc->string, "comment") == 0 && cJSON_IsString(svc))
            continue;
        if (!cJSON_IsObject(svc) || service_name(svc->string) == NULL)
            return bf_err_set(err, BF_E_CONFIG, "%.200s: \"%.40s\" is not a known service",
                              path, svc->string), -1;
        cJSON_ArrayForEach(m, svc) {
            if (strcmp(m->string, "endpoints") != 0 && strcmp(m->string, "comment") != 0)
                return bf_err_set(err, BF_E_CONFIG, "%.200s: %.40s: unknown key \"%.40s\"",
                                  path, svc->string, m->string), -1;
        }
        if (!cJSON_IsArray(eps))
            return bf_err_set(err, BF_E_CONFIG, "%.200s: %.40s.endpoints: want an array",
                              path, svc->string), -1;
        cJSON_ArrayForEach(e, eps) {
            struct catalog_endpoint c;
            const cJSON *o = NULL;
            char why[96];
            long j = 0;

            if (!cJSON_IsObject(e) || !entry_check(e, &c, why))
                return bf_err_set(err, BF_E_CONFIG, "%.200s: %.40s.endpoints[%ld]: %s", path,
                                  svc->string, i, cJSON_IsObject(e) ? why : "want an object"), -1;
            cJSON_ArrayForEach(o, eps) {
                if (j++ < i && strcmp(str_member(o, "endpoint") ? str_member(o, "endpoint") : "",
                                      c.endpoint) == 0)
                    break;
            }
            if (o != NULL || catalog_find(svc->string, c.endpoint) != NULL)
                return bf_err_set(err, BF_E_CONFIG, "%.200s: %.40s.endpoints[%ld]: \"%s\" is already an endpoint",
                                  path, svc->string, i, c.endpoint), -1;
            i++;
        }
        n += i;
    }
    if (g_nendpoints + (size_t)n > CATALOG_MAX_ENDPOINTS)
        return bf_err_set(err, BF_E_CONFIG, "%.200s: more than %d endpoints in all",
                          path, CATALOG_MAX_ENDPOINTS), -1;
    return n;
}

enum bf_rc catalog_add_file(const char *path, struct bf_err *err)
{
    struct buf b;
    cJSON *root = NULL;
    const cJSON *svc = NULL;
    enum bf_rc rc;

    pthread_once(&g_once, load_table);
    buf_init(&b, 1024 * 1024);
    rc = file_read_all(path, &b, NULL, err);
    if (rc == BF_OK) {
        root = cJSON_ParseWithLength(b.data, b.len);
        if (root == NULL)
            rc = bf_err_set(err, BF_E_CONFIG, "%.200s: not valid JSON", path);
        else if (extra_check(root, path, err) < 0)
            rc = BF_E_CONFIG;
    } else {
        char why[BF_ERR_MSG_MAX];

        snprintf(why, sizeof(why), "%s", err->message);
        rc = bf_err_set(err, BF_E_CONFIG, "%s", why);
    }
    if (rc != BF_OK) {
        cJSON_Delete(root);
        root = NULL;
    }
    cJSON_ArrayForEach(svc, root) {
        const cJSON *e = NULL;
        const char *name = service_name(svc->string);

        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(svc, "endpoints")) {
            struct catalog_endpoint c;
            char why[96];

            if (rc == BF_OK && entry_check(e, &c, why) && !entry_store(name, &c))
                rc = bf_err_set(err, BF_E_NOMEM, "out of memory");
        }
    }
    cJSON_Delete(root);
    buf_cleanup(&b);
    return rc;
}

const struct catalog_endpoint *catalog_find(const char *service,
                                                   const char *endpoint)
{
    size_t i;

    if (service == NULL || endpoint == NULL)
        return NULL;
    pthread_once(&g_once, load_table);
    for (i = 0; i < g_nendpoints; i++) {
        if (strcmp(g_endpoints[i].service, service) == 0 &&
            strcmp(g_endpoints[i].endpoint, endpoint) == 0)
            return &g_endpoints[i];
    }
    return NULL;
}

size_t catalog_count(void)
{
    pthread_once(&g_once, load_table);
    return g_nendpoints;
}

const struct catalog_endpoint *catalog_at(size_t i)
{
    pthread_once(&g_once, load_table);
    return i < g_nendpoints ? &g_endpoints[i] : NULL;
}

const char *catalog_codebase(const char *service)
{
    size_t i;

    pthread_once(&g_once, load_table);
    for (i = 0; i < g_nservices; i++) {
        if (service != NULL && strcmp(g_services[i].name, service) == 0 &&
            g_services[i].codebase != NULL)
            return g_services[i].codebase;
    }
    return "v4_6_release";
}
