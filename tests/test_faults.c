/*
 * test_faults.c - every public op and BitLinear at every allocation.
 *
 * bn_alloc_fail_after (bitnet/alloc.h) fails the Nth allocation the library
 * makes, pool block or heap block. For each case of the table below, the
 * function is called with the failure at N = 0, 1, 2, ... until it
 * succeeds; at every failing N it must return BN_ERR_OOM with a message,
 * set its outputs to NULL, leave its inputs bit for bit as they were and
 * leak nothing (heap blocks and pool blocks back to the count before the
 * call). The N it first succeeds at must equal the number of allocations
 * it made, so no failure was swallowed on the way. The table is checked to
 * hold a case for every op of BN_OP_LIST, and runs under every kernel set
 * the CPU supports (the SIMD sets allocate GEMM packing buffers the
 * reference set does not).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "kernels/gemm.h"

_Static_assert(BN_OP_COUNT == 51, "a new op needs its case in the table below");

enum { NOUT = 3, NIN = 16, BL_M = 20, BL_K = 300, BL_N = 3 };

/* Inputs of every case, made once; outputs of the call under test. */
typedef struct fx {
    bn_tensor *a;   /* f32 [3,4] */
    bn_tensor *at;  /* its transpose (a strided view) */
    bn_tensor *row; /* f32 [4] (broadcast against a) */
    bn_tensor *h;   /* f16 [3,4] */
    bn_tensor *hw;  /* f16 [4], norm weight */
    bn_tensor *pos; /* f32 [3,4] > 0 */
    bn_tensor *one; /* f32 [1,4] */
    bn_tensor *m;   /* f32 [4,5] */
    bn_tensor *spd; /* f64 [4,4] symmetric positive definite */
    bn_tensor *rhs; /* f64 [4,2] */
    bn_tensor *i8;  /* i8 [3,4] */
    bn_tensor *dst; /* f32 [3,4], target of *_out forms (not an input) */
    bn_tensor *sq;  /* f32 [4,4], target of in-place forms (not an input) */
    bn_tensor *ins[NIN];
    int nin;
    void *snap[NIN];
    size_t snap_len[NIN];
    /* quantization and BitLinear */
    float w[BL_M * BL_K], bias[BL_M], normw[BL_K], x[BL_N * BL_K], y[BL_N * BL_M];
    int8_t xq[BL_N * BL_K];
    int32_t yq[BL_N * BL_M];
    uint8_t t2[(BL_M * BL_K + 3) / 4], t16[(BL_M * BL_K + 4) / 5];
    uint8_t *t2k, *t2k_out;
    size_t t2k_bytes;
    bn_bitlinear *bl, *bl_norm;
    float raw_copy[BL_N * BL_K + BL_M * BL_K];
    bn_tensor *out[NOUT];
    bn_bitlinear *bl_out;
} fx;

typedef struct fcase {
    const char *name;
    bn_op op; /* the op of BN_OP_LIST it covers, or BN_OP_COUNT */
    bn_status (*run)(fx *f, bn_op op);
    bool allocates; /* false: must succeed with no allocation at all */
} fcase;

/* ---- the calls ---------------------------------------------------------- */

static const int64_t s34[2] = {3, 4};

static bn_status c_empty(fx *f, bn_op op)
{
    return bn_tensor_empty(BN_F32, 2, s34, &f->out[0]);
}
static bn_status c_zeros(fx *f, bn_op op)
{
    return bn_tensor_zeros(BN_T2, 2, s34, &f->out[0]);
}
static bn_status c_ones(fx *f, bn_op op)
{
    return bn_tensor_ones(BN_BF16, 2, s34, &f->out[0]);
}
static bn_status c_full(fx *f, bn_op op)
{
    return bn_tensor_full(BN_I32, 2, s34, 7, &f->out[0]);
}
static bn_status c_arange(fx *f, bn_op op)
{
    return bn_tensor_arange(BN_F64, 0, 5, 0.5, &f->out[0]);
}
static bn_status c_rand(fx *f, bn_op op)
{
    return bn_tensor_rand(BN_F32, 2, s34, 3, BN_RAND_NORMAL, 0, 1, &f->out[0]);
}
static bn_status c_from_data(fx *f, bn_op op)
{
    return bn_tensor_from_data(BN_F32, 1, (int64_t[]){8}, f->w, &f->out[0]);
}
static bn_status c_wrap(fx *f, bn_op op)
{
    return bn_tensor_wrap(BN_F32, 2, s34, NULL, f->w, sizeof f->w, NULL, NULL, &f->out[0]);
}
static bn_status c_reshape(fx *f, bn_op op)
{
    return bn_reshape(f->a, 2, (int64_t[]){-1, 6}, &f->out[0]);
}
static bn_status c_transpose(fx *f, bn_op op)
{
    return bn_transpose(f->a, 0, 1, &f->out[0]);
}
static bn_status c_permute(fx *f, bn_op op)
{
    return bn_permute(f->a, (int[]){1, 0}, &f->out[0]);
}
static bn_status c_slice(fx *f, bn_op op)
{
    return bn_slice(f->a, 1, 0, 4, 2, &f->out[0]);
}
static bn_status c_narrow(fx *f, bn_op op)
{
    return bn_narrow(f->a, 0, 1, 2, &f->out[0]);
}
static bn_status c_squeeze(fx *f, bn_op op)
{
    return bn_squeeze(f->one, 0, &f->out[0]);
}
static bn_status c_squeeze_all(fx *f, bn_op op)
{
    return bn_squeeze_all(f->one, &f->out[0]);
}
static bn_status c_unsqueeze(fx *f, bn_op op)
{
    return bn_unsqueeze(f->a, 1, &f->out[0]);
}
static bn_status c_expand(fx *f, bn_op op)
{
    return bn_expand(f->one, 2, (int64_t[]){5, 4}, &f->out[0]);
}
static bn_status c_broadcast_to(fx *f, bn_op op)
{
    return bn_broadcast_to(f->row, 3, (int64_t[]){2, 3, 4}, &f->out[0]);
}
static bn_status c_view(fx *f, bn_op op)
{
    return bn_view(f->at, &f->out[0]);
}
static bn_status c_contiguous_copy(fx *f, bn_op op)
{
    return bn_contiguous(f->at, &f->out[0]);
}
static bn_status c_contiguous_view(fx *f, bn_op op)
{
    return bn_contiguous(f->a, &f->out[0]);
}
static bn_status c_cast(fx *f, bn_op op)
{
    return bn_cast(f->at, BN_F16, &f->out[0]);
}
static bn_status c_copy(fx *f, bn_op op)
{
    return bn_copy(f->h, f->dst);
}
static bn_status c_copy_overlap(fx *f, bn_op op)
{
    /* sq = sq^T reads what it writes: needs a temporary */
    bn_tensor *t = NULL;
    bn_status st = bn_transpose(f->sq, 0, 1, &t);
    if (st == BN_OK)
        st = bn_copy(t, f->sq);
    bn_tensor_free(t);
    return st;
}
static bn_status c_binary(fx *f, bn_op op)
{
    return bn_binary(op, f->pos, f->row, &f->out[0]);
}
static bn_status c_binary_h(fx *f, bn_op op)
{
    return bn_binary(op, f->h, f->h, &f->out[0]);
}
static bn_status c_binary_out_overlap(fx *f, bn_op op)
{
    bn_tensor *t = NULL;
    bn_status st = bn_transpose(f->sq, 0, 1, &t);
    if (st == BN_OK)
        st = bn_binary_out(BN_OP_ADD, f->sq, t, f->sq);
    bn_tensor_free(t);
    return st;
}
static bn_status c_binary_scalar(fx *f, bn_op op)
{
    return bn_binary_scalar(BN_OP_MUL, f->h, 2.5, &f->out[0]);
}
static bn_status c_binary_scalar_out(fx *f, bn_op op)
{
    return bn_binary_scalar_out(BN_OP_SUB, f->a, 1.0, f->dst);
}
static bn_status c_unary(fx *f, bn_op op)
{
    return bn_unary(op, f->pos, &f->out[0]);
}
static bn_status c_unary_h(fx *f, bn_op op)
{
    return bn_unary(op, f->h, &f->out[0]);
}
static bn_status c_unary_out(fx *f, bn_op op)
{
    return bn_unary_out(BN_OP_EXP, f->a, f->dst);
}
static bn_status c_clamp(fx *f, bn_op op)
{
    return bn_clamp(f->i8, -1, 1, &f->out[0]);
}
static bn_status c_clamp_out(fx *f, bn_op op)
{
    return bn_clamp_out(f->a, -0.5, 0.5, f->dst);
}
static bn_status c_reduce(fx *f, bn_op op)
{
    return bn_reduce(op, f->pos, 1, (int[]){0}, false, &f->out[0]);
}
static bn_status c_reduce_h(fx *f, bn_op op)
{
    return bn_reduce(op, f->h, 1, (int[]){-1}, true, &f->out[0]);
}
static bn_status c_reduce_var(fx *f, bn_op op)
{
    return bn_reduce_var(BN_OP_STD, f->at, 0, NULL, false, 1, &f->out[0]);
}
static bn_status c_softmax(fx *f, bn_op op)
{
    return (op == BN_OP_SOFTMAX ? bn_softmax : bn_log_softmax)(f->a, 0, &f->out[0]);
}
static bn_status c_softmax_h(fx *f, bn_op op)
{
    return (op == BN_OP_SOFTMAX ? bn_softmax : bn_log_softmax)(f->h, 1, &f->out[0]);
}
static bn_status c_rmsnorm(fx *f, bn_op op)
{
    return bn_rmsnorm(f->h, f->hw, 1e-5f, &f->out[0]);
}
static bn_status c_layernorm(fx *f, bn_op op)
{
    return bn_layernorm(f->h, f->hw, f->hw, 1e-5f, &f->out[0]);
}
static bn_status c_layernorm_f32(fx *f, bn_op op)
{
    return bn_layernorm(f->a, f->row, NULL, 1e-5f, &f->out[0]);
}
static bn_status c_matmul(fx *f, bn_op op)
{
    return bn_matmul(f->a, f->m, &f->out[0]);
}
static bn_status c_matmul_h(fx *f, bn_op op)
{
    bn_tensor *ht = NULL;
    bn_status st = bn_transpose(f->h, 0, 1, &ht);
    if (st == BN_OK)
        st = bn_matmul(f->h, ht, &f->out[0]);
    bn_tensor_free(ht);
    return st;
}
static bn_status c_matmul_out_overlap(fx *f, bn_op op)
{
    /* dst [3,4] = dst [3,4] x m' [4,4]: the output is an operand */
    bn_tensor *sq = NULL;
    bn_status st = bn_narrow(f->m, 1, 0, 4, &sq);
    if (st == BN_OK)
        st = bn_matmul_out(f->dst, sq, f->dst);
    bn_tensor_free(sq);
    return st;
}
static bn_status c_qr(fx *f, bn_op op)
{
    return bn_qr(f->spd, BN_QR_COMPLETE, &f->out[0], &f->out[1]);
}
static bn_status c_qr_reduced(fx *f, bn_op op)
{
    return bn_qr(f->m, BN_QR_REDUCED, &f->out[0], &f->out[1]);
}
static bn_status c_cholesky(fx *f, bn_op op)
{
    return bn_cholesky(f->spd, &f->out[0]);
}
static bn_status c_svd(fx *f, bn_op op)
{
    return bn_svd(f->m, true, &f->out[0], &f->out[1], &f->out[2]);
}
static bn_status c_svd_values(fx *f, bn_op op)
{
    return bn_svd(f->at, false, NULL, &f->out[1], NULL);
}
static bn_status c_lu(fx *f, bn_op op)
{
    return bn_lu(f->spd, &f->out[0], &f->out[1]);
}
static bn_status c_solve(fx *f, bn_op op)
{
    return bn_solve(f->spd, f->rhs, &f->out[0]);
}
static bn_status c_inverse(fx *f, bn_op op)
{
    return bn_inverse(f->spd, &f->out[0]);
}
static bn_status c_det(fx *f, bn_op op)
{
    return bn_det(f->spd, &f->out[0]);
}
static bn_status c_lstsq(fx *f, bn_op op)
{
    return bn_lstsq(f->spd, f->rhs, &f->out[0]);
}
static bn_status c_t2k_from_t2(fx *f, bn_op op)
{
    return bn_t2k_from_t2(f->t2, BL_M, BL_K, f->t2k_out);
}
static bn_status c_t2k_from_t16(fx *f, bn_op op)
{
    return bn_t2k_from_t16(f->t16, BL_M, BL_K, f->t2k_out);
}
static bn_status c_t2k_to_t2(fx *f, bn_op op)
{
    uint8_t t2[sizeof f->t2];
    return bn_t2k_to_t2(f->t2k, BL_M, BL_K, t2);
}
static bn_status c_t2k_to_t16(fx *f, bn_op op)
{
    uint8_t t16[sizeof f->t16];
    return bn_t2k_to_t16(f->t2k, BL_M, BL_K, t16);
}
static bn_status c_ternary_matmul(fx *f, bn_op op)
{
    return bn_ternary_matmul(f->t2k, BL_M, BL_K, f->xq, BL_N, BL_K, NULL, f->yq, BL_M, true);
}
static bn_status c_quant_act(fx *f, bn_op op)
{
    int8_t q[BL_N * BL_K];
    float s[BL_N];
    int32_t sums[BL_N];
    return bn_quant_act_absmax(f->x, BL_N, BL_K, BL_K, q, BL_K, s, sums);
}
static bn_status c_bitlinear_create(fx *f, bn_op op)
{
    return bn_bitlinear_create(f->w, BL_M, BL_K, NULL, NULL, &f->bl_out);
}
static bn_status c_bitlinear_create_full(fx *f, bn_op op)
{
    bn_bitlinear_opts o = {.group = BN_QUANT_PER_ROW,
                           .rmsnorm = true,
                           .norm_weight = f->normw,
                           .eps = 1e-5f,
                           .serial = true};
    return bn_bitlinear_create(f->w, BL_M, BL_K, f->bias, &o, &f->bl_out);
}
static bn_status c_bitlinear_forward(fx *f, bn_op op)
{
    return bn_bitlinear_forward(f->bl, f->x, BL_N, f->y);
}
static bn_status c_bitlinear_forward_norm(fx *f, bn_op op)
{
    return bn_bitlinear_forward(f->bl_norm, f->x, BL_N, f->y);
}
static bn_status c_pool_create(fx *f, bn_op op)
{
    bn_pool *p = NULL;
    bn_status st = bn_pool_create(NULL, &p);
    if (st == BN_OK) {
        void *blk = NULL;
        st = bn_pool_try_alloc(p, 100, 0, &blk);
        bn_pool_free(p, blk);
    }
    bn_pool_destroy(p);
    return st;
}

#define OP(sfx, fn)                                                                                \
    {                                                                                              \
#sfx, BN_OP_##sfx, fn, true                                                                \
    }
#define FN(name, fn)                                                                               \
    {                                                                                              \
        name, BN_OP_COUNT, fn, true                                                                \
    }
static const fcase cases[] = {
    FN("tensor_empty", c_empty),
    FN("tensor_zeros t2", c_zeros),
    FN("tensor_ones bf16", c_ones),
    FN("tensor_full i32", c_full),
    FN("tensor_arange", c_arange),
    FN("tensor_rand", c_rand),
    FN("tensor_from_data", c_from_data),
    FN("tensor_wrap", c_wrap),
    OP(RESHAPE, c_reshape),
    OP(TRANSPOSE, c_transpose),
    OP(PERMUTE, c_permute),
    OP(SLICE, c_slice),
    OP(NARROW, c_narrow),
    OP(SQUEEZE, c_squeeze),
    FN("squeeze_all", c_squeeze_all),
    OP(UNSQUEEZE, c_unsqueeze),
    OP(EXPAND, c_expand),
    FN("broadcast_to", c_broadcast_to),
    OP(VIEW, c_view),
    OP(CONTIGUOUS, c_contiguous_copy),
    FN("contiguous (a view)", c_contiguous_view),
    OP(CAST, c_cast),
    {"copy", BN_OP_COPY, c_copy, false},
    FN("copy onto an overlapping view", c_copy_overlap),
    OP(ADD, c_binary),
    OP(SUB, c_binary),
    OP(MUL, c_binary),
    OP(DIV, c_binary),
    OP(REM, c_binary),
    OP(POW, c_binary),
    OP(MAXIMUM, c_binary),
    OP(MINIMUM, c_binary),
    {"add f16", BN_OP_ADD, c_binary_h, true},
    FN("binary_out onto a transposed input", c_binary_out_overlap),
    FN("binary_scalar f16", c_binary_scalar),
    FN("binary_scalar_out", c_binary_scalar_out),
    OP(NEG, c_unary),
    OP(ABS, c_unary),
    OP(EXP, c_unary),
    OP(LOG, c_unary),
    OP(SQRT, c_unary),
    OP(RSQRT, c_unary),
    OP(SIN, c_unary),
    OP(COS, c_unary),
    OP(TANH, c_unary),
    OP(SIGMOID, c_unary),
    OP(RELU, c_unary),
    OP(RELU2, c_unary),
    OP(GELU, c_unary),
    OP(GELU_TANH, c_unary),
    OP(SILU, c_unary),
    {"gelu f16", BN_OP_GELU, c_unary_h, true},
    {"unary_out", BN_OP_COUNT, c_unary_out, false},
    OP(CLAMP, c_clamp),
    {"clamp_out", BN_OP_COUNT, c_clamp_out, false},
    OP(SUM, c_reduce),
    OP(MEAN, c_reduce),
    OP(MIN, c_reduce),
    OP(MAX, c_reduce),
    OP(ARGMIN, c_reduce),
    OP(ARGMAX, c_reduce),
    OP(VAR, c_reduce),
    OP(STD, c_reduce),
    OP(PROD, c_reduce),
    OP(NORM2, c_reduce),
    {"sum f16", BN_OP_SUM, c_reduce_h, true},
    {"norm2 f16", BN_OP_NORM2, c_reduce_h, true},
    FN("reduce_var", c_reduce_var),
    OP(SOFTMAX, c_softmax),
    OP(LOG_SOFTMAX, c_softmax),
    {"softmax f16", BN_OP_SOFTMAX, c_softmax_h, true},
    {"log_softmax f16", BN_OP_LOG_SOFTMAX, c_softmax_h, true},
    OP(RMSNORM, c_rmsnorm),
    OP(LAYERNORM, c_layernorm),
    {"layernorm f32", BN_OP_LAYERNORM, c_layernorm_f32, true},
    OP(MATMUL, c_matmul),
    {"matmul f16", BN_OP_MATMUL, c_matmul_h, true},
    {"matmul_out onto an operand", BN_OP_MATMUL, c_matmul_out_overlap, true},
    FN("qr complete", c_qr),
    FN("qr reduced", c_qr_reduced),
    FN("cholesky", c_cholesky),
    FN("svd", c_svd),
    FN("svd values", c_svd_values),
    FN("lu", c_lu),
    FN("solve", c_solve),
    FN("inverse", c_inverse),
    FN("det", c_det),
    FN("lstsq", c_lstsq),
    FN("t2k_from_t2", c_t2k_from_t2),
    FN("t2k_from_t16", c_t2k_from_t16),
    FN("t2k_to_t2", c_t2k_to_t2),
    FN("t2k_to_t16", c_t2k_to_t16),
    FN("ternary_matmul (row sums computed)", c_ternary_matmul),
    {"quant_act_absmax", BN_OP_COUNT, c_quant_act, false},
    FN("bitlinear_create", c_bitlinear_create),
    FN("bitlinear_create (per row, bias, norm)", c_bitlinear_create_full),
    FN("bitlinear_forward", c_bitlinear_forward),
    FN("bitlinear_forward (rmsnorm)", c_bitlinear_forward_norm),
    FN("pool_create", c_pool_create),
};
#undef OP
#undef FN

/* ---- fixture ------------------------------------------------------------ */

static bn_tensor *input(fx *f, bn_tensor *t)
{
    cr_assert_lt(f->nin, NIN);
    f->ins[f->nin++] = t;
    return t;
}

/* *t once st (the call that made it, evaluated first) is known good */
static bn_tensor *made(bn_status st, bn_tensor **t)
{
    cr_assert_eq(st, BN_OK, "%s", bn_last_error());
    return *t;
}

static void fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    bn_tensor *t = NULL;
    f->a = input(f, made(bn_tensor_rand(BN_F32, 2, s34, 1, BN_RAND_UNIFORM, -1, 1, &t), &t));
    f->pos = input(f, made(bn_tensor_rand(BN_F32, 2, s34, 2, BN_RAND_UNIFORM, 0.5, 2, &t), &t));
    f->row =
        input(f, made(bn_tensor_rand(BN_F32, 1, (int64_t[]){4}, 3, BN_RAND_UNIFORM, 1, 2, &t), &t));
    f->h = input(f, made(bn_tensor_rand(BN_F16, 2, s34, 4, BN_RAND_UNIFORM, -1, 1, &t), &t));
    f->hw =
        input(f, made(bn_tensor_rand(BN_F16, 1, (int64_t[]){4}, 5, BN_RAND_UNIFORM, 1, 2, &t), &t));
    f->one = input(
        f, made(bn_tensor_rand(BN_F32, 2, (int64_t[]){1, 4}, 6, BN_RAND_UNIFORM, 0, 1, &t), &t));
    f->m = input(
        f, made(bn_tensor_rand(BN_F32, 2, (int64_t[]){4, 5}, 7, BN_RAND_UNIFORM, -1, 1, &t), &t));
    f->rhs = input(
        f, made(bn_tensor_rand(BN_F64, 2, (int64_t[]){4, 2}, 8, BN_RAND_UNIFORM, -1, 1, &t), &t));
    f->i8 = input(f, made(bn_tensor_rand(BN_I8, 2, s34, 9, BN_RAND_UNIFORM, -5, 5, &t), &t));
    double spd[16] = {4, 1, 0, 1, 1, 5, 1, 0, 0, 1, 6, 1, 1, 0, 1, 7};
    f->spd = input(f, made(bn_tensor_from_data(BN_F64, 2, (int64_t[]){4, 4}, spd, &t), &t));
    f->at = made(bn_transpose(f->a, 0, 1, &t), &t); /* a view of an input: not snapshotted */
    f->dst = made(bn_tensor_zeros(BN_F32, 2, s34, &t), &t);
    f->sq = made(bn_tensor_rand(BN_F32, 2, (int64_t[]){4, 4}, 10, BN_RAND_UNIFORM, -1, 1, &t), &t);

    uint64_t r = 12345;
    for (size_t i = 0; i < BL_M * BL_K; i++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        f->w[i] = (float)((int64_t)(r >> 40) % 2001 - 1000) / 1000.0f;
    }
    for (size_t i = 0; i < BL_N * BL_K; i++) {
        f->x[i] = f->w[(i * 7) % (BL_M * BL_K)];
        f->xq[i] = (int8_t)((i * 37) % 255 - 127);
    }
    for (int i = 0; i < BL_M; i++)
        f->bias[i] = 0.25f * (float)i;
    for (int i = 0; i < BL_K; i++)
        f->normw[i] = 1.0f + 0.001f * (float)i;
    int8_t wq[BL_M * BL_K];
    float sc;
    cr_assert_eq(bn_quant_weights_absmean(f->w, BL_M, BL_K, BN_QUANT_PER_TENSOR, wq, &sc), BN_OK);
    cr_assert_eq(bn_t2_pack(wq, BL_M * BL_K, f->t2), BN_OK);
    cr_assert_eq(bn_t16_pack(wq, BL_M * BL_K, f->t16), BN_OK);
    f->t2k_bytes = (size_t)BL_M * bn_t2k_row_bytes(BL_K);
    f->t2k = malloc(f->t2k_bytes);
    f->t2k_out = malloc(f->t2k_bytes);
    cr_assert(f->t2k && f->t2k_out);
    cr_assert_eq(bn_t2k_pack_i8(wq, BL_M, BL_K, f->t2k), BN_OK);
    cr_assert_eq(bn_bitlinear_create(f->w, BL_M, BL_K, NULL, NULL, &f->bl), BN_OK);
    bn_bitlinear_opts o = {.rmsnorm = true, .norm_weight = f->normw, .eps = 1e-5f};
    cr_assert_eq(bn_bitlinear_create(f->w, BL_M, BL_K, f->bias, &o, &f->bl_norm), BN_OK);
}

static void fx_fini(fx *f)
{
    for (int i = 0; i < f->nin; i++) {
        bn_tensor_free(f->ins[i]);
        free(f->snap[i]);
    }
    bn_tensor_free(f->at);
    bn_tensor_free(f->dst);
    bn_tensor_free(f->sq);
    bn_bitlinear_free(f->bl);
    bn_bitlinear_free(f->bl_norm);
    free(f->t2k);
    free(f->t2k_out);
}

/* Copies of everything any case reads, to compare after a failed call. */
typedef struct raw_inputs {
    float w[BL_M * BL_K], x[BL_N * BL_K];
    int8_t xq[BL_N * BL_K];
    uint8_t t2[(BL_M * BL_K + 3) / 4], t16[(BL_M * BL_K + 4) / 5];
    uint8_t t2k[4096];
    uint8_t blw[2][4096];
} raw_inputs;

static void raw_take(const fx *f, raw_inputs *r)
{
    memcpy(r->w, f->w, sizeof r->w);
    memcpy(r->x, f->x, sizeof r->x);
    memcpy(r->xq, f->xq, sizeof r->xq);
    memcpy(r->t2, f->t2, sizeof r->t2);
    memcpy(r->t16, f->t16, sizeof r->t16);
    cr_assert_leq(f->t2k_bytes, sizeof r->t2k);
    memcpy(r->t2k, f->t2k, f->t2k_bytes);
    memcpy(r->blw[0], bn_bitlinear_weights(f->bl), f->t2k_bytes);
    memcpy(r->blw[1], bn_bitlinear_weights(f->bl_norm), f->t2k_bytes);
}

static void snapshot(fx *f)
{
    for (int i = 0; i < f->nin; i++) {
        size_t n = bn_tensor_buffer_bytes(f->ins[i]);
        f->snap[i] = malloc(n);
        cr_assert_not_null(f->snap[i]);
        memcpy(f->snap[i], bn_tensor_data(f->ins[i]), n);
        f->snap_len[i] = n;
    }
}

static void check_inputs(const fx *f, const raw_inputs *r0, const char *name, int64_t k)
{
    for (int i = 0; i < f->nin; i++)
        cr_assert(memcmp(f->snap[i], bn_tensor_data(f->ins[i]), f->snap_len[i]) == 0,
                  "%s, allocation %lld failed: input tensor %d changed", name, (long long)k, i);
    raw_inputs r1;
    raw_take(f, &r1);
    cr_assert(memcmp(r0, &r1, sizeof r1) == 0, "%s, allocation %lld failed: raw inputs changed",
              name, (long long)k);
}

typedef struct live {
    uint64_t heap, pool;
} live;

static live live_now(void)
{
    bn_alloc_stats a;
    bn_alloc_stats_get(&a);
    bn_pool_stats p;
    bn_pool_stats_get(bn_pool_default(), &p);
    return (live){a.heap_live, p.live_blocks};
}

static void release_outputs(fx *f)
{
    for (int i = 0; i < NOUT; i++) {
        bn_tensor_free(f->out[i]);
        f->out[i] = NULL;
    }
    bn_bitlinear_free(f->bl_out);
    f->bl_out = NULL;
    /* the GEMM keeps a packing buffer per thread between calls */
    bnk_sgemm_release_thread_workspace();
}

/* Runs c with the failure at every allocation in turn; returns how many
 * allocations it makes when nothing fails. */
static int64_t run_case(fx *f, const fcase *c, const raw_inputs *r0)
{
    release_outputs(f);
    for (int64_t k = 0;; k++) {
        live before = live_now();
        bn_alloc_stats s0, s1;
        bn_alloc_stats_get(&s0);
        for (int i = 0; i < NOUT; i++)
            f->out[i] = (bn_tensor *)&f->out; /* must be overwritten with NULL on error */
        f->bl_out = (bn_bitlinear *)&f->out;
        bn_clear_error();
        bn_alloc_fail_after(k, 0);
        bn_status st = c->run(f, c->op);
        bn_alloc_fail_after(-1, 0);
        bn_alloc_stats_get(&s1);
        /* outputs the call did not have are left as set */
        for (int i = 0; i < NOUT; i++)
            if (f->out[i] == (bn_tensor *)&f->out)
                f->out[i] = NULL;
        if (f->bl_out == (bn_bitlinear *)&f->out)
            f->bl_out = NULL;
        if (st == BN_OK) {
            uint64_t made = s1.armed_calls - s0.armed_calls;
            cr_assert_eq(s1.injected, s0.injected, "%s: succeeded at k=%lld after a failure",
                         c->name, (long long)k);
            cr_assert_eq((int64_t)made, k,
                         "%s: first success with the failure at allocation %lld, but it made %llu "
                         "allocations (a failure was swallowed)",
                         c->name, (long long)k, (unsigned long long)made);
            release_outputs(f);
            live after = live_now();
            cr_assert(after.heap == before.heap && after.pool == before.pool,
                      "%s: leaked on success (heap %llu -> %llu, pool %llu -> %llu)", c->name,
                      (unsigned long long)before.heap, (unsigned long long)after.heap,
                      (unsigned long long)before.pool, (unsigned long long)after.pool);
            return k;
        }
        cr_assert_eq(s1.injected, s0.injected + 1, "%s: k=%lld: %s without an injected failure",
                     c->name, (long long)k, bn_status_name(st));
        cr_assert_eq(st, BN_ERR_OOM, "%s, allocation %lld failed: got %s (%s)", c->name,
                     (long long)k, bn_status_name(st), bn_last_error());
        cr_assert(bn_last_error()[0] != '\0', "%s, allocation %lld failed: no message", c->name,
                  (long long)k);
        for (int i = 0; i < NOUT; i++)
            cr_assert_null(f->out[i], "%s, allocation %lld failed: output %d not NULL", c->name,
                           (long long)k, i);
        cr_assert_null(f->bl_out, "%s, allocation %lld failed: layer not NULL", c->name,
                       (long long)k);
        check_inputs(f, r0, c->name, k);
        release_outputs(f);
        live after = live_now();
        cr_assert(after.heap == before.heap && after.pool == before.pool,
                  "%s, allocation %lld failed: leaked (heap blocks %llu -> %llu, pool blocks "
                  "%llu -> %llu)",
                  c->name, (long long)k, (unsigned long long)before.heap,
                  (unsigned long long)after.heap, (unsigned long long)before.pool,
                  (unsigned long long)after.pool);
        cr_assert_lt(k, 10000, "%s: never succeeded", c->name);
    }
}

static void run_all(const char *kernels)
{
    cr_assert_eq(bn_kernels_select(kernels), BN_OK, "%s", bn_last_error());
    fx f;
    fx_init(&f);
    snapshot(&f);
    raw_inputs r0;
    raw_take(&f, &r0);
    bool covered[BN_OP_COUNT] = {false};
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        /* once unarmed first: warms lazily made state (thread caches, the
         * thread pool, kernel tables) so the counted run sees only the call */
        cr_assert_eq(cases[i].run(&f, cases[i].op), BN_OK, "%s: %s", cases[i].name,
                     bn_last_error());
        release_outputs(&f);
        int64_t allocs = run_case(&f, &cases[i], &r0);
        if (cases[i].allocates)
            cr_assert_gt(allocs, 0, "%s: no allocation seen", cases[i].name);
        else
            cr_assert_eq(allocs, 0, "%s: allocates", cases[i].name);
        if (cases[i].op != BN_OP_COUNT)
            covered[cases[i].op] = true;
    }
    for (int op = 0; op < BN_OP_COUNT; op++)
        cr_assert(covered[op], "op %s has no fault-injection case", bn_op_name((bn_op)op));
    fx_fini(&f);
}

Test(faults, every_op_at_every_allocation_ref)
{
    run_all("ref");
}

Test(faults, every_op_at_every_allocation_best)
{
    run_all("auto");
}

/* The countdown itself: every-th failures, disarming, and the counters. */
Test(faults, countdown)
{
    bn_tensor *t[6] = {NULL};
    /* this thread's pool cache exists before the counts start */
    bn_pool_free(bn_pool_default(), bn_pool_alloc(bn_pool_default(), 16, 0));
    bn_alloc_stats s0, s1;
    bn_alloc_stats_get(&s0);
    /* one success, then every second allocation fails; each empty tensor
     * makes three (buffer header, data block, tensor header) */
    bn_alloc_fail_after(1, 2);
    bn_status st = bn_tensor_empty(BN_F32, 1, (int64_t[]){4}, &t[0]);
    bn_alloc_fail_after(-1, 0);
    cr_assert_eq(st, BN_ERR_OOM);
    cr_assert_str_eq(bn_last_error(), "empty: cannot allocate 16 bytes for f32 tensor [4]");
    bn_alloc_stats_get(&s1);
    cr_assert_eq(s1.armed_calls - s0.armed_calls, 2);
    cr_assert_eq(s1.injected - s0.injected, 1);
    cr_assert_eq(s1.heap_live, s0.heap_live);
    /* disarmed: nothing fails, nothing is counted */
    for (int i = 0; i < 6; i++)
        cr_assert_eq(bn_tensor_empty(BN_F32, 1, (int64_t[]){4}, &t[i]), BN_OK);
    bn_alloc_stats_get(&s1);
    cr_assert_eq(s1.armed_calls - s0.armed_calls, 2);
    cr_assert_eq(s1.heap_live, s0.heap_live + 12, "two heap blocks per tensor: %llu -> %llu",
                 (unsigned long long)s0.heap_live, (unsigned long long)s1.heap_live);
    for (int i = 0; i < 6; i++)
        bn_tensor_free(t[i]);
    bn_alloc_stats_get(&s1);
    cr_assert_eq(s1.heap_live, s0.heap_live);
    /* the pool names the countdown that failed it */
    void *blk = (void *)1;
    bn_alloc_fail_after(0, 0);
    cr_assert_eq(bn_pool_try_alloc(bn_pool_default(), 16, 0, &blk), BN_ERR_OOM);
    cr_assert_null(blk);
    cr_assert_str_eq(bn_last_error(),
                     "bn_pool_alloc: out of memory allocating 16 bytes (injected failure, "
                     "bn_alloc_fail_after)");
    cr_assert_eq(bn_pool_try_alloc(bn_pool_default(), 16, 0, &blk), BN_OK, "fails once");
    bn_pool_free(bn_pool_default(), blk);
}
