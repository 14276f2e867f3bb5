/*
 * peers.h - what the peers of a run were: which OpenBLAS (version, config,
 * the core it runs, threads, library file), which LAPACK provider, which
 * mimalloc and jemalloc, stored in the run's context JSON under "peers" so
 * every peer figure can be read beside the implementation it came from.
 *
 * OpenBLAS's core: OpenBLAS reads OPENBLAS_CORETYPE once, at load, so a core
 * forced by the environment below the one OpenBLAS picks for this CPU makes
 * every engine-vs-OpenBLAS ratio flatter the engine. Before `run` re-executes
 * itself, bnb_peers_prepare() probes the candidate cores in child processes
 * (bnbench itself, hidden command `_peer-probe`, one OPENBLAS_CORETYPE each:
 * the forced value, none (OpenBLAS's own choice for this CPU) and every other
 * core the library file holds, as named by its exported gotoblas_<CORE>
 * tables), each reporting openblas_get_corename() and a small sgemm checked
 * against a reference and timed. A core this CPU cannot run dies (SIGILL) or
 * fails the check and is not correct here; a name OpenBLAS does not accept
 * (it falls back to its own choice) is dropped. The fastest correct core is
 * kept (OpenBLAS's own on a near tie), and the measuring process is started
 * with it. `--peer-env KEEP` probes only the forced and the own core (for the
 * warning) and leaves the environment as it is (the forced core is measured
 * and labelled). The choice, the candidates
 * and the reason travel to the measuring process in BNB_PEER_CORE (JSON) and
 * are stored with the run; a forced core below OpenBLAS's own is a warning
 * of the run. No core names are ours: they are what OpenBLAS reports.
 */
#ifndef BNB_PEERS_H
#define BNB_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "db/model/bnb.h"
#include "db/model/peer_label.h" /* bnb_peers_label, for the stored peers */

/* The environment variable carrying the core choice to the re-executed run. */
#define BNB_PEER_CORE_ENV "BNB_PEER_CORE"

/* The hidden command run in each probe child: prints one line
 * "core<TAB>gflops<TAB>max_abs_err<TAB>correct(0|1)" and returns 0. */
int bnb_peers_probe_main(void);

/* Called by `run` before it re-executes itself. When OPENBLAS_CORETYPE is set
 * and no choice was made yet, probes the candidate cores, sets
 * OPENBLAS_CORETYPE to the chosen one (unless keep) and BNB_PEER_CORE to the
 * record of the choice. Returns true when OPENBLAS_CORETYPE was changed, so
 * the process must re-execute itself for OpenBLAS to load the new core. */
bool bnb_peers_prepare(bool keep);

/* Re-executes /proc/self/exe with argv (after bnb_peers_prepare returned
 * true and no other re-execution happened); returns only when exec failed. */
void bnb_peers_reexec(char **argv);

/* Adds "peers" to the context object ctx and the warnings the core choice
 * calls for to ri. 0, or -1 when out of memory. */
int bnb_peers_collect(cJSON *ctx, bnb_run_info *ri);

/* The warning the core choice stored in a context JSON (a forced core other
 * than OpenBLAS's own, or a core other than the chosen one loaded), copied
 * to buf; NULL when there is none. */
const char *bnb_peers_warning(const char *context_json, char *buf, size_t cap);

/* One line per peer of a stored context JSON, each prefixed by indent:
 * label, library file and, for OpenBLAS, how its core was chosen. */
void bnb_peers_print(FILE *f, const char *context_json, const char *indent);

#endif
