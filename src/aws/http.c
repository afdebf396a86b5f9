/* http.c -- the one HTTP client everything uses (libcurl underneath).
 *
 * Owns a curl easy handle per client, so keep-alive connections and TLS
 * sessions survive between requests. The options that never change are set
 * once per handle (again only when the CA bundle setting changes); every
 * request sets its own URL, method, headers, timeouts and response cap.
 * TLS verification is never turned off, only the CA bundle can be replaced.
 * Knows nothing of AWS: the signed headers come in ready-made from
 * awsjson.c / awsrest.c.
 */
#include "aws/http.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "util/timeutil.h"

#define HTTP_DEFAULT_CONNECT_MS 5000L
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)16 << 20)
#define HTTP_MAX_HEADER_LINE 8192

#define HTTP_MAX_REQUEST_HEADERS 62
#define HTTP_MAX_SOCKETS 8  /* a transfer uses 1; happy eyeballs 2 */
/* curl's timer callback says when it needs us; this cap is only a safety
 * net. It is long because each wake costs: a worker idles with one long
 * poll per slot, and a 1 s cap woke 16 slot threads 16 times a second. */
#define HTTP_MAX_WAIT_MS 10000

/* A socket curl asked us to watch, and for what (CURL_POLL_*). */
struct watched {
    curl_socket_t fd;
    int what;
};

struct http_client {
    CURL *curl;
    CURLM *multi;       /* drives `curl`; holds the connection cache */
    struct watched socks[HTTP_MAX_SOCKETS];
    int nsocks;
    int64_t timer_at_ms; /* curl's next timer, CLOCK_MONOTONIC; -1: none */
    char errbuf[CURL_ERROR_SIZE];
    int configured;     /* the constant options are set */
    char *ca;           /* the CA bundle they name; NULL: the system's */
    /* The request header list, built in place: curl only reads a
     * curl_slist, so the nodes and lines need no allocation per request.
     * The lines hold the Authorization header and the session token, so
     * they are wiped after every request. */
    struct curl_slist nodes[HTTP_MAX_REQUEST_HEADERS + 2];
    struct buf lines;
};

/* State of one transfer, seen by the curl callbacks. */
struct transfer {
    struct http_response *resp;
    int over_limit;
    int head;          /* a HEAD request: Content-Length declares no body */
    int abandoned;     /* req->abandon was raised mid-transfer */
};

static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud,
                     void *sp);
static int on_timer(CURLM *m, long timeout_ms, void *ud);

enum bf_rc http_global_init(struct bf_err *err)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (cc != CURLE_OK)
        return bf_err_set(err, BF_E_INTERNAL, "curl_global_init: %s",
                          curl_easy_strerror(cc));
    return BF_OK;
}

void http_global_cleanup(void)
{
    curl_global_cleanup();
}

void http_library_version(char *out, size_t n)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    const char *const *p = NULL;
    size_t len;

    snprintf(out, n, "%s; protocols:", curl_version());
    for (p = v->protocols; p != NULL && *p != NULL; p++) {
        len = strlen(out);
        snprintf(out + len, n - len, " %s", *p);
    }
}

struct http_client *http_client_new(void)
{
    struct http_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    /* curl_global_init is done once in main() before threads start; a
     * first curl_easy_init does it implicitly otherwise (tests). */
    c->curl = curl_easy_init();
    c->multi = curl_multi_init();
    if (c->curl == NULL || c->multi == NULL) {
        curl_easy_cleanup(c->curl);
        curl_multi_cleanup(c->multi);
        free(c);
        return NULL;
    }
    c->timer_at_ms = -1;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    buf_init_secret(&c->lines, 0);
    return c;
}

void http_client_free(struct http_client *c)
{
    if (c == NULL)
        return;
    curl_multi_cleanup(c->multi); /* closes the cached connections */
    curl_easy_cleanup(c->curl);
    buf_cleanup_secure(&c->lines);
    free(c->ca);
    free(c);
}

void http_response_init(struct http_response *r)
{
    memset(r, 0, sizeof(*r));
    /* Bodies can carry secrets (GetSecretValue, credential documents):
     * growing one must not leave a copy in freed memory. */
    buf_init_secret(&r->body, HTTP_DEFAULT_MAX_RESPONSE);
}

static void headers_clear(struct http_response *r)
{
    int i;

    for (i = 0; i < r->nheaders; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
        r->header_names[i] = NULL;
        r->header_values[i] = NULL;
    }
    r->nheaders = 0;
}

void http_response_cleanup(struct http_response *r)
{
    if (r == NULL)
        return;
    headers_clear(r);
    buf_cleanup(&r->body);
    r->status = 0;
    r->timed_out = 0;
}

const char *http_response_header(const struct http_response *r,
                                 const char *name)
{
    int i;

    for (i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->header_names[i], name) == 0)
            return r->header_values[i];
    }
    return NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    enum bf_rc rc = buf_append(&t->resp->body, p, size * n);

    if (rc == BF_E_LIMIT)
        t->over_limit = 1;
    /* Returning less than given makes curl abort with CURLE_WRITE_ERROR. */
    return rc == BF_OK ? size * n : 0;
}

static char *dup_trimmed(const char *p, size_t n)
{
    char *s = NULL;

    while (n > 0 && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Size the body buffer from a declared Content-Length within the cap, so
 * the body lands without reallocations: faster for large objects, and an
 * answer holding a secret (GetSecretValue) leaves no copy of itself in
 * freed memory for the caller's secure cleanup to miss. A failure here is
 * not fatal: the body then grows as it comes. */
static void reserve_for_length(struct http_response *r, const char *name,
                               const char *value)
{
    char *end = NULL;
    unsigned long long n;

    if (strcmp(name, "content-length") != 0 || value[0] < '0' ||
        value[0] > '9')
        return;
    n = strtoull(value, &end, 10);
    if (*end != '\0' || n == 0 || n > r->body.limit - r->body.len)
        return;
    buf_reserve(&r->body, (size_t)n);
}

/* Keep up to HTTP_MAX_RESPONSE_HEADERS headers of the final response;
 * a new status line (after a 1xx or a redirect) starts over. Oversized
 * lines are skipped, not fatal: they are never ones we read. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    struct http_response *r = t->resp;
    size_t len = size * n;
    const char *colon = NULL;
    char *name = NULL;
    char *value = NULL;
    size_t i;

    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        headers_clear(r);
        return len;
    }
    colon = memchr(p, ':', len);
    if (colon == NULL || len > HTTP_MAX_HEADER_LINE ||
        r->nheaders >= HTTP_MAX_RESPONSE_HEADERS)
        return len;
    name = dup_trimmed(p, (size_t)(colon - p));
    value = dup_trimmed(colon + 1, len - (size_t)(colon - p) - 1);
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        return 0; /* out of memory: abort */
    }
    for (i = 0; name[i] != '\0'; i++)
        name[i] = (char)tolower((unsigned char)name[i]);
    if (!t->head)
        reserve_for_length(r, name, value);
    r->header_names[r->nheaders] = name;
    r->header_values[r->nheaders] = value;
    r->nheaders++;
    return len;
}

static int has_header(const struct http_request *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0)
            return 1;
    }
    return 0;
}

/* libcurl sends custom headers verbatim: a CR or LF in a name or value
 * (from a secret, a config file, a server's Link) would add a header of the
 * attacker's choosing. Refuse any control character but tab. */
static int header_text_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 0;
    }
    return 1;
}

/* Append one "name: value" line (NUL-terminated) to the line buffer. */
static enum bf_rc add_line(struct buf *b, const char *name, const char *value)
{
    size_t ln = strlen(name), lv = value != NULL ? strlen(value) : 0;
    enum bf_rc rc = buf_reserve(b, ln + lv + 3);

    if (rc != BF_OK)
        return rc;
    memcpy(b->data + b->len, name, ln);
    b->len += ln;
    if (value != NULL) {
        memcpy(b->data + b->len, ": ", 2);
        memcpy(b->data + b->len + 2, value, lv);
        b->len += lv + 2;
    }
    b->data[b->len++] = '\0';
    b->data[b->len] = '\0';
    return BF_OK;
}

/* Build the header list in c->nodes. "Expect:" stops curl's 100-continue
 * round trip (AWS answers fine without it and it costs a second per large
 * PUT on some proxies); an empty "Content-Type:" stops curl inventing a
 * form type. */
static enum bf_rc build_headers(struct http_client *c,
                                const struct http_request *req,
                                struct curl_slist **out, struct bf_err *err)
{
    struct buf *b = &c->lines;
    size_t i, n = 0, off = 0;
    enum bf_rc rc = BF_OK;

    if (req->nheaders > HTTP_MAX_REQUEST_HEADERS)
        return bf_err_set(err, BF_E_CONFIG, "%zu request headers (at most "
                          "%d)", req->nheaders, HTTP_MAX_REQUEST_HEADERS);
    for (i = 0; i < req->nheaders; i++) {
        if (!header_text_ok(req->headers[i].name) ||
            !header_text_ok(req->headers[i].value))
            return bf_err_set(err, BF_E_CONFIG, "request header %.64s holds a "
                              "control character (refused, never sent)",
                              header_text_ok(req->headers[i].name)
                                  ? req->headers[i].name : "(name)");
    }
    buf_reset(b);
    for (i = 0; i < req->nheaders && rc == BF_OK; i++)
        rc = add_line(b, req->headers[i].name, req->headers[i].value);
    if (rc == BF_OK)
        rc = add_line(b, "Expect:", NULL);
    if (rc == BF_OK && !has_header(req, "content-type"))
        rc = add_line(b, "Content-Type:", NULL);
    if (rc != BF_OK) {
        OPENSSL_cleanse(b->data, b->len);
        buf_reset(b);
        return bf_err_set(err, rc, "building request headers: out of memory");
    }
    /* Point the nodes at the lines only now: the buffer may have moved. */
    while (off < b->len) {
        c->nodes[n].data = b->data + off;
        c->nodes[n].next = NULL;
        if (n > 0)
            c->nodes[n - 1].next = &c->nodes[n];
        off += strlen(b->data + off) + 1;
        n++;
    }
    *out = &c->nodes[0];
    return BF_OK;
}

/* After a request: the lines held the Authorization header and maybe the
 * session token. */
static void headers_wipe(struct http_client *c)
{
    if (c->lines.data != NULL)
        OPENSSL_cleanse(c->lines.data, c->lines.len);
    buf_reset(&c->lines);
}

/* The handle keeps the previous request's method: start from a plain GET
 * (no body, no custom verb) every time, then set this one's. */
static void set_method(CURL *h, const struct http_request *req)
{
    const char *m = req->method != NULL ? req->method : "GET";

    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(m, "GET") == 0 && req->body_len == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (req->body_len > 0 || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
        /* POSTFIELDS sends from the caller's memory without copying. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                         req->body != NULL ? (const char *)req->body : "");
    }
    if (strcmp(m, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
}

enum bf_rc http_client_set_ca_bundle(struct http_client *c, const char *path,
                                     struct bf_err *err)
{
    char *copy = NULL;

    if (path != NULL && path[0] != '\0') {
        copy = strdup(path);
        if (copy == NULL)
            return bf_err_set(err, BF_E_NOMEM, "http: out of memory");
    }
    free(c->ca);
    c->ca = copy;
    c->configured = 0;
    return BF_OK;
}

/* The options every request shares, set once per handle. A changed CA
 * bundle starts over from curl_easy_reset (which keeps live connections
 * and the TLS session cache), so that going back to the system's CAs
 * restores curl's default exactly. */
static void configure(struct http_client *c)
{
    CURL *h = c->curl;

    if (c->configured)
        return;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* S3 keys may contain "/../": send the path exactly as signed. */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    /* Verification is on by default; stated here so no one wonders. */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    c->configured = 1;
}

/* What changes from one request to the next. */
static void set_options(struct http_client *c, const struct http_request *req,
                        struct curl_slist *headers, struct transfer *t)
{
    CURL *h = c->curl;
    long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                   : HTTP_DEFAULT_CONNECT_MS;
    long total_ms = req->timeout_ms > 0 ? req->timeout_ms
                                        : HTTP_DEFAULT_TIMEOUT_MS;

    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    /* A declared length over the cap fails before any byte is read. */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)t->resp->body.limit);
    set_method(h, req);
}

static enum bf_rc classify(struct http_client *c,
                           const struct http_request *req, CURLcode cc,
                           struct transfer *t, struct bf_err *err)
{
    const char *why = c->errbuf[0] != '\0' ? c->errbuf
                                           : curl_easy_strerror(cc);

    if (t->abandoned) {
        t->resp->status = 0;
        return bf_err_set(err, BF_E_CANCELLED, "%s %s: abandoned, the task "
                          "was cancelled", req->method, req->url);
    }
    if (t->over_limit || cc == CURLE_FILESIZE_EXCEEDED) {
        t->resp->status = 0;
        return bf_err_set(err, BF_E_LIMIT, "%s %s: response larger than "
                          "%zu bytes", req->method, req->url,
                          t->resp->body.limit);
    }
    t->resp->status = 0;
    t->resp->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
    if (cc == CURLE_OUT_OF_MEMORY)
        return bf_err_set(err, BF_E_NOMEM, "%s %s: out of memory",
                          req->method, req->url);
    /* A CA bundle that cannot be read is a local mistake: retrying it
     * cannot help, and it must not fall back to "no verification". */
    if (cc == CURLE_SSL_CACERT_BADFILE)
        return bf_err_set(err, BF_E_CONFIG, "%s %s: cannot load the CA bundle "
                          "(BACKFILL_CA_BUNDLE / AWS_CA_BUNDLE): %s",
                          req->method, req->url, why);
    if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
        return bf_err_set(err, BF_E_CONFIG, "%s %s: %s", req->method,
                          req->url, why);
    return bf_err_set(err, BF_E_TRANSPORT, "%s %s: %s", req->method,
                      req->url, why);
}

/* curl's socket callback: keep the set of sockets to poll. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sp)
{
    struct http_client *c = ud;
    int i;

    (void)e;
    (void)sp;
    for (i = 0; i < c->nsocks && c->socks[i].fd != fd; i++)
        ;
    if (what == CURL_POLL_REMOVE) {
        if (i < c->nsocks)
            c->socks[i] = c->socks[--c->nsocks];
        return 0;
    }
    if (i == c->nsocks) {
        if (c->nsocks == HTTP_MAX_SOCKETS)
            return -1; /* curl fails the transfer */
        c->nsocks++;
    }
    c->socks[i].fd = fd;
    c->socks[i].what = what;
    return 0;
}

/* curl's timer callback: when to call it back without socket activity. */
static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    struct http_client *c = ud;

    (void)m;
    c->timer_at_ms = timeout_ms < 0 ? -1 : time_mono_ms() + timeout_ms;
    return 0;
}

/* Wait for the watched sockets or curl's timer (max_wait at most), then
 * hand curl what happened. Telling curl which socket is readable spares it
 * a poll(2) of its own before each read; a loop around
 * curl_multi_poll()/curl_multi_perform() (what curl_easy_perform does)
 * makes two more per request. */
static CURLMcode step(struct http_client *c, int64_t max_wait, int *running)
{
    struct pollfd pfd[HTTP_MAX_SOCKETS];
    int64_t wait = max_wait;
    CURLMcode mc = CURLM_OK;
    int i, n, nfd = c->nsocks;

    if (c->timer_at_ms >= 0) {
        wait = c->timer_at_ms - time_mono_ms();
        wait = wait < 0 ? 0 : wait > max_wait ? max_wait : wait;
    }
    for (i = 0; i < nfd; i++) {
        pfd[i].fd = c->socks[i].fd;
        pfd[i].events = (short)(((c->socks[i].what & CURL_POLL_IN) ? POLLIN : 0) |
                                ((c->socks[i].what & CURL_POLL_OUT) ? POLLOUT : 0));
        pfd[i].revents = 0;
    }
    n = wait > 0 ? poll(pfd, (nfds_t)nfd, (int)wait) : 0;
    if (n < 0 && errno != EINTR)
        return CURLM_INTERNAL_ERROR;
    if (n <= 0)
        return curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
                                        running);
    /* The set may change under the calls: act on the copy. */
    for (i = 0; i < nfd && mc == CURLM_OK; i++) {
        int ev = 0;

        if (pfd[i].revents == 0)
            continue;
        ev |= (pfd[i].revents & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0;
        ev |= (pfd[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0;
        ev |= (pfd[i].revents & (POLLERR | POLLNVAL)) ? CURL_CSELECT_ERR : 0;
        mc = curl_multi_socket_action(c->multi, pfd[i].fd, ev, running);
    }
    return mc;
}

/* One transfer on the client's multi handle (which keeps the connections
 * between requests, as curl_easy_perform's own would). Connect and total
 * timeouts are curl's timers. Removing an unfinished transfer from the
 * multi handle aborts it and closes its connection. */
static CURLcode transfer(struct http_client *c, const atomic_int *abandon,
                         struct transfer *t)
{
    CURLMcode mc = curl_multi_add_handle(c->multi, c->curl);
    CURLcode cc = CURLE_OK;
    const CURLMsg *msg = NULL;
    int64_t max_wait = abandon != NULL ? HTTP_ABANDON_CHECK_MS : HTTP_MAX_WAIT_MS;
    int running = 1, left = 0;

    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                         : CURLE_FAILED_INIT;
    while (mc == CURLM_OK) {
        if (abandon != NULL && atomic_load(abandon) != 0) {
            t->abandoned = 1;
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        mc = step(c, max_wait, &running);
        msg = mc == CURLM_OK ? curl_multi_info_read(c->multi, &left) : NULL;
        if (msg != NULL && msg->msg == CURLMSG_DONE) {
            cc = msg->data.result;
            break;
        }
    }
    if (mc != CURLM_OK)
        cc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                       : CURLE_BAD_FUNCTION_ARGUMENT;
    curl_multi_remove_handle(c->multi, c->curl);
    return cc;
}

enum bf_rc http_perform(struct http_client *c, const struct http_request *req,
                        struct http_response *resp, struct bf_err *err)
{
    struct curl_slist *headers = NULL;
    struct transfer t = { resp, 0, 0, 0 };
    CURLcode cc;
    enum bf_rc rc;

    headers_clear(resp);
    buf_reset(&resp->body);
    resp->body.limit = req->max_response > 0 ? req->max_response
                                             : HTTP_DEFAULT_MAX_RESPONSE;
    resp->status = 0;
    resp->timed_out = 0;
    t.head = req->method != NULL && strcmp(req->method, "HEAD") == 0;
    configure(c);
    rc = build_headers(c, req, &headers, err);
    if (rc != BF_OK)
        return rc;
    set_options(c, req, headers, &t);
    cc = transfer(c, req->abandon, &t);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        rc = BF_OK;
    } else {
        rc = classify(c, req, cc, &t, err);
    }
    /* Drop our pointers from the handle before the list goes away. */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
    headers_wipe(c);
    return rc;
}
