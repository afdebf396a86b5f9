/* fuzz.h -- small helpers shared by the libFuzzer targets in tests/fuzz.
 *
 * libFuzzer hands a target raw bytes without a terminating NUL; the code
 * under test mostly takes C strings. fuzz_str() makes a NUL-terminated
 * heap copy (so ASan still sees the exact extent), fuzz_split() cuts the
 * input into fields at a separator byte so one input can drive several
 * arguments. Header-only: each target is one translation unit.
 */
#ifndef BF_FUZZ_FUZZ_H
#define BF_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'd NUL-terminated copy of data[0..n); aborts on OOM (a fuzzer
 * that cannot allocate has nothing to report). */
static inline char *fuzz_str(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    if (n > 0)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Split `s` in place at `sep` into at most `max` fields; returns the
 * number of fields (>= 1). Missing fields are set to "". */
static inline int fuzz_split(char *s, char sep, char **fields, int max)
{
    int n = 0;
    char *p = s;

    while (n < max) {
        char *e = strchr(p, sep);

        fields[n++] = p;
        if (e == NULL)
            break;
        *e = '\0';
        p = e + 1;
    }
    for (int i = n; i < max; i++)
        fields[i] = (char *)"";
    return n;
}

#endif
