/*
 * report_cmds.c - `bnbench report | compare | baseline | check | history | publish`
 * (suites/cli/report_cmds.h).
 *
 * Shape: every command parses its options with getopt_long, validates them
 * before touching the DB, then calls the module that does the work
 * (report.h, compare.h, check.h, history.h, publish.h). Commands that only
 * read open the DB read-only. Errors a user can cause are one line
 * "bnbench: ..." and exit code 2.
 */
#include "suites/cli/report_cmds.h"
#include "suites/cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "reports/check.h"
#include "reports/compare.h"
#include "reports/gendb.h"
#include "reports/history.h"
#include "reports/publish.h"
#include "reports/report.h"
#include "db/model/bnb.h"
#include "suites/cli/commands.h"

enum {
    O_DB = 1000,
    O_FORMAT,
    O_BASELINE,
    O_MACHINE,
    O_THRESHOLD,
    O_NORERUN,
    O_WINDOW,
    O_LIMIT,
    O_URL,
    O_METHOD,
    O_TIMEOUT,
    O_RUNS,
    O_HISTORY,
};

typedef struct args {
    const char *db, *format, *output, *baseline, *url, *method;
    const char *machine[2];
    int nmachine;
    double threshold;
    bool no_rerun;
    long window, limit, timeout, runs, history;
    int npos;
    char *pos[4];
} args;

/* Parses argv into a; returns -1 to go on, or an exit code. */
static int parse(const char *cmd, const char *usage, int argc, char **argv, args *a, int maxpos)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, O_DB},
        {"format", required_argument, NULL, O_FORMAT},
        {"output", required_argument, NULL, 'o'},
        {"baseline", required_argument, NULL, O_BASELINE},
        {"machine", required_argument, NULL, O_MACHINE},
        {"threshold", required_argument, NULL, O_THRESHOLD},
        {"no-rerun", no_argument, NULL, O_NORERUN},
        {"window", required_argument, NULL, O_WINDOW},
        {"limit", required_argument, NULL, O_LIMIT},
        {"url", required_argument, NULL, O_URL},
        {"method", required_argument, NULL, O_METHOD},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"runs", required_argument, NULL, O_RUNS},
        {"history", required_argument, NULL, O_HISTORY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return BNB_EXIT_OK;
        case O_DB:
            if (!*optarg)
                return bnb_usage_error("%s: --db needs a path, got \"\"", cmd);
            a->db = optarg;
            break;
        case O_FORMAT:
            a->format = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case O_BASELINE:
            a->baseline = optarg;
            break;
        case O_MACHINE:
            if (a->nmachine == 2)
                return bnb_usage_error("%s: --machine given more than twice", cmd);
            a->machine[a->nmachine++] = optarg;
            break;
        case O_THRESHOLD: {
            char *end = NULL;
            double t = strtod(optarg, &end);
            if (!*optarg || *end || !(t > 0 && t < 100))
                return bnb_usage_error(
                    "%s: --threshold must be a percentage in (0, 100), got \"%s\"", cmd, optarg);
            a->threshold = t / 100.0;
            break;
        }
        case O_NORERUN:
            a->no_rerun = true;
            break;
        case O_WINDOW:
            if (!bnb_parse_long(optarg, 3, 100000, &a->window))
                return bnb_usage_error("%s: --window must be an integer >= 3, got \"%s\"", cmd,
                                       optarg);
            break;
        case O_LIMIT:
            if (!bnb_parse_long(optarg, 1, INT_MAX, &a->limit))
                return bnb_usage_error("%s: --limit must be a positive integer, got \"%s\"", cmd,
                                       optarg);
            break;
        case O_HISTORY:
            if (!bnb_parse_long(optarg, 1, 100000, &a->history))
                return bnb_usage_error("%s: --history must be a positive integer, got \"%s\"", cmd,
                                       optarg);
            break;
        case O_URL:
            a->url = optarg;
            break;
        case O_METHOD:
            a->method = optarg;
            break;
        case O_TIMEOUT:
            if (!bnb_parse_long(optarg, 1, 3600, &a->timeout))
                return bnb_usage_error("%s: --timeout must be 1 to 3600 seconds, got \"%s\"", cmd,
                                       optarg);
            break;
        case O_RUNS:
            if (!bnb_parse_long(optarg, 1, 1000000, &a->runs))
                return bnb_usage_error("%s: --runs must be 1 to 1000000, got \"%s\"", cmd, optarg);
            break;
        case ':':
            return bnb_usage_error("%s: option %s needs a value (see bnbench %s --help)", cmd,
                                   argv[optind - 1], cmd);
        default:
            return bnb_usage_error("%s: unknown option \"%s\" (see bnbench %s --help)", cmd,
                                   argv[optind - 1], cmd);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->npos == maxpos)
            return bnb_usage_error("%s: unexpected argument \"%s\" (see bnbench %s --help)", cmd,
                                   argv[i], cmd);
        a->pos[a->npos++] = argv[i];
    }
    return -1;
}

static int open_db(const char *path, bool ro, bnb_db **db)
{
    char err[BNB_ERR_MAX];
    if (bnb_db_open(path, ro, db, err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        return BNB_EXIT_USAGE;
    }
    return -1;
}

static int write_out(const char *cmd, const char *path, const char *text)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f)
        return bnb_usage_error("%s: cannot write %s: %s", cmd, path, strerror(errno));
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    if (n && text[n - 1] != '\n')
        ok = ok && fputc('\n', f) != EOF;
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok)
        return bnb_usage_error("%s: writing %s failed: %s", cmd, path ? path : "standard output",
                               strerror(errno));
    return BNB_EXIT_OK;
}

/* ---- report ------------------------------------------------------------------------ */

const char bnb_usage_report[] =
    "usage: bnbench report [RUN] [--format md|html|json] [-o FILE] [--baseline NAME]\n"
    "                      [--history N] [--db PATH]\n"
    "\n"
    "Writes the production-readiness report of a stored run (default: the latest\n"
    "one that is not a re-run stored by check):\n"
    "machine and build, an overall score with its formula and inputs, targets,\n"
    "per-suite tables with % of the measured ceilings, roofline, history on this\n"
    "machine, comparison with the baseline, environment and counters, and what was\n"
    "not measured and why. md renders on GitHub/GitLab; html is self-contained\n"
    "(inline CSS and SVG) and printable; json is versioned (schema_version).\n"
    "\n"
    "  --format F      md (default; html or json when -o ends so), html, json\n"
    "  -o FILE         write to FILE (default standard output)\n"
    "  --baseline N    compare with baseline N (default: newest baseline of the machine)\n"
    "  --history N     runs per history chart (default 30)\n";

int bnb_cmd_report(int argc, char **argv, const char *gdb)
{
    args a = {.db = gdb};
    int rc = parse("report", bnb_usage_report, argc, argv, &a, 1);
    if (rc >= 0)
        return rc;
    bnb_report_opts o = {
        .format = BNB_REPORT_MD, .baseline = a.baseline, .history = (int)a.history};
    const char *fmt = a.format;
    if (!fmt && a.output) {
        const char *dot = strrchr(a.output, '.');
        if (dot && (!strcmp(dot, ".html") || !strcmp(dot, ".json")))
            fmt = dot + 1;
    }
    if (fmt && bnb_report_format_parse(fmt, &o.format))
        return bnb_usage_error("report: --format must be md, html or json, got \"%s\"", fmt);
    bnb_db *db = NULL;
    if ((rc = open_db(a.db, true, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    int64_t id = 0;
    char *text = NULL;
    double score = 0;
    rc = BNB_EXIT_USAGE;
    /* the default is the latest measured run, not a re-run stored by check */
    if ((a.npos ? bnb_db_resolve_run(db, a.pos[0], &id, err)
                : bnb_latest_measured_run(db, &id, err, sizeof err)) ||
        bnb_report_render(db, id, &o, &text, &score, err, sizeof err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        goto out;
    }
    rc = write_out("report", a.output, text);
    if (rc == BNB_EXIT_OK && a.output)
        fprintf(stderr, "bnbench: report of run %lld written to %s (score %.1f/100)\n",
                (long long)id, a.output, score);
out:
    free(text);
    bnb_db_close(db);
    return rc;
}

/* ---- compare ----------------------------------------------------------------------- */

const char bnb_usage_compare[] =
    "usage: bnbench compare A B [--format text|md|json] [-o FILE] [--threshold PCT]\n"
    "       bnbench compare --machine X --machine Y [...]\n"
    "\n"
    "Compares two runs case by case (lined up by suite, name and params): medians,\n"
    "ratio B/A with its interval, Mann-Whitney U p-value and a verdict: faster /\n"
    "slower only when p < 0.01 AND the median moved by more than the threshold\n"
    "(default 5%), else no change; \"insufficient samples\" when the sample counts\n"
    "cannot reach p < 0.01. A and B are runs (latest, id, uuid prefix) or baseline\n"
    "names; --machine X --machine Y compares the latest run of each machine.\n";

/* Latest non-confirm run of a machine by name. */
static int machine_latest(bnb_db *db, const char *name, int64_t *id, char *err, size_t cap)
{
    sqlite3 *h = bnb_db_handle(db);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(h,
                           "SELECT r.id FROM runs r JOIN machines m ON m.id = r.machine_id WHERE "
                           "m.name = ? AND r.reason <> 'confirm' ORDER BY r.started_at DESC, "
                           "r.id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, cap, "%s", sqlite3_errmsg(h));
        return -1;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        snprintf(err, cap, "no run of machine \"%s\" (bnbench runs lists the machines)", name);
    }
    sqlite3_finalize(st);
    return rc;
}

int bnb_cmd_compare(int argc, char **argv, const char *gdb)
{
    args a = {.db = gdb, .format = "text"};
    int rc = parse("compare", bnb_usage_compare, argc, argv, &a, 2);
    if (rc >= 0)
        return rc;
    bool bym = a.nmachine > 0;
    if (bym && (a.nmachine != 2 || a.npos))
        return bnb_usage_error("compare: give two runs, or --machine X --machine Y (not both)");
    if (!bym && a.npos != 2)
        return bnb_usage_error("compare: give two runs A and B (see bnbench compare --help)");
    int fmt = !strcmp(a.format, "text")   ? 0
              : !strcmp(a.format, "md")   ? 1
              : !strcmp(a.format, "json") ? 2
                                          : -1;
    if (fmt < 0)
        return bnb_usage_error("compare: --format must be text, md or json, got \"%s\"", a.format);
    bnb_db *db = NULL;
    if ((rc = open_db(a.db, true, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], la[160], lb[160];
    int64_t ia = 0, ib = 0;
    bnb_case_result *ca = NULL, *cb = NULL;
    int na = 0, nb = 0, nrows = 0;
    bnb_cmp_row *rows = NULL;
    rc = BNB_EXIT_USAGE;
    if (bym ? (machine_latest(db, a.machine[0], &ia, err, sizeof err) ||
               machine_latest(db, a.machine[1], &ib, err, sizeof err))
            : (bnb_db_resolve_run(db, a.pos[0], &ia, err) ||
               bnb_db_resolve_run(db, a.pos[1], &ib, err))) {
        fprintf(stderr, "bnbench: compare: %s\n", err);
        goto out;
    }
    if (bnb_db_load_cases(db, ia, &ca, &na, err) || bnb_db_load_cases(db, ib, &cb, &nb, err)) {
        fprintf(stderr, "bnbench: compare: %s\n", err);
        goto out;
    }
    snprintf(la, sizeof la, "run %lld%s%s%s", (long long)ia, bym ? " (" : " (",
             bym ? a.machine[0] : a.pos[0], ")");
    snprintf(lb, sizeof lb, "run %lld%s%s%s", (long long)ib, " (", bym ? a.machine[1] : a.pos[1],
             ")");
    bnb_cmp_opts co = {.threshold = a.threshold};
    if (bnb_compare_runs(ca, na, cb, nb, &co, &rows, &nrows)) {
        bnb_usage_error("compare: out of memory");
        goto out;
    }
    if (fmt == 2) {
        char *j = bnb_compare_json(la, lb, rows, nrows, &co);
        rc = j ? write_out("compare", a.output, j) : bnb_usage_error("compare: out of memory");
        free(j);
        goto out;
    }
    FILE *f = a.output ? fopen(a.output, "w") : stdout;
    if (!f) {
        bnb_usage_error("compare: cannot write %s: %s", a.output, strerror(errno));
        goto out;
    }
    if (fmt == 1)
        bnb_compare_write_md(f, la, lb, rows, nrows, &co);
    else
        bnb_compare_write_text(f, la, lb, rows, nrows, &co);
    rc = (f == stdout ? fflush(f) : fclose(f)) == 0 ? BNB_EXIT_OK : BNB_EXIT_USAGE;
out:
    free(rows);
    bnb_db_free_cases(ca, na);
    bnb_db_free_cases(cb, nb);
    bnb_db_close(db);
    return rc;
}

/* ---- baseline ---------------------------------------------------------------------- */

const char bnb_usage_baseline[] = "usage: bnbench baseline set NAME RUN [--db PATH]\n"
                                  "       bnbench baseline list [--db PATH]\n"
                                  "\n"
                                  "Names a stored run as a baseline (replacing a baseline of "
                                  "that name), or\nlists the baselines.\n";

int bnb_cmd_baseline(int argc, char **argv, const char *gdb)
{
    args a = {.db = gdb};
    int rc = parse("baseline", bnb_usage_baseline, argc, argv, &a, 3);
    if (rc >= 0)
        return rc;
    bool set = a.npos >= 1 && !strcmp(a.pos[0], "set");
    bool lst = a.npos >= 1 && !strcmp(a.pos[0], "list");
    if (!set && !lst)
        return bnb_usage_error("baseline: %s%s%s (subcommands: set NAME RUN, list)",
                               a.npos ? "unknown subcommand \"" : "no subcommand given",
                               a.npos ? a.pos[0] : "", a.npos ? "\"" : "");
    if (set && a.npos != 3)
        return bnb_usage_error("baseline set: needs NAME and RUN (bnbench baseline set NAME RUN)");
    if (lst && a.npos != 1)
        return bnb_usage_error("baseline list: unexpected argument \"%s\"", a.pos[1]);
    if (set && (!*a.pos[1] || strlen(a.pos[1]) > 64))
        return bnb_usage_error("baseline set: NAME must be 1 to 64 characters, got \"%s\"",
                               a.pos[1]);
    bnb_db *db = NULL;
    if ((rc = open_db(a.db, lst, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    rc = BNB_EXIT_USAGE;
    if (set) {
        int64_t id = 0;
        if (bnb_db_resolve_run(db, a.pos[2], &id, err) ||
            bnb_db_set_baseline(db, a.pos[1], id, err)) {
            fprintf(stderr, "bnbench: baseline set: %s\n", err);
            goto out;
        }
        printf("baseline \"%s\" = run %lld\n", a.pos[1], (long long)id);
        rc = BNB_EXIT_OK;
        goto out;
    }
    sqlite3 *h = bnb_db_handle(db);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h,
                           "SELECT b.name, b.run_id, b.created_at, m.name, r.started_at FROM "
                           "baselines b JOIN runs r ON r.id = b.run_id JOIN machines m ON m.id = "
                           "r.machine_id ORDER BY b.name",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "bnbench: baseline list: %s\n", sqlite3_errmsg(h));
        goto out;
    }
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!n++)
            printf("%-20s %6s  %-20s %-26s %s\n", "name", "run", "machine", "run started",
                   "set at");
        printf("%-20s %6lld  %-20s %-26s %s\n", sqlite3_column_text(st, 0),
               (long long)sqlite3_column_int64(st, 1), sqlite3_column_text(st, 3),
               sqlite3_column_text(st, 4), sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    if (!n)
        printf("no baseline set (bnbench baseline set NAME RUN)\n");
    rc = BNB_EXIT_OK;
out:
    bnb_db_close(db);
    return rc;
}

/* ---- check ------------------------------------------------------------------------- */

const char bnb_usage_check[] =
    "usage: bnbench check --baseline NAME [--no-rerun] [--threshold PCT] [--db PATH]\n"
    "\n"
    "The CI gate: compares the latest run with the baseline (rule of compare), re-runs\n"
    "each case found slower once (bnbench run --case '^NAME$' with the same number\n"
    "of repetitions, stored as a run with reason \"confirm\") and compares again.\n"
    "Exit 1 only on a confirmed regression or a target the latest run missed; 0\n"
    "otherwise; the reasons are printed. --no-rerun skips the re-run: a regression\n"
    "then cannot be refuted and counts as confirmed.\n";

typedef struct rerun_ctx {
    const char *db;
    char machine[64];
} rerun_ctx;

/* Copies s into out as a POSIX extended regex matching s literally. */
static void regex_quote(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    out[k++] = '^';
    for (; *s && k + 3 < cap; s++) {
        if (strchr(".[]()*+?{}|^$\\", *s))
            out[k++] = '\\';
        out[k++] = *s;
    }
    out[k++] = '$';
    out[k] = '\0';
}

static int cli_rerun(void *vctx, const bnb_case_result *latest, bnb_case_result *out, int64_t *rid,
                     char *err, size_t cap)
{
    rerun_ctx *ctx = vctx;
    char full[BNB_NAME_MAX + 160], re[2 * (BNB_NAME_MAX + 160) + 4], reps[16];
    bnb_case_fullname(latest, full, sizeof full);
    regex_quote(full, re, sizeof re);
    snprintf(reps, sizeof reps, "%d", latest->nsamples < 9 ? 9 : latest->nsamples);
    char *av[] = {"run",     "--db",      (char *)ctx->db, "--suite", (char *)latest->suite,
                  "--case",  re,          "--repetitions", reps,      "--reason",
                  "confirm", "--machine", ctx->machine,    "--quiet", NULL};
    int ac = (int)(sizeof av / sizeof av[0]) - 1;
    fflush(stdout);
    int rc = bnb_cmd_run(ac, av);
    if (rc == BNB_EXIT_USAGE || rc == BNB_EXIT_PARTIAL) {
        snprintf(err, cap, "bnbench run --case '%s' %s", re,
                 rc == BNB_EXIT_USAGE ? "could not run" : "stopped on an error");
        return -1;
    }
    bnb_db *db = NULL;
    char e2[BNB_ERR_MAX];
    if (bnb_db_open(ctx->db, 1, &db, e2)) {
        snprintf(err, cap, "%s", e2);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    if (sqlite3_prepare_v2(bnb_db_handle(db), "SELECT max(id) FROM runs WHERE reason = 'confirm'",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    bnb_case_result *cs = NULL;
    int n = 0, found = -1;
    if (id <= 0 || bnb_db_load_cases(db, id, &cs, &n, e2)) {
        snprintf(err, cap, "the confirming run was not stored%s%s", id > 0 ? ": " : "",
                 id > 0 ? e2 : "");
        bnb_db_close(db);
        return -1;
    }
    for (int i = 0; i < n && found < 0; i++) {
        char k[BNB_NAME_MAX + 160];
        if (!strcmp(bnb_case_fullname(&cs[i], k, sizeof k), full))
            found = i;
    }
    if (found >= 0) {
        *out = cs[found];
        memset(&cs[found], 0, sizeof cs[found]); /* ownership moves to *out */
        *rid = id;
    } else {
        snprintf(err, cap, "run %lld has no case %s", (long long)id, full);
    }
    bnb_db_free_cases(cs, n);
    bnb_db_close(db);
    return found >= 0 ? 0 : -1;
}

int bnb_cmd_check(int argc, char **argv, const char *gdb)
{
    args a = {.db = gdb};
    int rc = parse("check", bnb_usage_check, argc, argv, &a, 0);
    if (rc >= 0)
        return rc;
    if (!a.baseline)
        return bnb_usage_error("check: which baseline? (bnbench check --baseline NAME)");
    bnb_db *db = NULL;
    if ((rc = open_db(a.db, false, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    rerun_ctx ctx = {.db = a.db};
    int64_t latest = 0;
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    if (bnb_latest_measured_run(db, &latest, err, sizeof err) == 0 &&
        bnb_db_load_run(db, latest, &ri, NULL, err) == 0)
        snprintf(ctx.machine, sizeof ctx.machine, "%s", ri.machine_name);
    bnb_run_info_free(&ri);
    bnb_check_opts o = {.baseline = a.baseline,
                        .cmp = {.threshold = a.threshold},
                        .rerun = a.no_rerun ? NULL : cli_rerun,
                        .rerun_ctx = &ctx};
    rc = bnb_check(db, &o, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "bnbench: %s\n", err);
        rc = BNB_EXIT_USAGE;
    }
    bnb_db_close(db);
    return rc;
}

/* ---- history ----------------------------------------------------------------------- */

const char bnb_usage_history[] =
    "usage: bnbench history CASE[:METRIC] [--machine NAME] [--window N] [--limit N]\n"
    "\n"
    "A figure over the stored runs of one machine (default: the machine of the latest\n"
    "run), oldest first, with the z-score of the latest value against the N runs\n"
    "before it (default 10): z = (latest - mean) / stddev. METRIC defaults to\n"
    "median_s (the median seconds per iteration); e.g. peak/fma/avx512:gflops.\n";

int bnb_cmd_history(int argc, char **argv, const char *gdb)
{
    args a = {.db = gdb, .window = BNB_HISTORY_WINDOW};
    int rc = parse("history", bnb_usage_history, argc, argv, &a, 1);
    if (rc >= 0)
        return rc;
    if (a.npos != 1)
        return bnb_usage_error("history: which figure? (bnbench history CASE[:METRIC])");
    if (a.nmachine > 1)
        return bnb_usage_error("history: one --machine only");
    char cas[BNB_NAME_MAX + 160], metric[64];
    bnb_figure_split(a.pos[0], cas, sizeof cas, metric, sizeof metric);
    bnb_db *db = NULL;
    if ((rc = open_db(a.db, true, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    int64_t run = 0, mid = -1;
    bnb_hist_point *p = NULL;
    int n = 0;
    rc = BNB_EXIT_USAGE;
    if (a.nmachine ? machine_latest(db, a.machine[0], &run, err, sizeof err)
                   : bnb_latest_measured_run(db, &run, err, sizeof err)) {
        fprintf(stderr, "bnbench: history: %s\n", err);
        goto out;
    }
    if ((mid = bnb_run_machine_id(db, run, err, sizeof err)) < 0 ||
        bnb_history_load(db, cas, metric, mid, 0, a.limit > 0 ? (int)a.limit : 0, &p, &n, err,
                         sizeof err)) {
        fprintf(stderr, "bnbench: history: %s\n", err);
        goto out;
    }
    if (n == 0) {
        fprintf(stderr,
                "bnbench: history: no value of %s:%s on this machine (check the name with "
                "bnbench show latest)\n",
                cas, metric);
        goto out;
    }
    printf("%s:%s on the machine of run %lld, %d run(s), oldest first\n", cas, metric,
           (long long)run, n);
    printf("%8s  %-26s %14s\n", "run", "started", metric);
    for (int i = 0; i < n; i++)
        printf("%8lld  %-26s %14.6g\n", (long long)p[i].run_id, p[i].started_at, p[i].value);
    double mean, sd, z = bnb_history_z(p, n, (int)a.window, &mean, &sd);
    if (isfinite(z))
        printf("latest %.6g: z = %+.2f against the %d run(s) before it (mean %.6g, stddev %.3g)\n",
               p[n - 1].value, z, n - 1 < a.window ? n - 1 : (int)a.window, mean, sd);
    else
        printf("latest %.6g: z-score undefined (%d earlier run(s) in the window, need 3 with a "
               "nonzero spread)\n",
               p[n - 1].value, n - 1 < a.window ? n - 1 : (int)a.window);
    rc = BNB_EXIT_OK;
out:
    free(p);
    bnb_db_close(db);
    return rc;
}

/* ---- publish ----------------------------------------------------------------------- */

const char bnb_usage_publish[] =
    "usage: bnbench publish FILE --url URL [--method PUT|POST] [--timeout S]\n"
    "\n"
    "Sends a report file to an HTTP(S) server with libcurl (PUT by default), with\n"
    "the Content-Type of its extension and, when BNB_PUBLISH_TOKEN is set, an\n"
    "Authorization: Bearer header. Exit 1 when the server cannot be reached or\n"
    "answers an HTTP error, with the reason.\n";

int bnb_cmd_publish(int argc, char **argv, const char *gdb)
{
    args a = {.db = gdb, .method = "PUT", .timeout = 30};
    int rc = parse("publish", bnb_usage_publish, argc, argv, &a, 1);
    if (rc >= 0)
        return rc;
    if (a.npos != 1)
        return bnb_usage_error("publish: which file? (bnbench publish FILE --url URL)");
    if (!a.url)
        return bnb_usage_error("publish: --url URL is required");
    char err[BNB_ERR_MAX];
    long status = 0;
    if (bnb_publish_file(a.pos[0], a.url, a.method, a.timeout, &status, err, sizeof err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        return BNB_EXIT_FAIL;
    }
    printf("published %s to %s (HTTP %ld)\n", a.pos[0], a.url, status);
    return BNB_EXIT_OK;
}

/* ---- _gen-db (hidden) ------------------------------------------------------------- */

int bnb_cmd_gendb(int argc, char **argv, const char *gdb)
{
    args a = {.db = gdb, .runs = 1000};
    int rc = parse("_gen-db", "usage: bnbench _gen-db [--runs N] -o PATH\n", argc, argv, &a, 0);
    if (rc >= 0)
        return rc;
    if (!a.output)
        return bnb_usage_error("_gen-db: -o PATH is required");
    char err[BNB_ERR_MAX];
    if (bnb_gendb(a.output, (int)a.runs, err, sizeof err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        return BNB_EXIT_USAGE;
    }
    printf("%ld synthetic runs written to %s\n", a.runs, a.output);
    return BNB_EXIT_OK;
}
