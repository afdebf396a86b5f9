/* timeutil.h -- ISO 8601 timestamps as whole milliseconds since the epoch.
 *
 * The chunk plan (statemachine/README.md "Input (StartExecution)") works in
 * milliseconds, truncating any finer fraction exactly as JSONata's $toMillis
 * does, and writes timestamps the way $fromMillis does
 * (YYYY-MM-DDTHH:MM:SS.sssZ). The state machine and the worker must agree to
 * the millisecond, so both directions live here and nowhere else. Pure
 * functions: no clock, no locale, no time zone database.
 */
#ifndef BF_UTIL_TIMEUTIL_H
#define BF_UTIL_TIMEUTIL_H

#include <stdint.h>

#include "util/err.h"

#define TIME_ISO_LEN 25 /* "2025-06-13T06:00:57.295Z" + NUL */

/* Parse "YYYY-MM-DD" (00:00 UTC), or "YYYY-MM-DDTHH:MM[:SS[.fff...]]" with an
 * optional "Z", "+HH:MM", "+HHMM" or "+HH" offset (none means UTC). Digits
 * past milliseconds are truncated. Rejects impossible calendar dates
 * (2025-02-30), hours past 23 and trailing garbage. Returns
 * BF_E_INVALID_INPUT with a message that says what is wrong. */
enum bf_rc time_parse_iso8601(const char *s, int64_t *ms_out,
                              struct bf_err *err);

/* Write `ms` as "YYYY-MM-DDTHH:MM:SS.sssZ" into `out` (TIME_ISO_LEN bytes).
 * Years outside 0..9999 are clamped by the caller's validation; this
 * function can't fail. */
void time_format_iso8601(int64_t ms, char out[TIME_ISO_LEN]);

/* The same, with ':' replaced by '-' for object keys (README "Output layout"). */
void time_format_key(int64_t ms, char out[TIME_ISO_LEN]);

/* Days since 1970-01-01 for a proleptic Gregorian date. Pure. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The inverse: the proleptic Gregorian date `days` after 1970-01-01
 * (H. Hinnant's civil_from_days). Pure. */
void time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* An HTTP date (Retry-After, Date) in any of the three forms RFC 9110
 * says a recipient must accept: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov
 * 6 08:49:37 1994"). Parsed by hand so the locale cannot change month
 * names. 0 and *ms set, or -1 when malformed. Pure. */
int time_parse_http_date(const char *s, int64_t *ms);

/* Wall clock and monotonic clock in milliseconds. */
int64_t time_now_ms(void);
int64_t time_mono_ms(void);

/* Sleep `ms` milliseconds (nothing for ms <= 0), resuming after a signal
 * so the whole time passes. This function can't fail. */
void time_sleep_ms(long ms);

#endif
