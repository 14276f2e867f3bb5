/*
 * kbench.c - kernel cases for the `elementwise` and `reduce` suites (see
 * kbench.h): inputs, the timed call of one table entry, verification and
 * the derived figures.
 *
 * The timed region calls the table's row kernel directly on contiguous
 * operands (unit strides), one call over the whole operand (row-wise ops:
 * one call per row of BNB_KROW), so it measures the kernel and nothing of
 * the engine's shape walking.
 *
 * Verification, once before timing:
 *   - the table=ref case checks the reference against the op's definition
 *     evaluated in double (add, mul exactly; the rest within a few ulp),
 *   - the selected case checks its table against the reference table on the
 *     same inputs, within the op's stated tolerance (exact for add, mul,
 *     mul-add and max; relative 1e-5 for the approximated functions).
 *
 * Figures: :gbps = bytes per call (each operand read or written once) /
 * median / 1e9; :speedup = median of the table=ref case / this median (the
 * selected case, when the reference case ran earlier in the run);
 * :pct_triad = gbps / peak/triad:gbps x 100 at DRAM size, when the peak
 * suite ran first; :elements, :bytes.
 */
#include "suites/kbench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/bnb.h"

typedef enum kkind { KK_BIN, KK_UN, KK_MULADD, KK_SUM, KK_MAX, KK_SOFTMAX, KK_RMS, KK_LN } kkind;

typedef struct kop_desc {
    const char *name;
    kkind kind;
    bn_op op;        /* table index for binary/unary */
    double lo, hi;   /* input range */
    double rtol_sel; /* selected vs reference */
    double atol_sel;
    int bytes_per; /* bytes moved per element */
} kop_desc;

static const kop_desc kops[BNB_K_COUNT] = {
    [BNB_K_ADD] = {"add", KK_BIN, BN_OP_ADD, -1, 1, 0, 0, 12},
    [BNB_K_MUL] = {"mul", KK_BIN, BN_OP_MUL, -1, 1, 0, 0, 12},
    [BNB_K_MULADD] = {"muladd", KK_MULADD, BN_OP_MUL, -1, 1, 0, 0, 24},
    [BNB_K_EXP] = {"exp", KK_UN, BN_OP_EXP, -20, 20, 1e-5, 0, 8},
    [BNB_K_GELU] = {"gelu", KK_UN, BN_OP_GELU, -8, 8, 1e-5, 1e-7, 8},
    [BNB_K_SILU] = {"silu", KK_UN, BN_OP_SILU, -8, 8, 1e-5, 1e-7, 8},
    [BNB_K_SIGMOID] = {"sigmoid", KK_UN, BN_OP_SIGMOID, -8, 8, 1e-5, 1e-7, 8},
    [BNB_K_TANH] = {"tanh", KK_UN, BN_OP_TANH, -8, 8, 1e-5, 1e-7, 8},
    [BNB_K_SUM] = {"sum", KK_SUM, BN_OP_SUM, -1, 1, 1e-6, 0, 4},
    [BNB_K_MAX] = {"max", KK_MAX, BN_OP_MAX, -1, 1, 0, 0, 4},
    [BNB_K_SOFTMAX] = {"softmax", KK_SOFTMAX, BN_OP_SOFTMAX, -8, 8, 1e-5, 1e-9, 8},
    [BNB_K_RMSNORM] = {"rmsnorm", KK_RMS, BN_OP_RMSNORM, -2, 2, 1e-5, 1e-6, 8},
    [BNB_K_LAYERNORM] = {"layernorm", KK_LN, BN_OP_LAYERNORM, -2, 2, 1e-5, 1e-5, 8},
};

const char *bnb_kop_name(bnb_kop op)
{
    return kops[op].name;
}

const char *bnb_klevel_name(bnb_klevel l)
{
    return l == BNB_L1 ? "L1" : l == BNB_L2 ? "L2" : "DRAM";
}

int64_t bnb_klevel_elems(bnb_klevel l)
{
    return l == BNB_L1 ? 1024 : l == BNB_L2 ? 65536 : (int64_t)8 << 20;
}

typedef struct kstate {
    const bnb_kcase_arg *arg;
    const kop_desc *d;
    const bnb_case_env *env;
    const bnk_table *t;
    int64_t n;
    float *a, *b, *c, *y, *w, *bias; /* y: output (rows ops, elementwise) */
    volatile double sink;
} kstate;

void bnb_kcase_teardown(void *state)
{
    kstate *s = state;
    if (!s)
        return;
    free(s->a);
    free(s->b);
    free(s->c);
    free(s->y);
    free(s->w);
    free(s->bias);
    free(s);
}

static float *falloc(int64_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (size_t)n * sizeof(float)) != 0)
        return NULL;
    return p;
}

/* Uniform values in [lo, hi) from a fixed seed (splitmix64). */
static void fill(float *x, int64_t n, double lo, double hi, uint64_t seed)
{
    uint64_t z = seed;
    for (int64_t i = 0; i < n; i++) {
        z += 0x9e3779b97f4a7c15ull;
        uint64_t r = z;
        r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
        r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
        r ^= r >> 31;
        x[i] = (float)(lo + (hi - lo) * (double)(r >> 11) * 0x1.0p-53);
    }
}

int bnb_kcase_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    const bnb_kcase_arg *a = arg;
    kstate *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->arg = a;
    s->d = &kops[a->op];
    s->env = env;
    s->t = a->table ? a->table : a->ref ? bnk_ref_table() : bnk_active();
    s->n = a->n > 0 ? a->n : bnb_klevel_elems(a->level);
    if (a->n <= 0 && a->level == BNB_DRAM && env->topo->llc_bytes / sizeof(float) > (uint64_t)s->n)
        s->n = (int64_t)(env->topo->llc_bytes / sizeof(float)) / BNB_KROW * BNB_KROW;
    kkind k = s->d->kind;
    bool rows = k == KK_SOFTMAX || k == KK_RMS || k == KK_LN;
    if (rows && s->n % BNB_KROW != 0) {
        snprintf(err, cap, "%s: %lld elements is not a whole number of %d-element rows", s->d->name,
                 (long long)s->n, BNB_KROW);
        bnb_kcase_teardown(s);
        return -1;
    }
    if (!(s->a = falloc(s->n)))
        goto oom;
    fill(s->a, s->n, s->d->lo, s->d->hi, 0x61 + (uint64_t)a->op);
    if (k == KK_BIN || k == KK_MULADD) {
        if (!(s->b = falloc(s->n)))
            goto oom;
        fill(s->b, s->n, s->d->lo, s->d->hi, 0x62);
    }
    if (k == KK_MULADD) {
        if (!(s->c = falloc(s->n)))
            goto oom;
        fill(s->c, s->n, s->d->lo, s->d->hi, 0x63);
    }
    if (k != KK_SUM && k != KK_MAX && !(s->y = falloc(s->n)))
        goto oom;
    if (k == KK_RMS || k == KK_LN) {
        if (!(s->w = falloc(BNB_KROW)) || !(s->bias = falloc(BNB_KROW)))
            goto oom;
        fill(s->w, BNB_KROW, 0.5, 1.5, 0x64);
        fill(s->bias, BNB_KROW, -0.5, 0.5, 0x65);
    }
    if (s->y) /* first touch of the output, outside the timed region */
        memset(s->y, 0, (size_t)s->n * sizeof(float));
    *state = s;
    return 0;
oom:
    snprintf(err, cap, "cannot allocate the operands (%lld elements each)",
             (long long)(a->n > 0 ? a->n : bnb_klevel_elems(a->level)));
    bnb_kcase_teardown(s);
    return -1;
}

#define LN_EPS 1e-5f

/* One call of the op with table t into y; returns the scalar of reductions. */
static double call(const kstate *s, const bnk_table *t, float *y)
{
    const kop_desc *d = s->d;
    int64_t n = s->n;
    switch (d->kind) {
    case KK_BIN:
        t->binary_f32[d->op](n, s->a, 1, s->b, 1, y, 1);
        return 0;
    case KK_MULADD:
        t->fma_f32(n, s->a, 1, s->b, 1, s->c, 1, y, 1); /* a*b + c rounded once */
        return 0;
    case KK_UN:
        t->unary_f32[d->op](n, s->a, 1, y, 1);
        return 0;
    case KK_SUM:
        return t->sum_f32(n, s->a, 1);
    case KK_MAX:
        return t->max_f32(n, s->a, 1);
    case KK_SOFTMAX:
        for (int64_t r = 0; r < n; r += BNB_KROW)
            t->softmax_f32(BNB_KROW, s->a + r, 1, y + r, 1);
        return 0;
    case KK_RMS:
        t->rmsnorm_rows_f32(n / BNB_KROW, BNB_KROW, s->a, BNB_KROW, s->w, LN_EPS, y, BNB_KROW);
        return 0;
    case KK_LN:
        for (int64_t r = 0; r < n; r += BNB_KROW)
            t->layernorm_f32(BNB_KROW, s->a + r, 1, s->w, 1, s->bias, 1, LN_EPS, y + r, 1);
        return 0;
    }
    return 0;
}

/* The op's definition in double for element i (row ops: over its row). */
static double exact(const kstate *s, int64_t i)
{
    const kop_desc *d = s->d;
    double x = s->a[i];
    switch (d->op) {
    case BN_OP_ADD:
        return x + s->b[i];
    case BN_OP_MUL:
        return d->kind == KK_MULADD ? (double)fmaf(s->a[i], s->b[i], s->c[i]) : x * s->b[i];
    case BN_OP_EXP:
        return exp(x);
    case BN_OP_GELU:
        return 0.5 * x * erfc(-x / sqrt(2.0)); /* erfc: no cancellation in the tail */
    case BN_OP_SILU:
        return x / (1.0 + exp(-x));
    case BN_OP_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case BN_OP_TANH:
        return tanh(x);
    default:
        break;
    }
    int64_t r0 = i / BNB_KROW * BNB_KROW, j = i - r0;
    const float *row = s->a + r0;
    double sum = 0, sq = 0, mx = -INFINITY;
    for (int64_t k = 0; k < BNB_KROW; k++) {
        sum += row[k];
        sq += (double)row[k] * row[k];
        mx = fmax(mx, row[k]);
    }
    if (d->op == BN_OP_SOFTMAX) {
        double z = 0;
        for (int64_t k = 0; k < BNB_KROW; k++)
            z += exp((double)row[k] - mx);
        return exp(x - mx) / z;
    }
    if (d->op == BN_OP_RMSNORM)
        return x / sqrt(sq / BNB_KROW + LN_EPS) * s->w[j];
    double mean = sum / BNB_KROW, var = 0;
    for (int64_t k = 0; k < BNB_KROW; k++)
        var += (row[k] - mean) * (row[k] - mean);
    var /= BNB_KROW;
    return (x - mean) / sqrt(var + LN_EPS) * s->w[j] + s->bias[j];
}

/* Elements checked against the double definition: all at L1/L2 size, a
 * spread sample of 65536 at DRAM size (row ops: whole rows). */
static int64_t check_step(const kstate *s)
{
    int64_t step = s->n > 65536 ? s->n / 65536 : 1;
    return step;
}

int bnb_kcase_verify(void *state, char *err, size_t cap)
{
    kstate *s = state;
    const kop_desc *d = s->d;
    int rc = -1;
    float *ref = NULL;
    if (!s->t ||
        ((d->kind == KK_BIN || d->kind == KK_MULADD) &&
         (!s->t->binary_f32[BN_OP_MUL] || !s->t->binary_f32[d->op])) ||
        (d->kind == KK_UN && !s->t->unary_f32[d->op])) {
        snprintf(err, cap, "table %s has no %s kernel", s->t ? s->t->name : "(none)", d->name);
        return -1;
    }
    if (d->kind == KK_SUM || d->kind == KK_MAX) {
        double got = call(s, s->t, NULL), sabs = 0, want;
        if (s->arg->ref) {
            double acc = 0, mx = -INFINITY;
            for (int64_t i = 0; i < s->n; i++) {
                acc += s->a[i];
                sabs += fabs(s->a[i]);
                mx = fmax(mx, s->a[i]);
            }
            want = d->kind == KK_SUM ? acc : mx;
        } else {
            for (int64_t i = 0; i < s->n; i++)
                sabs += fabs(s->a[i]);
            want = call(s, bnk_ref_table(), NULL);
        }
        double tol = d->kind == KK_MAX ? 0 : (s->arg->ref ? 1e-12 : d->rtol_sel) * sabs;
        if (!(fabs(got - want) <= tol)) {
            snprintf(err, cap, "%s %s over %lld elements = %.17g, %s %.17g (tolerance %.3g)",
                     s->t->name, d->name, (long long)s->n, got,
                     s->arg->ref ? "in double" : "reference", want, tol);
            return -1;
        }
        return 0;
    }
    call(s, s->t, s->y);
    if (!s->arg->ref) {
        if (!(ref = falloc(s->n))) {
            snprintf(err, cap, "out of memory for the reference output");
            return -1;
        }
        call(s, bnk_ref_table(), ref);
    }
    bool rows = d->kind == KK_SOFTMAX || d->kind == KK_RMS || d->kind == KK_LN;
    int64_t step = s->arg->ref ? check_step(s) : 1;
    for (int64_t i0 = 0; i0 < s->n; i0 += rows ? step * BNB_KROW : step) {
        int64_t i1 = rows ? i0 + BNB_KROW : i0 + 1;
        if (rows && i1 > s->n)
            break;
        for (int64_t i = i0; i < i1; i++) {
            double want, tol;
            if (ref) {
                want = ref[i];
                tol = d->rtol_sel * fabs(want) + d->atol_sel;
            } else {
                want = exact(s, i);
                /* the reference: correctly rounded (add, mul) or within a
                 * few ulp of the double definition */
                bool exact_op = d->op == BN_OP_ADD || d->op == BN_OP_MUL;
                tol = exact_op ? 0 : (rows ? 1e-6 : 4.8e-7) * fabs(want) + (rows ? 1e-7 : 1e-38);
                if (exact_op)
                    want = (float)want;
            }
            if (!(fabs((double)s->y[i] - want) <= tol)) {
                snprintf(err, cap, "%s %s: y[%lld] = %.9g for input %.9g, %s %.9g (tolerance %.3g)",
                         s->t->name, d->name, (long long)i, s->y[i], s->a[i],
                         ref ? "reference" : "in double", want, tol);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(ref);
    return rc;
}

void bnb_kcase_run(void *state, int64_t iters)
{
    kstate *s = state;
    double acc = 0;
    for (int64_t i = 0; i < iters; i++)
        acc += call(s, s->t, s->y);
    s->sink = acc;
}

int bnb_kcase_metrics(void *state, bnb_case_result *r)
{
    kstate *s = state;
    double bytes = (double)s->d->bytes_per * (double)s->n;
    double gbps = bytes / r->stats.median / 1e9;
    bnb_metric *m = bnb_case_add_metric(r, "gbps", "GB/s", gbps, true);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_RATE;
    if (!bnb_case_add_metric(r, "elements", "count", (double)s->n, true) ||
        !bnb_case_add_metric(r, "bytes", "B", bytes, true))
        return -1;
    if (!s->arg->ref) {
        char refname[BNB_NAME_MAX + 160];
        bnb_case_result tmp = {0};
        snprintf(tmp.suite, sizeof tmp.suite, "%s", r->suite);
        snprintf(tmp.name, sizeof tmp.name, "%s", r->name);
        tmp.nparams = r->nparams;
        memcpy(tmp.params, r->params, sizeof tmp.params);
        bnb_case_add_param(&tmp, "table", "ref");
        bnb_case_fullname(&tmp, refname, sizeof refname);
        const bnb_case_result *rc = bnb_env_case(s->env, refname);
        if (rc && rc->stats.median > 0) {
            m = bnb_case_add_metric(r, "speedup", "x", rc->stats.median / r->stats.median, true);
            if (!m)
                return -1;
            m->timing = BNB_TIMING_RATE;
        } else if (!bnb_case_add_unavailable(r, "speedup", "x",
                                             "the table=ref case was not measured in this run")) {
            return -1;
        }
    }
    if (s->arg->level == BNB_DRAM) {
        const bnb_case_result *t = bnb_env_case(s->env, "peak/triad");
        const bnb_metric *tg = t ? bnb_case_metric(t, "gbps") : NULL;
        if (tg && tg->available && tg->value > 0) {
            m = bnb_case_add_metric(r, "pct_triad", "%", 100.0 * gbps / tg->value, true);
            if (!m)
                return -1;
            m->timing = BNB_TIMING_RATE;
        }
    }
    return 0;
}

void bnb_kcase_def(const bnb_kcase_arg *arg, bnb_case_def *def)
{
    *def = (bnb_case_def){
        .name = kops[arg->op].name,
        .nparams = arg->ref ? 2 : 1,
        .code_version = "1",
        .arg = arg,
        .setup = bnb_kcase_setup,
        .verify = bnb_kcase_verify,
        .run = bnb_kcase_run,
        .metrics = bnb_kcase_metrics,
        .metric_names = arg->level == BNB_DRAM
                            ? (arg->ref ? BNB_KMETRICS_DRAM_REF : BNB_KMETRICS_DRAM)
                        : arg->ref ? BNB_KMETRICS_REF
                                   : BNB_KMETRICS,
        .teardown = bnb_kcase_teardown,
    };
    snprintf(def->params[0].key, sizeof def->params[0].key, "cache");
    snprintf(def->params[0].value, sizeof def->params[0].value, "%s", bnb_klevel_name(arg->level));
    snprintf(def->params[1].key, sizeof def->params[1].key, "table");
    snprintf(def->params[1].value, sizeof def->params[1].value, "ref");
}
