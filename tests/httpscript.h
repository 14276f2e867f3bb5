/*
 * httpscript.h - a scripted HTTP server on loopback for the publisher's
 * tests: it listens on 127.0.0.1 port 0 and answers the connections it
 * accepts, one request each, with the steps of a script in order:
 *
 *   {201, ...}              an answer with that status (and optional
 *                           Retry-After, Location and JSON body)
 *   {HS_SLOW}               reads the request, then says nothing: the
 *                           connection stays open, unanswered, until hs_stop
 *                           (the client's timeout must end it)
 *   {HS_RESET}              reads the request, sends half a status line and
 *                           resets the connection (SO_LINGER 0)
 *
 * A connection after the script gets 503 "script exhausted", so a test can
 * tell how many requests came (hs_nreq) and what each held (hs_req: headers
 * and the start of the body). Served by one thread that stops on hs_stop;
 * every wait is bounded, so a test cannot hang on it. Header-only: each test
 * file is its own binary.
 */
#ifndef BN_TESTS_HTTPSCRIPT_H
#define BN_TESTS_HTTPSCRIPT_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HS_SLOW    (-1)
#define HS_RESET   (-2)
#define HS_MAX     32
#define HS_REQ_MAX (256 * 1024)

typedef struct hs_step {
    int status;           /* an HTTP status, HS_SLOW or HS_RESET */
    int retry_after;      /* > 0: a Retry-After header of that many seconds */
    const char *location; /* a Location header, or NULL */
    const char *error;    /* body {"error": error}, or NULL for {"status": "ok"} */
} hs_step;

typedef struct hs_server {
    int fd, port;
    int nsteps;
    hs_step steps[HS_MAX];
    atomic_int nreq;
    atomic_bool stop;
    char *req[HS_MAX + 8];          /* each request as received (NUL-terminated) */
    struct timespec at[HS_MAX + 8]; /* when each request arrived */
    int parked[HS_MAX + 8];         /* connections of HS_SLOW steps, open until hs_stop */
    int nparked;
    pthread_t th;
} hs_server;

/* Reads one request: headers, then Content-Length bytes of body (bounded). */
static inline size_t hs_read_request(int c, char *buf, size_t cap)
{
    size_t len = 0, need = 0;
    char *hend = NULL;
    while (len < cap - 1) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            break;
        ssize_t n = read(c, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (!hend && (hend = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            need = (size_t)(hend + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (hend && len >= need)
            break;
    }
    buf[len] = '\0';
    return len;
}

static inline void hs_write(int c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Answers c as st says; false when c stays open (HS_SLOW). */
static inline bool hs_answer(hs_server *s, int c, const hs_step *st)
{
    if (st->status == HS_SLOW) {
        s->parked[s->nparked++] = c;
        return false;
    }
    if (st->status == HS_RESET) {
        hs_write(c, "HTTP/1.1 2", 10);
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        return true; /* closing now resets */
    }
    char body[600], head[1200], extra[700] = "";
    if (st->error)
        snprintf(body, sizeof body, "{\"error\":\"%s\"}", st->error);
    else
        snprintf(body, sizeof body, "{\"status\":\"%s\"}",
                 st->status == 200 ? "already stored" : "stored");
    size_t x = 0;
    if (st->retry_after > 0)
        x += (size_t)snprintf(extra + x, sizeof extra - x, "Retry-After: %d\r\n", st->retry_after);
    if (st->location)
        snprintf(extra + x, sizeof extra - x, "Location: %s\r\n", st->location);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     st->status, extra, strlen(body));
    hs_write(c, head, (size_t)n);
    hs_write(c, body, strlen(body));
    return true;
}

static inline void *hs_serve(void *arg)
{
    hs_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        int i = atomic_load(&s->nreq);
        if (i >= HS_MAX + 8) {
            close(c);
            continue;
        }
        s->req[i] = malloc(HS_REQ_MAX);
        if (s->req[i])
            hs_read_request(c, s->req[i], HS_REQ_MAX);
        clock_gettime(CLOCK_MONOTONIC, &s->at[i]);
        atomic_store(&s->nreq, i + 1);
        hs_step over = {.status = 503, .error = "script exhausted"};
        if (hs_answer(s, c, i < s->nsteps ? &s->steps[i] : &over))
            close(c);
    }
    return NULL;
}

/* Starts a server with the n steps of script on loopback port port (0: one
 * the system picks; a port given again is how a collector comes back). */
static inline hs_server *hs_start_port(const hs_step *script, int n, int port)
{
    hs_server *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    cr_assert(n <= HS_MAX);
    if (n > 0)
        memcpy(s->steps, script, (size_t)n * sizeof *script);
    s->nsteps = n;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s->fd, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0, "bind port %d", port);
    cr_assert_eq(listen(s->fd, 16), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &l), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->th, NULL, hs_serve, s), 0);
    return s;
}

static inline hs_server *hs_start(const hs_step *script, int n)
{
    return hs_start_port(script, n, 0);
}

static inline int hs_nreq(hs_server *s)
{
    return atomic_load(&s->nreq);
}

/* Request i as received ("" when it never came). */
static inline const char *hs_req(hs_server *s, int i)
{
    return i < hs_nreq(s) && s->req[i] ? s->req[i] : "";
}

/* Seconds between requests i and j. */
static inline double hs_gap(hs_server *s, int i, int j)
{
    return (double)(s->at[j].tv_sec - s->at[i].tv_sec) +
           (double)(s->at[j].tv_nsec - s->at[i].tv_nsec) / 1e9;
}

static inline void hs_stop(hs_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->fd);
    for (int i = 0; i < s->nparked; i++)
        close(s->parked[i]);
    for (int i = 0; i < HS_MAX + 8; i++)
        free(s->req[i]);
    free(s);
}

/* A loopback port nobody listens on (bound, then closed). */
static inline int hs_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

#endif
