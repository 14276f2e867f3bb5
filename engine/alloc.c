/*
 * alloc.c - the one allocator behind libbitnet's heap memory and the
 * process-wide fault injection that also covers every pool (bitnet/alloc.h).
 *
 * Heap blocks come from the C library through the wrappers here, which keep
 * a count of live blocks so tests can check an op leaked nothing. The pool
 * (pool.c) serves its own blocks but asks alloc__inject first, so a single
 * countdown reaches both kinds. The countdown sits behind one relaxed flag:
 * with injection off an allocation pays one load of a read-mostly word.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc_internal.h"
#include "bitnet/alloc.h"

_Atomic int alloc__armed;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t g_count; /* successes left before the next failure; g_lock */
static int64_t g_every; /* g_lock */
static _Atomic uint64_t g_live, g_calls, g_injected;

bool alloc__inject_slow(void)
{
    bool fail = false;
    pthread_mutex_lock(&g_lock);
    if (atomic_load_explicit(&alloc__armed, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&g_calls, 1, memory_order_relaxed);
        if (g_count == 0) {
            fail = true;
            atomic_fetch_add_explicit(&g_injected, 1, memory_order_relaxed);
            if (g_every > 0)
                g_count = g_every - 1;
            else
                atomic_store_explicit(&alloc__armed, 0, memory_order_relaxed);
        } else {
            g_count--;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return fail;
}

void bn_alloc_fail_after(int64_t n, int64_t every)
{
    pthread_mutex_lock(&g_lock);
    g_count = n;
    g_every = every;
    atomic_store_explicit(&alloc__armed, n >= 0, memory_order_relaxed);
    pthread_mutex_unlock(&g_lock);
}

void bn_alloc_stats_get(bn_alloc_stats *out)
{
    out->heap_live = atomic_load_explicit(&g_live, memory_order_relaxed);
    out->armed_calls = atomic_load_explicit(&g_calls, memory_order_relaxed);
    out->injected = atomic_load_explicit(&g_injected, memory_order_relaxed);
}

static void *counted(void *p)
{
    if (p)
        atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
    return p;
}

void *alloc__malloc(size_t size)
{
    if (alloc__inject())
        return NULL;
    return counted(malloc(size ? size : 1));
}

void *alloc__calloc(size_t count, size_t size)
{
    if (alloc__inject())
        return NULL;
    return counted(count && size ? calloc(count, size) : calloc(1, 1));
}

void *alloc__aligned_optional(size_t align, size_t size)
{
    void *p;
    if (posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return counted(p);
}

void *alloc__aligned(size_t align, size_t size)
{
    if (alloc__inject())
        return NULL;
    return alloc__aligned_optional(align, size);
}

void alloc__free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&g_live, 1, memory_order_relaxed);
    free(p);
}
