/*
 * test_publish.c - bnbench publish's hardening: only a 2xx answer is
 * success, redirects are followed (bounded, http/https only, method and body
 * kept) or refused with the reason, a bearer token of any length arrives
 * whole and one holding a control character is refused before any request,
 * and no secret (URL user:password, token) is ever printed.
 *
 * The server is a loopback socket on 127.0.0.1 port 0 served by a thread:
 * it answers a fixed script of responses, one per connection, records each
 * request (bounded), and stops by itself after the script or when no
 * connection comes within a few seconds, so a test can never hang on it.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "db/db.h"
#include "reports/publish.h"
#include "spawn.h"

#define MAX_CONN 8
#define REQ_MAX  16384

typedef struct answer {
    int status;
    char location[256]; /* "" for none; "%d" is replaced by the server's port */
} answer;

typedef struct server {
    int fd, port;
    int nanswers;
    answer a[MAX_CONN];
    int nreq;                    /* requests served */
    char req[MAX_CONN][REQ_MAX]; /* each request as received (headers and body) */
    pthread_t th;
} server;

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-pub-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    unsetenv("BNB_PUBLISH_TOKEN");
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    unsetenv("BNB_PUBLISH_TOKEN");
}

TestSuite(publish, .init = setup, .fini = teardown, .timeout = 60);

/* Reads one request: headers, then Content-Length bytes of body. */
static void read_request(int c, char *buf)
{
    size_t len = 0, need = 0;
    char *hend = NULL;
    while (len < REQ_MAX - 1) {
        ssize_t n = read(c, buf + len, REQ_MAX - 1 - len);
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
}

static void *serve(void *arg)
{
    server *s = arg;
    for (int i = 0; i < s->nanswers; i++) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            break; /* nobody came: stop */
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            break;
        struct timeval tv = {.tv_sec = 5};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        read_request(c, s->req[s->nreq++]);
        char loc[300] = "", resp[512];
        if (s->a[i].location[0]) {
            char where[256];
            snprintf(where, sizeof where, s->a[i].location, s->port);
            snprintf(loc, sizeof loc, "Location: %s\r\n", where);
        }
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 %d X\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n",
                         s->a[i].status, loc);
        ssize_t w = write(c, resp, (size_t)n);
        (void)w;
        close(c);
    }
    return NULL;
}

/* Starts a server answering `n` connections with statuses st[] and
 * locations loc[] (NULL or "" for none). */
static server *server_start(int n, const int *st, const char *const *loc)
{
    server *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    cr_assert_leq(n, MAX_CONN);
    s->nanswers = n;
    for (int i = 0; i < n; i++) {
        s->a[i].status = st[i];
        snprintf(s->a[i].location, sizeof s->a[i].location, "%s", loc && loc[i] ? loc[i] : "");
    }
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->fd, MAX_CONN), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &l), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->th, NULL, serve, s), 0);
    return s;
}

static void server_stop(server *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
    free(s);
}

static void report_file(char *path, size_t cap)
{
    snprintf(path, cap, "%s/report.md", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("# readiness\n\nscore 59.4/100\n", f);
    fclose(f);
}

static const char BODY[] = "# readiness\n\nscore 59.4/100\n";

/* ---- status codes and redirects ------------------------------------------------ */

Test(publish, a_302_not_followed_is_a_failure)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    report_file(file, sizeof file);
    server *s = server_start(1, (int[]){302}, (const char *[]){"http://127.0.0.1:%d/moved"});
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", s->port);
    bnb_publish_opts o = {.method = "PUT", .timeout_s = 10, .max_redirects = 0};
    long status = 0;
    int rc = bnb_publish(file, url, &o, &status, err, sizeof err);
    int nreq = s->nreq;
    char want[200];
    snprintf(want, sizeof want,
             "a redirect to http://127.0.0.1:%d/moved, which this upload does not follow", s->port);
    server_stop(s);
    cr_assert_eq(rc, -1, "a 302 counted as published");
    cr_assert_eq(status, 302);
    cr_assert_eq(nreq, 1);
    cr_assert(strstr(err, "upload failed: HTTP 302 (the server answered HTTP 302 to PUT "), "%s",
              err);
    cr_assert(strstr(err, want), "%s", err);
}

Test(publish, a_302_without_location_fails_the_command)
{
    char file[256], url[128];
    report_file(file, sizeof file);
    server *s = server_start(1, (int[]){302}, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", s->port);
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", url, "--timeout", "10", NULL});
    int nreq = s->nreq;
    server_stop(s);
    cr_assert_eq(r->code, 1, "exit %d; stdout: %s", r->code, r->out);
    cr_assert(strstr(r->err, "bnbench publish: upload failed: HTTP 302 "), "%s", r->err);
    cr_assert(strstr(r->err, "no usable Location"), "%s", r->err);
    cr_assert_eq(nreq, 1);
    cr_assert(!strstr(r->out, "published"), "%s", r->out);
    free(r);
}

Test(publish, a_redirect_to_a_200_is_followed_with_method_and_body)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    report_file(file, sizeof file);
    const char *methods[] = {"PUT", "POST"};
    for (int m = 0; m < 2; m++) {
        server *s = server_start(2, (int[]){302, 200},
                                 (const char *[]){"http://127.0.0.1:%d/final.md", NULL});
        snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", s->port);
        long status = 0;
        int rc = bnb_publish_file(file, url, methods[m], 10, &status, err, sizeof err);
        int nreq = s->nreq;
        char second[REQ_MAX];
        memcpy(second, s->req[1], sizeof second);
        server_stop(s);
        cr_assert_eq(rc, 0, "%s: %s", methods[m], err);
        cr_assert_eq(status, 200);
        cr_assert_eq(nreq, 2);
        char line[64];
        snprintf(line, sizeof line, "%s /final.md HTTP/1.1\r\n", methods[m]);
        cr_assert(!strncmp(second, line, strlen(line)), "%s", second);
        const char *body = strstr(second, "\r\n\r\n");
        cr_assert_not_null(body);
        cr_assert_str_eq(body + 4, BODY);
    }
}

Test(publish, redirects_are_bounded_and_http_only)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    report_file(file, sizeof file);
    /* a server that redirects to itself forever: 1 request + 5 follows, then stop */
    int st[MAX_CONN];
    const char *loc[MAX_CONN];
    for (int i = 0; i < MAX_CONN; i++) {
        st[i] = 302;
        loc[i] = "http://127.0.0.1:%d/again";
    }
    server *s = server_start(BNB_PUBLISH_MAX_REDIRECTS + 1, st, loc);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", s->port);
    int rc = bnb_publish_file(file, url, "PUT", 10, NULL, err, sizeof err);
    int nreq = s->nreq;
    server_stop(s);
    cr_assert_eq(rc, -1);
    cr_assert_eq(nreq, BNB_PUBLISH_MAX_REDIRECTS + 1);
    cr_assert(strstr(err, "edirects"), "libcurl's cause is kept: %s", err);

    /* a redirect to another protocol is not followed */
    s = server_start(1, (int[]){301}, (const char *[]){"ftp://127.0.0.1:%d/r.md"});
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", s->port);
    rc = bnb_publish_file(file, url, "PUT", 10, NULL, err, sizeof err);
    server_stop(s);
    cr_assert_eq(rc, -1, "a redirect to ftp:// counted as published");
    cr_assert(strstr(err, "ftp"), "%s", err);
}

Test(publish, only_2xx_is_success)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    report_file(file, sizeof file);
    const int codes[] = {202, 204, 304, 404, 500};
    const int ok[] = {1, 1, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        server *s = server_start(1, &codes[i], NULL);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", s->port);
        long status = 0;
        int rc = bnb_publish_file(file, url, "PUT", 10, &status, err, sizeof err);
        server_stop(s);
        cr_assert_eq(rc, ok[i] ? 0 : -1, "HTTP %d: rc %d (%s)", codes[i], rc, err);
        cr_assert_eq(status, codes[i]);
        if (!ok[i]) {
            char want[64];
            snprintf(want, sizeof want, "upload failed: HTTP %d (", codes[i]);
            cr_assert(strstr(err, want), "%s", err);
        }
    }
}

/* URL schemes are case-insensitive (RFC 3986, 3.1): HTTP:// is http://, in
 * the library and through the command. */
Test(publish, an_upper_case_scheme_is_accepted)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    report_file(file, sizeof file);
    server *s = server_start(1, (int[]){201}, NULL);
    snprintf(url, sizeof url, "HTTP://127.0.0.1:%d/r.md", s->port);
    long status = 0;
    int rc = bnb_publish_file(file, url, "PUT", 10, &status, err, sizeof err);
    server_stop(s);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(status, 201);

    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    s = server_start(1, (int[]){201}, NULL);
    snprintf(url, sizeof url, "Http://127.0.0.1:%d/r.md", s->port);
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", url, "--timeout", "10", NULL});
    server_stop(s);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "(HTTP 201)"), "%s", r->out);
    free(r);
}

/* ---- the bearer token ------------------------------------------------------------- */

Test(publish, a_600_character_token_arrives_whole)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    report_file(file, sizeof file);
    char tok[601];
    for (int i = 0; i < 600; i++)
        tok[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/"[i % 68];
    tok[600] = '\0';
    cr_assert_eq(setenv("BNB_PUBLISH_TOKEN", tok, 1), 0);
    server *s = server_start(1, (int[]){201}, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", s->port);
    int rc = bnb_publish_file(file, url, "PUT", 10, NULL, err, sizeof err);
    char want[700];
    snprintf(want, sizeof want, "\r\nAuthorization: Bearer %s\r\n", tok);
    bool whole = strstr(s->req[0], want) != NULL;
    server_stop(s);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(whole, "the 600-character token was not sent as given");
}

Test(publish, a_token_with_cr_lf_is_refused_before_any_request)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    report_file(file, sizeof file);
    cr_assert_eq(setenv("BNB_PUBLISH_TOKEN", "s3cret\r\nX-Injected: yes", 1), 0);
    /* a listening socket nobody serves: any connection attempt stays pending */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 4), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.md", ntohs(a.sin_port));
    int rc = bnb_publish_file(file, url, "PUT", 2, NULL, err, sizeof err);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "BNB_PUBLISH_TOKEN contains a control character at position 7"), "%s",
              err);
    cr_assert(!strstr(err, "s3cret") && !strstr(err, "Injected"), "the token was printed: %s", err);

    /* the command says the same, exit 2 (a bad value), and never shows the token */
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    cr_assert_eq(setenv("BNB_PUBLISH_TOKEN", "abc\ndef", 1), 0);
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", url, "--timeout", "2", NULL});
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "bnbench publish: BNB_PUBLISH_TOKEN contains a control character at "
                             "position 4 (byte 0x0a)"),
              "%s", r->err);
    cr_assert(!strstr(r->err, "abc") && !strstr(r->out, "abc"), "%s", r->err);
    free(r);

    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 0), 0, "a request was attempted with a bad token");
    close(fd);
}

/* ---- no secret is printed ------------------------------------------------------------ */

static void assert_no_secret(const char *what, const char *text)
{
    cr_assert(!strstr(text, "alice") && !strstr(text, "s3cr3t") && !strstr(text, "hunter2"),
              "%s shows a credential: %s", what, text);
}

Test(publish, url_credentials_never_appear_in_output)
{
    char file[256], url[160];
    report_file(file, sizeof file);
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);

    /* success: stdout names the URL redacted */
    server *s = server_start(1, (int[]){200}, NULL);
    snprintf(url, sizeof url, "http://alice:s3cr3t@127.0.0.1:%d/r.md", s->port);
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", url, "--timeout", "10", NULL});
    bool basic = strcasestr(s->req[0], "\r\nAuthorization: Basic ") != NULL;
    char want[200];
    snprintf(want, sizeof want, "to http://***@127.0.0.1:%d/r.md (HTTP 200)", s->port);
    server_stop(s);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(basic, "the credentials are still sent");
    cr_assert(strstr(r->out, want), "%s", r->out);
    assert_no_secret("stdout", r->out);
    assert_no_secret("stderr", r->err);

    /* an HTTP error, a redirect to a URL with credentials, a dead server */
    s = server_start(1, (int[]){500}, NULL);
    snprintf(url, sizeof url, "http://alice:s3cr3t@127.0.0.1:%d/r.md", s->port);
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", url, "--timeout", "10", NULL});
    server_stop(s);
    cr_assert_eq(r->code, 1);
    cr_assert(strstr(r->err, "upload failed: HTTP 500"), "%s", r->err);
    assert_no_secret("stderr", r->err);

    s = server_start(1, (int[]){307}, (const char *[]){"http://bob:hunter2@[::1:%d/x"});
    snprintf(url, sizeof url, "http://alice:s3cr3t@127.0.0.1:%d/r.md", s->port);
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", url, "--timeout", "10", NULL});
    server_stop(s);
    cr_assert_eq(r->code, 1);
    assert_no_secret("stderr", r->err);

    int dead = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(dead, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(dead, (struct sockaddr *)&a, &l), 0);
    close(dead); /* bound, then closed: nobody listens there */
    snprintf(url, sizeof url, "http://alice:s3cr3t@127.0.0.1:%d/r.md", ntohs(a.sin_port));
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", url, "--timeout", "10", NULL});
    cr_assert_eq(r->code, 1);
    cr_assert(strstr(r->err, "failed: "), "%s", r->err);
    assert_no_secret("stderr", r->err);

    /* a URL that is not http(s) is echoed redacted too */
    fx_spawn(r, dir,
             (const char *[]){"publish", "--report", file, "--url", "ftp://alice:s3cr3t@host/r.md",
                              NULL});
    cr_assert_eq(r->code, 2); /* a usage error, refused before any transfer */
    cr_assert(strstr(r->err, "got \"ftp://***@host/r.md\""), "%s", r->err);
    assert_no_secret("stderr", r->err);
    free(r);
}

Test(publish, redact_url)
{
    char out[256];
    const struct {
        const char *in, *want;
    } t[] = {
        {"http://alice:s3cr3t@example.com/r.md", "http://***@example.com/r.md"},
        {"https://alice@example.com:8443/a?b=c", "https://***@example.com:8443/a?b=c"},
        {"http://:s3cr3t@example.com/", "http://***@example.com/"},
        {"http://example.com/a@b", "http://example.com/a@b"},
        {"http://127.0.0.1:8080/r.md", "http://127.0.0.1:8080/r.md"},
        /* not parseable by libcurl: hidden by hand */
        {"http://alice:s3cr3t@exa mple.com/x", "http://***@exa mple.com/x"},
        {"alice:s3cr3t@example.com", "(a malformed URL, not shown: it may hold credentials)"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_str_eq(bnb_publish_redact_url(t[i].in, out, sizeof out), t[i].want, "%s",
                         t[i].in);
    char small[8];
    bnb_publish_redact_url("http://alice:s3cr3t@example.com/", small, sizeof small);
    cr_assert_str_eq(small, "http://");
}
