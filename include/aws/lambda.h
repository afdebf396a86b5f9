/* lambda.h -- Lambda Invoke (REST: POST /2015-03-31/functions/{name}/invocations).
 *
 * Thin on awsrest. Returns what the service answered: the HTTP status, the
 * X-Amz-Function-Error header (a function that raised still answers 200)
 * and the payload. Judging the payload is the caller's (lambda_step.c).
 */
#ifndef BF_AWS_LAMBDA_H
#define BF_AWS_LAMBDA_H

#include <stddef.h>

#include "aws/awsenv.h"
#include "aws/awsrest.h"
#include "util/err.h"

/* A Lambda client (per thread). */
enum bf_rc lambda_client_new(struct awsenv *env, struct awsrest_client **out,
                             struct bf_err *err);

struct lambda_invoke_opts {
    const char *invocation_type; /* "RequestResponse" (NULL) or "Event" */
    long timeout_ms;             /* whole call; 0 = 910000 (15 min + margin) */
    int max_attempts;            /* 0 = 1: an invocation is not idempotent */
    size_t max_response;         /* 0 = 6 MiB + margin (Lambda's cap) */
};

struct lambda_invoke_result {
    long status;                 /* 200 (RequestResponse) or 202 (Event) */
    char function_error[32];     /* "" or "Unhandled" / "Handled" */
    char *payload;               /* malloc'd, NUL-terminated, may be "" */
    size_t payload_len;
};

void lambda_invoke_result_init(struct lambda_invoke_result *r);
void lambda_invoke_result_cleanup(struct lambda_invoke_result *r);

/* Invoke `function` with the JSON `payload`. BF_OK on a 2xx answer (check
 * out->function_error); BF_E_AWS (aws_code, http_status) when the service
 * refused; BF_E_TRANSPORT on a timeout or a lost connection. */
enum bf_rc lambda_invoke(struct awsrest_client *c, const char *function,
                         const char *payload, size_t payload_len,
                         const struct lambda_invoke_opts *opts,
                         struct lambda_invoke_result *out, struct bf_err *err);

#endif
