/*
 * publish.c - HTTP upload of a report with libcurl (contract: publish.h).
 *
 * Everything a message shows of the URL goes through bnb_publish_redact_url
 * (libcurl's URL API, so the userinfo it finds is the one it would send),
 * and the bearer token is checked for control characters and copied into a
 * header of its own length, never formatted into a fixed buffer.
 */
#include "reports/publish.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "db/model/text.h"

#define BEARER "Authorization: Bearer "

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (dot && !strcmp(dot, ".md"))
        return "text/markdown; charset=utf-8";
    if (dot && !strcmp(dot, ".json"))
        return "application/json";
    return "application/octet-stream";
}

/* Discards the server's answer body (it is not part of the result). */
static size_t sink(char *p, size_t sz, size_t n, void *u)
{
    (void)p;
    (void)u;
    return sz * n;
}

/* The redaction of a URL libcurl cannot parse: the part of the authority
 * before its last '@' becomes "***"; without "://" a URL holding an '@' is
 * not shown at all. */
static void redact_by_hand(const char *url, char *out, size_t cap)
{
    const char *auth = strstr(url, "://");
    if (!auth) {
        snprintf(out, cap, "%s",
                 strchr(url, '@') ? "(a malformed URL, not shown: it may hold credentials)" : url);
        return;
    }
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    if (!at)
        snprintf(out, cap, "%s", url);
    else
        snprintf(out, cap, "%.*s***%s", (int)(auth - url), url, at);
}

char *bnb_publish_redact_url(const char *url, char *out, size_t cap)
{
    if (!out || cap == 0)
        return out;
    if (!url) {
        snprintf(out, cap, "(none)");
        return out;
    }
    bool done = false;
    CURLU *h = curl_url();
    if (h && curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        static const CURLUPart secret[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS};
        bool creds = false;
        for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
            char *part = NULL;
            if (curl_url_get(h, secret[i], &part, 0) == CURLUE_OK) {
                creds = true;
                curl_free(part);
            }
        }
        char *shown = NULL;
        if (!creds) {
            snprintf(out, cap, "%s", url);
            done = true;
        } else if (curl_url_set(h, CURLUPART_USER, "***", 0) == CURLUE_OK &&
                   curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
                   curl_url_set(h, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
                   curl_url_get(h, CURLUPART_URL, &shown, 0) == CURLUE_OK) {
            snprintf(out, cap, "%s", shown);
            curl_free(shown);
            done = true;
        }
    }
    curl_url_cleanup(h);
    if (!done)
        redact_by_hand(url, out, cap);
    return out;
}

int bnb_token_check(const char *tok, const char *what, char *err, size_t cap)
{
    size_t n = tok ? strlen(tok) : 0;
    if (n > BNB_TOKEN_MAX) {
        snprintf(err, cap, "%s is %zu bytes long; a token may be at most %d", what, n,
                 BNB_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tok[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(err, cap,
                     "%s contains a control character at position %zu "
                     "(byte 0x%02x); a token is sent as given, so it may hold none (is there a "
                     "stray newline?)",
                     what, i + 1, c);
            return -1;
        }
    }
    return 0;
}

int bnb_publish_check_token(char *err, size_t cap)
{
    return bnb_token_check(getenv("BNB_PUBLISH_TOKEN"), "BNB_PUBLISH_TOKEN", err, cap);
}

int bnb_token_read_file(const char *path, char **tok, char *err, size_t cap)
{
    *tok = NULL;
    char what[600];
    snprintf(what, sizeof what, "token file %s", path);
    struct stat st;
    errno = 0;
    FILE *f = NULL;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "rb"))) {
        snprintf(err, cap, "cannot read %s: %s", what,
                 errno ? strerror(errno) : "not a regular file");
        return -1;
    }
    /* a token and its line end; one byte more tells a longer file */
    char *buf = malloc(BNB_TOKEN_MAX + 4);
    if (!buf) {
        fclose(f);
        snprintf(err, cap, "out of memory reading %s", what);
        return -1;
    }
    size_t n = fread(buf, 1, BNB_TOKEN_MAX + 3, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > BNB_TOKEN_MAX + 2) {
        snprintf(err, cap,
                 bad ? "cannot read %s: a read error" : "%s is too long (at most %d bytes)", what,
                 BNB_TOKEN_MAX);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (memchr(buf, '\0', n)) {
        snprintf(err, cap, "%s contains a NUL byte; a token may hold none", what);
        free(buf);
        return -1;
    }
    if (n == 0 || bnb_token_check(buf, what, err, cap)) {
        if (n == 0)
            snprintf(err, cap, "%s is empty", what);
        free(buf);
        return -1;
    }
    *tok = buf;
    return 0;
}

/* Builds "Authorization: Bearer <tok>" (malloc'd) into *hdr from a token
 * bnb_publish_check_token accepted; -1 with err when out of memory. */
static int bearer_header(const char *tok, char **hdr, char *err, size_t cap)
{
    *hdr = NULL;
    size_t n = strlen(tok);
    char *h = malloc(sizeof BEARER + n);
    if (!h) {
        snprintf(err, cap, "out of memory for the %zu-byte token header", n);
        return -1;
    }
    memcpy(h, BEARER, sizeof BEARER - 1);
    memcpy(h + sizeof BEARER - 1, tok, n + 1);
    *hdr = h;
    return 0;
}

/* Appends s to *list; false when out of memory (the list is kept). */
static bool add_header(struct curl_slist **list, const char *s)
{
    struct curl_slist *l = curl_slist_append(*list, s);
    if (!l)
        return false;
    *list = l;
    return true;
}

/* TLS verification as o asks: on (the default) with the system's CA store
 * or o->cacert; off only when o->insecure. */
static void set_tls(CURL *c, const bnb_publish_opts *o)
{
    if (o->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
}

/* The message for a finished transfer whose final status is not 2xx. */
static void http_error(CURL *c, const char *method, const char *shown, long code, int max_redirects,
                       char *err, size_t cap)
{
    char why[600] = "";
    if (code >= 300 && code < 400) {
        char *loc = NULL;
        char where[512];
        if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
            bnb_publish_redact_url(loc, where, sizeof where);
        else
            snprintf(where, sizeof where, "nowhere (no usable Location)");
        if (max_redirects <= 0)
            snprintf(why, sizeof why, "; a redirect to %s, which this upload does not follow",
                     where);
        else
            snprintf(why, sizeof why, "; a redirect to %s that could not be followed", where);
    }
    snprintf(err, cap, "upload failed: HTTP %ld (the server answered HTTP %ld to %s %s%s)", code,
             code, method, shown, why);
}

int bnb_publish(const char *path, const char *url, const bnb_publish_opts *o, long *status,
                char *err, size_t cap)
{
    static const bnb_publish_opts defaults = {0};
    int rc = -1;
    FILE *f = NULL;
    CURL *c = NULL;
    struct curl_slist *hdr = NULL;
    char *auth = NULL;
    char cerr[CURL_ERROR_SIZE] = "";
    char full[1024], shown[BNB_QUOTE_CAP]; /* the URL redacted, then quoted for messages */
    if (!o)
        o = &defaults;
    if (status)
        *status = 0;
    const char *method = o->method ? o->method : "PUT";
    bool put = !strcmp(method, "PUT");
    if (!put && strcmp(method, "POST")) {
        snprintf(err, cap, "method must be PUT or POST, got \"%s\"", method);
        return -1;
    }
    bnb_quote(bnb_publish_redact_url(url, full, sizeof full), shown);
    if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
        snprintf(err, cap, "URL must start with http:// or https://, got \"%s\"", url ? shown : "");
        return -1;
    }
    const char *tok = o->token ? o->token : getenv("BNB_PUBLISH_TOKEN");
    if (bnb_token_check(tok, o->token ? "the token" : "BNB_PUBLISH_TOKEN", err, cap) ||
        (tok && *tok && bearer_header(tok, &auth, err, cap)))
        return -1;
    struct stat st;
    errno = 0;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "rb"))) {
        snprintf(err, cap, "cannot read %s: %s", path,
                 errno ? strerror(errno) : "not a regular file");
        goto cleanup;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, cap, "libcurl failed to initialise");
        goto cleanup;
    }
    if (!(c = curl_easy_init())) {
        snprintf(err, cap, "libcurl could not create a handle (out of memory)");
        goto cleanup_global;
    }
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type(path));
    if (!add_header(&hdr, ct) || !add_header(&hdr, "Expect:") || /* no 100-continue round trip */
        (auth && !add_header(&hdr, auth))) {
        snprintf(err, cap, "out of memory building the request headers");
        goto cleanup_handle;
    }
    long timeout = o->timeout_s > 0 ? o->timeout_s : 30L;
    long connect = o->connect_timeout_s > 0 ? o->connect_timeout_s : 10L;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect < timeout ? connect : timeout);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_READDATA, f);
    set_tls(c, o);
    if (o->max_redirects > 0) {
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)o->max_redirects);
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL); /* POST stays POST */
    }
    if (put) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, cap, "%s %s failed: %s (is the server up and the URL right?)", method, shown,
                 cerr[0] ? cerr : curl_easy_strerror(cc));
        goto cleanup_handle;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (status)
        *status = code;
    if (code < 200 || code >= 300) {
        http_error(c, method, shown, code, o->max_redirects, err, cap);
        goto cleanup_handle;
    }
    char *used = NULL;
    if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_METHOD, &used) == CURLE_OK && used &&
        strcmp(used, method)) {
        snprintf(err, cap,
                 "upload failed: a redirect from %s turned the %s into a %s (HTTP %ld); "
                 "the file was not uploaded",
                 shown, method, used, code);
        goto cleanup_handle;
    }
    rc = 0;
cleanup_handle:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
cleanup_global:
    curl_global_cleanup();
cleanup:
    if (f)
        fclose(f);
    free(auth);
    return rc;
}

int bnb_publish_file(const char *path, const char *url, const char *method, long timeout_s,
                     long *status, char *err, size_t cap)
{
    bnb_publish_opts o = {.method = method,
                          .timeout_s = timeout_s,
                          .connect_timeout_s = 10,
                          .max_redirects = BNB_PUBLISH_MAX_REDIRECTS};
    return bnb_publish(path, url, &o, status, err, cap);
}

/* ---- one POST with its answer (bnb_publish_post) ------------------------------------ */

#define ANSWER_MAX ((size_t)64 << 10)

typedef struct answer_buf {
    char *p;
    size_t len;
} answer_buf;

/* Keeps the first ANSWER_MAX bytes of the answer and discards the rest. */
static size_t keep(char *p, size_t sz, size_t n, void *u)
{
    answer_buf *b = u;
    size_t total = sz * n, room = ANSWER_MAX - b->len;
    size_t take = total < room ? total : room;
    memcpy(b->p + b->len, p, take);
    b->len += take;
    return total;
}

/* Reads "Retry-After: <seconds>" among the answer's headers (an HTTP date is
 * not honoured: -1 stays). */
static size_t header_line(char *p, size_t sz, size_t n, void *u)
{
    long *retry_after = u;
    size_t len = sz * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && len < 64 && !strncasecmp(p, name, sizeof name - 1)) {
        char v[64];
        memcpy(v, p + sizeof name - 1, len - (sizeof name - 1));
        v[len - (sizeof name - 1)] = '\0';
        char *s = v, *end = NULL;
        while (*s == ' ' || *s == '\t')
            s++;
        errno = 0;
        long secs = strtol(s, &end, 10);
        while (end && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (s[0] >= '0' && s[0] <= '9' && !errno && end && !*end && secs <= 86400)
            *retry_after = secs;
    }
    return len;
}

/* The message of an answer body: its JSON "error" (or "status") string, or
 * the start of the text, made safe for a terminal. */
static void answer_message(const answer_buf *b, char *out, size_t cap)
{
    out[0] = '\0';
    if (!b->len)
        return;
    cJSON *j = cJSON_ParseWithLength(b->p, b->len);
    const cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (!cJSON_IsString(m))
        m = j ? cJSON_GetObjectItemCaseSensitive(j, "status") : NULL;
    if (cJSON_IsString(m)) {
        bnb_term_safe(m->valuestring, out, cap);
    } else {
        char text[400];
        size_t n = b->len < sizeof text - 1 ? b->len : sizeof text - 1;
        memcpy(text, b->p, n);
        text[n] = '\0';
        text[strcspn(text, "\r\n")] = '\0';
        bnb_term_safe(text, out, cap);
    }
    cJSON_Delete(j);
}

/* Failures that retrying cannot cure: TLS verification and set-up, a URL
 * or protocol libcurl refuses. */
static bool config_failure(CURLcode cc)
{
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        return true;
    default:
        return false;
    }
}

int bnb_publish_post(const char *url, const char *body, size_t len, const bnb_publish_opts *o,
                     bnb_post_result *r, char *err, size_t cap)
{
    static const bnb_publish_opts defaults = {0};
    int rc = -1;
    CURL *c = NULL;
    struct curl_slist *hdr = NULL;
    char *auth = NULL;
    char cerr[CURL_ERROR_SIZE] = "";
    char full[1024], shown[BNB_QUOTE_CAP]; /* the URL redacted, then quoted for messages */
    answer_buf ans = {0};
    if (!o)
        o = &defaults;
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
    r->config = 1; /* until the request is made */
    bnb_quote(bnb_publish_redact_url(url, full, sizeof full), shown);
    if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
        snprintf(err, cap, "URL must start with http:// or https://, got \"%s\"", url ? shown : "");
        return -1;
    }
    if (bnb_token_check(o->token, "the token", err, cap) ||
        (o->token && *o->token && bearer_header(o->token, &auth, err, cap)))
        return -1;
    if (!(ans.p = malloc(ANSWER_MAX))) {
        snprintf(err, cap, "out of memory for the answer of %s", shown);
        goto cleanup;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, cap, "libcurl failed to initialise");
        goto cleanup;
    }
    if (!(c = curl_easy_init())) {
        snprintf(err, cap, "libcurl could not create a handle (out of memory)");
        goto cleanup_global;
    }
    if (!add_header(&hdr, "Content-Type: application/json") || !add_header(&hdr, "Expect:") ||
        !add_header(&hdr, "Accept: application/json") || (auth && !add_header(&hdr, auth))) {
        snprintf(err, cap, "out of memory building the request headers");
        goto cleanup_handle;
    }
    long timeout = o->timeout_s > 0 ? o->timeout_s : 30L;
    long connect = o->connect_timeout_s > 0 ? o->connect_timeout_s : 10L;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect < timeout ? connect : timeout);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->retry_after_s);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    set_tls(c, o);
    r->config = 0;
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        r->transport = (int)cc;
        r->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
        r->config = config_failure(cc);
        r->retry_after_s = -1;
        snprintf(err, cap, "POST %s failed: %s", shown, cerr[0] ? cerr : curl_easy_strerror(cc));
        goto cleanup_handle;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    answer_message(&ans, r->message, sizeof r->message);
    if (r->status >= 300 && r->status < 400) {
        char *loc = NULL;
        if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
            bnb_publish_redact_url(loc, r->location, sizeof r->location);
    }
    rc = 0;
cleanup_handle:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
cleanup_global:
    curl_global_cleanup();
cleanup:
    free(ans.p);
    free(auth);
    return rc;
}
