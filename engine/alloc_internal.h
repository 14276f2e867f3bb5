/*
 * alloc_internal.h - the allocator every part of libbitnet uses for heap
 * memory, and the injection check the pool makes before serving a block
 * (public side: bitnet/alloc.h).
 *
 * Never call malloc, calloc, posix_memalign or aligned_alloc directly in
 * engine/ or kernels/: an allocation that bypasses these cannot be made to
 * fail by tests, and its leaks are not counted. Memory from any alloc__
 * function is released with alloc__free (never free).
 */
#ifndef BITNET_ALLOC_INTERNAL_H
#define BITNET_ALLOC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Nonzero while bn_alloc_fail_after is armed; read on every pool allocation. */
extern _Atomic int alloc__armed;

bool alloc__inject_slow(void);

/* true when the allocation about to be made must fail (injected); counts it
 * while armed. Costs one relaxed load when injection is off. */
static inline bool alloc__inject(void)
{
    return __builtin_expect(atomic_load_explicit(&alloc__armed, memory_order_relaxed), 0) &&
           alloc__inject_slow();
}

/* malloc / calloc / aligned memory (align: a power of two, at least
 * sizeof(void *)); size 0 is served as 1 byte. NULL on failure, real or
 * injected, with nothing else done: the caller reports BN_ERR_OOM. */
void *alloc__malloc(size_t size);
void *alloc__calloc(size_t count, size_t size);
void *alloc__aligned(size_t align, size_t size);
/* As alloc__aligned, but never failed by injection: only for memory whose
 * absence the caller absorbs without an error (a cache, a faster path). */
void *alloc__aligned_optional(size_t align, size_t size);
/* Releases memory from any of the above; NULL is a no-op. */
void alloc__free(void *p);

#endif
