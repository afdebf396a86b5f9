/* endpoint.h -- region and endpoint resolution, the AWS SDK way.
 *
 * Region: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's `region`.
 * Endpoint: AWS_ENDPOINT_URL_<SERVICE> (SFN, S3, DYNAMODB, SECRETS_MANAGER,
 * LAMBDA), then AWS_ENDPOINT_URL, then https://{prefix}.{region}.amazonaws.com.
 * Plain http is accepted only for loopback hosts unless
 * the caller allows it (config: BACKFILL_ALLOW_INSECURE_HTTP=1). S3 uses
 * path-style addressing for overridden endpoints, virtual-host otherwise.
 */
#ifndef BF_AWS_ENDPOINT_H
#define BF_AWS_ENDPOINT_H

#include "util/err.h"

struct endpoint_service {
    const char *env_id;       /* suffix of AWS_ENDPOINT_URL_<ID>: "SFN" */
    const char *host_prefix;  /* "states" */
    const char *signing_name; /* "states" */
};

/* The services the worker calls (constant tables, never modified). */
extern const struct endpoint_service endpoint_svc_sfn;
extern const struct endpoint_service endpoint_svc_s3;
extern const struct endpoint_service endpoint_svc_dynamodb;
extern const struct endpoint_service endpoint_svc_secretsmanager;
extern const struct endpoint_service endpoint_svc_lambda;

struct endpoint {
    char url[512];     /* scheme://host[:port][/base], no trailing slash */
    char scheme[8];    /* "https" or "http" */
    char host[256];    /* host name or address, no port */
    int port;          /* explicit port or the scheme default */
    char host_header[300]; /* the Host header value (host[:port]) */
    char base_path[256];   /* path prefix from the override URL, "" if none */
    int overridden;    /* came from AWS_ENDPOINT_URL* */
    int is_loopback;
    int path_style;    /* S3: bucket in the path */
};

/* Find the region; BF_E_CONFIG "no AWS region: set AWS_REGION ..." when none.
 * `out` holds 64 bytes. */
enum bf_rc endpoint_region(char out[64], struct bf_err *err);

/* Whether `r` is a well-formed region name
 * (1-63 of [a-z0-9-], not starting or ending with '-'). */
int endpoint_region_valid(const char *r);

/* Resolve the endpoint of `svc` in `region`. BF_E_CONFIG with a one-line
 * message for a malformed override URL or a refused plain-http host.
 * `allow_insecure_http` (config: BACKFILL_ALLOW_INSECURE_HTTP) lets an
 * override use plain http to a host that is not loopback. */
enum bf_rc endpoint_resolve(const struct endpoint_service *svc,
                            const char *region, int allow_insecure_http,
                            struct endpoint *out, struct bf_err *err);

/* Parse and check one URL (exposed for tests and fuzzing). */
enum bf_rc endpoint_parse_url(const char *url, int allow_insecure_http,
                              struct endpoint *out, struct bf_err *err);

#endif
