/*
 * run_mpi.c - the batch of `bnbench run --mpi` (see run_mpi.h).
 *
 * A rank's run reaches rank 0 as one message: "R" and the run document, or
 * "E" and why that rank has no run to send. Rank 0 stores each document as
 * `import` would (bnb_db_ingest: idempotent by run UUID, one transaction)
 * and links it to the batch's roster.
 *
 * CPU shares: the ranks of one host gather the PUs each may use (its --cpus
 * list, else one PU per core of its affinity, which mpirun's binding may
 * already have narrowed) and take them greedily in local-rank order, each
 * up to an equal share of their union and never one a lower rank took. So
 * ranks that mpirun bound to different cores keep theirs, and ranks left
 * unbound split the host. When there are more ranks than PUs a rank shares
 * one, and the run's note says so.
 */
#include "suites/cli/run_mpi.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/context.h"
#include "db/rundoc.h"

int bnb_mpi_run_start(bnb_mpi_run *m, char *err, size_t cap)
{
    memset(m, 0, sizeof *m);
    if (bnb_mpi_init(&m->job, err, cap) != 0)
        return -1;
    if (m->job.rank == 0 && m->job.singleton)
        fprintf(stderr, "bnbench run --mpi: not started by mpirun (or srun): running as one "
                        "rank, a batch of 1\n");
    if (m->job.rank > 0) {
        const char *t = getenv("TMPDIR");
        snprintf(m->tmpdir, sizeof m->tmpdir, "%s/bnbench-rank%d-XXXXXX", t && *t ? t : "/tmp",
                 m->job.rank);
        if (!mkdtemp(m->tmpdir)) {
            snprintf(err, cap, "rank %d: cannot make a directory for its DB (%s): %s", m->job.rank,
                     m->tmpdir, strerror(errno));
            m->tmpdir[0] = '\0';
            return -1;
        }
        snprintf(m->dbpath, sizeof m->dbpath, "%s/rank.db", m->tmpdir);
    }
    return 0;
}

/* ---- handshake ------------------------------------------------------------------- */

static char *header_json(const bnb_mpi_run *m, const char *status, const char *signature)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "version", BN_VERSION);
    cJSON_AddStringToObject(o, "library", m->job.library);
    cJSON_AddStringToObject(o, "signature", signature);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "host", m->job.host);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static const char *member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Checks every rank's header against this rank's; the first problem in err. */
static int check_headers(const bnb_mpi_run *m, char **all, const char *signature, char *err,
                         size_t cap)
{
    for (int r = 0; r < m->job.size; r++) {
        cJSON *o = cJSON_Parse(all[r]);
        if (!o) {
            snprintf(err, cap, "rank %d sent a handshake that is not JSON", r);
            return -1;
        }
        const char *st = member(o, "status"), *ver = member(o, "version");
        int rc = 0;
        if (st[0]) {
            snprintf(err, cap, "rank %d (%s): %s", r, member(o, "host"), st);
            rc = -1;
        } else if (strcmp(ver, BN_VERSION) != 0) {
            snprintf(err, cap,
                     "rank %d (%s) runs bnbench %s, rank %d runs %s: every rank must "
                     "run the same bnbench",
                     r, member(o, "host"), ver, m->job.rank, BN_VERSION);
            rc = -1;
        } else if (strcmp(member(o, "signature"), signature) != 0) {
            snprintf(err, cap,
                     "rank %d (%s) selected other suites, cases or options (%s) than "
                     "rank %d (%s): every rank must be given the same run options",
                     r, member(o, "host"), member(o, "signature"), m->job.rank, signature);
            rc = -1;
        }
        cJSON_Delete(o);
        if (rc)
            return -1;
    }
    return 0;
}

/* "0,2,5" into l (at most BNB_MAX_CPUS). */
static void parse_list(const char *s, bnb_cpulist *l)
{
    memset(l, 0, sizeof *l);
    while (*s && l->n < BNB_MAX_CPUS) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        l->cpu[l->n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
}

static bool listed(const bnb_cpulist *l, int cpu)
{
    for (int i = 0; i < l->n; i++)
        if (l->cpu[i] == cpu)
            return true;
    return false;
}

/* This rank's share of its host's PUs (see the top). */
static int split_cpus(bnb_mpi_run *m, bnb_cpulist *cpus, char *err, size_t cap)
{
    char mine[BNB_MAX_CPUS * 6 + 8];
    bnb_cpulist_format(cpus, mine, sizeof mine);
    char **all = NULL;
    if (bnb_mpi_host_allgather_str(mine, &all, err, cap) != 0)
        return -1;
    int ln = m->job.local_size;
    bnb_cpulist *lists = calloc((size_t)ln, sizeof *lists);
    bnb_cpulist *uni = calloc(1, sizeof *uni), *taken = calloc(1, sizeof *taken);
    if (!lists || !uni || !taken) {
        snprintf(err, cap, "out of memory splitting the CPUs");
        free(lists);
        free(uni);
        free(taken);
        bnb_mpi_strings_free(all, ln);
        return -1;
    }
    for (int i = 0; i < ln; i++) {
        parse_list(all[i], &lists[i]);
        for (int k = 0; k < lists[i].n; k++)
            if (!listed(uni, lists[i].cpu[k]) && uni->n < BNB_MAX_CPUS)
                uni->cpu[uni->n++] = lists[i].cpu[k];
    }
    int share = uni->n / ln > 0 ? uni->n / ln : 1;
    bnb_cpulist got = {0};
    bool shared = false;
    for (int i = 0; i <= m->job.local_rank; i++) {
        bnb_cpulist g = {0};
        for (int k = 0; k < lists[i].n && g.n < share; k++)
            if (!listed(taken, lists[i].cpu[k]))
                g.cpu[g.n++] = lists[i].cpu[k];
        bool s = false;
        if (g.n == 0 && lists[i].n > 0) { /* more ranks than PUs: share one */
            g.cpu[g.n++] = lists[i].cpu[i % lists[i].n];
            s = true;
        }
        for (int k = 0; k < g.n && taken->n < BNB_MAX_CPUS; k++)
            taken->cpu[taken->n++] = g.cpu[k];
        if (i == m->job.local_rank) {
            got = g;
            shared = s;
        }
    }
    if (got.n > 0) {
        memcpy(cpus->cpu, got.cpu, sizeof got.cpu);
        cpus->n = got.n;
    }
    char applied[BNB_MAX_CPUS * 6 + 8];
    bnb_cpulist_format(cpus, applied, sizeof applied);
    if (shared)
        snprintf(m->cpu_note, sizeof m->cpu_note,
                 "%d ranks on host %s and %d PUs: rank %d shares PU %s with another rank", ln,
                 m->job.host, uni->n, m->job.rank, applied);
    else
        snprintf(m->cpu_note, sizeof m->cpu_note,
                 "rank %d of %d on host %s: PUs %s (disjoint from the host's other %d rank(s))",
                 m->job.rank, m->job.size, m->job.host, applied, ln - 1);
    snprintf(cpus->note, sizeof cpus->note, "%s", m->cpu_note);
    free(lists);
    free(uni);
    free(taken);
    bnb_mpi_strings_free(all, ln);
    return 0;
}

int bnb_mpi_run_handshake(bnb_mpi_run *m, const char *status, const char *signature,
                          const bnb_topo *topo, bnb_cpulist *cpus, char *err, size_t cap)
{
    m->handshaken = true;
    char *h = header_json(m, status, signature);
    if (!h) {
        snprintf(err, cap, "out of memory for the MPI handshake");
        bnb_mpi_abort(2); /* the others would wait for this rank forever */
    }
    char **all = NULL;
    int rc = bnb_mpi_allgather_str(h, &all, err, cap);
    free(h);
    if (rc != 0)
        return -1;
    if (status[0]) {
        snprintf(err, cap, "%s", status);
        rc = -1;
    } else {
        rc = check_headers(m, all, signature, err, cap);
    }
    bnb_mpi_strings_free(all, m->job.size);
    if (rc != 0)
        return -1;
    /* every rank is ready: CPU shares, then the roster on every rank */
    if (split_cpus(m, cpus, err, cap) != 0)
        return -1;
    (void)topo;
    char cl[BNB_MAX_CPUS * 6 + 8], entry[600];
    bnb_cpulist_format(cpus, cl, sizeof cl);
    snprintf(entry, sizeof entry, "%s\t%s", m->job.host, cl);
    if (bnb_mpi_allgather_str(entry, &all, err, cap) != 0)
        return -1;
    m->roster = calloc((size_t)m->job.size, sizeof *m->roster);
    if (!m->roster) {
        bnb_mpi_strings_free(all, m->job.size);
        snprintf(err, cap, "out of memory for the roster of %d ranks", m->job.size);
        return -1;
    }
    for (int r = 0; r < m->job.size; r++) {
        bnb_batch_rank *b = &m->roster[r];
        b->rank = r;
        char *tab = strchr(all[r], '\t');
        if (tab)
            *tab = '\0';
        snprintf(b->host, sizeof b->host, "%s", all[r]);
        snprintf(b->cpus, sizeof b->cpus, "%s", tab ? tab + 1 : "");
    }
    bnb_mpi_strings_free(all, m->job.size);
    return 0;
}

/* ---- the batch -------------------------------------------------------------------- */

int bnb_mpi_run_begin_batch(bnb_mpi_run *m, bnb_db *db, const char *suites, char *err, size_t cap)
{
    char started[32], dberr[BNB_ERR_MAX];
    bnb_uuid4(m->batch_uuid);
    bnb_utc_now(started);
    if (bnb_db_batch_begin(db, m->batch_uuid, started, m->job.size, suites ? suites : "", m->roster,
                           &m->batch_id, dberr) != 0) {
        snprintf(err, cap, "%s", dberr);
        return -1;
    }
    return 0;
}

void bnb_mpi_run_send(bnb_mpi_run *m, bnb_db *db, int64_t run_id, const char *why)
{
    char err[BNB_ERR_MAX] = "";
    size_t len = 0;
    char *doc = run_id > 0 && db ? bnb_rundoc_build(db, run_id, &len, err) : NULL;
    char *msg = NULL;
    if (doc) {
        msg = malloc(len + 2);
        if (msg) {
            msg[0] = 'R';
            memcpy(msg + 1, doc, len + 1);
            len += 1;
        }
    } else {
        char reason[BNB_ERR_MAX + 64];
        snprintf(reason, sizeof reason, "E%s", why && why[0] ? why : err[0] ? err : "no run");
        msg = strdup(reason);
        len = msg ? strlen(msg) : 0;
    }
    free(doc);
    if (!msg) {
        static const char oom[] = "Erank ran out of memory building its run document";
        if (bnb_mpi_send_text(oom, sizeof oom - 1, err, sizeof err) != 0)
            fprintf(stderr, "bnbench run (rank %d): %s\n", m->job.rank, err);
        return;
    }
    if (bnb_mpi_send_text(msg, len, err, sizeof err) != 0)
        fprintf(stderr, "bnbench run (rank %d): %s\n", m->job.rank, err);
    free(msg);
}

/* Stores one received message of rank r; the rank's state and whether its
 * run was interrupted. */
static int store_rank(bnb_mpi_run *m, bnb_db *db, int r, const char *text, size_t len,
                      bool *interrupted, int64_t *run_id, char *err, size_t cap)
{
    char dberr[BNB_ERR_MAX], why[BNB_ERR_MAX + 64];
    *run_id = 0;
    if (len == 0 || (text[0] != 'R' && text[0] != 'E')) {
        snprintf(why, sizeof why, "rank %d sent a message that is not a run", r);
        return bnb_db_batch_rank_lost(db, m->batch_id, r, why, err) == 0 ? 0 : -1;
    }
    if (text[0] == 'E') {
        snprintf(why, sizeof why, "%.*s", (int)(len - 1 < 600 ? len - 1 : 600), text + 1);
        return bnb_db_batch_rank_lost(db, m->batch_id, r, why, err);
    }
    bnb_rundoc *d = NULL;
    if (bnb_rundoc_parse(text + 1, len - 1, &d, dberr) != 0) {
        snprintf(why, sizeof why, "its run document was refused: %s", dberr);
        return bnb_db_batch_rank_lost(db, m->batch_id, r, why, err);
    }
    bnb_ingest_outcome oc;
    int64_t id = 0;
    if (bnb_db_ingest(db, d, &oc, &id, dberr) != 0) {
        bnb_rundoc_free(d);
        snprintf(err, cap, "storing rank %d's run: %s", r, dberr);
        return -1;
    }
    bnb_rundoc_free(d);
    bnb_run_row row;
    if (bnb_db_get_run_row(db, id, &row, dberr) != 0) {
        snprintf(err, cap, "reading back rank %d's run: %s", r, dberr);
        return -1;
    }
    *run_id = id;
    *interrupted = strcmp(row.status, "interrupted") == 0;
    bool failed = strcmp(row.status, "failed") == 0;
    char reason[512] = "";
    if (failed && bnb_db_run_status_reason(db, id, reason, sizeof reason, dberr) != 0)
        snprintf(reason, sizeof reason, "the run failed");
    if (bnb_db_batch_set_rank(db, m->batch_id, r, id, failed ? "failed" : "stored", reason,
                              dberr) != 0) {
        snprintf(err, cap, "%s", dberr);
        return -1;
    }
    return 0;
}

/* While rank 0 waits for the others' runs, Ctrl-C / SIGTERM / SIGHUP stop
 * the wait (the ranks not received yet are lost, with the reason) instead
 * of killing rank 0 with the batch half written. */
static volatile sig_atomic_t wait_stopped;

static void on_wait_signal(int sig)
{
    (void)sig;
    wait_stopped = 1;
}

static bool (*outer_stop)(void);

static bool stop_waiting(void)
{
    return wait_stopped || (outer_stop && outer_stop());
}

static int collect(bnb_mpi_run *m, bnb_db *db, int64_t own_run, bool own_failed,
                   bool own_interrupted, bnb_batch_status *status, int64_t **ids, int *nids,
                   char *err, size_t cap);

int bnb_mpi_run_collect(bnb_mpi_run *m, bnb_db *db, int64_t own_run, bool own_failed,
                        bool own_interrupted, bool (*stop)(void), bnb_batch_status *status,
                        int64_t **ids, int *nids, char *err, size_t cap)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa, old[3];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wait_signal;
    sigemptyset(&sa.sa_mask);
    wait_stopped = 0;
    outer_stop = stop;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);
    int rc = collect(m, db, own_run, own_failed, own_interrupted, status, ids, nids, err, cap);
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
    return rc;
}

static int collect(bnb_mpi_run *m, bnb_db *db, int64_t own_run, bool own_failed,
                   bool own_interrupted, bnb_batch_status *status, int64_t **ids, int *nids,
                   char *err, size_t cap)
{
    char dberr[BNB_ERR_MAX];
    *ids = calloc((size_t)m->job.size, sizeof **ids);
    *nids = 0;
    if (!*ids) {
        snprintf(err, cap, "out of memory collecting %d runs", m->job.size);
        return -1;
    }
    bool lost = false, failed = own_failed, interrupted = own_interrupted;
    if (own_run > 0) {
        char reason[512] = "";
        if (own_failed && bnb_db_run_status_reason(db, own_run, reason, sizeof reason, dberr))
            snprintf(reason, sizeof reason, "the run failed");
        if (bnb_db_batch_set_rank(db, m->batch_id, 0, own_run, own_failed ? "failed" : "stored",
                                  reason, dberr) != 0) {
            snprintf(err, cap, "%s", dberr);
            return -1;
        }
        (*ids)[(*nids)++] = own_run;
    } else {
        lost = true;
        if (bnb_db_batch_rank_lost(db, m->batch_id, 0, "rank 0's run did not begin", dberr)) {
            snprintf(err, cap, "%s", dberr);
            return -1;
        }
    }
    bool stopped = false;
    for (int r = 1; r < m->job.size; r++) {
        char *text = NULL;
        size_t len = 0;
        int rc = stopped ? 1 : bnb_mpi_recv_text(r, stop_waiting, &text, &len, dberr, sizeof dberr);
        if (rc != 0) {
            char why[BNB_ERR_MAX + 80];
            if (rc > 0)
                snprintf(why, sizeof why,
                         "its run had not reached rank 0 when rank 0 was told "
                         "to stop (a rank died, or SIGTERM/Ctrl-C)");
            else
                snprintf(why, sizeof why, "receiving its run failed: %s", dberr);
            stopped = stopped || rc > 0;
            lost = true;
            m->peer_lost = true;
            if (bnb_db_batch_rank_lost(db, m->batch_id, r, why, dberr) != 0) {
                snprintf(err, cap, "%s", dberr);
                return -1;
            }
            continue;
        }
        bool intr = false;
        int64_t id = 0;
        int src = store_rank(m, db, r, text, len, &intr, &id, err, cap);
        free(text);
        if (src != 0)
            return -1;
        if (id > 0) {
            (*ids)[(*nids)++] = id;
            bnb_run_row row;
            if (bnb_db_get_run_row(db, id, &row, dberr) == 0 && !strcmp(row.status, "failed"))
                failed = true;
        } else {
            lost = true;
        }
        interrupted |= intr;
    }
    *status = lost || failed ? BNB_BATCH_INCOMPLETE
              : interrupted  ? BNB_BATCH_INTERRUPTED
                             : BNB_BATCH_COMPLETE;
    char reason[256] = "";
    if (*status == BNB_BATCH_INCOMPLETE)
        snprintf(reason, sizeof reason, "%s",
                 lost ? "a rank's run is missing (see its rank)"
                      : "a rank's run failed (see its rank)");
    else if (*status == BNB_BATCH_INTERRUPTED)
        snprintf(reason, sizeof reason, "interrupted: every rank stopped after its current case");
    if (bnb_db_batch_end(db, m->batch_id, *status, reason, dberr) != 0) {
        snprintf(err, cap, "%s", dberr);
        return -1;
    }
    return 0;
}

void bnb_mpi_run_end(bnb_mpi_run *m)
{
    if (m->tmpdir[0]) {
        static const char *const sfx[] = {"", "-wal", "-shm", "-journal", "-reserve"};
        for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
            char p[700];
            snprintf(p, sizeof p, "%s%s", m->dbpath, sfx[i]);
            unlink(p);
        }
        rmdir(m->tmpdir);
        m->tmpdir[0] = '\0';
    }
    free(m->roster);
    m->roster = NULL;
    if (!m->peer_lost)
        bnb_mpi_finalize();
}
