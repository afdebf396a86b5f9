/* source.c -- the source factory, the per-tenant rate limiter and the
 * source interface's dispatch.
 *
 * source_open() picks the implementation (ConnectWise or the ingestion
 * Lambda) and hands each the parameters it reads; the ConnectWise secret is
 * parsed here into a stack copy that is wiped as soon as cw_open() has
 * taken its own. The rate limiter is a token bucket behind a mutex, shared
 * by all slots of one tenant. Which tables a service has lives in the
 * endpoint catalog (catalog/catalog.h), one layer below.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"
#include "source/cw.h"
#include "source/lambda_ingest.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- the token bucket ---- */

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
        rc = task_cancel_sleep(cancel, wait, err);
        if (rc != BF_OK)
            return rc;
    }
}

/* ---- the factory ---- */

static enum bf_rc open_connectwise(const struct source_open_params *p,
                                   struct source **out, struct bf_err *err)
{
    struct cw_creds creds;
    struct cw_params cp;
    enum bf_rc rc;

    memset(&creds, 0, sizeof(creds));
    rc = cw_creds_parse(p->secret != NULL ? p->secret : "", p->secret_len,
                        p->secret_name != NULL ? p->secret_name : "",
                        p->in->service, &creds, err);
    if (rc != BF_OK)
        return rc;
    memset(&cp, 0, sizeof(cp));
    cp.ep = p->ep;
    cp.creds = &creds;
    cp.start_ms = p->in->start_ms;
    cp.end_ms = p->in->end_ms;
    cp.cancel = p->cancel;
    cp.ratelimit = p->ratelimit;
    cp.ca_bundle = p->ca_bundle;
    cp.opts.max_attempts_429 = p->opts.max_attempts_429;
    cp.opts.max_attempts_5xx = p->opts.max_attempts_5xx;
    cp.opts.backoff_base_ms = p->opts.backoff_base_ms;
    cp.opts.backoff_max_ms = p->opts.backoff_max_ms;
    cp.opts.page_size = p->opts.page_size;
    cp.opts.timeout_ms = p->opts.timeout_ms;
    rc = cw_open(&cp, out, err);
    cw_creds_wipe(&creds);
    return rc;
}

enum bf_rc source_open(const struct source_open_params *p, struct source **out,
                       struct bf_err *err)
{
    *out = NULL;
    switch (p->mode) {
    case SOURCE_CONNECTWISE:
        return open_connectwise(p, out, err);
    case SOURCE_LAMBDA:
        return lambda_ingest_open(p, out, err);
    }
    return bf_err_set(err, BF_E_INTERNAL, "unknown source mode %d",
                      (int)p->mode);
}

int source_writes_raw(enum source_mode mode)
{
    return mode == SOURCE_LAMBDA;
}

source_secret_check_fn source_secret_check(enum source_mode mode)
{
    return mode == SOURCE_CONNECTWISE ? cw_secret_check : NULL;
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
