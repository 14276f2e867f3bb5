/*
 * publish.h - the HTTP client of bnbench, on libcurl: a report file PUT or
 * POSTed to a server (bnbench publish --report, ci/nightly.sh when
 * BNB_PUBLISH_URL is set), and one request body POSTed to a collector with
 * its answer read back (bnb_publish_post, for the run publisher of
 * reports/pubclient.h). Bearer tokens are checked here too.
 *
 * PUT (default) uploads the file as the request body to URL; POST sends it
 * as the body of a POST. Content-Type follows the extension (.html
 * text/html, .md text/markdown, .json application/json, else
 * application/octet-stream). When the environment holds BNB_PUBLISH_TOKEN
 * it is sent as given, whatever its length, as "Authorization: Bearer
 * <token>"; a token holding a control character (a byte below 0x20, CR and
 * LF among them, or 0x7f) is refused before any request: it would end the
 * header and inject others.
 *
 * Only a 2xx answer is success. Redirects are followed when the options
 * allow (http and https only, at most max_redirects of them, the method and
 * body kept); a 3xx that is not followed, a redirect that would turn the
 * upload into a GET, a connection failure, a timeout or any other status
 * is an error naming the (redacted) URL and the cause.
 *
 * Secrets are never printed: every message shows the URL with its
 * user:password replaced by "***" (bnb_publish_redact_url), and the token
 * only by the position of a bad character.
 */
#ifndef BNB_PUBLISH_H
#define BNB_PUBLISH_H

#include <stddef.h>

/* Redirects bnb_publish_file follows (bnbench publish's policy). */
#define BNB_PUBLISH_MAX_REDIRECTS 5

/* The longest bearer token accepted (bytes). */
#define BNB_TOKEN_MAX 8192

typedef struct bnb_publish_opts {
    const char *method;     /* "PUT" (NULL means PUT) or "POST" */
    long timeout_s;         /* the whole transfer; <= 0: 30 s */
    long connect_timeout_s; /* the connection alone; <= 0: 10 s (never more than timeout_s) */
    int max_redirects;      /* 0: a 3xx answer is an error; n > 0: follow at most n */
    const char *token;      /* bearer token (checked by bnb_token_check); NULL: bnb_publish
                               reads BNB_PUBLISH_TOKEN, bnb_publish_post sends none */
    const char *cacert;     /* CA bundle file for TLS verification; NULL: the system's */
    int insecure;           /* nonzero: TLS peer and host name are not verified */
} bnb_publish_opts;

/* Uploads path to url. Returns 0 on a 2xx answer (*status receives the
 * final status, also on an HTTP error; may be NULL), or -1 with a one-line
 * message in err (cap bytes): a bad method or URL, an unreadable file, a
 * token with a control character, out of memory, a transfer failure, or
 * "upload failed: HTTP <code> ..." for a non-2xx answer. o may be NULL
 * (PUT, 30 s, 10 s, no redirects). Not thread-safe (curl_global_init). */
int bnb_publish(const char *path, const char *url, const bnb_publish_opts *o, long *status,
                char *err, size_t cap);

/* bnb_publish with method, timeout_s (<= 0: 30 s), a 10 s connection
 * timeout and up to BNB_PUBLISH_MAX_REDIRECTS redirects. */
int bnb_publish_file(const char *path, const char *url, const char *method, long timeout_s,
                     long *status, char *err, size_t cap);

/* Writes url to out (cap bytes, always terminated) with any user, password
 * or login options replaced by one "***" before the host's '@'; a URL
 * without them is copied unchanged. A URL libcurl cannot parse is shown up
 * to its scheme and with everything before an '@' of its authority hidden.
 * Returns out. */
char *bnb_publish_redact_url(const char *url, char *out, size_t cap);

/* 0 when tok holds no control character (a byte below 0x20, CR and LF
 * among them, or 0x7f) and is at most BNB_TOKEN_MAX bytes; else -1 with err
 * naming what (where the token came from: "BNBENCH_TOKEN", "token file
 * PATH"), the position and the byte, never the token. */
int bnb_token_check(const char *tok, const char *what, char *err, size_t cap);

/* Reads a bearer token from the file at path into *tok (malloc'd; the
 * caller frees, preferably after clearing it): the file's bytes with one
 * trailing "\n" or "\r\n" removed. Refused with err (never showing the
 * token): an unreadable path or one that is not a regular file, a file of
 * more than BNB_TOKEN_MAX + 2 bytes, an empty token, a control character
 * (bnb_token_check), out of memory. Returns 0 or -1. */
int bnb_token_read_file(const char *path, char **tok, char *err, size_t cap);

/* What came back for one POST of bnb_publish_post. */
typedef struct bnb_post_result {
    long status;        /* the HTTP status answered; 0 when no answer came */
    int transport;      /* 0, or libcurl's CURLcode of a transfer that failed */
    int timed_out;      /* nonzero when that failure was a timeout */
    int config;         /* nonzero when it cannot succeed by retrying (TLS
                           verification, an unsupported URL): a setup problem */
    long retry_after_s; /* Retry-After of the answer in seconds, -1 when absent or
                           not a number of seconds */
    char message[512];  /* the answer's {"error": ...} (or {"status": ...}) text, else
                           the start of its body; made safe for a terminal; "" when none */
    char location[512]; /* a 3xx's Location, redacted (bnb_publish_redact_url); "" */
} bnb_post_result;

/* POSTs len bytes at body to url as application/json, with o's token,
 * TLS settings and timeouts (o may be NULL: 30 s / 10 s, no token, TLS
 * verified); redirects are not followed (a 3xx comes back as it is). At
 * most 64 KiB of the answer is read (the rest is discarded). Returns 0 when
 * an answer came, whatever its status (in r), or -1 with err (one line,
 * the URL redacted) when none did (r->transport says why) or the request
 * could not be made (a URL that is not http(s), a bad token, out of memory;
 * r->transport then 0 and r->config set). Not thread-safe
 * (curl_global_init). */
int bnb_publish_post(const char *url, const char *body, size_t len, const bnb_publish_opts *o,
                     bnb_post_result *r, char *err, size_t cap);

/* 0 when BNB_PUBLISH_TOKEN is unset or holds no control character; else -1
 * with err naming the position and byte (never the token). bnb_publish
 * checks it too; a caller checks first to refuse it as a usage error. */
int bnb_publish_check_token(char *err, size_t cap);

#endif
