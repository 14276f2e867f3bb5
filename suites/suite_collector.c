/*
 * suite_collector.c - the `collector` suite: `bnbench serve` under a
 * bounded load of concurrent publishers on loopback (issue 18's goals:
 * ingest >= 500 runs/s, request p99 <= 50 ms, GET / <= 50 ms with 1,000
 * runs from 20 machines).
 *
 * Each case starts its own collector as a child process: this very
 * executable (/proc/self/exe) running `serve --listen 127.0.0.1:0` on a
 * scratch DB and token file in a fresh temporary directory, on the CPUs the
 * process may use (the measuring thread's pinning is not inherited). The
 * teardown stops it with SIGTERM (SIGKILL after COLLECTOR_STOP_S), reaps it
 * and removes the directory. Nothing listens beyond loopback.
 *
 * The document: a synthetic payload in the published-run format
 * (db/rundoc.h), shaped like a `bnbench run`: RUN_CASES cases with
 * RUN_SAMPLES raw samples each, their statistics, three metrics and a few
 * verdicts, stored through the db API into a scratch DB and built by
 * bnb_rundoc_build. Publishers send copies with distinct UUIDs (and one of
 * FLEET_MACHINES machine names and fingerprints) by patching those bytes in
 * place, so a copy costs a memcpy, not a JSON round trip.
 *
 *   collector/ingest/publishers=8   PUBLISHERS threads, each with its own
 *        libcurl handle (keep-alive), post documents; the timed region is
 *        `iters` rounds of PER_ROUND posts per publisher, all at once.
 *       :runs_per_s   runs stored per second: PUBLISHERS * PER_ROUND / median
 *       :p50_ms, :p99_ms  latency of one POST (request sent to answer read)
 *                     over every POST of the case (warm-up and calibration
 *                     included)
 *       :requests, :errors  POSTs made, and those not answered 201
 *       :doc_bytes    size of one document
 *   collector/fleet-page/machines=20/runs=1000   FLEET_RUNS runs from
 *        FLEET_MACHINES machines are stored first (untimed, by the
 *        publishers); the timed region is `iters` GET / in a row from one
 *        client (keep-alive).
 *       :p50_ms, :p99_ms over every GET / of the case; :requests, :errors
 *        (answers other than 200), :page_bytes
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/model/stats.h"
#include "db/rundoc.h"
#include "suites/suite.h"

#define PUBLISHERS        8
#define PER_ROUND         8 /* posts per publisher per timed iteration */
#define RUN_CASES         160
#define RUN_SAMPLES       15
#define FLEET_MACHINES    20
#define FLEET_RUNS        1000
#define SERVE_THREADS     4
#define COLLECTOR_START_S 60 /* for the listening line */
#define COLLECTOR_STOP_S  30 /* after SIGTERM, before SIGKILL */
#define REQUEST_TIMEOUT_S 30
#define LAT_MAX           (1 << 20) /* latencies kept per case */
#define MACHINE_NAME      "collector-m00"
#define MACHINE_FP        "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

/* ---- the document -------------------------------------------------------- */

/* Where the bytes a copy changes sit in the template. */
#define MAX_SPOTS 8
typedef struct doc_tpl {
    char *text;
    size_t len;
    size_t uuid_at[MAX_SPOTS], name_at[MAX_SPOTS], fp_at[MAX_SPOTS];
    int nuuid, nname, nfp;
} doc_tpl;

/* Offsets of every occurrence of needle in the template. */
static int find_spots(const doc_tpl *d, const char *needle, size_t *at)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = d->text;
         n < MAX_SPOTS && (p = memmem(p, d->len - (size_t)(p - d->text), needle, nl)); p += nl)
        at[n++] = (size_t)(p - d->text);
    return n;
}

/* A run as `bnbench run` stores one: RUN_CASES cases over a few suites,
 * RUN_SAMPLES samples each, statistics, three metrics, four verdicts. */
static int store_template_run(bnb_db *db, int64_t *run_id, char *err, size_t cap)
{
    char e[BNB_ERR_MAX];
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    snprintf(ri.machine_name, sizeof ri.machine_name, "%s", MACHINE_NAME);
    snprintf(ri.fingerprint, sizeof ri.fingerprint, "%s", MACHINE_FP);
    snprintf(ri.started_at, sizeof ri.started_at, "2026-12-05T08:00:00Z");
    snprintf(ri.reason, sizeof ri.reason, "nightly");
    snprintf(ri.commit, sizeof ri.commit, "9ed773e1");
    snprintf(ri.branch, sizeof ri.branch, "main");
    snprintf(ri.build_type, sizeof ri.build_type, "release");
    snprintf(ri.compiler, sizeof ri.compiler, "gcc 12.2.0");
    snprintf(ri.cflags, sizeof ri.cflags, "-O2 -g -fPIC");
    snprintf(ri.kernels, sizeof ri.kernels, "avx512");
    ri.machine_json = (char *)"{\"cpu_model\":\"collector suite payload (not a measured "
                              "machine)\",\"isa\":\"sse4_2 "
                              "avx2 fma avx512f avx512bw avx512vl avx512_vnni\",\"topology\":{"
                              "\"packages\":1,\"cores\":2,\"pus\":2,\"l1d_bytes\":49152,"
                              "\"l2_bytes\":2097152,\"llc_bytes\":110100480,\"memory_bytes\":"
                              "8589934592}}";
    ri.context_json = (char *)"{\"governor\":\"unknown\",\"vm\":true,\"aslr\":2,\"load_avg\":0.4,"
                              "\"counters\":{\"pmu_present\":false,\"pmu_reason\":\"no PMU in "
                              "this VM\",\"papi\":\"started\"}}";
    ri.warnings_json = (char *)"[\"running in a VM\",\"PMU not available\"]";
    ri.binding_json = (char *)"{\"cpus\":[1],\"applied\":true}";
    if (bnb_db_begin_run(db, &ri, run_id, e)) {
        snprintf(err, cap, "%s", e);
        return -1;
    }
    static const char *const suites[] = {"matmul", "ternary", "elementwise", "reduce", "alloc"};
    for (int i = 0; i < RUN_CASES; i++) {
        bnb_case_result r;
        memset(&r, 0, sizeof r);
        snprintf(r.suite, sizeof r.suite, "%s", suites[i % 5]);
        snprintf(r.name, sizeof r.name, "op%02d/impl%d", i / 5, i % 3);
        snprintf(r.code_version, sizeof r.code_version, "1");
        bnb_case_add_param(&r, "n", "%d", 64 << (i % 6));
        r.status = BNB_CASE_OK;
        r.iterations = 100 + i;
        r.nsamples = RUN_SAMPLES;
        r.samples = malloc(RUN_SAMPLES * sizeof *r.samples);
        r.outlier = calloc(RUN_SAMPLES, sizeof *r.outlier);
        int rc = -1;
        if (r.samples && r.outlier) {
            double centre = 1e-4 * (1 + i % 17);
            for (int k = 0; k < RUN_SAMPLES; k++) /* spread like a real case, one outlier */
                r.samples[k] = centre * (1 + 0.013 * ((k * 7) % RUN_SAMPLES) / RUN_SAMPLES +
                                         (k == 11 ? 0.2 : 0));
            bnb_metric *m;
            rc = bnb_stats_compute(r.samples, RUN_SAMPLES, (uint64_t)i + 1, &r.stats, r.outlier);
            if (rc == 0 &&
                (m = bnb_case_add_metric(&r, "gflops", "GFLOP/s", 2e-3 / r.stats.median, true)))
                m->timing = -1;
            else
                rc = -1;
            if (rc == 0 && (!bnb_case_add_metric(&r, "pct_peak", "ratio", 0.61, true) ||
                            !bnb_case_add_unavailable(&r, "counter.PAPI_TOT_CYC", "count",
                                                      "no PMU in this VM")))
                rc = -1;
        }
        if (rc == 0 && bnb_db_store_case(db, *run_id, &r, e) != 0) {
            snprintf(err, cap, "%s", e);
            bnb_case_free(&r);
            return -1;
        }
        bnb_case_free(&r);
        if (rc != 0) {
            snprintf(err, cap, "out of memory building the template run");
            return -1;
        }
    }
    bnb_target t[4];
    bnb_verdict v[4];
    memset(t, 0, sizeof t);
    memset(v, 0, sizeof v);
    for (int i = 0; i < 4; i++) {
        snprintf(t[i].id, sizeof t[i].id, "target-%d", i);
        snprintf(t[i].description, sizeof t[i].description, "planted target %d", i);
        snprintf(t[i].figure, sizeof t[i].figure, "matmul/op%02d/impl0/n=64:gflops", i);
        snprintf(t[i].op, sizeof t[i].op, ">=");
        t[i].threshold = 1.0 + i;
        v[i] = (bnb_verdict){.target = &t[i],
                             .measured = 2.0,
                             .measured_ok = true,
                             .ci_lo = 1.9,
                             .ci_hi = 2.1,
                             .bound = 1.0 + i};
        snprintf(v[i].verdict, sizeof v[i].verdict, "%s", i < 2 ? "met" : "missed");
        snprintf(v[i].reason, sizeof v[i].reason, "measured 2.0 against %g", 1.0 + i);
    }
    if (bnb_db_store_verdicts(db, *run_id, v, 4, e) ||
        bnb_db_end_run(db, *run_id, BNB_RUN_COMPLETE, e)) {
        snprintf(err, cap, "%s", e);
        return -1;
    }
    return 0;
}

static void remove_db_files(const char *path)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-journal", path);
    unlink(p);
}

/* Builds the template in dir (a scratch DB, removed after). */
static int build_template(const char *dir, doc_tpl *d, char *err, size_t cap)
{
    char path[512], e[BNB_ERR_MAX];
    snprintf(path, sizeof path, "%s/template.db", dir);
    bnb_db *db = NULL;
    int64_t id = 0;
    bnb_run_row row;
    int rc = -1;
    if (bnb_db_open(path, 0, &db, e) || bnb_db_unsafe_fast_writes(db, e)) {
        snprintf(err, cap, "%s", e);
        goto out;
    }
    if (store_template_run(db, &id, err, cap))
        goto out;
    if (bnb_db_get_run_row(db, id, &row, e) || !(d->text = bnb_rundoc_build(db, id, &d->len, e))) {
        snprintf(err, cap, "%s", e);
        goto out;
    }
    d->nuuid = find_spots(d, row.uuid, d->uuid_at);
    d->nname = find_spots(d, MACHINE_NAME, d->name_at);
    d->nfp = find_spots(d, MACHINE_FP, d->fp_at);
    if (d->nuuid == 0 || d->nname == 0 || d->nfp == 0 || strlen(row.uuid) != 36) {
        snprintf(err, cap,
                 "the built document does not hold its uuid, machine name and "
                 "fingerprint as written");
        goto out;
    }
    rc = 0;
out:
    bnb_db_close(db);
    remove_db_files(path);
    return rc;
}

/* Writes copy number seq of the template into buf (d->len bytes): its own
 * uuid, machine seq % FLEET_MACHINES. */
static void make_copy(const doc_tpl *d, char *buf, uint64_t seq)
{
    char u[40], m[8];
    snprintf(u, sizeof u, "c0ffee00-0000-4000-8000-%012llx", (unsigned long long)seq);
    snprintf(m, sizeof m, "%02d", (int)(seq % FLEET_MACHINES));
    for (int i = 0; i < d->nuuid; i++)
        memcpy(buf + d->uuid_at[i], u, 36);
    for (int i = 0; i < d->nname; i++)
        memcpy(buf + d->name_at[i] + strlen(MACHINE_NAME) - 2, m, 2);
    for (int i = 0; i < d->nfp; i++)
        memcpy(buf + d->fp_at[i] + strlen(MACHINE_FP) - 2, m, 2);
}

/* ---- the collector child ---------------------------------------------------- */

typedef struct fleet fleet;

typedef struct publisher {
    fleet *f;
    pthread_t th;
    bool started;
    CURL *curl;
    struct curl_slist *hdr;
    char *buf;   /* this publisher's copy of the template */
    double *lat; /* seconds per POST */
    size_t nlat;
    long requests, errors;
    char last_error[256];
} publisher;

struct fleet {
    char dir[64], url[96];
    pid_t pid;
    int out_fd; /* the child's stdout */
    doc_tpl doc;
    cpu_set_t cpus; /* the CPUs the process may use */
    bool have_cpus;
    atomic_ullong seq;
    /* rounds: run() sets todo and bumps gen; each publisher posts todo
     * documents and counts itself done */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool lock_made, stop;
    unsigned long gen;
    long todo;
    int done;
    publisher pub[PUBLISHERS];
    /* the reader of fleet-page */
    CURL *reader;
    char *page;
    size_t page_len, page_cap;
    double *lat;
    size_t nlat;
    long requests, errors;
    char last_error[256];
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Starts `serve` from this executable; reads its listening line. */
static int start_collector(fleet *f, char *err, size_t cap)
{
    char tok[128], db[128], errp[128];
    snprintf(tok, sizeof tok, "%s/token", f->dir);
    snprintf(db, sizeof db, "%s/collector.db", f->dir);
    snprintf(errp, sizeof errp, "%s/serve.err", f->dir);
    int tfd = open(tok, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (tfd < 0 || write(tfd, "collector-suite-token\n", 22) != 22) {
        snprintf(err, cap, "token file %s: %s", tok, strerror(errno));
        if (tfd >= 0)
            close(tfd);
        return -1;
    }
    close(tfd);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, cap, "pipe: %s", strerror(errno));
        return -1;
    }
    char threads[8];
    snprintf(threads, sizeof threads, "%d", SERVE_THREADS);
    char *const argv[] = {(char *)"bnbench",
                          (char *)"serve",
                          (char *)"--listen",
                          (char *)"127.0.0.1:0",
                          (char *)"--db",
                          db,
                          (char *)"--token-file",
                          tok,
                          (char *)"--threads",
                          threads,
                          NULL};
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, cap, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) { /* async-signal-safe calls only until exec */
        int efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nfd = open("/dev/null", O_RDONLY);
        if (efd < 0 || nfd < 0 || dup2(nfd, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(efd, 2) < 0)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (f->have_cpus)
            sched_setaffinity(0, sizeof f->cpus, &f->cpus);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(pfd[1]);
    f->pid = pid;
    f->out_fd = pfd[0];
    char line[256];
    size_t n = 0;
    double t0 = now_s();
    while (n < sizeof line - 1) {
        struct pollfd p = {f->out_fd, POLLIN, 0};
        int left_ms = (int)((COLLECTOR_START_S - (now_s() - t0)) * 1000);
        if (left_ms <= 0 || poll(&p, 1, left_ms) <= 0)
            break;
        ssize_t k = read(f->out_fd, line + n, sizeof line - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        line[n] = '\0';
        char *nl = strchr(line, '\n');
        const char *pre = "listening on http://127.0.0.1:";
        if (nl && !strncmp(line, pre, strlen(pre))) {
            *nl = '\0';
            snprintf(f->url, sizeof f->url, "%s", line + strlen("listening on "));
            return 0;
        }
        if (nl)
            break;
    }
    char why[256] = "";
    int efd = open(errp, O_RDONLY | O_CLOEXEC);
    if (efd >= 0) {
        ssize_t k = read(efd, why, sizeof why - 1);
        why[k > 0 ? k : 0] = '\0';
        why[strcspn(why, "\n")] = '\0';
        close(efd);
    }
    snprintf(err, cap, "bnbench serve did not start listening within %d s%s%s", COLLECTOR_START_S,
             why[0] ? ": " : "", why);
    return -1;
}

/* SIGTERM, then SIGKILL if it has not exited in COLLECTOR_STOP_S; reaps. */
static void stop_collector(fleet *f)
{
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    int st;
    double t0 = now_s();
    while (waitpid(f->pid, &st, WNOHANG) == 0) {
        if (now_s() - t0 > COLLECTOR_STOP_S) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    f->pid = 0;
}

/* ---- publishers ------------------------------------------------------------- */

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    return sz * n;
}

/* One POST of a fresh copy; records its latency and any failure. */
static void post_one(publisher *p)
{
    fleet *f = p->f;
    make_copy(&f->doc, p->buf, atomic_fetch_add(&f->seq, 1));
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, p->buf);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->doc.len);
    double t0 = now_s();
    CURLcode cc = curl_easy_perform(p->curl);
    double dt = now_s() - t0;
    long code = 0;
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
    p->requests++;
    if (p->nlat < LAT_MAX / PUBLISHERS)
        p->lat[p->nlat++] = dt;
    if (cc != CURLE_OK || code != 201) {
        p->errors++;
        snprintf(p->last_error, sizeof p->last_error, "POST answered %ld (%s)", code,
                 cc == CURLE_OK ? "not 201" : curl_easy_strerror(cc));
    }
}

static void *publisher_main(void *arg)
{
    publisher *p = arg;
    fleet *f = p->f;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        while (!f->stop && f->gen == seen)
            pthread_cond_wait(&f->cv, &f->lock);
        if (f->stop) {
            pthread_mutex_unlock(&f->lock);
            return NULL;
        }
        seen = f->gen;
        long todo = f->todo;
        pthread_mutex_unlock(&f->lock);
        for (long i = 0; i < todo; i++)
            post_one(p);
        pthread_mutex_lock(&f->lock);
        f->done++;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->lock);
    }
}

/* Every publisher posts `each` documents; returns when all are answered. */
static void round_of(fleet *f, long each)
{
    pthread_mutex_lock(&f->lock);
    f->todo = each;
    f->done = 0;
    f->gen++;
    pthread_cond_broadcast(&f->cv);
    while (f->done < PUBLISHERS)
        pthread_cond_wait(&f->cv, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

static void fleet_free(fleet *f)
{
    if (!f)
        return;
    if (f->lock_made) {
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->lock);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        publisher *p = &f->pub[i];
        if (p->started)
            pthread_join(p->th, NULL);
        if (p->curl)
            curl_easy_cleanup(p->curl);
        curl_slist_free_all(p->hdr);
        free(p->buf);
        free(p->lat);
    }
    stop_collector(f);
    if (f->out_fd > 0)
        close(f->out_fd);
    if (f->reader)
        curl_easy_cleanup(f->reader);
    if (f->lock_made) {
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cv);
    }
    free(f->doc.text);
    free(f->page);
    free(f->lat);
    if (f->dir[0]) {
        char p[128];
        static const char *const files[] = {"token", "serve.err", "collector.db"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", f->dir, files[i]);
            if (i == 2)
                remove_db_files(p);
            else
                unlink(p);
        }
        rmdir(f->dir);
    }
    free(f);
}

/* Temporary directory, template document, collector, publishers. */
static int fleet_start(fleet **out, char *err, size_t cap)
{
    fleet *f = calloc(1, sizeof *f);
    *out = f;
    if (!f) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/bnb_collector_XXXXXX",
             tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        snprintf(err, cap, "mkdtemp %s: %s", f->dir, strerror(errno));
        f->dir[0] = '\0';
        return -1;
    }
    f->have_cpus = sched_getaffinity(getpid(), sizeof f->cpus, &f->cpus) == 0;
    if (pthread_mutex_init(&f->lock, NULL) || pthread_cond_init(&f->cv, NULL)) {
        snprintf(err, cap, "cannot create the publishers' lock");
        return -1;
    }
    f->lock_made = true;
    if (build_template(f->dir, &f->doc, err, cap) || start_collector(f, err, cap))
        return -1;
    char url[160];
    snprintf(url, sizeof url, "%s/api/v1/runs", f->url);
    for (int i = 0; i < PUBLISHERS; i++) {
        publisher *p = &f->pub[i];
        p->f = f;
        p->buf = malloc(f->doc.len + 1);
        p->lat = malloc((LAT_MAX / PUBLISHERS) * sizeof *p->lat);
        p->curl = curl_easy_init();
        p->hdr = curl_slist_append(NULL, "Authorization: Bearer collector-suite-token");
        struct curl_slist *h2 =
            p->hdr ? curl_slist_append(p->hdr, "Content-Type: application/json") : NULL;
        struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
        if (!p->buf || !p->lat || !p->curl || !h3) {
            snprintf(err, cap, "out of memory for publisher %d", i);
            return -1;
        }
        memcpy(p->buf, f->doc.text, f->doc.len + 1);
        curl_easy_setopt(p->curl, CURLOPT_URL, url);
        curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->hdr);
        curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(p->curl, CURLOPT_TIMEOUT, (long)REQUEST_TIMEOUT_S);
        curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p->curl, CURLOPT_NOPROXY, "*");
        int rc = pthread_create(&p->th, NULL, publisher_main, p);
        if (rc != 0) {
            snprintf(err, cap, "pthread_create: %s", strerror(rc));
            return -1;
        }
        p->started = true;
        if (f->have_cpus) /* best effort: else the measuring thread's CPU */
            (void)pthread_setaffinity_np(p->th, sizeof f->cpus, &f->cpus);
    }
    return 0;
}

/* p50 and p99 in ms of n latencies (sorted in place). */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void percentiles(double *x, size_t n, double *p50, double *p99)
{
    qsort(x, n, sizeof *x, cmp_double);
    *p50 = x[(n - 1) / 2] * 1e3;
    size_t k = (size_t)(0.99 * (double)(n - 1) + 0.5);
    *p99 = x[k < n ? k : n - 1] * 1e3;
}

/* ---- collector/ingest -------------------------------------------------------- */

static int ingest_setup(const bnb_case_env *env, const void *arg, void **state, char *err,
                        size_t cap)
{
    fleet *f = NULL;
    int rc = fleet_start(&f, err, cap);
    *state = f;
    if (rc) {
        fleet_free(f);
        *state = NULL;
    }
    return rc;
}

/* One copy stored (201), the same again already stored (200). */
static int ingest_verify(void *state, char *err, size_t cap)
{
    fleet *f = state;
    publisher *p = &f->pub[0];
    uint64_t seq = atomic_fetch_add(&f->seq, 1);
    long want[2] = {201, 200};
    for (int i = 0; i < 2; i++) {
        make_copy(&f->doc, p->buf, seq);
        curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, p->buf);
        curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->doc.len);
        CURLcode cc = curl_easy_perform(p->curl);
        long code = 0;
        curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
        if (cc != CURLE_OK || code != want[i]) {
            snprintf(err, cap, "POST of a run document %s: %ld (%s), expected %ld",
                     i ? "sent again" : "", code, curl_easy_strerror(cc), want[i]);
            return -1;
        }
    }
    return 0;
}

static void ingest_run(void *state, int64_t iters)
{
    round_of(state, (long)iters * PER_ROUND);
}

static int add_latency_metrics(bnb_case_result *r, double *lat, size_t n, long requests,
                               long errors)
{
    if (n == 0)
        return bnb_case_add_unavailable(r, "p50_ms", "ms", "no request was made") &&
                       bnb_case_add_unavailable(r, "p99_ms", "ms", "no request was made")
                   ? 0
                   : -1;
    double p50, p99;
    percentiles(lat, n, &p50, &p99);
    return bnb_case_add_metric(r, "p50_ms", "ms", p50, false) &&
                   bnb_case_add_metric(r, "p99_ms", "ms", p99, false) &&
                   bnb_case_add_metric(r, "requests", "count", (double)requests, true) &&
                   bnb_case_add_metric(r, "errors", "count", (double)errors, false)
               ? 0
               : -1;
}

static int ingest_metrics(void *state, bnb_case_result *r)
{
    fleet *f = state;
    size_t n = 0;
    long req = 0, errs = 0;
    for (int i = 0; i < PUBLISHERS; i++)
        n += f->pub[i].nlat;
    double *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return -1;
    n = 0;
    for (int i = 0; i < PUBLISHERS; i++) {
        memcpy(all + n, f->pub[i].lat, f->pub[i].nlat * sizeof *all);
        n += f->pub[i].nlat;
        req += f->pub[i].requests;
        errs += f->pub[i].errors;
        if (f->pub[i].errors)
            fprintf(stderr,
                    "bnbench: collector/ingest: publisher %d: %ld of %ld POSTs failed, "
                    "last: %s\n",
                    i, f->pub[i].errors, f->pub[i].requests, f->pub[i].last_error);
    }
    bnb_metric *m = bnb_case_add_metric(r, "runs_per_s", "runs/s",
                                        (double)(PUBLISHERS * PER_ROUND) / r->stats.median, true);
    if (m)
        m->timing = -1;
    int rc = m && add_latency_metrics(r, all, n, req, errs) == 0 &&
                     bnb_case_add_metric(r, "doc_bytes", "B", (double)f->doc.len, false)
                 ? 0
                 : -1;
    free(all);
    return rc;
}

static void fleet_teardown(void *state)
{
    fleet_free(state);
}

/* ---- collector/fleet-page ----------------------------------------------------- */

static size_t keep_page(char *p, size_t sz, size_t n, void *ud)
{
    fleet *f = ud;
    size_t k = sz * n;
    if (f->page_len + k + 1 > f->page_cap) {
        size_t cap = (f->page_len + k + 1) * 2;
        char *nb = realloc(f->page, cap);
        if (!nb)
            return 0;
        f->page = nb;
        f->page_cap = cap;
    }
    memcpy(f->page + f->page_len, p, k);
    f->page_len += k;
    f->page[f->page_len] = '\0';
    return k;
}

static int page_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    fleet *f = NULL;
    if (fleet_start(&f, err, cap))
        goto fail;
    /* FLEET_RUNS runs, FLEET_RUNS / FLEET_MACHINES per machine (untimed) */
    round_of(f, FLEET_RUNS / PUBLISHERS);
    for (int i = 0; i < PUBLISHERS; i++)
        if (f->pub[i].errors) {
            snprintf(err, cap, "storing the %d runs: publisher %d: %s", FLEET_RUNS, i,
                     f->pub[i].last_error);
            goto fail;
        }
    char url[128];
    snprintf(url, sizeof url, "%s/", f->url);
    if (!(f->reader = curl_easy_init()) || !(f->lat = malloc(LAT_MAX * sizeof *f->lat))) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    curl_easy_setopt(f->reader, CURLOPT_URL, url);
    curl_easy_setopt(f->reader, CURLOPT_WRITEFUNCTION, keep_page);
    curl_easy_setopt(f->reader, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->reader, CURLOPT_TIMEOUT, (long)REQUEST_TIMEOUT_S);
    curl_easy_setopt(f->reader, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->reader, CURLOPT_NOPROXY, "*");
    *state = f;
    return 0;
fail:
    fleet_free(f);
    *state = NULL;
    return -1;
}

static void get_page(fleet *f)
{
    f->page_len = 0;
    double t0 = now_s();
    CURLcode cc = curl_easy_perform(f->reader);
    double dt = now_s() - t0;
    long code = 0;
    curl_easy_getinfo(f->reader, CURLINFO_RESPONSE_CODE, &code);
    f->requests++;
    if (f->nlat < LAT_MAX)
        f->lat[f->nlat++] = dt;
    if (cc != CURLE_OK || code != 200) {
        f->errors++;
        snprintf(f->last_error, sizeof f->last_error, "GET / answered %ld (%s)", code,
                 cc == CURLE_OK ? "not 200" : curl_easy_strerror(cc));
    }
}

/* GET / answers 200 with a page naming the first and the last machine. */
static int page_verify(void *state, char *err, size_t cap)
{
    fleet *f = state;
    get_page(f);
    if (f->errors) {
        snprintf(err, cap, "%s", f->last_error);
        return -1;
    }
    char last[32];
    snprintf(last, sizeof last, "collector-m%02d", FLEET_MACHINES - 1);
    if (!f->page || !strstr(f->page, MACHINE_NAME) || !strstr(f->page, last)) {
        snprintf(err, cap, "GET / (%zu bytes) does not name machines %s and %s", f->page_len,
                 MACHINE_NAME, last);
        return -1;
    }
    return 0;
}

static void page_run(void *state, int64_t iters)
{
    for (int64_t i = 0; i < iters; i++)
        get_page(state);
}

static int page_metrics(void *state, bnb_case_result *r)
{
    fleet *f = state;
    if (f->errors)
        fprintf(stderr, "bnbench: collector/fleet-page: %ld of %ld GETs failed, last: %s\n",
                f->errors, f->requests, f->last_error);
    return add_latency_metrics(r, f->lat, f->nlat, f->requests, f->errors) == 0 &&
                   bnb_case_add_metric(r, "page_bytes", "B", (double)f->page_len, false)
               ? 0
               : -1;
}

static const bnb_case_def collector_cases[] = {
    {.name = "ingest",
     .nparams = 1,
     .params = {{"publishers", "8"}},
     .code_version = "1",
     .setup = ingest_setup,
     .verify = ingest_verify,
     .run = ingest_run,
     .metrics = ingest_metrics,
     .teardown = fleet_teardown,
     .metric_names = "runs_per_s,p50_ms,p99_ms,requests,errors,doc_bytes"},
    {.name = "fleet-page",
     .nparams = 2,
     .params = {{"runs", "1000"}, {"machines", "20"}},
     .code_version = "1",
     .setup = page_setup,
     .verify = page_verify,
     .run = page_run,
     .metrics = page_metrics,
     .teardown = fleet_teardown,
     .metric_names = "p50_ms,p99_ms,requests,errors,page_bytes"},
};

const bnb_suite bnb_suite_collector = {
    .name = "collector",
    .description = "bnbench serve on loopback: ingest of a 160-case run document by 8 concurrent "
                   "publishers (runs/s, POST p50/p99), and GET / with 1,000 runs from 20 machines",
    .in_default = false,
    .cases = collector_cases,
    .ncases = (int)(sizeof collector_cases / sizeof collector_cases[0]),
};
