/*
 * publish.h - sends a report file to an HTTP(S) server with libcurl
 * (bnbench publish, ci/nightly.sh when BNB_PUBLISH_URL is set).
 *
 * PUT (default) uploads the file as the request body to URL; POST sends it
 * as the body of a POST. Content-Type follows the extension (.html
 * text/html, .md text/markdown, .json application/json, else
 * application/octet-stream). When the environment holds BNB_PUBLISH_TOKEN
 * it is sent as "Authorization: Bearer <token>". A connection failure, a
 * timeout or an HTTP status >= 400 is an error naming the URL and the cause.
 */
#ifndef BNB_PUBLISH_H
#define BNB_PUBLISH_H

#include <stddef.h>

/* Returns 0 on a 2xx/3xx answer (*status receives it; may be NULL), or -1
 * with a one-line message in err. timeout_s <= 0: 30 s. */
int bnb_publish_file(const char *path, const char *url, const char *method, long timeout_s,
                     long *status, char *err, size_t cap);

#endif
