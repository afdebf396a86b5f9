/* backoff.h -- capped exponential backoff with jitter, the one formula
 * every retry loop uses (AWS calls, ConnectWise pages, the worker's
 * polls), and the small PRNG that draws the jitter.
 *
 * Each caller keeps its own PRNG state (per client, per source, per
 * slot), so there is no shared state and no lock. Jitter spreads retries
 * from many workers apart in time, so it needs no cryptographic quality.
 */
#ifndef BF_UTIL_BACKOFF_H
#define BF_UTIL_BACKOFF_H

#include <stdint.h>

enum backoff_jitter {
    BACKOFF_FULL,   /* uniform in [0, d): the AWS SDKs' standard mode */
    BACKOFF_EQUAL   /* d/2 + uniform in [0, d/2]: never much shorter than d */
};

/* Seed from the OS random source, falling back to the clock and the
 * state's address. Never leaves it zero (xorshift needs non-zero). */
void backoff_seed(uint64_t *rng);

/* The next 64 random bits (xorshift64*). */
uint64_t backoff_rand(uint64_t *rng);

/* The delay before attempt number `attempt` (1 = the first retry):
 * d = base_ms * 2^(attempt-1), at most cap_ms, then jittered. base_ms
 * and cap_ms > 0. */
int64_t backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms,
                   enum backoff_jitter jitter, uint64_t *rng);

#endif
