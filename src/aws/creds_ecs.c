/* creds_ecs.c -- container credentials (ECS task roles, EKS Pod Identity).
 *
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is a path on 169.254.170.2;
 * AWS_CONTAINER_CREDENTIALS_FULL_URI a whole URL, sent with the
 * Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read at
 * each call: EKS rotates it) or AWS_CONTAINER_AUTHORIZATION_TOKEN. As in
 * the SDKs, a plain-http FULL_URI must point at loopback or at the ECS/EKS
 * agent addresses, so a token is never sent across a network in clear.
 */
#include "aws/creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws/private/creds_http.h"
#include "util/buf.h"
#include "util/fileio.h"

#define ECS_HOST "http://169.254.170.2"
#define ECS_TIMEOUT_MS 2000L
#define TOKEN_MAX 4096

/* Whether `host` (up to ':', '/' or the end) is exactly `name`. */
static int host_is(const char *host, const char *name)
{
    size_t n = strlen(name);

    return strncmp(host, name, n) == 0 &&
           (host[n] == '\0' || host[n] == ':' || host[n] == '/');
}

/* 127.x.y.z written as a numeric address, nothing after it. */
static int is_loopback_v4(const char *host)
{
    size_t n = strspn(host, "0123456789.");

    return strncmp(host, "127.", 4) == 0 &&
           (host[n] == '\0' || host[n] == ':' || host[n] == '/');
}

/* The host of an http:// URL is one the SDKs allow without TLS: loopback
 * or the ECS / EKS Pod Identity agent. */
static int allowed_http_host(const char *url)
{
    static const char *const ok[] = {
        "localhost", "[::1]", "169.254.170.2", "169.254.170.23",
        "[fd00:ec2::23]", NULL
    };
    const char *host = url + strlen("http://");
    size_t i;

    if (is_loopback_v4(host))
        return 1;
    for (i = 0; ok[i] != NULL; i++)
        if (host_is(host, ok[i]))
            return 1;
    return 0;
}

static enum bf_rc ecs_url(char *url, size_t n, struct bf_err *err)
{
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");

    if (rel != NULL && rel[0] != '\0') {
        if ((size_t)snprintf(url, n, "%s%s%s", ECS_HOST,
                             rel[0] == '/' ? "" : "/", rel) >= n)
            return bf_err_set(err, BF_E_CONFIG, "%s too long",
                              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        return BF_OK;
    }
    if (full == NULL || full[0] == '\0')
        return bf_err_set(err, BF_E_DECLINED,
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                          "_FULL_URI not set");
    if (strlen(full) >= n)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI too long");
    if (strncmp(full, "https://", 8) != 0 &&
        !(strncmp(full, "http://", 7) == 0 && allowed_http_host(full)))
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI %s: http is "
                          "allowed only for loopback and the ECS/EKS agent; "
                          "use https", full);
    strcpy(url, full);
    return BF_OK;
}

/* The token file as one header value: trailing line breaks and spaces cut.
 * One longer than `n - 1` is refused, never cut short: a truncated token
 * would only earn a 401 that hides the real cause. */
static enum bf_rc ecs_token_file(const char *file, char *tok, size_t n,
                                 struct bf_err *err)
{
    struct buf b;
    size_t len;
    enum bf_rc rc;

    buf_init_secret(&b, n - 1);
    rc = file_read_all(file, &b, NULL, err);
    if (rc == BF_OK) {
        len = b.len;
        while (len > 0 && (b.data[len - 1] == '\n' || b.data[len - 1] == '\r' ||
                           b.data[len - 1] == ' '))
            len--;
        memcpy(tok, b.data, len);
        tok[len] = '\0';
    }
    buf_cleanup_secure(&b);
    if (rc == BF_E_IO || rc == BF_E_LIMIT) {
        bf_err_prefix(err, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        return bf_err_reclassify(err, BF_E_CONFIG);
    }
    return rc;
}

/* Read the authorization token, file first. `tok` is empty when none. */
static enum bf_rc ecs_token(char *tok, size_t n, struct bf_err *err)
{
    const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *env = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");

    tok[0] = '\0';
    if (file != NULL && file[0] != '\0')
        return ecs_token_file(file, tok, n, err);
    if (env == NULL)
        return BF_OK;
    if (strlen(env) >= n)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN too long");
    strcpy(tok, env);
    return BF_OK;
}

static enum bf_rc ecs_get(struct creds_provider *p, struct creds *out,
                          struct bf_err *err)
{
    char url[2048], tok[TOKEN_MAX], hdr[TOKEN_MAX + 32];
    const char *headers[3] = { "Accept: application/json", NULL, NULL };
    struct buf body;
    long status = 0;
    enum bf_rc rc;

    (void)p;
    buf_init_secret(&body, CREDS_HTTP_MAX_BODY);
    hdr[0] = '\0';
    rc = ecs_url(url, sizeof(url), err);
    if (rc == BF_OK)
        rc = ecs_token(tok, sizeof(tok), err);
    if (rc != BF_OK)
        goto out;
    if (tok[0] != '\0') {
        snprintf(hdr, sizeof(hdr), "Authorization: %s", tok);
        headers[1] = hdr;
    }
    rc = creds_http_call("GET", url, headers, ECS_TIMEOUT_MS, &body, &status,
                         err);
    if (rc != BF_OK)
        goto out;
    if (status != 200) {
        rc = bf_err_set(err, BF_E_HTTP,
                        "container credentials endpoint %s answered HTTP %ld",
                        url, status);
        if (err != NULL)
            err->http_status = (int)status;
        goto out;
    }
    rc = creds_parse_json(body.data, "container credentials", out, err);
out:
    OPENSSL_cleanse(tok, sizeof(tok));
    OPENSSL_cleanse(hdr, sizeof(hdr));
    buf_cleanup_secure(&body);
    return rc;
}

static const struct creds_provider_vtable ecs_vtable = {
    ecs_get, creds_provider_free_stateless
};

struct creds_provider *creds_provider_new_ecs(const struct creds_seams *seams)
{
    /* Each get() fetches afresh (creds_cached keeps the clock), so the
     * seams are not needed here. */
    (void)seams;
    return creds_provider_new_stateless(&ecs_vtable, "container");
}
