/* fileio.c -- reading a whole local file into a bounded buffer (fileio.h).
 *
 * Owns only the reading: open, size, read in chunks, close, and a one-line
 * error naming the path. It never decides what a failure means for the
 * caller (see the callers in creds_profile.c, xform.c, sink.c, secrets.c).
 */
#include "util/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#define FILEIO_CHUNK 4096

static enum bf_rc open_failed(const char *path, int *missing,
                              struct bf_err *err)
{
    int e = errno;

    if (missing != NULL && (e == ENOENT || e == ENOTDIR)) {
        *missing = 1;
        return BF_OK;
    }
    bf_err_set(err, BF_E_IO, "%s: %s", path, strerror(e));
    errno = e;
    return BF_E_IO;
}

/* Size the buffer for a regular file up front; a file larger than the
 * limit is refused before any byte of it is read. */
static enum bf_rc reserve_for_file(FILE *f, const char *path, struct buf *out,
                                   struct bf_err *err)
{
    struct stat st;
    enum bf_rc rc;

    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return BF_OK;
    if ((unsigned long long)st.st_size > out->limit)
        return bf_err_set(err, BF_E_LIMIT, "%s: larger than %zu bytes", path,
                          out->limit);
    rc = buf_reserve(out, (size_t)st.st_size);
    if (rc != BF_OK)
        return bf_err_set(err, rc, "%s: out of memory", path);
    return BF_OK;
}

static enum bf_rc read_chunks(FILE *f, const char *path, struct buf *out,
                              struct bf_err *err)
{
    char chunk[FILEIO_CHUNK];
    enum bf_rc rc = BF_OK;
    size_t n;
    int e;

    do {
        n = fread(chunk, 1, sizeof(chunk), f);
        rc = buf_append(out, chunk, n);
    } while (rc == BF_OK && n == sizeof(chunk));
    e = errno;
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (rc == BF_E_LIMIT)
        return bf_err_set(err, rc, "%s: larger than %zu bytes", path,
                          out->limit);
    if (rc != BF_OK)
        return bf_err_set(err, rc, "%s: out of memory", path);
    if (ferror(f)) {
        bf_err_set(err, BF_E_IO, "%s: read error: %s", path, strerror(e));
        errno = e;
        return BF_E_IO;
    }
    return BF_OK;
}

enum bf_rc file_read_all(const char *path, struct buf *out, int *missing,
                         struct bf_err *err)
{
    FILE *f = NULL;
    enum bf_rc rc;
    int e;

    if (missing != NULL)
        *missing = 0;
    f = fopen(path, "rb");
    if (f == NULL)
        return open_failed(path, missing, err);
    rc = reserve_for_file(f, path, out, err);
    if (rc == BF_OK)
        rc = read_chunks(f, path, out, err);
    e = errno;
    fclose(f);
    errno = e;
    if (rc == BF_OK && out->data == NULL && buf_append(out, "", 0) != BF_OK)
        return bf_err_set(err, BF_E_NOMEM, "%s: out of memory", path);
    return rc;
}
