/* buf.h -- a growable byte buffer with a hard size limit.
 *
 * Everything read from the network lands in a `struct buf` whose `limit` is
 * set by the caller, so a hostile or broken peer can never make the worker
 * allocate without bound (house rule: bounded buffers for network input).
 * The data is always NUL-terminated (not counted in `len`), so a buffer that
 * holds text can be passed to string functions directly.
 */
#ifndef BF_UTIL_BUF_H
#define BF_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/err.h"

struct buf {
    char *data;   /* NULL until the first append; NUL-terminated after */
    size_t len;   /* bytes used, excluding the terminating NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* maximum len; 0 means no limit other than SIZE_MAX */
    int secret;   /* buf_init_secret(): growing wipes the old block */
};

/* Initialise an empty buffer. This function can't fail. */
void buf_init(struct buf *b, size_t limit);

/* The same for a buffer that will hold a secret (a key, a token, a header
 * carrying one): when it grows, the old block is wiped before it is freed,
 * so no copy is left behind in freed memory. Free it with
 * buf_cleanup_secure(). */
void buf_init_secret(struct buf *b, size_t limit);

/* Append `n` bytes. Returns BF_E_LIMIT when `limit` would be passed (the
 * buffer is left unchanged) or BF_E_NOMEM. */
enum bf_rc buf_append(struct buf *b, const void *p, size_t n);
enum bf_rc buf_append_str(struct buf *b, const char *s);
enum bf_rc buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum bf_rc buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* Make sure `n` more bytes fit without a reallocation. */
enum bf_rc buf_reserve(struct buf *b, size_t n);

/* Forget the contents but keep the allocation. */
void buf_reset(struct buf *b);

/* Free the memory. NULL-safe. buf_cleanup_secure() wipes it first: use it
 * for anything that held a secret. */
void buf_cleanup(struct buf *b);
void buf_cleanup_secure(struct buf *b);

/* Hand the NUL-terminated data to the caller (who frees it) and reset the
 * buffer. Returns an empty string rather than NULL for an empty buffer;
 * NULL only when out of memory. */
char *buf_detach(struct buf *b);

/* Copy the string `src` into the fixed array `dst` of `cap` bytes, NUL
 * included. BF_E_LIMIT, `dst` untouched, when it does not fit: the caller
 * words the error, since only it knows what the string is. */
enum bf_rc buf_copy_str(char *dst, size_t cap, const char *src);

#endif
