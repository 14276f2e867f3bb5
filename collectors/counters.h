/*
 * counters.h - hardware and software event counts around the timed region.
 *
 * Hardware events go through PAPI (preset names such as PAPI_TOT_CYC or
 * native names such as perf::TASK-CLOCK). The default group asks for cycles,
 * instructions, FP operations and L1/L2/LLC misses. Events are added one by
 * one to a single event set with multiplexing off unless asked, so a count
 * is a real count, not an estimate. An event PAPI cannot count (unknown name,
 * no PMU, conflict) is kept in the list as unavailable with PAPI's own reason
 * (PAPI_strerror of the failing call), and the run goes on.
 *
 * When PAPI cannot start, or any requested hardware event is unavailable,
 * the kernel's software events (task clock, page faults, context switches)
 * are counted through perf_event_open(PERF_TYPE_SOFTWARE) instead.
 *
 * "PAPI cannot start" can be forced, for tests and for users who want no
 * PAPI at all, with BNB_PAPI_DISABLE=1 in the environment or
 * bnb_counters_force_papi_failure(true): PAPI is then not initialised and
 * the same code path as a real initialisation failure runs.
 *
 * Thread-safety: PAPI and perf count the thread that opened the set, so a
 * bnb_counters belongs to one thread: open, use and close it there.
 */
#ifndef BNB_COUNTERS_H
#define BNB_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/model/bnb.h"

#define BNB_MAX_EVENTS 24
#define BNB_DEFAULT_COUNTERS                                                                       \
    "PAPI_TOT_CYC,PAPI_TOT_INS,PAPI_FP_OPS,PAPI_L1_DCM,PAPI_L2_DCM,PAPI_L3_TCM"

typedef enum bnb_event_source {
    BNB_EV_PAPI = 0,    /* PAPI preset or native event */
    BNB_EV_PERF_SW = 1, /* perf_event_open(PERF_TYPE_SOFTWARE) */
} bnb_event_source;

typedef struct bnb_event {
    char name[64]; /* as requested: "PAPI_TOT_CYC"; software: "sw.task_clock" */
    char unit[16]; /* "count", or "ns" for the task clock */
    bnb_event_source source;
    bool available;
    char reason[160]; /* why not available: PAPI's or the kernel's message */
} bnb_event;

typedef struct bnb_counters bnb_counters;

/* Opens the events of the comma-separated list `events` (NULL or "" = the
 * default group) on the calling thread. Unavailable events do not fail the
 * call. Returns 0, or -1 with a message for a malformed list (an empty or
 * over-long name, more than BNB_MAX_EVENTS) or out of memory. */
int bnb_counters_open(const char *events, bool multiplex, bnb_counters **out, char *err,
                      size_t cap);
/* Stops and frees; NULL is allowed. Must run on the opening thread. */
void bnb_counters_close(bnb_counters *c);

/* "" when PAPI started; otherwise why it did not (also the reason stored
 * with every PAPI event). */
const char *bnb_counters_papi_status(const bnb_counters *c);
int bnb_counters_count(const bnb_counters *c);
const bnb_event *bnb_counters_event(const bnb_counters *c, int i);
/* How many events are counting. */
int bnb_counters_available(const bnb_counters *c);

/* Forgets the samples of the previous case. */
void bnb_counters_reset(bnb_counters *c);
/* Starts counting one sample (call just before the timed region). */
void bnb_counters_start(bnb_counters *c);
/* Stops counting and keeps the sample's counts (call just after it). An
 * event whose read fails becomes unavailable with the reason. */
void bnb_counters_stop(bnb_counters *c);

/* Adds one metric per event to r: "counter.<name>", the median over the
 * samples of count / iterations, unit "<unit>/iter"; an unavailable event is
 * added as unavailable with its reason. Returns 0, or -1 when out of memory. */
int bnb_counters_add_metrics(const bnb_counters *c, bnb_case_result *r, int64_t iterations);

/* Forces (true) or stops forcing the "PAPI cannot start" path for
 * counters opened afterwards. */
void bnb_counters_force_papi_failure(bool on);

/* Whether the kernel exposes a hardware PMU to this process: opens a
 * PERF_TYPE_HARDWARE cycles counter. false with the kernel's reason in why. */
bool bnb_counters_pmu_present(char *why, size_t cap);

#endif
