/*
 * rng.c - xoshiro256** (Blackman and Vigna) seeded by splitmix64 (rng.h).
 */
#include "bitnet/bitnet.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void bn_rng_seed(bn_rng *r, uint64_t seed)
{
    BN_ASSERT(r != NULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t bn_rng_next(bn_rng *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double bn_rng_unit(bn_rng *r)
{
    return (double)(bn_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t bn_rng_below(bn_rng *r, uint64_t n)
{
    BN_ASSERT(n >= 1);
    return (uint64_t)(((unsigned __int128)bn_rng_next(r) * n) >> 64);
}
