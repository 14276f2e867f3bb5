/*
 * pubclient.c - publishing stored runs to a collector (contract:
 * pubclient.h).
 *
 * Shape: bnb_pubclient_publish walks the spool, then the runs asked for;
 * each run goes through send_run (the retry loop over bnb_publish_post),
 * whose outcome decides one of three things: published (recorded in the
 * DB, the spool file removed), rejected (moved to rejected/), kept (the
 * spool file written or updated). Every line printed names the run by id,
 * UUID and machine, and URLs only as redacted.
 */
#include "reports/pubclient.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "db/model/text.h"
#include "db/published.h"
#include "db/rundoc.h"
#include "reports/spool.h"

void bnb_pubclient_opts_default(bnb_pubclient_opts *o)
{
    memset(o, 0, sizeof *o);
    o->retries = 3;
    o->backoff_ms = 500;
    o->max_delay_s = 30;
    o->http.timeout_s = 30;
    o->http.connect_timeout_s = 10;
    o->out = stdout;
}

int bnb_pubclient_token(const char *token_file, int legacy, char **tok, const char **src, char *err,
                        size_t cap)
{
    *tok = NULL;
    *src = "no token";
    if (token_file) {
        *src = "--token-file";
        return bnb_token_read_file(token_file, tok, err, cap);
    }
    static const char *const vars[] = {"BNBENCH_TOKEN", "BNB_PUBLISH_TOKEN"};
    for (int i = 0; i < (legacy ? 2 : 1); i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v)
            continue;
        *src = vars[i];
        if (bnb_token_check(v, vars[i], err, cap))
            return -1;
        if (!(*tok = strdup(v))) {
            snprintf(err, cap, "out of memory copying %s", vars[i]);
            return -1;
        }
        return 0;
    }
    return 0;
}

int bnb_pubclient_endpoint(const char *url, char *out, char *shown, size_t cap, char *err,
                           size_t ecap)
{
    char q[BNB_QUOTE_CAP];
    bnb_quote(bnb_publish_redact_url(url, shown, cap), q);
    if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
        snprintf(err, ecap, "--url must start with http:// or https://, got \"%s\"", q);
        return -1;
    }
    if (strpbrk(url, "?#")) {
        snprintf(err, ecap,
                 "--url is the collector's base URL (runs go to <URL>" BNB_PUBCLIENT_PATH
                 "); it may not hold a query or fragment, got \"%s\"",
                 q);
        return -1;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n + sizeof BNB_PUBCLIENT_PATH > cap ||
        n + sizeof BNB_PUBCLIENT_PATH > BNB_PUBCLIENT_MAX_URL) {
        snprintf(err, ecap, "--url is too long (at most %d bytes)",
                 BNB_PUBCLIENT_MAX_URL - (int)sizeof BNB_PUBCLIENT_PATH);
        return -1;
    }
    snprintf(out, cap, "%.*s" BNB_PUBCLIENT_PATH, (int)n, url);
    /* shown is the base as it is stored and compared: no trailing '/' */
    char base[BNB_PUBCLIENT_MAX_URL];
    snprintf(base, sizeof base, "%.*s", (int)n, url);
    bnb_publish_redact_url(base, shown, cap);
    size_t k = strlen(shown); /* libcurl's redaction writes the root path "/" */
    while (k > 0 && shown[k - 1] == '/')
        shown[--k] = '\0';
    return 0;
}

/* ---- one run ------------------------------------------------------------------------ */

typedef enum outcome { SENT_STORED, SENT_ALREADY, REJECTED, KEPT } outcome;

typedef struct ctx {
    const bnb_pubclient_opts *o;
    bnb_db *db;
    char endpoint[BNB_PUBCLIENT_MAX_URL];
    char shown[BNB_PUBCLIENT_MAX_URL]; /* the base URL, redacted */
    char spool[4096];
    bool stopped;       /* the collector cannot take runs now: the rest are not tried */
    char stop_why[600]; /* why */
    bnb_pubclient_summary *sum;
} ctx;

/* A uniformly drawn fraction in [0, 1) (jitter; not for secrets). */
static double draw(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = (uint32_t)time(NULL) * 2654435761u ^ (uint32_t)clock();
    return (double)v / 4294967296.0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The wait before try k + 2 (k = 0 for the first retry), in ms. */
static long delay_ms(const bnb_pubclient_opts *o, int k, long retry_after_s)
{
    double cap = (double)o->max_delay_s * 1000.0;
    double d = (double)o->backoff_ms;
    for (int i = 0; i < k && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    d = d / 2 + draw() * d / 2;
    if (retry_after_s >= 0) {
        double ra = (double)retry_after_s * 1000.0;
        if (ra > cap)
            ra = cap;
        if (ra > d)
            d = ra;
    }
    return (long)d;
}

/* Sends doc with retries; *why says why it was not sent (or "" when it was). */
static outcome send_doc(ctx *c, const char *doc, size_t len, int *tries, long *status, char *why,
                        size_t cap)
{
    const bnb_pubclient_opts *o = c->o;
    why[0] = '\0';
    *status = 0;
    for (int k = 0;; k++) {
        bnb_post_result r;
        char e[BNB_ERR_MAX];
        *tries = k + 1;
        int rc = bnb_publish_post(c->endpoint, doc, len, &o->http, &r, e, sizeof e);
        *status = r.status;
        const char *msg = r.message[0] ? r.message : "(no message)";
        bool retry = false;
        if (rc != 0) {
            snprintf(why, cap, "%s%s", e, r.timed_out ? " (timed out)" : "");
            if (r.config || !r.transport)
                return KEPT;
            retry = true;
        } else if (r.status == 201) {
            return SENT_STORED;
        } else if (r.status == 200) {
            return SENT_ALREADY;
        } else if (r.status == 429 || r.status >= 500 || r.status == 408) {
            snprintf(why, cap, "HTTP %ld: %s", r.status, msg);
            retry = true;
        } else if (r.status == 401 || r.status == 403) {
            snprintf(why, cap,
                     "HTTP %ld: %s (the collector refused the token: check BNBENCH_TOKEN or "
                     "--token-file)",
                     r.status, msg);
            return KEPT;
        } else if (r.status >= 300 && r.status < 400) {
            snprintf(why, cap, "HTTP %ld: a redirect to %s, not followed (give that URL as --url)",
                     r.status, r.location[0] ? r.location : "nowhere (no Location)");
            return KEPT;
        } else if (r.status >= 400 && r.status < 500) {
            snprintf(why, cap, "HTTP %ld: %s", r.status, msg);
            return REJECTED;
        } else {
            snprintf(why, cap, "HTTP %ld: not an answer a collector gives (201 or 200 expected)",
                     r.status);
            return KEPT;
        }
        if (!retry || k >= o->retries) {
            if (retry && o->retries > 0) {
                char w[600];
                snprintf(w, sizeof w, "%s", why);
                snprintf(why, cap, "%s (after %d tries)", w, k + 1);
            }
            return KEPT;
        }
        long ms = delay_ms(o, k, rc == 0 ? r.retry_after_s : -1);
        if (o->out)
            fprintf(o->out, "  try %d of %d: %s; retrying in %.1f s%s\n", k + 1, o->retries + 1,
                    why, ms / 1000.0, rc == 0 && r.retry_after_s >= 0 ? " (Retry-After)" : "");
        if (o->out)
            fflush(o->out);
        sleep_ms(ms);
    }
}

/* What a run is called in the lines printed. */
static void label(char *out, size_t cap, int64_t run_id, const char *uuid, const char *machine)
{
    char m[200]; /* a name from the DB: made safe for a terminal */
    snprintf(out, cap, "run %lld (%s, machine %s)", (long long)run_id, uuid,
             bnb_term_safe(machine, m, sizeof m));
}

static void first_problem(ctx *c, const char *lab, const char *why)
{
    if (!c->sum->first_problem[0])
        snprintf(c->sum->first_problem, sizeof c->sum->first_problem, "%.200s: %.390s", lab, why);
}

/* Publishes one run whose document is doc; e is its spool entry (existing
 * when in_spool). Returns 0, or -1 with err for a spool write that failed
 * (the run is then neither sent nor spooled: the caller stops). */
static int publish_one(ctx *c, bnb_spool_entry *e, bool in_spool, const char *doc, size_t len,
                       char *err, size_t cap)
{
    const bnb_pubclient_opts *o = c->o;
    char lab[300], why[600], e2[BNB_ERR_MAX];
    label(lab, sizeof lab, e->run_id, e->uuid, e->machine);
    outcome oc = KEPT;
    int tries = 0;
    long status = 0;
    if (c->stopped && in_spool && !strcmp(e->url, c->shown)) {
        /* waiting already, for this collector: left as it is (its last error
         * is the one that tells something) */
        c->sum->spooled++;
        if (o->out)
            fprintf(o->out, "still spooled %s: not tried after the run before\n", lab);
        return 0;
    }
    if (c->stopped)
        snprintf(why, sizeof why, "not tried: %s", c->stop_why);
    else
        oc = send_doc(c, doc, len, &tries, &status, why, sizeof why);
    e->attempts += tries;
    if (oc == SENT_STORED || oc == SENT_ALREADY) {
        if (oc == SENT_STORED)
            c->sum->stored++;
        else
            c->sum->already++;
        if (o->out)
            fprintf(o->out, "sent %s: %s (HTTP %ld)\n", lab,
                    oc == SENT_STORED ? "stored" : "already stored", status);
        int64_t id = 0;
        int f = bnb_db_run_by_uuid(c->db, e->uuid, &id, e2);
        if (f == 1 && bnb_db_mark_published(c->db, id, c->shown, (int)status, e2) != 0)
            f = -1;
        if (f < 0)
            fprintf(stderr,
                    "bnbench publish: warning: %s was sent but could not be recorded as "
                    "published: %s (a later --all-unpublished sends it again; the collector "
                    "answers \"already stored\")\n",
                    lab, e2);
        if (in_spool && bnb_spool_remove(c->spool, false, e->uuid, err, cap))
            return -1;
        return 0;
    }
    snprintf(e->last_error, sizeof e->last_error, "%s", why);
    snprintf(e->url, sizeof e->url, "%s", c->shown);
    if (oc == REJECTED) {
        if (bnb_spool_put(c->spool, true, e, doc, len, err, cap) ||
            (in_spool && bnb_spool_remove(c->spool, false, e->uuid, err, cap)))
            return -1;
        c->sum->rejected++;
        first_problem(c, lab, why);
        if (o->out)
            fprintf(o->out, "rejected %s: %s; kept in %s/rejected/ (not resent automatically)\n",
                    lab, why, c->spool);
        return 0;
    }
    if (bnb_spool_put(c->spool, false, e, doc, len, err, cap))
        return -1;
    c->sum->spooled++;
    first_problem(c, lab, why);
    if (o->out)
        fprintf(o->out, "spooled %s: %s\n", lab, why);
    if (!c->stopped) {
        c->stopped = true;
        snprintf(c->stop_why, sizeof c->stop_why, "run %lld before it was not sent (%.400s)",
                 (long long)e->run_id, why);
    }
    return 0;
}

int bnb_pubclient_publish(bnb_db *db, const char *dbpath, const int64_t *ids, int n,
                          const bnb_pubclient_opts *o, bnb_pubclient_summary *sum, char *err,
                          size_t cap)
{
    ctx c = {.o = o, .db = db, .sum = sum};
    memset(sum, 0, sizeof *sum);
    if (bnb_pubclient_endpoint(o->url, c.endpoint, c.shown, sizeof c.endpoint, err, cap) ||
        bnb_spool_path(dbpath, c.spool, sizeof c.spool, err, cap))
        return -1;
    bnb_spool_entry *sp = NULL;
    int nsp = 0, rc = -1;
    if (bnb_spool_list(c.spool, false, &sp, &nsp, NULL, err, cap))
        return -1;
    int waiting = 0, asked = 0;
    for (int i = 0; i < nsp; i++)
        waiting += !strcmp(sp[i].url, c.shown);
    for (int i = 0; i < n; i++) {
        bnb_run_row row;
        char e2[BNB_ERR_MAX];
        bool dup = false;
        if (bnb_db_get_run_row(db, ids[i], &row, e2) == 0)
            for (int k = 0; k < nsp && !dup; k++)
                dup = !strcmp(sp[k].uuid, row.uuid) && !strcmp(sp[k].url, c.shown);
        asked += !dup;
    }
    if (o->out) {
        fprintf(o->out, "publishing to %s%s: %d run(s) from the spool, %d asked for", c.shown,
                o->http.insecure ? " (--insecure: TLS certificates are NOT verified)" : "", waiting,
                asked);
        if (nsp > waiting)
            fprintf(o->out, " (%d wait for another collector)", nsp - waiting);
        fputc('\n', o->out);
        fflush(o->out);
    }
    /* 1. the spool, oldest first */
    for (int i = 0; i < nsp; i++) {
        if (strcmp(sp[i].url, c.shown))
            continue; /* waiting for another collector */
        char *doc = NULL;
        size_t len = 0;
        bnb_spool_entry e;
        int g = bnb_spool_get(c.spool, false, sp[i].uuid, &e, &doc, &len, err, cap);
        if (g == 1)
            continue; /* sent meanwhile by another publisher of this DB */
        if (g < 0)
            goto out;
        int p = publish_one(&c, &e, true, doc, len, err, cap);
        free(doc);
        if (p)
            goto out;
        if (o->out)
            fflush(o->out);
    }
    /* 2. the runs asked for */
    for (int i = 0; i < n; i++) {
        bnb_run_row row;
        char e2[BNB_ERR_MAX];
        if (bnb_db_get_run_row(db, ids[i], &row, e2)) {
            snprintf(err, cap, "%s", e2);
            goto out;
        }
        bool spooled_here = false;
        for (int k = 0; k < nsp && !spooled_here; k++)
            spooled_here = !strcmp(sp[k].uuid, row.uuid) && !strcmp(sp[k].url, c.shown);
        if (spooled_here)
            continue; /* it went (or stayed) with the spool above */
        bnb_spool_entry e = {.run_id = ids[i], .spooled_at = time(NULL)};
        snprintf(e.uuid, sizeof e.uuid, "%s", row.uuid);
        snprintf(e.machine, sizeof e.machine, "%s", row.machine);
        bnb_spool_entry old;
        if (o->skip_rejected &&
            bnb_spool_get(c.spool, true, row.uuid, &old, NULL, NULL, e2, sizeof e2) == 0)
            continue; /* refused before: listed by --status, never resent automatically */
        bool in_spool = bnb_spool_get(c.spool, false, row.uuid, &old, NULL, NULL, e2, sizeof e2) ==
                        0; /* for another collector */
        if (in_spool) {
            e.spooled_at = old.spooled_at;
            e.attempts = old.attempts;
        }
        size_t len = 0;
        char *doc = bnb_rundoc_build(db, ids[i], &len, e2);
        if (!doc) {
            snprintf(err, cap, "run %lld: %s", (long long)ids[i], e2);
            goto out;
        }
        int p = publish_one(&c, &e, in_spool, doc, len, err, cap);
        free(doc);
        if (p)
            goto out;
        if (!c.stopped) {
            /* sent or rejected: a copy rejected before is out of date */
            bnb_spool_entry dummy;
            if (bnb_spool_get(c.spool, true, row.uuid, &dummy, NULL, NULL, e2, sizeof e2) == 0 &&
                bnb_db_is_published(db, ids[i], c.shown, e2) == 1)
                bnb_spool_remove(c.spool, true, row.uuid, e2, sizeof e2);
        }
        if (o->out)
            fflush(o->out);
    }
    rc = (sum->spooled || sum->rejected) ? 1 : 0;
out:
    /* runs of this collector still waiting (spooled now or left from before) */
    {
        bnb_spool_entry *left = NULL;
        int nl = 0;
        char e2[BNB_ERR_MAX];
        if (bnb_spool_list(c.spool, false, &left, &nl, NULL, e2, sizeof e2) == 0) {
            sum->spooled = 0;
            for (int i = 0; i < nl; i++)
                sum->spooled += !strcmp(left[i].url, c.shown);
            free(left);
            if (rc == 0 && sum->spooled)
                rc = 1;
        }
    }
    free(sp);
    return rc;
}
