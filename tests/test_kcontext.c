/*
 * test_kcontext.c - the kernel-set contexts (kernels/kernels.h): one CPU
 * probe, one context per set holding every kernel family, and one selection
 * (BN_KERNELS, bn_kernels_select) that the engine's ops, matmul, ternary
 * kernels and linear algebra all obey.
 *
 * What is pinned:
 *  - the probe is consistent (each level implies the one below, avx2
 *    includes F16C) and is the one every kernel table asks (GEMM and ternary
 *    availability equal the probe's answers);
 *  - each context holds its own set's kernels: the ref context the reference
 *    GEMM, ternary and linalg tables; avx2 / avx512 their own (the x86 row
 *    kernels by their full names), the avx512 set's ternary kernels being
 *    amx, avx512 or avx2 as the probe allows;
 *  - selecting a set (BN_KERNELS=ref through the environment, or
 *    bn_kernels_select) switches the engine's linalg and GEMM: bn_lu and
 *    bn_matmul give the bits of the selected set's kernels called directly
 *    (LU f32 and f64 at n = 150, beyond one 64-column panel, so the blocked
 *    code and its GEMMs run). Where the ref and avx512 kernels give
 *    different bits on these inputs (logged when they do not), that proves
 *    which set ran;
 *  - the op-kind table agrees with the kernel arrays and replaces the enum
 *    ranges in the ops' argument checks.
 * SIMD sets the CPU lacks are skipped with the reason.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_red.h"

/* ---- probe ------------------------------------------------------------- */

Test(kcontext, one_probe_consistent_everywhere)
{
    const bnk_cpu *c = bnk_cpu_get();
    cr_assert_not_null(c);
    cr_assert(!c->avx512 || c->avx2);
    cr_assert(!c->avx512_vnni || c->avx512);
    cr_assert(!c->amx || c->avx512_vnni);
    cr_assert_eq(c->amx, strcmp(c->amx_why, "available") == 0, "amx %d: %s", c->amx, c->amx_why);
    cr_assert_eq(bnk_isa_supported(BNK_ISA_AVX2), c->avx2);
    cr_assert_eq(bnk_isa_supported(BNK_ISA_AVX512), c->avx512);
    __builtin_cpu_init();
    if (c->avx2)
        cr_assert(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("f16c"));
    /* the GEMM and ternary tables ask the same probe */
    cr_assert_eq(bnk_gemm_impls[BNK_GEMM_REF].available(), 1);
    cr_assert_eq(bnk_gemm_impls[BNK_GEMM_AVX2].available() != 0, c->avx2);
    cr_assert_eq(bnk_gemm_impls[BNK_GEMM_AVX512].available() != 0, c->avx512);
    cr_assert_eq(bnk_ternary_impls[BNK_TERNARY_REF].available(), 1);
    cr_assert_eq(bnk_ternary_impls[BNK_TERNARY_AVX2].available() != 0, c->avx2);
    cr_assert_eq(bnk_ternary_impls[BNK_TERNARY_AVX512].available() != 0, c->avx512_vnni);
    cr_assert_eq(bnk_ternary_impls[BNK_TERNARY_AMX].available() != 0, c->amx);
    cr_assert_eq(bnk_ternary_amx_status(), c->amx_why);
}

/* ---- contexts ---------------------------------------------------------- */

/* t holds a kernel wherever the reference has one, and its other families. */
static void assert_complete(const bnk_table *t)
{
    const bnk_table *r = bnk_ref_table();
    for (int op = 0; op < BN_OP_COUNT; op++) {
        cr_assert_eq(t->binary_f32[op] != NULL, r->binary_f32[op] != NULL, "%s %s", t->name,
                     bn_op_name((bn_op)op));
        cr_assert_eq(t->unary_f32[op] != NULL, r->unary_f32[op] != NULL, "%s %s", t->name,
                     bn_op_name((bn_op)op));
    }
    cr_assert(t->sum_f32 && t->rmsnorm_rows_f32 && t->gemm_f32 && t->f32_to_bf16, "%s", t->name);
    cr_assert_not_null(t->sgemm, "%s", t->name);
    cr_assert_not_null(t->ternary, "%s", t->name);
    cr_assert_not_null(t->linalg, "%s", t->name);
    cr_assert_str_eq(t->sgemm->name, t->name);
    cr_assert_str_eq(t->linalg->name, t->name);
    cr_assert_str_eq(t->name, bnk_isa_name(t->isa));
}

Test(kcontext, ref_context_holds_the_reference_of_every_family)
{
    const bnk_table *t = bnk_table_get(BNK_ISA_REF);
    cr_assert_not_null(t);
    assert_complete(t);
    cr_assert_eq(t->isa, BNK_ISA_REF);
    cr_assert_eq(t->binary_f32[BN_OP_ADD], bnk_ref_add_f32);
    cr_assert_eq(t->sum_f32, bnk_ref_sum_f32);
    cr_assert_eq(t->gemm_f32, bnk_ref_gemm_f32);
    cr_assert_eq(t->sgemm, &bnk_gemm_impls[BNK_GEMM_REF]);
    cr_assert_eq(t->sgemm->sgemm, bnk_sgemm_ref);
    cr_assert_eq(t->ternary, &bnk_ternary_impls[BNK_TERNARY_REF]);
    cr_assert_eq(t->ternary->gemm, bnk_t2k_gemm_ref);
    cr_assert_eq(t->linalg, &bnk_linalg_ref);
    cr_assert_eq(bnk_ref_table()->linalg, &bnk_linalg_ref);
}

Test(kcontext, avx2_context_holds_the_avx2_kernels)
{
    if (!bnk_isa_supported(BNK_ISA_AVX2))
        cr_skip("avx2 kernel set not supported here (needs AVX2, FMA, F16C)");
    const bnk_table *t = bnk_table_get(BNK_ISA_AVX2);
    assert_complete(t);
    cr_assert_eq(t->isa, BNK_ISA_AVX2);
    cr_assert_eq(t->binary_f32[BN_OP_ADD], bnk_avx2_add_f32);
    cr_assert_eq(t->binary_f32[BN_OP_MINIMUM], bnk_avx2_minimum_f32);
    cr_assert_eq(t->binary_f32[BN_OP_REM], bnk_ref_rem_f32, "a kernel avx2 lacks is the ref's");
    cr_assert_eq(t->unary_f32[BN_OP_EXP], bnk_avx2_exp_f32);
    cr_assert_eq(t->unary_f32[BN_OP_SIN], bnk_ref_sin_f32);
    cr_assert_eq(t->sum_f32, bnk_avx2_sum_f32);
    cr_assert_eq(t->layernorm_f32, bnk_avx2_layernorm_f32);
    cr_assert_eq(t->f16_to_f32, bnk_avx2_f16_to_f32);
    cr_assert_eq(t->sgemm, &bnk_gemm_impls[BNK_GEMM_AVX2]);
    cr_assert_eq(t->sgemm->sgemm, bnk_sgemm_avx2);
    cr_assert_eq(t->ternary, &bnk_ternary_impls[BNK_TERNARY_AVX2]);
    cr_assert_eq(t->linalg, &bnk_linalg_avx2);
}

Test(kcontext, avx512_context_holds_the_avx512_kernels)
{
    if (!bnk_isa_supported(BNK_ISA_AVX512))
        cr_skip("avx512 kernel set not supported here (needs AVX-512 F/BW/VL/DQ)");
    const bnk_table *t = bnk_table_get(BNK_ISA_AVX512);
    const bnk_cpu *c = bnk_cpu_get();
    assert_complete(t);
    cr_assert_eq(t->isa, BNK_ISA_AVX512);
    cr_assert_eq(t->binary_f32[BN_OP_ADD], bnk_avx512_add_f32);
    cr_assert_eq(t->unary_f32[BN_OP_GELU], bnk_avx512_gelu_f32);
    cr_assert_eq(t->softmax_f32, bnk_avx512_softmax_f32);
    cr_assert_eq(t->sgemm, &bnk_gemm_impls[BNK_GEMM_AVX512]);
    cr_assert_eq(t->sgemm->sgemm, bnk_sgemm_avx512);
    cr_assert_eq(t->linalg, &bnk_linalg_avx512);
    bnk_ternary_isa want = c->amx           ? BNK_TERNARY_AMX
                           : c->avx512_vnni ? BNK_TERNARY_AVX512
                                            : BNK_TERNARY_AVX2;
    cr_assert_eq(t->ternary, &bnk_ternary_impls[want], "ternary %s, want %s", t->ternary->name,
                 bnk_ternary_impls[want].name);
}

/* ---- the selection governs every family -------------------------------- */

#define LU_N 150

/* A diagonally weighted random n x n matrix, row-major, as f64 and f32. */
static void lu_input(double *a, float *af)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < LU_N * LU_N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        if (i / LU_N == i % LU_N)
            a[i] += 2.0;
        af[i] = (float)a[i];
        a[i] = (double)af[i];
    }
}

/* getrf of set t's linalg table on the row-major matrix (column-major
 * copy, as engine/linalg.c loads it): the LU back in row-major order. */
typedef struct lu_result {
    double lu[LU_N * LU_N];
    float luf[LU_N * LU_N];
    int32_t piv[LU_N], pivf[LU_N];
} lu_result;

static void lu_direct(const bnk_table *t, const double *a, const float *af, lu_result *r)
{
    double *w = malloc(sizeof(double) * LU_N * LU_N);
    float *wf = malloc(sizeof(float) * LU_N * LU_N);
    double *dpack = aligned_alloc(64, sizeof(double) * BNK_LA_DPACK);
    cr_assert(w && wf && dpack);
    for (int i = 0; i < LU_N; i++)
        for (int j = 0; j < LU_N; j++) {
            w[i + j * LU_N] = a[i * LU_N + j];
            wf[i + j * LU_N] = af[i * LU_N + j];
        }
    bnk_la_ctx ctx = {.sgemm = t->sgemm->sgemm, .sws = NULL, .dpack = dpack};
    cr_assert_eq(t->linalg->getrf_f64(&ctx, LU_N, LU_N, w, LU_N, r->piv), -1);
    cr_assert_eq(t->linalg->getrf_f32(&ctx, LU_N, LU_N, wf, LU_N, r->pivf), -1);
    for (int i = 0; i < LU_N; i++)
        for (int j = 0; j < LU_N; j++) {
            r->lu[i * LU_N + j] = w[i + j * LU_N];
            r->luf[i * LU_N + j] = wf[i + j * LU_N];
        }
    free(w);
    free(wf);
    free(dpack);
}

/* bn_lu through the engine (whatever set is active). */
static void lu_engine(const double *a, const float *af, lu_result *r)
{
    int64_t shape[2] = {LU_N, LU_N};
    bn_tensor *ta = NULL, *taf = NULL, *lu = NULL, *piv = NULL;
    cr_assert_eq(bn_tensor_from_data(BN_F64, 2, shape, a, &ta), BN_OK);
    cr_assert_eq(bn_tensor_from_data(BN_F32, 2, shape, af, &taf), BN_OK);
    cr_assert_eq(bn_lu(ta, &lu, &piv), BN_OK, "%s", bn_last_error());
    memcpy(r->lu, bn_tensor_data(lu), sizeof r->lu);
    memcpy(r->piv, bn_tensor_data(piv), sizeof r->piv);
    bn_tensor_free(lu);
    bn_tensor_free(piv);
    cr_assert_eq(bn_lu(taf, &lu, &piv), BN_OK, "%s", bn_last_error());
    memcpy(r->luf, bn_tensor_data(lu), sizeof r->luf);
    memcpy(r->pivf, bn_tensor_data(piv), sizeof r->pivf);
    bn_tensor_free(lu);
    bn_tensor_free(piv);
    bn_tensor_free(ta);
    bn_tensor_free(taf);
}

static bool same_lu(const lu_result *x, const lu_result *y)
{
    return memcmp(x->lu, y->lu, sizeof x->lu) == 0 && memcmp(x->luf, y->luf, sizeof x->luf) == 0 &&
           memcmp(x->piv, y->piv, sizeof x->piv) == 0 &&
           memcmp(x->pivf, y->pivf, sizeof x->pivf) == 0;
}

/* The engine's bn_lu equals set isa's kernels called directly. */
static void assert_engine_lu_is(bnk_isa isa, const double *a, const float *af)
{
    static lu_result want, got;
    lu_direct(bnk_table_get(isa), a, af, &want);
    lu_engine(a, af, &got);
    cr_assert(memcmp(got.lu, want.lu, sizeof got.lu) == 0, "f64 LU is not the %s set's",
              bnk_isa_name(isa));
    cr_assert(memcmp(got.luf, want.luf, sizeof got.luf) == 0, "f32 LU is not the %s set's",
              bnk_isa_name(isa));
    cr_assert(memcmp(got.piv, want.piv, sizeof got.piv) == 0);
    cr_assert(memcmp(got.pivf, want.pivf, sizeof got.pivf) == 0);
}

/* Restores the selection the process started with. */
static void restore_env(const char *saved)
{
    if (saved)
        setenv("BN_KERNELS", saved, 1);
    else
        unsetenv("BN_KERNELS");
    bnk__select_from_env();
}

Test(kcontext, bn_kernels_ref_env_runs_the_reference_linalg)
{
    static double a[LU_N * LU_N];
    static float af[LU_N * LU_N];
    lu_input(a, af);
    const char *env = getenv("BN_KERNELS");
    char *saved = env ? strdup(env) : NULL;
    setenv("BN_KERNELS", "ref", 1);
    bnk__select_from_env();
    cr_assert_eq(bn_kernels_init(), BN_OK);
    cr_assert_str_eq(bn_kernels_how(), "forced (BN_KERNELS=ref)");
    const bnk_table *t = bnk_active();
    cr_assert_eq(t, bnk_table_get(BNK_ISA_REF));
    cr_assert_eq(t->linalg, &bnk_linalg_ref);
    cr_assert_eq(t->sgemm, &bnk_gemm_impls[BNK_GEMM_REF]);
    cr_assert_eq(bnk_ternary_active(), &bnk_ternary_impls[BNK_TERNARY_REF]);
    assert_engine_lu_is(BNK_ISA_REF, a, af);
    if (bnk_isa_supported(BNK_ISA_AVX512)) {
        static lu_result r, s;
        lu_direct(bnk_table_get(BNK_ISA_REF), a, af, &r);
        lu_direct(bnk_table_get(BNK_ISA_AVX512), a, af, &s);
        if (same_lu(&r, &s))
            cr_log_info("ref and avx512 LU agree bit for bit on this input: the comparison "
                        "does not tell the sets apart here (the pointers above do)");
        else
            cr_log_info("ref and avx512 LU differ in bits: the engine ran ref's");
    }
    restore_env(saved);
    free(saved);
}

Test(kcontext, select_switches_linalg_gemm_and_ternary)
{
    static double a[LU_N * LU_N];
    static float af[LU_N * LU_N];
    lu_input(a, af);
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        bnk_isa isa = (bnk_isa)i;
        if (!bnk_isa_supported(isa)) {
            cr_log_info("%s: not supported on this CPU, skipped", bnk_isa_name(isa));
            continue;
        }
        cr_assert_eq(bn_kernels_select(bnk_isa_name(isa)), BN_OK);
        const bnk_table *t = bnk_active();
        cr_assert_eq(t, bnk_table_get(isa));
        cr_assert_eq(bnk_ternary_active(), t->ternary);
        assert_engine_lu_is(isa, a, af);
    }
    cr_assert_eq(bn_kernels_select("auto"), BN_OK);
}

/* bn_matmul of a 48 x 40 x 56 product (below the threading threshold, so
 * one call) has the bits of the selected set's GEMM: the reference row
 * GEMM for ref, the packed sgemm of the context for a SIMD set. */
Test(kcontext, select_switches_matmul)
{
    enum { M = 48, K = 40, N = 56 };
    static float a[M * K], b[K * N], want[M * N];
    uint64_t s = 12345;
    for (int i = 0; i < M * K + K * N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
        if (i < M * K)
            a[i] = v;
        else
            b[i - M * K] = v;
    }
    int64_t sa[2] = {M, K}, sb[2] = {K, N};
    bn_tensor *ta = NULL, *tb = NULL;
    cr_assert_eq(bn_tensor_from_data(BN_F32, 2, sa, a, &ta), BN_OK);
    cr_assert_eq(bn_tensor_from_data(BN_F32, 2, sb, b, &tb), BN_OK);
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        bnk_isa isa = (bnk_isa)i;
        if (!bnk_isa_supported(isa))
            continue;
        const bnk_table *t = bnk_table_get(isa);
        if (isa == BNK_ISA_REF)
            t->gemm_f32(M, N, K, a, K, 1, b, N, 1, want, N, 1);
        else
            cr_assert_eq(t->sgemm->sgemm(M, N, K, 1.0f, a, K, 1, b, N, 1, 0.0f, want, N, 1, NULL),
                         BN_OK);
        cr_assert_eq(bn_kernels_select(bnk_isa_name(isa)), BN_OK);
        bn_tensor *y = NULL;
        cr_assert_eq(bn_matmul(ta, tb, &y), BN_OK, "%s", bn_last_error());
        cr_assert(memcmp(bn_tensor_data(y), want, sizeof want) == 0,
                  "matmul under %s is not that set's GEMM", bnk_isa_name(isa));
        bn_tensor_free(y);
    }
    cr_assert_eq(bn_kernels_select("auto"), BN_OK);
    bn_tensor_free(ta);
    bn_tensor_free(tb);
}

/* ---- op kinds ---------------------------------------------------------- */

Test(kcontext, op_kinds_match_the_kernel_arrays)
{
    const bnk_table *r = bnk_ref_table();
    for (int i = 0; i < BN_OP_COUNT; i++) {
        bn_op op = (bn_op)i;
        bn_op_kind k = bn_op_kind_of(op);
        cr_assert_eq(r->binary_f32[op] != NULL, k == BN_OP_KIND_BINARY, "%s", bn_op_name(op));
        cr_assert_eq(r->unary_f32[op] != NULL, k == BN_OP_KIND_UNARY && op != BN_OP_CLAMP, "%s",
                     bn_op_name(op));
    }
    cr_assert_eq(bn_op_kind_of(BN_OP_RESHAPE), BN_OP_KIND_VIEW);
    cr_assert_eq(bn_op_kind_of(BN_OP_CAST), BN_OP_KIND_COPY);
    cr_assert_eq(bn_op_kind_of(BN_OP_NORM2), BN_OP_KIND_REDUCE);
    cr_assert_eq(bn_op_kind_of(BN_OP_SOFTMAX), BN_OP_KIND_NORM);
    cr_assert_eq(bn_op_kind_of(BN_OP_MATMUL), BN_OP_KIND_MATMUL);
    /* the ops' argument checks follow the kinds */
    int64_t shape[1] = {3};
    double v[3] = {1, 2, 3};
    bn_tensor *x = NULL;
    cr_assert_eq(bn_tensor_empty(BN_F32, 1, shape, &x), BN_OK);
    for (int i = 0; i < 3; i++)
        bn_tensor_set_flat(x, i, v[i]);
    bn_tensor *y = NULL;
    cr_assert_eq(bn_binary(BN_OP_NEG, x, x, &y), BN_ERR_ARG);
    cr_assert_eq(bn_unary(BN_OP_ADD, x, &y), BN_ERR_ARG);
    cr_assert_eq(bn_unary(BN_OP_CLAMP, x, &y), BN_ERR_ARG);
    cr_assert_eq(bn_reduce(BN_OP_SOFTMAX, x, 0, NULL, false, &y), BN_ERR_ARG);
    cr_assert_eq(bn_reduce(BN_OP_NORM2, x, 0, NULL, false, &y), BN_OK, "%s", bn_last_error());
    bn_tensor_free(y);
    bn_tensor_free(x);
}
