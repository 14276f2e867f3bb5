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
    __m512 c0 = _mm512_set1_ps(x0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0;
    __m512 c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0;
    __m512 c15 = c0;
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
