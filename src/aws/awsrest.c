/* awsrest.c -- REST-style AWS requests (S3, Lambda), see awsrest.h.
 *
 * Owns addressing (virtual-host or path-style bucket, encoding the key once),
 * the S3 payload hash header, signing through sigv4_sign, the shared retry
 * loop (retry.c) and error-shape parsing (S3 XML, REST-JSON). Bodies are in
 * memory: callers bound them (multipart parts are at most a few MiB).
 */
#include "aws/awsrest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/private/awscall.h"
#include "aws/awsjson.h"
#include "aws/retry.h"
#include "aws/sigv4.h"

#define AWSREST_DEFAULT_TIMEOUT_MS 60000L
#define AWSREST_DEFAULT_MAX_RESPONSE ((size_t)16 << 20)
#define AWSREST_MAX_HEADERS 32

struct awsrest_client {
    struct awscall_conn conn;
    int s3;                           /* S3 signing rules */
};

struct rest_call {
    struct awsrest_client *c;
    const struct awsrest_request *req;
    struct awsrest_target target;
    struct http_response *resp;
    char op[96];                      /* "PUT s3" for messages */
    char code[64];
};

enum bf_rc awsrest_client_new(struct awsenv *env,
                              const struct endpoint_service *svc,
                              struct awsrest_client **out, struct bf_err *err)
{
    struct awsrest_client *c = NULL;
    enum bf_rc rc;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return bf_err_set(err, BF_E_NOMEM, "awsrest: out of memory");
    rc = awscall_conn_init(&c->conn, env, svc, "awsrest", err);
    if (rc != BF_OK) {
        free(c);
        return rc;
    }
    c->s3 = strcmp(svc->signing_name, "s3") == 0;
    *out = c;
    return BF_OK;
}

void awsrest_client_free(struct awsrest_client *c)
{
    if (c == NULL)
        return;
    awscall_conn_cleanup(&c->conn);
    free(c);
}

void awsrest_target_init(struct awsrest_target *t)
{
    memset(t, 0, sizeof(*t));
    buf_init(&t->path, 0);
    buf_init(&t->url, 0);
}

void awsrest_target_cleanup(struct awsrest_target *t)
{
    if (t == NULL)
        return;
    buf_cleanup(&t->path);
    buf_cleanup(&t->url);
}

int awsrest_bucket_virtual_ok(const char *bucket, const char *scheme)
{
    size_t n = strlen(bucket);
    size_t i;

    if (n < 3 || n > 63 || !isalnum((unsigned char)bucket[0]) ||
        !isalnum((unsigned char)bucket[n - 1]))
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)bucket[i];
        /* Dots break the *.s3 wildcard certificate, so https needs path. */
        if (ch == '.' && strcmp(scheme, "https") != 0)
            continue;
        if (!(islower(ch) || isdigit(ch) || ch == '-'))
            return 0;
    }
    return strstr(bucket, "..") == NULL;
}

int awsrest_bucket_valid(const char *b)
{
    size_t n = strlen(b);
    size_t i;

    if (n == 0 || n > 255)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[i];
        if (!(isalnum(ch) || ch == '-' || ch == '.' || ch == '_'))
            return 0;
    }
    return 1;
}

static enum bf_rc append_path(struct awsrest_target *t, const char *bucket,
                              const char *path)
{
    enum bf_rc rc = BF_OK;

    if (bucket != NULL && !t->virtual_host) {
        rc = buf_append_str(&t->path, "/");
        if (rc == BF_OK)
            rc = sigv4_uri_encode(bucket, strlen(bucket), 0, &t->path);
        if (rc == BF_OK && path != NULL && path[0] != '\0')
            rc = buf_append_str(&t->path, "/");
    } else if (path == NULL || path[0] != '/' || bucket != NULL) {
        rc = buf_append_str(&t->path, "/");
    }
    if (rc == BF_OK && path != NULL)
        rc = sigv4_uri_encode(path, strlen(path), 1, &t->path);
    return rc;
}

enum bf_rc awsrest_make_target(const struct endpoint *ep, const char *bucket,
                               const char *path, const char *query,
                               struct awsrest_target *t, struct bf_err *err)
{
    enum bf_rc rc;

    buf_reset(&t->path);
    buf_reset(&t->url);
    t->virtual_host = 0;
    if (bucket != NULL && !awsrest_bucket_valid(bucket))
        return bf_err_set(err, BF_E_INVALID_INPUT, "bad S3 bucket name "
                          "\"%.80s\"", bucket);
    t->virtual_host = bucket != NULL && !ep->path_style &&
                      awsrest_bucket_virtual_ok(bucket, ep->scheme);
    if (t->virtual_host)
        snprintf(t->host_header, sizeof(t->host_header), "%s.%s", bucket,
                 ep->host_header);
    else
        snprintf(t->host_header, sizeof(t->host_header), "%s",
                 ep->host_header);
    rc = buf_append_str(&t->path, ep->base_path);
    if (rc == BF_OK)
        rc = append_path(t, bucket, path);
    if (rc == BF_OK)
        rc = buf_printf(&t->url, "%s://%s%s%s%s", ep->scheme, t->host_header,
                        t->path.data, (query != NULL && query[0] != '\0')
                        ? "?" : "", query != NULL ? query : "");
    if (rc != BF_OK)
        return bf_err_set(err, rc, "awsrest: building the URL: out of memory");
    return BF_OK;
}

/* Decode the XML entity at `a` (before `end`) into *ch and return its
 * length; a lone '&' is itself (length 1). */
static size_t xml_entity(const char *a, const char *end, char *ch)
{
    static const char *const ent[][2] = {
        { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" },
        { "&quot;", "\"" }, { "&apos;", "'" }, { "&#34;", "\"" },
        { "&#39;", "'" }, { "&#xD;", "\r" }, { "&#xA;", "\n" },
    };
    size_t i;

    for (i = 0; i < sizeof(ent) / sizeof(ent[0]); i++) {
        size_t el = strlen(ent[i][0]);

        if ((size_t)(end - a) >= el && strncmp(a, ent[i][0], el) == 0) {
            *ch = ent[i][1][0];
            return el;
        }
    }
    *ch = *a;
    return 1;
}

int awsrest_xml_next(const char *xml, size_t *pos, const char *tag, char *out,
                     size_t n)
{
    char open[64], close[64];
    const char *a = NULL, *b = NULL;
    size_t j = 0;

    if (n == 0 || snprintf(open, sizeof(open), "<%s>", tag) >= (int)sizeof(open))
        return 0;
    snprintf(close, sizeof(close), "</%s>", tag);
    a = strstr(xml + *pos, open);
    if (a == NULL)
        return 0;
    a += strlen(open);
    b = strstr(a, close);
    if (b == NULL)
        return 0;
    *pos = (size_t)(b - xml) + strlen(close);
    while (a < b && j + 1 < n) {
        char ch = *a;

        a += *a == '&' ? xml_entity(a, b, &ch) : 1;
        out[j++] = ch;
    }
    out[j] = '\0';
    return 1;
}

static const char *status_code_name(long status)
{
    switch (status) {
    case 301: return "PermanentRedirect";
    case 304: return "NotModified";
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 412: return "PreconditionFailed";
    default:  return NULL;
    }
}

void awsrest_parse_error(const struct http_response *r, char *code,
                         size_t code_cap, char *message, size_t message_cap)
{
    const char *body = r->body.data != NULL ? r->body.data : "";
    const char *p = body;
    const char *named = NULL;
    char raw[128];
    size_t pos = 0;

    code[0] = '\0';
    message[0] = '\0';
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '<') {
        if (awsrest_xml_next(p, &pos, "Code", raw, sizeof(raw)))
            snprintf(code, code_cap, "%s", raw);
        pos = 0;
        awsrest_xml_next(p, &pos, "Message", message, message_cap);
    } else {
        awsjson_parse_error(r->body.data, r->body.len,
                            http_response_header(r, "x-amzn-errortype"),
                            code, code_cap, message, message_cap);
    }
    if (code[0] != '\0')
        return;
    named = status_code_name(r->status);
    if (named != NULL)
        snprintf(code, code_cap, "%s", named);
    else
        snprintf(code, code_cap, "HTTP%ld", r->status);
}

/* The headers that are signed and sent: host, the caller's, and for S3
 * the payload hash; the signer adds x-amz-date and the token itself. */
static size_t collect_sign_headers(struct rest_call *k, struct sigv4_header *sh)
{
    const struct awsrest_request *req = k->req;
    size_t n = 0;
    size_t i;

    sh[n++] = (struct sigv4_header){ "host", k->target.host_header };
    for (i = 0; i < req->nheaders && n < AWSREST_MAX_HEADERS; i++)
        sh[n++] = (struct sigv4_header){ req->headers[i].name,
                                         req->headers[i].value };
    return n;
}

static enum bf_rc send_signed(struct rest_call *k, const struct creds *creds,
                              const struct sigv4_result *sig,
                              struct bf_err *err)
{
    const struct awsrest_request *req = k->req;
    struct http_header hh[AWSREST_MAX_HEADERS + 6];
    struct http_request hr;
    size_t n = 0;
    size_t i;

    hh[n++] = (struct http_header){ "Host", k->target.host_header };
    for (i = 0; i < req->nheaders && i < AWSREST_MAX_HEADERS - 1; i++)
        hh[n++] = (struct http_header){ req->headers[i].name,
                                        req->headers[i].value };
    hh[n++] = (struct http_header){ "X-Amz-Date", sig->amz_date };
    if (k->c->s3)
        hh[n++] = (struct http_header){ "x-amz-content-sha256",
                                        sig->payload_hash };
    if (creds->session_token[0] != '\0')
        hh[n++] = (struct http_header){ "X-Amz-Security-Token",
                                        creds->session_token };
    hh[n++] = (struct http_header){ "Authorization", sig->authorization.data };
    memset(&hr, 0, sizeof(hr));
    hr.method = req->method;
    hr.url = k->target.url.data;
    hr.headers = hh;
    hr.nheaders = n;
    hr.body = req->body;
    hr.body_len = req->body_len;
    hr.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms
                                        : AWSREST_DEFAULT_TIMEOUT_MS;
    hr.max_response = req->max_response > 0 ? req->max_response
                                            : AWSREST_DEFAULT_MAX_RESPONSE;
    return http_perform(k->c->conn.http, &hr, k->resp, err);
}

static enum bf_rc sign_and_send(struct rest_call *k, struct bf_err *err)
{
    struct awsrest_client *c = k->c;
    const struct awsrest_request *req = k->req;
    struct creds creds;
    struct sigv4_config cfg;
    struct sigv4_result sig;
    struct sigv4_header sh[AWSREST_MAX_HEADERS + 1];
    enum bf_rc rc;

    memset(&creds, 0, sizeof(creds));
    sigv4_result_init(&sig);
    if (req->nheaders > AWSREST_MAX_HEADERS - 1) {
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "too many request headers "
                        "(%zu)", req->nheaders);
        goto out;
    }
    rc = awscall_sign_setup(&c->conn, &creds, &cfg, err);
    if (rc != BF_OK)
        goto out;
    cfg.s3_rules = c->s3;
    cfg.unsigned_payload = c->s3 && req->unsigned_payload;
    rc = sigv4_sign(&cfg, &(struct sigv4_request){
                        .method = req->method, .path = k->target.path.data,
                        .query = req->query,
                        .headers = sh,
                        .nheaders = collect_sign_headers(k, sh),
                        .body = req->body, .body_len = req->body_len },
                    awsenv_key_cache(c->conn.env), &sig, err);
    if (rc == BF_OK)
        rc = send_signed(k, &creds, &sig, err);
out:
    creds_wipe(&creds);
    sigv4_result_cleanup(&sig);
    return rc;
}

static enum bf_rc answer_error(struct rest_call *k, struct retry_outcome *o,
                               struct bf_err *err)
{
    char msg[320];
    const char *rid = NULL;

    awsrest_parse_error(k->resp, k->code, sizeof(k->code), msg, sizeof(msg));
    rid = http_response_header(k->resp, "x-amz-request-id");
    if (rid == NULL)
        rid = http_response_header(k->resp, "x-amzn-requestid");
    return awscall_answer_error(&k->c->conn, k->op, k->resp, k->code, msg,
                                rid, o, err);
}

static enum bf_rc rest_attempt(void *ud, int n, struct retry_outcome *o,
                               struct bf_err *err)
{
    struct rest_call *k = ud;
    enum bf_rc rc;

    (void)n;
    rc = sign_and_send(k, err);
    if (rc == BF_E_TRANSPORT)
        awscall_transport_failed(k->resp, o, err);
    if (rc != BF_OK)
        return rc;
    if (k->resp->status < 200 || k->resp->status > 299)
        return answer_error(k, o, err);
    o->status = k->resp->status;
    return BF_OK;
}

enum bf_rc awsrest_call(struct awsrest_client *c,
                        const struct awsrest_request *req,
                        struct http_response *resp, struct bf_err *err)
{
    struct rest_call k;
    struct retry_loop loop;
    enum bf_rc rc;

    memset(&k, 0, sizeof(k));
    k.c = c;
    k.req = req;
    k.resp = resp;
    snprintf(k.op, sizeof(k.op), "%s %s", req->method,
             c->conn.svc->signing_name);
    awsrest_target_init(&k.target);
    /* err->endpoint is left to the caller, which knows the operation
     * name ("s3:PutObject"). */
    rc = awsrest_make_target(&c->conn.ep, req->bucket, req->path, req->query,
                             &k.target, err);
    if (rc != BF_OK)
        goto out;
    awscall_retry_loop(&c->conn, req->max_attempts, &loop);
    rc = retry_run(&loop, rest_attempt, &k, err);
out:
    awsrest_target_cleanup(&k.target);
    return rc;
}
