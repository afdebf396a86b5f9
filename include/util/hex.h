/* hex.h -- lower-case hex encoding and the hex SHA-256 digest.
 *
 * SigV4 (payload and canonical-request hashes), the chunk manifest (part
 * checksums), the transform (record_hash) and the log (token tags) all
 * write digests as lower-case hex; this is the one encoder they share.
 * Pure functions: no allocation, no state.
 */
#ifndef BF_UTIL_HEX_H
#define BF_UTIL_HEX_H

#include <stddef.h>

#define HEX_SHA256_LEN 65 /* 64 hex digits + NUL */

/* Write the `n` bytes at `in` as 2n lower-case hex digits plus a NUL into
 * `out`, which must hold 2n + 1 bytes. This function can't fail. */
void hex_encode(const void *in, size_t n, char *out);

/* The SHA-256 of `n` bytes at `p` (NULL allowed when n is 0) as 64 hex
 * digits. This function can't fail. */
void hex_sha256(const void *p, size_t n, char out[HEX_SHA256_LEN]);

/* The value of one hex digit (either case), or -1 for any other byte. */
int hex_digit_value(unsigned char c);

#endif
