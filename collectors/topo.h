/*
 * topo.h - machine topology (hwloc) and the pinning of bnbench's workers.
 *
 * The topology summary (packages, cores, PUs, caches, NUMA nodes, memory)
 * feeds the machine description and fingerprint. Pinning turns a `--cpus`
 * spec into an ordered list of PUs (Linux CPU numbers, hwloc's os_index):
 *
 *   "0,2"  "0-3"  "0-1,4"   explicit PUs, in the order given
 *   physical                one PU per core (the first of each), core order
 *   compact                 every PU, neighbours first (SMT siblings together)
 *   scatter                 one PU per core spread across packages first, then
 *                           the second PU of each core the same way
 *
 * Only PUs this process may run on are used: hwloc's allowed cpuset (the
 * cgroup's) intersected with the CPU affinity of the thread that opened the
 * topology (taskset, a batch system). An explicit list keeps the listed PUs
 * in that set and names the others in bnb_cpulist.note; a list with none of
 * them is an error.
 * The runner's measuring thread runs on the first PU of the list; the rest
 * are offered, in order, to suites that start more threads.
 *
 * A worker is a thread the harness creates itself: it binds itself to its
 * PU, binds its memory to the PU's NUMA node, then reads both bindings back.
 * What is read back is what gets stored; a refused binding becomes a warning
 * (bnb_binding.cpu_warning / mem_warning), never silence.
 *
 * Thread-safety: a bnb_topo is read-only after open and may be shared by
 * threads; bnb_pin_self binds the calling thread only.
 */
#ifndef BNB_TOPO_H
#define BNB_TOPO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BNB_MAX_CPUS   1024
#define BNB_MAX_CACHES 8

typedef struct bnb_topo bnb_topo;

typedef struct bnb_cache_info {
    int level;     /* 1, 2, 3 ... */
    char type[12]; /* "data", "instruction", "unified" */
    uint64_t size; /* bytes, per instance */
    int line;      /* bytes; 0 when unknown */
    int count;     /* instances on the machine */
} bnb_cache_info;

typedef struct bnb_topo_summary {
    int packages, cores, pus, numa_nodes;
    int pus_per_core;      /* the largest number of PUs (SMT siblings) on one core */
    uint64_t memory_bytes; /* total memory hwloc reports; 0 when unknown */
    int ncaches;
    bnb_cache_info caches[BNB_MAX_CACHES]; /* one per (level, type), L1 first */
    uint64_t llc_bytes;                    /* size of one last-level cache instance */
} bnb_topo_summary;

typedef struct bnb_cpulist {
    int n;
    int cpu[BNB_MAX_CPUS]; /* Linux CPU numbers (hwloc PU os_index) */
    char note[400];        /* "" or which listed CPUs were dropped, why, and the applied list */
} bnb_cpulist;

typedef struct bnb_binding {
    int requested_cpu;     /* the PU the worker asked for */
    int ncpus;             /* the CPU binding read back */
    int cpus[64];          /* first 64 PUs of it */
    bool cpu_bound;        /* set_cpubind succeeded and read back == {requested} */
    char cpu_warning[200]; /* "" when bound as asked */
    int numa_node;         /* the PU's NUMA node (os_index); -1 when none */
    bool mem_bound;        /* memory bound to that node and read back so */
    char mem_policy[16];   /* policy read back: "bind", "default", "firsttouch", ... */
    char mem_warning[200]; /* "" when bound as asked */
} bnb_binding;

/* Loads the topology of this machine and the CPUs the calling thread may run
 * on (call it before pinning anything). Returns 0, or -1 with a message. */
int bnb_topo_open(bnb_topo **out, char *err, size_t cap);
/* Loads a synthetic topology ("package:2 core:2 pu:2") for tests; binding
 * on it is refused by hwloc. Returns 0, or -1 with a message. */
int bnb_topo_open_synthetic(const char *desc, bnb_topo **out, char *err, size_t cap);
/* Frees t; NULL is allowed. */
void bnb_topo_close(bnb_topo *t);

void bnb_topo_summarize(const bnb_topo *t, bnb_topo_summary *s);
/* The summary as a JSON object (malloc'd); NULL when out of memory. */
char *bnb_topo_summary_json(const bnb_topo_summary *s);

/* Parses a --cpus spec (grammar above) into an ordered list of usable PUs.
 * Listed CPUs this process may not run on are dropped: out->note then says
 * which, why and what is applied (the caller prints it); otherwise note is "".
 * Returns 0, or -1 with a one-line message naming the spec and the problem
 * ("--cpus \"0-x\": \"x\" is not a CPU number"; a list of which no CPU is
 * usable names the usable set). */
int bnb_cpus_parse(const bnb_topo *t, const char *spec, bnb_cpulist *out, char *err, size_t cap);
/* The default when no --cpus is given: the first usable PU. */
void bnb_cpus_default(const bnb_topo *t, bnb_cpulist *out);
/* "0,2,5" into buf; returns buf. */
char *bnb_cpulist_format(const bnb_cpulist *l, char *buf, size_t cap);

/* The other PUs on the same core as `cpu` (its SMT siblings) into out
 * (cap entries); returns how many there are (0 without SMT or when cpu is
 * unknown). */
int bnb_topo_siblings(const bnb_topo *t, int cpu, int *out, int cap);

/* Binds the calling thread to `cpu` and its memory to that PU's NUMA node,
 * then reads both back into *b. Returns 0 when the CPU binding reads back as
 * exactly {cpu}, -1 otherwise (b->cpu_warning says why); a refused memory
 * binding only sets b->mem_warning. */
int bnb_pin_self(bnb_topo *t, int cpu, bnb_binding *b);
/* The binding as JSON, e.g. {"requested":1,"cpus":[1],"cpu_bound":true,
 * "numa_node":0,"mem_policy":"bind","mem_bound":true}; malloc'd, NULL on OOM. */
char *bnb_binding_json(const bnb_binding *b);

/* A thread created and pinned by the harness. */
typedef struct bnb_worker {
    pthread_t thread;
    bnb_topo *topo;
    int cpu;             /* -1: not pinned */
    bnb_binding binding; /* filled by the worker before fn runs */
    void *(*fn)(struct bnb_worker *w, void *arg);
    void *arg;
    void *ret;
} bnb_worker;

/* Starts a thread that pins itself to `cpu` (bnb_pin_self; -1 = no pinning),
 * then runs fn(w, arg); w->binding is valid inside fn. w must outlive the
 * thread. Returns 0, or -1 with a message when the thread cannot start. */
int bnb_worker_start(bnb_worker *w, bnb_topo *t, int cpu, void *(*fn)(bnb_worker *, void *),
                     void *arg, char *err, size_t cap);
/* Waits for the worker; returns fn's result. */
void *bnb_worker_join(bnb_worker *w);

#endif
