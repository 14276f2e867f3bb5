/*
 * rng.h - the engine's one pseudo-random generator: xoshiro256** seeded by
 * splitmix64. Fixed and portable, so a seed gives the same sequence on every
 * run and machine (bn_tensor_rand, bnbench's bootstrap). Not cryptographic.
 * A bn_rng is plain state: one per thread, no locking.
 */
#ifndef BITNET_RNG_H
#define BITNET_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bn_rng {
    uint64_t s[4];
} bn_rng;

void bn_rng_seed(bn_rng *r, uint64_t seed);
uint64_t bn_rng_next(bn_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double bn_rng_unit(bn_rng *r);
/* Uniform integer in [0, n), n >= 1 (multiply-shift; bias < n / 2^64). */
uint64_t bn_rng_below(bn_rng *r, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif
