/* waker.c -- sleep until a deadline or a kick (see waker.h).
 *
 * A mutex, a condition variable on CLOCK_MONOTONIC (so a wall-clock step
 * cannot stretch a sleep) and two fields: `kicked`, which keeps a kick
 * that arrives while the thread is awake, and `until`, which lets
 * waker_kick_by() skip a wake-up the thread's own deadline already
 * covers.
 */
#include "util/waker.h"

#include <errno.h>
#include <time.h>

void waker_init(struct waker *k)
{
    pthread_condattr_t attr;

    pthread_mutex_init(&k->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cond, &attr);
    pthread_condattr_destroy(&attr);
    k->kicked = 0;
    k->until = WAKER_AWAKE;
}

void waker_destroy(struct waker *k)
{
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->lock);
}

void waker_kick_by(struct waker *k, int64_t due_ms)
{
    pthread_mutex_lock(&k->lock);
    if (k->until < 0 || due_ms < k->until) {
        k->kicked = 1;
        pthread_cond_signal(&k->cond);
    }
    pthread_mutex_unlock(&k->lock);
}

void waker_kick(struct waker *k)
{
    waker_kick_by(k, WAKER_FOREVER);
}

void waker_wait(struct waker *k, int64_t deadline_ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(deadline_ms / 1000);
    ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
    pthread_mutex_lock(&k->lock);
    k->until = deadline_ms;
    while (!k->kicked) {
        if (deadline_ms < 0)
            pthread_cond_wait(&k->cond, &k->lock);
        else if (pthread_cond_timedwait(&k->cond, &k->lock, &ts) == ETIMEDOUT)
            break;
    }
    k->kicked = 0;
    k->until = WAKER_AWAKE;
    pthread_mutex_unlock(&k->lock);
}
