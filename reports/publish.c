/*
 * publish.c - HTTP upload of a report with libcurl (contract: publish.h).
 */
#include "reports/publish.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int bnb_publish_file(const char *path, const char *url, const char *method, long timeout_s,
                     long *status, char *err, size_t cap)
{
    int rc = -1;
    FILE *f = NULL;
    CURL *c = NULL;
    struct curl_slist *hdr = NULL;
    char cerr[CURL_ERROR_SIZE] = "";
    bool put = !method || !strcmp(method, "PUT");
    if (!put && strcmp(method, "POST")) {
        snprintf(err, cap, "publish: method must be PUT or POST, got \"%s\"", method);
        return -1;
    }
    if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
        snprintf(err, cap, "publish: URL must start with http:// or https://, got \"%s\"",
                 url ? url : "");
        return -1;
    }
    struct stat st;
    errno = 0;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "rb"))) {
        snprintf(err, cap, "publish: cannot read %s: %s", path,
                 errno ? strerror(errno) : "not a regular file");
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, cap, "publish: libcurl failed to initialise");
        goto cleanup;
    }
    if (!(c = curl_easy_init())) {
        snprintf(err, cap, "publish: libcurl could not create a handle (out of memory)");
        goto cleanup_global;
    }
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type(path));
    hdr = curl_slist_append(hdr, ct);
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
    const char *tok = getenv("BNB_PUBLISH_TOKEN");
    char auth[512];
    if (tok && *tok) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_READDATA, f);
    if (put) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, cap, "publish: %s %s failed: %s (is the server up and the URL right?)",
                 put ? "PUT" : "POST", url, cerr[0] ? cerr : curl_easy_strerror(cc));
        goto cleanup_handle;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (status)
        *status = code;
    if (code >= 400 || code < 100) {
        snprintf(err, cap, "publish: %s %s: the server answered HTTP %ld", put ? "PUT" : "POST",
                 url, code);
        goto cleanup_handle;
    }
    rc = 0;
cleanup_handle:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
cleanup_global:
    curl_global_cleanup();
cleanup:
    fclose(f);
    return rc;
}
