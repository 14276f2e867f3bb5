/*
 * serve.c - `bnbench serve`, the fleet collector: the only place bnbench
 * speaks HTTP as a server (libmicrohttpd).
 *
 * Shape: libmicrohttpd runs a pool of --threads worker threads (internal
 * polling, epoll where the library has it); every request is handled on the
 * worker that reads it. Each worker reads (GET, /healthz) through its own DB
 * connection; ingests, which SQLite serialises anyway, go one at a time
 * (write_lock) through one writer connection, whose page cache then stays
 * warm and whose writers never sleep in SQLite's busy handler (see
 * post_run). Parsing and validating a body runs on the workers in
 * parallel. The connections are opened before listening, so the quick
 * integrity check of each open happens at start and not under a request.
 *
 * A POST is checked in the order that costs a hostile client the least:
 * route (405), token (401), Content-Type (415), declared Content-Length
 * (413), all before a byte of the body is read; the body is then collected
 * up to --max-body (413 beyond, the rest discarded unread into memory),
 * parsed and validated by bnb_rundoc_parse (400 naming the field) and
 * stored by bnb_db_ingest in one transaction (201, 200, 409, 500). Nothing
 * else of the request reaches db/: the core sees parsed, validated runs.
 *
 * Durability: every connection writes with synchronous=FULL in WAL
 * mode, so when a publisher sees 201 or 200 the run's commit is in the WAL
 * on disk: a SIGKILL (or a power loss) at any later moment keeps it, and
 * an earlier one leaves no part of it (one transaction).
 *
 * Checkpoints: the writer's commits never checkpoint (SQLite's automatic
 * one would stall the request whose commit crosses 1,000 WAL pages while it
 * copies and syncs them: the POST p99). A checkpointer thread, on its own
 * connection, runs a passive checkpoint (it neither waits for nor blocks
 * the writer or readers) after every CKPT_RUNS stored runs, or CKPT_IDLE_MS
 * after the last one, and once more at stop. Under a steady stream of runs
 * a passive checkpoint never catches up with the writer, and SQLite starts
 * the WAL file over only once all of it is copied: when one leaves more
 * than CKPT_WAL_MAX frames behind, the next is run holding write_lock (it
 * then copies only what came since the last, and the next commit restarts
 * the WAL), so the WAL stays bounded and one ingest waits for that copy.
 *
 * Stop: SIGTERM or SIGINT (taken by sigwait in the main thread; the workers
 * have both blocked) quiesces the daemon (no new connections), answers new
 * requests on open connections 503, waits up to DRAIN_S for requests in
 * flight to be answered, stops the daemon and closes every DB connection.
 *
 * The token is read once, compared in constant time and never printed.
 */
#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/model/bnb.h"
#include "db/model/text.h"
#include "db/rundoc.h"
#include "reports/web.h"
#include "suites/cli/cli.h"
#include "suites/cli/serve.h"

#define DEFAULT_DB      "bnbench.db"
#define DEFAULT_LISTEN  "127.0.0.1:8080"
#define DEFAULT_THREADS 4
#define MAX_THREADS     64
#define TOKEN_MAX       4096 /* bytes of a token file */
#define CONN_TIMEOUT_S  60   /* an idle connection is closed after this */
#define DRAIN_S         30   /* how long a stop waits for requests in flight */
#define RUNS_PATH       "/api/v1/runs"

/* Sent with every response: no script, no external fetch, styles only
 * inline, images only data: URIs (the web view's charts are inline SVG). */
#define CSP "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

const char bnb_usage_serve[] =
    "usage: bnbench serve [--listen ADDR:PORT] [--db FILE] [--token-file FILE]\n"
    "                     [--max-body BYTES] [--threads N]\n"
    "\n"
    "The fleet collector: an HTTP server (libmicrohttpd, a pool of N threads, each\n"
    "with its own DB connection) that stores the runs `bnbench publish` sends and\n"
    "serves the fleet web view and read API from the same DB.\n"
    "\n"
    "  POST /api/v1/runs   one run document (Content-Type: application/json) with\n"
    "                      `Authorization: Bearer TOKEN`: 201 stored, 200 already\n"
    "                      stored (same UUID, same machine and start), 409 the UUID is\n"
    "                      stored for another machine or start, 400 not a valid\n"
    "                      document (the message names the field), 401 no or a wrong\n"
    "                      token, 413 body over --max-body, 415 not application/json,\n"
    "                      500 the DB failed. Nothing is stored from a refused request.\n"
    "  GET  /healthz       200 {\"status\":\"ok\"} when the DB can be read, else 503\n"
    "  GET  /, /machines/ID, /runs/UUID, /compare?a=&b=, /api/v1/runs,\n"
    "       /api/v1/runs/UUID, /api/v1/machines, /api/v1/compare?a=&b=\n"
    "                      the fleet web view and the read API\n"
    "Errors are JSON {\"error\": \"...\"}; methods other than GET, HEAD and POST get 405.\n"
    "\n"
    "An acknowledged run (201 or 200) is committed in WAL mode with synchronous=FULL:\n"
    "it survives the collector being killed at any moment, and a power loss. SIGTERM\n"
    "or SIGINT stops accepting connections, answers the requests in flight (up to 30\n"
    "s), closes the DB and exits 0.\n"
    "\n"
    "  --listen ADDR:PORT   where to listen (default " DEFAULT_LISTEN "; [::1]:PORT for\n"
    "                       IPv6). Every interface (0.0.0.0, [::]) only when asked.\n"
    "                       Port 0 takes a free port from the OS. Once listening, one\n"
    "                       line `listening on http://HOST:PORT` goes to stdout.\n"
    "  --db FILE            the SQLite store (default " DEFAULT_DB "), created when absent\n"
    "  --token-file FILE    the bearer token publishers must send, read once at start\n"
    "                       (trailing newline stripped; empty, unreadable or with\n"
    "                       control characters: exit 2). The token is never printed.\n"
    "                       Without it the collector is read-only: POST answers 401\n"
    "                       \"no token configured\".\n"
    "  --max-body BYTES     the largest request body taken, and so the largest run\n"
    "                       document: bytes, or with a K, M or G suffix (KiB, MiB,\n"
    "                       GiB), from 1 to 1G (default 64M = 67108864). A larger\n"
    "                       body is answered 413; a document within it is validated\n"
    "                       field by field (a 100 MB string: 400 naming the field).\n"
    "                       Each request in flight may hold about three times its\n"
    "                       body in memory while it is parsed.\n"
    "  --threads N          worker threads (default 4, 1 to 64)\n"
    "\n"
    "exit codes: 0 stopped by SIGTERM or SIGINT; 2 cannot start (an option, the token\n"
    "file, the address or the DB; the message says which)\n";

static const bnb_cli_opt opt_serve[] = {
    {.name = "listen", .kind = BNB_CLI_NONEMPTY},
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "token-file", .kind = BNB_CLI_NONEMPTY},
    {.name = "max-body", .kind = BNB_CLI_NONEMPTY},
    {.name = "threads", .kind = BNB_CLI_LONG, .lo = 1, .hi = MAX_THREADS},
    {0},
};

#define CKPT_RUNS    8    /* stored runs (about 150 WAL pages each) per checkpoint */
#define CKPT_IDLE_MS 500  /* or this long after the last stored run */
#define CKPT_WAL_MAX 8192 /* WAL frames (32 MiB of 4 KiB pages) left before a locked one */

typedef struct server server;
static void note_stored(server *s);

typedef struct server {
    const char *dbpath;
    char *token; /* NULL: none configured (POST refused) */
    size_t token_len;
    size_t max_body;
    /* DB connections, opened before listening: dbs[0] is the writer, the
     * others are handed to workers for reads on their first request
     * (pthread key); more are opened if libmicrohttpd ever runs a handler
     * on a thread beyond the pool. */
    pthread_mutex_t lock;
    pthread_key_t key;
    pthread_mutex_t write_lock; /* held around each ingest, on writer */
    bnb_db *writer;
    bnb_db *dbs[2 * MAX_THREADS];
    int ndbs, nused;
    /* the checkpointer: ck_db its connection, ck_pending runs stored since
     * its last checkpoint (under ck_lock) */
    pthread_mutex_t ck_lock;
    pthread_cond_t ck_cond;
    int ck_pending;
    bool ck_stop, ck_running;
    pthread_t ck_thread;
    bnb_db *ck_db;
    atomic_int inflight; /* requests seen and not yet completed */
    atomic_bool stopping;
    atomic_llong stored, already, refused;
} server;

/* One request's state (libmicrohttpd's con_cls). */
typedef struct request {
    server *srv;
    bool answered; /* a response is queued */
    bool too_big;  /* the body grew past max_body: the rest is discarded */
    char *buf;     /* the body so far */
    size_t len, cap;
    size_t declared; /* Content-Length, 0 when not given */
} request;

/* ---- responses ------------------------------------------------------------- */

/* Queues len bytes of body (malloc'd, taken over) with the headers every
 * answer carries, and one more header when hname is not NULL. */
static enum MHD_Result respond(struct MHD_Connection *c, request *rq, unsigned status,
                               const char *type, char *body, size_t len, const char *hname,
                               const char *hval)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, "Content-Type", type) == MHD_YES &&
        MHD_add_response_header(r, "Content-Security-Policy", CSP) == MHD_YES &&
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES &&
        MHD_add_response_header(r, "Cache-Control", "no-store") == MHD_YES &&
        (!hname || MHD_add_response_header(r, hname, hval) == MHD_YES))
        ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES)
        rq->answered = true;
    return ret;
}

/* A JSON object as the answer (taken over; strings made valid UTF-8). */
static enum MHD_Result respond_json(struct MHD_Connection *c, request *rq, unsigned status,
                                    cJSON *obj, const char *hname, const char *hval)
{
    char *text = NULL;
    if (obj && bnb_json_utf8_tree(obj) == 0)
        text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text)
        return MHD_NO; /* out of memory: libmicrohttpd drops the connection */
    return respond(c, rq, status, "application/json", text, strlen(text), hname, hval);
}

/* {"error": "<msg>"} with status, counted as refused when a 4xx. */
static enum MHD_Result respond_error(struct MHD_Connection *c, request *rq, unsigned status,
                                     const char *hname, const char *hval, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static enum MHD_Result respond_error(struct MHD_Connection *c, request *rq, unsigned status,
                                     const char *hname, const char *hval, const char *fmt, ...)
{
    char msg[BNB_ERR_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status >= 400 && status < 500)
        atomic_fetch_add(&rq->srv->refused, 1);
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "error", msg)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return respond_json(c, rq, status, o, hname, hval);
}

/* ---- DB connections -------------------------------------------------------- */

/* The calling worker's DB connection (taken from the opened ones on its
 * first request); NULL with err when none is left and a new one cannot be
 * opened. */
static bnb_db *thread_db(server *s, char *err)
{
    bnb_db *db = pthread_getspecific(s->key);
    if (db)
        return db;
    pthread_mutex_lock(&s->lock);
    if (s->nused < s->ndbs) {
        db = s->dbs[s->nused++];
    } else if (s->ndbs < (int)(sizeof s->dbs / sizeof s->dbs[0])) {
        if (bnb_db_open(s->dbpath, 0, &db, err) == 0 && bnb_db_durable_writes(db, err) != 0) {
            bnb_db_close(db);
            db = NULL;
        }
        if (db) {
            s->dbs[s->ndbs++] = db;
            s->nused++;
        }
    } else {
        snprintf(err, BNB_ERR_MAX, "all %d DB connections are in use", s->ndbs);
    }
    pthread_mutex_unlock(&s->lock);
    if (db && pthread_setspecific(s->key, db) != 0) {
        snprintf(err, BNB_ERR_MAX, "cannot keep the worker's DB connection (out of memory)");
        db = NULL; /* stays in s->dbs, closed at the end */
    }
    return db;
}

/* ---- POST /api/v1/runs ----------------------------------------------------- */

/* The bearer token of the request equals the configured one; the time taken
 * depends on the lengths only, not on where the bytes differ. */
static bool token_matches(const server *s, const char *given)
{
    size_t glen = strlen(given);
    volatile unsigned char diff = (unsigned char)(glen != s->token_len);
    for (size_t i = 0; i < s->token_len; i++)
        diff |= (unsigned char)(s->token[i] ^ (i < glen ? given[i] : 0));
    return diff == 0;
}

/* Checks the headers of a POST before any of its body is read; queues the
 * refusal and returns false, or returns true to go on reading. */
static bool post_headers_ok(server *s, struct MHD_Connection *c, request *rq, enum MHD_Result *ret)
{
    static const char challenge[] = "Bearer realm=\"bnbench\"";
    if (!s->token) {
        *ret = respond_error(c, rq, MHD_HTTP_UNAUTHORIZED, "WWW-Authenticate", challenge,
                             "no token configured: this collector was started without "
                             "--token-file and stores no runs");
        return false;
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        *ret = respond_error(c, rq, MHD_HTTP_UNAUTHORIZED, "WWW-Authenticate", challenge,
                             "missing bearer token: send `Authorization: Bearer TOKEN`");
        return false;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    if (!token_matches(s, tok)) {
        *ret = respond_error(c, rq, MHD_HTTP_UNAUTHORIZED, "WWW-Authenticate", challenge,
                             "wrong bearer token");
        return false;
    }
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    size_t tl = type ? strcspn(type, "; \t") : 0;
    if (!type || tl != strlen("application/json") || strncasecmp(type, "application/json", tl)) {
        char q[BNB_CLI_QUOTE_MAX + 1];
        *ret = respond_error(c, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL, NULL,
                             "Content-Type must be application/json, got %s%s%s", type ? "\"" : "",
                             type ? bnb_cli_quote(type, q) : "none", type ? "\"" : "");
        return false;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        /* libmicrohttpd has refused a Content-Length that is not a number */
        errno = 0;
        unsigned long long n = strtoull(cl, NULL, 10);
        if (errno == ERANGE || n > s->max_body) {
            *ret = respond_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "Connection", "close",
                                 "body: %s bytes is over the limit of %zu bytes (--max-body)",
                                 errno == ERANGE ? "more than 2^64" : cl, s->max_body);
            return false;
        }
        rq->declared = (size_t)n;
    }
    return true;
}

/* Takes n bytes of body: kept while the total stays within max_body (the
 * buffer grows by doubling, never past the declared length or the limit),
 * discarded after it went past. 0, or -1 when out of memory. */
static int take_body(server *s, request *rq, const char *data, size_t n)
{
    if (rq->too_big)
        return 0;
    if (n > s->max_body - rq->len) {
        rq->too_big = true;
        free(rq->buf);
        rq->buf = NULL;
        rq->len = rq->cap = 0;
        return 0;
    }
    if (rq->len + n > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 64 * 1024;
        while (cap < rq->len + n)
            cap = cap > s->max_body / 2 ? s->max_body : cap * 2;
        if (rq->declared >= rq->len + n && cap > rq->declared)
            cap = rq->declared;
        char *nb = realloc(rq->buf, cap);
        if (!nb)
            return -1;
        rq->buf = nb;
        rq->cap = cap;
    }
    memcpy(rq->buf + rq->len, data, n);
    rq->len += n;
    return 0;
}

/* The whole body is in: parse, validate, store, answer. */
static enum MHD_Result post_run(server *s, struct MHD_Connection *c, request *rq)
{
    if (rq->too_big)
        return respond_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "Connection", "close",
                             "body: more than %zu bytes, the limit (--max-body)", s->max_body);
    char err[BNB_ERR_MAX];
    bnb_rundoc *doc = NULL;
    int bad = bnb_rundoc_parse_max(rq->buf ? rq->buf : "", rq->len, s->max_body, &doc, err);
    free(rq->buf); /* the document keeps what it needs */
    rq->buf = NULL;
    rq->len = rq->cap = 0;
    if (bad)
        return respond_error(c, rq, MHD_HTTP_BAD_REQUEST, NULL, NULL, "%s", err);
    /* one writer at a time, on the one writer connection: SQLite's own
     * lock would answer the others SQLITE_BUSY and its busy handler sleep
     * them in steps of up to 100 ms (measured: 13 runs/s, p99 2.7 s with 8
     * publishers), and a connection whose pages another one changed drops
     * its page cache (one writer: 15-25% less CPU per run); parsing above
     * stays parallel */
    bnb_db *db = s->writer;
    bnb_ingest_outcome outcome = BNB_INGEST_STORED;
    pthread_mutex_lock(&s->write_lock);
    int stored = bnb_db_ingest(db, doc, &outcome, NULL, err);
    pthread_mutex_unlock(&s->write_lock);
    if (stored != 0) {
        /* the full message (with the DB's path) goes to the operator; the
         * publisher gets SQLite's reason only */
        const char *fault = bnb_db_last_fault(db);
        fprintf(stderr, "bnbench serve: storing run %s failed: %s\n", bnb_rundoc_uuid(doc), err);
        enum MHD_Result r =
            respond_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                          "storing the run failed%s%s; nothing was stored, send it again later",
                          fault && *fault ? ": " : "", fault ? fault : "");
        bnb_rundoc_free(doc);
        return r;
    }
    const char *uuid = bnb_rundoc_uuid(doc);
    enum MHD_Result r;
    if (outcome == BNB_INGEST_CONFLICT) {
        r = respond_error(c, rq, MHD_HTTP_CONFLICT, NULL, NULL,
                          "run.uuid: %s is already stored for another machine or start time; "
                          "nothing was stored",
                          uuid);
    } else {
        bool fresh = outcome == BNB_INGEST_STORED;
        atomic_fetch_add(fresh ? &s->stored : &s->already, 1);
        if (fresh)
            note_stored(s);
        cJSON *o = cJSON_CreateObject();
        if (o && (!cJSON_AddStringToObject(o, "uuid", uuid) ||
                  !cJSON_AddStringToObject(o, "status", fresh ? "stored" : "already stored"))) {
            cJSON_Delete(o);
            o = NULL;
        }
        char loc[128];
        snprintf(loc, sizeof loc, RUNS_PATH "/%s", uuid);
        r = respond_json(c, rq, fresh ? MHD_HTTP_CREATED : MHD_HTTP_OK, o, "Location", loc);
    }
    bnb_rundoc_free(doc);
    return r;
}

/* ---- GET ------------------------------------------------------------------- */

static const char *query_arg(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result get(server *s, struct MHD_Connection *c, request *rq, const char *url)
{
    char err[BNB_ERR_MAX];
    bnb_db *db = thread_db(s, err);
    if (!strcmp(url, "/healthz")) {
        if (db && bnb_db_ping(db, err) == 0) {
            cJSON *o = cJSON_CreateObject();
            if (o && !cJSON_AddStringToObject(o, "status", "ok")) {
                cJSON_Delete(o);
                o = NULL;
            }
            return respond_json(c, rq, MHD_HTTP_OK, o, NULL, NULL);
        }
        fprintf(stderr, "bnbench serve: health check: %s\n", err);
        return respond_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL,
                             "the collector cannot read its DB");
    }
    if (!db) {
        fprintf(stderr, "bnbench serve: %s\n", err);
        return respond_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                             "the collector cannot open its DB");
    }
    bnb_web_resp wr;
    memset(&wr, 0, sizeof wr);
    if (bnb_web_get(db, url, query_arg, c, &wr) != 0)
        return respond_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                             "out of memory answering %s", url);
    char *body = malloc(wr.len ? wr.len : 1);
    if (!body) {
        bnb_web_resp_free(&wr);
        return MHD_NO;
    }
    memcpy(body, wr.body, wr.len);
    enum MHD_Result r =
        respond(c, rq, (unsigned)wr.status, wr.content_type, body, wr.len, NULL, NULL);
    bnb_web_resp_free(&wr);
    return r;
}

/* ---- libmicrohttpd callbacks ------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    server *s = cls;
    request *rq = *con_cls;
    if (rq) { /* a later call of a POST that passed its header checks */
        if (rq->answered) {
            *upload_size = 0;
            return MHD_YES;
        }
        if (*upload_size) {
            size_t n = *upload_size;
            *upload_size = 0;
            return take_body(s, rq, upload_data, n) == 0 ? MHD_YES : MHD_NO;
        }
        return post_run(s, c, rq);
    }
    if (!(rq = calloc(1, sizeof *rq)))
        return MHD_NO;
    rq->srv = s;
    *con_cls = rq;
    atomic_fetch_add(&s->inflight, 1);
    if (atomic_load(&s->stopping))
        return respond_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "Connection", "close",
                             "the collector is shutting down; send it again later");
    bool is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    if (is_get)
        return get(s, c, rq, url);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return respond_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "Allow", "GET, HEAD, POST",
                             "method %.32s is not allowed (GET, HEAD, or POST to " RUNS_PATH ")",
                             method);
    if (strcmp(url, RUNS_PATH) != 0)
        return respond_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "Allow", "GET, HEAD",
                             "POST is taken at " RUNS_PATH " only");
    enum MHD_Result ret = MHD_YES;
    if (!post_headers_ok(s, c, rq, &ret))
        return ret;
    return MHD_YES; /* the body follows */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    server *s = cls;
    request *rq = *con_cls;
    if (!rq)
        return;
    free(rq->buf);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    char t[512];
    fprintf(stderr, "bnbench serve: libmicrohttpd: %s\n", bnb_term_safe(msg, t, sizeof t));
}

/* ---- start-up --------------------------------------------------------------- */

/* Reads the token file into s (one trailing newline, \n or \r\n, and any
 * further trailing ones stripped). 0, or -1 with the reason in err. The
 * token itself never appears in a message. */
static int read_token(server *s, const char *path, char *err, size_t cap)
{
    char q[BNB_CLI_QUOTE_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, cap, "token file %s: %s", bnb_cli_quote(path, q), strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > TOKEN_MAX) {
        snprintf(err, cap, "token file %s: %s", bnb_cli_quote(path, q),
                 S_ISREG(st.st_mode) ? "larger than 4096 bytes; it should hold the token only"
                                     : "not a regular file");
        close(fd);
        return -1;
    }
    char *tok = malloc(TOKEN_MAX + 1);
    ssize_t n = tok ? read(fd, tok, TOKEN_MAX + 1) : -1;
    int e = errno;
    close(fd);
    if (n < 0 || n > TOKEN_MAX) {
        snprintf(err, cap, "token file %s: %s", bnb_cli_quote(path, q),
                 n < 0 ? strerror(e) : "larger than 4096 bytes; it should hold the token only");
        free(tok);
        return -1;
    }
    while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r'))
        n--;
    tok[n] = '\0';
    if (n == 0) {
        snprintf(err, cap, "token file %s is empty", bnb_cli_quote(path, q));
        free(tok);
        return -1;
    }
    for (ssize_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)tok[i];
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(err, cap,
                     "token file %s: a control character (0x%02x) at byte %zd; the token must "
                     "be one line of printable characters",
                     bnb_cli_quote(path, q), ch, i);
            explicit_bzero(tok, TOKEN_MAX + 1);
            free(tok);
            return -1;
        }
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        fprintf(stderr, "bnbench serve: warning: token file %s is readable by others (mode %03o)\n",
                bnb_cli_quote(path, q), (unsigned)(st.st_mode & 0777));
    s->token = tok;
    s->token_len = (size_t)n;
    return 0;
}

/* ADDR:PORT (ADDR an IPv4 address, [IPv6] or a host name) into *ss. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                        size_t cap)
{
    char q[BNB_CLI_QUOTE_MAX + 1], host[256];
    const char *colon, *hs = spec;
    size_t hl;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, cap, "--listen must be ADDR:PORT or [IPv6]:PORT, got \"%s\"",
                     bnb_cli_quote(spec, q));
            return -1;
        }
        hs = spec + 1;
        hl = (size_t)(rb - hs);
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || memchr(spec, ':', (size_t)(colon - spec))) {
            snprintf(err, cap,
                     "--listen must be ADDR:PORT (an IPv6 address in brackets), got \"%s\"",
                     bnb_cli_quote(spec, q));
            return -1;
        }
        hl = (size_t)(colon - spec);
    }
    const char *ps = colon + 1;
    char *end = NULL;
    errno = 0;
    long port = strtol(ps, &end, 10);
    if (!*ps || *end || errno || port < 0 || port > 65535 || *ps == '-' || *ps == '+') {
        snprintf(err, cap, "--listen: the port must be 0 to 65535, got \"%s\"",
                 bnb_cli_quote(ps, q));
        return -1;
    }
    if (hl == 0 || hl >= sizeof host) {
        snprintf(err, cap, "--listen: no address before the port in \"%s\"",
                 bnb_cli_quote(spec, q));
        return -1;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(err, cap, "--listen: cannot resolve \"%s\": %s", bnb_cli_quote(host, q),
                 g ? gai_strerror(g) : "no address");
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* "HOST:PORT" of a bound address, IPv6 in brackets. */
static void addr_text(const struct sockaddr_storage *ss, unsigned port, char *out, size_t cap)
{
    char h[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, h, sizeof h);
        snprintf(out, cap, "[%s]:%u", h, port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, h, sizeof h);
        snprintf(out, cap, "%s:%u", h, port);
    }
}

static void *checkpointer(void *arg)
{
    server *s = arg;
    char err[BNB_ERR_MAX];
    pthread_mutex_lock(&s->ck_lock);
    for (;;) {
        /* wait for CKPT_RUNS runs, or CKPT_IDLE_MS without a new one */
        while (!s->ck_stop && s->ck_pending < CKPT_RUNS) {
            if (s->ck_pending == 0) {
                pthread_cond_wait(&s->ck_cond, &s->ck_lock);
                continue;
            }
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += CKPT_IDLE_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            if (pthread_cond_timedwait(&s->ck_cond, &s->ck_lock, &until) == ETIMEDOUT)
                break;
        }
        bool stop = s->ck_stop;
        s->ck_pending = 0;
        pthread_mutex_unlock(&s->ck_lock);
        int frames = 0, rc = bnb_db_checkpoint(s->ck_db, &frames, NULL, err);
        if (rc == 0 && frames > CKPT_WAL_MAX) {
            pthread_mutex_lock(&s->write_lock);
            rc = bnb_db_checkpoint(s->ck_db, NULL, NULL, err);
            pthread_mutex_unlock(&s->write_lock);
        }
        if (rc)
            fprintf(stderr, "bnbench serve: %s\n", err); /* the next one may get through */
        pthread_mutex_lock(&s->ck_lock);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&s->ck_lock);
    return NULL;
}

/* The checkpointer's lock and condition: 0, or -1 with neither made. */
static int init_ck_sync(server *s)
{
    if (pthread_mutex_init(&s->ck_lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&s->ck_cond, NULL) != 0) {
        pthread_mutex_destroy(&s->ck_lock);
        return -1;
    }
    return 0;
}

/* A run was stored: counts towards the next checkpoint. */
static void note_stored(server *s)
{
    pthread_mutex_lock(&s->ck_lock);
    s->ck_pending++;
    pthread_cond_signal(&s->ck_cond);
    pthread_mutex_unlock(&s->ck_lock);
}

/* Stops the checkpointer after a last checkpoint (none running: nothing). */
static void stop_checkpointer(server *s)
{
    if (!s->ck_running)
        return;
    pthread_mutex_lock(&s->ck_lock);
    s->ck_stop = true;
    pthread_cond_signal(&s->ck_cond);
    pthread_mutex_unlock(&s->ck_lock);
    pthread_join(s->ck_thread, NULL);
    s->ck_running = false;
}

/* --max-body: bytes, or KiB/MiB/GiB with a K, M or G suffix, from 1 to
 * BNB_RUNDOC_MAX_BYTES_LIMIT. 0, or -1 (the message names the value). */
static int parse_max_body(const char *v, size_t *out, char *err, size_t cap)
{
    char q[BNB_CLI_QUOTE_MAX + 1];
    char *end = NULL;
    errno = 0;
    unsigned long long n = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    unsigned shift = 0;
    if (end && *end && !end[1])
        shift = *end == 'K' || *end == 'k'   ? 10
                : *end == 'M' || *end == 'm' ? 20
                : *end == 'G' || *end == 'g' ? 30
                                             : 99;
    if (!end || errno || (*end && (end[1] || shift == 99)) || n == 0 ||
        n > BNB_RUNDOC_MAX_BYTES_LIMIT >> shift) {
        snprintf(err, cap,
                 "--max-body must be bytes from 1 to %zu, or with a K, M or G suffix up to 1G, "
                 "got \"%s\"",
                 BNB_RUNDOC_MAX_BYTES_LIMIT, bnb_cli_quote(v, q));
        return -1;
    }
    *out = (size_t)n << shift;
    return 0;
}

static void close_dbs(server *s)
{
    for (int i = 0; i < s->ndbs; i++)
        bnb_db_close(s->dbs[i]);
    s->ndbs = s->nused = 0;
}

int bnb_cmd_serve(int argc, char **argv, const char *gdb)
{
    static const bnb_cli_cmd spec = {"serve", bnb_usage_serve, opt_serve, 0, false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *listen_spec = bnb_cli_str(&spec, &a, "listen", DEFAULT_LISTEN),
               *token_path = bnb_cli_str(&spec, &a, "token-file", NULL);
    const char *mb = bnb_cli_str(&spec, &a, "max-body", NULL);
    const bnb_cli_val *th = bnb_cli_get(&spec, &a, "threads");
    int nthreads = th ? (int)th->l : DEFAULT_THREADS;

    static server srv; /* one collector per process; the callbacks get &srv */
    server *s = &srv;
    memset(s, 0, sizeof *s);
    s->dbpath = bnb_cli_str(&spec, &a, "db", gdb ? gdb : DEFAULT_DB);
    s->max_body = BNB_RUNDOC_MAX_BYTES;
    char err[BNB_ERR_MAX];
    if (mb && parse_max_body(mb, &s->max_body, err, sizeof err))
        return bnb_usage_error("%s", err);
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    memset(&ss, 0, sizeof ss);
    if (parse_listen(listen_spec, &ss, &sslen, err, sizeof err))
        return bnb_usage_error("%s", err);
    if (token_path && read_token(s, token_path, err, sizeof err))
        return bnb_usage_error("%s", err);
    if (!token_path)
        fprintf(stderr, "bnbench serve: no --token-file: read-only, every POST " RUNS_PATH
                        " is answered 401 \"no token configured\"\n");

    rc = BNB_EXIT_USAGE;
    bool key_made = false, lock_made = false, ck_made = false;
    struct MHD_Daemon *d = NULL;
    if (pthread_mutex_init(&s->lock, NULL) != 0 || pthread_mutex_init(&s->write_lock, NULL) != 0 ||
        !(lock_made = true) || pthread_key_create(&s->key, NULL) != 0 || !(key_made = true) ||
        init_ck_sync(s) != 0 || !(ck_made = true)) {
        bnb_cli_error("cannot create the server's locks");
        goto out;
    }
    /* the writer, the checkpointer's and one connection per worker for
     * reads, each opened
     * (created, migrated, checked) before the first request */
    for (int i = 0; i <= nthreads + 1; i++) {
        bnb_db *db = NULL;
        if (bnb_db_open(s->dbpath, 0, &db, err) || bnb_db_durable_writes(db, err)) {
            bnb_db_close(db);
            bnb_cli_error("%s", err);
            goto out;
        }
        s->dbs[s->ndbs++] = db;
    }
    s->writer = s->dbs[0];
    s->ck_db = s->dbs[1];
    s->nused = 2; /* the workers take dbs[2..] */
    if (bnb_db_defer_checkpoints(s->writer, err)) {
        bnb_cli_error("%s", err);
        goto out;
    }
    if (pthread_create(&s->ck_thread, NULL, checkpointer, s) != 0) {
        bnb_cli_error("cannot start the checkpointer thread");
        goto out;
    }
    s->ck_running = true;

    /* SIGTERM and SIGINT are taken by sigwait below: blocked here, before
     * the workers start, so they inherit the mask and never take them */
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
        (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_AUTO) |
        (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                         /* first, so that every message goes through it */
                         MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned)(nthreads > 1 ? nthreads : 0), MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                         MHD_OPTION_END);
    if (!d) {
        char q[BNB_CLI_QUOTE_MAX + 1];
        bnb_cli_error("cannot listen on %s: %s", bnb_cli_quote(listen_spec, q),
                      errno ? strerror(errno) : "libmicrohttpd could not start (see above)");
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
        goto out;
    }
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char where[INET6_ADDRSTRLEN + 16];
    addr_text(&ss, pi ? pi->port : 0, where, sizeof where);
    printf("listening on http://%s\n", where);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop_set, &sig) != 0)
        ;
    /* stop: no new connections, 503 to new requests on open ones, then the
     * requests in flight are answered (bounded by DRAIN_S) */
    atomic_store(&s->stopping, true);
    MHD_socket lfd = MHD_quiesce_daemon(d);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool drained = true;
    while (atomic_load(&s->inflight) > 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= DRAIN_S) {
            drained = false;
            break;
        }
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    int left = atomic_load(&s->inflight);
    MHD_stop_daemon(d);
    d = NULL;
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    stop_checkpointer(s);
    close_dbs(s);
    char cut[96] = "";
    if (!drained)
        snprintf(cut, sizeof cut, " (%d requests still open after %d s were cut)", left, DRAIN_S);
    printf("stopped on %s: %lld runs stored, %lld already stored, %lld requests refused%s; DB "
           "closed\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)atomic_load(&s->stored),
           (long long)atomic_load(&s->already), (long long)atomic_load(&s->refused), cut);
    fflush(stdout);
    rc = BNB_EXIT_OK;
out:
    if (d)
        MHD_stop_daemon(d);
    stop_checkpointer(s);
    close_dbs(s);
    if (key_made)
        pthread_key_delete(s->key);
    if (lock_made) {
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->write_lock);
    }
    if (ck_made) {
        pthread_mutex_destroy(&s->ck_lock);
        pthread_cond_destroy(&s->ck_cond);
    }
    if (s->token) {
        explicit_bzero(s->token, s->token_len);
        free(s->token);
        s->token = NULL;
    }
    return rc;
}
