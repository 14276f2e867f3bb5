/*
 * suite_elementwise.c - the `elementwise` suite: SIMD speedup of the
 * selected kernel table (bnk_active()) over the scalar reference, per op, at
 * L1-, L2- and DRAM-sized operands (DESIGN.md "SIMD speedup").
 *
 *   elementwise/<op>/cache=<L1|L2|DRAM>/table=ref   the reference table
 *   elementwise/<op>/cache=<L1|L2|DRAM>             the selected table:
 *       :speedup (reference median / this median), :gbps, :pct_triad (DRAM)
 * The compute-bound ops' DRAM cases are left out by --quick (their
 * per-element cost is the L2 case's; the reference takes seconds there).
 * ops: add, mul, muladd (the table's fused fma_f32 row: a*b + c rounded once),
 * exp, gelu (erf form), silu, sigmoid, tanh. Operands are 4 KiB, 256 KiB and
 * max(32 MiB, LLC) each. Case machinery, verification and figures: suites/kbench.c.
 */
#include "suites/kbench.h"

#define EW_ARGS(op)                                                                                \
    static const bnb_kcase_arg op##_l1r = {BNB_K_##op, BNB_L1, true, NULL, 0};                     \
    static const bnb_kcase_arg op##_l1 = {BNB_K_##op, BNB_L1, false, NULL, 0};                     \
    static const bnb_kcase_arg op##_l2r = {BNB_K_##op, BNB_L2, true, NULL, 0};                     \
    static const bnb_kcase_arg op##_l2 = {BNB_K_##op, BNB_L2, false, NULL, 0};                     \
    static const bnb_kcase_arg op##_dr = {BNB_K_##op, BNB_DRAM, true, NULL, 0};                    \
    static const bnb_kcase_arg op##_d = {BNB_K_##op, BNB_DRAM, false, NULL, 0};

#define EW_CASES(op, nm, dram_quick_skip)                                                          \
    BNB_KCASE(&op##_l1r, nm, "L1", true, false, BNB_KMETRICS_REF),                                 \
        BNB_KCASE(&op##_l1, nm, "L1", false, false, BNB_KMETRICS),                                 \
        BNB_KCASE(&op##_l2r, nm, "L2", true, false, BNB_KMETRICS_REF),                             \
        BNB_KCASE(&op##_l2, nm, "L2", false, false, BNB_KMETRICS),                                 \
        BNB_KCASE(&op##_dr, nm, "DRAM", true, dram_quick_skip, BNB_KMETRICS_DRAM_REF),             \
        BNB_KCASE(&op##_d, nm, "DRAM", false, dram_quick_skip, BNB_KMETRICS_DRAM)

EW_ARGS(ADD)
EW_ARGS(MUL)
EW_ARGS(MULADD)
EW_ARGS(EXP)
EW_ARGS(GELU)
EW_ARGS(SILU)
EW_ARGS(SIGMOID)
EW_ARGS(TANH)

static const bnb_case_def ew_cases[] = {
    EW_CASES(ADD, "add", false),        EW_CASES(MUL, "mul", false),
    EW_CASES(MULADD, "muladd", false),  EW_CASES(EXP, "exp", true),
    EW_CASES(GELU, "gelu", true),       EW_CASES(SILU, "silu", true),
    EW_CASES(SIGMOID, "sigmoid", true), EW_CASES(TANH, "tanh", true),
};

const bnb_suite bnb_suite_elementwise = {
    .name = "elementwise",
    .description = "selected SIMD kernels vs the scalar reference: add, mul, muladd, exp, gelu, "
                   "silu, sigmoid, tanh at L1, L2 and DRAM sizes",
    .in_default = true,
    .cases = ew_cases,
    .ncases = (int)(sizeof ew_cases / sizeof ew_cases[0]),
};
