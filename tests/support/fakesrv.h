/* fakesrv.h -- start and drive the local fake servers from C tests.
 *
 * A fake is a Node script under tests/support/ (fake/server.js for AWS
 * services, others for ConnectWise or metadata services). fakesrv_start()
 * runs it with --watch-stdin, keeps the write end of its stdin, and reads the
 * {"port": N} line it prints once listening on 127.0.0.1. Closing that pipe
 * (fakesrv_stop, or this process dying) makes the fake exit, so no test can
 * leave a server behind. Scripts are found under $BF_TOP (set by make).
 */
#ifndef BF_TESTS_FAKESRV_H
#define BF_TESTS_FAKESRV_H

#include <sys/types.h>

#include "util/buf.h"

struct fakesrv {
    pid_t pid;
    int stdin_fd;
    int port;
    char url[64]; /* "http://127.0.0.1:PORT" */
};

/* Start `script` (relative to $BF_TOP, e.g. "tests/support/fake/server.js")
 * with the NULL-terminated `argv` extra arguments. Returns 0 or -1 (and
 * prints why on stderr). Waits at most 15 s for the port line. */
int fakesrv_start(struct fakesrv *s, const char *script, const char *const *argv);

/* Stop the fake and reap it. NULL-safe, idempotent. */
void fakesrv_stop(struct fakesrv *s);

/* Call the fake's admin API: METHOD /__admin/<path> with an optional JSON
 * body. The response body goes to `resp` if not NULL (caller cleans up).
 * Returns the HTTP status, or -1 on a transport error. */
long fakesrv_admin(const struct fakesrv *s, const char *method,
                   const char *path, const char *body, struct buf *resp);

/* The absolute path of a file in the source tree ($BF_TOP/rel). Returns a
 * pointer to a static per-thread buffer; tests only. */
const char *fakesrv_top_path(const char *rel);

#endif
