/*
 * counters.c - PAPI event set plus perf software events, read per sample.
 *
 * PAPI is initialised once per process (pthread_once) with thread support,
 * because the runner measures on a worker thread. Each bnb_counters owns one
 * PAPI event set and one perf group of software events, plus growable
 * per-event sample arrays (counts per sample) that become metrics at the end
 * of a case.
 */
#include "collectors/counters.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <papi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bitnet/status.h"
#include "db/model/stats.h"

enum { SW_TASK_CLOCK, SW_PAGE_FAULTS, SW_CONTEXT_SWITCHES, SW_COUNT };

static const struct {
    const char *name;
    const char *unit;
    unsigned long long config;
} sw_events[SW_COUNT] = {
    [SW_TASK_CLOCK] = {"sw.task_clock", "ns", PERF_COUNT_SW_TASK_CLOCK},
    [SW_PAGE_FAULTS] = {"sw.page_faults", "count", PERF_COUNT_SW_PAGE_FAULTS},
    [SW_CONTEXT_SWITCHES] = {"sw.context_switches", "count", PERF_COUNT_SW_CONTEXT_SWITCHES},
};

typedef struct event_slot {
    bnb_event ev;
    int papi_index; /* position in the PAPI event set, -1 when not in it */
    int fd;         /* perf fd, -1 when none */
    double *samples;
    int n, cap;
} event_slot;

struct bnb_counters {
    int nev;
    event_slot ev[BNB_MAX_EVENTS];
    char papi_status[160];
    int eventset; /* PAPI_NULL when none */
    int npapi;    /* events in the set */
    bool papi_running;
    int nsw;
};

static bool force_papi_failure;
static pthread_once_t papi_once = PTHREAD_ONCE_INIT;
static int papi_init_rc;
static char papi_init_reason[160];

void bnb_counters_force_papi_failure(bool on)
{
    force_papi_failure = on;
}

static unsigned long thread_id(void)
{
    return (unsigned long)pthread_self();
}

static void papi_init_once(void)
{
    int v = PAPI_library_init(PAPI_VER_CURRENT);
    if (v != PAPI_VER_CURRENT) {
        papi_init_rc = v < 0 ? v : PAPI_EINVAL;
        snprintf(papi_init_reason, sizeof papi_init_reason, "PAPI_library_init: %s",
                 v < 0 ? PAPI_strerror(v) : "PAPI version mismatch");
        return;
    }
    int rc = PAPI_thread_init(thread_id);
    if (rc != PAPI_OK) {
        papi_init_rc = rc;
        snprintf(papi_init_reason, sizeof papi_init_reason, "PAPI_thread_init: %s",
                 PAPI_strerror(rc));
        return;
    }
    papi_init_rc = PAPI_OK;
}

/* Starts PAPI for this thread; "" in reason on success. */
static void papi_start_library(char *reason, size_t cap)
{
    const char *env = getenv("BNB_PAPI_DISABLE");
    bool env_off = env && *env && strcmp(env, "0") != 0;
    if (force_papi_failure || env_off) {
        snprintf(reason, cap, "PAPI not started: disabled by %s",
                 env_off ? "BNB_PAPI_DISABLE" : "bnb_counters_force_papi_failure");
        return;
    }
    pthread_once(&papi_once, papi_init_once);
    if (papi_init_rc != PAPI_OK) {
        snprintf(reason, cap, "%s", papi_init_reason);
        return;
    }
    int rc = PAPI_register_thread();
    if (rc != PAPI_OK) {
        snprintf(reason, cap, "PAPI_register_thread: %s", PAPI_strerror(rc));
        return;
    }
    reason[0] = '\0';
}

static void set_unavailable(event_slot *s, const char *fmt, const char *detail)
{
    s->ev.available = false;
    snprintf(s->ev.reason, sizeof s->ev.reason, fmt, detail);
}

/* Adds one PAPI event; marks it unavailable with PAPI's reason on failure. */
static void papi_add(bnb_counters *c, event_slot *s)
{
    if (c->papi_status[0]) {
        set_unavailable(s, "%s", c->papi_status);
        return;
    }
    int code = 0;
    int rc = PAPI_event_name_to_code(s->ev.name, &code);
    if (rc != PAPI_OK) {
        set_unavailable(s, "PAPI_event_name_to_code: %s", PAPI_strerror(rc));
        return;
    }
    rc = PAPI_query_event(code);
    if (rc != PAPI_OK) {
        set_unavailable(s, "PAPI_query_event: %s", PAPI_strerror(rc));
        return;
    }
    rc = PAPI_add_event(c->eventset, code);
    if (rc != PAPI_OK) {
        set_unavailable(s, "PAPI_add_event: %s", PAPI_strerror(rc));
        return;
    }
    s->ev.available = true;
    s->papi_index = c->npapi++;
}

static long perf_open(struct perf_event_attr *a, int group)
{
    return syscall(SYS_perf_event_open, a, 0, -1, group, 0);
}

/* Adds the software events, each on its own fd. (A perf group stopped
 * counting page faults after the first disable/enable cycle on 6.x kernels,
 * so each event is enabled and read separately.) */
static void sw_add(bnb_counters *c)
{
    for (int k = 0; k < SW_COUNT && c->nev < BNB_MAX_EVENTS; k++) {
        event_slot *s = &c->ev[c->nev++];
        *s = (event_slot){.papi_index = -1, .fd = -1};
        snprintf(s->ev.name, sizeof s->ev.name, "%s", sw_events[k].name);
        snprintf(s->ev.unit, sizeof s->ev.unit, "%s", sw_events[k].unit);
        s->ev.source = BNB_EV_PERF_SW;
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        a.type = PERF_TYPE_SOFTWARE;
        a.config = sw_events[k].config;
        a.disabled = 1;
        a.exclude_hv = 1;
        long fd = perf_open(&a, -1);
        if (fd < 0 && (errno == EACCES || errno == EPERM)) {
            a.exclude_kernel = 1; /* paranoid setting: count user time only */
            fd = perf_open(&a, -1);
        }
        if (fd < 0) {
            set_unavailable(s, "perf_event_open: %s", strerror(errno));
            continue;
        }
        s->fd = (int)fd;
        s->ev.available = true;
        c->nsw++;
    }
}

static int parse_names(const char *events, char names[][64], int *n, char *err, size_t cap)
{
    *n = 0;
    const char *p = events;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            snprintf(err, cap, "--counters \"%s\": empty event name", events);
            return -1;
        }
        if (len >= 64) {
            snprintf(err, cap, "--counters \"%s\": event name \"%.*s\" is too long", events,
                     (int)len, p);
            return -1;
        }
        if (*n >= BNB_MAX_EVENTS - SW_COUNT) {
            snprintf(err, cap, "--counters \"%s\": more than %d events", events,
                     BNB_MAX_EVENTS - SW_COUNT);
            return -1;
        }
        memcpy(names[*n], p, len);
        names[*n][len] = '\0';
        (*n)++;
        if (!e)
            return 0;
        p = e + 1;
    }
}

int bnb_counters_open(const char *events, bool multiplex, bnb_counters **out, char *err, size_t cap)
{
    *out = NULL;
    if (!events || !*events)
        events = BNB_DEFAULT_COUNTERS;
    char names[BNB_MAX_EVENTS][64];
    int nnames = 0;
    if (parse_names(events, names, &nnames, err, cap) != 0)
        return -1;
    bnb_counters *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, cap, "counters: out of memory");
        return -1;
    }
    c->eventset = PAPI_NULL;

    papi_start_library(c->papi_status, sizeof c->papi_status);
    if (!c->papi_status[0]) {
        int rc = PAPI_create_eventset(&c->eventset);
        if (rc == PAPI_OK && multiplex) {
            rc = PAPI_multiplex_init();
            if (rc == PAPI_OK)
                rc = PAPI_assign_eventset_component(c->eventset, 0);
            if (rc == PAPI_OK)
                rc = PAPI_set_multiplex(c->eventset);
        }
        if (rc != PAPI_OK) {
            snprintf(c->papi_status, sizeof c->papi_status, "PAPI event set: %s",
                     PAPI_strerror(rc));
            if (c->eventset != PAPI_NULL)
                PAPI_destroy_eventset(&c->eventset);
            c->eventset = PAPI_NULL;
        }
    }

    bool hw_missing = c->papi_status[0] != '\0';
    for (int i = 0; i < nnames; i++) {
        event_slot *s = &c->ev[c->nev++];
        *s = (event_slot){.papi_index = -1, .fd = -1};
        memcpy(s->ev.name, names[i], sizeof s->ev.name);
        snprintf(s->ev.unit, sizeof s->ev.unit, "count");
        s->ev.source = BNB_EV_PAPI;
        papi_add(c, s);
        if (!s->ev.available)
            hw_missing = true;
    }
    if (hw_missing)
        sw_add(c);
    *out = c;
    return 0;
}

void bnb_counters_close(bnb_counters *c)
{
    if (!c)
        return;
    if (c->eventset != PAPI_NULL) {
        if (c->papi_running) {
            long long discard[BNB_MAX_EVENTS]; /* the counts of a run being abandoned */
            PAPI_stop(c->eventset, discard);
        }
        PAPI_cleanup_eventset(c->eventset);
        PAPI_destroy_eventset(&c->eventset);
        PAPI_unregister_thread();
    }
    for (int i = 0; i < c->nev; i++) {
        if (c->ev[i].fd >= 0)
            close(c->ev[i].fd);
        free(c->ev[i].samples);
    }
    free(c);
}

const char *bnb_counters_papi_status(const bnb_counters *c)
{
    return c->papi_status;
}

int bnb_counters_count(const bnb_counters *c)
{
    return c->nev;
}

const bnb_event *bnb_counters_event(const bnb_counters *c, int i)
{
    BN_ASSERT(i >= 0 && i < c->nev);
    return &c->ev[i].ev;
}

int bnb_counters_available(const bnb_counters *c)
{
    int n = 0;
    for (int i = 0; i < c->nev; i++)
        n += c->ev[i].ev.available;
    return n;
}

void bnb_counters_reset(bnb_counters *c)
{
    for (int i = 0; i < c->nev; i++)
        c->ev[i].n = 0;
}

void bnb_counters_start(bnb_counters *c)
{
    for (int i = 0; i < c->nev; i++) {
        if (c->ev[i].fd >= 0) {
            ioctl(c->ev[i].fd, PERF_EVENT_IOC_RESET, 0);
            ioctl(c->ev[i].fd, PERF_EVENT_IOC_ENABLE, 0);
        }
    }
    if (c->npapi > 0 && !c->papi_running) {
        int rc = PAPI_start(c->eventset);
        if (rc == PAPI_OK) {
            c->papi_running = true;
        } else {
            for (int i = 0; i < c->nev; i++)
                if (c->ev[i].papi_index >= 0 && c->ev[i].ev.available)
                    set_unavailable(&c->ev[i], "PAPI_start: %s", PAPI_strerror(rc));
        }
    }
}

static void keep_sample(event_slot *s, double v)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        double *p = realloc(s->samples, (size_t)cap * sizeof *p);
        if (!p) {
            set_unavailable(s, "%s", "out of memory keeping the samples");
            return;
        }
        s->samples = p;
        s->cap = cap;
    }
    s->samples[s->n++] = v;
}

void bnb_counters_stop(bnb_counters *c)
{
    long long vals[BNB_MAX_EVENTS] = {0};
    bool papi_ok = false;
    if (c->papi_running) {
        int rc = PAPI_stop(c->eventset, vals);
        c->papi_running = false;
        papi_ok = rc == PAPI_OK;
        if (!papi_ok)
            for (int i = 0; i < c->nev; i++)
                if (c->ev[i].papi_index >= 0 && c->ev[i].ev.available)
                    set_unavailable(&c->ev[i], "PAPI_stop: %s", PAPI_strerror(rc));
    }
    for (int i = 0; i < c->nev; i++)
        if (c->ev[i].fd >= 0)
            ioctl(c->ev[i].fd, PERF_EVENT_IOC_DISABLE, 0);
    for (int i = 0; i < c->nev; i++) {
        event_slot *s = &c->ev[i];
        if (!s->ev.available)
            continue;
        if (s->papi_index >= 0 && papi_ok) {
            keep_sample(s, (double)vals[s->papi_index]);
        } else if (s->fd >= 0) {
            uint64_t v = 0;
            if (read(s->fd, &v, sizeof v) != (ssize_t)sizeof v)
                set_unavailable(s, "read of perf counter: %s", strerror(errno));
            else
                keep_sample(s, (double)v);
        }
    }
}

int bnb_counters_add_metrics(const bnb_counters *c, bnb_case_result *r, int64_t iterations)
{
    for (int i = 0; i < c->nev; i++) {
        const event_slot *s = &c->ev[i];
        char name[64], unit[16];
        snprintf(name, sizeof name, "counter.%s", s->ev.name);
        snprintf(unit, sizeof unit, "%s/iter", s->ev.unit);
        bnb_metric *m;
        if (s->ev.available && s->n > 0 && iterations > 0) {
            double med = bnb_stats_median(s->samples, s->n);
            if (med < 0)
                return -1;
            m = bnb_case_add_metric(r, name, unit, med / (double)iterations, false);
        } else {
            m = bnb_case_add_unavailable(r, name, unit,
                                         s->ev.available ? "no sample was counted" : s->ev.reason);
        }
        if (!m)
            return -1;
    }
    return 0;
}

bool bnb_counters_pmu_present(char *why, size_t cap)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_HARDWARE;
    a.config = PERF_COUNT_HW_CPU_CYCLES;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = perf_open(&a, -1);
    if (fd < 0) {
        snprintf(why, cap, "perf_event_open(PERF_TYPE_HARDWARE cycles): %s%s", strerror(errno),
                 errno == ENOENT ? " (no hardware PMU exposed, e.g. a VM)" : "");
        return false;
    }
    close((int)fd);
    if (cap)
        why[0] = '\0';
    return true;
}
