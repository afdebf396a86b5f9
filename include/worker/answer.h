/* answer.h -- what a task's answer to Step Functions is made of.
 *
 * One place turns a handler's outcome into either the SendTaskSuccess
 * output or SendTaskFailure's error and cause, so the worker and
 * `run-chunk` (worker_run_one) answer identically.
 */
#ifndef BF_WORKER_ANSWER_H
#define BF_WORKER_ANSWER_H

#include "task/task.h"
#include "util/err.h"

struct answer {
    enum bf_rc rc;          /* BF_OK: success */
    char *output;           /* success: the result JSON (malloc'd) */
    const char *error;      /* failure: "Backfill.InvalidInput", ... */
    char *cause;            /* failure: JSON text, <= TASK_CAUSE_MAX */
    char message[BF_ERR_MSG_MAX]; /* for logs */
    long long records;      /* records ingested, for metrics; -1 unknown */
};

/* From a handler's outcome. A result that cannot be serialized becomes a
 * Backfill.Internal failure. This function can't fail otherwise. */
void answer_prepare(struct answer *a, const struct task_input *in,
                    enum bf_rc rc, const struct task_result *r,
                    const struct bf_err *err, const char *worker);

/* A failure answer: error = bf_rc_error_name(rc), cause from `err`. */
void answer_from_error(struct answer *a, enum bf_rc rc, const struct bf_err *err);

/* The answer as printed by run-chunk: the output, or {"error","cause"}.
 * malloc'd; NULL when out of memory. */
char *answer_json(const struct answer *a);

void answer_cleanup(struct answer *a);

#endif
