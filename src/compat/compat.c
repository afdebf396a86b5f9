/* compat.c -- Lambda compatibility mode (placeholder).
 *
 * Temporary compiling version so that other modules link; the real Invoke
 * calls replace it shortly.
 */
#include "compat/compat.h"

#include <stdio.h>

void compat_ingest_function_name(const char *service, const char *env,
                                 char out[128])
{
    snprintf(out, 128, "avesa-%s-ingestion-%s", service, env);
}

void compat_transform_function_name(const char *canonical_table,
                                    const char *env, char out[128])
{
    size_t i;

    snprintf(out, 128, "avesa-canonical-transform-%s-%s", canonical_table, env);
    for (i = sizeof("avesa-canonical-transform-") - 1; out[i] != '\0'; i++) {
        if (out[i] == '_')
            out[i] = '-';
    }
}

enum bf_rc compat_ingest_lambda(struct awsenv *aws, const char *env,
                                const struct task_input *in,
                                struct task_result *out, struct bf_err *err)
{
    (void)aws;
    (void)env;
    (void)in;
    (void)out;
    return bf_err_set(err, BF_E_INTERNAL, "lambda ingest: not implemented yet");
}

enum bf_rc compat_transform_lambda(struct awsenv *aws, const char *env,
                                   const char *canonical_table,
                                   const char *invocation,
                                   const struct task_input *in,
                                   struct task_result *out, struct bf_err *err)
{
    (void)aws;
    (void)env;
    (void)canonical_table;
    (void)invocation;
    (void)in;
    (void)out;
    return bf_err_set(err, BF_E_INTERNAL,
                      "lambda transform: not implemented yet");
}
