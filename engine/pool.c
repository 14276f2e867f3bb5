/*
 * pool.c - the memory pool behind every tensor buffer (contract: bitnet/pool.h).
 *
 * Shape, and why:
 *
 * - Small sizes (<= large_threshold, default 256 KiB) go to 48 size classes:
 *   multiples of 64 up to 512 B, then four classes per doubling up to 512 KiB
 *   (640, 768, 896, 1024, 1280, ...). Every class is a multiple of 64, so
 *   every block is 64-byte aligned. The classes cover every size up to the
 *   threshold, and the large path takes every size above it: no holes.
 *
 * - Blocks live in 2 MiB slabs mapped from the OS and aligned to 2 MiB, so
 *   `ptr & ~(2 MiB - 1)` finds the slab header of any pointer without a
 *   lookup. The header holds the class and a side table with one 32-bit word
 *   per block: the requested size (0 = free) and the offset of the user
 *   pointer inside the block (for alignments above 64, the block is taken from
 *   the class of size + align - 64 and the pointer rounded up inside it; when
 *   that sum passes the threshold the request takes the large path). With
 *   track_sites the header also holds each block's allocation file:line. The
 *   side table is what bn_pool_free, bn_pool_block_size and the leak report
 *   read; blocks themselves carry no header, so a 64-byte request costs 64
 *   bytes. Free blocks are linked through their first word.
 *
 * - Each (pool, thread) pair has a cache: per class a LIFO list of free blocks
 *   and its own counters, so the common alloc/free pair takes no lock and no
 *   atomic read-modify-write. A thread finds its cache through one
 *   thread-local pointer (the cache it used last), then a 4-entry thread-local
 *   memo keyed by the pool's unique id (ids are never reused, so a cache of a
 *   destroyed pool can never be picked up by a new pool at the same address).
 *   Behind the caches, one depot per class (mutex) holds the shared free list
 *   and carves fresh slabs lazily. A cache holds up to 128 KiB per class
 *   (2..256 blocks), refills half its capacity from the depot at once and
 *   returns half when it overflows. The memo uses the initial-exec TLS model
 *   (a few dozen bytes), so libbitnet.so must be linked, not dlopen'ed late
 *   into a process whose static TLS surplus is exhausted.
 *
 * - Cache lifetime: the thread owns its cache structs (heap, one per pool it
 *   touched), and the pool links them in a list for stats. A global mutex
 *   (g_lock) orders the two ways a cache ends: when the thread exits, a
 *   pthread key destructor flushes its blocks back into the depot and merges
 *   its counters into the pool; when the pool is destroyed first, the pool
 *   marks the cache dead (pool = NULL) and the thread frees it later, at its
 *   next cache lookup miss or at exit, without touching the dead pool.
 *
 * - Large sizes: one mapping per block, aligned to 2 MiB like slabs, with a
 *   4096-byte header page in front of the user pointer (so every alignment up
 *   to 4096 is met). Every mapping is on the pool's registry (linked at map,
 *   unlinked at unmap; the leak report lists those with a requested size).
 *   Freed blocks are reused for a request that fits with at most half of the
 *   block unused, from two tiers bounded together by large_cache_bytes
 *   (default 64 MiB): each thread cache keeps up to LBIN freed blocks without
 *   a lock, inside a reservation it takes from the bound (the lock is taken
 *   only when the reservation grows or the thread's tier is full), and the
 *   pool keeps a most-recently-freed-first list under the large lock. So a
 *   steady alloc/free of large blocks touches no lock and no mapping.
 *
 * - Stats: per-cache counters (relaxed atomics written only by the owner,
 *   read by bn_pool_stats_get), summed with the counters of exited threads;
 *   hits are counted as allocations minus misses.
 *   A hit is an allocation served without going to the OS (thread cache,
 *   depot free list, an already mapped slab, the large cache); a miss is an
 *   allocation that itself mapped a new slab or a large block. live_blocks is
 *   allocations minus frees (never reset). live_bytes is summed the same way:
 *   each cache keeps its thread's share (allocated minus freed by it, negative
 *   when it frees other threads' blocks) and the pool a base for exited and
 *   cacheless threads. peak_bytes is raised to that sum whenever a thread's
 *   share passes its own previous high: exact for one thread; with several,
 *   a snapshot sum taken at those moments (a new pool-wide high reached while
 *   no thread passes its own is not seen). A thread whose share keeps growing
 *   because another frees its blocks would pass its high at every allocation;
 *   peak_note moves bytes from its share to the negative shares of the others
 *   (per-cache credits, under caches_lock), so it passes it again only after
 *   as many bytes again. Reset takes a baseline instead of
 *   zeroing, so it never races with the owners.
 *
 * - Leak report: walks every slab's side table and the list of live large
 *   blocks (both always kept, so listing works without tracking; tracking only
 *   adds the site column).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc_internal.h"
#include "bitnet/pool.h"

#define SLAB_SHIFT          21
#define SLAB_SIZE           ((size_t)1 << SLAB_SHIFT)
#define HDR_PAGE            ((size_t)4096) /* large-block header; slab data starts on this boundary */
#define NCLS                48             /* size classes: 64 B .. 512 KiB */
#define LARGE_SLOT          NCLS           /* counter slot of the large path */
#define MAX_CLASS_SIZE      ((size_t)512 << 10)
#define DEFAULT_THRESHOLD   ((size_t)256 << 10)
#define DEFAULT_LARGE_CACHE ((size_t)64 << 20)
#define MEMO                4
#define LBIN                4 /* freed large blocks a thread cache keeps */
#define RECIP_SHIFT         42
#define REQ_BITS            21 /* side-table word: requested size in bits 0..20, offset/64 above */
#define REQ_MASK            ((UINT32_C(1) << REQ_BITS) - 1)
#define MAGIC_SLAB          UINT32_C(0x534c4142)
#define MAGIC_LARGE         UINT32_C(0x4c524745)

#define TLS_IE      __attribute__((tls_model("initial-exec")))
#define HOT         static inline __attribute__((always_inline))
#define COLD        static __attribute__((noinline, cold))
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RELAXED     memory_order_relaxed

_Static_assert(BN_POOL_MAX_CLASSES >= NCLS + 1, "stats must hold every class and the large path");
_Static_assert(HDR_PAGE >= BN_POOL_MAX_ALIGN, "the large header must keep the maximum alignment");
_Static_assert(MAX_CLASS_SIZE < (UINT32_C(1) << REQ_BITS), "requested size must fit the side word");

/* Header common to slabs and large blocks, at the 2 MiB-aligned base. */
typedef struct pool_hdr {
    uint32_t magic;
    uint32_t cls; /* class index, or LARGE_SLOT */
    bn_pool *pool;
} pool_hdr;

typedef struct slab {
    pool_hdr h;
    uint32_t nblocks;
    uint32_t carved;  /* blocks handed out of the bump region so far (depot lock) */
    uint32_t scratch; /* bn_pool_trim's count of free blocks */
    size_t bsize;
    uint64_t recip; /* ceil(2^RECIP_SHIFT / bsize): index = (off * recip) >> RECIP_SHIFT */
    char *data;
    struct slab *next; /* depot's list of slabs (depot lock) */
    _Atomic uint32_t *req;
    _Atomic(const char *) *site_file; /* NULL unless tracking */
    _Atomic int32_t *site_line;
} slab;

typedef struct large_hdr {
    pool_hdr h;
    size_t map_len;     /* whole mapping, header included */
    _Atomic size_t req; /* requested size; 0 while cached (written by the allocating
                           or freeing thread, read by the leak report) */
    _Atomic(const char *) file;
    _Atomic int line;
    struct large_hdr *aprev, *anext; /* every mapping of the pool (large lock) */
    struct large_hdr *prev, *next;   /* the pool's cache list (large lock) */
} large_hdr;

/* hits are allocs - misses, so the hot path bumps one counter per call */
typedef struct cls_cnt {
    _Atomic uint64_t allocs, frees, misses;
} cls_cnt;

typedef struct tbin {
    char *head;
    uint32_t n, cap;
} tbin;

typedef struct bn_tcache bn_tcache;
struct bn_tcache {
    uint64_t pool_id;
    bn_pool *pool;            /* NULL once the pool is destroyed (g_lock) */
    bn_tcache *pnext, *pprev; /* pool's list (caches_lock) */
    bn_tcache *tnext;         /* owning thread's list (owner, under g_lock) */
    _Atomic int64_t live;     /* requested bytes allocated minus freed by this thread (owner) */
    _Atomic int64_t credit;   /* bytes moved to or from other caches' shares (caches_lock) */
    int64_t live_high;        /* highest share (live + credit) seen so far (owner only) */
    large_hdr *lbin[LBIN];    /* freed large blocks, oldest first (owner only) */
    uint32_t nl;
    size_t lbytes;  /* map_len summed over lbin (owner only) */
    size_t lcredit; /* bytes of the pool cache bound reserved by this cache, >= lbytes */
    tbin bins[NCLS];
    cls_cnt cnt[NCLS + 1];
};

typedef struct geo {
    size_t size;
    uint64_t recip;
    uint32_t nblocks, cap;
    size_t hdr_bytes; /* slab header incl. side tables, multiple of HDR_PAGE */
    size_t req_off, file_off, line_off;
} geo;

typedef struct depot {
    _Alignas(64) pthread_mutex_t lock;
    char *free_head; /* linked through the blocks' first word */
    size_t nfree;
    slab *cur; /* slab being carved */
    slab *slabs;
} depot;

struct bn_pool {
    uint64_t id; /* first: the hot-path cache lookup reads it */
    size_t threshold;
    uint32_t nsmall; /* active classes: sizes <= threshold */
    bool track;
    bool is_default;
    size_t large_cache_max;
    _Atomic int fi_armed;

    _Alignas(64) _Atomic int64_t live_base;   /* live bytes of exited and cacheless threads */
    _Alignas(64) _Atomic uint64_t peak_bytes; /* caches_lock for writes */
    _Alignas(64) _Atomic uint64_t mapped_bytes;
    _Atomic uint64_t failures;

    geo geo[NCLS];
    depot depots[NCLS];

    pthread_mutex_t caches_lock; /* guards caches, retired, base */
    bn_tcache *caches;
    cls_cnt retired[NCLS + 1]; /* counters of exited threads */
    cls_cnt shared[NCLS + 1];  /* counters of threads without a cache (atomic adds) */
    uint64_t base[NCLS + 1][4];
    uint64_t base_failures;

    pthread_mutex_t large_lock;
    large_hdr *large_all;                 /* live, cached and thread-cached mappings */
    large_hdr *lcache_head, *lcache_tail; /* most recently freed first */
    size_t lcache_bytes;
    size_t lcredit_out; /* bytes reserved by thread caches; lcache_bytes + lcredit_out
                           <= large_cache_max */

    pthread_mutex_t fi_lock;
    int64_t fi_count, fi_every;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static bool g_key_ok;
static size_t g_page = 4096;
static _Atomic uint64_t g_next_id = 1;

static pthread_once_t g_default_once = PTHREAD_ONCE_INIT;
static bn_pool g_default_pool;

static _Thread_local struct memo {
    uint64_t id;
    bn_tcache *c;
} tl_memo[MEMO] TLS_IE;
static _Thread_local unsigned tl_memo_next TLS_IE;
static _Thread_local bn_tcache *tl_last TLS_IE; /* the cache found last, checked first */
static _Thread_local bn_tcache *tl_caches TLS_IE;

static void tcache_thread_exit(void *arg);

static void global_init(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg > 0 && (size_t)pg <= SLAB_SIZE)
        g_page = (size_t)pg;
    g_key_ok = pthread_key_create(&g_key, tcache_thread_exit) == 0;
}

/* ---- size classes ------------------------------------------------------ */

static size_t class_size(unsigned i)
{
    if (i < 8)
        return (size_t)(i + 1) * 64;
    unsigned b = 9 + (i - 8) / 4;
    return ((size_t)1 << b) + ((size_t)((i - 8) % 4 + 1) << (b - 2));
}

/* Class of a size in [1, MAX_CLASS_SIZE]: the smallest class >= s. */
HOT unsigned class_index(size_t s)
{
    if (s <= 512)
        return (unsigned)((s + 63) >> 6) - 1;
    size_t t = s - 1;
    unsigned b = 63 - (unsigned)__builtin_clzll((unsigned long long)t);
    unsigned q = (unsigned)(t >> (b - 2)) & 3;
    return 8 + (b - 9) * 4 + q;
}

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static void geo_init(geo *g, size_t size, bool track)
{
    size_t side = sizeof(uint32_t) + (track ? sizeof(const char *) + sizeof(int32_t) : 0);
    size_t fixed = round_up(sizeof(slab), 64);
    size_t n = (SLAB_SIZE - HDR_PAGE) / size;
    size_t hdr;
    for (;;) {
        hdr = round_up(fixed + n * side + 64, HDR_PAGE);
        if (hdr + n * size <= SLAB_SIZE)
            break;
        n--;
    }
    g->size = size;
    g->recip = (((uint64_t)1 << RECIP_SHIFT) + size - 1) / size;
    g->nblocks = (uint32_t)n;
    g->hdr_bytes = hdr;
    g->req_off = fixed;
    g->file_off = round_up(fixed + n * sizeof(uint32_t), 8);
    g->line_off = g->file_off + n * sizeof(const char *);
    size_t cap = ((size_t)128 << 10) / size;
    g->cap = (uint32_t)(cap < 2 ? 2 : cap > 256 ? 256 : cap);
}

/* ---- OS mappings ------------------------------------------------------- */

/* Maps len bytes (a multiple of the page size) aligned to SLAB_SIZE. The
 * caller has checked that len + SLAB_SIZE does not overflow. */
static void *os_map(bn_pool *p, size_t len, int *err)
{
    size_t span = len + SLAB_SIZE - g_page;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        *err = errno;
        return NULL;
    }
    uintptr_t a = ((uintptr_t)m + SLAB_SIZE - 1) & ~(uintptr_t)(SLAB_SIZE - 1);
    size_t head = (size_t)(a - (uintptr_t)m);
    size_t tail = span - head - len;
    if (head)
        munmap(m, head);
    if (tail)
        munmap((char *)a + len, tail);
    atomic_fetch_add_explicit(&p->mapped_bytes, len, RELAXED);
    return (void *)a;
}

static void os_unmap(bn_pool *p, void *a, size_t len)
{
    munmap(a, len);
    atomic_fetch_sub_explicit(&p->mapped_bytes, len, RELAXED);
}

HOT pool_hdr *hdr_of(const void *ptr)
{
    return (pool_hdr *)((uintptr_t)ptr & ~(uintptr_t)(SLAB_SIZE - 1));
}

/* ---- counters ---------------------------------------------------------- */

/* Owner-only increment of a counter that other threads may read. */
HOT void cnt_inc(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RELAXED) + 1, RELAXED);
}

/* Live bytes of the whole pool: the base plus every cache's share. caches_lock held. */
static uint64_t live_sum(bn_pool *p)
{
    int64_t sum = atomic_load_explicit(&p->live_base, RELAXED);
    for (bn_tcache *c = p->caches; c; c = c->pnext)
        sum += atomic_load_explicit(&c->live, RELAXED) + atomic_load_explicit(&c->credit, RELAXED);
    return sum > 0 ? (uint64_t)sum : 0;
}

static int64_t share_of(bn_tcache *c)
{
    return atomic_load_explicit(&c->live, RELAXED) + atomic_load_explicit(&c->credit, RELAXED);
}

static uint64_t live_now(bn_pool *p)
{
    pthread_mutex_lock(&p->caches_lock);
    uint64_t n = live_sum(p);
    pthread_mutex_unlock(&p->caches_lock);
    return n;
}

/*
 * Raises the peak to the current live bytes when they are above it. Then,
 * when the calling thread's share c is positive and other caches' shares are
 * negative (they freed blocks it allocated: a producer and a consumer), moves
 * bytes between them through their credits, which leaves the total as it is
 * and brings c's share down, so that c does not pass its high (and come here)
 * on every allocation. c may be NULL (a thread without a cache).
 */
COLD void peak_note(bn_pool *p, bn_tcache *c)
{
    pthread_mutex_lock(&p->caches_lock);
    uint64_t now = live_sum(p);
    if (now > atomic_load_explicit(&p->peak_bytes, RELAXED))
        atomic_store_explicit(&p->peak_bytes, now, RELAXED);
    int64_t mine = c ? share_of(c) : 0;
    for (bn_tcache *d = p->caches; d && mine > 0; d = d->pnext) {
        int64_t theirs = share_of(d);
        if (d == c || theirs >= 0)
            continue;
        int64_t x = mine < -theirs ? mine : -theirs;
        atomic_fetch_sub_explicit(&c->credit, x, RELAXED);
        atomic_fetch_add_explicit(&d->credit, x, RELAXED);
        mine -= x;
    }
    pthread_mutex_unlock(&p->caches_lock);
}

/*
 * Adds n live bytes for the calling thread. The owner's plain counter takes
 * it; the pool's total is only summed (peak_note) when this thread's share
 * passes its own previous high, which in a steady state never happens, so
 * the pair costs no atomic read-modify-write and no lock.
 */
HOT void live_add(bn_pool *p, bn_tcache *c, size_t n)
{
    if (LIKELY(c != NULL)) {
        int64_t now = atomic_load_explicit(&c->live, RELAXED) + (int64_t)n;
        atomic_store_explicit(&c->live, now, RELAXED);
        now += atomic_load_explicit(&c->credit, RELAXED);
        if (LIKELY(now <= c->live_high))
            return;
        c->live_high = now;
    } else {
        atomic_fetch_add_explicit(&p->live_base, (int64_t)n, RELAXED);
    }
    peak_note(p, c);
}

HOT void live_sub(bn_pool *p, bn_tcache *c, size_t n)
{
    if (LIKELY(c != NULL))
        atomic_store_explicit(&c->live, atomic_load_explicit(&c->live, RELAXED) - (int64_t)n,
                              RELAXED);
    else
        atomic_fetch_sub_explicit(&p->live_base, (int64_t)n, RELAXED);
}

/* Counts one allocation in slot k of the calling thread's counters. */
HOT void count_alloc(bn_pool *p, bn_tcache *c, unsigned k, bool miss)
{
    if (LIKELY(c != NULL)) {
        cnt_inc(&c->cnt[k].allocs);
        if (UNLIKELY(miss))
            cnt_inc(&c->cnt[k].misses);
    } else {
        atomic_fetch_add_explicit(&p->shared[k].allocs, 1, RELAXED);
        if (miss)
            atomic_fetch_add_explicit(&p->shared[k].misses, 1, RELAXED);
    }
}

HOT void count_free(bn_pool *p, bn_tcache *c, unsigned k)
{
    if (LIKELY(c != NULL))
        cnt_inc(&c->cnt[k].frees);
    else
        atomic_fetch_add_explicit(&p->shared[k].frees, 1, RELAXED);
}

static void cnt_add(cls_cnt *dst, cls_cnt *src)
{
    for (unsigned k = 0; k <= NCLS; k++) {
        atomic_fetch_add_explicit(&dst[k].allocs, atomic_load_explicit(&src[k].allocs, RELAXED),
                                  RELAXED);
        atomic_fetch_add_explicit(&dst[k].frees, atomic_load_explicit(&src[k].frees, RELAXED),
                                  RELAXED);
        atomic_fetch_add_explicit(&dst[k].misses, atomic_load_explicit(&src[k].misses, RELAXED),
                                  RELAXED);
    }
}

/* ---- depot ------------------------------------------------------------- */

static slab *slab_new(bn_pool *p, unsigned ci, int *err)
{
    const geo *g = &p->geo[ci];
    slab *s = os_map(p, SLAB_SIZE, err);
    if (!s)
        return NULL;
    s->h.magic = MAGIC_SLAB;
    s->h.cls = ci;
    s->h.pool = p;
    s->nblocks = g->nblocks;
    s->bsize = g->size;
    s->recip = g->recip;
    s->data = (char *)s + g->hdr_bytes;
    s->req = (_Atomic uint32_t *)((char *)s + g->req_off);
    if (p->track) {
        s->site_file = (_Atomic(const char *) *)((char *)s + g->file_off);
        s->site_line = (_Atomic int32_t *)((char *)s + g->line_off);
    }
    return s;
}

/*
 * Takes up to `want` blocks for a thread cache (or one for a thread without
 * one): from the depot's free list, then from the slab being carved, and maps
 * a new slab only when not even one block is available (*miss is then true).
 * Returns the first block; the others are linked from it (*rest, *nrest).
 */
COLD char *depot_take(bn_pool *p, unsigned ci, uint32_t want, char **rest, uint32_t *nrest,
                      bool *miss, int *err)
{
    depot *d = &p->depots[ci];
    const geo *g = &p->geo[ci];
    char *head = NULL, *tail = NULL;
    uint32_t got = 0;
    *miss = false;
    pthread_mutex_lock(&d->lock);
    while (got < want && d->free_head) {
        char *b = d->free_head;
        d->free_head = *(char **)b;
        d->nfree--;
        if (tail)
            *(char **)tail = b;
        else
            head = b;
        tail = b;
        got++;
    }
    while (got < want) {
        if (!d->cur || d->cur->carved == d->cur->nblocks) {
            if (got > 0)
                break;
            slab *s = slab_new(p, ci, err);
            if (!s)
                break;
            s->next = d->slabs;
            d->slabs = s;
            d->cur = s;
            *miss = true;
        }
        char *b = d->cur->data + (size_t)d->cur->carved++ * g->size;
        if (tail)
            *(char **)tail = b;
        else
            head = b;
        tail = b;
        got++;
    }
    pthread_mutex_unlock(&d->lock);
    if (!head)
        return NULL;
    *(char **)tail = NULL;
    *rest = *(char **)head;
    *nrest = got - 1;
    return head;
}

/* Pushes a chain head..tail of n blocks onto the depot's free list. */
static void depot_put(bn_pool *p, unsigned ci, char *head, char *tail, uint32_t n)
{
    depot *d = &p->depots[ci];
    pthread_mutex_lock(&d->lock);
    *(char **)tail = d->free_head;
    d->free_head = head;
    d->nfree += n;
    pthread_mutex_unlock(&d->lock);
}

static void bin_flush_all(bn_pool *p, bn_tcache *c)
{
    for (unsigned ci = 0; ci < p->nsmall; ci++) {
        tbin *b = &c->bins[ci];
        if (!b->head)
            continue;
        char *tail = b->head;
        while (*(char **)tail)
            tail = *(char **)tail;
        depot_put(p, ci, b->head, tail, b->n);
        b->head = NULL;
        b->n = 0;
    }
}

/* ---- thread caches ----------------------------------------------------- */

static void memo_forget(bn_tcache *c)
{
    for (int i = 0; i < MEMO; i++)
        if (tl_memo[i].c == c)
            tl_memo[i] = (struct memo){0, NULL};
    if (tl_last == c)
        tl_last = NULL;
}

/* Frees this thread's caches whose pool was destroyed. g_lock held. */
static void tcache_prune_dead(void)
{
    bn_tcache **pp = &tl_caches;
    bool changed = false;
    while (*pp) {
        bn_tcache *c = *pp;
        if (c->pool == NULL) {
            *pp = c->tnext;
            memo_forget(c);
            alloc__free(c);
            changed = true;
        } else {
            pp = &c->tnext;
        }
    }
    if (changed && g_key_ok)
        pthread_setspecific(g_key, tl_caches);
}

/*
 * The calling thread's cache for p, creating it when `create`. NULL when
 * none exists and it cannot be made (no memory, or no thread-exit hook to
 * flush it): the caller then works on the depot directly.
 */
COLD bn_tcache *tcache_slow(bn_pool *p, bool create)
{
    pthread_once(&g_once, global_init);
    if (!g_key_ok)
        return NULL;
    pthread_mutex_lock(&g_lock);
    tcache_prune_dead();
    bn_tcache *c = tl_caches;
    while (c && c->pool_id != p->id)
        c = c->tnext;
    if (!c && create) {
        /* optional: without a cache this thread works on the depot */
        c = alloc__aligned_optional(64, round_up(sizeof *c, 64));
        if (c) {
            memset(c, 0, sizeof *c);
            c->pool_id = p->id;
            c->pool = p;
            for (unsigned ci = 0; ci < NCLS; ci++)
                c->bins[ci].cap = p->geo[ci].cap;
            pthread_mutex_lock(&p->caches_lock);
            c->pnext = p->caches;
            if (p->caches)
                p->caches->pprev = c;
            p->caches = c;
            pthread_mutex_unlock(&p->caches_lock);
            c->tnext = tl_caches;
            tl_caches = c;
            pthread_setspecific(g_key, tl_caches);
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (c) {
        tl_memo[tl_memo_next % MEMO] = (struct memo){p->id, c};
        tl_memo_next++;
    }
    return c;
}

HOT bn_tcache *tcache_get(bn_pool *p)
{
    uint64_t id = p->id;
    bn_tcache *c = tl_last;
    if (LIKELY(c != NULL && c->pool_id == id))
        return c;
    for (int i = 0; i < MEMO; i++)
        if (tl_memo[i].id == id) {
            tl_last = tl_memo[i].c;
            return tl_last;
        }
    c = tcache_slow(p, true);
    tl_last = c;
    return c;
}

static void lbin_flush(bn_pool *p, bn_tcache *c);

/* Returns c's blocks to its pool and merges its counters. g_lock held, pool alive. */
static void tcache_detach(bn_tcache *c)
{
    bn_pool *p = c->pool;
    bin_flush_all(p, c);
    lbin_flush(p, c);
    pthread_mutex_lock(&p->caches_lock);
    cnt_add(p->retired, c->cnt);
    atomic_fetch_add_explicit(&p->live_base, share_of(c), RELAXED);
    if (c->pprev)
        c->pprev->pnext = c->pnext;
    else
        p->caches = c->pnext;
    if (c->pnext)
        c->pnext->pprev = c->pprev;
    pthread_mutex_unlock(&p->caches_lock);
    c->pool = NULL;
}

/* pthread key destructor: the thread is exiting; arg is its list of caches. */
static void tcache_thread_exit(void *arg)
{
    pthread_mutex_lock(&g_lock);
    bn_tcache *c = arg;
    while (c) {
        bn_tcache *next = c->tnext;
        if (c->pool)
            tcache_detach(c);
        alloc__free(c);
        c = next;
    }
    pthread_mutex_unlock(&g_lock);
    tl_caches = NULL;
    tl_last = NULL;
    memset(tl_memo, 0, sizeof tl_memo);
}

/* ---- fault injection --------------------------------------------------- */

COLD bool fi_fail(bn_pool *p)
{
    bool fail = false;
    pthread_mutex_lock(&p->fi_lock);
    if (atomic_load_explicit(&p->fi_armed, RELAXED)) {
        if (p->fi_count == 0) {
            fail = true;
            if (p->fi_every > 0)
                p->fi_count = p->fi_every - 1;
            else
                atomic_store_explicit(&p->fi_armed, 0, RELAXED);
        } else {
            p->fi_count--;
        }
    }
    pthread_mutex_unlock(&p->fi_lock);
    return fail;
}

void bn_pool_fail_after(bn_pool *p, int64_t n, int64_t every)
{
    BN_ASSERT(p != NULL);
    pthread_mutex_lock(&p->fi_lock);
    p->fi_count = n;
    p->fi_every = every;
    atomic_store_explicit(&p->fi_armed, n >= 0, RELAXED);
    pthread_mutex_unlock(&p->fi_lock);
}

/* ---- small path -------------------------------------------------------- */

HOT void *small_finish(bn_pool *p, bn_tcache *c, char *blk, size_t size, size_t align,
                       const char *file, int line)
{
    slab *s = (slab *)hdr_of(blk);
    char *user = blk;
    if (align > BN_POOL_DEFAULT_ALIGN)
        user = (char *)(((uintptr_t)blk + align - 1) & ~(uintptr_t)(align - 1));
    size_t idx = (size_t)(((uint64_t)(blk - s->data) * s->recip) >> RECIP_SHIFT);
    uint32_t word = (uint32_t)((size_t)(user - blk) >> 6) << REQ_BITS | (uint32_t)size;
    atomic_store_explicit(&s->req[idx], word, RELAXED);
    if (p->track) {
        atomic_store_explicit(&s->site_file[idx], file, RELAXED);
        atomic_store_explicit(&s->site_line[idx], (int32_t)line, RELAXED);
    }
    live_add(p, c, size);
    return user;
}

HOT void *small_alloc(bn_pool *p, unsigned ci, size_t size, size_t align, const char *file,
                      int line, int *err)
{
    bn_tcache *c = tcache_get(p);
    bool miss = false;
    char *blk;
    if (LIKELY(c != NULL)) {
        tbin *b = &c->bins[ci];
        blk = b->head;
        if (LIKELY(blk != NULL)) {
            b->head = *(char **)blk;
            b->n--;
        } else {
            char *rest;
            uint32_t nrest;
            blk = depot_take(p, ci, b->cap / 2 + 1, &rest, &nrest, &miss, err);
            if (!blk)
                return NULL;
            b->head = rest;
            b->n = nrest;
        }
    } else {
        char *rest;
        uint32_t nrest;
        blk = depot_take(p, ci, 1, &rest, &nrest, &miss, err);
        if (!blk)
            return NULL;
    }
    count_alloc(p, c, ci, miss);
    return small_finish(p, c, blk, size, align, file, line);
}

/* Start of the block holding ptr, and its side word; asserts that ptr is live. */
HOT char *small_block(slab *s, const void *ptr, size_t *idx_out, uint32_t *word_out)
{
    const char *cp = ptr;
    BN_ASSERT(cp >= s->data && cp < s->data + (size_t)s->nblocks * s->bsize);
    size_t idx = (size_t)(((uint64_t)(cp - s->data) * s->recip) >> RECIP_SHIFT);
    char *blk = s->data + idx * s->bsize;
    uint32_t word = atomic_load_explicit(&s->req[idx], RELAXED);
    /* A free block has word 0; a live one records where its pointer is. */
    BN_ASSERT(word != 0 && "bn_pool: double free, or a pointer not returned by bn_pool_alloc");
    BN_ASSERT(blk + ((size_t)(word >> REQ_BITS) << 6) == cp &&
              "bn_pool: pointer inside a block, not returned by bn_pool_alloc");
    *idx_out = idx;
    *word_out = word;
    return blk;
}

/* A thread cache's bin passed its capacity: keeps the most recently freed
 * half and returns the rest to the depot. */
COLD void bin_overflow(bn_pool *p, unsigned ci, tbin *b)
{
    uint32_t keep = b->cap / 2;
    char *last = b->head;
    for (uint32_t i = 1; i < keep; i++)
        last = *(char **)last;
    char *head = *(char **)last, *tail = head;
    *(char **)last = NULL;
    while (*(char **)tail)
        tail = *(char **)tail;
    depot_put(p, ci, head, tail, b->n - keep);
    b->n = keep;
}

HOT void small_free(bn_pool *p, slab *s, void *ptr)
{
    size_t idx;
    uint32_t word;
    char *blk = small_block(s, ptr, &idx, &word);
    unsigned ci = s->h.cls;
    atomic_store_explicit(&s->req[idx], 0, RELAXED);
    bn_tcache *c = tcache_get(p);
    live_sub(p, c, word & REQ_MASK);
    if (LIKELY(c != NULL)) {
        tbin *b = &c->bins[ci];
        *(char **)blk = b->head;
        b->head = blk;
        if (UNLIKELY(++b->n > b->cap))
            bin_overflow(p, ci, b);
    } else {
        depot_put(p, ci, blk, blk, 1);
    }
    count_free(p, c, ci);
}

/* ---- large path -------------------------------------------------------- */

static void large_unlink_all(bn_pool *p, large_hdr *h)
{
    if (h->aprev)
        h->aprev->anext = h->anext;
    else
        p->large_all = h->anext;
    if (h->anext)
        h->anext->aprev = h->aprev;
}

/*
 * Evicts the least recently freed blocks of the pool's cache while it and
 * the thread caches' reservations plus `extra` pass the bound; the evicted
 * are unlinked from the registry and chained (through ->next) onto *evict for
 * unmapping after the lock. large lock held.
 */
static void lcache_trim_locked(bn_pool *p, size_t extra, large_hdr **evict)
{
    while (p->lcache_tail && p->lcache_bytes + p->lcredit_out + extra > p->large_cache_max) {
        large_hdr *t = p->lcache_tail;
        p->lcache_tail = t->prev;
        if (p->lcache_tail)
            p->lcache_tail->next = NULL;
        else
            p->lcache_head = NULL;
        p->lcache_bytes -= t->map_len;
        large_unlink_all(p, t);
        t->next = *evict;
        *evict = t;
    }
}

/*
 * Puts freed blocks (a chain through ->next) at the head of the pool's cache,
 * after giving back `credit` bytes reserved by a thread cache, and evicts
 * over the bound (onto *evict). large lock held.
 */
static void lcache_put_locked(bn_pool *p, large_hdr *chain, size_t credit, large_hdr **evict)
{
    p->lcredit_out -= credit;
    while (chain) {
        large_hdr *h = chain;
        chain = h->next;
        h->prev = NULL;
        h->next = p->lcache_head;
        if (p->lcache_head)
            p->lcache_head->prev = h;
        else
            p->lcache_tail = h;
        p->lcache_head = h;
        p->lcache_bytes += h->map_len;
    }
    lcache_trim_locked(p, 0, evict);
}

static void large_unmap_chain(bn_pool *p, large_hdr *h)
{
    while (h) {
        large_hdr *next = h->next;
        os_unmap(p, h, h->map_len);
        h = next;
    }
}

/* Hands a thread cache's large blocks and its reservation back to the pool. */
static void lbin_flush(bn_pool *p, bn_tcache *c)
{
    if (c->nl == 0 && c->lcredit == 0)
        return;
    large_hdr *chain = NULL, *evict = NULL;
    for (uint32_t i = 0; i < c->nl; i++) {
        c->lbin[i]->next = chain;
        chain = c->lbin[i];
    }
    pthread_mutex_lock(&p->large_lock);
    lcache_put_locked(p, chain, c->lcredit, &evict);
    pthread_mutex_unlock(&p->large_lock);
    c->nl = 0;
    c->lbytes = 0;
    c->lcredit = 0;
    large_unmap_chain(p, evict);
}

/* A cached block of capacity >= size that wastes at most half of itself. */
static bool large_fits(const large_hdr *x, size_t size)
{
    size_t cap = x->map_len - HDR_PAGE;
    return cap >= size && cap / 2 <= size;
}

/* Takes the best-fitting block from the thread cache (no lock), else NULL. */
static large_hdr *lbin_take(bn_tcache *c, size_t size)
{
    int best = -1;
    for (uint32_t i = 0; i < c->nl; i++)
        if (large_fits(c->lbin[i], size) &&
            (best < 0 || c->lbin[i]->map_len < c->lbin[best]->map_len))
            best = (int)i;
    if (best < 0)
        return NULL;
    large_hdr *h = c->lbin[best];
    for (uint32_t i = (uint32_t)best + 1; i < c->nl; i++)
        c->lbin[i - 1] = c->lbin[i];
    c->nl--;
    c->lbytes -= h->map_len;
    return h;
}

/* Takes the best-fitting block from the pool's cache, else NULL. */
static large_hdr *lcache_take(bn_pool *p, size_t size)
{
    large_hdr *h = NULL;
    pthread_mutex_lock(&p->large_lock);
    for (large_hdr *x = p->lcache_head; x; x = x->next)
        if (large_fits(x, size) && (!h || x->map_len < h->map_len))
            h = x;
    if (h) {
        if (h->prev)
            h->prev->next = h->next;
        else
            p->lcache_head = h->next;
        if (h->next)
            h->next->prev = h->prev;
        else
            p->lcache_tail = h->prev;
        p->lcache_bytes -= h->map_len;
    }
    pthread_mutex_unlock(&p->large_lock);
    return h;
}

COLD void *large_alloc(bn_pool *p, size_t size, const char *file, int line, bn_status *st)
{
    if (size > SIZE_MAX - HDR_PAGE - 2 * SLAB_SIZE) {
        *st = bn_error(BN_ERR_OVERFLOW,
                       "bn_pool_alloc: size %zu overflows size_t once the %zu-byte block header "
                       "and alignment are added",
                       size, HDR_PAGE);
        return NULL;
    }
    size_t map_len = round_up(HDR_PAGE + size, g_page);
    bn_tcache *c = tcache_get(p);
    large_hdr *h = c ? lbin_take(c, size) : NULL;
    bool miss = false;
    if (!h)
        h = lcache_take(p, size);
    if (!h) {
        int err = 0;
        h = os_map(p, map_len, &err);
        if (!h) {
            *st = bn_error(BN_ERR_OOM,
                           "bn_pool_alloc: out of memory: mapping %zu bytes for a %zu-byte block "
                           "failed: %s",
                           map_len, size, strerror(err));
            return NULL;
        }
        h->h.magic = MAGIC_LARGE;
        h->h.cls = LARGE_SLOT;
        h->h.pool = p;
        h->map_len = map_len;
        pthread_mutex_lock(&p->large_lock);
        h->aprev = NULL;
        h->anext = p->large_all;
        if (p->large_all)
            p->large_all->aprev = h;
        p->large_all = h;
        pthread_mutex_unlock(&p->large_lock);
        miss = true;
    }
    atomic_store_explicit(&h->file, file, RELAXED);
    atomic_store_explicit(&h->line, line, RELAXED);
    atomic_store_explicit(&h->req, size, RELAXED);
    count_alloc(p, c, LARGE_SLOT, miss);
    live_add(p, c, size);
    return (char *)h + HDR_PAGE;
}

/*
 * Keeps a freed block in the thread cache when the bytes it adds fit the
 * thread's reservation of the pool's cache bound, growing the reservation
 * when needed (the only lock, taken only when the reservation grows or the
 * thread cache is full); true when kept.
 */
static bool lbin_keep(bn_pool *p, bn_tcache *c, large_hdr *h)
{
    large_hdr *out = NULL, *evict = NULL;
    if (c->nl == LBIN) {
        out = c->lbin[0];
        for (uint32_t i = 1; i < LBIN; i++)
            c->lbin[i - 1] = c->lbin[i];
        c->nl--;
        c->lbytes -= out->map_len;
    }
    bool kept = true;
    if (out || c->lbytes + h->map_len > c->lcredit) {
        pthread_mutex_lock(&p->large_lock);
        if (out) {
            /* the oldest moves to the pool's cache with its share of the reservation */
            out->next = NULL;
            c->lcredit -= out->map_len;
            lcache_put_locked(p, out, out->map_len, &evict);
        }
        if (c->lbytes + h->map_len > c->lcredit) {
            size_t need = c->lbytes + h->map_len - c->lcredit;
            /* room comes from the pool's own cache, never from other reservations */
            lcache_trim_locked(p, need, &evict);
            if (p->lcache_bytes + p->lcredit_out + need <= p->large_cache_max) {
                p->lcredit_out += need;
                c->lcredit += need;
            } else {
                kept = false;
            }
        }
        pthread_mutex_unlock(&p->large_lock);
    }
    if (kept) {
        c->lbin[c->nl++] = h;
        c->lbytes += h->map_len;
    }
    large_unmap_chain(p, evict);
    return kept;
}

COLD void large_free(bn_pool *p, large_hdr *h, void *ptr)
{
    BN_ASSERT((char *)ptr == (char *)h + HDR_PAGE &&
              "bn_pool: pointer inside a large block, not returned by bn_pool_alloc");
    size_t req = atomic_load_explicit(&h->req, RELAXED);
    BN_ASSERT(req != 0 && "bn_pool: double free of a large block");
    atomic_store_explicit(&h->req, 0, RELAXED);
    bn_tcache *c = tcache_get(p);
    live_sub(p, c, req);
    count_free(p, c, LARGE_SLOT);
    if (c && h->map_len <= p->large_cache_max && lbin_keep(p, c, h))
        return;
    large_hdr *evict = NULL;
    h->next = NULL;
    pthread_mutex_lock(&p->large_lock);
    if (h->map_len <= p->large_cache_max) {
        lcache_put_locked(p, h, 0, &evict);
    } else {
        large_unlink_all(p, h);
        evict = h;
    }
    pthread_mutex_unlock(&p->large_lock);
    large_unmap_chain(p, evict);
}

/* ---- public API -------------------------------------------------------- */

static bn_status pool_init(bn_pool *p, const bn_pool_config *cfg, bool is_default)
{
    size_t threshold = cfg && cfg->large_threshold ? cfg->large_threshold : DEFAULT_THRESHOLD;
    if (threshold > MAX_CLASS_SIZE)
        return bn_error(BN_ERR_ARG,
                        "bn_pool_create: large_threshold %zu is above the largest size class "
                        "(%zu bytes)",
                        threshold, MAX_CLASS_SIZE);
    pthread_once(&g_once, global_init);
    memset(p, 0, sizeof *p);
    p->id = atomic_fetch_add(&g_next_id, 1);
    p->threshold = threshold;
    p->nsmall = class_index(threshold) + 1;
#ifdef BN_DEBUG
    p->track = cfg ? cfg->track_sites : true;
#else
    p->track = cfg ? cfg->track_sites : false;
#endif
    p->is_default = is_default;
    p->large_cache_max =
        cfg && cfg->large_cache_bytes ? cfg->large_cache_bytes : DEFAULT_LARGE_CACHE;
    for (unsigned ci = 0; ci < NCLS; ci++) {
        geo_init(&p->geo[ci], class_size(ci), p->track);
        pthread_mutex_init(&p->depots[ci].lock, NULL);
    }
    pthread_mutex_init(&p->caches_lock, NULL);
    pthread_mutex_init(&p->large_lock, NULL);
    pthread_mutex_init(&p->fi_lock, NULL);
    return BN_OK;
}

bn_status bn_pool_create(const bn_pool_config *cfg, bn_pool **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    bn_pool *p = alloc__aligned(64, round_up(sizeof *p, 64));
    if (!p)
        return bn_error(BN_ERR_OOM, "bn_pool_create: out of memory for the %zu-byte pool state",
                        sizeof *p);
    bn_status st = pool_init(p, cfg, false);
    if (st != BN_OK) {
        alloc__free(p);
        return st;
    }
    *out = p;
    return BN_OK;
}

static void pool_release_all(bn_pool *p)
{
    for (unsigned ci = 0; ci < NCLS; ci++) {
        slab *s = p->depots[ci].slabs;
        while (s) {
            slab *next = s->next;
            os_unmap(p, s, SLAB_SIZE);
            s = next;
        }
        pthread_mutex_destroy(&p->depots[ci].lock);
    }
    large_hdr *h = p->large_all;
    while (h) {
        large_hdr *next = h->anext;
        os_unmap(p, h, h->map_len);
        h = next;
    }
}

void bn_pool_destroy(bn_pool *p)
{
    if (!p)
        return;
    BN_ASSERT(!p->is_default && "bn_pool_destroy: the default pool is never destroyed");
    size_t n = bn_pool_leak_report(p, NULL);
    if (n > 0) {
        fprintf(stderr, "bn_pool: destroying a pool with %zu live block%s (%" PRIu64 " bytes):\n",
                n, n == 1 ? "" : "s", live_now(p));
        bn_pool_leak_report(p, stderr);
    }
    /* Detach every thread's cache; their blocks go with the slabs. The
     * calling thread frees its own now, the others at their next lookup. */
    pthread_mutex_lock(&g_lock);
    for (bn_tcache *c = p->caches; c; c = c->pnext)
        c->pool = NULL;
    tcache_prune_dead();
    pthread_mutex_unlock(&g_lock);
    pool_release_all(p);
    pthread_mutex_destroy(&p->caches_lock);
    pthread_mutex_destroy(&p->large_lock);
    pthread_mutex_destroy(&p->fi_lock);
    alloc__free(p);
}

static bool align_ok(size_t align)
{
    return (align & (align - 1)) == 0 && align <= BN_POOL_MAX_ALIGN;
}

HOT void *pool_alloc(bn_pool *p, size_t size, size_t align, const char *file, int line,
                     bn_status *st)
{
    BN_ASSERT(p != NULL);
    void *r;
    int err = 0;
    if (UNLIKELY(align > BN_POOL_DEFAULT_ALIGN || (align & (align - 1)) != 0)) {
        if (!align_ok(align)) {
            *st = bn_error(BN_ERR_ARG,
                           "bn_pool_alloc: alignment %zu is not a power of two <= %d (size %zu)",
                           align, BN_POOL_MAX_ALIGN, size);
            goto fail;
        }
    } else {
        align = BN_POOL_DEFAULT_ALIGN;
    }
    if (size == 0)
        size = 1;
    if (UNLIKELY(atomic_load_explicit(&p->fi_armed, RELAXED) |
                 atomic_load_explicit(&alloc__armed, RELAXED))) {
        const char *by = fi_fail(p)        ? "bn_pool_fail_after"
                         : alloc__inject() ? "bn_alloc_fail_after"
                                           : NULL;
        if (by) {
            *st = bn_error(BN_ERR_OOM,
                           "bn_pool_alloc: out of memory allocating %zu bytes (injected failure, "
                           "%s)",
                           size, by);
            goto fail;
        }
    }
    if (LIKELY(size <= p->threshold)) {
        size_t eff = size + align - BN_POOL_DEFAULT_ALIGN;
        if (LIKELY(eff <= p->threshold)) {
            unsigned ci = class_index(eff);
            r = small_alloc(p, ci, size, align, file, line, &err);
            if (LIKELY(r != NULL)) {
                *st = BN_OK;
                return r;
            }
            *st = bn_error(BN_ERR_OOM,
                           "bn_pool_alloc: out of memory: mapping a %zu-byte slab for a %zu-byte "
                           "block failed: %s",
                           SLAB_SIZE, size, strerror(err));
            goto fail;
        }
    }
    r = large_alloc(p, size, file, line, st);
    if (r) {
        *st = BN_OK;
        return r;
    }
fail:
    atomic_fetch_add_explicit(&p->failures, 1, RELAXED);
    return NULL;
}

void *bn_pool_alloc_at(bn_pool *p, size_t size, size_t align, const char *file, int line)
{
    bn_status st;
    return pool_alloc(p, size, align, file, line, &st);
}

bn_status bn_pool_try_alloc_at(bn_pool *p, size_t size, size_t align, const char *file, int line,
                               void **out)
{
    BN_ASSERT(out != NULL);
    bn_status st;
    *out = pool_alloc(p, size, align, file, line, &st);
    return st;
}

void bn_pool_free(bn_pool *p, void *ptr)
{
    if (!ptr)
        return;
    BN_ASSERT(p != NULL);
    pool_hdr *h = hdr_of(ptr);
    BN_ASSERT((h->magic == MAGIC_SLAB || h->magic == MAGIC_LARGE) &&
              "bn_pool_free: pointer not allocated by a bn_pool");
    BN_ASSERT(h->pool == p && "bn_pool_free: block belongs to another pool");
    if (LIKELY(h->magic == MAGIC_SLAB))
        small_free(p, (slab *)h, ptr);
    else
        large_free(p, (large_hdr *)h, ptr);
}

size_t bn_pool_block_size(bn_pool *p, const void *ptr)
{
    BN_ASSERT(p != NULL && ptr != NULL);
    pool_hdr *h = hdr_of(ptr);
    BN_ASSERT((h->magic == MAGIC_SLAB || h->magic == MAGIC_LARGE) &&
              "bn_pool_block_size: pointer not allocated by a bn_pool");
    BN_ASSERT(h->pool == p && "bn_pool_block_size: block belongs to another pool");
    if (h->magic == MAGIC_SLAB) {
        slab *s = (slab *)h;
        size_t idx;
        uint32_t word;
        char *blk = small_block(s, ptr, &idx, &word);
        return s->bsize - (size_t)((const char *)ptr - blk);
    }
    large_hdr *l = (large_hdr *)h;
    BN_ASSERT((const char *)ptr == (char *)l + HDR_PAGE);
    return l->map_len - HDR_PAGE;
}

static void raw_add(uint64_t raw[NCLS + 1][4], cls_cnt *cnt)
{
    for (unsigned k = 0; k <= NCLS; k++) {
        /* misses first: the owner counts the allocation before its miss */
        uint64_t m = atomic_load_explicit(&cnt[k].misses, memory_order_acquire);
        uint64_t a = atomic_load_explicit(&cnt[k].allocs, memory_order_acquire);
        raw[k][0] += a;
        raw[k][1] += atomic_load_explicit(&cnt[k].frees, RELAXED);
        raw[k][2] += a >= m ? a - m : 0;
        raw[k][3] += m;
    }
}

/* Sums of every counter slot, before the reset baseline. caches_lock held. */
static void raw_counts(bn_pool *p, uint64_t raw[NCLS + 1][4])
{
    memset(raw, 0, sizeof(uint64_t) * (NCLS + 1) * 4);
    raw_add(raw, p->retired);
    raw_add(raw, p->shared);
    for (bn_tcache *c = p->caches; c; c = c->pnext)
        raw_add(raw, c->cnt);
}

void bn_pool_stats_get(bn_pool *p, bn_pool_stats *out)
{
    BN_ASSERT(p != NULL && out != NULL);
    uint64_t raw[NCLS + 1][4];
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->caches_lock);
    raw_counts(p, raw);
    uint64_t allocs = 0, frees = 0;
    for (unsigned k = 0; k <= NCLS; k++) {
        allocs += raw[k][0];
        frees += raw[k][1];
    }
    out->live_blocks = allocs - frees;
    for (unsigned k = 0; k <= NCLS; k++) {
        if (k < NCLS && k >= p->nsmall)
            continue;
        unsigned slot = k == LARGE_SLOT ? p->nsmall : k;
        bn_pool_class_stats *cs = &out->classes[slot];
        cs->size = k == LARGE_SLOT ? SIZE_MAX : p->geo[k].size;
        cs->allocs = raw[k][0] - p->base[k][0];
        cs->frees = raw[k][1] - p->base[k][1];
        cs->hits = raw[k][2] - p->base[k][2];
        cs->misses = raw[k][3] - p->base[k][3];
        out->allocs += cs->allocs;
        out->frees += cs->frees;
        out->hits += cs->hits;
        out->misses += cs->misses;
    }
    out->failures = atomic_load_explicit(&p->failures, RELAXED) - p->base_failures;
    out->live_bytes = live_sum(p);
    out->peak_bytes = atomic_load_explicit(&p->peak_bytes, RELAXED);
    /* an owner may have raised its share and not yet noted the peak */
    if (out->live_bytes > out->peak_bytes)
        out->peak_bytes = out->live_bytes;
    pthread_mutex_unlock(&p->caches_lock);
    out->nclasses = (int)p->nsmall + 1;
    out->mapped_bytes = atomic_load_explicit(&p->mapped_bytes, RELAXED);
}

void bn_pool_stats_reset(bn_pool *p)
{
    BN_ASSERT(p != NULL);
    pthread_mutex_lock(&p->caches_lock);
    raw_counts(p, p->base);
    p->base_failures = atomic_load_explicit(&p->failures, RELAXED);
    pthread_mutex_unlock(&p->caches_lock);
}

static void report_line(FILE *f, size_t size, const void *ptr, bool track, const char *file,
                        int line)
{
    if (!f)
        return;
    if (track)
        fprintf(f, "bn_pool: live block: %zu bytes at %p, allocated at %s:%d\n", size, ptr,
                file ? file : "?", line);
    else
        fprintf(f, "bn_pool: live block: %zu bytes at %p (site not tracked)\n", size, ptr);
}

size_t bn_pool_leak_report(bn_pool *p, FILE *f)
{
    BN_ASSERT(p != NULL);
    size_t n = 0;
    for (unsigned ci = 0; ci < p->nsmall; ci++) {
        depot *d = &p->depots[ci];
        pthread_mutex_lock(&d->lock);
        for (slab *s = d->slabs; s; s = s->next) {
            for (uint32_t i = 0; i < s->carved; i++) {
                uint32_t word = atomic_load_explicit(&s->req[i], RELAXED);
                if (!word)
                    continue;
                n++;
                const char *ptr =
                    s->data + (size_t)i * s->bsize + ((size_t)(word >> REQ_BITS) << 6);
                report_line(f, word & REQ_MASK, ptr, p->track,
                            p->track ? atomic_load_explicit(&s->site_file[i], RELAXED) : NULL,
                            p->track ? atomic_load_explicit(&s->site_line[i], RELAXED) : 0);
            }
        }
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_lock(&p->large_lock);
    for (large_hdr *h = p->large_all; h; h = h->anext) {
        size_t req = atomic_load_explicit(&h->req, RELAXED);
        if (!req)
            continue;
        n++;
        report_line(f, req, (char *)h + HDR_PAGE, p->track, atomic_load_explicit(&h->file, RELAXED),
                    atomic_load_explicit(&h->line, RELAXED));
    }
    pthread_mutex_unlock(&p->large_lock);
    if (f)
        fflush(f);
    return n;
}

void bn_pool_trim(bn_pool *p)
{
    BN_ASSERT(p != NULL);
    bn_tcache *c = NULL;
    for (int i = 0; i < MEMO; i++)
        if (tl_memo[i].id == p->id)
            c = tl_memo[i].c;
    if (!c)
        c = tcache_slow(p, false);
    if (c) {
        bin_flush_all(p, c);
        lbin_flush(p, c);
    }
    for (unsigned ci = 0; ci < p->nsmall; ci++) {
        depot *d = &p->depots[ci];
        slab *dead = NULL;
        pthread_mutex_lock(&d->lock);
        for (slab *s = d->slabs; s; s = s->next)
            s->scratch = 0;
        for (char *b = d->free_head; b; b = *(char **)b)
            ((slab *)hdr_of(b))->scratch++;
        /* A slab is wholly free when every block it carved is on the list. */
        char **link = &d->free_head;
        while (*link) {
            slab *s = (slab *)hdr_of(*link);
            if (s->scratch == s->carved) {
                *link = *(char **)*link;
                d->nfree--;
            } else {
                link = (char **)*link;
            }
        }
        slab **sp = &d->slabs;
        while (*sp) {
            slab *s = *sp;
            if (s->scratch == s->carved) {
                *sp = s->next;
                if (d->cur == s)
                    d->cur = NULL;
                s->next = dead;
                dead = s;
            } else {
                sp = &s->next;
            }
        }
        pthread_mutex_unlock(&d->lock);
        while (dead) {
            slab *next = dead->next;
            os_unmap(p, dead, SLAB_SIZE);
            dead = next;
        }
    }
    pthread_mutex_lock(&p->large_lock);
    large_hdr *h = p->lcache_head;
    for (large_hdr *x = h; x; x = x->next)
        large_unlink_all(p, x);
    p->lcache_head = p->lcache_tail = NULL;
    p->lcache_bytes = 0;
    pthread_mutex_unlock(&p->large_lock);
    large_unmap_chain(p, h);
}

static void default_init(void)
{
    bn_status st = pool_init(&g_default_pool, NULL, true);
    BN_ASSERT(st == BN_OK);
}

bn_pool *bn_pool_default(void)
{
    pthread_once(&g_default_once, default_init);
    return &g_default_pool;
}
