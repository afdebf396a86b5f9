/* cw.c -- the ConnectWise Manage source: one window of one endpoint, a page
 * at a time.
 *
 * Owns the request (URL, conditions, auth headers), the paging (forward-only
 * Link rel="next", page/pageSize as the fallback), the retry budgets for 429,
 * 5xx and transport errors, and the checks on what comes back (size, depth,
 * records per page, endless Link loops). The page body is validated and split
 * into records by a small bounded JSON scanner, so records keep the exact
 * bytes the API sent. A prefetch thread fetches page n+1 into a second
 * slot while the caller writes page n (network and CPU overlap; memory is
 * two pages). Credentials are copied in and wiped on close; they are read
 * from the tenant's secret document here too (cw_creds_parse), so the
 * tenant store never learns their shape.
 */
#include <ctype.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aws/http.h"
#include "aws/sm.h"
#include "source/cw.h"
#include "util/backoff.h"
#include "util/buf.h"
#include "util/jsonstrict.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CW_URL_MAX 4096
#define CW_AUTH_MAX 1024
#define CW_PAGE_MIN 10 /* records per page at least, however large */

enum cw_slot_state { SLOT_FREE = 0, SLOT_READY };

/* One fetched page and what became of it. */
struct cw_slot {
    struct http_response resp;
    struct source_record *recs;
    size_t recs_cap;
    struct source_page page;
    enum cw_slot_state state;
    enum bf_rc rc;                 /* the fetch's outcome */
    struct bf_err err;             /* its error, handed to the caller */
    int last;                      /* no page: the window is done */
};

struct cw_source {
    struct source base;
    struct cw_params p;            /* p.creds points at `creds` below */
    struct cw_creds creds;
    struct http_client *http;
    char root[CW_URL_MAX];         /* {base}/{codebase}/apis/3.0 */
    char origin[CW_URL_MAX];       /* scheme://host[:port] */
    char next_url[CW_URL_MAX];     /* "" before the first page */
    char auth[CW_AUTH_MAX];        /* "Basic ..." (secret, wiped) */
    int done;
    int link_mode;                 /* the first page had a Link header */
    uint64_t prev_first_hash;      /* page mode: first record of last page */
    long page_no;                  /* pages received */
    int ask_size;                  /* pageSize of the next request */
    long inflight;                 /* the page being asked for, for errors */
    uint64_t *seen;                /* hashes of URLs requested, for loops */
    size_t nseen;
    size_t seen_cap;
    uint64_t rng;                  /* backoff jitter */
    struct cw_slot *fill;          /* the slot being fetched into */
    /* Prefetch: a thread fetches page n+1 while the caller works on page
     * n, into the other of two slots (so memory stays at two pages). */
    struct cw_slot slots[2];
    int prefetch;
    int started;                   /* the thread runs */
    int stop;                      /* close() asks the thread to end */
    int take;                      /* the slot the caller takes next */
    int returned;                  /* the slot the caller holds, or -1 */
    pthread_t thread;
    pthread_mutex_t mu;            /* guards slot states, stop */
    pthread_cond_t cv;
};

/* ---- pure helpers (exposed for tests) ---- */

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && strncmp(s + len - n, suffix, n) == 0;
}

/* Whether the last path segment of s[0..len) looks like a codebase
 * ("v4_6_release", "v2025_1"): a 'v', a digit, then digits, '_' or letters. */
static int last_segment_is_codebase(const char *s, size_t len)
{
    size_t i = len;

    while (i > 0 && s[i - 1] != '/')
        i--;
    if (len - i < 2 || s[i] != 'v' || !isdigit((unsigned char)s[i + 1]))
        return 0;
    for (; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    }
    return 1;
}

int cw_api_root(const char *base_url, const char *codebase, char *out,
                size_t n)
{
    size_t len;
    const char *host = NULL;
    int w;

    if (base_url == NULL || codebase == NULL)
        return -1;
    if (strncmp(base_url, "https://", 8) == 0)
        host = base_url + 8;
    else if (strncmp(base_url, "http://", 7) == 0)
        host = base_url + 7;
    if (host == NULL || *host == '\0' || *host == '/')
        return -1;
    len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    if (len > INT32_MAX)
        return -1;
    if (ends_with(base_url, len, "/apis/3.0"))
        w = snprintf(out, n, "%.*s", (int)len, base_url);
    else if (strchr(host, '/') != NULL && (size_t)(host - base_url) < len &&
             last_segment_is_codebase(base_url, len))
        w = snprintf(out, n, "%.*s/apis/3.0", (int)len, base_url);
    else
        w = snprintf(out, n, "%.*s/%s/apis/3.0", (int)len, base_url, codebase);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* Whether a Link parameter list (`; rel="next"; title=...`) has rel next. */
static int link_params_next(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *q = NULL;

        if (semi == NULL)
            return 0;
        q = semi + 1;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (end - q >= 4 && strncasecmp(q, "rel=", 4) == 0) {
            const char *v = q + 4;
            size_t vl = 0;

            if (v < end && *v == '"')
                v++;
            while (v + vl < end && v[vl] != '"' && v[vl] != ';')
                vl++;
            /* rel may be a space-separated list: "next last" */
            for (const char *t = v; t < v + vl;) {
                size_t tl = strcspn(t, " \"");

                if (t + tl > v + vl)
                    tl = (size_t)(v + vl - t);
                if (tl == 4 && strncasecmp(t, "next", 4) == 0)
                    return 1;
                t += tl + 1;
            }
        }
        p = semi + 1;
    }
    return 0;
}

int cw_link_next(const char *link, char *out, size_t n)
{
    const char *p = link;

    if (link == NULL)
        return 0;
    for (;;) {
        const char *lt = strchr(p, '<');
        const char *gt = NULL;
        const char *stop = NULL;

        if (lt == NULL)
            return 0;
        gt = strchr(lt + 1, '>');
        if (gt == NULL)
            return -1;
        /* This link's parameters run to the next '<' (or the end). */
        stop = strchr(gt + 1, '<');
        if (stop == NULL)
            stop = gt + 1 + strlen(gt + 1);
        if (link_params_next(gt + 1, stop)) {
            size_t ul = (size_t)(gt - lt - 1);

            if (ul == 0 || ul >= n)
                return -1;
            memcpy(out, lt + 1, ul);
            out[ul] = '\0';
            return 1;
        }
        p = gt + 1;
    }
}

int cw_retry_after_ms(const char *value, int64_t now_ms, int64_t *out_ms)
{
    const char *p = value;
    int64_t secs = 0;
    int64_t at = 0;

    if (value == NULL)
        return -1;
    while (*p == ' ')
        p++;
    if (isdigit((unsigned char)*p)) {
        for (; isdigit((unsigned char)*p); p++) {
            if (secs > 86400 * 365)
                return -1;
            secs = secs * 10 + (*p - '0');
        }
        while (*p == ' ')
            p++;
        if (*p != '\0')
            return -1;
        *out_ms = secs * 1000;
        return 0;
    }
    if (time_parse_http_date(p, &at) != 0)
        return -1;
    *out_ms = at > now_ms ? at - now_ms : 0;
    return 0;
}

/* ---- the bounded JSON scanner ---- */

struct scan {
    const char *p;
    const char *end;
    int depth;
    int max_depth;
    const char *why;
};

static int scan_value(struct scan *s);

static void scan_ws(struct scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int scan_fail(struct scan *s, const char *why)
{
    if (s->why == NULL)
        s->why = why;
    return -1;
}

static int scan_string(struct scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned char c;

        s->p += json_plain_len(s->p, (size_t)(s->end - s->p), 0);
        if (s->p >= s->end)
            break;
        c = (unsigned char)*s->p++;

        if (c == '"')
            return 0;
        if (c < 0x20)
            return scan_fail(s, "control character in a string");
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            break;
        c = (unsigned char)*s->p++;
        if (c == 'u') {
            int i;

            for (i = 0; i < 4; i++) {
                if (s->p >= s->end || !isxdigit((unsigned char)*s->p))
                    return scan_fail(s, "bad \\u escape");
                s->p++;
            }
        } else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
            return scan_fail(s, "bad escape");
        }
    }
    return scan_fail(s, "unterminated string");
}

static int scan_digits(struct scan *s)
{
    const char *start = s->p;

    while (s->p < s->end && isdigit((unsigned char)*s->p))
        s->p++;
    return s->p > start ? 0 : scan_fail(s, "bad number");
}

static int scan_number(struct scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (scan_digits(s) != 0)
        return -1;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (scan_digits(s) != 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (scan_digits(s) != 0)
            return -1;
    }
    return 0;
}

static int scan_literal(struct scan *s, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return scan_fail(s, "bad literal");
    s->p += n;
    return 0;
}

/* An object or array: members separated by commas until `close`. */
static int scan_container(struct scan *s, char close)
{
    if (++s->depth > s->max_depth)
        return scan_fail(s, "nested too deeply");
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        scan_ws(s);
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"' || scan_string(s) != 0)
                return scan_fail(s, "expected a member name");
            scan_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return scan_fail(s, "expected ':'");
        }
        if (scan_value(s) != 0)
            return -1;
        scan_ws(s);
        if (s->p >= s->end)
            return scan_fail(s, "truncated");
        if (*s->p == close) {
            s->p++;
            s->depth--;
            return 0;
        }
        if (*s->p++ != ',')
            return scan_fail(s, "expected ',' or a closing bracket");
    }
}

static int scan_value(struct scan *s)
{
    scan_ws(s);
    if (s->p >= s->end)
        return scan_fail(s, "truncated");
    switch (*s->p) {
    case '{':
        return scan_container(s, '}');
    case '[':
        return scan_container(s, ']');
    case '"':
        return scan_string(s);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        if (*s->p == '-' || isdigit((unsigned char)*s->p))
            return scan_number(s);
        return scan_fail(s, "unexpected character");
    }
}

static enum bf_rc push_record(struct source_record **recs, size_t *cap,
                              size_t *count, const char *p, size_t len,
                              struct bf_err *err)
{
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        struct source_record *n = realloc(*recs, ncap * sizeof(*n));

        if (n == NULL)
            return bf_err_set(err, BF_E_NOMEM, "page records: out of memory");
        *recs = n;
        *cap = ncap;
    }
    (*recs)[*count].json = p;
    (*recs)[*count].len = len;
    (*count)++;
    return BF_OK;
}

enum bf_rc cw_split_page(const char *body, size_t len, int max_depth,
                         struct source_record **recs, size_t *cap,
                         size_t *count, struct bf_err *err)
{
    struct scan s = {body, body + len, 1, max_depth, NULL};
    enum bf_rc rc = BF_OK;

    *count = 0;
    scan_ws(&s);
    if (s.p >= s.end || *s.p != '[')
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                          "response is not a JSON array");
    s.p++;
    scan_ws(&s);
    if (s.p < s.end && *s.p == ']') {
        s.p++;
        goto tail;
    }
    for (;;) {
        const char *start = NULL;

        scan_ws(&s);
        if (s.p >= s.end || *s.p != '{')
            return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                              "element %zu is not a JSON object%s", *count,
                              s.p >= s.end ? " (truncated)" : "");
        start = s.p;
        if (scan_container(&s, '}') != 0)
            return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                              "invalid JSON in element %zu: %s", *count, s.why);
        rc = push_record(recs, cap, count, start, (size_t)(s.p - start), err);
        if (rc != BF_OK)
            return rc;
        scan_ws(&s);
        if (s.p >= s.end)
            return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                              "invalid JSON: truncated array");
        if (*s.p == ']') {
            s.p++;
            break;
        }
        if (*s.p++ != ',')
            return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                              "invalid JSON: expected ',' between elements");
    }
tail:
    scan_ws(&s);
    if (s.p != s.end)
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                          "invalid JSON: data after the array");
    return BF_OK;
}

/* ---- requests ---- */

static void url_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            buf_append(b, s, 1);
        else
            buf_append(b, esc, 3);
    }
}

/* ConnectWise's documented date form is whole seconds ("[...:57Z]"); both
 * bounds are truncated the same way, so adjacent chunks still partition. */
static void cw_date(int64_t ms, char out[TIME_ISO_LEN])
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);

    time_format_iso8601(s * 1000, out);
    memcpy(out + 19, "Z", 2); /* drop ".000" */
}

static enum bf_rc first_url(struct cw_source *cw, struct bf_err *err)
{
    char a[TIME_ISO_LEN], b[TIME_ISO_LEN], cond[256];
    struct buf u;
    enum bf_rc rc = BF_OK;

    cw_date(cw->p.start_ms, a);
    cw_date(cw->p.end_ms, b);
    snprintf(cond, sizeof(cond), "%s >= [%s] and %s < [%s]",
             cw->p.ep->date_field, a, cw->p.ep->date_field, b);
    buf_init(&u, sizeof(cw->next_url) - 1);
    buf_printf(&u, "%s/%s?conditions=", cw->root, cw->p.ep->endpoint);
    url_encode(&u, cond);
    rc = buf_printf(&u, "&orderBy=id%%20asc&pageSize=%d", cw->p.opts.page_size);
    if (rc == BF_OK && u.data != NULL)
        snprintf(cw->next_url, sizeof(cw->next_url), "%s", u.data);
    buf_cleanup(&u);
    if (rc != BF_OK)
        return bf_err_set(err, BF_E_INTERNAL, "request URL too long");
    return BF_OK;
}

/* 64-bit FNV-1a: a fingerprint to spot a Link, or a page, that comes
 * round again. */
static uint64_t fnv1a_n(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t fnv1a(const char *s)
{
    return fnv1a_n(s, strlen(s));
}

static enum bf_rc remember_url(struct cw_source *cw, const char *url,
                               struct bf_err *err)
{
    uint64_t h = fnv1a(url);
    size_t i;

    for (i = 0; i < cw->nseen; i++) {
        if (cw->seen[i] == h)
            return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                              "paging loop: the next-page link repeats an "
                              "earlier page");
    }
    if (cw->nseen == cw->seen_cap) {
        size_t ncap = cw->seen_cap ? cw->seen_cap * 2 : 64;
        uint64_t *n = realloc(cw->seen, ncap * sizeof(*n));

        if (n == NULL)
            return bf_err_set(err, BF_E_NOMEM, "out of memory");
        cw->seen = n;
        cw->seen_cap = ncap;
    }
    cw->seen[cw->nseen++] = h;
    return BF_OK;
}

/* Equal jitter, in [d/2, d]: ConnectWise rate limits per member, and a
 * wait much shorter than d would only meet the limit again. */
static int64_t cw_backoff_ms(struct cw_source *cw, int attempt)
{
    return backoff_ms(attempt, cw->p.opts.backoff_base_ms,
                      cw->p.opts.backoff_max_ms, BACKOFF_EQUAL, &cw->rng);
}

static enum bf_rc perform(struct cw_source *cw, struct bf_err *err)
{
    struct http_header h[4] = {
        {"Authorization", cw->auth},
        {"clientId", cw->creds.client_id},
        {"Accept", "application/json"},
        {"pagination-type", "forward-only"},
    };
    struct http_request req = {0};

    req.method = "GET";
    req.url = cw->next_url;
    req.headers = h;
    /* An endpoint marked "paging": "navigable" in the endpoint table never
     * asks for forward-only paging. Page mode (the first page came without
     * a Link) must not ask for it again: such a server ignores page= and
     * would serve the first page for ever. */
    req.nheaders = !cw->p.ep->forward_only || cw->p.opts.force_page_mode ||
                   (cw->page_no >= 1 && !cw->link_mode) ? 3 : 4;
    req.timeout_ms = cw->p.opts.timeout_ms;
    req.max_response = cw->p.opts.max_response;
    /* A cancelled task gives up the page in flight too (main thread or
     * prefetch), instead of waiting for it up to the 120 s timeout. */
    req.abandon = cw->p.cancel != NULL ? &cw->p.cancel->flag : NULL;
    return http_perform(cw->http, &req, &cw->fill->resp, err);
}

/* Verdicts of judge(): done, retry after a wait, or give up. */
enum cw_verdict { CW_DONE = 0, CW_RETRY = 1, CW_FAIL = -1 };

/* A 5xx, 408 or transport failure: back off, within the budget. */
static enum cw_verdict judge_unavailable(struct cw_source *cw, enum bf_rc prc,
                                         int *n5xx, int64_t *wait_ms,
                                         enum bf_rc *rc, struct bf_err *err)
{
    char why[BF_ERR_MSG_MAX / 2];

    if (++*n5xx < cw->p.opts.max_attempts_5xx) {
        *wait_ms = cw_backoff_ms(cw, *n5xx);
        return CW_RETRY;
    }
    snprintf(why, sizeof(why), "%.200s",
             err != NULL ? err->message : "transport error");
    if (prc == BF_OK)
        *rc = bf_err_set(err, BF_E_SOURCE_UNAVAILABLE,
                         "HTTP %ld after %d attempts", cw->fill->resp.status, *n5xx);
    else
        *rc = bf_err_set(err, BF_E_SOURCE_UNAVAILABLE,
                         "no answer after %d attempts: %s", *n5xx, why);
    return CW_FAIL;
}

/* A 429: wait as Retry-After says (else back off), within the budget. */
static enum cw_verdict judge_429(struct cw_source *cw, int *n429,
                                 int64_t *wait_ms, enum bf_rc *rc,
                                 struct bf_err *err)
{
    const char *ra = http_response_header(&cw->fill->resp, "retry-after");

    if (++*n429 >= cw->p.opts.max_attempts_429) {
        *rc = bf_err_set(err, BF_E_SOURCE_RATE_LIMITED,
                         "HTTP 429 after %d attempts", *n429);
        return CW_FAIL;
    }
    if (ra == NULL || cw_retry_after_ms(ra, time_now_ms(), wait_ms) != 0)
        *wait_ms = cw_backoff_ms(cw, *n429);
    if (*wait_ms > cw->p.opts.retry_after_max_ms) {
        *rc = bf_err_set(err, BF_E_SOURCE_RATE_LIMITED,
                         "HTTP 429 with Retry-After of %lld ms (over %lld)",
                         (long long)*wait_ms,
                         (long long)cw->p.opts.retry_after_max_ms);
        return CW_FAIL;
    }
    return CW_RETRY;
}

/* What to do with one answer (`prc` is http_perform's code). */
static enum cw_verdict judge(struct cw_source *cw, enum bf_rc prc, int *n429,
                             int *n5xx, int64_t *wait_ms, enum bf_rc *rc,
                             struct bf_err *err)
{
    long st = cw->fill->resp.status;

    *rc = BF_OK;
    if (prc == BF_E_LIMIT) {
        *rc = bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                         "response larger than %zu bytes",
                         cw->p.opts.max_response);
        return CW_FAIL;
    }
    if (prc == BF_E_TRANSPORT || (prc == BF_OK && (st >= 500 || st == 408)))
        return judge_unavailable(cw, prc, n5xx, wait_ms, rc, err);
    if (prc != BF_OK) {
        *rc = prc;
        return CW_FAIL;
    }
    if (st == 200)
        return CW_DONE;
    if (st == 429)
        return judge_429(cw, n429, wait_ms, rc, err);
    if (st == 401 || st == 403)
        *rc = bf_err_set(err, BF_E_SOURCE_AUTH_FAILED,
                         "ConnectWise refused the credentials (HTTP %ld)", st);
    else
        *rc = bf_err_set(err, BF_E_SOURCE_PROTOCOL, "unexpected HTTP %ld", st);
    return CW_FAIL;
}

/* One GET with retries; BF_OK means a 200 is in cw->fill->resp. */
static enum bf_rc fetch(struct cw_source *cw, struct bf_err *err)
{
    int n429 = 0, n5xx = 0;

    for (;;) {
        enum bf_rc rc = BF_OK;
        int64_t wait = 0;
        enum cw_verdict verdict;

        if (cw->p.cancel != NULL && task_cancelled(cw->p.cancel))
            return bf_err_set(err, BF_E_CANCELLED, "cancelled between pages");
        rc = source_ratelimit_acquire(cw->p.ratelimit, cw->p.cancel, err);
        if (rc != BF_OK)
            return rc;
        rc = perform(cw, err);
        verdict = judge(cw, rc, &n429, &n5xx, &wait, &rc, err);
        if (err != NULL)
            err->http_status = (int)cw->fill->resp.status;
        if (verdict == CW_DONE)
            return BF_OK;
        if (verdict == CW_FAIL)
            return rc;
        log_msg(LOG_WARN, "source_retry", "%s page %ld: HTTP %ld, retry in %lld ms",
                cw->p.ep->endpoint, cw->page_no + 1, cw->fill->resp.status,
                (long long)wait);
        rc = task_cancel_sleep(cw->p.cancel, wait, err);
        if (rc != BF_OK)
            return rc;
    }
}

/* The worker holds two pages (the one being worked on and the one being
 * prefetched), so a page's bytes, not its record count, set the memory of
 * a chunk. Records vary from under 1 KB to hundreds of KB and come in runs
 * (a noisy board, a mail import): at a fixed 1,000 per page, a chunk's
 * peak follows its largest run, i.e. it grows with the chunk's length. So
 * the next page asks for as many records as fit page_bytes at the average
 * size of the last page's. Only forward-only paging may change the size
 * between pages: there a page starts after an id, while page=N counts in
 * pages of the size asked first. */
static void next_ask_size(struct cw_source *cw)
{
    size_t n = cw->fill->page.count, bytes = cw->fill->resp.body.len;
    size_t want;

    if (!cw->link_mode || n == 0 || bytes == 0)
        return;
    want = (size_t)((double)cw->p.opts.page_bytes * (double)n / (double)bytes);
    if (want < CW_PAGE_MIN)
        want = CW_PAGE_MIN;
    if (want > (size_t)cw->p.opts.page_size)
        want = (size_t)cw->p.opts.page_size;
    cw->ask_size = (int)want;
}

/* Set pageSize in the query of a next-page link to cw->ask_size. A link
 * without one gets it appended only when it differs from the first
 * request's (the server then keeps its own). */
static enum bf_rc set_link_page_size(struct cw_source *cw, struct bf_err *err)
{
    char *u = cw->next_url, *q = strchr(u, '?'), *p = NULL, *end;
    char num[16], tmp[CW_URL_MAX];
    size_t head;
    int nl;

    nl = snprintf(num, sizeof(num), "%d", cw->ask_size);
    if (q != NULL) {
        for (p = q; (p = strstr(p + 1, "pageSize=")) != NULL;) {
            if (p[-1] == '?' || p[-1] == '&')
                break;
        }
    }
    if (p == NULL) {
        if (cw->ask_size == cw->p.opts.page_size)
            return BF_OK;
        if (strlen(u) + strlen("&pageSize=") + (size_t)nl >= sizeof(cw->next_url))
            return bf_err_set(err, BF_E_SOURCE_PROTOCOL, "Link too long");
        strcat(u, q != NULL ? "&pageSize=" : "?pageSize=");
        strcat(u, num);
        return BF_OK;
    }
    p += strlen("pageSize=");
    end = p + strcspn(p, "&#");
    head = (size_t)(p - u);
    if (head + (size_t)nl + strlen(end) >= sizeof(tmp))
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL, "Link too long");
    memcpy(tmp, u, head);
    memcpy(tmp + head, num, (size_t)nl);
    memcpy(tmp + head + (size_t)nl, end, strlen(end) + 1);
    memcpy(u, tmp, strlen(tmp) + 1);
    return BF_OK;
}

/* A next-page link must stay on the API's origin: the credentials go with
 * every request, so a link elsewhere is refused, not followed. */
static enum bf_rc set_next_from_link(struct cw_source *cw, const char *link,
                                     struct bf_err *err)
{
    char target[CW_URL_MAX];
    size_t ol = strlen(cw->origin);
    int r = cw_link_next(link, target, sizeof(target));
    enum bf_rc rc;

    if (r < 0)
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL, "malformed Link header");
    if (r == 0) {
        cw->done = 1;
        return BF_OK;
    }
    if (target[0] == '/') {
        if (ol + strlen(target) >= sizeof(cw->next_url))
            return bf_err_set(err, BF_E_SOURCE_PROTOCOL, "Link too long");
        memcpy(cw->next_url, cw->origin, ol);
        memcpy(cw->next_url + ol, target, strlen(target) + 1);
    } else if (strncmp(target, cw->origin, ol) == 0 &&
               (target[ol] == '/' || target[ol] == '\0')) {
        snprintf(cw->next_url, sizeof(cw->next_url), "%s", target);
    } else {
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                          "Link points away from the API origin");
    }
    next_ask_size(cw);
    rc = set_link_page_size(cw, err);
    if (rc != BF_OK)
        return rc;
    return remember_url(cw, cw->next_url, err);
}

/* Page mode (no Link headers): a full page means there may be more. */
static enum bf_rc set_next_page_param(struct cw_source *cw, struct bf_err *err)
{
    char *q = NULL;

    if (cw->fill->page.count < (size_t)cw->p.opts.page_size) {
        cw->done = 1;
        return BF_OK;
    }
    q = strstr(cw->next_url, "&page=");
    if (q != NULL)
        *q = '\0';
    if (strlen(cw->next_url) + 32 >= sizeof(cw->next_url))
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL, "URL too long");
    snprintf(cw->next_url + strlen(cw->next_url), 32, "&page=%ld",
             cw->page_no + 1);
    return BF_OK;
}

/* Page mode: with orderBy=id asc every page starts after the last one, so
 * a page whose first record is the previous page's first record means the
 * server ignores page=; without this check a chunk of exactly one full page
 * would be asked for again until the page cap. */
static enum bf_rc check_page_advanced(struct cw_source *cw, struct bf_err *err)
{
    uint64_t h;

    if (cw->fill->page.count == 0)
        return BF_OK;
    h = fnv1a_n(cw->fill->recs[0].json, cw->fill->recs[0].len);
    if (cw->page_no > 1 && h == cw->prev_first_hash)
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                          "page %ld repeats page %ld: the server ignores page=",
                          cw->page_no, cw->page_no - 1);
    cw->prev_first_hash = h;
    return BF_OK;
}

static enum bf_rc next_page_inner(struct cw_source *cw,
                                  const struct source_page **out,
                                  struct bf_err *err)
{
    enum bf_rc rc = BF_OK;
    const char *link = NULL;

    if (cw->page_no >= cw->p.opts.max_pages)
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                          "more than %ld pages in one chunk", cw->p.opts.max_pages);
    cw->inflight = cw->page_no + 1;
    rc = fetch(cw, err);
    if (rc != BF_OK)
        return rc;
    cw->page_no++;
    rc = cw_split_page(cw->fill->resp.body.data, cw->fill->resp.body.len,
                       cw->p.opts.max_depth, &cw->fill->recs, &cw->fill->recs_cap,
                       &cw->fill->page.count, err);
    if (rc != BF_OK)
        return rc;
    if (cw->fill->page.count > (size_t)cw->p.opts.page_size)
        return bf_err_set(err, BF_E_SOURCE_PROTOCOL,
                          "%zu records on a page of %d", cw->fill->page.count,
                          cw->p.opts.page_size);
    cw->fill->page.number = cw->page_no;
    cw->fill->page.records = cw->fill->recs;
    link = http_response_header(&cw->fill->resp, "link");
    if (cw->page_no == 1)
        cw->link_mode = link != NULL;
    if (cw->link_mode) {
        rc = set_next_from_link(cw, link != NULL ? link : "", err);
    } else {
        rc = check_page_advanced(cw, err);
        if (rc == BF_OK)
            rc = set_next_page_param(cw, err);
    }
    if (rc != BF_OK)
        return rc;
    *out = &cw->fill->page;
    return BF_OK;
}

/* Fetch the next page into cw->fill: sets its rc, err and last. */
static void produce(struct cw_source *cw)
{
    struct cw_slot *sl = cw->fill;
    const struct source_page *pg = NULL;

    bf_err_init(&sl->err);
    sl->last = 0;
    if (cw->done) {
        sl->rc = BF_OK;
        sl->last = 1;
        return;
    }
    sl->rc = next_page_inner(cw, &pg, &sl->err);
    if (sl->rc != BF_OK) {
        snprintf(sl->err.endpoint, sizeof(sl->err.endpoint), "%s",
                 cw->p.ep->endpoint);
        sl->err.page = cw->inflight;
    }
}

/* The prefetch thread: fill free slots in turn until the window ends, an
 * error happens or close() says stop. */
static void *prefetch_main(void *arg)
{
    struct cw_source *cw = arg;
    int i = 0;

    pthread_setname_np(pthread_self(), "bf-cw-prefetch");
    pthread_mutex_lock(&cw->mu);
    for (;;) {
        while (!cw->stop && cw->slots[i].state != SLOT_FREE)
            pthread_cond_wait(&cw->cv, &cw->mu);
        if (cw->stop)
            break;
        cw->fill = &cw->slots[i];
        pthread_mutex_unlock(&cw->mu);
        produce(cw);
        pthread_mutex_lock(&cw->mu);
        cw->slots[i].state = SLOT_READY;
        pthread_cond_broadcast(&cw->cv);
        if (cw->slots[i].rc != BF_OK || cw->slots[i].last)
            break;
        i ^= 1;
    }
    pthread_mutex_unlock(&cw->mu);
    return NULL;
}

/* Hand the caller slot `sl`: its page, end of window, or its error. */
static enum bf_rc deliver(struct cw_slot *sl, const struct source_page **out,
                          struct bf_err *err)
{
    if (sl->rc != BF_OK) {
        if (err != NULL)
            *err = sl->err;
        return sl->rc;
    }
    *out = sl->last ? NULL : &sl->page;
    return BF_OK;
}

static enum bf_rc next_page_sync(struct cw_source *cw,
                                 const struct source_page **out,
                                 struct bf_err *err)
{
    produce(cw);
    return deliver(cw->fill, out, err);
}

static enum bf_rc cw_next_page(struct source *s, const struct source_page **out,
                               struct bf_err *err)
{
    struct cw_source *cw = (struct cw_source *)s;
    struct cw_slot *sl = NULL;
    enum bf_rc rc = BF_OK;

    *out = NULL;
    if (!cw->prefetch)
        return next_page_sync(cw, out, err);
    pthread_mutex_lock(&cw->mu);
    if (!cw->started) {
        if (pthread_create(&cw->thread, NULL, prefetch_main, cw) != 0) {
            pthread_mutex_unlock(&cw->mu);
            return bf_err_set(err, BF_E_INTERNAL, "cannot start a thread");
        }
        cw->started = 1;
    }
    /* The page handed out last time is no longer in use: refill it. */
    if (cw->returned >= 0) {
        cw->slots[cw->returned].state = SLOT_FREE;
        cw->returned = -1;
        pthread_cond_broadcast(&cw->cv);
    }
    sl = &cw->slots[cw->take];
    while (sl->state != SLOT_READY)
        pthread_cond_wait(&cw->cv, &cw->mu);
    pthread_mutex_unlock(&cw->mu);
    rc = deliver(sl, out, err);
    if (rc == BF_OK && *out != NULL) {
        cw->returned = cw->take;
        cw->take ^= 1;
    }
    return rc;
}

static void cw_close(struct source *s)
{
    struct cw_source *cw = (struct cw_source *)s;
    int i;

    if (cw->started) {
        /* An in-flight request finishes first (bounded by its timeout). */
        pthread_mutex_lock(&cw->mu);
        cw->stop = 1;
        pthread_cond_broadcast(&cw->cv);
        pthread_mutex_unlock(&cw->mu);
        pthread_join(cw->thread, NULL);
    }
    pthread_cond_destroy(&cw->cv);
    pthread_mutex_destroy(&cw->mu);
    http_client_free(cw->http);
    for (i = 0; i < 2; i++) {
        http_response_cleanup(&cw->slots[i].resp);
        free(cw->slots[i].recs);
    }
    free(cw->seen);
    cw_creds_wipe(&cw->creds);
    OPENSSL_cleanse(cw->auth, sizeof(cw->auth));
    free(cw);
}

static const struct source_ops cw_ops = {cw_next_page, cw_close};

static enum bf_rc make_auth(struct cw_source *cw, struct bf_err *err)
{
    char user[CW_AUTH_MAX];
    int n = snprintf(user, sizeof(user), "%s+%s:%s", cw->creds.company_id,
                     cw->creds.public_key, cw->creds.private_key);
    enum bf_rc rc = BF_OK;

    /* base64 grows 4/3: 700 bytes of input fit the 1024-byte header. */
    if (n < 0 || n > 700) {
        rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                        "ConnectWise credentials too long");
    } else {
        memcpy(cw->auth, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)cw->auth + 6, (unsigned char *)user, n);
    }
    OPENSSL_cleanse(user, sizeof(user));
    return rc;
}

/* A zero (or, for the signed knobs, negative) option means "the default". */
#define CW_DEFAULT(field, value)        \
    do {                                \
        if (o->field <= 0)              \
            o->field = (value);         \
    } while (0)

static void apply_defaults(struct cw_options *o, const struct catalog_endpoint *ep)
{
    CW_DEFAULT(max_attempts_429, 8);
    CW_DEFAULT(max_attempts_5xx, 5);
    CW_DEFAULT(backoff_base_ms, 500);
    CW_DEFAULT(backoff_max_ms, 30000);
    CW_DEFAULT(retry_after_max_ms, 120000);
    CW_DEFAULT(timeout_ms, 120000);
    CW_DEFAULT(max_pages, 100000);
    CW_DEFAULT(max_depth, 64);
    if (o->max_response == 0)
        o->max_response = 64u * 1024 * 1024;
    if (o->page_bytes == 0)
        o->page_bytes = 1024u * 1024;
    if (o->page_size <= 0 || o->page_size > 1000)
        o->page_size = ep->page_size;
}

#undef CW_DEFAULT

static enum bf_rc check_creds(const struct cw_creds *c,
                              struct bf_err *err)
{
    if (c->company_id[0] == '\0')
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID, "company_id is empty");
    if (c->public_key[0] == '\0')
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID, "public_key is empty");
    if (c->private_key[0] == '\0')
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID, "private_key is empty");
    if (c->client_id[0] == '\0')
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID, "client_id is empty");
    return BF_OK;
}

/* Basic auth carries the private key in every request: plain http is
 * accepted only for a loopback host (the local fake, a tunnel). */
static int origin_allowed(const char *origin)
{
    static const char *const loopback[] = {"http://127.0.0.1", "http://localhost",
                                           "http://[::1]"};
    size_t i;

    if (strncmp(origin, "https://", 8) == 0)
        return 1;
    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        size_t n = strlen(loopback[i]);

        if (strncmp(origin, loopback[i], n) == 0 &&
            (origin[n] == '\0' || origin[n] == ':'))
            return 1;
    }
    return 0;
}

static void set_origin(struct cw_source *cw)
{
    const char *host = strstr(cw->root, "://") + 3;
    const char *slash = strchr(host, '/');
    size_t n = slash != NULL ? (size_t)(slash - cw->root) : strlen(cw->root);

    snprintf(cw->origin, sizeof(cw->origin), "%.*s", (int)n, cw->root);
}

enum bf_rc cw_open(const struct cw_params *p, struct source **out,
                   struct bf_err *err)
{
    struct cw_source *cw = NULL;
    enum bf_rc rc = BF_OK;

    *out = NULL;
    rc = check_creds(p->creds, err);
    if (rc != BF_OK)
        return rc;
    cw = calloc(1, sizeof(*cw));
    if (cw == NULL)
        return bf_err_set(err, BF_E_NOMEM, "ConnectWise source: out of memory");
    cw->base.ops = &cw_ops;
    cw->p = *p;
    cw->creds = *p->creds;
    cw->p.creds = &cw->creds;
    apply_defaults(&cw->p.opts, p->ep);
    cw->ask_size = cw->p.opts.page_size;
    pthread_mutex_init(&cw->mu, NULL);
    pthread_cond_init(&cw->cv, NULL);
    http_response_init(&cw->slots[0].resp);
    http_response_init(&cw->slots[1].resp);
    cw->fill = &cw->slots[0];
    cw->returned = -1;
    cw->prefetch = !cw->p.opts.no_prefetch;
    backoff_seed(&cw->rng);
    if (cw_api_root(cw->creds.api_base_url, catalog_codebase(p->ep->service),
                    cw->root, sizeof(cw->root)) != 0) {
        rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                        "api_base_url is not an http(s) URL");
        goto out;
    }
    set_origin(cw);
    if (!origin_allowed(cw->origin)) {
        rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                        "api_base_url must be https (plain http only for "
                        "a loopback host)");
        goto out;
    }
    rc = make_auth(cw, err);
    if (rc != BF_OK)
        goto out;
    rc = first_url(cw, err);
    if (rc != BF_OK)
        goto out;
    rc = remember_url(cw, cw->next_url, err);
    if (rc != BF_OK)
        goto out;
    cw->http = http_client_new();
    if (cw->http == NULL)
        rc = bf_err_set(err, BF_E_NOMEM, "HTTP client: out of memory");
    else
        rc = http_client_set_ca_bundle(cw->http, p->ca_bundle, err);
out:
    if (rc != BF_OK) {
        cw_close(&cw->base);
        return rc;
    }
    *out = &cw->base;
    return BF_OK;
}

/* ---- the secret ---- */

void cw_creds_wipe(struct cw_creds *c)
{
    if (c != NULL)
        OPENSSL_cleanse(c, sizeof(*c));
}

struct creds_field {
    const char *name;
    size_t offset;
    size_t cap;
};

#define CREDS_FIELD(f)                                                   \
    { #f, offsetof(struct cw_creds, f), sizeof(((struct cw_creds *)0)->f) }

static const struct creds_field creds_fields[] = {
    CREDS_FIELD(company_id),
    CREDS_FIELD(public_key),
    CREDS_FIELD(private_key),
    CREDS_FIELD(client_id),
    CREDS_FIELD(api_base_url),
};

/* CR/LF in a value would split an HTTP header (libcurl sends custom
 * headers verbatim); no credential field needs any control character. */
static int has_ctl(const char *v)
{
    for (; *v != '\0'; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 1;
    return 0;
}

/* The object that holds the fields: the service's member (per-service
 * form, as the original AVESA secrets), else the top level (flat form). */
static const cJSON *creds_object(const cJSON *root, const char *service)
{
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(root, service);

    return cJSON_IsObject(per) ? per : root;
}

static enum bf_rc creds_field_copy(const cJSON *obj,
                                   const struct creds_field *f,
                                   const char *secret_name,
                                   const char *service, struct cw_creds *out,
                                   struct bf_err *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, f->name);
    const char *v = cJSON_IsString(item) ? item->valuestring : NULL;
    size_t n;

    if (v == NULL || v[0] == '\0')
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                          "secret %s (%s): missing field %s", secret_name,
                          service, f->name);
    if (has_ctl(v))
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                          "secret %s (%s): field %s holds a control "
                          "character", secret_name, service, f->name);
    n = strlen(v);
    if (n >= f->cap)
        return bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                          "secret %s (%s): field %s is too long", secret_name,
                          service, f->name);
    memcpy((char *)out + f->offset, v, n + 1);
    return BF_OK;
}

enum bf_rc cw_creds_parse(const char *text, size_t len,
                          const char *secret_name, const char *service,
                          struct cw_creds *out, struct bf_err *err)
{
    cJSON *root = NULL;
    const cJSON *obj = NULL;
    enum bf_rc rc = BF_OK;
    size_t i;
    char what[280];

    snprintf(what, sizeof what, "secret %s", secret_name);
    rc = json_strict_parse(text, len, what, BF_E_CREDENTIALS_INVALID,
                           JSON_STRICT_NO_NAMES, &root, err);
    if (rc == BF_OK && !cJSON_IsObject(root))
        rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                        "secret %s: not a JSON object", secret_name);
    if (rc == BF_OK)
        obj = creds_object(root, service);
    for (i = 0; rc == BF_OK && i < sizeof(creds_fields) / sizeof(creds_fields[0]);
         i++)
        rc = creds_field_copy(obj, &creds_fields[i], secret_name, service, out,
                              err);
    sm_json_wipe_free(root);
    if (rc != BF_OK)
        cw_creds_wipe(out);
    return rc;
}

enum bf_rc cw_secret_check(const char *text, size_t len,
                           const char *secret_name, const char *service,
                           struct bf_err *err)
{
    struct cw_creds c;
    enum bf_rc rc;

    memset(&c, 0, sizeof(c));
    rc = cw_creds_parse(text, len, secret_name, service, &c, err);
    cw_creds_wipe(&c);
    return rc;
}
