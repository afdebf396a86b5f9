/* task.h -- the task contract between the state machine and the worker.
 *
 * One activity task is one chunk. This module owns the task input schema
 * and its validation (statemachine/README.md "Flow" lists the fields,
 * src/README.md "The worker: slots, answers, heartbeats, threads" the
 * answer, README "Error names" the error names), the result that
 * SendTaskSuccess carries, and the handler interface that the worker calls (the chunk pipeline is one handler; tests
 * and the dispatch benchmark use others). Keep the schema here and nowhere
 * else: the state machine's Arguments are checked against it in tests/asl.
 */
#ifndef BF_TASK_TASK_H
#define BF_TASK_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "util/cancel.h"
#include "util/err.h"
#include "util/timeutil.h"

#define TASK_INPUT_MAX (256 * 1024)   /* Step Functions payload limit */
#define TASK_OUTPUT_MAX (256 * 1024)  /* SendTaskSuccess output limit */
#define TASK_CAUSE_MAX 32768          /* SendTaskFailure cause limit */

struct task_input {
    char tenant_id[65];      /* ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ */
    char service[32];        /* "connectwise" (alias service_name) */
    char table_name[64];     /* a known endpoint, "service/tickets" */
    int64_t start_ms;        /* window [start, end), whole milliseconds */
    int64_t end_ms;
    char start_date[TIME_ISO_LEN]; /* normalised: 2025-06-13T06:00:57.295Z */
    char end_date[TIME_ISO_LEN];
    int chunk_number;        /* 1-based, default 1 */
    int total_chunks;        /* default 1 */
    char backfill_id[81];    /* the execution name; default "manual" */
    int backfill_mode;       /* bool, default 1 */
    int force_full_sync;     /* bool, default 1 */
    int heartbeat_seconds;   /* 1..99999999, default 60 */
    int attempt;             /* $states.context.State.RetryCount, default 0 */
    int redrive_count;       /* default 0 */
};

/* Parse and validate a task input. Every problem is BF_E_INVALID_INPUT with
 * err->message naming the field ("tenant_id: must match ..."). `len` may
 * exceed nothing: inputs over TASK_INPUT_MAX are rejected unread. */
enum bf_rc task_input_parse(const char *json, size_t len,
                            struct task_input *out, struct bf_err *err);

/* Whether `table` is a known endpoint name (checked against the endpoint
 * table, tests/asl keeps the state machine's list equal to it). */
int task_table_known(const char *service, const char *table);

/* Whether `s` matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ (the plan reuses it). */
int task_tenant_id_ok(const char *s);

struct task_location {
    char uri[1024];   /* "file:///..." or "s3://bucket/prefix/..." */
    long parts;
    long long bytes;
};

struct task_result {
    char canonical_table[64];
    long long records_ingested;    /* -1 = unknown (Lambda without counts) */
    long long records_transformed; /* -1 = unknown */
    long long records_rejected;    /* -1 = unknown */
    long long text_replaced;       /* bad text sequences made U+FFFD in
                                    * canonical records; -1 = unknown */
    long pages;                    /* -1 = unknown */
    struct task_location raw;
    struct task_location canonical;
    long long duration_ms;
};

void task_result_init(struct task_result *r);

/* The SendTaskSuccess output: {"status":"SUCCEEDED", the input's identifying
 * fields, the result, "worker", "attempt"}. Unknown counts are JSON null.
 * Always under `max` bytes (lists are trimmed, JSON is never cut). Returns a
 * malloc'd string, or NULL when out of memory. */
char *task_result_json(const struct task_input *in, const struct task_result *r,
                       const char *worker, size_t max);

/* Cooperative cancellation (struct task_cancel, util/cancel.h): the
 * handler checks it between pages and parts and returns BF_E_CANCELLED. */

/* What the worker calls for each task. `run` must be thread-safe: several
 * slots call it at once with different inputs. It fills `out` on BF_OK, or
 * `err` otherwise. It never sees the task token. */
struct task_handler {
    enum bf_rc (*run)(void *ctx, const struct task_input *in,
                      struct task_cancel *cancel, struct task_result *out,
                      struct bf_err *err);
    void *ctx;
    const char *name; /* "chunk", "noop", ... for logs */
};

#endif
