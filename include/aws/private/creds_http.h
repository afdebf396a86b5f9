/* creds_http.h -- the tiny HTTP client the metadata providers share.
 *
 * ECS/EKS container credentials and EC2 instance metadata are plain HTTP
 * calls to a local endpoint with short timeouts and small answers. They use
 * libcurl directly (not aws/http.h) so the credentials layer stands alone.
 */
#ifndef BF_AWS_CREDS_HTTP_H
#define BF_AWS_CREDS_HTTP_H

#include "aws/creds.h"
#include "util/buf.h"
#include "util/err.h"

/* Metadata answers are small; anything bigger is refused. */
#define CREDS_HTTP_MAX_BODY (64 * 1024)

/* METHOD `url` with the NULL-terminated "Name: value" `headers`; the body
 * goes to `out` (limited to CREDS_HTTP_MAX_BODY), the status to `*status`.
 * Connect timeout 1 s, whole call `timeout_ms`. Returns BF_E_TRANSPORT
 * when no HTTP answer came, BF_E_LIMIT for an oversized body, BF_E_NOMEM.
 * Any HTTP status is BF_OK: the caller judges it. */
enum bf_rc creds_http_call(const char *method, const char *url,
                           const char *const *headers, long timeout_ms,
                           struct buf *out, long *status, struct bf_err *err);

/* Fill `out` from a JSON document with AccessKeyId, SecretAccessKey, Token
 * and Expiration (ISO 8601), the shape ECS and IMDS both answer. `what`
 * names the source in messages. BF_E_SOURCE_PROTOCOL is not used here: a
 * bad answer is BF_E_HTTP. */
enum bf_rc creds_parse_json(const char *json, const char *what,
                            struct creds *out, struct bf_err *err);

#endif
