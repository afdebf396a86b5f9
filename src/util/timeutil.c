/* timeutil.c -- ISO 8601 <-> epoch milliseconds, matching JSONata's
 * $toMillis/$fromMillis for the forms the state machine produces.
 *
 * Owns the civil-calendar arithmetic (no time zone database, no locale),
 * the strict parser the task input goes through (statemachine/README.md
 * "Input (StartExecution)") and
 * the process's two clocks and its one sleep, so callers never touch
 * clock_gettime or nanosleep themselves.
 */
#include "util/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian
 * date, no tables, no time zone database. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = { 31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31 };
    if (m == 2 && is_leap(y))
        return 29;
    return dim[m - 1];
}

/* Read exactly `n` digits; returns -1 if any is not a digit. */
static int read_digits(const char **p, int n)
{
    int v = 0;

    for (; n > 0; n--, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static enum bf_rc bad(struct bf_err *err, const char *s, const char *why)
{
    return bf_err_set(err, BF_E_INVALID_INPUT,
                      "'%.64s' is not an ISO 8601 timestamp: %s", s, why);
}

/* Parse the optional zone designator; sets the offset in minutes. */
static int parse_offset(const char **p, int *minutes)
{
    int sign, hh, mm = 0;

    *minutes = 0;
    if (**p == '\0')
        return 0;
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        return 0;
    }
    if (**p != '+' && **p != '-')
        return -1;
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    hh = read_digits(p, 2);
    if (hh < 0 || hh > 23)
        return -1;
    if (**p == ':')
        (*p)++;
    if (**p != '\0') {
        mm = read_digits(p, 2);
        if (mm < 0 || mm > 59)
            return -1;
    }
    *minutes = sign * (hh * 60 + mm);
    return 0;
}

/* ".fff..." after the seconds: keep three digits and truncate the rest, as
 * $toMillis does. Returns NULL or what is wrong. */
static const char *parse_fraction(const char **p, int *ms)
{
    int digits;

    *ms = 0;
    if (**p != '.' && **p != ',')
        return NULL;
    (*p)++;
    for (digits = 0; **p >= '0' && **p <= '9'; (*p)++, digits++) {
        if (digits < 3)
            *ms = *ms * 10 + (**p - '0');
    }
    if (digits == 0)
        return "empty fraction of a second";
    for (; digits < 3; digits++)
        *ms *= 10;
    return NULL;
}

/* "HH:MM[:SS[.fff]]" after the 'T'. Returns NULL or what is wrong. */
static const char *parse_clock(const char **p, int *hh, int *mi, int *ss,
                               int *ms)
{
    *hh = read_digits(p, 2);
    if (*hh < 0 || *hh > 23 || **p != ':')
        return "hour must be 00 to 23";
    (*p)++;
    *mi = read_digits(p, 2);
    if (*mi < 0 || *mi > 59)
        return "minute must be 00 to 59";
    if (**p != ':')
        return NULL;
    (*p)++;
    *ss = read_digits(p, 2);
    if (*ss < 0 || *ss > 59)
        return "second must be 00 to 59";
    return parse_fraction(p, ms);
}

/* "YYYY-MM-DD". Returns NULL or what is wrong. */
static const char *parse_date(const char **p, int *y, int *mo, int *d)
{
    *y = read_digits(p, 4);
    if (*y < 0 || **p != '-')
        return "expected YYYY-MM-DD";
    (*p)++;
    *mo = read_digits(p, 2);
    if (*mo < 1 || *mo > 12 || **p != '-')
        return "month must be 01 to 12";
    (*p)++;
    *d = read_digits(p, 2);
    if (*d < 1 || (unsigned)*d > days_in_month(*y, (unsigned)*mo))
        return "no such day in that month";
    return NULL;
}

enum bf_rc time_parse_iso8601(const char *s, int64_t *ms_out,
                              struct bf_err *err)
{
    const char *p = s;
    const char *why = NULL;
    int y = 0, mo = 0, d = 0, hh = 0, mi = 0, ss = 0, ms = 0, off = 0;
    int64_t days;

    if (s == NULL)
        return bf_err_set(err, BF_E_INVALID_INPUT, "timestamp is missing");
    why = parse_date(&p, &y, &mo, &d);
    if (why == NULL && (*p == 'T' || *p == 't')) {
        p++;
        why = parse_clock(&p, &hh, &mi, &ss, &ms);
        if (why == NULL && parse_offset(&p, &off) != 0)
            why = "bad time zone offset";
    }
    if (why == NULL && *p != '\0')
        why = "unexpected characters at the end";
    if (why != NULL)
        return bad(err, s, why);
    days = time_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms_out = ((days * 86400 + hh * 3600 + mi * 60 + ss) - (int64_t)off * 60)
              * 1000 + ms;
    return BF_OK;
}

/* `n` as exactly `width` decimal digits (the caller bounds it). */
static void put_digits(char *out, unsigned n, int width)
{
    while (width-- > 0) {
        out[width] = (char)('0' + n % 10);
        n /= 10;
    }
}

void time_format_iso8601(int64_t ms, char out[TIME_ISO_LEN])
{
    int64_t days, secs, y;
    unsigned m, d;
    int msec;
    unsigned sod;

    msec = (int)(((ms % 1000) + 1000) % 1000);
    secs = (ms - msec) / 1000;
    days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    secs -= days * 86400;
    time_civil_from_days(days, &y, &m, &d);
    sod = (unsigned)secs; /* 0..86399 after the day split above */
    /* Digits by arithmetic, not snprintf: every log line and every task
     * stamps the time, and the layout is fixed (24 characters for years
     * 0..9999, which the callers' validation guarantees). */
    memcpy(out, "0000-00-00T00:00:00.000Z", TIME_ISO_LEN);
    put_digits(out, (unsigned)(y < 0 ? 0 : y % 10000), 4);
    put_digits(out + 5, m, 2);
    put_digits(out + 8, d, 2);
    put_digits(out + 11, sod / 3600, 2);
    put_digits(out + 14, sod / 60 % 60, 2);
    put_digits(out + 17, sod % 60, 2);
    put_digits(out + 20, (unsigned)msec, 3);
}

void time_format_key(int64_t ms, char out[TIME_ISO_LEN])
{
    char *c;

    time_format_iso8601(ms, out);
    for (c = out; *c != '\0'; c++) {
        if (*c == ':')
            *c = '-';
    }
}

static int month_index(const char *m)
{
    static const char *const names[12] = {"Jan", "Feb", "Mar", "Apr", "May",
                                          "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec"};
    int i;

    for (i = 0; i < 12; i++) {
        if (strncmp(m, names[i], 3) == 0)
            return i + 1;
    }
    return 0;
}

int time_parse_http_date(const char *s, int64_t *ms)
{
    char wd[16], mon[4], tz[4];
    int d = 0, y = 0, hh = 0, mm = 0, ss = 0, m = 0, used = 0;

    if (sscanf(s, "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d %3s%n", wd, &d, mon,
               &y, &hh, &mm, &ss, tz, &used) == 8 && s[used] == '\0') {
        /* IMF-fixdate */
    } else if (sscanf(s, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", wd, &d,
                      mon, &y, &hh, &mm, &ss, tz, &used) == 8 &&
               s[used] == '\0') {
        y += y < 70 ? 2000 : 1900; /* RFC 850's two-digit years */
    } else if (sscanf(s, "%15[A-Za-z] %3s %2d %2d:%2d:%2d %4d%n", wd, mon, &d,
                      &hh, &mm, &ss, &y, &used) == 7 && s[used] == '\0') {
        strcpy(tz, "GMT");
    } else {
        return -1;
    }
    m = month_index(mon);
    if (m == 0 || strcmp(tz, "GMT") != 0 || d < 1 || d > 31 || hh > 23 ||
        mm > 59 || ss > 60 || y < 1970)
        return -1;
    *ms = (time_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 +
           hh * 3600 + mm * 60 + ss) * 1000;
    return 0;
}

int64_t time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_sleep_ms(long ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    /* nanosleep leaves the time still to sleep in `ts` when interrupted. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}
