/* creds_cached.c -- keeps the inner provider's credentials and refreshes
 * them before they expire.
 *
 * get() is called on every signed request, so it must be cheap and must
 * never wait on the network while usable credentials exist. One thread at a
 * time refreshes (the "refreshing" flag), without holding the lock; the
 * others keep handing out the current credentials while those are still
 * valid, and only wait (on a condition variable) when nothing valid is
 * left. The clock is a seam so tests can move time.
 */
#include "aws/creds.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/log.h"
#include "util/timeutil.h"

#define DEFAULT_REFRESH_MS (5 * 60 * 1000)

struct cached_impl {
    struct creds_provider base;
    struct creds_provider *inner;
    int64_t refresh_ms;
    struct creds_seams seams;
    pthread_mutex_t lock;
    pthread_cond_t done;  /* signalled when a refresh finishes */
    struct creds creds;   /* valid when have == 1 */
    int have;
    int refreshing;
    int64_t retry_at_ms;  /* after a failed early refresh, wait until then */
};

/* After a failed refresh ahead of expiry, how long to keep using the
 * current credentials before asking again (so a dead metadata service is
 * not asked on every request). */
#define RETRY_AFTER_FAILURE_MS 10000

static int64_t now_ms(const struct cached_impl *c)
{
    if (c->seams.now_ms != NULL)
        return c->seams.now_ms(c->seams.clock_ctx);
    return time_now_ms();
}

/* Still usable for signing (caller holds the lock). */
static int usable(const struct cached_impl *c, int64_t now)
{
    return c->have && (c->creds.expiration_ms == 0 ||
                       now < c->creds.expiration_ms);
}

/* Fresh enough that nobody needs to refresh (caller holds the lock). */
static int fresh(const struct cached_impl *c, int64_t now)
{
    return c->have && (c->creds.expiration_ms == 0 ||
                       now < c->creds.expiration_ms - c->refresh_ms);
}

/* Ask the inner provider with the lock released; store what it gives.
 * Called with the lock held and `refreshing` set; returns with the lock
 * held and `refreshing` cleared. */
static enum bf_rc refresh_locked(struct cached_impl *c, struct bf_err *err)
{
    struct creds fresh_creds;
    enum bf_rc rc;

    pthread_mutex_unlock(&c->lock);
    rc = creds_provider_get(c->inner, &fresh_creds, err);
    pthread_mutex_lock(&c->lock);
    if (rc == BF_OK) {
        c->creds = fresh_creds;
        c->have = 1;
    }
    creds_wipe(&fresh_creds);
    c->refreshing = 0;
    pthread_cond_broadcast(&c->done);
    return rc;
}

static enum bf_rc cached_get(struct creds_provider *p, struct creds *out,
                             struct bf_err *err)
{
    struct cached_impl *c = p->impl;
    enum bf_rc rc = BF_OK;
    int64_t now;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        now = now_ms(c);
        if (fresh(c, now) || (usable(c, now) && now < c->retry_at_ms))
            break;
        if (c->refreshing) {
            /* Someone else is refreshing: use what we have meanwhile. */
            if (usable(c, now))
                break;
            pthread_cond_wait(&c->done, &c->lock);
            continue;
        }
        c->refreshing = 1;
        rc = refresh_locked(c, err);
        now = now_ms(c);
        if (rc == BF_OK)
            break;
        if (usable(c, now)) {
            /* Refresh failed early: the old ones still work; retry later. */
            log_msg(LOG_WARN, "creds_refresh_failed",
                    "refresh ahead of expiry failed (%s); keeping current "
                    "credentials", bf_rc_str(rc));
            c->retry_at_ms = now + RETRY_AFTER_FAILURE_MS;
            rc = BF_OK;
            break;
        }
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    *out = c->creds;
    pthread_mutex_unlock(&c->lock);
    return BF_OK;
}

static void cached_destroy(struct creds_provider *p)
{
    struct cached_impl *c = p->impl;

    creds_provider_release(c->inner);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->done);
    OPENSSL_cleanse(&c->creds, sizeof(c->creds));
    free(c);
}

static const struct creds_provider_vtable cached_vtable = {
    cached_get, cached_destroy
};

struct creds_provider *
creds_provider_new_cached(struct creds_provider *inner, int64_t refresh_ms,
                          const struct creds_seams *seams)
{
    struct cached_impl *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->inner = creds_provider_acquire(inner);
    c->refresh_ms = refresh_ms > 0 ? refresh_ms : DEFAULT_REFRESH_MS;
    if (seams != NULL)
        c->seams = *seams;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->done, NULL);
    creds_provider_init(&c->base, &cached_vtable, "cached", c);
    return &c->base;
}
