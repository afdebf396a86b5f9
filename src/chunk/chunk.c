/* chunk.c -- one chunk end to end: ingest, then the canonical transform.
 *
 * Placeholder so the worker links; replaced by the real pipeline.
 */
#include <stdlib.h>

#include "chunk/chunk.h"

struct chunk_runner {
    int unused;
};

enum bf_rc chunk_runner_new(const struct bf_config *cfg, struct awsenv *aws,
                            struct chunk_runner **out, struct bf_err *err)
{
    (void)cfg;
    (void)aws;
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return bf_err_set(err, BF_E_NOMEM, "chunk runner: out of memory");
    return BF_OK;
}

void chunk_runner_free(struct chunk_runner *r)
{
    free(r);
}

enum bf_rc chunk_run(void *ctx, const struct task_input *in,
                     struct task_cancel *cancel, struct task_result *out,
                     struct bf_err *err)
{
    (void)ctx;
    (void)in;
    (void)cancel;
    (void)out;
    return bf_err_set(err, BF_E_INTERNAL, "chunk pipeline: not implemented yet");
}
