/* oracle_sign.c -- the C side of the SigV4 oracle test (tests/sigv4/oracle.js).
 *
 * Reads one JSON request spec per line on stdin, signs it with sigv4_sign()
 * and writes one JSON line per request: the signature, the canonical
 * request and the string to sign (for a readable diff on a mismatch). One
 * signing-key cache serves the whole corpus, so the cache is exercised
 * across changing secrets, dates, regions and services.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/sigv4.h"

#define MAX_HEADERS 64
#define LINE_MAX_BYTES (4 * 1024 * 1024)

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode the hex body; returns a malloc'd buffer (length in *n) or NULL. */
static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h) / 2, i;
    unsigned char *b = malloc(len + 1);

    if (b == NULL)
        return NULL;
    for (i = 0; i < len; i++)
        b[i] = (unsigned char)(hexval(h[2 * i]) * 16 + hexval(h[2 * i + 1]));
    *n = len;
    return b;
}

static void emit(const struct sigv4_result *r, const char *error)
{
    cJSON *o = cJSON_CreateObject();
    char *s;

    if (error != NULL) {
        cJSON_AddStringToObject(o, "error", error);
    } else {
        cJSON_AddStringToObject(o, "signature", r->signature);
        cJSON_AddStringToObject(o, "canonicalRequest", r->canonical_request.data);
        cJSON_AddStringToObject(o, "stringToSign", r->string_to_sign.data);
    }
    s = cJSON_PrintUnformatted(o);
    puts(s != NULL ? s : "{\"error\":\"out of memory\"}");
    free(s);
    cJSON_Delete(o);
}

static void sign_one(cJSON *spec, struct sigv4_key_cache *cache)
{
    struct sigv4_header hs[MAX_HEADERS];
    struct sigv4_config cfg;
    struct sigv4_request req;
    struct sigv4_result r;
    struct creds c;
    struct bf_err e;
    const cJSON *h = NULL;
    unsigned char *body = NULL;
    size_t n = 0, blen = 0;

    memset(&c, 0, sizeof(c));
    snprintf(c.access_key_id, sizeof(c.access_key_id), "%s", str(spec, "akid"));
    snprintf(c.secret_access_key, sizeof(c.secret_access_key), "%s",
             str(spec, "secret"));
    snprintf(c.session_token, sizeof(c.session_token), "%s", str(spec, "token"));
    memset(&cfg, 0, sizeof(cfg));
    cfg.creds = &c;
    cfg.region = str(spec, "region");
    cfg.service = str(spec, "service");
    cfg.time_s = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(spec, "time"));
    cfg.s3_rules = cJSON_IsTrue(cJSON_GetObjectItem(spec, "s3"));
    cfg.unsigned_payload = cJSON_IsTrue(cJSON_GetObjectItem(spec, "unsigned"));
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(spec, "headers")) {
        if (n < MAX_HEADERS) {
            hs[n].name = cJSON_GetArrayItem(h, 0)->valuestring;
            hs[n].value = cJSON_GetArrayItem(h, 1)->valuestring;
            n++;
        }
    }
    body = unhex(str(spec, "body_hex"), &blen);
    memset(&req, 0, sizeof(req));
    req.method = str(spec, "method");
    req.path = str(spec, "path");
    req.query = str(spec, "query");
    req.headers = hs;
    req.nheaders = n;
    req.body = body;
    req.body_len = blen;
    sigv4_result_init(&r);
    bf_err_init(&e);
    if (sigv4_sign(&cfg, &req, cache, &r, &e) == BF_OK)
        emit(&r, NULL);
    else
        emit(&r, e.message);
    sigv4_result_cleanup(&r);
    creds_wipe(&c);
    free(body);
}

int main(void)
{
    struct sigv4_key_cache cache;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    sigv4_key_cache_init(&cache);
    for (;;) {
        cJSON *spec = NULL;

        len = getline(&line, &cap, stdin);
        if (len <= 0 || len > LINE_MAX_BYTES)
            break;
        spec = cJSON_Parse(line);
        if (spec == NULL) {
            emit(NULL, "bad JSON line");
            continue;
        }
        sign_one(spec, &cache);
        cJSON_Delete(spec);
    }
    free(line);
    sigv4_key_cache_cleanup(&cache);
    return 0;
}
