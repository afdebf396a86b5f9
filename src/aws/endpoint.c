/* endpoint.c -- region and endpoint resolution, the AWS SDK way.
 *
 * Owns the order in which the region and the service endpoint are looked up
 * (environment, then the shared config file through creds_profile_region())
 * and the strict parsing of override URLs, so that a typo in
 * AWS_ENDPOINT_URL_* is a one-line BF_E_CONFIG at start-up rather than a
 * request to a surprising host. Does no I/O other than getenv().
 */
#include "aws/endpoint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"

const struct endpoint_service endpoint_svc_sfn = { "SFN", "states", "states" };
const struct endpoint_service endpoint_svc_s3 = { "S3", "s3", "s3" };
const struct endpoint_service endpoint_svc_dynamodb = {
    "DYNAMODB", "dynamodb", "dynamodb" };
const struct endpoint_service endpoint_svc_secretsmanager = {
    "SECRETS_MANAGER", "secretsmanager", "secretsmanager" };
const struct endpoint_service endpoint_svc_lambda = {
    "LAMBDA", "lambda", "lambda" };

/* An unset and an empty variable mean the same, as in the SDKs. */
static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);

    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Region names go into host names, so only [a-z0-9-] is accepted. */
int endpoint_region_valid(const char *r)
{
    size_t n = strlen(r);
    size_t i;

    if (n == 0 || n > 63 || r[0] == '-' || r[n - 1] == '-')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)r[i];
        if (!(islower(ch) || isdigit(ch) || ch == '-'))
            return 0;
    }
    return 1;
}

static enum bf_rc region_take(const char *value, const char *source,
                              char out[64], struct bf_err *err)
{
    if (!endpoint_region_valid(value))
        return bf_err_set(err, BF_E_CONFIG,
                          "bad AWS region \"%.64s\" from %s: expected "
                          "lower-case letters, digits and '-'", value, source);
    snprintf(out, 64, "%s", value);
    return BF_OK;
}

enum bf_rc endpoint_region(char out[64], struct bf_err *err)
{
    const char *v = NULL;
    char prof[64] = "";
    enum bf_rc rc;

    out[0] = '\0';
    v = env_nonempty("AWS_REGION");
    if (v != NULL)
        return region_take(v, "AWS_REGION", out, err);
    v = env_nonempty("AWS_DEFAULT_REGION");
    if (v != NULL)
        return region_take(v, "AWS_DEFAULT_REGION", out, err);
    rc = creds_profile_region(NULL, prof, err);
    if (rc != BF_OK)
        return rc;
    if (prof[0] != '\0')
        return region_take(prof, "the AWS config file", out, err);
    return bf_err_set(err, BF_E_CONFIG,
                      "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, "
                      "or region in the AWS_PROFILE's config)");
}

static int is_loopback_host(const char *h)
{
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
        return 1;
    /* 127.0.0.0/8, written as a dotted quad. */
    if (strncmp(h, "127.", 4) == 0) {
        const char *p = h;
        int dots = 0;
        for (; *p != '\0'; p++) {
            if (*p == '.')
                dots++;
            else if (!isdigit((unsigned char)*p))
                return 0;
        }
        return dots == 3;
    }
    return 0;
}

static int host_char_ok(unsigned char ch)
{
    return isalnum(ch) || ch == '-' || ch == '.' || ch == '_';
}

/* Split "host[:port]" (host may be "[v6]") into out->host and out->port. */
static enum bf_rc parse_authority(const char *url, const char *a, size_t n,
                                  struct endpoint *out, struct bf_err *err)
{
    size_t hlen = 0;
    const char *port = NULL;
    size_t plen = 0;
    size_t i;
    long pnum = 0;

    if (n == 0)
        return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                          "no host", url);
    if (memchr(a, '@', n) != NULL)
        return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                          "user info is not allowed", url);
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL || close - a < 3)
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "unterminated IPv6 address", url);
        hlen = (size_t)(close - a) - 1;
        if (hlen >= sizeof(out->host))
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "IPv6 address too long", url);
        for (i = 1; i <= hlen; i++) {
            if (!isxdigit((unsigned char)a[i]) && a[i] != ':' && a[i] != '.')
                return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL "
                                  "\"%.200s\": bad IPv6 address", url);
        }
        memcpy(out->host, a + 1, hlen);
        out->host[hlen] = '\0';
        i = (size_t)(close - a) + 1;
        if (i < n && a[i] != ':')
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "junk after the IPv6 address", url);
    } else {
        for (i = 0; i < n && a[i] != ':'; i++) {
            if (!host_char_ok((unsigned char)a[i]))
                return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL "
                                  "\"%.200s\": bad character in the host", url);
        }
        hlen = i;
        if (hlen == 0 || hlen >= sizeof(out->host) - 1)
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "empty or overlong host", url);
        if (a[0] == '.' || a[0] == '-' || a[hlen - 1] == '-' ||
            memmem(a, hlen, "..", 2) != NULL)
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "malformed host name", url);
        memcpy(out->host, a, hlen);
        out->host[hlen] = '\0';
    }
    if (i < n) {
        port = a + i + 1;
        plen = n - i - 1;
        if (plen == 0 || plen > 5)
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "bad port", url);
        for (i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port[i]))
                return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL "
                                  "\"%.200s\": bad port", url);
            pnum = pnum * 10 + (port[i] - '0');
        }
        if (pnum < 1 || pnum > 65535)
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "port out of range", url);
        out->port = (int)pnum;
    }
    return BF_OK;
}

/* The path part: printable, no query or fragment; trailing '/' dropped. */
static enum bf_rc parse_base_path(const char *url, const char *p,
                                  struct endpoint *out, struct bf_err *err)
{
    size_t n = strlen(p);
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#' || ch == '\\')
            return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                              "query, fragment or bad character in the path",
                              url);
    }
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n >= sizeof(out->base_path))
        return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                          "path too long", url);
    memcpy(out->base_path, p, n);
    out->base_path[n] = '\0';
    return BF_OK;
}

/* Port default, Host header, canonical URL. The input was length-checked,
 * so the fields always fit; a failed fit is still reported, not cut. */
static enum bf_rc fill_derived(const char *url, struct endpoint *out,
                               struct bf_err *err)
{
    int default_port = strcmp(out->scheme, "https") == 0 ? 443 : 80;
    const char *ob = strchr(out->host, ':') != NULL ? "[" : "";
    const char *cb = ob[0] != '\0' ? "]" : "";
    int n;

    if (out->port == 0)
        out->port = default_port;
    if (out->port == default_port)
        n = snprintf(out->host_header, sizeof(out->host_header), "%s%s%s",
                     ob, out->host, cb);
    else
        n = snprintf(out->host_header, sizeof(out->host_header), "%s%s%s:%d",
                     ob, out->host, cb, out->port);
    if (n < 0 || (size_t)n >= sizeof(out->host_header))
        return bf_err_set(err, BF_E_CONFIG, "endpoint URL \"%.200s\": host "
                          "too long", url);
    n = snprintf(out->url, sizeof(out->url), "%s://%s%s", out->scheme,
                 out->host_header, out->base_path);
    if (n < 0 || (size_t)n >= sizeof(out->url))
        return bf_err_set(err, BF_E_CONFIG, "endpoint URL \"%.200s\": too "
                          "long", url);
    out->is_loopback = is_loopback_host(out->host);
    return BF_OK;
}

enum bf_rc endpoint_parse_url(const char *url, int allow_insecure_http,
                              struct endpoint *out, struct bf_err *err)
{
    const char *rest = NULL;
    const char *slash = NULL;
    enum bf_rc rc;

    memset(out, 0, sizeof(*out));
    if (url == NULL || url[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "empty endpoint URL");
    if (strlen(url) >= 400)
        return bf_err_set(err, BF_E_CONFIG, "endpoint URL too long "
                          "(%zu bytes)", strlen(url));
    if (strncasecmp(url, "https://", 8) == 0) {
        strcpy(out->scheme, "https");
        rest = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        strcpy(out->scheme, "http");
        rest = url + 7;
    } else {
        return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                          "must start with https:// or http://", url);
    }
    slash = strchr(rest, '/');
    if (slash == NULL)
        slash = rest + strlen(rest);
    if (memchr(rest, '?', (size_t)(slash - rest)) != NULL ||
        memchr(rest, '#', (size_t)(slash - rest)) != NULL)
        return bf_err_set(err, BF_E_CONFIG, "bad endpoint URL \"%.200s\": "
                          "query or fragment not allowed", url);
    rc = parse_authority(url, rest, (size_t)(slash - rest), out, err);
    if (rc != BF_OK)
        return rc;
    rc = parse_base_path(url, slash, out, err);
    if (rc != BF_OK)
        return rc;
    rc = fill_derived(url, out, err);
    if (rc != BF_OK)
        return rc;
    if (strcmp(out->scheme, "http") == 0 && !out->is_loopback &&
        !allow_insecure_http)
        return bf_err_set(err, BF_E_CONFIG, "endpoint URL \"%.200s\": plain "
                          "http is allowed only for loopback hosts (set "
                          "BACKFILL_ALLOW_INSECURE_HTTP=1 to override)", url);
    return BF_OK;
}

enum bf_rc endpoint_resolve(const struct endpoint_service *svc,
                            const char *region, int allow_insecure_http,
                            struct endpoint *out, struct bf_err *err)
{
    char var[96];
    char url[300];
    const char *v = NULL;
    const char *which = var;
    enum bf_rc rc;

    snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", svc->env_id);
    v = env_nonempty(var);
    if (v == NULL) {
        which = "AWS_ENDPOINT_URL";
        v = env_nonempty(which);
    }
    if (v != NULL) {
        rc = endpoint_parse_url(v, allow_insecure_http, out, err);
        if (rc != BF_OK) {
            bf_err_prefix(err, "%s", which);
            return rc;
        }
        out->overridden = 1;
        out->path_style = 1; /* local S3 look-alikes rarely do virtual hosts */
        return BF_OK;
    }
    if (region == NULL || !endpoint_region_valid(region))
        return bf_err_set(err, BF_E_CONFIG, "no valid AWS region to build "
                          "the %s endpoint", svc->host_prefix);
    /* The China partition has its own DNS suffix. */
    snprintf(url, sizeof(url), "https://%s.%s.amazonaws.com%s",
             svc->host_prefix, region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    rc = endpoint_parse_url(url, allow_insecure_http, out, err);
    if (rc != BF_OK)
        return rc;
    out->overridden = 0;
    out->path_style = 0;
    return BF_OK;
}
