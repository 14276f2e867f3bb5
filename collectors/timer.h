/*
 * timer.h - the clocks bnbench measures with.
 *
 * Samples are timed with CLOCK_MONOTONIC (clock_gettime through the vDSO: no
 * system call, tens of nanoseconds, never steps backwards). Where the CPU has
 * an invariant TSC (CPUID 0x80000007 EDX bit 8: constant rate, ticking in
 * every power state) it is also read and calibrated against the monotonic
 * clock, for probes that need cycle-level reads. Both clocks' resolution and
 * per-read overhead are measured once at start (bnb_timer_init) and stored
 * with the run, because a sample must last far longer than the timer's
 * resolution (the runner asks for >= 1000x) to mean anything.
 */
#ifndef BNB_TIMER_H
#define BNB_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bnb_timer_info {
    double clock_res_ns;      /* clock_getres(CLOCK_MONOTONIC), as the kernel states it */
    double clock_tick_ns;     /* smallest non-zero step seen between consecutive reads */
    double clock_overhead_ns; /* mean cost of one clock_gettime, measured */
    bool has_tsc;             /* x86 time-stamp counter readable */
    bool tsc_invariant;       /* constant-rate, non-stop TSC (CPUID 0x80000007 EDX[8]) */
    double tsc_hz;            /* calibrated against CLOCK_MONOTONIC; 0 when not calibrated */
    double tsc_overhead_ns;   /* mean cost of one rdtsc read; 0 when no TSC */
} bnb_timer_info;

/* Seconds since an arbitrary fixed point, from CLOCK_MONOTONIC. Thread-safe. */
double bnb_now(void);
/* Nanoseconds since an arbitrary fixed point, from CLOCK_MONOTONIC. Thread-safe. */
int64_t bnb_now_ns(void);
/* Raw time-stamp counter; 0 on a CPU without one. Not serialising. */
uint64_t bnb_tsc(void);

/* Measures resolution and overhead of both clocks and calibrates the TSC
 * (about 20 ms of wall time). Always succeeds; fields that cannot be
 * measured on this CPU are 0/false. Thread-safe (no shared state). */
void bnb_timer_init(bnb_timer_info *out);

/* The shortest sample the runner accepts: max(min_time, 1000 x the larger of
 * the clock's stated resolution and its measured tick), in seconds. */
double bnb_timer_min_sample(const bnb_timer_info *ti, double min_time);

#endif
