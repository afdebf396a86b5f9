/* waker.h -- a thread that sleeps until a deadline or until it is kicked.
 *
 * The worker's housekeeping threads (heartbeats, the shutdown coordinator)
 * have nothing to do most of the time; waking them on a fixed tick costs a
 * context switch each time, which an idle worker with many slots pays
 * hundreds of times a second. A waker lets them sleep until the next
 * thing they know is due, and lets other threads wake them early when
 * something new happens. A kick sent while the thread is awake is kept,
 * so it cannot be lost between the thread's last look and its sleep.
 */
#ifndef BF_UTIL_WAKER_H
#define BF_UTIL_WAKER_H

#include <pthread.h>
#include <stdint.h>

#define WAKER_FOREVER (-1)      /* waker_wait: no deadline */
#define WAKER_AWAKE   (-2)      /* `until` while not sleeping: every kick
                                   counts, it may have missed a change */

struct waker {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* on CLOCK_MONOTONIC, like time_mono_ms() */
    int kicked;
    int64_t until;              /* the sleep's deadline, WAKER_FOREVER or
                                   WAKER_AWAKE */
};

void waker_init(struct waker *k);
void waker_destroy(struct waker *k);

/* Sleep until `deadline_ms` (time_mono_ms() clock; WAKER_FOREVER: none)
 * or a kick, whichever comes first; a kick sent since the last wait
 * returns at once. */
void waker_wait(struct waker *k, int64_t deadline_ms);

/* Wake the thread (now, or its next wait returns at once). */
void waker_kick(struct waker *k);

/* Wake it only if it would otherwise sleep past `due_ms`: a task start
 * passes its first heartbeat time, so a stream of short tasks does not
 * wake the heartbeat thread once per task. */
void waker_kick_by(struct waker *k, int64_t due_ms);

#endif
