/*
 * gemm.c - reference matrix product: the textbook triple loop over strided
 * operands with each dot product accumulated in double (products of two f32
 * are exact in double), rounded once to f32. Slow and obviously right: it is
 * what the blocked SIMD GEMMs are tested against.
 */
#include "kernels/ref/ref.h"

void bnk_ref_gemm_f32(int64_t M, int64_t N, int64_t K, const float *a, int64_t sam, int64_t sak,
                      const float *b, int64_t sbk, int64_t sbn, float *c, int64_t scm, int64_t scn)
{
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            const float *ai = a + i * sam, *bj = b + j * sbn;
            for (int64_t k = 0; k < K; k++)
                acc += (double)ai[k * sak] * (double)bj[k * sbk];
            c[i * scm + j * scn] = (float)acc;
        }
    }
}
