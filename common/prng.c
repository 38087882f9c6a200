#include "prng.h"

void prng_seed(prng *p, uint64_t seed)
{
    p->state = seed;
}

uint64_t prng_next(prng *p)
{
    uint64_t z = (p->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

double prng_uniform(prng *p)
{
    /* 53 random bits make every double in [0, 1) on a 2^-53 grid equally likely. */
    return (double)(prng_next(p) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t prng_below(prng *p, uint64_t n)
{
    return prng_next(p) % n;
}

uint64_t hash_fnv1a64(const void *data, size_t len)
{
    const unsigned char *s = data;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}
