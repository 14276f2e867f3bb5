/*
 * peak_fma_avx2.c - AVX2/FMA3 f32 FMA-throughput probe (contract in
 * kernels/x86/peak_probe.h): 12 independent ymm accumulators, one
 * vfmadd per accumulator per block.
 */
#include <immintrin.h>

#include "x86/peak_probe.h"

float bnk_peak_fma_f32_avx2(int64_t blocks, float x0, float m, float a)
{
    const __m256 vm = _mm256_set1_ps(m), va = _mm256_set1_ps(a);
#define START(k) _mm256_set1_ps(x0 + (float)(k)*BNK_PEAK_STEP)
    __m256 c0 = START(0), c1 = START(1), c2 = START(2), c3 = START(3), c4 = START(4);
    __m256 c5 = START(5), c6 = START(6), c7 = START(7), c8 = START(8), c9 = START(9);
    __m256 c10 = START(10), c11 = START(11);
#undef START
    for (int64_t i = 0; i < blocks; i++) {
        c0 = _mm256_fmadd_ps(c0, vm, va);
        c1 = _mm256_fmadd_ps(c1, vm, va);
        c2 = _mm256_fmadd_ps(c2, vm, va);
        c3 = _mm256_fmadd_ps(c3, vm, va);
        c4 = _mm256_fmadd_ps(c4, vm, va);
        c5 = _mm256_fmadd_ps(c5, vm, va);
        c6 = _mm256_fmadd_ps(c6, vm, va);
        c7 = _mm256_fmadd_ps(c7, vm, va);
        c8 = _mm256_fmadd_ps(c8, vm, va);
        c9 = _mm256_fmadd_ps(c9, vm, va);
        c10 = _mm256_fmadd_ps(c10, vm, va);
        c11 = _mm256_fmadd_ps(c11, vm, va);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    float sum = 0.0f;
    for (int i = 0; i < 8; i++)
        sum += lanes[i];
    return sum;
}
