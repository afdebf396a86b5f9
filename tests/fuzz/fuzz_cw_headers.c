/* fuzz_cw_headers.c -- libFuzzer target: the ConnectWise header and URL
 * parsers (Link rel="next", Retry-After, the stored base URL).
 *
 * The input is split at newlines: Link value, Retry-After value, base URL,
 * codebase. Each parser gets a NUL-terminated copy and a small output
 * buffer, so truncation paths are hit too. Properties: the return codes are
 * the documented ones, a found "next" target is NUL-terminated within the
 * buffer, and a Retry-After delay is never negative.
 */
#include <string.h>

#include "fuzz.h"
#include "source/cw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char *f[4];
    char small[48], big[2048];
    int64_t ms = -7;
    int r;

    fuzz_split(s, '\n', f, 4);
    r = cw_link_next(f[0], small, sizeof(small));
    if (r < -1 || r > 1 || (r == 1 && memchr(small, '\0', sizeof(small)) == NULL))
        abort();
    r = cw_link_next(f[0], big, sizeof(big));
    if (r == 1 && big[0] == '\0')
        abort(); /* "<>" is malformed, never an empty target */
    r = cw_retry_after_ms(f[1], 1700000000000LL, &ms);
    if (r != 0 && r != -1)
        abort();
    if (r == 0 && ms < 0)
        abort();
    r = cw_api_root(f[2], f[3][0] != '\0' ? f[3] : "v4_6_release", small,
                    sizeof(small));
    if (r != 0 && r != -1)
        abort();
    r = cw_api_root(f[2], "v4_6_release", big, sizeof(big));
    if (r == 0 && strncmp(big, "http", 4) != 0)
        abort();
    free(s);
    return 0;
}
