/*
 * tensor.h - the tensor: shape, strides, offset into a reference-counted
 * buffer, dtype, device.
 *
 * A bn_tensor is a small header owned by the caller (create -> bn_tensor_free).
 * Its data lives in a bn_buffer shared by every view of it; the buffer's
 * reference count is atomic and the buffer is released (to the memory pool,
 * or to the user's free callback for wrapped memory) when the last tensor
 * referring to it is freed. Views (views.h) create new headers over the same
 * buffer and never allocate or copy data.
 *
 * Thread-safety: a tensor that no thread is writing may be read, viewed and
 * freed from many threads at once (each thread frees its own headers).
 * Writing the same elements from several threads is the caller's race.
 *
 * Fields of bn_tensor are public because kernels walk them on the hot path;
 * treat them as read-only outside libbitnet.
 */
#ifndef BITNET_TENSOR_H
#define BITNET_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet/dtype.h"
#include "bitnet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BN_MAX_DIMS 8

typedef enum bn_device { BN_DEVICE_CPU = 0 } bn_device;

/* Opaque shared storage: data pointer, size, atomic refcount, release rule. */
typedef struct bn_buffer bn_buffer;

typedef struct bn_tensor {
    bn_dtype dtype;
    int ndim;                     /* 0 (scalar) .. BN_MAX_DIMS */
    int64_t shape[BN_MAX_DIMS];   /* shape[i] >= 0; entries >= ndim are 1 */
    int64_t strides[BN_MAX_DIMS]; /* in elements; 0 for broadcast dims; may be negative
                                     never (slices with negative step are refused) */
    int64_t offset;               /* element offset of [0,...,0] from the buffer start */
    bn_buffer *buf;               /* one reference held by this header */
    bn_device device;
} bn_tensor;

/* Called when a wrapped buffer's last reference goes: free_fn(data, ctx). */
typedef void (*bn_free_fn)(void *data, void *ctx);

/* ---- creation (every *out is a new header the caller frees) ------------- */

/*
 * Allocates a contiguous tensor from the default pool (pool.h). shape may be
 * NULL when ndim == 0. Errors: BN_ERR_ARG (ndim out of range, negative dim),
 * BN_ERR_DTYPE (invalid dtype), BN_ERR_OVERFLOW (element count or bytes
 * overflow), BN_ERR_OOM. On error *out is set to NULL.
 */
bn_status bn_tensor_empty(bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out);
bn_status bn_tensor_zeros(bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out);
bn_status bn_tensor_ones(bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out);
/* value converted to dt (rounded and clamped for int and ternary types) */
bn_status bn_tensor_full(bn_dtype dt, int ndim, const int64_t *shape, double value,
                         bn_tensor **out);
/* 1-D [ceil((stop-start)/step)] ; BN_ERR_ARG when step == 0 */
bn_status bn_tensor_arange(bn_dtype dt, double start, double stop, double step, bn_tensor **out);

typedef enum bn_rand_dist {
    BN_RAND_UNIFORM = 0, /* uniform in [a, b) */
    BN_RAND_NORMAL = 1,  /* normal with mean a, standard deviation b */
    BN_RAND_TERNARY = 2, /* {-1,0,1} with P(0) = a (a in [0,1]), +-1 equally likely */
} bn_rand_dist;
/*
 * Seeded random tensor: the same (seed, dist, a, b, shape, dtype) gives the
 * same values on every run and machine (xoshiro256** seeded by splitmix64,
 * values generated in row-major order, then converted to dt).
 */
bn_status bn_tensor_rand(bn_dtype dt, int ndim, const int64_t *shape, uint64_t seed,
                         bn_rand_dist dist, double a, double b, bn_tensor **out);

/* Copies numel elements (packed types: bn_dtype_nbytes bytes) from data, row-major. */
bn_status bn_tensor_from_data(bn_dtype dt, int ndim, const int64_t *shape, const void *data,
                              bn_tensor **out);
/*
 * Wraps user memory without copying. strides NULL means contiguous. The
 * tensor does not own `data` unless free_fn is non-NULL, in which case
 * free_fn(data, ctx) runs when the last view of it is freed. The caller keeps
 * `data` alive (and unmoved) until then. nbytes is the usable size of `data`;
 * the shape/strides must stay inside it (BN_ERR_ARG otherwise).
 */
bn_status bn_tensor_wrap(bn_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                         void *data, size_t nbytes, bn_free_fn free_fn, void *ctx, bn_tensor **out);

/* Drops this header and its buffer reference. NULL is a no-op. */
void bn_tensor_free(bn_tensor *t);

/* ---- queries ------------------------------------------------------------ */

int64_t bn_tensor_numel(const bn_tensor *t);
/* Row-major contiguous (size-1 dims may have any stride). */
bool bn_tensor_is_contiguous(const bn_tensor *t);
/* Pointer to element [0,...,0]. For packed types: the buffer byte holding it. */
void *bn_tensor_data(const bn_tensor *t);
/* true when a and b refer to the same buffer */
bool bn_tensor_shares_buffer(const bn_tensor *a, const bn_tensor *b);
/* Buffer identity and size, for tests and the harness. */
const void *bn_tensor_buffer_id(const bn_tensor *t);
size_t bn_tensor_buffer_bytes(const bn_tensor *t);
int64_t bn_tensor_buffer_refcount(const bn_tensor *t);
/* Fills strides[] with row-major contiguous strides for shape; returns numel
 * or -1 when the count overflows int64_t. */
int64_t bn_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);
/* "[2,3,4]" into buf (always NUL-terminated); returns buf. */
char *bn_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);

/* ---- element access (slow; for tests, tools and reference code) -------- */

/* Element at idx[0..ndim-1] converted to double. BN_ASSERTs idx in range. */
double bn_tensor_get(const bn_tensor *t, const int64_t *idx);
/* Stores value converted to t->dtype. */
void bn_tensor_set(bn_tensor *t, const int64_t *idx, double value);
/* Element at flat row-major position i (0 <= i < numel), respecting strides. */
double bn_tensor_get_flat(const bn_tensor *t, int64_t i);
void bn_tensor_set_flat(bn_tensor *t, int64_t i, double value);
/* Copies all elements in row-major order to dst as f32 (any dtype, any strides). */
bn_status bn_tensor_to_f32(const bn_tensor *t, float *dst, int64_t n);

/* ---- iteration over a strided tensor ------------------------------------ */

/*
 * Walks the row-major index space of `shape` for up to 4 operands with their
 * own strides (broadcast operands have stride 0), one innermost row at a
 * time: for each row, ptr[k] is the element offset of operand k at the row
 * start, and the row has `inner` elements with strides istride[k].
 *   bn_iter it; bn_iter_init(&it, ndim, shape, nops, strides_of_each, offsets);
 *   while (bn_iter_next(&it)) { for j < it.inner: use it.pos[k] + j * it.istride[k] }
 */
#define BN_ITER_MAX_OPS 4
typedef struct bn_iter {
    int ndim, nops;
    int64_t shape[BN_MAX_DIMS];
    int64_t strides[BN_ITER_MAX_OPS][BN_MAX_DIMS];
    int64_t idx[BN_MAX_DIMS];
    int64_t base[BN_ITER_MAX_OPS];
    int64_t pos[BN_ITER_MAX_OPS];     /* element offset of the current row start */
    int64_t inner;                    /* elements in a row (shape of the last dim, or 1) */
    int64_t istride[BN_ITER_MAX_OPS]; /* stride of the last dim */
    int64_t rows_left;
    bool started;
} bn_iter;
void bn_iter_init(bn_iter *it, int ndim, const int64_t *shape, int nops,
                  const int64_t *const *strides, const int64_t *offsets);
bool bn_iter_next(bn_iter *it);

#ifdef __cplusplus
}
#endif
#endif
