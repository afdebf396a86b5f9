/* cancel.h -- cooperative cancellation of one running task, and the one
 * sleep that a cancellation cuts short.
 *
 * The worker sets it (a heartbeat answered TaskTimedOut, or the shutdown
 * drain ran out); the handler checks it between pages and parts, the HTTP
 * request in flight watches `flag` (http_request.abandon), and every wait
 * inside a task (retry backoff, the rate limiter) is task_cancel_sleep(),
 * which returns as soon as the flag is set rather than at the end of the
 * wait. It lives in util, below task and source, because both need it and
 * neither may include the other.
 */
#ifndef BF_UTIL_CANCEL_H
#define BF_UTIL_CANCEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "util/err.h"

struct task_cancel {
    atomic_int flag;
    atomic_int reason;      /* enum bf_rc: BF_E_CANCELLED or
                               BF_E_WORKER_SHUTDOWN; BF_OK while not set */
    pthread_mutex_t lock;   /* guards nothing but the sleepers' wake-up */
    pthread_cond_t cond;    /* on CLOCK_MONOTONIC, like time_mono_ms() */
};

void task_cancel_init(struct task_cancel *c);
void task_cancel_destroy(struct task_cancel *c);

/* Clear it for the next task. Only while nothing is running on it. */
void task_cancel_reset(struct task_cancel *c);

/* Set it and wake every task_cancel_sleep() on it. The first reason wins. */
void task_cancel_set(struct task_cancel *c, enum bf_rc reason);

int task_cancelled(const struct task_cancel *c);

/* BF_OK while not set, else the reason task_cancel_set() was given. */
enum bf_rc task_cancel_reason(const struct task_cancel *c);

/* Sleep `ms` (nothing for ms <= 0), or less when `c` is set first:
 * BF_OK when the whole time passed, BF_E_CANCELLED (`err` says "cancelled
 * while waiting") when it was cut short or was set already. `c` may be
 * NULL: a plain sleep. Several threads may sleep on one `c`. */
enum bf_rc task_cancel_sleep(const struct task_cancel *c, int64_t ms,
                             struct bf_err *err);

#endif
