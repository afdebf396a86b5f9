/* hex.c -- lower-case hex encoding, the hex SHA-256 digest and hex digit
 * values (see hex.h).
 *
 * A table lookup per nibble rather than snprintf("%02x") per byte: it is
 * on the signing path of every AWS request and the hashing path of every
 * record, and it cannot fail or truncate.
 */
#include "util/hex.h"

#include <openssl/sha.h>

void hex_encode(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void hex_sha256(const void *p, size_t n, char out[HEX_SHA256_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    /* SHA256() wants a valid pointer even for zero bytes. */
    SHA256(p != NULL ? p : (const void *)"", n, md);
    hex_encode(md, sizeof(md), out);
}

int hex_digit_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
