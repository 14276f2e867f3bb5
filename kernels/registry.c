/*
 * registry.c - the one CPU probe, the kernel-set contexts, and the choice of
 * the active set (kernels/kernels.h, bitnet/kernels.h).
 *
 * Each kernel set is one context (bnk_table) below, written out kernel by
 * kernel: the reference is complete; a SIMD set lists the row kernels it has
 * its own version of, and its GEMM, ternary and linear-algebra kernels. On
 * first use (pthread_once) the CPU is probed, every SIMD context's missing
 * row kernels are filled from the reference (so a caller never meets a NULL
 * the reference does not have), the avx512 set's ternary kernels are chosen
 * (amx, else avx512 with VNNI, else avx2: the engine's avx512 set does not
 * need VNNI, its ternary kernels do), and the active set is chosen:
 *   - BN_KERNELS unset or empty: the last (fastest) set bnk_isa_supported()
 *     accepts;
 *   - BN_KERNELS=name: that set, when known and supported; otherwise the
 *     automatic choice and the error kept for bn_kernels_init() to return.
 *     A program that never asks bn_kernels_init() gets the error as one line
 *     on stderr at the first use of the kernels (bnk_active); one that asks
 *     (bnbench) reports it itself, so the user sees it once.
 * The active context is an atomic index, so bn_kernels_select() can switch
 * sets at run time (tests, A/B runs) without locks on the op path; every
 * kernel family (rows, GEMM, ternary, linalg) switches with it.
 *
 * CPU support (the only probe: gemm.c and ternary.c ask bnk_cpu_get()):
 * __builtin_cpu_supports (libgcc) already clears the AVX and AVX-512
 * features when the OS has not enabled their register state, but that is an
 * implementation detail, so the OS support is checked here too with
 * CPUID.OSXSAVE and XGETBV (XCR0 bits 1-2 for ymm, 5-7 for zmm). A set needs
 * every feature its objects are compiled with that the compiler may use on
 * its own (Makefile: avx2 -mavx2 -mfma -mf16c). AMX is asked last: CPUID leaf
 * 7 for AMX-TILE and AMX-INT8, then Linux (5.16+) must grant the dynamically
 * enabled tile data state (arch_prctl ARCH_REQ_XCOMP_PERM) - requested only
 * on a CPU that has AMX. This file is compiled without ISA flags; XGETBV is
 * only executed when OSXSAVE says the instruction exists.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define BNK_X86 1
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_red.h"
#else
#define BNK_X86 0
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "bitnet/kernels.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

/* The row kernels of bnk_table are pointers from `name` up to `sgemm` (6
 * op-indexed arrays and the single kernels); a new one needs its line in
 * complete() too. */
#define BNK_TABLE_SINGLES 22
static_assert(offsetof(bnk_table, sgemm) ==
                  sizeof(void *) * (1 + 6 * BN_OP_COUNT + BNK_TABLE_SINGLES),
              "a new bnk_table row kernel needs its line in complete()");

static_assert(BN_OP_COUNT == 51, "a new op needs its entries in the kernel contexts");

static const bnk_table ref_table = {
    .name = "ref",
    .binary_f32 =
        {
            [BN_OP_ADD] = bnk_ref_add_f32,
            [BN_OP_SUB] = bnk_ref_sub_f32,
            [BN_OP_MUL] = bnk_ref_mul_f32,
            [BN_OP_DIV] = bnk_ref_div_f32,
            [BN_OP_REM] = bnk_ref_rem_f32,
            [BN_OP_POW] = bnk_ref_pow_f32,
            [BN_OP_MAXIMUM] = bnk_ref_maximum_f32,
            [BN_OP_MINIMUM] = bnk_ref_minimum_f32,
        },
    .binary_i32 =
        {
            [BN_OP_ADD] = bnk_ref_add_i32,
            [BN_OP_SUB] = bnk_ref_sub_i32,
            [BN_OP_MUL] = bnk_ref_mul_i32,
            [BN_OP_MAXIMUM] = bnk_ref_maximum_i32,
            [BN_OP_MINIMUM] = bnk_ref_minimum_i32,
        },
    .binary_i8 =
        {
            [BN_OP_ADD] = bnk_ref_add_i8,
            [BN_OP_SUB] = bnk_ref_sub_i8,
            [BN_OP_MUL] = bnk_ref_mul_i8,
            [BN_OP_MAXIMUM] = bnk_ref_maximum_i8,
            [BN_OP_MINIMUM] = bnk_ref_minimum_i8,
        },
    .unary_f32 =
        {
            [BN_OP_NEG] = bnk_ref_neg_f32,
            [BN_OP_ABS] = bnk_ref_abs_f32,
            [BN_OP_EXP] = bnk_ref_exp_f32,
            [BN_OP_LOG] = bnk_ref_log_f32,
            [BN_OP_SQRT] = bnk_ref_sqrt_f32,
            [BN_OP_RSQRT] = bnk_ref_rsqrt_f32,
            [BN_OP_SIN] = bnk_ref_sin_f32,
            [BN_OP_COS] = bnk_ref_cos_f32,
            [BN_OP_TANH] = bnk_ref_tanh_f32,
            [BN_OP_SIGMOID] = bnk_ref_sigmoid_f32,
            [BN_OP_RELU] = bnk_ref_relu_f32,
            [BN_OP_RELU2] = bnk_ref_relu2_f32,
            [BN_OP_GELU] = bnk_ref_gelu_f32,
            [BN_OP_GELU_TANH] = bnk_ref_gelu_tanh_f32,
            [BN_OP_SILU] = bnk_ref_silu_f32,
        },
    .unary_i32 =
        {
            [BN_OP_NEG] = bnk_ref_neg_i32,
            [BN_OP_ABS] = bnk_ref_abs_i32,
            [BN_OP_RELU] = bnk_ref_relu_i32,
        },
    .unary_i8 =
        {
            [BN_OP_NEG] = bnk_ref_neg_i8,
            [BN_OP_ABS] = bnk_ref_abs_i8,
            [BN_OP_RELU] = bnk_ref_relu_i8,
        },
    .clamp_f32 = bnk_ref_clamp_f32,
    .clamp_i32 = bnk_ref_clamp_i32,
    .clamp_i8 = bnk_ref_clamp_i8,
    .sum_f32 = bnk_ref_sum_f32,
    .sumsq_f32 = bnk_ref_sumsq_f32,
    .sumsqdev_f32 = bnk_ref_sumsqdev_f32,
    .prod_f32 = bnk_ref_prod_f32,
    .min_f32 = bnk_ref_min_f32,
    .max_f32 = bnk_ref_max_f32,
    .argmin_f32 = bnk_ref_argmin_f32,
    .argmax_f32 = bnk_ref_argmax_f32,
    .softmax_f32 = bnk_ref_softmax_f32,
    .log_softmax_f32 = bnk_ref_log_softmax_f32,
    .rmsnorm_f32 = bnk_ref_rmsnorm_f32,
    .rmsnorm_rows_f32 = bnk_ref_rmsnorm_rows_f32,
    .layernorm_f32 = bnk_ref_layernorm_f32,
    .gemm_f32 = bnk_ref_gemm_f32,
    .fma_f32 = bnk_ref_fma_f32,
    .f16_to_f32 = bnk_ref_f16_to_f32,
    .f32_to_f16 = bnk_ref_f32_to_f16,
    .bf16_to_f32 = bnk_ref_bf16_to_f32,
    .f32_to_bf16 = bnk_ref_f32_to_bf16,
    .sgemm = &bnk_gemm_impls[BNK_GEMM_REF],
    .ternary = &bnk_ternary_impls[BNK_TERNARY_REF],
    .linalg = &bnk_linalg_ref,
    .isa = BNK_ISA_REF,
};

#if BNK_X86
/* Partial contexts: row kernels not listed are the reference's. */
static const bnk_table avx2_partial = {
    .name = "avx2",
    .binary_f32 =
        {
            [BN_OP_ADD] = bnk_avx2_add_f32,
            [BN_OP_SUB] = bnk_avx2_sub_f32,
            [BN_OP_MUL] = bnk_avx2_mul_f32,
            [BN_OP_DIV] = bnk_avx2_div_f32,
            [BN_OP_MAXIMUM] = bnk_avx2_maximum_f32,
            [BN_OP_MINIMUM] = bnk_avx2_minimum_f32,
        },
    .unary_f32 =
        {
            [BN_OP_NEG] = bnk_avx2_neg_f32,
            [BN_OP_ABS] = bnk_avx2_abs_f32,
            [BN_OP_EXP] = bnk_avx2_exp_f32,
            [BN_OP_LOG] = bnk_avx2_log_f32,
            [BN_OP_TANH] = bnk_avx2_tanh_f32,
            [BN_OP_SIGMOID] = bnk_avx2_sigmoid_f32,
            [BN_OP_RELU] = bnk_avx2_relu_f32,
            [BN_OP_RELU2] = bnk_avx2_relu2_f32,
            [BN_OP_GELU] = bnk_avx2_gelu_f32,
            [BN_OP_GELU_TANH] = bnk_avx2_gelu_tanh_f32,
            [BN_OP_SILU] = bnk_avx2_silu_f32,
        },
    .sum_f32 = bnk_avx2_sum_f32,
    .sumsq_f32 = bnk_avx2_sumsq_f32,
    .sumsqdev_f32 = bnk_avx2_sumsqdev_f32,
    .min_f32 = bnk_avx2_min_f32,
    .max_f32 = bnk_avx2_max_f32,
    .softmax_f32 = bnk_avx2_softmax_f32,
    .log_softmax_f32 = bnk_avx2_log_softmax_f32,
    .rmsnorm_f32 = bnk_avx2_rmsnorm_f32,
    .rmsnorm_rows_f32 = bnk_avx2_rmsnorm_rows_f32,
    .layernorm_f32 = bnk_avx2_layernorm_f32,
    .fma_f32 = bnk_avx2_fma_f32,
    .f16_to_f32 = bnk_avx2_f16_to_f32,
    .f32_to_f16 = bnk_avx2_f32_to_f16,
    .bf16_to_f32 = bnk_avx2_bf16_to_f32,
    .f32_to_bf16 = bnk_avx2_f32_to_bf16,
    .sgemm = &bnk_gemm_impls[BNK_GEMM_AVX2],
    .ternary = &bnk_ternary_impls[BNK_TERNARY_AVX2],
    .linalg = &bnk_linalg_avx2,
    .isa = BNK_ISA_AVX2,
};

static const bnk_table avx512_partial = {
    .name = "avx512",
    .binary_f32 =
        {
            [BN_OP_ADD] = bnk_avx512_add_f32,
            [BN_OP_SUB] = bnk_avx512_sub_f32,
            [BN_OP_MUL] = bnk_avx512_mul_f32,
            [BN_OP_DIV] = bnk_avx512_div_f32,
            [BN_OP_MAXIMUM] = bnk_avx512_maximum_f32,
            [BN_OP_MINIMUM] = bnk_avx512_minimum_f32,
        },
    .unary_f32 =
        {
            [BN_OP_NEG] = bnk_avx512_neg_f32,
            [BN_OP_ABS] = bnk_avx512_abs_f32,
            [BN_OP_EXP] = bnk_avx512_exp_f32,
            [BN_OP_LOG] = bnk_avx512_log_f32,
            [BN_OP_TANH] = bnk_avx512_tanh_f32,
            [BN_OP_SIGMOID] = bnk_avx512_sigmoid_f32,
            [BN_OP_RELU] = bnk_avx512_relu_f32,
            [BN_OP_RELU2] = bnk_avx512_relu2_f32,
            [BN_OP_GELU] = bnk_avx512_gelu_f32,
            [BN_OP_GELU_TANH] = bnk_avx512_gelu_tanh_f32,
            [BN_OP_SILU] = bnk_avx512_silu_f32,
        },
    .sum_f32 = bnk_avx512_sum_f32,
    .sumsq_f32 = bnk_avx512_sumsq_f32,
    .sumsqdev_f32 = bnk_avx512_sumsqdev_f32,
    .min_f32 = bnk_avx512_min_f32,
    .max_f32 = bnk_avx512_max_f32,
    .softmax_f32 = bnk_avx512_softmax_f32,
    .log_softmax_f32 = bnk_avx512_log_softmax_f32,
    .rmsnorm_f32 = bnk_avx512_rmsnorm_f32,
    .rmsnorm_rows_f32 = bnk_avx512_rmsnorm_rows_f32,
    .layernorm_f32 = bnk_avx512_layernorm_f32,
    .fma_f32 = bnk_avx512_fma_f32,
    .f16_to_f32 = bnk_avx512_f16_to_f32,
    .f32_to_f16 = bnk_avx512_f32_to_f16,
    .bf16_to_f32 = bnk_avx512_bf16_to_f32,
    .f32_to_bf16 = bnk_avx512_f32_to_bf16,
    .sgemm = &bnk_gemm_impls[BNK_GEMM_AVX512],
    .ternary = NULL, /* amx, avx512 or avx2: chosen by init() from the probe */
    .linalg = &bnk_linalg_avx512,
    .isa = BNK_ISA_AVX512,
};
#endif

static const char *const isa_names[BNK_ISA_COUNT] = {
    [BNK_ISA_REF] = "ref",
    [BNK_ISA_AVX2] = "avx2",
    [BNK_ISA_AVX512] = "avx512",
};

static struct {
    pthread_once_t once;
    pthread_mutex_t lock;            /* env_status, env_msg, how_str */
    bnk_cpu cpu;                     /* the probe's answers */
    bnk_table tables[BNK_ISA_COUNT]; /* complete; valid where supported[] */
    bool supported[BNK_ISA_COUNT];
    char supported_str[64];
    bnk_isa best;
    _Atomic(int) active;     /* bnk_isa */
    _Atomic(int) how;        /* HOW_* */
    _Atomic(int) env_status; /* bn_status of BN_KERNELS */
    _Atomic(int) warned;     /* the env error was logged or handed to the caller */
    char env_msg[256];       /* its message */
    char how_str[96];        /* "forced (BN_KERNELS=avx2)" */
    char auto_str[96];       /* "auto", or "auto (BN_CPU_HIDE=avx512)" */
} R = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER};

enum { HOW_AUTO, HOW_ENV, HOW_SELECT };

const char *bnk_isa_name(bnk_isa isa)
{
    BN_ASSERT((int)isa >= 0 && isa < BNK_ISA_COUNT);
    return isa_names[isa];
}

bn_status bnk_isa_from_name(const char *name, bnk_isa *isa)
{
    for (int i = 0; name && i < BNK_ISA_COUNT; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            *isa = (bnk_isa)i;
            return BN_OK;
        }
    }
    return bn_error(BN_ERR_ARG, "unknown kernel set \"%s\" (valid: ref, avx2, avx512)",
                    name ? name : "(null)");
}

#if BNK_X86
/* XCR0 when the OS has enabled XSAVE (so XGETBV exists), else 0. */
static uint64_t xcr0(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA  18

/* AMX (needs cpu->avx512_vnni decided): sets cpu->amx and cpu->amx_why. */
static void probe_amx(bnk_cpu *cpu)
{
    cpu->amx = false;
#if defined(__x86_64__) && defined(__linux__) && defined(SYS_arch_prctl)
    unsigned a, b, c, d;
    if (!cpu->avx512_vnni) {
        snprintf(cpu->amx_why, sizeof cpu->amx_why,
                 "CPU lacks AVX-512 VNNI (CPUID), which the amx set uses for n < 16");
        return;
    }
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) {
        snprintf(cpu->amx_why, sizeof cpu->amx_why,
                 "CPU lacks AMX-TILE/AMX-INT8 (CPUID leaf 7 EDX bits 24, 25)");
        return;
    }
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        snprintf(cpu->amx_why, sizeof cpu->amx_why,
                 "kernel refused tile data permission (arch_prctl: %s)", strerror(errno));
        return;
    }
    unsigned long mask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &mask) != 0 ||
        !(mask & (1ul << XFEATURE_XTILEDATA))) {
        snprintf(cpu->amx_why, sizeof cpu->amx_why,
                 "tile data permission not in the granted mask 0x%lx", mask);
        return;
    }
    cpu->amx = true;
    snprintf(cpu->amx_why, sizeof cpu->amx_why, "available");
#else
    snprintf(cpu->amx_why, sizeof cpu->amx_why, "AMX needs x86-64 Linux");
#endif
}

/* BN_CPU_HIDE: features the probe reports absent although the CPU has
 * them, so any machine can run the "not supported" paths for real (CI runs
 * the tests as a CPU without AVX2 this way). A comma-separated list of avx2,
 * avx512, vnni, amx; hiding a feature hides every feature that builds on it
 * (avx2 hides all four). An unknown name is an error kept for
 * bn_kernels_init(), like a bad BN_KERNELS, and hides nothing. Returns the
 * hide mask (bits HIDE_*). */
enum { HIDE_AVX2 = 1, HIDE_AVX512 = 2, HIDE_VNNI = 4, HIDE_AMX = 8 };

static int hide_from_env(bnk_cpu *cpu)
{
    static const struct {
        const char *name;
        int mask; /* the feature and those that need it */
    } names[] = {{"avx2", HIDE_AVX2 | HIDE_AVX512 | HIDE_VNNI | HIDE_AMX},
                 {"avx512", HIDE_AVX512 | HIDE_VNNI | HIDE_AMX},
                 {"vnni", HIDE_VNNI | HIDE_AMX},
                 {"amx", HIDE_AMX}};
    const char *env = getenv("BN_CPU_HIDE");
    if (!env || !*env)
        return 0;
    int mask = 0;
    for (const char *p = env; *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
            if (n == strlen(names[i].name) && !strncmp(p, names[i].name, n))
                found = i;
        if (found < 0) {
            snprintf(cpu->hide_error, sizeof cpu->hide_error,
                     "BN_CPU_HIDE=%.64s: unknown feature \"%.*s\" (valid: avx2, avx512, vnni, "
                     "amx, comma-separated)",
                     env, (int)(n > 32 ? 32 : n), p);
            return 0;
        }
        mask |= names[found].mask;
        p += n + (p[n] == ',');
    }
    snprintf(cpu->hidden, sizeof cpu->hidden, "%.63s", env);
    return mask;
}

/* The CPU and OS support of every set (called once, from init). */
static void probe(bnk_cpu *cpu)
{
    memset(cpu, 0, sizeof *cpu);
    int hide = hide_from_env(cpu);
#if BNK_X86
    __builtin_cpu_init();
    uint64_t x = xcr0();
    bool ymm_os = (x & 0x6) == 0x6;   /* SSE + AVX state */
    bool zmm_os = (x & 0xe6) == 0xe6; /* + opmask, ZMM_Hi256, Hi16_ZMM */
    cpu->avx2 = !(hide & HIDE_AVX2) && ymm_os && __builtin_cpu_supports("avx2") &&
                __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    cpu->avx512 = !(hide & HIDE_AVX512) && cpu->avx2 && zmm_os &&
                  __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    cpu->avx512_vnni = !(hide & HIDE_VNNI) && cpu->avx512 && __builtin_cpu_supports("avx512vnni");
#endif
    if (hide & HIDE_AMX)
        snprintf(cpu->amx_why, sizeof cpu->amx_why, "hidden by BN_CPU_HIDE=%s", cpu->hidden);
    else
        probe_amx(cpu);
}

/* t: a partial context; fills every NULL row kernel from the reference. */
static void complete(bnk_table *t)
{
    const bnk_table *r = &ref_table;
    for (int i = 0; i < BN_OP_COUNT; i++) {
#define FILL_ARR(f)                                                                                \
    if (!t->f[i])                                                                                  \
        t->f[i] = r->f[i];
        FILL_ARR(binary_f32)
        FILL_ARR(binary_i32)
        FILL_ARR(binary_i8)
        FILL_ARR(unary_f32)
        FILL_ARR(unary_i32)
        FILL_ARR(unary_i8)
#undef FILL_ARR
    }
#define FILL(f)                                                                                    \
    if (!t->f)                                                                                     \
        t->f = r->f;
    FILL(clamp_f32)
    FILL(clamp_i32)
    FILL(clamp_i8)
    FILL(sum_f32)
    FILL(sumsq_f32)
    FILL(sumsqdev_f32)
    FILL(prod_f32)
    FILL(min_f32)
    FILL(max_f32)
    FILL(argmin_f32)
    FILL(argmax_f32)
    FILL(softmax_f32)
    FILL(log_softmax_f32)
    FILL(rmsnorm_f32)
    FILL(rmsnorm_rows_f32)
    FILL(layernorm_f32)
    FILL(gemm_f32)
    FILL(fma_f32)
    FILL(f16_to_f32)
    FILL(f32_to_f16)
    FILL(bf16_to_f32)
    FILL(f32_to_bf16)
#undef FILL
}

static bool verbose(void)
{
    const char *v = getenv("BN_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* Chooses the active set from BN_KERNELS (or automatically) and records
 * how; R.lock held. */
static void choose_locked(void)
{
    bnk_isa pick = R.best;
    int how = HOW_AUTO;
    R.env_status = BN_OK;
    R.env_msg[0] = 0;
    snprintf(R.how_str, sizeof R.how_str, "auto");
    const char *env = getenv("BN_KERNELS");
    if (env && *env) {
        bnk_isa want;
        if (bnk_isa_from_name(env, &want) != BN_OK) {
            R.env_status = BN_ERR_ARG;
            snprintf(R.env_msg, sizeof R.env_msg,
                     "BN_KERNELS=%.32s: unknown kernel set (valid: ref, avx2, avx512)", env);
        } else if (!R.supported[want]) {
            R.env_status = BN_ERR_UNSUPPORTED;
            snprintf(R.env_msg, sizeof R.env_msg,
                     "BN_KERNELS=%s: this CPU does not support the %s kernel set (supported: %s)",
                     env, env, R.supported_str);
        } else {
            pick = want;
            how = HOW_ENV;
            snprintf(R.how_str, sizeof R.how_str, "forced (BN_KERNELS=%s)", env);
        }
    }
    atomic_store(&R.warned, 0);
    atomic_store(&R.active, (int)pick);
    atomic_store(&R.how, how);
    if (verbose())
        fprintf(stderr, "bitnet: kernels %s (%s; supported: %s)\n", isa_names[pick], R.how_str,
                R.supported_str);
}

/* The avx512 set's ternary kernels: amx where the CPU and OS allow it,
 * else the VNNI kernels, else the avx2 ones (the set itself needs no VNNI). */
static const bnk_ternary_impl *avx512_ternary(const bnk_cpu *cpu)
{
    if (cpu->amx)
        return &bnk_ternary_impls[BNK_TERNARY_AMX];
    if (cpu->avx512_vnni)
        return &bnk_ternary_impls[BNK_TERNARY_AVX512];
    return &bnk_ternary_impls[BNK_TERNARY_AVX2];
}

static void init(void)
{
    probe(&R.cpu);
    if (R.cpu.hidden[0])
        snprintf(R.auto_str, sizeof R.auto_str, "auto (BN_CPU_HIDE=%s)", R.cpu.hidden);
    else
        snprintf(R.auto_str, sizeof R.auto_str, "auto");
    R.supported[BNK_ISA_REF] = true;
    R.supported[BNK_ISA_AVX2] = R.cpu.avx2;
    R.supported[BNK_ISA_AVX512] = R.cpu.avx512;
    R.tables[BNK_ISA_REF] = ref_table;
#if BNK_X86
    R.tables[BNK_ISA_AVX2] = avx2_partial;
    R.tables[BNK_ISA_AVX512] = avx512_partial;
    R.tables[BNK_ISA_AVX512].ternary = avx512_ternary(&R.cpu);
#endif
    for (int i = 1; i < BNK_ISA_COUNT; i++)
        complete(&R.tables[i]);
    R.best = BNK_ISA_REF;
    size_t len = 0;
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        if (!R.supported[i])
            continue;
        R.best = (bnk_isa)i;
        len += (size_t)snprintf(R.supported_str + len, sizeof R.supported_str - len, "%s%s",
                                len ? " " : "", isa_names[i]);
    }
    pthread_mutex_lock(&R.lock);
    choose_locked();
    pthread_mutex_unlock(&R.lock);
}

static void ensure_init(void)
{
    pthread_once(&R.once, init);
}

bool bnk_isa_supported(bnk_isa isa)
{
    if ((int)isa < 0 || isa >= BNK_ISA_COUNT)
        return false;
    ensure_init();
    return R.supported[isa];
}

const bnk_cpu *bnk_cpu_get(void)
{
    ensure_init();
    return &R.cpu;
}

const bnk_table *bnk_ref_table(void)
{
    return &ref_table;
}

const bnk_table *bnk_table_get(bnk_isa isa)
{
    if (!bnk_isa_supported(isa))
        return NULL;
    return &R.tables[isa];
}

/* A BN_KERNELS error nobody asked bn_kernels_init() about is logged once,
 * at the first use of the kernels. */
static void warn_once(void)
{
    if (atomic_load_explicit(&R.env_status, memory_order_relaxed) == BN_OK ||
        atomic_exchange(&R.warned, 1))
        return;
    pthread_mutex_lock(&R.lock);
    if (R.env_status)
        fprintf(stderr, "bitnet: %s; using %s\n", R.env_msg, isa_names[atomic_load(&R.active)]);
    pthread_mutex_unlock(&R.lock);
}

const bnk_table *bnk_active(void)
{
    ensure_init();
    warn_once();
    return &R.tables[atomic_load_explicit(&R.active, memory_order_acquire)];
}

bnk_isa bnk_active_isa(void)
{
    ensure_init();
    return (bnk_isa)atomic_load_explicit(&R.active, memory_order_acquire);
}

/* ---- public API (bitnet/kernels.h) -------------------------------------- */

void bnk__select_from_env(void)
{
    ensure_init();
    pthread_mutex_lock(&R.lock);
    choose_locked();
    pthread_mutex_unlock(&R.lock);
}

bn_status bn_kernels_init(void)
{
    ensure_init();
    pthread_mutex_lock(&R.lock);
    bn_status st = R.env_status;
    atomic_store(&R.warned, 1); /* the caller reports it */
    char msg[sizeof R.env_msg];
    memcpy(msg, R.env_msg, sizeof msg);
    pthread_mutex_unlock(&R.lock);
    if (R.cpu.hide_error[0])
        return bn_error(BN_ERR_ARG, "%s", R.cpu.hide_error);
    if (st)
        return bn_error(st, "%s", msg);
    return BN_OK;
}

const char *bn_kernels_selected(void)
{
    return isa_names[bnk_active_isa()];
}

const char *bn_kernels_supported(void)
{
    ensure_init();
    return R.supported_str;
}

bool bn_kernels_forced(void)
{
    ensure_init();
    return atomic_load(&R.how) != HOW_AUTO;
}

const char *bn_kernels_how(void)
{
    ensure_init();
    switch (atomic_load(&R.how)) {
    case HOW_ENV:
        return R.how_str; /* fixed between selections from the environment */
    case HOW_SELECT:
        return "forced (bn_kernels_select)";
    default:
        return R.auto_str; /* fixed after init */
    }
}

bn_status bn_kernels_select(const char *name)
{
    ensure_init();
    if (name == NULL || strcmp(name, "auto") == 0) {
        atomic_store(&R.active, (int)R.best);
        atomic_store(&R.how, HOW_AUTO);
        return BN_OK;
    }
    bnk_isa isa;
    bn_status st = bnk_isa_from_name(name, &isa);
    if (st)
        return bn_error(st,
                        "bn_kernels_select: unknown kernel set \"%s\" (valid: ref, avx2, "
                        "avx512, auto)",
                        name);
    if (!R.supported[isa])
        return bn_error(BN_ERR_UNSUPPORTED,
                        "bn_kernels_select: this CPU does not support the %s kernel set "
                        "(supported: %s)",
                        name, R.supported_str);
    atomic_store(&R.active, (int)isa);
    atomic_store(&R.how, HOW_SELECT);
    return BN_OK;
}

/* ---- streaming-store threshold ------------------------------------------ */

#define STREAM_DEFAULT_BYTES ((size_t)32 << 20)

/* The largest cache of cpu0 that sysfs lists (the last level), in bytes;
 * STREAM_DEFAULT_BYTES when sysfs is absent or unreadable. */
static size_t llc_bytes(void)
{
    size_t best = 0;
    for (int i = 0; i < 8; i++) {
        char path[80], buf[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        char *ok = fgets(buf, sizeof buf, f);
        fclose(f);
        char *end = NULL;
        unsigned long long v = ok ? strtoull(buf, &end, 10) : 0;
        if (end && *end == 'K')
            v <<= 10;
        else if (end && *end == 'M')
            v <<= 20;
        if (v > best)
            best = (size_t)v;
    }
    return best ? best : STREAM_DEFAULT_BYTES;
}

static _Atomic size_t stream_min; /* 0: not read yet */

size_t bnk_stream_min_bytes(void)
{
    size_t v = atomic_load_explicit(&stream_min, memory_order_relaxed);
    if (v == 0) {
        v = llc_bytes();
        atomic_store_explicit(&stream_min, v, memory_order_relaxed);
    }
    return v;
}

void bnk_set_stream_min_bytes(size_t bytes)
{
    atomic_store_explicit(&stream_min, bytes ? bytes : llc_bytes(), memory_order_relaxed);
}
