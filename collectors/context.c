/*
 * context.c - machine description, run context, noise warnings and the
 * machine fingerprint (see context.h for the definitions).
 *
 * Sources: /proc/cpuinfo (model, ISA flags), hwloc (topology, caches,
 * memory), uname and /etc/os-release, sysfs cpufreq, CPUID (hypervisor),
 * /proc/sys/kernel/randomize_va_space, getloadavg, git in the directory of
 * the running binary. A source that cannot be read is recorded as
 * "unknown", never guessed.
 */
#include "collectors/context.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bitnet/kernels.h"
#include "bitnet/threads.h"
#include "collectors/counters.h"
#include "collectors/peers.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifndef BN_BUILD_TYPE
#define BN_BUILD_TYPE "unknown"
#endif

/* ISA features that matter to the kernels, in the fixed order the
 * fingerprint uses (names as /proc/cpuinfo spells them). */
static const char *const isa_names[] = {
    "sse2",
    "pni",
    "ssse3",
    "sse4_1",
    "sse4_2",
    "popcnt",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi1",
    "bmi2",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512ifma",
    "avx512vbmi",
    "avx512_vbmi2",
    "avx512_vnni",
    "avx512_bitalg",
    "avx512_vpopcntdq",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
};

uint64_t bnb_fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Reads the first line of a small file, without its newline; false when unreadable. */
static bool read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

/* Value of the first "key : value" line of /proc/cpuinfo for key; "" when absent. */
static void cpuinfo_field(const char *key, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char *line = NULL;
    size_t n = 0;
    size_t klen = strlen(key);
    while (getline(&line, &n, f) > 0) {
        if (strncmp(line, key, klen) != 0 ||
            (line[klen] != ' ' && line[klen] != '\t' && line[klen] != ':'))
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        v[strcspn(v, "\n")] = '\0';
        snprintf(buf, cap, "%s", v);
        break;
    }
    free(line);
    fclose(f);
}

static bool has_flag(const char *flags, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = flags; (p = strstr(p, name)) != NULL; p += len) {
        bool start = p == flags || p[-1] == ' ';
        bool end = p[len] == '\0' || p[len] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

/* The CPU's ISA flags among isa_names, space-separated, fixed order. */
static void isa_flags(char *buf, size_t cap)
{
    static char flags[8192];
    cpuinfo_field("flags", flags, sizeof flags);
    if (!flags[0])
        cpuinfo_field("Features", flags, sizeof flags);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof isa_names / sizeof isa_names[0]; i++) {
        if (!has_flag(flags, isa_names[i]))
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? " " : "", isa_names[i]);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

static void cpu_model(char *buf, size_t cap)
{
    cpuinfo_field("model name", buf, cap);
    if (!buf[0])
        cpuinfo_field("Model", buf, cap);
    if (!buf[0])
        snprintf(buf, cap, "unknown");
}

void bnb_machine_identity(const bnb_topo *t, char *buf, size_t cap)
{
    char model[256], isa[1024];
    cpu_model(model, sizeof model);
    isa_flags(isa, sizeof isa);
    bnb_topo_summary s;
    bnb_topo_summarize(t, &s);
    char caches[512] = "";
    size_t len = 0;
    for (int i = 0; i < s.ncaches; i++) {
        int w = snprintf(caches + len, sizeof caches - len, "%sL%d%c:%llux%d", i ? "," : "",
                         s.caches[i].level, s.caches[i].type[0],
                         (unsigned long long)s.caches[i].size, s.caches[i].count);
        if (w < 0 || (size_t)w >= sizeof caches - len)
            break;
        len += (size_t)w;
    }
    double gib = (double)s.memory_bytes / (1024.0 * 1024.0 * 1024.0);
    snprintf(buf, cap, "cpu=%s;isa=%s;packages=%d;cores=%d;pus=%d;caches=%s;mem_gib=%.0f", model,
             isa, s.packages, s.cores, s.pus, caches, gib);
}

void bnb_uuid4(char out[40])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* no entropy source: time and pid still keep runs of this host apart */
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)clock();
        for (int i = 0; i < 16; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void bnb_utc_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int bnb_context_add_warning(bnb_run_info *ri, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int rc = -1;
    cJSON *arr = ri->warnings_json ? cJSON_Parse(ri->warnings_json) : cJSON_CreateArray();
    if (!arr || !cJSON_IsArray(arr))
        goto cleanup;
    cJSON *s = cJSON_CreateString(msg);
    if (!s)
        goto cleanup;
    cJSON_AddItemToArray(arr, s);
    char *text = cJSON_PrintUnformatted(arr);
    if (!text)
        goto cleanup;
    free(ri->warnings_json);
    ri->warnings_json = text;
    rc = 0;
cleanup:
    cJSON_Delete(arr);
    return rc;
}

/* Runs a git command in the directory of the running binary; "" when it fails. */
static void git_query(const char *args, char *buf, size_t cap)
{
    buf[0] = '\0';
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    if (strchr(exe, '\'')) /* the path goes into a shell command */
        return;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "git -C '%s' %s 2>/dev/null", exe, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (!fgets(buf, (int)cap, p))
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    /* drain, so git is not killed by SIGPIPE mid-write */
    char sink[256];
    while (fgets(sink, sizeof sink, p))
        ;
    pclose(p);
}

/* Hypervisor vendor from CPUID leaf 0x40000000 when the hypervisor bit is set. */
static bool vm_detect(char *vendor, size_t cap)
{
    vendor[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c >> 31) & 1u) {
        unsigned sig[3];
        __cpuid(0x40000000u, a, sig[0], sig[1], sig[2]);
        char v[13];
        memcpy(v, sig, 12);
        v[12] = '\0';
        snprintf(vendor, cap, "%s", v[0] ? v : "unknown");
        return true;
    }
#endif
    char flags[8192];
    cpuinfo_field("flags", flags, sizeof flags);
    if (has_flag(flags, "hypervisor")) {
        snprintf(vendor, cap, "unknown");
        return true;
    }
    return false;
}

/* The kernel set libbitnet's registry runs (bitnet/kernels.h) and how it
 * was chosen: "BN_KERNELS" (forced by the environment), "bn_kernels_select"
 * (forced by the program) or "cpuid" (automatic). */
static void kernels_selected(char *buf, size_t cap, const char **source)
{
    snprintf(buf, cap, "%s", bn_kernels_selected());
    const char *how = bn_kernels_how();
    if (strncmp(how, "forced (BN_KERNELS", 18) == 0)
        *source = "BN_KERNELS";
    else if (bn_kernels_forced())
        *source = "bn_kernels_select";
    else
        *source = "cpuid";
}

static void compiler_flags(char *buf, size_t cap)
{
#ifdef BN_CFLAGS
    snprintf(buf, cap, "%s", BN_CFLAGS);
#else
    /* The Makefile does not pass its flag string in; state what the
     * predefined macros prove about this object. */
    snprintf(buf, cap, "%s%s%s%s",
#ifdef __OPTIMIZE__
             "optimised",
#else
             "-O0",
#endif
#ifdef __SANITIZE_ADDRESS__
             " -fsanitize=address",
#else
             "",
#endif
#ifdef __SANITIZE_THREAD__
             " -fsanitize=thread",
#else
             "",
#endif
#ifdef BN_DEBUG
             " -DBN_DEBUG"
#else
             ""
#endif
    );
#endif
}

static cJSON *machine_object(const bnb_topo *t, const char *identity, const char *fp)
{
    cJSON *m = cJSON_CreateObject();
    if (!m)
        return NULL;
    char model[256], vendor[64], isa[1024];
    cpu_model(model, sizeof model);
    cpuinfo_field("vendor_id", vendor, sizeof vendor);
    isa_flags(isa, sizeof isa);
    cJSON_AddStringToObject(m, "cpu_model", model);
    cJSON_AddStringToObject(m, "vendor", vendor[0] ? vendor : "unknown");
    cJSON_AddStringToObject(m, "isa", isa);
    bnb_topo_summary s;
    bnb_topo_summarize(t, &s);
    char *topo_json = bnb_topo_summary_json(&s);
    cJSON *tj = topo_json ? cJSON_Parse(topo_json) : NULL;
    free(topo_json);
    if (tj)
        cJSON_AddItemToObject(m, "topology", tj);
    cJSON_AddStringToObject(m, "identity", identity);
    cJSON_AddStringToObject(m, "fingerprint", fp);
    return m;
}

/* ---- one function per probe: each adds its keys to the context object
 * and its warnings to ri, in the order the context JSON has always had ---- */

/* Build identity: fingerprint (from the machine identity), build type,
 * compiler and flags. */
static void probe_build_identity(const bnb_topo *t, bnb_run_info *ri, char *identity, size_t cap)
{
    bnb_machine_identity(t, identity, cap);
    snprintf(ri->fingerprint, sizeof ri->fingerprint, "%016llx",
             (unsigned long long)bnb_fnv1a64(identity, strlen(identity)));
    snprintf(ri->build_type, sizeof ri->build_type, "%s", BN_BUILD_TYPE);
#ifdef __VERSION__
    snprintf(ri->compiler, sizeof ri->compiler, "%s %s",
#ifdef __clang__
             "clang",
#else
             "gcc",
#endif
             __VERSION__);
#endif
    compiler_flags(ri->cflags, sizeof ri->cflags);
}

/* Commit and branch into ri ("unknown" outside a work tree); whether the
 * work tree has uncommitted changes. */
static bool probe_git(bnb_run_info *ri)
{
    char dirty[16];
    git_query("rev-parse HEAD", ri->commit, sizeof ri->commit);
    git_query("rev-parse --abbrev-ref HEAD", ri->branch, sizeof ri->branch);
    git_query("status --porcelain --untracked-files=no", dirty, sizeof dirty);
    if (!ri->commit[0])
        snprintf(ri->commit, sizeof ri->commit, "unknown");
    if (!ri->branch[0])
        snprintf(ri->branch, sizeof ri->branch, "unknown");
    return dirty[0] != '\0';
}

/* os, kernel, kernel_version, arch (uname) and distro (/etc/os-release). */
static void probe_os(cJSON *ctx)
{
    struct utsname u;
    if (uname(&u) == 0) {
        cJSON_AddStringToObject(ctx, "os", u.sysname);
        cJSON_AddStringToObject(ctx, "kernel", u.release);
        cJSON_AddStringToObject(ctx, "kernel_version", u.version);
        cJSON_AddStringToObject(ctx, "arch", u.machine);
    }
    char line[512] = "unknown";
    FILE *f = fopen("/etc/os-release", "r");
    if (f) {
        char buf[512];
        while (fgets(buf, sizeof buf, f)) {
            if (strncmp(buf, "PRETTY_NAME=", 12) == 0) {
                char *v = buf + 12;
                v[strcspn(v, "\n")] = '\0';
                if (*v == '"') {
                    v++;
                    v[strcspn(v, "\"")] = '\0';
                }
                snprintf(line, sizeof line, "%s", v);
            }
        }
        fclose(f);
    }
    cJSON_AddStringToObject(ctx, "distro", line);
}

/* compiler ... kernels_source: the build as probed into ri. */
static void add_build(cJSON *ctx, const bnb_run_info *ri, bool dirty, const char *ksrc)
{
    cJSON_AddStringToObject(ctx, "compiler", ri->compiler);
    cJSON_AddStringToObject(ctx, "cflags", ri->cflags);
    cJSON_AddStringToObject(ctx, "build_type", ri->build_type);
    cJSON_AddStringToObject(ctx, "version", BN_VERSION);
    cJSON *git = cJSON_AddObjectToObject(ctx, "git");
    if (git) {
        cJSON_AddStringToObject(git, "commit", ri->commit);
        cJSON_AddStringToObject(git, "branch", ri->branch);
        cJSON_AddBoolToObject(git, "dirty", dirty);
    }
    cJSON_AddStringToObject(ctx, "kernels", ri->kernels);
    cJSON_AddStringToObject(ctx, "kernels_source", ksrc);
    /* the engine's thread pool: what ops may use unless a case sets it */
    cJSON_AddNumberToObject(ctx, "threads", bn_threads_planned());
    cJSON_AddStringToObject(ctx, "threads_source", bn_threads_env() > 0 ? "BN_THREADS" : "default");
}

/* A warning for a debug or sanitizer build. */
static void warn_build(bnb_run_info *ri)
{
    if (strstr(ri->build_type, "debug"))
        bnb_context_add_warning(ri, "debug build (%s): timings do not represent release code",
                                ri->build_type);
    else if (strchr(ri->build_type, '+'))
        bnb_context_add_warning(ri, "sanitizer build (%s): timings include instrumentation",
                                ri->build_type);
}

/* governor and cur_freq_khz of `cpu` (cpufreq); a warning unless the
 * governor is "performance". */
static void probe_governor(cJSON *ctx, bnb_run_info *ri, int cpu)
{
    char path[256], gov[64] = "", freq[64] = "";
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor", cpu);
    bool have_gov = read_line(path, gov, sizeof gov);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq", cpu);
    bool have_freq = read_line(path, freq, sizeof freq);
    cJSON_AddStringToObject(ctx, "governor", have_gov ? gov : "not readable (no cpufreq)");
    if (have_freq)
        cJSON_AddNumberToObject(ctx, "cur_freq_khz", atof(freq));
    else
        cJSON_AddStringToObject(ctx, "cur_freq_khz", "not readable (no cpufreq)");
    if (have_gov && strcmp(gov, "performance") != 0)
        bnb_context_add_warning(ri,
                                "CPU %d governor is \"%s\", not \"performance\": frequency "
                                "scaling adds variance",
                                cpu, gov);
}

/* vm {detected, hypervisor}; a warning in a VM. */
static void probe_vm(cJSON *ctx, bnb_run_info *ri)
{
    char hv[32];
    bool vm = vm_detect(hv, sizeof hv);
    cJSON *vmj = cJSON_AddObjectToObject(ctx, "vm");
    if (vmj) {
        cJSON_AddBoolToObject(vmj, "detected", vm);
        if (vm)
            cJSON_AddStringToObject(vmj, "hypervisor", hv);
    }
    if (vm)
        bnb_context_add_warning(ri,
                                "running in a VM (hypervisor \"%s\"): steal time and "
                                "virtualised counters add noise",
                                hv);
}

/* aslr (randomize_va_space, or "unknown"); a warning when it is on. */
static void probe_aslr(cJSON *ctx, bnb_run_info *ri)
{
    char aslr[16];
    if (read_line("/proc/sys/kernel/randomize_va_space", aslr, sizeof aslr)) {
        cJSON_AddNumberToObject(ctx, "aslr", atoi(aslr));
        if (atoi(aslr) != 0)
            bnb_context_add_warning(ri,
                                    "ASLR is on (randomize_va_space=%s): memory layout, and "
                                    "with it alignment effects, differ between runs",
                                    aslr);
    } else {
        cJSON_AddStringToObject(ctx, "aslr", "unknown");
    }
}

/* loadavg [1, 5, 15 min]; a warning when the 1-minute load is 1 or more. */
static void probe_load(cJSON *ctx, bnb_run_info *ri)
{
    double load[3];
    if (getloadavg(load, 3) != 3)
        return;
    cJSON *l = cJSON_AddArrayToObject(ctx, "loadavg");
    for (int i = 0; l && i < 3; i++)
        cJSON_AddItemToArray(l, cJSON_CreateNumber(load[i]));
    if (load[0] >= 1.0)
        bnb_context_add_warning(ri,
                                "1-minute load average is %.2f: other work competes for "
                                "the CPUs",
                                load[0]);
}

/* A warning when the machine has SMT on (no key: the topology has it). */
static void probe_smt(const bnb_topo *t, bnb_run_info *ri)
{
    bnb_topo_summary s;
    bnb_topo_summarize(t, &s);
    if (s.pus_per_core > 1)
        bnb_context_add_warning(ri,
                                "SMT is on (%d PUs per core): a busy sibling PU shares the "
                                "core with the measured thread",
                                s.pus_per_core);
}

/* timer {...} from the calibration; nothing when timer is NULL. */
static void add_timer(cJSON *ctx, const bnb_timer_info *timer)
{
    if (!timer)
        return;
    cJSON *tj = cJSON_AddObjectToObject(ctx, "timer");
    if (!tj)
        return;
    cJSON_AddStringToObject(tj, "clock", "CLOCK_MONOTONIC");
    cJSON_AddNumberToObject(tj, "clock_res_ns", timer->clock_res_ns);
    cJSON_AddNumberToObject(tj, "clock_tick_ns", timer->clock_tick_ns);
    cJSON_AddNumberToObject(tj, "clock_overhead_ns", timer->clock_overhead_ns);
    cJSON_AddBoolToObject(tj, "tsc", timer->has_tsc);
    cJSON_AddBoolToObject(tj, "tsc_invariant", timer->tsc_invariant);
    cJSON_AddNumberToObject(tj, "tsc_hz", timer->tsc_hz);
    cJSON_AddNumberToObject(tj, "tsc_overhead_ns", timer->tsc_overhead_ns);
}

/* counters {pmu_present, pmu_reason, papi}; a warning without a PMU. */
static void probe_pmu(cJSON *ctx, bnb_run_info *ri, const char *papi_status)
{
    char why[200];
    bool pmu = bnb_counters_pmu_present(why, sizeof why);
    cJSON *cj = cJSON_AddObjectToObject(ctx, "counters");
    if (cj) {
        cJSON_AddBoolToObject(cj, "pmu_present", pmu);
        if (!pmu)
            cJSON_AddStringToObject(cj, "pmu_reason", why);
        if (papi_status)
            cJSON_AddStringToObject(cj, "papi", papi_status[0] ? papi_status : "started");
    }
    if (!pmu)
        bnb_context_add_warning(ri, "no hardware PMU: %s; hardware counters are unavailable", why);
}

int bnb_context_collect(const bnb_context_in *in, bnb_run_info *ri, char *err, size_t cap)
{
    int rc = -1;
    cJSON *ctx = NULL, *mach = NULL;
    char identity[2048];
    probe_build_identity(in->topo, ri, identity, sizeof identity);
    bool dirty = probe_git(ri);
    const char *ksrc;
    kernels_selected(ri->kernels, sizeof ri->kernels, &ksrc);

    mach = machine_object(in->topo, identity, ri->fingerprint);
    ctx = cJSON_CreateObject();
    if (!mach || !ctx)
        goto oom;
    probe_os(ctx);
    add_build(ctx, ri, dirty, ksrc);
    if (!ri->warnings_json && !(ri->warnings_json = strdup("[]")))
        goto oom;
    warn_build(ri);
    /* governor and frequency of the first selected CPU */
    probe_governor(ctx, ri, in->cpus && in->cpus->n > 0 ? in->cpus->cpu[0] : 0);
    probe_vm(ctx, ri);
    probe_aslr(ctx, ri);
    probe_load(ctx, ri);
    probe_smt(in->topo, ri);
    add_timer(ctx, in->timer);
    probe_pmu(ctx, ri, in->papi_status);
    if (bnb_peers_collect(ctx, ri) != 0)
        goto oom;

    char *mtext = cJSON_PrintUnformatted(mach);
    char *ctext = cJSON_PrintUnformatted(ctx);
    if (!mtext || !ctext) {
        free(mtext);
        free(ctext);
        goto oom;
    }
    free(ri->machine_json);
    free(ri->context_json);
    ri->machine_json = mtext;
    ri->context_json = ctext;
    rc = 0;
    goto cleanup;
oom:
    snprintf(err, cap, "context: out of memory");
cleanup:
    cJSON_Delete(ctx);
    cJSON_Delete(mach);
    return rc;
}

int bnb_context_set_binding(bnb_run_info *ri, const bnb_topo *t, const bnb_cpulist *cpus,
                            const bnb_binding *b)
{
    char *j = bnb_binding_json(b);
    if (!j)
        return -1;
    free(ri->binding_json);
    ri->binding_json = j;
    int rc = 0;
    if (b->cpu_warning[0])
        rc |= bnb_context_add_warning(ri, "binding: %s", b->cpu_warning);
    if (b->mem_warning[0])
        rc |= bnb_context_add_warning(ri, "binding: %s", b->mem_warning);
    if (cpus && cpus->note[0])
        rc |= bnb_context_add_warning(ri, "%s", cpus->note);
    if (b->requested_cpu >= 0) {
        int sib[8];
        int ns = bnb_topo_siblings(t, b->requested_cpu, sib, 8);
        if (ns > 0)
            rc |= bnb_context_add_warning(ri,
                                          "measured CPU %d has %d SMT sibling(s) (first: %d) "
                                          "that other work may use",
                                          b->requested_cpu, ns, sib[0]);
    }
    for (int i = 0; cpus && i < cpus->n; i++) {
        int sib[64];
        int ns = bnb_topo_siblings(t, cpus->cpu[i], sib, 64);
        for (int k = 0; k < ns && k < 64; k++)
            for (int j2 = i + 1; j2 < cpus->n; j2++)
                if (cpus->cpu[j2] == sib[k])
                    rc |= bnb_context_add_warning(ri,
                                                  "--cpus selects SMT siblings %d and %d "
                                                  "(same core)",
                                                  cpus->cpu[i], sib[k]);
    }
    return rc ? -1 : 0;
}
