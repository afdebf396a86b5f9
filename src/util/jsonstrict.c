/* jsonstrict.c -- strict pre-check of outside JSON (see jsonstrict.h).
 *
 * A recursive-descent scanner over the raw bytes, not a second tree
 * builder: it checks RFC 8259 syntax, duplicate member names (compared
 * after unescaping, so "a" and "\u0061" are the same name), trailing
 * bytes and string contents, and leaves building the tree to cJSON, which
 * then cannot read the document differently from any other reader.
 * Member names of the open objects live in one arena; an object's names
 * are dropped when it closes, so memory is bounded by the document.
 */
#include "util/jsonstrict.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const unsigned char *p;
    size_t n, i;
    int flags;
    int depth;
    struct buf names;       /* decoded names of open objects, each after its uint32_t length */
    struct buf str;         /* the string being decoded */
    struct buf *fixed;      /* repair copy, or NULL */
    size_t copied;          /* input bytes already in `fixed` */
    struct json_strict_report *rep;
};

static enum json_strict_kind fail(struct scan *s, enum json_strict_kind k,
                                  size_t at)
{
    if (s->rep->kind == JSON_STRICT_OK) {
        s->rep->kind = k;
        s->rep->offset = at;
    }
    return k;
}

/* JSON whitespace. Repair mode (records) reads like cJSON and the fast
 * record parser do, which skip any byte up to 0x20 between tokens:
 * a record the fast path reads is never failed by the record check. */
static void skip_ws(struct scan *s)
{
    if (s->flags & JSON_STRICT_REPAIR) {
        while (s->i < s->n && s->p[s->i] <= 0x20)
            s->i++;
        return;
    }
    while (s->i < s->n && (s->p[s->i] == ' ' || s->p[s->i] == '\t' ||
                           s->p[s->i] == '\n' || s->p[s->i] == '\r'))
        s->i++;
}

/* Repair mode: replace input bytes [from, to) by U+FFFD in the copy. */
static enum json_strict_kind replace(struct scan *s, size_t from, size_t to,
                                     int in_key)
{
    s->rep->replaced++;
    if (!in_key && s->depth == 1 && strcmp(s->rep->key, "id") == 0)
        s->rep->replaced_id = 1;
    if (s->fixed == NULL)
        return JSON_STRICT_OK;
    if (buf_append(s->fixed, s->p + s->copied, from - s->copied) != BF_OK ||
        buf_append(s->fixed, "\xEF\xBF\xBD", 3) != BF_OK)
        return fail(s, JSON_STRICT_NOMEM, from);
    s->copied = to;
    return JSON_STRICT_OK;
}

/* A bad string content: an error, or a counted replacement. */
static enum json_strict_kind bad(struct scan *s, enum json_strict_kind k,
                                 size_t from, size_t to, int in_key)
{
    if (s->flags & JSON_STRICT_REPAIR)
        return replace(s, from, to, in_key);
    return fail(s, k, from);
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    int k;

    for (k = 0; k < 4; k++) {
        unsigned c = p[k], d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p[0..n), 0 if invalid (overlong
 * forms, surrogates and code points over U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* Keep decoded bytes only for member names: a value's text is checked,
 * never compared, and copying it cost a fifth of a chunk's CPU. */
static enum json_strict_kind keep(struct scan *s, const void *p, size_t n,
                                  int in_key)
{
    if (in_key && buf_append(&s->str, p, n) != BF_OK)
        return fail(s, JSON_STRICT_NOMEM, s->i);
    return JSON_STRICT_OK;
}

static enum json_strict_kind put_cp(struct scan *s, unsigned cp, int in_key)
{
    unsigned char u[4];
    size_t k;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    return keep(s, u, k, in_key);
}

/* One \u escape (s->i at the backslash), decoded into s->str in a name. */
static enum json_strict_kind escape_u(struct scan *s, int in_key)
{
    size_t at = s->i;
    unsigned cp, lo;

    if (s->n - s->i < 6 || hex4(s->p + s->i + 2, &cp) != 0)
        return fail(s, JSON_STRICT_SYNTAX, at);
    s->i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && s->n - s->i >= 6 &&
        s->p[s->i] == '\\' && s->p[s->i + 1] == 'u' &&
        hex4(s->p + s->i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
        s->i += 6;
        return put_cp(s, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), in_key);
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
        enum json_strict_kind r = bad(s, cp == 0 ? JSON_STRICT_NUL
                                                 : JSON_STRICT_SURROGATE,
                                      at, s->i, in_key);

        return r != JSON_STRICT_OK ? r : put_cp(s, 0xFFFD, in_key);
    }
    return put_cp(s, cp, in_key);
}

/* The one byte at s->i breaks a string rule: bad() over it, then past it
 * when the scan goes on (repair mode). */
static enum json_strict_kind bad_byte(struct scan *s, enum json_strict_kind k,
                                      int in_key)
{
    enum json_strict_kind r = bad(s, k, s->i, s->i + 1, in_key);

    if (r == JSON_STRICT_OK)
        s->i++;
    return r;
}

/* A word holds one of the stop bytes iff one of the has-zero-byte tests
 * flags a byte (borrows only flag bytes above a true hit, so "any
 * flagged" is exact); a byte from 0x80 on has its own high bit. */
size_t json_plain_len(const void *p, size_t n, int stop_high)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    const uint64_t top = stop_high ? high : 0;
    const unsigned char *b = p;
    size_t i = 0;
    uint64_t x, q, bs;

    for (; n - i >= 8; i += 8) {
        memcpy(&x, b + i, 8);
        q = x ^ (ones * '"');
        bs = x ^ (ones * '\\');
        if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
             ((bs - ones) & ~bs) | (x & top)) & high)
            break;
    }
    while (i < n && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' &&
           !(stop_high && b[i] >= 0x80))
        i++;
    return i;
}

/* One backslash escape other than \u (s->i at the backslash). */
static enum json_strict_kind escape_short(struct scan *s, int in_key)
{
    enum json_strict_kind r;
    char e;

    if (s->i + 1 >= s->n)
        return fail(s, JSON_STRICT_SYNTAX, s->i);
    e = (char)s->p[s->i + 1];
    if (strchr("\"\\/bfnrt", e) == NULL || e == '\0')
        return fail(s, JSON_STRICT_SYNTAX, s->i);
    if ((r = keep(s, s->p + s->i + 1, 1, in_key)) != JSON_STRICT_OK)
        return r;
    s->i += 2;
    return JSON_STRICT_OK;
}

/* A string (s->i at the opening quote); a member name is decoded into
 * s->str. */
static enum json_strict_kind string(struct scan *s, int in_key)
{
    buf_reset(&s->str);
    s->i++;
    for (;;) {
        enum json_strict_kind r = JSON_STRICT_OK;
        size_t k = json_plain_len(s->p + s->i, s->n - s->i, 1);
        unsigned char c;

        if (k > 0) {
            if ((r = keep(s, s->p + s->i, k, in_key)) != JSON_STRICT_OK)
                return r;
            s->i += k;
        }
        if (s->i >= s->n)
            return fail(s, JSON_STRICT_SYNTAX, s->i);
        c = s->p[s->i];
        if (c == '"') {
            s->i++;
            return JSON_STRICT_OK;
        }
        /* Raw control bytes: refused, except in records, where cJSON and
         * the fast parser keep them (raw output turns CR/LF into spaces). */
        if (c == 0)
            r = bad_byte(s, JSON_STRICT_NUL, in_key);
        else if (c < 0x20 && !(s->flags & JSON_STRICT_REPAIR))
            return fail(s, JSON_STRICT_SYNTAX, s->i);
        else if (c == '\\' && s->i + 1 < s->n && s->p[s->i + 1] == 'u')
            r = escape_u(s, in_key);
        else if (c == '\\')
            r = escape_short(s, in_key);
        else if ((k = utf8_len(s->p + s->i, s->n - s->i)) == 0)
            r = bad_byte(s, JSON_STRICT_UTF8, in_key);
        else if ((r = keep(s, s->p + s->i, k, in_key)) == JSON_STRICT_OK)
            s->i += k;
        if (r != JSON_STRICT_OK)
            return r;
    }
}

static enum json_strict_kind value(struct scan *s);

/* Whether the decoded name in s->str is already among the names from
 * `mark` on; else add it. Each name is stored after its length, so the
 * search skips names of another length without reading them (an object
 * of k members costs k*k/2 steps, and records have dozens of members). */
static enum json_strict_kind add_name(struct scan *s, size_t mark, size_t at)
{
    size_t i = mark, len = s->str.len;
    const char *d = s->str.data != NULL ? s->str.data : "";
    uint32_t l32;

    while (i < s->names.len) {
        memcpy(&l32, s->names.data + i, sizeof l32);
        i += sizeof l32;
        if (l32 == len && memcmp(s->names.data + i, d, len) == 0) {
            if (!(s->flags & JSON_STRICT_REPAIR))
                return fail(s, JSON_STRICT_DUPLICATE, at);
            if (s->rep->duplicate[0] == '\0')
                memcpy(s->rep->duplicate, s->rep->key, sizeof s->rep->key);
            return JSON_STRICT_OK;
        }
        i += l32;
    }
    if (len > UINT32_MAX)
        return fail(s, JSON_STRICT_NOMEM, at);
    l32 = (uint32_t)len;
    if (buf_append(&s->names, &l32, sizeof l32) != BF_OK ||
        buf_append(&s->names, d, len) != BF_OK)
        return fail(s, JSON_STRICT_NOMEM, at);
    return JSON_STRICT_OK;
}

static void set_key(struct scan *s)
{
    size_t len = s->str.len < sizeof s->rep->key - 1 ? s->str.len
                                                     : sizeof s->rep->key - 1;

    /* An empty name may have no buffer yet; memcpy needs a real pointer. */
    if (s->str.data != NULL)
        memcpy(s->rep->key, s->str.data, len);
    s->rep->key[len] = '\0';
    if (s->depth == 1)
        memcpy(s->rep->top_key, s->rep->key, len + 1);
}

/* After white space, `c` is next: consume it and return 1; else 0 (the
 * white space is consumed either way). */
static int eat(struct scan *s, char c)
{
    skip_ws(s);
    if (s->i < s->n && s->p[s->i] == (unsigned char)c) {
        s->i++;
        return 1;
    }
    return 0;
}

static enum json_strict_kind object(struct scan *s)
{
    size_t mark = s->names.len;
    enum json_strict_kind r;

    s->i++;
    if (eat(s, '}'))
        return JSON_STRICT_OK;
    for (;;) {
        size_t at;

        skip_ws(s);
        if (s->i >= s->n || s->p[s->i] != '"')
            return fail(s, JSON_STRICT_SYNTAX, s->i);
        at = s->i;
        if ((r = string(s, 1)) != JSON_STRICT_OK)
            return r;
        set_key(s);
        if ((r = add_name(s, mark, at)) != JSON_STRICT_OK)
            return r;
        if (!eat(s, ':'))
            return fail(s, JSON_STRICT_SYNTAX, s->i);
        if ((r = value(s)) != JSON_STRICT_OK)
            return r;
        if (eat(s, ','))
            continue;
        if (eat(s, '}')) {
            s->names.len = mark; /* this object's names are done */
            return JSON_STRICT_OK;
        }
        return fail(s, JSON_STRICT_SYNTAX, s->i);
    }
}

static enum json_strict_kind array(struct scan *s)
{
    enum json_strict_kind r;

    s->i++;
    if (eat(s, ']'))
        return JSON_STRICT_OK;
    for (;;) {
        if ((r = value(s)) != JSON_STRICT_OK)
            return r;
        if (eat(s, ','))
            continue;
        if (eat(s, ']'))
            return JSON_STRICT_OK;
        return fail(s, JSON_STRICT_SYNTAX, s->i);
    }
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static enum json_strict_kind number(struct scan *s)
{
    size_t at = s->i;

    if (s->p[s->i] == '-')
        s->i++;
    if (s->i >= s->n || !is_digit(s->p[s->i]))
        return fail(s, JSON_STRICT_SYNTAX, at);
    if (s->p[s->i] == '0')
        s->i++;
    else
        while (s->i < s->n && is_digit(s->p[s->i]))
            s->i++;
    if (s->i < s->n && s->p[s->i] == '.') {
        s->i++;
        if (s->i >= s->n || !is_digit(s->p[s->i]))
            return fail(s, JSON_STRICT_SYNTAX, s->i);
        while (s->i < s->n && is_digit(s->p[s->i]))
            s->i++;
    }
    if (s->i < s->n && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
        s->i++;
        if (s->i < s->n && (s->p[s->i] == '+' || s->p[s->i] == '-'))
            s->i++;
        if (s->i >= s->n || !is_digit(s->p[s->i]))
            return fail(s, JSON_STRICT_SYNTAX, s->i);
        while (s->i < s->n && is_digit(s->p[s->i]))
            s->i++;
    }
    return JSON_STRICT_OK;
}

static enum json_strict_kind word(struct scan *s, const char *w)
{
    size_t l = strlen(w);

    if (s->n - s->i < l || memcmp(s->p + s->i, w, l) != 0)
        return fail(s, JSON_STRICT_SYNTAX, s->i);
    s->i += l;
    return JSON_STRICT_OK;
}

static enum json_strict_kind value(struct scan *s)
{
    enum json_strict_kind r;
    unsigned char c;

    skip_ws(s);
    if (s->i >= s->n)
        return fail(s, JSON_STRICT_SYNTAX, s->i);
    c = s->p[s->i];
    if (c == '{' || c == '[') {
        if (s->depth >= JSON_STRICT_DEPTH_MAX)
            return fail(s, JSON_STRICT_DEPTH, s->i);
        s->depth++;
        r = c == '{' ? object(s) : array(s);
        s->depth--;
        return r;
    }
    if (c == '"')
        return string(s, 0);
    if (c == '-' || is_digit(c))
        return number(s);
    if (c == 't')
        return word(s, "true");
    if (c == 'f')
        return word(s, "false");
    if (c == 'n')
        return word(s, "null");
    return fail(s, JSON_STRICT_SYNTAX, s->i);
}

enum json_strict_kind json_strict_scan(const char *p, size_t n, int flags,
                                       struct buf *fixed,
                                       struct json_strict_report *rep)
{
    struct scan s;
    enum json_strict_kind r;

    memset(rep, 0, sizeof *rep);
    memset(&s, 0, sizeof s);
    s.p = (const unsigned char *)(p != NULL ? p : "");
    s.n = p != NULL ? n : 0;
    s.flags = flags;
    s.fixed = (flags & JSON_STRICT_REPAIR) ? fixed : NULL;
    s.rep = rep;
    buf_init(&s.names, 0);
    buf_init(&s.str, 0);
    /* A leading byte order mark is refused (RFC 8259 section 8.1 lets a
     * reader ignore it, and cJSON_ParseWithLength does not). */
    r = value(&s);
    if (r == JSON_STRICT_OK) {
        skip_ws(&s);
        if (s.i < s.n)
            r = fail(&s, JSON_STRICT_TRAILING, s.i);
    }
    if (r == JSON_STRICT_OK && s.fixed != NULL && rep->replaced > 0 &&
        buf_append(s.fixed, s.p + s.copied, s.n - s.copied) != BF_OK)
        r = fail(&s, JSON_STRICT_NOMEM, s.n);
    buf_cleanup(&s.names);
    buf_cleanup(&s.str);
    return r;
}

void json_strict_describe(const struct json_strict_report *rep, char *out,
                          size_t cap)
{
    const char *k = rep->key[0] != '\0' ? rep->key : "(top level)";

    switch (rep->kind) {
    case JSON_STRICT_OK:
        snprintf(out, cap, "valid");
        break;
    case JSON_STRICT_DUPLICATE:
        if (rep->key[0] != '\0')
            snprintf(out, cap, "duplicate key: %s", rep->key);
        else
            snprintf(out, cap, "duplicate key at byte %zu", rep->offset);
        break;
    case JSON_STRICT_TRAILING:
        snprintf(out, cap, "trailing data after the JSON value at byte %zu",
                 rep->offset);
        break;
    case JSON_STRICT_NUL:
        snprintf(out, cap, "NUL in a string (%s) at byte %zu", k, rep->offset);
        break;
    case JSON_STRICT_UTF8:
        snprintf(out, cap, "invalid UTF-8 in a string (%s) at byte %zu", k,
                 rep->offset);
        break;
    case JSON_STRICT_SURROGATE:
        snprintf(out, cap, "lone surrogate escape in a string (%s) at byte %zu",
                 k, rep->offset);
        break;
    case JSON_STRICT_DEPTH:
        snprintf(out, cap, "nested deeper than %d at byte %zu",
                 JSON_STRICT_DEPTH_MAX, rep->offset);
        break;
    case JSON_STRICT_NOMEM:
        snprintf(out, cap, "out of memory");
        break;
    case JSON_STRICT_SYNTAX:
    default:
        snprintf(out, cap, "not valid JSON at byte %zu", rep->offset);
        break;
    }
}

enum bf_rc json_strict_parse(const char *p, size_t n, const char *what,
                             enum bf_rc rc, int flags, cJSON **out,
                             struct bf_err *err)
{
    struct json_strict_report rep;
    char why[160];

    *out = NULL;
    if (p == NULL)
        return bf_err_set(err, rc, "%s: missing", what);
    if (json_strict_scan(p, n, 0, NULL, &rep) != JSON_STRICT_OK) {
        if (flags & JSON_STRICT_NO_NAMES) /* names may be secret */
            rep.key[0] = rep.top_key[0] = '\0';
        json_strict_describe(&rep, why, sizeof why);
        return bf_err_set(err, rep.kind == JSON_STRICT_NOMEM ? BF_E_NOMEM : rc,
                          "%s: %s", what, why);
    }
    *out = cJSON_ParseWithLength(p, n);
    if (*out == NULL) /* past the scan only when out of memory */
        return bf_err_set(err, BF_E_NOMEM, "%s: out of memory", what);
    return BF_OK;
}
