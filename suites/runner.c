/*
 * runner.c - the measuring loop (see runner.h for the per-case protocol).
 *
 * The timed region is exactly: clock read, run(state, iterations), clock
 * read. Counters are started just before the first clock read and stopped
 * just after the second, so their own cost stays outside the time but
 * inside the counts (a few hundred instructions against >= 1 ms of work).
 */
#include "suites/runner.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/context.h"
#include "collectors/timer.h"
#include "db/model/stats.h"

static volatile sig_atomic_t interrupted;

bool bnb_runner_interrupted(void)
{
    return interrupted != 0;
}

void bnb_runner_set_interrupted(bool on)
{
    interrupted = on;
}

/* The signals that stop a run after its current case: Ctrl-C, kill's
 * default, and the terminal going away. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSTOP ((int)(sizeof stop_signals / sizeof stop_signals[0]))

static void on_stop_signal(int sig)
{
    if (interrupted) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    interrupted = 1;
    static const char on_int[] =
        "\nbnbench: interrupted; finishing the current case (Ctrl-C again to abort)\n";
    static const char on_term[] = "\nbnbench: SIGTERM; finishing the current case (send it "
                                  "again to abort)\n";
    static const char on_hup[] = "\nbnbench: SIGHUP; finishing the current case (send it "
                                 "again to abort)\n";
    const char *msg = sig == SIGTERM ? on_term : sig == SIGHUP ? on_hup : on_int;
    size_t len = sig == SIGTERM  ? sizeof on_term - 1
                 : sig == SIGHUP ? sizeof on_hup - 1
                                 : sizeof on_int - 1;
    ssize_t w = write(STDERR_FILENO, msg, len);
    (void)w;
}

void bnb_runner_opts_default(bnb_runner_opts *o)
{
    *o = (bnb_runner_opts){
        .repetitions = BNB_DEFAULT_REPETITIONS,
        .min_time = BNB_DEFAULT_MIN_TIME,
        .warmup = BNB_DEFAULT_WARMUP,
        .seed = BNB_DEFAULT_SEED,
    };
}

static void fail_case(bnb_case_result *r, bnb_case_status st, const char *prefix, const char *msg)
{
    r->status = st;
    snprintf(r->message, sizeof r->message, "%.40s%.200s", prefix, msg);
}

/* Grows iterations until one call of run lasts >= target seconds. */
static int64_t calibrate(const bnb_case_def *d, void *state, double target)
{
    int64_t iters = 1;
    for (;;) {
        double t0 = bnb_now();
        d->run(state, iters);
        double t = bnb_now() - t0;
        if (t >= target || iters >= (INT64_C(1) << 40))
            return iters;
        double mult = (t <= 0 || t < 0.1 * target) ? 10.0 : 1.4 * target / t;
        int64_t next = (int64_t)ceil((double)iters * mult);
        iters = next > iters ? next : iters + 1;
    }
}

int bnb_runner_measure(const bnb_selected *sc, const bnb_case_env *env, const bnb_runner_opts *o,
                       bnb_counters *ctr, bnb_case_result *out)
{
    const bnb_case_def *d = sc->def;
    *out = (bnb_case_result){0};
    bnb_case_identity(sc->suite, d, out);
    char err[256] = "";
    void *state = NULL;

    if (d->available && !d->available(d->arg, err, sizeof err)) {
        fail_case(out, BNB_CASE_SKIPPED, "", err[0] ? err : "not available here");
        return 0;
    }
    if (o->quick && d->skip_quick) {
        fail_case(out, BNB_CASE_SKIPPED, "",
                  "a long case, not run with --quick (run without --quick to measure it)");
        return 0;
    }
    if (d->setup && d->setup(env, d->arg, &state, err, sizeof err) != 0) {
        fail_case(out, BNB_CASE_FAILED, "set-up failed: ", err);
        return 0;
    }
    int rc = 0;
    if (d->verify && d->verify(state, err, sizeof err) != 0) {
        fail_case(out, BNB_CASE_FAILED, "wrong answer: ", err);
        goto teardown;
    }

    int R = o->repetitions;
    out->samples = calloc((size_t)R, sizeof *out->samples);
    out->outlier = calloc((size_t)R, sizeof *out->outlier);
    if (!out->samples || !out->outlier)
        goto oom;

    /* warm-up: caches, page faults, branch predictors, clocks */
    double w0 = bnb_now();
    do
        d->run(state, 1);
    while (bnb_now() - w0 < o->warmup);
    out->iterations = calibrate(d, state, bnb_timer_min_sample(env->timer, o->min_time));

    if (ctr)
        bnb_counters_reset(ctr);
    for (int i = 0; i < R; i++) {
        if (ctr)
            bnb_counters_start(ctr);
        double t0 = bnb_now();
        d->run(state, out->iterations);
        double t1 = bnb_now();
        if (ctr)
            bnb_counters_stop(ctr);
        out->samples[i] = (t1 - t0) / (double)out->iterations;
    }
    out->nsamples = R;

    uint64_t seed = o->seed ^ bnb_fnv1a64(sc->fullname, strlen(sc->fullname));
    if (bnb_stats_compute(out->samples, R, seed, &out->stats, out->outlier) != 0)
        goto oom;
    if (d->metrics && d->metrics(state, out) != 0)
        goto oom;
    if (ctr && bnb_counters_add_metrics(ctr, out, out->iterations) != 0)
        goto oom;
    for (int i = 0; i < out->nmetrics; i++) {
        const char *m = out->metrics[i].name;
        if (strncmp(m, "counter.", 8) && !bnb_name_listed(m, d->metric_names)) {
            snprintf(err, sizeof err,
                     "metric \"%s\" is not in the case's metric_names (\"%s\"): declare it "
                     "in the suite's case table (suite.h)",
                     m, d->metric_names ? d->metric_names : "");
            fail_case(out, BNB_CASE_FAILED, "", err);
            goto teardown;
        }
    }
    out->status = BNB_CASE_OK;
    goto teardown;
oom:
    rc = -1;
    fail_case(out, BNB_CASE_FAILED, "", "out of memory while measuring");
teardown:
    if (d->teardown)
        d->teardown(state);
    return rc;
}

/* ---- a whole run on a pinned worker ---------------------------------------------- */

typedef struct run_ctx {
    const bnb_selection *sel;
    const bnb_runner_opts *o;
    const bnb_runner_hooks *hooks;
    bnb_case_env env;
    bnb_run_outcome *out;
} run_ctx;

static void progress(const bnb_runner_opts *o, int i, int n, const bnb_case_result *r,
                     const char *name)
{
    if (!o->progress)
        return;
    if (!r) {
        fprintf(stderr, "\r\033[K[%d/%d] %s ...", i + 1, n, name);
        fflush(stderr);
        return;
    }
    if (r->status == BNB_CASE_OK)
        fprintf(stderr, "\r\033[K[%d/%d] %-44s %10.4g s/iter  CI [%.4g, %.4g]  cv %.1f%%\n", i + 1,
                n, name, r->stats.median, r->stats.ci_lo, r->stats.ci_hi, 100.0 * r->stats.cv);
    else
        fprintf(stderr, "\r\033[K[%d/%d] %-44s %s: %s\n", i + 1, n, name,
                r->status == BNB_CASE_SKIPPED ? "skipped" : "FAILED", r->message);
}

static void *run_worker(bnb_worker *w, void *arg)
{
    run_ctx *rc = arg;
    bnb_run_outcome *out = rc->out;
    const bnb_runner_hooks *h = rc->hooks;
    bnb_counters *ctr = NULL;
    out->binding = w->binding;

    if (bnb_counters_open(rc->o->counters, rc->o->multiplex, &ctr, out->error, sizeof out->error) !=
        0) {
        out->status = BNB_RUN_FAILED;
        return NULL;
    }
    if (h && h->on_pinned &&
        h->on_pinned(h->ctx, &w->binding, bnb_counters_papi_status(ctr), out->error,
                     sizeof out->error) != 0) {
        out->status = BNB_RUN_FAILED;
        goto cleanup;
    }
    out->cases = calloc((size_t)rc->sel->n, sizeof *out->cases);
    if (!out->cases) {
        snprintf(out->error, sizeof out->error, "run: out of memory");
        out->status = BNB_RUN_FAILED;
        goto cleanup;
    }
    out->status = BNB_RUN_COMPLETE;
    for (int i = 0; i < rc->sel->n; i++) {
        if (interrupted) {
            out->status = BNB_RUN_INTERRUPTED;
            break;
        }
        const bnb_selected *sc = &rc->sel->c[i];
        progress(rc->o, i, rc->sel->n, NULL, sc->fullname);
        bnb_case_result *r = &out->cases[out->ncases];
        rc->env.done = out->cases;
        rc->env.ndone = out->ncases;
        int mrc = bnb_runner_measure(sc, &rc->env, rc->o, ctr, r);
        out->ncases++;
        out->nfailed += r->status == BNB_CASE_FAILED;
        progress(rc->o, i, rc->sel->n, r, sc->fullname);
        if (h && h->on_case &&
            h->on_case(h->ctx, r, i, rc->sel->n, out->error, sizeof out->error) != 0) {
            out->status = BNB_RUN_FAILED;
            break;
        }
        if (mrc != 0) {
            snprintf(out->error, sizeof out->error, "%.200s: %.250s", sc->fullname, r->message);
            out->status = BNB_RUN_FAILED;
            break;
        }
    }
    if (out->status == BNB_RUN_COMPLETE && interrupted && out->ncases < rc->sel->n)
        out->status = BNB_RUN_INTERRUPTED;
cleanup:
    bnb_counters_close(ctr);
    return NULL;
}

int bnb_runner_run(const bnb_selection *sel, bnb_topo *topo, const bnb_cpulist *cpus,
                   const bnb_runner_opts *o, const bnb_runner_hooks *hooks, bnb_run_outcome *out)
{
    *out = (bnb_run_outcome){.status = BNB_RUN_FAILED};
    bnb_topo_summary summary;
    bnb_topo_summarize(topo, &summary);
    bnb_timer_info timer;
    bnb_timer_init(&timer);
    bnb_cpulist none = {0};
    run_ctx rc = {
        .sel = sel,
        .o = o,
        .hooks = hooks,
        .env = {.topo = &summary, .timer = &timer, .cpus = cpus ? cpus : &none, .quick = o->quick},
        .out = out,
    };

    interrupted = 0;
    struct sigaction sa, old[NSTOP];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &sa, &old[i]);

    bnb_worker w;
    int cpu = cpus && cpus->n > 0 ? cpus->cpu[0] : -1;
    if (bnb_worker_start(&w, topo, cpu, run_worker, &rc, out->error, sizeof out->error) != 0) {
        out->status = BNB_RUN_FAILED;
    } else {
        bnb_worker_join(&w);
    }
    for (int i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &old[i], NULL);
    return out->status == BNB_RUN_COMPLETE ? 0 : out->status == BNB_RUN_INTERRUPTED ? 1 : -1;
}

void bnb_run_outcome_free(bnb_run_outcome *out)
{
    for (int i = 0; i < out->ncases; i++)
        bnb_case_free(&out->cases[i]);
    free(out->cases);
    out->cases = NULL;
    out->ncases = 0;
}
