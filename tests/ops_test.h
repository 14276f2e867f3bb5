/*
 * ops_test.h - helpers shared by the op tests (header-only, static inline so
 * each test binary takes what it uses): building tensors from literal
 * values, wrapping strided views of test memory, ulp-based comparisons
 * against long double / double references, and error checks that assert
 * both the status and a fragment of the message.
 */
#ifndef BITNET_TESTS_OPS_TEST_H
#define BITNET_TESTS_OPS_TEST_H

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "bitnet/bitnet.h"

/* A tensor of dtype dt holding vals (row-major, converted like bn_tensor_set). */
static inline bn_tensor *tt_make(bn_dtype dt, int nd, const int64_t *shape, const double *vals)
{
    bn_tensor *t = NULL;
    cr_assert_eq(bn_tensor_empty(dt, nd, shape, &t), BN_OK, "%s", bn_last_error());
    int64_t n = bn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        bn_tensor_set_flat(t, i, vals[i]);
    return t;
}

/* Seeded uniform random tensor in [lo, hi). */
static inline bn_tensor *tt_rand(bn_dtype dt, int nd, const int64_t *shape, uint64_t seed,
                                 double lo, double hi)
{
    bn_tensor *t = NULL;
    cr_assert_eq(bn_tensor_rand(dt, nd, shape, seed, BN_RAND_UNIFORM, lo, hi, &t), BN_OK, "%s",
                 bn_last_error());
    return t;
}

/* Wraps f32 test memory with explicit strides (NULL: contiguous). */
static inline bn_tensor *tt_wrap_f32(float *mem, size_t nfloats, int nd, const int64_t *shape,
                                     const int64_t *strides)
{
    bn_tensor *t = NULL;
    cr_assert_eq(
        bn_tensor_wrap(BN_F32, nd, shape, strides, mem, nfloats * sizeof(float), NULL, NULL, &t),
        BN_OK, "%s", bn_last_error());
    return t;
}

/* Spacing of representable values of dt at |x| (x finite). */
static inline double tt_ulp(bn_dtype dt, double x)
{
    int mant = dt == BN_F16 ? 10 : dt == BN_BF16 ? 7 : 23;
    int emin = dt == BN_F16 ? -14 : -126;
    x = fabs(x);
    int e = x > 0 ? ilogb(x) : emin;
    if (e < emin)
        e = emin;
    return ldexp(1.0, e - mant);
}

/* |got - ref| <= ulps * ulp(ref) + abs_tol, with NaN and Inf matched exactly.
 * ref is the exact (long double) value; got is what the op produced. */
static inline bool tt_close(bn_dtype dt, double got, long double ref, double ulps, double abs_tol)
{
    double r = (double)ref;
    if (isnan(r))
        return isnan(got);
    if (dt == BN_F32)
        r = (float)ref;
    if (isinf(r) || isinf(got)) {
        /* an exact value at the top of the range may round to Inf */
        long double maxfin = dt == BN_F16 ? 65504.0L : (long double)FLT_MAX;
        return got == r || (isinf(got) && (got > 0) == (ref > 0) && fabsl(ref) >= maxfin);
    }
    return fabsl((long double)got - ref) <= (long double)(ulps * tt_ulp(dt, r) + abs_tol);
}

/* Asserts st == want and that the last error message contains frag. */
#define tt_assert_err(st, want, frag)                                                              \
    do {                                                                                           \
        bn_status st_ = (st);                                                                      \
        cr_assert_eq(st_, (want), "status %s, want %s (%s)", bn_status_name(st_),                  \
                     bn_status_name(want), bn_last_error());                                       \
        cr_assert(strstr(bn_last_error(), (frag)) != NULL, "message \"%s\" lacks \"%s\"",          \
                  bn_last_error(), (frag));                                                        \
    } while (0)

#endif
