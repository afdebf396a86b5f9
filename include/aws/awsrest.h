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

/* Notes on awsrest_call: `resp` must have
 * been initialised with http_response_init(). For S3, `path` is the object
 * key verbatim (a leading '/' would be part of the key; NULL or "" for a
 * bucket-level request); for other services it is the resource path
 * ("/2015-03-31/functions/f/invocations"), '/' added in front if missing.
 * Each segment is percent-encoded once here (RFC 3986 unreserved kept,
 * '/' kept). */

/* Where a request goes: exposed for tests. */
struct awsrest_target {
    char host_header[320];  /* "bucket.s3.us-east-1.amazonaws.com" */
    int virtual_host;       /* bucket in the host name */
    struct buf path;        /* wire path, encoded once */
    struct buf url;         /* scheme://host[:port]path[?query] */
};
void awsrest_target_init(struct awsrest_target *t);
void awsrest_target_cleanup(struct awsrest_target *t);
/* Build the target of a request to `ep`. S3 (bucket != NULL) uses
 * virtual-host addressing unless the endpoint is path-style (overridden)
 * or the bucket name is not DNS-safe for the scheme (upper case,
 * underscores, or dots over https). BF_E_INVALID_INPUT for an empty or
 * malformed bucket name; BF_E_NOMEM. */
enum bf_rc awsrest_make_target(const struct endpoint *ep, const char *bucket,
                               const char *path, const char *query,
                               struct awsrest_target *t, struct bf_err *err);
/* Whether `bucket` is a name S3 could have (1-255 of [A-Za-z0-9._-]): what
 * awsrest_make_target() accepts, for callers that check configuration
 * before the first request. */
int awsrest_bucket_valid(const char *bucket);
/* Whether `bucket` can be a DNS label under `scheme` ("https"/"http"). */
int awsrest_bucket_virtual_ok(const char *bucket, const char *scheme);
/* The text of the first <tag>...</tag> in `xml` after `*pos`, XML entities
 * decoded, into `out` (cut to `n`). Returns 1 and moves *pos past it, or 0
 * when there is none. A bounded scan for known element names: S3's answers
 * (errors, listings, multipart) are flat enough that a full XML parser
 * would only add attack surface. */
int awsrest_xml_next(const char *xml, size_t *pos, const char *tag, char *out,
                     size_t n);
/* Parse an error answer: S3's XML <Code>/<Message>, else JSON (__type,
 * x-amzn-ErrorType); without either, a code from the status ("NotFound"
 * for a 404 HEAD). */
void awsrest_parse_error(const struct http_response *r, char *code,
                         size_t code_cap, char *message, size_t message_cap);

#endif
