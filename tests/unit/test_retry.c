/* test_retry.c -- retry decisions, backoff bounds, the budget and the loop.
 *
 * The loop is driven by a scripted attempt function and a recording sleep
 * seam, so no time passes and every decision is visible.
 */
#include <pthread.h>
#include <string.h>

#include "aws/retry.h"
#include "util/backoff.h"
#include "util/timeutil.h"
#include "testsuite.h"

START_TEST(classification)
{
    static const char *const throttles[] = {
        "ThrottlingException", "Throttling", "ThrottledException",
        "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "LimitExceededException",
        "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException", NULL };
    static const char *const transient[] = {
        "RequestTimeout", "RequestTimeoutException", "InternalError",
        "InternalFailure", "ServiceUnavailable", NULL };
    int i;

    for (i = 0; throttles[i] != NULL; i++) {
        ck_assert_msg(retry_is_throttle(400, throttles[i]), "%s", throttles[i]);
        ck_assert(retry_is_retryable(400, throttles[i]));
    }
    for (i = 0; transient[i] != NULL; i++) {
        ck_assert(!retry_is_throttle(400, transient[i]));
        ck_assert_msg(retry_is_retryable(400, transient[i]), "%s",
                      transient[i]);
    }
    ck_assert(retry_is_retryable(0, NULL));   /* transport */
    ck_assert(retry_is_retryable(500, ""));
    ck_assert(retry_is_retryable(502, NULL));
    ck_assert(retry_is_retryable(503, "Whatever"));
    ck_assert(retry_is_retryable(504, NULL));
    ck_assert(retry_is_retryable(429, NULL));
    ck_assert(retry_is_throttle(429, NULL));
    ck_assert(!retry_is_retryable(501, NULL));
    ck_assert(!retry_is_retryable(400, "ValidationException"));
    ck_assert(!retry_is_retryable(403, "AccessDeniedException"));
    ck_assert(!retry_is_retryable(400, "TaskTimedOut"));
    ck_assert(!retry_is_retryable(404, "throttlingexception"));
}
END_TEST

START_TEST(backoff_bounds)
{
    uint64_t rng;
    long max_seen[8] = { 0 };
    int retry, i;

    backoff_seed(&rng);
    for (i = 0; i < 2000; i++) {
        for (retry = 1; retry <= 7; retry++) {
            long d = retry_backoff_ms(retry, 0, &rng);
            long ceiling = RETRY_BASE_MS << (retry - 1);
            ck_assert_int_ge(d, 0);
            ck_assert_int_lt(d, ceiling);
            if (d > max_seen[retry])
                max_seen[retry] = d;
        }
        ck_assert_int_lt(retry_backoff_ms(1, 1, &rng), RETRY_THROTTLE_BASE_MS);
        ck_assert_int_lt(retry_backoff_ms(30, 1, &rng), RETRY_MAX_BACKOFF_MS);
    }
    /* Full jitter spreads over the whole range, not just near the top. */
    for (retry = 1; retry <= 7; retry++)
        ck_assert_int_gt(max_seen[retry], (RETRY_BASE_MS << (retry - 1)) / 2);
}
END_TEST

START_TEST(rng_per_client)
{
    uint64_t a = 1, b = 1, c;

    /* Same seed, same sequence: the state is the caller's, nothing shared. */
    ck_assert(backoff_rand(&a) == backoff_rand(&b));
    backoff_seed(&a);
    backoff_seed(&c);
    ck_assert(a != 0 && c != 0);
    ck_assert(a != c);
}
END_TEST

START_TEST(budget_tokens)
{
    struct retry_budget b;
    int n = 0;

    retry_budget_init(&b, 0);
    ck_assert_int_eq(retry_budget_available(&b), 500);
    while (retry_budget_take(&b, 0) == RETRY_COST)
        n++;
    ck_assert_int_eq(n, 100);
    ck_assert_int_eq(retry_budget_available(&b), 0);
    retry_budget_refund(&b, 0);
    ck_assert_int_eq(retry_budget_available(&b), 1);
    retry_budget_refund(&b, 10);
    ck_assert_int_eq(retry_budget_take(&b, 1), RETRY_TIMEOUT_COST);
    ck_assert_int_eq(retry_budget_take(&b, 1), 0);
    for (n = 0; n < 1000; n++)
        retry_budget_refund(&b, 5);
    ck_assert_int_eq(retry_budget_available(&b), 500); /* capped */
    retry_budget_cleanup(&b);
}
END_TEST

/* The scripted attempt: fails with script[n-1] until the script ends. */
struct script {
    const enum bf_rc *rcs;
    const long *status;
    const char *const *codes;
    int len;
    int calls;
    int timed_out;
};

static enum bf_rc scripted(void *ud, int n, struct retry_outcome *o,
                           struct bf_err *err)
{
    struct script *s = ud;

    s->calls++;
    ck_assert_int_eq(n, s->calls);
    if (n > s->len)
        return BF_OK;
    o->status = s->status[n - 1];
    o->aws_code = s->codes[n - 1];
    o->timed_out = s->timed_out;
    return bf_err_set(err, s->rcs[n - 1], "attempt %d failed", n);
}

struct sleeps {
    long ms[16];
    int n;
};

static void record_sleep(void *ctx, long ms)
{
    struct sleeps *s = ctx;

    if (s->n < 16)
        s->ms[s->n] = ms;
    s->n++;
}

START_TEST(loop_decisions)
{
    static const enum bf_rc rcs[] = { BF_E_AWS, BF_E_TRANSPORT, BF_E_AWS };
    static const long st[] = { 400, 0, 500 };
    static const char *const codes[] = { "ThrottlingException", NULL,
                                         "InternalFailure" };
    struct retry_budget b;
    uint64_t rng;
    struct sleeps sl = { { 0 }, 0 };
    struct retry_loop loop = { &b, 3, &rng, record_sleep, &sl };
    struct script s = { rcs, st, codes, 2, 0, 0 };
    struct bf_err e;

    retry_budget_init(&b, 0);
    backoff_seed(&rng);
    /* Two retryable failures, then success within 3 attempts. */
    ck_assert_int_eq(retry_run(&loop, scripted, &s, &e), BF_OK);
    ck_assert_int_eq(s.calls, 3);
    ck_assert_int_eq(sl.n, 2);
    ck_assert_int_lt(sl.ms[0], RETRY_THROTTLE_BASE_MS);   /* throttled */
    ck_assert_int_lt(sl.ms[1], RETRY_BASE_MS * 2);        /* transport */
    /* 500 - 5 - 5 + 5 (refund of the retry that succeeded). */
    ck_assert_int_eq(retry_budget_available(&b), 495);

    /* All three fail: the last error comes back, annotated. */
    s = (struct script){ rcs, st, codes, 3, 0, 0 };
    bf_err_init(&e);
    ck_assert_int_eq(retry_run(&loop, scripted, &s, &e), BF_E_AWS);
    ck_assert_int_eq(s.calls, 3);
    ck_assert_ptr_nonnull(strstr(e.message, "after 3 attempts"));
    ck_assert_ptr_nonnull(strstr(e.message, "attempt 3 failed"));
    retry_budget_cleanup(&b);
}
END_TEST

START_TEST(loop_not_retryable)
{
    static const enum bf_rc rcs[] = { BF_E_AWS, BF_E_LIMIT };
    static const long st[] = { 400, 200 };
    static const char *const codes[] = { "ValidationException", NULL };
    struct retry_budget b;
    uint64_t rng = 7;
    struct sleeps sl = { { 0 }, 0 };
    struct retry_loop loop = { &b, 3, &rng, record_sleep, &sl };
    struct script s = { rcs, st, codes, 1, 0, 0 };
    struct bf_err e;

    retry_budget_init(&b, 0);
    ck_assert_int_eq(retry_run(&loop, scripted, &s, &e), BF_E_AWS);
    ck_assert_int_eq(s.calls, 1);
    s = (struct script){ rcs + 1, st + 1, codes + 1, 1, 0, 0 };
    ck_assert_int_eq(retry_run(&loop, scripted, &s, &e), BF_E_LIMIT);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(sl.n, 0);
    retry_budget_cleanup(&b);
}
END_TEST

START_TEST(loop_budget_exhausted)
{
    static const enum bf_rc rcs[] = { BF_E_TRANSPORT, BF_E_TRANSPORT,
                                      BF_E_TRANSPORT };
    static const long st[] = { 0, 0, 0 };
    static const char *const codes[] = { NULL, NULL, NULL };
    struct retry_budget b;
    uint64_t rng = 9;
    struct sleeps sl = { { 0 }, 0 };
    struct retry_loop loop = { &b, 3, &rng, record_sleep, &sl };
    struct script s = { rcs, st, codes, 3, 0, 1 };
    struct bf_err e;

    /* 25 tokens: one timeout retry costs 10, so two retries fit, then
     * the next call gets none. */
    retry_budget_init(&b, 25);
    ck_assert_int_eq(retry_run(&loop, scripted, &s, &e), BF_E_TRANSPORT);
    ck_assert_int_eq(s.calls, 3);
    ck_assert_int_eq(retry_budget_available(&b), 5);
    s = (struct script){ rcs, st, codes, 3, 0, 1 };
    bf_err_init(&e);
    ck_assert_int_eq(retry_run(&loop, scripted, &s, &e), BF_E_TRANSPORT);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_ptr_nonnull(strstr(e.message, "retry budget exhausted"));
    retry_budget_cleanup(&b);
}
END_TEST

static void *drain(void *arg)
{
    struct retry_budget *b = arg;
    int got = 0;

    while (retry_budget_take(b, 0) > 0)
        got++;
    return (void *)(intptr_t)got;
}

START_TEST(budget_threads)
{
    struct retry_budget b;
    pthread_t t[4];
    int total = 0;
    int i;

    retry_budget_init(&b, 5000);
    for (i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, drain, &b);
    for (i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (int)(intptr_t)r;
    }
    ck_assert_int_eq(total, 1000);
    retry_budget_cleanup(&b);
}
END_TEST

START_TEST(clock_skew)
{
    int64_t skew = 0;
    /* 2026-11-27T12:00:00Z */
    int64_t server = time_days_from_civil(2026, 11, 27) * 86400000LL +
                     12 * 3600000LL;
    const char *date = "Fri, 27 Nov 2026 12:00:00 GMT";

    ck_assert(retry_is_clock_skew_code("RequestTimeTooSkewed"));
    ck_assert(retry_is_clock_skew_code("InvalidSignatureException"));
    ck_assert(!retry_is_clock_skew_code("ThrottlingException"));
    /* Within 4 minutes: no change. */
    ck_assert_int_eq(retry_clock_skew_update(&skew, server - 60000, date,
                                             "RequestTimeTooSkewed"), 0);
    ck_assert(skew == 0);
    /* 10 minutes behind: corrected to the server's time. */
    ck_assert_int_eq(retry_clock_skew_update(&skew, server - 600000, date,
                                             "RequestTimeTooSkewed"), 1);
    ck_assert(skew == 600000);
    /* Once corrected, the same answer does not trigger again. */
    ck_assert_int_eq(retry_clock_skew_update(&skew, server - 600000, date,
                                             "RequestExpired"), 0);
    /* Not a skew code, no date, a bad date: nothing. */
    skew = 0;
    ck_assert_int_eq(retry_clock_skew_update(&skew, 0, date, "AccessDenied"), 0);
    ck_assert_int_eq(retry_clock_skew_update(&skew, 0, NULL, "RequestExpired"),
                     0);
    ck_assert_int_eq(retry_clock_skew_update(&skew, 0, "Fri, 27 Foo 2026 "
                                             "12:00:00 GMT", "RequestExpired"),
                     0);
    ck_assert(skew == 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("retry");
    TCase *tc = tcase_create("retry");

    tcase_add_test(tc, classification);
    tcase_add_test(tc, backoff_bounds);
    tcase_add_test(tc, rng_per_client);
    tcase_add_test(tc, budget_tokens);
    tcase_add_test(tc, loop_decisions);
    tcase_add_test(tc, loop_not_retryable);
    tcase_add_test(tc, loop_budget_exhausted);
    tcase_add_test(tc, budget_threads);
    tcase_add_test(tc, clock_skew);
    suite_add_tcase(s, tc);
    return s;
}
