/*
 * commands.c - `bnbench run | list | topo | counters` (suites/cli/commands.h).
 *
 * `run` follows the data flow of DESIGN.md, and validates everything a user
 * can get wrong (options, targets file, suite/case selection, --cpus,
 * --counters) BEFORE the DB is opened, so a usage error writes nothing:
 *   options -> selection -> targets file -> topology, --cpus -> counters list
 *   -> open DB -> context -> worker pinned (binding read back, run row
 *   begun) -> each case measured and stored in its own transaction ->
 *   targets evaluated, verdicts stored, table printed -> run ended
 *   (complete / interrupted / failed) -> exit code.
 *
 * The first failed write after the run began (disk full, I/O error) stops
 * the run: no later case is measured, the run is marked failed with the
 * reason where that can still be written, and one line says exactly what
 * the DB holds, read back from it. So that "where it can still be written"
 * includes a completely full disk, the run holds BNB_RESERVE_BYTES on the
 * DB's file system from the DB's opening on (an anonymous file, gone with
 * the process: db/reserve.h) and frees them right before the mark.
 *
 * Exit codes: 0 ok; 1 a target missed, a case failed, or the run was
 * interrupted; 2 usage or environment error (one line "bnbench: ...",
 * nothing written); 3 the run began but stopped on an error (what was
 * stored is printed).
 */
#include "suites/cli/cli.h"
#include "suites/cli/commands.h"
#include "suites/cli/run_mpi.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/context.h"
#include "collectors/peers.h"
#include "collectors/counters.h"
#include "collectors/timer.h"
#include "collectors/topo.h"
#include "db/db.h"
#include "db/model/bnb.h"
#include "db/reserve.h"
#include "reports/pubclient.h"
#include "suites/runner.h"
#include "suites/suite.h"
#include "db/model/targets.h"

#define DEFAULT_DB "bnbench.db"

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The default targets file: next to the source tree of the binary
 * (build/bnbench -> suites/targets.json), an installed share/ copy, or the
 * current directory's suites/targets.json. */
static bool find_default_targets(char *out, size_t cap, char *tried, size_t tcap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *rel[] = {"/../suites/targets.json", "/../../suites/targets.json",
                         "/../share/bitnet/targets.json"};
    size_t tl = 0;
    tried[0] = '\0';
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            char p[PATH_MAX + 64];
            snprintf(p, sizeof p, "%s%s", exe, rel[i]);
            char real[PATH_MAX];
            const char *shown = realpath(p, real) ? real : p;
            size_t len = strlen(shown);
            if (len < cap && readable(shown)) {
                memcpy(out, shown, len + 1);
                return true;
            }
            int w = snprintf(tried + tl, tcap - tl, "%s%s", tl ? ", " : "", p);
            if (w > 0 && (size_t)w < tcap - tl)
                tl += (size_t)w;
        }
    }
    if (readable("suites/targets.json")) {
        snprintf(out, cap, "suites/targets.json");
        return true;
    }
    int w = snprintf(tried + tl, tcap - tl, "%s./suites/targets.json", tl ? ", " : "");
    (void)w;
    return false;
}

static bool no_capability(const char *cap)
{
    (void)cap; /* no device backend is built yet: every capability is absent */
    return false;
}

/* ---- run ----------------------------------------------------------------------- */

#ifdef BNB_HAVE_MPI
#define USAGE_RUN_MPI                                                                              \
    "  --mpi                one run per rank of an MPI job, stored by rank 0 as one batch:\n"      \
    "                       mpirun -np N [--host H,H] bnbench run --mpi [OPTIONS]. Each\n"         \
    "                       rank describes and measures its own machine on its own CPUs\n"         \
    "                       (ranks on one host get disjoint ones), the others send their\n"        \
    "                       runs to rank 0, which alone writes --db (`bnbench batches`,\n"         \
    "                       `compare --batch B`). --machine defaults to each rank's host\n"        \
    "                       name. As root, mpirun needs --allow-run-as-root\n"
#else
#define USAGE_RUN_MPI ""
#endif

static const char usage_run[] =
    "usage: bnbench run [OPTIONS]\n"
    "\n"
    "Measures the selected cases on a pinned worker thread, checks the targets,\n"
    "stores the run in the DB (one transaction per case) and prints the targets\n"
    "table.\n"
    "\n"
    "  --suite NAME[,NAME]  suites to run (default: the default suites; `all`)\n"
    "  --case REGEX         only cases whose full name matches (POSIX extended)\n"
    "  --repetitions R      samples per case, integer >= 1 (default 15; 9 with --quick)\n"
    "  --min-time SEC       minimum length of one sample (default 0.001; 0.0002 with\n"
    "                       --quick); never below 1000x the clock's resolution\n"
    "  --warmup SEC         untimed calls of each case before timing it (default 0.05;\n"
    "                       0.01 with --quick; at least one call)\n"
    "  --quick              short mode for CI: fewer repetitions, shorter samples\n"
    "  --list               print the selected cases and exit (no DB)\n"
    "  --cpus SPEC          0,2 | 0-3 | physical | scatter | compact: PUs to use; the\n"
    "                       measuring thread runs on the first (default: first allowed);\n"
    "                       listed CPUs this process may not use are dropped, with a note\n"
    "  --counters EV,EV     PAPI preset or native events (default: cycles, instructions,\n"
    "                       FP ops, L1/L2/LLC misses); unavailable ones are stored as\n"
    "                       unavailable with PAPI's reason\n"
    "  --multiplex          allow PAPI multiplexing (off by default)\n"
    "  --targets FILE       targets file (default: suites/targets.json of the source tree)\n"
    "  --db PATH            SQLite store (default " DEFAULT_DB ")\n"
    "  --machine NAME       a name for this machine (stored with its fingerprint)\n"
    "  --reason R           nightly | pr | manual | confirm (default manual)\n"
    "  --seed N             bootstrap seed (default fixed, so CIs are reproducible)\n"
    "  --peer-env MODE      BEST (default): when OPENBLAS_CORETYPE forces a core, OpenBLAS\n"
    "                       is measured on the fastest core that passes an sgemm check\n"
    "                       (probed: the forced one, OpenBLAS's own choice and the other\n"
    "                       cores of the library), with a warning; KEEP: the environment\n"
    "                       as it is. The choice is stored with the run\n"
    "  --quiet              no progress on stderr\n"
    "  --publish URL        at the end, send the run (and the DB's spool first) to the\n"
    "                       collector at URL, as `bnbench publish` does: retried, and\n"
    "                       kept in PATH.spool/ when it cannot be sent\n"
    "  --token-file FILE    the collector's bearer token (else BNBENCH_TOKEN; never on\n"
    "                       the command line, never printed)\n"
    "  --cacert FILE        CA certificates for the collector's TLS\n"
    "  --insecure           do not verify the collector's TLS certificate (said)\n" USAGE_RUN_MPI
    "  -h, --help           this text\n"
    "\n"
    "exit codes: 0 ok; 1 a target missed, a case failed or the run was interrupted,\n"
    "or --publish could not send the run (it waits in the spool);\n"
    "2 usage or environment error (nothing is written to the DB); 3 the run began\n"
    "but stopped on an error (disk full, I/O error): it is marked failed where that\n"
    "can still be written, and the message says what the DB holds. For that mark\n"
    "the run holds 256 KiB on the DB's file system while it runs (a file without a\n"
    "name, or briefly PATH-reserve where the file system cannot make one) and\n"
    "refuses to start when it cannot.\n"
    "Ctrl-C, SIGTERM or SIGHUP finishes the current case, stores it and marks the\n"
    "run interrupted. A run whose process died (SIGKILL, crash) is marked abandoned\n"
    "by the next command that writes to the DB on this host. A closed standard output\n"
    "(run | head -1) does not stop the run: it is stored, and bnbench says that its\n"
    "output was lost (exit 2).\n";

typedef struct run_args {
    const char *suites, *case_re, *cpus, *counters, *targets, *db, *machine, *reason;
    const char *publish, *token_file, *cacert; /* --publish and its options */
    bool insecure;
    long repetitions;
    double min_time, warmup;
    bool have_warmup;
    bool have_reps, have_min_time, quick, list, multiplex, quiet;
    bool have_machine, mpi;
    uint64_t seed;
} run_args;

static const bnb_cli_opt opt_run[] = {
    {.name = "suite", .kind = BNB_CLI_NONEMPTY},
    {.name = "case", .kind = BNB_CLI_NONEMPTY},
    {.name = "repetitions", .kind = BNB_CLI_LONG, .lo = 1, .hi = 1000000},
    {.name = "min-time",
     .kind = BNB_CLI_DOUBLE,
     .lo = 0,
     .hi = 60,
     .must = "a number of seconds from 0 to 60"},
    {.name = "warmup",
     .kind = BNB_CLI_DOUBLE,
     .lo = 0,
     .hi = 60,
     .must = "a number of seconds from 0 to 60"},
    {.name = "quick", .kind = BNB_CLI_FLAG},
    {.name = "list", .kind = BNB_CLI_FLAG},
    {.name = "cpus", .kind = BNB_CLI_NONEMPTY},
    {.name = "counters", .kind = BNB_CLI_STR},
    {.name = "multiplex", .kind = BNB_CLI_FLAG},
    {.name = "targets", .kind = BNB_CLI_NONEMPTY},
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "machine", .kind = BNB_CLI_NONEMPTY},
    {.name = "reason", .kind = BNB_CLI_CHOICE, .choices = "nightly|pr|manual|confirm"},
    {.name = "seed", .kind = BNB_CLI_NONEMPTY},
    {.name = "quiet", .kind = BNB_CLI_FLAG},
    {.name = "peer-env", .kind = BNB_CLI_CHOICE, .choices = "BEST|KEEP"},
    {.name = "publish", .kind = BNB_CLI_NONEMPTY},
    {.name = "token-file", .kind = BNB_CLI_NONEMPTY},
    {.name = "cacert", .kind = BNB_CLI_NONEMPTY},
    {.name = "insecure", .kind = BNB_CLI_FLAG},
    {.name = "mpi", .kind = BNB_CLI_FLAG},
    {0},
};
static const bnb_cli_cmd run_spec = {"run", usage_run, opt_run, 0, false};

/* Parses argv into *a; returns -1 to go on, or an exit code. */
static int parse_run_args(int argc, char **argv, run_args *a)
{
    const bnb_cli_cmd *c = &run_spec;
    bnb_cli_args p;
    *a = (run_args){
        .db = DEFAULT_DB, .machine = "local", .reason = "manual", .seed = BNB_DEFAULT_SEED};
    int rc = bnb_cli_run_parse(c, argc, argv, &p);
    if (rc >= 0)
        return rc;
    const bnb_cli_val *v;
    a->suites = bnb_cli_str(c, &p, "suite", NULL);
    a->case_re = bnb_cli_str(c, &p, "case", NULL);
    if ((v = bnb_cli_get(c, &p, "repetitions"))) {
        a->repetitions = v->l;
        a->have_reps = true;
    }
    if ((v = bnb_cli_get(c, &p, "min-time"))) {
        a->min_time = v->d;
        a->have_min_time = true;
    }
    if ((v = bnb_cli_get(c, &p, "warmup"))) {
        a->warmup = v->d;
        a->have_warmup = true;
    }
    a->quick = bnb_cli_get(c, &p, "quick") != NULL;
    a->list = bnb_cli_get(c, &p, "list") != NULL;
    a->cpus = bnb_cli_str(c, &p, "cpus", NULL);
    a->counters = bnb_cli_str(c, &p, "counters", NULL);
    a->multiplex = bnb_cli_get(c, &p, "multiplex") != NULL;
    a->targets = bnb_cli_str(c, &p, "targets", NULL);
    a->db = bnb_cli_str(c, &p, "db", a->db);
    a->have_machine = bnb_cli_get(c, &p, "machine") != NULL;
    a->machine = bnb_cli_str(c, &p, "machine", a->machine);
    a->mpi = bnb_cli_get(c, &p, "mpi") != NULL;
    if (a->mpi && !bnb_mpi_built())
        return bnb_usage_error("--mpi: this bnbench was not built with MPI (build it where "
                               "Open MPI's mpicc is installed: Debian's libopenmpi-dev)");
    a->reason = bnb_cli_str(c, &p, "reason", a->reason);
    a->quiet = bnb_cli_get(c, &p, "quiet") != NULL;
    a->publish = bnb_cli_str(c, &p, "publish", NULL);
    a->token_file = bnb_cli_str(c, &p, "token-file", NULL);
    a->cacert = bnb_cli_str(c, &p, "cacert", NULL);
    a->insecure = bnb_cli_get(c, &p, "insecure") != NULL;
    char q[BNB_CLI_QUOTE_MAX + 1];
    if (!a->publish && (a->token_file || a->cacert || a->insecure))
        return bnb_usage_error("%s applies to --publish URL only", a->token_file ? "--token-file"
                                                                   : a->cacert   ? "--cacert"
                                                                                 : "--insecure");
    if (a->publish) {
        char ep[BNB_PUBCLIENT_MAX_URL], shown[BNB_PUBCLIENT_MAX_URL], err[BNB_ERR_MAX];
        if (bnb_pubclient_endpoint(a->publish, ep, shown, sizeof ep, err, sizeof err))
            return bnb_usage_error("--publish: %s", err);
        if (a->cacert && access(a->cacert, R_OK) != 0)
            return bnb_usage_error("--cacert %s: %s", bnb_cli_quote(a->cacert, q), strerror(errno));
    }
    if (strlen(a->machine) >= sizeof(((bnb_run_info *)0)->machine_name))
        return bnb_usage_error("--machine must be 1 to 63 bytes, got \"%s\"",
                               bnb_cli_quote(a->machine, q));
    const char *seed = bnb_cli_str(c, &p, "seed", NULL);
    if (seed) {
        char *end = NULL;
        errno = 0;
        unsigned long long sv = strtoull(seed, &end, 0);
        if (errno || *end || seed[0] == '-')
            return bnb_usage_error("--seed must be a non-negative integer, got \"%s\"",
                                   bnb_cli_quote(seed, q));
        a->seed = sv;
    }
    return -1;
}

typedef struct run_state {
    bnb_db *db;
    const char *dbpath;
    bnb_reserve *reserve; /* freed right before marking a stopped run failed */
    bnb_run_info *ri;
    bnb_topo *topo;
    const bnb_cpulist *cpus;
    int64_t run_id;
    bool begun;
    int stored;     /* cases committed */
    char why[768];  /* why the run stopped, as stored in the run; "" = it did not */
    char msg[1024]; /* the same for the user, naming the DB */
} run_state;

/* Records why the run stops: failing is what was being written ("storing
 * case 5 of 40 (matmul/...)"); SQLite's own reason when it has one, else
 * the DB layer's message dberr. */
static void set_stop(run_state *s, const char *failing, const char *dberr)
{
    const char *fault = bnb_db_last_fault(s->db);
    if (fault[0]) {
        snprintf(s->why, sizeof s->why, "%s while %s", fault, failing);
        snprintf(s->msg, sizeof s->msg, "DB %s: %s", s->dbpath, s->why);
    } else {
        snprintf(s->why, sizeof s->why, "%s (while %s)", dberr, failing);
        snprintf(s->msg, sizeof s->msg, "%s", s->why);
    }
}

static int hook_pinned(void *ctx, const bnb_binding *b, const char *papi, char *err, size_t cap)
{
    run_state *s = ctx;
    if (bnb_context_set_binding(s->ri, s->topo, s->cpus, b) != 0) {
        snprintf(err, cap, "run: out of memory recording the binding");
        return -1;
    }
    char dberr[BNB_ERR_MAX];
    if (bnb_db_begin_run(s->db, s->ri, &s->run_id, dberr) != 0) {
        snprintf(err, cap, "%s", dberr);
        return -1;
    }
    s->begun = true;
    return 0;
}

static int hook_case(void *ctx, const bnb_case_result *r, int i, int n, char *err, size_t cap)
{
    run_state *s = ctx;
    char dberr[BNB_ERR_MAX];
    if (bnb_db_store_case(s->db, s->run_id, r, dberr) != 0) {
        char full[BNB_NAME_MAX + 160], failing[BNB_NAME_MAX + 220];
        bnb_case_fullname(r, full, sizeof full);
        snprintf(failing, sizeof failing, "storing case %d of %d (%s)", i + 1, n, full);
        set_stop(s, failing, dberr);
        snprintf(err, cap, "%s", s->msg);
        return -1;
    }
    s->stored++;
    return 0;
}

/* Ends a run that stopped on an error: marks it failed with s->why where
 * that can still be written (the reserve freed first, so a full disk has
 * room for the mark) and prints one line saying what the DB holds, read
 * back from it (the count of this process when that read fails too). */
static void end_stopped_run(run_state *s, int total, bool verdicts_stored)
{
    char e1[BNB_ERR_MAX], e2[BNB_ERR_MAX];
    bnb_reserve_release(s->reserve);
    bool marked = bnb_db_end_run_why(s->db, s->run_id, BNB_RUN_FAILED, s->why, e1) == 0;
    bnb_run_row row;
    bool read = bnb_db_get_run_row(s->db, s->run_id, &row, e2) == 0;
    int held = read ? row.ncases : s->stored;
    fprintf(stderr, "bnbench: %s; stored: run %lld with %d of %d case(s)%s%s, ", s->msg,
            (long long)s->run_id, held, total, verdicts_stored ? " and its target verdicts" : "",
            read ? "" : " (as counted by this process: reading the DB back failed)");
    if (marked)
        fprintf(stderr, "marked failed\n");
    else
        fprintf(stderr,
                "could not mark it failed: %s (the next bnbench command that writes to the DB "
                "on this host marks it abandoned)\n",
                bnb_db_last_fault(s->db)[0] ? bnb_db_last_fault(s->db) : e1);
}

static void print_cases(const bnb_run_outcome *o)
{
    printf("\n%-36s %12s  %-25s %6s  %s\n", "case", "median s/it", "95% CI", "cv", "figures");
    for (int i = 0; i < o->ncases; i++) {
        const bnb_case_result *r = &o->cases[i];
        char full[BNB_NAME_MAX + 160];
        bnb_case_fullname(r, full, sizeof full);
        if (r->status != BNB_CASE_OK) {
            printf("%-36s %s: %s\n", full, r->status == BNB_CASE_SKIPPED ? "skipped" : "FAILED",
                   r->message);
            continue;
        }
        char ci[64];
        snprintf(ci, sizeof ci, "[%.4g, %.4g]", r->stats.ci_lo, r->stats.ci_hi);
        printf("%-36s %12.4g  %-25s %5.1f%% ", full, r->stats.median, ci, 100.0 * r->stats.cv);
        int shown = 0;
        for (int k = 0; k < r->nmetrics; k++) {
            const bnb_metric *m = &r->metrics[k];
            if (!m->available || strncmp(m->name, "counter.", 8) == 0)
                continue;
            printf("%s %s=%.4g %s", shown++ ? "," : "", m->name, m->value, m->unit);
        }
        printf("\n");
    }
}

static void print_verdicts(const bnb_target_set *ts, const bnb_verdict *v)
{
    printf("\n%-18s %-44s %-22s %-30s %s\n", "target", "figure", "threshold", "measured [95% CI]",
           "verdict");
    for (int i = 0; i < ts->n; i++) {
        const bnb_target *t = &ts->t[i];
        char thr[64], meas[64];
        if (t->relative_to[0] && !isfinite(v[i].bound))
            snprintf(thr, sizeof thr, "%s %.4g x %s", t->op, t->threshold, "(ref not measured)");
        else if (t->relative_to[0])
            snprintf(thr, sizeof thr, "%s %.4g x ref = %.4g", t->op, t->threshold, v[i].bound);
        else
            snprintf(thr, sizeof thr, "%s %.4g", t->op, t->threshold);
        if (!v[i].measured_ok)
            snprintf(meas, sizeof meas, "-");
        else if (isfinite(v[i].ci_lo) && isfinite(v[i].ci_hi))
            snprintf(meas, sizeof meas, "%.4g [%.4g, %.4g]", v[i].measured, v[i].ci_lo, v[i].ci_hi);
        else
            snprintf(meas, sizeof meas, "%.4g", v[i].measured);
        printf("%-18s %-44s %-22s %-30s %s%s%s\n", t->id, t->figure, thr, meas, v[i].verdict,
               v[i].reason[0] ? ": " : "", v[i].reason);
    }
}

/* Sends run_id (after the DB's spool) to a->publish; 0 when everything
 * went, else nonzero with the reason on stderr (the run waits in the spool). */
static int publish_run(const run_args *a, bnb_db *db, int64_t run_id, const char *token)
{
    bnb_pubclient_opts po;
    bnb_pubclient_opts_default(&po);
    po.url = a->publish;
    po.http.token = token ? token : "";
    po.http.cacert = a->cacert;
    po.http.insecure = a->insecure;
    bnb_pubclient_summary sum;
    char err[BNB_ERR_MAX];
    fflush(stdout);
    int p = bnb_pubclient_publish(db, a->db, &run_id, 1, &po, &sum, err, sizeof err);
    if (p < 0)
        fprintf(stderr, "bnbench run: publishing: %s\n", err);
    else if (p > 0)
        fprintf(stderr,
                "bnbench run: publishing: %d run(s) waiting in the spool, %d rejected: %s "
                "(`bnbench publish --status` lists them)\n",
                sum.spooled, sum.rejected,
                sum.first_problem[0] ? sum.first_problem : "the spool was not sent");
    return p;
}

/* What must be equal on every rank of an MPI run: the selected cases and
 * the options that shape a measurement. */
static void mpi_signature(const run_args *a, const bnb_selection *sel, char *out, size_t cap)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < sel->n; i++) {
        h ^= bnb_fnv1a64(sel->c[i].fullname, strlen(sel->c[i].fullname));
        h *= 1099511628211ull;
    }
    char opts[512];
    snprintf(opts, sizeof opts, "%ld|%d|%g|%d|%g|%d|%d|%llu|%s|%d", a->repetitions, a->have_reps,
             a->min_time, a->have_min_time, a->warmup, a->have_warmup, a->quick,
             (unsigned long long)a->seed, a->counters ? a->counters : "-", a->multiplex);
    uint64_t o = bnb_fnv1a64(opts, strlen(opts));
    snprintf(out, cap, "%d cases %016llx, options %016llx", sel->n, (unsigned long long)h,
             (unsigned long long)o);
}

/* The end of an MPI run: a rank > 0 sends its run (or why it has none) to
 * rank 0; rank 0 stores every rank's run as the batch, prints it and
 * publishes its runs when asked. Returns the exit code the batch adds (0,
 * BNB_EXIT_FAIL for a batch that is not complete, BNB_EXIT_PARTIAL when it
 * could not be stored). */
static int mpi_finish(bnb_mpi_run *mr, const run_args *a, bnb_db *db, int64_t run_id,
                      bnb_run_status st, bool failed, const char *why, const char *token)
{
    if (mr->job.rank > 0) {
        bnb_mpi_run_send(mr, run_id > 0 ? db : NULL, run_id, why);
        return 0;
    }
    bnb_batch_status bs = BNB_BATCH_INCOMPLETE;
    int64_t *ids = NULL;
    int nids = 0;
    char err[BNB_ERR_MAX];
    fflush(stdout);
    if (bnb_mpi_run_collect(mr, db, run_id, failed, st == BNB_RUN_INTERRUPTED,
                            bnb_runner_interrupted, &bs, &ids, &nids, err, sizeof err) != 0) {
        fprintf(stderr, "bnbench run --mpi: the batch could not be stored in %s: %s\n", a->db, err);
        free(ids);
        return BNB_EXIT_PARTIAL;
    }
    bnb_batch_row row;
    bnb_batch_rank *ranks = NULL;
    int nr = 0;
    if (bnb_db_get_batch(db, mr->batch_id, &row, &ranks, &nr, err) == 0) {
        printf("\nbatch %s (id %lld) %s: %d rank(s) on %d host(s), %d run(s) stored in %s\n",
               row.uuid, (long long)row.id, row.status, row.nranks, row.nhosts, row.nstored, a->db);
        for (int i = 0; i < nr; i++) {
            const bnb_batch_rank *b = &ranks[i];
            printf("  rank %-4d %-24s PUs %-12s ", b->rank, b->host, b->cpus[0] ? b->cpus : "-");
            if (b->run_id > 0)
                printf("run %lld %s%s%s\n", (long long)b->run_id, b->state,
                       b->reason[0] ? ": " : "", b->reason);
            else
                printf("%s: %s\n", b->state, b->reason);
        }
        printf("compare the ranks: bnbench compare --batch %lld --db %s\n", (long long)row.id,
               a->db);
        free(ranks);
    } else {
        fprintf(stderr, "bnbench run --mpi: reading the batch back: %s\n", err);
    }
    int rc = bs == BNB_BATCH_COMPLETE ? 0 : BNB_EXIT_FAIL;
    for (int i = 0; a->publish && i < nids; i++)
        if (publish_run(a, db, ids[i], token) != 0)
            rc = BNB_EXIT_FAIL;
    free(ids);
    return rc;
}

int bnb_cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = parse_run_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    /* A reader of stdout that goes away (`bnbench run | head -1`) must not
     * kill the run between measuring and storing its end, leaving it
     * "running": writes fail with EPIPE instead, the run ends as measured,
     * and main reports the lost output (exit 2). */
    signal(SIGPIPE, SIG_IGN);
    rc = BNB_EXIT_USAGE;
    char err[BNB_ERR_MAX] = "";
    bnb_selection sel = {0};
    bnb_target_set ts = {0};
    bnb_topo *topo = NULL;
    bnb_db *db = NULL;
    bnb_reserve *reserve = NULL;
    bnb_run_info ri = {0};
    bnb_run_outcome out = {0};
    bnb_verdict *verdicts = NULL;
    bool have_outcome = false;
    char *token = NULL;
    bnb_mpi_run mr;
    bool mpi_on = false;
    char mpi_sig[96] = "-";
    char host_machine[64];

    /* 0. the MPI job: a rank > 0 stores into its own DB and sends its run to
     * rank 0 at the end; it prints only its errors */
    if (a.mpi) {
        if (bnb_mpi_run_start(&mr, err, sizeof err) != 0) {
            bnb_usage_error("--mpi: %s", err);
            if (!bnb_mpi_job_get()) /* MPI itself did not start */
                return BNB_EXIT_USAGE;
            mpi_on = true;
            goto cleanup; /* the others learn it in the handshake */
        }
        mpi_on = true;
        if (mr.job.rank > 0) {
            a.db = mr.dbpath;
            a.publish = NULL;
            a.quiet = true;
        }
        if (!a.have_machine) {
            snprintf(host_machine, sizeof host_machine, "%s", mr.job.host);
            a.machine = host_machine;
        }
    }
    bool show = !mpi_on || mr.job.rank == 0; /* this process prints the results */

    /* 1. selection */
    if (bnb_select(a.suites, a.case_re, &sel, err, sizeof err) != 0) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }
    if (a.list) {
        for (int i = 0; show && i < sel.n; i++)
            printf("%s\n", sel.c[i].fullname);
        if (mpi_on)
            mr.handshaken = true; /* every rank lists and stops: nothing to agree on */
        rc = BNB_EXIT_OK;
        goto cleanup;
    }
    if (mpi_on)
        mpi_signature(&a, &sel, mpi_sig, sizeof mpi_sig);
    /* a suite that measures an MPI job, named on its own, needs one (with
     * `all` its cases are stored as skipped, saying why) */
    const char *needs = bnb_selection_needs_mpi(&sel);
    if (!a.mpi && needs && a.suites && bnb_name_listed(needs, a.suites)) {
        bnb_usage_error("--suite %s measures an MPI job: run it as `mpirun -np N bnbench run "
                        "--mpi --suite %s` with N >= 2",
                        needs, needs);
        goto cleanup;
    }
    /* 2. targets */
    char tpath[PATH_MAX];
    if (a.targets) {
        snprintf(tpath, sizeof tpath, "%s", a.targets);
    } else {
        char tried[2048];
        if (!find_default_targets(tpath, sizeof tpath, tried, sizeof tried)) {
            bnb_usage_error("default targets file not found (looked at %s); pass --targets FILE",
                            tried);
            goto cleanup;
        }
    }
    if (bnb_targets_load(tpath, &ts, err, sizeof err) != 0) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }
    /* every figure must name a case and metric some suite can produce */
    bnb_catalogue cat;
    if (bnb_catalogue_build(a.suites, &cat, err, sizeof err) != 0) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }
    int bad = bnb_targets_validate(&ts, &cat, tpath, err, sizeof err);
    bnb_catalogue_free(&cat);
    if (bad) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }
    /* 3. topology and --cpus */
    if (bnb_topo_open(&topo, err, sizeof err) != 0) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }
    bnb_cpulist cpus;
    if (a.cpus) {
        if (bnb_cpus_parse(topo, a.cpus, &cpus, err, sizeof err) != 0) {
            bnb_usage_error("%s", err);
            goto cleanup;
        }
        if (cpus.note[0]) /* also a warning of the run (bnb_context_set_binding) */
            bnb_cli_error("%s", cpus.note);
    } else if (mpi_on) {
        /* one PU per core of this rank's affinity: the handshake shares them
         * among the ranks of this host */
        if (bnb_cpus_parse(topo, "physical", &cpus, err, sizeof err) != 0) {
            bnb_usage_error("%s", err);
            goto cleanup;
        }
    } else {
        bnb_cpus_default(topo, &cpus);
    }
    /* 4. counters list (also tells whether PAPI starts) */
    bnb_counters *probe = NULL;
    if (bnb_counters_open(a.counters, a.multiplex, &probe, err, sizeof err) != 0) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }
    char papi_status[160];
    snprintf(papi_status, sizeof papi_status, "%s", bnb_counters_papi_status(probe));
    bnb_counters_close(probe);

    /* 4b. the collector's token (--publish), never printed */
    const char *tsrc = NULL;
    if (a.publish && bnb_pubclient_token(a.token_file, 0, &token, &tsrc, err, sizeof err)) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }

    /* 5. the DB: everything above was validated, nothing written yet; then
     * room for the failed mark beside it (see the top of this file) */
    if (bnb_db_open(a.db, 0, &db, err) != 0 ||
        bnb_reserve_take(a.db, BNB_RESERVE_BYTES, &reserve, err, sizeof err) != 0) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }

    /* 5b. every rank is ready, with the same bnbench and options: the CPU
     * shares, then rank 0 begins the batch */
    if (mpi_on) {
        if (bnb_mpi_run_handshake(&mr, "", mpi_sig, topo, &cpus, err, sizeof err) != 0) {
            bnb_usage_error("--mpi: %s", err);
            goto cleanup;
        }
        if (mr.job.rank == 0 && bnb_mpi_run_begin_batch(&mr, db, a.suites, err, sizeof err) != 0) {
            bnb_usage_error("--mpi: beginning the batch: %s", err);
            bnb_mpi_abort(BNB_EXIT_USAGE); /* the other ranks are measuring already */
        }
    }

    /* 6. describe the machine */
    bnb_timer_info timer;
    bnb_timer_init(&timer);
    bnb_context_in cin = {.topo = topo, .timer = &timer, .papi_status = papi_status, .cpus = &cpus};
    if (bnb_context_collect(&cin, &ri, err, sizeof err) != 0) {
        bnb_usage_error("%s", err);
        goto cleanup;
    }
    /* the OpenBLAS core warning is one the user must see before figures */
    char pw[512];
    if (!a.quiet && bnb_peers_warning(ri.context_json, pw, sizeof pw))
        fprintf(stderr, "bnbench run: warning: %s\n", pw);
    bnb_uuid4(ri.uuid);
    bnb_utc_now(ri.started_at);
    snprintf(ri.machine_name, sizeof ri.machine_name, "%s", a.machine);
    snprintf(ri.reason, sizeof ri.reason, "%s", a.reason);

    /* 7. measure on the pinned worker; each case stored as it completes */
    bnb_runner_opts ro;
    bnb_runner_opts_default(&ro);
    ro.repetitions = a.have_reps ? (int)a.repetitions
                                 : (a.quick ? BNB_QUICK_REPETITIONS : BNB_DEFAULT_REPETITIONS);
    ro.min_time =
        a.have_min_time ? a.min_time : (a.quick ? BNB_QUICK_MIN_TIME : BNB_DEFAULT_MIN_TIME);
    ro.warmup = a.have_warmup ? a.warmup : (a.quick ? BNB_QUICK_WARMUP : BNB_DEFAULT_WARMUP);
    ro.seed = a.seed;
    ro.counters = a.counters;
    ro.multiplex = a.multiplex;
    ro.quick = a.quick;
    /* the ranks agree case by case only when some case measures the job
     * itself (a collective case): otherwise each rank measures its machine
     * on its own, and a dead rank cannot hold the others at a case boundary */
    ro.mpi = mpi_on && mr.job.size > 1 && bnb_selection_needs_mpi(&sel) != NULL;
    ro.progress = !a.quiet && isatty(STDERR_FILENO);
    run_state st = {
        .db = db, .dbpath = a.db, .reserve = reserve, .ri = &ri, .topo = topo, .cpus = &cpus};
    bnb_runner_hooks hooks = {.ctx = &st, .on_pinned = hook_pinned, .on_case = hook_case};
    bnb_runner_run(&sel, topo, &cpus, &ro, &hooks, &out);
    have_outcome = true;
    if (!st.begun) {
        bnb_usage_error("%s", out.error[0] ? out.error : "run could not start");
        if (mpi_on) {
            int mrc = mpi_finish(&mr, &a, db, 0, BNB_RUN_FAILED, true,
                                 out.error[0] ? out.error : "its run could not start", token);
            (void)mrc;
        }
        goto cleanup;
    }

    if (out.status == BNB_RUN_FAILED && !st.why[0]) {
        /* the measuring stopped (out of memory), not a write */
        snprintf(st.why, sizeof st.why, "%.700s", out.error[0] ? out.error : "the run failed");
        snprintf(st.msg, sizeof st.msg, "run stopped: %s", st.why);
    }

    /* 8. targets */
    bool missed = false, verdicts_stored = false;
    verdicts = calloc((size_t)(ts.n > 0 ? ts.n : 1), sizeof *verdicts);
    if (!verdicts) {
        snprintf(st.why, sizeof st.why, "out of memory evaluating the targets");
        snprintf(st.msg, sizeof st.msg, "%s", st.why);
    } else {
        bnb_targets_eval(&ts, out.cases, out.ncases, no_capability, verdicts);
        for (int i = 0; i < ts.n; i++)
            missed |= strcmp(verdicts[i].verdict, "missed") == 0;
        if (!st.why[0]) {
            if (bnb_db_store_verdicts(db, st.run_id, verdicts, ts.n, err) != 0)
                set_stop(&st, "storing the target verdicts", err);
            else
                verdicts_stored = true;
        }
        if (show) {
            print_cases(&out);
            bnb_print_peers(stdout, out.cases, out.ncases);
            print_verdicts(&ts, verdicts);
        }
    }

    /* 9. end the run */
    if (!st.why[0] && bnb_db_end_run(db, st.run_id, out.status, err) != 0)
        set_stop(&st, "ending the run", err);
    if (st.why[0]) {
        if (show)
            printf("\nrun %s (id %lld) failed: %d of %d case(s) measured; see the message on "
                   "stderr for what %s holds\n",
                   ri.uuid, (long long)st.run_id, out.ncases, sel.n, a.db);
        fflush(stdout);
        end_stopped_run(&st, sel.n, verdicts_stored);
        rc = BNB_EXIT_PARTIAL;
        if (mpi_on)
            mpi_finish(&mr, &a, db, st.run_id, BNB_RUN_FAILED, true, st.why, token);
    } else if (mpi_on) {
        if (show)
            printf("\nrank 0: run %s (id %lld) %s: %d case(s), %d failed\n", ri.uuid,
                   (long long)st.run_id,
                   out.status == BNB_RUN_COMPLETE ? "complete" : "interrupted", out.ncases,
                   out.nfailed);
        rc = (missed || out.nfailed > 0 || out.status == BNB_RUN_INTERRUPTED) ? BNB_EXIT_FAIL
                                                                              : BNB_EXIT_OK;
        int mrc = mpi_finish(&mr, &a, db, st.run_id, out.status, false, "", token);
        if (mrc > rc)
            rc = mrc;
    } else {
        printf("\nrun %s (id %lld) %s: %d case(s), %d failed; stored in %s\n", ri.uuid,
               (long long)st.run_id, out.status == BNB_RUN_COMPLETE ? "complete" : "interrupted",
               out.ncases, out.nfailed, a.db);
        rc = (missed || out.nfailed > 0 || out.status == BNB_RUN_INTERRUPTED) ? BNB_EXIT_FAIL
                                                                              : BNB_EXIT_OK;
        /* 10. publish (the spool first), when asked */
        if (a.publish && publish_run(&a, db, st.run_id, token) != 0 && rc == BNB_EXIT_OK)
            rc = BNB_EXIT_FAIL;
    }
cleanup:
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    free(verdicts);
    if (have_outcome)
        bnb_run_outcome_free(&out);
    bnb_run_info_free(&ri);
    bnb_db_close(db);
    bnb_reserve_close(reserve);
    bnb_topo_close(topo);
    bnb_targets_free(&ts);
    bnb_selection_free(&sel);
    if (mpi_on) {
        if (!mr.handshaken) { /* this rank failed before it: tell the others */
            char e2[BNB_ERR_MAX];
            bnb_mpi_run_handshake(&mr, err[0] ? err : "its preparation failed (see its message)",
                                  mpi_sig, NULL, NULL, e2, sizeof e2);
        }
        bnb_mpi_run_end(&mr);
    }
    return rc;
}

/* ---- list ----------------------------------------------------------------------- */

static const char usage_list[] = "usage: bnbench list [--suite NAME[,NAME]|all] [--case REGEX]\n"
                                 "\n"
                                 "Lists the suites and the full names of their cases (the names\n"
                                 "--case matches and targets' figures use).\n";

int bnb_cmd_list(int argc, char **argv)
{
    static const bnb_cli_opt opts[] = {
        {.name = "suite", .kind = BNB_CLI_NONEMPTY},
        {.name = "case", .kind = BNB_CLI_NONEMPTY},
        {0},
    };
    static const bnb_cli_cmd spec = {"list", usage_list, opts, 0, false};
    bnb_cli_args p;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &p);
    if (rc >= 0)
        return rc;
    const char *suites = bnb_cli_str(&spec, &p, "suite", "all"),
               *case_re = bnb_cli_str(&spec, &p, "case", NULL);
    bnb_selection sel;
    char err[512];
    if (bnb_select(suites, case_re, &sel, err, sizeof err) != 0)
        return bnb_usage_error("%s", err);
    const bnb_suite *cur = NULL;
    for (int i = 0; i < sel.n; i++) {
        if (sel.c[i].suite != cur) {
            cur = sel.c[i].suite;
            printf("%s%s%s  %s\n", i ? "\n" : "", cur->name,
                   !cur->in_default     ? ""
                   : cur->default_short ? " (default: its --quick cases; --suite runs all)"
                                        : " (default)",
                   cur->description);
        }
        printf("  %s%s\n", sel.c[i].fullname, sel.c[i].def->suite_only ? "  (--suite only)" : "");
    }
    bnb_selection_free(&sel);
    return BNB_EXIT_OK;
}

/* ---- topo ----------------------------------------------------------------------- */

static const char usage_topo[] =
    "usage: bnbench topo [--cpus SPEC]\n"
    "\n"
    "Prints the machine's topology (hwloc): packages, cores, PUs, SMT, NUMA nodes,\n"
    "memory, caches; the PU orders of physical, compact and scatter; and, with\n"
    "--cpus, the PUs that spec selects and the binding a worker pinned to the\n"
    "first of them reads back.\n";

static void *topo_worker(bnb_worker *w, void *arg)
{
    (void)arg;
    return w;
}

int bnb_cmd_topo(int argc, char **argv)
{
    static const bnb_cli_opt opts[] = {
        {.name = "cpus", .kind = BNB_CLI_NONEMPTY},
        {0},
    };
    static const bnb_cli_cmd cmd = {"topo", usage_topo, opts, 0, false};
    bnb_cli_args p;
    int prc = bnb_cli_run_parse(&cmd, argc, argv, &p);
    if (prc >= 0)
        return prc;
    const char *spec = bnb_cli_str(&cmd, &p, "cpus", NULL);
    bnb_topo *t = NULL;
    char err[512];
    if (bnb_topo_open(&t, err, sizeof err) != 0)
        return bnb_usage_error("%s", err);
    int rc = BNB_EXIT_OK;
    bnb_cpulist l;
    if (spec && bnb_cpus_parse(t, spec, &l, err, sizeof err) != 0) {
        rc = bnb_usage_error("%s", err);
        goto cleanup;
    }
    if (spec && l.note[0])
        bnb_cli_error("%s", l.note);
    bnb_topo_summary s;
    bnb_topo_summarize(t, &s);
    printf("packages %d, cores %d, PUs %d (%d per core%s), NUMA nodes %d, memory %.1f GiB\n",
           s.packages, s.cores, s.pus, s.pus_per_core, s.pus_per_core > 1 ? ", SMT on" : "",
           s.numa_nodes, (double)s.memory_bytes / (1024.0 * 1024 * 1024));
    for (int i = 0; i < s.ncaches; i++)
        printf("  L%d %-11s %8llu KiB x %d, line %d B\n", s.caches[i].level, s.caches[i].type,
               (unsigned long long)(s.caches[i].size >> 10), s.caches[i].count, s.caches[i].line);
    const char *kw[] = {"physical", "compact", "scatter"};
    for (int i = 0; i < 3; i++) {
        bnb_cpulist k;
        char buf[4096];
        if (bnb_cpus_parse(t, kw[i], &k, err, sizeof err) == 0)
            printf("--cpus %-9s -> %s\n", kw[i], bnb_cpulist_format(&k, buf, sizeof buf));
    }
    if (spec) {
        char buf[4096];
        printf("--cpus %s -> %s\n", spec, bnb_cpulist_format(&l, buf, sizeof buf));
        bnb_worker w;
        if (bnb_worker_start(&w, t, l.cpu[0], topo_worker, NULL, err, sizeof err) != 0) {
            rc = bnb_usage_error("%s", err);
            goto cleanup;
        }
        bnb_worker_join(&w);
        char *j = bnb_binding_json(&w.binding);
        printf("worker binding read back: %s\n", j ? j : "(out of memory)");
        free(j);
        if (w.binding.cpu_warning[0])
            printf("warning: %s\n", w.binding.cpu_warning);
        if (w.binding.mem_warning[0])
            printf("warning: %s\n", w.binding.mem_warning);
    }
cleanup:
    bnb_topo_close(t);
    return rc;
}

/* ---- counters ------------------------------------------------------------------- */

static const char usage_counters[] =
    "usage: bnbench counters [--counters EV,EV] [--multiplex]\n"
    "\n"
    "Prints which events can be counted here and, for each that cannot, PAPI's or\n"
    "the kernel's reason; the software events used when hardware ones are missing;\n"
    "and whether the kernel exposes a hardware PMU at all.\n";

int bnb_cmd_counters(int argc, char **argv)
{
    static const bnb_cli_opt opts[] = {
        {.name = "counters", .kind = BNB_CLI_STR},
        {.name = "multiplex", .kind = BNB_CLI_FLAG},
        {0},
    };
    static const bnb_cli_cmd spec = {"counters", usage_counters, opts, 0, false};
    bnb_cli_args p;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &p);
    if (rc >= 0)
        return rc;
    const char *events = bnb_cli_str(&spec, &p, "counters", NULL);
    bool mux = bnb_cli_get(&spec, &p, "multiplex") != NULL;
    char err[512], why[200];
    bnb_counters *ctr = NULL;
    if (bnb_counters_open(events, mux, &ctr, err, sizeof err) != 0)
        return bnb_usage_error("%s", err);
    bool pmu = bnb_counters_pmu_present(why, sizeof why);
    printf("hardware PMU: %s%s%s\n", pmu ? "present" : "absent", pmu ? "" : " - ", pmu ? "" : why);
    const char *ps = bnb_counters_papi_status(ctr);
    printf("PAPI: %s\n", ps[0] ? ps : "started");
    printf("multiplexing: %s\n\n", mux ? "on" : "off");
    for (int i = 0; i < bnb_counters_count(ctr); i++) {
        const bnb_event *e = bnb_counters_event(ctr, i);
        printf("  %-24s %-9s %s%s%s\n", e->name, e->source == BNB_EV_PAPI ? "PAPI" : "perf-sw",
               e->available ? "available" : "unavailable", e->available ? "" : ": ",
               e->available ? "" : e->reason);
    }
    printf("\n%d of %d events can be counted\n", bnb_counters_available(ctr),
           bnb_counters_count(ctr));
    bnb_counters_close(ctr);
    return BNB_EXIT_OK;
}
