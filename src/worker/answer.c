/* answer.c -- a task's outcome as a Step Functions answer.
 *
 * Success: task_result_json() under 256 KiB. Failure: the error name from
 * bf_rc_error_name() and the cause from bf_err_cause_json() (<= 32768).
 * Both the worker and run-chunk use these, so they cannot disagree.
 */
#include "worker/answer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void answer_from_error(struct answer *a, enum bf_rc rc, const struct bf_err *err)
{
    memset(a, 0, sizeof *a);
    a->rc = rc != BF_OK ? rc : BF_E_INTERNAL;
    a->error = bf_rc_error_name(a->rc);
    a->cause = bf_err_cause_json(err, TASK_CAUSE_MAX);
    a->records = -1;
    snprintf(a->message, sizeof a->message, "%s",
             err != NULL && err->message[0] != '\0' ? err->message : "failed");
}

void answer_prepare(struct answer *a, const struct task_input *in,
                    enum bf_rc rc, const struct task_result *r,
                    const struct bf_err *err, const char *worker)
{
    struct bf_err nomem;

    if (rc != BF_OK) {
        answer_from_error(a, rc, err);
        return;
    }
    memset(a, 0, sizeof *a);
    a->output = task_result_json(in, r, worker, TASK_OUTPUT_MAX);
    a->records = r->records_ingested;
    if (a->output != NULL)
        return;
    bf_err_init(&nomem);
    bf_err_set(&nomem, BF_E_INTERNAL, "result: out of memory");
    answer_from_error(a, BF_E_INTERNAL, &nomem);
}

char *answer_json(const struct answer *a)
{
    cJSON *o = NULL;
    char *s = NULL;

    if (a->rc == BF_OK)
        return a->output != NULL ? strdup(a->output) : NULL;
    o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "error", a->error);
    cJSON_AddStringToObject(o, "cause", a->cause != NULL ? a->cause : "{}");
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

void answer_cleanup(struct answer *a)
{
    free(a->output);
    free(a->cause);
    a->output = NULL;
    a->cause = NULL;
}
