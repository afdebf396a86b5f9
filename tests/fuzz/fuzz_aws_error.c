/* fuzz_aws_error.c -- libFuzzer target: AWS error answers.
 *
 * Input: first line = x-amzn-ErrorType header ("" for none), second line =
 * Date header, the rest = the body (JSON or S3 XML). Drives
 * awsjson_parse_error() on the exact, non-terminated body bytes,
 * awsrest_parse_error() on a response built the way http.c builds one, and
 * the clock-skew check that reads the Date header. Properties: code and
 * message are NUL-terminated within their (small) buffers and are never
 * empty-coded for the REST parser, which always names something.
 */
#include <string.h>

#include "aws/awsjson.h"
#include "aws/awsrest.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "fuzz.h"

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        abort();
    return d;
}

static void check_str(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char *f[3];
    char code[24], msg[40];
    struct http_response r;
    const char *body = NULL;
    char *exact = NULL;
    size_t blen = 0;
    int64_t skew = 0;

    fuzz_split(s, '\n', f, 3);
    body = f[2];
    blen = strlen(body);
    exact = malloc(blen ? blen : 1);
    memcpy(exact, body, blen);
    awsjson_parse_error(exact, blen, f[0][0] != '\0' ? f[0] : NULL, code,
                        sizeof(code), msg, sizeof(msg));
    check_str(code, sizeof(code));
    check_str(msg, sizeof(msg));
    free(exact);

    http_response_init(&r);
    r.status = 400 + (long)(size % 200);
    if (buf_append(&r.body, body, blen) != BF_OK)
        abort();
    if (f[0][0] != '\0') {
        r.header_names[r.nheaders] = xstrdup("x-amzn-errortype");
        r.header_values[r.nheaders++] = xstrdup(f[0]);
    }
    awsrest_parse_error(&r, code, sizeof(code), msg, sizeof(msg));
    check_str(code, sizeof(code));
    check_str(msg, sizeof(msg));
    if (code[0] == '\0')
        abort();
    http_response_cleanup(&r);

    (void)retry_clock_skew_update(&skew, 1700000000000LL, f[1],
                                  "RequestTimeTooSkewed");
    (void)retry_is_retryable(r.status, code);
    free(s);
    return 0;
}
