/* run_one.c -- one task without Step Functions, and the noop handler.
 *
 * worker_run_one() is `backfill-worker run-chunk`: the same parse, handler
 * and answer code as an activity task, printed instead of sent. The noop
 * handler is the documented diagnostic handler for tests and the dispatch
 * benchmark: it "works" for a configurable time and reports zero records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/timeutil.h"
#include "worker/answer.h"
#include "worker/worker.h"

enum bf_rc worker_noop_run(void *ctx, const struct task_input *in,
                           struct task_cancel *cancel, struct task_result *out,
                           struct bf_err *err)
{
    int sleep_ms = ctx != NULL ? *(const int *)ctx : 0;
    const struct catalog_endpoint *e = catalog_find(in->service, in->table_name);

    if (sleep_ms > 0 && task_cancel_sleep(cancel, sleep_ms, err) != BF_OK)
        return bf_err_set(err, BF_E_CANCELLED, "noop: cancelled");
    task_result_init(out);
    out->records_ingested = 0;
    out->records_transformed = 0;
    out->records_rejected = 0;
    out->pages = 0;
    if (e != NULL)
        snprintf(out->canonical_table, sizeof out->canonical_table, "%s",
                 e->canonical_table);
    return BF_OK;
}

enum bf_rc worker_run_one(const struct task_handler *h, const char *worker_name,
                          const char *input, size_t len, char **out,
                          struct bf_err *err)
{
    struct task_input in;
    struct task_result r;
    struct task_cancel cancel;
    struct answer a;
    int64_t t0;
    enum bf_rc rc;

    task_cancel_init(&cancel);
    task_result_init(&r);
    rc = task_input_parse(input, len, &in, err);
    if (rc == BF_OK) {
        t0 = time_mono_ms();
        rc = h->run(h->ctx, &in, &cancel, &r, err);
        r.duration_ms = time_mono_ms() - t0;
    }
    task_cancel_destroy(&cancel);
    answer_prepare(&a, &in, rc, &r, err, worker_name);
    *out = answer_json(&a);
    rc = a.rc;
    answer_cleanup(&a);
    if (*out == NULL)
        return bf_err_set(err, BF_E_NOMEM, "run-chunk: out of memory");
    return rc;
}
