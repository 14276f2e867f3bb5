/*
 * test_runner.c - the runner's protocol: calibration reaches min-time, R
 * samples, a wrong answer fails the case and is never timed, skipped and
 * failed set-ups, SIGINT finishes the current case and marks the run
 * interrupted, the binding read back reaches the hook; case selection; the
 * peak suite's probes verify against their closed form.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/timer.h"
#include "cpus.h"
#include "suites/runner.h"
#include "suites/suite.h"

#define SPIN_PER_ITER 20e-6

/* Every call of run is logged (its iteration count, and when it started and
 * ended on the runner's clock), so the tests check the protocol from what
 * happened, not from how long a call "should" take: on a busy machine a
 * 20 us call can last milliseconds, and the runner's decisions follow the
 * time that passed. */
#define MAX_CALLS 16384
typedef struct call {
    int64_t iters;
    double t0, t1;
} call;

typedef struct probe {
    int setups, verifies, runs, teardowns;
    int64_t last_iters;
    int64_t total_iters;
    bool raise_sigint;
    int ncalls;
    call calls[MAX_CALLS];
} probe;

static int t_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    probe *p = (probe *)arg;
    p->setups++;
    *state = p;
    return 0;
}

static int t_verify_ok(void *state, char *err, size_t cap)
{
    ((probe *)state)->verifies++;
    return 0;
}

static int t_verify_wrong(void *state, char *err, size_t cap)
{
    ((probe *)state)->verifies++;
    snprintf(err, cap, "out[3] = 7, reference 8");
    return -1;
}

/* Spins SPIN_PER_ITER seconds per iteration: a sample's length is known. */
static void t_run(void *state, int64_t iters)
{
    probe *p = state;
    p->runs++;
    p->last_iters = iters;
    p->total_iters += iters;
    if (p->raise_sigint) {
        p->raise_sigint = false;
        raise(SIGINT);
    }
    double t0 = bnb_now(), t1;
    while ((t1 = bnb_now()) - t0 < (double)iters * SPIN_PER_ITER) {
    }
    if (p->ncalls < MAX_CALLS)
        p->calls[p->ncalls] = (call){.iters = iters, .t0 = t0, .t1 = t1};
    p->ncalls++;
}

/* One measurement's calls split into its phases. The protocol: warm-up calls
 * of 1 iteration, then calibration calls whose counts start at 1 and strictly
 * grow, then R samples at the calibrated count. Read backwards from the end,
 * that split is exact. */
typedef struct phases {
    int warmup0, nwarmup; /* first warm-up call, how many */
    int calib0, ncalib;
    int sample0, nsamples;
} phases;

static phases split_calls(const probe *p, int first, int R)
{
    cr_assert_lt(p->ncalls, MAX_CALLS, "more calls than the log holds");
    phases ph = {.warmup0 = first, .sample0 = p->ncalls - R, .nsamples = R};
    cr_assert_geq(ph.sample0, first + 2, "fewer calls than a warm-up, a calibration and R samples");
    int64_t n = p->calls[ph.sample0].iters;
    for (int i = ph.sample0; i < p->ncalls; i++)
        cr_assert_eq(p->calls[i].iters, n, "sample call %d ran %lld iterations, not %lld", i,
                     (long long)p->calls[i].iters, (long long)n);
    int c = ph.sample0 - 1; /* the last calibration call */
    cr_assert_eq(p->calls[c].iters, n, "the samples do not use the last calibrated count");
    while (c > first && p->calls[c].iters > 1) {
        cr_assert_lt(p->calls[c - 1].iters, p->calls[c].iters, "calibration counts must grow");
        c--;
    }
    cr_assert_eq(p->calls[c].iters, 1, "calibration starts at 1 iteration");
    cr_assert_gt(c, first, "no warm-up call before calibration");
    ph.calib0 = c;
    ph.ncalib = ph.sample0 - c;
    ph.nwarmup = c - first;
    for (int i = first; i < c; i++)
        cr_assert_eq(p->calls[i].iters, 1, "warm-up call %d ran %lld iterations", i,
                     (long long)p->calls[i].iters);
    return ph;
}

/* Calibration stops at the first call that lasts >= target: every call
 * before it was shorter (each call's logged span lies inside the runner's
 * timing of it, so this is exact), and the last reached it. */
static void assert_calibrated_to(const probe *p, const phases *ph, double target)
{
    for (int i = ph->calib0; i < ph->sample0 - 1; i++)
        cr_assert_lt(p->calls[i].t1 - p->calls[i].t0, target,
                     "calibration call %d (%lld iterations) lasted %g s >= %g s but calibration "
                     "went on",
                     i, (long long)p->calls[i].iters, p->calls[i].t1 - p->calls[i].t0, target);
    const call *last = &p->calls[ph->sample0 - 1];
    cr_assert_geq(last->t1 - last->t0, target * 0.999,
                  "the calibrated call (%lld iterations) lasted %g s < %g s",
                  (long long)last->iters, last->t1 - last->t0, target);
}

static void t_teardown(void *state)
{
    ((probe *)state)->teardowns++;
}

static int t_setup_fail(const bnb_case_env *env, const void *arg, void **state, char *err,
                        size_t cap)
{
    snprintf(err, cap, "cannot allocate 1 TiB");
    return -1;
}

static bool t_unavailable(const void *arg, char *why, size_t cap)
{
    snprintf(why, cap, "needs a device");
    return false;
}

static probe P[4];
static bnb_case_def cases[] = {
    {.name = "spin",
     .arg = &P[0],
     .setup = t_setup,
     .verify = t_verify_ok,
     .run = t_run,
     .teardown = t_teardown},
    {.name = "wrong",
     .arg = &P[1],
     .setup = t_setup,
     .verify = t_verify_wrong,
     .run = t_run,
     .teardown = t_teardown},
    {.name = "nosetup", .arg = &P[2], .setup = t_setup_fail, .run = t_run},
    {.name = "skip", .arg = &P[3], .available = t_unavailable, .setup = t_setup, .run = t_run},
};
static const bnb_suite tsuite = {.name = "t", .cases = cases, .ncases = 4};

static bnb_topo_summary summary;
static bnb_timer_info timer;
static bnb_cpulist nocpus;
static bnb_case_env env = {.topo = &summary, .timer = &timer, .cpus = &nocpus};

static void init(void)
{
    memset(P, 0, sizeof P);
    bnb_timer_init(&timer);
}

static bnb_selected sel_of(int i)
{
    bnb_selected s = {.suite = &tsuite, .def = &cases[i]};
    snprintf(s.fullname, sizeof s.fullname, "t/%s", cases[i].name);
    return s;
}

Test(runner, calibration_reaches_min_time_and_takes_r_samples, .init = init)
{
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 9;
    o.min_time = 2e-3;
    bnb_selected s = sel_of(0);
    bnb_case_result r;
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
    cr_assert_eq(r.status, BNB_CASE_OK, "%s", r.message);
    cr_assert_str_eq(r.suite, "t");
    cr_assert_str_eq(r.name, "spin");
    cr_assert_eq(r.nsamples, 9);
    phases ph = split_calls(&P[0], 0, 9);
    cr_assert_eq(r.iterations, P[0].calls[ph.sample0].iters);
    assert_calibrated_to(&P[0], &ph, o.min_time);
    for (int i = 0; i < r.nsamples; i++)
        cr_assert_geq(r.samples[i], SPIN_PER_ITER, "sample %d = %g", i, r.samples[i]);
    cr_assert_eq(r.stats.n, 9);
    cr_assert_geq(r.stats.min, SPIN_PER_ITER);
    cr_assert(r.stats.ci_lo <= r.stats.median && r.stats.median <= r.stats.ci_hi);
    cr_assert_eq(P[0].setups, 1);
    cr_assert_eq(P[0].verifies, 1);
    cr_assert_eq(P[0].teardowns, 1);
    cr_assert_eq(P[0].last_iters, r.iterations);
    cr_assert_eq(P[0].runs, ph.nwarmup + ph.ncalib + 9);
    bnb_case_free(&r);
}

Test(runner, warmup_runs_untimed_calls_for_the_given_time, .init = init)
{
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    cr_assert_eq(o.warmup, BNB_DEFAULT_WARMUP);
    o.repetitions = 3;
    o.min_time = 1e-3;
    o.warmup = 0.0; /* still one call */
    bnb_selected s = sel_of(0);
    bnb_case_result r;
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
    phases ph = split_calls(&P[0], 0, 3);
    cr_assert_eq(ph.nwarmup, 1, "%d warm-up calls with no warm-up time", ph.nwarmup);
    bnb_case_free(&r);

    o.warmup = 0.02; /* calls of 1 iteration until 20 ms have passed */
    int first = P[0].ncalls;
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
    cr_assert_eq(r.status, BNB_CASE_OK);
    ph = split_calls(&P[0], first, 3);
    const call *c = P[0].calls;
    double start = c[ph.warmup0].t0;
    /* the last warm-up call began before 20 ms were up (the loop went on) */
    cr_assert_lt(c[ph.calib0 - 1].t0 - start, o.warmup, "a warm-up call began %g s in",
                 c[ph.calib0 - 1].t0 - start);
    /* and calibration began only after them (1 ms for the runner's own clock
     * read before the first call) */
    cr_assert_geq(c[ph.calib0].t0 - start, o.warmup - 1e-3, "calibration began %g s in",
                  c[ph.calib0].t0 - start);
    bnb_case_free(&r);
}

Test(runner, min_time_floor_is_1000x_resolution, .init = init)
{
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 3;
    o.min_time = 0.0;
    bnb_selected s = sel_of(0);
    bnb_case_result r;
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
    double floor_s = bnb_timer_min_sample(&timer, 0.0);
    double res =
        timer.clock_res_ns > timer.clock_tick_ns ? timer.clock_res_ns : timer.clock_tick_ns;
    cr_assert_gt(floor_s, 0.0);
    cr_assert_float_eq(floor_s, 1000.0 * res * 1e-9, 1e-12);
    phases ph = split_calls(&P[0], 0, 3);
    assert_calibrated_to(&P[0], &ph, floor_s);
    bnb_case_free(&r);
}

Test(runner, wrong_answer_fails_and_is_never_timed, .init = init)
{
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    bnb_selected s = sel_of(1);
    bnb_case_result r;
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
    cr_assert_eq(r.status, BNB_CASE_FAILED);
    cr_assert_str_eq(r.message, "wrong answer: out[3] = 7, reference 8");
    cr_assert_eq(r.nsamples, 0);
    cr_assert_null(r.samples);
    cr_assert_eq(P[1].runs, 0, "run() was called %d times", P[1].runs);
    cr_assert_eq(P[1].verifies, 1);
    cr_assert_eq(P[1].teardowns, 1);
    bnb_case_free(&r);
}

Test(runner, failed_setup_and_skip, .init = init)
{
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    bnb_selected s = sel_of(2);
    bnb_case_result r;
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
    cr_assert_eq(r.status, BNB_CASE_FAILED);
    cr_assert_str_eq(r.message, "set-up failed: cannot allocate 1 TiB");
    cr_assert_eq(r.nsamples, 0);
    bnb_case_free(&r);
    s = sel_of(3);
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
    cr_assert_eq(r.status, BNB_CASE_SKIPPED);
    cr_assert_str_eq(r.message, "needs a device");
    cr_assert_eq(P[3].setups, 0);
    cr_assert_eq(P[3].runs, 0);
    bnb_case_free(&r);
}

Test(runner, counters_become_metrics, .init = init)
{
    bnb_counters *c = NULL;
    char err[256];
    bnb_counters_force_papi_failure(true);
    cr_assert_eq(bnb_counters_open(NULL, false, &c, err, sizeof err), 0, "%s", err);
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 3;
    bnb_selected s = sel_of(0);
    bnb_case_result r;
    cr_assert_eq(bnb_runner_measure(&s, &env, &o, c, &r), 0);
    cr_assert_eq(r.status, BNB_CASE_OK);
    const bnb_metric *m = bnb_case_metric(&r, "counter.PAPI_TOT_CYC");
    cr_assert(m && !m->available);
    cr_assert(strstr(m->reason, "PAPI not started"), "%s", m->reason);
    m = bnb_case_metric(&r, "counter.sw.task_clock");
    cr_assert(m && m->available, "%s", m ? m->reason : "missing");
    /* spinning 20 us per iteration: task clock per iteration cannot exceed
     * the sample's wall time per iteration (plus read slack) */
    cr_assert(m->value > 0 && m->value <= r.stats.max * 1e9 * 1.05 + 1000, "%g ns/iter vs %g s",
              m->value, r.stats.max);
    bnb_case_free(&r);
    bnb_counters_close(c);
}

/* ---- whole runs ---------------------------------------------------------------- */

typedef struct hook_log {
    int pinned, stored;
    bnb_binding binding;
    char names[8][BNB_NAME_MAX];
    bnb_case_status st[8];
    int fail_at; /* on_case fails at this index (-1: never) */
} hook_log;

static int h_pinned(void *ctx, const bnb_binding *b, const char *papi, char *err, size_t cap)
{
    hook_log *l = ctx;
    l->pinned++;
    l->binding = *b;
    return 0;
}

static int h_case(void *ctx, const bnb_case_result *r, int i, int n, char *err, size_t cap)
{
    hook_log *l = ctx;
    snprintf(l->names[l->stored], sizeof l->names[0], "%s", r->name);
    l->st[l->stored++] = r->status;
    if (i == l->fail_at) {
        snprintf(err, cap, "disk full");
        return -1;
    }
    return 0;
}

static bnb_selection three(bnb_selected *buf)
{
    buf[0] = sel_of(0);
    buf[1] = sel_of(1);
    buf[2] = sel_of(3);
    return (bnb_selection){.n = 3, .c = buf};
}

Test(runner, full_run_pins_and_stores_each_case, .init = init)
{
    int last = test_last_cpu(); /* CPU 1 on two CPUs; one this process may use */
    bnb_topo *t = NULL;
    char err[256], spec[16];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_cpulist cpus;
    snprintf(spec, sizeof spec, "%d", last);
    cr_assert_eq(bnb_cpus_parse(t, spec, &cpus, err, sizeof err), 0, "%s", err);
    bnb_selected buf[3];
    bnb_selection sel = three(buf);
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 3;
    o.min_time = 1e-4;
    o.counters = "PAPI_TOT_CYC";
    hook_log log = {.fail_at = -1};
    bnb_runner_hooks h = {.ctx = &log, .on_pinned = h_pinned, .on_case = h_case};
    bnb_run_outcome out;
    cr_assert_eq(bnb_runner_run(&sel, t, &cpus, &o, &h, &out), 0, "%s", out.error);
    cr_assert_eq(out.status, BNB_RUN_COMPLETE);
    cr_assert_eq(out.ncases, 3);
    cr_assert_eq(out.nfailed, 1);
    cr_assert_eq(log.pinned, 1);
    cr_assert_eq(log.binding.ncpus, 1);
    cr_assert_eq(log.binding.cpus[0], last);
    cr_assert(log.binding.cpu_bound);
    cr_assert_eq(out.binding.cpus[0], last);
    cr_assert_eq(log.stored, 3);
    cr_assert_str_eq(log.names[1], "wrong");
    cr_assert_eq(log.st[0], BNB_CASE_OK);
    cr_assert_eq(log.st[1], BNB_CASE_FAILED);
    cr_assert_eq(log.st[2], BNB_CASE_SKIPPED);
    bnb_run_outcome_free(&out);
    bnb_topo_close(t);
}

Test(runner, sigint_finishes_current_case_and_marks_interrupted, .init = init)
{
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_selected buf[3];
    bnb_selection sel = three(buf);
    P[0].raise_sigint = true; /* Ctrl-C arrives during the first case's warm-up */
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 5;
    o.min_time = 1e-4;
    hook_log log = {.fail_at = -1};
    bnb_runner_hooks h = {.ctx = &log, .on_pinned = h_pinned, .on_case = h_case};
    bnb_run_outcome out;
    struct sigaction before;
    sigaction(SIGINT, NULL, &before);
    cr_assert_eq(bnb_runner_run(&sel, t, NULL, &o, &h, &out), 1, "%s", out.error);
    cr_assert_eq(out.status, BNB_RUN_INTERRUPTED);
    cr_assert(bnb_runner_interrupted());
    /* the current case was finished (all its samples) and handed to the store */
    cr_assert_eq(out.ncases, 1);
    cr_assert_eq(out.cases[0].status, BNB_CASE_OK);
    cr_assert_eq(out.cases[0].nsamples, 5);
    cr_assert_eq(log.stored, 1);
    /* the next cases never ran */
    cr_assert_eq(P[1].setups, 0);
    /* the handler is gone after the run: SIGINT is back to the disposition it
     * had before (SIG_DFL from a shell, SIG_IGN under `cmd &` or nohup) */
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    cr_assert_eq(cur.sa_handler, before.sa_handler);
    bnb_run_outcome_free(&out);
    bnb_topo_close(t);
}

Test(runner, failing_store_hook_fails_the_run, .init = init)
{
    bnb_topo *t = NULL;
    char err[256];
    cr_assert_eq(bnb_topo_open(&t, err, sizeof err), 0, "%s", err);
    bnb_selected buf[3];
    bnb_selection sel = three(buf);
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 2;
    o.min_time = 1e-4;
    hook_log log = {.fail_at = 0};
    bnb_runner_hooks h = {.ctx = &log, .on_pinned = h_pinned, .on_case = h_case};
    bnb_run_outcome out;
    cr_assert_eq(bnb_runner_run(&sel, t, NULL, &o, &h, &out), -1);
    cr_assert_eq(out.status, BNB_RUN_FAILED);
    cr_assert_str_eq(out.error, "disk full");
    cr_assert_eq(out.ncases, 1);
    bnb_run_outcome_free(&out);
    bnb_topo_close(t);
}

/* ---- selection and the peak suite ------------------------------------------------------ */

Test(runner, selection)
{
    bnb_selection s;
    char err[256];
    cr_assert_eq(bnb_select("peak", "^peak/fma/", &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.c[0].fullname, "peak/fma/scalar");
    cr_assert_str_eq(s.c[2].fullname, "peak/fma/avx512");
    bnb_selection_free(&s);
    cr_assert_eq(bnb_select(NULL, NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_geq(s.n, 6);
    bnb_selection_free(&s);
    cr_assert_eq(bnb_select("peak,peak", "triad", &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.n, 1);
    bnb_selection_free(&s);

    cr_assert_eq(bnb_select("nosuch", NULL, &s, err, sizeof err), -1);
    cr_assert(strstr(err, "unknown suite \"nosuch\" (known: peak"), "%s", err);
    cr_assert_eq(bnb_select("peak", "([", &s, err, sizeof err), -1);
    cr_assert(strstr(err, "--case \"([\": not a valid regular expression"), "%s", err);
    cr_assert_eq(bnb_select("peak", "zzz", &s, err, sizeof err), -1);
    cr_assert(strstr(err, "no case matches"), "%s", err);
    cr_assert_eq(bnb_select("peak,", NULL, &s, err, sizeof err), -1);
    cr_assert(strstr(err, "empty suite name"), "%s", err);
}

/* A default_short suite gives the default run its --quick cases only;
 * named with --suite (or in `all`) it runs every case. */
Test(runner, default_short_suites_run_their_quick_cases_by_default)
{
    const bnb_suite *t = bnb_suite_find("ternary");
    cr_assert_not_null(t);
    cr_assert(t->in_default && t->default_short);
    int quick = 0;
    for (int i = 0; i < t->ncases; i++)
        quick += !t->cases[i].skip_quick;
    cr_assert(quick > 0 && quick < t->ncases);
    bnb_selection s;
    char err[256];
    int in_default = 0, named = 0, all = 0;
    cr_assert_eq(bnb_select(NULL, "^ternary/", &s, err, sizeof err), 0, "%s", err);
    in_default = s.n;
    for (int i = 0; i < s.n; i++)
        cr_assert_not(s.c[i].def->skip_quick, "%s runs by default", s.c[i].fullname);
    bnb_selection_free(&s);
    cr_assert_eq(bnb_select("ternary", NULL, &s, err, sizeof err), 0, "%s", err);
    named = s.n;
    bnb_selection_free(&s);
    cr_assert_eq(bnb_select("all", "^ternary/", &s, err, sizeof err), 0, "%s", err);
    all = s.n;
    bnb_selection_free(&s);
    cr_assert_eq(in_default, quick);
    cr_assert_eq(named, t->ncases);
    cr_assert_eq(all, t->ncases);
}

Test(runner, peak_fma_probes_verify, .init = init)
{
    const bnb_suite *peak = bnb_suite_find("peak");
    cr_assert_not_null(peak);
    int verified = 0;
    for (int i = 0; i < peak->ncases; i++) {
        const bnb_case_def *d = &peak->cases[i];
        if (strncmp(d->name, "fma/", 4) != 0 && strncmp(d->name, "timer/", 6) != 0)
            continue;
        char why[128];
        if (d->available && !d->available(d->arg, why, sizeof why))
            continue;
        void *st = NULL;
        char err[256] = "";
        cr_assert_eq(d->setup(&env, d->arg, &st, err, sizeof err), 0, "%s", err);
        cr_assert_eq(d->verify(st, err, sizeof err), 0, "%s: %s", d->name, err);
        d->teardown(st);
        verified++;
    }
    cr_assert_geq(verified, 3); /* scalar + both timers at least */
}

Test(runner, peak_fma_case_metrics, .init = init)
{
    bnb_selection s;
    char err[256];
    cr_assert_eq(bnb_select("peak", "^peak/fma/scalar$", &s, err, sizeof err), 0, "%s", err);
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 3;
    o.min_time = 1e-4;
    bnb_case_result r;
    cr_assert_eq(bnb_runner_measure(&s.c[0], &env, &o, NULL, &r), 0);
    cr_assert_eq(r.status, BNB_CASE_OK, "%s", r.message);
    const bnb_metric *f = bnb_case_metric(&r, "flops_per_iter");
    const bnb_metric *g = bnb_case_metric(&r, "gflops");
    cr_assert_not_null(f);
    cr_assert_not_null(g);
    /* 1000 blocks x 12 chains x 1 lane x 2 flops */
    cr_assert_float_eq(f->value, 24000.0, 1e-9);
    cr_assert_float_eq(g->value, 24000.0 / r.stats.median / 1e9, 1e-9 * g->value);
    cr_assert_eq(g->timing, BNB_TIMING_RATE);
    bnb_case_free(&r);
    bnb_selection_free(&s);
}
