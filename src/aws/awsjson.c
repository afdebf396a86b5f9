/* awsjson.c -- the AWS JSON 1.0/1.1 protocol client (see awsjson.h).
 *
 * Owns one call's life: fetch credentials, sign with sigv4_sign, POST /,
 * judge the answer, parse the error shape, and let retry.c decide whether to
 * go again. Service modules (sfn.c, ddb.c, sm.c) only build inputs and read
 * outputs. Error messages carry the service's code and message, never the
 * request body (it can hold task tokens or secrets).
 */
#include "aws/awsjson.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws/private/awscall.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "util/jsonstrict.h"
#include "aws/sigv4.h"

#define AWSJSON_DEFAULT_TIMEOUT_MS 30000L
#define AWSJSON_DEFAULT_MAX_RESPONSE ((size_t)1 << 20)

struct awsjson_client {
    struct awscall_conn conn;
    char target_prefix[64];
    char content_type[40];
    char url[600];
    char path[300];
};

/* One call, as the attempt function sees it. */
struct json_call {
    struct awsjson_client *c;
    const char *op;
    const char *body;
    size_t body_len;
    long timeout_ms;
    size_t max_response;
    struct http_response resp;
    char code[64];
};

enum bf_rc awsjson_client_new(struct awsenv *env,
                              const struct endpoint_service *svc,
                              const char *target_prefix,
                              const char *json_version,
                              struct awsjson_client **out, struct bf_err *err)
{
    struct awsjson_client *c = NULL;
    enum bf_rc rc;

    *out = NULL;
    if (json_version == NULL ||
        (strcmp(json_version, "1.0") != 0 && strcmp(json_version, "1.1") != 0))
        return bf_err_set(err, BF_E_CONFIG, "awsjson: unknown JSON protocol "
                          "version \"%s\"", json_version ? json_version : "");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return bf_err_set(err, BF_E_NOMEM, "awsjson: out of memory");
    rc = awscall_conn_init(&c->conn, env, svc, "awsjson", err);
    if (rc != BF_OK) {
        free(c);
        return rc;
    }
    snprintf(c->target_prefix, sizeof(c->target_prefix), "%s", target_prefix);
    snprintf(c->content_type, sizeof(c->content_type),
             "application/x-amz-json-%s", json_version);
    snprintf(c->path, sizeof(c->path), "%s/", c->conn.ep.base_path);
    snprintf(c->url, sizeof(c->url), "%s/", c->conn.ep.url);
    *out = c;
    return BF_OK;
}

void awsjson_client_free(struct awsjson_client *c)
{
    if (c == NULL)
        return;
    awscall_conn_cleanup(&c->conn);
    free(c);
}

/* Copy a code, keeping only the characters error names use. */
static void copy_code(const char *s, size_t n, char *code, size_t cap)
{
    size_t j = 0;
    size_t i;

    for (i = 0; i < n && j + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isalnum(ch) || ch == '.' || ch == '_' || ch == '-')
            code[j++] = (char)ch;
    }
    code[j] = '\0';
}

/* "ns#Code:extra" -> "Code": after the last '#', before the first ':'. */
static void short_code(const char *raw, char *code, size_t cap)
{
    const char *hash = strrchr(raw, '#');
    const char *start = hash != NULL ? hash + 1 : raw;
    const char *colon = strchr(start, ':');
    size_t n = colon != NULL ? (size_t)(colon - start) : strlen(start);

    while (n > 0 && isspace((unsigned char)*start)) {
        start++;
        n--;
    }
    copy_code(start, n, code, cap);
}

static const char *json_str(const cJSON *obj, const char *const *names)
{
    const cJSON *v = NULL;

    for (; *names != NULL; names++) {
        v = cJSON_GetObjectItemCaseSensitive(obj, *names);
        if (cJSON_IsString(v) && v->valuestring != NULL)
            return v->valuestring;
    }
    return NULL;
}

void awsjson_parse_error(const char *body, size_t len, const char *type_header,
                         char *code, size_t code_cap,
                         char *message, size_t message_cap)
{
    static const char *const code_names[] = { "__type", "code", "Code", NULL };
    static const char *const msg_names[] = { "message", "Message",
                                             "errorMessage", NULL };
    cJSON *root = NULL;
    const char *s = NULL;

    if (code_cap > 0)
        code[0] = '\0';
    if (message_cap > 0)
        message[0] = '\0';
    /* An error body two readers could read differently names no code:
     * the header or the HTTP status decides instead. */
    if (body != NULL && len > 0 &&
        json_strict_parse(body, len, "error body", BF_E_AWS, 0, &root, NULL) != BF_OK)
        root = NULL;
    /* The header wins: REST-JSON services put the type only there. */
    if (type_header != NULL && type_header[0] != '\0' && code_cap > 0)
        short_code(type_header, code, code_cap);
    if (cJSON_IsObject(root)) {
        s = json_str(root, code_names);
        if (s != NULL && code_cap > 0 && code[0] == '\0')
            short_code(s, code, code_cap);
        s = json_str(root, msg_names);
        if (s != NULL && message_cap > 0)
            snprintf(message, message_cap, "%s", s);
    }
    cJSON_Delete(root);
}

/* Fill the outcome and `err` for an error answer. */
static enum bf_rc answer_error(struct json_call *k, struct retry_outcome *o,
                               struct bf_err *err)
{
    char msg[320];
    const struct http_response *r = &k->resp;

    awsjson_parse_error(r->body.data, r->body.len,
                        http_response_header(r, "x-amzn-errortype"),
                        k->code, sizeof(k->code), msg, sizeof(msg));
    if (k->code[0] == '\0')
        snprintf(k->code, sizeof(k->code), "HTTP%ld", r->status);
    return awscall_answer_error(&k->c->conn, k->op, r, k->code, msg,
                                http_response_header(r, "x-amzn-requestid"),
                                o, err);
}

static enum bf_rc sign_and_send(struct json_call *k, struct bf_err *err)
{
    struct awsjson_client *c = k->c;
    struct creds creds;
    struct sigv4_config cfg;
    struct sigv4_result sig;
    char target[160];
    struct sigv4_header sh[3];
    struct http_header hh[6];
    struct http_request req;
    size_t nh = 0;
    enum bf_rc rc;

    memset(&creds, 0, sizeof(creds));
    sigv4_result_init(&sig);
    snprintf(target, sizeof(target), "%s.%s", c->target_prefix, k->op);
    rc = awscall_sign_setup(&c->conn, &creds, &cfg, err);
    if (rc != BF_OK)
        goto out;
    sh[0] = (struct sigv4_header){ "host", c->conn.ep.host_header };
    sh[1] = (struct sigv4_header){ "content-type", c->content_type };
    sh[2] = (struct sigv4_header){ "x-amz-target", target };
    rc = sigv4_sign(&cfg, &(struct sigv4_request){
                        .method = "POST", .path = c->path, .query = NULL,
                        .headers = sh, .nheaders = 3, .body = k->body,
                        .body_len = k->body_len },
                    awsenv_key_cache(c->conn.env), &sig, err);
    if (rc != BF_OK)
        goto out;
    hh[nh++] = (struct http_header){ "Host", c->conn.ep.host_header };
    hh[nh++] = (struct http_header){ "Content-Type", c->content_type };
    hh[nh++] = (struct http_header){ "X-Amz-Target", target };
    hh[nh++] = (struct http_header){ "X-Amz-Date", sig.amz_date };
    hh[nh++] = (struct http_header){ "Authorization", sig.authorization.data };
    if (creds.session_token[0] != '\0')
        hh[nh++] = (struct http_header){ "X-Amz-Security-Token",
                                         creds.session_token };
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = c->url;
    req.headers = hh;
    req.nheaders = nh;
    req.body = k->body;
    req.body_len = k->body_len;
    req.timeout_ms = k->timeout_ms;
    req.max_response = k->max_response;
    rc = http_perform(c->conn.http, &req, &k->resp, err);
out:
    creds_wipe(&creds);
    sigv4_result_cleanup(&sig);
    return rc;
}

static enum bf_rc json_attempt(void *ud, int n, struct retry_outcome *o,
                               struct bf_err *err)
{
    struct json_call *k = ud;
    enum bf_rc rc;

    (void)n;
    rc = sign_and_send(k, err);
    if (rc != BF_OK) {
        bf_err_prefix(err, "%s", k->op);
        if (rc == BF_E_TRANSPORT)
            awscall_transport_failed(&k->resp, o, err);
        return rc;
    }
    if (k->resp.status < 200 || k->resp.status > 299)
        return answer_error(k, o, err);
    o->status = k->resp.status;
    return BF_OK;
}

static enum bf_rc parse_answer(struct json_call *k, cJSON **resp,
                               struct bf_err *err)
{
    const struct buf *b = &k->resp.body;

    struct json_strict_report rep;
    char why[160] = "";

    *resp = NULL;
    if (b->len == 0)
        *resp = cJSON_CreateObject();
    else if (json_strict_scan(b->data, b->len, 0, NULL, &rep) == JSON_STRICT_OK)
        *resp = cJSON_ParseWithLength(b->data, b->len);
    else
        json_strict_describe(&rep, why, sizeof why);
    if (*resp != NULL)
        return BF_OK;
    if (why[0] == '\0')
        return bf_err_set(err, BF_E_NOMEM, "%s: out of memory", k->op);
    bf_err_set(err, BF_E_AWS, "%s: the answer is not strict JSON: %s (%zu "
               "bytes, HTTP %ld)", k->op, why, b->len, k->resp.status);
    if (err != NULL) {
        err->http_status = (int)k->resp.status;
        snprintf(err->aws_code, sizeof(err->aws_code), "MalformedResponse");
        err->retryable = 0;
    }
    return BF_E_AWS;
}

enum bf_rc awsjson_call(struct awsjson_client *c, const char *op,
                        const char *body, const struct awsjson_call_opts *opts,
                        cJSON **resp, struct bf_err *err)
{
    struct json_call k;
    struct retry_loop loop;
    enum bf_rc rc;

    *resp = NULL;
    memset(&k, 0, sizeof(k));
    k.c = c;
    k.op = op;
    k.body = body != NULL ? body : "{}";
    k.body_len = strlen(k.body);
    k.timeout_ms = (opts != NULL && opts->timeout_ms > 0)
                       ? opts->timeout_ms : AWSJSON_DEFAULT_TIMEOUT_MS;
    k.max_response = (opts != NULL && opts->max_response > 0)
                         ? opts->max_response : AWSJSON_DEFAULT_MAX_RESPONSE;
    http_response_init(&k.resp);
    awscall_retry_loop(&c->conn, opts != NULL ? opts->max_attempts : 0,
                       &loop);
    if (err != NULL)
        snprintf(err->endpoint, sizeof(err->endpoint), "%s:%s",
                 c->conn.svc->signing_name, op);
    rc = retry_run(&loop, json_attempt, &k, err);
    if (rc == BF_OK)
        rc = parse_answer(&k, resp, err);
    /* The answer can hold secrets (GetSecretValue): wipe it. */
    buf_cleanup_secure(&k.resp.body);
    http_response_cleanup(&k.resp);
    return rc;
}
