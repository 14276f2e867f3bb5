/*
 * suite_zerocopy.c - the `zerocopy` suite: how many ops of a transformer
 * block leave their output in their input's buffer, from the engine's own
 * op counters (opstats.h; DESIGN.md "Zero-copy ratio").
 *
 *   zerocopy/transformer-block   one pre-norm decoder block of a BitNet-
 *       style model (f32 weights; the shapes are scaled down so the
 *       reference matmul keeps the case short, the op sequence is not):
 *         rmsnorm -> fused QKV projection (weight transposed by a view) ->
 *         q/k/v split by narrow -> reshape to heads -> permute to
 *         [heads, T, head_dim] -> rotary embedding (halves by narrow, cos/sin
 *         broadcast by unsqueeze + expand, written into the halves of one
 *         output through narrow views, the second product in place) ->
 *         grouped-query attention by broadcasting K and V over the query
 *         groups (unsqueeze + reshape, no repeat copy) -> scale and causal
 *         mask in place (mask expanded) -> softmax -> weighted sum ->
 *         heads back to [T, hidden] (permute, then the one copy a real
 *         implementation makes: contiguous) -> sub-norm -> output projection
 *         -> residual add -> rmsnorm -> fused gate/up projection split by
 *         narrow -> squared ReLU, times up in place -> sub-norm -> down
 *         projection -> residual add.
 *       Views are used where a real implementation uses views; ops that a
 *       real implementation runs in place use the engine's _out forms on
 *       their own input. Nothing is arranged to raise the ratio.
 *       :ratio = ops_shared / ops over one trace (bn_op_stats, reset before
 *       it), with :ops, :ops_shared, :bytes_alloc, :bytes_copied alongside.
 *       The timed region runs the whole block (allocations included).
 *
 * Verification: the block is run a second time with every view that an op
 * only reads materialised as a copy (bn_cast to f32), and the two outputs
 * must agree (relative 1e-4 of the output's largest magnitude): the views
 * compute what copies would.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/opstats.h"
#include "bitnet/ops.h"
#include "bitnet/tensor.h"
#include "bitnet/views.h"
#include "suites/suite.h"

#define ZC_T      16  /* tokens */
#define ZC_H      256 /* hidden */
#define ZC_NH     4   /* query heads */
#define ZC_NKV    2   /* key/value heads */
#define ZC_HD     64  /* head dim */
#define ZC_G      (ZC_NH / ZC_NKV)
#define ZC_KV     (ZC_NKV * ZC_HD)
#define ZC_F      688 /* FFN (2.7 x hidden, as BitNet 2B's 6912 / 2560) */
#define ZC_EPS    1e-5f
#define ZC_MAXTMP 160

typedef struct zc_state {
    bn_tensor *x, *wqkv, *wo, *wgu, *wd, *n_attn, *n_attn_sub, *n_ffn, *n_ffn_sub;
    bn_tensor *cos, *sin, *mask;
    bn_op_stats st; /* counters over one trace */
} zc_state;

/* One trace: every tensor it makes is kept here and freed at the end. */
typedef struct trace {
    bn_tensor *t[ZC_MAXTMP];
    int n;
    bool materialise; /* verification: read-only views become copies */
    bn_status err;
    char where[64];
} trace;

/* Keeps *pt, the output of an op that returned s (read after the op ran). */
static bn_tensor *keep(trace *tr, bn_status s, bn_tensor **pt, const char *what)
{
    bn_tensor *t = *pt;
    if (tr->err != BN_OK)
        return NULL;
    if (s != BN_OK || !t || tr->n == ZC_MAXTMP) {
        tr->err = s != BN_OK ? s : BN_ERR_OOM;
        snprintf(tr->where, sizeof tr->where, "%s", what);
        bn_tensor_free(t);
        return NULL;
    }
    tr->t[tr->n++] = t;
    return t;
}

/* A view some op only reads: in verification mode replaced by a copy. */
static bn_tensor *vin(trace *tr, bn_status s, bn_tensor **pv, const char *what)
{
    bn_tensor *t = keep(tr, s, pv, what);
    if (!t || !tr->materialise)
        return t;
    bn_tensor *c = NULL;
    return keep(tr, bn_cast(t, BN_F32, &c), &c, "materialise");
}

static void trace_free(trace *tr)
{
    for (int i = 0; i < tr->n; i++)
        bn_tensor_free(tr->t[i]);
    tr->n = 0;
}

#define OK(tr) ((tr)->err == BN_OK)

static bn_status run_op(trace *tr, bn_status s, const char *what)
{
    if (OK(tr) && s != BN_OK) {
        tr->err = s;
        snprintf(tr->where, sizeof tr->where, "%s", what);
    }
    return tr->err;
}

/* Rotary embedding of xh [nh, T, HD] into a new [nh, T, HD]. */
static bn_tensor *rope(trace *tr, bn_tensor *xh, int64_t nh, bn_tensor *c, bn_tensor *s)
{
    bn_tensor *x1 = NULL, *x2 = NULL, *ce = NULL, *se = NULL, *o1 = NULL, *o2 = NULL, *t = NULL;
    bn_tensor *out = NULL;
    const int64_t half = ZC_HD / 2, shp[3] = {nh, ZC_T, ZC_HD}, hshp[3] = {nh, ZC_T, half};
    x1 = vin(tr, bn_narrow(xh, 2, 0, half, &x1), &x1, "narrow x1");
    x2 = vin(tr, bn_narrow(xh, 2, half, half, &x2), &x2, "narrow x2");
    ce = vin(tr, bn_expand(c, 3, hshp, &ce), &ce, "expand cos");
    se = vin(tr, bn_expand(s, 3, hshp, &se), &se, "expand sin");
    out = keep(tr, bn_tensor_empty(BN_F32, 3, shp, &out), &out, "rope out");
    if (!OK(tr))
        return NULL;
    o1 = keep(tr, bn_narrow(out, 2, 0, half, &o1), &o1, "narrow o1"); /* written: never a copy */
    o2 = keep(tr, bn_narrow(out, 2, half, half, &o2), &o2, "narrow o2");
    if (!OK(tr))
        return NULL;
    /* o1 = x1 cos - x2 sin ; o2 = x2 cos + x1 sin */
    run_op(tr, bn_binary_out(BN_OP_MUL, x1, ce, o1), "rope mul");
    t = keep(tr, bn_mul(x2, se, &t), &t, "rope mul 2");
    if (t)
        run_op(tr, bn_binary_out(BN_OP_SUB, o1, t, o1), "rope sub");
    run_op(tr, bn_binary_out(BN_OP_MUL, x2, ce, o2), "rope mul 3");
    t = NULL;
    t = keep(tr, bn_mul(x1, se, &t), &t, "rope mul 4");
    if (t)
        run_op(tr, bn_binary_out(BN_OP_ADD, o2, t, o2), "rope add");
    return OK(tr) ? out : NULL;
}

/* The block; returns its output (kept in tr) or NULL with tr->err set. */
static bn_tensor *block(const zc_state *s, trace *tr)
{
    bn_tensor *h = NULL, *wt = NULL, *qkv = NULL, *q = NULL, *k = NULL, *v = NULL;
    bn_tensor *q3 = NULL, *k3 = NULL, *v3 = NULL, *qh = NULL, *kh = NULL, *vh = NULL;
    bn_tensor *c = NULL, *sn = NULL, *qr = NULL, *kr = NULL, *q4 = NULL, *k4 = NULL, *kt = NULL;
    bn_tensor *sc = NULL, *m = NULL, *p = NULL, *v4 = NULL, *att = NULL, *a3 = NULL, *at = NULL;
    bn_tensor *ac = NULL, *a2 = NULL, *an = NULL, *o = NULL, *x1 = NULL, *h2 = NULL, *gu = NULL;
    bn_tensor *g = NULL, *u = NULL, *act = NULL, *fn = NULL, *d = NULL, *y = NULL;
    const int perm[3] = {1, 0, 2};

    h = keep(tr, bn_rmsnorm(s->x, s->n_attn, ZC_EPS, &h), &h, "rmsnorm");
    wt = vin(tr, bn_transpose(s->wqkv, 0, 1, &wt), &wt, "transpose wqkv");
    if (!OK(tr))
        return NULL;
    qkv = keep(tr, bn_matmul(h, wt, &qkv), &qkv, "matmul qkv");
    if (!OK(tr))
        return NULL;
    q = keep(tr, bn_narrow(qkv, 1, 0, ZC_H, &q), &q, "narrow q");
    k = keep(tr, bn_narrow(qkv, 1, ZC_H, ZC_KV, &k), &k, "narrow k");
    v = keep(tr, bn_narrow(qkv, 1, ZC_H + ZC_KV, ZC_KV, &v), &v, "narrow v");
    if (!OK(tr))
        return NULL;
    const int64_t sq[3] = {ZC_T, ZC_NH, ZC_HD}, skv[3] = {ZC_T, ZC_NKV, ZC_HD};
    q3 = keep(tr, bn_reshape(q, 3, sq, &q3), &q3, "reshape q");
    k3 = keep(tr, bn_reshape(k, 3, skv, &k3), &k3, "reshape k");
    v3 = keep(tr, bn_reshape(v, 3, skv, &v3), &v3, "reshape v");
    if (!OK(tr))
        return NULL;
    qh = vin(tr, bn_permute(q3, perm, &qh), &qh, "permute q");
    kh = vin(tr, bn_permute(k3, perm, &kh), &kh, "permute k");
    vh = keep(tr, bn_permute(v3, perm, &vh), &vh, "permute v");
    c = keep(tr, bn_unsqueeze(s->cos, 0, &c), &c, "unsqueeze cos");
    sn = keep(tr, bn_unsqueeze(s->sin, 0, &sn), &sn, "unsqueeze sin");
    if (!OK(tr))
        return NULL;
    qr = rope(tr, qh, ZC_NH, c, sn);
    kr = OK(tr) ? rope(tr, kh, ZC_NKV, c, sn) : NULL;
    if (!OK(tr))
        return NULL;
    /* grouped-query attention: K, V broadcast over the G query heads of a group */
    const int64_t s4[4] = {ZC_NKV, ZC_G, ZC_T, ZC_HD}, sm[4] = {ZC_NKV, ZC_G, ZC_T, ZC_T};
    q4 = vin(tr, bn_reshape(qr, 4, s4, &q4), &q4, "reshape q groups");
    k4 = keep(tr, bn_unsqueeze(kr, 1, &k4), &k4, "unsqueeze k");
    if (!OK(tr))
        return NULL;
    kt = vin(tr, bn_transpose(k4, 2, 3, &kt), &kt, "transpose k");
    if (!OK(tr))
        return NULL;
    sc = keep(tr, bn_matmul(q4, kt, &sc), &sc, "matmul scores");
    if (!OK(tr))
        return NULL;
    run_op(tr, bn_binary_scalar_out(BN_OP_MUL, sc, 1.0 / sqrt((double)ZC_HD), sc), "scale");
    m = vin(tr, bn_expand(s->mask, 4, sm, &m), &m, "expand mask");
    if (!OK(tr))
        return NULL;
    run_op(tr, bn_binary_out(BN_OP_ADD, sc, m, sc), "mask");
    p = keep(tr, bn_softmax(sc, -1, &p), &p, "softmax");
    v4 = vin(tr, bn_unsqueeze(vh, 1, &v4), &v4, "unsqueeze v");
    if (!OK(tr))
        return NULL;
    att = keep(tr, bn_matmul(p, v4, &att), &att, "matmul attention");
    if (!OK(tr))
        return NULL;
    const int64_t s3[3] = {ZC_NH, ZC_T, ZC_HD}, s2[2] = {ZC_T, ZC_H};
    a3 = keep(tr, bn_reshape(att, 3, s3, &a3), &a3, "reshape heads");
    if (!OK(tr))
        return NULL;
    at = keep(tr, bn_permute(a3, perm, &at), &at, "permute back");
    if (!OK(tr))
        return NULL;
    ac = keep(tr, bn_contiguous(at, &ac), &ac, "contiguous");
    if (!OK(tr))
        return NULL;
    a2 = vin(tr, bn_reshape(ac, 2, s2, &a2), &a2, "reshape hidden");
    if (!OK(tr))
        return NULL;
    an = keep(tr, bn_rmsnorm(a2, s->n_attn_sub, ZC_EPS, &an), &an, "attn sub-norm");
    bn_tensor *wot = NULL;
    wot = vin(tr, bn_transpose(s->wo, 0, 1, &wot), &wot, "transpose wo");
    if (!OK(tr))
        return NULL;
    o = keep(tr, bn_matmul(an, wot, &o), &o, "matmul o");
    if (!OK(tr))
        return NULL;
    x1 = keep(tr, bn_add(s->x, o, &x1), &x1, "residual 1");
    if (!OK(tr))
        return NULL;
    h2 = keep(tr, bn_rmsnorm(x1, s->n_ffn, ZC_EPS, &h2), &h2, "ffn norm");
    bn_tensor *gut = NULL;
    gut = vin(tr, bn_transpose(s->wgu, 0, 1, &gut), &gut, "transpose wgu");
    if (!OK(tr))
        return NULL;
    gu = keep(tr, bn_matmul(h2, gut, &gu), &gu, "matmul gate/up");
    if (!OK(tr))
        return NULL;
    g = vin(tr, bn_narrow(gu, 1, 0, ZC_F, &g), &g, "narrow gate");
    u = vin(tr, bn_narrow(gu, 1, ZC_F, ZC_F, &u), &u, "narrow up");
    if (!OK(tr))
        return NULL;
    act = keep(tr, bn_unary(BN_OP_RELU2, g, &act), &act, "relu2");
    if (!OK(tr))
        return NULL;
    run_op(tr, bn_binary_out(BN_OP_MUL, act, u, act), "gate * up");
    fn = keep(tr, bn_rmsnorm(act, s->n_ffn_sub, ZC_EPS, &fn), &fn, "ffn sub-norm");
    bn_tensor *wdt = NULL;
    wdt = vin(tr, bn_transpose(s->wd, 0, 1, &wdt), &wdt, "transpose wd");
    if (!OK(tr))
        return NULL;
    d = keep(tr, bn_matmul(fn, wdt, &d), &d, "matmul down");
    if (!OK(tr))
        return NULL;
    y = keep(tr, bn_add(x1, d, &y), &y, "residual 2");
    return OK(tr) ? y : NULL;
}

static void zc_teardown(void *state)
{
    zc_state *s = state;
    if (!s)
        return;
    bn_tensor *all[] = {s->x,          s->wqkv,  s->wo,        s->wgu, s->wd,  s->n_attn,
                        s->n_attn_sub, s->n_ffn, s->n_ffn_sub, s->cos, s->sin, s->mask};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        bn_tensor_free(all[i]);
    free(s);
}

static bn_status rnd(int64_t r, int64_t c, uint64_t seed, double scale, bn_tensor **out)
{
    const int64_t shp[2] = {r, c};
    return bn_tensor_rand(BN_F32, c > 0 ? 2 : 1, c > 0 ? shp : &r, seed, BN_RAND_UNIFORM, -scale,
                          scale, out);
}

static int zc_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    zc_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    const double wh = 1.0 / sqrt((double)ZC_H), wf = 1.0 / sqrt((double)ZC_F);
    bn_status st = BN_OK;
    if ((st = rnd(ZC_T, ZC_H, 1, 1.0, &s->x)) ||
        (st = rnd(ZC_H + 2 * ZC_KV, ZC_H, 2, wh, &s->wqkv)) ||
        (st = rnd(ZC_H, ZC_H, 3, wh, &s->wo)) || (st = rnd(2 * ZC_F, ZC_H, 4, wh, &s->wgu)) ||
        (st = rnd(ZC_H, ZC_F, 5, wf, &s->wd)) || (st = rnd(ZC_H, 0, 6, 1.0, &s->n_attn)) ||
        (st = rnd(ZC_H, 0, 7, 1.0, &s->n_attn_sub)) || (st = rnd(ZC_H, 0, 8, 1.0, &s->n_ffn)) ||
        (st = rnd(ZC_F, 0, 9, 1.0, &s->n_ffn_sub)))
        goto fail;
    const int64_t cs[2] = {ZC_T, ZC_HD / 2}, ms[2] = {ZC_T, ZC_T};
    if ((st = bn_tensor_empty(BN_F32, 2, cs, &s->cos)) ||
        (st = bn_tensor_empty(BN_F32, 2, cs, &s->sin)) ||
        (st = bn_tensor_empty(BN_F32, 2, ms, &s->mask)))
        goto fail;
    float *cp = bn_tensor_data(s->cos), *sp = bn_tensor_data(s->sin), *mp = bn_tensor_data(s->mask);
    for (int t = 0; t < ZC_T; t++) {
        for (int i = 0; i < ZC_HD / 2; i++) {
            double theta = t * pow(10000.0, -2.0 * i / ZC_HD);
            cp[t * (ZC_HD / 2) + i] = (float)cos(theta);
            sp[t * (ZC_HD / 2) + i] = (float)sin(theta);
        }
        for (int j = 0; j < ZC_T; j++)
            mp[t * ZC_T + j] = j <= t ? 0.0f : -1e30f;
    }
    /* the counted trace */
    trace tr = {.err = BN_OK};
    bn_op_stats_reset();
    bn_tensor *y = block(s, &tr);
    bn_op_stats_get(&s->st);
    trace_free(&tr);
    if (!y) {
        snprintf(err, cap, "block: %s: %s", tr.where, bn_last_error());
        zc_teardown(s);
        return -1;
    }
    *state = s;
    return 0;
fail:
    snprintf(err, cap, "creating the block's weights: %s", bn_last_error());
    zc_teardown(s);
    return -1;
}

static int zc_verify(void *state, char *err, size_t cap)
{
    zc_state *s = state;
    trace a = {.err = BN_OK}, b = {.err = BN_OK, .materialise = true};
    int rc = -1;
    float *ya = NULL, *yb = NULL;
    bn_tensor *y1 = block(s, &a), *y2 = y1 ? block(s, &b) : NULL;
    if (!y1 || !y2) {
        snprintf(err, cap, "block: %s: %s", y1 ? b.where : a.where, bn_last_error());
        goto out;
    }
    int64_t n = bn_tensor_numel(y1);
    ya = malloc((size_t)n * sizeof *ya);
    yb = malloc((size_t)n * sizeof *yb);
    if (!ya || !yb || bn_tensor_to_f32(y1, ya, n) != BN_OK ||
        bn_tensor_to_f32(y2, yb, n) != BN_OK) {
        snprintf(err, cap, "out of memory reading the output");
        goto out;
    }
    double amax = 0;
    for (int64_t i = 0; i < n; i++)
        amax = fmax(amax, fabs(yb[i]));
    for (int64_t i = 0; i < n; i++) {
        if (!(fabs((double)ya[i] - yb[i]) <= 1e-4 * amax)) {
            snprintf(err, cap, "y[%lld] = %.9g with views, %.9g with copies (max |y| %.4g)",
                     (long long)i, ya[i], yb[i], amax);
            goto out;
        }
    }
    rc = 0;
out:
    free(ya);
    free(yb);
    trace_free(&a);
    trace_free(&b);
    return rc;
}

static void zc_run(void *state, int64_t iters)
{
    zc_state *s = state;
    for (int64_t i = 0; i < iters; i++) {
        trace tr = {.err = BN_OK};
        block(s, &tr);
        trace_free(&tr);
    }
}

static int zc_metrics(void *state, bnb_case_result *r)
{
    zc_state *s = state;
    const bn_op_stats *st = &s->st;
    if (st->ops == 0)
        return bnb_case_add_unavailable(r, "ratio", "ratio", "the trace recorded no op") ? 0 : -1;
    return bnb_case_add_metric(r, "ratio", "ratio", (double)st->ops_shared / (double)st->ops,
                               true) &&
                   bnb_case_add_metric(r, "ops", "count", (double)st->ops, false) &&
                   bnb_case_add_metric(r, "ops_shared", "count", (double)st->ops_shared, true) &&
                   bnb_case_add_metric(r, "bytes_alloc", "B", (double)st->bytes_alloc, false) &&
                   bnb_case_add_metric(r, "bytes_copied", "B", (double)st->bytes_copied, false)
               ? 0
               : -1;
}

static const bnb_case_def zc_cases[] = {
    {.name = "transformer-block",
     .code_version = "1",
     .setup = zc_setup,
     .verify = zc_verify,
     .run = zc_run,
     .metrics = zc_metrics,
     .metric_names = "ratio,ops,ops_shared,bytes_alloc,bytes_copied",
     .teardown = zc_teardown},
};

const bnb_suite bnb_suite_zerocopy = {
    .name = "zerocopy",
    .description = "share of a transformer block's ops whose output shares its input's buffer",
    .in_default = true,
    .cases = zc_cases,
    .ncases = (int)(sizeof zc_cases / sizeof zc_cases[0]),
};
