/* source.c -- the endpoint table, the per-tenant rate limiter and the source
 * interface's dispatch.
 *
 * The table is src/source/endpoints.json, compiled in as a byte array by
 * src/source/module.mk and parsed once (pthread_once) into an immutable
 * array: the one kind of global state the house rules allow. The rate limiter
 * is a token bucket behind a mutex, shared by all slots of one tenant.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "source/source.h"
#include "util/log.h"
#include "util/timeutil.h"

extern const unsigned char source_endpoints_json[];
extern const size_t source_endpoints_json_len;

#define SOURCE_MAX_ENDPOINTS 64
#define SOURCE_MAX_SERVICES 8

struct source_service {
    char *name;
    char *codebase;
};

/* Written once under pthread_once, read-only afterwards. */
static struct source_endpoint g_endpoints[SOURCE_MAX_ENDPOINTS];
static size_t g_nendpoints;
static struct source_service g_services[SOURCE_MAX_SERVICES];
static size_t g_nservices;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static char *dup_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
        return NULL;
    return strdup(v->valuestring);
}

/* One endpoint entry; entries missing a field are skipped (and logged),
 * since a broken table is a build defect the unit tests catch. */
static void load_endpoint(const char *service, const cJSON *e)
{
    struct source_endpoint *ep = &g_endpoints[g_nendpoints];
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(e, "page_size");

    ep->service = service;
    ep->endpoint = dup_str(e, "endpoint");
    ep->canonical_table = dup_str(e, "canonical_table");
    ep->date_field = dup_str(e, "date_field");
    ep->page_size = cJSON_IsNumber(ps) ? (int)ps->valuedouble : 1000;
    if (ep->page_size < 1 || ep->page_size > 1000)
        ep->page_size = 1000;
    ep->enabled = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "enabled"));
    if (ep->endpoint == NULL || ep->canonical_table == NULL ||
        ep->date_field == NULL) {
        log_msg(LOG_ERROR, "source_table_bad", "endpoint entry skipped");
        free((char *)ep->endpoint);
        free((char *)ep->canonical_table);
        free((char *)ep->date_field);
        memset(ep, 0, sizeof(*ep));
        return;
    }
    g_nendpoints++;
}

static void load_service(const cJSON *svc)
{
    struct source_service *s = &g_services[g_nservices];
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(svc, "endpoints");
    const cJSON *e = NULL;

    s->name = strdup(svc->string);
    s->codebase = dup_str(svc, "codebase");
    if (s->name == NULL)
        return;
    g_nservices++;
    cJSON_ArrayForEach(e, eps) {
        if (g_nendpoints < SOURCE_MAX_ENDPOINTS && cJSON_IsObject(e))
            load_endpoint(s->name, e);
    }
}

static void load_table(void)
{
    cJSON *root = cJSON_ParseWithLength((const char *)source_endpoints_json,
                                        source_endpoints_json_len);
    const cJSON *svc = NULL;

    cJSON_ArrayForEach(svc, root) {
        if (cJSON_IsObject(svc) && g_nservices < SOURCE_MAX_SERVICES)
            load_service(svc);
    }
    cJSON_Delete(root);
}

const struct source_endpoint *source_endpoint_find(const char *service,
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

size_t source_endpoint_count(void)
{
    pthread_once(&g_once, load_table);
    return g_nendpoints;
}

const struct source_endpoint *source_endpoint_at(size_t i)
{
    pthread_once(&g_once, load_table);
    return i < g_nendpoints ? &g_endpoints[i] : NULL;
}

const char *source_codebase(const char *service)
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

/* ---- sleeping and the token bucket ---- */

#define SOURCE_SLEEP_SLICE_MS 50

enum bf_rc source_sleep(int64_t ms, const struct task_cancel *cancel,
                        struct bf_err *err)
{
    int64_t deadline = time_mono_ms() + ms;

    for (;;) {
        int64_t left = deadline - time_mono_ms();
        int64_t step = left < SOURCE_SLEEP_SLICE_MS ? left : SOURCE_SLEEP_SLICE_MS;
        struct timespec ts;

        if (cancel != NULL && task_cancelled(cancel))
            return bf_err_set(err, BF_E_CANCELLED, "cancelled while waiting");
        if (left <= 0)
            return BF_OK;
        ts.tv_sec = step / 1000;
        ts.tv_nsec = (long)(step % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

struct source_ratelimit {
    pthread_mutex_t mu;
    double rps;
    double burst;
    double tokens;
    int64_t last_ms;
};

struct source_ratelimit *source_ratelimit_new(double rps, double burst)
{
    struct source_ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl == NULL)
        return NULL;
    pthread_mutex_init(&rl->mu, NULL);
    rl->rps = rps;
    rl->burst = burst < 1.0 ? 1.0 : burst;
    rl->tokens = rl->burst;
    rl->last_ms = time_mono_ms();
    return rl;
}

void source_ratelimit_free(struct source_ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

/* Take a token if there is one; otherwise say how long until there is. The
 * wait happens outside the lock so other slots are not blocked by it. */
static int64_t ratelimit_try(struct source_ratelimit *rl)
{
    int64_t now = time_mono_ms();
    int64_t wait = 0;

    pthread_mutex_lock(&rl->mu);
    rl->tokens += (double)(now - rl->last_ms) * rl->rps / 1000.0;
    if (rl->tokens > rl->burst)
        rl->tokens = rl->burst;
    rl->last_ms = now;
    if (rl->tokens >= 1.0)
        rl->tokens -= 1.0;
    else
        wait = (int64_t)ceil((1.0 - rl->tokens) * 1000.0 / rl->rps);
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

enum bf_rc source_ratelimit_acquire(struct source_ratelimit *rl,
                                    const struct task_cancel *cancel,
                                    struct bf_err *err)
{
    if (rl == NULL || rl->rps <= 0)
        return BF_OK;
    for (;;) {
        int64_t wait = ratelimit_try(rl);
        enum bf_rc rc;

        if (wait == 0)
            return BF_OK;
        rc = source_sleep(wait, cancel, err);
        if (rc != BF_OK)
            return rc;
    }
}

/* ---- dispatch ---- */

enum bf_rc source_next_page(struct source *s, const struct source_page **out,
                            struct bf_err *err)
{
    return s->ops->next_page(s, out, err);
}

void source_close(struct source *s)
{
    if (s != NULL)
        s->ops->close(s);
}
