/* fuzz_sigv4.c -- libFuzzer target: SigV4 canonicalization.
 *
 * Input fields (split at '\n'): path, query, a header value, bytes to
 * URI-encode. Drives sigv4_uri_encode (both slash modes),
 * sigv4_canonical_uri (S3 and non-S3 rules), sigv4_canonical_query and a
 * whole sigv4_sign() with the fuzzed path, query and header, under both
 * rule sets. Properties: the encoder emits only unreserved characters,
 * '/' when asked, and well-formed %XX escapes; a signature is 64 hex
 * digits; the secret never appears in any stage of the result.
 */
#include <ctype.h>
#include <string.h>

#include "aws/sigv4.h"
#include "fuzz.h"

#define FUZZ_SECRET "SECRET-AWS-KEY-9c2d"

static void check_encoded(const struct buf *b, int keep_slash)
{
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];

        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/'))
            continue;
        if (c != '%' || i + 2 >= b->len ||
            !isxdigit((unsigned char)b->data[i + 1]) ||
            !isxdigit((unsigned char)b->data[i + 2]))
            abort();
        i += 2;
    }
}

static void no_secret(const struct buf *b)
{
    if (b->data != NULL && memmem(b->data, b->len, FUZZ_SECRET,
                                  strlen(FUZZ_SECRET)) != NULL)
        abort();
}

static void sign(const char *path, const char *query, const char *hval,
                 int s3, int input_has_secret)
{
    struct creds cr;
    struct sigv4_config cfg;
    struct sigv4_header h[2] = {{"host", "example.amazonaws.com"},
                                {"X-Fuzz", hval}};
    struct sigv4_request req = {"GET", path, query, h, 2, "body", 4, NULL};
    struct sigv4_result res;
    struct bf_err err;

    memset(&cr, 0, sizeof(cr));
    strcpy(cr.access_key_id, "AKIDEXAMPLE");
    strcpy(cr.secret_access_key, FUZZ_SECRET);
    strcpy(cr.session_token, "SECRET-SESSION-TOKEN-77aa");
    cfg = (struct sigv4_config){&cr, "us-east-1", s3 ? "s3" : "states",
                                1440938160, s3, 0};
    sigv4_result_init(&res);
    bf_err_init(&err);
    if (sigv4_sign(&cfg, &req, NULL, &res, &err) == BF_OK) {
        if (strlen(res.signature) != 64)
            abort();
        if (input_has_secret)
            goto out; /* the fuzzer put it there itself */
        no_secret(&res.canonical_request);
        no_secret(&res.string_to_sign);
        no_secret(&res.authorization);
    }
out:
    sigv4_result_cleanup(&res);
    creds_wipe(&cr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char *f[4];
    struct buf b;
    int has = 0;

    fuzz_split(s, '\n', f, 4);
    for (int keep = 0; keep <= 1; keep++) {
        buf_init(&b, 0);
        if (sigv4_uri_encode(f[3], strlen(f[3]), keep, &b) == BF_OK)
            check_encoded(&b, keep);
        buf_cleanup(&b);
    }
    for (int s3 = 0; s3 <= 1; s3++) {
        buf_init(&b, 0);
        (void)sigv4_canonical_uri(f[0], s3, &b);
        if (!s3 && f[0][0] == '/' && (b.len == 0 || b.data[0] != '/'))
            abort(); /* an absolute path stays absolute */
        buf_cleanup(&b);
    }
    buf_init(&b, 0);
    (void)sigv4_canonical_query(f[1], &b);
    buf_cleanup(&b);
    has = memmem(data, size, FUZZ_SECRET, strlen(FUZZ_SECRET)) != NULL;
    sign(f[0], f[1], f[2], 0, has);
    sign(f[0], f[1], f[2], 1, has);
    free(s);
    return 0;
}
