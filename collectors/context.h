/*
 * context.h - what a run was measured on and under which conditions.
 *
 * Fills a bnb_run_info with: the machine description (CPU model, ISA flags,
 * packages/cores/PUs, SMT, caches, memory, NUMA) and its fingerprint; the
 * context (OS and kernel, compiler and flags, build type, git commit and
 * branch, governor and frequency where readable, VM detection, ASLR, load
 * average, timers, PMU, selected kernels); and a warning for every condition
 * that makes timings noisy (debug or sanitizer build, governor not
 * `performance`, VM, load, SMT siblings, PMU missing, ASLR, refused binding).
 *
 * Fingerprint: 64-bit FNV-1a (Fowler-Noll-Vo, offset 0xcbf29ce484222325,
 * prime 0x100000001b3) over a canonical text of the identity fields only:
 *   "cpu=<model>;isa=<flags, fixed order>;packages=P;cores=C;pus=T;
 *    caches=<level><type>:<bytes>x<count>,...;mem_gib=<GiB rounded>"
 * printed as 16 hex digits. Never the hostname. Memory is rounded to whole
 * GiB so kernel reservations that shift MemTotal by megabytes keep it
 * stable. FNV is not cryptographic; it needs only to keep a handful of
 * machines apart, and no hashing library is among the project's dependencies.
 */
#ifndef BNB_CONTEXT_H
#define BNB_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "collectors/timer.h"
#include "collectors/topo.h"
#include "db/model/bnb.h"

typedef struct bnb_context_in {
    const bnb_topo *topo;        /* required */
    const bnb_timer_info *timer; /* may be NULL */
    const char *papi_status;     /* "" when PAPI started, a reason otherwise; NULL: not probed */
    const bnb_cpulist *cpus;     /* selected PUs (governor is read for the first); may be NULL */
} bnb_context_in;

/* Fills ri's fingerprint, build_type, compiler, cflags, commit, branch,
 * kernels, machine_json, context_json and warnings_json (other fields are
 * left as they are). Returns 0, or -1 with a message when out of memory. */
int bnb_context_collect(const bnb_context_in *in, bnb_run_info *ri, char *err, size_t cap);

/* Appends a warning to ri->warnings_json (created when NULL). 0 or -1 (OOM). */
int bnb_context_add_warning(bnb_run_info *ri, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stores the binding read back as ri->binding_json and adds the warnings it
 * calls for: a refused CPU or memory binding, --cpus CPUs dropped as not
 * available (cpus->note), a pinned PU with SMT siblings, two selected PUs on
 * one core. 0 or -1 (OOM). */
int bnb_context_set_binding(bnb_run_info *ri, const bnb_topo *t, const bnb_cpulist *cpus,
                            const bnb_binding *b);

/* 64-bit FNV-1a of n bytes. */
uint64_t bnb_fnv1a64(const void *p, size_t n);
/* The canonical identity text (format above) of this machine into buf. */
void bnb_machine_identity(const bnb_topo *t, char *buf, size_t cap);

/* A random (version 4) UUID, 36 characters plus NUL. */
void bnb_uuid4(char out[40]);
/* The current UTC time as "2024-05-01T12:34:56Z". */
void bnb_utc_now(char out[32]);

#endif
