/*
 * kernels.h - which kernel set the engine runs, and how it was chosen.
 *
 * libbitnet carries several implementations of its inner loops: the portable
 * reference ("ref", the truth every other set is tested against) and x86 SIMD
 * sets ("avx2": AVX2 + FMA + F16C; "avx512": AVX-512 F/BW/VL/DQ). Once per
 * process, on first use of any op or of this API, the library picks the best
 * set this CPU and OS can run (CPUID, with XGETBV for OS support of the wide
 * registers). The environment variable BN_KERNELS=ref|avx2|avx512 forces a
 * set instead, for A/B runs. A set is every kernel family at once: the
 * element-wise and reduction ops, matmul's GEMM, the ternary (W1.58A8)
 * kernels and the linear algebra all run the chosen set's code (the avx512
 * set's ternary kernels are AMX or VNNI ones where the CPU has them).
 *
 * A BN_KERNELS value that is unknown, or names a set this CPU lacks, is an
 * error: the library runs with the automatic choice (so nothing it computes
 * is wrong) and bn_kernels_init() returns the error every time it is called.
 * Programs that must not run with a choice other than the one asked for
 * (bnbench) check bn_kernels_init() at start and stop. If the program never
 * calls bn_kernels_init(), the library writes the error as one line to
 * stderr at the first op ("bitnet: BN_KERNELS=avx3: unknown kernel set
 * (valid: ref, avx2, avx512); using avx512"), so it is never silent.
 *
 * With BN_VERBOSE set (to anything but "" or "0") the choice is logged once to
 * stderr: "bitnet: kernels avx512 (auto; supported: ref avx2 avx512)".
 *
 * Thread-safety: every function here is thread-safe. bn_kernels_select()
 * switches the set for ops that start afterwards; ops already running finish
 * with the set they started with.
 */
#ifndef BITNET_KERNELS_PUBLIC_H
#define BITNET_KERNELS_PUBLIC_H

#include <stdbool.h>

#include "bitnet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Runs the selection if it has not run yet. BN_OK when the set in use is the
 * one asked for (automatic, or BN_KERNELS naming a supported set); otherwise
 * BN_ERR_ARG (unknown name) or BN_ERR_UNSUPPORTED (the CPU lacks the set),
 * with the message in bn_last_error(), e.g.
 *   BN_KERNELS=avx512: this CPU does not support the avx512 kernel set
 *   (supported: ref avx2)
 */
bn_status bn_kernels_init(void);
/*
 * BN_CPU_HIDE=avx2|avx512|vnni|amx[,...] makes the CPU probe report those
 * features absent (and every feature that builds on one: avx2 hides all),
 * so a machine can run the "this CPU lacks it" paths for real; CI runs the
 * tests so. The sets that need a hidden feature are then unsupported. An
 * unknown name is a BN_ERR_ARG from bn_kernels_init() naming it. A hide in
 * force shows in bn_kernels_how(): "auto (BN_CPU_HIDE=avx512)".
 */

/* Name of the set in use: "ref", "avx2" or "avx512". Never NULL. */
const char *bn_kernels_selected(void);

/* The sets this CPU supports, space-separated in order of preference:
 * "ref avx2 avx512". Never NULL. */
const char *bn_kernels_supported(void);

/* true when the set in use was forced (BN_KERNELS or bn_kernels_select),
 * false when chosen automatically. */
bool bn_kernels_forced(void);

/* How the choice was made, for logs and stored runs: "auto" (or
 * "auto (BN_CPU_HIDE=...)"), "forced (BN_KERNELS=avx2)" or
 * "forced (bn_kernels_select)". Never NULL. */
const char *bn_kernels_how(void);

/*
 * Switches the set in use: name "ref", "avx2", "avx512", or NULL / "auto" for
 * the automatic choice. BN_ERR_ARG for an unknown name, BN_ERR_UNSUPPORTED
 * when the CPU lacks the set (the set in use is then unchanged). Does not
 * clear an error bn_kernels_init() reports for BN_KERNELS.
 */
bn_status bn_kernels_select(const char *name);

#ifdef __cplusplus
}
#endif
#endif
