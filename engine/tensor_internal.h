/*
 * tensor_internal.h - what the engine's own files share about tensors and
 * buffers but users do not see: making headers over an existing buffer,
 * element loads and stores by buffer index, and shape validation.
 */
#ifndef BITNET_TENSOR_INTERNAL_H
#define BITNET_TENSOR_INTERNAL_H

#include "bitnet/bitnet.h"

/*
 * A new header over src's buffer (one more reference) with the given
 * geometry. The shape is checked as tensor__check_shape does (an element
 * count that overflows is BN_ERR_OVERFLOW naming op and the shape); the
 * strides are not validated against the buffer: callers derive them from
 * src. BN_ERR_OOM when the header cannot be allocated.
 */
bn_status tensor__new_view(const char *op, const bn_tensor *src, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset, bn_tensor **out);

/* Checks ndim and shape (0 <= ndim <= BN_MAX_DIMS, dims >= 0, numel fits
 * int64_t: BN_ERR_OVERFLOW naming op and the shape); `op` names the caller
 * in the message. On success *numel is the count. Every function that makes
 * a shape (tensor creation, views, broadcasting) checks it here. */
bn_status tensor__check_shape(const char *op, int ndim, const int64_t *shape, int64_t *numel);

/* Base pointer of the buffer (element index 0 of the buffer, not of the view). */
void *tensor__base(const bn_tensor *t);

/* Element at buffer element index i of dtype dt, as double / stored from double
 * (rounded and clamped for int and ternary types). */
double tensor__load(bn_dtype dt, const void *base, int64_t i);
void tensor__store(bn_dtype dt, void *base, int64_t i, double v);

/* Buffer element index of the row-major flat position i of t. */
int64_t tensor__flat_index(const bn_tensor *t, int64_t i);

#endif
