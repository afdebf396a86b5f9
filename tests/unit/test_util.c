/* test_util.c -- err, buf, timeutil and log: the bottom layer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "util/backoff.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/jsonstrict.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/waker.h"

#include "testsuite.h"

START_TEST(err_set_flattens_and_returns_code)
{
    struct bf_err e;

    bf_err_init(&e);
    ck_assert_int_eq(bf_err_set(&e, BF_E_CONFIG, "a\nb %d", 7), BF_E_CONFIG);
    ck_assert_str_eq(e.message, "a b 7");
    ck_assert_int_eq(bf_err_set(NULL, BF_E_LIMIT, "x"), BF_E_LIMIT);
    bf_err_prefix(&e, "S3 %s", "PutObject");
    ck_assert_str_eq(e.message, "S3 PutObject: a b 7");
}
END_TEST

START_TEST(err_names_round_trip)
{
    enum bf_rc rc;

    for (rc = BF_E_INVALID_INPUT; rc <= BF_E_INTERNAL; rc++)
        ck_assert_int_eq(bf_rc_from_error_name(bf_rc_error_name(rc)), rc);
    ck_assert_str_eq(bf_rc_error_name(BF_E_NOMEM), "Backfill.Internal");
    ck_assert_str_eq(bf_rc_error_name(BF_E_SOURCE_PROTOCOL),
                     "Backfill.SourceProtocolError");
}
END_TEST

START_TEST(err_cause_is_bounded_json)
{
    struct bf_err e;
    char *s;
    cJSON *o;
    char big[400];

    bf_err_init(&e);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bf_err_set(&e, BF_E_SOURCE_UNAVAILABLE, "%s", big);
    e.http_status = 503;
    e.page = 4;
    snprintf(e.endpoint, sizeof(e.endpoint), "service/tickets");
    s = bf_err_cause_json(&e, 200);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_lt(strlen(s), 200);
    o = cJSON_Parse(s);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "http_status")->valueint, 503);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "page")->valueint, 4);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "retryable")));
    cJSON_Delete(o);
    free(s);
    /* A long endpoint in a small budget: still within it, or nothing. */
    memset(e.endpoint, 'e', sizeof(e.endpoint) - 1);
    e.endpoint[sizeof(e.endpoint) - 1] = '\0';
    s = bf_err_cause_json(&e, 120);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_lt(strlen(s), 120);
    free(s);
    ck_assert_ptr_null(bf_err_cause_json(&e, 64));
}
END_TEST

START_TEST(buf_respects_limit)
{
    struct buf b;
    char *s;

    buf_init(&b, 8);
    ck_assert_int_eq(buf_append_str(&b, "12345"), BF_OK);
    ck_assert_int_eq(buf_append_str(&b, "6789"), BF_E_LIMIT);
    ck_assert_str_eq(b.data, "12345");
    ck_assert_int_eq(buf_printf(&b, "%d", 678), BF_OK);
    ck_assert_str_eq(b.data, "12345678");
    ck_assert_int_eq(buf_printf(&b, "%d", 9), BF_E_LIMIT);
    s = buf_detach(&b);
    ck_assert_str_eq(s, "12345678");
    free(s);
    ck_assert_ptr_null(b.data);
    buf_cleanup_secure(&b);
}
END_TEST

static int64_t parse_ok(const char *s)
{
    int64_t ms = 0;
    struct bf_err e;

    bf_err_init(&e);
    ck_assert_msg(time_parse_iso8601(s, &ms, &e) == BF_OK, "%s: %s", s,
                  e.message);
    return ms;
}

/* A secret buffer keeps its contents across growth like any other, and
 * the blocks it outgrows are not the ones it ends in (it copies, so that
 * the old one can be wiped; realloc might have kept or moved it). */
START_TEST(buf_secret_grows_by_copy)
{
    struct buf b;
    const char *first = NULL;
    char chunk[100];
    int i, moved = 0;

    buf_init_secret(&b, 0);
    memset(chunk, 'k', sizeof(chunk));
    ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), BF_OK);
    first = b.data;
    for (i = 0; i < 50; i++) {
        const char *before = b.data;

        ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), BF_OK);
        moved += b.data != before;
    }
    ck_assert_uint_eq(b.len, 51 * sizeof(chunk));
    for (i = 0; i < (int)b.len; i++)
        ck_assert_int_eq(b.data[i], 'k');
    ck_assert_int_eq(b.data[b.len], '\0');
    ck_assert_int_gt(moved, 0);
    ck_assert_ptr_ne(b.data, first);
    buf_cleanup_secure(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(time_parse_forms)
{
    char out[TIME_ISO_LEN];

    ck_assert_int_eq(parse_ok("1970-01-01"), 0);
    ck_assert_int_eq(parse_ok("2025-06-13T06:00:57.295053+00:00"),
                     parse_ok("2025-06-13T06:00:57.295Z"));
    ck_assert_int_eq(parse_ok("2025-06-13T08:00:57+02:00"),
                     parse_ok("2025-06-13T06:00:57Z"));
    ck_assert_int_eq(parse_ok("2025-06-13T06:00:57.2Z") % 1000, 200);
    ck_assert_int_eq(parse_ok("2024-02-29T00:00"), 1709164800000LL);
    time_format_iso8601(parse_ok("2025-06-13T06:00:57.295053+00:00"), out);
    ck_assert_str_eq(out, "2025-06-13T06:00:57.295Z");
    time_format_key(0, out);
    ck_assert_str_eq(out, "1970-01-01T00-00-00.000Z");
    time_format_iso8601(-1, out);
    ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}
END_TEST

/* The digit-by-digit formatter against gmtime_r + strftime over random
 * instants from 1970 to 9999 (and the day edges). */
START_TEST(time_format_matches_gmtime)
{
    char out[TIME_ISO_LEN], want[64];
    unsigned long long x = 88172645463325252ULL;
    int i;

    for (i = 0; i < 20000; i++) {
        int64_t ms;
        time_t t;
        struct tm tm;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ms = (int64_t)(x % 253402300800000ULL);
        if (i % 4 == 0)
            ms -= ms % 86400000; /* midnight */
        if (i % 4 == 1)
            ms += 86399999 - ms % 86400000; /* last ms of a day */
        t = (time_t)(ms / 1000);
        ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + strlen(want), sizeof(want) - strlen(want), ".%03dZ",
                 (int)(ms % 1000));
        time_format_iso8601(ms, out);
        ck_assert_str_eq(out, want);
    }
}
END_TEST

START_TEST(time_parse_rejects)
{
    static const char *bad[] = { "", "2025-02-29", "2025-13-01",
        "2025-06-31", "2025-06-13T24:00:00Z", "2025-06-13T06:00:57.Z",
        "2025-06-13T06:00:57Zjunk", "13/06/2025", "2025-6-13",
        "2025-06-13T06:00:57+25:00", NULL };
    int64_t ms;
    struct bf_err e;
    int i;

    for (i = 0; bad[i] != NULL; i++) {
        bf_err_init(&e);
        ck_assert_msg(time_parse_iso8601(bad[i], &ms, &e) ==
                      BF_E_INVALID_INPUT, "accepted %s", bad[i]);
        ck_assert(strstr(e.message, "ISO 8601") != NULL);
    }
}
END_TEST

START_TEST(log_lines_are_json)
{
    int fds[2];
    struct log_line l;
    char line[LOG_LINE_MAX + 64];
    ssize_t n;
    cJSON *o;
    char big[LOG_LINE_MAX];
    char tag[13];

    ck_assert_int_eq(pipe(fds), 0);
    log_setup(LOG_INFO, "w1", fds[1]);
    ck_assert_int_eq(log_begin(&l, LOG_DEBUG, "skipped"), 0);
    ck_assert(log_begin(&l, LOG_INFO, "task_started"));
    log_str(&l, "tenant", "a\"b\n");
    log_int(&l, "chunk", 3);
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_str(&l, "huge", big);
    log_end(&l);
    n = read(fds[0], line, sizeof(line) - 1);
    ck_assert_int_gt(n, 0);
    line[n] = '\0';
    ck_assert_int_eq(line[n - 1], '\n');
    o = cJSON_Parse(line);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "tenant")->valuestring, "a\"b\n");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "worker")->valuestring, "w1");
    ck_assert_ptr_null(cJSON_GetObjectItem(o, "huge"));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated")));
    cJSON_Delete(o);
    log_token_hash("secret-token", tag);
    ck_assert_uint_eq(strlen(tag), 12);
    ck_assert(strstr("secret-token", tag) == NULL);
    log_setup(LOG_INFO, "", 2);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(hex_known_answers)
{
    char out[HEX_SHA256_LEN];
    char tag[13];

    hex_encode("\x00\x01\xab\xff", 4, out);
    ck_assert_str_eq(out, "0001abff");
    hex_encode("", 0, out);
    ck_assert_str_eq(out, "");
    /* FIPS 180-2 test vectors. */
    hex_sha256("abc", 3, out);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223"
                          "b00361a396177a9cb410ff61f20015ad");
    hex_sha256(NULL, 0, out);
    ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855");
    log_token_hash("abc", tag);
    ck_assert_str_eq(tag, "ba7816bf8f01");
}
END_TEST

START_TEST(file_read_all_bounds_and_missing)
{
    char path[] = "/tmp/bf-util-XXXXXX";
    struct buf b;
    struct bf_err e;
    int missing = -1;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "0123456789", 10), 10);
    close(fd);
    buf_init(&b, 10);
    ck_assert_int_eq(file_read_all(path, &b, &missing, &e), BF_OK);
    ck_assert_int_eq(missing, 0);
    ck_assert_str_eq(b.data, "0123456789");
    buf_cleanup(&b);
    /* One byte over the limit is refused before it is read. */
    buf_init(&b, 9);
    bf_err_init(&e);
    ck_assert_int_eq(file_read_all(path, &b, NULL, &e), BF_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.message, path));
    buf_cleanup(&b);
    unlink(path);
    /* Missing: an answer when asked for, an error naming the path if not. */
    buf_init(&b, 0);
    ck_assert_int_eq(file_read_all(path, &b, &missing, &e), BF_OK);
    ck_assert_int_eq(missing, 1);
    bf_err_init(&e);
    ck_assert_int_eq(file_read_all(path, &b, NULL, &e), BF_E_IO);
    ck_assert_int_eq(e.rc, BF_E_IO);
    ck_assert_ptr_nonnull(strstr(e.message, "No such file"));
    /* An empty file reads as "", never NULL. */
    ck_assert_int_eq(file_read_all("/dev/null", &b, NULL, &e), BF_OK);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_uint_eq(b.len, 0);
    buf_cleanup(&b);
    ck_assert_int_eq(bf_err_reclassify(&e, BF_E_CONFIG), BF_E_CONFIG);
    ck_assert_int_eq(e.rc, BF_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "No such file"));
}
END_TEST

/* waker: another thread kicks after `delay_ms`, with waker_kick_by(due)
 * when due >= 0, else waker_kick(). */
struct kicker {
    struct waker *k;
    int delay_ms;
    int64_t due;
};

static void *kick_later(void *arg)
{
    struct kicker *kk = arg;
    int asleep = 0;

    /* Kick a sleeping waiter, not one that has yet to start waiting. */
    while (!asleep) {
        pthread_mutex_lock(&kk->k->lock);
        asleep = kk->k->until != WAKER_AWAKE;
        pthread_mutex_unlock(&kk->k->lock);
        time_sleep_ms(5);
    }
    time_sleep_ms(kk->delay_ms);
    if (kk->due >= 0)
        waker_kick_by(kk->k, kk->due);
    else
        waker_kick(kk->k);
    return NULL;
}

/* How long waker_wait(deadline = now + `sleep_ms`, or forever when < 0)
 * takes while another thread kicks as `kk` says. */
static int64_t timed_wait(struct waker *k, int64_t sleep_ms, struct kicker *kk)
{
    pthread_t th;
    int64_t t0 = time_mono_ms();

    kk->k = k;
    ck_assert_int_eq(pthread_create(&th, NULL, kick_later, kk), 0);
    waker_wait(k, sleep_ms < 0 ? WAKER_FOREVER : t0 + sleep_ms);
    pthread_join(th, NULL);
    return time_mono_ms() - t0;
}

START_TEST(waker_deadlines_and_kicks)
{
    struct waker k;
    struct kicker kk;
    int64_t t0, took;

    waker_init(&k);
    /* The deadline alone ends the sleep. */
    t0 = time_mono_ms();
    waker_wait(&k, t0 + 150);
    took = time_mono_ms() - t0;
    ck_assert_msg(took >= 150 && took < 2000, "deadline sleep took %lld ms", (long long)took);
    /* A kick sent while awake is kept: the next wait returns at once. */
    waker_kick(&k);
    t0 = time_mono_ms();
    waker_wait(&k, t0 + 5000);
    ck_assert_int_lt(time_mono_ms() - t0, 1000);
    /* A kick from another thread ends a sleep without a deadline. */
    kk.delay_ms = 100;
    kk.due = -1;
    took = timed_wait(&k, -1, &kk);
    ck_assert_msg(took >= 100 && took < 2000, "kicked after %lld ms", (long long)took);
    /* kick_by a time after the sleep's own deadline does not wake it... */
    kk.due = time_mono_ms() + 60000;
    took = timed_wait(&k, 600, &kk);
    ck_assert_msg(took >= 600, "woken early, after %lld ms", (long long)took);
    /* ...and one before it does. */
    kk.due = time_mono_ms() + 200;
    took = timed_wait(&k, 5000, &kk);
    ck_assert_msg(took < 2500, "not woken, slept %lld ms", (long long)took);
    waker_destroy(&k);
}
END_TEST

/* A thread that sleeps on a cancellation and records how long it slept. */
struct sleeper {
    struct task_cancel *c;
    int64_t ms, took;
    enum bf_rc rc;
};

static void *sleep_on(void *arg)
{
    struct sleeper *sl = arg;
    struct bf_err e;
    int64_t t0 = time_mono_ms();

    sl->rc = task_cancel_sleep(sl->c, sl->ms, &e);
    sl->took = time_mono_ms() - t0;
    return NULL;
}

START_TEST(cancel_sleep_wakes_every_sleeper)
{
    struct task_cancel c;
    struct sleeper a = { NULL, 60000, 0, BF_OK }, b;
    pthread_t ta, tb;
    struct bf_err e;
    int64_t t0, took;

    task_cancel_init(&c);
    /* Not set: the whole time passes. */
    t0 = time_mono_ms();
    ck_assert_int_eq(task_cancel_sleep(&c, 120, &e), BF_OK);
    took = time_mono_ms() - t0;
    ck_assert_msg(took >= 120 && took < 2000, "slept %lld ms", (long long)took);
    ck_assert_int_eq(task_cancel_sleep(&c, 0, &e), BF_OK);
    ck_assert_int_eq(task_cancel_sleep(NULL, 20, &e), BF_OK);
    /* Two sleepers of a minute each: one set wakes both at once, with the
     * first reason kept. */
    a.c = &c;
    b = a;
    ck_assert_int_eq(pthread_create(&ta, NULL, sleep_on, &a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, sleep_on, &b), 0);
    time_sleep_ms(100);
    task_cancel_set(&c, BF_E_WORKER_SHUTDOWN);
    task_cancel_set(&c, BF_E_CANCELLED);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_int_eq(a.rc, BF_E_CANCELLED);
    ck_assert_int_eq(b.rc, BF_E_CANCELLED);
    ck_assert_msg(a.took < 5000 && b.took < 5000, "woken after %lld and %lld ms",
                  (long long)a.took, (long long)b.took);
    ck_assert_int_eq(task_cancel_reason(&c), BF_E_WORKER_SHUTDOWN);
    /* Already set: no sleep at all, even for zero. */
    t0 = time_mono_ms();
    ck_assert_int_eq(task_cancel_sleep(&c, 60000, &e), BF_E_CANCELLED);
    ck_assert_str_eq(e.message, "cancelled while waiting");
    ck_assert_int_eq(task_cancel_sleep(&c, 0, &e), BF_E_CANCELLED);
    ck_assert_int_lt(time_mono_ms() - t0, 1000);
    /* Reset for the next task. */
    task_cancel_reset(&c);
    ck_assert(!task_cancelled(&c));
    ck_assert_int_eq(task_cancel_reason(&c), BF_OK);
    ck_assert_int_eq(task_cancel_sleep(&c, 10, &e), BF_OK);
    task_cancel_destroy(&c);
}
END_TEST

/* Equal jitter stays in [d/2, d] and reaches both ends' neighbourhoods;
 * the cap holds however many attempts; full jitter is under d. */
START_TEST(backoff_equal_and_full_jitter)
{
    uint64_t rng;
    int64_t lo = INT64_MAX, hi = 0, d;
    int i, attempt;

    backoff_seed(&rng);
    ck_assert(rng != 0);
    for (i = 0; i < 4000; i++) {
        d = backoff_ms(3, 500, 30000, BACKOFF_EQUAL, &rng); /* d = 2000 */
        ck_assert_int_ge(d, 1000);
        ck_assert_int_le(d, 2000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    ck_assert_int_lt(lo, 1100);
    ck_assert_int_gt(hi, 1900);
    for (attempt = 1; attempt < 80; attempt++) {
        ck_assert_int_le(backoff_ms(attempt, 500, 30000, BACKOFF_EQUAL, &rng), 30000);
        ck_assert_int_lt(backoff_ms(attempt, 50, 20000, BACKOFF_FULL, &rng), 20000);
    }
    ck_assert_int_lt(backoff_ms(1, 50, 20000, BACKOFF_FULL, &rng), 50);
}
END_TEST

/* The three forms of RFC 9110, and what is not an HTTP date. */
START_TEST(http_date_forms)
{
    static const char *const bad[] = {
        "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT x", "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "1994-11-06T08:49:37Z", "", NULL
    };
    int64_t ms = 0, want = 784111777000LL; /* 1994-11-06T08:49:37Z */
    int i;

    ck_assert_int_eq(time_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &ms), 0);
    ck_assert_int_eq(ms, want);
    ck_assert_int_eq(time_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &ms), 0);
    ck_assert_int_eq(ms, want);
    ck_assert_int_eq(time_parse_http_date("Sun Nov  6 08:49:37 1994", &ms), 0);
    ck_assert_int_eq(ms, want);
    for (i = 0; bad[i] != NULL; i++)
        ck_assert_msg(time_parse_http_date(bad[i], &ms) == -1, "accepted '%s'", bad[i]);
}
END_TEST

/* Lookups find what was put, a put replaces, growth keeps every entry and
 * a key that was never put is absent (the fleet summary relies on all
 * four). */
/* The word-at-a-time scan against the byte rule, with each stop byte at
 * every offset of a 20-byte run (inside and across 8-byte words). */
START_TEST(json_plain_len_stops_where_bytes_say)
{
    static const unsigned char stops[] = { '"', '\\', 0x00, 0x1f, 0x0a };
    unsigned char b[20];
    size_t s, at;

    for (s = 0; s < sizeof stops; s++) {
        for (at = 0; at < sizeof b; at++) {
            memset(b, 'a', sizeof b);
            b[at] = stops[s];
            ck_assert_uint_eq(json_plain_len(b, sizeof b, 0), at);
            ck_assert_uint_eq(json_plain_len(b, sizeof b, 1), at);
        }
    }
    memset(b, 'a', sizeof b);
    ck_assert_uint_eq(json_plain_len(b, sizeof b, 1), sizeof b);
    ck_assert_uint_eq(json_plain_len(b, 5, 0), 5);
    ck_assert_uint_eq(json_plain_len(b, 0, 0), 0);
    for (at = 0; at < sizeof b; at++) {
        memset(b, ' ', sizeof b);
        b[at] = 0xC3; /* UTF-8 lead byte: the caller checks it */
        ck_assert_uint_eq(json_plain_len(b, sizeof b, 1), at);
        ck_assert_uint_eq(json_plain_len(b, sizeof b, 0), sizeof b);
        b[at] = 0x7f; /* DEL is no control byte in JSON */
        ck_assert_uint_eq(json_plain_len(b, sizeof b, 1), sizeof b);
    }
}
END_TEST

START_TEST(strmap_put_get_replace_grow)
{
    struct strmap *m = strmap_new();
    static int vals[5000];
    char key[32];
    int i;

    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_null(strmap_get(m, "absent"));
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "acme|service/tickets|%d", i);
        ck_assert_int_eq(strmap_put(m, key, &vals[i]), BF_OK);
    }
    ck_assert_uint_eq(strmap_count(m), 5000);
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "acme|service/tickets|%d", i);
        ck_assert_ptr_eq(strmap_get(m, key), &vals[i]);
    }
    ck_assert_int_eq(strmap_put(m, "acme|service/tickets|7", &vals[0]), BF_OK);
    ck_assert_ptr_eq(strmap_get(m, "acme|service/tickets|7"), &vals[0]);
    ck_assert_uint_eq(strmap_count(m), 5000);
    ck_assert_ptr_null(strmap_get(m, "acme|service/tickets|5000"));
    ck_assert_ptr_null(strmap_get(m, ""));
    strmap_free(m);
    strmap_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, err_set_flattens_and_returns_code);
    tcase_add_test(tc, json_plain_len_stops_where_bytes_say);
    tcase_add_test(tc, err_names_round_trip);
    tcase_add_test(tc, err_cause_is_bounded_json);
    tcase_add_test(tc, buf_respects_limit);
    tcase_add_test(tc, time_parse_forms);
    tcase_add_test(tc, buf_secret_grows_by_copy);
    tcase_add_test(tc, time_parse_rejects);
    tcase_add_test(tc, time_format_matches_gmtime);
    tcase_add_test(tc, log_lines_are_json);
    tcase_add_test(tc, hex_known_answers);
    tcase_add_test(tc, file_read_all_bounds_and_missing);
    tcase_add_test(tc, waker_deadlines_and_kicks);
    tcase_add_test(tc, cancel_sleep_wakes_every_sleeper);
    tcase_add_test(tc, backoff_equal_and_full_jitter);
    tcase_add_test(tc, http_date_forms);
    tcase_add_test(tc, strmap_put_get_replace_grow);
    suite_add_tcase(s, tc);
    return s;
}
