/*
 * topo.c - hwloc topology summary, --cpus parsing and worker pinning.
 *
 * Everything goes through hwloc so the same code describes a laptop, a
 * two-socket server or a synthetic topology in a test. The PU orders for
 * physical/compact/scatter are computed from each allowed PU's package, core
 * and rank within its core, so they are deterministic and testable.
 *
 * "Usable" PUs are hwloc's allowed cpuset (the cgroup's) intersected with the
 * CPUs the opening thread may run on (sched_getaffinity through
 * hwloc_get_cpubind: what taskset or a batch system narrowed it to), read
 * once at open: bnbench would otherwise widen its own affinity by pinning.
 */
#include "collectors/topo.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/model/text.h"

struct bnb_topo {
    hwloc_topology_t topo;
    hwloc_bitmap_t usable; /* allowed cpuset & the opening thread's CPU binding */
    bool synthetic;
};

static int topo_load(const char *synthetic, bnb_topo **out, char *err, size_t cap)
{
    *out = NULL;
    bnb_topo *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, cap, "topology: out of memory");
        return -1;
    }
    if (hwloc_topology_init(&t->topo) != 0) {
        snprintf(err, cap, "topology: hwloc_topology_init failed: %s", strerror(errno));
        goto fail_alloc;
    }
    if (synthetic) {
        if (hwloc_topology_set_synthetic(t->topo, synthetic) != 0) {
            snprintf(err, cap, "topology: hwloc refused synthetic description \"%s\"", synthetic);
            goto fail_init;
        }
        t->synthetic = true;
    }
    if (hwloc_topology_load(t->topo) != 0) {
        snprintf(err, cap, "topology: hwloc_topology_load failed: %s", strerror(errno));
        goto fail_init;
    }
    t->usable = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t->topo));
    hwloc_bitmap_t bound = hwloc_bitmap_alloc();
    if (!t->usable || !bound) {
        hwloc_bitmap_free(bound);
        snprintf(err, cap, "topology: out of memory");
        goto fail_usable;
    }
    /* a synthetic topology's PUs are not this machine's: its allowed set is all */
    if (!synthetic && hwloc_get_cpubind(t->topo, bound, HWLOC_CPUBIND_THREAD) == 0)
        hwloc_bitmap_and(t->usable, t->usable, bound);
    hwloc_bitmap_free(bound);
    *out = t;
    return 0;
fail_usable:
    hwloc_bitmap_free(t->usable);
fail_init:
    hwloc_topology_destroy(t->topo);
fail_alloc:
    free(t);
    return -1;
}

int bnb_topo_open(bnb_topo **out, char *err, size_t cap)
{
    return topo_load(NULL, out, err, cap);
}

int bnb_topo_open_synthetic(const char *desc, bnb_topo **out, char *err, size_t cap)
{
    return topo_load(desc, out, err, cap);
}

void bnb_topo_close(bnb_topo *t)
{
    if (!t)
        return;
    hwloc_bitmap_free(t->usable);
    hwloc_topology_destroy(t->topo);
    free(t);
}

static int count_type(hwloc_topology_t topo, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n < 0 ? 0 : n;
}

void bnb_topo_summarize(const bnb_topo *t, bnb_topo_summary *s)
{
    *s = (bnb_topo_summary){0};
    hwloc_topology_t topo = t->topo;
    s->packages = count_type(topo, HWLOC_OBJ_PACKAGE);
    s->cores = count_type(topo, HWLOC_OBJ_CORE);
    s->pus = count_type(topo, HWLOC_OBJ_PU);
    s->numa_nodes = count_type(topo, HWLOC_OBJ_NUMANODE);
    s->pus_per_core = s->cores > 0 ? 0 : 1;
    for (int i = 0; i < s->cores; i++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
        int w = hwloc_bitmap_weight(core->cpuset);
        if (w > s->pus_per_core)
            s->pus_per_core = w;
    }
    /* Installed memory from the kernel (MemTotal). hwloc's total_memory sums
     * NUMA nodes' local memory, which some VMs report as a moving figure
     * (seen here: 4.3 then 5.2 GiB on a 24 GiB guest), and the machine
     * fingerprint must not move. hwloc's figure is the fallback. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    s->memory_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : root->total_memory;

    static const hwloc_obj_type_t types[] = {
        HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L2ICACHE,
        HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L3ICACHE, HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L5CACHE,
    };
    int llc_level = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0] && s->ncaches < BNB_MAX_CACHES; i++) {
        int n = count_type(topo, types[i]);
        if (n == 0)
            continue;
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, types[i], 0);
        bnb_cache_info *c = &s->caches[s->ncaches++];
        c->level = (int)o->attr->cache.depth;
        c->size = o->attr->cache.size;
        c->line = (int)o->attr->cache.linesize;
        c->count = n;
        const char *ty = o->attr->cache.type == HWLOC_OBJ_CACHE_DATA          ? "data"
                         : o->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION ? "instruction"
                                                                              : "unified";
        snprintf(c->type, sizeof c->type, "%s", ty);
        if (o->attr->cache.type != HWLOC_OBJ_CACHE_INSTRUCTION && c->level >= llc_level) {
            llc_level = c->level;
            s->llc_bytes = c->size;
        }
    }
}

char *bnb_topo_summary_json(const bnb_topo_summary *s)
{
    char *out = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "packages", s->packages);
    cJSON_AddNumberToObject(o, "cores", s->cores);
    cJSON_AddNumberToObject(o, "pus", s->pus);
    cJSON_AddNumberToObject(o, "numa_nodes", s->numa_nodes);
    cJSON_AddNumberToObject(o, "pus_per_core", s->pus_per_core);
    cJSON_AddNumberToObject(o, "memory_bytes", (double)s->memory_bytes);
    cJSON *arr = cJSON_AddArrayToObject(o, "caches");
    for (int i = 0; arr && i < s->ncaches; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c)
            goto cleanup;
        cJSON_AddItemToArray(arr, c);
        cJSON_AddNumberToObject(c, "level", s->caches[i].level);
        cJSON_AddStringToObject(c, "type", s->caches[i].type);
        cJSON_AddNumberToObject(c, "size", (double)s->caches[i].size);
        cJSON_AddNumberToObject(c, "line", s->caches[i].line);
        cJSON_AddNumberToObject(c, "count", s->caches[i].count);
    }
    cJSON_AddNumberToObject(o, "llc_bytes", (double)s->llc_bytes);
    out = cJSON_PrintUnformatted(o);
cleanup:
    cJSON_Delete(o);
    return out;
}

/* ---- --cpus ---------------------------------------------------------- */

typedef struct pu_rank {
    int os;          /* Linux CPU number */
    int pkg;         /* package logical index (0 when none) */
    int core_in_pkg; /* rank of its core among the package's cores */
    int rank;        /* rank of the PU within its core (0 = first sibling) */
    int logical;     /* PU logical index: the compact order */
} pu_rank;

/* Fills r (cap entries) with the usable PUs in logical order; returns count. */
static int allowed_pus(const bnb_topo *t, pu_rank *r, int cap)
{
    hwloc_topology_t topo = t->topo;
    hwloc_const_cpuset_t allowed = t->usable;
    int npu = count_type(topo, HWLOC_OBJ_PU);
    int n = 0;
    for (int i = 0; i < npu && n < cap; i++) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)i);
        if (!hwloc_bitmap_isset(allowed, pu->os_index))
            continue;
        pu_rank *p = &r[n++];
        p->os = (int)pu->os_index;
        p->logical = (int)pu->logical_index;
        hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pu);
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
        p->pkg = pkg ? (int)pkg->logical_index : 0;
        p->rank = 0;
        p->core_in_pkg = p->logical; /* a PU without a core is its own core */
        if (core) {
            /* rank within core: allowed PUs of the core before this one */
            int rank = 0;
            for (int j = 0; j < n - 1; j++) {
                hwloc_obj_t q = hwloc_get_pu_obj_by_os_index(topo, (unsigned)r[j].os);
                if (hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, q) == core)
                    rank++;
            }
            p->rank = rank;
            /* rank of the core within its package */
            int cr = 0;
            for (hwloc_obj_t c = core->prev_cousin; c; c = c->prev_cousin) {
                hwloc_obj_t cp = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, c);
                if (cp == pkg)
                    cr++;
            }
            p->core_in_pkg = cr;
        }
    }
    return n;
}

static int scatter_cmp(const void *a, const void *b)
{
    const pu_rank *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->core_in_pkg != y->core_in_pkg)
        return x->core_in_pkg < y->core_in_pkg ? -1 : 1;
    if (x->pkg != y->pkg)
        return x->pkg < y->pkg ? -1 : 1;
    return x->logical < y->logical ? -1 : x->logical > y->logical;
}

char *bnb_cpulist_format(const bnb_cpulist *l, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = '\0';
    for (int i = 0; i < l->n && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%d", i ? "," : "", l->cpu[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

/* A CPU set as a short "0-1,4" text for messages. */
static void set_text(hwloc_const_bitmap_t set, char *buf, size_t cap)
{
    char *s = NULL;
    if (hwloc_bitmap_list_asprintf(&s, set) < 0 || !s) {
        snprintf(buf, cap, "?");
        return;
    }
    snprintf(buf, cap, "%s", s);
    free(s);
}

/* Parses a non-negative decimal CPU number [s, e); -1 when not one. */
static int parse_cpu_number(const char *s, const char *e)
{
    if (s == e || e - s > 6)
        return -1;
    int v = 0;
    for (const char *p = s; p < e; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* Appends cpu to out, or to `dropped` when this process may not run there. */
static int add_cpu(const bnb_topo *t, const char *spec, int cpu, bnb_cpulist *out,
                   hwloc_bitmap_t dropped, char *err, size_t cap)
{
    bool listed = hwloc_bitmap_isset(dropped, (unsigned)cpu);
    for (int i = 0; i < out->n && !listed; i++)
        listed = out->cpu[i] == cpu;
    if (listed) {
        snprintf(err, cap, "--cpus \"%s\": CPU %d is listed twice", spec, cpu);
        return -1;
    }
    if (!hwloc_bitmap_isset(t->usable, (unsigned)cpu)) {
        if (hwloc_bitmap_set(dropped, (unsigned)cpu) != 0) {
            snprintf(err, cap, "--cpus \"%s\": out of memory", spec);
            return -1;
        }
        return 0;
    }
    if (out->n >= BNB_MAX_CPUS) {
        snprintf(err, cap, "--cpus \"%s\": more than %d CPUs", spec, BNB_MAX_CPUS);
        return -1;
    }
    out->cpu[out->n++] = cpu;
    return 0;
}

/* spec parsed, shown (bnb_quote) in messages. */
static int parse_items(const bnb_topo *t, const char *spec, const char *shown, bnb_cpulist *out,
                       hwloc_bitmap_t dropped, char *err, size_t cap)
{
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (end == p) {
            snprintf(err, cap, "--cpus \"%s\": empty item in the list", shown);
            return -1;
        }
        const char *dash = memchr(p, '-', (size_t)(end - p));
        int lo = parse_cpu_number(p, dash ? dash : end);
        int hi = dash ? parse_cpu_number(dash + 1, end) : lo;
        if (lo < 0 || hi < 0) {
            char *item = strndup(p, (size_t)(end - p)), qi[BNB_QUOTE_CAP];
            snprintf(err, cap,
                     "--cpus \"%s\": \"%s\" is not a CPU number or range (use 0,2 or 0-3 or "
                     "physical|scatter|compact)",
                     shown, item ? bnb_quote(item, qi) : "(out of memory)");
            free(item);
            return -1;
        }
        if (hi < lo) {
            snprintf(err, cap, "--cpus \"%s\": range %d-%d is reversed", shown, lo, hi);
            return -1;
        }
        for (int c = lo; c <= hi; c++)
            if (add_cpu(t, shown, c, out, dropped, err, cap) != 0)
                return -1;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

/* An explicit list: the listed CPUs this process may run on, in the order
 * given; the others are dropped and named in out->note, and a list left
 * empty is an error naming it and the usable set. */
static int parse_list(const bnb_topo *t, const char *spec, bnb_cpulist *out, char *err, size_t cap)
{
    char shown[BNB_QUOTE_CAP];
    bnb_quote(spec, shown);
    hwloc_bitmap_t dropped = hwloc_bitmap_alloc();
    if (!dropped) {
        snprintf(err, cap, "--cpus \"%s\": out of memory", shown);
        return -1;
    }
    int rc = parse_items(t, spec, shown, out, dropped, err, cap);
    if (rc == 0 && !hwloc_bitmap_iszero(dropped)) {
        char dr[128], us[128], ap[256];
        set_text(dropped, dr, sizeof dr);
        set_text(t->usable, us, sizeof us);
        if (out->n == 0) {
            snprintf(err, cap,
                     "--cpus \"%s\": none of these CPUs is available to this process (allowed: "
                     "%s)",
                     shown, us);
            rc = -1;
        } else {
            snprintf(out->note, sizeof out->note,
                     "--cpus \"%s\": CPU(s) %s dropped, not available to this process (allowed: "
                     "%s); using %s",
                     shown, dr, us, bnb_cpulist_format(out, ap, sizeof ap));
        }
    }
    hwloc_bitmap_free(dropped);
    return rc;
}

int bnb_cpus_parse(const bnb_topo *t, const char *spec, bnb_cpulist *out, char *err, size_t cap)
{
    out->n = 0;
    out->note[0] = '\0';
    if (!spec || !*spec) {
        snprintf(err, cap, "--cpus \"\": empty CPU list");
        return -1;
    }
    bool physical = strcmp(spec, "physical") == 0;
    bool compact = strcmp(spec, "compact") == 0;
    bool scatter = strcmp(spec, "scatter") == 0;
    if (!physical && !compact && !scatter)
        return parse_list(t, spec, out, err, cap);

    pu_rank *r = calloc(BNB_MAX_CPUS, sizeof *r);
    if (!r) {
        snprintf(err, cap, "--cpus \"%s\": out of memory", spec);
        return -1;
    }
    int n = allowed_pus(t, r, BNB_MAX_CPUS);
    if (scatter)
        qsort(r, (size_t)n, sizeof *r, scatter_cmp);
    for (int i = 0; i < n; i++)
        if (!physical || r[i].rank == 0)
            out->cpu[out->n++] = r[i].os;
    free(r);
    if (out->n == 0) {
        char us[128];
        set_text(t->usable, us, sizeof us);
        snprintf(err, cap, "--cpus \"%s\": no CPU is available to this process (allowed: %s)", spec,
                 us);
        return -1;
    }
    return 0;
}

void bnb_cpus_default(const bnb_topo *t, bnb_cpulist *out)
{
    int first = hwloc_bitmap_first(t->usable);
    out->note[0] = '\0';
    out->n = first >= 0 ? 1 : 0;
    out->cpu[0] = first;
}

int bnb_topo_siblings(const bnb_topo *t, int cpu, int *out, int cap)
{
    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t->topo, (unsigned)cpu);
    if (!pu)
        return 0;
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_CORE, pu);
    if (!core)
        return 0;
    int n = 0;
    for (int i = hwloc_bitmap_first(core->cpuset); i >= 0; i = hwloc_bitmap_next(core->cpuset, i)) {
        if (i == cpu)
            continue;
        if (n < cap)
            out[n] = i;
        n++;
    }
    return n;
}

/* ---- pinning ---------------------------------------------------------- */

static const char *membind_policy_name(hwloc_membind_policy_t p)
{
    switch (p) {
    case HWLOC_MEMBIND_DEFAULT:
        return "default";
    case HWLOC_MEMBIND_FIRSTTOUCH:
        return "firsttouch";
    case HWLOC_MEMBIND_BIND:
        return "bind";
    case HWLOC_MEMBIND_INTERLEAVE:
        return "interleave";
    case HWLOC_MEMBIND_NEXTTOUCH:
        return "nexttouch";
    case HWLOC_MEMBIND_MIXED:
        return "mixed";
    }
    return "unknown";
}

int bnb_pin_self(bnb_topo *t, int cpu, bnb_binding *b)
{
    *b = (bnb_binding){.requested_cpu = cpu, .numa_node = -1};
    hwloc_topology_t topo = t->topo;
    int rc = -1;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    hwloc_bitmap_t got = hwloc_bitmap_alloc();
    hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
    if (!set || !got || !nodes) {
        snprintf(b->cpu_warning, sizeof b->cpu_warning, "binding: out of memory");
        goto cleanup;
    }

    hwloc_bitmap_only(set, (unsigned)cpu);
    if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD) != 0)
        snprintf(b->cpu_warning, sizeof b->cpu_warning, "CPU binding to %d refused by the OS: %s",
                 cpu, strerror(errno));
    if (hwloc_get_cpubind(topo, got, HWLOC_CPUBIND_THREAD) == 0) {
        for (int i = hwloc_bitmap_first(got); i >= 0; i = hwloc_bitmap_next(got, i)) {
            if (b->ncpus < (int)(sizeof b->cpus / sizeof b->cpus[0]))
                b->cpus[b->ncpus] = i;
            b->ncpus++;
        }
    } else if (!b->cpu_warning[0]) {
        snprintf(b->cpu_warning, sizeof b->cpu_warning, "CPU binding cannot be read back: %s",
                 strerror(errno));
    }
    b->cpu_bound = b->ncpus == 1 && b->cpus[0] == cpu;
    if (!b->cpu_bound && !b->cpu_warning[0])
        snprintf(b->cpu_warning, sizeof b->cpu_warning, "CPU binding to %d reads back as %d CPUs",
                 cpu, b->ncpus);

    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(topo, (unsigned)cpu);
    if (!pu || !pu->nodeset || hwloc_bitmap_iszero(pu->nodeset)) {
        snprintf(b->mem_warning, sizeof b->mem_warning, "CPU %d has no NUMA node in hwloc", cpu);
    } else {
        b->numa_node = hwloc_bitmap_first(pu->nodeset);
        if (hwloc_set_membind(topo, pu->nodeset, HWLOC_MEMBIND_BIND,
                              HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET) != 0)
            snprintf(b->mem_warning, sizeof b->mem_warning,
                     "memory binding to NUMA node %d refused: %s", b->numa_node, strerror(errno));
        hwloc_membind_policy_t pol;
        if (hwloc_get_membind(topo, nodes, &pol, HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET) ==
            0) {
            snprintf(b->mem_policy, sizeof b->mem_policy, "%s", membind_policy_name(pol));
            b->mem_bound = pol == HWLOC_MEMBIND_BIND && hwloc_bitmap_isequal(nodes, pu->nodeset);
        } else {
            snprintf(b->mem_policy, sizeof b->mem_policy, "unknown");
        }
        if (!b->mem_bound && !b->mem_warning[0])
            snprintf(b->mem_warning, sizeof b->mem_warning,
                     "memory binding to NUMA node %d reads back as policy %s", b->numa_node,
                     b->mem_policy);
    }
    rc = b->cpu_bound ? 0 : -1;
cleanup:
    hwloc_bitmap_free(set);
    hwloc_bitmap_free(got);
    hwloc_bitmap_free(nodes);
    return rc;
}

char *bnb_binding_json(const bnb_binding *b)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char *out = NULL;
    cJSON_AddNumberToObject(o, "requested", b->requested_cpu);
    cJSON *arr = cJSON_AddArrayToObject(o, "cpus");
    int shown = b->ncpus < 64 ? b->ncpus : 64;
    for (int i = 0; arr && i < shown; i++) {
        cJSON *n = cJSON_CreateNumber(b->cpus[i]);
        if (!n)
            goto cleanup;
        cJSON_AddItemToArray(arr, n);
    }
    cJSON_AddNumberToObject(o, "ncpus", b->ncpus);
    cJSON_AddBoolToObject(o, "cpu_bound", b->cpu_bound);
    if (b->cpu_warning[0])
        cJSON_AddStringToObject(o, "cpu_warning", b->cpu_warning);
    cJSON_AddNumberToObject(o, "numa_node", b->numa_node);
    cJSON_AddStringToObject(o, "mem_policy", b->mem_policy);
    cJSON_AddBoolToObject(o, "mem_bound", b->mem_bound);
    if (b->mem_warning[0])
        cJSON_AddStringToObject(o, "mem_warning", b->mem_warning);
    out = cJSON_PrintUnformatted(o);
cleanup:
    cJSON_Delete(o);
    return out;
}

static void *worker_main(void *p)
{
    bnb_worker *w = p;
    if (w->cpu >= 0) {
        bnb_pin_self(w->topo, w->cpu, &w->binding);
    } else {
        w->binding = (bnb_binding){.requested_cpu = -1, .numa_node = -1};
        snprintf(w->binding.cpu_warning, sizeof w->binding.cpu_warning, "not pinned");
    }
    w->ret = w->fn(w, w->arg);
    return w->ret;
}

int bnb_worker_start(bnb_worker *w, bnb_topo *t, int cpu, void *(*fn)(bnb_worker *, void *),
                     void *arg, char *err, size_t cap)
{
    w->topo = t;
    w->cpu = cpu;
    w->fn = fn;
    w->arg = arg;
    w->ret = NULL;
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e != 0) {
        snprintf(err, cap, "cannot start a worker thread: %s", strerror(e));
        return -1;
    }
    return 0;
}

void *bnb_worker_join(bnb_worker *w)
{
    void *ret = NULL;
    pthread_join(w->thread, &ret);
    return ret;
}
