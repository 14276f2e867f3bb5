/*
 * kernel_sets.h - for tests that loop over the SIMD kernel sets this CPU has
 * and compare each with the reference. On a CPU with no SIMD set (no AVX2,
 * only the portable reference) such a loop runs zero times and the test
 * would pass having compared nothing: require_simd_sets() skips it instead,
 * with the reason, and simd_tables() fails the test if it finds none.
 * Header-only (static inline functions): each test is its own binary.
 */
#ifndef BN_TESTS_KERNEL_SETS_H
#define BN_TESTS_KERNEL_SETS_H

#include <criterion/criterion.h>

#include "bitnet/bitnet.h"
#include "kernels/kernels.h"

/* Skips the calling test, naming the sets this CPU supports, when there is
 * no SIMD set to compare with the reference. Returns only when there is. */
static inline void require_simd_sets(const char *what)
{
    for (int i = BNK_ISA_REF + 1; i < BNK_ISA_COUNT; i++)
        if (bnk_isa_supported((bnk_isa)i))
            return;
    cr_skip_test("%s: this CPU has no SIMD kernel set (supported: %s), nothing to compare with "
                 "the reference",
                 what, bn_kernels_supported());
}

/* Fills out[] (room for BNK_ISA_COUNT) with the tables of the SIMD sets this
 * CPU has, the reference excluded, and returns how many: at least one, or
 * the calling test is skipped (require_simd_sets). */
static inline int simd_tables(const bnk_table **out, const char *what)
{
    require_simd_sets(what);
    int k = 0;
    for (int i = BNK_ISA_REF + 1; i < BNK_ISA_COUNT; i++) {
        const bnk_table *t = bnk_table_get((bnk_isa)i);
        if (t)
            out[k++] = t;
    }
    cr_assert_gt(k, 0, "%s: a supported SIMD set has no table", what);
    return k;
}

#endif
