/*
 * suite_dist.c - the `dist` suite: what an MPI job of N >= 2 ranks costs,
 * measured with `mpirun -np N bnbench run --mpi --suite dist`. Registered
 * only in an MPI build (suite_list.h), never in the default run. Every case
 * is collective (suite.h): the runner agrees warm-up, calibration and a
 * barrier per sample across the ranks, and each rank stores its own
 * samples (seconds per iteration as that rank saw them).
 *
 * Cases (param bytes = message size, 8 B .. 64 MiB; --quick keeps 8 B,
 * 4 KiB, 256 KiB and 16 MiB):
 *   p2p/pingpong       rank 0 exchanges `bytes` with each other rank in
 *                      turn (send, then receive the reply), iterations times
 *                      per peer; one iteration = one round trip with every
 *                      peer. :lat_us = half a round trip, averaged over the
 *                      peers (median / (2 (N-1))); :bw_gbps = bytes / that
 *                      half round trip. Rank 0 also times each peer apart:
 *                      :lat_us_worst, :bw_gbps_worst and :worst_peer (the
 *                      slowest peer's median over the samples; unavailable
 *                      on the other ranks, which see only their own peer).
 *   allreduce/f32_sum  MPI_Allreduce of bytes / 4 floats, sum, out of place.
 *                      :us, :algbw_gbps = bytes / time, :busbw_gbps = algbw
 *                      * 2 (N-1) / N (nccl-tests' bus bandwidth, DESIGN.md).
 *   barrier            MPI_Barrier: :us.
 *   tp_bitlinear/one_rank, tp_bitlinear/split (params n = tokens 1 or 32,
 *                      shape = MxK, the BitNet b1.58 2B4T layers 6912x2560,
 *                      2560x6912, 2560x2560): one BitLinear forward, one
 *                      thread per rank. one_rank: rank 0 alone runs the
 *                      whole layer while the others sleep in a barrier (so
 *                      a core they share is rank 0's; each rank stores the
 *                      time it saw, the others' up to ~0.1 ms late). split: tensor parallel, the
 *                      output rows split across the ranks (rank r owns rows
 *                      [M r / N, M (r+1) / N)); each forward broadcasts the
 *                      input from rank 0 (MPI_Bcast), runs the rank's rows,
 *                      gathers every rank's outputs on every rank
 *                      (MPI_Allgatherv) and puts them in y[n, M] order.
 *                      :us, :gops = 2 M K n / time; split adds :speedup =
 *                      t(one_rank) / t(split) and :efficiency = speedup / N,
 *                      t(one_rank) being rank 0's median of the one_rank
 *                      case of the same n and shape, measured just before
 *                      it in the run (broadcast to every rank by verify).
 * Every case adds :ranks (N).
 *
 * The layers quantize their weights per output row (BN_QUANT_PER_ROW): a
 * row's scale depends on that row alone, so a rank's slice of rows is the
 * same layer as those rows of the whole one, and the split forward must
 * equal the one-rank forward bit for bit. verify() checks exactly that
 * (every rank, every element, before any timing); the weights and inputs
 * are generated from their indices by a hash, the same on every rank.
 * one_rank's verify recomputes 64 sampled outputs exactly in integers.
 * p2p and allreduce verify their data once (every byte, every element).
 *
 * An MPI or engine error during the timed calls is kept and fails the case
 * from metrics() (the runner then stores it failed with the message).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/quant.h"
#include "bitnet/status.h"
#include "collectors/mpi.h"
#include "collectors/timer.h"
#include "suites/suite.h"

typedef enum dkind { D_P2P, D_ALLREDUCE, D_BARRIER, D_TP_ONE, D_TP_SPLIT } dkind;

typedef struct dcase {
    dkind kind;
    int64_t bytes;   /* p2p, allreduce */
    int64_t M, K, n; /* tp: out features, in features, tokens */
} dcase;

#define PEER_LOG  64   /* run() calls whose per-peer times rank 0 keeps */
#define IDLE_POLL 2e-5 /* s: one_rank's idle ranks test the barrier this often */

typedef struct dstate {
    const dcase *c;
    const bnb_case_env *env;
    int rank, nranks;
    bool failed; /* an error in run(): err says which */
    char err[200];
    /* p2p, allreduce */
    unsigned char *sbuf, *rbuf;
    double *peer_t; /* rank 0, p2p: [PEER_LOG][nranks-1] seconds per round trip */
    int64_t ncalls;
    /* tp */
    bn_bitlinear *bl; /* one_rank: the whole layer (rank 0); split: this rank's rows */
    int64_t r0, r1;   /* split: this rank's rows */
    float *x, *ylocal, *gather, *y;
    int *counts, *displs; /* split: bytes of each rank's outputs in gather */
    double t_one;         /* split: rank 0's one_rank median (s), 0 when not measured */
} dstate;

/* ---- data generated from indices (the same on every rank) ------------------------ */

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Ternary weight t(i, k) in {-1, 0, 1} of a layer with K inputs. */
static int tern(int64_t i, int64_t k, int64_t K)
{
    return (int)(mix(0x7470u ^ (uint64_t)(i * K + k)) % 3) - 1;
}

/* Row i's f32 weights are t(i, k) * scale(i): absmean per row quantizes
 * them back to t exactly (mean |w| <= scale, so w / s_w rounds to t). */
static float row_scale(int64_t i)
{
    return 0.02f + 0.001f * (float)(i % 13);
}

/* f32 weights of rows [r0, r1) into w ((r1 - r0) x K). */
static void gen_rows(int64_t r0, int64_t r1, int64_t K, float *w)
{
    for (int64_t i = r0; i < r1; i++)
        for (int64_t k = 0; k < K; k++)
            w[(i - r0) * K + k] = (float)tern(i, k, K) * row_scale(i);
}

/* Inputs x[n, K]: integers in [-127, 127] / 64, so a row's absmax
 * quantization is (almost always) exact. */
static void gen_x(int64_t n, int64_t K, float *x)
{
    for (int64_t i = 0; i < n * K; i++)
        x[i] = (float)((int)(mix(0x78u ^ (uint64_t)i) % 255) - 127) / 64.0f;
}

static void *amalloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    return p;
}

/* A layer of rows [r0, r1) of the case's weights (per-row scales, serial). */
static int make_layer(const dcase *c, int64_t r0, int64_t r1, bn_bitlinear **out, char *err,
                      size_t cap)
{
    *out = NULL;
    float *w = malloc((size_t)(r1 - r0) * (size_t)c->K * sizeof *w);
    if (!w) {
        snprintf(err, cap, "out of memory for %lld x %lld f32 weights", (long long)(r1 - r0),
                 (long long)c->K);
        return -1;
    }
    gen_rows(r0, r1, c->K, w);
    bn_bitlinear_opts o = {.group = BN_QUANT_PER_ROW, .serial = true};
    bn_status st = bn_bitlinear_create(w, r1 - r0, c->K, NULL, &o, out);
    free(w);
    if (st != BN_OK) {
        snprintf(err, cap, "bitlinear %lldx%lld: %s", (long long)(r1 - r0), (long long)c->K,
                 bn_last_error());
        return -1;
    }
    return 0;
}

/* ---- callbacks ---------------------------------------------------------------------- */

static void d_teardown(void *state)
{
    dstate *s = state;
    if (!s)
        return;
    free(s->sbuf);
    free(s->rbuf);
    free(s->peer_t);
    bn_bitlinear_free(s->bl);
    free(s->x);
    free(s->ylocal);
    if (s->y != s->gather)
        free(s->y);
    free(s->gather);
    free(s->counts);
    free(s->displs);
    free(s);
}

/* The first error of the timed calls (later ones are consequences). */
static void note(dstate *s, const char *what, const char *msg)
{
    if (s->failed)
        return;
    s->failed = true;
    snprintf(s->err, sizeof s->err, "%s: %s", what, msg);
}

static int d_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    const dcase *c = arg;
    if (env->nranks < 2) {
        snprintf(err, cap, "needs an MPI job of >= 2 ranks (this one has %d)", env->nranks);
        return -1;
    }
    dstate *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    *state = s;
    s->c = c;
    s->env = env;
    s->rank = env->rank;
    s->nranks = env->nranks;
    const int N = s->nranks;
    switch (c->kind) {
    case D_P2P:
    case D_ALLREDUCE:
        s->sbuf = amalloc((size_t)c->bytes);
        s->rbuf = amalloc((size_t)c->bytes);
        if (!s->sbuf || !s->rbuf)
            goto oom;
        memset(s->rbuf, 0, (size_t)c->bytes);
        if (c->kind == D_ALLREDUCE) {
            float *f = (float *)s->sbuf;
            for (int64_t i = 0; i < c->bytes / 4; i++)
                f[i] = (float)((s->rank + 1) * (int)(i % 7 + 1));
        } else {
            memset(s->sbuf, 0x5A, (size_t)c->bytes);
            if (s->rank == 0 &&
                !(s->peer_t = calloc((size_t)PEER_LOG * (size_t)(N - 1), sizeof *s->peer_t)))
                goto oom;
        }
        return 0;
    case D_BARRIER:
        return 0;
    case D_TP_ONE:
        if (s->rank != 0)
            return 0; /* the others wait in run()'s barrier */
        s->x = amalloc((size_t)(c->n * c->K) * sizeof *s->x);
        s->y = amalloc((size_t)(c->n * c->M) * sizeof *s->y);
        if (!s->x || !s->y)
            goto oom;
        gen_x(c->n, c->K, s->x);
        return make_layer(c, 0, c->M, &s->bl, err, cap);
    case D_TP_SPLIT: {
        s->r0 = c->M * s->rank / N;
        s->r1 = c->M * (s->rank + 1) / N;
        s->counts = calloc((size_t)N, sizeof *s->counts);
        s->displs = calloc((size_t)N, sizeof *s->displs);
        s->x = amalloc((size_t)(c->n * c->K) * sizeof *s->x);
        s->ylocal = amalloc((size_t)(c->n * (s->r1 - s->r0)) * sizeof *s->ylocal);
        s->gather = amalloc((size_t)(c->n * c->M) * sizeof *s->gather);
        s->y = c->n == 1 ? s->gather : amalloc((size_t)(c->n * c->M) * sizeof *s->y);
        if (!s->counts || !s->displs || !s->x || !s->ylocal || !s->gather || !s->y)
            goto oom;
        for (int r = 0; r < N; r++) { /* rank r's block: n rows of its outputs */
            int64_t a = c->M * r / N, b = c->M * (r + 1) / N;
            s->counts[r] = (int)(c->n * (b - a) * (int64_t)sizeof(float));
            s->displs[r] = (int)(c->n * a * (int64_t)sizeof(float));
        }
        gen_x(c->n, c->K, s->x);
        return make_layer(c, s->r0, s->r1, &s->bl, err, cap);
    }
    }
    return 0;
oom:
    snprintf(err, cap, "out of memory (rank %d of %d)", env->rank, env->nranks);
    return -1;
}

/* One tensor-parallel forward: x from rank 0, this rank's rows, every
 * rank's outputs gathered into y[n, M]. */
static void tp_forward(dstate *s)
{
    const dcase *c = s->c;
    char e[160];
    if (bnb_mpi_bcast(s->x, (size_t)(c->n * c->K) * sizeof(float), 0, e, sizeof e) != 0)
        note(s, "input broadcast", e);
    if (bn_bitlinear_forward(s->bl, s->x, c->n, s->ylocal) != BN_OK)
        note(s, "forward", bn_last_error());
    if (bnb_mpi_allgatherv(s->ylocal, s->gather, s->counts, s->displs, e, sizeof e) != 0)
        note(s, "output allgather", e);
    if (s->y == s->gather)
        return;
    /* rank r's block is [n][rows of r]: interleave the blocks into y rows */
    for (int r = 0; r < s->nranks; r++) {
        int64_t a = c->M * r / s->nranks, b = c->M * (r + 1) / s->nranks;
        const float *blk = s->gather + c->n * a;
        for (int64_t j = 0; j < c->n; j++)
            memcpy(s->y + j * c->M + a, blk + j * (b - a), (size_t)(b - a) * sizeof(float));
    }
}

static void d_run(void *state, int64_t iters)
{
    dstate *s = state;
    const dcase *c = s->c;
    const int N = s->nranks;
    char e[160];
    switch (c->kind) {
    case D_P2P: {
        const size_t b = (size_t)c->bytes;
        double *log = s->peer_t ? s->peer_t + (s->ncalls % PEER_LOG) * (N - 1) : NULL;
        for (int p = 1; p < N; p++) {
            double t0 = bnb_now();
            for (int64_t it = 0; it < iters; it++) {
                if (s->rank == 0) {
                    if (bnb_mpi_send(s->sbuf, b, p, e, sizeof e) != 0 ||
                        bnb_mpi_recv(s->rbuf, b, p, e, sizeof e) != 0) {
                        note(s, "ping-pong", e);
                        return;
                    }
                } else if (s->rank == p) {
                    if (bnb_mpi_recv(s->rbuf, b, 0, e, sizeof e) != 0 ||
                        bnb_mpi_send(s->sbuf, b, 0, e, sizeof e) != 0) {
                        note(s, "ping-pong", e);
                        return;
                    }
                }
            }
            if (log)
                log[p - 1] = (bnb_now() - t0) / (double)iters;
        }
        s->ncalls++;
        break;
    }
    case D_ALLREDUCE:
        for (int64_t it = 0; it < iters; it++)
            if (bnb_mpi_allreduce_sum_f32((const float *)s->sbuf, (float *)s->rbuf,
                                          (size_t)c->bytes / 4, e, sizeof e) != 0) {
                note(s, "allreduce", e);
                return;
            }
        break;
    case D_BARRIER:
        for (int64_t it = 0; it < iters; it++)
            if (bnb_mpi_barrier(e, sizeof e) != 0) {
                note(s, "barrier", e);
                return;
            }
        break;
    case D_TP_ONE:
        if (s->rank == 0)
            for (int64_t it = 0; it < iters; it++)
                if (bn_bitlinear_forward(s->bl, s->x, c->n, s->y) != BN_OK)
                    note(s, "forward", bn_last_error());
        /* the others sleep meanwhile: rank 0 runs as if alone */
        if (bnb_mpi_barrier_idle(s->rank == 0 ? 0 : IDLE_POLL, e, sizeof e) != 0)
            note(s, "barrier", e);
        break;
    case D_TP_SPLIT:
        for (int64_t it = 0; it < iters; it++)
            tp_forward(s);
        break;
    }
}

/* Byte i of what rank `from` sends to rank `to` in p2p's check. */
static unsigned char pattern(int from, int to, int64_t i)
{
    return (unsigned char)(i * 131 + from * 31 + to * 7 + 1);
}

static int p2p_verify(dstate *s, char *err, size_t cap)
{
    const size_t b = (size_t)s->c->bytes;
    char e[160];
    int bad = 0;
    for (int p = 1; p < s->nranks; p++) {
        if (s->rank != 0 && s->rank != p)
            continue;
        int other = s->rank == 0 ? p : 0;
        for (size_t i = 0; i < b; i++)
            s->sbuf[i] = pattern(s->rank, other, (int64_t)i);
        memset(s->rbuf, 0, b);
        int rc = s->rank == 0 ? (bnb_mpi_send(s->sbuf, b, p, e, sizeof e) ||
                                 bnb_mpi_recv(s->rbuf, b, p, e, sizeof e))
                              : (bnb_mpi_recv(s->rbuf, b, 0, e, sizeof e) ||
                                 bnb_mpi_send(s->sbuf, b, 0, e, sizeof e));
        if (rc != 0) {
            snprintf(err, cap, "exchange with rank %d: %s", other, e);
            return -1;
        }
        for (size_t i = 0; i < b && !bad; i++)
            if (s->rbuf[i] != pattern(other, s->rank, (int64_t)i)) {
                snprintf(err, cap, "byte %zu of %zu from rank %d is 0x%02x, sent 0x%02x", i, b,
                         other, s->rbuf[i], pattern(other, s->rank, (int64_t)i));
                bad = 1;
            }
    }
    return bad ? -1 : 0;
}

static int allreduce_verify(dstate *s, char *err, size_t cap)
{
    char e[160];
    const int64_t n = s->c->bytes / 4;
    if (bnb_mpi_allreduce_sum_f32((const float *)s->sbuf, (float *)s->rbuf, (size_t)n, e,
                                  sizeof e) != 0) {
        snprintf(err, cap, "%s", e);
        return -1;
    }
    const float *got = (const float *)s->rbuf;
    const int tri = s->nranks * (s->nranks + 1) / 2; /* sum of rank + 1: exact in f32 */
    for (int64_t i = 0; i < n; i++) {
        float want = (float)(tri * (int)(i % 7 + 1));
        if (got[i] != want) {
            snprintf(err, cap, "element %lld of %lld is %.9g, the sum over %d ranks is %.9g",
                     (long long)i, (long long)n, (double)got[i], s->nranks, (double)want);
            return -1;
        }
    }
    return 0;
}

/* one_rank (rank 0): 64 sampled outputs against the exact integer product
 * of the ternary weights and the quantized inputs, rescaled. */
static int one_rank_verify(dstate *s, char *err, size_t cap)
{
    const dcase *c = s->c;
    const int64_t M = c->M, K = c->K, n = c->n;
    if (bn_bitlinear_forward(s->bl, s->x, n, s->y) != BN_OK) {
        snprintf(err, cap, "forward: %s", bn_last_error());
        return -1;
    }
    const float *scales = bn_bitlinear_scales(s->bl);
    for (int t = 0; t < 64; t++) {
        int64_t i = t < 4 ? (t & 1 ? M - 1 : 0) : (int64_t)(mix((uint64_t)t) % (uint64_t)M);
        int64_t j = t < 4 ? (t & 2 ? n - 1 : 0) : (int64_t)(mix((uint64_t)t + 99) % (uint64_t)n);
        const float *xr = s->x + j * K;
        double m = 0;
        for (int64_t k = 0; k < K; k++)
            m = fmax(m, fabs((double)xr[k]));
        int64_t exact = 0;
        for (int64_t k = 0; k < K; k++)
            exact += (int64_t)tern(i, k, K) * (int64_t)rint((double)xr[k] * 127.0 / m);
        double sc = (double)scales[i] * (m / 127.0);
        double want = (double)exact * sc, got = s->y[j * M + i];
        double tol = 4 * (FLT_EPSILON / 2) * fabs(want) + 1e-30;
        if (!(fabs(got - want) <= tol)) {
            snprintf(err, cap, "y[%lld, %lld] = %.9g, want %.9g (tolerance %.3g)", (long long)j,
                     (long long)i, got, want, tol);
            return -1;
        }
    }
    return 0;
}

/* split: the gathered forward against the whole layer's, bit for bit. */
static int split_verify(dstate *s, char *err, size_t cap)
{
    const dcase *c = s->c;
    /* rank 0's one-rank time, for every rank's speedup (collective, like
     * the forward below: every rank, before anything can fail) */
    if (s->rank == 0) {
        char full[160];
        snprintf(full, sizeof full, "dist/tp_bitlinear/one_rank/n=%lld/shape=%lldx%lld",
                 (long long)c->n, (long long)c->M, (long long)c->K);
        const bnb_case_result *o = bnb_env_case(s->env, full);
        s->t_one = o && o->stats.median > 0 ? o->stats.median : 0;
    }
    char e[160];
    if (bnb_mpi_bcast(&s->t_one, sizeof s->t_one, 0, e, sizeof e) != 0)
        note(s, "broadcasting the one-rank time", e);
    tp_forward(s);
    if (s->failed) {
        snprintf(err, cap, "%s", s->err);
        return -1;
    }
    bn_bitlinear *whole = NULL;
    float *ref = amalloc((size_t)(c->n * c->M) * sizeof *ref);
    int rc = -1;
    if (!ref) {
        snprintf(err, cap, "out of memory for the one-rank reference");
        goto done;
    }
    if (make_layer(c, 0, c->M, &whole, err, cap) != 0)
        goto done;
    if (bn_bitlinear_forward(whole, s->x, c->n, ref) != BN_OK) {
        snprintf(err, cap, "one-rank forward: %s", bn_last_error());
        goto done;
    }
    for (int64_t j = 0; j < c->n; j++)
        for (int64_t i = 0; i < c->M; i++) {
            float a = s->y[j * c->M + i], b = ref[j * c->M + i];
            if (memcmp(&a, &b, sizeof a) != 0) {
                snprintf(err, cap,
                         "y[%lld, %lld] = %.9g split over %d ranks, %.9g on one rank (not bit "
                         "for bit)",
                         (long long)j, (long long)i, (double)a, s->nranks, (double)b);
                goto done;
            }
        }
    rc = 0;
done:
    bn_bitlinear_free(whole);
    free(ref);
    return rc;
}

static int d_verify(void *state, char *err, size_t cap)
{
    dstate *s = state;
    switch (s->c->kind) {
    case D_P2P:
        return p2p_verify(s, err, cap);
    case D_ALLREDUCE:
        return allreduce_verify(s, err, cap);
    case D_BARRIER:
        return 0;
    case D_TP_ONE:
        return s->rank == 0 ? one_rank_verify(s, err, cap) : 0;
    case D_TP_SPLIT:
        return split_verify(s, err, cap);
    }
    return 0;
}

static int add(bnb_case_result *r, const char *name, const char *unit, double v, bool hib,
               int timing)
{
    bnb_metric *m = bnb_case_add_metric(r, name, unit, v, hib);
    if (!m)
        return -1;
    m->timing = timing;
    return 0;
}

static double median_of(double *v, int n)
{
    for (int i = 1; i < n; i++) /* insertion sort: n <= PEER_LOG */
        for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
            double x = v[k];
            v[k] = v[k - 1];
            v[k - 1] = x;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* p2p's slowest peer from rank 0's per-peer times of the samples (the last
 * nsamples run() calls). */
static int p2p_worst(dstate *s, bnb_case_result *r)
{
    const int N = s->nranks;
    if (s->rank != 0) {
        const char *why = "rank 0 times each peer apart; see rank 0's run";
        return bnb_case_add_unavailable(r, "lat_us_worst", "us", why) &&
                       bnb_case_add_unavailable(r, "bw_gbps_worst", "GB/s", why) &&
                       bnb_case_add_unavailable(r, "worst_peer", "rank", why)
                   ? 0
                   : -1;
    }
    int64_t k = r->nsamples;
    if (k > PEER_LOG)
        k = PEER_LOG;
    if (k > s->ncalls)
        k = s->ncalls;
    double v[PEER_LOG], worst = -1;
    int worst_p = 0;
    for (int p = 1; p < N; p++) {
        for (int64_t t = 0; t < k; t++)
            v[t] = s->peer_t[((s->ncalls - 1 - t) % PEER_LOG) * (N - 1) + (p - 1)];
        double half = median_of(v, (int)k) / 2;
        if (half > worst) {
            worst = half;
            worst_p = p;
        }
    }
    if (add(r, "lat_us_worst", "us", worst * 1e6, false, BNB_TIMING_NONE) ||
        add(r, "bw_gbps_worst", "GB/s", (double)s->c->bytes / worst / 1e9, true, BNB_TIMING_NONE) ||
        add(r, "worst_peer", "rank", worst_p, false, BNB_TIMING_NONE))
        return -1;
    return 0;
}

/* split: speedup and efficiency against rank 0's time of the one_rank
 * case of the same n and shape, measured earlier in this run. */
static int split_scaling(dstate *s, bnb_case_result *r)
{
    if (!(s->t_one > 0)) {
        char why[160];
        snprintf(why, sizeof why,
                 "the one-rank case dist/tp_bitlinear/one_rank/n=%lld/shape=%lldx%lld was not "
                 "measured in this run",
                 (long long)s->c->n, (long long)s->c->M, (long long)s->c->K);
        return bnb_case_add_unavailable(r, "speedup", "x", why) &&
                       bnb_case_add_unavailable(r, "efficiency", "ratio", why)
                   ? 0
                   : -1;
    }
    double speedup = s->t_one / r->stats.median;
    if (add(r, "speedup", "x", speedup, true, BNB_TIMING_RATE) ||
        add(r, "efficiency", "ratio", speedup / s->nranks, true, BNB_TIMING_RATE))
        return -1;
    return 0;
}

static int d_metrics(void *state, bnb_case_result *r)
{
    dstate *s = state;
    const dcase *c = s->c;
    const int N = s->nranks;
    const double t = r->stats.median;
    if (s->failed) {
        snprintf(r->message, sizeof r->message, "%s", s->err);
        return 1;
    }
    if (add(r, "ranks", "count", N, false, BNB_TIMING_NONE))
        return -1;
    switch (c->kind) {
    case D_P2P: {
        double half = t / (2.0 * (N - 1));
        if (add(r, "lat_us", "us", half * 1e6, false, BNB_TIMING_PROP) ||
            add(r, "bw_gbps", "GB/s", (double)c->bytes / half / 1e9, true, BNB_TIMING_RATE))
            return -1;
        return p2p_worst(s, r);
    }
    case D_ALLREDUCE: {
        double algbw = (double)c->bytes / t / 1e9;
        if (add(r, "us", "us", t * 1e6, false, BNB_TIMING_PROP) ||
            add(r, "algbw_gbps", "GB/s", algbw, true, BNB_TIMING_RATE) ||
            add(r, "busbw_gbps", "GB/s", algbw * 2.0 * (N - 1) / N, true, BNB_TIMING_RATE))
            return -1;
        return 0;
    }
    case D_BARRIER:
        return add(r, "us", "us", t * 1e6, false, BNB_TIMING_PROP);
    case D_TP_ONE:
    case D_TP_SPLIT:
        if (add(r, "us", "us", t * 1e6, false, BNB_TIMING_PROP) ||
            add(r, "gops", "GOP/s", 2.0 * (double)c->M * (double)c->K * (double)c->n / t / 1e9,
                true, BNB_TIMING_RATE))
            return -1;
        return c->kind == D_TP_SPLIT ? split_scaling(s, r) : 0;
    }
    return 0;
}

/* ---- the case table ----------------------------------------------------------------- */

#define DC_COMMON                                                                                  \
    .code_version = "1", .setup = d_setup, .verify = d_verify, .run = d_run, .metrics = d_metrics, \
    .teardown = d_teardown, .collective = true

/* SQ: skip under --quick. */
#define P2P(B, SQ)                                                                                 \
    {.name = "p2p/pingpong",                                                                       \
     .nparams = 1,                                                                                 \
     .params = {{"bytes", #B}},                                                                    \
     .arg = &(const dcase){.kind = D_P2P, .bytes = B},                                             \
     .metric_names = "ranks,lat_us,bw_gbps,lat_us_worst,bw_gbps_worst,worst_peer",                 \
     .skip_quick = SQ,                                                                             \
     DC_COMMON},
#define ALLREDUCE(B, SQ)                                                                           \
    {.name = "allreduce/f32_sum",                                                                  \
     .nparams = 1,                                                                                 \
     .params = {{"bytes", #B}},                                                                    \
     .arg = &(const dcase){.kind = D_ALLREDUCE, .bytes = B},                                       \
     .metric_names = "ranks,us,algbw_gbps,busbw_gbps",                                             \
     .skip_quick = SQ,                                                                             \
     DC_COMMON},
#define SWEEP(X)                                                                                   \
    X(8, false)                                                                                    \
    X(64, true)                                                                                    \
    X(512, true)                                                                                   \
    X(4096, false)                                                                                 \
    X(32768, true)                                                                                 \
    X(262144, false)                                                                               \
    X(2097152, true)                                                                               \
    X(16777216, false)                                                                             \
    X(67108864, true)
#define TP(nm, KD, Mv, Kv, Nv, names)                                                              \
    {.name = nm,                                                                                   \
     .nparams = 2,                                                                                 \
     .params = {{"n", #Nv}, {"shape", #Mv "x" #Kv}},                                               \
     .arg = &(const dcase){.kind = KD, .M = Mv, .K = Kv, .n = Nv},                                 \
     .metric_names = names,                                                                        \
     DC_COMMON},
/* one_rank before split: split's efficiency reads it */
#define TP_AT(Mv, Kv, Nv)                                                                          \
    TP("tp_bitlinear/one_rank", D_TP_ONE, Mv, Kv, Nv, "ranks,us,gops")                             \
    TP("tp_bitlinear/split", D_TP_SPLIT, Mv, Kv, Nv, "ranks,us,gops,speedup,efficiency")
#define TP_SHAPE(Mv, Kv) TP_AT(Mv, Kv, 1) TP_AT(Mv, Kv, 32)

static const bnb_case_def dist_cases[] = {
    /* clang-format off */
    SWEEP(P2P)
    SWEEP(ALLREDUCE)
    {.name = "barrier", .metric_names = "ranks,us", .arg = &(const dcase){.kind = D_BARRIER},
     DC_COMMON},
    TP_SHAPE(6912, 2560) TP_SHAPE(2560, 6912) TP_SHAPE(2560, 2560)
    /* clang-format on */
};

const bnb_suite bnb_suite_dist = {
    .name = "dist",
    .description = "MPI job (mpirun -np N bnbench run --mpi, N >= 2): point-to-point and "
                   "allreduce latency/bandwidth, barrier, tensor-parallel BitLinear scaling",
    .in_default = false,
    .cases = dist_cases,
    .ncases = (int)(sizeof dist_cases / sizeof dist_cases[0]),
};
