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
        e->k->K(orgqr)(&e->ctx, m, k, qc, a, m, tfac, q, m, work);
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
 * SVD of g (mm x nn col-major, mm >= nn; destroyed), preconditioned by QR:
 * g = Q R, then one-sided Jacobi on X = R^T (nn x nn), which converges in
 * fewer sweeps than on g itself and, for tall g, works on nn rows instead of
 * mm. With X V_x = U_x S:  A = Q R = Q X^T = (Q V_x) S U_x^T, so the left
 * vectors are Q [V_x; 0] (orthonormal by construction, extended by Q e_j for
 * a full U) and the right vectors are X's normalised columns (completed to
 * an orthonormal basis where a singular value is 0).
 * sig[nn] sorted descending. When ug is non-NULL: ug (mm x ucols), vg (nn x
 * nn), v: nn x nn scratch, tmp: nn scratch, ok/fill: ucols entries, order:
 * nn. x: nn x nn, tau: nn, tfac/work as for geqrf and ormqr of mm rows and
 * max(nn, ucols) columns. Returns the sweeps used, or -1 when Jacobi did not
 * converge.
 */
static int F(la_svd_one)(const la_env *e, int64_t mm, int64_t nn, T *g, T *sig, T *ug,
                         int64_t ucols, T *vg, T *v, T *tmp, bool *ok, int64_t *fill,
                         int64_t *order, double *norms, T *x, T *tau, T *tfac, T *work)
{
    e->k->K(geqrf)(&e->ctx, mm, nn, g, mm, tau, tfac, work);
    for (int64_t j = 0; j < nn; j++)
        for (int64_t i = 0; i < nn; i++)
            x[i + j * nn] = i >= j ? g[j + i * mm] : 0;
    int sweeps = e->k->K(jacobi)(nn, nn, x, ug ? v : NULL, LA_MAX_SWEEPS);
    if (sweeps >= LA_MAX_SWEEPS)
        return -1;
    for (int64_t j = 0; j < nn; j++) {
        double s = 0;
        for (int64_t i = 0; i < nn; i++)
            s += (double)x[i + j * nn] * (double)x[i + j * nn];
        norms[j] = sqrt(s);
        order[j] = j;
    }
    /* insertion sort of the indices by norm, descending (stable) */
    for (int64_t j = 1; j < nn; j++) {
        int64_t t = order[j], i = j;
        while (i > 0 && norms[order[i - 1]] < norms[t]) {
            order[i] = order[i - 1];
            i--;
        }
        order[i] = t;
    }
    for (int64_t r = 0; r < nn; r++)
        sig[r] = (T)norms[order[r]];
    if (!ug)
        return sweeps;
    /* right vectors: X's normalised columns, completed where S is 0 */
    int64_t nfill = 0;
    for (int64_t r = 0; r < nn; r++) {
        T *vr = vg + r * nn;
        if (norms[order[r]] > 0) {
            const T *xc = x + order[r] * nn;
            double inv = 1.0 / norms[order[r]];
            for (int64_t i = 0; i < nn; i++)
                vr[i] = (T)((double)xc[i] * inv);
            ok[r] = true;
        } else {
            for (int64_t i = 0; i < nn; i++)
                vr[i] = 0;
            ok[r] = false;
            fill[nfill++] = r;
        }
    }
    if (nfill)
        e->k->K(complete_basis)(nn, vg, fill, nfill, ok, nn, tmp);
    /* left vectors: Q [V_x(:, order) 0; 0 I] */
    for (int64_t r = 0; r < ucols; r++) {
        T *ur = ug + r * mm;
        for (int64_t i = 0; i < mm; i++)
            ur[i] = r < nn ? (i < nn ? v[i + order[r] * nn] : 0) : (i == r ? 1 : 0);
    }
    e->k->K(ormqr)(&e->ctx, false, mm, nn, g, mm, tfac, ucols, ug, mm, work);
    return sweeps;
}

#undef F
#undef K
#undef CAT_
#undef CAT2_
