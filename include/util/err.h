/* err.h -- the one result type and the error record that travels with it.
 *
 * Every fallible function in avesa-backfill returns an `enum bf_rc` and takes
 * a `struct bf_err *err` as its last argument (NULL allowed). The code says
 * what class of failure happened; the record says why, in one line, plus the
 * details the state machine's `cause` carries (README "Error names").
 *
 * Rules: pass a callee's code up unchanged; only a layer that knows more
 * reclassifies it (an S3 sink turns an HTTP 403 into SINK_ACCESS_DENIED).
 * Messages never contain a secret, a token or an Authorization header.
 */
#ifndef BF_UTIL_ERR_H
#define BF_UTIL_ERR_H

#include <stddef.h>

enum bf_rc {
    BF_OK = 0,
    /* One code per Backfill.* error name (README "Error names"). */
    BF_E_INVALID_INPUT,
    BF_E_TENANT_NOT_CONFIGURED,
    BF_E_TENANT_DISABLED,
    BF_E_CREDENTIALS_INVALID,
    BF_E_SOURCE_AUTH_FAILED,
    BF_E_SOURCE_RATE_LIMITED,
    BF_E_SOURCE_UNAVAILABLE,
    BF_E_SOURCE_PROTOCOL,
    BF_E_SINK_UNAVAILABLE,
    BF_E_SINK_ACCESS_DENIED,
    BF_E_TRANSFORM_FAILED,
    BF_E_LAMBDA_FAILED,
    BF_E_WORKER_SHUTDOWN,
    BF_E_INTERNAL,
    /* Lower-level codes. The layer that knows the context reclassifies them;
     * if one reaches the worker it is reported as Backfill.Internal. */
    BF_E_NOMEM,      /* allocation failed */
    BF_E_LIMIT,      /* a hard cap was hit (response size, depth, count) */
    BF_E_CONFIG,     /* bad local configuration (region, endpoint, file) */
    BF_E_DECLINED,   /* a credential source has nothing here: ask the next */
    BF_E_TRANSPORT,  /* connect, reset, timeout, TLS: no HTTP answer */
    BF_E_AWS,        /* an AWS service answered an error: see aws_code */
    BF_E_HTTP,       /* a non-AWS HTTP peer answered an error status */
    BF_E_CANCELLED,  /* the task was cancelled (heartbeat said so) */
    BF_E_IO          /* local file system error */
};

#define BF_ERR_MSG_MAX 512

struct bf_err {
    enum bf_rc rc;
    char message[BF_ERR_MSG_MAX]; /* one line, no newline, never a secret */
    int http_status;              /* 0 when there was no HTTP answer */
    char endpoint[128];           /* "service/tickets", "s3:PutObject", ... */
    long page;                    /* source page number, -1 when none */
    int retryable;                /* 1 yes, 0 no, -1 unknown */
    char aws_code[64];            /* short AWS error type for BF_E_AWS */
};

/* Reset `err` to "no error". NULL-safe. */
void bf_err_init(struct bf_err *err);

/* Record a failure in `err` (NULL-safe) and return `rc`, so callers can write
 * `return bf_err_set(err, BF_E_CONFIG, "no region: set AWS_REGION");`.
 * The message is formatted once, cut to fit, and any newline becomes a space.
 * Leaves http_status, endpoint, page and aws_code as they were. */
enum bf_rc bf_err_set(struct bf_err *err, enum bf_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Give the recorded failure the code `rc`, keeping its message and
 * details, and return `rc`. For the layer that knows more than its callee
 * (a tenants file that cannot be read is BF_E_CONFIG, not BF_E_IO), so the
 * returned code and err->rc never disagree. NULL-safe. */
enum bf_rc bf_err_reclassify(struct bf_err *err, enum bf_rc rc);

/* Prefix the existing message with context ("GetActivityTask: ..."). */
void bf_err_prefix(struct bf_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The Step Functions error name for a code: "Backfill.InvalidInput", ...
 * Lower-level codes map to "Backfill.Internal". Never NULL. */
const char *bf_rc_error_name(enum bf_rc rc);

/* A short, stable identifier for any code ("BF_E_LIMIT"), for logs. */
const char *bf_rc_str(enum bf_rc rc);

/* Parse a Step Functions error name back into a code; BF_E_INTERNAL if the
 * name is not one of ours. */
enum bf_rc bf_rc_from_error_name(const char *name);

/* Whether the state machine retries this error class by default. */
int bf_rc_default_retryable(enum bf_rc rc);

/* The SendTaskFailure cause: a JSON object as a string, shorter than `max`
 * bytes (32768 for Step Functions), with message, http_status, endpoint,
 * page and retryable; the message is cut to fit. Returns a malloc'd string
 * the caller frees, or NULL on OOM or when `max` cannot hold even an empty
 * message (max < 64 always). */
char *bf_err_cause_json(const struct bf_err *err, size_t max);

#endif
