/* fileio.h -- reading a whole local file into a bounded buffer.
 *
 * The shared profile files, the mapping files, the file sink's objects and
 * the local tenant and secrets stores are all read whole; this is the one
 * reader they share, so each keeps only what it knows: which codes its
 * caller should see (a bad config file is BF_E_CONFIG, a sink file error
 * BF_E_SINK_*) and whether a missing file is an answer or a failure.
 */
#ifndef BF_UTIL_FILEIO_H
#define BF_UTIL_FILEIO_H

#include "util/buf.h"
#include "util/err.h"

/* Append the contents of the file at `path` to `out`, within out->limit.
 *
 * A regular file is reserved for at its size first, so one that does not
 * grow while it is read lands without a reallocation (no stray copy of a
 * secret is left in freed memory); the stack chunk is wiped as well.
 * When `missing` is not NULL, a file that does not exist (ENOENT, ENOTDIR)
 * is BF_OK with *missing = 1 and `out` untouched; when it is NULL that is
 * an error like any other. On success out->data is never NULL.
 *
 * Returns BF_E_IO when the file cannot be opened or read (the message names
 * the path and strerror; errno is left as the failing call set it, for
 * callers that classify by it), BF_E_LIMIT when it is larger than
 * out->limit, BF_E_NOMEM. */
enum bf_rc file_read_all(const char *path, struct buf *out, int *missing,
                         struct bf_err *err);

#endif
