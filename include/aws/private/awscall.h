/* awscall.h -- what the two AWS protocol clients share for one call.
 *
 * awsjson.c (JSON 1.0/1.1) and awsrest.c (S3, Lambda) keep the same
 * per-thread connection state and judge answers the same way; only how a
 * request is laid out on the wire differs. This is that shared part:
 * endpoint and curl handle, signing set-up with the learnt clock skew, the
 * retry loop's parameters, and turning an error answer or a transport
 * failure into the retry outcome and the `bf_err`. Internal to src/aws/:
 * service modules use awsjson.h or awsrest.h.
 */
#ifndef BF_AWS_AWSCALL_H
#define BF_AWS_AWSCALL_H

#include <stdint.h>

#include "aws/awsenv.h"
#include "aws/creds.h"
#include "aws/endpoint.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "util/err.h"

/* One thread's connection to one service. Embedded in a protocol client. */
struct awscall_conn {
    struct awsenv *env;                 /* reference held */
    const struct endpoint_service *svc; /* static, never freed */
    struct endpoint ep;                 /* resolved once, at creation */
    struct http_client *http;           /* keeps connections alive */
    uint64_t rng;                       /* backoff jitter, this conn only */
    int64_t skew_ms;                    /* server clock - ours, once learnt */
};

/* Resolve the endpoint of `svc` in the environment's region (BF_E_CONFIG
 * for a bad override URL), make the curl handle and take a reference to
 * `env`. On failure nothing is held. `who` names the client in messages. */
enum bf_rc awscall_conn_init(struct awscall_conn *k, struct awsenv *env,
                             const struct endpoint_service *svc,
                             const char *who, struct bf_err *err);
/* Release what awscall_conn_init took. NULL-safe. */
void awscall_conn_cleanup(struct awscall_conn *k);

/* Fetch credentials into `creds` (the caller wipes them with creds_wipe)
 * and fill `cfg` to sign now: region, signing name, and the time corrected
 * by the skew learnt from the service. Passes the provider's code up. */
enum bf_rc awscall_sign_setup(struct awscall_conn *k, struct creds *creds,
                              struct sigv4_config *cfg, struct bf_err *err);

/* The retry loop for one call: the environment's budget and sleep seam,
 * this connection's jitter; `max_attempts` 0 means the environment's. */
void awscall_retry_loop(struct awscall_conn *k, int max_attempts,
                        struct retry_loop *loop);

/* An error answer `r` to `op`, whose parsed code is `code` (it must stay
 * valid while the loop reads `o`) and message `message` (may be ""). Fills
 * the retry outcome (status, code, and whether the Date header corrected
 * the clock) and `err`: BF_E_AWS, "op: Code: message (HTTP n, request id
 * x)", http_status, aws_code and retryable. Returns BF_E_AWS. */
enum bf_rc awscall_answer_error(struct awscall_conn *k, const char *op,
                                const struct http_response *r,
                                const char *code, const char *message,
                                const char *request_id,
                                struct retry_outcome *o, struct bf_err *err);

/* A transport failure (no HTTP answer): always worth a retry; a timeout
 * costs the retry budget more. */
void awscall_transport_failed(const struct http_response *r,
                              struct retry_outcome *o, struct bf_err *err);

#endif
