/* http.h -- the one HTTP client everything uses (libcurl underneath).
 *
 * A `struct http_client` owns one curl easy handle (and the multi handle
 * that drives it), so connections and TLS sessions are reused; it is not
 * thread-safe: each thread keeps its own.
 * Every request states its connect and total timeouts and a cap on the
 * response size. TLS verification is always on (CA bundle overridable with
 * BACKFILL_CA_BUNDLE or AWS_CA_BUNDLE).
 */
#ifndef BF_AWS_HTTP_H
#define BF_AWS_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

struct http_header {
    const char *name;
    const char *value;
};

struct http_request {
    const char *method;           /* "GET", "POST", "PUT", "DELETE", "HEAD" */
    const char *url;
    const struct http_header *headers;
    size_t nheaders;
    const void *body;             /* may be NULL */
    size_t body_len;
    long connect_timeout_ms;      /* 0 = 5000 */
    long timeout_ms;              /* whole request; 0 = 30000 */
    size_t max_response;          /* body cap; 0 = 16 MiB */
    /* Optional: once *abandon is nonzero the request is given up within
     * HTTP_ABANDON_CHECK_MS and http_perform returns BF_E_CANCELLED (a
     * cancelled task must not wait out a 120 s source timeout). */
    const atomic_int *abandon;
};

#define HTTP_ABANDON_CHECK_MS 100

#define HTTP_MAX_RESPONSE_HEADERS 64

struct http_response {
    long status;                  /* 0 when no HTTP answer */
    struct buf body;
    int nheaders;
    char *header_names[HTTP_MAX_RESPONSE_HEADERS];  /* lower case */
    char *header_values[HTTP_MAX_RESPONSE_HEADERS];
    /* Set on BF_E_TRANSPORT when the cause was a timeout (connect or
     * total), which the retry budget charges more for. */
    int timed_out;
};

/* curl's process-wide set-up. Call once in
 * main() before any thread starts (curl_global_init is not thread-safe);
 * cleanup after the last thread has joined. */
enum bf_rc http_global_init(struct bf_err *err);
void http_global_cleanup(void);

/* The linked libcurl and what it was built with, one line ("libcurl/7.88.1
 * OpenSSL/3.0.17 zlib/1.2.13; protocols: http https"): `backfill-worker
 * version` prints it, so an operator can tell which libcurl a binary has
 * (CURL=static or CURL=system, src/README.md "Which libcurl"). */
void http_library_version(char *out, size_t n);

/* A client verifies TLS against the system's CAs until told otherwise. */
struct http_client *http_client_new(void);

/* Verify TLS against the PEM bundle at `path` from now on (NULL or "":
 * the system's CAs again). The path comes from config (BACKFILL_CA_BUNDLE
 * or AWS_CA_BUNDLE); a file that cannot be loaded fails each request with
 * BF_E_CONFIG, never falling back to no verification. BF_E_NOMEM only. */
enum bf_rc http_client_set_ca_bundle(struct http_client *c, const char *path,
                                     struct bf_err *err);
void http_client_free(struct http_client *c); /* NULL-safe */

void http_response_init(struct http_response *r);
void http_response_cleanup(struct http_response *r);
/* Case-insensitive lookup; NULL when absent. */
const char *http_response_header(const struct http_response *r,
                                 const char *name);

/* Perform one request (no retries here). A transport failure (connect,
 * reset, timeout, TLS) is BF_E_TRANSPORT; a body over the cap BF_E_LIMIT.
 * Any HTTP status is BF_OK: the caller judges it. `resp` must be
 * initialised; it is reset first. */
enum bf_rc http_perform(struct http_client *c, const struct http_request *req,
                        struct http_response *resp, struct bf_err *err);

#endif
