/*
 * peak_fma_avx512.c - AVX-512F f32 FMA-throughput probe (contract in
 * kernels/x86/peak_probe.h): 16 independent zmm accumulators, one
 * vfmadd per accumulator per block.
 */
#include <immintrin.h>

#include "x86/peak_probe.h"

float bnk_peak_fma_f32_avx512(int64_t blocks, float x0, float m, float a)
{
    const __m512 vm = _mm512_set1_ps(m), va = _mm512_set1_ps(a);
#define START(k) _mm512_set1_ps(x0 + (float)(k)*BNK_PEAK_STEP)
    __m512 c0 = START(0), c1 = START(1), c2 = START(2), c3 = START(3), c4 = START(4);
    __m512 c5 = START(5), c6 = START(6), c7 = START(7), c8 = START(8), c9 = START(9);
    __m512 c10 = START(10), c11 = START(11), c12 = START(12), c13 = START(13);
    __m512 c14 = START(14), c15 = START(15);
#undef START
    for (int64_t i = 0; i < blocks; i++) {
        c0 = _mm512_fmadd_ps(c0, vm, va);
        c1 = _mm512_fmadd_ps(c1, vm, va);
        c2 = _mm512_fmadd_ps(c2, vm, va);
        c3 = _mm512_fmadd_ps(c3, vm, va);
        c4 = _mm512_fmadd_ps(c4, vm, va);
        c5 = _mm512_fmadd_ps(c5, vm, va);
        c6 = _mm512_fmadd_ps(c6, vm, va);
        c7 = _mm512_fmadd_ps(c7, vm, va);
        c8 = _mm512_fmadd_ps(c8, vm, va);
        c9 = _mm512_fmadd_ps(c9, vm, va);
        c10 = _mm512_fmadd_ps(c10, vm, va);
        c11 = _mm512_fmadd_ps(c11, vm, va);
        c12 = _mm512_fmadd_ps(c12, vm, va);
        c13 = _mm512_fmadd_ps(c13, vm, va);
        c14 = _mm512_fmadd_ps(c14, vm, va);
        c15 = _mm512_fmadd_ps(c15, vm, va);
    }
    __m512 s0 = _mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3));
    __m512 s1 = _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7));
    __m512 s2 = _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11));
    __m512 s3 = _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15));
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
