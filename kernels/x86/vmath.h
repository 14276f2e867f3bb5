/*
 * vmath.h - vectorised f32 transcendentals shared by the AVX2 and AVX-512
 * sets: exp (with an extra-precision argument), expm1 on [0, 20], log,
 * tanh, x * sigmoid(z) (sigmoid, silu, gelu_tanh) and gelu (erf form).
 *
 * Written against the vocabulary of vec_avx2.h / vec_avx512.h, which the
 * including file has included first; every function is static inline, so
 * each ISA file gets its own copy with its own instructions. The error
 * bounds measured for these functions are stated in kernels/x86/x86_red.h
 * and asserted by tests/test_kernels_red.c.
 *
 * Shape of the numerics (why they are accurate to a few ulp):
 *  - exp(x + xl) = p(r) * 2^k1 * 2^k2: k = round(x / ln 2), r = x - k ln 2
 *    in two steps (Cody-Waite: the first step is exact), plus the low part
 *    xl of an argument that was computed in more than f32 precision; p is
 *    the degree-7 Taylor polynomial (truncation < 0.05 ulp on |r| <= ln2/2).
 *    The scale is split in two normal powers of two so that results down in
 *    the subnormal range are rounded once, at the last multiply; callers
 *    that multiply the result by something else do so before the scales.
 *  - Arguments whose rounding to f32 would cost many ulp in an exponential
 *    (the cubic of gelu_tanh, x^2/2 in gelu, x - max in softmax) are passed
 *    as a (hi, lo) pair computed exactly or in double.
 *  - gelu: for |x| <= 0.75, x (1/2 + x P(x^2)) with P a Chebyshev fit of
 *    erf(x / sqrt 2) / (2x); for |x| > 0.75, H(|x|) e^{-x^2/2} with
 *    H(a) = a Phi(-a) e^{a^2/2} fitted in t = (a - 2) / (a + 2) over
 *    [0.75, 14.5]; gelu(x) = -H e^{-x^2/2} for x < 0 and x - H e^{-x^2/2}
 *    for x > 0 (no cancellation in either). Beyond 14.5 the result
 *    underflows (x < 0) or equals x (x > 0). Fits computed for this project
 *    by Chebyshev interpolation in long double; max fit error 0.13 ulp (P)
 *    and 0.28 ulp (H) with the coefficients rounded to f32.
 *  - NaN in gives NaN out; the infinities follow the reference (which
 *    evaluates the textbook formula in double): exp(-inf) = 0, tanh(+-inf) =
 *    +-1, sigmoid(-inf) = 0, and silu, gelu, gelu_tanh at -inf are NaN
 *    (-inf * 0), at +inf are +inf.
 */
#ifndef BITNET_KERNELS_X86_VMATH_H
#define BITNET_KERNELS_X86_VMATH_H

#define VM_LOG2E  1.44269504f
#define VM_LN2_HI 0.693359375f    /* 9 significant bits: k * LN2_HI is exact */
#define VM_LN2_LO -2.12194440e-4f /* ln 2 - LN2_HI */
#define VM_EXP_LO -170.0f         /* below: e^x = 0 in f32 even times |f| < 2^96 */
#define VM_EXP_HI 89.0f           /* above: e^x overflows */

/*
 * e^(x + xl) as (1 + q r) * s1 * s2 (s1, s2 powers of two; callers that
 * multiply the result by h can form h + (h q) r with one rounding). xl is the low part of the
 * argument (|xl| <= ulp(x)); it is ignored where x < -150 (the result is 0
 * anyway), so an infinite or NaN xl there does no harm. x is clamped to
 * [VM_EXP_LO, VM_EXP_HI]; NaN propagates into p.
 */
static inline void vm_exp_qr(vf x, vf xl, vf *qo, vf *ro, vf *s1, vf *s2)
{
    xl = v_blend(v_lt(x, v_set1(-150.0f)), xl, v_zero());
    x = v_min(v_set1(VM_EXP_HI), v_max(v_set1(VM_EXP_LO), x)); /* operand order keeps NaN */
    vf k = v_round(v_mul(x, v_set1(VM_LOG2E)));
    vf r = v_fnma(k, v_set1(VM_LN2_HI), x);
    r = v_fnma(k, v_set1(VM_LN2_LO), r);
    r = v_add(r, xl);
    vf q = v_fma(v_set1(1.0f / 5040), r, v_set1(1.0f / 720));
    q = v_fma(q, r, v_set1(1.0f / 120));
    q = v_fma(q, r, v_set1(1.0f / 24));
    q = v_fma(q, r, v_set1(1.0f / 6));
    q = v_fma(q, r, v_set1(0.5f));
    *qo = v_fma(q, r, v_set1(1.0f));
    *ro = r;
    vf k1, k2;
    v_halves(k, &k1, &k2);
    *s1 = v_pow2i(k1);
    *s2 = v_pow2i(k2);
}

/* e^(x + xl) = p * s1 * s2 with p = 1 + q r rounded once */
static inline void vm_exp_parts(vf x, vf xl, vf *p, vf *s1, vf *s2)
{
    vf q, r;
    vm_exp_qr(x, xl, &q, &r, s1, s2);
    *p = v_fma(q, r, v_set1(1.0f));
}

static inline vf vm_exp2(vf x, vf xl)
{
    vf p, s1, s2;
    vm_exp_parts(x, xl, &p, &s1, &s2);
    return v_mul(v_mul(p, s1), s2);
}

static inline vf vm_exp(vf x)
{
    return vm_exp2(x, v_zero());
}

/* e^z - 1 for z in [0, 20] (or NaN), without cancellation near 0:
 * 2^k (e^r - 1) + (2^k - 1) with e^r - 1 = r + r^2 Q(r). */
static inline vf vm_expm1_pos(vf z)
{
    vf k = v_round(v_mul(z, v_set1(VM_LOG2E)));
    vf r = v_fnma(k, v_set1(VM_LN2_HI), z);
    r = v_fnma(k, v_set1(VM_LN2_LO), r);
    vf q = v_fma(v_set1(1.0f / 40320), r, v_set1(1.0f / 5040));
    q = v_fma(q, r, v_set1(1.0f / 720));
    q = v_fma(q, r, v_set1(1.0f / 120));
    q = v_fma(q, r, v_set1(1.0f / 24));
    q = v_fma(q, r, v_set1(1.0f / 6));
    q = v_fma(q, r, v_set1(0.5f));
    q = v_fma(v_mul(r, r), q, r);
    vf s = v_pow2i(k);
    return v_fma(s, q, v_sub(s, v_set1(1.0f)));
}

/* Horner over coefficients c[0..n], constant first */
#define VM_HORNER(s, c, n, out)                                                                    \
    do {                                                                                           \
        vf h_ = v_set1((c)[n]);                                                                    \
        for (int j_ = (n)-1; j_ >= 0; j_--)                                                        \
            h_ = v_fma(h_, (s), v_set1((c)[j_]));                                                  \
        (out) = h_;                                                                                \
    } while (0)

/*
 * tanh: for |x| < 0.55, x + x^3 T(x^2) with T a Chebyshev fit of
 * (tanh x - x) / x^3 (fit error 0.38 ulp of T, which carries at most 1/10 of
 * the result); otherwise sign(x) t / (t + 2), t = e^{2|x|} - 1 >= 2.0, and
 * |x| >= 9.5 rounds to 1. tanh(-0) = -0.
 */
static inline vf vm_tanh(vf x)
{
    /* T(s), s = x^2 / 0.15125 - 1 */
    static const float T[6] = {-3.143299818e-01f, 1.790723205e-02f,  -1.032819273e-03f,
                               5.964475349e-05f,  -3.462267614e-06f, 1.999758013e-07f};
    vf a = v_min(v_set1(9.5f), v_abs(x));
    vf t = vm_expm1_pos(v_add(a, a));
    vf ylarge = v_or(v_div(t, v_add(t, v_set1(2.0f))), v_signbit(x));
    vf x2 = v_mul(x, x), ts, tp;
    ts = v_fms(x2, v_set1(1.0f / 0.15125f), v_set1(1.0f));
    VM_HORNER(ts, T, 5, tp);
    vf ysmall = v_or(v_fma(v_mul(x2, x), tp, x), v_signbit(x)); /* tanh(-0) = -0 */
    return v_blend(v_lt(a, v_set1(0.55f)), ylarge, ysmall);
}

/*
 * f * sigmoid(z + zl). With a = -|z|, e = e^a: f / (1 + e) for z >= 0 and
 * f e / (1 + e) for z < 0, the latter as ((f p) / (1 + e)) s1 s2 so that a
 * subnormal result is rounded once. The rounding errors of 1 + e and f p and
 * of the division are corrected by one first-order step (its 1/d from the
 * approximate reciprocal instruction: the step is ~1 ulp, so 12 bits are
 * plenty), which leaves essentially the error of e alone. Where a < VM_EXP_LO (z = -inf
 * included) and z < 0 the result is f * 0 (NaN for an infinite f, like the
 * reference).
 */
static inline vf vm_xsig(vf f, vf z, vf zl)
{
    vm neg = v_lt(z, v_zero());
    vf a = v_sub(v_zero(), v_abs(z));
    vf al = v_blend(neg, v_sub(v_zero(), zl), zl);
    vf p, s1, s2;
    vm_exp_parts(a, al, &p, &s1, &s2);
    vf one = v_set1(1.0f);
    vf e = v_mul(v_mul(p, s1), s2);
    vf d = v_add(one, e), dl = v_add(v_sub(one, d), e); /* 1 + e = d + dl exactly */
    vf num = v_blend(neg, one, p);
    vf nh = v_mul(f, num), nl = v_fms(f, num, nh); /* f num = nh + nl exactly */
    vf q = v_div(nh, d);
    /* q' = (nh + nl) / (d + dl) to first order: the residual of the division
     * (exact by FMA) and the two known errors, scaled by an approximate 1/d */
    vf res = v_fnma(q, d, nh);
    vf corr = v_mul(v_fnma(q, dl, v_add(res, nl)), v_rcp(d));
    /* no correction for an infinite f (NaN corr) or a zero q (keeps -0) */
    vf y = v_blend(v_mor(v_isnan(corr), v_eq(q, v_zero())), v_add(q, corr), q);
    y = v_mul(v_mul(y, v_blend(neg, one, s1)), v_blend(neg, one, s2));
    return v_blend(v_mand(neg, v_lt(a, v_set1(VM_EXP_LO))), y, v_mul(f, v_zero()));
}

/* z = sqrt(2/pi) * 2 * (x + 0.044715 x^3) as hi + lo, computed in double */
static inline void vm_gelu_tanh_arg(vf x, vf *zh, vf *zl)
{
    const double A = 1.5957691216057307117597842; /* 2 sqrt(2/pi) */
    const double B = A * 0.044715;
    vd xl = vd_lo(x), xh = vd_hi(x);
    vd zlo = vd_mul(xl, vd_fma(vd_mul(xl, xl), vd_set1(B), vd_set1(A)));
    vd zhi = vd_mul(xh, vd_fma(vd_mul(xh, xh), vd_set1(B), vd_set1(A)));
    *zh = v_from_d(zlo, zhi);
    *zl = v_from_d(vd_sub(zlo, vd_lo(*zh)), vd_sub(zhi, vd_hi(*zh)));
}

static inline vf vm_gelu_tanh(vf x)
{
    vf zh, zl;
    vm_gelu_tanh_arg(x, &zh, &zl);
    return vm_xsig(x, zh, zl);
}

static inline vf vm_gelu(vf x)
{
    /* P(s), s = x^2 / 0.28125 - 1: erf(x / sqrt 2) / (2x) on |x| <= 0.75 */
    static const float P[6] = {3.810050786e-01f,  -1.719900779e-02f, 7.138514775e-04f,
                               -2.368554669e-05f, 6.443654001e-07f,  -1.476627087e-08f};
    /* H(s), s = ((a - 2) / (a + 2) - 0.151515152) / 0.606060606, a in [0.75, 14.5] */
    static const float H[11] = {3.586873114e-01f,  7.705990225e-02f, -4.924783111e-02f,
                                9.485248476e-03f,  1.871205401e-03f, -6.249434664e-04f,
                                -2.124841412e-04f, 2.684118044e-05f, 2.671482980e-05f,
                                1.413715495e-06f,  -2.106691454e-06f};
    vf a = v_abs(x);
    vf x2 = v_mul(x, x);
    vf ps, poly;
    ps = v_fms(x2, v_set1(1.0f / 0.28125f), v_set1(1.0f));
    VM_HORNER(ps, P, 5, poly);
    vf ysmall = v_mul(x, v_fma(x, poly, v_set1(0.5f)));

    vf ah = v_min(v_set1(14.5f), a);
    vf t = v_div(v_sub(ah, v_set1(2.0f)), v_add(ah, v_set1(2.0f)));
    vf hs = v_fms(t, v_set1(1.0f / 0.606060606f), v_set1(0.151515152f / 0.606060606f));
    vf hv;
    VM_HORNER(hs, H, 10, hv);
    vf x2l = v_fms(x, x, x2); /* x^2 = x2 + x2l exactly */
    vf arg = v_mul(x2, v_set1(-0.5f)), argl = v_mul(x2l, v_set1(-0.5f));
    vf q, r, s1, s2;
    vm_exp_qr(arg, argl, &q, &r, &s1, &s2);
    vf p = v_fma(q, r, v_set1(1.0f));
    /* H e^{-x^2/2} as (H + (H q) r) s1 s2: one rounding for H p */
    vf yneg = v_xor(v_mul(v_mul(v_fma(v_mul(hv, q), r, hv), s1), s2), v_set1(-0.0f));
    yneg = v_blend(v_lt(arg, v_set1(VM_EXP_LO)), yneg, v_mul(x, v_zero()));
    vf ypos = v_fnma(hv, v_mul(v_mul(p, s1), s2), x);
    vf ylarge = v_blend(v_lt(x, v_zero()), ypos, yneg);
    return v_blend(v_le(a, v_set1(0.75f)), ylarge, ysmall);
}

/*
 * log x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s),
 * s = (m - 1) / (m + 1), |s| <= 0.1716, odd series to s^9 (truncation
 * 2e-9 relative); e ln 2 added in two parts. Subnormals are scaled by 2^23 first. 0 -> -inf, x < 0
 * -> NaN, +inf -> +inf, NaN -> NaN.
 */
static inline vf vm_log(vf x)
{
    vm sub = v_lt(x, v_set1(1.17549435e-38f));
    vf xs = v_blend(sub, x, v_mul(x, v_set1(8388608.0f)));
    vf e = v_sub(v_getexp(xs), v_blend(sub, v_zero(), v_set1(23.0f)));
    vf m = v_getmant(xs);
    vm big = v_lt(v_set1(1.41421356f), m);
    m = v_blend(big, m, v_mul(m, v_set1(0.5f)));
    e = v_blend(big, e, v_add(e, v_set1(1.0f)));
    vf f = v_sub(m, v_set1(1.0f));
    vf s = v_div(f, v_add(f, v_set1(2.0f)));
    vf s2 = v_mul(s, s);
    vf q = v_fma(v_set1(2.0f / 9), s2, v_set1(2.0f / 7));
    q = v_fma(q, s2, v_set1(2.0f / 5));
    q = v_fma(q, s2, v_set1(2.0f / 3));
    /* log m = 2s + s^3 q and 2s = f - s f, so log m = f - s (f - s^2 q): the
     * rounding errors of s only enter through the small correction term */
    vf lm = v_fnma(s, v_fnma(s2, q, f), f);
    vf y = v_fma(e, v_set1(VM_LN2_HI), v_fma(e, v_set1(VM_LN2_LO), lm));
    y = v_blend(v_eq(x, v_zero()), y, v_set1(-__builtin_inff()));
    y = v_blend(v_lt(x, v_zero()), y, v_set1(__builtin_nanf("")));
    y = v_blend(v_eq(x, v_set1(__builtin_inff())), y, x);
    return v_blend(v_isnan(x), y, x);
}

#endif
