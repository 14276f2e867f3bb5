/*
 * threads.h - the engine's thread pool: persistent workers and a
 * parallel-for that kernels use.
 *
 * The pool starts on first use with BN_THREADS workers in total (the calling
 * thread counts as worker 0), defaulting to the number of CPUs the process
 * may run on (also when BN_THREADS is invalid: see bn_threads_init). Problems smaller than the
 * grain run on the calling thread with no synchronisation at all. A parallel-for called from inside
 * a worker runs serially on that worker (no nested parallelism, no deadlock).
 *
 * Pinning is the harness's business: bn_threads_on_each runs a callback on
 * every worker thread (worker 0 on the caller), which bnbench uses to bind
 * each worker with hwloc and read the binding back.
 *
 * Thread-safety: bn_parallel_for may be called from several threads at once;
 * calls are serialised on the pool (one parallel region at a time), a caller
 * waiting its turn. bn_threads_set must not race with a running region.
 */
#ifndef BITNET_THREADS_H
#define BITNET_THREADS_H

#include <stdint.h>

#include "bitnet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BN_MAX_THREADS 256

/* Work on [begin, end) as worker `tid` (0 .. bn_threads_count()-1). */
typedef void (*bn_range_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/*
 * Splits [0, n) into contiguous chunks of at least `grain` items and runs fn
 * on them across the workers; returns when every chunk is done. n <= grain,
 * or a pool of one thread, runs fn(ctx, 0, n, 0) on the caller. Chunks are
 * handed out dynamically, so uneven work balances; fn must not assume which
 * tid gets which chunk. BN_OK, or the error that starting the pool met
 * (BN_ERR_OOM / BN_ERR_STATE) after running everything on the caller.
 */
bn_status bn_parallel_for(int64_t n, int64_t grain, bn_range_fn fn, void *ctx);

/* Threads in the pool (including the caller); starts the pool if needed. */
int bn_threads_count(void);
/* The pool's size without starting it: bn_threads_count() once started,
 * else the size it will start with (BN_THREADS, or the CPUs the calling
 * thread may run on). For recording a run's settings before any op runs. */
int bn_threads_planned(void);
/*
 * Resizes the pool to n threads (1 .. BN_MAX_THREADS), stopping and
 * restarting workers. BN_ERR_ARG for n out of range.
 */
bn_status bn_threads_set(int n);
/* Parses BN_THREADS: returns its value, or 0 when unset or empty; -1 when
 * it is not an integer from 1 to BN_MAX_THREADS written in digits alone (a
 * sign, spaces, "0", a suffix or a value too large), with a message naming
 * the value in bn_last_error. */
int bn_threads_env(void);
/*
 * BN_OK when BN_THREADS is unset, empty or valid; otherwise BN_ERR_ARG with
 * the message, for example
 *   BN_THREADS="abc": not a thread count (need an integer from 1 to 256)
 * A bad value never stops the library: the pool starts with the default
 * size (the CPUs the process may use; bn_threads_count() gives the count in
 * effect). Programs that must not run with a setting other than the one
 * asked for (bnbench) check this at start and stop, as with
 * bn_kernels_init(). A program that never calls it gets the message once on
 * stderr when the pool starts ("bitnet: BN_THREADS=... ; using 16 threads").
 */
bn_status bn_threads_init(void);

/* Runs fn(ctx, 0, 1, tid) once on each worker thread (tid 0 on the caller),
 * returning when all have run. */
bn_status bn_threads_on_each(bn_range_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
