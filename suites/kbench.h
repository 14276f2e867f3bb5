/*
 * kbench.h - the case machinery shared by the `elementwise` and `reduce`
 * suites (suites/kbench.c): one op of the kernel table timed on contiguous
 * f32 operands of a given cache level, either from the reference table or
 * from the selected one (bnk_active()), with the SIMD speedup and bandwidth
 * figures DESIGN.md defines.
 *
 * Case names: <suite>/<op>/cache=<L1|L2|DRAM> times the selected table;
 * <suite>/<op>/cache=<level>/table=ref times the reference on the same
 * inputs (its case comes first, so the selected case reads its median).
 *
 * Exposed (beyond the two suites) so tests can build a case that times a
 * table of their own, e.g. a deliberately wrong kernel, and see it fail
 * verification.
 */
#ifndef BNB_KBENCH_H
#define BNB_KBENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"
#include "suites/suite.h"

typedef enum bnb_kop {
    /* elementwise */
    BNB_K_ADD,
    BNB_K_MUL,
    BNB_K_MULADD, /* y = a * b + c as the table's mul then add (it has no fused kernel) */
    BNB_K_EXP,
    BNB_K_GELU,
    BNB_K_SILU,
    BNB_K_SIGMOID,
    BNB_K_TANH,
    /* reduce */
    BNB_K_SUM,
    BNB_K_MAX,
    BNB_K_SOFTMAX,   /* rows of BNB_KROW elements */
    BNB_K_RMSNORM,   /* rows of BNB_KROW, with a weight */
    BNB_K_LAYERNORM, /* rows of BNB_KROW, with weight and bias */
    BNB_K_COUNT
} bnb_kop;

#define BNB_KROW 1024 /* row length of the row-wise reduce ops (4 KiB, one L1 operand) */

typedef enum bnb_klevel { BNB_L1 = 0, BNB_L2, BNB_DRAM } bnb_klevel;

typedef struct bnb_kcase_arg {
    bnb_kop op;
    bnb_klevel level;
    bool ref;               /* time the reference table (the table=ref case) */
    const bnk_table *table; /* NULL: bnk_active() (or the reference when ref) */
    int64_t n;              /* elements per operand; 0: the level's size */
} bnb_kcase_arg;

/* "add", "softmax", ... */
const char *bnb_kop_name(bnb_kop op);
/* "L1", "L2", "DRAM" */
const char *bnb_klevel_name(bnb_klevel l);
/* Elements per operand at a level: 4 KiB, 256 KiB, 32 MiB of f32. At DRAM
 * size a case takes the larger of that and the last-level cache, so every
 * operand alone fills the LLC and a case's operands (two or more) are at
 * least twice its size: they stream from memory. (32 MiB rather than more
 * keeps the reference's transcendental cases within the time of `make
 * run`.) */
int64_t bnb_klevel_elems(bnb_klevel l);

/* Fills *def with the callbacks of a kernel case for *arg (which must
 * outlive the case), named as above; name and params are set from arg. */
void bnb_kcase_def(const bnb_kcase_arg *arg, bnb_case_def *def);

/* What bnb_kcase_metrics adds: speedup unless the case is the reference
 * table itself, pct_triad (of peak/triad) at DRAM size. */
#define BNB_KMETRICS_REF      "gbps,elements,bytes"
#define BNB_KMETRICS          BNB_KMETRICS_REF ",speedup"
#define BNB_KMETRICS_DRAM_REF BNB_KMETRICS_REF ",pct_triad"
#define BNB_KMETRICS_DRAM     BNB_KMETRICS ",pct_triad"

/* mets: the BNB_KMETRICS* list for the level and table. */
#define BNB_KCASE(a, nm, lv, refp, sq, mets)                                                       \
    {                                                                                              \
        .name = nm, .nparams = (refp) ? 2 : 1, .params = {{"cache", lv}, {"table", "ref"}},        \
        .code_version = "1", .arg = a, .setup = bnb_kcase_setup, .verify = bnb_kcase_verify,       \
        .run = bnb_kcase_run, .metrics = bnb_kcase_metrics, .teardown = bnb_kcase_teardown,        \
        .skip_quick = (sq), .metric_names = mets                                                   \
    }

/* The callbacks (for static case tables via BNB_KCASE). */
int bnb_kcase_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap);
int bnb_kcase_verify(void *state, char *err, size_t cap);
void bnb_kcase_run(void *state, int64_t iters);
int bnb_kcase_metrics(void *state, bnb_case_result *r);
void bnb_kcase_teardown(void *state);

#endif
