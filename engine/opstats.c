/*
 * opstats.c - process-wide op accounting (opstats.h). Relaxed atomics: the
 * counters are statistics, read after the ops they count have returned.
 */
#include <stdatomic.h>
#include <string.h>

#include "bitnet/bitnet.h"

static _Atomic uint64_t n_ops, n_shared, n_alloc, n_copied;
static _Atomic uint64_t n_per_op[BN_OP_COUNT];

void bn_op_record(bn_op op, bool shared, size_t bytes_alloc, size_t bytes_copied)
{
    BN_ASSERT((int)op >= 0 && op < BN_OP_COUNT);
    atomic_fetch_add_explicit(&n_ops, 1, memory_order_relaxed);
    if (shared)
        atomic_fetch_add_explicit(&n_shared, 1, memory_order_relaxed);
    if (bytes_alloc)
        atomic_fetch_add_explicit(&n_alloc, bytes_alloc, memory_order_relaxed);
    if (bytes_copied)
        atomic_fetch_add_explicit(&n_copied, bytes_copied, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_per_op[op], 1, memory_order_relaxed);
}

void bn_op_stats_get(bn_op_stats *out)
{
    BN_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    out->ops = atomic_load_explicit(&n_ops, memory_order_relaxed);
    out->ops_shared = atomic_load_explicit(&n_shared, memory_order_relaxed);
    out->bytes_alloc = atomic_load_explicit(&n_alloc, memory_order_relaxed);
    out->bytes_copied = atomic_load_explicit(&n_copied, memory_order_relaxed);
    for (int i = 0; i < BN_OP_COUNT; i++)
        out->per_op[i] = atomic_load_explicit(&n_per_op[i], memory_order_relaxed);
}

void bn_op_stats_reset(void)
{
    atomic_store(&n_ops, 0);
    atomic_store(&n_shared, 0);
    atomic_store(&n_alloc, 0);
    atomic_store(&n_copied, 0);
    for (int i = 0; i < BN_OP_COUNT; i++)
        atomic_store(&n_per_op[i], 0);
}

static const char *const op_names[] = {
#define BN_OP_NAME_(sfx, name, kind) [BN_OP_##sfx] = name,
    BN_OP_LIST(BN_OP_NAME_)
#undef BN_OP_NAME_
};
_Static_assert(sizeof op_names / sizeof op_names[0] == BN_OP_COUNT, "op name table");

const char *bn_op_name(bn_op op)
{
    BN_ASSERT((int)op >= 0 && op < BN_OP_COUNT);
    return op_names[op];
}

/* The letters of BN_OP_LIST's kind column, spelled out. */
#define BN_OP_KIND_V_ BN_OP_KIND_VIEW
#define BN_OP_KIND_C_ BN_OP_KIND_COPY
#define BN_OP_KIND_B_ BN_OP_KIND_BINARY
#define BN_OP_KIND_U_ BN_OP_KIND_UNARY
#define BN_OP_KIND_R_ BN_OP_KIND_REDUCE
#define BN_OP_KIND_N_ BN_OP_KIND_NORM
#define BN_OP_KIND_M_ BN_OP_KIND_MATMUL
#define BN_OP_KIND_T_ BN_OP_KIND_TERNARY

static const bn_op_kind op_kinds[] = {
#define BN_OP_KIND_(sfx, name, kind) [BN_OP_##sfx] = BN_OP_KIND_##kind##_,
    BN_OP_LIST(BN_OP_KIND_)
#undef BN_OP_KIND_
};
_Static_assert(sizeof op_kinds / sizeof op_kinds[0] == BN_OP_COUNT, "op kind table");

bn_op_kind bn_op_kind_of(bn_op op)
{
    BN_ASSERT((int)op >= 0 && op < BN_OP_COUNT);
    return op_kinds[op];
}

bn_status bn_op_from_name(const char *name, bn_op *out)
{
    BN_ASSERT(name != NULL && out != NULL);
    for (int i = 0; i < BN_OP_COUNT; i++) {
        if (strcmp(op_names[i], name) == 0) {
            *out = (bn_op)i;
            return BN_OK;
        }
    }
    return bn_error(BN_ERR_ARG, "unknown op \"%s\"", name);
}
