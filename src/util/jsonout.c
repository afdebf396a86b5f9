/* jsonout.c -- compact JSON text into a struct buf, cJSON-identical.
 *
 * Owns the two number rules (cJSON's printer and the mapping engine's
 * shortest round-trip text) and string escaping, each with a fast path that
 * is proven to give the printf result: integers are written digit by digit,
 * decimals with at most four places are written from their scaled integer
 * when that integer reads back as the same double. Anything else falls back
 * to the printf/strtod rule itself, so the output never depends on the
 * fast path being right about an unusual value.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonout.h"

#define JO_INT_LIMIT 9007199254740992.0 /* 2^53 */
#define JO_SIG15 1e15                   /* below: at most 15 digits */

/* Which bytes need an escape (quote, backslash, controls). */
static int needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* How many bytes from s[0] need no escape. Eight at a time: a word has a
 * byte below 0x20, a '"' or a '\\' iff one of the three has-zero-byte
 * tests below flags a byte (borrows only flag bytes above a true hit, so
 * "any flagged" is exact); the byte loop then finds where. */
static size_t plain_run(const unsigned char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    uint64_t x, q, bs;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&x, s + i, 8);
        q = x ^ (ones * '"');
        bs = x ^ (ones * '\\');
        if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
             ((bs - ones) & ~bs)) & high)
            break;
    }
    while (i < n && !needs_escape(s[i]))
        i++;
    return i;
}

enum bf_rc jsonout_string(struct buf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    enum bf_rc rc = buf_reserve(b, n + 2);
    size_t i = 0, run;
    char *o;

    if (rc != BF_OK)
        return rc;
    b->data[b->len++] = '"';
    while (i < n) {
        run = i + plain_run((const unsigned char *)s + i, n - i);
        /* The reserve above covers the plain bytes and the quotes; each
         * escape needs up to 5 more. */
        rc = buf_reserve(b, (run - i) + 7);
        if (rc != BF_OK)
            return rc;
        memcpy(b->data + b->len, s + i, run - i);
        b->len += run - i;
        i = run;
        if (i == n)
            break;
        o = b->data + b->len;
        o[0] = '\\';
        switch (s[i]) {
        case '"':  o[1] = '"';  b->len += 2; break;
        case '\\': o[1] = '\\'; b->len += 2; break;
        case '\n': o[1] = 'n';  b->len += 2; break;
        case '\r': o[1] = 'r';  b->len += 2; break;
        case '\t': o[1] = 't';  b->len += 2; break;
        case '\b': o[1] = 'b';  b->len += 2; break;
        case '\f': o[1] = 'f';  b->len += 2; break;
        default:
            o[1] = 'u';
            o[2] = '0';
            o[3] = '0';
            o[4] = hexd[((unsigned char)s[i]) >> 4];
            o[5] = hexd[((unsigned char)s[i]) & 15];
            b->len += 6;
            break;
        }
        i++;
    }
    rc = buf_reserve(b, 1);
    if (rc != BF_OK)
        return rc;
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
    return BF_OK;
}

/* Decimal digits of |v| into the end of `tmp` (which holds 24); returns the
 * start. */
static char *digits_u64(uint64_t v, char *end)
{
    char *p = end;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

/* An integral |d| < 2^63, with the sign of `neg`. */
static enum bf_rc put_integer(struct buf *b, double d, int neg)
{
    char tmp[24];
    char *p = digits_u64((uint64_t)fabs(d), tmp + sizeof(tmp));

    if (neg)
        *--p = '-';
    return buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* A non-integral `d` that is the double nearest to M / 10^k for some k in
 * 1..4 and |M| < 10^15: then both %.15g and %1.15g print M / 10^k in fixed
 * notation without trailing zeros (the value has at most 15 significant
 * digits, lies in [1e-4, 1e15), and d is within half an ulp of it, far less
 * than half a unit in the 15th digit), and that text reads back as d
 * exactly. Writes it and returns 1, or returns 0 without writing. */
static int put_short_decimal(struct buf *b, double d, enum bf_rc *rc)
{
    static const double p10[] = { 1, 10, 100, 1000, 10000 };
    char tmp[40];
    char *p, *end = tmp + sizeof(tmp);
    uint64_t m, ip;
    double s;
    int k, i;

    for (k = 1; k <= 4; k++) {
        s = fabs(d) * p10[k];
        if (s != floor(s) || s >= JO_SIG15)
            continue;
        m = (uint64_t)s;
        if ((double)m / p10[k] != fabs(d))
            continue;
        ip = m;
        for (i = 0; i < k; i++)
            ip /= 10;
        /* Fraction digits, trailing zeros dropped. */
        p = end;
        for (i = 0; i < k; i++, m /= 10) {
            if (p == end && m % 10 == 0)
                continue;
            *--p = (char)('0' + m % 10);
        }
        *--p = '.';
        p = digits_u64(ip, p);
        if (d < 0)
            *--p = '-';
        *rc = buf_append(b, p, (size_t)(end - p));
        return 1;
    }
    return 0;
}

/* cJSON's compare_double(): equal within DBL_EPSILON relative. */
static int cjson_close(double a, double b)
{
    double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

    return fabs(a - b) <= max * DBL_EPSILON;
}

enum bf_rc jsonout_number_cjson(struct buf *b, double d)
{
    char tmp[32];
    enum bf_rc rc = BF_OK;

    if (isnan(d) || isinf(d))
        return buf_append(b, "null", 4);
    /* %1.15g prints an integer below 10^15 as its digits ("-0" too). */
    if (d == floor(d) && fabs(d) < JO_SIG15)
        return put_integer(b, d, signbit(d) != 0);
    if (d != floor(d) && put_short_decimal(b, d, &rc))
        return rc;
    snprintf(tmp, sizeof(tmp), "%1.15g", d);
    if (!cjson_close(strtod(tmp, NULL), d))
        snprintf(tmp, sizeof(tmp), "%1.17g", d);
    return buf_append_str(b, tmp);
}

enum bf_rc jsonout_number_short(struct buf *b, double d)
{
    char tmp[32];
    enum bf_rc rc = BF_OK;

    if (d == floor(d) && fabs(d) <= JO_INT_LIMIT)
        return put_integer(b, d, signbit(d) != 0);
    if (isfinite(d) && d != floor(d) && put_short_decimal(b, d, &rc))
        return rc;
    snprintf(tmp, sizeof(tmp), "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof(tmp), "%.17g", d);
    return buf_append_str(b, tmp);
}

static enum bf_rc put_container(struct buf *b, const cJSON *v, int object)
{
    const cJSON *c = NULL;
    enum bf_rc rc = buf_append(b, object ? "{" : "[", 1);

    for (c = v->child; c != NULL && rc == BF_OK; c = c->next) {
        if (c != v->child)
            rc = buf_append(b, ",", 1);
        if (rc == BF_OK && object)
            rc = c->string != NULL
                ? jsonout_string(b, c->string, strlen(c->string))
                : buf_append(b, "\"\"", 2);
        if (rc == BF_OK && object)
            rc = buf_append(b, ":", 1);
        if (rc == BF_OK)
            rc = jsonout_value(b, c);
    }
    return rc == BF_OK ? buf_append(b, object ? "}" : "]", 1) : rc;
}

enum bf_rc jsonout_value(struct buf *b, const cJSON *v)
{
    switch (v->type & 0xFF) {
    case cJSON_NULL:
        return buf_append(b, "null", 4);
    case cJSON_False:
        return buf_append(b, "false", 5);
    case cJSON_True:
        return buf_append(b, "true", 4);
    case cJSON_Number:
        return jsonout_number_cjson(b, v->valuedouble);
    case cJSON_String:
        if (v->valuestring == NULL)
            return buf_append(b, "\"\"", 2);
        return jsonout_string(b, v->valuestring, strlen(v->valuestring));
    case cJSON_Raw:
        if (v->valuestring == NULL)
            return BF_E_INVALID_INPUT;
        return buf_append_str(b, v->valuestring);
    case cJSON_Array:
        return put_container(b, v, 0);
    case cJSON_Object:
        return put_container(b, v, 1);
    default:
        return BF_E_INVALID_INPUT;
    }
}
