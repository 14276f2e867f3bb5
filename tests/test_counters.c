/*
 * test_counters.c - PAPI and perf software counters: the forced "PAPI cannot
 * start" path, PAPI's reasons for unavailable hardware events, and the
 * software events' values against work of known size.
 */
#include <criterion/criterion.h>
#include <papi.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collectors/counters.h"
#include "collectors/timer.h"

static const bnb_event *find(const bnb_counters *c, const char *name)
{
    for (int i = 0; i < bnb_counters_count(c); i++)
        if (strcmp(bnb_counters_event(c, i)->name, name) == 0)
            return bnb_counters_event(c, i);
    return NULL;
}

/* One sample that touches `pages` fresh 4 KiB pages and spins ~spin_ms. */
static void sample(bnb_counters *c, int pages, double spin_ms, double *wall_ns)
{
    size_t len = (size_t)pages * 4096;
    char *p = NULL;
    if (pages > 0) {
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq(p, MAP_FAILED);
        madvise(p, len, MADV_NOHUGEPAGE);
    }
    bnb_counters_start(c);
    double t0 = bnb_now();
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
    /* spin until this thread has had spin_ms of CPU: task-clock figures
     * then hold on a loaded machine too, where wall time says little */
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    while ((double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9 <
           spin_ms * 1e-3);
    double t1 = bnb_now();
    bnb_counters_stop(c);
    if (wall_ns)
        *wall_ns = (t1 - t0) * 1e9;
    if (p)
        munmap(p, len);
}

/* Whether PAPI's perf_event component (hardware and libpfm4 native events)
 * is enabled; false with PAPI's reason (e.g. "Error libpfm4 no default PMU
 * found" on a CPU libpfm4 does not know). Call after bnb_counters_open has
 * started PAPI. */
static bool papi_perf_component_enabled(char *why, size_t cap)
{
    int cidx = PAPI_get_component_index("perf_event");
    const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
    if (!ci) {
        snprintf(why, cap, "PAPI has no perf_event component");
        return false;
    }
    if (ci->disabled) {
        snprintf(why, cap, "perf_event component disabled: %s", ci->disabled_reason);
        return false;
    }
    why[0] = '\0';
    return true;
}

/* A PAPI event PAPI cannot count: unavailable, with the failing PAPI call
 * and PAPI_strerror's message as the reason. */
static void expect_papi_unavailable(const bnb_event *e)
{
    cr_assert_not_null(e);
    cr_assert_eq(e->source, BNB_EV_PAPI);
    cr_assert_not(e->available, "%s counts", e->name);
    static const char *const calls[] = {
        "PAPI_event_name_to_code: ", "PAPI_query_event: ", "PAPI_add_event: "};
    bool known = false;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        size_t n = strlen(calls[i]);
        if (strncmp(e->reason, calls[i], n) == 0 && e->reason[n] != '\0')
            known = true;
    }
    cr_assert(known, "%s: reason \"%s\" is not PAPI's", e->name, e->reason);
}

static void check_software_values(bnb_counters *c)
{
    const bnb_event *tc = find(c, "sw.task_clock");
    const bnb_event *pf = find(c, "sw.page_faults");
    const bnb_event *cs = find(c, "sw.context_switches");
    cr_assert_not_null(tc);
    cr_assert_not_null(pf);
    cr_assert_not_null(cs);
    cr_assert(tc->available, "%s", tc->reason);
    cr_assert(pf->available, "%s", pf->reason);
    cr_assert(cs->available, "%s", cs->reason);

    bnb_counters_reset(c);
    double wall[3];
    for (int i = 0; i < 3; i++)
        sample(c, 256, 5.0, &wall[i]);
    bnb_case_result r = {0};
    cr_assert_eq(bnb_counters_add_metrics(c, &r, 1), 0);
    const bnb_metric *m = bnb_case_metric(&r, "counter.sw.task_clock");
    cr_assert_not_null(m);
    cr_assert(m->available);
    cr_assert_str_eq(m->unit, "ns/iter");
    double maxwall = wall[0] > wall[1] ? wall[0] : wall[1];
    maxwall = maxwall > wall[2] ? maxwall : wall[2];
    /* a busy thread's CPU time cannot exceed its wall time (plus read slack),
     * and the 5 ms spin gives it at least a slice of it */
    cr_assert(m->value > 0.1 * 5e6 && m->value <= maxwall + 2e5, "task clock %g ns, wall %g ns",
              m->value, maxwall);
    m = bnb_case_metric(&r, "counter.sw.page_faults");
    cr_assert_not_null(m);
    cr_assert(m->available);
    cr_assert_geq(m->value, 256.0, "page faults %g for 256 fresh pages", m->value);
    cr_assert_lt(m->value, 256.0 + 200.0);
    bnb_case_free(&r);

    /* sleeping in the region is at least one context switch */
    bnb_counters_reset(c);
    bnb_counters_start(c);
    usleep(2000);
    bnb_counters_stop(c);
    r = (bnb_case_result){0};
    cr_assert_eq(bnb_counters_add_metrics(c, &r, 1), 0);
    m = bnb_case_metric(&r, "counter.sw.context_switches");
    cr_assert(m && m->available);
    cr_assert_geq(m->value, 1.0);
    bnb_case_free(&r);
}

Test(counters, forced_papi_failure_run_goes_on)
{
    bnb_counters_force_papi_failure(true);
    bnb_counters *c = NULL;
    char err[256];
    cr_assert_eq(bnb_counters_open(NULL, false, &c, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(bnb_counters_papi_status(c), "PAPI not started"), "%s",
              bnb_counters_papi_status(c));
    const char *hw[] = {"PAPI_TOT_CYC", "PAPI_TOT_INS", "PAPI_FP_OPS",
                        "PAPI_L1_DCM",  "PAPI_L2_DCM",  "PAPI_L3_TCM"};
    for (int i = 0; i < 6; i++) {
        const bnb_event *e = find(c, hw[i]);
        cr_assert_not_null(e, "%s missing", hw[i]);
        cr_assert_not(e->available);
        cr_assert_str_eq(e->reason, bnb_counters_papi_status(c));
    }
    /* a measurement still completes; PAPI metrics are stored unavailable with the reason */
    bnb_counters_reset(c);
    sample(c, 0, 1.0, NULL);
    bnb_case_result r = {0};
    cr_assert_eq(bnb_counters_add_metrics(c, &r, 10), 0);
    const bnb_metric *m = bnb_case_metric(&r, "counter.PAPI_TOT_CYC");
    cr_assert_not_null(m);
    cr_assert_not(m->available);
    cr_assert(strstr(m->reason, "PAPI not started"), "%s", m->reason);
    cr_assert_str_eq(m->unit, "count/iter");
    bnb_case_free(&r);
    check_software_values(c);
    bnb_counters_close(c);
    bnb_counters_force_papi_failure(false);
}

Test(counters, env_disables_papi)
{
    setenv("BNB_PAPI_DISABLE", "1", 1);
    bnb_counters *c = NULL;
    char err[256];
    cr_assert_eq(bnb_counters_open("PAPI_TOT_CYC", false, &c, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(bnb_counters_papi_status(c), "BNB_PAPI_DISABLE"), "%s",
              bnb_counters_papi_status(c));
    cr_assert_not(find(c, "PAPI_TOT_CYC")->available);
    cr_assert_not_null(find(c, "sw.task_clock"));
    bnb_counters_close(c);
    unsetenv("BNB_PAPI_DISABLE");
}

Test(counters, hardware_events_match_pmu_presence)
{
    char why[200], perf_why[PAPI_MAX_STR_LEN];
    bool pmu = bnb_counters_pmu_present(why, sizeof why);
    bnb_counters *c = NULL;
    char err[256];
    cr_assert_eq(bnb_counters_open("PAPI_TOT_CYC,PAPI_TOT_INS", false, &c, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(bnb_counters_papi_status(c), "", "PAPI failed to start: %s",
                     bnb_counters_papi_status(c));
    bool perf_ok = papi_perf_component_enabled(perf_why, sizeof perf_why);
    const bnb_event *cyc = find(c, "PAPI_TOT_CYC");
    cr_assert_not_null(cyc);
    if (!pmu || !perf_ok) {
        /* no PMU (a VM), or a CPU libpfm4 does not know: PAPI's own reason
         * is kept and the software events count instead */
        cr_log_info("hardware events unavailable: %s", !pmu ? why : perf_why);
        expect_papi_unavailable(cyc);
        expect_papi_unavailable(find(c, "PAPI_TOT_INS"));
        cr_assert_not_null(find(c, "sw.task_clock"), "software fallback not added");
        check_software_values(c);
    } else {
        cr_assert(cyc->available, "%s", cyc->reason);
        bnb_counters_reset(c);
        sample(c, 0, 2.0, NULL);
        bnb_case_result r = {0};
        cr_assert_eq(bnb_counters_add_metrics(c, &r, 1), 0);
        cr_assert_gt(bnb_case_metric(&r, "counter.PAPI_TOT_CYC")->value, 1e5);
        bnb_case_free(&r);
    }
    bnb_counters_close(c);
}

Test(counters, unknown_event_is_unavailable_with_papi_reason)
{
    bnb_counters *c = NULL;
    char err[256];
    cr_assert_eq(bnb_counters_open("NOT_AN_EVENT_XYZ", false, &c, err, sizeof err), 0, "%s", err);
    const bnb_event *e = find(c, "NOT_AN_EVENT_XYZ");
    cr_assert_not_null(e);
    cr_assert_not(e->available);
    cr_assert(strncmp(e->reason, "PAPI_event_name_to_code: ", 25) == 0, "%s", e->reason);
    bnb_counters_close(c);
}

/* perf::TASK-CLOCK is a libpfm4 native event: it exists only while PAPI's
 * perf_event component is enabled, which needs libpfm4 to know the CPU
 * (Debian's libpfm4 4.13 knows neither AMD Zen 5 nor Intel Emerald Rapids).
 * Either way the code's promise is checked: it counts through PAPI, or it is
 * stored unavailable with PAPI's reason and the software events count. */
Test(counters, native_software_event_through_papi)
{
    bnb_counters *c = NULL;
    char err[256], perf_why[PAPI_MAX_STR_LEN];
    cr_assert_eq(bnb_counters_open("perf::TASK-CLOCK", false, &c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(bnb_counters_papi_status(c), "", "PAPI failed to start: %s",
                     bnb_counters_papi_status(c));
    const bnb_event *e = find(c, "perf::TASK-CLOCK");
    cr_assert_not_null(e);
    if (!papi_perf_component_enabled(perf_why, sizeof perf_why)) {
        cr_log_info("perf::TASK-CLOCK unavailable: %s", perf_why);
        expect_papi_unavailable(e);
        cr_assert_str_eq(e->reason, "PAPI_event_name_to_code: Event does not exist");
        bnb_counters_reset(c);
        sample(c, 0, 1.0, NULL);
        bnb_case_result r = {0};
        cr_assert_eq(bnb_counters_add_metrics(c, &r, 1), 0);
        const bnb_metric *m = bnb_case_metric(&r, "counter.perf::TASK-CLOCK");
        cr_assert_not_null(m);
        cr_assert_not(m->available);
        cr_assert_str_eq(m->reason, e->reason);
        bnb_case_free(&r);
        check_software_values(c);
        bnb_counters_close(c);
        return;
    }
    cr_assert(e->available, "%s", e->reason);
    /* every requested event counts, so no software fallback is added */
    cr_assert_null(find(c, "sw.task_clock"));
    bnb_counters_reset(c);
    double wall;
    sample(c, 0, 3.0, &wall);
    bnb_case_result r = {0};
    cr_assert_eq(bnb_counters_add_metrics(c, &r, 1), 0);
    const bnb_metric *m = bnb_case_metric(&r, "counter.perf::TASK-CLOCK");
    cr_assert(m && m->available);
    cr_assert(m->value > 0.1 * 3e6 && m->value <= wall + 2e5, "%g vs wall %g", m->value, wall);
    bnb_case_free(&r);
    bnb_counters_close(c);
}

Test(counters, malformed_lists_are_errors)
{
    bnb_counters *c = NULL;
    char err[256];
    cr_assert_eq(bnb_counters_open("PAPI_TOT_CYC,,PAPI_TOT_INS", false, &c, err, sizeof err), -1);
    cr_assert_null(c);
    cr_assert(strstr(err, "empty event name"), "%s", err);
    char longname[100];
    memset(longname, 'A', 80);
    longname[80] = '\0';
    cr_assert_eq(bnb_counters_open(longname, false, &c, err, sizeof err), -1);
    cr_assert(strstr(err, "too long"), "%s", err);
}
