/* backoff.c -- capped exponential backoff with jitter (backoff.h). */
#include "util/backoff.h"

#include <stddef.h>
#include <sys/random.h>
#include <sys/types.h>

#include "util/timeutil.h"

void backoff_seed(uint64_t *rng)
{
    uint64_t s = 0;

    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
        s = (uint64_t)time_mono_ms() * 0x9E3779B97F4A7C15ULL ^
            (uint64_t)(uintptr_t)rng;
    *rng = s != 0 ? s : 0x2545F4914F6CDD1DULL;
}

uint64_t backoff_rand(uint64_t *rng)
{
    uint64_t x = *rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int64_t backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms,
                   enum backoff_jitter jitter, uint64_t *rng)
{
    int64_t d = base_ms;
    int i;

    for (i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    if (jitter == BACKOFF_EQUAL)
        return d / 2 + (int64_t)(backoff_rand(rng) % (uint64_t)(d / 2 + 1));
    /* Uniform in [0, d) from the top 53 bits, so every value is as likely. */
    return (int64_t)((double)(backoff_rand(rng) >> 11) / 9007199254740992.0 *
                     (double)d);
}
