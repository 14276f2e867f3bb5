/*
 * serve.h - `bnbench serve`, the fleet collector: the one HTTP server of
 * bnbench (libmicrohttpd). It takes published run documents (POST
 * /api/v1/runs, bearer token, body limit) and stores them through
 * db/rundoc.h, and hands every GET to the web view (reports/web.h).
 */
#ifndef BNB_SERVE_H
#define BNB_SERVE_H

/* Runs the collector until SIGTERM or SIGINT; argv[0] is "serve", db the
 * global --db path. Returns the exit code: 0 after a clean stop, 2 when it
 * cannot start (a bad option, token file, address or DB). */
int bnb_cmd_serve(int argc, char **argv, const char *db);

extern const char bnb_usage_serve[];

#endif
