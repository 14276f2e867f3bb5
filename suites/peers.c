/*
 * peers.c - figures across cases of one run: looking up a case measured
 * earlier (for figures relative to another, like % of the triad bandwidth),
 * and the side-by-side tables of suites that compare implementations
 * (engine vs OpenBLAS, pool vs glibc/mimalloc/jemalloc; suite.h `peers`).
 *
 * A side-by-side table is built from case names alone: the first component
 * of a case's name is its peer ("pool" in alloc/pool/size=64), the rest of
 * the full name is its row ("size=64"), so every stored run can be shown
 * this way again (bnbench show) without the suite's code in the loop.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"
#include "suites/suite.h"

const bnb_case_result *bnb_env_case(const bnb_case_env *env, const char *fullname)
{
    if (!env || !env->done)
        return NULL;
    char full[BNB_NAME_MAX + 160];
    for (int i = 0; i < env->ndone; i++) {
        const bnb_case_result *r = &env->done[i];
        if (r->status != BNB_CASE_OK)
            continue;
        bnb_case_fullname(r, full, sizeof full);
        if (strcmp(full, fullname) == 0)
            return r;
    }
    return NULL;
}

const bnb_metric *bnb_env_metric(const bnb_case_env *env, const char *fullname, const char *metric)
{
    const bnb_case_result *r = bnb_env_case(env, fullname);
    const bnb_metric *m = r ? bnb_case_metric(r, metric) : NULL;
    return m && m->available ? m : NULL;
}

#define PEER_MAX 8
#define ROW_MAX  256

/* The peer index of a case of suite s (-1 when its first name component is
 * not one of s->peers), and in *row the full name less suite and peer. */
static int peer_of(const bnb_suite *s, const bnb_case_result *r, char *row, size_t cap)
{
    char full[BNB_NAME_MAX + 160];
    bnb_case_fullname(r, full, sizeof full);
    const char *name = full + strlen(r->suite) + 1; /* "pool/size=64" */
    size_t plen = strcspn(name, "/");
    int idx = 0;
    for (const char *p = s->peers; *p; idx++) {
        size_t len = strcspn(p, ",");
        if (len == plen && strncmp(p, name, len) == 0) {
            snprintf(row, cap, "%s", name[plen] ? name + plen + 1 : "-");
            return idx < PEER_MAX ? idx : -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return -1;
}

static void cell(const bnb_case_result *r, const char *metrics, char *buf, size_t cap)
{
    if (!r) {
        snprintf(buf, cap, "-");
        return;
    }
    if (r->status != BNB_CASE_OK) {
        snprintf(buf, cap, "%s", r->status == BNB_CASE_SKIPPED ? "skipped" : "FAILED");
        return;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (const char *p = metrics; *p;) {
        size_t n = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        const bnb_metric *m = bnb_case_metric(r, name);
        int w = m && m->available
                    ? snprintf(buf + len, cap - len, "%s%.4g", len ? " / " : "", m->value)
                    : snprintf(buf + len, cap - len, "%s-", len ? " / " : "");
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
        p += n;
        if (*p == ',')
            p++;
    }
}

static void print_suite(FILE *f, const bnb_suite *s, const bnb_case_result *cases, int ncases)
{
    const char *peer[PEER_MAX];
    int npeer = 0;
    char names[PEER_MAX][32];
    for (const char *p = s->peers; *p && npeer < PEER_MAX;) {
        size_t len = strcspn(p, ",");
        snprintf(names[npeer], sizeof names[npeer], "%.*s", (int)len, p);
        peer[npeer] = names[npeer];
        npeer++;
        p += len;
        if (*p == ',')
            p++;
    }
    /* rows in first-seen order; each row holds one case per peer */
    char(*rows)[64] = calloc(ROW_MAX, sizeof *rows);
    const bnb_case_result *(*grid)[PEER_MAX] = calloc(ROW_MAX, sizeof *grid);
    int nrows = 0;
    if (!rows || !grid)
        goto cleanup;
    for (int i = 0; i < ncases; i++) {
        if (strcmp(cases[i].suite, s->name) != 0)
            continue;
        char row[64];
        int k = peer_of(s, &cases[i], row, sizeof row);
        if (k < 0)
            continue;
        int j = 0;
        while (j < nrows && strcmp(rows[j], row) != 0)
            j++;
        if (j == nrows) {
            if (nrows == ROW_MAX)
                continue;
            snprintf(rows[nrows++], sizeof rows[0], "%s", row);
        }
        grid[j][k] = &cases[i];
    }
    if (nrows == 0)
        goto cleanup;
    fprintf(f, "\nside by side: %s (%s)\n%-36s", s->name, s->peer_metrics, "case");
    for (int k = 0; k < npeer; k++)
        fprintf(f, " %22s", peer[k]);
    fputc('\n', f);
    for (int j = 0; j < nrows; j++) {
        char safe[160];
        fprintf(f, "%-36s", bnb_term_safe(rows[j], safe, sizeof safe));
        for (int k = 0; k < npeer; k++) {
            char c[64];
            cell(grid[j][k], s->peer_metrics, c, sizeof c);
            fprintf(f, " %22s", c);
        }
        fputc('\n', f);
    }
    /* why a peer was skipped, once per peer */
    for (int k = 0; k < npeer; k++)
        for (int j = 0; j < nrows; j++)
            if (grid[j][k] && grid[j][k]->status != BNB_CASE_OK) {
                char safe[4 * sizeof grid[j][k]->message]; /* a stored message: escaped */
                fprintf(f, "  %s %s: %s\n", peer[k],
                        grid[j][k]->status == BNB_CASE_SKIPPED ? "skipped" : "failed",
                        bnb_term_safe(grid[j][k]->message, safe, sizeof safe));
                break;
            }
cleanup:
    free(rows);
    free(grid);
}

void bnb_print_peers(FILE *f, const bnb_case_result *cases, int ncases)
{
    int n;
    const bnb_suite *const *all = bnb_suites(&n);
    for (int i = 0; i < n; i++) {
        const bnb_suite *s = all[i];
        if (!s->peers || !s->peer_metrics)
            continue;
        print_suite(f, s, cases, ncases);
    }
}
