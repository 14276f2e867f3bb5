/*
 * test_cli_hardening.c - issue 13's CLI probes, each as a test: -o never
 * lands on the DB (or its -wal/-shm, through a symlink or a hard link) and
 * never leaves a half-written file; write errors (/dev/full) are reported
 * with exit 2; a missing option value reads the same in every command; a
 * 100 KB argument still gets an error that states its reason; publish's
 * usage errors exit 2; options a command does not honour are refused; a
 * machine name and messages that are not UTF-8 or hold control characters
 * give valid JSON and escaped terminal output. Also the parser
 * (suites/cli/cli.h) and the text functions (db/model/text.h) in-process.
 */
#include <cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/model/text.h"
#include "report_fixture.h"
#include "suites/cli/cli.h"

static char dir[64], dbpath[128];

/* Machine name: invalid UTF-8 (FF FE), an escape sequence and a C1 CSI. */
#define BAD_MACHINE "m\xff\xfe\x1b[31mred\xc2\x9b"
#define BAD_REASON  "clear\x1b[2J\x07 \xe2\x28\xa1"

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-hard-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/h.db", dir);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(hard, .init = setup, .fini = teardown, .timeout = 120);

/* Two runs of one case (ids 1 and 2); run 2 is on BAD_MACHINE with a
 * verdict whose reason holds control characters and invalid UTF-8. */
static void build_db(void)
{
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(dbpath, 0, &db, err), 0, "%s", err);
    int64_t a = fx_run(db, "good", "2024-01-01T00:00:00.000Z", "manual", NULL);
    fx_simple(db, a, "k", 15, 1e-3, 0.02, 0);
    fx_end(db, a);
    int64_t b =
        fx_run(db, BAD_MACHINE, "2024-01-02T00:00:00.000Z", "manual", "[\"warn\\u001b[1m\"]");
    fx_simple(db, b, "k", 15, 1e-3, 0.02, 0);
    fx_verdict(db, b, "t1", "plant/k:median_s", "<=", 1.0, 1e-3, true, "met", BAD_REASON);
    fx_end(db, b);
    bnb_db_close(db);
}

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) {
        *n = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    cr_assert_not_null(b);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

/* Exit 2, one line on stderr holding needle. */
static void expect_err(const fx_result *r, const char *needle)
{
    cr_assert_eq(r->code, 2, "exit %d, stderr: %s", r->code, r->err);
    size_t len = strlen(r->err);
    cr_assert(len > 0 && r->err[len - 1] == '\n' && !memchr(r->err, '\n', len - 1),
              "stderr is not one line: %s", r->err);
    cr_assert(strstr(r->err, needle), "stderr lacks \"%s\": %s", needle, r->err);
}

/* Entries of dir other than the DB's own files and the capture files. */
static int stray_files(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++; /* a temporary file left behind */
    closedir(d);
    return n;
}

/* ---- -o onto the DB ---------------------------------------------------------- */

Test(hard, output_onto_the_db_is_refused_and_the_db_unchanged)
{
    build_db();
    char wal[160], shm[160], slink[160], hard[160];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    snprintf(shm, sizeof shm, "%s-shm", dbpath);
    snprintf(slink, sizeof slink, "%s/sym.md", dir);
    snprintf(hard, sizeof hard, "%s/hard.md", dir);
    cr_assert_eq(symlink(dbpath, slink), 0);
    cr_assert_eq(link(dbpath, hard), 0);
    size_t n0, n1;
    unsigned char *before = slurp(dbpath, &n0);
    cr_assert(before && n0 > 0);
    const char *targets[] = {dbpath, wal, shm, slink, hard};
    const char *what[] = {"the DB itself", "write-ahead log", "shared-memory", "the DB itself",
                          "the DB itself"};
    fx_result r;
    for (int i = 0; i < 5; i++) {
        FX_BNBENCH(&r, dir, "--db", dbpath, "report", "1", "-o", targets[i]);
        expect_err(&r, what[i]);
        cr_assert(strstr(r.err, "bnbench report: -o "), "%s", r.err);
        FX_BNBENCH(&r, dir, "export", "1", "--db", dbpath, "--output", targets[i]);
        expect_err(&r, what[i]);
        FX_BNBENCH(&r, dir, "compare", "1", "2", "--db", dbpath, "-o", targets[i]);
        expect_err(&r, what[i]);
        FX_BNBENCH(&r, dir, "compare", "1", "2", "--db", dbpath, "--format", "json", "-o",
                   targets[i]);
        expect_err(&r, what[i]);
    }
    /* a relative path through another directory name is the same file */
    char rel[200];
    snprintf(rel, sizeof rel, "%s/../%s/h.db", dir, strrchr(dir, '/') + 1);
    FX_BNBENCH(&r, dir, "--db", dbpath, "report", "1", "-o", rel);
    expect_err(&r, "the DB itself");
    unsigned char *after = slurp(dbpath, &n1);
    cr_assert_eq(n0, n1, "the DB changed size");
    cr_assert_eq(memcmp(before, after, n0), 0, "the DB changed");
    struct stat st;
    cr_assert_eq(lstat(slink, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the symlink was replaced");
    cr_assert_eq(stray_files(), 0, "a temporary file was left");
    free(before);
    free(after);
}

/* ---- write errors ---------------------------------------------------------------- */

Test(hard, write_errors_are_reported_with_exit_2)
{
    build_db();
    fx_result r;
    FX_BNBENCH(&r, dir, "--db", dbpath, "report", "1", "-o", "/dev/full");
    expect_err(&r, "bnbench report: cannot write /dev/full: No space left on device");
    FX_BNBENCH(&r, dir, "export", "1", "--db", dbpath, "-o", "/dev/full");
    expect_err(&r, "bnbench export: cannot write /dev/full: No space left on device");
    FX_BNBENCH(&r, dir, "export", "1", "--db", dbpath, "--format", "csv", "-o", "/dev/full");
    expect_err(&r, "bnbench export: cannot write /dev/full: No space left on device");
    FX_BNBENCH(&r, dir, "compare", "1", "2", "--db", dbpath, "-o", "/dev/full");
    expect_err(&r, "bnbench compare: cannot write /dev/full: No space left on device");
    FX_BNBENCH(&r, dir, "compare", "1", "2", "--db", dbpath, "--format", "md", "-o", "/dev/full");
    expect_err(&r, "bnbench compare: cannot write /dev/full: No space left on device");
    FX_BNBENCH(&r, dir, "compare", "1", "2", "--db", dbpath, "--format", "json", "-o", "/dev/full");
    expect_err(&r, "bnbench compare: cannot write /dev/full: No space left on device");
    /* a directory that does not exist: the message names the file and why */
    FX_BNBENCH(&r, dir, "--db", dbpath, "report", "1", "-o", "/nonexistent-bnb/r.md");
    expect_err(&r, "cannot write /nonexistent-bnb/r.md: No such file or directory");
    cr_assert_eq(stray_files(), 0);
}

/* Runs bnbench with stdout on /dev/full; stderr into r->err. */
static void spawn_full(fx_result *r, const char *const *args)
{
    char errp[256];
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    pid_t pid = fx_start("/dev/full", errp, args);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    fx_read(errp, r->err, sizeof r->err);
    r->out[0] = '\0';
    cr_assert(WIFEXITED(st), "bnbench died with signal %d; stderr: %s", WTERMSIG(st), r->err);
    r->code = WEXITSTATUS(st);
}

/* Every command's standard output is checked in one place (main): a full
 * disk under stdout is an error with exit 2, never a silent success. */
Test(hard, a_full_standard_output_is_an_error_in_every_command)
{
    build_db();
    static const struct {
        const char *args[8], *prefix;
    } cmds[] = {
        {{"runs", "--db", NULL}, "bnbench runs: "},
        {{"show", "1", "--db", NULL}, "bnbench show: "},
        {{"list", NULL}, "bnbench list: "},
        {{"help", NULL}, "bnbench help: "},
        {{"help", "runs", NULL}, "bnbench help: "},
        {{"--version", NULL}, "bnbench: "},
        {{"db", "check", "--db", NULL}, "bnbench db: "},
        {{"baseline", "list", "--db", NULL}, "bnbench baseline: "},
        {{"history", "plant/k", "--db", NULL}, "bnbench history: "},
        {{"run", "--list", "--quick", NULL}, "bnbench run: "},
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        const char *a[10];
        int n = 0;
        for (; cmds[k].args[n]; n++)
            a[n] = cmds[k].args[n];
        if (!strcmp(a[n - 1], "--db"))
            a[n++] = dbpath;
        a[n] = NULL;
        fx_result *r = malloc(sizeof *r);
        cr_assert_not_null(r);
        spawn_full(r, a);
        char want[160];
        snprintf(want, sizeof want, "%scannot write standard output: No space left on device\n",
                 cmds[k].prefix);
        cr_assert_eq(r->code, 2, "%s > /dev/full: exit %d, stderr: %s", a[0], r->code, r->err);
        cr_assert(strstr(r->err, want), "%s > /dev/full: stderr lacks \"%s\": %s", a[0], want,
                  r->err);
        free(r);
    }
}

Test(hard, a_report_replaces_the_old_file_whole)
{
    build_db();
    char out[160];
    snprintf(out, sizeof out, "%s/r.json", dir);
    FILE *f = fopen(out, "w");
    fputs("old content that is longer than nothing", f);
    fclose(f);
    cr_assert_eq(chmod(out, 0640), 0);
    fx_result r;
    FX_BNBENCH(&r, dir, "export", "1", "--db", dbpath, "-o", out);
    cr_assert_eq(r.code, 0, "%s", r.err);
    size_t n;
    char *text = (char *)slurp(out, &n);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "the file is not the whole export: %.80s", text);
    cJSON_Delete(j);
    struct stat st;
    cr_assert_eq(stat(out, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
    cr_assert_eq(stray_files(), 0);
    free(text);
}

/* ---- parsing ----------------------------------------------------------------------- */

Test(hard, a_missing_value_reads_the_same_in_every_command)
{
    static const char *const cmds[] = {"runs",    "show",     "export", "db",      "report",
                                       "compare", "baseline", "check",  "history", "run"};
    fx_result r;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        FX_BNBENCH(&r, dir, cmds[i], "--db");
        char want[128];
        snprintf(want, sizeof want, "bnbench %s: option '--db' needs a value\n", cmds[i]);
        cr_assert_eq(r.code, 2, "%s: %d", cmds[i], r.code);
        cr_assert_str_eq(r.err, want);
    }
    FX_BNBENCH(&r, dir, "--db");
    cr_assert_str_eq(r.err, "bnbench: option '--db' needs a value\n");
    FX_BNBENCH(&r, dir, "list", "--suite");
    cr_assert_str_eq(r.err, "bnbench list: option '--suite' needs a value\n");
    FX_BNBENCH(&r, dir, "topo", "--cpus");
    cr_assert_str_eq(r.err, "bnbench topo: option '--cpus' needs a value\n");
    FX_BNBENCH(&r, dir, "counters", "--counters");
    cr_assert_str_eq(r.err, "bnbench counters: option '--counters' needs a value\n");
    FX_BNBENCH(&r, dir, "publish", "f", "--url");
    cr_assert_str_eq(r.err, "bnbench publish: option '--url' needs a value\n");
    /* an option in the place of the value is not taken as the value */
    FX_BNBENCH(&r, dir, "report", "-o", "--db", "x.db");
    cr_assert_str_eq(r.err, "bnbench report: option '-o' needs a value\n");
    cr_assert_eq(r.code, 2);
    FX_BNBENCH(&r, dir, "history", "x", "--bogus");
    cr_assert_str_eq(r.err, "bnbench history: unknown option '--bogus' (bnbench history --help)\n");
}

Test(hard, a_100k_argument_still_gets_its_reason)
{
    size_t n = 100 * 1024;
    char *big = malloc(n + 16), *opt = malloc(n + 16);
    cr_assert(big && opt);
    memset(big, 'x', n);
    big[n] = '\0';
    snprintf(opt, n + 16, "--limit=%s", big);
    fx_result r;
    FX_BNBENCH(&r, dir, "show", big);
    expect_err(&r, "is 102400 bytes long; at most 1024 are accepted");
    cr_assert(strlen(r.err) < 300, "%zu", strlen(r.err));
    FX_BNBENCH(&r, dir, "runs", opt);
    expect_err(&r, "bnbench runs: --limit \"");
    cr_assert(strstr(r.err, "at most 1024 are accepted"), "%s", r.err);
    FX_BNBENCH(&r, dir, "run", "--case", big);
    expect_err(&r, "at most 1024 are accepted");
    FX_BNBENCH(&r, dir, big);
    expect_err(&r, "unknown command \"xxxx");
    cr_assert(strstr(r.err, "...") && strlen(r.err) < 300, "%s", r.err);
    /* an unknown option that long: elided in the middle, the hint kept */
    big[0] = big[1] = '-';
    FX_BNBENCH(&r, dir, "report", big);
    expect_err(&r, "...");
    cr_assert(strstr(r.err, "' (bnbench report --help)\n"), "%s", r.err);
    free(big);
    free(opt);
}

/* Values the CLI accepts (up to 1024 bytes) but that are quoted by messages
 * built below it in 512 bytes: each message still ends with its reason,
 * the value shortened in the middle with its length. */
Test(hard, long_values_keep_the_reason_of_every_message)
{
    build_db();
    static const struct {
        const char *args[8]; /* "V" is the long value, "/no/V" a path ending in it */
        const char *reason;  /* the end of the message */
    } cases[] = {
        {{"run", "--suite", "V", "--db", "DB"}, "\" (known: "},
        {{"run", "--suite", "peak", "--case", "V", "--db", "DB"}, "\" (try bnbench list)\n"},
        {{"run", "--cpus", "V", "--quick", "--db", "DB"}, "physical|scatter|compact)\n"},
        {{"run", "--targets", "/no/V", "--quick", "--db", "DB"},
         ": cannot open: No such file or directory\n"},
        {{"show", "V", "--db", "DB"}, "uuid prefix of 8+ characters or a baseline name)\n"},
        {{"export", "V", "--format", "json", "--db", "DB"},
         "uuid prefix of 8+ characters or a baseline name)\n"},
        {{"compare", "1", "V", "--db", "DB"}, "uuid prefix of 8+ characters or a baseline name)\n"},
        {{"report", "V", "--db", "DB"}, "uuid prefix of 8+ characters or a baseline name)\n"},
        {{"check", "--baseline", "V", "--no-rerun", "--db", "DB"},
         "(bnbench baseline list shows the names)\n"},
        {{"baseline", "set", "x", "V", "--db", "DB"},
         "uuid prefix of 8+ characters or a baseline name)\n"},
        {{"runs", "--db", "/no/V"}, ": no such file\n"},
        {{"compare", "--machine", "V", "--machine", "good", "--db", "DB"},
         " (bnbench runs lists the machines)\n"},
    };
    static const size_t lens[] = {400, 600, 1000};
    for (size_t li = 0; li < 3; li++) {
        char v[1100], path[1100];
        memset(v, 'y', lens[li]);
        v[lens[li]] = '\0';
        snprintf(path, sizeof path, "/no/%.*s", (int)lens[li] - 4, v);
        char bytes[32];
        snprintf(bytes, sizeof bytes, " (%zu bytes)", lens[li]);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            const char *a[10];
            int n = 0;
            for (; n < 8 && cases[k].args[n]; n++) {
                const char *x = cases[k].args[n];
                a[n] = !strcmp(x, "V")       ? v
                       : !strcmp(x, "/no/V") ? path
                       : !strcmp(x, "DB")    ? dbpath
                                             : x;
            }
            a[n] = NULL;
            fx_result *r = malloc(sizeof *r);
            cr_assert_not_null(r);
            fx_spawn(r, dir, a);
            expect_err(r, cases[k].reason);
            cr_assert(strstr(r->err, bytes), "%s %s (%zu bytes): no length note: %s", a[0], a[1],
                      lens[li], r->err);
            cr_assert_lt(strlen(r->err), 511, "%s %s: %s", a[0], a[1], r->err);
            if (cases[k].reason[strlen(cases[k].reason) - 1] == '\n') {
                size_t e = strlen(r->err), rl = strlen(cases[k].reason);
                cr_assert_str_eq(r->err + e - rl, cases[k].reason, "%s %s (%zu bytes): %s", a[0],
                                 a[1], lens[li], r->err);
            }
            free(r);
        }
    }
}

Test(hard, publish_usage_errors_exit_2)
{
    char file[160], db[160];
    snprintf(file, sizeof file, "%s/r.md", dir);
    snprintf(db, sizeof db, "%s/none.db", dir);
    FILE *f = fopen(file, "w");
    fputs("# r\n", f);
    fclose(f);
    const char *url = "http://127.0.0.1:9/";
    fx_result r;
    FX_BNBENCH(&r, dir, "publish", "--report", file);
    expect_err(&r, "bnbench publish: --url URL is required");
    FX_BNBENCH(&r, dir, "publish", "latest", "--db", db);
    expect_err(&r, "bnbench publish: --url URL is required (the collector's base URL");
    FX_BNBENCH(&r, dir, "publish", "--url", url, "--db", db);
    expect_err(&r, "DB ");
    cr_assert(strstr(r.err, "none.db: No such file or directory"), "%s", r.err);
    cr_assert_neq(access(db, F_OK), 0, "publish never creates a DB");
    FX_BNBENCH(&r, dir, "publish", "--report", file, "--url", "ftp://x/");
    expect_err(&r, "--url must start with http:// or https://, got \"ftp://x/\"");
    FX_BNBENCH(&r, dir, "publish", "latest", "--url", "ftp://x/", "--db", db);
    expect_err(&r, "--url must start with http:// or https://, got \"ftp://x/\"");
    FX_BNBENCH(&r, dir, "publish", "--url", "http://h/x?a=b", "--db", db);
    expect_err(&r, "it may not hold a query or fragment");
    FX_BNBENCH(&r, dir, "publish", "--report", file, "--url", url, "--method", "GET");
    expect_err(&r, "--method must be PUT or POST, got \"GET\"");
    FX_BNBENCH(&r, dir, "publish", "--report", file, "--url", url, "--timeout", "0");
    expect_err(&r, "--timeout must be 1 to 3600 seconds, got \"0\"");
    FX_BNBENCH(&r, dir, "publish", "--url", url, "--retries", "21", "--db", db);
    expect_err(&r, "--retries must be an integer from 0 to 20, got \"21\"");
    FX_BNBENCH(&r, dir, "publish", "--report", "/nonexistent-bnb/r.md", "--url", url);
    expect_err(&r, "cannot read /nonexistent-bnb/r.md: No such file or directory");
    FX_BNBENCH(&r, dir, "publish", "--report", file, "--url", url, "--retries", "2");
    expect_err(&r, "--retries applies to publishing runs, not to --report");
    FX_BNBENCH(&r, dir, "publish", "latest", "--url", url, "--method", "PUT", "--db", db);
    expect_err(&r, "--method applies to --report only");
    FX_BNBENCH(&r, dir, "publish", "1", "--all-unpublished", "--url", url, "--db", db);
    expect_err(&r, "give RUNs or --all-unpublished, not both");
    FX_BNBENCH(&r, dir, "publish", "--status", "--url", url, "--db", db);
    expect_err(&r, "--status takes no other option but --db");
    FX_BNBENCH(&r, dir, "publish", "--url", url, "--db", db, "--token");
    expect_err(&r, "unknown option '--token'");
    FX_BNBENCH(&r, dir, "publish", "--url", url, "--db", db, "--token-file", "/nonexistent-bnb/t");
    expect_err(&r, "cannot read token file /nonexistent-bnb/t: No such file or directory");
    FX_BNBENCH(&r, dir, "publish", "--help");
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "2 on a usage error"), "%s", r.out);
}

/* Each command accepts what its --help lists and refuses the rest. */
Test(hard, options_not_honoured_are_refused)
{
    fx_result r;
    FX_BNBENCH(&r, dir, "history", "x", "--format", "bogus");
    expect_err(&r, "bnbench history: unknown option '--format'");
    FX_BNBENCH(&r, dir, "check", "--baseline", "b", "-o", "x.md");
    expect_err(&r, "bnbench check: unknown option '-o'");
    FX_BNBENCH(&r, dir, "runs", "--format", "json");
    expect_err(&r, "bnbench runs: unknown option '--format'");
    FX_BNBENCH(&r, dir, "show", "1", "-o", "x");
    expect_err(&r, "bnbench show: unknown option '-o'");
    FX_BNBENCH(&r, dir, "compare", "1", "2", "--format", "html");
    expect_err(&r, "--format must be text, md or json, got \"html\"");
    FX_BNBENCH(&r, dir, "run", "--quiet=yes");
    expect_err(&r, "option '--quiet' takes no value, got \"yes\"");
    FX_BNBENCH(&r, dir, "compare", "--machine", "a", "--machine", "b", "--machine", "c");
    expect_err(&r, "option '--machine' given more than 2 times");
    static const char *const cmds[] = {"report",  "compare", "baseline", "check",   "history",
                                       "publish", "runs",    "show",     "export",  "db",
                                       "run",     "list",    "topo",     "counters"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        FX_BNBENCH(&r, dir, cmds[i], "--help");
        cr_assert_eq(r.code, 0, "%s --help: %d", cmds[i], r.code);
        char want[64];
        snprintf(want, sizeof want, "usage: bnbench %s", cmds[i]);
        cr_assert(strstr(r.out, want), "%s --help: %s", cmds[i], r.out);
    }
}

/* ---- text from the DB ------------------------------------------------------------- */

/* No byte a terminal acts on: nothing below 0x20 but newline, no DEL, no C1. */
static void expect_terminal_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        cr_assert(*p >= 0x20 || *p == '\n', "raw control byte 0x%02x in: %s", *p, s);
        cr_assert(*p != 0x7f);
        cr_assert(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0), "raw C1 in output");
    }
    cr_assert(bnb_utf8_valid(s, strlen(s)), "output is not UTF-8");
}

Test(hard, names_that_are_not_utf8_give_valid_json_and_escaped_terminal_output)
{
    build_db();
    fx_result r;
    FX_BNBENCH(&r, dir, "export", "2", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(bnb_utf8_valid(r.out, strlen(r.out)), "export is not UTF-8");
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j);
    const cJSON *ctx = cJSON_GetObjectItem(j, "context");
    const cJSON *host = cJSON_GetObjectItem(ctx, "host_name");
    cr_assert(cJSON_IsString(host));
    /* each invalid byte one U+FFFD; the escape stays (JSON escapes it) */
    cr_assert_str_eq(host->valuestring, "m\xef\xbf\xbd\xef\xbf\xbd\x1b[31mred\xc2\x9b");
    const cJSON *v =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ctx, "bnbench"), "verdicts"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(v, "reason")->valuestring,
                     "clear\x1b[2J\x07 \xef\xbf\xbd(\xef\xbf\xbd");
    cJSON_Delete(j);
    cr_assert_null(strchr(r.out, 0x1b), "a raw ESC in the JSON text");

    FX_BNBENCH(&r, dir, "runs", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_terminal_safe(r.out);
    cr_assert(strstr(r.out, "m\\xff\\xfe\\x1b[31mred"), "%s", r.out);
    FX_BNBENCH(&r, dir, "show", "2", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_terminal_safe(r.out);
    cr_assert(strstr(r.out, "machine   m\\xff\\xfe\\x1b[31mred\\xc2\\x9b"), "%s", r.out);
    cr_assert(strstr(r.out, "clear\\x1b[2J\\x07 \\xe2(\\xa1"), "%s", r.out);
    cr_assert(strstr(r.out, "warn\\x1b[1m"), "%s", r.out);
    FX_BNBENCH(&r, dir, "compare", "--machine", "good", "--machine", BAD_MACHINE, "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_terminal_safe(r.out);
    FX_BNBENCH(&r, dir, "compare", "--machine", "good", "--machine", BAD_MACHINE, "--db", dbpath,
               "--format", "json");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(bnb_utf8_valid(r.out, strlen(r.out)));
    j = cJSON_Parse(r.out);
    cr_assert_not_null(j);
    cJSON_Delete(j);
    FX_BNBENCH(&r, dir, "baseline", "set", "b\x1b]0;x\x07", "2", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_terminal_safe(r.out);
    FX_BNBENCH(&r, dir, "baseline", "list", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_terminal_safe(r.out);
    cr_assert(strstr(r.out, "b\\x1b]0;x\\x07"), "%s", r.out);
    /* an error quoting such a name escapes it too */
    FX_BNBENCH(&r, dir, "compare", "--machine", "good", "--machine", "\x1b[2Jnope", "--db", dbpath);
    cr_assert_eq(r.code, 2);
    expect_terminal_safe(r.err);
}

/* ---- in-process: the parser and the text functions ---------------------------------- */

static const bnb_cli_opt t_opts[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "output", .shortc = 'o', .kind = BNB_CLI_NONEMPTY},
    {.name = "n", .kind = BNB_CLI_LONG, .lo = 1, .hi = 9},
    {.name = "x", .kind = BNB_CLI_DOUBLE, .lo = 0, .hi = 1, .excl = true},
    {.name = "m", .kind = BNB_CLI_STR, .repeat = 2},
    {.name = "q", .kind = BNB_CLI_FLAG},
    {0},
};
static const bnb_cli_cmd t_cmd = {"t", "usage: t\n", t_opts, 2, false};

static int parse(bnb_cli_args *a, const char *const *args)
{
    char *argv[16] = {(char *)"t"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    return bnb_cli_parse(&t_cmd, argc, argv, a);
}

#define PARSE(a, ...) parse((a), (const char *const[]){__VA_ARGS__, NULL})

Test(parser, forms_and_errors)
{
    bnb_cli_args a;
    cr_assert_eq(PARSE(&a, "p1", "--db=x.db", "-oout", "--n", "3", "--x=0.5", "--q", "--", "-p2"),
                 BNB_CLI_OK, "%s", a.msg);
    cr_assert_str_eq(bnb_cli_str(&t_cmd, &a, "db", NULL), "x.db");
    cr_assert_str_eq(bnb_cli_str(&t_cmd, &a, "output", NULL), "out");
    cr_assert_eq(bnb_cli_get(&t_cmd, &a, "n")->l, 3);
    cr_assert_eq(bnb_cli_get(&t_cmd, &a, "x")->d, 0.5);
    cr_assert_not_null(bnb_cli_get(&t_cmd, &a, "q"));
    cr_assert_null(bnb_cli_get(&t_cmd, &a, "m"));
    cr_assert_eq(a.npos, 2);
    cr_assert_str_eq(a.pos[1], "-p2");
    cr_assert_eq(PARSE(&a, "--m", "a", "--m=b"), BNB_CLI_OK);
    cr_assert_str_eq(bnb_cli_get(&t_cmd, &a, "m")->strs[1], "b");
    cr_assert_eq(PARSE(&a, "--m", "a", "--m=b", "--m", "c"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: option '--m' given more than 2 times");
    cr_assert_eq(PARSE(&a, "--n", "10"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: --n must be an integer from 1 to 9, got \"10\"");
    cr_assert_eq(PARSE(&a, "--x", "1"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: --x must be a number in (0, 1), got \"1\"");
    cr_assert_eq(PARSE(&a, "--db="), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: --db must not be empty");
    cr_assert_eq(PARSE(&a, "-o"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: option '-o' needs a value");
    cr_assert_eq(PARSE(&a, "--db", "--q"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: option '--db' needs a value");
    cr_assert_eq(PARSE(&a, "--dbx"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: unknown option '--dbx' (bnbench t --help)");
    cr_assert_eq(PARSE(&a, "-z"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: unknown option '-z' (bnbench t --help)");
    cr_assert_eq(PARSE(&a, "a", "b", "c"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: unexpected argument \"c\" (bnbench t --help)");
    cr_assert_eq(PARSE(&a, "--q", "-h", "--bogus"), BNB_CLI_HELP);
    cr_assert_eq(PARSE(&a, "--bogus\x1b[2J"), BNB_CLI_ERROR);
    cr_assert_str_eq(a.msg, "bnbench t: unknown option '--bogus\\x1b[2J' (bnbench t --help)");
}

Test(parser, quote_elides_in_the_middle)
{
    char big[300], q[BNB_CLI_QUOTE_MAX + 1];
    for (int i = 0; i < 299; i++)
        big[i] = (char)('a' + i % 26);
    big[299] = '\0';
    bnb_cli_quote(big, q);
    cr_assert_eq(strlen(q), BNB_CLI_QUOTE_MAX);
    cr_assert_eq(strncmp(q, big, 10), 0);
    cr_assert(strstr(q, "..."));
    cr_assert_str_eq(q + strlen(q) - 5, big + 294, "the end is kept");
    cr_assert_str_eq(bnb_cli_quote("short", q), "short");
}

Test(text, quote_shortens_long_values_and_gives_their_length)
{
    char v[1001], q[BNB_QUOTE_CAP];
    for (int i = 0; i < 1000; i++)
        v[i] = (char)('a' + i % 26);
    v[1000] = '\0';
    bnb_quote(v, q);
    cr_assert_str_eq(q + strlen(q) - 13, " (1000 bytes)", "%s", q);
    cr_assert_eq(strlen(q), BNB_QUOTE_MAX + 13, "%s", q);
    cr_assert_eq(strncmp(q, v, 60), 0, "the start is kept: %s", q);
    cr_assert_eq(strncmp(q + BNB_QUOTE_MAX - 10, v + 990, 10), 0, "the end is kept: %s", q);
    cr_assert(strstr(q, "..."));
    /* up to BNB_QUOTE_MAX printed bytes: whole, no length */
    v[BNB_QUOTE_MAX] = '\0';
    cr_assert_str_eq(bnb_quote(v, q), v);
    /* control characters are escaped (4 bytes each) and count as printed */
    char ctl[61];
    memset(ctl, '\x1b', 60);
    ctl[60] = '\0';
    bnb_quote(ctl, q);
    cr_assert_null(strchr(q, '\x1b'));
    size_t n = strlen(q);
    cr_assert(strstr(q, "\\x1b...\\x1b") && n > 15 && !strcmp(q + n - 15, "\\x1b (60 bytes)") &&
                  n - 11 <= BNB_QUOTE_MAX,
              "%s", q);
    cr_assert_str_eq(bnb_quote(NULL, q), "");
}

Test(text, utf8_rules)
{
    cr_assert(bnb_utf8_valid("", 0));
    cr_assert(bnb_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    cr_assert_not(bnb_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    cr_assert_not(bnb_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    cr_assert_not(bnb_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    cr_assert_not(bnb_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    cr_assert_not(bnb_utf8_valid("\xe2\x82", 2));         /* cut short */
    char *s = bnb_utf8_sanitize("a\xff\xe2\x82"
                                "b\xc3\xa9");
    cr_assert_str_eq(s, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "b\xc3\xa9");
    free(s);
    char buf[64];
    cr_assert_str_eq(bnb_term_safe("a\x1b[1m\x7f\xc2\x9b\xc3\xa9\xff", buf, sizeof buf),
                     "a\\x1b[1m\\x7f\\xc2\\x9b\xc3\xa9\\xff");
    cr_assert_str_eq(bnb_term_safe("abcdefghij", buf, 8), "abcd...");
    cr_assert_str_eq(bnb_term_safe("ab\x01", buf, 6), "ab...");
    cr_assert_str_eq(bnb_term_safe("ab\x01", buf, 7), "ab\\x01");
}
