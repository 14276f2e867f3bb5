/*
 * batchcmp.c - the ranks of a batch side by side (contract: batchcmp.h):
 * loading the batch and its runs, lining the cases up, and the compare
 * outputs (text, md, json).
 *
 * Each rank is compared with the reference through compare.h's
 * bnb_compare_case, so a batch's verdicts follow exactly the rule (and the
 * U test of db/model/stats.h) that `bnbench compare A B` applies.
 */
#include "reports/batchcmp.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/fmt.h"
#include "db/model/text.h"

const char *bnb_bcell_state_str(bnb_bcell_state s)
{
    switch (s) {
    case BNB_BCELL_OK:
        return "ok";
    case BNB_BCELL_NOT_MEASURED:
        return "not measured";
    case BNB_BCELL_SKIPPED:
        return "skipped";
    case BNB_BCELL_FAILED:
        return "failed";
    case BNB_BCELL_LOST:
        return "lost";
    }
    return "?";
}

void bnb_batch_cmp_free(bnb_batch_cmp *c)
{
    for (int i = 0; c->col && i < c->nranks; i++)
        bnb_db_free_cases(c->col[i].cases, c->col[i].ncases);
    for (int i = 0; c->cases && i < c->ncases; i++)
        free(c->cases[i].cell);
    free(c->cases);
    free(c->col);
    free(c->ranks);
    memset(c, 0, sizeof *c);
}

/* The CPU model of a machine description ("" when absent or not JSON). */
static void cpu_model(const char *machine_json, char *out, size_t cap)
{
    out[0] = '\0';
    cJSON *j = machine_json ? cJSON_Parse(machine_json) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "cpu_model");
    if (cJSON_IsString(m))
        snprintf(out, cap, "%s", m->valuestring);
    cJSON_Delete(j);
}

/* The index of the case named key in col, or -1. */
static int find_case(const bnb_bcol *col, const char *key)
{
    char name[BNB_NAME_MAX + 160];
    for (int i = 0; i < col->ncases; i++)
        if (!strcmp(bnb_case_fullname(&col->cases[i], name, sizeof name), key))
            return i;
    return -1;
}

/* Adds the case key (suite) unless present; -1 when out of memory. */
static int add_key(bnb_batch_cmp *c, int *cap, const bnb_case_result *r)
{
    char key[BNB_NAME_MAX + 160];
    bnb_case_fullname(r, key, sizeof key);
    for (int i = 0; i < c->ncases; i++)
        if (!strcmp(c->cases[i].key, key))
            return 0;
    if (c->ncases == *cap) {
        int ncap = *cap ? *cap * 2 : 32;
        bnb_bcase *v = realloc(c->cases, (size_t)ncap * sizeof *v);
        if (!v)
            return -1;
        c->cases = v;
        *cap = ncap;
    }
    bnb_bcase *k = &c->cases[c->ncases];
    memset(k, 0, sizeof *k);
    snprintf(k->key, sizeof k->key, "%s", key);
    snprintf(k->suite, sizeof k->suite, "%s", r->suite);
    if (!(k->cell = calloc((size_t)c->nranks, sizeof *k->cell)))
        return -1;
    c->ncases++;
    return 0;
}

/* Fills one case's cells, ratios, verdicts and winner. */
static void compare_case(bnb_batch_cmp *c, bnb_bcase *k)
{
    for (int r = 0; r < c->nranks; r++) {
        bnb_bcell *e = &k->cell[r];
        e->median = e->ci_lo = e->ci_hi = e->ratio = e->p = NAN;
        e->verdict = BNB_CMP_NOT_COMPARABLE;
        if (!c->ranks[r].run_id) {
            e->state = BNB_BCELL_LOST;
            continue;
        }
        int i = find_case(&c->col[r], k->key);
        if (i < 0) {
            e->state = BNB_BCELL_NOT_MEASURED;
            continue;
        }
        e->c = &c->col[r].cases[i];
        e->state = e->c->status == BNB_CASE_SKIPPED  ? BNB_BCELL_SKIPPED
                   : e->c->status == BNB_CASE_FAILED ? BNB_BCELL_FAILED
                   : e->c->nsamples > 0              ? BNB_BCELL_OK
                                                     : BNB_BCELL_NOT_MEASURED;
        if (e->state != BNB_BCELL_OK)
            continue;
        e->n = e->c->nsamples;
        e->median = e->c->stats.median;
        e->ci_lo = e->c->stats.ci_lo;
        e->ci_hi = e->c->stats.ci_hi;
    }
    const bnb_bcell *ref = c->ref >= 0 ? &k->cell[c->ref] : NULL;
    for (int r = 0; r < c->nranks; r++) {
        bnb_bcell *e = &k->cell[r];
        if (e->state != BNB_BCELL_OK || !ref || ref->state != BNB_BCELL_OK)
            continue;
        if (r == c->ref) {
            e->ratio = 1.0;
            e->verdict = BNB_CMP_SAME;
            continue;
        }
        bnb_cmp_row row;
        bnb_compare_case(ref->c, e->c, &c->opts, &row);
        e->ratio = row.ratio;
        e->p = row.p;
        e->verdict = row.verdict;
    }
    k->winner = -1;
    for (int r = 0; r < c->nranks; r++)
        if (k->cell[r].state == BNB_BCELL_OK && isfinite(k->cell[r].median) &&
            (k->winner < 0 || k->cell[r].median < k->cell[k->winner].median))
            k->winner = r;
    k->ntied = 0;
    if (k->winner < 0)
        return;
    const bnb_bcell *w = &k->cell[k->winner];
    k->cell[k->winner].best = true;
    for (int r = 0; r < c->nranks; r++) {
        bnb_bcell *e = &k->cell[r];
        if (r == k->winner || e->state != BNB_BCELL_OK)
            continue;
        /* intervals [lo, hi] overlap when neither lies wholly above the other */
        if (e->ci_lo <= w->ci_hi && w->ci_lo <= e->ci_hi) {
            e->best = true;
            k->ntied++;
        }
    }
    if (k->ntied == 0)
        c->col[k->winner].wins++;
}

int bnb_batch_cmp_load(bnb_db *db, int64_t batch_id, const bnb_cmp_opts *o, bnb_batch_cmp *c,
                       char *err, size_t cap)
{
    char e[BNB_ERR_MAX];
    memset(c, 0, sizeof *c);
    c->ref = -1;
    c->opts.threshold = o && o->threshold > 0 ? o->threshold : BNB_CMP_THRESHOLD;
    c->opts.alpha = o && o->alpha > 0 ? o->alpha : BNB_CMP_ALPHA;
    if (bnb_db_get_batch(db, batch_id, &c->row, &c->ranks, &c->nranks, e))
        goto fail;
    if (!(c->col = calloc((size_t)c->nranks, sizeof *c->col))) {
        snprintf(e, sizeof e, "out of memory");
        goto fail;
    }
    for (int r = 0; r < c->nranks; r++) {
        if (!c->ranks[r].run_id)
            continue;
        bnb_run_info ri;
        bnb_run_status st;
        if (bnb_db_load_run(db, c->ranks[r].run_id, &ri, &st, e))
            goto fail;
        snprintf(c->col[r].machine, sizeof c->col[r].machine, "%s", ri.machine_name);
        snprintf(c->col[r].run_status, sizeof c->col[r].run_status, "%s", bnb_run_status_str(st));
        cpu_model(ri.machine_json, c->col[r].cpu, sizeof c->col[r].cpu);
        bnb_run_info_free(&ri);
        if (bnb_db_load_cases(db, c->ranks[r].run_id, &c->col[r].cases, &c->col[r].ncases, e))
            goto fail;
        if (c->ref < 0)
            c->ref = r;
    }
    /* rows: the reference's cases in its order, then each rank's new ones */
    int kcap = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < c->nranks; r++) {
            if ((pass == 0) != (r == c->ref))
                continue;
            for (int i = 0; i < c->col[r].ncases; i++)
                if (add_key(c, &kcap, &c->col[r].cases[i])) {
                    snprintf(e, sizeof e, "out of memory");
                    goto fail;
                }
        }
    for (int i = 0; i < c->ncases; i++)
        compare_case(c, &c->cases[i]);
    return 0;
fail:
    snprintf(err, cap, "%s", e);
    return -1;
}

void bnb_batch_winner_text(const bnb_batch_cmp *c, const bnb_bcase *k, char *buf, size_t cap)
{
    if (k->winner < 0) {
        snprintf(buf, cap, "-");
        return;
    }
    if (k->ntied == 0) {
        snprintf(buf, cap, "rank %d", k->winner);
        return;
    }
    size_t n = (size_t)snprintf(buf, cap, "tie:");
    bool first = true;
    for (int r = 0; r < c->nranks && n < cap; r++)
        if (k->cell[r].best) {
            n += (size_t)snprintf(buf + n, cap - n, "%s rank %d", first ? "" : ",", r);
            first = false;
        }
}

/* The short verdict of a cell against the reference. */
static const char *mark(const bnb_batch_cmp *c, int r, const bnb_bcell *e)
{
    if (r == c->ref)
        return "ref";
    switch (e->verdict) {
    case BNB_CMP_FASTER:
        return "faster";
    case BNB_CMP_SLOWER:
        return "slower";
    case BNB_CMP_SAME:
        return "same";
    case BNB_CMP_INSUFFICIENT:
        return "few samples";
    case BNB_CMP_NOT_COMPARABLE:
        break;
    }
    return "-";
}

/* The cell's words: "1.23 ms x1.050 slower", or its state. */
static void cell_text(const bnb_batch_cmp *c, int r, const bnb_bcell *e, char *buf, size_t cap)
{
    if (e->state != BNB_BCELL_OK) {
        snprintf(buf, cap, "%s", bnb_bcell_state_str(e->state));
        return;
    }
    char med[32], ra[32];
    bnb_fmt_seconds(e->median, med, sizeof med);
    if (r == c->ref || !isfinite(e->ratio))
        snprintf(buf, cap, "%s%s", med, r == c->ref ? " (ref)" : "");
    else
        snprintf(buf, cap, "%s x%s %s", med, bnb_fmt_num(e->ratio, "%.3f", ra, sizeof ra),
                 mark(c, r, e));
}

/* The rules in one paragraph (text and md). */
static void write_rules(FILE *f, const bnb_batch_cmp *c)
{
    if (c->ref < 0) {
        fprintf(f, "No rank's run reached rank 0: nothing to compare.\n");
        return;
    }
    fprintf(f,
            "Cells: median time per iteration, then xR = median / median of rank %d (the\n"
            "reference%s; < 1 is faster) and the verdict against it:\n"
            "faster / slower only when the Mann-Whitney U test gives p < %g and the medians\n"
            "differ by more than %.0f%%, else same (\"few samples\": too few samples to reach\n"
            "p < %g). Winner: the lowest median; a tie when another rank's 95%% CI of the\n"
            "median overlaps the winner's.\n",
            c->ref, c->ref == 0 ? ", the rank that stored the batch" : ": rank 0 has no run",
            c->opts.alpha, 100 * c->opts.threshold, c->opts.alpha);
}

/* The batch in one line, then one line per lost or failed rank. */
static void write_head(FILE *f, const bnb_batch_cmp *c)
{
    char t[4][256];
    fprintf(f, "batch %lld  uuid %s  status %s  ranks %d/%d stored  hosts %d  suites %s\n",
            (long long)c->row.id, bnb_term_safe(c->row.uuid, t[0], sizeof t[0]),
            bnb_term_safe(c->row.status, t[1], sizeof t[1]), c->row.nstored, c->row.nranks,
            c->row.nhosts,
            c->row.suites[0] ? bnb_term_safe(c->row.suites, t[2], sizeof t[2]) : "default");
    if (c->row.status_reason[0])
        fprintf(f, "  status: %s\n", bnb_term_safe(c->row.status_reason, t[0], sizeof t[0]));
    for (int r = 0; r < c->nranks; r++) {
        const bnb_batch_rank *k = &c->ranks[r];
        fprintf(f, "  rank %d: host %s, cpus %s, ", r, bnb_term_safe(k->host, t[0], sizeof t[0]),
                k->cpus[0] ? bnb_term_safe(k->cpus, t[1], sizeof t[1]) : "unbound");
        if (k->run_id)
            fprintf(f, "machine %s, run %lld (%s)", bnb_term_safe(c->col[r].machine, t[2], 64),
                    (long long)k->run_id, c->col[r].run_status);
        else
            fprintf(f, "no run");
        if (strcmp(k->state, "stored"))
            fprintf(f, ": %s: %s", bnb_term_safe(k->state, t[3], sizeof t[3]),
                    k->reason[0] ? bnb_term_safe(k->reason, t[0], sizeof t[0]) : "no reason");
        fputc('\n', f);
    }
}

#define TEXT_CASE_W 40
#define TEXT_COL_W  30

void bnb_batch_write_text(FILE *f, const bnb_batch_cmp *c)
{
    write_head(f, c);
    fputc('\n', f);
    write_rules(f, c);
    fputc('\n', f);
    char t[3][256];
    /* three header lines: rank, host, machine (or lost) */
    for (int line = 0; line < 3; line++) {
        fprintf(f, "%-*s", TEXT_CASE_W, line == 0 ? "case" : "");
        for (int r = 0; r < c->nranks; r++) {
            char h[256];
            if (line == 0)
                snprintf(h, sizeof h, "rank %d", r);
            else if (line == 1)
                snprintf(h, sizeof h, "%s", bnb_term_safe(c->ranks[r].host, t[0], sizeof t[0]));
            else if (c->ranks[r].run_id)
                snprintf(h, sizeof h, "%s", bnb_term_safe(c->col[r].machine, t[0], 64));
            else
                snprintf(h, sizeof h, "lost: %s",
                         bnb_term_safe(c->ranks[r].reason, t[0], sizeof t[0]));
            fprintf(f, "  %-*.*s", TEXT_COL_W, TEXT_COL_W, h);
        }
        fprintf(f, "  %s\n", line == 0 ? "winner" : "");
    }
    for (int i = 0; i < c->ncases; i++) {
        const bnb_bcase *k = &c->cases[i];
        char cell[96], w[160];
        fprintf(f, "%-*s", TEXT_CASE_W, bnb_term_safe(k->key, t[0], sizeof t[0]));
        for (int r = 0; r < c->nranks; r++) {
            cell_text(c, r, &k->cell[r], cell, sizeof cell);
            fprintf(f, "  %-*s", TEXT_COL_W, cell);
        }
        bnb_batch_winner_text(c, k, w, sizeof w);
        fprintf(f, "  %s\n", w);
    }
    if (c->ncases == 0)
        fprintf(f, "(no cases stored in any rank's run)\n");
}

static void md_cell(FILE *f, const char *s)
{
    bnb_md_fputs(s, "|*_<`[", f);
}

void bnb_batch_write_md(FILE *f, const bnb_batch_cmp *c)
{
    fputs("```\n", f);
    write_head(f, c);
    fputs("```\n\n", f);
    write_rules(f, c);
    fputs("\n| case |", f);
    for (int r = 0; r < c->nranks; r++) {
        fprintf(f, " rank %d: ", r);
        md_cell(f, c->ranks[r].host);
        fputs(", ", f);
        if (c->ranks[r].run_id) {
            md_cell(f, c->col[r].machine);
        } else {
            fputs("lost: ", f);
            md_cell(f, c->ranks[r].reason);
        }
        fputs(" |", f);
    }
    fputs(" winner |\n|---|", f);
    for (int r = 0; r < c->nranks; r++)
        fputs("---:|", f);
    fputs("---|\n", f);
    for (int i = 0; i < c->ncases; i++) {
        const bnb_bcase *k = &c->cases[i];
        char cell[96], w[160];
        fputs("| `", f);
        md_cell(f, k->key);
        fputs("` |", f);
        for (int r = 0; r < c->nranks; r++) {
            cell_text(c, r, &k->cell[r], cell, sizeof cell);
            fprintf(f, " %s%s%s |", k->cell[r].best ? "**" : "", cell, k->cell[r].best ? "**" : "");
        }
        bnb_batch_winner_text(c, k, w, sizeof w);
        fprintf(f, " %s |\n", w);
    }
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *bnb_batch_json_tree(const bnb_batch_cmp *c)
{
    cJSON *root = cJSON_CreateObject(), *b = NULL, *ranks = NULL, *cases = NULL;
    bool ok = root && cJSON_AddStringToObject(root, "schema", "bnbench.batch_compare") &&
              cJSON_AddNumberToObject(root, "schema_version", BNB_BATCHCMP_SCHEMA_VERSION) &&
              (b = cJSON_AddObjectToObject(root, "batch")) &&
              cJSON_AddNumberToObject(b, "id", (double)c->row.id) &&
              cJSON_AddStringToObject(b, "uuid", c->row.uuid) &&
              cJSON_AddStringToObject(b, "status", c->row.status) &&
              cJSON_AddStringToObject(b, "status_reason", c->row.status_reason) &&
              cJSON_AddStringToObject(b, "started_at", c->row.started_at) &&
              (c->row.finished_at[0]
                   ? cJSON_AddStringToObject(b, "finished_at", c->row.finished_at) != NULL
                   : cJSON_AddNullToObject(b, "finished_at") != NULL) &&
              cJSON_AddStringToObject(b, "suites", c->row.suites) &&
              cJSON_AddNumberToObject(b, "nranks", c->row.nranks) &&
              cJSON_AddNumberToObject(b, "nstored", c->row.nstored) &&
              cJSON_AddNumberToObject(b, "nhosts", c->row.nhosts) &&
              (c->ref >= 0 ? cJSON_AddNumberToObject(root, "reference_rank", c->ref) != NULL
                           : cJSON_AddNullToObject(root, "reference_rank") != NULL) &&
              cJSON_AddNumberToObject(root, "alpha", c->opts.alpha) &&
              cJSON_AddNumberToObject(root, "threshold", c->opts.threshold) &&
              cJSON_AddStringToObject(root, "ratio_rule",
                                      "median of the rank / median of the reference rank "
                                      "(time; < 1 is faster)") &&
              cJSON_AddStringToObject(root, "winner_rule",
                                      "lowest median; a tie when another rank's bootstrap 95% "
                                      "CI of the median overlaps the winner's") &&
              (ranks = cJSON_AddArrayToObject(root, "ranks")) &&
              (cases = cJSON_AddArrayToObject(root, "cases"));
    for (int r = 0; ok && r < c->nranks; r++) {
        const bnb_batch_rank *k = &c->ranks[r];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(ranks, o) && cJSON_AddNumberToObject(o, "rank", r) &&
             cJSON_AddStringToObject(o, "host", k->host) &&
             cJSON_AddStringToObject(o, "cpus", k->cpus) &&
             cJSON_AddStringToObject(o, "state", k->state) &&
             cJSON_AddStringToObject(o, "reason", k->reason) &&
             (k->run_id ? cJSON_AddNumberToObject(o, "run_id", (double)k->run_id) != NULL
                        : cJSON_AddNullToObject(o, "run_id") != NULL) &&
             cJSON_AddStringToObject(o, "machine", c->col[r].machine) &&
             cJSON_AddStringToObject(o, "cpu_model", c->col[r].cpu) &&
             cJSON_AddStringToObject(o, "run_status", c->col[r].run_status) &&
             cJSON_AddNumberToObject(o, "wins", c->col[r].wins);
    }
    for (int i = 0; ok && i < c->ncases; i++) {
        const bnb_bcase *k = &c->cases[i];
        cJSON *o = cJSON_CreateObject(), *cells = NULL, *tied = NULL;
        ok = o && cJSON_AddItemToArray(cases, o) && cJSON_AddStringToObject(o, "case", k->key) &&
             cJSON_AddStringToObject(o, "suite", k->suite) &&
             (k->winner >= 0 ? cJSON_AddNumberToObject(o, "winner", k->winner) != NULL
                             : cJSON_AddNullToObject(o, "winner") != NULL) &&
             (tied = cJSON_AddArrayToObject(o, "tied")) &&
             (cells = cJSON_AddArrayToObject(o, "cells"));
        for (int r = 0; ok && r < c->nranks; r++) {
            const bnb_bcell *e = &k->cell[r];
            cJSON *x = cJSON_CreateObject();
            ok = x && cJSON_AddItemToArray(cells, x) && cJSON_AddNumberToObject(x, "rank", r) &&
                 cJSON_AddStringToObject(x, "state", bnb_bcell_state_str(e->state)) &&
                 cJSON_AddNumberToObject(x, "n", e->n);
            if (ok && e->c && e->state != BNB_BCELL_OK)
                ok = cJSON_AddStringToObject(x, "message", e->c->message) != NULL;
            if (ok) {
                add_num(x, "median_s", e->median);
                add_num(x, "ci_lo_s", e->ci_lo);
                add_num(x, "ci_hi_s", e->ci_hi);
                add_num(x, "ratio", e->ratio);
                add_num(x, "p", e->p);
                ok = cJSON_AddStringToObject(x, "verdict",
                                             r == c->ref && e->state == BNB_BCELL_OK
                                                 ? "reference"
                                                 : bnb_cmp_verdict_str(e->verdict)) &&
                     cJSON_AddBoolToObject(x, "best", e->best);
            }
            if (ok && e->best && r != k->winner) {
                cJSON *n = cJSON_CreateNumber(r);
                ok = n && cJSON_AddItemToArray(tied, n);
            }
        }
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
