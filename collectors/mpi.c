/*
 * mpi.c - the MPI job (see mpi.h). With BNB_HAVE_MPI every function wraps
 * Open MPI; without it the job functions say "not built with MPI".
 *
 * Strings travel with their length first (an allgather of lengths, then an
 * allgatherv of the bytes); a rank's run travels to rank 0 as one message
 * on its own tag, received with a probe that polls, so rank 0 can stop
 * waiting when told to (mpirun's SIGTERM after another rank died).
 */
#include "collectors/mpi.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bnb_mpi_strings_free(char **all, int n)
{
    if (!all)
        return;
    for (int i = 0; i < n; i++)
        free(all[i]);
    free(all);
}

#ifdef BNB_HAVE_MPI

#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <time.h>

#define TAG_RUN 7301 /* a rank's stored run, to rank 0 */
#define TAG_GO  7302 /* rank 0 is ready to receive that run */

static bool initialised;
static bnb_mpi_job the_job;
static MPI_Comm host_comm = MPI_COMM_NULL;

bool bnb_mpi_built(void)
{
    return true;
}

/* MPI's message for code into err, after what was being done. */
static int fail(int code, const char *doing, char *err, size_t cap)
{
    char s[MPI_MAX_ERROR_STRING] = "";
    int n = 0;
    if (MPI_Error_string(code, s, &n) != MPI_SUCCESS)
        snprintf(s, sizeof s, "MPI error %d", code);
    snprintf(err, cap, "MPI: %s: %s", doing, s);
    return -1;
}

/* Whether a launcher started this process (Open MPI's mpirun, or a PMI/PMIx
 * launcher such as srun): otherwise MPI_Init makes it a singleton. */
static bool launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

int bnb_mpi_init(bnb_mpi_job *job, char *err, size_t cap)
{
    if (initialised) {
        *job = the_job;
        return 0;
    }
    bool was_launched = launched(); /* before MPI_Init, which sets them for a singleton too */
    int provided = 0, rc;
    rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
        snprintf(err, cap, "MPI_Init_thread failed (code %d): is this an MPI launch?", rc);
        return -1;
    }
    initialised = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (provided < MPI_THREAD_SERIALIZED) {
        snprintf(err, cap,
                 "MPI provides thread level %d, below MPI_THREAD_SERIALIZED (bnbench's "
                 "measuring thread calls MPI)",
                 provided);
        return -1;
    }
    bnb_mpi_job j = {0};
    MPI_Comm_rank(MPI_COMM_WORLD, &j.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &j.size);
    j.singleton = !was_launched;
    int n = 0;
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    if (MPI_Get_processor_name(name, &n) == MPI_SUCCESS)
        snprintf(j.host, sizeof j.host, "%s", name);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    if (MPI_Get_library_version(lib, &n) == MPI_SUCCESS) {
        lib[strcspn(lib, "\n,")] = '\0';
        snprintf(j.library, sizeof j.library, "%s", lib);
    }
    rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, j.rank, MPI_INFO_NULL,
                             &host_comm);
    if (rc != MPI_SUCCESS)
        return fail(rc, "splitting the ranks by host", err, cap);
    MPI_Comm_set_errhandler(host_comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(host_comm, &j.local_rank);
    MPI_Comm_size(host_comm, &j.local_size);
    the_job = j;
    *job = j;
    return 0;
}

const bnb_mpi_job *bnb_mpi_job_get(void)
{
    return initialised ? &the_job : NULL;
}

void bnb_mpi_finalize(void)
{
    if (!initialised)
        return;
    if (host_comm != MPI_COMM_NULL)
        MPI_Comm_free(&host_comm);
    MPI_Finalize();
    initialised = false;
}

_Noreturn void bnb_mpi_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code); /* MPI_Abort returns only when it could not abort */
}

static int allgather_on(MPI_Comm comm, const char *mine, char ***all, char *err, size_t cap)
{
    *all = NULL;
    int size = 0;
    MPI_Comm_size(comm, &size);
    size_t mlen = strlen(mine);
    if (mlen > INT_MAX / 2) {
        snprintf(err, cap, "MPI: a string of %zu bytes is too long to gather", mlen);
        return -1;
    }
    int len = (int)mlen;
    int *lens = calloc((size_t)size, sizeof *lens);
    int *displs = calloc((size_t)size, sizeof *displs);
    char **out = calloc((size_t)size, sizeof *out);
    char *buf = NULL;
    int rc = -1;
    if (!lens || !displs || !out) {
        snprintf(err, cap, "MPI: out of memory gathering %d strings", size);
        goto done;
    }
    int mrc = MPI_Allgather(&len, 1, MPI_INT, lens, 1, MPI_INT, comm);
    if (mrc != MPI_SUCCESS) {
        fail(mrc, "gathering string lengths", err, cap);
        goto done;
    }
    int64_t total = 0;
    for (int i = 0; i < size; i++) {
        displs[i] = (int)total;
        total += lens[i];
        if (lens[i] < 0 || total > INT_MAX) {
            snprintf(err, cap, "MPI: gathered strings too long (%lld bytes)", (long long)total);
            goto done;
        }
    }
    buf = malloc((size_t)total + 1);
    if (!buf) {
        snprintf(err, cap, "MPI: out of memory gathering %lld bytes", (long long)total);
        goto done;
    }
    mrc = MPI_Allgatherv(mine, len, MPI_CHAR, buf, lens, displs, MPI_CHAR, comm);
    if (mrc != MPI_SUCCESS) {
        fail(mrc, "gathering strings", err, cap);
        goto done;
    }
    for (int i = 0; i < size; i++) {
        out[i] = malloc((size_t)lens[i] + 1);
        if (!out[i]) {
            snprintf(err, cap, "MPI: out of memory gathering strings");
            goto done;
        }
        memcpy(out[i], buf + displs[i], (size_t)lens[i]);
        out[i][lens[i]] = '\0';
    }
    *all = out;
    out = NULL;
    rc = 0;
done:
    bnb_mpi_strings_free(out, size);
    free(buf);
    free(lens);
    free(displs);
    return rc;
}

int bnb_mpi_allgather_str(const char *mine, char ***all, char *err, size_t cap)
{
    return allgather_on(MPI_COMM_WORLD, mine, all, err, cap);
}

int bnb_mpi_host_allgather_str(const char *mine, char ***all, char *err, size_t cap)
{
    return allgather_on(host_comm, mine, all, err, cap);
}

int bnb_mpi_max_double(double *v, char *err, size_t cap)
{
    double in = *v;
    int rc = MPI_Allreduce(&in, v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "agreeing on a value", err, cap);
}

int bnb_mpi_agree_max(double *v, bool (*stop)(void), char *err, size_t cap)
{
    static double in, out; /* a request left pending keeps using them */
    static MPI_Request req;
    in = *v;
    int rc = MPI_Iallreduce(&in, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS)
        return fail(rc, "agreeing on a value", err, cap);
    if (in != 0)
        return 1;
    double t0 = MPI_Wtime();
    for (;;) {
        int done = 0;
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return fail(rc, "agreeing on a value", err, cap);
        if (done) {
            *v = out;
            return 0;
        }
        if (stop && stop())
            return 1;
        if (MPI_Wtime() - t0 > 1e-3)
            nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    }
}

int bnb_mpi_any(bool *v, char *err, size_t cap)
{
    int in = *v ? 1 : 0, out = 0;
    int rc = MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return fail(rc, "agreeing on a flag", err, cap);
    *v = out != 0;
    return 0;
}

int bnb_mpi_barrier(char *err, size_t cap)
{
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "barrier", err, cap);
}

int bnb_mpi_send_text(const char *text, size_t len, char *err, size_t cap)
{
    if (len > INT_MAX) {
        snprintf(err, cap, "MPI: a run of %zu bytes is too large to send", len);
        return -1;
    }
    /* Wait for rank 0's go while sleeping: MPI_Send of a large message
     * busy-polls until it is received, and rank 0 may still be measuring on
     * a core this rank shares with it. */
    for (;;) {
        int flag = 0;
        int rc = MPI_Iprobe(0, TAG_GO, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return fail(rc, "waiting for rank 0", err, cap);
        if (flag)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
    }
    int rc = MPI_Recv(NULL, 0, MPI_CHAR, 0, TAG_GO, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return fail(rc, "waiting for rank 0", err, cap);
    rc = MPI_Send(text, (int)len, MPI_CHAR, 0, TAG_RUN, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "sending the run to rank 0", err, cap);
}

int bnb_mpi_recv_text(int from, bool (*stop)(void), char **text, size_t *len, char *err, size_t cap)
{
    *text = NULL;
    *len = 0;
    MPI_Status st;
    int grc = MPI_Send(NULL, 0, MPI_CHAR, from, TAG_GO, MPI_COMM_WORLD);
    if (grc != MPI_SUCCESS)
        return fail(grc, "telling a rank to send its run", err, cap);
    for (;;) {
        int flag = 0;
        int rc = MPI_Iprobe(from, TAG_RUN, MPI_COMM_WORLD, &flag, &st);
        if (rc != MPI_SUCCESS)
            return fail(rc, "waiting for a rank's run", err, cap);
        if (flag)
            break;
        if (stop && stop())
            return 1;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    int n = 0;
    MPI_Get_count(&st, MPI_CHAR, &n);
    if (n < 0) {
        snprintf(err, cap, "MPI: rank %d sent a message of unknown size", from);
        return -1;
    }
    char *buf = malloc((size_t)n + 1);
    if (!buf) {
        snprintf(err, cap, "MPI: out of memory receiving %d bytes from rank %d", n, from);
        return -1;
    }
    int rc = MPI_Recv(buf, n, MPI_CHAR, from, TAG_RUN, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        free(buf);
        return fail(rc, "receiving a rank's run", err, cap);
    }
    buf[n] = '\0';
    *text = buf;
    *len = (size_t)n;
    return 0;
}

/* ---- the dist suite's calls ---------------------------------------------------- */

#define TAG_BENCH 7302 /* the dist suite's point-to-point messages */

/* Whether MPI is up and n fits an int count; otherwise -1 with err. */
static int usable(size_t n, const char *what, char *err, size_t cap)
{
    if (!initialised) {
        snprintf(err, cap, "MPI is not initialised (bnbench run --mpi under mpirun)");
        return -1;
    }
    if (n > INT_MAX) {
        snprintf(err, cap, "MPI: %s of %zu elements is too large for one call", what, n);
        return -1;
    }
    return 0;
}

int bnb_mpi_send(const void *buf, size_t bytes, int peer, char *err, size_t cap)
{
    if (usable(bytes, "a message", err, cap) != 0)
        return -1;
    int rc = MPI_Send(buf, (int)bytes, MPI_BYTE, peer, TAG_BENCH, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "sending a message", err, cap);
}

int bnb_mpi_recv(void *buf, size_t bytes, int peer, char *err, size_t cap)
{
    if (usable(bytes, "a message", err, cap) != 0)
        return -1;
    int rc =
        MPI_Recv(buf, (int)bytes, MPI_BYTE, peer, TAG_BENCH, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "receiving a message", err, cap);
}

int bnb_mpi_allreduce_sum_f32(const float *in, float *out, size_t n, char *err, size_t cap)
{
    if (usable(n, "an allreduce", err, cap) != 0)
        return -1;
    int rc = MPI_Allreduce(in, out, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "allreduce", err, cap);
}

int bnb_mpi_bcast(void *buf, size_t bytes, int root, char *err, size_t cap)
{
    if (usable(bytes, "a broadcast", err, cap) != 0)
        return -1;
    int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "broadcast", err, cap);
}

int bnb_mpi_barrier_idle(double poll_s, char *err, size_t cap)
{
    if (usable(0, "a barrier", err, cap) != 0)
        return -1;
    MPI_Request req;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS)
        return fail(rc, "barrier", err, cap);
    struct timespec nap = {.tv_sec = (time_t)poll_s,
                           .tv_nsec = (long)((poll_s - floor(poll_s)) * 1e9)};
    for (;;) {
        int done = 0;
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return fail(rc, "barrier", err, cap);
        if (done)
            return 0;
        if (poll_s > 0)
            nanosleep(&nap, NULL);
    }
}

int bnb_mpi_allgatherv(const void *mine, void *all, const int *bytes, const int *displs, char *err,
                       size_t cap)
{
    if (usable(0, "an allgather", err, cap) != 0)
        return -1;
    int rc = MPI_Allgatherv(mine, bytes[the_job.rank], MPI_BYTE, all, bytes, displs, MPI_BYTE,
                            MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(rc, "allgather", err, cap);
}

#else /* !BNB_HAVE_MPI */

static const char no_mpi[] = "not built with MPI (install Open MPI's mpicc, e.g. Debian's "
                             "libopenmpi-dev, and rebuild)";

bool bnb_mpi_built(void)
{
    return false;
}

int bnb_mpi_init(bnb_mpi_job *job, char *err, size_t cap)
{
    memset(job, 0, sizeof *job);
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

const bnb_mpi_job *bnb_mpi_job_get(void)
{
    return NULL;
}

void bnb_mpi_finalize(void) {}

_Noreturn void bnb_mpi_abort(int code)
{
    exit(code);
}

int bnb_mpi_allgather_str(const char *mine, char ***all, char *err, size_t cap)
{
    *all = NULL;
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_host_allgather_str(const char *mine, char ***all, char *err, size_t cap)
{
    return bnb_mpi_allgather_str(mine, all, err, cap);
}

int bnb_mpi_max_double(double *v, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_agree_max(double *v, bool (*stop)(void), char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_any(bool *v, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_barrier(char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_send_text(const char *text, size_t len, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_recv_text(int from, bool (*stop)(void), char **text, size_t *len, char *err, size_t cap)
{
    *text = NULL;
    *len = 0;
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_send(const void *buf, size_t bytes, int peer, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_recv(void *buf, size_t bytes, int peer, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_allreduce_sum_f32(const float *in, float *out, size_t n, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_bcast(void *buf, size_t bytes, int root, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_barrier_idle(double poll_s, char *err, size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

int bnb_mpi_allgatherv(const void *mine, void *all, const int *bytes, const int *displs, char *err,
                       size_t cap)
{
    snprintf(err, cap, "%s", no_mpi);
    return -1;
}

#endif
