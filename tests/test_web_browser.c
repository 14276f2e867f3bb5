/*
 * test_web_browser.c - the fleet web view in a real browser: the built
 * bnbench serve on 127.0.0.1:0 (port from its `listening on` line) over a
 * scratch DB planted with four runs each of two machines, and Debian's
 * headless chromium loading /, /machines/ID, /runs/UUID and /compare?a=&b=.
 *
 * For each page the DOM chromium rendered (--dump-dom) must hold what the
 * page is for (machine names, the score the report computes, the history
 * charts, the compare table with compare.c's verdict counts), the screenshot
 * (--screenshot) must be a PNG, and chromium's log must hold no console
 * message at all: the pages carry no script, so any console line is an
 * error (a blocked resource, a CSP violation, a failed load). Chromium runs
 * in its own process group with its own profile directory and is killed
 * with its group after 30 s; serve is stopped with SIGTERM and reaped.
 * Without chromium the test is skipped, saying why. With BNB_SHOTS_DIR set,
 * the four screenshots are copied there (fleet, machine, run, compare.png).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "reports/compare.h"
#include "reports/report.h"
#include "report_fixture.h"

#define CHROME_TIMEOUT_S 30

static char dir[64], dbp[128], outp[128], errp[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-webb-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbp, sizeof dbp, "%s/fleet.db", dir);
    snprintf(outp, sizeof outp, "%s/serve.out", dir);
    snprintf(errp, sizeof errp, "%s/serve.err", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int r = system(cmd);
    (void)r;
}

TestSuite(web_browser, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the planted fleet --------------------------------------------------------- */

typedef struct planted {
    int64_t latest[2]; /* the newest run of each machine */
    int64_t machine[2];
    char score[2][32];
    const char *word[2];
    char counts[200]; /* compare's counts line for latest[0] vs latest[1] */
    char uuid[40];    /* uuid of latest[0] */
} planted;

static const char *const names[2] = {"ci-xeon", "lab-epyc"};

static void rate_case(bnb_db *db, int64_t run, const char *suite, const char *name,
                      const char *pkey, const char *pval, double centre, const char *metric,
                      const char *unit, double work)
{
    double x[15];
    fx_dist(x, 15, centre, 0.02, 0);
    fx_case(db, run, suite, name, pkey, pval, x, 15, metric, unit, work);
}

static void plant(planted *p)
{
    bnb_db *db;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(dbp, 0, &db, err), 0, "%s", err);
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 4; k++) {
            char at[32];
            snprintf(at, sizeof at, "2026-11-%02dT0%d:00:00Z", 1 + k, 2 + m);
            int64_t run = fx_run(db, names[m], at, "nightly", NULL);
            /* the second machine is faster at GEMM, slower at triad; both drift */
            double g = (m ? 0.7e-3 : 1.0e-3) * (1.0 + 0.03 * k), t = (m ? 1.3e-2 : 1.0e-2);
            rate_case(db, run, "peak", "fma/avx2", NULL, NULL, 2.0e-6, "gflops", "GFLOP/s",
                      1.9e5 / 1e9);
            rate_case(db, run, "peak", "triad", NULL, NULL, t, "gbps", "GB/s", 4.0e8 / 1e9);
            rate_case(db, run, "matmul", "engine/sgemm", "n", "256", g, "gflops", "GFLOP/s",
                      2.0 * 256 * 256 * 256 / 1e9);
            rate_case(db, run, "matmul", "engine/sgemm", "n", "512", 8 * g, "gflops", "GFLOP/s",
                      2.0 * 512 * 512 * 512 / 1e9);
            fx_simple(db, run, "pool-alloc", 15, 2.0e-8, 0.02, 0);
            double gf = 2.0 * 256 * 256 * 256 / 1e9 / g;
            fx_verdict(db, run, "sgemm-256", "matmul/engine/sgemm/n=256:gflops", ">=", 30, gf, true,
                       gf >= 30 ? "met" : "missed", "");
            fx_verdict(db, run, "pool-p50", "plant/pool-alloc:median_s", "<=", 5e-8, 2e-8, true,
                       "met", "");
            fx_verdict(db, run, "device-copy", "device/copy:gbps", ">=", 10, NAN, false,
                       "not applicable", "no device on this machine");
            fx_end(db, run);
            p->latest[m] = run;
        }
    for (int m = 0; m < 2; m++) {
        double s, cov;
        cr_assert_eq(bnb_report_score(db, p->latest[m], &s, &cov, &p->word[m], err, sizeof err), 0,
                     "%s", err);
        snprintf(p->score[m], sizeof p->score[m], "%.1f/100", s);
        cr_assert_eq(bnb_db_run_machine(db, p->latest[m], &p->machine[m], err), 0, "%s", err);
    }
    bnb_run_row row;
    cr_assert_eq(bnb_db_get_run_row(db, p->latest[0], &row, err), 0, "%s", err);
    snprintf(p->uuid, sizeof p->uuid, "%s", row.uuid);
    bnb_case_result *ca, *cb;
    int na, nb, n;
    cr_assert_eq(bnb_db_load_cases(db, p->latest[0], &ca, &na, err), 0, "%s", err);
    cr_assert_eq(bnb_db_load_cases(db, p->latest[1], &cb, &nb, err), 0, "%s", err);
    bnb_cmp_row *rows;
    cr_assert_eq(bnb_compare_runs(ca, na, cb, nb, NULL, &rows, &n), 0);
    int c[5] = {0};
    for (int i = 0; i < n; i++)
        c[rows[i].verdict]++;
    cr_assert_gt(c[BNB_CMP_FASTER], 0);
    cr_assert_gt(c[BNB_CMP_SLOWER], 0);
    snprintf(p->counts, sizeof p->counts,
             "%d faster, %d slower, %d no change, %d insufficient samples, %d not comparable",
             c[BNB_CMP_FASTER], c[BNB_CMP_SLOWER], c[BNB_CMP_SAME], c[BNB_CMP_INSUFFICIENT],
             c[BNB_CMP_NOT_COMPARABLE]);
    free(rows);
    bnb_db_free_cases(ca, na);
    bnb_db_free_cases(cb, nb);
    bnb_db_close(db);
}

/* ---- serve ------------------------------------------------------------------------- */

static pid_t serve_start(int *port)
{
    const char *args[] = {"serve", "--listen", "127.0.0.1:0", "--db", dbp, "--threads", "2", NULL};
    pid_t pid = fx_start(outp, errp, args);
    for (int waited = 0; waited < 30000; waited += 10) {
        char out[512] = "", err[4096];
        if (access(outp, R_OK) == 0) /* the child may not have opened it yet */
            fx_read(outp, out, sizeof out);
        const char *l = strstr(out, "listening on http://127.0.0.1:");
        if (l && strchr(l, '\n')) {
            *port = atoi(l + strlen("listening on http://127.0.0.1:"));
            cr_assert_gt(*port, 0, "%s", out);
            return pid;
        }
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fx_read(errp, err, sizeof err);
            cr_assert_fail("serve exited (status %d) before listening: %s", st, err);
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("serve did not print its listening line within 30 s");
    return -1;
}

static void serve_stop(pid_t pid)
{
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char err[4096];
    fx_read(errp, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serve: status %d: %s", st, err);
}

/* ---- chromium ---------------------------------------------------------------------- */

/* The chromium binary: $BNB_CHROMIUM, else chromium on PATH; false when none. */
static bool find_chromium(char *bin, size_t cap)
{
    const char *env = getenv("BNB_CHROMIUM");
    if (env && *env) {
        snprintf(bin, cap, "%s", env);
        return access(bin, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path && *path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(bin, cap, "%s/chromium", d);
        if (access(bin, X_OK) == 0)
            return true;
    }
    return false;
}

static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s", p);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

/* One page loaded by its own chromium process (own profile, own files). */
typedef struct visit {
    char url[256];
    char dom[160], log[160], shot[160], prof[180];
    pid_t pid;
    int st;
    bool done;
} visit;

/* Starts headless chromium on v->url in a process group of its own: the
 * rendered DOM to v->dom, its log to v->log, a screenshot to v->shot. */
static void visit_start(const char *bin, visit *v, int k)
{
    snprintf(v->dom, sizeof v->dom, "%s/dom%d.html", dir, k);
    snprintf(v->log, sizeof v->log, "%s/chromium%d.log", dir, k);
    snprintf(v->shot, sizeof v->shot, "%s/shot%d.png", dir, k);
    snprintf(v->prof, sizeof v->prof, "--user-data-dir=%s/profile%d", dir, k);
    char shotarg[200];
    snprintf(shotarg, sizeof shotarg, "--screenshot=%s", v->shot);
    v->pid = fork();
    cr_assert_geq(v->pid, 0);
    if (v->pid == 0) {
        setpgid(0, 0);
        int o = open(v->dom, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(v->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0)
            _exit(127);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execl(bin, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--enable-logging=stderr", "--v=0", v->prof, "--window-size=1280,900", shotarg,
              "--dump-dom", v->url, (char *)NULL);
        _exit(127);
    }
    setpgid(v->pid, v->pid);
}

/* Waits for every visit up to CHROME_TIMEOUT_S in all, then kills each
 * browser's process group (its helpers; the browser itself after a
 * timeout) and reaps it; v[i].done says which finished in time. */
static void visits_wait(visit *v, int n)
{
    time_t end = time(NULL) + CHROME_TIMEOUT_S;
    for (int left = n; left > 0 && time(NULL) < end;) {
        for (int i = 0; i < n; i++)
            if (!v[i].done && waitpid(v[i].pid, &v[i].st, WNOHANG) == v[i].pid) {
                v[i].done = true;
                left--;
            }
        usleep(20000);
    }
    for (int i = 0; i < n; i++) {
        kill(-v[i].pid, SIGKILL);
        if (!v[i].done)
            waitpid(v[i].pid, &v[i].st, 0);
    }
}

/* Asserts a clean visit (exit 0, no console message, a PNG screenshot) and
 * returns the rendered DOM (malloc'd). */
static char *visit_dom(const visit *v)
{
    char *log = slurp(v->log, NULL);
    cr_assert(WIFEXITED(v->st) && WEXITSTATUS(v->st) == 0, "chromium %s: status %d: %s", v->url,
              v->st, log);
    /* a page without script logs nothing to the console unless something failed */
    cr_assert_null(strstr(log, ":CONSOLE"), "console message loading %s:\n%s", v->url,
                   strstr(log, ":CONSOLE"));
    cr_assert_null(strstr(log, "Uncaught"), "%s", log);
    free(log);
    size_t n = 0;
    char *png = slurp(v->shot, &n);
    cr_assert_gt(n, 1000, "screenshot of %s: %zu bytes", v->url, n);
    cr_assert_eq(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0, "screenshot of %s is not a PNG", v->url);
    free(png);
    return slurp(v->dom, NULL);
}

static void has(const char *dom, const char *s, const char *page)
{
    cr_assert_not_null(strstr(dom, s), "%s: \"%s\" not in the rendered DOM", page, s);
}

/* Copies shot to $BNB_SHOTS_DIR/name when that is set. */
static void keep_shot(const char *shot, const char *name)
{
    const char *d = getenv("BNB_SHOTS_DIR");
    if (!d || !*d)
        return;
    mkdir(d, 0755);
    char to[512];
    snprintf(to, sizeof to, "%s/%s", d, name);
    size_t n = 0;
    char *b = slurp(shot, &n);
    FILE *f = fopen(to, "wb");
    cr_assert_not_null(f, "%s", to);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
    free(b);
}

Test(web_browser, pages_render_in_headless_chromium)
{
    char bin[512];
    if (!find_chromium(bin, sizeof bin))
        cr_skip_test("chromium not found on PATH (nor $BNB_CHROMIUM): Debian's chromium package "
                     "runs this test (.ci/run installs it)");
    planted p;
    memset(&p, 0, sizeof p);
    plant(&p);
    int port = 0;
    pid_t srv = serve_start(&port);
    /* the four pages load side by side: a browser mostly waits on its start */
    visit v[4];
    memset(v, 0, sizeof v);
    snprintf(v[0].url, sizeof v[0].url, "http://127.0.0.1:%d/", port);
    snprintf(v[1].url, sizeof v[1].url, "http://127.0.0.1:%d/machines/%lld", port,
             (long long)p.machine[1]);
    snprintf(v[2].url, sizeof v[2].url, "http://127.0.0.1:%d/runs/%s", port, p.uuid);
    snprintf(v[3].url, sizeof v[3].url, "http://127.0.0.1:%d/compare?a=%s&b=%s", port, names[0],
             names[1]);
    for (int i = 0; i < 4; i++)
        visit_start(bin, &v[i], i);
    visits_wait(v, 4);
    serve_stop(srv); /* before any assertion on the visits: nothing is left running */
    for (int i = 0; i < 4; i++)
        cr_assert(v[i].done, "chromium did not finish %s within %d s", v[i].url, CHROME_TIMEOUT_S);

    char *dom = visit_dom(&v[0]);
    keep_shot(v[0].shot, "fleet.png");
    has(dom, "<h1>Fleet</h1>", "/");
    for (int m = 0; m < 2; m++) {
        has(dom, names[m], "/");
        has(dom, p.score[m], "/");
        has(dom, p.word[m], "/");
    }
    has(dom, "2 machines, 8 runs stored", "/");
    free(dom);

    dom = visit_dom(&v[1]);
    keep_shot(v[1].shot, "machine.png");
    has(dom, "<h1>Machine lab-epyc</h1>", v[1].url);
    has(dom, "<svg", v[1].url);
    has(dom, "matmul/engine/sgemm/n=256:gflops", v[1].url);
    has(dom, p.score[1], v[1].url);
    free(dom);

    dom = visit_dom(&v[2]);
    keep_shot(v[2].shot, "run.png");
    has(dom, "Readiness score", v[2].url);
    has(dom, p.score[0], v[2].url);
    has(dom, "sgemm-256", v[2].url);
    free(dom);

    dom = visit_dom(&v[3]);
    keep_shot(v[3].shot, "compare.png");
    has(dom, "<table id=\"compare\">", v[3].url);
    has(dom, p.counts, v[3].url);
    has(dom, "matmul/engine/sgemm/n=512", v[3].url);
    has(dom, "<span class=\"v good\">faster</span>", v[3].url);
    has(dom, "<span class=\"v bad\">slower</span>", v[3].url);
    free(dom);
}
