/*
 * main.c - the bnbench command line: global options, dispatch, and the
 * commands that read the store (runs, show, export, db check).
 *
 * Shape: global options (--db, --help, --version) come before the command;
 * each command parses its own options with bnb_cli_parse (so --db may also
 * follow the command). run, list, topo and counters live with the runner
 * (suites/cli/commands.h) and get their own argv, with a global --db forwarded
 * to run. The commands here open the DB read-only: they never write, and an
 * error on any path leaves the DB as it was.
 *
 * Errors a user can cause are one line on stderr, "bnbench: ...", and exit
 * code 2; see usage_main for the exit codes.
 */
#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/kernels.h"
#include "bitnet/threads.h"
#include "collectors/peers.h"
#include "db/db.h"
#include "db/export.h"
#include "db/rundoc.h"
#include "db/model/fmt.h"
#include "suites/cli/report_cmds.h"
#include "suites/cli/cli.h"
#include "db/model/bnb.h"
#include "db/model/text.h"
#include "suites/cli/batch_cmds.h"
#include "suites/cli/commands.h"
#include "suites/cli/import.h"
#include "suites/cli/outfile.h"
#include "suites/cli/serve.h"
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
    "  batches             list the stored batches (the runs of one mpirun, one per rank)\n"
    "  show RUN            a stored run: machine, build, per-case median, CI and CV,\n"
    "                      target verdicts\n"
    "  export RUN --format json|csv|run\n"
    "                      a stored run as Google Benchmark JSON, CSV of raw samples,\n"
    "                      or the run document that import and serve read\n"
    "  import FILE...      merge runs from run documents or another bnbench DB\n"
    "  topo                the machine's topology and the CPUs --cpus can select\n"
    "  counters            which counters can be read here, and why not\n"
    "  db check            SQLite integrity check and foreign-key check of the DB\n"
    "  report [RUN]        production-readiness report (md, self-contained html, json);\n"
    "                      --batch B: hardware comparison of a batch's machines\n"
    "  compare A B         per-case medians, ratio, CI, U-test p and verdict of two runs,\n"
    "                      baselines, or --machine X --machine Y; --batch B: the ranks\n"
    "                      of a batch side by side\n"
    "  baseline set|list   name a run as a baseline; list the baselines\n"
    "  check --baseline N  CI gate: latest run vs baseline, regressions re-run to confirm\n"
    "  history CASE[:M]    a figure over this machine's runs, z-score of the latest\n"
    "  publish RUN --url U send runs to a collector (retries, a spool for what could\n"
    "                      not be sent; --status lists it); --report FILE sends a report\n"
    "  serve               the fleet collector: stores published runs (HTTP POST, bearer\n"
    "                      token) and serves the fleet web view (libmicrohttpd)\n"
    "  help [COMMAND]      this text, or a command's\n"
    "\n"
    "options:\n"
    "  --db PATH           the SQLite store (default " DEFAULT_DB ")\n"
    "  -h, --help          this text; `bnbench COMMAND --help` for a command's options\n"
    "  --version           print the version and exit\n"
    "\n"
    "RUN is `latest`, a run id, a uuid prefix of 8 or more characters, or a\n"
    "baseline name. `latest` (and the default run of report, check, compare\n"
    "--machine and history) is the newest complete run: newer runs still running,\n"
    "interrupted or failed are skipped and named on stderr. Read commands open the\n"
    "DB read-only and never create it; a DB error is exit 2 with SQLite's message.\n"
    "\n"
    "exit codes:\n"
    "  0  ok\n"
    "  1  a target was missed, a case failed or the run was interrupted (run); the DB\n"
    "     has a problem (db check); a confirmed regression, a missed target or no\n"
    "     case compared (check);\n"
    "     a run was spooled or rejected, or the upload failed (publish); a run\n"
    "     conflicts with a stored one (import)\n"
    "  2  usage or environment error: unknown option, command, suite or case, a bad\n"
    "     value, an unusable DB or targets file; nothing is written to the DB\n"
    "  3  the run began but stopped on an error (disk full, I/O error): it is marked\n"
    "     failed where that can still be written; an import stopped on a DB error\n"
    "     after storing some runs; the message says what was stored\n";

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
    "Prints a stored run: machine, status (and why it ended failed or abandoned),\n"
    "build, warnings and CPU binding; per case its status, samples, median with\n"
    "its bootstrap 95% confidence interval, CV and metrics (unavailable ones with\n"
    "the reason); then the target verdicts.\n"
    "RUN is `latest`, an id, a uuid prefix (8+ characters) or a baseline name.\n"
    "\n"
    "  --db PATH    the SQLite store (default " DEFAULT_DB ")\n";

static const char usage_export[] =
    "usage: bnbench export [--db PATH] RUN --format json|csv|run [-o FILE]\n"
    "\n"
    "Writes a stored run for other tools. json follows Google Benchmark's layout\n"
    "(a context object and a benchmarks array with one iteration row per sample\n"
    "and mean/median/stddev/cv/min aggregate rows), so its tools read it; csv has\n"
    "one row per raw sample with a header; run is the schema-versioned run\n"
    "document (schema bnbench.run: machine, context, every case with its raw\n"
    "samples, metrics and verdicts) that `bnbench import` and `bnbench serve`\n"
    "read, with every sample written so it reads back as the same double; a run\n"
    "still running has no document. Names are stored as given; in json and run\n"
    "each byte that is not valid UTF-8 becomes U+FFFD, csv keeps the bytes.\n"
    "-o writes a temporary file and renames it (never the DB or its -wal/-shm).\n"
    "\n"
    "  --db PATH        the SQLite store (default " DEFAULT_DB ")\n"
    "  --format F       json (default), csv or run\n"
    "  -o, --output F   write to file F instead of standard output\n";

static const char usage_db[] = "usage: bnbench db check [--db PATH]\n"
                               "\n"
                               "Runs SQLite's integrity check and a foreign-key check on the DB.\n"
                               "Exit code 0 when both pass, 1 when a problem is found (printed),\n"
                               "2 when the DB cannot be opened.\n"
                               "\n"
                               "  --db PATH    the SQLite store (default " DEFAULT_DB ")\n";

/* The options of the store commands (cli.h). */
static const bnb_cli_opt opt_db_only[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {0},
};
static const bnb_cli_opt opt_runs[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "limit", .kind = BNB_CLI_LONG, .lo = 1, .hi = INT_MAX, .must = "a positive integer"},
    {0},
};
static const bnb_cli_opt opt_export[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "format", .kind = BNB_CLI_CHOICE, .choices = "json|csv|run"},
    {.name = "output", .shortc = 'o', .kind = BNB_CLI_NONEMPTY},
    {0},
};
static const bnb_cli_cmd cmd_runs_spec = {"runs", usage_runs, opt_runs, 0, false};
static const bnb_cli_cmd cmd_show_spec = {"show", usage_show, opt_db_only, 1, false};
static const bnb_cli_cmd cmd_export_spec = {"export", usage_export, opt_export, 1, false};
static const bnb_cli_cmd cmd_db_spec = {"db", usage_db, opt_db_only, 1, false};

/* Text from the DB (names, messages, reasons) as printed on a terminal:
 * control characters and invalid bytes escaped (db/model/text.h). */
#define TERM_MAX 512
static const char *tsafe(const char *s, char *buf)
{
    return bnb_term_safe(s, buf, TERM_MAX);
}

/* Opens the DB read-only (mode: 1, or BNB_DB_READ_UNCHECKED); on failure
 * prints the error and returns the exit code, else -1. */
static int open_mode(const char *path, int mode, bnb_db **db)
{
    char err[BNB_ERR_MAX];
    if (bnb_db_open(path, mode, db, err)) {
        bnb_cli_error("%s", err);
        return BNB_EXIT_USAGE;
    }
    return -1;
}

static int open_ro(const char *path, bnb_db **db)
{
    return open_mode(path, 1, db);
}

/* ---- runs ------------------------------------------------------------------ */

static int cmd_runs(int argc, char **argv, const char *gdb)
{
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&cmd_runs_spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *dbp = bnb_cli_str(&cmd_runs_spec, &a, "db", gdb);
    const bnb_cli_val *lim = bnb_cli_get(&cmd_runs_spec, &a, "limit");
    bnb_db *db = NULL;
    if ((rc = open_ro(dbp, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], tbuf[5][TERM_MAX];
    bnb_run_row *rows = NULL;
    int n = 0;
    if (bnb_db_list_runs(db, lim ? (int)lim->l : 0, &rows, &n, err)) {
        bnb_cli_error("%s", err);
        bnb_db_close(db);
        return BNB_EXIT_USAGE;
    }
    if (n == 0)
        printf("no runs stored in %s\n", tsafe(dbp, tbuf[0]));
    else
        printf("%5s  %-8s  %-20s  %-24s  %-11s  %-7s  %5s  %6s\n", "id", "uuid", "machine",
               "started", "status", "reason", "cases", "failed");
    for (int i = 0; i < n; i++)
        printf("%5lld  %-8.8s  %-20.20s  %-24.24s  %-11s  %-7s  %5d  %6d\n", (long long)rows[i].id,
               tsafe(rows[i].uuid, tbuf[0]), tsafe(rows[i].machine, tbuf[1]),
               tsafe(rows[i].started_at, tbuf[2]), tsafe(rows[i].status, tbuf[3]),
               tsafe(rows[i].reason, tbuf[4]), rows[i].ncases, rows[i].nfailed);
    free(rows);
    bnb_db_close(db);
    return BNB_EXIT_OK;
}

/* ---- show ------------------------------------------------------------------ */

/* Prints a JSON array of strings as "a; b; c" ("none" when empty/absent). */
static void print_warnings(const char *json)
{
    cJSON *arr = json ? cJSON_Parse(json) : NULL;
    int printed = 0;
    const cJSON *w;
    char t[TERM_MAX];
    cJSON_ArrayForEach(w, arr)
    {
        if (cJSON_IsString(w))
            printf("%s%s", printed++ ? "; " : "", tsafe(w->valuestring, t));
    }
    if (!printed)
        printf("none");
    putchar('\n');
    cJSON_Delete(arr);
}

static void show_case(const bnb_case_result *r)
{
    char name[512], full[TERM_MAX], t[TERM_MAX], med[32], lo[32], hi[32];
    tsafe(bnb_case_fullname(r, name, sizeof name), full);
    if (r->status != BNB_CASE_OK || r->stats.n <= 0) {
        printf("%-44s  %-7s  %s\n", full, bnb_case_status_str(r->status),
               r->message[0] ? tsafe(r->message, t) : "no samples");
    } else {
        char ci[72];
        snprintf(ci, sizeof ci, "[%s, %s]", bnb_fmt_seconds(r->stats.ci_lo, lo, sizeof lo),
                 bnb_fmt_seconds(r->stats.ci_hi, hi, sizeof hi));
        printf("%-44s  %-7s  %3d  %10s  %-26s  %6.2f%%  %3d  %lld\n", full,
               bnb_case_status_str(r->status), r->stats.n,
               bnb_fmt_seconds(r->stats.median, med, sizeof med), ci, r->stats.cv * 100.0,
               r->stats.outliers_low + r->stats.outliers_high, (long long)r->iterations);
    }
    for (int i = 0; i < r->nmetrics; i++) {
        const bnb_metric *m = &r->metrics[i];
        char mn[TERM_MAX];
        tsafe(m->name, mn);
        if (m->available)
            printf("    %-40s %.6g %s\n", mn, m->value, tsafe(m->unit, t));
        else
            printf("    %-40s not available: %s\n", mn, tsafe(m->reason, t));
    }
}

static int cmd_show(int argc, char **argv, const char *gdb)
{
    bnb_cli_args o;
    int rc = bnb_cli_run_parse(&cmd_show_spec, argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.npos != 1)
        return bnb_usage_error("which run? (bnbench show RUN; RUN may be latest)");
    bnb_db *db = NULL;
    if ((rc = open_ro(bnb_cli_str(&cmd_show_spec, &o, "db", gdb), &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], note[BNB_ERR_MAX] = "";
    int64_t id = 0;
    bnb_run_info ri;
    bnb_run_row row;
    bnb_case_result *cases = NULL;
    int n = 0;
    bnb_target_set ts = {0, NULL};
    bnb_verdict *v = NULL;
    memset(&ri, 0, sizeof ri);
    rc = BNB_EXIT_USAGE;
    int bad = bnb_db_resolve(db, o.pos[0], &id, note, err);
    if (note[0])
        bnb_cli_error("%s", note);
    char why[1024];
    if (bad || bnb_db_load_run(db, id, &ri, NULL, err) || bnb_db_get_run_row(db, id, &row, err) ||
        bnb_db_run_status_reason(db, id, why, sizeof why, err) ||
        bnb_db_load_cases(db, id, &cases, &n, err) || bnb_db_load_verdicts(db, id, &ts, &v, err)) {
        bnb_cli_error("%s", err);
        goto out;
    }
    char t[6][TERM_MAX];
    printf("run %lld  uuid %s\n", (long long)id, tsafe(ri.uuid, t[0]));
    printf("  machine   %s (fingerprint %s)\n", tsafe(ri.machine_name, t[0]),
           tsafe(ri.fingerprint, t[1]));
    printf("  started   %s  finished %s  status %s  reason %s\n", tsafe(row.started_at, t[0]),
           row.finished_at[0] ? tsafe(row.finished_at, t[1]) : "-", tsafe(row.status, t[2]),
           tsafe(ri.reason, t[3]));
    if (why[0]) { /* why it ended failed or abandoned: one line, escaped */
        printf("  status    %s: ", tsafe(row.status, t[0]));
        bnb_term_fputs(why, stdout);
        putchar('\n');
    }
    printf(
        "  build     %s, %s, %s, kernels %s\n", ri.build_type[0] ? tsafe(ri.build_type, t[0]) : "?",
        ri.compiler[0] ? tsafe(ri.compiler, t[1]) : "?",
        ri.cflags[0] ? tsafe(ri.cflags, t[2]) : "?", ri.kernels[0] ? tsafe(ri.kernels, t[3]) : "?");
    printf("  commit    %s (%s)\n", ri.commit[0] ? tsafe(ri.commit, t[0]) : "?",
           ri.branch[0] ? tsafe(ri.branch, t[1]) : "?");
    printf("  binding   ");
    bnb_term_fputs(ri.binding_json ? ri.binding_json : "not recorded", stdout);
    putchar('\n');
    printf("  warnings  ");
    print_warnings(ri.warnings_json);
    printf("  peers\n");
    bnb_peers_print(stdout, ri.context_json, "    ");
    printf("\n%-44s  %-7s  %3s  %10s  %-26s  %7s  %3s  %s\n", "case", "status", "n", "median",
           "95% CI of median", "CV", "out", "iters");
    for (int i = 0; i < n; i++)
        show_case(&cases[i]);
    if (n == 0)
        printf("(no cases stored)\n");
    bnb_print_peers(stdout, cases, n);
    printf("\ntargets\n");
    for (int i = 0; i < ts.n; i++)
        printf("  %-20s %-15s %s\n", tsafe(v[i].target->id, t[0]), tsafe(v[i].verdict, t[1]),
               tsafe(v[i].reason, t[2]));
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
    bnb_cli_args o;
    int rc = bnb_cli_run_parse(&cmd_export_spec, argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.npos != 1)
        return bnb_usage_error("which run? (bnbench export RUN --format json|csv|run)");
    const char *dbp = bnb_cli_str(&cmd_export_spec, &o, "db", gdb),
               *output = bnb_cli_str(&cmd_export_spec, &o, "output", NULL);
    const char *format = bnb_cli_str(&cmd_export_spec, &o, "format", "json");
    bnb_db *db = NULL;
    if ((rc = open_ro(dbp, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], note[BNB_ERR_MAX] = "";
    int64_t id = 0;
    char *text = NULL;
    rc = BNB_EXIT_USAGE;
    int bad = bnb_db_resolve(db, o.pos[0], &id, note, err);
    if (note[0])
        bnb_cli_error("%s", note);
    if (!bad)
        text = !strcmp(format, "csv")   ? bnb_export_csv(db, id, err)
               : !strcmp(format, "run") ? bnb_rundoc_build(db, id, NULL, err)
                                        : bnb_export_json(db, id, err);
    if (bad || !text) {
        bnb_cli_error("%s", err);
        goto out;
    }
    if (bnb_out_write(output, dbp, text, true, err, sizeof err)) {
        bnb_usage_error("%s", err);
        goto out;
    }
    rc = BNB_EXIT_OK;
out:
    free(text);
    bnb_db_close(db);
    return rc;
}

/* ---- db check -------------------------------------------------------------- */

/* Each problem of SQLite's list on its own line of stderr, indented under
 * the message (which is printed after them, naming the first). */
static void print_problem(void *ctx, const char *problem)
{
    int *n = ctx;
    if ((*n)++ == 0)
        fputs("bnbench db: integrity check problems:\n", stderr);
    fputs("  ", stderr);
    bnb_term_fputs(problem, stderr);
    fputc('\n', stderr);
}

static int cmd_db(int argc, char **argv, const char *gdb)
{
    bnb_cli_args o;
    int rc = bnb_cli_run_parse(&cmd_db_spec, argc, argv, &o);
    if (rc >= 0)
        return rc;
    char q[BNB_CLI_QUOTE_MAX + 1];
    if (o.npos != 1 || strcmp(o.pos[0], "check"))
        return bnb_usage_error("%s%s%s (the db command has one subcommand: check)",
                               o.npos ? "unknown subcommand \"" : "no subcommand given",
                               o.npos ? bnb_cli_quote(o.pos[0], q) : "", o.npos ? "\"" : "");
    const char *dbp = bnb_cli_str(&cmd_db_spec, &o, "db", gdb);
    bnb_db *db = NULL;
    /* the check itself reports damage (exit 1), so the open does not refuse it */
    if ((rc = open_mode(dbp, BNB_DB_READ_UNCHECKED, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    int nproblems = 0;
    if (bnb_db_check_each(db, print_problem, &nproblems, err)) {
        bnb_cli_error("%s", err);
        rc = BNB_EXIT_FAIL;
    } else {
        char t[TERM_MAX];
        printf("%s: ok (integrity check and foreign key check passed)\n", tsafe(dbp, t));
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
    {"batches", bnb_cmd_batches, NULL, bnb_usage_batches},
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
    {"serve", bnb_cmd_serve, NULL, bnb_usage_serve},
    {"import", bnb_cmd_import, NULL, bnb_usage_import},
    {"_gen-db", bnb_cmd_gendb, NULL, "usage: bnbench _gen-db [--runs N] [--machines M] -o PATH\n"},
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

static const bnb_cli_opt opt_global[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "version", .kind = BNB_CLI_FLAG},
    {0},
};
static const bnb_cli_cmd cmd_global = {"", usage_main, opt_global, 1, true};

/* How `run` treats OpenBLAS's core (collectors/peers.h): 1 with --peer-env
 * KEEP among its arguments (checked by the run's own parser later; read here
 * because the core is chosen before it runs), -1 with --list or --help,
 * which measure nothing, or when the --suite/--case selection calls no
 * OpenBLAS, else 0
 * (BEST). */
static int peer_mode(int argc, char **argv)
{
    int mode = 0;
    const char *suites = NULL, *cases = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--list") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return -1;
        if (!strcmp(argv[i], "--peer-env=KEEP") ||
            (!strcmp(argv[i], "--peer-env") && i + 1 < argc && !strcmp(argv[i + 1], "KEEP")))
            mode = 1;
        if (!strncmp(argv[i], "--suite=", 8))
            suites = argv[i] + 8;
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc)
            suites = argv[i + 1];
        if (!strncmp(argv[i], "--case=", 7))
            cases = argv[i] + 7;
        else if (!strcmp(argv[i], "--case") && i + 1 < argc)
            cases = argv[i + 1];
    }
    return bnb_selection_uses_openblas(suites, cases) ? mode : -1;
}

/* main without the standard output check. */
static int dispatch(int argc, char **argv)
{
    bnb_cli_args g;
    int rc = bnb_cli_run_parse(&cmd_global, argc, argv, &g);
    if (rc >= 0)
        return rc;
    if (bnb_cli_get(&cmd_global, &g, "version")) {
        printf("bnbench %s (%s build, DB schema %d)\n", BN_VERSION,
#ifdef BN_BUILD_TYPE
               BN_BUILD_TYPE,
#else
               "unknown",
#endif
               BNB_DB_SCHEMA_VERSION);
        return BNB_EXIT_OK;
    }
    const char *db = bnb_cli_str(&cmd_global, &g, "db", DEFAULT_DB);
    bool db_given = bnb_cli_get(&cmd_global, &g, "db") != NULL;
    int i = g.next;
    char q[BNB_CLI_QUOTE_MAX + 1];
    if (i == argc)
        return bnb_usage_error("no command given (bnbench --help)");
    const char *name = argv[i];
    if (!strcmp(name, "help")) {
        bnb_cli_set_command("help");
        if (i + 1 == argc) {
            fputs(usage_main, stdout);
            return BNB_EXIT_OK;
        }
        const command *c = find_command(argv[i + 1]);
        if (!c)
            return bnb_usage_error("unknown command \"%s\" (bnbench --help)",
                                   bnb_cli_quote(argv[i + 1], q));
        if (i + 2 < argc)
            return bnb_usage_error("unexpected argument \"%s\" (bnbench help COMMAND)",
                                   bnb_cli_quote(argv[i + 2], q));
        if (c->usage) {
            fputs(c->usage, stdout);
            return BNB_EXIT_OK;
        }
        char *av[] = {argv[i + 1], (char *)"--help", NULL};
        return c->ext_fn(2, av);
    }
    const command *c = find_command(name);
    if (!c)
        return bnb_usage_error("unknown command \"%s\" (bnbench --help)", bnb_cli_quote(name, q));
    bnb_cli_set_command(c->name);
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
        /* the core OpenBLAS is measured on: chosen before the re-execution,
         * which then loads it */
        int pm = peer_mode(argc - i, argv + i);
        bool again = pm >= 0 && bnb_peers_prepare(pm == 1);
        bnb_alloc_prepare_exec(argv);
        if (again)
            bnb_peers_reexec(argv);
    }
    if (c->store_fn)
        return c->store_fn(argc - i, argv + i, db);
    return run_ext(c, argc - i, argv + i, db, db_given);
}

int main(int argc, char **argv)
{
    /* hidden: one OpenBLAS core probe, run by `run` in a child (peers.h) */
    if (argc == 2 && !strcmp(argv[1], "_peer-probe"))
        return bnb_peers_probe_main();
    int rc = dispatch(argc, argv);
    /* Every command's output, checked in one place: a full disk or a closed
     * pipe under stdout must not read as success. An exit of 2 or 3 has
     * already said what went wrong (and compare/export say this too). */
    errno = 0;
    bool flush_failed = fflush(stdout) != 0;
    int e = errno;
    if ((flush_failed || ferror(stdout)) && rc != BNB_EXIT_USAGE && rc != BNB_EXIT_PARTIAL) {
        bnb_cli_error("cannot write standard output: %s",
                      flush_failed && e ? strerror(e) : "a write failed");
        rc = BNB_EXIT_USAGE;
    }
    return rc;
}
