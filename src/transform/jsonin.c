/* jsonin.c -- arena JSON parser producing cJSON-identical trees.
 *
 * Follows cJSON 1.7.15's parse_value/parse_string/parse_number step by step
 * (whitespace is any byte <= 32, numbers are the [0-9+-eE.] run read by
 * strtod, strings keep raw bytes and decode \b \f \n \r \t \" \\ \/ \uXXXX),
 * so that whenever this parser succeeds cJSON would have built the same
 * tree. Where cJSON has quirks (text ending inside a container, surrogate
 * pairs, NUL bytes, numbers past 40 characters, nesting past 64) it gives
 * up and the caller asks cJSON. Nodes come from blocks kept across records;
 * strings from one buffer at least as long as the text (a decoded string
 * is always shorter than its quoted source), so nothing moves mid-parse.
 */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transform/jsonin.h"
#include "util/hex.h"

#define JI_BLOCK 256      /* nodes per block */
#define JI_MAX_DEPTH 64   /* deeper: leave it to cJSON */
#define JI_MAX_NUMBER 40  /* longer number runs: leave them to cJSON */

struct ji_block {
    struct ji_block *next;
    cJSON nodes[JI_BLOCK];
};

struct jsonin {
    struct ji_block *blocks;   /* all blocks, kept across parses */
    struct ji_block *cur;      /* the block being filled */
    size_t used;               /* nodes used in cur */
    char *strs;                /* decoded strings */
    size_t strs_cap;
    size_t strs_len;
    int c_locale;              /* strtod reads '.': cJSON's text as is */
};

struct ji_parse {
    struct jsonin *j;
    const unsigned char *s;
    size_t n;
    size_t off;
    int depth;
};

enum bf_rc jsonin_new(struct jsonin **out, struct bf_err *err)
{
    struct jsonin *j = calloc(1, sizeof(*j));
    const struct lconv *lc = localeconv();

    *out = NULL;
    if (j == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    j->c_locale = lc != NULL && lc->decimal_point != NULL &&
                  strcmp(lc->decimal_point, ".") == 0;
    *out = j;
    return BF_OK;
}

void jsonin_free(struct jsonin *j)
{
    struct ji_block *b = NULL;

    if (j == NULL)
        return;
    while (j->blocks != NULL) {
        b = j->blocks;
        j->blocks = b->next;
        free(b);
    }
    free(j->strs);
    free(j);
}

static cJSON *node_new(struct jsonin *j)
{
    struct ji_block *b = NULL;
    cJSON *c = NULL;

    if (j->cur == NULL || j->used == JI_BLOCK) {
        b = j->cur != NULL ? j->cur->next : j->blocks;
        if (b == NULL) {
            b = malloc(sizeof(*b));
            if (b == NULL)
                return NULL;
            b->next = NULL;
            if (j->cur != NULL)
                j->cur->next = b;
            else
                j->blocks = b;
        }
        j->cur = b;
        j->used = 0;
    }
    c = &j->cur->nodes[j->used++];
    memset(c, 0, sizeof(*c));
    return c;
}

static void skip_ws(struct ji_parse *p)
{
    while (p->off < p->n && p->s[p->off] <= 32)
        p->off++;
}

/* Skip whitespace inside a container; 0 when text is left. cJSON steps
 * back one byte when whitespace runs to the end, so give up there. */
static int skip_ws_inner(struct ji_parse *p)
{
    skip_ws(p);
    return p->off < p->n ? 0 : -1;
}


/* \uXXXX at `in` (7 readable bytes: the escape and at least one more) to
 * UTF-8 at *o. 0 or -1 (bad hex, surrogates and U+0000 are left to
 * cJSON). */
static int put_u16(const unsigned char *in, char **o)
{
    unsigned cp = 0;
    int i, h;

    for (i = 2; i < 6; i++) {
        h = hex_digit_value((unsigned char)in[i]);
        if (h < 0)
            return -1;
        cp = cp << 4 | (unsigned)h;
    }
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    if (cp < 0x80) {
        *(*o)++ = (char)cp;
    } else if (cp < 0x800) {
        *(*o)++ = (char)(0xC0 | cp >> 6);
        *(*o)++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *(*o)++ = (char)(0xE0 | cp >> 12);
        *(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *(*o)++ = (char)(0x80 | (cp & 0x3F));
    }
    return 0;
}

/* The first '"', '\\' or NUL byte in [s, lim), or lim. Eight bytes at a
 * time: a word holds one iff a has-zero-byte test flags a byte (borrows
 * only flag bytes above a true hit, so "any flagged" is exact). */
static const unsigned char *find_special(const unsigned char *s,
                                         const unsigned char *lim)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    uint64_t x, q, bs;

    for (; lim - s >= 8; s += 8) {
        memcpy(&x, s, 8);
        q = x ^ (ones * '"');
        bs = x ^ (ones * '\\');
        if ((((x - ones) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) &
            high)
            break;
    }
    while (s < lim && *s != '"' && *s != '\\' && *s != '\0')
        s++;
    return s;
}

/* The string at p->off (a '"'), decoded into the string buffer in one
 * pass, plain runs copied whole. cJSON's end is the first quote not
 * escaped by a backslash; a \uXXXX that passes the hex check holds no
 * quote, so it cannot hide the end either. */
static char *parse_string(struct ji_parse *p)
{
    const unsigned char *in = p->s + p->off + 1;
    const unsigned char *lim = p->s + p->n;
    const unsigned char *stop = NULL;
    char *out = p->j->strs + p->j->strs_len, *o = out;

    for (;;) {
        stop = find_special(in, lim);
        memcpy(o, in, (size_t)(stop - in));
        o += stop - in;
        in = stop;
        if (in == lim || *in == '\0')
            return NULL; /* unterminated, or a NUL cJSON would end at */
        if (*in == '"')
            break;
        if (in + 1 >= lim)
            return NULL;
        switch (in[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case '"': case '\\': case '/': *o++ = (char)in[1]; break;
        case 'u':
            if (lim - in < 7 || put_u16(in, &o) != 0)
                return NULL;
            in += 4;
            break;
        default:
            return NULL;
        }
        in += 2;
    }
    *o++ = '\0';
    p->j->strs_len += (size_t)(o - out);
    p->off = (size_t)(in - p->s) + 1;
    return out;
}

/* cJSON's parse_number: the [0-9+-eE.] run, read by strtod. */
static int parse_number(struct ji_parse *p, cJSON *item)
{
    char tmp[JI_MAX_NUMBER + 1];
    const unsigned char *s = p->s + p->off;
    size_t i, first, len = 0, room = p->n - p->off;
    int plain = 1;
    uint64_t v = 0;
    double d;
    char *after = NULL;

    while (len < room && len <= JI_MAX_NUMBER &&
           (strchr("0123456789+-eE.", s[len]) != NULL && s[len] != '\0'))
        len++;
    if (len > JI_MAX_NUMBER)
        return -1;
    /* Up to 15 digits, optionally negative: exact in a double, so the
     * integer is what strtod would give. */
    first = s[0] == '-' ? 1 : 0;
    for (i = first; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || i - first >= 15) {
            plain = 0;
            break;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (plain && len > first) {
        d = s[0] == '-' ? -(double)v : (double)v;
        p->off += len;
    } else {
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        d = strtod(tmp, &after);
        if (after == tmp)
            return -1;
        p->off += (size_t)(after - tmp);
    }
    item->type = cJSON_Number;
    item->valuedouble = d;
    if (d >= INT32_MAX)
        item->valueint = INT32_MAX;
    else if (d <= (double)INT32_MIN)
        item->valueint = INT32_MIN;
    else
        item->valueint = (int)d;
    return 0;
}

static int parse_value(struct ji_parse *p, cJSON *item);

/* Attach `c` after *last under `parent`. */
static void attach(cJSON *parent, cJSON **last, cJSON *c)
{
    if (*last == NULL) {
        parent->child = c;
    } else {
        (*last)->next = c;
        c->prev = *last;
    }
    *last = c;
}

/* An array or object at p->off; `object` selects which. */
static int parse_container(struct ji_parse *p, cJSON *item, int object)
{
    const unsigned char close = object ? '}' : ']';
    cJSON *last = NULL, *c = NULL;

    if (p->depth >= JI_MAX_DEPTH)
        return -1;
    p->depth++;
    item->type = object ? cJSON_Object : cJSON_Array;
    p->off++;
    if (skip_ws_inner(p) != 0)
        return -1;
    if (p->s[p->off] != close) {
        for (;;) {
            c = node_new(p->j);
            if (c == NULL)
                return -1;
            attach(item, &last, c);
            if (object) {
                if (p->s[p->off] != '"')
                    return -1;
                c->string = parse_string(p);
                if (c->string == NULL || skip_ws_inner(p) != 0 ||
                    p->s[p->off] != ':')
                    return -1;
                p->off++;
                if (skip_ws_inner(p) != 0)
                    return -1;
            }
            if (parse_value(p, c) != 0 || skip_ws_inner(p) != 0)
                return -1;
            if (p->s[p->off] != ',')
                break;
            p->off++;
            if (skip_ws_inner(p) != 0)
                return -1;
        }
        if (p->s[p->off] != close)
            return -1;
        item->child->prev = last;
    }
    p->off++;
    p->depth--;
    return 0;
}

static int literal(struct ji_parse *p, const char *word, size_t len)
{
    if (p->n - p->off < len || memcmp(p->s + p->off, word, len) != 0)
        return -1;
    p->off += len;
    return 0;
}

static int parse_value(struct ji_parse *p, cJSON *item)
{
    unsigned char c;

    if (p->off >= p->n)
        return -1;
    c = p->s[p->off];
    switch (c) {
    case 'n':
        item->type = cJSON_NULL;
        return literal(p, "null", 4);
    case 'f':
        item->type = cJSON_False;
        return literal(p, "false", 5);
    case 't':
        item->type = cJSON_True;
        item->valueint = 1;
        return literal(p, "true", 4);
    case '"':
        item->type = cJSON_String;
        item->valuestring = parse_string(p);
        return item->valuestring != NULL ? 0 : -1;
    case '[':
        return parse_container(p, item, 0);
    case '{':
        return parse_container(p, item, 1);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p, item);
        return -1;
    }
}

const cJSON *jsonin_parse(struct jsonin *j, const char *text, size_t n)
{
    struct ji_parse p = { j, (const unsigned char *)text, n, 0, 0 };
    cJSON *root = NULL;
    char *ns = NULL;

    if (!j->c_locale || text == NULL || n == 0)
        return NULL;
    if (j->strs_cap < n + 1) {
        ns = realloc(j->strs, n + 1);
        if (ns == NULL)
            return NULL;
        j->strs = ns;
        j->strs_cap = n + 1;
    }
    j->strs_len = 0;
    j->cur = NULL;
    j->used = 0;
    /* cJSON skips a BOM only when more than one byte follows it. */
    if (n > 4 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        p.off = 3;
    skip_ws(&p);
    root = node_new(j);
    if (root == NULL || parse_value(&p, root) != 0)
        return NULL;
    return root;
}
