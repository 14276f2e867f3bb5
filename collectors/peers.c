/*
 * peers.c - the description of a run's peers and the choice of OpenBLAS's
 * core (peers.h says what and why).
 *
 * Probe: n = PROBE_N sgemm of deterministic values in [-1, 1], checked
 * element by element against a double-accumulated triple loop (correct when
 * every |C - ref| <= PROBE_TOL, far above float rounding at this K and far
 * below any wrong kernel's error), then timed: best of PROBE_REPS calls.
 * A child that dies (an instruction the CPU lacks: SIGILL) is a candidate
 * that is not correct here, with the signal as its reason.
 *
 * Choice: every candidate is probed once; those within PROBE_NEAR of the
 * fastest are probed PROBE_ROUNDS - 1 more times and keep their best figure;
 * the fastest correct one wins, OpenBLAS's own core on a tie (PROBE_TIE).
 * About 20 candidates of ~40 ms each: under a second, once per run, and only
 * when OPENBLAS_CORETYPE is set.
 */
#include "collectors/peers.h"

#include <cblas.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <lapacke.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collectors/context.h"
#include "db/model/text.h"
#include "kernels/kernels.h"

#define PROBE_N      192
#define PROBE_REPS   15
#define PROBE_ROUNDS 3
#define PROBE_MAX    64   /* candidate cores at most */
#define PROBE_NEAR   0.75 /* contenders: within this fraction of the fastest */
#define PROBE_TOL    1e-3
/* Candidates within this fraction of the fastest count as equally fast; the
 * tie goes to OpenBLAS's own choice for the CPU. */
#define PROBE_TIE 0.03

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bnb_peers_probe_main(void)
{
    const int n = PROBE_N;
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "_peer-probe: out of memory\n");
        free(a);
        free(b);
        free(c);
        return 1;
    }
    uint32_t s = 12345u;
    for (size_t i = 0; i < nn; i++) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)((double)(s >> 8) / (double)(1u << 24) * 2.0 - 1.0);
        s = s * 1664525u + 1013904223u;
        b[i] = (float)((double)(s >> 8) / (double)(1u << 24) * 2.0 - 1.0);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double maxerr = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double ref = 0;
            for (int k = 0; k < n; k++)
                ref += (double)a[(size_t)i * n + k] * (double)b[(size_t)k * n + j];
            double e = ref - (double)c[(size_t)i * n + j];
            e = e < 0 ? -e : e;
            if (!(e <= maxerr)) /* a NaN is the largest error */
                maxerr = e == e ? e : 1e30;
        }
    double best = 1e30;
    for (int r = 0; r < PROBE_REPS; r++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        double t = now_s() - t0;
        if (t < best)
            best = t;
    }
    double gflops = 2.0 * n * n * n / best / 1e9;
    printf("%s\t%.3f\t%.3g\t%d\n", openblas_get_corename(), gflops, maxerr,
           maxerr <= PROBE_TOL ? 1 : 0);
    free(a);
    free(b);
    free(c);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The file a symbol was loaded from, resolved through symlinks; "" if unknown. */
static void lib_of(const void *sym, char *buf, size_t cap)
{
    Dl_info di;
    buf[0] = '\0';
    if (!sym || !dladdr(sym, &di) || !di.dli_fname)
        return;
    char real[PATH_MAX];
    snprintf(buf, cap, "%s", realpath(di.dli_fname, real) ? real : di.dli_fname);
}

typedef struct probe_res {
    char env[64];  /* OPENBLAS_CORETYPE given ("" = not set) */
    char core[64]; /* openblas_get_corename() in the child */
    double gflops;
    double maxerr;
    bool correct;
    char why[128]; /* why not correct */
} probe_res;

/* Runs one probe child with OPENBLAS_CORETYPE = env (unset when ""). */
static void probe_one(const char *env, probe_res *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->env, sizeof r->env, "%s", env);
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(r->why, sizeof r->why, "pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(r->why, sizeof r->why, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        /* a core this CPU cannot run dies on SIGILL: no core file for it */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        if (env[0])
            setenv("OPENBLAS_CORETYPE", env, 1);
        else
            unsetenv("OPENBLAS_CORETYPE");
        char *av[] = {(char *)"bnbench", (char *)"_peer-probe", NULL};
        execv("/proc/self/exe", av);
        _exit(127);
    }
    close(fd[1]);
    char line[256] = "";
    size_t len = 0;
    ssize_t got;
    while (len + 1 < sizeof line && (got = read(fd[0], line + len, sizeof line - 1 - len)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        len += (size_t)got;
    }
    line[len] = '\0';
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st)) {
        snprintf(r->why, sizeof r->why, "probe killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
        return;
    }
    int ok = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
        sscanf(line, "%63[^\t]\t%lf\t%lf\t%d", r->core, &r->gflops, &r->maxerr, &ok) != 4) {
        snprintf(r->why, sizeof r->why, "probe failed (exit %d)",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return;
    }
    r->correct = ok == 1;
    if (!r->correct)
        snprintf(r->why, sizeof r->why, "sgemm n=%d off the reference by %.3g (> %g)", PROBE_N,
                 r->maxerr, PROBE_TOL);
}

static cJSON *probe_json(const probe_res *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "OPENBLAS_CORETYPE", r->env[0] ? r->env : "(not set)");
    if (r->core[0]) {
        cJSON_AddStringToObject(o, "core", r->core);
        cJSON_AddNumberToObject(o, "sgemm_gflops", r->gflops);
        cJSON_AddNumberToObject(o, "max_abs_err", r->maxerr);
    }
    cJSON_AddBoolToObject(o, "correct", r->correct);
    if (!r->correct)
        cJSON_AddStringToObject(o, "why", r->why);
    return o;
}

/* The cores built into the OpenBLAS library file, as OpenBLAS names its
 * per-core tables: the exported data objects gotoblas_<CORE> of its dynamic
 * symbol table (cores left out of the build are aliases in .bss and are
 * skipped). Returns how many names went to names[], 0 when the file cannot
 * be read as a 64-bit ELF. */
static int openblas_cores(char (*names)[32], int max)
{
    char lib[PATH_MAX];
    lib_of((const void *)openblas_get_config, lib, sizeof lib);
    FILE *f = lib[0] ? fopen(lib, "rb") : NULL;
    Elf64_Ehdr eh;
    Elf64_Shdr *sh = NULL;
    Elf64_Sym *sym = NULL;
    char *str = NULL;
    int n = 0;
    if (!f || fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof *sh || eh.e_shnum == 0)
        goto out;
    sh = calloc(eh.e_shnum, sizeof *sh);
    if (!sh || fseek(f, (long)eh.e_shoff, SEEK_SET) != 0 ||
        fread(sh, sizeof *sh, eh.e_shnum, f) != eh.e_shnum)
        goto out;
    int ds = -1;
    for (int i = 0; i < eh.e_shnum; i++)
        if (sh[i].sh_type == SHT_DYNSYM && sh[i].sh_link < eh.e_shnum)
            ds = i;
    if (ds < 0)
        goto out;
    const Elf64_Shdr *ss = &sh[sh[ds].sh_link];
    size_t nsym = sh[ds].sh_size / sizeof *sym;
    sym = malloc(sh[ds].sh_size);
    str = malloc(ss->sh_size + 1);
    if (!sym || !str || fseek(f, (long)sh[ds].sh_offset, SEEK_SET) != 0 ||
        fread(sym, sizeof *sym, nsym, f) != nsym || fseek(f, (long)ss->sh_offset, SEEK_SET) != 0 ||
        fread(str, 1, ss->sh_size, f) != ss->sh_size)
        goto out;
    str[ss->sh_size] = '\0';
    for (size_t i = 0; i < nsym && n < max; i++) {
        if (sym[i].st_name >= ss->sh_size || ELF64_ST_TYPE(sym[i].st_info) != STT_OBJECT ||
            sym[i].st_shndx == SHN_UNDEF || sym[i].st_shndx >= eh.e_shnum ||
            sh[sym[i].st_shndx].sh_type == SHT_NOBITS)
            continue;
        const char *name = str + sym[i].st_name;
        if (strncmp(name, "gotoblas_", 9) != 0)
            continue;
        const char *core = name + 9;
        size_t len = strlen(core);
        if (len == 0 || len >= sizeof names[0] ||
            strspn(core, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != len)
            continue;
        snprintf(names[n++], sizeof names[0], "%s", core);
    }
out:
    free(sym);
    free(str);
    free(sh);
    if (f)
        fclose(f);
    return n;
}

/* Whether OpenBLAS ran the core r asked for (it falls back to its own choice
 * for a name it does not accept). */
static bool accepted(const probe_res *r)
{
    return r->core[0] && strcasecmp(r->core, r->env) == 0;
}

bool bnb_peers_prepare(bool keep)
{
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (getenv(BNB_PEER_CORE_ENV) || !forced || !forced[0])
        return false;
    /* candidates: the forced value, none (OpenBLAS's own choice for this
     * CPU), then with BEST every other core the library holds. Each is
     * probed once; the contenders (correct, within PROBE_NEAR of the
     * fastest) PROBE_ROUNDS - 1 more times, alternating, each keeping its
     * fastest correct figure, so a burst of other load on a shared machine
     * does not pick the core. */
    probe_res *cand = calloc(PROBE_MAX, sizeof *cand);
    char(*names)[32] = calloc(PROBE_MAX, sizeof *names);
    if (!cand || !names) {
        free(cand);
        free(names);
        return false;
    }
    int nc = 2;
    probe_one(forced, &cand[0]);
    probe_one("", &cand[1]);
    int nn = keep ? 0 : openblas_cores(names, PROBE_MAX);
    for (int k = 0; k < nn && nc < PROBE_MAX; k++) {
        if (!strcasecmp(names[k], cand[0].core) || !strcasecmp(names[k], cand[1].core))
            continue;
        probe_one(names[k], &cand[nc]);
        if (!cand[nc].correct || accepted(&cand[nc]))
            nc++; /* a name OpenBLAS does not accept ran some other core: not a candidate */
    }
    const probe_res *own = &cand[1], *chosen = &cand[0];
    char reason[512];
    if (keep) {
        snprintf(reason, sizeof reason, "--peer-env KEEP: OPENBLAS_CORETYPE=%s left as set",
                 forced);
    } else {
        double first = 0;
        for (int i = 0; i < nc; i++)
            if (cand[i].correct && cand[i].gflops > first)
                first = cand[i].gflops;
        for (int round = 1; round < PROBE_ROUNDS; round++)
            for (int i = 0; i < nc; i++) {
                if (!cand[i].correct || cand[i].gflops < first * PROBE_NEAR)
                    continue;
                probe_res again;
                probe_one(cand[i].env, &again);
                if (again.correct && again.gflops > cand[i].gflops)
                    cand[i] = again;
            }
        const probe_res *best = NULL;
        for (int i = 0; i < nc; i++)
            if (cand[i].correct && (!best || cand[i].gflops > best->gflops))
                best = &cand[i];
        if (best && best != own && own->correct && own->gflops >= best->gflops * (1 - PROBE_TIE))
            best = own;
        if (!best) {
            snprintf(reason, sizeof reason,
                     "no candidate core passed the sgemm check; OPENBLAS_CORETYPE=%s left as set",
                     forced);
        } else {
            chosen = best;
            snprintf(reason, sizeof reason,
                     "fastest correct of %d cores probed (sgemm n=%d: %s %.1f GFLOPS; forced %s "
                     "%.1f GFLOPS)",
                     nc - 1, PROBE_N, best->core, best->gflops,
                     cand[0].core[0] ? cand[0].core : forced, cand[0].gflops);
        }
    }
    bool change = chosen != &cand[0] && strcmp(chosen->core, cand[0].core) != 0;
    if (change && getenv("BNB_NO_REEXEC")) {
        change = false;
        chosen = &cand[0];
        snprintf(reason, sizeof reason,
                 "BNB_NO_REEXEC is set: OpenBLAS cannot be restarted on another core; "
                 "OPENBLAS_CORETYPE=%s left as set",
                 forced);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "candidates") : NULL;
    bool ok = arr != NULL;
    if (ok) {
        cJSON_AddStringToObject(o, "forced", forced);
        cJSON_AddStringToObject(o, "forced_core", cand[0].core[0] ? cand[0].core : forced);
        cJSON_AddStringToObject(o, "own_core", own->core[0] ? own->core : "unknown");
        cJSON_AddStringToObject(o, "chosen", chosen->core[0] ? chosen->core : forced);
        cJSON_AddBoolToObject(o, "kept", !change);
        cJSON_AddStringToObject(o, "reason", reason);
        for (int i = 0; i < nc; i++)
            cJSON_AddItemToArray(arr, probe_json(&cand[i]));
    }
    char *txt = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (txt)
        setenv(BNB_PEER_CORE_ENV, txt, 1);
    free(txt);
    if (txt && change)
        setenv("OPENBLAS_CORETYPE", chosen->core, 1);
    else
        change = false;
    free(cand);
    free(names);
    return change;
}

void bnb_peers_reexec(char **argv)
{
    execv("/proc/self/exe", argv);
    /* exec failed: the run goes on with the core loaded at start; the
     * context records the core OpenBLAS actually runs */
}

static const cJSON *peer_obj(cJSON *root, const char *peer)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "peers"), peer);
}

static void add_openblas(cJSON *peers, bnb_run_info *ri)
{
    cJSON *ob = cJSON_AddObjectToObject(peers, "openblas");
    if (!ob)
        return;
    const char *cfg = openblas_get_config();
    char ver[32] = "unknown", lib[PATH_MAX];
    if (cfg && sscanf(cfg, "OpenBLAS %31s", ver) != 1)
        snprintf(ver, sizeof ver, "unknown");
    const char *core = openblas_get_corename();
    lib_of((const void *)openblas_get_config, lib, sizeof lib);
    cJSON_AddStringToObject(ob, "version", ver);
    cJSON_AddStringToObject(ob, "config", cfg ? cfg : "");
    cJSON_AddStringToObject(ob, "core", core ? core : "unknown");
    cJSON_AddNumberToObject(ob, "threads", openblas_get_num_threads());
    cJSON_AddStringToObject(ob, "library", lib[0] ? lib : "unknown");
    const char *env = getenv("OPENBLAS_CORETYPE");
    const char *choice = getenv(BNB_PEER_CORE_ENV);
    cJSON *c = choice ? cJSON_Parse(choice) : NULL;
    if (!c) {
        c = cJSON_CreateObject();
        if (!c)
            return;
        cJSON_AddStringToObject(c, "reason",
                                env && env[0]
                                    ? "OPENBLAS_CORETYPE set and not probed"
                                    : "OPENBLAS_CORETYPE not set: OpenBLAS's own choice for "
                                      "this CPU");
    }
    cJSON_AddItemToObject(ob, "core_choice", c);
    const cJSON *forced = cJSON_GetObjectItemCaseSensitive(c, "forced_core");
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(c, "own_core");
    const cJSON *kept = cJSON_GetObjectItemCaseSensitive(c, "kept");
    const cJSON *chosen = cJSON_GetObjectItemCaseSensitive(c, "chosen");
    char w[512] = "";
    const char *fv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "forced"));
    if (fv && cJSON_IsString(forced) && cJSON_IsString(own) &&
        strcmp(forced->valuestring, own->valuestring) != 0) {
        const bnk_cpu *cpu = bnk_cpu_get();
        const char *isa = cpu->avx512 ? "AVX-512" : cpu->avx2 ? "AVX2" : "neither AVX2 nor AVX-512";
        int len = snprintf(w, sizeof w,
                           "OPENBLAS_CORETYPE=%s forces OpenBLAS's %s core, not the %s core "
                           "OpenBLAS picks for this CPU (%s); ",
                           fv, forced->valuestring, own->valuestring, isa);
        if (len > 0 && (size_t)len < sizeof w) {
            if (cJSON_IsTrue(kept))
                snprintf(w + len, sizeof w - (size_t)len,
                         "kept: OpenBLAS figures are of the %s core", forced->valuestring);
            else
                snprintf(w + len, sizeof w - (size_t)len,
                         "OpenBLAS measured on its %s core (--peer-env KEEP keeps the forced one)",
                         cJSON_IsString(chosen) ? chosen->valuestring : "?");
        }
    } else if (core && cJSON_IsString(chosen) && strcmp(core, chosen->valuestring) != 0) {
        snprintf(w, sizeof w, "OpenBLAS runs its %s core, not the %s core chosen for it", core,
                 chosen->valuestring);
    }
    if (w[0]) {
        bnb_context_add_warning(ri, "%s", w);
        cJSON_AddStringToObject(c, "warning", w);
    }
}

const char *bnb_peers_warning(const char *context_json, char *buf, size_t cap)
{
    cJSON *root = context_json ? cJSON_Parse(context_json) : NULL;
    const char *w = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(peer_obj(root, "openblas"), "core_choice"), "warning"));
    snprintf(buf, cap, "%s", w ? w : "");
    cJSON_Delete(root);
    return buf[0] ? buf : NULL;
}

static void add_lapack(cJSON *peers)
{
    cJSON *la = cJSON_AddObjectToObject(peers, "lapack");
    if (!la)
        return;
    char lib[PATH_MAX], prov[PATH_MAX];
    lib_of((const void *)LAPACKE_dgesdd, lib, sizeof lib);
    lib_of(dlsym(RTLD_DEFAULT, "dgesdd_"), prov, sizeof prov);
    cJSON_AddStringToObject(la, "lapacke", lib[0] ? lib : "unknown");
    cJSON_AddStringToObject(la, "provider", prov[0] ? prov : "unknown");
}

/* mimalloc or jemalloc: its version and file, or why it is not loadable. */
static void add_allocator(cJSON *peers, const char *name, const char *soname)
{
    cJSON *o = cJSON_AddObjectToObject(peers, name);
    if (!o)
        return;
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        const char *e = dlerror();
        cJSON_AddStringToObject(o, "not_loadable", e ? e : soname);
        return;
    }
    char ver[64] = "unknown";
    if (strcmp(name, "mimalloc") == 0) {
        int (*mv)(void) = (int (*)(void))dlsym(h, "mi_version");
        if (mv) {
            int v = mv();
            snprintf(ver, sizeof ver, "%d.%d.%d", v / 100, v / 10 % 10, v % 10);
        }
    } else {
        int (*ctl)(const char *, void *, size_t *, void *, size_t) =
            (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(h, "mallctl");
        const char *v = NULL;
        size_t len = sizeof v;
        if (ctl && ctl("version", &v, &len, NULL, 0) == 0 && v)
            snprintf(ver, sizeof ver, "%s", v);
    }
    struct link_map *lm = NULL;
    char real[PATH_MAX];
    const char *path = dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name ? lm->l_name : "";
    cJSON_AddStringToObject(o, "version", ver);
    cJSON_AddStringToObject(o, "library",
                            path[0] ? (realpath(path, real) ? real : path) : "unknown");
    dlclose(h);
}

int bnb_peers_collect(cJSON *ctx, bnb_run_info *ri)
{
    cJSON *peers = cJSON_AddObjectToObject(ctx, "peers");
    if (!peers)
        return -1;
    add_openblas(peers, ri);
    add_lapack(peers);
    add_allocator(peers, "mimalloc", "libmimalloc.so.2");
    add_allocator(peers, "jemalloc", "libjemalloc.so.2");
    return 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "?";
}

void bnb_peers_print(FILE *f, const char *context_json, const char *indent)
{
    cJSON *root = context_json ? cJSON_Parse(context_json) : NULL;
    static const char *const names[] = {"openblas", "lapack", "mimalloc", "jemalloc"};
    char label[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cJSON *o = peer_obj(root, names[i]);
        bnb_peers_label(context_json, names[i], label, sizeof label);
        char line[PATH_MAX + 1024];
        size_t len = (size_t)snprintf(line, sizeof line, "%s", label);
        if (o && strcmp(names[i], "lapack") == 0)
            snprintf(line + len, sizeof line - len, " (LAPACKE %s)", str_of(o, "lapacke"));
        else if (o && cJSON_GetObjectItemCaseSensitive(o, "not_loadable"))
            snprintf(line + len, sizeof line - len, ": %s", str_of(o, "not_loadable"));
        else if (o)
            snprintf(line + len, sizeof line - len, ", %s", str_of(o, "library"));
        /* library paths and dlerror text are printed escaped */
        fputs(indent, f);
        bnb_term_fputs(line, f);
        fputc('\n', f);
        const cJSON *c = o ? cJSON_GetObjectItemCaseSensitive(o, "core_choice") : NULL;
        if (c) {
            fprintf(f, "%s  core: ", indent);
            bnb_term_fputs(str_of(c, "reason"), f);
            fputc('\n', f);
        }
    }
    cJSON_Delete(root);
}
