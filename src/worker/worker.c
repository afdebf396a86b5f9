/* worker.c -- slots, heartbeats, shutdown and drain for one activity.
 *
 * Threads: N slot threads (each polls only while it is free, then runs the
 * task it got), one heartbeat thread (the only one that sends heartbeats,
 * so a hung handler cannot delay anyone's heartbeat), and the caller's
 * thread as the coordinator (watches for stop requests, runs the drain
 * clock, cancels and, as a last resort, answers tasks whose handler does
 * not return). Neither housekeeping thread ticks while nothing happens: the
 * heartbeat thread sleeps until the next heartbeat is due or a task starts,
 * the coordinator until a slot ends, a fatal error, or its tick (fast only
 * while draining; a stop signal can only set a flag, so it is polled).
 * Every answer goes through answer_claim(), a compare-and-swap
 * on the slot, so each task is answered at most once; every path that
 * holds a token ends in an answer, so each task is answered exactly once
 * unless Step Functions closed it first (then nothing more is sent).
 */
#include "worker/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/retry.h"
#include "aws/sfn.h"
#include "util/backoff.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/waker.h"
#include "worker/answer.h"
#include "worker/metrics.h"

#define ANSWER_ROUNDS 5
/* How often a sleeping thread looks at the stop flag: a signal handler can
 * only set an atomic, so this bounds how late a SIGTERM starts the drain
 * clock or ends a slot's backoff. While draining, the coordinator ticks
 * faster so deadlines are kept. */
#define STOP_CHECK_MS 250
#define COORD_DRAIN_TICK_MS 20

enum slot_state { SLOT_IDLE = 0, SLOT_POLLING, SLOT_HELD, SLOT_DONE };

struct worker;

struct slot {
    struct worker *w;
    int index;
    pthread_t thread;
    int started;
    atomic_int state;           /* enum slot_state */
    pthread_mutex_t lock;       /* token, hb_*; held during a heartbeat call */
    char *token;                /* while SLOT_HELD; owned by the slot thread */
    char token_hash[13];
    int hb_active;
    int64_t hb_interval_ms;
    int64_t hb_next_ms;
    struct task_cancel cancel;
    atomic_int answered;        /* claimed by whoever answers */
    atomic_int closed;          /* a heartbeat said the task is gone */
    uint64_t rng;
};

struct worker {
    const struct worker_options *o; /* points at `opts` */
    struct worker_options opts;     /* a copy: may outlive the caller's */
    char arn[257];
    char name[81];
    char ns[128];
    struct slot *slots;
    atomic_int *stop;
    atomic_int fatal;           /* enum bf_rc of a fatal poll error, or 0 */
    pthread_mutex_t fatal_lock;
    struct bf_err fatal_err;
    atomic_int hb_quit;
    struct waker hb_wake;       /* kicked when a heartbeat clock starts */
    struct waker coord_wake;    /* kicked when a slot ends or goes fatal */
    atomic_int refs;            /* worker_run + each slot thread */
    struct metrics metrics;
};

static void worker_unref(struct worker *w);

/* The one process-wide flag: how many stop signals arrived. */
static atomic_int signal_count;

void worker_signal(void)
{
    atomic_fetch_add(&signal_count, 1);
}

static int stopping(struct worker *w)
{
    return atomic_load(w->stop) > 0 || atomic_load(&w->fatal) != 0;
}

/* --- answering ---------------------------------------------------------- */

static int answer_claim(struct slot *s)
{
    int expected = 0;

    return atomic_compare_exchange_strong(&s->answered, &expected, 1);
}

static void log_task(struct log_line *l, const struct slot *s,
                     const struct task_input *in)
{
    log_str(l, "token", s->token_hash);
    log_int(l, "slot", s->index);
    if (in == NULL)
        return;
    log_str(l, "tenant", in->tenant_id);
    log_str(l, "table", in->table_name);
    log_int(l, "chunk", in->chunk_number);
    log_int(l, "attempt", in->attempt);
}

/* One Send* call for the answer. */
static enum bf_rc answer_call(struct awsjson_client *c, const char *token,
                              const struct answer *a, struct bf_err *err)
{
    if (a->rc == BF_OK)
        return sfn_send_success(c, token, a->output, err);
    return sfn_send_failure(c, token, a->error,
                            a->cause != NULL ? a->cause : "{}", err);
}

/* Send one answer (prepared by answer.c) with the slot's token. The caller
 * has claimed the answer. awsjson already retries throttling, 5xx and
 * transport errors a few times; an answer matters more than one call, so
 * when those retries run out we try again a few rounds (1, 2, 4, 8 s)
 * before giving up (the state machine then sees a heartbeat timeout). */
static void answer_send(struct slot *s, struct awsjson_client *c,
                        const char *token, const struct answer *a,
                        const struct task_input *in)
{
    struct bf_err err;
    struct log_line l;
    enum bf_rc rc;
    int round;

    for (round = 1;; round++) {
        bf_err_init(&err);
        rc = answer_call(c, token, a, &err);
        if (rc == BF_OK)
            return;
        if (sfn_task_closed(&err)) {
            /* The state machine retries the chunk; outputs are idempotent. */
            if (log_begin(&l, LOG_WARN, "result_not_accepted")) {
                log_task(&l, s, in);
                log_str(&l, "msg", "result not accepted");
                log_str(&l, "aws_code", err.aws_code);
                log_end(&l);
            }
            return;
        }
        if (round >= ANSWER_ROUNDS ||
            !retry_is_retryable(rc == BF_E_TRANSPORT ? 0 : err.http_status,
                                  err.aws_code))
            break;
        log_msg(LOG_WARN, "answer_retry", "slot %d round %d: %s", s->index,
                round, err.message);
        time_sleep_ms(1000 << (round - 1));
    }
    if (log_begin(&l, LOG_ERROR, "answer_failed")) {
        log_task(&l, s, in);
        log_str(&l, "error", bf_rc_str(rc));
        log_str(&l, "msg", err.message);
        log_end(&l);
    }
}

static void answer_and_log(struct slot *s, struct awsjson_client *c,
                           const struct answer *a, const struct task_input *in,
                           int64_t duration_ms)
{
    struct log_line l;

    if (!answer_claim(s))
        return; /* the coordinator answered it already */
    answer_send(s, c, s->token, a, in);
    if (log_begin(&l, a->rc == BF_OK ? LOG_INFO : LOG_WARN,
                  a->rc == BF_OK ? "task_succeeded" : "task_failed")) {
        log_task(&l, s, in);
        log_int(&l, "duration_ms", duration_ms);
        if (a->rc != BF_OK) {
            log_str(&l, "error", a->error);
            log_str(&l, "msg", a->message);
        }
        log_end(&l);
    }
    if (a->rc == BF_OK)
        metrics_task_succeeded(&s->w->metrics, duration_ms, a->records);
    else
        metrics_task_failed(&s->w->metrics, a->error, duration_ms);
}

static void fail_now(struct slot *s, struct awsjson_client *c, enum bf_rc rc,
                     const char *message, const struct task_input *in)
{
    struct bf_err err;
    struct answer a;

    bf_err_init(&err);
    bf_err_set(&err, rc, "%s", message);
    answer_from_error(&a, rc, &err);
    answer_and_log(s, c, &a, in, 0);
    answer_cleanup(&a);
}

/* --- heartbeats --------------------------------------------------------- */

static void heartbeat_start(struct slot *s, int heartbeat_seconds)
{
    int64_t interval = (int64_t)heartbeat_seconds * 1000 / 3;
    int64_t due;

    pthread_mutex_lock(&s->lock);
    s->hb_interval_ms = interval > 0 ? interval : 1;
    due = s->hb_next_ms = time_mono_ms() + s->hb_interval_ms;
    s->hb_active = 1;
    pthread_mutex_unlock(&s->lock);
    waker_kick_by(&s->w->hb_wake, due);
}

/* Returns with no heartbeat in flight for this slot (the heartbeat thread
 * holds the lock during its call). No kick: the heartbeat thread finds the
 * clock stopped when it wakes. */
static void heartbeat_stop(struct slot *s)
{
    pthread_mutex_lock(&s->lock);
    s->hb_active = 0;
    pthread_mutex_unlock(&s->lock);
}

/* Under s->lock. An answered or closed task gets no more heartbeats. */
static int heartbeat_wanted(const struct slot *s)
{
    return s->hb_active && !atomic_load(&s->answered) && !atomic_load(&s->closed);
}

static void heartbeat_one(struct worker *w, struct slot *s,
                          struct awsjson_client *c)
{
    struct bf_err err;
    struct log_line l;

    bf_err_init(&err);
    if (sfn_send_heartbeat(c, s->token, &err) == BF_OK)
        return;
    metrics_heartbeat_failed(&w->metrics);
    if (!sfn_task_closed(&err)) {
        if (log_begin(&l, LOG_WARN, "heartbeat_failed")) {
            log_task(&l, s, NULL);
            log_str(&l, "msg", err.message);
            log_end(&l);
        }
        return;
    }
    /* The execution stopped, a sibling failed the Map or the heartbeat
     * deadline passed: nothing we send for this task will be accepted. */
    atomic_store(&s->closed, 1);
    s->hb_active = 0;
    task_cancel_set(&s->cancel, BF_E_CANCELLED);
    if (log_begin(&l, LOG_WARN, "task_cancelled")) {
        log_task(&l, s, NULL);
        log_str(&l, "reason", err.aws_code);
        log_str(&l, "msg", "heartbeat rejected; cancelling, sending nothing more");
        log_end(&l);
    }
}

static void *heartbeat_main(void *arg)
{
    struct worker *w = arg;
    struct awsjson_client *c = NULL;
    struct bf_err err;
    int i;

    pthread_setname_np(pthread_self(), "bf-heartbeat");
    bf_err_init(&err);
    if (sfn_client_new(w->o->aws, &c, &err) != BF_OK) {
        log_msg(LOG_ERROR, "heartbeat_thread_failed", "%s", err.message);
        return NULL;
    }
    while (!atomic_load(&w->hb_quit)) {
        int64_t next = WAKER_FOREVER; /* the earliest heartbeat due */

        for (i = 0; i < w->o->concurrency; i++) {
            struct slot *s = &w->slots[i];
            int64_t now = time_mono_ms();

            pthread_mutex_lock(&s->lock);
            if (heartbeat_wanted(s) && now >= s->hb_next_ms) {
                s->hb_next_ms = now + s->hb_interval_ms;
                heartbeat_one(w, s, c);
            }
            if (heartbeat_wanted(s) && (next < 0 || s->hb_next_ms < next))
                next = s->hb_next_ms;
            pthread_mutex_unlock(&s->lock);
        }
        waker_wait(&w->hb_wake, next);
    }
    awsjson_client_free(c);
    return NULL;
}

/* --- one task ------------------------------------------------------------ */

/* A task of another kind (worker_extra_handler): answered like a chunk. */
static void run_extra(struct slot *s, struct awsjson_client *c, const char *input)
{
    const struct worker_extra_handler *x = &s->w->o->extra;
    struct bf_err err;
    struct answer a;
    char *out = NULL;
    int64_t t0 = time_mono_ms();
    enum bf_rc rc;

    bf_err_init(&err);
    heartbeat_start(s, x->heartbeat_seconds > 0 ? x->heartbeat_seconds : 60);
    rc = x->run(x->ctx, input, &s->cancel, &out, &err);
    heartbeat_stop(s);
    if (atomic_load(&s->closed)) {
        free(out);
        return;
    }
    memset(&a, 0, sizeof a);
    if (rc == BF_OK && out != NULL) {
        a.rc = BF_OK;
        a.output = out;
        a.records = -1;
    } else {
        free(out);
        answer_from_error(&a, rc == BF_OK ? BF_E_INTERNAL : rc, &err);
    }
    answer_and_log(s, c, &a, NULL, time_mono_ms() - t0);
    answer_cleanup(&a);
}

static void run_task(struct slot *s, struct awsjson_client *c, const char *input)
{
    struct worker *w = s->w;
    struct task_input in;
    struct task_result r;
    struct bf_err err;
    struct answer a;
    struct log_line l;
    int64_t t0;
    enum bf_rc rc;

    if (w->o->extra.run != NULL && w->o->extra.accepts(w->o->extra.ctx, input)) {
        run_extra(s, c, input);
        return;
    }
    bf_err_init(&err);
    rc = task_input_parse(input, strlen(input), &in, &err);
    if (rc != BF_OK) {
        answer_from_error(&a, rc, &err);
        answer_and_log(s, c, &a, NULL, 0);
        answer_cleanup(&a);
        return;
    }
    if (log_begin(&l, LOG_INFO, "task_started")) {
        log_task(&l, s, &in);
        log_str(&l, "start", in.start_date);
        log_str(&l, "end", in.end_date);
        log_end(&l);
    }
    metrics_task_started(&w->metrics);
    heartbeat_start(s, in.heartbeat_seconds);
    task_result_init(&r);
    t0 = time_mono_ms();
    rc = w->o->handler.run(w->o->handler.ctx, &in, &s->cancel, &r, &err);
    r.duration_ms = time_mono_ms() - t0;
    heartbeat_stop(s);
    if (atomic_load(&s->closed)) {
        if (log_begin(&l, LOG_WARN, "task_abandoned")) {
            log_task(&l, s, &in);
            log_str(&l, "msg", "Step Functions closed the task; nothing sent");
            log_int(&l, "duration_ms", r.duration_ms);
            log_end(&l);
        }
        return;
    }
    if (rc != BF_OK && task_cancelled(&s->cancel)) {
        /* The drain ran out: the state machine retries WorkerShutdown. */
        rc = BF_E_WORKER_SHUTDOWN;
        bf_err_set(&err, rc, "worker shutting down; chunk cancelled");
    }
    answer_prepare(&a, &in, rc, &r, &err, w->o->worker_name);
    answer_and_log(s, c, &a, &in, r.duration_ms);
    answer_cleanup(&a);
}

static void hold_task(struct slot *s, struct awsjson_client *c, char *token,
                      const char *input)
{
    struct log_line l;

    pthread_mutex_lock(&s->lock);
    s->token = token;
    log_token_hash(token, s->token_hash);
    atomic_store(&s->answered, 0);
    atomic_store(&s->closed, 0);
    /* Reset, not re-init: the coordinator may read the flag concurrently. */
    task_cancel_reset(&s->cancel);
    atomic_store(&s->state, SLOT_HELD);
    pthread_mutex_unlock(&s->lock);
    /* Debug: at info, task_started (or task_failed, for input that does
     * not parse) follows at once with more, and a line costs a syscall. */
    if (log_begin(&l, LOG_DEBUG, "task_received")) {
        log_task(&l, s, NULL);
        log_int(&l, "input_bytes", (int64_t)strlen(input));
        log_end(&l);
    }
    if (stopping(s->w))
        fail_now(s, c, BF_E_WORKER_SHUTDOWN,
                 "worker shutting down; task not started", NULL);
    else
        run_task(s, c, input);
    pthread_mutex_lock(&s->lock);
    s->token = NULL;
    atomic_store(&s->state, SLOT_IDLE);
    pthread_mutex_unlock(&s->lock);
}

/* --- polling ------------------------------------------------------------- */

static int fatal_poll_error(const struct bf_err *err)
{
    static const char *const codes[] = {
        "ActivityDoesNotExist", "InvalidArn", "AccessDeniedException",
        "AccessDenied", "UnrecognizedClientException",
    };
    size_t i;

    if (err->rc == BF_E_CONFIG)
        return 1;
    if (err->rc != BF_E_AWS)
        return 0;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(err->aws_code, codes[i]) == 0)
            return 1;
    return 0;
}

static void set_fatal(struct worker *w, const struct bf_err *err)
{
    pthread_mutex_lock(&w->fatal_lock);
    if (atomic_load(&w->fatal) == 0) {
        w->fatal_err = *err;
        atomic_store(&w->fatal, err->rc != BF_OK ? (int)err->rc : BF_E_INTERNAL);
    }
    pthread_mutex_unlock(&w->fatal_lock);
    waker_kick(&w->coord_wake);
}

/* Capped exponential backoff with equal jitter (util/backoff.h), slept in steps of
 * STOP_CHECK_MS so a stop request is seen soon (16 slots backing off while
 * the endpoint is down should not wake 50 times a second each). */
static void backoff(struct slot *s, int failures)
{
    const struct worker_options *o = s->w->o;
    int64_t base = o->poll_backoff_base_ms > 0 ? o->poll_backoff_base_ms : 250;
    int64_t cap = o->poll_backoff_cap_ms > 0 ? o->poll_backoff_cap_ms : 20000;
    int64_t d = backoff_ms(failures, base, cap, BACKOFF_EQUAL, &s->rng);
    int64_t end, left;

    end = time_mono_ms() + d;
    while (!stopping(s->w) && (left = end - time_mono_ms()) > 0)
        time_sleep_ms(left < STOP_CHECK_MS ? left : STOP_CHECK_MS);
}

static void poll_failed(struct slot *s, const struct bf_err *err, int failures)
{
    struct log_line l;

    if (fatal_poll_error(err)) {
        set_fatal(s->w, err);
        return;
    }
    if (log_begin(&l, LOG_WARN, "poll_failed")) {
        log_int(&l, "slot", s->index);
        log_int(&l, "failures", failures);
        log_str(&l, "error", bf_rc_str(err->rc));
        log_str(&l, "msg", err->message);
        log_end(&l);
    }
    backoff(s, failures);
}

static void *slot_main(void *arg)
{
    struct slot *s = arg;
    struct worker *w = s->w;
    struct awsjson_client *c = NULL;
    struct bf_err err;
    char name[16];
    int failures = 0;

    /* Named threads: `top -H` and `ps -L` show which slot is busy. */
    snprintf(name, sizeof name, "bf-slot-%d", s->index % 10000);
    pthread_setname_np(pthread_self(), name);
    bf_err_init(&err);
    if (sfn_client_new(w->o->aws, &c, &err) != BF_OK) {
        set_fatal(w, &err);
        goto out;
    }
    while (!stopping(w)) {
        char *token = NULL;
        char *input = NULL;
        enum bf_rc rc;

        bf_err_init(&err);
        atomic_store(&s->state, SLOT_POLLING);
        rc = sfn_get_activity_task(c, w->o->activity_arn, w->o->worker_name,
                                   &token, &input, &err);
        atomic_store(&s->state, SLOT_IDLE);
        if (rc != BF_OK) {
            poll_failed(s, &err, ++failures);
            continue;
        }
        failures = 0;
        if (token != NULL)
            hold_task(s, c, token, input);
        sfn_token_free(token);
        free(input);
    }
out:
    awsjson_client_free(c);
    atomic_store(&s->state, SLOT_DONE);
    waker_kick(&w->coord_wake);
    worker_unref(w);
    return NULL;
}

/* --- coordinator ---------------------------------------------------------- */

static void cancel_all(struct worker *w)
{
    int i;

    for (i = 0; i < w->o->concurrency; i++)
        if (atomic_load(&w->slots[i].state) == SLOT_HELD)
            task_cancel_set(&w->slots[i].cancel, BF_E_WORKER_SHUTDOWN);
}

/* Last resort after the grace period: answer tasks whose handler ignores
 * its cancellation, so the state machine retries them at once. Returns how
 * many slots are still not done. */
static int force_answer(struct worker *w, struct awsjson_client *c)
{
    int i, busy = 0;

    for (i = 0; i < w->o->concurrency; i++) {
        struct slot *s = &w->slots[i];

        if (atomic_load(&s->state) == SLOT_DONE)
            continue;
        busy++;
        pthread_mutex_lock(&s->lock);
        if (atomic_load(&s->state) == SLOT_HELD && s->token != NULL &&
            !atomic_load(&s->closed) && answer_claim(s)) {
            struct bf_err err;
            struct answer a;

            bf_err_init(&err);
            bf_err_set(&err, BF_E_WORKER_SHUTDOWN,
                       "worker shutting down; handler did not stop in time");
            answer_from_error(&a, BF_E_WORKER_SHUTDOWN, &err);
            answer_send(s, c, s->token, &a, NULL);
            log_msg(LOG_ERROR, "task_forced_answer",
                    "slot %d: handler ignored cancellation; answered WorkerShutdown", i);
            answer_cleanup(&a);
        }
        pthread_mutex_unlock(&s->lock);
    }
    return busy;
}

static int slots_done(struct worker *w, int *polling)
{
    int i, done = 0;

    *polling = 0;
    for (i = 0; i < w->o->concurrency; i++) {
        int st = atomic_load(&w->slots[i].state);
        done += st == SLOT_DONE;
        *polling += st == SLOT_POLLING || st == SLOT_IDLE;
    }
    return done == w->o->concurrency;
}

/* Runs until every slot is done, or only stuck handlers remain. Returns 1
 * when some slot thread cannot be joined. */
static int coordinate(struct worker *w, struct awsjson_client *c)
{
    int64_t drain_ms = (int64_t)w->o->drain_seconds * 1000;
    int64_t grace = w->o->cancel_grace_ms > 0 ? w->o->cancel_grace_ms : 10000;
    int64_t deadline = 0, cancelled_at = 0, now;
    int draining = 0, shortened = 0, polling = 0;

    for (;;) {
        waker_wait(&w->coord_wake, time_mono_ms() +
                   (draining ? COORD_DRAIN_TICK_MS : STOP_CHECK_MS));
        now = time_mono_ms();
        if (slots_done(w, &polling))
            return 0;
        if (!draining && stopping(w)) {
            draining = 1;
            deadline = now + drain_ms;
            log_msg(LOG_INFO, "shutdown_started", "%s; no new polls; running tasks get %d s",
                    atomic_load(&w->fatal) != 0 ? "fatal error" : "signal",
                    w->o->drain_seconds);
        }
        if (draining && !shortened && atomic_load(w->stop) >= 2) {
            shortened = 1;
            deadline = now;
            log_msg(LOG_WARN, "drain_shortened", "second signal: cancelling running tasks");
        }
        if (draining && cancelled_at == 0 && now >= deadline) {
            cancelled_at = now;
            log_msg(LOG_WARN, "drain_expired", "cancelling running tasks");
        }
        if (cancelled_at != 0)
            cancel_all(w); /* again each tick: a late poll may add a task */
        if (cancelled_at != 0 && now >= cancelled_at + grace &&
            force_answer(w, c) > 0 && polling == 0)
            return 1;
    }
}

/* Before any thread starts: the heartbeat thread walks every slot. */
static void slots_init(struct worker *w)
{
    int i;

    for (i = 0; i < w->o->concurrency; i++) {
        struct slot *s = &w->slots[i];

        s->w = w;
        s->index = i;
        backoff_seed(&s->rng);
        pthread_mutex_init(&s->lock, NULL);
        atomic_init(&s->state, SLOT_IDLE);
        atomic_init(&s->answered, 0);
        atomic_init(&s->closed, 0);
        task_cancel_init(&s->cancel);
    }
}

static void slots_start(struct worker *w)
{
    int i;

    for (i = 0; i < w->o->concurrency; i++) {
        if (pthread_create(&w->slots[i].thread, NULL, slot_main, &w->slots[i]) != 0) {
            struct bf_err e;

            bf_err_init(&e);
            bf_err_set(&e, BF_E_INTERNAL, "cannot start slot thread %d", i);
            set_fatal(w, &e);
            for (; i < w->o->concurrency; i++) {
                atomic_store(&w->slots[i].state, SLOT_DONE);
                worker_unref(w); /* the reference this slot would hold */
            }
            return; /* reported through the fatal error */
        }
        w->slots[i].started = 1;
    }
}

static enum bf_rc worker_result(struct worker *w, struct bf_err *err)
{
    int fatal = atomic_load(&w->fatal);

    if (fatal == 0)
        return BF_OK;
    if (err == NULL)
        return (enum bf_rc)fatal;
    *err = w->fatal_err;
    if (w->fatal_err.rc == BF_E_AWS)
        bf_err_prefix(err, "activity %s unusable (check --activity-arn, region and "
                      "IAM permissions)", w->o->activity_arn);
    return (enum bf_rc)fatal;
}

/* The worker keeps its own copy of the options and a reference to the AWS
 * environment, so a stuck slot thread never reads freed memory. */
static void copy_options(struct worker *w, const struct worker_options *o)
{
    w->opts = *o;
    snprintf(w->arn, sizeof w->arn, "%s", o->activity_arn);
    snprintf(w->name, sizeof w->name, "%s", o->worker_name != NULL ? o->worker_name : "");
    snprintf(w->ns, sizeof w->ns, "%s",
             o->metrics_namespace != NULL ? o->metrics_namespace : "");
    w->opts.activity_arn = w->arn;
    w->opts.worker_name = w->name;
    w->opts.metrics_namespace = w->ns;
    w->opts.aws = awsenv_acquire(o->aws);
    w->o = &w->opts;
}

/* Drop one reference; the last one frees the worker. Slot threads each
 * hold one, so a thread left running by a stuck handler frees the worker
 * (and its AWS reference) itself when the handler finally returns. */
static void worker_unref(struct worker *w)
{
    int i;

    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    for (i = 0; i < w->o->concurrency; i++) {
        pthread_mutex_destroy(&w->slots[i].lock);
        task_cancel_destroy(&w->slots[i].cancel);
    }
    pthread_mutex_destroy(&w->fatal_lock);
    waker_destroy(&w->hb_wake);
    waker_destroy(&w->coord_wake);
    awsenv_release(w->opts.aws);
    free(w->slots);
    free(w);
}

/* Join the slot threads that ended; detach the ones a stuck handler holds. */
static void slots_finish(struct worker *w, int stuck)
{
    int i;

    for (i = 0; i < w->o->concurrency; i++) {
        if (!w->slots[i].started)
            continue;
        if (stuck && atomic_load(&w->slots[i].state) != SLOT_DONE)
            pthread_detach(w->slots[i].thread);
        else
            pthread_join(w->slots[i].thread, NULL);
    }
}

static struct worker *worker_new(const struct worker_options *o, struct bf_err *err)
{
    struct worker *w = calloc(1, sizeof *w);

    if (w != NULL)
        w->slots = calloc((size_t)o->concurrency, sizeof *w->slots);
    if (w == NULL || w->slots == NULL) {
        if (w != NULL)
            free(w->slots);
        free(w);
        bf_err_set(err, BF_E_NOMEM, "worker: out of memory");
        return NULL;
    }
    copy_options(w, o);
    w->stop = o->stop != NULL ? o->stop : &signal_count;
    pthread_mutex_init(&w->fatal_lock, NULL);
    waker_init(&w->hb_wake);
    waker_init(&w->coord_wake);
    metrics_init(&w->metrics, o->metrics_emf, w->opts.metrics_namespace);
    slots_init(w);
    atomic_init(&w->refs, 1 + o->concurrency); /* the caller + each slot */
    return w;
}

enum bf_rc worker_run(const struct worker_options *o, struct bf_err *err)
{
    struct worker *w = NULL;
    struct awsjson_client *c = NULL;
    pthread_t hb;
    int hb_started = 0, stuck = 0, i;
    enum bf_rc rc;

    if (o->concurrency < 1 || o->activity_arn == NULL || o->activity_arn[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "worker: need an activity ARN "
                          "(--activity-arn or BACKFILL_ACTIVITY_ARN)");
    w = worker_new(o, err);
    if (w == NULL)
        return BF_E_NOMEM;
    rc = sfn_client_new(w->opts.aws, &c, err);
    if (rc != BF_OK) {
        for (i = 0; i < o->concurrency; i++)
            worker_unref(w); /* the slots never started */
        worker_unref(w);
        return rc;
    }
    log_msg(LOG_INFO, "worker_started", "activity %s, %d slots, handler %s",
            w->o->activity_arn, o->concurrency, o->handler.name);
    if (pthread_create(&hb, NULL, heartbeat_main, w) == 0)
        hb_started = 1;
    slots_start(w);
    stuck = coordinate(w, c);
    atomic_store(&w->hb_quit, 1);
    waker_kick(&w->hb_wake);
    if (hb_started)
        pthread_join(hb, NULL);
    slots_finish(w, stuck);
    awsjson_client_free(c);
    rc = worker_result(w, err);
    if (stuck && rc == BF_OK)
        rc = bf_err_set(err, BF_E_WORKER_SHUTDOWN, "a handler ignored its "
                        "cancellation (its task was answered WorkerShutdown); "
                        "keep the handler alive and exit");
    log_msg(stuck ? LOG_ERROR : LOG_INFO, "worker_stopped", "%s",
            stuck ? "a handler did not return; exiting anyway"
                  : rc == BF_OK ? "clean drain" : bf_rc_str(rc));
    worker_unref(w);
    return rc;
}
