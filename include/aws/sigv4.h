/* sigv4.h -- AWS Signature Version 4, as a pure function.
 *
 * A signing config (credentials, region, service, the time passed in) and a
 * request go in; a result holding every intermediate stage comes out:
 * canonical request, string to sign, signature and the headers to add.
 * No I/O, no clock, no globals, so it is tested stage by stage against known
 * answers and against the reference signer (tests/unit/test_sigv4.c,
 * tests/sigv4/). The derived signing key is cached per (secret, date,
 * region, service) in a caller-owned `struct sigv4_key_cache`.
 */
#ifndef BF_AWS_SIGV4_H
#define BF_AWS_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "aws/creds.h"
#include "util/buf.h"
#include "util/err.h"

struct sigv4_header {
    const char *name;  /* as sent; canonicalized to lower case */
    const char *value; /* as sent; trimmed, runs of spaces folded */
};

struct sigv4_config {
    const struct creds *creds; /* borrowed; session token signed if set */
    const char *region;        /* "us-east-1" */
    const char *service;       /* signing name: "states", "s3", ... */
    int64_t time_s;            /* seconds since the epoch (passed in) */
    /* S3 rules: the path is encoded once (not twice) and not normalised,
     * and x-amz-content-sha256 is sent and signed. */
    int s3_rules;
    /* With s3_rules: sign "UNSIGNED-PAYLOAD" instead of hashing the body. */
    int unsigned_payload;
};

struct sigv4_request {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* as sent on the wire, already URI-encoded once */
    const char *query;    /* as sent, without '?', may be NULL */
    const struct sigv4_header *headers; /* must include host */
    size_t nheaders;
    const void *body;     /* may be NULL */
    size_t body_len;
    /* When set, the payload hash to use (hex SHA-256 or UNSIGNED-PAYLOAD),
     * for bodies streamed from elsewhere. */
    const char *payload_hash;
};

struct sigv4_result {
    struct buf canonical_request;
    struct buf string_to_sign;
    char signature[65];        /* hex */
    char amz_date[17];         /* "20150830T123600Z" */
    char payload_hash[65];     /* hex, or "UNSIGNED-PAYLOAD" */
    struct buf signed_headers; /* "content-type;host;x-amz-date" */
    struct buf authorization;  /* the Authorization header value */
};

/* Caches derived signing keys; thread-safe; embed one per process or client.
 * It also holds SHA-256 fetched once from OpenSSL: the one-shot SHA256() and
 * HMAC() look the algorithm up again on every call, which cost more than
 * the hashing itself on the signing path of every request. */
struct sigv4_key_cache {
    pthread_mutex_t lock;
    char scope[160];               /* date/region/service of the cached key */
    unsigned char secret_hash[32]; /* which secret the key came from */
    unsigned char key[32];
    int valid;
    struct evp_md_st *sha256;      /* EVP_MD, fetched at init; NULL: slow path */
    unsigned long derivations;     /* keys derived (not cached): for tests */
};

void sigv4_key_cache_init(struct sigv4_key_cache *c);
void sigv4_key_cache_cleanup(struct sigv4_key_cache *c); /* wipes the key */

void sigv4_result_init(struct sigv4_result *r);
void sigv4_result_cleanup(struct sigv4_result *r);

/* Sign `req` under `cfg`. `cache` may be NULL. On success `out` holds every
 * stage; the caller adds the headers X-Amz-Date (out->amz_date),
 * Authorization, X-Amz-Security-Token (when creds carry one) and, with
 * s3_rules, x-amz-content-sha256 (out->payload_hash) to the request it
 * sends. Those headers are signed whether or not `req` lists them.
 * Returns BF_E_CONFIG for an incomplete config, BF_E_NOMEM. */
enum bf_rc sigv4_sign(const struct sigv4_config *cfg,
                      const struct sigv4_request *req,
                      struct sigv4_key_cache *cache,
                      struct sigv4_result *out, struct bf_err *err);

/* Canonicalization pieces, exposed for tests and fuzzing. Each appends to
 * `out`. `double_encode` is the non-S3 rule. */
enum bf_rc sigv4_canonical_uri(const char *path, int s3_rules, struct buf *out);
enum bf_rc sigv4_canonical_query(const char *query, struct buf *out);
/* RFC 3986 unreserved-only percent-encoding (A-Z a-z 0-9 - _ . ~),
 * optionally leaving '/' alone. */
enum bf_rc sigv4_uri_encode(const char *s, size_t n, int keep_slash,
                            struct buf *out);

#endif
