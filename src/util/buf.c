/* buf.c -- growable, size-limited byte buffer (see buf.h).
 *
 * Owns the growth policy (doubling from 256 bytes, overflow-checked against
 * both SIZE_MAX and the caller's limit) and the NUL terminator every buffer
 * keeps. Everything read from the network goes through here, so the limit
 * check comes before any allocation. No knowledge of what the bytes mean.
 */
#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void buf_init(struct buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit != 0 ? limit : SIZE_MAX - 1;
    b->secret = 0;
}

void buf_init_secret(struct buf *b, size_t limit)
{
    buf_init(b, limit);
    b->secret = 1;
}

/* realloc() may move the data and free the old block as it is: for a
 * secret buffer, copy by hand and wipe the old block first. */
static enum bf_rc grow_wiping(struct buf *b, size_t cap)
{
    char *p = malloc(cap);

    if (p == NULL)
        return BF_E_NOMEM;
    if (b->data != NULL) {
        memcpy(p, b->data, b->len + 1);
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return BF_OK;
}

enum bf_rc buf_reserve(struct buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (n > b->limit || b->len > b->limit - n)
        return BF_E_LIMIT;
    need = b->len + n + 1; /* +1: the terminating NUL */
    if (need <= b->cap)
        return BF_OK;
    cap = b->cap != 0 ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    if (b->secret)
        return grow_wiping(b, cap);
    p = realloc(b->data, cap);
    if (p == NULL)
        return BF_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return BF_OK;
}

enum bf_rc buf_append(struct buf *b, const void *p, size_t n)
{
    enum bf_rc rc = buf_reserve(b, n);

    if (rc != BF_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return BF_OK;
}

enum bf_rc buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum bf_rc buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    enum bf_rc rc;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return BF_E_INTERNAL;
    rc = buf_reserve(b, (size_t)n);
    if (rc != BF_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BF_OK;
}

enum bf_rc buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    enum bf_rc rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void buf_cleanup(struct buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_cleanup_secure(struct buf *b)
{
    if (b == NULL)
        return;
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    buf_cleanup(b);
}

char *buf_detach(struct buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

enum bf_rc buf_copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        return BF_E_LIMIT;
    memcpy(dst, src, n + 1);
    return BF_OK;
}
