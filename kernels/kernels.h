/*
 * kernels.h - the kernel-set context: every inner loop one kernel set
 * provides, and the choice of the set the engine runs.
 *
 * The engine (engine/ops_*.c) does the shape work - broadcasting, walking
 * strided views row by row, widening f16/bf16 into f32 scratch rows - and
 * hands each innermost row to a function from this table. A row is `n`
 * elements with a stride per operand (in elements; 0 for a broadcast input).
 *
 * There is one context (bnk_table, as BLIS's cntx_t) per kernel set
 * (bnk_isa): the portable reference (kernels/ref/) and the x86 SIMD sets
 * (kernels/x86/avx2, kernels/x86/avx512). A context holds all of its set's
 * kernels: the element-wise and reduction rows below, the packed f32 GEMM
 * (kernels/gemm.h), the W1.58A8 ternary kernels (kernels/ternary.h; the
 * avx512 set takes amx where the CPU and OS allow it) and the linear-algebra
 * core (kernels/linalg.h). registry.c probes the CPU once (CPUID + XGETBV),
 * builds the contexts, fills every row kernel a SIMD set lacks from the
 * reference (so a context never has a NULL where the reference has a
 * kernel), and picks the active one (BN_KERNELS or automatic; switched at
 * run time by bn_kernels_select). Everything the engine runs - ops, matmul,
 * BitLinear and quantization, linalg - goes through bnk_active().
 *
 * Contract for every row kernel:
 *  - n >= 0; n == 0 touches no memory.
 *  - Input strides may be 0 (broadcast) or any positive value; output strides
 *    are >= 1 (the engine never writes through a broadcast view).
 *  - Outputs may alias an input element for element (same pointer, same
 *    stride: in-place ops); any other overlap is excluded by the engine.
 *  - No alignment is assumed.
 *  - Accuracy: the reference is the truth; other sets state their error
 *    against it in their own headers.
 *
 * Arrays indexed by bn_op have BN_OP_COUNT entries; an entry is NULL when the
 * op has no kernel of that kind.
 */
#ifndef BITNET_KERNELS_H
#define BITNET_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet/ops.h"
#include "kernels/gemm.h"
#include "kernels/linalg.h"
#include "kernels/ternary.h"

/* The kernel sets, in order of preference (a later one is faster where the
 * CPU has it). The names are the BN_KERNELS spellings. */
typedef enum bnk_isa { BNK_ISA_REF = 0, BNK_ISA_AVX2, BNK_ISA_AVX512, BNK_ISA_COUNT } bnk_isa;

/* y[i*sy] = a[i*sa] op b[i*sb] */
typedef void (*bnk_binary_f32_fn)(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                                  float *y, int64_t sy);
typedef void (*bnk_binary_i32_fn)(int64_t n, const int32_t *a, int64_t sa, const int32_t *b,
                                  int64_t sb, int32_t *y, int64_t sy);
typedef void (*bnk_binary_i8_fn)(int64_t n, const int8_t *a, int64_t sa, const int8_t *b,
                                 int64_t sb, int8_t *y, int64_t sy);
/* y[i*sy] = f(x[i*sx]) */
typedef void (*bnk_unary_f32_fn)(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
typedef void (*bnk_unary_i32_fn)(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy);
typedef void (*bnk_unary_i8_fn)(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy);
/* y = min(max(x, lo), hi), lo <= hi (NaN x stays NaN) */
typedef void (*bnk_clamp_f32_fn)(int64_t n, const float *x, int64_t sx, float *y, int64_t sy,
                                 float lo, float hi);
typedef void (*bnk_clamp_i32_fn)(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy,
                                 int32_t lo, int32_t hi);
typedef void (*bnk_clamp_i8_fn)(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy,
                                int8_t lo, int8_t hi);

/* Reductions of one strided row to a double (sums: pairwise, in double). */
typedef double (*bnk_reduce_f32_fn)(int64_t n, const float *x, int64_t sx);
/* sum over the row of (x - mean)^2, pairwise in double */
typedef double (*bnk_sumsqdev_f32_fn)(int64_t n, const float *x, int64_t sx, double mean);
/* index of the first min / max (NaN counts as the extreme: first NaN wins); n >= 1 */
typedef int64_t (*bnk_argreduce_f32_fn)(int64_t n, const float *x, int64_t sx);

/* softmax / log_softmax of one row (y may alias x element for element) */
typedef void (*bnk_softmax_f32_fn)(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
/* y = x / sqrt(mean(x^2) + eps) * w ; w may be NULL (then 1) */
typedef void (*bnk_rmsnorm_f32_fn)(int64_t n, const float *x, int64_t sx, const float *w,
                                   int64_t sw, float eps, float *y, int64_t sy);
/* rmsnorm of `rows` contiguous rows of n (row r at x + r ldx and y + r ldy,
 * w contiguous or NULL): each row exactly as the set's rmsnorm_f32 computes
 * it, same bits. One call sees the whole output, so a kernel can stream it
 * (bnk_stream_min_bytes) where a row at a time could not. */
typedef void (*bnk_rmsnorm_rows_f32_fn)(int64_t rows, int64_t n, const float *x, int64_t ldx,
                                        const float *w, float eps, float *y, int64_t ldy);
/* y = (x - mean) / sqrt(var + eps) * w + b ; w, b may be NULL (1, 0) */
typedef void (*bnk_layernorm_f32_fn)(int64_t n, const float *x, int64_t sx, const float *w,
                                     int64_t sw, const float *b, int64_t sb, float eps, float *y,
                                     int64_t sy);
/*
 * C[M,N] = A[M,K] * B[K,N] for one matrix, every operand with a row and a
 * column stride (so transposed views need no copy). C must not overlap A or
 * B. K == 0 writes zeros.
 */
typedef void (*bnk_gemm_f32_fn)(int64_t M, int64_t N, int64_t K, const float *a, int64_t sam,
                                int64_t sak, const float *b, int64_t sbk, int64_t sbn, float *c,
                                int64_t scm, int64_t scn);

/* y[i*sy] = fma(a[i*sa], b[i*sb], c[i*sc]) : a*b + c rounded once (C fmaf) */
typedef void (*bnk_fma_f32_fn)(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                               const float *c, int64_t sc, float *y, int64_t sy);
/*
 * Half-precision conversions of one row, bit-exact with bn_f16_to_f32 /
 * bn_f32_to_f16 / bn_bf16_to_f32 / bn_f32_to_bf16 (dtype.h: round to nearest
 * even, NaN kept quiet with its top payload bits, subnormals exact).
 * Widening: y[i] = f32(x[i*sx]), y contiguous. Narrowing: y[i*sy] = h(x[i]),
 * x contiguous. Buffers must not overlap.
 */
typedef void (*bnk_to_f32_fn)(int64_t n, const uint16_t *x, int64_t sx, float *y);
typedef void (*bnk_from_f32_fn)(int64_t n, const float *x, uint16_t *y, int64_t sy);

typedef struct bnk_table {
    /* -- row kernels (a SIMD set's missing ones are the reference's) */
    const char *name;                          /* "ref" */
    bnk_binary_f32_fn binary_f32[BN_OP_COUNT]; /* ADD .. MINIMUM */
    bnk_binary_i32_fn binary_i32[BN_OP_COUNT]; /* ADD, SUB, MUL, MAXIMUM, MINIMUM */
    bnk_binary_i8_fn binary_i8[BN_OP_COUNT];
    bnk_unary_f32_fn unary_f32[BN_OP_COUNT]; /* NEG .. SILU */
    bnk_unary_i32_fn unary_i32[BN_OP_COUNT]; /* NEG, ABS, RELU */
    bnk_unary_i8_fn unary_i8[BN_OP_COUNT];
    bnk_clamp_f32_fn clamp_f32;
    bnk_clamp_i32_fn clamp_i32;
    bnk_clamp_i8_fn clamp_i8;
    bnk_reduce_f32_fn sum_f32;   /* pairwise, double */
    bnk_reduce_f32_fn sumsq_f32; /* sum of x^2, pairwise, double */
    bnk_sumsqdev_f32_fn sumsqdev_f32;
    bnk_reduce_f32_fn prod_f32; /* product in double */
    bnk_reduce_f32_fn min_f32;  /* NaN propagates; n >= 1 */
    bnk_reduce_f32_fn max_f32;
    bnk_argreduce_f32_fn argmin_f32;
    bnk_argreduce_f32_fn argmax_f32;
    bnk_softmax_f32_fn softmax_f32;
    bnk_softmax_f32_fn log_softmax_f32;
    bnk_rmsnorm_f32_fn rmsnorm_f32;
    bnk_rmsnorm_rows_f32_fn rmsnorm_rows_f32;
    bnk_layernorm_f32_fn layernorm_f32;
    bnk_gemm_f32_fn gemm_f32; /* reference semantics (double accumulation) */
    bnk_fma_f32_fn fma_f32;
    bnk_to_f32_fn f16_to_f32;
    bnk_from_f32_fn f32_to_f16;
    bnk_to_f32_fn bf16_to_f32;
    bnk_from_f32_fn f32_to_bf16;
    /* -- the set's other kernels (never NULL; not filled from the reference) */
    const bnk_gemm_impl *sgemm;      /* packed f32 GEMM: linalg, matmul of SIMD sets */
    const bnk_ternary_impl *ternary; /* W1.58A8 product and activation kernels */
    const bnk_linalg *linalg;        /* LAPACK-style core behind bitnet/linalg.h */
    bnk_isa isa;                     /* the set this context is */
} bnk_table;

/*
 * Streaming stores. A contiguous output of at least bnk_stream_min_bytes()
 * written by one call of an element-wise kernel (binary, fma, unary) is
 * written with non-temporal stores: it cannot stay in the caches anyway,
 * and streaming saves the read of every destination line a normal store
 * does first (a third of the traffic of c = a + b). The default is the size
 * of the last-level cache as sysfs reports it (32 MiB where it cannot be
 * read); bnk_set_stream_min_bytes(0) restores it. Results are the same
 * bits either way; tests lower the threshold to run both paths.
 */
size_t bnk_stream_min_bytes(void);
void bnk_set_stream_min_bytes(size_t bytes);

/* Whether n floats at y take the streaming path (y must be float aligned). */
static inline bool bnk_streams(int64_t n, const float *y)
{
    return n > 0 && (size_t)n * sizeof(float) >= bnk_stream_min_bytes() && ((uintptr_t)y & 3) == 0;
}

/* Floats before y reaches a 64-byte boundary (0..15; y float aligned). */
static inline int64_t bnk_head64(const float *y)
{
    return (int64_t)((64 - ((uintptr_t)y & 63)) & 63) / (int64_t)sizeof(float);
}

/* "ref", "avx2", "avx512"; BN_ASSERTs isa is valid. */
const char *bnk_isa_name(bnk_isa isa);

/* true when this CPU and its OS can run the set: avx2 needs AVX2 + FMA + F16C,
 * avx512 needs AVX-512 F/BW/VL/DQ (plus the avx2 set's features); both need
 * the OS to save the wider registers (XGETBV). ref is always supported.
 * Thread-safe; false for an invalid isa. */
bool bnk_isa_supported(bnk_isa isa);

/* What the CPU probe found: the one place the library asks CPUID (gemm.c and
 * ternary.c read it too). Each flag includes the OS support of the registers
 * and every flag above it. */
typedef struct bnk_cpu {
    bool avx2;            /* AVX2 + FMA + F16C, ymm state on: the avx2 set */
    bool avx512;          /* + AVX-512 F/BW/VL/DQ, zmm state on: the avx512 set */
    bool avx512_vnni;     /* + AVX-512 VNNI: the ternary avx512 kernels */
    bool amx;             /* + AMX-TILE/AMX-INT8, tile data granted by Linux */
    char amx_why[160];    /* "available", or why amx is not */
    char hidden[64];      /* BN_CPU_HIDE as applied ("" = none) */
    char hide_error[160]; /* a bad BN_CPU_HIDE, for bn_kernels_init ("" = none) */
} bnk_cpu;

/* The probe's answers (it runs once, on first use of any kernel API; on a
 * CPU with AMX that includes asking Linux for the tile data permission).
 * Never NULL; thread-safe. */
const bnk_cpu *bnk_cpu_get(void);

/* The portable reference table (kernels/ref/). Never NULL. */
const bnk_table *bnk_ref_table(void);

/*
 * The complete table of set isa (entries the set has no kernel for are the
 * reference's), or NULL when the CPU does not support it (or isa is invalid).
 * Tables live for the whole process. Thread-safe. This is how tests and
 * suites run one set against the reference in the same process.
 */
const bnk_table *bnk_table_get(bnk_isa isa);

/* The set called name ("ref", "avx2", "avx512"): BN_OK and *isa, or
 * BN_ERR_ARG for an unknown name (message lists the valid names). Says
 * nothing about CPU support. */
bn_status bnk_isa_from_name(const char *name, bnk_isa *isa);

/* The table the engine uses: the one bn_kernels_init() chose (it runs on
 * first use). Never NULL; thread-safe; cheap (one atomic load after init). */
const bnk_table *bnk_active(void);

/* The set behind bnk_active(). */
bnk_isa bnk_active_isa(void);

/* Runs the BN_KERNELS selection again, as at first use (tests: selection
 * from the environment happens once per process otherwise). Logs and
 * records errors exactly as the first selection does. Must not race with
 * bn_kernels_how(). */
void bnk__select_from_env(void);

#endif
