/* source.h -- where a chunk's records come from: the factory that opens
 * one, the paging interface every source implements, and the per-tenant
 * rate limiter.
 *
 * Which tables a service has (canonical table, page size, date field) is the
 * endpoint catalog's business (catalog/catalog.h). A source is opened for
 * one window (source_open), handed out one page at a time (memory stays
 * bounded by a page) and closed. The cancellation flag is checked between
 * pages. Two implementations: ConnectWise (cw.h), which the worker pages
 * itself, and the original ingestion Lambda (lambda_ingest.h), which writes
 * the raw chunk on its own and whose records are read back from it.
 *
 * A source that needs a secret (ConnectWise) gets the tenant's secret as an
 * opaque document and parses it itself, so the tenant store knows nothing
 * of any service's credential shape; source_secret_check() is the check
 * the tenant store runs on a fetched secret before it caches it.
 */
#ifndef BF_SOURCE_SOURCE_H
#define BF_SOURCE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "aws/awsenv.h"
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

/* Which source a chunk reads (BACKFILL_INGEST). */
enum source_mode {
    SOURCE_CONNECTWISE,   /* "builtin": the worker pages ConnectWise */
    SOURCE_LAMBDA,        /* "lambda": the original ingestion Lambda */
};

/* Retry and paging knobs every source may honour; 0 keeps the source's
 * default (cw.h: cw_options; a Lambda call only reads timeout_ms). */
struct source_options {
    int max_attempts_429;       /* tries per request on 429 */
    int max_attempts_5xx;       /* tries per request on 5xx and transport */
    long long backoff_base_ms;  /* first backoff, doubled each try */
    long long backoff_max_ms;   /* one backoff at most */
    int page_size;              /* records per request; 0 = the endpoint's */
    long timeout_ms;            /* per request (ConnectWise) or per call
                                   (Lambda) */
};

struct sink;

struct source_open_params {
    enum source_mode mode;
    const struct task_input *in;         /* the window, tenant, service */
    const struct catalog_endpoint *ep;   /* in->table_name's entry */
    struct task_cancel *cancel;          /* borrowed, may be NULL */
    struct source_options opts;
    /* The tenant's secret document exactly as the tenant store holds it
     * (SOURCE_CONNECTWISE; see source_secret_check), borrowed and copied
     * in parsed form: the caller wipes its copy. `secret_name` is for
     * messages only. */
    const char *secret;
    size_t secret_len;
    const char *secret_name;
    struct source_ratelimit *ratelimit;  /* borrowed, may be NULL */
    const char *ca_bundle;               /* borrowed; NULL: system CAs */
    /* SOURCE_LAMBDA: the function is avesa-{service}-ingestion-{env}; it
     * writes the raw chunk to `raw_dir` in `sink`, which is read back page
     * by page when `want_records` is set (a built-in transform follows). */
    struct awsenv *aws;                  /* borrowed */
    const char *env;
    struct sink *sink;                   /* borrowed */
    const char *raw_dir;
    int want_records;
    /* Where a source that writes the raw chunk itself reports what it
     * wrote (records_ingested, pages; -1 when not reported), even when
     * opening fails after the work was done. May be NULL. */
    struct task_result *report;
};

/* Open the source `p->mode` names. No ConnectWise request is made until the
 * first source_next_page(); the ingestion Lambda runs here. */
enum bf_rc source_open(const struct source_open_params *p, struct source **out,
                       struct bf_err *err);

/* A check of a secret's text for one tenant's service (tenant.h:
 * tenant_secret_check_fn has the same shape): BF_E_CREDENTIALS_INVALID
 * naming the secret and the field, never a value. */
typedef enum bf_rc (*source_secret_check_fn)(const char *text, size_t len,
                                             const char *secret_name,
                                             const char *service,
                                             struct bf_err *err);

/* 1 when the source of `mode` writes the raw chunk itself (the ingestion
 * Lambda): the caller must not write its pages raw again, they are that
 * chunk read back. 0 for ConnectWise, which the worker pages. */
int source_writes_raw(enum source_mode mode);

/* The check for the secret `mode` reads, or NULL when it reads none (the
 * Lambda holds its own credentials). */
source_secret_check_fn source_secret_check(enum source_mode mode);

/* The next page, or *out = NULL after the last one. BF_E_CANCELLED when the
 * task was cancelled before the request. */
enum bf_rc source_next_page(struct source *s, const struct source_page **out,
                            struct bf_err *err);
void source_close(struct source *s); /* NULL-safe */

#endif
