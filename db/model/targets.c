/*
 * targets.c - performance targets: load a JSON targets file strictly, then
 * check each target against the figures of a run (contract: db/model/targets.h).
 *
 * Loading refuses anything it does not understand (unknown keys, wrong types,
 * duplicate ids or keys, a figure that cannot name a case and a metric), with
 * one line naming the file, the target (1-based ordinal and id) and the bad
 * field with its value: a typo in a targets file must never turn into a
 * target silently not checked. Validation then checks each figure against
 * the catalogue the suites hand down (cases and the metric names each
 * declares), so a case or metric that cannot exist is refused too.
 *
 * Evaluation never reports "met" by default: a figure that is absent, failed
 * or unavailable is "not measured" (with the reason the case or metric
 * carries), a skipped case or a missing capability is "not applicable". A
 * figure's case part may be a glob (fnmatch, '*' crosses '/'): the target
 * then holds for every matching case and the worst of them is reported.
 */
#include "db/model/targets.h"

#include "db/model/text.h"

#include <cJSON.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TARGETS_FILE_MAX (1 << 20)

/* ---- loading --------------------------------------------------------------- */

typedef struct loader {
    const char *path;
    char shown[BNB_QUOTE_CAP]; /* path for messages (bnb_quote) */
    char *err;
    size_t cap;
} loader;

static void lerr(const loader *l, int index, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void lerr(const loader *l, int index, const char *id, const char *fmt, ...)
{
    if (!l->err || l->cap == 0)
        return;
    int n;
    if (index < 0)
        n = snprintf(l->err, l->cap, "targets file %s: ", l->shown);
    else if (id && *id)
        n = snprintf(l->err, l->cap, "targets file %s: target %d (%s): ", l->shown, index + 1, id);
    else
        n = snprintf(l->err, l->cap, "targets file %s: target %d: ", l->shown, index + 1);
    if (n < 0 || (size_t)n >= l->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err + n, l->cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* A short rendering of a JSON value for "got ..." (static buffer per call site). */
static const char *show(const cJSON *v, char *buf, size_t cap)
{
    char *p = cJSON_PrintUnformatted(v);
    if (!p) {
        snprintf(buf, cap, "(unprintable)");
        return buf;
    }
    if (strlen(p) > 40)
        snprintf(buf, cap, "%.37s...", p);
    else
        snprintf(buf, cap, "%s", p);
    cJSON_free(p);
    return buf;
}

/* Reads the whole file into *out (malloc'd, *len bytes, not terminated). */
static int read_file(const loader *l, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    /* a FIFO would block the open until a writer comes; a device never ends */
    struct stat st;
    if (stat(l->path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        lerr(l, -1, NULL, "not a regular file (a FIFO, socket or device)");
        return -1;
    }
    FILE *f = fopen(l->path, "rb");
    if (!f) {
        lerr(l, -1, NULL, "cannot open: %s", strerror(errno));
        return -1;
    }
    char *buf = malloc(TARGETS_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        lerr(l, -1, NULL, "out of memory");
        return -1;
    }
    size_t n = fread(buf, 1, TARGETS_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        lerr(l, -1, NULL, "cannot read: %s", strerror(errno ? errno : EIO));
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Line and column (1-based) of pos in text. */
static void line_col(const char *text, const char *pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < pos && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static bool id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* Checks "case:metric" shape; returns a description of the problem or NULL. */
static const char *figure_problem(const char *s, bool allow_glob)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return "has no ':' between the case and the metric";
    if (colon == s)
        return "has no case before ':'";
    if (!colon[1])
        return "has no metric after ':'";
    const char *slash = memchr(s, '/', (size_t)(colon - s));
    if (!slash || slash == s || slash + 1 == colon)
        return "case must be suite/name[/k=v...]";
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            return "contains whitespace";
        if (!allow_glob && p < colon && (*p == '*' || *p == '?' || *p == '['))
            return "must name one figure (no *, ? or [)";
    }
    return NULL;
}

/* The second occurrence of a known key repeated in an object (cJSON keeps
 * both), or NULL. Unknown keys are refused on their own; counting only the
 * known ones keeps this linear in the object's size whatever the input. */
static const cJSON *dup_key(const cJSON *o, const char *const *keys, size_t nkeys)
{
    int seen[8] = {0};
    for (const cJSON *c = o->child; c; c = c->next)
        for (size_t k = 0; k < nkeys && k < sizeof seen / sizeof seen[0]; k++)
            if (c->string && !strcmp(c->string, keys[k]) && ++seen[k] == 2)
                return c;
    return NULL;
}

/* Copies a string field; required fields must be present. Returns -1 with err. */
static int get_str(const loader *l, int idx, const char *id, const cJSON *o, const char *key,
                   bool required, char *dst, size_t cap)
{
    char buf[64];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    dst[0] = '\0';
    if (!v) {
        if (required) {
            lerr(l, idx, id, "\"%s\" is missing", key);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        lerr(l, idx, id, "\"%s\" must be a string, got %s", key, show(v, buf, sizeof buf));
        return -1;
    }
    if (!v->valuestring[0]) {
        lerr(l, idx, id, "\"%s\" is empty", key);
        return -1;
    }
    if (strlen(v->valuestring) >= cap) {
        lerr(l, idx, id, "\"%s\" is longer than %zu characters, got %s", key, cap - 1,
             show(v, buf, sizeof buf));
        return -1;
    }
    snprintf(dst, cap, "%s", v->valuestring);
    return 0;
}

static int load_target(const loader *l, int idx, const cJSON *o, bnb_target *t,
                       const bnb_target *prev)
{
    static const char *const keys[] = {"id",        "description", "figure",  "op",
                                       "threshold", "relative_to", "requires"};
    char buf[64];
    if (!cJSON_IsObject(o)) {
        lerr(l, idx, NULL, "must be an object, got %s", show(o, buf, sizeof buf));
        return -1;
    }
    /* The id first, so every later message can name the target. */
    if (get_str(l, idx, NULL, o, "id", true, t->id, sizeof t->id))
        return -1;
    for (const char *p = t->id; *p; p++)
        if (!id_char_ok(*p)) {
            lerr(l, idx, NULL, "\"id\" may hold only letters, digits, '-', '_' and '.', got \"%s\"",
                 t->id);
            return -1;
        }
    const char *id = t->id;
    for (int j = 0; j < idx; j++)
        if (!strcmp(prev[j].id, id)) {
            lerr(l, idx, id, "\"id\" repeats target %d", j + 1);
            return -1;
        }
    const cJSON *d = dup_key(o, keys, sizeof keys / sizeof keys[0]);
    if (d) {
        lerr(l, idx, id, "key \"%s\" given twice", d->string);
        return -1;
    }
    for (const cJSON *c = o->child; c; c = c->next) {
        bool known = false;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            known = known || !strcmp(c->string, keys[k]);
        if (!known) {
            lerr(l, idx, id,
                 "unknown key \"%s\" (expected id, description, figure, op, threshold, "
                 "relative_to, requires)",
                 c->string);
            return -1;
        }
    }
    if (get_str(l, idx, id, o, "description", false, t->description, sizeof t->description) ||
        get_str(l, idx, id, o, "figure", true, t->figure, sizeof t->figure) ||
        get_str(l, idx, id, o, "relative_to", false, t->relative_to, sizeof t->relative_to) ||
        get_str(l, idx, id, o, "requires", false, t->requires, sizeof t->requires))
        return -1;
    const char *why = figure_problem(t->figure, true);
    if (why) {
        lerr(l, idx, id, "\"figure\" %s, got \"%s\"", why, t->figure);
        return -1;
    }
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op");
    if (!op) {
        lerr(l, idx, id, "\"op\" is missing (expected \">=\" or \"<=\")");
        return -1;
    }
    if (!cJSON_IsString(op) || (strcmp(op->valuestring, ">=") && strcmp(op->valuestring, "<="))) {
        lerr(l, idx, id, "\"op\" must be \">=\" or \"<=\", got %s", show(op, buf, sizeof buf));
        return -1;
    }
    snprintf(t->op, sizeof t->op, "%s", op->valuestring);
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(o, "threshold");
    if (!th) {
        lerr(l, idx, id, "\"threshold\" is missing");
        return -1;
    }
    if (cJSON_IsNumber(th) && !isfinite(th->valuedouble)) {
        lerr(l, idx, id, "\"threshold\" must be a finite number, got %g", th->valuedouble);
        return -1;
    }
    if (!cJSON_IsNumber(th)) {
        lerr(l, idx, id, "\"threshold\" must be a finite number, got %s",
             show(th, buf, sizeof buf));
        return -1;
    }
    t->threshold = th->valuedouble;
    if (t->relative_to[0] && (why = figure_problem(t->relative_to, false))) {
        lerr(l, idx, id, "\"relative_to\" %s, got \"%s\"", why, t->relative_to);
        return -1;
    }
    for (const char *p = t->requires; *p; p++)
        if (!id_char_ok(*p)) {
            lerr(l, idx, id, "\"requires\" must be a capability name like \"cuda\", got \"%s\"",
                 t->requires);
            return -1;
        }
    /* a misspelt capability would make the target "not applicable" forever */
    if (t->requires[0] && strcmp(t->requires, "cuda") != 0) {
        lerr(l, idx, id, "\"requires\" names no capability bnbench knows, got \"%s\" (known: cuda)",
             t->requires);
        return -1;
    }
    return 0;
}

/* Parses len bytes of a targets file (bounded, NUL-free, then a copy
 * terminated for cJSON) into out. */
static int parse_text(const loader *l, const char *bytes, size_t len, bnb_target_set *out)
{
    char *text = NULL;
    cJSON *root = NULL;
    bnb_target *t = NULL;
    char buf[64];
    if (len > TARGETS_FILE_MAX) {
        lerr(l, -1, NULL, "larger than %d bytes", TARGETS_FILE_MAX);
        return -1;
    }
    if (len && memchr(bytes, '\0', len)) {
        lerr(l, -1, NULL, "contains a NUL byte (not a JSON text file)");
        return -1;
    }
    if (!(text = malloc(len + 1))) {
        lerr(l, -1, NULL, "out of memory");
        return -1;
    }
    if (len)
        memcpy(text, bytes, len);
    text[len] = '\0';
    const char *end = NULL;
    root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = 1, col = 1;
        if (at && at >= text && at <= text + strlen(text))
            line_col(text, at, &line, &col);
        if (!text[strspn(text, " \t\r\n")])
            lerr(l, -1, NULL, "empty (expected a JSON object)");
        else
            lerr(l, -1, NULL, "invalid JSON at line %d, column %d", line, col);
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        lerr(l, -1, NULL, "top level must be a JSON object, got %s", show(root, buf, sizeof buf));
        goto fail;
    }
    static const char *const root_keys[] = {"version", "description", "targets"};
    const cJSON *d = dup_key(root, root_keys, sizeof root_keys / sizeof root_keys[0]);
    if (d) {
        lerr(l, -1, NULL, "key \"%s\" given twice", d->string);
        goto fail;
    }
    for (const cJSON *c = root->child; c; c = c->next)
        if (strcmp(c->string, "version") && strcmp(c->string, "targets") &&
            strcmp(c->string, "description")) {
            lerr(l, -1, NULL, "unknown key \"%s\" (expected version, description, targets)",
                 c->string);
            goto fail;
        }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!ver) {
        lerr(l, -1, NULL, "\"version\" is missing (expected 1)");
        goto fail;
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1.0) {
        lerr(l, -1, NULL, "\"version\" must be 1, got %s", show(ver, buf, sizeof buf));
        goto fail;
    }
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc && !cJSON_IsString(desc)) {
        lerr(l, -1, NULL, "\"description\" must be a string, got %s", show(desc, buf, sizeof buf));
        goto fail;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "targets");
    if (!arr) {
        lerr(l, -1, NULL, "\"targets\" is missing");
        goto fail;
    }
    if (!cJSON_IsArray(arr)) {
        lerr(l, -1, NULL, "\"targets\" must be an array, got %s", show(arr, buf, sizeof buf));
        goto fail;
    }
    int n = cJSON_GetArraySize(arr);
    if (n == 0) {
        lerr(l, -1, NULL, "\"targets\" is empty");
        goto fail;
    }
    t = calloc((size_t)n, sizeof *t);
    if (!t) {
        lerr(l, -1, NULL, "out of memory");
        goto fail;
    }
    int i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++)
        if (load_target(l, i, c, &t[i], t))
            goto fail;
    cJSON_Delete(root);
    free(text);
    out->n = n;
    out->t = t;
    return 0;
fail:
    free(t);
    cJSON_Delete(root);
    free(text);
    return -1;
}

int bnb_targets_parse(const char *text, size_t len, const char *path, bnb_target_set *out,
                      char *err, size_t cap)
{
    loader l = {.path = path && *path ? path : "(text)", .err = err, .cap = cap};
    bnb_quote(l.path, l.shown);
    out->n = 0;
    out->t = NULL;
    if (err && cap)
        err[0] = '\0';
    if (!text && len) {
        lerr(&l, -1, NULL, "no text given");
        return -1;
    }
    return parse_text(&l, text ? text : "", len, out);
}

int bnb_targets_load(const char *path, bnb_target_set *out, char *err, size_t cap)
{
    loader l = {.path = path ? path : "(null)", .err = err, .cap = cap};
    bnb_quote(l.path, l.shown);
    out->n = 0;
    out->t = NULL;
    if (err && cap)
        err[0] = '\0';
    if (!path || !*path) {
        lerr(&l, -1, NULL, "no path given");
        return -1;
    }
    char *bytes = NULL;
    size_t len = 0;
    if (read_file(&l, &bytes, &len))
        return -1;
    int rc = parse_text(&l, bytes, len, out);
    free(bytes);
    return rc;
}

void bnb_targets_free(bnb_target_set *s)
{
    if (!s)
        return;
    free(s->t);
    s->t = NULL;
    s->n = 0;
}

/* ---- validation against what the suites can produce --------------------------- */

bool bnb_name_listed(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && !strncmp(p, name, n))
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

static bool stat_figure(const char *metric);

/* "a,b,c" as "a, b, c" (or "no metric") into out. */
static void list_metrics(const char *list, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (!list || !*list) {
        snprintf(out, cap, "no metric");
        return;
    }
    for (const char *p = list; *p && len + 3 < cap; p++) {
        if (*p == ',') {
            out[len++] = ',';
            out[len++] = ' ';
        } else {
            out[len++] = *p;
        }
    }
    out[len] = '\0';
}

/* Checks one figure ("case-glob:metric") of target t; `field` names it
 * ("figure", "relative_to"). Returns 0 or -1 with the message in err. */
static int validate_figure(const bnb_target *t, const char *field, const char *figure,
                           const bnb_catalogue *cat, const char *path, char *err, size_t cap)
{
    char qp[BNB_QUOTE_CAP];
    bnb_quote(path, qp);
    char pat[160];
    snprintf(pat, sizeof pat, "%s", figure);
    char *colon = strchr(pat, ':');
    const char *metric = ""; /* no ':' is refused by the loader, not by a set built by hand */
    if (colon) {
        *colon = '\0';
        metric = colon + 1;
    }
    size_t slen = strcspn(pat, "/");
    bool suite_known = strcspn(pat, "*?[") < slen; /* a glob may name any suite */
    const bnb_catalogue_case *first = NULL, *lacking = NULL;
    int nmatch = 0, nhave = 0;
    for (int i = 0; i < cat->n; i++) {
        const bnb_catalogue_case *c = &cat->c[i];
        if (!suite_known && !strncmp(c->name, pat, slen) && c->name[slen] == '/')
            suite_known = true;
        if (fnmatch(pat, c->name, 0) != 0)
            continue;
        nmatch++;
        if (!first)
            first = c;
        if (stat_figure(metric) || !strncmp(metric, "counter.", 8) ||
            bnb_name_listed(metric, c->metrics))
            nhave++;
        else if (!lacking)
            lacking = c;
    }
    char has[512], suites[256];
    if (nmatch == 0) {
        if (!suite_known && t->requires[0])
            return 0; /* the suite of a capability this build lacks */
        if (!suite_known) {
            size_t len = 0;
            suites[0] = '\0';
            for (int i = 0; i < cat->n && len + 2 < sizeof suites; i++) {
                size_t k = strcspn(cat->c[i].name, "/");
                bool dup = false;
                for (int j = 0; j < i && !dup; j++)
                    dup = !strncmp(cat->c[j].name, cat->c[i].name, k) && cat->c[j].name[k] == '/';
                if (dup)
                    continue;
                int w = snprintf(suites + len, sizeof suites - len, "%s%.*s", len ? ", " : "",
                                 (int)k, cat->c[i].name);
                if (w < 0 || (size_t)w >= sizeof suites - len)
                    break;
                len += (size_t)w;
            }
            snprintf(err, cap,
                     "targets file %s: target \"%s\": %s \"%s\" names suite \"%.*s\", which this "
                     "build does not have (known: %s)",
                     qp, t->id, field, figure, (int)slen, pat, suites);
            return -1;
        }
        snprintf(err, cap,
                 "targets file %s: target \"%s\": %s \"%s\" matches no case (bnbench list "
                 "--suite all shows the case names)",
                 qp, t->id, field, figure);
        return -1;
    }
    if (!lacking)
        return 0;
    list_metrics(lacking->metrics, has, sizeof has);
    if (nhave == 0)
        snprintf(err, cap,
                 "targets file %s: target \"%s\": %s \"%s\" matches no metric of the %s (case "
                 "%s has: %s)",
                 qp, t->id, field, figure,
                 lacking->selected ? "selected suites" : "suites (its own is not selected)",
                 lacking->name, has);
    else
        snprintf(err, cap,
                 "targets file %s: target \"%s\": %s \"%s\": case %s, one of the %d it "
                 "matches, cannot produce \"%s\" (it has: %s)",
                 qp, t->id, field, figure, lacking->name, nmatch, metric, has);
    return -1;
}

int bnb_targets_validate(const bnb_target_set *s, const bnb_catalogue *cat, const char *path,
                         char *err, size_t cap)
{
    if (err && cap)
        err[0] = '\0';
    char scratch[8];
    if (!err || !cap) {
        err = scratch;
        cap = sizeof scratch;
    }
    const char *p = path && *path ? path : "(text)";
    for (int i = 0; i < s->n; i++) {
        const bnb_target *t = &s->t[i];
        if (validate_figure(t, "figure", t->figure, cat, p, err, cap) ||
            (t->relative_to[0] &&
             validate_figure(t, "relative_to", t->relative_to, cat, p, err, cap)))
            return -1;
    }
    return 0;
}

/* ---- evaluation ------------------------------------------------------------- */

static const char V_MET[] = "met", V_MISSED[] = "missed", V_NA[] = "not applicable",
                  V_NM[] = "not measured";

/* A figure read from a case: ok with value (and CI when timing-derived), or
 * not, with the verdict that absence implies (not measured / not applicable). */
typedef struct figure_val {
    bool ok;
    double value, ci_lo, ci_hi;
    char unit[16];
    const char *absent; /* V_NM or V_NA when !ok */
    char reason[200];
    char case_name[512];
} figure_val;

static void fv_reason(figure_val *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fv_reason(figure_val *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof f->reason, fmt, ap);
    va_end(ap);
}

static void set_reason(bnb_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(bnb_verdict *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof v->reason, fmt, ap);
    va_end(ap);
}

/* Statistics a figure may name directly ("<case>:median_s"). */
static const struct {
    const char *name;
    size_t off;
    const char *unit;
} stat_figures[] = {
    {"median_s", offsetof(bnb_stats, median), "s"}, {"min_s", offsetof(bnb_stats, min), "s"},
    {"max_s", offsetof(bnb_stats, max), "s"},       {"mean_s", offsetof(bnb_stats, mean), "s"},
    {"stddev_s", offsetof(bnb_stats, stddev), "s"}, {"mad_s", offsetof(bnb_stats, mad), "s"},
    {"p90_s", offsetof(bnb_stats, p90), "s"},       {"p99_s", offsetof(bnb_stats, p99), "s"},
    {"cv", offsetof(bnb_stats, cv), "ratio"},
};

/* True when metric names a timing statistic, which every measured case has. */
static bool stat_figure(const char *metric)
{
    for (size_t i = 0; i < sizeof stat_figures / sizeof stat_figures[0]; i++)
        if (!strcmp(metric, stat_figures[i].name))
            return true;
    return false;
}

/* Reads metric `metric` of case r into f. */
static void case_figure(const bnb_case_result *r, const char *metric, figure_val *f)
{
    f->ok = false;
    f->ci_lo = f->ci_hi = NAN;
    f->value = NAN;
    bnb_case_fullname(r, f->case_name, sizeof f->case_name);
    if (r->status == BNB_CASE_FAILED) {
        f->absent = V_NM;
        fv_reason(f, "case %s failed: %s", f->case_name, r->message);
        return;
    }
    if (r->status == BNB_CASE_SKIPPED) {
        f->absent = V_NA;
        fv_reason(f, "case %s skipped: %s", f->case_name, r->message);
        return;
    }
    const bnb_stats *s = &r->stats;
    bool have_ci = s->n > 0 && isfinite(s->ci_lo) && isfinite(s->ci_hi) && s->median > 0;
    for (size_t i = 0; i < sizeof stat_figures / sizeof stat_figures[0]; i++) {
        if (strcmp(metric, stat_figures[i].name))
            continue;
        if (s->n <= 0) {
            f->absent = V_NM;
            fv_reason(f, "case %s has no samples", f->case_name);
            return;
        }
        f->value = *(const double *)((const char *)s + stat_figures[i].off);
        snprintf(f->unit, sizeof f->unit, "%s", stat_figures[i].unit);
        if (!strcmp(metric, "median_s") && have_ci) {
            f->ci_lo = s->ci_lo;
            f->ci_hi = s->ci_hi;
        }
        f->ok = !isnan(f->value);
        if (!f->ok) {
            f->absent = V_NM;
            fv_reason(f, "case %s: %s is not a number", f->case_name, metric);
        }
        return;
    }
    const bnb_metric *m = bnb_case_metric(r, metric);
    if (!m) {
        f->absent = V_NM;
        fv_reason(f, "case %s has no metric \"%s\"", f->case_name, metric);
        return;
    }
    snprintf(f->unit, sizeof f->unit, "%s", m->unit);
    if (!m->available || isnan(m->value)) {
        f->absent = V_NM;
        fv_reason(f, "%s:%s unavailable: %s", f->case_name, metric,
                  m->reason[0] ? m->reason : "no reason given");
        return;
    }
    f->ok = true;
    f->value = m->value;
    if (have_ci && m->timing == BNB_TIMING_PROP) {
        f->ci_lo = m->value * s->ci_lo / s->median;
        f->ci_hi = m->value * s->ci_hi / s->median;
    } else if (have_ci && m->timing == BNB_TIMING_RATE) {
        f->ci_lo = m->value * s->median / s->ci_hi;
        f->ci_hi = m->value * s->median / s->ci_lo;
    }
}

static bool has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* True when a is worse than b for the comparison op (smaller for >=). */
static bool worse(const char *op, double a, double b)
{
    return op[0] == '>' ? a < b : a > b;
}

/* Looks a figure up among the cases. For a glob, f is the worst measured
 * value of the matching cases (op decides which is worst); *nunmeasured
 * counts matching cases not measured, *first_nm is the first of them. When
 * nothing is measured, f carries the first not-measured case's reason (or,
 * when every match was skipped, the first skip as "not applicable"). */
static void lookup(const char *figure, const char *op, const bnb_case_result *cases, int ncases,
                   figure_val *f, int *nmatch, int *nunmeasured, figure_val *first_nm)
{
    char pat[160];
    snprintf(pat, sizeof pat, "%s", figure);
    char *colon = strchr(pat, ':');
    const char *metric = colon ? colon + 1 : "";
    if (colon)
        *colon = '\0';
    bool glob = has_glob(pat);
    figure_val first_na;
    memset(f, 0, sizeof *f);
    memset(&first_na, 0, sizeof first_na);
    f->value = f->ci_lo = f->ci_hi = NAN;
    *nmatch = 0;
    *nunmeasured = 0;
    char full[512];
    for (int i = 0; i < ncases; i++) {
        bnb_case_fullname(&cases[i], full, sizeof full);
        if (glob ? fnmatch(pat, full, 0) != 0 : strcmp(pat, full) != 0)
            continue;
        figure_val g;
        memset(&g, 0, sizeof g);
        case_figure(&cases[i], metric, &g);
        (*nmatch)++;
        if (g.ok) {
            if (!f->ok || worse(op, g.value, f->value))
                *f = g;
        } else if (g.absent == V_NM) {
            if ((*nunmeasured)++ == 0)
                *first_nm = g;
        } else if (!first_na.absent) {
            first_na = g;
        }
    }
    if (*nmatch == 0) {
        f->absent = V_NM;
        fv_reason(f, "no case %s in this run", pat);
    } else if (!f->ok) {
        *f = *nunmeasured > 0 ? *first_nm : first_na;
    }
}

static void eval_one(const bnb_target *t, const bnb_case_result *cases, int ncases,
                     bnb_capability_fn has_cap, bnb_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->target = t;
    v->measured = v->ci_lo = v->ci_hi = v->bound = NAN;
    if (t->requires[0] && !(has_cap && has_cap(t->requires))) {
        snprintf(v->verdict, sizeof v->verdict, "%s", V_NA);
        set_reason(v, "requires %s, which this machine does not have", t->requires);
        return;
    }
    figure_val f, absent;
    int nmatch = 0, nun = 0;
    memset(&absent, 0, sizeof absent);
    lookup(t->figure, t->op, cases, ncases, &f, &nmatch, &nun, &absent);
    if (f.ok) {
        v->measured = f.value;
        v->measured_ok = true;
        v->ci_lo = f.ci_lo;
        v->ci_hi = f.ci_hi;
    }
    v->bound = t->threshold;
    char refdesc[200] = "";
    if (t->relative_to[0]) {
        figure_val r, rabsent;
        int rn = 0, run = 0;
        memset(&rabsent, 0, sizeof rabsent);
        lookup(t->relative_to, t->op, cases, ncases, &r, &rn, &run, &rabsent);
        if (!r.ok) {
            v->bound = NAN;
            snprintf(v->verdict, sizeof v->verdict, "%s", r.absent);
            set_reason(v, "reference figure %s: %s", t->relative_to, r.reason);
            return;
        }
        v->bound = t->threshold * r.value;
        snprintf(refdesc, sizeof refdesc, " (%g x %s %g)", t->threshold, t->relative_to, r.value);
    }
    if (!f.ok) {
        snprintf(v->verdict, sizeof v->verdict, "%s", f.absent);
        set_reason(v, "%s", f.reason);
        return;
    }
    bool met = t->op[0] == '>' ? f.value >= v->bound : f.value <= v->bound;
    if (met && nun > 0) {
        /* A glob whose measured cases all meet it, but some were not measured. */
        snprintf(v->verdict, sizeof v->verdict, "%s", V_NM);
        set_reason(v, "%d of %d matching cases not measured; first: %s", nun, nmatch,
                   absent.reason);
        return;
    }
    snprintf(v->verdict, sizeof v->verdict, "%s", met ? V_MET : V_MISSED);
    char ci[96] = "";
    if (isfinite(f.ci_lo) && isfinite(f.ci_hi) && f.ci_lo <= v->bound && v->bound <= f.ci_hi)
        snprintf(ci, sizeof ci, "; its 95%% CI [%.4g, %.4g] straddles the bound", f.ci_lo, f.ci_hi);
    set_reason(v, "%s%s = %.4g %s; needs %s %.4g%s%s", nmatch > 1 ? "worst case " : "", f.case_name,
               f.value, f.unit, t->op, v->bound, refdesc, ci);
}

void bnb_targets_eval(const bnb_target_set *s, const bnb_case_result *cases, int ncases,
                      bnb_capability_fn has_cap, bnb_verdict *out)
{
    for (int i = 0; i < s->n; i++)
        eval_one(&s->t[i], cases, ncases, has_cap, &out[i]);
}
