/* worker.h -- the activity worker: slots, heartbeats, shutdown and drain.
 *
 * worker_run() polls one activity with N slot threads (a slot polls only
 * when it is free, so the worker never holds a task it cannot start), runs
 * each task through a task_handler, heartbeats every running task from one
 * dedicated thread, and answers every task it took exactly once. It returns
 * after a clean drain once a stop is requested (worker_signal() from a
 * signal handler, or the options' own stop counter in tests).
 */
#ifndef BF_WORKER_WORKER_H
#define BF_WORKER_WORKER_H

#include <stdatomic.h>

#include "aws/awsenv.h"
#include "task/task.h"
#include "util/err.h"

/* Tasks of other kinds on the same activity (the fleet's plan and summary,
 * include/fleet/fleet.h): when `accepts` says yes for an input, the slot
 * runs `run` instead of the chunk handler, heartbeating every
 * heartbeat_seconds / 3, and sends `*output` as the task's output. */
struct worker_extra_handler {
    int (*accepts)(void *ctx, const char *input);
    enum bf_rc (*run)(void *ctx, const char *input, struct task_cancel *cancel,
                      char **output, struct bf_err *err);
    void *ctx;
    int heartbeat_seconds;
};

struct worker_options {
    const char *activity_arn;
    const char *worker_name;
    int concurrency;            /* slots, >= 1 */
    int drain_seconds;          /* time running tasks get after a stop */
    struct awsenv *aws;         /* borrowed; must outlive worker_run */
    struct task_handler handler;
    int metrics_emf;            /* print EMF metric lines on stdout */
    const char *metrics_namespace;
    int poll_backoff_base_ms;   /* 0 = 250: first backoff after a failed poll */
    int poll_backoff_cap_ms;    /* 0 = 20000 */
    int cancel_grace_ms;        /* 0 = 10000: after the drain, how long a
                                   cancelled handler may take to return
                                   before the task is answered without it */
    atomic_int *stop;           /* NULL = the process signal counter */
    struct worker_extra_handler extra; /* run == NULL: chunks only */
};

/* Async-signal-safe: count one SIGTERM/SIGINT. The first starts the
 * shutdown, a second shortens the drain. */
void worker_signal(void);

/* Run until stopped and drained. BF_OK after a clean drain; BF_E_CONFIG /
 * BF_E_AWS when start-up finds the activity unusable (ActivityDoesNotExist,
 * InvalidArn, access denied), with a clear message in `err`.
 * BF_E_WORKER_SHUTDOWN when a handler ignored its cancellation past
 * cancel_grace_ms: its task was answered, but its thread still runs, so the
 * caller must keep the handler's ctx alive and should just exit. The worker
 * copies `opts` and takes its own reference to `opts->aws`; a thread left
 * running frees the worker's memory itself when its handler returns. */
enum bf_rc worker_run(const struct worker_options *opts, struct bf_err *err);

/* The diagnostic `noop` handler: sleeps `*(int *)ctx` milliseconds in small
 * steps (honouring cancellation) and succeeds with zero counts. */
enum bf_rc worker_noop_run(void *ctx, const struct task_input *in,
                           struct task_cancel *cancel, struct task_result *out,
                           struct bf_err *err);

/* Run one task input through the exact task code path (parse, validate,
 * handler, result or failure) without Step Functions. `*out` is the
 * SendTaskSuccess output or {"error":..., "cause":...}; returns the rc. */
enum bf_rc worker_run_one(const struct task_handler *h, const char *worker_name,
                          const char *input, size_t len, char **out,
                          struct bf_err *err);

#endif
