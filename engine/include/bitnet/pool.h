/*
 * pool.h - the memory pool behind every tensor buffer.
 *
 * Shape: small sizes go to size classes with a per-thread cache in front of a
 * shared depot; large sizes go to an mmap-backed path with a cache of recently
 * freed blocks, also with a per-thread tier. An alloc/free pair served by the
 * calling thread's cache takes no lock and no atomic read-modify-write;
 * statistics are kept per thread and summed when read. Every size
 * from 1 byte to the largest the OS grants is served: there are no holes
 * between classes or paths. Blocks are 64-byte aligned by default; alignment
 * up to 4096 (a power of two) on request.
 *
 * Thread-safety: all functions may be called concurrently on the same pool,
 * except bn_pool_destroy, which must not race with any other call on it.
 * A block may be freed by a thread other than the one that allocated it.
 *
 * Out-of-memory is an error return (NULL and BN_ERR_OOM in bn_last_error),
 * never an abort. Fault injection (bn_pool_fail_after) makes the Nth
 * allocation of one pool fail as if the OS had refused, for tests;
 * bn_alloc_fail_after (alloc.h) counts the allocations of every pool
 * together with the library's heap allocations.
 */
#ifndef BITNET_POOL_H
#define BITNET_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bitnet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bn_pool bn_pool;

#define BN_POOL_DEFAULT_ALIGN 64
#define BN_POOL_MAX_ALIGN     4096
#define BN_POOL_MAX_CLASSES   64

typedef struct bn_pool_config {
    size_t large_threshold;   /* sizes above this take the mmap path (0 = default) */
    size_t large_cache_bytes; /* bytes of freed large blocks kept for reuse (0 = default) */
    bool track_sites;         /* record file:line of each live block (default on in debug builds) */
} bn_pool_config;

typedef struct bn_pool_class_stats {
    size_t size; /* block size of the class (0 marks the unused tail;
                    SIZE_MAX marks the large path, the last entry) */
    uint64_t allocs, frees, hits, misses;
} bn_pool_class_stats;

typedef struct bn_pool_stats {
    uint64_t allocs; /* successful allocations */
    uint64_t frees;
    uint64_t hits;       /* served from a thread cache, the depot or the large-block cache */
    uint64_t misses;     /* had to go to the OS (new slab or mmap) */
    uint64_t failures;   /* allocations that returned NULL (real or injected) */
    uint64_t live_bytes; /* requested bytes currently allocated */
    uint64_t peak_bytes; /* high-water mark of live_bytes: exact when one thread
                            allocates; with several, the highest total seen when
                            some thread's own share reached a new high */
    uint64_t live_blocks;
    uint64_t mapped_bytes; /* bytes currently mapped from the OS (slabs, live and cached
                              large blocks); 0 after bn_pool_trim of an idle pool */
    int nclasses;
    bn_pool_class_stats classes[BN_POOL_MAX_CLASSES]; /* last entry: the large path */
} bn_pool_stats;

/* cfg may be NULL for defaults. BN_ERR_OOM / BN_ERR_ARG. */
bn_status bn_pool_create(const bn_pool_config *cfg, bn_pool **out);
/*
 * Releases everything the pool holds. Live blocks are reported first on
 * stderr (as bn_pool_leak_report) and then released. NULL is a no-op.
 */
void bn_pool_destroy(bn_pool *p);

/*
 * size >= 1 (size 0 is served as 1 byte). align: 0 for the default (64), else
 * a power of two <= BN_POOL_MAX_ALIGN (BN_ERR_ARG otherwise). Returns NULL
 * with BN_ERR_OOM on failure (BN_ERR_OVERFLOW when size plus the block
 * header and alignment overflows size_t). `file`/`line` name the allocation
 * site for the leak report (the macro bn_pool_alloc fills them).
 */
void *bn_pool_alloc_at(bn_pool *p, size_t size, size_t align, const char *file, int line);
#define bn_pool_alloc(p, size, align) bn_pool_alloc_at((p), (size), (align), __FILE__, __LINE__)
/*
 * As bn_pool_alloc_at, but returns the status (BN_OK, BN_ERR_ARG, BN_ERR_OOM,
 * BN_ERR_OVERFLOW) and stores the block, or NULL on failure, in *out.
 */
bn_status bn_pool_try_alloc_at(bn_pool *p, size_t size, size_t align, const char *file, int line,
                               void **out);
#define bn_pool_try_alloc(p, size, align, out)                                                     \
    bn_pool_try_alloc_at((p), (size), (align), __FILE__, __LINE__, (out))
/* NULL is a no-op. ptr must come from this pool (BN_ASSERT on a detectable mismatch). */
void bn_pool_free(bn_pool *p, void *ptr);
/* Usable size of a live block (>= the requested size). */
size_t bn_pool_block_size(bn_pool *p, const void *ptr);

void bn_pool_stats_get(bn_pool *p, bn_pool_stats *out);
void bn_pool_stats_reset(bn_pool *p); /* zeroes counters, keeps live/peak bytes */
/* Writes one line per live block (size, address, site when tracked) to f
 * (may be NULL to only count); returns the number of live blocks. */
size_t bn_pool_leak_report(bn_pool *p, FILE *f);
/*
 * Fault injection: after n more successful allocations, the next allocation
 * fails (n = 0: the very next one). every > 0 keeps failing every `every`-th
 * allocation after that; every == 0 fails once. n < 0 disables.
 */
void bn_pool_fail_after(bn_pool *p, int64_t n, int64_t every);
/* Returns cached memory (thread caches of the calling thread, depot slabs
 * with no live blocks, large-block cache) to the OS. */
void bn_pool_trim(bn_pool *p);

/* The process-wide pool tensors allocate from; created on first use (it
 * cannot fail: its state is static). It is never destroyed: process exit
 * returns its memory, and nothing is printed at exit; call
 * bn_pool_leak_report(bn_pool_default(), stderr) to check it for leaks.
 * Its sites are tracked when the library is built with BN_DEBUG. */
bn_pool *bn_pool_default(void);

#ifdef __cplusplus
}
#endif
#endif
