/*
 * suite_reduce.c - the `reduce` suite: SIMD speedup of the selected kernel
 * table over the scalar reference for reductions and row normalisations,
 * at L1-, L2- and DRAM-sized operands (4 KiB, 256 KiB, max(32 MiB, LLC); DESIGN.md "SIMD speedup").
 *
 *   reduce/<op>/cache=<L1|L2|DRAM>/table=ref   the reference table
 *   reduce/<op>/cache=<L1|L2|DRAM>             the selected table:
 *       :speedup, :gbps, :pct_triad (DRAM)
 * The compute-bound ops' DRAM cases are left out by --quick (their
 * per-element cost is the L2 case's; the reference takes seconds there).
 * ops: sum and max over the whole operand (one row); softmax, rmsnorm (with
 * a weight) and layernorm (weight and bias) over rows of 1024 elements, the
 * operand being a stack of such rows. Case machinery: suites/kbench.c.
 */
#include "suites/kbench.h"

#define RD_ARGS(op)                                                                                \
    static const bnb_kcase_arg op##_l1r = {BNB_K_##op, BNB_L1, true, NULL, 0};                     \
    static const bnb_kcase_arg op##_l1 = {BNB_K_##op, BNB_L1, false, NULL, 0};                     \
    static const bnb_kcase_arg op##_l2r = {BNB_K_##op, BNB_L2, true, NULL, 0};                     \
    static const bnb_kcase_arg op##_l2 = {BNB_K_##op, BNB_L2, false, NULL, 0};                     \
    static const bnb_kcase_arg op##_dr = {BNB_K_##op, BNB_DRAM, true, NULL, 0};                    \
    static const bnb_kcase_arg op##_d = {BNB_K_##op, BNB_DRAM, false, NULL, 0};

#define RD_CASES(op, nm, dram_quick_skip)                                                          \
    BNB_KCASE(&op##_l1r, nm, "L1", true, false, BNB_KMETRICS_REF),                                 \
        BNB_KCASE(&op##_l1, nm, "L1", false, false, BNB_KMETRICS),                                 \
        BNB_KCASE(&op##_l2r, nm, "L2", true, false, BNB_KMETRICS_REF),                             \
        BNB_KCASE(&op##_l2, nm, "L2", false, false, BNB_KMETRICS),                                 \
        BNB_KCASE(&op##_dr, nm, "DRAM", true, dram_quick_skip, BNB_KMETRICS_DRAM_REF),             \
        BNB_KCASE(&op##_d, nm, "DRAM", false, dram_quick_skip, BNB_KMETRICS_DRAM)

RD_ARGS(SUM)
RD_ARGS(MAX)
RD_ARGS(SOFTMAX)
RD_ARGS(RMSNORM)
RD_ARGS(LAYERNORM)

static const bnb_case_def rd_cases[] = {
    RD_CASES(SUM, "sum", false),
    RD_CASES(MAX, "max", false),
    RD_CASES(SOFTMAX, "softmax", true),
    RD_CASES(RMSNORM, "rmsnorm", false),
    RD_CASES(LAYERNORM, "layernorm", true),
};

const bnb_suite bnb_suite_reduce = {
    .name = "reduce",
    .description = "selected SIMD kernels vs the scalar reference: sum, max, softmax, rmsnorm, "
                   "layernorm at L1, L2 and DRAM sizes",
    .in_default = true,
    .cases = rd_cases,
    .ncases = (int)(sizeof rd_cases / sizeof rd_cases[0]),
};
