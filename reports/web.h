/*
 * web.h - what `bnbench serve` answers to a GET: the fleet web view
 * (server-rendered HTML, no external assets, no JavaScript needed) and the
 * read API (JSON), both from the DB through db/ queries.
 *
 * The HTTP server (suites/cli/serve.c) owns sockets, auth, limits and
 * POST; it hands every GET here with its path and a way to read query
 * arguments, and sends back what it gets. Nothing here knows HTTP
 * transport, so pages and API answers can be tested without a socket.
 *
 * Routes:
 *   /                    the fleet: each machine with its latest run, score,
 *                        verdict, targets met / missed
 *   /machines/ID         one machine: history charts of key figures, its runs
 *   /runs/UUID           the readiness report of a run (the HTML writer)
 *   /compare?a=&b=       two runs (UUID) or two machines (name) side by side
 *   /api/v1/runs?machine=&since=&limit=   runs, newest first (JSON)
 *   /api/v1/runs/UUID    the run as its published document (db/rundoc.h)
 *   /api/v1/machines     machines with their latest run (JSON)
 *   /api/v1/compare?a=&b=  the same verdicts as `bnbench compare` (JSON)
 * An unknown path is 404, a bad argument 400, a DB error 500; API errors are
 * JSON {"error": "..."}, page errors a small HTML page saying the same.
 */
#ifndef BNB_WEB_H
#define BNB_WEB_H

#include <stddef.h>

#include "db/db.h"

typedef struct bnb_web_resp {
    int status;               /* HTTP status: 200, 400, 404, 500 */
    const char *content_type; /* a static string, e.g. "text/html; charset=utf-8" */
    char *body;               /* malloc'd, len bytes (bnb_web_resp_free) */
    size_t len;
} bnb_web_resp;

/* The value of query argument name (already URL-decoded), NULL when absent. */
typedef const char *(*bnb_web_arg_fn)(void *ctx, const char *name);

/* Answers GET path (no query string; arguments come through arg(ctx, name))
 * from db. Returns 0 with *out filled, errors included (404, 400, 500 with a
 * message), or -1 when out of memory (*out empty). db is used by one thread
 * at a time (serve gives each of its threads its own connection). */
int bnb_web_get(bnb_db *db, const char *path, bnb_web_arg_fn arg, void *ctx, bnb_web_resp *out);
void bnb_web_resp_free(bnb_web_resp *r);

#endif
