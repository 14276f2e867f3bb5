/*
 * ops_matmul.c - reference matmul: a [..., M, K] x b [..., K, N] with
 * NumPy-broadcast batch dims.
 *
 * The batch dims are walked with bn_iter (broadcast operands get stride 0)
 * and each matrix goes to the table's gemm with the operands' own row and
 * column strides, so transposed views need no copy. f16/bf16 operands are
 * widened once into f32 temporaries and the f32 result is rounded back. An
 * `out` that overlaps an operand is computed into a temporary first.
 *
 * With a SIMD kernel set active (bn_kernels_selected() != "ref") each f32
 * matrix goes to the packed GEMM of that ISA (kernels/gemm.h): strides are
 * passed through, so transposed and broadcast views are read in place; a
 * product of at least MATMUL_PAR_FLOPS is cut into N blocks (or M blocks
 * when M > N) aligned to the micro-tile and spread over the thread pool
 * (bnk_sgemm_split). Batches are walked one matrix after another.
 *
 * Accuracy: with the reference set every dot product is accumulated in
 * double and rounded once (within 1 ulp of the exact value plus
 * K * 2^-53 * sum|a_ik b_kj|); with a SIMD set the GEMM accumulates in f32,
 * |C - exact| <= 2 (K + 2) * 2^-23 * sum_k |a_ik b_kj| (ops.h).
 */
#include <stdatomic.h>

#include "kernels/gemm.h"
#include "ops_internal.h"

/* Products of at least this many flops (2 M N K) are split over the thread
 * pool: about 20 us of single-core work at this machine's GEMM speed, well
 * above the cost of waking the workers. */
#define MATMUL_PAR_FLOPS (4.0 * 1024 * 1024)

static bn_status matmul_prepare(const bn_tensor *a, const bn_tensor *b, int *nd, int64_t *shape)
{
    BN_ASSERT(a != NULL && b != NULL);
    ops_shape_str s1, s2;
    if (a->dtype != b->dtype)
        return bn_error(BN_ERR_DTYPE, "matmul: dtypes differ: %s and %s (cast one first)",
                        bn_dtype_name(a->dtype), bn_dtype_name(b->dtype));
    bn_status st = ops__check_dtype(BN_OP_MATMUL, a->dtype, false);
    if (st)
        return st;
    if (a->ndim < 2 || b->ndim < 2)
        return bn_error(BN_ERR_SHAPE, "matmul: operands need at least 2 dims, got %s and %s",
                        ops__shape(&s1, a->ndim, a->shape), ops__shape(&s2, b->ndim, b->shape));
    int64_t k1 = a->shape[a->ndim - 1], k2 = b->shape[b->ndim - 2];
    if (k1 != k2)
        return bn_error(BN_ERR_SHAPE, "matmul: inner dims differ: %s has K=%lld, %s has K=%lld",
                        ops__shape(&s1, a->ndim, a->shape), (long long)k1,
                        ops__shape(&s2, b->ndim, b->shape), (long long)k2);
    int nb;
    st = bn_broadcast_shapes("matmul", a->ndim - 2, a->shape, b->ndim - 2, b->shape, &nb, shape);
    if (st == BN_ERR_OVERFLOW) /* the message names the batch shape */
        return st;
    if (st)
        return bn_error(st, "matmul: batch dims of %s and %s do not broadcast",
                        ops__shape(&s1, a->ndim, a->shape), ops__shape(&s2, b->ndim, b->shape));
    shape[nb] = a->shape[a->ndim - 2];
    shape[nb + 1] = b->shape[b->ndim - 1];
    *nd = nb + 2;
    return BN_OK;
}

/* One GEMM call of the packed kernels: C = A B for the C block [i0,i1) x
 * [j0,j1) of one matrix (every pointer already at the matrix's origin). */
typedef struct gemm_job {
    const bnk_gemm_impl *impl;
    int64_t M, N, K;
    const float *a, *b;
    float *c;
    int64_t sam, sak, sbk, sbn, scm, scn;
    int parts;
    bool split_n;       /* split N (else M) into parts */
    int64_t granule;    /* block boundaries: multiples of mr and nr */
    _Atomic int failed; /* a call met BN_ERR_OOM */
} gemm_job;

static void gemm_block(gemm_job *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1)
{
    if (i1 <= i0 || j1 <= j0)
        return;
    bn_status st = g->impl->sgemm(i1 - i0, j1 - j0, g->K, 1.0f, g->a + i0 * g->sam, g->sam, g->sak,
                                  g->b + j0 * g->sbn, g->sbk, g->sbn, 0.0f,
                                  g->c + i0 * g->scm + j0 * g->scn, g->scm, g->scn, NULL);
    if (st)
        atomic_store(&g->failed, 1);
}

static void gemm_part(void *ctx, int64_t begin, int64_t end, int tid)
{
    gemm_job *g = ctx;
    for (int64_t p = begin; p < end; p++) {
        int64_t lo, hi;
        bnk_sgemm_split(g->split_n ? g->N : g->M, g->granule, g->parts, (int)p, &lo, &hi);
        if (g->split_n)
            gemm_block(g, 0, g->M, lo, hi);
        else
            gemm_block(g, lo, hi, 0, g->N);
    }
}

static int64_t gcd64(int64_t x, int64_t y)
{
    while (y) {
        int64_t t = x % y;
        x = y;
        y = t;
    }
    return x;
}

/* One matrix with the packed GEMM: on the caller when small, else cut into
 * N (or M) blocks over the thread pool. BN_ERR_OOM when a packing buffer
 * could not be allocated. */
static bn_status gemm_one(const bnk_gemm_impl *impl, int64_t M, int64_t N, int64_t K,
                          const float *a, int64_t sam, int64_t sak, const float *b, int64_t sbk,
                          int64_t sbn, float *c, int64_t scm, int64_t scn)
{
    gemm_job g = {.impl = impl,
                  .M = M,
                  .N = N,
                  .K = K,
                  .a = a,
                  .b = b,
                  .c = c,
                  .sam = sam,
                  .sak = sak,
                  .sbk = sbk,
                  .sbn = sbn,
                  .scm = scm,
                  .scn = scn,
                  .parts = 1};
    atomic_init(&g.failed, 0);
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int threads = flops >= MATMUL_PAR_FLOPS ? bn_threads_count() : 1;
    if (threads > 1) {
        g.granule = impl->mr / gcd64(impl->mr, impl->nr) * impl->nr;
        g.split_n = N >= M;
        int64_t dim = g.split_n ? N : M;
        int64_t blocks = (dim + g.granule - 1) / g.granule;
        g.parts = blocks < threads ? (int)blocks : threads;
    }
    if (g.parts <= 1)
        gemm_block(&g, 0, M, 0, N);
    else
        (void)bn_parallel_for(g.parts, 1, gemm_part, &g); /* work done even if the pool fails */
    if (atomic_load(&g.failed))
        return bn_error(BN_ERR_OOM,
                        "matmul: out of memory for the GEMM packing buffers (M=%lld, N=%lld, "
                        "K=%lld)",
                        (long long)M, (long long)N, (long long)K);
    return BN_OK;
}

/* The batch walk of a matmul: every matrix of the batch is one "element" of
 * the iterator over the batch dims (pos[k]: the matrix origin of operand k). */
typedef struct batch_job {
    const bnk_table *k;
    const bnk_gemm_impl *impl; /* NULL: the table's reference gemm */
    int64_t M, N, K, sam, sak, sbk, sbn, sym, syn;
    const float *ab, *bb;
    float *yb;
    _Atomic int status; /* first error (BN_ERR_OOM) */
} batch_job;

static void batch_piece(void *ctx, const bn_iter *it, const int64_t *pos, int64_t m)
{
    batch_job *g = ctx;
    for (int64_t j = 0; j < m; j++) {
        const float *pa = g->ab + pos[1] + j * it->istride[1];
        const float *pb = g->bb + pos[2] + j * it->istride[2];
        float *pc = g->yb + pos[0] + j * it->istride[0];
        if (!g->impl) {
            g->k->gemm_f32(g->M, g->N, g->K, pa, g->sam, g->sak, pb, g->sbk, g->sbn, pc, g->sym,
                           g->syn);
            continue;
        }
        bn_status st = gemm_one(g->impl, g->M, g->N, g->K, pa, g->sam, g->sak, pb, g->sbk, g->sbn,
                                pc, g->sym, g->syn);
        if (st) {
            int zero = 0;
            atomic_compare_exchange_strong(&g->status, &zero, (int)st);
        }
    }
}

/* f32 operands, f32 y of the result shape, no overlap. With the reference
 * kernel set each matrix goes to the table's gemm (double accumulation);
 * otherwise to the set's packed GEMM (its context's sgemm, kernels/gemm.h). Matrices
 * big enough are split inside (gemm_one); a batch of smaller ones is spread
 * over the thread pool a few matrices per piece. */
static bn_status matmul_f32(const bn_tensor *a, const bn_tensor *b, bn_tensor *y)
{
    const bnk_table *kt = bnk_active();
    int nb = y->ndim - 2;
    int64_t sa[BN_MAX_DIMS], sb[BN_MAX_DIMS];
    bn_tensor ah = *a, bh = *b; /* batch part only; headers are not retained */
    ah.ndim -= 2;
    bh.ndim -= 2;
    bn_broadcast_strides(&ah, nb, y->shape, sa);
    bn_broadcast_strides(&bh, nb, y->shape, sb);
    const int64_t *strides[3] = {y->strides, sa, sb};
    int64_t offs[3] = {y->offset, a->offset, b->offset};
    bn_iter it;
    bn_iter_init(&it, nb, y->shape, 3, strides, offs);
    if (bn_tensor_numel(y) == 0)
        return BN_OK;
    batch_job g = {
        .k = kt,
        .impl = kt->isa == BNK_ISA_REF ? NULL : kt->sgemm,
        .M = y->shape[nb],
        .N = y->shape[nb + 1],
        .K = a->shape[a->ndim - 1],
        .sam = a->strides[a->ndim - 2],
        .sak = a->strides[a->ndim - 1],
        .sbk = b->strides[b->ndim - 2],
        .sbn = b->strides[b->ndim - 1],
        .sym = y->strides[nb],
        .syn = y->strides[nb + 1],
        .ab = tensor__base(a),
        .bb = tensor__base(b),
        .yb = tensor__base(y),
    };
    atomic_init(&g.status, BN_OK);
    /* matrices per piece: enough flops that a piece is worth a thread. A
     * matrix big enough for gemm_one to split itself gets a grain no batch
     * reaches, so the batch is walked serially and each product split. */
    double flops = 2.0 * (double)g.M * (double)g.N * (double)(g.K ? g.K : 1);
    int64_t grain = flops >= MATMUL_PAR_FLOPS ? INT64_MAX / 4 : (int64_t)(MATMUL_PAR_FLOPS / flops);
    if (grain < 1)
        grain = 1;
    ops__for_pieces_grain(&it, grain, batch_piece, &g);
    bn_status st = (bn_status)atomic_load(&g.status);
    if (st)
        return bn_error(st,
                        "matmul: out of memory for the GEMM packing buffers (M=%lld, N=%lld, "
                        "K=%lld)",
                        (long long)g.M, (long long)g.N, (long long)g.K);
    return BN_OK;
}

/* Computes into out (result shape and dtype), through temporaries when
 * the dtype is not f32 or out overlaps an operand. */
static bn_status matmul_run(const bn_tensor *a, const bn_tensor *b, bn_tensor *out)
{
    bn_tensor *ta = NULL, *tb = NULL, *ty = NULL;
    bn_status st = BN_OK;
    if (a->dtype != BN_F32) {
        st = ops__contig_copy(a, BN_F32, &ta);
        if (st)
            goto cleanup;
        st = ops__contig_copy(b, BN_F32, &tb);
        if (st)
            goto cleanup;
        a = ta;
        b = tb;
    }
    if (out->dtype != BN_F32 || ops__overlaps(out, a) || ops__overlaps(out, b)) {
        st = bn_tensor_empty(BN_F32, out->ndim, out->shape, &ty);
        if (st)
            goto cleanup;
        st = matmul_f32(a, b, ty);
        if (st)
            goto cleanup;
        ops__copy_raw(ty, out);
    } else {
        st = matmul_f32(a, b, out);
    }
cleanup:
    bn_tensor_free(ta);
    bn_tensor_free(tb);
    bn_tensor_free(ty);
    return st;
}

bn_status bn_matmul(const bn_tensor *a, const bn_tensor *b, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    int nd;
    int64_t shape[BN_MAX_DIMS];
    bn_status st = matmul_prepare(a, b, &nd, shape);
    if (st)
        return st;
    bn_tensor *y;
    st = ops__new_out(BN_OP_MATMUL, a->dtype, nd, shape, &y);
    if (st)
        return st;
    st = matmul_run(a, b, y);
    if (st) {
        bn_tensor_free(y);
        return st;
    }
    ops__record(BN_OP_MATMUL, y, y, a, b);
    *out = y;
    return BN_OK;
}

bn_status bn_matmul_out(const bn_tensor *a, const bn_tensor *b, bn_tensor *out)
{
    BN_ASSERT(out != NULL);
    int nd;
    int64_t shape[BN_MAX_DIMS];
    bn_status st = matmul_prepare(a, b, &nd, shape);
    if (st)
        return st;
    st = ops__check_out(BN_OP_MATMUL, out, a->dtype, nd, shape);
    if (st)
        return st;
    st = matmul_run(a, b, out);
    if (st)
        return st;
    ops__record(BN_OP_MATMUL, NULL, out, a, b);
    return BN_OK;
}
