/* awsjson.h -- the AWS JSON 1.0/1.1 protocol client (Step Functions,
 * DynamoDB, Secrets Manager).
 *
 * One call: POST / with X-Amz-Target "<prefix>.<Operation>", signed, retried
 * the SDKs' standard way (throttling codes, 5xx and transport errors; capped
 * exponential backoff with full jitter; bounded attempts; a shared retry
 * budget), and error bodies parsed (`__type` in its `#` and `:` forms,
 * `message` or `Message`). Service files (sfn.c, ddb.c, sm.c) only build the
 * input and read the output. A client is per thread.
 */
#ifndef BF_AWS_AWSJSON_H
#define BF_AWS_AWSJSON_H

#include <cjson/cJSON.h>

#include "aws/awsenv.h"
#include "aws/endpoint.h"
#include "util/err.h"

struct awsjson_client;

/* `target_prefix`: "AWSStepFunctions", "DynamoDB_20120810", "secretsmanager";
 * `json_version`: "1.0" or "1.1". Resolves the endpoint now, so a bad
 * override URL is reported at start-up (BF_E_CONFIG). */
enum bf_rc awsjson_client_new(struct awsenv *env,
                              const struct endpoint_service *svc,
                              const char *target_prefix,
                              const char *json_version,
                              struct awsjson_client **out, struct bf_err *err);
void awsjson_client_free(struct awsjson_client *c); /* NULL-safe */

struct awsjson_call_opts {
    long timeout_ms;   /* whole request; 0 = 30000. Long polls use 70000 */
    int max_attempts;  /* 0 = the environment's default; 1 = no retries */
    size_t max_response; /* 0 = 1 MiB */
};

/* Call `op` with the JSON text `body`. On success `*resp` is the parsed
 * answer (an empty body gives an empty object); the caller frees it.
 * On an AWS error: BF_E_AWS, with err->aws_code (short form, e.g.
 * "TaskTimedOut"), err->http_status and err->message from the service.
 * After exhausted retries of a transport fault: BF_E_TRANSPORT. */
enum bf_rc awsjson_call(struct awsjson_client *c, const char *op,
                        const char *body, const struct awsjson_call_opts *opts,
                        cJSON **resp, struct bf_err *err);

/* Exposed for tests and fuzzing: parse an error body (and the
 * x-amzn-ErrorType header value, may be NULL) into code and message. */
void awsjson_parse_error(const char *body, size_t len, const char *type_header,
                         char *code, size_t code_cap,
                         char *message, size_t message_cap);

#endif
