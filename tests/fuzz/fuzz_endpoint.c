/* fuzz_endpoint.c -- libFuzzer target: endpoint override URLs and the S3
 * request target built on them.
 *
 * Input fields (split at '\n'): URL, bucket, key, query. endpoint_parse_url
 * must accept only http(s) URLs whose parts fit the struct, and must refuse
 * plain http to a non-loopback host (BACKFILL_ALLOW_INSECURE_HTTP unset);
 * when it accepts, awsrest_make_target builds the S3 target for the fuzzed
 * bucket and key. Properties: accepted scheme is "http" or "https", the port
 * is 1..65535, and the wire path holds no raw space or control byte.
 */
#include <string.h>

#include "aws/awsrest.h"
#include "aws/endpoint.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    unsetenv("BACKFILL_ALLOW_INSECURE_HTTP");
    return 0;
}

static void target(const struct endpoint *ep, const char *bucket,
                   const char *key, const char *query)
{
    struct awsrest_target t;
    struct bf_err err;

    awsrest_target_init(&t);
    bf_err_init(&err);
    if (awsrest_make_target(ep, bucket, key, query[0] ? query : NULL, &t,
                            &err) == BF_OK) {
        for (size_t i = 0; i < t.path.len; i++)
            if ((unsigned char)t.path.data[i] <= ' ' ||
                t.path.data[i] == 0x7f)
                abort();
    }
    awsrest_target_cleanup(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char *f[4];
    struct endpoint ep;
    struct bf_err err;

    fuzz_split(s, '\n', f, 4);
    bf_err_init(&err);
    memset(&ep, 0, sizeof(ep));
    if (endpoint_parse_url(f[0], 0, &ep, &err) == BF_OK) {
        if ((strcmp(ep.scheme, "https") != 0 && strcmp(ep.scheme, "http") != 0) ||
            ep.port < 1 || ep.port > 65535 ||
            (strcmp(ep.scheme, "http") == 0 && !ep.is_loopback))
            abort();
        ep.path_style = (int)(size & 1);
        target(&ep, f[1], f[2], f[3]);
    } else if (err.message[0] == '\0') {
        abort();
    }
    free(s);
    return 0;
}
