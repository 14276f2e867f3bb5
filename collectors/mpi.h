/*
 * mpi.h - the MPI job a `bnbench run --mpi` runs in (Open MPI's mpirun, or
 * Slurm's srun where Open MPI has PMIx). Launch and communication are Open
 * MPI's; this module only wraps what bnbench needs of them, so nothing else
 * includes <mpi.h>.
 *
 * Built with MPI when the Makefile finds mpicc (BNB_HAVE_MPI); otherwise
 * bnb_mpi_built() is false and every other function fails with "not built
 * with MPI" (the job functions) or does nothing (finalize).
 *
 * Every function here except bnb_mpi_built and bnb_mpi_job_get is
 * collective or point-to-point on MPI_COMM_WORLD and must be called by one
 * thread at a time (MPI_THREAD_SERIALIZED): the CLI's thread, or the
 * runner's worker while the CLI's thread waits for it. Errors return
 * (MPI_ERRORS_RETURN), with MPI's error string in err.
 */
#ifndef BNB_MPI_H
#define BNB_MPI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bnb_mpi_job {
    int rank, size;             /* in MPI_COMM_WORLD */
    int local_rank, local_size; /* among the ranks on this host (shared memory) */
    bool singleton;             /* started without a launcher: one rank */
    char host[256];             /* MPI_Get_processor_name */
    char library[160];          /* MPI_Get_library_version, its first line */
} bnb_mpi_job;

/* Whether this bnbench was built with MPI. */
bool bnb_mpi_built(void);

/* Initialises MPI (MPI_THREAD_SERIALIZED at least) and describes the job.
 * Call once, before any thread is started. 0, or -1 with err (not built
 * with MPI, the launcher's environment is broken, a thread level below
 * SERIALIZED). */
int bnb_mpi_init(bnb_mpi_job *job, char *err, size_t cap);
/* The job bnb_mpi_init described; NULL before it (or without MPI). */
const bnb_mpi_job *bnb_mpi_job_get(void);
/* Finalises MPI when it was initialised; nothing otherwise. */
void bnb_mpi_finalize(void);
/* Ends every rank of the job with code (MPI_Abort): for a rank that cannot
 * go on while others wait for it. Does not return. */
_Noreturn void bnb_mpi_abort(int code);

/* Every rank's NUL-terminated string, on every rank: *all is a malloc'd
 * array of size strings (free with bnb_mpi_strings_free). Collective. */
int bnb_mpi_allgather_str(const char *mine, char ***all, char *err, size_t cap);
/* The same among the ranks of this host only (local_size strings, in local
 * rank order). Collective over this host's ranks. */
int bnb_mpi_host_allgather_str(const char *mine, char ***all, char *err, size_t cap);
void bnb_mpi_strings_free(char **all, int n);

/* The largest of every rank's v, on every rank. Collective. */
int bnb_mpi_max_double(double *v, char *err, size_t cap);
/* The largest of every rank's *v, for a rank that may have to leave
 * without the others. *v != 0 (this rank stops whatever the others say):
 * posts its value and returns 1 at once; the agreement completes on the
 * other ranks when they reach it, progressed by this rank's later MPI
 * calls. Otherwise waits (spinning 1 ms, then testing every 0.1 ms) and
 * returns 0 with the largest in *v, or 1 as soon as stop() is true (a
 * signal: mpirun's SIGTERM after another rank died) without the result.
 * -1 on an MPI error. A rank that got 1 must make no further call of this
 * kind. Collective. */
int bnb_mpi_agree_max(double *v, bool (*stop)(void), char *err, size_t cap);
/* Whether any rank passed true, on every rank. Collective. */
int bnb_mpi_any(bool *v, char *err, size_t cap);
int bnb_mpi_barrier(char *err, size_t cap);

/* Sends len bytes of text to rank 0 (a rank's stored run) once rank 0 asks
 * for it (bnb_mpi_recv_text), sleeping until then rather than polling. */
int bnb_mpi_send_text(const char *text, size_t len, char *err, size_t cap);
/* On rank 0: receives the text rank `from` sent (malloc'd, NUL-terminated,
 * *len its length). While nothing has arrived it polls every millisecond and
 * returns 1 (nothing received) as soon as stop() is true (a signal to stop).
 * 0 received, 1 stopped, -1 an error. */
int bnb_mpi_recv_text(int from, bool (*stop)(void), char **text, size_t *len, char *err,
                      size_t cap);

/* ---- what the `dist` suite measures (suites/suite_dist.c) -------------------
 * Plain wrappers of one MPI call each on MPI_COMM_WORLD, on a tag of their
 * own (point-to-point), so the suite's timed loops call MPI directly. Sizes
 * are in bytes (MPI_BYTE) or f32 elements and must fit an int (checked:
 * -1 with the size in err). Every function fails with "MPI is not
 * initialised" before bnb_mpi_init (and "not built with MPI" without it). */

/* Sends / receives bytes to / from rank peer (blocking). */
int bnb_mpi_send(const void *buf, size_t bytes, int peer, char *err, size_t cap);
int bnb_mpi_recv(void *buf, size_t bytes, int peer, char *err, size_t cap);
/* out[i] = the sum over ranks of in[i] (f32), on every rank. in and out
 * must not overlap. Collective. */
int bnb_mpi_allreduce_sum_f32(const float *in, float *out, size_t n, char *err, size_t cap);
/* root's bytes into buf on every rank. Collective. */
int bnb_mpi_bcast(void *buf, size_t bytes, int root, char *err, size_t cap);
/* A barrier that waits by sleeping `poll_s` seconds between tests rather
 * than spinning (poll_s <= 0: spins), for a rank with nothing to do while
 * another measures: it leaves the CPU (a shared core, say) to that rank.
 * Every rank must call this one (not bnb_mpi_barrier) for the same
 * barrier. Collective. */
int bnb_mpi_barrier_idle(double poll_s, char *err, size_t cap);
/* Every rank's `mine` (bytes[rank] bytes) into all, rank r's at offset
 * displs[r] (bytes[], displs[]: one per rank, in bytes). Collective. */
int bnb_mpi_allgatherv(const void *mine, void *all, const int *bytes, const int *displs, char *err,
                       size_t cap);

#endif
