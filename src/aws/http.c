/* http.c -- the one HTTP client everything uses (libcurl underneath).
 *
 * Owns a curl easy handle per client, so keep-alive connections and TLS
 * sessions survive between requests (curl_easy_reset keeps both). Every
 * request sets its own timeouts and response cap; TLS verification is never
 * turned off, only the CA bundle can be replaced. Knows nothing of AWS: the
 * signed headers come in ready-made from awsjson.c / awsrest.c.
 */
#include "aws/http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#define HTTP_DEFAULT_CONNECT_MS 5000L
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)16 << 20)
#define HTTP_MAX_HEADER_LINE 8192

struct http_client {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
};

/* State of one transfer, seen by the curl callbacks. */
struct transfer {
    struct http_response *resp;
    int over_limit;
    int head;          /* a HEAD request: Content-Length declares no body */
};

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

/* The header list held the session token: wipe it before freeing. */
static void headers_free(struct curl_slist *list)
{
    struct curl_slist *p = NULL;

    for (p = list; p != NULL; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(list);
}

struct http_client *http_client_new(void)
{
    struct http_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    /* curl_global_init is done once in main() before threads start; a
     * first curl_easy_init does it implicitly otherwise (tests). */
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void http_client_free(struct http_client *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

void http_response_init(struct http_response *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, HTTP_DEFAULT_MAX_RESPONSE);
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

/* Build the header list. "Expect:" stops curl's 100-continue round trip
 * (AWS answers fine without it and it costs a second per large PUT on some
 * proxies); an empty "Content-Type:" stops curl inventing a form type. */
static enum bf_rc build_headers(const struct http_request *req,
                                struct curl_slist **out, struct bf_err *err)
{
    struct curl_slist *list = NULL;
    struct curl_slist *next = NULL;
    struct buf line;
    size_t i;
    enum bf_rc rc = BF_OK;

    for (i = 0; i < req->nheaders; i++) {
        if (!header_text_ok(req->headers[i].name) ||
            !header_text_ok(req->headers[i].value))
            return bf_err_set(err, BF_E_CONFIG, "request header %.64s holds a "
                              "control character (refused, never sent)",
                              header_text_ok(req->headers[i].name)
                                  ? req->headers[i].name : "(name)");
    }
    buf_init(&line, 0);
    for (i = 0; i < req->nheaders && rc == BF_OK; i++) {
        buf_reset(&line);
        rc = buf_printf(&line, "%s: %s", req->headers[i].name,
                        req->headers[i].value);
        if (rc == BF_OK) {
            next = curl_slist_append(list, line.data);
            if (next == NULL)
                rc = BF_E_NOMEM;
            else
                list = next;
        }
    }
    if (rc == BF_OK) {
        next = curl_slist_append(list, "Expect:");
        rc = next != NULL ? BF_OK : BF_E_NOMEM;
        list = next != NULL ? next : list;
    }
    if (rc == BF_OK && !has_header(req, "content-type")) {
        next = curl_slist_append(list, "Content-Type:");
        rc = next != NULL ? BF_OK : BF_E_NOMEM;
        list = next != NULL ? next : list;
    }
    buf_cleanup_secure(&line); /* it held the Authorization header */
    if (rc != BF_OK) {
        headers_free(list);
        return bf_err_set(err, rc, "building request headers: out of memory");
    }
    *out = list;
    return BF_OK;
}

static void set_method(CURL *h, const struct http_request *req)
{
    const char *m = req->method != NULL ? req->method : "GET";

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

static void set_tls(CURL *h)
{
    const char *ca = getenv("BACKFILL_CA_BUNDLE");

    if (ca == NULL || ca[0] == '\0')
        ca = getenv("AWS_CA_BUNDLE");
    /* Verification is on by default; stated here so no one wonders. */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca != NULL && ca[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
}

static void set_options(struct http_client *c, const struct http_request *req,
                        struct curl_slist *headers, struct transfer *t)
{
    CURL *h = c->curl;
    long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                   : HTTP_DEFAULT_CONNECT_MS;
    long total_ms = req->timeout_ms > 0 ? req->timeout_ms
                                        : HTTP_DEFAULT_TIMEOUT_MS;

    /* reset keeps live connections and the TLS session cache. */
    curl_easy_reset(h);
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* S3 keys may contain "/../": send the path exactly as signed. */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    /* A declared length over the cap fails before any byte is read. */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)t->resp->body.limit);
    set_tls(h);
    set_method(h, req);
}

static enum bf_rc classify(struct http_client *c,
                           const struct http_request *req, CURLcode cc,
                           struct transfer *t, struct bf_err *err)
{
    const char *why = c->errbuf[0] != '\0' ? c->errbuf
                                           : curl_easy_strerror(cc);

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

enum bf_rc http_perform(struct http_client *c, const struct http_request *req,
                        struct http_response *resp, struct bf_err *err)
{
    struct curl_slist *headers = NULL;
    struct transfer t = { resp, 0, 0 };
    CURLcode cc;
    enum bf_rc rc;

    headers_clear(resp);
    buf_reset(&resp->body);
    resp->body.limit = req->max_response > 0 ? req->max_response
                                             : HTTP_DEFAULT_MAX_RESPONSE;
    resp->status = 0;
    resp->timed_out = 0;
    t.head = req->method != NULL && strcmp(req->method, "HEAD") == 0;
    rc = build_headers(req, &headers, err);
    if (rc != BF_OK)
        return rc;
    set_options(c, req, headers, &t);
    cc = curl_easy_perform(c->curl);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        rc = BF_OK;
    } else {
        rc = classify(c, req, cc, &t, err);
    }
    /* Drop our pointers from the handle before the list goes away. */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
    headers_free(headers);
    return rc;
}
