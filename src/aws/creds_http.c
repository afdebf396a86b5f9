/* creds_http.c -- small, bounded libcurl calls for the metadata providers.
 *
 * Owns creds_http_call() and the shared JSON credentials parser used by
 * creds_ecs.c and creds_imds.c (see creds_http.h). Short timeouts: a
 * metadata endpoint is local or absent, never slow for a good reason.
 */
#include "aws/private/creds_http.h"

#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "util/timeutil.h"
#include "util/jsonstrict.h"

#define CONNECT_TIMEOUT_MS 1000L

struct sink {
    struct buf *out;
    int over;
};

/* The list held the ECS authorization token or the IMDS session token:
 * wipe it before curl frees it. */
static void headers_free(struct curl_slist *list)
{
    struct curl_slist *p = NULL;

    for (p = list; p != NULL; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(list);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;

    if (buf_append(s->out, p, size * n) != BF_OK) {
        s->over = 1;
        return 0;
    }
    return size * n;
}

static void set_options(CURL *h, const char *method, const char *url,
                        struct curl_slist *hl, long timeout_ms,
                        struct sink *sink)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* metadata is never proxied */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
}

enum bf_rc creds_http_call(const char *method, const char *url,
                           const char *const *headers, long timeout_ms,
                           struct buf *out, long *status, struct bf_err *err)
{
    struct curl_slist *hl = NULL, *tmp;
    struct sink sink = { out, 0 };
    CURL *h = NULL;
    CURLcode cc;
    enum bf_rc rc;

    *status = 0;
    out->limit = CREDS_HTTP_MAX_BODY;
    /* The answer holds a secret key: allocate for the largest one up front
     * (64 KiB, once per refresh) so that growing never leaves a copy of it
     * in freed memory, out of reach of the caller's secure cleanup. */
    rc = out->len < out->limit ? buf_reserve(out, out->limit - out->len)
                               : BF_OK;
    if (rc == BF_OK)
        rc = buf_append(out, "", 0); /* NUL-terminated even when empty */
    h = rc == BF_OK ? curl_easy_init() : NULL;
    if (h == NULL)
        return bf_err_set(err, BF_E_NOMEM, "%s: out of memory", url);
    for (; headers != NULL && *headers != NULL; headers++) {
        tmp = curl_slist_append(hl, *headers);
        if (tmp == NULL) {
            rc = bf_err_set(err, BF_E_NOMEM, "%s: out of memory", url);
            goto out;
        }
        hl = tmp;
    }
    set_options(h, method, url, hl, timeout_ms, &sink);
    cc = curl_easy_perform(h);
    if (sink.over)
        rc = bf_err_set(err, BF_E_LIMIT, "%s: answer larger than %d bytes",
                        url, CREDS_HTTP_MAX_BODY);
    else if (cc != CURLE_OK)
        rc = bf_err_set(err, BF_E_TRANSPORT, "%s %s: %s", method, url,
                        curl_easy_strerror(cc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
out:
    headers_free(hl);
    curl_easy_cleanup(h);
    return rc;
}

static enum bf_rc copy_field(const cJSON *doc, const char *name, char *dst,
                             size_t n, int required, const char *what,
                             struct bf_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);

    if (!cJSON_IsString(v) || v->valuestring == NULL ||
        (required && v->valuestring[0] == '\0')) { /* "" is no key */
        if (!required)
            return BF_OK;
        return bf_err_set(err, BF_E_HTTP, "%s: answer has no %s", what, name);
    }
    if (strlen(v->valuestring) >= n)
        return bf_err_set(err, BF_E_HTTP, "%s: %s too long", what, name);
    strcpy(dst, v->valuestring);
    return BF_OK;
}

/* The document held the secret: wipe cJSON's copies before freeing. */
static void wipe_json(cJSON *doc)
{
    cJSON *it = NULL;

    cJSON_ArrayForEach(it, doc) {
        if (cJSON_IsString(it) && it->valuestring != NULL)
            OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
    }
}

enum bf_rc creds_parse_json(const char *json, const char *what,
                            struct creds *out, struct bf_err *err)
{
    cJSON *doc = NULL;
    const cJSON *exp;
    enum bf_rc rc;

    rc = json_strict_parse(json, json != NULL ? strlen(json) : 0, what,
                           BF_E_HTTP, JSON_STRICT_NO_NAMES, &doc, err);
    if (rc != BF_OK)
        return rc;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return bf_err_set(err, BF_E_HTTP, "%s: answer is not a JSON object",
                          what);
    }
    rc = copy_field(doc, "AccessKeyId", out->access_key_id,
                    sizeof(out->access_key_id), 1, what, err);
    if (rc == BF_OK)
        rc = copy_field(doc, "SecretAccessKey", out->secret_access_key,
                        sizeof(out->secret_access_key), 1, what, err);
    if (rc == BF_OK)
        rc = copy_field(doc, "Token", out->session_token,
                        sizeof(out->session_token), 0, what, err);
    exp = cJSON_GetObjectItemCaseSensitive(doc, "Expiration");
    out->expiration_ms = 0;
    if (rc == BF_OK && cJSON_IsString(exp)) {
        struct bf_err e;

        bf_err_init(&e);
        if (time_parse_iso8601(exp->valuestring, &out->expiration_ms, &e) !=
            BF_OK)
            rc = bf_err_set(err, BF_E_HTTP, "%s: bad Expiration: %s", what,
                            e.message);
    }
    wipe_json(doc);
    cJSON_Delete(doc);
    return rc;
}
