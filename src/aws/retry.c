/* retry.c -- the AWS SDKs' "standard" retry mode (see retry.h).
 *
 * Owns the retryable-error tables, the backoff formula, the token-bucket
 * retry budget and the attempt loop that awsjson.c and awsrest.c share.
 * It does not know how an attempt is made: the caller passes a function.
 * The tables are constant; the only mutable shared state is the budget,
 * behind its own mutex.
 */
#include "aws/retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/backoff.h"
#include "util/timeutil.h"

/* The SDKs' throttling error codes (botocore/SDK v2 "standard" mode). */
static const char *const throttle_codes[] = {
    "Throttling", "ThrottlingException", "ThrottledException",
    "RequestThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
    "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException",
};

static const char *const transient_codes[] = {
    "RequestTimeout", "RequestTimeoutException", "InternalError",
    "InternalFailure", "ServiceUnavailable",
};

static int in_table(const char *const *t, size_t n, const char *code)
{
    size_t i;

    if (code == NULL || code[0] == '\0')
        return 0;
    for (i = 0; i < n; i++) {
        if (strcmp(t[i], code) == 0)
            return 1;
    }
    return 0;
}

int retry_is_throttle(long status, const char *aws_code)
{
    /* 429 is "too many requests" whatever the body says. */
    return status == 429 ||
           in_table(throttle_codes,
                    sizeof(throttle_codes) / sizeof(throttle_codes[0]),
                    aws_code);
}

int retry_is_transient(long status, const char *aws_code)
{
    if (status == 0 || status == 500 || status == 502 || status == 503 ||
        status == 504)
        return 1;
    return in_table(transient_codes,
                    sizeof(transient_codes) / sizeof(transient_codes[0]),
                    aws_code);
}

static const char *const skew_codes[] = {
    "RequestTimeTooSkewed", "RequestExpired", "InvalidSignatureException",
    "SignatureDoesNotMatch", "AuthFailure", "RequestInTheFuture",
};

#define RETRY_SKEW_LIMIT_MS (4 * 60 * 1000)

int retry_is_clock_skew_code(const char *aws_code)
{
    return in_table(skew_codes, sizeof(skew_codes) / sizeof(skew_codes[0]),
                    aws_code);
}

int retry_clock_skew_update(int64_t *skew_ms, int64_t now_ms,
                            const char *date_header, const char *aws_code)
{
    int64_t server = -1;
    int64_t diff;

    if (!retry_is_clock_skew_code(aws_code))
        return 0;
    if (date_header == NULL || time_parse_http_date(date_header, &server) != 0)
        return 0;
    diff = server - (now_ms + *skew_ms);
    if (llabs(diff) <= RETRY_SKEW_LIMIT_MS)
        return 0;
    *skew_ms = server - now_ms;
    return 1;
}

int retry_is_retryable(long status, const char *aws_code)
{
    return retry_is_throttle(status, aws_code) ||
           retry_is_transient(status, aws_code);
}

void retry_budget_init(struct retry_budget *b, int capacity)
{
    pthread_mutex_init(&b->lock, NULL);
    b->capacity = capacity > 0 ? capacity : RETRY_BUDGET_CAPACITY;
    b->available = b->capacity;
}

void retry_budget_cleanup(struct retry_budget *b)
{
    if (b != NULL)
        pthread_mutex_destroy(&b->lock);
}

int retry_budget_take(struct retry_budget *b, int after_timeout)
{
    int cost = after_timeout ? RETRY_TIMEOUT_COST : RETRY_COST;
    int taken = 0;

    pthread_mutex_lock(&b->lock);
    if (b->available >= cost) {
        b->available -= cost;
        taken = cost;
    }
    pthread_mutex_unlock(&b->lock);
    return taken;
}

void retry_budget_refund(struct retry_budget *b, int taken)
{
    int give = taken > 0 ? taken : RETRY_NO_RETRY_INCREMENT;

    pthread_mutex_lock(&b->lock);
    b->available += give;
    if (b->available > b->capacity)
        b->available = b->capacity;
    pthread_mutex_unlock(&b->lock);
}

int retry_budget_available(struct retry_budget *b)
{
    int n;

    pthread_mutex_lock(&b->lock);
    n = b->available;
    pthread_mutex_unlock(&b->lock);
    return n;
}

long retry_backoff_ms(int retry, int throttled, uint64_t *rng)
{
    /* The SDKs' standard mode: full jitter under a doubling ceiling. */
    return (long)backoff_ms(retry,
                            throttled ? RETRY_THROTTLE_BASE_MS : RETRY_BASE_MS,
                            RETRY_MAX_BACKOFF_MS, BACKOFF_FULL, rng);
}

static int outcome_retryable(enum bf_rc rc, const struct retry_outcome *o)
{
    if (rc == BF_E_TRANSPORT || o->skew_corrected)
        return 1;
    if (rc == BF_E_AWS)
        return retry_is_retryable(o->status, o->aws_code);
    return 0;
}

enum bf_rc retry_run(const struct retry_loop *loop,
                     enum bf_rc (*attempt)(void *ud, int n,
                                           struct retry_outcome *out,
                                           struct bf_err *err),
                     void *ud, struct bf_err *err)
{
    int max = loop->max_attempts > 0 ? loop->max_attempts : 1;
    int taken = 0;
    int n;
    enum bf_rc rc = BF_E_INTERNAL;

    for (n = 1;; n++) {
        struct retry_outcome o = { 0, 0, NULL, 0 };
        long delay;

        rc = attempt(ud, n, &o, err);
        if (rc == BF_OK) {
            retry_budget_refund(loop->budget, taken);
            return BF_OK;
        }
        if (!outcome_retryable(rc, &o))
            return rc;
        if (n >= max) {
            if (max > 1)
                bf_err_prefix(err, "after %d attempts", n);
            return rc;
        }
        taken = retry_budget_take(loop->budget, o.timed_out);
        if (taken == 0) {
            bf_err_prefix(err, "retry budget exhausted after %d attempt%s",
                          n, n == 1 ? "" : "s");
            return rc;
        }
        delay = retry_backoff_ms(n, retry_is_throttle(o.status, o.aws_code),
                                 loop->rng);
        if (loop->sleep_ms != NULL)
            loop->sleep_ms(loop->sleep_ctx, delay);
        else
            time_sleep_ms(delay);
    }
}
