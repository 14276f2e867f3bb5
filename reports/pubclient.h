/*
 * pubclient.h - publishes stored runs to a collector (`bnbench publish`,
 * `bnbench run --publish`): one document per run (db/rundoc.h) POSTed to
 * <URL>/api/v1/runs with retries, a spool for what could not be sent
 * (reports/spool.h) and the publications table (db/published.h).
 *
 * Order: the runs waiting in the DB's spool for this collector go first,
 * oldest first, then the runs asked for. Each send is one POST, retried on
 * a connection error, a timeout, 408, 429 and 5xx after an exponential backoff
 * with jitter (the delay of try k is drawn from [d/2, d], d = backoff_ms *
 * 2^k, at most max_delay_s), or after the answer's Retry-After seconds when
 * it gives one (also at most max_delay_s); never on another status.
 *
 * Outcomes of one run:
 *   201 stored, 200 already stored  -> sent: recorded as published to URL,
 *                                      removed from the spool;
 *   400, 404, 409, 413, 415 and the other 4xx but 401, 403, 408, 429
 *                                   -> rejected: the server's message shown,
 *                                      the run moved to rejected/ with it;
 *   retries used up, 401/403 (the token), a redirect, another status, TLS
 *   set-up                          -> kept in (or added to) the spool with
 *                                      the reason; nothing is lost.
 * After a failure that says the collector cannot take anything now (it
 * could not be reached, timed out after the retries, refused the token,
 * redirected, or TLS failed) the remaining runs are not tried: they are
 * spooled with that reason, so a dead collector costs one run's retries,
 * not every run's.
 *
 * The spool holds one file per run: a run sent to another collector than
 * the one its spool entry names takes the entry over when it fails again.
 *
 * Secrets: the token travels only in the Authorization header; URLs are
 * shown and stored redacted (bnb_publish_redact_url).
 */
#ifndef BNB_PUBCLIENT_H
#define BNB_PUBCLIENT_H

#include <stdint.h>
#include <stdio.h>

#include "db/db.h"
#include "reports/publish.h"

/* The collector's ingest path, appended to its base URL. */
#define BNB_PUBCLIENT_PATH    "/api/v1/runs"
#define BNB_PUBCLIENT_MAX_URL 2048

typedef struct bnb_pubclient_opts {
    const char *url;       /* the collector's base URL (http or https) */
    bnb_publish_opts http; /* token, cacert, insecure, timeout_s, connect_timeout_s */
    int retries;           /* tries after the first (0..20) */
    long backoff_ms;       /* d of the first retry (> 0) */
    long max_delay_s;      /* the longest wait between two tries, Retry-After included */
    FILE *out;             /* one line per run and per retry (stdout) */
    int skip_rejected;     /* nonzero: a run in rejected/ is not sent again (--all-unpublished);
                              zero: a run named by the user is sent whatever happened before */
} bnb_pubclient_opts;

/* Defaults: 3 retries, 500 ms, 30 s, 30 s transfer, 10 s connection. */
void bnb_pubclient_opts_default(bnb_pubclient_opts *o);

typedef struct bnb_pubclient_summary {
    int stored;              /* 201 */
    int already;             /* 200 "already stored" */
    int rejected;            /* moved to rejected/ (this time) */
    int spooled;             /* waiting in the spool after this call (for this URL) */
    char first_problem[600]; /* the first reason a run was spooled or rejected, "" */
} bnb_pubclient_summary;

/* The bearer token for a publish, never from the command line: the file
 * token_file when given (bnb_token_read_file), else BNBENCH_TOKEN, else,
 * when legacy (publish --report, as before), BNB_PUBLISH_TOKEN; *tok NULL
 * when none is set (the request goes without one). *src names where it came
 * from (for messages; never the token). 0, or -1 with err (unreadable file,
 * a control character, too long). The caller frees *tok. */
int bnb_pubclient_token(const char *token_file, int legacy, char **tok, const char **src, char *err,
                        size_t cap);

/* Base URL + BNB_PUBCLIENT_PATH (one '/' between them) into out; the URL
 * redacted into shown (cap each). -1 with err for a URL that is not http(s),
 * has a query or fragment, or is too long. */
int bnb_pubclient_endpoint(const char *url, char *out, char *shown, size_t cap, char *err,
                           size_t ecap);

/* Sends the spool of dbpath for o->url, then the runs ids[0..n-1] of db (n
 * may be 0), as described at the top. A run already waiting in the spool
 * is sent from there, not twice. Returns 0 when everything was sent (the
 * spool for this URL is empty), 1 when some run was spooled or rejected
 * (sum says how many and the first reason), or -1 with err for an error
 * that stopped it before or between runs (the DB, the spool directory);
 * runs spooled up to then stay spooled. */
int bnb_pubclient_publish(bnb_db *db, const char *dbpath, const int64_t *ids, int n,
                          const bnb_pubclient_opts *o, bnb_pubclient_summary *sum, char *err,
                          size_t cap);

#endif
