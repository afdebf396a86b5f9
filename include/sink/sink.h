/* sink.h -- where chunk output goes: a directory (file://) or S3 (s3://).
 *
 * A sink is opened from BACKFILL_OUTPUT and addresses objects by *key*, a
 * '/'-separated path relative to its root (the directory, or the bucket plus
 * prefix). Objects are written through a `struct sink_object` that becomes
 * visible only on commit: the file sink writes a temporary file, fsyncs it,
 * renames it into place and fsyncs the directory; the S3 sink buffers at most
 * one multipart part in memory and uses PutObject for small objects,
 * multipart upload for large ones (aborted on failure). The gzip JSON Lines
 * part writer and manifests built on top live in sink/chunkout.h.
 *
 * Error classes: S3 403 -> BF_E_SINK_ACCESS_DENIED; 5xx, SlowDown and
 * transport failures (after awsrest's retries) -> BF_E_SINK_UNAVAILABLE;
 * local file errors -> BF_E_SINK_UNAVAILABLE as well (a full disk is not the
 * task's fault and may clear up) except EACCES/EPERM/EROFS ->
 * BF_E_SINK_ACCESS_DENIED; bad URIs -> BF_E_CONFIG.
 * Each chunk opens its own sink; the chunk's threads may share it (every
 * call is serialised on the sink's mutex).
 *
 * Layout: src/sink/sink.c implements this interface once and dispatches
 * to a backend through a table of operations (sink/private/sink_backend.h):
 * sink_file.c for file://, sink_s3.c for s3://. The tests' failing sink
 * (tests/support/failsink.h, for crash tests) is a backend of that table
 * too, wrapping a real sink.
 */
#ifndef BF_SINK_SINK_H
#define BF_SINK_SINK_H

#include <stddef.h>

#include "aws/awsenv.h"
#include "util/buf.h"
#include "util/err.h"

struct sink;
struct sink_object;

struct sink_options {
    const char *sse_kms_key_id;  /* S3: SSE-KMS key for every object; NULL/"" = none */
    size_t multipart_part_size;  /* S3: bytes per part and the PutObject
                                    threshold; 0 = 8 MiB, min 5 MiB unless
                                    allow_small_parts (tests) */
    int allow_small_parts;       /* tests only: let multipart_part_size < 5 MiB */
};

/* Open a sink for `output_uri`:
 *   file:///abs/dir, file://./rel/dir, file://rel/dir (relative to the cwd),
 *   or s3://bucket[/prefix].
 * `aws` is needed only for s3:// (borrowed; a reference is taken). `opts`
 * may be NULL. The file sink creates the directory if needed.
 * BF_E_CONFIG for a malformed URI or s3:// without `aws`. */
enum bf_rc sink_open(const char *output_uri, struct awsenv *aws,
                     const struct sink_options *opts, struct sink **out,
                     struct bf_err *err);
void sink_free(struct sink *s); /* NULL-safe */

/* "file" or "s3". Never NULL. */
const char *sink_kind(const struct sink *s);

/* The full URI of `key` ("s3://bucket/prefix/key", "file:///abs/dir/key")
 * into `out` (`n` bytes; cut to fit). `key` "" gives the root. */
void sink_uri(const struct sink *s, const char *key, char *out, size_t n);

/* Start writing object `key` (parent directories are created). Nothing is
 * visible under `key` until sink_object_commit() succeeds. */
enum bf_rc sink_object_begin(struct sink *s, const char *key,
                             struct sink_object **out, struct bf_err *err);
enum bf_rc sink_object_write(struct sink_object *o, const void *p, size_t n,
                             struct bf_err *err);
/* Publish the object and free `o` (on failure too: the partial object is
 * discarded, a multipart upload aborted). */
enum bf_rc sink_object_commit(struct sink_object *o, struct bf_err *err);
/* Discard and free. NULL-safe. */
void sink_object_abort(struct sink_object *o);

/* Write a whole object at once (begin, write, commit). */
enum bf_rc sink_put(struct sink *s, const char *key, const void *data,
                    size_t len, struct bf_err *err);

/* Read a whole object into `out` (whose limit bounds it: BF_E_LIMIT when it
 * is larger). *found = 0 (and BF_OK) when there is no such object. */
enum bf_rc sink_get(struct sink *s, const char *key, struct buf *out,
                    int *found, struct bf_err *err);

/* Stream an object: the file sink reads the file in place, the S3 sink
 * fetches ranges of one multipart part size (GetObject with Range), so
 * memory stays bounded whatever the object's size. *found = 0 (BF_OK, no
 * reader) when there is no such object. */
struct sink_reader;
enum bf_rc sink_read_open(struct sink *s, const char *key,
                          struct sink_reader **out, int *found,
                          struct bf_err *err);
/* Up to `cap` bytes into `p`; *got = 0 at the end. */
enum bf_rc sink_read(struct sink_reader *r, void *p, size_t cap, size_t *got,
                     struct bf_err *err);
void sink_read_close(struct sink_reader *r); /* NULL-safe */

/* Delete `key`; deleting a missing object is BF_OK. */
enum bf_rc sink_delete(struct sink *s, const char *key, struct bf_err *err);

/* The keys directly under directory `dir` (no trailing '/'; not recursive:
 * names containing a further '/' are left out), as names relative to `dir`,
 * sorted. Temporary files of the file sink are included (so stale ones can
 * be deleted). `*names` is a malloc'd array of malloc'd strings, freed with
 * sink_names_free(). A missing directory lists as empty. */
enum bf_rc sink_list(struct sink *s, const char *dir, char ***names,
                     size_t *n, struct bf_err *err);
void sink_names_free(char **names, size_t n); /* NULL-safe */

/* S3: abort the multipart uploads a crashed earlier attempt left in
 * progress directly under `dir` (they are invisible but billed). The file
 * sink has nothing to do here (its temporary files are ordinary names that
 * sink_list shows). */
enum bf_rc sink_abort_incomplete(struct sink *s, const char *dir,
                                 struct bf_err *err);

#endif
