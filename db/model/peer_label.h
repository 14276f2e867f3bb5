/*
 * peer_label.h - the label of a peer library (OpenBLAS, LAPACK, mimalloc,
 * jemalloc) as stored in a run's context JSON under "peers" (written by
 * collectors/peers.c at run time). Reading it belongs to the model, so that
 * reports/ label the peers of stored runs without including collectors/.
 * Bottom layer: includes nothing above db/model/. Thread-safe (no state).
 */
#ifndef BNB_PEER_LABEL_H
#define BNB_PEER_LABEL_H

#include <stddef.h>

/* The label of peer ("openblas", "lapack", "mimalloc", "jemalloc") from a
 * stored context JSON: "OpenBLAS 0.3.21 (SkylakeX core, 1 thread)";
 * "<peer> (not recorded)" for runs stored without it (or a NULL or
 * unparsable context). Always NUL-terminates buf (cap > 0). */
void bnb_peers_label(const char *context_json, const char *peer, char *buf, size_t cap);

#endif
