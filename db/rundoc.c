/*
 * rundoc.c - parsing and validating a run document (contract: db/rundoc.h);
 * the limits are in db/rundoc_internal.h.
 *
 * The text is hostile (a socket, a file): its size is checked first, then
 * one pass over the bytes counts the JSON values it can hold (so cJSON never
 * builds a tree larger than BNB_RUNDOC_MAX_VALUES nodes) and refuses what
 * RFC 8259 forbids and C strings cannot hold (raw control characters and
 * \u0000 in strings); then cJSON parses a terminated copy, every string of
 * the tree is made valid UTF-8 (db/model/text.h), and every field is checked
 * and copied into the store's own structures. Nothing from the tree is kept:
 * the result is a bnb_rundoc whose every string fits its field untruncated,
 * every count is within its limit and every number that must be finite is.
 * Unknown members are ignored (a later minor addition to version 1 stays
 * readable); a missing or mistyped known one is an error naming it by path.
 *
 * This file needs only cJSON and db/model/ (no SQLite), so the fuzz target
 * links it alone (tests/fuzz/fuzz_rundoc.c). Thread-safety: no state of its
 * own; cJSON writes the position of a parse error into a global of its own
 * as well as into return_parse_end, and only the latter is read here.
 */
#include "db/rundoc.h"
#include "db/rundoc_internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"

/* ---- where a value is --------------------------------------------------------
 * A value's path ("cases[3].samples[2]") is a chain of steps on the stack,
 * written out only when a message needs it: most documents are valid, and
 * formatting a path for each of their values would cost more than checking
 * them. */

typedef struct where {
    const struct where *up; /* NULL: a member of the document itself */
    const char *key;        /* member name; NULL for an array element */
    int index;              /* array element index when key is NULL */
} where;

static where member_of(const where *up, const char *key)
{
    return (where){.up = up, .key = key};
}

static where element_of(const where *up, int index)
{
    return (where){.up = up, .index = index};
}

/* Appends the path of w to buf (length *len, capacity cap). */
static void path_of(const where *w, char *buf, size_t *len, size_t cap)
{
    if (!w)
        return;
    path_of(w->up, buf, len, cap);
    int k = w->key ? snprintf(buf + *len, cap - *len, "%s%s", w->up ? "." : "", w->key)
                   : snprintf(buf + *len, cap - *len, "[%d]", w->index);
    if (k > 0)
        *len = *len + (size_t)k < cap ? *len + (size_t)k : cap - 1;
}

/* ---- errors ------------------------------------------------------------------ */

/* Writes "path: message" (just the message when w is NULL) into err
 * (BNB_ERR_MAX bytes). Returns -1. */
__attribute__((format(printf, 3, 4))) static int bad(char *err, const where *w, const char *fmt,
                                                     ...)
{
    size_t k = 0;
    err[0] = '\0';
    if (w) {
        path_of(w, err, &k, BNB_ERR_MAX / 2);
        k += (size_t)snprintf(err + k, BNB_ERR_MAX - k, ": ");
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, BNB_ERR_MAX - k, fmt, ap);
    va_end(ap);
    return -1;
}

/* s shown in a message: control characters and bad bytes escaped, cut to
 * about 60 bytes. */
static const char *shown(const char *s, char buf[80])
{
    return bnb_term_safe(s, buf, 80);
}

static const char *type_name(const cJSON *it)
{
    if (cJSON_IsNull(it))
        return "null";
    if (cJSON_IsBool(it))
        return "a boolean";
    if (cJSON_IsNumber(it))
        return "a number";
    if (cJSON_IsString(it))
        return "a string";
    if (cJSON_IsArray(it))
        return "an array";
    if (cJSON_IsObject(it))
        return "an object";
    return "invalid";
}

/* ---- typed values --------------------------------------------------------------- */

/* The member w->key of object o, or NULL with "path: missing". */
static const cJSON *member(const cJSON *o, const where *w, char *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, w->key);
    if (!it)
        bad(err, w, "missing");
    return it;
}

enum { ANY = 0, NONEMPTY = 1 };

/* A string into dst (capacity cap, so at most cap - 1 bytes). */
static int str_item(const cJSON *it, const where *w, char *dst, size_t cap, int flags, char *err)
{
    if (!cJSON_IsString(it) || !it->valuestring)
        return bad(err, w, "must be a string, got %s", type_name(it));
    size_t n = strlen(it->valuestring);
    if (n >= cap)
        return bad(err, w, "is %zu bytes long, at most %zu allowed", n, cap - 1);
    if ((flags & NONEMPTY) && n == 0)
        return bad(err, w, "must not be empty");
    memcpy(dst, it->valuestring, n + 1);
    return 0;
}

static int get_str(const cJSON *o, const where *up, const char *key, char *dst, size_t cap,
                   int flags, char *err)
{
    where w = member_of(up, key);
    const cJSON *it = member(o, &w, err);
    return it ? str_item(it, &w, dst, cap, flags, err) : -1;
}

/* A finite number, or (nullable) null as NAN. */
static int num_item(const cJSON *it, const where *w, bool nullable, double *v, char *err)
{
    if (nullable && cJSON_IsNull(it)) {
        *v = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return bad(err, w, "must be a number%s, got %s", nullable ? " or null" : "", type_name(it));
    if (!isfinite(it->valuedouble))
        return bad(err, w, "must be a finite number");
    *v = it->valuedouble;
    return 0;
}

static int get_num(const cJSON *o, const where *up, const char *key, bool nullable, double *v,
                   char *err)
{
    where w = member_of(up, key);
    const cJSON *it = member(o, &w, err);
    return it ? num_item(it, &w, nullable, v, err) : -1;
}

/* An integral number in [lo, hi]. */
static int int_item(const cJSON *it, const where *w, int64_t lo, int64_t hi, int64_t *v, char *err)
{
    double d = 0;
    if (num_item(it, w, false, &d, err))
        return -1;
    if (d != floor(d) || d < (double)lo || d > (double)hi)
        return bad(err, w, "must be an integer from %lld to %lld, got %.17g", (long long)lo,
                   (long long)hi, d);
    *v = (int64_t)d;
    return 0;
}

static int get_int(const cJSON *o, const where *up, const char *key, int64_t lo, int64_t hi,
                   int64_t *v, char *err)
{
    where w = member_of(up, key);
    const cJSON *it = member(o, &w, err);
    return it ? int_item(it, &w, lo, hi, v, err) : -1;
}

static int get_bool(const cJSON *o, const where *up, const char *key, bool *v, char *err)
{
    where w = member_of(up, key);
    const cJSON *it = member(o, &w, err);
    if (!it)
        return -1;
    if (!cJSON_IsBool(it))
        return bad(err, &w, "must be true or false, got %s", type_name(it));
    *v = cJSON_IsTrue(it);
    return 0;
}

/* An array member with at most max elements; *n its length. */
static const cJSON *get_array(const cJSON *o, const where *w, int max, int *n, char *err)
{
    const cJSON *it = member(o, w, err);
    if (!it)
        return NULL;
    if (!cJSON_IsArray(it)) {
        bad(err, w, "must be an array, got %s", type_name(it));
        return NULL;
    }
    int k = cJSON_GetArraySize(it);
    if (k > max) {
        bad(err, w, "has %d entries, at most %d allowed", k, max);
        return NULL;
    }
    *n = k;
    return it;
}

static const cJSON *get_object(const cJSON *o, const where *w, char *err)
{
    const cJSON *it = member(o, w, err);
    if (it && !cJSON_IsObject(it)) {
        bad(err, w, "must be an object, got %s", type_name(it));
        return NULL;
    }
    return it;
}

/* A JSON object (or, when array, an array of strings) or null, kept as
 * compact text in *out (malloc'd; NULL for null). */
static int get_json(const cJSON *o, const where *up, const char *key, bool array, char **out,
                    char *err)
{
    *out = NULL;
    where w = member_of(up, key);
    const cJSON *it = member(o, &w, err);
    if (!it)
        return -1;
    if (cJSON_IsNull(it))
        return 0;
    if (array ? !cJSON_IsArray(it) : !cJSON_IsObject(it))
        return bad(err, &w, "must be %s or null, got %s", array ? "an array" : "an object",
                   type_name(it));
    if (array) {
        int i = 0;
        for (const cJSON *e = it->child; e; e = e->next, i++)
            if (!cJSON_IsString(e)) {
                where we = element_of(&w, i);
                return bad(err, &we, "must be a string, got %s", type_name(e));
            }
    }
    char *text = cJSON_PrintUnformatted(it);
    if (!text)
        return bad(err, &w, "out of memory");
    size_t n = strlen(text);
    if (n > BNB_RUNDOC_MAX_JSON) {
        cJSON_free(text);
        return bad(err, &w, "is %zu bytes as JSON, at most %d allowed", n, BNB_RUNDOC_MAX_JSON);
    }
    *out = text; /* cJSON allocates with malloc (no hooks installed): free() frees it */
    return 0;
}

/* The index of the string it among names[0..n), or -1 with err
 * "path: must be <list>, got ...". */
static int one_of(const cJSON *it, const where *w, const char *const *names, int n,
                  const char *list, char *err)
{
    char b[80];
    if (!cJSON_IsString(it))
        return bad(err, w, "must be %s, got %s", list, type_name(it));
    for (int i = 0; i < n; i++)
        if (!strcmp(it->valuestring, names[i]))
            return i;
    return bad(err, w, "must be %s, got \"%s\"", list, shown(it->valuestring, b));
}

static int get_one_of(const cJSON *o, const where *up, const char *key, const char *const *names,
                      int n, const char *list, char *err)
{
    where w = member_of(up, key);
    const cJSON *it = member(o, &w, err);
    return it ? one_of(it, &w, names, n, list, err) : -1;
}

/* ---- formats ------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex_lower(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* 8-4-4-4-12 lowercase hex digits (bnbench makes lowercase ones; the store
 * keys runs on the exact text, so "ABC..." would be another run). */
static bool uuid_valid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex_lower(s[i]))
            return false;
    }
    return true;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* YYYY-MM-DDTHH:MM:SS[.fraction]Z, as the store writes times. */
static bool time_valid(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (int i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
            return false;
    int mon = two(s + 5), day = two(s + 8), h = two(s + 11), mi = two(s + 14), sec = two(s + 17);
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        int k = 0;
        for (p++; is_digit(*p); p++)
            k++;
        if (k < 1 || k > 9)
            return false;
    }
    return p[0] == 'Z' && p[1] == '\0';
}

/* ---- the parts of a document ---------------------------------------------------- */

static int parse_machine(const cJSON *root, bnb_rundoc *d, char *err)
{
    where w = member_of(NULL, "machine");
    const cJSON *m = get_object(root, &w, err);
    if (!m ||
        get_str(m, &w, "name", d->ri.machine_name, sizeof d->ri.machine_name, NONEMPTY, err) ||
        get_str(m, &w, "fingerprint", d->ri.fingerprint, sizeof d->ri.fingerprint, NONEMPTY, err))
        return -1;
    return get_json(m, &w, "description", false, &d->ri.machine_json, err);
}

static int parse_run(const cJSON *root, bnb_rundoc *d, char *err)
{
    where w = member_of(NULL, "run");
    const cJSON *r = get_object(root, &w, err);
    bnb_run_info *ri = &d->ri;
    char b[80];
    if (!r || get_str(r, &w, "uuid", ri->uuid, sizeof ri->uuid, ANY, err))
        return -1;
    where wu = member_of(&w, "uuid");
    if (!uuid_valid(ri->uuid))
        return bad(err, &wu, "must be a UUID (8-4-4-4-12 lowercase hex digits), got \"%s\"",
                   shown(ri->uuid, b));
    static const char *const statuses[] = {"running", "complete", "interrupted", "failed",
                                           "abandoned"};
    _Static_assert(BNB_RUN_RUNNING == 0 && BNB_RUN_ABANDONED == 4, "statuses[] in enum order");
    int st =
        get_one_of(r, &w, "status", statuses, 5, "complete, interrupted, failed or abandoned", err);
    if (st < 0)
        return -1;
    where ws = member_of(&w, "status");
    if (st == BNB_RUN_RUNNING)
        return bad(err, &ws, "a running run cannot be stored (it has not ended)");
    d->status = (bnb_run_status)st;
    if (get_str(r, &w, "status_reason", d->status_reason, sizeof d->status_reason, ANY, err) ||
        get_str(r, &w, "started_at", ri->started_at, sizeof ri->started_at, ANY, err))
        return -1;
    where wt = member_of(&w, "started_at");
    if (!time_valid(ri->started_at))
        return bad(err, &wt, "must be a UTC time like 2026-01-02T03:04:05.678Z, got \"%s\"",
                   shown(ri->started_at, b));
    where wf = member_of(&w, "finished_at");
    const cJSON *fin = member(r, &wf, err);
    if (!fin)
        return -1;
    if (!cJSON_IsNull(fin)) {
        if (str_item(fin, &wf, d->finished_at, sizeof d->finished_at, ANY, err))
            return -1;
        if (!time_valid(d->finished_at))
            return bad(err, &wf,
                       "must be null or a UTC time like 2026-01-02T03:04:05.678Z, got \"%s\"",
                       shown(d->finished_at, b));
    }
    static const char *const reasons[] = {"nightly", "pr", "manual", "confirm"};
    int rs = get_one_of(r, &w, "reason", reasons, 4, "nightly, pr, manual or confirm", err);
    if (rs < 0)
        return -1;
    snprintf(ri->reason, sizeof ri->reason, "%s", reasons[rs]);
    if (get_str(r, &w, "commit", ri->commit, sizeof ri->commit, ANY, err) ||
        get_str(r, &w, "branch", ri->branch, sizeof ri->branch, ANY, err) ||
        get_str(r, &w, "build_type", ri->build_type, sizeof ri->build_type, ANY, err) ||
        get_str(r, &w, "compiler", ri->compiler, sizeof ri->compiler, ANY, err) ||
        get_str(r, &w, "cflags", ri->cflags, sizeof ri->cflags, ANY, err) ||
        get_str(r, &w, "kernels", ri->kernels, sizeof ri->kernels, ANY, err) ||
        get_str(r, &w, "tool_version", d->tool_version, sizeof d->tool_version, ANY, err) ||
        get_json(r, &w, "context", false, &ri->context_json, err) ||
        get_json(r, &w, "warnings", true, &ri->warnings_json, err) ||
        get_json(r, &w, "binding", false, &ri->binding_json, err))
        return -1;
    return 0;
}

static int parse_params(const cJSON *c, const where *wc, bnb_case_result *r, char *err)
{
    where w = member_of(wc, "params");
    const cJSON *ps = get_object(c, &w, err);
    if (!ps)
        return -1;
    char b[80];
    int n = cJSON_GetArraySize(ps);
    if (n > BNB_MAX_PARAMS)
        return bad(err, &w, "has %d entries, at most %d allowed", n, BNB_MAX_PARAMS);
    for (const cJSON *e = ps->child; e; e = e->next) {
        bnb_param *q = &r->params[r->nparams];
        size_t kn = e->string ? strlen(e->string) : 0;
        if (kn == 0 || kn >= sizeof q->key)
            return bad(err, &w, "key \"%s\" must be 1 to %zu bytes long",
                       shown(e->string ? e->string : "", b), sizeof q->key - 1);
        for (int k = 0; k < r->nparams; k++)
            if (!strcmp(r->params[k].key, e->string))
                return bad(err, &w, "key \"%s\" is given twice", shown(e->string, b));
        memcpy(q->key, e->string, kn + 1);
        where wv = member_of(&w, q->key);
        if (str_item(e, &wv, q->value, sizeof q->value, ANY, err))
            return -1;
        r->nparams++;
    }
    return 0;
}

static int parse_stats(const cJSON *c, const where *wc, bnb_stats *s, char *err)
{
    where w = member_of(wc, "stats");
    const cJSON *st = member(c, &w, err);
    if (!st)
        return -1;
    if (cJSON_IsNull(st))
        return 0; /* n = 0: no statistics stored */
    if (!cJSON_IsObject(st))
        return bad(err, &w, "must be an object or null, got %s", type_name(st));
    int64_t n = 0, lo = 0, hi = 0;
    if (get_int(st, &w, "n", 1, BNB_RUNDOC_MAX_SAMPLES, &n, err))
        return -1;
    static const char *const names[] = {"min", "max", "median", "mean",  "stddev", "mad",
                                        "cv",  "p90", "p99",    "ci_lo", "ci_hi"};
    double *v[] = {&s->min, &s->max, &s->median, &s->mean,  &s->stddev, &s->mad,
                   &s->cv,  &s->p90, &s->p99,    &s->ci_lo, &s->ci_hi};
    _Static_assert(sizeof names / sizeof names[0] == sizeof v / sizeof v[0], "one name a field");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (get_num(st, &w, names[i], true, v[i], err))
            return -1;
    if (get_int(st, &w, "outliers_low", 0, n, &lo, err) ||
        get_int(st, &w, "outliers_high", 0, n, &hi, err))
        return -1;
    s->n = (int)n;
    s->outliers_low = (int)lo;
    s->outliers_high = (int)hi;
    return 0;
}

static int parse_metrics(const cJSON *c, const where *wc, bnb_case_result *r, char *err)
{
    int n = 0;
    where wa = member_of(wc, "metrics");
    const cJSON *arr = get_array(c, &wa, BNB_RUNDOC_MAX_METRICS, &n, err);
    if (!arr)
        return -1;
    if (n > 0 && !(r->metrics = calloc((size_t)n, sizeof *r->metrics)))
        return bad(err, &wa, "out of memory");
    char b[80];
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        bnb_metric *m = &r->metrics[i];
        where w = element_of(&wa, i);
        int64_t timing = 0;
        if (!cJSON_IsObject(e))
            return bad(err, &w, "must be an object, got %s", type_name(e));
        if (get_str(e, &w, "name", m->name, sizeof m->name, NONEMPTY, err) ||
            get_str(e, &w, "unit", m->unit, sizeof m->unit, ANY, err) ||
            get_bool(e, &w, "available", &m->available, err) ||
            get_str(e, &w, "reason", m->reason, sizeof m->reason, ANY, err) ||
            get_bool(e, &w, "higher_is_better", &m->higher_is_better, err) ||
            get_int(e, &w, "timing", -1, 1, &timing, err))
            return -1;
        for (int k = 0; k < i; k++)
            if (!strcmp(r->metrics[k].name, m->name)) {
                where wn = member_of(&w, "name");
                return bad(err, &wn, "\"%s\" is given twice in this case", shown(m->name, b));
            }
        m->timing = (int)timing;
        where wv = member_of(&w, "value");
        const cJSON *val = member(e, &wv, err);
        if (!val)
            return -1;
        if (!m->available) {
            if (!cJSON_IsNull(val))
                return bad(err, &wv, "must be null when available is false, got %s",
                           type_name(val));
            m->value = NAN;
        } else if (num_item(val, &wv, false, &m->value, err)) {
            return -1;
        }
        r->nmetrics = i + 1;
    }
    return 0;
}

static int parse_samples(const cJSON *c, const where *wc, bnb_case_result *r, char *err)
{
    int n = 0, no = 0;
    where ws = member_of(wc, "samples"), wo = member_of(wc, "outliers");
    const cJSON *arr = get_array(c, &ws, BNB_RUNDOC_MAX_SAMPLES, &n, err);
    if (!arr)
        return -1;
    const cJSON *out = get_array(c, &wo, n, &no, err);
    if (!out)
        return -1;
    if (n > 0 && (!(r->samples = malloc((size_t)n * sizeof *r->samples)) ||
                  !(r->outlier = calloc((size_t)n, sizeof *r->outlier))))
        return bad(err, &ws, "out of memory");
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        where w = element_of(&ws, i);
        if (num_item(e, &w, false, &r->samples[i], err))
            return -1;
    }
    r->nsamples = n;
    i = 0;
    int64_t prev = -1;
    for (const cJSON *e = out->child; e; e = e->next, i++) {
        where w = element_of(&wo, i);
        int64_t k = 0;
        if (int_item(e, &w, prev + 1, n - 1, &k, err))
            return -1;
        r->outlier[k] = true;
        prev = k;
    }
    return 0;
}

static int parse_case(const cJSON *c, const where *w, int i, bnb_case_result *r, char *err)
{
    char b[80];
    if (!cJSON_IsObject(c))
        return bad(err, w, "must be an object, got %s", type_name(c));
    int64_t seq = 0, iters = 0;
    where wq = member_of(w, "seq");
    const cJSON *s = member(c, &wq, err);
    if (!s || int_item(s, &wq, 1, BNB_RUNDOC_MAX_CASES, &seq, err))
        return -1;
    if (seq != i + 1)
        return bad(err, &wq, "must be %d (cases are numbered in order from 1), got %lld", i + 1,
                   (long long)seq);
    if (get_str(c, w, "suite", r->suite, sizeof r->suite, NONEMPTY, err) ||
        get_str(c, w, "name", r->name, sizeof r->name, NONEMPTY, err) || parse_params(c, w, r, err))
        return -1;
    char full[1024], given[1024];
    bnb_case_fullname(r, full, sizeof full);
    if (get_str(c, w, "full_name", given, sizeof given, ANY, err))
        return -1;
    if (strcmp(full, given) != 0) {
        char b2[80];
        where wf = member_of(w, "full_name");
        return bad(err, &wf, "\"%s\" is not the name of suite, name and params (\"%s\")",
                   shown(given, b), shown(full, b2));
    }
    static const char *const statuses[] = {"ok", "failed", "skipped"};
    _Static_assert(BNB_CASE_OK == 0 && BNB_CASE_SKIPPED == 2, "statuses[] in enum order");
    int found = get_one_of(c, w, "status", statuses, 3, "ok, failed or skipped", err);
    if (found < 0)
        return -1;
    r->status = (bnb_case_status)found;
    if (get_str(c, w, "message", r->message, sizeof r->message, ANY, err) ||
        get_int(c, w, "iterations", 0, (int64_t)1 << 53, &iters, err) ||
        get_str(c, w, "code_version", r->code_version, sizeof r->code_version, ANY, err) ||
        parse_samples(c, w, r, err) || parse_stats(c, w, &r->stats, err) ||
        parse_metrics(c, w, r, err))
        return -1;
    r->iterations = iters;
    return 0;
}

static int parse_cases(const cJSON *root, bnb_rundoc *d, char *err)
{
    int n = 0;
    where wa = member_of(NULL, "cases");
    const cJSON *arr = get_array(root, &wa, BNB_RUNDOC_MAX_CASES, &n, err);
    if (!arr)
        return -1;
    if (n == 0)
        return bad(err, &wa, "a run with 0 cases cannot be stored (nothing was measured)");
    if (!(d->cases = calloc((size_t)n, sizeof *d->cases)))
        return bad(err, &wa, "out of memory");
    int i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        d->ncases = i + 1; /* freed from here on whatever happens */
        where w = element_of(&wa, i);
        if (parse_case(c, &w, i, &d->cases[i], err))
            return -1;
    }
    return 0;
}

static int parse_verdict(const cJSON *e, const where *w, bnb_target *t, bnb_verdict *v, char *err)
{
    if (!cJSON_IsObject(e))
        return bad(err, w, "must be an object, got %s", type_name(e));
    if (get_str(e, w, "target_id", t->id, sizeof t->id, NONEMPTY, err) ||
        get_str(e, w, "description", t->description, sizeof t->description, ANY, err) ||
        get_str(e, w, "figure", t->figure, sizeof t->figure, NONEMPTY, err))
        return -1;
    static const char *const ops[] = {">=", "<="};
    int op = get_one_of(e, w, "op", ops, 2, "\">=\" or \"<=\"", err);
    if (op < 0)
        return -1;
    snprintf(t->op, sizeof t->op, "%s", ops[op]);
    static const char *const verdicts[] = {"met", "missed", "not applicable", "not measured"};
    double measured = NAN;
    int vi = -1;
    if (get_num(e, w, "threshold", false, &t->threshold, err) ||
        get_str(e, w, "relative_to", t->relative_to, sizeof t->relative_to, ANY, err) ||
        get_num(e, w, "bound", true, &v->bound, err) ||
        get_num(e, w, "measured", true, &measured, err) ||
        get_num(e, w, "ci_lo", true, &v->ci_lo, err) ||
        get_num(e, w, "ci_hi", true, &v->ci_hi, err) ||
        (vi = get_one_of(e, w, "verdict", verdicts, 4,
                         "met, missed, not applicable or not measured", err)) < 0)
        return -1;
    snprintf(v->verdict, sizeof v->verdict, "%s", verdicts[vi]);
    v->measured_ok = !isnan(measured);
    v->measured = measured;
    return get_str(e, w, "reason", v->reason, sizeof v->reason, ANY, err);
}

static int parse_verdicts(const cJSON *root, bnb_rundoc *d, char *err)
{
    int n = 0;
    where wa = member_of(NULL, "verdicts");
    const cJSON *arr = get_array(root, &wa, BNB_RUNDOC_MAX_VERDICTS, &n, err);
    if (!arr)
        return -1;
    if (n == 0)
        return 0;
    if (!(d->targets.t = calloc((size_t)n, sizeof *d->targets.t)) ||
        !(d->verdicts = calloc((size_t)n, sizeof *d->verdicts)))
        return bad(err, &wa, "out of memory");
    int i = 0;
    char b[80];
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        bnb_target *t = &d->targets.t[i];
        bnb_verdict *v = &d->verdicts[i];
        where w = element_of(&wa, i);
        v->target = t;
        if (parse_verdict(e, &w, t, v, err))
            return -1;
        for (int k = 0; k < i; k++)
            if (!strcmp(d->targets.t[k].id, t->id)) {
                where wt = member_of(&w, "target_id");
                return bad(err, &wt, "\"%s\" is given twice (one verdict a target)",
                           shown(t->id, b));
            }
        d->targets.n = i + 1;
    }
    return 0;
}

/* ---- the text ----------------------------------------------------------------- */

/* What one pass over the raw bytes finds (scan). */
typedef struct text_scan {
    size_t values;    /* upper bound of the JSON values cJSON can make of them:
                         each but the first follows a '[', ',' or ':' outside strings */
    size_t bad_at;    /* first raw control character or \u0000 inside a string
                         (RFC 8259 forbids the one, a C string cannot hold the
                         other); SIZE_MAX when none */
    bool unfinished;  /* the text ends inside a string or an open [ or { */
    size_t last_mark; /* the last '[', ']', '{', '}', ',', ':' outside strings, or
                         the '"' opening the string the text ends in */
} text_scan;

static void scan(const char *s, size_t n, text_scan *t)
{
    *t = (text_scan){.values = 1, .bad_at = SIZE_MAX};
    bool in = false;
    long depth = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!in) {
            if (c == '"') {
                in = true;
                t->last_mark = i;
                continue;
            }
            switch (c) { /* no strchr a byte: this pass runs over every byte */
            case '[':
            case ',':
            case ':':
                t->values++;
                depth += c == '[';
                t->last_mark = i;
                break;
            case '{':
                depth++;
                t->last_mark = i;
                break;
            case ']':
            case '}':
                depth--;
                t->last_mark = i;
                break;
            default:
                break;
            }
            continue;
        }
        if (c == '"') {
            in = false;
        } else if (c < 0x20 || (c == '\\' && i + 5 < n && !memcmp(s + i + 1, "u0000", 5))) {
            if (t->bad_at == SIZE_MAX)
                t->bad_at = i;
        } else if (c == '\\') {
            i++; /* the escaped character cannot end the string */
        }
    }
    t->unfinished = in || depth > 0;
}

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parses text into a tree, or NULL with err. */
static cJSON *parse_text(const char *text, size_t len, size_t max_bytes, char *err)
{
    if (len > max_bytes) {
        bad(err, NULL, "document is %zu bytes, larger than the limit of %zu bytes", len, max_bytes);
        return NULL;
    }
    if (len == 0 || !text) {
        bad(err, NULL, "empty document (no JSON text)");
        return NULL;
    }
    text_scan ts;
    scan(text, len, &ts);
    if (ts.values > BNB_RUNDOC_MAX_VALUES) {
        bad(err, NULL, "document holds up to %zu JSON values, more than the limit of %d", ts.values,
            BNB_RUNDOC_MAX_VALUES);
        return NULL;
    }
    /* a terminated copy: cJSON then never reads past the text */
    char *copy = malloc(len + 1);
    if (!copy) {
        bad(err, NULL, "out of memory (%zu bytes)", len + 1);
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len, &end, false);
    size_t pos = end && end >= copy ? (size_t)(end - copy) : 0;
    if (!root && ts.bad_at < pos) {
        bad(err, NULL, "malformed JSON at byte %zu: a control character or \\u0000 inside a string",
            ts.bad_at);
    } else if (!root && ts.unfinished && pos >= ts.last_mark) {
        /* cJSON stops at the start of the token the text cuts off */
        bad(err, NULL, "truncated JSON: the text ends at byte %zu before the document does", len);
    } else if (!root) {
        char near[24], b[80];
        snprintf(near, sizeof near, "%.16s", copy + pos);
        bad(err, NULL, "malformed JSON at byte %zu (near \"%s\")", pos, shown(near, b));
    }
    if (!root) {
        free(copy);
        return NULL;
    }
    if (ts.bad_at != SIZE_MAX) {
        free(copy);
        cJSON_Delete(root);
        bad(err, NULL, "malformed JSON at byte %zu: a control character or \\u0000 inside a string",
            ts.bad_at);
        return NULL;
    }
    while (pos < len && json_space(copy[pos]))
        pos++;
    free(copy);
    if (pos < len) {
        cJSON_Delete(root);
        bad(err, NULL, "malformed JSON at byte %zu: text after the end of the document", pos);
        return NULL;
    }
    if (bnb_json_utf8_tree(root)) {
        cJSON_Delete(root);
        bad(err, NULL, "out of memory");
        return NULL;
    }
    return root;
}

int bnb_rundoc_parse(const char *text, size_t len, bnb_rundoc **out, char *err)
{
    return bnb_rundoc_parse_max(text, len, BNB_RUNDOC_MAX_BYTES, out, err);
}

int bnb_rundoc_parse_max(const char *text, size_t len, size_t max_bytes, bnb_rundoc **out,
                         char *err)
{
    *out = NULL;
    if (max_bytes > BNB_RUNDOC_MAX_BYTES_LIMIT)
        max_bytes = BNB_RUNDOC_MAX_BYTES_LIMIT;
    cJSON *root = parse_text(text, len, max_bytes, err);
    if (!root)
        return -1;
    bnb_rundoc *d = calloc(1, sizeof *d);
    int rc = -1;
    char b[80];
    if (!d) {
        bad(err, NULL, "out of memory");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        bad(err, NULL, "the document must be a JSON object, got %s", type_name(root));
        goto out;
    }
    where wsch = member_of(NULL, "schema"), wver = member_of(NULL, "schema_version");
    const cJSON *schema = member(root, &wsch, err);
    if (!schema)
        goto out;
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, BNB_RUNDOC_SCHEMA) != 0) {
        bad(err, &wsch, "must be \"" BNB_RUNDOC_SCHEMA "\" (a bnbench run), got %s%s%s",
            cJSON_IsString(schema) ? "\"" : "",
            cJSON_IsString(schema) ? shown(schema->valuestring, b) : type_name(schema),
            cJSON_IsString(schema) ? "\"" : "");
        goto out;
    }
    const cJSON *ver = member(root, &wver, err);
    int64_t v = 0;
    if (!ver || int_item(ver, &wver, 1, INT32_MAX, &v, err))
        goto out;
    if (v != BNB_RUNDOC_VERSION) {
        bad(err, &wver, "%lld is not supported (this bnbench reads %d)", (long long)v,
            BNB_RUNDOC_VERSION);
        goto out;
    }
    if (parse_machine(root, d, err) || parse_run(root, d, err) || parse_cases(root, d, err) ||
        parse_verdicts(root, d, err))
        goto out;
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) {
        bnb_rundoc_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void bnb_rundoc_free(bnb_rundoc *d)
{
    if (!d)
        return;
    bnb_run_info_free(&d->ri);
    for (int i = 0; i < d->ncases; i++)
        bnb_case_free(&d->cases[i]);
    free(d->cases);
    free(d->targets.t);
    free(d->verdicts);
    free(d);
}

const char *bnb_rundoc_uuid(const bnb_rundoc *d)
{
    return d->ri.uuid;
}

const char *bnb_rundoc_machine(const bnb_rundoc *d)
{
    return d->ri.machine_name;
}

const char *bnb_rundoc_fingerprint(const bnb_rundoc *d)
{
    return d->ri.fingerprint;
}

int bnb_rundoc_ncases(const bnb_rundoc *d)
{
    return d->ncases;
}
