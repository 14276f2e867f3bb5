/*
 * ternary.c - the table of W1.58A8 kernel sets and the choice of the active
 * one (contract in kernels/ternary.h).
 *
 * Compiled without ISA flags: it only compares CPUID answers and hands out
 * function pointers; the ISA code lives in kernels/x86/<isa>/. The active set
 * follows the engine's kernel registry (kernels/kernels.h: BN_KERNELS,
 * bn_kernels_select): ref -> ref, avx2 -> avx2, avx512 -> amx where the CPU
 * and OS allow AMX, else avx512 (VNNI), else the next set down that this CPU
 * has (the engine's avx512 set does not need VNNI; this one does).
 */
#include "kernels/ternary.h"

#include "kernels/kernels.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
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

/* AMX: CPUID.(7,0):EDX bit 24 AMX-TILE, bit 25 AMX-INT8; then Linux (5.16+)
 * must grant the dynamically enabled tile data state (XFEATURE 18). */
#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA  18

static char amx_why[160];
static int amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void)
{
#if defined(__x86_64__) && defined(SYS_arch_prctl)
    unsigned a, b, c, d;
    if (!avail_avx512()) {
        snprintf(amx_why, sizeof amx_why,
                 "CPU lacks AVX-512 VNNI (CPUID), which the amx set uses for n < 16");
        return;
    }
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) {
        snprintf(amx_why, sizeof amx_why,
                 "CPU lacks AMX-TILE/AMX-INT8 (CPUID leaf 7 EDX bits 24, 25)");
        return;
    }
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        snprintf(amx_why, sizeof amx_why, "kernel refused tile data permission (arch_prctl: %s)",
                 strerror(errno));
        return;
    }
    unsigned long mask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &mask) != 0 ||
        !(mask & (1ul << XFEATURE_XTILEDATA))) {
        snprintf(amx_why, sizeof amx_why, "tile data permission not in the granted mask 0x%lx",
                 mask);
        return;
    }
    amx_ok = 1;
    snprintf(amx_why, sizeof amx_why, "available");
#else
    snprintf(amx_why, sizeof amx_why, "AMX needs x86-64 Linux");
#endif
}

const char *bnk_ternary_amx_status(void)
{
    pthread_once(&amx_once, amx_probe);
    return amx_why;
}

static int avail_amx(void)
{
    pthread_once(&amx_once, amx_probe);
    return amx_ok;
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
    [BNK_TERNARY_AMX] = {.name = "amx",
                         .available = avail_amx,
                         .gemm = bnk_t2k_gemm_amx,
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

/* Availability is asked once per set (CPUID does not change under us). */
static int avail_cache[BNK_TERNARY_ISA_COUNT];
static pthread_once_t avail_once = PTHREAD_ONCE_INIT;

static void avail_fill(void)
{
    for (int i = 0; i < BNK_TERNARY_ISA_COUNT; i++)
        avail_cache[i] = bnk_ternary_impls[i].available();
}

const bnk_ternary_impl *bnk_ternary_active(void)
{
    pthread_once(&avail_once, avail_fill);
    /* follow the engine's kernel set (BN_KERNELS, bn_kernels_select) */
    int want;
    switch (bnk_active_isa()) {
    case BNK_ISA_AVX512:
        want = BNK_TERNARY_AMX;
        break;
    case BNK_ISA_AVX2:
        want = BNK_TERNARY_AVX2;
        break;
    default:
        want = BNK_TERNARY_REF;
        break;
    }
    while (want > BNK_TERNARY_REF && !avail_cache[want])
        want--;
    return &bnk_ternary_impls[want];
}
