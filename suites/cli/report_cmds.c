/*
 * report_cmds.c - `bnbench report | compare | baseline | check | history | publish`
 * (suites/cli/report_cmds.h).
 *
 * Shape: every command parses its options with bnb_cli_parse, validates them
 * before touching the DB, then calls the module that does the work
 * (report.h, compare.h, check.h, history.h, publish.h). Commands that only
 * read open the DB read-only. Errors a user can cause are one line
 * "bnbench: ..." and exit code 2.
 */
#include "suites/cli/report_cmds.h"
#include "suites/cli/cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectors/peers.h"
#include "db/db.h"
#include "reports/check.h"
#include "reports/compare.h"
#include "reports/gendb.h"
#include "reports/history.h"
#include "reports/publish.h"
#include "reports/pubclient.h"
#include "reports/spool.h"
#include "db/published.h"
#include "reports/report.h"
#include "db/model/bnb.h"
#include "db/model/text.h"
#include "suites/cli/batch_cmds.h"
#include "suites/cli/commands.h"
#include "suites/cli/outfile.h"

/* Longest text from the DB or a user printed in one field. */
#define TERM_MAX 256

/* The options of every command of this file (cli.h); a command lists only
 * what it honours, so anything else is an unknown option. */
#define OPT_DB                                                                                     \
    {                                                                                              \
        .name = "db", .kind = BNB_CLI_NONEMPTY                                                     \
    }
#define OPT_OUTPUT                                                                                 \
    {                                                                                              \
        .name = "output", .shortc = 'o', .kind = BNB_CLI_NONEMPTY                                  \
    }
#define OPT_THRESHOLD                                                                              \
    {                                                                                              \
        .name = "threshold", .kind = BNB_CLI_DOUBLE, .lo = 0, .hi = 100, .excl = true,             \
        .must = "a percentage in (0, 100)"                                                         \
    }

static const bnb_cli_opt opt_report[] = {
    OPT_DB,
    {.name = "format", .kind = BNB_CLI_CHOICE, .choices = "md|html|json"},
    OPT_OUTPUT,
    {.name = "baseline", .kind = BNB_CLI_NONEMPTY},
    {.name = "history",
     .kind = BNB_CLI_LONG,
     .lo = 1,
     .hi = 100000,
     .must = "a positive integer up to 100000"},
    {.name = "batch", .kind = BNB_CLI_NONEMPTY},
    {0},
};
static const bnb_cli_opt opt_compare[] = {
    OPT_DB,
    {.name = "format", .kind = BNB_CLI_CHOICE, .choices = "text|md|json"},
    OPT_OUTPUT,
    OPT_THRESHOLD,
    {.name = "machine", .kind = BNB_CLI_NONEMPTY, .repeat = 2},
    {.name = "batch", .kind = BNB_CLI_NONEMPTY},
    {0},
};
static const bnb_cli_opt opt_db_only[] = {OPT_DB, {0}};
static const bnb_cli_opt opt_check[] = {
    OPT_DB,
    {.name = "baseline", .kind = BNB_CLI_NONEMPTY},
    {.name = "no-rerun", .kind = BNB_CLI_FLAG},
    OPT_THRESHOLD,
    {0},
};
static const bnb_cli_opt opt_history[] = {
    OPT_DB,
    {.name = "machine", .kind = BNB_CLI_NONEMPTY},
    {.name = "window",
     .kind = BNB_CLI_LONG,
     .lo = 3,
     .hi = 100000,
     .must = "an integer from 3 to 100000"},
    {.name = "limit", .kind = BNB_CLI_LONG, .lo = 1, .hi = INT_MAX, .must = "a positive integer"},
    {0},
};
static const bnb_cli_opt opt_publish[] = {
    {.name = "url", .kind = BNB_CLI_NONEMPTY},
    {.name = "report", .kind = BNB_CLI_NONEMPTY},
    {.name = "method", .kind = BNB_CLI_CHOICE, .choices = "PUT|POST"},
    {.name = "timeout", .kind = BNB_CLI_LONG, .lo = 1, .hi = 3600, .must = "1 to 3600 seconds"},
    {.name = "connect-timeout",
     .kind = BNB_CLI_LONG,
     .lo = 1,
     .hi = 600,
     .must = "1 to 600 seconds"},
    {.name = "retries", .kind = BNB_CLI_LONG, .lo = 0, .hi = 20, .must = "an integer from 0 to 20"},
    {.name = "token-file", .kind = BNB_CLI_NONEMPTY},
    {.name = "cacert", .kind = BNB_CLI_NONEMPTY},
    {.name = "insecure", .kind = BNB_CLI_FLAG},
    {.name = "all-unpublished", .kind = BNB_CLI_FLAG},
    {.name = "status", .kind = BNB_CLI_FLAG},
    OPT_DB,
    {0},
};
static const bnb_cli_opt opt_gendb[] = {
    {.name = "runs", .kind = BNB_CLI_LONG, .lo = 1, .hi = 1000000},
    {.name = "machines", .kind = BNB_CLI_LONG, .lo = 1, .hi = 255},
    OPT_OUTPUT,
    {0},
};

static int open_db(const char *path, bool ro, bnb_db **db)
{
    char err[BNB_ERR_MAX];
    if (bnb_db_open(path, ro, db, err)) {
        bnb_cli_error("%s", err);
        return BNB_EXIT_USAGE;
    }
    return -1;
}

/* Prints a note of the DB (runs skipped as not complete) on stderr. */
static void say_note(const char *note)
{
    if (note[0])
        bnb_cli_error("%s", note);
}

/* text to -o path (or standard output) through outfile.h. */
static int write_out(const char *path, const char *db, const char *text)
{
    char err[BNB_ERR_MAX];
    if (bnb_out_write(path, db, text, true, err, sizeof err))
        return bnb_usage_error("%s", err);
    return BNB_EXIT_OK;
}

/* ---- report ------------------------------------------------------------------------ */

const char bnb_usage_report[] =
    "usage: bnbench report [RUN] [--format md|html|json] [-o FILE] [--baseline NAME]\n"
    "                      [--history N] [--db PATH]\n"
    "       bnbench report --batch B [--format md|html|json] [-o FILE] [--db PATH]\n"
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
    "  --history N     runs per history chart (default 30)\n"
    "\n"
    "--batch B writes the hardware-comparison report of batch B (bnbench batches:\n"
    "latest, a batch id or a uuid prefix of 8+ hex digits) instead: the batch\n"
    "(uuid, status, ranks, hosts, CPU bindings), one column per machine (rank)\n"
    "with each case's median and 95% CI, its ratio to rank 0 and the U-test\n"
    "verdict, the winner per case (lowest median; a tie when the CIs overlap),\n"
    "the lost and failed ranks with the reasons, and in html one bar chart per\n"
    "rank against rank 0. json is compare --batch's document.\n";

static const bnb_cli_cmd report_spec = {"report", bnb_usage_report, opt_report, 1, false};

int bnb_cmd_report(int argc, char **argv, const char *gdb)
{
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&report_spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *dbp = bnb_cli_str(&report_spec, &a, "db", gdb),
               *output = bnb_cli_str(&report_spec, &a, "output", NULL);
    const bnb_cli_val *hist = bnb_cli_get(&report_spec, &a, "history");
    bnb_report_opts o = {.format = BNB_REPORT_MD,
                         .baseline = bnb_cli_str(&report_spec, &a, "baseline", NULL),
                         .history = hist ? (int)hist->l : 0};
    const char *fmt = bnb_cli_str(&report_spec, &a, "format", NULL);
    if (!fmt && output) {
        const char *dot = strrchr(output, '.');
        if (dot && (!strcmp(dot, ".html") || !strcmp(dot, ".json")))
            fmt = dot + 1;
    }
    if (fmt && bnb_report_format_parse(fmt, &o.format))
        return bnb_usage_error("--format must be md, html or json, got \"%s\"", fmt);
    const char *batch = bnb_cli_str(&report_spec, &a, "batch", NULL);
    if (batch) {
        if (a.npos || o.baseline || hist)
            return bnb_usage_error("--batch B reports a batch: no RUN, --baseline or --history "
                                   "with it");
        return bnb_cli_report_batch(dbp, batch, o.format, output);
    }
    bnb_db *db = NULL;
    if ((rc = open_db(dbp, true, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], note[BNB_ERR_MAX] = "";
    int64_t id = 0;
    char *text = NULL;
    double score = 0;
    rc = BNB_EXIT_USAGE;
    /* the default is the latest measured run, not a re-run stored by check */
    int bad = a.npos ? bnb_db_resolve(db, a.pos[0], &id, note, err)
                     : bnb_db_latest_run(db, NULL, true, &id, note, err);
    say_note(note);
    if (bad || bnb_report_render(db, id, &o, &text, &score, err, sizeof err)) {
        bnb_cli_error("%s", err);
        goto out;
    }
    rc = write_out(output, dbp, text);
    if (rc == BNB_EXIT_OK && output && strcmp(output, "-")) {
        char q[BNB_CLI_QUOTE_MAX + 1];
        fprintf(stderr, "bnbench: report of run %lld written to %s (score %.1f/100)\n",
                (long long)id, bnb_cli_quote(output, q), score);
    }
out:
    free(text);
    bnb_db_close(db);
    return rc;
}

/* ---- compare ----------------------------------------------------------------------- */

const char bnb_usage_compare[] =
    "usage: bnbench compare A B [--format text|md|json] [-o FILE] [--threshold PCT]\n"
    "       bnbench compare --machine X --machine Y [...]\n"
    "       bnbench compare --batch B [--format text|md|json] [-o FILE] [--threshold PCT]\n"
    "\n"
    "Compares two runs case by case (lined up by suite, name and params): medians,\n"
    "ratio B/A with its interval, Mann-Whitney U p-value and a verdict: faster /\n"
    "slower only when p < 0.01 AND the median moved by more than the threshold\n"
    "(default 5%), else no change; \"insufficient samples\" when the sample counts\n"
    "cannot reach p < 0.01. A and B are runs (latest, id, uuid prefix) or baseline\n"
    "names; --machine X --machine Y compares the latest run of each machine.\n"
    "--batch B puts the machines (ranks) of batch B side by side (B: latest, a\n"
    "batch id or a uuid prefix of 8+ hex digits; bnbench batches lists them): one\n"
    "column per rank (rank, host, machine; a lost rank says \"lost: <reason>\"),\n"
    "per case the median of each rank, its ratio to rank 0's median and the verdict\n"
    "against rank 0 by the rule above, and the winner (lowest median; a tie when\n"
    "the 95% CIs of the medians overlap). A case a rank did not run reads \"not\n"
    "measured\", \"skipped\" or \"failed\".\n"
    "\n"
    "  --format F      text (default), md or json\n"
    "  -o FILE         write to FILE (default standard output)\n"
    "  --threshold P   the median change in percent a verdict needs (default 5)\n"
    "  --machine NAME  twice: the latest run of each of two machines\n"
    "  --batch B       the ranks of batch B side by side\n"
    "  --db PATH       the SQLite store (default bnbench.db)\n";

/* Resolves one run of compare or history: a RUN spec, or (spec NULL) the
 * latest complete measured run of machine; prints what was skipped. */
static int pick_run(bnb_db *db, const char *spec, const char *machine, int64_t *id, char *err)
{
    char note[BNB_ERR_MAX] = "";
    int rc = spec ? bnb_db_resolve(db, spec, id, note, err)
                  : bnb_db_latest_run(db, machine, true, id, note, err);
    say_note(note);
    return rc;
}

/* The peers of runs A and B (collectors/peers.h), and whether they differ:
 * a peer ratio that moved may be the peer's doing. */
static void write_peers(FILE *f, const bnb_run_info *a, const bnb_run_info *b)
{
    static const char *const names[] = {"openblas", "lapack", "mimalloc", "jemalloc"};
    fprintf(f, "\npeers:\n");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char pa[PATH_MAX + 64], pb[PATH_MAX + 64], ta[TERM_MAX], tb[TERM_MAX];
        bnb_peers_label(a->context_json, names[i], pa, sizeof pa);
        bnb_peers_label(b->context_json, names[i], pb, sizeof pb);
        if (strcmp(pa, pb) == 0)
            fprintf(f, "  %s (A and B)\n", bnb_term_safe(pa, ta, sizeof ta));
        else
            fprintf(f, "  peers differ: A %s, B %s\n", bnb_term_safe(pa, ta, sizeof ta),
                    bnb_term_safe(pb, tb, sizeof tb));
    }
}

/* compare's JSON tree with "peers" (bnb_compare_json_add_peers), made valid
 * UTF-8 once and printed: malloc'd text, or NULL when out of memory. */
static char *json_with_peers(cJSON *root, const bnb_run_info *a, const bnb_run_info *b)
{
    return !bnb_compare_json_add_peers(root, a->context_json, b->context_json) &&
                   !bnb_json_utf8_tree(root)
               ? cJSON_Print(root)
               : NULL;
}

int bnb_cmd_compare(int argc, char **argv, const char *gdb)
{
    static const bnb_cli_cmd spec = {"compare", bnb_usage_compare, opt_compare, 2, false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const bnb_cli_val *mach = bnb_cli_get(&spec, &a, "machine"),
                      *thr = bnb_cli_get(&spec, &a, "threshold");
    const char *dbp = bnb_cli_str(&spec, &a, "db", gdb),
               *output = bnb_cli_str(&spec, &a, "output", NULL),
               *format = bnb_cli_str(&spec, &a, "format", "text");
    bool bym = mach != NULL;
    const char *batch = bnb_cli_str(&spec, &a, "batch", NULL);
    if (batch) {
        if (a.npos || bym)
            return bnb_usage_error("--batch B compares the ranks of a batch: no runs or --machine "
                                   "with it");
        return bnb_cli_compare_batch(dbp, batch, format, output, thr ? thr->d / 100.0 : 0);
    }
    if (bym && (mach->count != 2 || a.npos))
        return bnb_usage_error("give two runs, or --machine X --machine Y (not both)");
    if (!bym && a.npos != 2)
        return bnb_usage_error("give two runs A and B (bnbench compare --help)");
    int fmt = !strcmp(format, "text") ? 0 : !strcmp(format, "md") ? 1 : 2;
    bnb_db *db = NULL;
    if ((rc = open_db(dbp, true, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], la[160], lb[160], ta[TERM_MAX], tb[TERM_MAX];
    int64_t ia = 0, ib = 0;
    bnb_case_result *ca = NULL, *cb = NULL;
    int na = 0, nb = 0, nrows = 0;
    bnb_cmp_row *rows = NULL;
    bnb_run_info ria, rib;
    memset(&ria, 0, sizeof ria);
    memset(&rib, 0, sizeof rib);
    rc = BNB_EXIT_USAGE;
    if (pick_run(db, bym ? NULL : a.pos[0], bym ? mach->strs[0] : NULL, &ia, err) ||
        pick_run(db, bym ? NULL : a.pos[1], bym ? mach->strs[1] : NULL, &ib, err)) {
        bnb_cli_error("%s", err);
        goto out;
    }
    if (bnb_db_load_cases(db, ia, &ca, &na, err) || bnb_db_load_cases(db, ib, &cb, &nb, err) ||
        bnb_db_load_run(db, ia, &ria, NULL, err) || bnb_db_load_run(db, ib, &rib, NULL, err)) {
        bnb_cli_error("%s", err);
        goto out;
    }
    /* the labels are printed to the terminal and written to JSON: both made
     * safe here (the JSON writer then escapes only what JSON requires) */
    snprintf(la, sizeof la, "run %lld (%s)", (long long)ia,
             bnb_term_safe(bym ? mach->strs[0] : a.pos[0], ta, 120));
    snprintf(lb, sizeof lb, "run %lld (%s)", (long long)ib,
             bnb_term_safe(bym ? mach->strs[1] : a.pos[1], tb, 120));
    bnb_cmp_opts co = {.threshold = thr ? thr->d / 100.0 : 0};
    if (bnb_compare_runs(ca, na, cb, nb, &co, &rows, &nrows)) {
        bnb_usage_error("out of memory");
        goto out;
    }
    if (fmt == 2) {
        cJSON *tree = bnb_compare_json_tree(la, lb, rows, nrows, &co);
        char *j = tree ? json_with_peers(tree, &ria, &rib) : NULL;
        cJSON_Delete(tree);
        rc = j ? write_out(output, dbp, j) : bnb_usage_error("out of memory");
        free(j);
        goto out;
    }
    bnb_outfile *of = NULL;
    if (bnb_out_open(output, dbp, &of, err, sizeof err)) {
        bnb_usage_error("%s", err);
        goto out;
    }
    if (fmt == 1)
        bnb_compare_write_md(bnb_out_stream(of), la, lb, rows, nrows, &co);
    else
        bnb_compare_write_text(bnb_out_stream(of), la, lb, rows, nrows, &co);
    write_peers(bnb_out_stream(of), &ria, &rib);
    rc = bnb_out_commit(of, err, sizeof err) ? bnb_usage_error("%s", err) : BNB_EXIT_OK;
out:
    free(rows);
    bnb_run_info_free(&ria);
    bnb_run_info_free(&rib);
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
    static const bnb_cli_cmd spec = {"baseline", bnb_usage_baseline, opt_db_only, 3, false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    char q[BNB_CLI_QUOTE_MAX + 1], t[TERM_MAX];
    bool set = a.npos >= 1 && !strcmp(a.pos[0], "set");
    bool lst = a.npos >= 1 && !strcmp(a.pos[0], "list");
    if (!set && !lst)
        return bnb_usage_error("%s%s%s (subcommands: set NAME RUN, list)",
                               a.npos ? "unknown subcommand \"" : "no subcommand given",
                               a.npos ? bnb_cli_quote(a.pos[0], q) : "", a.npos ? "\"" : "");
    if (set && a.npos != 3)
        return bnb_usage_error("set needs NAME and RUN (bnbench baseline set NAME RUN)");
    if (lst && a.npos != 1)
        return bnb_usage_error("list: unexpected argument \"%s\"", bnb_cli_quote(a.pos[1], q));
    if (set && (!*a.pos[1] || strlen(a.pos[1]) > 64))
        return bnb_usage_error("set: NAME must be 1 to 64 characters, got \"%s\"",
                               bnb_cli_quote(a.pos[1], q));
    bnb_db *db = NULL;
    if ((rc = open_db(bnb_cli_str(&spec, &a, "db", gdb), lst, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    rc = BNB_EXIT_USAGE;
    if (set) {
        int64_t id = 0;
        if (pick_run(db, a.pos[2], NULL, &id, err) || bnb_db_set_baseline(db, a.pos[1], id, err)) {
            bnb_cli_error("set: %s", err);
            goto out;
        }
        printf("baseline \"%s\" = run %lld\n", bnb_term_safe(a.pos[1], t, sizeof t), (long long)id);
        rc = BNB_EXIT_OK;
        goto out;
    }
    bnb_baseline_row *bl = NULL;
    int n = 0;
    if (bnb_db_list_baselines(db, &bl, &n, err)) {
        bnb_cli_error("list: %s", err);
        goto out;
    }
    if (n)
        printf("%-20s %6s  %-20s %-26s %s\n", "name", "run", "machine", "run started", "set at");
    for (int i = 0; i < n; i++) {
        char t1[TERM_MAX], t2[TERM_MAX], t3[TERM_MAX];
        printf("%-20s %6lld  %-20s %-26s %s\n", bnb_term_safe(bl[i].name, t, sizeof t),
               (long long)bl[i].run_id, bnb_term_safe(bl[i].machine, t1, sizeof t1),
               bnb_term_safe(bl[i].run_started_at, t2, sizeof t2),
               bnb_term_safe(bl[i].created_at, t3, sizeof t3));
    }
    free(bl);
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
    "Exit 1 only on a confirmed regression, a target the latest run missed, or when\n"
    "no case could be compared (the latest run shares no measured case with the\n"
    "baseline); 0 otherwise; the reasons, and the cases not compared, are printed.\n"
    "--no-rerun skips the re-run: a regression then cannot be refuted and counts as\n"
    "confirmed.\n"
    "\n"
    "  --baseline N    the baseline to compare with (required)\n"
    "  --no-rerun      do not re-run cases found slower\n"
    "  --threshold P   the median change in percent a verdict needs (default 5)\n"
    "  --db PATH       the SQLite store (default bnbench.db)\n";

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
    /* the run just opened, checked and wrote this DB: no second whole-file check */
    if (bnb_db_open(ctx->db, BNB_DB_READ_UNCHECKED, &db, e2)) {
        snprintf(err, cap, "%s", e2);
        return -1;
    }
    int64_t id = 0;
    bnb_case_result *cs = NULL;
    int n = 0, found = -1;
    int none = bnb_db_newest_confirm_run(db, &id, e2);
    if (none || bnb_db_load_cases(db, id, &cs, &n, e2)) {
        snprintf(err, cap, "the confirming run was not stored%s%s", none == 1 ? "" : ": ",
                 none == 1 ? "" : e2);
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
    static const bnb_cli_cmd spec = {"check", bnb_usage_check, opt_check, 0, false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *dbp = bnb_cli_str(&spec, &a, "db", gdb),
               *baseline = bnb_cli_str(&spec, &a, "baseline", NULL);
    const bnb_cli_val *thr = bnb_cli_get(&spec, &a, "threshold");
    if (!baseline)
        return bnb_usage_error("which baseline? (bnbench check --baseline NAME)");
    bnb_db *db = NULL;
    if ((rc = open_db(dbp, true, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    rerun_ctx ctx = {.db = dbp};
    int64_t latest = 0;
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    if (pick_run(db, NULL, NULL, &latest, err) || bnb_db_load_run(db, latest, &ri, NULL, err)) {
        fprintf(stderr, "bnbench: check: %s\n", err);
        bnb_db_close(db);
        return BNB_EXIT_USAGE;
    }
    snprintf(ctx.machine, sizeof ctx.machine, "%s", ri.machine_name);
    bnb_run_info_free(&ri);
    bnb_check_opts o = {.baseline = baseline,
                        .cmp = {.threshold = thr ? thr->d / 100.0 : 0},
                        .rerun = bnb_cli_get(&spec, &a, "no-rerun") ? NULL : cli_rerun,
                        .rerun_ctx = &ctx};
    rc = bnb_check(db, &o, err, sizeof err);
    if (rc < 0) {
        bnb_cli_error("%s", err);
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
    "median_s (the median seconds per iteration); e.g. peak/fma/avx512:gflops.\n"
    "\n"
    "  --machine NAME  the machine (default: the machine of the latest run)\n"
    "  --window N      runs before the latest that the z-score uses, >= 3 (default 10)\n"
    "  --limit N       at most the N newest runs\n"
    "  --db PATH       the SQLite store (default bnbench.db)\n";

int bnb_cmd_history(int argc, char **argv, const char *gdb)
{
    static const bnb_cli_cmd spec = {"history", bnb_usage_history, opt_history, 1, false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.npos != 1)
        return bnb_usage_error("which figure? (bnbench history CASE[:METRIC])");
    const bnb_cli_val *win = bnb_cli_get(&spec, &a, "window"),
                      *lim = bnb_cli_get(&spec, &a, "limit");
    const char *machine = bnb_cli_str(&spec, &a, "machine", NULL);
    long window = win ? win->l : BNB_HISTORY_WINDOW, limit = lim ? lim->l : 0;
    char cas[BNB_NAME_MAX + 160], metric[64], tc[TERM_MAX], tm[TERM_MAX];
    bnb_figure_split(a.pos[0], cas, sizeof cas, metric, sizeof metric);
    bnb_term_safe(cas, tc, sizeof tc);
    bnb_term_safe(metric, tm, sizeof tm);
    bnb_db *db = NULL;
    if ((rc = open_db(bnb_cli_str(&spec, &a, "db", gdb), true, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], note[BNB_ERR_MAX] = "";
    int64_t run = 0, mid = -1;
    bnb_hist_point *p = NULL;
    int n = 0;
    rc = BNB_EXIT_USAGE;
    if (pick_run(db, NULL, machine, &run, err) || bnb_db_run_machine(db, run, &mid, err) ||
        bnb_db_series(db, cas, metric, mid, 0, (int)limit, &p, &n, note, err)) {
        bnb_cli_error("%s", err);
        goto out;
    }
    say_note(note);
    if (n == 0) {
        bnb_cli_error("no value of %s:%s on this machine (check the name with bnbench show "
                      "latest)",
                      tc, tm);
        goto out;
    }
    printf("%s:%s on the machine of run %lld, %d run(s), oldest first\n", tc, tm, (long long)run,
           n);
    printf("%8s  %-26s %14s\n", "run", "started", tm);
    for (int i = 0; i < n; i++)
        printf("%8lld  %-26s %14.6g\n", (long long)p[i].run_id,
               bnb_term_safe(p[i].started_at, tc, sizeof tc), p[i].value);
    double mean, sd, z = bnb_history_z(p, n, (int)window, &mean, &sd);
    if (isfinite(z))
        printf("latest %.6g: z = %+.2f against the %d run(s) before it (mean %.6g, stddev %.3g)\n",
               p[n - 1].value, z, n - 1 < window ? n - 1 : (int)window, mean, sd);
    else
        printf("latest %.6g: z-score undefined (%d earlier run(s) in the window, need 3 with a "
               "nonzero spread)\n",
               p[n - 1].value, n - 1 < window ? n - 1 : (int)window);
    rc = BNB_EXIT_OK;
out:
    free(p);
    bnb_db_close(db);
    return rc;
}

/* ---- publish ----------------------------------------------------------------------- */

const char bnb_usage_publish[] =
    "usage: bnbench publish [RUN...|--all-unpublished] --url URL [--db PATH]\n"
    "                       [--token-file FILE] [--cacert FILE] [--insecure]\n"
    "                       [--timeout S] [--connect-timeout S] [--retries N]\n"
    "       bnbench publish --status [--db PATH]\n"
    "       bnbench publish --report FILE --url URL [--method PUT|POST] [--timeout S] ...\n"
    "\n"
    "Sends stored runs to a collector (`bnbench serve`): one JSON document per run\n"
    "POSTed to URL/api/v1/runs, where URL is the collector's base. The runs waiting\n"
    "in the DB's spool (PATH.spool/) go first, then the RUNs named (latest, an id,\n"
    "a uuid prefix or a baseline), or every run not yet published to URL with\n"
    "--all-unpublished; with neither, only the spool is sent. HTTP 201 (stored)\n"
    "and 200 (already stored: a run is stored once however often it is sent) are\n"
    "success and are recorded in the DB. A connection error, a timeout, 429 and\n"
    "5xx are retried with exponential backoff and jitter (Retry-After seconds\n"
    "honoured, at most 30 s); any other 4xx is not: the server's message is shown\n"
    "and the run moves to PATH.spool/rejected/ (never resent automatically; name\n"
    "it to send it again). A run that still could not be sent (also after 401,\n"
    "a redirect or a TLS failure) is kept in the spool, and the runs after it are\n"
    "spooled without trying: nothing is lost. --status lists the spool.\n"
    "\n"
    "The bearer token comes from --token-file FILE (one line) or BNBENCH_TOKEN,\n"
    "never from the command line, and is never printed; a token with a control\n"
    "character is refused. URLs are shown with user:password as ***. TLS\n"
    "certificates are verified (--cacert adds a CA bundle); --insecure turns that\n"
    "off and says so.\n"
    "\n"
    "--report FILE sends a report file instead (PUT by default, to URL itself),\n"
    "with the Content-Type of its extension; redirects are followed up to 5 times,\n"
    "to http or https only; the token may also come from BNB_PUBLISH_TOKEN, as\n"
    "before. Only a 2xx answer counts as published.\n"
    "\n"
    "  --url URL            the collector's base URL, or the report's URL (http/https)\n"
    "  --all-unpublished    every run of the DB not yet published to URL (not running\n"
    "                       ones, nor rejected ones)\n"
    "  --status             list the runs waiting in the spool, the rejected ones, and\n"
    "                       how many runs went to each collector\n"
    "  --db PATH            the SQLite store (default bnbench.db)\n"
    "  --token-file FILE    read the bearer token from FILE\n"
    "  --cacert FILE        CA certificates to verify the server with\n"
    "  --insecure           do not verify TLS certificates (said in the output)\n"
    "  --timeout S          seconds for one whole request, 1 to 3600 (default 30)\n"
    "  --connect-timeout S  seconds to connect, 1 to 600 (default 10)\n"
    "  --retries N          retries after the first try, 0 to 20 (default 3)\n"
    "  --report FILE        send this report file (md, html, json) instead of runs\n"
    "  --method M           PUT (default) or POST (--report only)\n"
    "\n"
    "exit codes: 0 everything sent; 1 some run was spooled or rejected (the reason\n"
    "is printed; nothing is lost), or the report upload failed; 2 on a usage error\n"
    "(nothing sent); 3 an error (the DB, the spool) stopped it after some runs\n"
    "were sent.\n";

/* Seconds as "42s", "5m", "3h", "2d". */
static void age_text(time_t then, char *out, size_t cap)
{
    long s = (long)(time(NULL) - then);
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(out, cap, "%lds", s);
    else if (s < 7200)
        snprintf(out, cap, "%ldm", s / 60);
    else if (s < 172800)
        snprintf(out, cap, "%ldh", s / 3600);
    else
        snprintf(out, cap, "%ldd", s / 86400);
}

static void print_spool(const char *title, const bnb_spool_entry *v, int n)
{
    printf("%s: %d run(s)\n", title, n);
    if (!n)
        return;
    printf("  %-36s %6s  %-16s %5s %5s  %s\n", "uuid", "run", "machine", "age", "tries",
           "collector: last error");
    for (int i = 0; i < n; i++) {
        char age[16], m[TERM_MAX], u[TERM_MAX], e[600];
        age_text(v[i].spooled_at, age, sizeof age);
        printf("  %-36s %6lld  %-16s %5s %5d  %s: %s\n", v[i].uuid, (long long)v[i].run_id,
               bnb_term_safe(v[i].machine, m, sizeof m), age, v[i].attempts,
               bnb_term_safe(v[i].url, u, sizeof u), bnb_term_safe(v[i].last_error, e, sizeof e));
    }
}

static int publish_status(const char *dbpath)
{
    char dir[4096], err[BNB_ERR_MAX];
    if (bnb_spool_path(dbpath, dir, sizeof dir, err, sizeof err))
        return bnb_usage_error("%s", err);
    bnb_spool_entry *w = NULL, *r = NULL;
    int nw = 0, nr = 0, bw = 0, br = 0;
    if (bnb_spool_list(dir, false, &w, &nw, &bw, err, sizeof err) ||
        bnb_spool_list(dir, true, &r, &nr, &br, err, sizeof err)) {
        free(w);
        return bnb_usage_error("%s", err);
    }
    char t1[TERM_MAX], t2[TERM_MAX];
    printf("spool of %s: %s/\n", bnb_term_safe(dbpath, t1, sizeof t1),
           bnb_term_safe(dir, t2, sizeof t2));
    print_spool("waiting (sent first by the next publish to their collector)", w, nw);
    print_spool("rejected (never resent automatically; `bnbench publish RUN --url URL` sends "
                "one again)",
                r, nr);
    if (bw + br)
        printf("%d file(s) in the spool are not spool files and were skipped\n", bw + br);
    free(w);
    free(r);
    /* what went where (the DB's publications table), when the DB exists */
    bnb_db *db = NULL;
    if (access(dbpath, F_OK) != 0)
        return BNB_EXIT_OK;
    bnb_publication_row *p = NULL;
    int np = 0;
    if (bnb_db_open(dbpath, 1, &db, err) || bnb_db_publications(db, &p, &np, err)) {
        bnb_db_close(db);
        return bnb_usage_error("%s", err);
    }
    printf("published: to %d collector(s)\n", np);
    for (int i = 0; i < np; i++)
        printf("  %6d run(s) to %s, last at %s\n", p[i].runs,
               bnb_term_safe(p[i].url, t1, sizeof t1), bnb_term_safe(p[i].last_at, t2, sizeof t2));
    free(p);
    bnb_db_close(db);
    return BNB_EXIT_OK;
}

/* publish --report FILE: the report upload of before. */
static int publish_report(const char *file, const char *url, const char *method,
                          const bnb_publish_opts *base)
{
    char q[BNB_CLI_QUOTE_MAX + 1], shown[1024];
    struct stat st;
    errno = 0;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode) || access(file, R_OK) != 0)
        return bnb_usage_error("cannot read %s: %s", bnb_cli_quote(file, q),
                               errno ? strerror(errno) : "not a regular file");
    bnb_publish_opts o = *base;
    o.method = method;
    o.max_redirects = BNB_PUBLISH_MAX_REDIRECTS;
    long status = 0;
    char err[BNB_ERR_MAX];
    if (o.insecure)
        printf("--insecure: TLS certificates are NOT verified\n");
    if (bnb_publish(file, url, &o, &status, err, sizeof err)) {
        bnb_cli_error("%s", err);
        return BNB_EXIT_FAIL;
    }
    char t1[TERM_MAX], t2[TERM_MAX];
    printf("published %s to %s (HTTP %ld)\n", bnb_term_safe(file, t1, sizeof t1),
           bnb_term_safe(bnb_publish_redact_url(url, shown, sizeof shown), t2, sizeof t2), status);
    return BNB_EXIT_OK;
}

int bnb_cmd_publish(int argc, char **argv, const char *gdb)
{
    static const bnb_cli_cmd spec = {"publish", bnb_usage_publish, opt_publish, BNB_CLI_MAX_POS,
                                     false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *url = bnb_cli_str(&spec, &a, "url", NULL),
               *report = bnb_cli_str(&spec, &a, "report", NULL),
               *method = bnb_cli_str(&spec, &a, "method", NULL),
               *token_file = bnb_cli_str(&spec, &a, "token-file", NULL),
               *cacert = bnb_cli_str(&spec, &a, "cacert", NULL),
               *dbpath = bnb_cli_str(&spec, &a, "db", gdb);
    const bnb_cli_val *to = bnb_cli_get(&spec, &a, "timeout"),
                      *cto = bnb_cli_get(&spec, &a, "connect-timeout"),
                      *retries = bnb_cli_get(&spec, &a, "retries");
    bool insecure = bnb_cli_get(&spec, &a, "insecure") != NULL,
         all = bnb_cli_get(&spec, &a, "all-unpublished") != NULL,
         status = bnb_cli_get(&spec, &a, "status") != NULL;
    char q[BNB_CLI_QUOTE_MAX + 1], err[BNB_ERR_MAX];

    if (status) {
        if (url || report || all || a.npos || token_file || cacert || insecure || to || cto ||
            retries || method)
            return bnb_usage_error("--status takes no other option but --db");
        return publish_status(dbpath);
    }
    if (report) {
        if (a.npos)
            return bnb_usage_error("--report FILE sends one file; unexpected argument \"%s\" "
                                   "(runs are published without --report)",
                                   bnb_cli_quote(a.pos[0], q));
        if (all || retries)
            return bnb_usage_error("%s applies to publishing runs, not to --report",
                                   all ? "--all-unpublished" : "--retries");
    } else if (method) {
        return bnb_usage_error("--method applies to --report only (runs are always POSTed)");
    }
    if (!url)
        return bnb_usage_error("--url URL is required%s", report
                                                              ? ""
                                                              : " (the collector's base URL, e.g. "
                                                                "http://127.0.0.1:8080)");
    if (a.npos && all)
        return bnb_usage_error("give RUNs or --all-unpublished, not both");
    char shown[BNB_PUBCLIENT_MAX_URL], endpoint[BNB_PUBCLIENT_MAX_URL];
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
        return bnb_usage_error("--url must start with http:// or https://, got \"%s\"",
                               bnb_cli_quote(bnb_publish_redact_url(url, shown, sizeof shown), q));
    if (!report && bnb_pubclient_endpoint(url, endpoint, shown, sizeof shown, err, sizeof err))
        return bnb_usage_error("%s", err);
    if (cacert && access(cacert, R_OK) != 0)
        return bnb_usage_error("--cacert %s: %s", bnb_cli_quote(cacert, q), strerror(errno));
    char *tok = NULL;
    const char *tsrc = NULL;
    if (bnb_pubclient_token(token_file, report != NULL, &tok, &tsrc, err, sizeof err))
        return bnb_usage_error("%s", err);
    bnb_publish_opts http = {.timeout_s = to ? to->l : 30,
                             .connect_timeout_s = cto ? cto->l : 10,
                             .token = tok ? tok : "",
                             .cacert = cacert,
                             .insecure = insecure};
    if (report) {
        rc = publish_report(report, url, method ? method : "PUT", &http);
        goto out_tok;
    }

    /* runs: the DB must exist (publishing never creates one) */
    bnb_db *db = NULL;
    int64_t *ids = NULL;
    int n = 0;
    rc = BNB_EXIT_USAGE;
    if (access(dbpath, F_OK) != 0) {
        bnb_usage_error("DB %s: %s", bnb_cli_quote(dbpath, q), strerror(errno));
        goto out_tok;
    }
    if (bnb_db_open(dbpath, 0, &db, err)) {
        bnb_usage_error("%s", err);
        goto out_tok;
    }
    if (all) {
        if (bnb_db_unpublished(db, shown, &ids, &n, err)) {
            bnb_usage_error("%s", err);
            goto out;
        }
    } else if (a.npos) {
        if (!(ids = calloc((size_t)a.npos, sizeof *ids))) {
            bnb_usage_error("out of memory");
            goto out;
        }
        for (int i = 0; i < a.npos; i++) {
            bnb_run_row row;
            if (bnb_db_resolve_run(db, a.pos[i], &ids[i], err) ||
                bnb_db_get_run_row(db, ids[i], &row, err)) {
                bnb_usage_error("%s", err);
                goto out;
            }
            if (!strcmp(row.status, "running")) {
                bnb_usage_error("run %lld (%s) is still running; a run is published once it "
                                "has ended",
                                (long long)ids[i], bnb_cli_quote(a.pos[i], q));
                goto out;
            }
            bool dup = false;
            for (int k = 0; k < n && !dup; k++)
                dup = ids[k] == ids[i];
            if (!dup)
                ids[n++] = ids[i];
        }
    }
    bnb_pubclient_opts po;
    bnb_pubclient_opts_default(&po);
    po.url = url;
    po.http = http;
    po.retries = retries ? (int)retries->l : po.retries;
    po.skip_rejected = all;
    bnb_pubclient_summary sum;
    int p = bnb_pubclient_publish(db, dbpath, ids, n, &po, &sum, err, sizeof err);
    fflush(stdout);
    int done = sum.stored + sum.already + sum.rejected;
    if (p < 0) {
        bnb_cli_error("%s", err);
        rc = done ? BNB_EXIT_PARTIAL : BNB_EXIT_USAGE;
        goto out;
    }
    printf("published to %s: %d stored, %d already stored; %d waiting in the spool, %d "
           "rejected\n",
           shown, sum.stored, sum.already, sum.spooled, sum.rejected);
    if (p > 0) {
        bnb_cli_error("%d run(s) waiting in the spool, %d rejected: %s (nothing is lost; `bnbench "
                      "publish --status` lists them)",
                      sum.spooled, sum.rejected,
                      sum.first_problem[0] ? sum.first_problem : "the spool was not sent");
        rc = BNB_EXIT_FAIL;
    } else {
        rc = BNB_EXIT_OK;
    }
out:
    free(ids);
    bnb_db_close(db);
out_tok:
    if (tok) {
        memset(tok, 0, strlen(tok));
        free(tok);
    }
    return rc;
}

/* ---- _gen-db (hidden) ------------------------------------------------------------- */

int bnb_cmd_gendb(int argc, char **argv, const char *gdb)
{
    static const bnb_cli_cmd spec = {"_gen-db",
                                     "usage: bnbench _gen-db [--runs N] [--machines M] -o PATH\n",
                                     opt_gendb, 0, false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *output = bnb_cli_str(&spec, &a, "output", NULL);
    const bnb_cli_val *rv = bnb_cli_get(&spec, &a, "runs");
    const bnb_cli_val *mv = bnb_cli_get(&spec, &a, "machines");
    long runs = rv ? rv->l : 1000, machines = mv ? mv->l : 1;
    if (!output)
        return bnb_usage_error("-o PATH is required");
    /* synthetic runs, written with fast unsafe writes: never into a real DB */
    char q[BNB_CLI_QUOTE_MAX + 1];
    if (access(output, F_OK) == 0)
        return bnb_usage_error("%s exists; _gen-db writes a new DB only", bnb_cli_quote(output, q));
    char err[BNB_ERR_MAX];
    if (bnb_gendb_fleet(output, (int)runs, (int)machines, err, sizeof err)) {
        bnb_cli_error("%s", err);
        return BNB_EXIT_USAGE;
    }
    printf("%ld synthetic runs written to %s\n", runs, output);
    return BNB_EXIT_OK;
}
