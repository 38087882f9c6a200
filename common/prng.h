/* Small seeded pseudo-random numbers (splitmix64) and a string hash (FNV-1a).
 * Pure: the state is a value the caller owns, so every draw is reproducible. */
#ifndef COMMON_PRNG_H
#define COMMON_PRNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct prng {
    uint64_t state;
} prng;

void prng_seed(prng *p, uint64_t seed);
uint64_t prng_next(prng *p);
/* Uniform in [0, 1). */
double prng_uniform(prng *p);
/* Uniform in [0, n); n > 0. */
uint64_t prng_below(prng *p, uint64_t n);

uint64_t hash_fnv1a64(const void *data, size_t len);

#endif
