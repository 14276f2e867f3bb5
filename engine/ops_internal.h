/*
 * ops_internal.h - what the op files (engine/ops_*.c) share: dtype and
 * output checks with uniform messages, f16/bf16 row widening into f32
 * scratch, overlap detection for in-place forms, and an unrecorded
 * contiguous copy used for temporaries.
 */
#ifndef BITNET_OPS_INTERNAL_H
#define BITNET_OPS_INTERNAL_H

#include "alloc_internal.h"
#include "kernels/kernels.h"
#include "tensor_internal.h"

/* Elements per f32 scratch chunk when widening f16/bf16 rows. */
enum { OPS_CHUNK = 256 };

/* Element-wise ops with at least 2 * OPS_PAR_GRAIN elements run over the
 * thread pool in pieces of at least OPS_PAR_GRAIN elements (128 KiB of f32
 * per operand: large enough that waking the workers costs a few percent at
 * most, small enough that L2-sized problems already use every core). */
enum { OPS_PAR_GRAIN = 32768 };

/*
 * One piece of a row of an element-wise walk: m elements starting at element
 * index pos[k] of operand k, with stride it->istride[k] (the iterator the
 * walk was started with). Called from any worker thread; pieces are disjoint.
 */
typedef void (*ops_piece_fn)(void *ctx, const bn_iter *it, const int64_t *pos, int64_t m);

/*
 * Calls fn on every element of it's walk (bn_iter_init'ed, not yet advanced)
 * in row pieces; with numel >= 2 * OPS_PAR_GRAIN the elements are split over
 * the thread pool (bn_parallel_for), else everything runs on the caller.
 * The kernels' writes to disjoint pieces must not conflict (element-wise
 * outputs). A pool that fails to start leaves the work done on the caller.
 */
void ops__for_pieces(const bn_iter *it, ops_piece_fn fn, void *ctx);
/* The same with pieces of at least `grain` (>= 1) elements, parallel from
 * 2 * grain elements on (matmul walks its batch of matrices this way). */
void ops__for_pieces_grain(const bn_iter *it, int64_t grain, ops_piece_fn fn, void *ctx);

/* Shape as "[2,3]" in a caller buffer; for messages. */
typedef struct ops_shape_str {
    char s[160];
} ops_shape_str;
const char *ops__shape(ops_shape_str *b, int ndim, const int64_t *shape);

/*
 * Accepts dt for op: BN_ERR_DTYPE (naming op and dtype) for packed types and,
 * unless int_ok, for i8/i32. BN_ASSERTs dt is a valid enum value.
 */
bn_status ops__check_dtype(bn_op op, bn_dtype dt, bool int_ok);

/* Checks an `out` tensor of an *_out form: dtype dt, shape (ndim, shape). */
bn_status ops__check_out(bn_op op, const bn_tensor *out, bn_dtype dt, int ndim,
                         const int64_t *shape);

/* Allocates the result of op (contiguous, from the default pool). */
bn_status ops__new_out(bn_op op, bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out);

/* Records op in the accounting: bytes of *alloc_out when non-NULL (an
 * allocating form), shared when out shares a buffer with a or b. */
void ops__record(bn_op op, const bn_tensor *alloc_out, const bn_tensor *out, const bn_tensor *a,
                 const bn_tensor *b);

/* n elements of a float dtype (f32/f16/bf16) at buffer index pos with stride
 * s, widened to f32 into dst[0..n). */
void ops__load_f32(bn_dtype dt, const void *base, int64_t pos, int64_t s, int64_t n, float *dst);
/* The reverse: src[0..n) rounded to dt (round-to-nearest-even) and stored. */
void ops__store_f32(bn_dtype dt, void *base, int64_t pos, int64_t s, int64_t n, const float *src);

/*
 * true when the bytes reached by a and b (from their first to their last
 * element) intersect, including two wraps of the same user memory. Views
 * that interleave without touching each other still count as overlapping:
 * the check is conservative.
 */
bool ops__overlaps(const bn_tensor *a, const bn_tensor *b);

/*
 * For an input x about to be read (with strides xs over the result shape)
 * while out is written: when x overlaps out other than element for element
 * (same dtype, offset and strides), *tmp gets a contiguous copy of x and the
 * caller reads that instead; otherwise *tmp is NULL. BN_ERR_OOM possible.
 */
bn_status ops__detach(const bn_tensor *x, const int64_t *xs, const bn_tensor *out, bn_tensor **tmp);

/* Copies src into dst (same shape; dtype converted as bn_copy documents) with
 * no accounting. Assumes shapes equal and src/dst do not overlap. */
void ops__copy_raw(const bn_tensor *src, bn_tensor *dst);

/* A new contiguous tensor of dtype dt holding src's values, unrecorded
 * (temporaries of the ops themselves). */
bn_status ops__contig_copy(const bn_tensor *src, bn_dtype dt, bn_tensor **out);

/*
 * Reductions and normalisations split their independent units (result
 * elements, lanes) the same way: at least 2 * OPS_PAR_GRAIN elements of work
 * run over the thread pool in chunks of about OPS_PAR_GRAIN elements, each
 * unit computed exactly as serially, so results do not depend on the thread
 * count. They find a unit's row with ops__iter_row.
 */
/* Element positions (one per operand) of row `row` of a freshly initialised
 * iterator, as bn_iter_next reaches them; 0 <= row < it->rows_left. */
static inline void ops__iter_row(const bn_iter *it, int64_t row, int64_t *pos)
{
    for (int k = 0; k < it->nops; k++)
        pos[k] = it->base[k];
    for (int d = it->ndim - 2; d >= 0; d--) {
        int64_t i = row % it->shape[d];
        row /= it->shape[d];
        for (int k = 0; k < it->nops; k++)
            pos[k] += i * it->strides[k][d];
    }
}

/* Normalises axis into [0, ndim); BN_ERR_ARG naming op and the axis range. */
bn_status ops__axis(bn_op op, int ndim, int axis, int *out);

#endif
