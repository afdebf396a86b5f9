/* source.h -- where a chunk's records come from: the paging interface every
 * source implements, the per-tenant rate limiter and the cancellable sleep.
 *
 * Which tables a service has (canonical table, page size, date field) is the
 * endpoint catalog's business (catalog/catalog.h). A source is opened for one window, handed out one page at a time (memory
 * stays bounded by a page) and closed. The cancellation flag is checked
 * between pages. ConnectWise (cw.h) is the one implementation so far.
 */
#ifndef BF_SOURCE_SOURCE_H
#define BF_SOURCE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "task/task.h"
#include "util/err.h"

/* A per-tenant request-rate limit (token bucket). Shared by every worker
 * slot that works for the same tenant, so it is mutex-protected. */
struct source_ratelimit;

/* `rps` requests per second on average, bursts up to `burst` (>= 1). rps <= 0
 * means unlimited. NULL when out of memory. */
struct source_ratelimit *source_ratelimit_new(double rps, double burst);
void source_ratelimit_free(struct source_ratelimit *rl); /* NULL-safe */

/* Take one token, sleeping until one is there. Returns BF_E_CANCELLED if
 * `cancel` (may be NULL) is set while waiting. NULL `rl` never waits. */
enum bf_rc source_ratelimit_acquire(struct source_ratelimit *rl,
                                    const struct task_cancel *cancel,
                                    struct bf_err *err);

/* One record exactly as the source sent it (bytes of one JSON object). */
struct source_record {
    const char *json;
    size_t len;
};

/* One page. Valid until the next source_next_page() or source_close().
 * Implementations may fetch ahead (cw.c does, one page), so a request can
 * still be under way when the caller sees the cancellation flag. */
struct source_page {
    long number;                         /* 1-based */
    size_t count;
    const struct source_record *records;
};

struct source;

/* What every source implementation provides. */
struct source_ops {
    enum bf_rc (*next_page)(struct source *s, const struct source_page **out,
                            struct bf_err *err);
    void (*close)(struct source *s);
};

struct source {
    const struct source_ops *ops;
};

/* The next page, or *out = NULL after the last one. BF_E_CANCELLED when the
 * task was cancelled before the request. */
enum bf_rc source_next_page(struct source *s, const struct source_page **out,
                            struct bf_err *err);
void source_close(struct source *s); /* NULL-safe */

#endif
