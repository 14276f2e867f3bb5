/*
 * peak_probe.h - FMA-throughput probes for bnbench's `peak` suite, one per
 * ISA level. Their bodies live in kernels/x86/avx2/ and kernels/x86/avx512/
 * (the only objects built with those ISA flags); the caller checks CPUID
 * (__builtin_cpu_supports) before calling one, so the binary runs on any
 * x86-64.
 *
 * Contract of every probe: `acc` independent accumulator vectors, the lanes
 * of accumulator k starting at x0 + k * BNK_PEAK_STEP, each updated `blocks`
 * times by acc = acc * m + a (one fused multiply-add, 2 flops per lane);
 * returns the sum of every lane of every accumulator (so the work cannot be
 * elided, and a caller can check it against the closed form
 * x_n = m^n x_0 + a (1 - m^n) / (1 - m)). The start values differ so the
 * compiler cannot prove two chains equal and merge them into one. Enough
 * accumulators are used to cover FMA latency x FMA ports on current cores
 * (4 cycles x 2 ports), so the probe is throughput-bound, not latency-bound.
 */
#ifndef BNK_PEAK_PROBE_H
#define BNK_PEAK_PROBE_H

#include <stdint.h>

#define BNK_PEAK_AVX2_ACC     12 /* ymm accumulators */
#define BNK_PEAK_AVX2_LANES   8  /* f32 lanes per ymm */
#define BNK_PEAK_AVX512_ACC   16 /* zmm accumulators */
#define BNK_PEAK_AVX512_LANES 16

#define BNK_PEAK_STEP (1.0f / 1024.0f) /* exact in binary */

/* Flops per block: acc x lanes x 2. */
float bnk_peak_fma_f32_avx2(int64_t blocks, float x0, float m, float a);
float bnk_peak_fma_f32_avx512(int64_t blocks, float x0, float m, float a);

#endif
