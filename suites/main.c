/*
 * main.c - the bnbench command line: global options, dispatch, and the
 * commands that read the store (runs, show, export, db check).
 *
 * Shape: global options (--db, --help, --version) come before the command;
 * each command parses its own options with getopt_long (so --db may also
 * follow the command). run, list, topo and counters live with the runner
 * (suites/commands.h) and get their own argv, with a global --db forwarded
 * to run. The commands here open the DB read-only: they never write, and an
 * error on any path leaves the DB as it was.
 *
 * Errors a user can cause are one line on stderr, "bnbench: ...", and exit
 * code 2; see usage_main for the exit codes.
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/kernels.h"
#include "bitnet/threads.h"
#include "db/db.h"
#include "db/export.h"
#include "reports/cli.h"
#include "suites/cli.h"
#include "suites/bnb.h"
#include "suites/commands.h"
#include "suites/suite.h"

#ifndef BN_VERSION
#define BN_VERSION "unknown"
#endif

#define DEFAULT_DB "bnbench.db"

static const char usage_main[] =
    "usage: bnbench [--db PATH] COMMAND [ARGS]\n"
    "\n"
    "Benchmarks libbitnet on this machine with pinned threads, hardware counters\n"
    "and sound statistics, checks performance targets, and stores every sample\n"
    "in a SQLite DB.\n"
    "\n"
    "commands:\n"
    "  run                 measure suites, check targets, store the run\n"
    "  list                list suites and their cases\n"
    "  runs                list the stored runs\n"
    "  show RUN            a stored run: machine, build, per-case median, CI and CV,\n"
    "                      target verdicts\n"
    "  export RUN --format json|csv\n"
    "                      a stored run as Google Benchmark JSON, or CSV of raw samples\n"
    "  topo                the machine's topology and the CPUs --cpus can select\n"
    "  counters            which counters can be read here, and why not\n"
    "  db check            SQLite integrity check and foreign-key check of the DB\n"
    "  report [RUN]        production-readiness report (md, self-contained html, json)\n"
    "  compare A B         per-case medians, ratio, CI, U-test p and verdict of two runs,\n"
    "                      baselines, or --machine X --machine Y\n"
    "  baseline set|list   name a run as a baseline; list the baselines\n"
    "  check --baseline N  CI gate: latest run vs baseline, regressions re-run to confirm\n"
    "  history CASE[:M]    a figure over this machine's runs, z-score of the latest\n"
    "  publish FILE --url  send a report to an HTTP server (libcurl)\n"
    "  help [COMMAND]      this text, or a command's\n"
    "\n"
    "options:\n"
    "  --db PATH           the SQLite store (default " DEFAULT_DB ")\n"
    "  -h, --help          this text; `bnbench COMMAND --help` for a command's options\n"
    "  --version           print the version and exit\n"
    "\n"
    "RUN is `latest`, a run id, a uuid prefix of 8 or more characters, or a\n"
    "baseline name.\n"
    "\n"
    "exit codes:\n"
    "  0  ok\n"
    "  1  a target was missed or a case failed (run); the DB has a problem (db check);\n"
    "     a confirmed regression or missed target (check); the upload failed (publish)\n"
    "  2  usage or environment error: unknown option, command, suite or case, a bad\n"
    "     value, an unusable DB or targets file; nothing is written to the DB\n";

static const char usage_runs[] =
    "usage: bnbench runs [--db PATH] [--limit N]\n"
    "\n"
    "Lists stored runs, newest first: id, uuid prefix, machine, start\n"
    "time, status, reason, number of cases and of failed cases.\n"
    "\n"
    "  --db PATH    the SQLite store (default " DEFAULT_DB ")\n"
    "  --limit N    at most N runs (default: all)\n";

static const char usage_show[] =
    "usage: bnbench show [--db PATH] RUN\n"
    "\n"
    "Prints a stored run: machine, build, warnings and CPU binding; per case its\n"
    "status, samples, median with its bootstrap 95% confidence interval, CV and\n"
    "metrics (unavailable ones with the reason); then the target verdicts.\n"
    "RUN is `latest`, an id, a uuid prefix (8+ characters) or a baseline name.\n"
    "\n"
    "  --db PATH    the SQLite store (default " DEFAULT_DB ")\n";

static const char usage_export[] =
    "usage: bnbench export [--db PATH] RUN --format json|csv [-o FILE]\n"
    "\n"
    "Writes a stored run for other tools. json follows Google Benchmark's layout\n"
    "(a context object and a benchmarks array with one iteration row per sample\n"
    "and mean/median/stddev/cv/min aggregate rows), so its tools read it; csv has\n"
    "one row per raw sample with a header.\n"
    "\n"
    "  --db PATH        the SQLite store (default " DEFAULT_DB ")\n"
    "  --format F       json (default) or csv\n"
    "  -o, --output F   write to file F instead of standard output\n";

static const char usage_db[] = "usage: bnbench db check [--db PATH]\n"
                               "\n"
                               "Runs SQLite's integrity check and a foreign-key check on the DB.\n"
                               "Exit code 0 when both pass, 1 when a problem is found (printed),\n"
                               "2 when the DB cannot be opened.\n"
                               "\n"
                               "  --db PATH    the SQLite store (default " DEFAULT_DB ")\n";

/* Common option parsing of the store commands: --db, --help, plus extra.
 * Returns -1 to go on, or an exit code. */
typedef struct cmd_opts {
    const char *db;
    const char *format;
    const char *output;
    long limit;
    int npos;
    char *pos[4];
} cmd_opts;

enum { OPT_DB = 1000, OPT_FORMAT, OPT_LIMIT };

static int parse_cmd(const char *cmd, const char *usage, int argc, char **argv, cmd_opts *o,
                     int max_pos, bool want_format, bool want_limit)
{
    static const struct option all[] = {
        {"db", required_argument, NULL, OPT_DB},         {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, OPT_FORMAT}, {"output", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, OPT_LIMIT},   {NULL, 0, NULL, 0},
    };
    optind = 0; /* full re-initialisation of GNU getopt */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, want_format ? ":ho:" : ":h", all, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return BNB_EXIT_OK;
        case OPT_DB:
            if (!*optarg)
                return bnb_usage_error("%s: --db needs a path, got \"\"", cmd);
            o->db = optarg;
            break;
        case OPT_FORMAT:
            if (!want_format)
                goto unknown;
            o->format = optarg;
            break;
        case 'o':
            if (!want_format)
                goto unknown;
            o->output = optarg;
            break;
        case OPT_LIMIT: {
            if (!want_limit)
                goto unknown;
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || v <= 0 || v > INT_MAX)
                return bnb_usage_error("%s: --limit must be a positive integer, got \"%s\"", cmd,
                                       optarg);
            o->limit = v;
            break;
        }
        case ':':
            return bnb_usage_error("%s: option %s needs a value (see bnbench %s --help)", cmd,
                                   argv[optind - 1], cmd);
        default:
        unknown:
            return bnb_usage_error("%s: unknown option \"%s\" (see bnbench %s --help)", cmd,
                                   argv[optind - 1], cmd);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->npos == max_pos)
            return bnb_usage_error("%s: unexpected argument \"%s\" (see bnbench %s --help)", cmd,
                                   argv[i], cmd);
        o->pos[o->npos++] = argv[i];
    }
    return -1;
}

static int open_ro(const char *path, bnb_db **db)
{
    char err[BNB_ERR_MAX];
    if (bnb_db_open(path, 1, db, err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        return BNB_EXIT_USAGE;
    }
    return -1;
}

/* ---- runs ------------------------------------------------------------------ */

static int cmd_runs(int argc, char **argv, const char *gdb)
{
    cmd_opts o = {.db = gdb};
    int rc = parse_cmd("runs", usage_runs, argc, argv, &o, 0, false, true);
    if (rc >= 0)
        return rc;
    bnb_db *db = NULL;
    if ((rc = open_ro(o.db, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    bnb_run_row *rows = NULL;
    int n = 0;
    if (bnb_db_list_runs(db, (int)o.limit, &rows, &n, err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        bnb_db_close(db);
        return BNB_EXIT_USAGE;
    }
    if (n == 0)
        printf("no runs stored in %s\n", o.db);
    else
        printf("%5s  %-8s  %-20s  %-24s  %-11s  %-7s  %5s  %6s\n", "id", "uuid", "machine",
               "started", "status", "reason", "cases", "failed");
    for (int i = 0; i < n; i++)
        printf("%5lld  %-8.8s  %-20.20s  %-24.24s  %-11s  %-7s  %5d  %6d\n", (long long)rows[i].id,
               rows[i].uuid, rows[i].machine, rows[i].started_at, rows[i].status, rows[i].reason,
               rows[i].ncases, rows[i].nfailed);
    free(rows);
    bnb_db_close(db);
    return BNB_EXIT_OK;
}

/* ---- show ------------------------------------------------------------------ */

/* A duration in seconds with a readable unit. */
static const char *fmt_time(double s, char *buf, size_t cap)
{
    double a = fabs(s);
    if (!isfinite(s))
        snprintf(buf, cap, "-");
    else if (a < 1e-6)
        snprintf(buf, cap, "%.3g ns", s * 1e9);
    else if (a < 1e-3)
        snprintf(buf, cap, "%.4g us", s * 1e6);
    else if (a < 1.0)
        snprintf(buf, cap, "%.4g ms", s * 1e3);
    else
        snprintf(buf, cap, "%.4g s", s);
    return buf;
}

/* Prints a JSON array of strings as "a; b; c" ("none" when empty/absent). */
static void print_warnings(const char *json)
{
    cJSON *arr = json ? cJSON_Parse(json) : NULL;
    int printed = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, arr)
    {
        if (cJSON_IsString(w))
            printf("%s%s", printed++ ? "; " : "", w->valuestring);
    }
    if (!printed)
        printf("none");
    putchar('\n');
    cJSON_Delete(arr);
}

static void show_case(const bnb_case_result *r)
{
    char full[512], med[32], lo[32], hi[32];
    bnb_case_fullname(r, full, sizeof full);
    if (r->status != BNB_CASE_OK || r->stats.n <= 0) {
        printf("%-44s  %-7s  %s\n", full, bnb_case_status_str(r->status),
               r->message[0] ? r->message : "no samples");
    } else {
        char ci[72];
        snprintf(ci, sizeof ci, "[%s, %s]", fmt_time(r->stats.ci_lo, lo, sizeof lo),
                 fmt_time(r->stats.ci_hi, hi, sizeof hi));
        printf("%-44s  %-7s  %3d  %10s  %-26s  %6.2f%%  %3d  %lld\n", full,
               bnb_case_status_str(r->status), r->stats.n,
               fmt_time(r->stats.median, med, sizeof med), ci, r->stats.cv * 100.0,
               r->stats.outliers_low + r->stats.outliers_high, (long long)r->iterations);
    }
    for (int i = 0; i < r->nmetrics; i++) {
        const bnb_metric *m = &r->metrics[i];
        if (m->available)
            printf("    %-40s %.6g %s\n", m->name, m->value, m->unit);
        else
            printf("    %-40s not available: %s\n", m->name, m->reason);
    }
}

static int cmd_show(int argc, char **argv, const char *gdb)
{
    cmd_opts o = {.db = gdb};
    int rc = parse_cmd("show", usage_show, argc, argv, &o, 1, false, false);
    if (rc >= 0)
        return rc;
    if (o.npos != 1)
        return bnb_usage_error("show: which run? (bnbench show RUN; RUN may be latest)");
    bnb_db *db = NULL;
    if ((rc = open_ro(o.db, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    int64_t id = 0;
    bnb_run_info ri;
    bnb_run_row row;
    bnb_case_result *cases = NULL;
    int n = 0;
    bnb_target_set ts = {0, NULL};
    bnb_verdict *v = NULL;
    memset(&ri, 0, sizeof ri);
    rc = BNB_EXIT_USAGE;
    if (bnb_db_resolve_run(db, o.pos[0], &id, err) || bnb_db_load_run(db, id, &ri, NULL, err) ||
        bnb_db_get_run_row(db, id, &row, err) || bnb_db_load_cases(db, id, &cases, &n, err) ||
        bnb_db_load_verdicts(db, id, &ts, &v, err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        goto out;
    }
    printf("run %lld  uuid %s\n", (long long)id, ri.uuid);
    printf("  machine   %s (fingerprint %s)\n", ri.machine_name, ri.fingerprint);
    printf("  started   %s  finished %s  status %s  reason %s\n", row.started_at,
           row.finished_at[0] ? row.finished_at : "-", row.status, ri.reason);
    printf("  build     %s, %s, %s, kernels %s\n", ri.build_type[0] ? ri.build_type : "?",
           ri.compiler[0] ? ri.compiler : "?", ri.cflags[0] ? ri.cflags : "?",
           ri.kernels[0] ? ri.kernels : "?");
    printf("  commit    %s (%s)\n", ri.commit[0] ? ri.commit : "?", ri.branch[0] ? ri.branch : "?");
    printf("  binding   %s\n", ri.binding_json ? ri.binding_json : "not recorded");
    printf("  warnings  ");
    print_warnings(ri.warnings_json);
    printf("\n%-44s  %-7s  %3s  %10s  %-26s  %7s  %3s  %s\n", "case", "status", "n", "median",
           "95% CI of median", "CV", "out", "iters");
    for (int i = 0; i < n; i++)
        show_case(&cases[i]);
    if (n == 0)
        printf("(no cases stored)\n");
    bnb_print_peers(stdout, cases, n);
    printf("\ntargets\n");
    for (int i = 0; i < ts.n; i++)
        printf("  %-20s %-15s %s\n", v[i].target->id, v[i].verdict, v[i].reason);
    if (ts.n == 0)
        printf("  (no verdicts stored)\n");
    rc = BNB_EXIT_OK;
out:
    bnb_run_info_free(&ri);
    bnb_db_free_cases(cases, n);
    bnb_targets_free(&ts);
    free(v);
    bnb_db_close(db);
    return rc;
}

/* ---- export ---------------------------------------------------------------- */

static int cmd_export(int argc, char **argv, const char *gdb)
{
    cmd_opts o = {.db = gdb, .format = "json"};
    int rc = parse_cmd("export", usage_export, argc, argv, &o, 1, true, false);
    if (rc >= 0)
        return rc;
    if (o.npos != 1)
        return bnb_usage_error("export: which run? (bnbench export RUN --format json|csv)");
    bool json = !strcmp(o.format, "json");
    if (!json && strcmp(o.format, "csv"))
        return bnb_usage_error("export: --format must be json or csv, got \"%s\"", o.format);
    bnb_db *db = NULL;
    if ((rc = open_ro(o.db, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    int64_t id = 0;
    char *text = NULL;
    rc = BNB_EXIT_USAGE;
    if (bnb_db_resolve_run(db, o.pos[0], &id, err) ||
        !(text = json ? bnb_export_json(db, id, err) : bnb_export_csv(db, id, err))) {
        fprintf(stderr, "bnbench: %s\n", err);
        goto out;
    }
    FILE *f = o.output ? fopen(o.output, "w") : stdout;
    if (!f) {
        fprintf(stderr, "bnbench: export: cannot write %s: %s\n", o.output, strerror(errno));
        goto out;
    }
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len && (!json || fputc('\n', f) != EOF);
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok) {
        fprintf(stderr, "bnbench: export: writing %s failed: %s\n",
                o.output ? o.output : "standard output", strerror(errno));
        goto out;
    }
    rc = BNB_EXIT_OK;
out:
    free(text);
    bnb_db_close(db);
    return rc;
}

/* ---- db check -------------------------------------------------------------- */

static int cmd_db(int argc, char **argv, const char *gdb)
{
    cmd_opts o = {.db = gdb};
    int rc = parse_cmd("db", usage_db, argc, argv, &o, 1, false, false);
    if (rc >= 0)
        return rc;
    if (o.npos != 1 || strcmp(o.pos[0], "check"))
        return bnb_usage_error("db: %s%s%s (the db command has one subcommand: check)",
                               o.npos ? "unknown subcommand \"" : "no subcommand given",
                               o.npos ? o.pos[0] : "", o.npos ? "\"" : "");
    bnb_db *db = NULL;
    if ((rc = open_ro(o.db, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    if (bnb_db_check(db, err)) {
        fprintf(stderr, "bnbench: %s\n", err);
        rc = BNB_EXIT_FAIL;
    } else {
        printf("%s: ok (integrity check and foreign key check passed)\n", o.db);
        rc = BNB_EXIT_OK;
    }
    bnb_db_close(db);
    return rc;
}

/* ---- dispatch -------------------------------------------------------------- */

typedef struct command {
    const char *name;
    int (*store_fn)(int argc, char **argv, const char *db); /* commands of this file */
    int (*ext_fn)(int argc, char **argv);                   /* commands.h */
    const char *usage;                                      /* for `help NAME`; NULL: ext --help */
} command;

static const command commands[] = {
    {"run", NULL, bnb_cmd_run, NULL},
    {"list", NULL, bnb_cmd_list, NULL},
    {"runs", cmd_runs, NULL, usage_runs},
    {"show", cmd_show, NULL, usage_show},
    {"export", cmd_export, NULL, usage_export},
    {"topo", NULL, bnb_cmd_topo, NULL},
    {"counters", NULL, bnb_cmd_counters, NULL},
    {"db", cmd_db, NULL, usage_db},
    {"report", bnb_cmd_report, NULL, bnb_usage_report},
    {"compare", bnb_cmd_compare, NULL, bnb_usage_compare},
    {"baseline", bnb_cmd_baseline, NULL, bnb_usage_baseline},
    {"check", bnb_cmd_check, NULL, bnb_usage_check},
    {"history", bnb_cmd_history, NULL, bnb_usage_history},
    {"publish", bnb_cmd_publish, NULL, bnb_usage_publish},
    {"_gen-db", bnb_cmd_gendb, NULL, "usage: bnbench _gen-db [--runs N] -o PATH\n"},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static int run_ext(const command *c, int argc, char **argv, const char *gdb, bool gdb_given)
{
    /* forward a global --db to run: ["run", "--db", PATH, args...] */
    if (!gdb_given || strcmp(c->name, "run") != 0)
        return c->ext_fn(argc, argv);
    char **av = calloc((size_t)argc + 3, sizeof *av);
    if (!av) {
        fputs("bnbench: out of memory\n", stderr);
        return BNB_EXIT_USAGE;
    }
    av[0] = argv[0];
    av[1] = (char *)"--db";
    av[2] = (char *)gdb;
    for (int i = 1; i < argc; i++)
        av[i + 2] = argv[i];
    int rc = c->ext_fn(argc + 2, av);
    free(av);
    return rc;
}

int main(int argc, char **argv)
{
    const char *db = DEFAULT_DB;
    bool db_given = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_main, stdout);
            return BNB_EXIT_OK;
        }
        if (!strcmp(a, "--version")) {
            printf("bnbench %s (%s build, DB schema %d)\n", BN_VERSION,
#ifdef BN_BUILD_TYPE
                   BN_BUILD_TYPE,
#else
                   "unknown",
#endif
                   BNB_DB_SCHEMA_VERSION);
            return BNB_EXIT_OK;
        }
        if (!strcmp(a, "--db") || !strncmp(a, "--db=", 5)) {
            const char *v = a[4] == '=' ? a + 5 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !*v)
                return bnb_usage_error("--db needs a path (see bnbench --help)");
            db = v;
            db_given = true;
            continue;
        }
        return bnb_usage_error("unknown option \"%s\" (see bnbench --help)", a);
    }
    if (i == argc)
        return bnb_usage_error("no command given (see bnbench --help)");
    const char *name = argv[i];
    if (!strcmp(name, "help")) {
        if (i + 1 == argc) {
            fputs(usage_main, stdout);
            return BNB_EXIT_OK;
        }
        const command *c = find_command(argv[i + 1]);
        if (!c)
            return bnb_usage_error("help: unknown command \"%s\" (see bnbench --help)",
                                   argv[i + 1]);
        if (c->usage) {
            fputs(c->usage, stdout);
            return BNB_EXIT_OK;
        }
        char *av[] = {argv[i + 1], (char *)"--help", NULL};
        return c->ext_fn(2, av);
    }
    const command *c = find_command(name);
    if (!c)
        return bnb_usage_error("unknown command \"%s\" (see bnbench --help)", name);
    /* a BN_KERNELS the library cannot honour would store runs of the wrong
     * kernel set under the asked-for name: stop instead */
    if (bn_kernels_init() != BN_OK)
        return bnb_usage_error("%s", bn_last_error());
    /* the same for a BN_THREADS the pool would replace with its default */
    if (bn_threads_init() != BN_OK)
        return bnb_usage_error("%s", bn_last_error());
    if (!strcmp(name, "run")) {
        /* Every OpenBLAS call bnbench makes runs on one thread. Without this
         * (read when the re-executed process loads OpenBLAS) its idle server
         * thread spins on sched_yield beside the measuring thread, and on a
         * core shared by two hardware threads that takes the measured
         * code's FMA throughput (linalg: 30% at n = 256). */
        setenv("OPENBLAS_NUM_THREADS", "1", 0);
        bnb_alloc_prepare_exec(argv);
    }
    if (c->store_fn)
        return c->store_fn(argc - i, argv + i, db);
    return run_ext(c, argc - i, argv + i, db, db_given);
}
