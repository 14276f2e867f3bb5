/*
 * views.h - zero-copy views and broadcasting.
 *
 * Every function here returns a new header over the input's buffer (one more
 * buffer reference) and never allocates or copies data, except bn_contiguous,
 * which copies only when the input is not already contiguous. Each counts
 * itself in the engine's op accounting (opstats.h) as an op whose output
 * shares its input's buffer.
 *
 * Dims may be negative, counted from the end (-1 is the last). Errors leave
 * *out NULL and a message naming the view and the offending shape or value.
 * Packed dtypes (t2, t1.6) accept only reshape and contiguous (BN_ERR_DTYPE
 * otherwise).
 */
#ifndef BITNET_VIEWS_H
#define BITNET_VIEWS_H

#include "bitnet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry of shape may be -1 (inferred). BN_ERR_NOT_CONTIGUOUS when the
 * strides do not allow a view; the message says to call bn_contiguous first. */
bn_status bn_reshape(const bn_tensor *t, int ndim, const int64_t *shape, bn_tensor **out);
bn_status bn_transpose(const bn_tensor *t, int dim0, int dim1, bn_tensor **out);
/* perm is a permutation of 0..ndim-1 */
bn_status bn_permute(const bn_tensor *t, const int *perm, bn_tensor **out);
/* Python semantics: negative start/stop count from the end, out-of-range
 * bounds are clamped; step >= 1 (BN_ERR_ARG otherwise). */
bn_status bn_slice(const bn_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                   bn_tensor **out);
/* Elements [start, start+length) of dim; BN_ERR_ARG when out of range. */
bn_status bn_narrow(const bn_tensor *t, int dim, int64_t start, int64_t length, bn_tensor **out);
/* Removes dim (BN_ERR_SHAPE unless its size is 1). */
bn_status bn_squeeze(const bn_tensor *t, int dim, bn_tensor **out);
/* Removes every size-1 dim. */
bn_status bn_squeeze_all(const bn_tensor *t, bn_tensor **out);
/* Inserts a size-1 dim at position dim (0..ndim, negative allowed). */
bn_status bn_unsqueeze(const bn_tensor *t, int dim, bn_tensor **out);
/* NumPy broadcast of t to shape (stride 0 on expanded dims). */
bn_status bn_expand(const bn_tensor *t, int ndim, const int64_t *shape, bn_tensor **out);
/* Alias of bn_expand. */
bn_status bn_broadcast_to(const bn_tensor *t, int ndim, const int64_t *shape, bn_tensor **out);
/* A new header sharing t's buffer when t is contiguous; otherwise a
 * contiguous copy (counted as bytes copied). */
bn_status bn_contiguous(const bn_tensor *t, bn_tensor **out);
/* New header over the same view (shape, strides, offset); never copies. */
bn_status bn_view(const bn_tensor *t, bn_tensor **out);

/*
 * NumPy broadcasting of two shapes: right-aligned; each pair equal, or one
 * of them 1 (a 0 with a 1 gives 0). On mismatch BN_ERR_SHAPE with the
 * message "<op>: cannot broadcast [..] with [..]". out has room for
 * BN_MAX_DIMS entries.
 */
bn_status bn_broadcast_shapes(const char *op, int na, const int64_t *sa, int nb, const int64_t *sb,
                              int *nout, int64_t *out);
/* Strides of t (ndim tn) seen through broadcast shape (ndim n): right-aligned,
 * 0 on broadcast dims. Assumes bn_broadcast_shapes accepted the pair. */
void bn_broadcast_strides(const bn_tensor *t, int n, const int64_t *shape, int64_t *strides);

#ifdef __cplusplus
}
#endif
#endif
