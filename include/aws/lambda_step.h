/* lambda_step.h -- one of the original AVESA Lambdas called as a pipeline
 * step, and its answer judged.
 *
 * The Lambda ingest source (source/lambda_ingest.h) and the Lambda transform
 * backend (transform/xform_backend.h) build their own function names and
 * payloads and read their own counts; what they share is here: invoke the
 * function (lambda.h), then decide whether it worked. A FunctionError, a
 * non-200 statusCode in the payload, a refusal by the service or a timeout
 * is BF_E_LAMBDA_FAILED, with err->retryable saying whether trying again
 * can help. Every call is logged as `lambda_invoked`.
 */
#ifndef BF_AWS_LAMBDA_STEP_H
#define BF_AWS_LAMBDA_STEP_H

#include <cjson/cJSON.h>

#include "aws/awsenv.h"
#include "util/err.h"

/* What a successful call answered: the payload, when it was a JSON object,
 * and its body (an object, or a JSON string holding one), for the counts. */
struct lambda_step_answer {
    cJSON *root;        /* NULL: no payload, not JSON, or an Event call */
    const cJSON *body;  /* NULL: none */
    cJSON *owned_body;  /* the parsed body string, when it was one */
};

void lambda_step_answer_cleanup(struct lambda_step_answer *a); /* NULL-safe */

/* A payload's fields every original Lambda reads first: tenant_id,
 * service_name, table_name. The caller adds its own, in its own order, and
 * hands the object to lambda_step_payload_text. NULL when out of memory. */
cJSON *lambda_step_payload_new(const char *tenant_id, const char *service,
                               const char *table_name);

/* The payload as JSON text (the caller frees it), or NULL when `bad` (an
 * add failed) or out of memory. Frees `o` either way. */
char *lambda_step_payload_text(cJSON *o, int bad);

/* Invoke `function` with the JSON text `payload`. `invocation` is
 * "RequestResponse" or "Event" (an Event call is not judged: it has no
 * answer); `timeout_ms` 0 means Lambda's 15 minutes plus a margin. On BF_OK
 * `*ans` holds the answer (the caller cleans it up). */
enum bf_rc lambda_step_invoke(struct awsenv *aws, const char *function,
                              const char *invocation, const char *payload,
                              long timeout_ms, struct lambda_step_answer *ans,
                              struct bf_err *err);

/* A non-negative integer count under the first of `keys` (NULL-terminated)
 * present in the body, else in the payload; -1 (JSON null in the result)
 * when the function did not report it, never 0. */
long long lambda_step_count(const struct lambda_step_answer *a,
                            const char *const *keys);

#endif
