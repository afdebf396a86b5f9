/* cancel.c -- a cancellation flag and the sleep it cuts short (cancel.h).
 *
 * The flag is atomic so the hot checks (between pages, curl's progress
 * callback) take no lock. The mutex and condition variable exist only for
 * sleepers: task_cancel_set() stores the flag and broadcasts under the
 * lock, and a sleeper checks the flag under the same lock before it waits,
 * so a set can never fall between a sleeper's look and its wait. This is
 * not a util/waker: a waker has one sleeper and a kick is consumed by the
 * thread it wakes, while a cancellation stays set and may have several
 * sleepers (a chunk and its page prefetcher).
 */
#include "util/cancel.h"

#include <errno.h>
#include <time.h>

#include "util/timeutil.h"

void task_cancel_init(struct task_cancel *c)
{
    pthread_condattr_t attr;

    atomic_init(&c->flag, 0);
    atomic_init(&c->reason, BF_OK);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &attr);
    pthread_condattr_destroy(&attr);
}

void task_cancel_destroy(struct task_cancel *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

void task_cancel_reset(struct task_cancel *c)
{
    atomic_store(&c->reason, BF_OK);
    atomic_store(&c->flag, 0);
}

void task_cancel_set(struct task_cancel *c, enum bf_rc reason)
{
    int expected = BF_OK;

    /* The first reason wins: a heartbeat cancel is not turned into a
     * shutdown after the fact, or the other way round. The reason is
     * stored before the flag, so whoever sees the flag sees a reason. */
    pthread_mutex_lock(&c->lock);
    atomic_compare_exchange_strong(&c->reason, &expected, (int)reason);
    atomic_store(&c->flag, 1);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

int task_cancelled(const struct task_cancel *c)
{
    return atomic_load(&((struct task_cancel *)c)->flag) != 0;
}

enum bf_rc task_cancel_reason(const struct task_cancel *c)
{
    return (enum bf_rc)atomic_load(&((struct task_cancel *)c)->reason);
}

enum bf_rc task_cancel_sleep(const struct task_cancel *cc, int64_t ms,
                             struct bf_err *err)
{
    /* The lock and condition variable are the sleepers' state, not the
     * flag's; callers hold the cancellation read-only, as they should. */
    struct task_cancel *c = (struct task_cancel *)cc;
    int64_t deadline = time_mono_ms() + ms;
    struct timespec ts;
    int cancelled;

    if (c == NULL) {
        time_sleep_ms((long)ms);
        return BF_OK;
    }
    ts.tv_sec = (time_t)(deadline / 1000);
    ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
    pthread_mutex_lock(&c->lock);
    while (atomic_load(&c->flag) == 0 && time_mono_ms() < deadline)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            break;
    cancelled = atomic_load(&c->flag) != 0;
    pthread_mutex_unlock(&c->lock);
    if (cancelled)
        return bf_err_set(err, BF_E_CANCELLED, "cancelled while waiting");
    return BF_OK;
}
