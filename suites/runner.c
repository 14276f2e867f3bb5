/*
 * runner.c - the measuring loop (see runner.h for the per-case protocol).
 *
 * The timed region is exactly: clock read, run(state, iterations), clock
 * read. Counters are started just before the first clock read and stopped
 * just after the second, so their own cost stays outside the time but
 * inside the counts (a few hundred instructions against >= 1 ms of work).
 *
 * Under opts.mpi the ranks agree through collectors/mpi.h (the runner never
 * sees MPI itself): a flag before every case, and for a collective case a
 * gathered message per decision (the lowest rank's reason wins), the
 * slowest rank's time per calibration step and a barrier per sample. Every
 * local failure of a collective case (set-up, verify, the samples' memory)
 * happens before the agreement that reports it, so no rank is left waiting
 * in a call another rank never makes.
 */
#include "suites/runner.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/context.h"
#include "collectors/mpi.h"
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

/* Whether opts.mpi applies: an MPI job of >= 2 ranks is initialised. */
static bool mpi_on(const bnb_runner_opts *o)
{
    const bnb_mpi_job *j = o->mpi ? bnb_mpi_job_get() : NULL;
    return j && j->size >= 2;
}

/* Agreement on a message: every rank passes its own ("" = nothing to say);
 * the lowest rank's non-empty one lands in out as "rank N: ...". Returns 0
 * when no rank had one, 1 when out holds one, -1 on an MPI error (its
 * message in out). Collective. */
static int agree_msg(const char *mine, char *out, size_t cap)
{
    char **all = NULL;
    const bnb_mpi_job *j = bnb_mpi_job_get();
    if (bnb_mpi_allgather_str(mine, &all, out, cap) != 0)
        return -1;
    int found = 0;
    for (int r = 0; r < j->size && !found; r++)
        if (all[r][0]) {
            snprintf(out, cap, "rank %d: %s", r, all[r]);
            found = 1;
        }
    bnb_mpi_strings_free(all, j->size);
    return found;
}

/* Grows iterations until one call of run lasts >= target seconds; with
 * coll, on the slowest rank's time at every step (every rank then takes the
 * same steps). -1 on an MPI error (in err), else 0 with *iters. */
static int calibrate(const bnb_case_def *d, void *state, double target, bool coll,
                     int64_t *iters_out, char *err, size_t cap)
{
    int64_t iters = 1;
    for (;;) {
        if (coll && bnb_mpi_barrier(err, cap) != 0)
            return -1;
        double t0 = bnb_now();
        d->run(state, iters);
        double t = bnb_now() - t0;
        if (coll && bnb_mpi_max_double(&t, err, cap) != 0)
            return -1;
        if (t >= target || iters >= (INT64_C(1) << 40)) {
            *iters_out = iters;
            return 0;
        }
        double mult = (t <= 0 || t < 0.1 * target) ? 10.0 : 1.4 * target / t;
        int64_t next = (int64_t)ceil((double)iters * mult);
        iters = next > iters ? next : iters + 1;
    }
}

/* The warm-up: untimed calls of run(state, 1) for at least `seconds`. With
 * coll, one timed call, then as many more as the rank needing most of them
 * asks for (agreed before calling). -1 on an MPI error (in err). */
static int warm_up(const bnb_case_def *d, void *state, double seconds, bool coll, char *err,
                   size_t cap)
{
    double w0 = bnb_now();
    if (!coll) {
        do
            d->run(state, 1);
        while (bnb_now() - w0 < seconds);
        return 0;
    }
    d->run(state, 1);
    double t = bnb_now() - w0;
    double more = t >= seconds ? 0 : ceil((seconds - t) / (t > 1e-9 ? t : 1e-9));
    if (more > (double)(1 << 24))
        more = (double)(1 << 24);
    if (bnb_mpi_max_double(&more, err, cap) != 0)
        return -1;
    for (int64_t k = 0; k < (int64_t)more; k++)
        d->run(state, 1);
    return 0;
}

int bnb_runner_measure(const bnb_selected *sc, const bnb_case_env *env, const bnb_runner_opts *o,
                       bnb_counters *ctr, bnb_case_result *out)
{
    const bnb_case_def *d = sc->def;
    *out = (bnb_case_result){0};
    bnb_case_identity(sc->suite, d, out);
    char err[256] = "", agreed[320] = "";
    void *state = NULL;
    const bool coll = d->collective && mpi_on(o);

    if (d->collective && !coll) {
        fail_case(out, BNB_CASE_SKIPPED, "",
                  "needs `mpirun -np N bnbench run --mpi` with N >= 2 (it measures an MPI job)");
        return 0;
    }
    bool avail = !d->available || d->available(d->arg, err, sizeof err);
    if (!avail && !err[0])
        snprintf(err, sizeof err, "not available here");
    if (coll) {
        int a = agree_msg(avail ? "" : err, agreed, sizeof agreed);
        if (a != 0) {
            fail_case(out, a < 0 ? BNB_CASE_FAILED : BNB_CASE_SKIPPED, "", agreed);
            return a < 0 ? -1 : 0;
        }
    } else if (!avail) {
        fail_case(out, BNB_CASE_SKIPPED, "", err);
        return 0;
    }
    if (o->quick && d->skip_quick) {
        fail_case(out, BNB_CASE_SKIPPED, "",
                  "a long case, not run with --quick (run without --quick to measure it)");
        return 0;
    }
    bool set_up = !d->setup || d->setup(env, d->arg, &state, err, sizeof err) == 0;
    char mine[300] = "";
    if (coll) {
        if (!set_up)
            snprintf(mine, sizeof mine, "set-up failed: %s", err);
        int a = agree_msg(mine, agreed, sizeof agreed);
        if (a != 0) {
            fail_case(out, BNB_CASE_FAILED, "", agreed);
            if (set_up && d->teardown)
                d->teardown(state);
            return a < 0 ? -1 : 0;
        }
    } else if (!set_up) {
        fail_case(out, BNB_CASE_FAILED, "set-up failed: ", err);
        return 0;
    }
    int rc = 0;
    bool right = !d->verify || d->verify(state, err, sizeof err) == 0;
    if (!coll && !right) {
        fail_case(out, BNB_CASE_FAILED, "wrong answer: ", err);
        goto teardown;
    }
    int R = o->repetitions;
    out->samples = calloc((size_t)R, sizeof *out->samples);
    out->outlier = calloc((size_t)R, sizeof *out->outlier);
    if (coll) {
        if (!right)
            snprintf(mine, sizeof mine, "wrong answer: %s", err);
        else if (!out->samples || !out->outlier)
            snprintf(mine, sizeof mine, "out of memory for %d samples", R);
        int a = agree_msg(mine, agreed, sizeof agreed);
        if (a != 0) {
            fail_case(out, BNB_CASE_FAILED, "", agreed);
            free(out->samples);
            free(out->outlier);
            out->samples = NULL;
            out->outlier = NULL;
            rc = a < 0 ? -1 : 0;
            goto teardown;
        }
    }
    if (!out->samples || !out->outlier)
        goto oom;

    /* warm-up: caches, page faults, branch predictors, clocks */
    if (warm_up(d, state, o->warmup, coll, err, sizeof err) != 0)
        goto mpi_error;
    if (calibrate(d, state, bnb_timer_min_sample(env->timer, o->min_time), coll, &out->iterations,
                  err, sizeof err) != 0)
        goto mpi_error;

    if (ctr)
        bnb_counters_reset(ctr);
    for (int i = 0; i < R; i++) {
        if (coll && bnb_mpi_barrier(err, sizeof err) != 0)
            goto mpi_error;
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
    if (d->metrics) {
        int mrc = d->metrics(state, out);
        if (mrc < 0)
            goto oom;
        if (mrc > 0) {
            char why[sizeof out->message];
            snprintf(why, sizeof why, "%s", out->message[0] ? out->message : "metrics failed");
            fail_case(out, BNB_CASE_FAILED, "", why);
            goto teardown;
        }
    }
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
mpi_error:
    rc = -1;
    fail_case(out, BNB_CASE_FAILED, "", err);
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
    const bool mpi = mpi_on(rc->o);
    bool failed_here = false; /* under mpi: this rank's run failed; stop the others too */
    for (int i = 0; i < rc->sel->n; i++) {
        if (mpi) {
            /* 0 go on, 1 a rank was interrupted, 2 a rank failed: the largest
             * wins. A rank that stops anyway does not wait for the others
             * (one may be dead: mpirun's SIGTERM follows), nor does one a
             * signal reaches while it waits. */
            double stop = failed_here ? 2 : interrupted ? 1 : 0;
            char err[256];
            int arc = bnb_mpi_agree_max(&stop, bnb_runner_interrupted, err, sizeof err);
            if (arc < 0) {
                if (!out->error[0])
                    snprintf(out->error, sizeof out->error, "agreeing to go on: %.400s", err);
                out->status = BNB_RUN_FAILED;
                break;
            }
            if (arc > 0 || stop != 0) {
                if (!failed_here) {
                    out->status = BNB_RUN_INTERRUPTED;
                    if (arc == 0 && stop == 2)
                        snprintf(out->error, sizeof out->error,
                                 "stopped with the job: another rank's run failed");
                }
                break;
            }
        } else if (interrupted) {
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
            if (!mpi)
                break;
            failed_here = true;
            continue;
        }
        if (mrc != 0) {
            snprintf(out->error, sizeof out->error, "%.200s: %.250s", sc->fullname, r->message);
            out->status = BNB_RUN_FAILED;
            if (!mpi)
                break;
            failed_here = true;
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
        .env = {.topo = &summary,
                .timer = &timer,
                .cpus = cpus ? cpus : &none,
                .quick = o->quick,
                .rank = mpi_on(o) ? bnb_mpi_job_get()->rank : 0,
                .nranks = mpi_on(o) ? bnb_mpi_job_get()->size : 1},
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
