/* awsrest.h -- REST-style AWS requests (S3, Lambda) on the shared signer,
 * endpoints and retries.
 *
 * The caller gives method, path, query, headers and body; this module adds
 * Host, X-Amz-Date, the session token, x-amz-content-sha256 (S3), signs and
 * retries like awsjson. For S3 a bucket is given separately so that
 * addressing (virtual-host or path style) is decided here. Error bodies are
 * parsed: S3's XML <Code>/<Message>, Lambda's JSON plus x-amzn-ErrorType.
 */
#ifndef BF_AWS_AWSREST_H
#define BF_AWS_AWSREST_H

#include <stddef.h>

#include "aws/awsenv.h"
#include "aws/endpoint.h"
#include "aws/http.h"
#include "util/err.h"

struct awsrest_client;

enum bf_rc awsrest_client_new(struct awsenv *env,
                              const struct endpoint_service *svc,
                              struct awsrest_client **out, struct bf_err *err);
void awsrest_client_free(struct awsrest_client *c); /* NULL-safe */

struct awsrest_request {
    const char *method;
    const char *bucket;   /* S3 only; NULL otherwise */
    const char *path;     /* key or path, NOT encoded: encoded here */
    const char *query;    /* already encoded "a=1&b=", may be NULL */
    const struct http_header *headers; /* extra headers (content-type, ...) */
    size_t nheaders;
    const void *body;
    size_t body_len;
    int unsigned_payload; /* S3: sign UNSIGNED-PAYLOAD */
    long timeout_ms;      /* 0 = 60000 */
    size_t max_response;  /* 0 = 16 MiB */
    int max_attempts;     /* 0 = the environment's default */
};

/* On a 2xx answer BF_OK and `resp` holds it. On an error answer BF_E_AWS
 * with err->aws_code ("SlowDown", "AccessDenied", ...) and http_status, and
 * `resp` still holds the answer. BF_E_TRANSPORT after exhausted retries. */
enum bf_rc awsrest_call(struct awsrest_client *c,
                        const struct awsrest_request *req,
                        struct http_response *resp, struct bf_err *err);

#endif
