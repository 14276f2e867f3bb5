/*
 * mt.h - the small harness of the tests/mt_*.c concurrency programs, which
 * must run where Criterion cannot (under ThreadSanitizer, Criterion issue
 * #274). CHECK may be used from any thread; mt_run runs one named check on
 * the main thread and counts it; mt_finish prints the closing
 * "<prog>: N passed, N failed" line that CI reads and returns the exit code.
 * Header-only: each mt_ program is its own binary.
 */
#ifndef BN_TESTS_MT_H
#define BN_TESTS_MT_H

#include <stdatomic.h>
#include <stdio.h>

#include "bitnet/bitnet.h"

static int mt_passed, mt_failed;
static _Atomic int mt_errors; /* failed CHECKs of the check now running */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond,           \
                    bn_last_error());                                                              \
            atomic_fetch_add(&mt_errors, 1);                                                       \
        }                                                                                          \
    } while (0)

static inline void mt_run(const char *name, void (*fn)(void))
{
    atomic_store(&mt_errors, 0);
    fn();
    int e = atomic_load(&mt_errors);
    printf("%s %s\n", e ? "FAIL" : "ok  ", name);
    if (e)
        mt_failed++;
    else
        mt_passed++;
}

static inline int mt_finish(const char *prog)
{
    printf("%s: %d passed, %d failed\n", prog, mt_passed, mt_failed);
    return mt_failed ? 1 : 0;
}

#endif
