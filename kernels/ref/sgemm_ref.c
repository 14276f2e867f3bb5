/*
 * sgemm_ref.c - the portable reference f32 GEMM, the truth the packed ISA
 * kernels are tested against (contract in kernels/gemm.h).
 *
 * Deliberately plain: each C element is one double-precision sum over k in
 * increasing order, scaled and rounded to f32 once. No blocking, no packing,
 * no workspace, so it is obviously right and its rounding is tiny compared
 * with the f32 kernels it checks.
 */
#include "gemm.h"

bn_status bnk_sgemm_ref(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                        int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta, float *C,
                        int64_t rsc, int64_t csc, void *workspace)
{
    (void)workspace;
    if (M <= 0 || N <= 0)
        return BN_OK;
    BN_ASSERT(C != NULL);
    int use_ab = K > 0 && alpha != 0.0f;
    if (use_ab)
        BN_ASSERT(A != NULL && B != NULL);
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double sum = 0.0;
            if (use_ab) {
                const float *a = A + i * rsa;
                const float *b = B + j * csb;
                for (int64_t p = 0; p < K; p++)
                    sum += (double)a[p * csa] * (double)b[p * rsb];
            }
            float *c = C + i * rsc + j * csc;
            double r = (double)alpha * sum;
            if (beta != 0.0f)
                r += (double)beta * (double)*c;
            *c = (float)r;
        }
    }
    return BN_OK;
}
