/*
 * test_cpu_hide.c - BN_CPU_HIDE (bitnet/kernels.h): the one CPU probe
 * reports hidden features absent, the sets that need them become
 * unsupported everywhere (selection, contexts, GEMM and ternary tables), a
 * bad value is an error naming it, and the hide is recorded in
 * bn_kernels_how(). Each Criterion test runs in its own process, so setting
 * the variable before the first kernel call makes the probe see it.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

static void hide(const char *v)
{
    cr_assert_eq(setenv("BN_CPU_HIDE", v, 1), 0);
    cr_assert_eq(unsetenv("BN_KERNELS"), 0);
}

Test(cpu_hide, avx2_hides_every_simd_set)
{
    hide("avx2");
    cr_assert_eq(bn_kernels_init(), BN_OK, "%s", bn_last_error());
    const bnk_cpu *c = bnk_cpu_get();
    cr_assert(!c->avx2 && !c->avx512 && !c->avx512_vnni && !c->amx);
    cr_assert_str_eq(c->hidden, "avx2");
    cr_assert(strstr(c->amx_why, "BN_CPU_HIDE") != NULL, "amx_why: %s", c->amx_why);
    cr_assert_str_eq(bn_kernels_supported(), "ref");
    cr_assert_str_eq(bn_kernels_selected(), "ref");
    cr_assert_str_eq(bn_kernels_how(), "auto (BN_CPU_HIDE=avx2)");
    cr_assert_null(bnk_table_get(BNK_ISA_AVX2));
    cr_assert_null(bnk_table_get(BNK_ISA_AVX512));
    cr_assert_eq(bn_kernels_select("avx2"), BN_ERR_UNSUPPORTED);
    cr_assert(strstr(bn_last_error(), "supported: ref") != NULL, "%s", bn_last_error());
    /* the ops still work, on the reference */
    cr_assert_eq(bnk_active(), bnk_table_get(BNK_ISA_REF));
}

Test(cpu_hide, avx512_keeps_avx2)
{
    hide("avx512");
    cr_assert_eq(bn_kernels_init(), BN_OK, "%s", bn_last_error());
    const bnk_cpu *c = bnk_cpu_get();
    cr_assert(!c->avx512 && !c->avx512_vnni && !c->amx);
    cr_assert_null(strstr(bn_kernels_supported(), "avx512"));
    cr_assert_eq(bn_kernels_select("avx512"), BN_ERR_UNSUPPORTED);
    cr_assert_str_eq(bn_kernels_selected(), c->avx2 ? "avx2" : "ref");
}

Test(cpu_hide, forced_set_that_is_hidden_is_an_error)
{
    hide("avx512");
    cr_assert_eq(setenv("BN_KERNELS", "avx512", 1), 0);
    cr_assert_eq(bn_kernels_init(), BN_ERR_UNSUPPORTED);
    cr_assert(strstr(bn_last_error(), "BN_KERNELS=avx512") != NULL, "%s", bn_last_error());
}

Test(cpu_hide, unknown_feature_is_an_error_and_hides_nothing)
{
    hide("avx2,sse9");
    cr_assert_eq(bn_kernels_init(), BN_ERR_ARG);
    cr_assert(strstr(bn_last_error(), "BN_CPU_HIDE=avx2,sse9") != NULL, "%s", bn_last_error());
    cr_assert(strstr(bn_last_error(), "\"sse9\"") != NULL, "%s", bn_last_error());
    cr_assert_str_eq(bnk_cpu_get()->hidden, "");
    cr_assert_str_eq(bn_kernels_how(), "auto");
}

Test(cpu_hide, list_of_features)
{
    hide("vnni,amx");
    cr_assert_eq(bn_kernels_init(), BN_OK, "%s", bn_last_error());
    const bnk_cpu *c = bnk_cpu_get();
    cr_assert(!c->avx512_vnni && !c->amx);
    cr_assert_str_eq(c->hidden, "vnni,amx");
}
