/* fuzz_iso8601.c -- libFuzzer target: ISO 8601 timestamps.
 *
 * time_parse_iso8601() reads every date in a task input, in ConnectWise
 * records (timestamp fields) and in credentials expirations. Properties:
 * no crash or UB (signed overflow is caught by UBSan); an accepted value
 * formats to a string that parses back to the same milliseconds when the
 * year is in 0..9999, and time_format_key differs only in ':' -> '-'.
 */
#include <string.h>

#include "fuzz.h"
#include "util/timeutil.h"

/* 0000-01-01 and 9999-12-31T23:59:59.999 in ms since the epoch. */
#define MS_YEAR0 (-62167219200000LL)
#define MS_YEAR9999_END 253402300799999LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char iso[TIME_ISO_LEN], key[TIME_ISO_LEN];
    int64_t ms = 0, back = 0;
    struct bf_err err;

    bf_err_init(&err);
    if (time_parse_iso8601(s, &ms, &err) == BF_OK && ms >= MS_YEAR0 &&
        ms <= MS_YEAR9999_END) {
        time_format_iso8601(ms, iso);
        if (time_parse_iso8601(iso, &back, &err) != BF_OK || back != ms)
            abort();
        time_format_key(ms, key);
        for (size_t i = 0; i < TIME_ISO_LEN; i++)
            if (key[i] != (iso[i] == ':' ? '-' : iso[i]))
                abort();
    } else if (err.rc != BF_OK && err.message[0] == '\0') {
        abort();
    }
    free(s);
    return 0;
}
