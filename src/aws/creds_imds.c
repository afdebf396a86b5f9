/* creds_imds.c -- EC2 instance-profile credentials over IMDSv2.
 *
 * PUT /latest/api/token for a session token, then GET the role name and
 * the role's credentials with that token. AWS_EC2_METADATA_DISABLED=true
 * turns the provider off; AWS_EC2_METADATA_SERVICE_ENDPOINT replaces
 * http://169.254.169.254 (tests point it at a local fake). An endpoint that
 * does not answer the token request at all means "not on EC2", and no IAM
 * role attached means no credentials here: both BF_E_DECLINED, so the chain
 * reports them among the places it looked. Any other failure (an HTTP
 * error, a bad answer) stops the chain.
 */
#include "aws/creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "aws/private/creds_http.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TIMEOUT_MS 2000L
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"

static enum bf_rc imds_base(char *base, size_t n, struct bf_err *err)
{
    const char *off = getenv("AWS_EC2_METADATA_DISABLED");
    const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    size_t len;

    if (off != NULL && strcasecmp(off, "true") == 0)
        return bf_err_set(err, BF_E_DECLINED,
                          "disabled by AWS_EC2_METADATA_DISABLED");
    if (ep == NULL || ep[0] == '\0')
        ep = IMDS_DEFAULT;
    len = strlen(ep);
    if (len >= n)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_EC2_METADATA_SERVICE_ENDPOINT too long");
    strcpy(base, ep);
    while (len > 0 && base[len - 1] == '/')
        base[--len] = '\0';
    return BF_OK;
}

/* One call; a non-200 answer is BF_E_HTTP naming the step. */
static enum bf_rc imds_call(const char *method, const char *url,
                            const char *hdr, const char *step,
                            struct buf *body, struct bf_err *err)
{
    const char *headers[2] = { hdr, NULL };
    long status = 0;
    enum bf_rc rc;

    buf_reset(body);
    rc = creds_http_call(method, url, headers, IMDS_TIMEOUT_MS, body, &status,
                         err);
    if (rc != BF_OK)
        return rc;
    if (status != 200) {
        rc = bf_err_set(err, BF_E_HTTP, "instance metadata %s: HTTP %ld",
                        step, status);
        if (err != NULL)
            err->http_status = (int)status;
    }
    return rc;
}

static enum bf_rc imds_get(struct creds_provider *p, struct creds *out,
                           struct bf_err *err)
{
    char base[512], url[1024], hdr[1024], role[256];
    struct buf body;
    enum bf_rc rc;

    (void)p;
    buf_init_secret(&body, CREDS_HTTP_MAX_BODY);
    hdr[0] = '\0';
    rc = imds_base(base, sizeof(base), err);
    if (rc != BF_OK)
        goto out;
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    rc = imds_call("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600",
                   "token", &body, err);
    if (rc == BF_E_TRANSPORT) {
        /* Nobody there: not on EC2. */
        rc = bf_err_set(err, BF_E_DECLINED, "no instance metadata at %s", base);
        goto out;
    }
    if (rc != BF_OK)
        goto out;
    if (body.len == 0 || body.len >= sizeof(hdr) - 40) {
        rc = bf_err_set(err, BF_E_HTTP, "instance metadata: bad token");
        goto out;
    }
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", body.data);
    snprintf(url, sizeof(url), "%s%s", base, CREDS_PATH);
    rc = imds_call("GET", url, hdr, "role", &body, err);
    if (rc == BF_E_HTTP && err != NULL && err->http_status == 404) {
        rc = bf_err_set(err, BF_E_DECLINED,
                        "instance metadata: no IAM role attached");
        goto out;
    }
    if (rc != BF_OK)
        goto out;
    /* The first line is the role name. */
    body.data[strcspn(body.data, "\r\n")] = '\0';
    if (body.data[0] == '\0' || strlen(body.data) >= sizeof(role) ||
        strchr(body.data, '/') != NULL) {
        rc = bf_err_set(err, BF_E_HTTP, "instance metadata: bad role name");
        goto out;
    }
    strcpy(role, body.data);
    snprintf(url, sizeof(url), "%s%s%s", base, CREDS_PATH, role);
    rc = imds_call("GET", url, hdr, "credentials", &body, err);
    if (rc == BF_OK)
        rc = creds_parse_json(body.data, "instance metadata", out, err);
out:
    OPENSSL_cleanse(hdr, sizeof(hdr));
    buf_cleanup_secure(&body);
    return rc;
}

static const struct creds_provider_vtable imds_vtable = {
    imds_get, creds_provider_free_stateless
};

struct creds_provider *creds_provider_new_imds(const struct creds_seams *seams)
{
    /* Each get() fetches afresh (creds_cached keeps the clock), so the
     * seams are not needed here. */
    (void)seams;
    return creds_provider_new_stateless(&imds_vtable, "instance-metadata");
}
