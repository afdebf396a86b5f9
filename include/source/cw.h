/* cw.h -- the ConnectWise Manage source (REST API 3.0).
 *
 * GET {base}/{codebase}/apis/3.0/{endpoint} with a half-open lastUpdated
 * window, orderBy=id asc, forward-only paging (Link rel="next") and
 * page/pageSize as the fallback. Retries 429 (Retry-After, else backoff with
 * jitter), 5xx and transport errors within bounded budgets. The pure parsers
 * (base URL, Link, Retry-After, page splitting, the secret) are exposed for
 * tests/fuzzing. The source reads its own credentials from the tenant's
 * secret document (cw_creds_parse); source_open() (source.h) is how the
 * chunk opens it.
 */
#ifndef BF_SOURCE_CW_H
#define BF_SOURCE_CW_H

#include <stddef.h>
#include <stdint.h>

#include "source/source.h"
#include "util/err.h"

/* What a ConnectWise secret holds. Secret: wipe with cw_creds_wipe(); no
 * field ever reaches a log, an error, a result or a file. */
struct cw_creds {
    char api_base_url[512];
    char company_id[128];
    char public_key[256];
    char private_key[256];
    char client_id[128];
};

void cw_creds_wipe(struct cw_creds *c); /* NULL-safe */

/* Fill `out` from a secret's text: the `service` member when it is an
 * object (per-service form, as the original AVESA secrets), else the top
 * level (flat form); all five fields, non-empty, without control
 * characters. BF_E_CREDENTIALS_INVALID naming `secret_name` and the field,
 * never a value; `out` is wiped on failure. */
enum bf_rc cw_creds_parse(const char *text, size_t len,
                          const char *secret_name, const char *service,
                          struct cw_creds *out, struct bf_err *err);

/* cw_creds_parse() into a scratch copy that is wiped: whether the secret is
 * usable (a source_secret_check_fn). */
enum bf_rc cw_secret_check(const char *text, size_t len,
                           const char *secret_name, const char *service,
                           struct bf_err *err);

/* Budgets and caps; 0 means the default shown. */
struct cw_options {
    int max_attempts_429;       /* 8 tries per request, then RATE_LIMITED */
    int max_attempts_5xx;       /* 5 tries per request, then UNAVAILABLE */
    int64_t backoff_base_ms;    /* 500: first backoff, doubled each try */
    int64_t backoff_max_ms;     /* 30000: one backoff at most */
    int64_t retry_after_max_ms; /* 120000: a longer Retry-After fails */
    long timeout_ms;            /* 120000 per request */
    size_t max_response;        /* 64 MiB per page */
    long max_pages;             /* 100000 pages per chunk */
    int max_depth;              /* 64 levels of JSON nesting */
    int page_size;              /* 0: the endpoint's */
    size_t page_bytes;          /* 1 MiB: with forward-only paging, later
                                   pages ask for fewer records when the
                                   last page's records were large */
    int force_page_mode;        /* 1: never ask for forward-only paging */
    int no_prefetch;            /* 1: fetch a page only when asked (by
                                   default the next page is fetched while
                                   the caller works on the current one) */
};

struct cw_params {
    const struct catalog_endpoint *ep;
    const struct cw_creds *creds;            /* copied */
    int64_t start_ms;                        /* window [start, end) */
    int64_t end_ms;
    const struct task_cancel *cancel;        /* borrowed, may be NULL */
    struct source_ratelimit *ratelimit;      /* borrowed, may be NULL */
    const char *ca_bundle;                   /* borrowed; NULL: system CAs */
    struct cw_options opts;
};

/* Open a ConnectWise source. BF_E_CREDENTIALS_INVALID for an unusable base
 * URL; no request is made until the first source_next_page(). */
enum bf_rc cw_open(const struct cw_params *p, struct source **out,
                   struct bf_err *err);

/* "{base}/{codebase}/apis/3.0" from a stored base URL that may or may not
 * already hold the codebase or the apis/3.0 path (never doubled). Returns
 * -1 when it is not an http(s) URL or does not fit `n`. */
int cw_api_root(const char *base_url, const char *codebase, char *out,
                size_t n);

/* The rel="next" target of a Link header into `out`. Returns 1 when found,
 * 0 when absent, -1 when malformed or too long. */
int cw_link_next(const char *link, char *out, size_t n);

/* A Retry-After value (delta seconds or an HTTP date) as milliseconds from
 * `now_ms`; a past date gives 0. Returns -1 when unparsable. */
int cw_retry_after_ms(const char *value, int64_t now_ms, int64_t *out_ms);

/* Split a JSON array of objects into its elements' exact bytes, checking
 * nesting depth <= max_depth. `recs` grows (realloc'd, caller frees).
 * Returns BF_OK or BF_E_SOURCE_PROTOCOL (not an array of objects, bad
 * JSON, too deep). */
enum bf_rc cw_split_page(const char *body, size_t len, int max_depth,
                         struct source_record **recs, size_t *cap,
                         size_t *count, struct bf_err *err);

#endif
