/*
 * linalg_typed.h - the per-matrix steps of engine/linalg.c for one element
 * type, included twice (T = float, SFX = _f32, KF(name) = the bnk_linalg
 * entry name##_f32; then the same for double). Each function works on one
 * matrix already loaded into a column-major buffer and leaves its results in
 * column-major buffers; linalg.c does the tensors, batching and errors.
 */
#define CAT2_(a, b) a##b
#define CAT_(a, b)  CAT2_(a, b)
#define F(name)     CAT_(name, SFX)
#define K(name)     CAT_(name, SFX)

/* QR of a (m x n, lda = m) in place: R in the upper triangle with a
 * non-negative diagonal; q (m x qc) when non-NULL. */
static void F(la_qr_one)(const la_env *e, int64_t m, int64_t n, T *a, T *tau, T *tfac, T *work,
                         T *q, int64_t qc)
{
    int64_t k = m < n ? m : n;
    e->k->K(geqrf)(&e->ctx, m, n, a, m, tau, tfac, work);
    if (q)
        e->k->K(orgqr)(&e->ctx, m, k, qc, a, m, tfac, NULL, q, m, work);
    for (int64_t i = 0; i < k; i++) {
        if (!(a[i + i * m] < 0))
            continue;
        for (int64_t j = i; j < n; j++)
            a[i + j * m] = -a[i + j * m];
        if (q)
            for (int64_t r = 0; r < m; r++)
                q[r + i * m] = -q[r + i * m];
    }
}

/* Product of U's diagonal with the sign of the row permutation. */
static double F(la_det_one)(int64_t n, const T *lu, const int32_t *piv)
{
    double d = 1;
    for (int64_t i = 0; i < n; i++) {
        d *= (double)lu[i + i * n];
        if (piv[i] != i)
            d = -d;
    }
    return d;
}

/* Index of the first R[j,j] (a, lda = m, k diagonal entries) whose magnitude
 * is at most tol_mult * eps * max|R[i,i]|, or -1; *val gets it. */
static int64_t F(la_rank_check)(int64_t k, const T *a, int64_t lda, double tol_mult, double eps,
                                double *val, double *tol)
{
    double mx = 0;
    for (int64_t i = 0; i < k; i++)
        if (fabs((double)a[i + i * lda]) > mx)
            mx = fabs((double)a[i + i * lda]);
    *tol = tol_mult * eps * mx;
    for (int64_t i = 0; i < k; i++) {
        double v = fabs((double)a[i + i * lda]);
        if (!(v > *tol)) {
            *val = (double)a[i + i * lda];
            return i;
        }
    }
    return -1;
}

/*
 * Least squares for one matrix. m >= n: a (m x n) is factored in place, b
 * (m x k, ldb = m) becomes Q^T b and x (n x k) R^-1 (Q^T b)[0:n]. m < n: a
 * holds A^T (n x m, lda = n); x (n x k) = Q [R^-T b; 0]. Returns the rank
 * check's failing index or -1.
 */
static int64_t F(la_lstsq_one)(const la_env *e, int64_t m, int64_t n, T *a, T *b, int64_t k, T *x,
                               T *tau, T *tfac, T *work, double eps, double *val, double *tol)
{
    if (m >= n) {
        e->k->K(geqrf)(&e->ctx, m, n, a, m, tau, tfac, work);
        int64_t bad = F(la_rank_check)(n, a, m, (double)(m > n ? m : n), eps, val, tol);
        if (bad >= 0)
            return bad;
        e->k->K(ormqr)(&e->ctx, true, m, n, a, m, tfac, k, b, m, work);
        for (int64_t c = 0; c < k; c++) {
            T *xc = x + c * n, *bc = b + c * m;
            for (int64_t i = 0; i < n; i++)
                xc[i] = bc[i];
            for (int64_t i = n - 1; i >= 0; i--) {
                xc[i] /= a[i + i * m];
                for (int64_t r = 0; r < i; r++)
                    xc[r] -= xc[i] * a[r + i * m];
            }
        }
        return -1;
    }
    /* m < n: A^T = Q R, A = R^T Q^T, x = Q R^-T b */
    e->k->K(geqrf)(&e->ctx, n, m, a, n, tau, tfac, work);
    int64_t bad = F(la_rank_check)(m, a, n, (double)n, eps, val, tol);
    if (bad >= 0)
        return bad;
    for (int64_t c = 0; c < k; c++) {
        T *xc = x + c * n;
        const T *bc = b + c * m;
        for (int64_t i = 0; i < m; i++) {
            double s = (double)bc[i];
            for (int64_t r = 0; r < i; r++)
                s -= (double)a[r + i * n] * (double)xc[r];
            xc[i] = (T)(s / (double)a[i + i * n]);
        }
        for (int64_t i = m; i < n; i++)
            xc[i] = 0;
    }
    e->k->K(ormqr)(&e->ctx, false, n, m, a, n, tfac, k, x, n, work);
    return -1;
}

/*
 * SVD of g (mm x nn col-major, mm >= nn; destroyed) by Golub-Kahan:
 * A = Q B P^T with B upper bidiagonal (blocked Householder, gebrd), then
 * B = Ub S Vb^T by implicit-shift QR (bdsqr), so U = Q Ub and V = P Vb. When
 * mm is well above nn (la_svd_qr_first) A = Q_r R is factored first and R
 * (nn x nn) is bidiagonalized: U = Q_r [Q_b Ub, 0; 0, I]. Q and P are
 * formed explicitly (orgqr from tau) and the bidiagonal QR's rotations are applied to
 * them, so U and V are orthogonal by construction, also for the columns of
 * zero singular values and the extra columns of a full U.
 * sig[nn] gets the singular values, descending. When ug is non-NULL: ug (mm x
 * ucols, ld mm) the left vectors, vg (nn x nn) the right ones (columns),
 * iws: bnk_la_bdsqr_iwork(nn). ws: la_svd_elems(mm, nn, ucols). Returns 0,
 * or the number of superdiagonal entries the QR iteration left.
 */
static int64_t F(la_svd_one)(const la_env *e, int64_t mm, int64_t nn, T *g, T *sig, T *ug,
                             int64_t ucols, T *vg, T *ws, int64_t *iws)
{
    bool qr = la_svd_qr_first(mm, nn);
    /* bring max |a_ij| into [smlnum, 1 / smlnum] by a power of two (exact),
     * undone on the values at the end (LAPACK gesvd's guard against
     * underflow and overflow in the reduction and the QR iteration) */
    double anrm = 0;
    for (int64_t i = 0; i < mm * nn; i++)
        anrm = fmax(anrm, fabs((double)g[i]));
    const bool f64 = sizeof(T) == sizeof(double);
    const double smlnum = sqrt(f64 ? DBL_MIN : FLT_MIN) / ((f64 ? DBL_EPSILON : FLT_EPSILON) / 2);
    int sexp = 0;
    if (anrm > 0 && anrm < smlnum)
        sexp = ilogb(smlnum) - ilogb(anrm);
    else if (anrm > 1 / smlnum)
        sexp = ilogb(1 / smlnum) - ilogb(anrm);
    if (sexp)
        for (int64_t i = 0; i < mm * nn; i++)
            g[i] = (T)ldexp((double)g[i], sexp);
    int64_t nblk = (nn + BNK_LA_NB - 1) / BNK_LA_NB;
    T *ev = ws, *tauq = ev + nn, *taup = tauq + nn, *tau = taup + nn, *tfac = tau + nn;
    T *r = tfac + nblk * BNK_LA_NB * BNK_LA_NB, *ub = r + nn * nn, *work = ub + nn * nn;
    T *b = g;
    int64_t ldb = mm;
    if (qr) {
        e->k->K(geqrf)(&e->ctx, mm, nn, g, mm, tau, tfac, work);
        for (int64_t j = 0; j < nn; j++)
            for (int64_t i = 0; i < nn; i++)
                r[i + j * nn] = i <= j ? g[i + j * mm] : 0;
        b = r;
        ldb = nn;
    }
    e->k->K(gebrd)(&e->ctx, qr ? nn : mm, nn, b, ldb, sig, ev, tauq, taup, work);
    int64_t fails = 0;
    if (!ug) {
        fails = e->k->K(bdsqr)(nn, sig, ev, NULL, 0, 0, NULL, 0, NULL, NULL);
        goto unscale;
    }
    /* V = P = diag(1, G'), G' formed from the row reflectors moved into the
     * columns of pv ((nn-1) x (nn-1), geqrf layout) */
    T *pv = qr ? ub : r;
    int64_t k = nn - 1;
    for (int64_t i = 0; i < k; i++)
        for (int64_t rr = i + 1; rr < k; rr++)
            pv[rr + i * k] = b[i + (rr + 1) * ldb];
    for (int64_t j = 0; j < nn; j++) {
        vg[j * nn] = j == 0 ? 1 : 0;
        vg[j] = j == 0 ? 1 : 0;
    }
    if (k > 0)
        e->k->K(orgqr)(&e->ctx, k, k, k, pv, k, NULL, taup, vg + 1 + nn, nn, work);
    if (!qr) {
        e->k->K(orgqr)(&e->ctx, mm, nn, ucols, g, mm, NULL, tauq, ug, mm, work);
        fails = e->k->K(bdsqr)(nn, sig, ev, ug, mm, mm, vg, nn, work, iws);
        goto unscale;
    }
    e->k->K(orgqr)(&e->ctx, nn, nn, nn, r, nn, NULL, tauq, ub, nn, work);
    fails = e->k->K(bdsqr)(nn, sig, ev, ub, nn, nn, vg, nn, work, iws);
    /* U = Q_r [Ub 0; 0 I] */
    for (int64_t c = 0; c < ucols; c++) {
        T *uc = ug + c * mm;
        for (int64_t i = 0; i < mm; i++)
            uc[i] = c < nn ? (i < nn ? ub[i + c * nn] : 0) : (i == c ? 1 : 0);
    }
    e->k->K(ormqr)(&e->ctx, false, mm, nn, g, mm, tfac, ucols, ug, mm, work);
unscale:
    if (sexp)
        for (int64_t i = 0; i < nn; i++)
            sig[i] = (T)ldexp((double)sig[i], -sexp);
    return fails;
}

#undef F
#undef K
#undef CAT_
#undef CAT2_
