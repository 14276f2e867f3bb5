/*
 * ternary.c - the table of W1.58A8 kernel implementations (contract in
 * kernels/ternary.h) and the engine's choice among them.
 *
 * Compiled without ISA flags: it only reads the CPU probe and hands out
 * function pointers; the ISA code lives in kernels/x86/<isa>/. The engine
 * does not choose here: each kernel-set context (kernels/kernels.h) points at
 * its ternary implementation - ref -> ref, avx2 -> avx2, avx512 -> amx where
 * the CPU and OS allow AMX, else avx512 (VNNI), else avx2 (the engine's
 * avx512 set does not need VNNI; these kernels do) - so BN_KERNELS and
 * bn_kernels_select govern them with everything else.
 */
#include "kernels/ternary.h"

#include "kernels/kernels.h"

#include <string.h>

static int avail_ref(void)
{
    return 1;
}

static int avail_avx2(void)
{
    return bnk_cpu_get()->avx2;
}

static int avail_avx512(void)
{
    return bnk_cpu_get()->avx512_vnni;
}

static int avail_amx(void)
{
    return bnk_cpu_get()->amx;
}

const char *bnk_ternary_amx_status(void)
{
    return bnk_cpu_get()->amx_why;
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

const bnk_ternary_impl *bnk_ternary_active(void)
{
    return bnk_active()->ternary;
}
