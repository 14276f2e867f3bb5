/*
 * unary_body.h - the element-wise unary f32 row kernels of kernels/x86/x86_red.h
 * (exp, log, tanh, sigmoid, silu, gelu, gelu_tanh, and the cheap neg, abs,
 * relu, relu2), written once and compiled by avx2/unary_avx2.c and
 * avx512/unary_avx512.c after their vec_*.h.
 *
 * Contiguous rows (sx == sy == 1) run whole vectors and one masked tail
 * vector (no memory past the row is touched). Other strides gather VW
 * elements into a local vector, apply the same function and scatter, so a
 * value's result never depends on the stride or on its place in the row.
 * y may alias x element for element: each vector is loaded before it is
 * stored.
 */
#ifndef BITNET_KERNELS_X86_UNARY_BODY_H
#define BITNET_KERNELS_X86_UNARY_BODY_H

#include "kernels/x86/vmath.h"
#include "kernels/x86/x86_red.h"

static inline vf vu_neg(vf x)
{
    return v_xor(x, v_set1(-0.0f));
}
/* relu: x < 0 ? 0 : x (NaN passes) */
static inline vf vu_relu(vf x)
{
    return v_blend(v_lt(x, v_zero()), x, v_zero());
}
static inline vf vu_relu2(vf x)
{
    return v_blend(v_lt(x, v_zero()), v_mul(x, x), v_zero());
}
static inline vf vu_sigmoid(vf x)
{
    return vm_xsig(v_set1(1.0f), x, v_zero());
}
static inline vf vu_silu(vf x)
{
    return vm_xsig(x, x, v_zero());
}

#define UNARY_ROW(kernel, fn)                                                                      \
    void kernel(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)                       \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        if (sx == 1 && sy == 1) {                                                                  \
            if (bnk_streams(n, y)) {                                                               \
                int64_t h = bnk_head64(y) < n ? bnk_head64(y) : n;                                 \
                for (int64_t m; i < h; i += m) {                                                   \
                    m = h - i < VW ? h - i : VW;                                                   \
                    v_storen(y + i, fn(v_loadn(x + i, m)), m);                                     \
                }                                                                                  \
                for (; i + VW <= n; i += VW)                                                       \
                    v_stream(y + i, fn(v_load(x + i)));                                            \
                _mm_sfence();                                                                      \
            }                                                                                      \
            for (; i + VW <= n; i += VW)                                                           \
                v_store(y + i, fn(v_load(x + i)));                                                 \
            if (i < n)                                                                             \
                v_storen(y + i, fn(v_loadn(x + i, n - i)), n - i);                                 \
            return;                                                                                \
        }                                                                                          \
        float buf[VW];                                                                             \
        for (; i < n; i += VW) {                                                                   \
            int64_t m = n - i < VW ? n - i : VW;                                                   \
            for (int64_t j = 0; j < m; j++)                                                        \
                buf[j] = x[(i + j) * sx];                                                          \
            v_storen(buf, fn(v_loadn(buf, m)), m);                                                 \
            for (int64_t j = 0; j < m; j++)                                                        \
                y[(i + j) * sy] = buf[j];                                                          \
        }                                                                                          \
    }

#endif
