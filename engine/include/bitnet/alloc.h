/*
 * alloc.h - fault injection and accounting over every allocation libbitnet
 * makes.
 *
 * The library allocates two kinds of memory: pool blocks (tensor data, the
 * linear-algebra workspaces; pool.h) and heap blocks (tensor and buffer
 * headers, BitLinear layers, scratch rows of reductions, norms and
 * quantization, GEMM packing buffers, the pool's own bookkeeping). Both go
 * through one internal allocator, so one countdown can make the Nth
 * allocation of either kind fail as if the system had refused it: the
 * caller then sees BN_ERR_OOM with a message, exactly as on a real
 * out-of-memory. That is how tests check every error path of every op.
 *
 * A few allocations only buy speed and have a fallback that needs no memory
 * (a thread's pool cache, the AMX kernel's tile buffers): they are counted
 * in heap_live but never failed by injection, so an injected failure always
 * reaches a caller that reports it.
 *
 * Thread-safety: all functions may be called from any thread. The countdown
 * is process-wide: allocations on every thread count.
 */
#ifndef BITNET_ALLOC_H
#define BITNET_ALLOC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bn_alloc_stats {
    uint64_t heap_live;   /* heap blocks the library holds now */
    uint64_t armed_calls; /* allocations (pool or heap) made while injection was armed */
    uint64_t injected;    /* failures injected so far */
} bn_alloc_stats;

/*
 * After n more allocations succeed, the next one fails (n = 0: the very
 * next). every > 0 keeps failing every `every`-th allocation after that;
 * every == 0 fails once and disarms. n < 0 disarms. Covers the allocations of
 * every pool (on top of each pool's own bn_pool_fail_after) and every heap
 * block of the library.
 */
void bn_alloc_fail_after(int64_t n, int64_t every);
/* The counters above; counters only grow, heap_live goes both ways. */
void bn_alloc_stats_get(bn_alloc_stats *out);

#ifdef __cplusplus
}
#endif
#endif
