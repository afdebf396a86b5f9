/* failsink.h -- a sink that crashes half-way, for idempotency tests.
 *
 * A failing sink wraps a real sink (borrowed: it must outlive the wrapper)
 * and passes every call through, except that the `nth` object write on it
 * (counted over all its objects, from 1; once) fails with
 * BF_E_SINK_UNAVAILABLE and a message "simulated crash writing <key>".
 * From then on that object is dead, as if the process had died there:
 * further writes fail the same way, a commit fails without publishing, and
 * an abort does not clean up. Its inner object is left as a crash leaves
 * it (the file sink's temporary file on disk, an S3 multipart upload in
 * progress) until the failing sink is freed with sink_free(), which then
 * aborts it; a test that forks the crashing run and lets the child exit
 * without freeing keeps the debris for good, as a real crash would.
 *
 * It is a sink backend (sink/private/sink_backend.h), so anything that
 * takes a `struct sink *` takes it: chunkout_open(), or a whole chunk
 * through chunk_options.sink.
 */
#ifndef BF_TESTS_FAILSINK_H
#define BF_TESTS_FAILSINK_H

#include "sink/sink.h"
#include "util/err.h"

/* `nth` >= 1. Freed with sink_free() (which leaves `inner` open). */
enum bf_rc failsink_new(struct sink *inner, int nth, struct sink **out,
                        struct bf_err *err);

#endif
