/*
 * timer.c - monotonic clock and invariant-TSC reads, their resolution,
 * overhead and calibration (see timer.h for why the runner needs them).
 *
 * Calibration: the TSC and CLOCK_MONOTONIC are read together at the start
 * and the end of a ~20 ms busy interval; hz = ticks / elapsed. Each pair of
 * reads is bracketed so its uncertainty is the cost of one clock read, far
 * below 1e-4 of the interval.
 */
#include "collectors/timer.h"

#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define BNB_HAVE_TSC 1
#else
#define BNB_HAVE_TSC 0
#endif

double bnb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t bnb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t bnb_tsc(void)
{
#if BNB_HAVE_TSC
    return __rdtsc();
#else
    return 0;
#endif
}

static bool tsc_is_invariant(void)
{
#if BNB_HAVE_TSC
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
        return false;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return (d >> 8) & 1u;
#else
    return false;
#endif
}

/* Mean cost of one clock read over n reads, and the smallest non-zero step. */
static void measure_clock(double *overhead_ns, double *tick_ns)
{
    enum { N = 20000 };
    int64_t min_step = INT64_MAX;
    int64_t prev = bnb_now_ns();
    int64_t start = prev;
    for (int i = 0; i < N; i++) {
        int64_t t = bnb_now_ns();
        if (t > prev && t - prev < min_step)
            min_step = t - prev;
        prev = t;
    }
    *overhead_ns = (double)(prev - start) / N;
    *tick_ns = min_step == INT64_MAX ? 0.0 : (double)min_step;
}

static double measure_tsc_overhead(double hz)
{
    enum { N = 20000 };
    uint64_t start = bnb_tsc();
    volatile uint64_t sink = 0;
    for (int i = 0; i < N; i++)
        sink += bnb_tsc();
    (void)sink;
    uint64_t ticks = bnb_tsc() - start;
    return hz > 0 ? (double)ticks / hz * 1e9 / N : 0.0;
}

static double calibrate_tsc(void)
{
    /* Read the pair with the clock on both sides; keep the pair whose
     * bracket is tightest, so the TSC read is placed within one clock read. */
    int64_t t0 = 0, t1 = 0;
    uint64_t c0 = 0, c1 = 0;
    int64_t best = INT64_MAX;
    for (int i = 0; i < 5; i++) {
        int64_t a = bnb_now_ns();
        uint64_t c = bnb_tsc();
        int64_t b = bnb_now_ns();
        if (b - a < best) {
            best = b - a;
            t0 = (a + b) / 2;
            c0 = c;
        }
    }
    while (bnb_now_ns() - t0 < 20000000) {
    }
    best = INT64_MAX;
    for (int i = 0; i < 5; i++) {
        int64_t a = bnb_now_ns();
        uint64_t c = bnb_tsc();
        int64_t b = bnb_now_ns();
        if (b - a < best) {
            best = b - a;
            t1 = (a + b) / 2;
            c1 = c;
        }
    }
    if (t1 <= t0 || c1 <= c0)
        return 0.0;
    return (double)(c1 - c0) / ((double)(t1 - t0) * 1e-9);
}

void bnb_timer_init(bnb_timer_info *out)
{
    *out = (bnb_timer_info){0};
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC, &res) == 0)
        out->clock_res_ns = (double)res.tv_sec * 1e9 + (double)res.tv_nsec;
    measure_clock(&out->clock_overhead_ns, &out->clock_tick_ns);
#if BNB_HAVE_TSC
    out->has_tsc = true;
    out->tsc_invariant = tsc_is_invariant();
    out->tsc_hz = calibrate_tsc();
    out->tsc_overhead_ns = measure_tsc_overhead(out->tsc_hz);
#endif
}

double bnb_timer_min_sample(const bnb_timer_info *ti, double min_time)
{
    double res = ti->clock_res_ns > ti->clock_tick_ns ? ti->clock_res_ns : ti->clock_tick_ns;
    double floor_s = 1000.0 * res * 1e-9;
    return min_time > floor_s ? min_time : floor_s;
}
