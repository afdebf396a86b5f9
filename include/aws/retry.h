/* retry.h -- the AWS SDKs' "standard" retry mode, shared by awsjson and
 * awsrest.
 *
 * Decides what is retryable (throttling codes, transient codes, HTTP
 * 500/502/503/504 and 429, transport errors), how long to wait (capped
 * exponential backoff with full jitter) and whether the process-wide retry
 * budget still allows a retry (a token bucket, so a dead endpoint cannot
 * turn every call into N calls). The budget lives in `struct awsenv`; the
 * jitter state lives in each (per-thread) client, so no global state.
 *
 * Policy (documented in src/README.md, "AWS layer: endpoints, HTTP and
 * retries"):
 *   delay(n) = random[0,1) * min(20 s, base * 2^(n-1)) for the n-th retry,
 *   base = 100 ms for transient errors, 500 ms for throttling;
 *   3 attempts by default; budget 500, a retry costs 5 (10 after a
 *   timeout), a success refunds the cost of its retry (or 1 if it needed
 *   none), never above the capacity.
 */
#ifndef BF_AWS_RETRY_H
#define BF_AWS_RETRY_H

#include <pthread.h>
#include <stdint.h>

#include "util/err.h"

#define RETRY_DEFAULT_ATTEMPTS 3
#define RETRY_BUDGET_CAPACITY 500
#define RETRY_COST 5
#define RETRY_TIMEOUT_COST 10
#define RETRY_NO_RETRY_INCREMENT 1
#define RETRY_BASE_MS 100
#define RETRY_THROTTLE_BASE_MS 500
#define RETRY_MAX_BACKOFF_MS 20000

/* The token bucket; thread-safe; embedded in struct awsenv. */
struct retry_budget {
    pthread_mutex_t lock;
    int capacity;
    int available;
};

void retry_budget_init(struct retry_budget *b, int capacity); /* 0 = 500 */
void retry_budget_cleanup(struct retry_budget *b);
/* Take the cost of one retry. Returns the tokens taken (> 0), or 0 when
 * the budget cannot pay: then do not retry. */
int retry_budget_take(struct retry_budget *b, int after_timeout);
/* After a successful attempt: give back `taken` (the cost of the retry
 * that led to it) or RETRY_NO_RETRY_INCREMENT when it was 0. */
void retry_budget_refund(struct retry_budget *b, int taken);
int retry_budget_available(struct retry_budget *b);

/* Classification. `status` 0 means a transport error (always retryable). */
int retry_is_throttle(long status, const char *aws_code);
int retry_is_transient(long status, const char *aws_code);
int retry_is_retryable(long status, const char *aws_code);

/* Clock skew, as the SDKs handle it: when an answer's code says the
 * request time was wrong (RequestTimeTooSkewed, RequestExpired,
 * InvalidSignatureException, SignatureDoesNotMatch, AuthFailure,
 * RequestInTheFuture) and its Date header is more than 4 minutes from
 * `now_ms + *skew_ms`, set *skew_ms = server time - now_ms and return 1:
 * the caller signs with the corrected time and retries. Else 0. */
int retry_is_clock_skew_code(const char *aws_code);
int retry_clock_skew_update(int64_t *skew_ms, int64_t now_ms,
                            const char *date_header, const char *aws_code);

/* The delay before retry number `retry` (1 = the first retry); `rng` is
 * the client's jitter state (util/backoff.h, seeded by backoff_seed). */
long retry_backoff_ms(int retry, int throttled, uint64_t *rng);

/* What an attempt tells the loop. */
struct retry_outcome {
    long status;        /* HTTP status; 0 for no answer */
    int timed_out;      /* transport error was a timeout */
    const char *aws_code; /* parsed error code, may be NULL or "" */
    int skew_corrected; /* the clock was corrected: retry this one */
};

/* One call under the standard mode. `attempt` does one try and returns its
 * code, filling `out` (status/code). BF_OK ends the loop; BF_E_AWS and
 * BF_E_TRANSPORT are retried when retryable, the attempts remain and the
 * budget pays; any other code is returned at once. `sleep_ms` may be NULL
 * (nanosleep). On giving up for lack of budget the message says so. */
struct retry_loop {
    struct retry_budget *budget;
    int max_attempts;   /* >= 1 */
    uint64_t *rng;
    void (*sleep_ms)(void *ctx, long ms);
    void *sleep_ctx;
};
enum bf_rc retry_run(const struct retry_loop *loop,
                     enum bf_rc (*attempt)(void *ud, int n,
                                           struct retry_outcome *out,
                                           struct bf_err *err),
                     void *ud, struct bf_err *err);

#endif
