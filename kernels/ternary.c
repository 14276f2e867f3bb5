/*
 * ternary.c - the table of W1.58A8 kernel sets and the choice of the active
 * one (contract in kernels/ternary.h).
 *
 * Compiled without ISA flags: it only compares CPUID answers and hands out
 * function pointers; the ISA code lives in kernels/x86/<isa>/. BN_KERNELS
 * (ref | avx2 | avx512) forces a set for A/B runs; a forced set the CPU
 * lacks, or an unknown name, falls back to the best available one, and the
 * choice is printed once to stderr when BN_KERNELS_VERBOSE is set.
 */
#include "kernels/ternary.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int avail_ref(void)
{
    return 1;
}

static int avail_avx2(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int avail_avx512(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

const bnk_ternary_impl bnk_ternary_impls[BNK_TERNARY_ISA_COUNT] = {
    [BNK_TERNARY_REF] = {.name = "ref",
                         .available = avail_ref,
                         .gemm = bnk_t2k_gemm_ref,
                         .absmax = bnk_absmax_ref,
                         .quant = bnk_act_quant_ref},
    [BNK_TERNARY_AVX2] = {.name = "avx2",
                          .available = avail_avx2,
                          .gemm = bnk_t2k_gemm_avx2,
                          .absmax = bnk_absmax_avx2,
                          .quant = bnk_act_quant_avx2},
    [BNK_TERNARY_AVX512] = {.name = "avx512",
                            .available = avail_avx512,
                            .gemm = bnk_t2k_gemm_avx512,
                            .absmax = bnk_absmax_avx512,
                            .quant = bnk_act_quant_avx512},
};

const bnk_ternary_impl *bnk_ternary_find(const char *name)
{
    for (int i = 0; name && i < BNK_TERNARY_ISA_COUNT; i++)
        if (strcmp(bnk_ternary_impls[i].name, name) == 0)
            return &bnk_ternary_impls[i];
    return NULL;
}

static const bnk_ternary_impl *active;
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    const bnk_ternary_impl *best = &bnk_ternary_impls[BNK_TERNARY_REF];
    for (int i = BNK_TERNARY_ISA_COUNT - 1; i >= 0; i--)
        if (bnk_ternary_impls[i].available()) {
            best = &bnk_ternary_impls[i];
            break;
        }
    const char *env = getenv("BN_KERNELS");
    const bnk_ternary_impl *want = env && *env ? bnk_ternary_find(env) : NULL;
    active = want && want->available() ? want : best;
    if (getenv("BN_KERNELS_VERBOSE"))
        fprintf(stderr, "bitnet: ternary kernels %s (BN_KERNELS=%s)\n", active->name,
                env ? env : "");
}

const bnk_ternary_impl *bnk_ternary_active(void)
{
    pthread_once(&active_once, choose);
    return active;
}
