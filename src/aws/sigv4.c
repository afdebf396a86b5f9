/* sigv4.c -- AWS Signature Version 4 as a pure function (see sigv4.h).
 *
 * Owns the canonicalization rules (URI, query, headers), the string to sign,
 * the signing-key derivation and its small per-caller cache. No I/O and no
 * clock: the time comes in with the config. The rules follow the AWS SigV4
 * documentation and match @smithy/signature-v4 (the AWS SDK for JavaScript
 * signer), which tests/sigv4/ checks on a corpus of generated requests.
 */
#include "aws/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "util/hex.h"
#include "util/timeutil.h"

#define EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* One canonical header: lower-case name, folded value(s). */
struct canon_header {
    char *name;
    struct buf value;
    size_t order; /* position in the request, so equal names keep it */
};

/* One decoded-then-encoded query parameter. */
struct canon_param {
    char *key;
    char *value;
};

/* Headers a proxy may rewrite, and those the signer itself generates: the
 * same list @smithy/signature-v4 keeps out of the signature, so a request
 * that carries a User-Agent still verifies after a proxy touched it. */
static const char *const unsignable_headers[] = {
    "authorization", "cache-control", "connection", "expect", "from",
    "keep-alive", "max-forwards", "pragma", "referer", "te", "trailer",
    "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    "x-amz-date", "date", NULL
};

/* HMAC-SHA256; returns 0 or -1. */
static int hmac256(const void *key, size_t klen, const void *msg, size_t mlen,
                   unsigned char out[32])
{
    unsigned int len = 32;

    if (HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len) == NULL)
        return -1;
    return len == 32 ? 0 : -1;
}

/* SHA-256 through an EVP_MD fetched once (see struct sigv4_key_cache):
 * the one-shot SHA256()/HMAC() fetch the algorithm on every call. One
 * context serves every hash of one signing. */
struct hasher {
    const EVP_MD *md;
    EVP_MD_CTX *ctx;
};

static int hasher_open(struct hasher *h, const struct sigv4_key_cache *cache)
{
    h->md = cache != NULL && cache->sha256 != NULL ? cache->sha256
                                                   : EVP_sha256();
    h->ctx = EVP_MD_CTX_new();
    return h->ctx != NULL ? 0 : -1;
}

static void hasher_close(struct hasher *h)
{
    EVP_MD_CTX_free(h->ctx); /* the provider wipes its state */
    h->ctx = NULL;
}

/* SHA-256 of a then b (b may be empty). Returns 0 or -1. */
static int sha256_2(struct hasher *h, const void *a, size_t alen,
                    const void *b, size_t blen, unsigned char out[32])
{
    unsigned int len = 0;

    if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 ||
        EVP_DigestUpdate(h->ctx, a, alen) != 1 ||
        (blen > 0 && EVP_DigestUpdate(h->ctx, b, blen) != 1) ||
        EVP_DigestFinal_ex(h->ctx, out, &len) != 1)
        return -1;
    return len == 32 ? 0 : -1;
}

static int sha256_hex(struct hasher *h, const void *p, size_t n,
                      char out[65])
{
    unsigned char md[32];

    if (sha256_2(h, p != NULL ? p : "", n, NULL, 0, md) != 0)
        return -1;
    hex_encode(md, sizeof(md), out);
    return 0;
}

/* HMAC-SHA256 (RFC 2104) with a 32-byte key, the signing step. */
static int hmac_key32(struct hasher *h, const unsigned char key[32],
                      const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned char pad[64], inner[32];
    int rc, i;

    memset(pad, 0x36, sizeof(pad));
    for (i = 0; i < 32; i++)
        pad[i] ^= key[i];
    rc = sha256_2(h, pad, sizeof(pad), msg, mlen, inner);
    memset(pad, 0x5c, sizeof(pad));
    for (i = 0; i < 32; i++)
        pad[i] ^= key[i];
    if (rc == 0)
        rc = sha256_2(h, pad, sizeof(pad), inner, sizeof(inner), out);
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));
    return rc;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

enum bf_rc sigv4_uri_encode(const char *s, size_t n, int keep_slash,
                            struct buf *out)
{
    static const char digits[] = "0123456789ABCDEF";
    enum bf_rc rc = buf_reserve(out, n * 3);
    size_t i;

    if (rc != BF_OK)
        return rc;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[3];

        if (is_unreserved(c) || (keep_slash && c == '/')) {
            out->data[out->len++] = (char)c;
            continue;
        }
        esc[0] = '%';
        esc[1] = digits[c >> 4];
        esc[2] = digits[c & 0x0f];
        memcpy(out->data + out->len, esc, 3);
        out->len += 3;
    }
    out->data[out->len] = '\0';
    return BF_OK;
}

/* Non-S3 paths: drop empty and "." segments, let ".." remove the one
 * before it, keep a leading and a trailing slash (the @smithy rule). The
 * result goes to `norm`. */
static enum bf_rc normalize_path(const char *path, struct buf *norm)
{
    size_t len = strlen(path), nseg = 0, i = 0;
    size_t *starts = NULL, *lens = NULL;
    enum bf_rc rc = BF_E_NOMEM;

    starts = calloc(len + 1, sizeof(*starts));
    lens = calloc(len + 1, sizeof(*lens));
    if (starts == NULL || lens == NULL)
        goto out;
    while (i <= len) {
        size_t j = i;

        while (j < len && path[j] != '/')
            j++;
        if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
            nseg -= nseg > 0;
        } else if (j - i > 1 || (j - i == 1 && path[i] != '.')) {
            starts[nseg] = i;
            lens[nseg] = j - i;
            nseg++;
        } /* else an empty or "." segment: dropped */
        i = j + 1;
    }
    rc = BF_OK;
    if (path[0] == '/')
        rc = buf_append(norm, "/", 1);
    for (i = 0; i < nseg && rc == BF_OK; i++) {
        if (i > 0)
            rc = buf_append(norm, "/", 1);
        if (rc == BF_OK)
            rc = buf_append(norm, path + starts[i], lens[i]);
    }
    if (rc == BF_OK && nseg > 0 && len > 0 && path[len - 1] == '/')
        rc = buf_append(norm, "/", 1);
out:
    free(starts);
    free(lens);
    return rc;
}

enum bf_rc sigv4_canonical_uri(const char *path, int s3_rules, struct buf *out)
{
    struct buf norm;
    enum bf_rc rc;

    if (path == NULL || path[0] == '\0')
        return buf_append(out, "/", 1);
    /* S3 signs the path exactly as it is sent: encoded once, and never
     * normalised ("a/../b" and "a//b" are distinct object keys). */
    if (s3_rules)
        return buf_append_str(out, path);
    buf_init(&norm, 0);
    rc = normalize_path(path, &norm);
    /* Every other service encodes the already-encoded path again. */
    if (rc == BF_OK)
        rc = sigv4_uri_encode(norm.data != NULL ? norm.data : "", norm.len, 1,
                              out);
    buf_cleanup(&norm);
    return rc;
}


/* Percent-decode s[0..n) ('+' stays literal, as AWS reads it; a '%' not
 * followed by two hex digits stays literal too), then encode the bytes
 * with the unreserved-only rule. Returns a malloc'd string or NULL. */
static char *recode(const char *s, size_t n)
{
    struct buf dec, enc;
    char *res = NULL;
    size_t i;

    buf_init(&dec, 0);
    buf_init(&enc, 0);
    if (buf_reserve(&dec, n) != BF_OK)
        goto out;
    for (i = 0; i < n; i++) {
        if (s[i] == '%' && n - i >= 3) {
            int hi = hex_digit_value((unsigned char)s[i + 1]);
            int lo = hex_digit_value((unsigned char)s[i + 2]);

            if (hi >= 0 && lo >= 0) {
                dec.data[dec.len++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        dec.data[dec.len++] = s[i];
    }
    dec.data[dec.len] = '\0';
    if (sigv4_uri_encode(dec.data, dec.len, 0, &enc) != BF_OK)
        goto out;
    res = buf_detach(&enc);
out:
    buf_cleanup(&dec);
    buf_cleanup(&enc);
    return res;
}

static int param_cmp(const void *a, const void *b)
{
    const struct canon_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c != 0 ? c : strcmp(x->value, y->value);
}

static size_t count_params(const char *q)
{
    size_t n = 1;

    for (; *q != '\0'; q++)
        n += *q == '&';
    return n;
}

/* One "key=value" (or bare "key") of `plen` bytes, decoded and encoded
 * into `pp`. Leaves pp->key NULL for a parameter that is never signed
 * (a presigned URL's own X-Amz-Signature). BF_E_NOMEM. */
static enum bf_rc parse_param(const char *p, size_t plen,
                              struct canon_param *pp)
{
    const char *eq = memchr(p, '=', plen);
    size_t klen = eq != NULL ? (size_t)(eq - p) : plen;

    pp->key = recode(p, klen);
    pp->value = eq != NULL ? recode(eq + 1, plen - klen - 1) : strdup("");
    if (pp->key == NULL || pp->value == NULL)
        return BF_E_NOMEM;
    if (strcasecmp(pp->key, "X-Amz-Signature") == 0) {
        free(pp->key);
        free(pp->value);
        pp->key = pp->value = NULL;
    }
    return BF_OK;
}

enum bf_rc sigv4_canonical_query(const char *query, struct buf *out)
{
    struct canon_param *ps = NULL;
    size_t n = 0, i, cap;
    const char *p;
    enum bf_rc rc = BF_E_NOMEM;

    if (query == NULL || query[0] == '\0')
        return BF_OK;
    cap = count_params(query);
    ps = calloc(cap, sizeof(*ps));
    if (ps == NULL)
        goto out;
    for (p = query;;) {
        size_t plen = strcspn(p, "&");

        if (plen > 0) {
            rc = parse_param(p, plen, &ps[n]);
            if (rc != BF_OK) {
                n++; /* free what half-parsed */
                goto out;
            }
            n += ps[n].key != NULL;
        }
        p += plen;
        if (*p == '\0')
            break;
        p++;
    }
    qsort(ps, n, sizeof(*ps), param_cmp);
    rc = BF_OK;
    for (i = 0; i < n && rc == BF_OK; i++)
        rc = buf_printf(out, "%s%s=%s", i > 0 ? "&" : "", ps[i].key,
                        ps[i].value);
out:
    for (i = 0; ps != NULL && i < n; i++) {
        free(ps[i].key);
        free(ps[i].value);
    }
    free(ps);
    return rc;
}

static int is_fold_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Append `v` trimmed, with every run of spaces, tabs and line breaks
 * folded into one space. Copies whole runs of other characters: the value
 * can be a 1 KB session token. */
static enum bf_rc append_folded(struct buf *b, const char *v)
{
    enum bf_rc rc = buf_append(b, "", 0); /* allocated, NUL-terminated */
    int started = 0;

    if (rc == BF_OK)
        rc = buf_reserve(b, strlen(v));
    while (rc == BF_OK && *v != '\0') {
        size_t run = 0, gap = 0;

        while (is_fold_space(v[gap]))
            gap++;
        while (v[gap + run] != '\0' && !is_fold_space(v[gap + run]))
            run++;
        if (run == 0)
            break; /* trailing spaces */
        if (started && gap > 0)
            rc = buf_append(b, " ", 1);
        if (rc == BF_OK)
            rc = buf_append(b, v + gap, run);
        started = 1;
        v += gap + run;
    }
    return rc;
}

/* a, b and c, one after the other: printf costs more than the signing
 * itself on this path. */
static enum bf_rc append3(struct buf *out, const char *a, const char *b,
                          const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    enum bf_rc rc = buf_reserve(out, la + lb + lc);

    if (rc != BF_OK)
        return rc;
    memcpy(out->data + out->len, a, la);
    memcpy(out->data + out->len + la, b, lb);
    memcpy(out->data + out->len + la + lb, c, lc);
    out->len += la + lb + lc;
    out->data[out->len] = '\0';
    return BF_OK;
}

static int header_cmp(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int unsignable(const char *lname, const struct sigv4_config *cfg)
{
    size_t i;

    for (i = 0; unsignable_headers[i] != NULL; i++)
        if (strcmp(lname, unsignable_headers[i]) == 0)
            return 1;
    if (strncmp(lname, "proxy-", 6) == 0 || strncmp(lname, "sec-", 4) == 0)
        return 1;
    /* These two the signer adds itself, with the values it signs. */
    if (strcmp(lname, "x-amz-security-token") == 0)
        return 1;
    if (cfg->s3_rules && strcmp(lname, "x-amz-content-sha256") == 0)
        return 1;
    return 0;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    char *p;

    for (p = d; p != NULL && *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

static enum bf_rc add_header(struct canon_header *hs, size_t *n,
                             const char *lname, const char *value)
{
    struct canon_header *h = &hs[*n];

    h->name = strdup(lname);
    buf_init_secret(&h->value, 0);
    h->order = *n;
    (*n)++;
    if (h->name == NULL)
        return BF_E_NOMEM;
    return append_folded(&h->value, value);
}

/* Collect, sort and write the canonical header block and the signed header
 * list. Headers with the same name become one line, values joined by ','
 * in the order they were given. */
static enum bf_rc canonical_headers(const struct sigv4_config *cfg,
                                    const struct sigv4_request *req,
                                    const char *amz_date,
                                    const char *payload_hash,
                                    struct buf *block, struct buf *signed_list)
{
    struct canon_header *hs = NULL;
    size_t n = 0, i;
    enum bf_rc rc = BF_E_NOMEM;

    hs = calloc(req->nheaders + 3, sizeof(*hs));
    if (hs == NULL)
        return BF_E_NOMEM;
    rc = BF_OK;
    for (i = 0; i < req->nheaders && rc == BF_OK; i++) {
        char *lname = lower_dup(req->headers[i].name);

        if (lname == NULL) {
            rc = BF_E_NOMEM;
            break;
        }
        if (!unsignable(lname, cfg))
            rc = add_header(hs, &n, lname,
                            req->headers[i].value != NULL ?
                            req->headers[i].value : "");
        free(lname);
    }
    if (rc == BF_OK)
        rc = add_header(hs, &n, "x-amz-date", amz_date);
    if (rc == BF_OK && cfg->creds->session_token[0] != '\0')
        rc = add_header(hs, &n, "x-amz-security-token",
                        cfg->creds->session_token);
    if (rc == BF_OK && cfg->s3_rules)
        rc = add_header(hs, &n, "x-amz-content-sha256", payload_hash);
    if (rc != BF_OK)
        goto out;
    qsort(hs, n, sizeof(*hs), header_cmp);
    for (i = 0; i < n && rc == BF_OK; i++) {
        int same = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;

        if (same) {
            /* Replace the previous line's newline with ",value\n". */
            block->len--;
            rc = append3(block, ",", hs[i].value.data, "\n");
            continue;
        }
        rc = buf_append_str(block, hs[i].name);
        if (rc == BF_OK)
            rc = append3(block, ":", hs[i].value.data, "\n");
        if (rc == BF_OK)
            rc = append3(signed_list, i > 0 ? ";" : "", hs[i].name, "");
    }
out:
    for (i = 0; i < n; i++) {
        free(hs[i].name);
        /* A value may be the session token. */
        buf_cleanup_secure(&hs[i].value);
    }
    free(hs);
    return rc;
}

static int has_header(const struct sigv4_request *req, const char *lname,
                      const char **value)
{
    size_t i;

    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, lname) == 0) {
            *value = req->headers[i].value;
            return 1;
        }
    }
    return 0;
}

/* The payload hash, in order of precedence: the caller's, an
 * x-amz-content-sha256 header the caller set, UNSIGNED-PAYLOAD under S3
 * rules when asked, the SHA-256 of the body. */
static int payload_hash(const struct sigv4_config *cfg,
                        const struct sigv4_request *req, struct hasher *h,
                        char out[65])
{
    const char *v = NULL;

    if (req->payload_hash != NULL && strlen(req->payload_hash) < 65) {
        strcpy(out, req->payload_hash);
        return 0;
    }
    if (has_header(req, "x-amz-content-sha256", &v) && v != NULL &&
        strlen(v) < 65) {
        strcpy(out, v);
        return 0;
    }
    if (cfg->s3_rules && cfg->unsigned_payload) {
        strcpy(out, UNSIGNED_PAYLOAD);
        return 0;
    }
    if (req->body == NULL || req->body_len == 0) {
        strcpy(out, EMPTY_SHA256);
        return 0;
    }
    return sha256_hex(h, req->body, req->body_len, out);
}

void sigv4_key_cache_init(struct sigv4_key_cache *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    /* NULL on failure: signing then takes the slower EVP_sha256() path. */
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sigv4_key_cache_cleanup(struct sigv4_key_cache *c)
{
    if (c == NULL)
        return;
    OPENSSL_cleanse(c->key, sizeof(c->key));
    OPENSSL_cleanse(c->secret_hash, sizeof(c->secret_hash));
    c->valid = 0;
    EVP_MD_free(c->sha256);
    c->sha256 = NULL;
    pthread_mutex_destroy(&c->lock);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request"). Returns 0 or -1. */
static int derive_key(const char *secret, const char *date,
                      const char *region, const char *service,
                      unsigned char key[32])
{
    char k0[4 + sizeof(((struct creds *)0)->secret_access_key)];
    unsigned char k[32];
    int rc = -1;

    snprintf(k0, sizeof(k0), "AWS4%s", secret);
    if (hmac256(k0, strlen(k0), date, strlen(date), k) != 0)
        goto out;
    if (hmac256(k, 32, region, strlen(region), k) != 0)
        goto out;
    if (hmac256(k, 32, service, strlen(service), k) != 0)
        goto out;
    if (hmac256(k, 32, "aws4_request", 12, key) != 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

/* The derived key for `scope`, from the cache when the same secret made it
 * for the same date/region/service. Returns 0 or -1. */
static int signing_key(struct sigv4_key_cache *cache, struct hasher *h,
                       const char *secret, const char *date,
                       const char *region, const char *service,
                       const char *scope, unsigned char key[32])
{
    unsigned char sh[32];
    int rc;

    if (cache == NULL)
        return derive_key(secret, date, region, service, key);
    if (sha256_2(h, secret, strlen(secret), NULL, 0, sh) != 0)
        return -1;
    pthread_mutex_lock(&cache->lock);
    if (cache->valid && strcmp(cache->scope, scope) == 0 &&
        CRYPTO_memcmp(cache->secret_hash, sh, 32) == 0) {
        memcpy(key, cache->key, 32);
        pthread_mutex_unlock(&cache->lock);
        OPENSSL_cleanse(sh, sizeof(sh));
        return 0;
    }
    rc = derive_key(secret, date, region, service, key);
    cache->derivations++;
    if (rc == 0 && strlen(scope) < sizeof(cache->scope)) {
        memcpy(cache->key, key, 32);
        memcpy(cache->secret_hash, sh, 32);
        strcpy(cache->scope, scope);
        cache->valid = 1;
    }
    pthread_mutex_unlock(&cache->lock);
    OPENSSL_cleanse(sh, sizeof(sh));
    return rc;
}

void sigv4_result_init(struct sigv4_result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init_secret(&r->canonical_request, 0);
    buf_init(&r->string_to_sign, 0);
    buf_init(&r->signed_headers, 0);
    buf_init(&r->authorization, 0);
}

void sigv4_result_cleanup(struct sigv4_result *r)
{
    if (r == NULL)
        return;
    /* The canonical request holds the session token. */
    buf_cleanup_secure(&r->canonical_request);
    buf_cleanup(&r->string_to_sign);
    buf_cleanup(&r->signed_headers);
    buf_cleanup(&r->authorization);
}

static enum bf_rc check_config(const struct sigv4_config *cfg,
                               const struct sigv4_request *req,
                               struct bf_err *err)
{
    size_t i;

    if (cfg == NULL || req == NULL)
        return bf_err_set(err, BF_E_CONFIG, "sigv4: no config or request");
    if (cfg->creds == NULL || cfg->creds->access_key_id[0] == '\0' ||
        cfg->creds->secret_access_key[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "sigv4: no credentials");
    if (cfg->region == NULL || cfg->region[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "sigv4: no region");
    if (cfg->service == NULL || cfg->service[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "sigv4: no service name");
    if (req->method == NULL || req->method[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "sigv4: no HTTP method");
    if (req->nheaders > 0 && req->headers == NULL)
        return bf_err_set(err, BF_E_CONFIG, "sigv4: headers missing");
    for (i = 0; i < req->nheaders; i++)
        if (req->headers[i].name == NULL || req->headers[i].name[0] == '\0')
            return bf_err_set(err, BF_E_CONFIG, "sigv4: header %zu has no "
                              "name", i);
    if (req->payload_hash != NULL && strlen(req->payload_hash) > 64)
        return bf_err_set(err, BF_E_CONFIG, "sigv4: payload hash too long");
    return BF_OK;
}

static void put_digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "YYYYMMDDTHHMMSSZ" in UTC, by arithmetic: gmtime_r takes the time-zone
 * lock and strftime is slow, on every request. */
static void format_amz_date(int64_t t, char out[17])
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400;
    int64_t y = 0;
    unsigned m = 0, d = 0;

    time_civil_from_days(days, &y, &m, &d);
    put_digits(out, (unsigned)(y < 0 ? 0 : y % 10000), 4);
    put_digits(out + 4, m, 2);
    put_digits(out + 6, d, 2);
    out[8] = 'T';
    put_digits(out + 9, (unsigned)(sod / 3600), 2);
    put_digits(out + 11, (unsigned)(sod / 60 % 60), 2);
    put_digits(out + 13, (unsigned)(sod % 60), 2);
    out[15] = 'Z';
    out[16] = '\0';
}

static enum bf_rc canonical_request(const struct sigv4_config *cfg,
                                    const struct sigv4_request *req,
                                    struct sigv4_result *out)
{
    struct buf *cr = &out->canonical_request;
    enum bf_rc rc;

    rc = append3(cr, req->method, "\n", "");
    if (rc == BF_OK)
        rc = sigv4_canonical_uri(req->path, cfg->s3_rules, cr);
    if (rc == BF_OK)
        rc = buf_append(cr, "\n", 1);
    if (rc == BF_OK)
        rc = sigv4_canonical_query(req->query, cr);
    if (rc == BF_OK)
        rc = buf_append(cr, "\n", 1);
    if (rc == BF_OK)
        rc = canonical_headers(cfg, req, out->amz_date, out->payload_hash,
                               cr, &out->signed_headers);
    if (rc == BF_OK)
        rc = append3(cr, "\n", out->signed_headers.data, "\n");
    if (rc == BF_OK)
        rc = buf_append_str(cr, out->payload_hash);
    return rc;
}

/* String to sign and signature, once the canonical request is built. */
static enum bf_rc sign_stage(const struct sigv4_config *cfg,
                             struct sigv4_key_cache *cache, struct hasher *h,
                             const char *date, const char *scope,
                             struct sigv4_result *out, struct bf_err *err)
{
    char cr_hash[65];
    unsigned char key[32], sig[32];
    struct buf *sts = &out->string_to_sign;
    enum bf_rc rc;

    if (sha256_hex(h, out->canonical_request.data,
                   out->canonical_request.len, cr_hash) != 0)
        return bf_err_set(err, BF_E_INTERNAL, "sigv4: SHA-256 failed");
    rc = append3(sts, "AWS4-HMAC-SHA256\n", out->amz_date, "\n");
    if (rc == BF_OK)
        rc = append3(sts, scope, "\n", cr_hash);
    if (rc != BF_OK)
        return bf_err_set(err, rc, "sigv4: out of memory");
    /* The scope string names date, region and service: the cache key. */
    if (signing_key(cache, h, cfg->creds->secret_access_key, date,
                    cfg->region, cfg->service, scope, key) != 0 ||
        hmac_key32(h, key, sts->data, sts->len, sig) != 0) {
        OPENSSL_cleanse(key, sizeof(key));
        return bf_err_set(err, BF_E_INTERNAL, "sigv4: HMAC failed");
    }
    OPENSSL_cleanse(key, sizeof(key));
    hex_encode(sig, 32, out->signature);
    rc = append3(&out->authorization, "AWS4-HMAC-SHA256 Credential=",
                 cfg->creds->access_key_id, "/");
    if (rc == BF_OK)
        rc = append3(&out->authorization, scope, ", SignedHeaders=",
                     out->signed_headers.data);
    if (rc == BF_OK)
        rc = append3(&out->authorization, ", Signature=", out->signature, "");
    if (rc != BF_OK)
        return bf_err_set(err, rc, "sigv4: out of memory");
    return BF_OK;
}

enum bf_rc sigv4_sign(const struct sigv4_config *cfg,
                      const struct sigv4_request *req,
                      struct sigv4_key_cache *cache,
                      struct sigv4_result *out, struct bf_err *err)
{
    char date[9], scope[200];
    struct hasher h = { NULL, NULL };
    enum bf_rc rc;

    rc = check_config(cfg, req, err);
    if (rc != BF_OK)
        return rc;
    buf_reset(&out->canonical_request);
    buf_reset(&out->string_to_sign);
    buf_reset(&out->signed_headers);
    buf_reset(&out->authorization);
    format_amz_date(cfg->time_s, out->amz_date);
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';
    if ((size_t)snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date,
                         cfg->region, cfg->service) >= sizeof(scope))
        return bf_err_set(err, BF_E_CONFIG,
                          "sigv4: region or service too long");
    if (hasher_open(&h, cache) != 0)
        return bf_err_set(err, BF_E_NOMEM, "sigv4: out of memory");
    if (payload_hash(cfg, req, &h, out->payload_hash) != 0) {
        rc = bf_err_set(err, BF_E_INTERNAL, "sigv4: SHA-256 failed");
        goto out;
    }
    rc = canonical_request(cfg, req, out);
    if (rc != BF_OK) {
        bf_err_set(err, rc, "sigv4: out of memory");
        goto out;
    }
    rc = sign_stage(cfg, cache, &h, date, scope, out, err);
out:
    hasher_close(&h);
    return rc;
}
