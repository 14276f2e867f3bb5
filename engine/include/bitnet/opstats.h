/*
 * opstats.h - the engine's own op accounting.
 *
 * Every op (views included) records one event: the op, whether its output
 * shares an input's buffer (a zero-copy op), the bytes it allocated for its
 * output and the bytes it copied. Counters are process-wide atomics; the
 * harness reads them for the zero-copy ratio (DESIGN.md). Reset is for a
 * single-threaded measurement window.
 */
#ifndef BITNET_OPSTATS_H
#define BITNET_OPSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bn_op_stats {
    uint64_t ops;          /* ops run */
    uint64_t ops_shared;   /* ops whose output shares an input's buffer */
    uint64_t bytes_alloc;  /* bytes allocated for op outputs */
    uint64_t bytes_copied; /* bytes copied by ops (contiguous, cast copies, ...) */
    uint64_t per_op[BN_OP_COUNT];
} bn_op_stats;

void bn_op_stats_get(bn_op_stats *out);
void bn_op_stats_reset(void);
/* Internal: called by ops. */
void bn_op_record(bn_op op, bool shared, size_t bytes_alloc, size_t bytes_copied);

#ifdef __cplusplus
}
#endif
#endif
