/* awsenv.h -- what every AWS call shares: region, credentials, retry budget.
 *
 * One `struct awsenv` is made in main() and shared by all threads
 * (reference-counted). It owns the credentials provider (the default chain
 * unless a test passes its own), the region, the signing-key cache and the
 * retry budget that keeps a dead endpoint from causing a retry storm.
 * Service clients (awsjson, awsrest) are per thread and borrow it.
 */
#ifndef BF_AWS_AWSENV_H
#define BF_AWS_AWSENV_H

#include <stdint.h>

#include "aws/creds.h"
#include "util/err.h"

struct awsenv_options {
    const char *region;               /* NULL: endpoint_region() */
    struct creds_provider *creds;     /* NULL: the default chain (takes a ref) */
    int max_attempts;                 /* 0: 3, as the SDKs' standard mode */
    int64_t (*now_ms)(void *ctx);     /* clock seam for signing; NULL = real */
    void *clock_ctx;
};

struct awsenv;

/* Build the shared environment. BF_E_CONFIG with a one-line reason when the
 * region is missing or the configuration is malformed. */
enum bf_rc awsenv_new(const struct awsenv_options *opts, struct awsenv **out,
                      struct bf_err *err);
struct awsenv *awsenv_acquire(struct awsenv *env);
void awsenv_release(struct awsenv *env); /* NULL-safe */

const char *awsenv_region(const struct awsenv *env);

#endif
