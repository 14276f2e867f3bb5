/*
 * publish.h - sends a report file to an HTTP(S) server with libcurl
 * (bnbench publish, ci/nightly.sh when BNB_PUBLISH_URL is set).
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

typedef struct bnb_publish_opts {
    const char *method;     /* "PUT" (NULL means PUT) or "POST" */
    long timeout_s;         /* the whole transfer; <= 0: 30 s */
    long connect_timeout_s; /* the connection alone; <= 0: 10 s (never more than timeout_s) */
    int max_redirects;      /* 0: a 3xx answer is an error; n > 0: follow at most n */
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

/* 0 when BNB_PUBLISH_TOKEN is unset or holds no control character; else -1
 * with err naming the position and byte (never the token). bnb_publish
 * checks it too; a caller checks first to refuse it as a usage error. */
int bnb_publish_check_token(char *err, size_t cap);

#endif
