/*
 * batch_report.c - the hardware-comparison report of a batch (contract:
 * batchcmp.h, bnb_batch_report_render): one column per machine (rank), a
 * winner per case, the lost and failed ranks with their reasons.
 *
 * Markdown and HTML are written once against the readiness report's syntax
 * (report_sections.h: the same headings, tables and escaping as a run's
 * report); HTML adds one inline-SVG bar chart per rank (svg.h: the median
 * change of every case against the reference rank) and the same inline
 * style sheet, so the page stays self-contained. JSON is compare --batch's
 * document (bnb_batch_json_tree).
 */
#include "reports/batchcmp.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/fmt.h"
#include "db/model/text.h"
#include "reports/report_sections.h"
#include "reports/svg.h"

#define CELL_MAX 320

/* The column header of rank r: "rank 1: host-b, machine-b (CPU)" or
 * "rank 2: host-c, lost: <reason>". */
static void col_head(const bnb_batch_cmp *c, int r, char *buf, size_t cap)
{
    const bnb_batch_rank *k = &c->ranks[r];
    if (!k->run_id)
        snprintf(buf, cap, "rank %d: %s, lost: %s", r, k->host,
                 k->reason[0] ? k->reason : "no reason");
    else
        snprintf(buf, cap, "rank %d: %s, %s", r, k->host, c->col[r].machine);
}

/* A case cell: median and CI, then the ratio to the reference with its
 * verdict and U-test p; the state when not measured. */
static void cell_words(const bnb_batch_cmp *c, int r, const bnb_bcell *e, char *buf, size_t cap)
{
    if (e->state != BNB_BCELL_OK) {
        snprintf(buf, cap, "%s", bnb_bcell_state_str(e->state));
        return;
    }
    char med[32], lo[32], hi[32], ra[32], p[32];
    int n = snprintf(buf, cap, "%s [%s, %s]", bnb_fmt_seconds(e->median, med, sizeof med),
                     bnb_fmt_seconds(e->ci_lo, lo, sizeof lo),
                     bnb_fmt_seconds(e->ci_hi, hi, sizeof hi));
    if (n < 0 || (size_t)n >= cap)
        return;
    if (r == c->ref)
        snprintf(buf + n, cap - (size_t)n, ", reference");
    else if (isfinite(e->ratio))
        snprintf(buf + n, cap - (size_t)n, ", x%s %s (p %s)",
                 bnb_fmt_num(e->ratio, "%.3f", ra, sizeof ra), bnb_cmp_verdict_str(e->verdict),
                 bnb_fmt_num(e->p, "%.2g", p, sizeof p));
}

/* Writes the sections; charts only when html. 0, or -1 when out of memory
 * (the document is then incomplete). */
static int write_doc(FILE *f, const bnb_batch_cmp *c, const report_syntax *syn, bool html)
{
    char t[1024];
    const bnb_batch_row *b = &c->row;
    bool oom = false;
    snprintf(t, sizeof t, "Hardware comparison: batch %lld (%d ranks on %d hosts)",
             (long long)b->id, b->nranks, b->nhosts);
    syn->heading(f, 1, "title", t);
    snprintf(t, sizeof t,
             "Batch %s, status %s%s%s; started %s, finished %s; suites: %s; %d of %d ranks "
             "stored a run.",
             b->uuid, b->status, b->status_reason[0] ? ": " : "", b->status_reason, b->started_at,
             b->finished_at[0] ? b->finished_at : "not yet", b->suites[0] ? b->suites : "default",
             b->nstored, b->nranks);
    syn->para(f, t);

    syn->heading(f, 2, "machines", "Machines and CPU bindings");
    {
        static const char align[] = "lllllll";
        const char *head[] = {"rank", "host", "CPUs bound", "machine", "CPU model", "run", "state"};
        syn->thead(f, align, 7, head);
        for (int r = 0; r < c->nranks; r++) {
            const bnb_batch_rank *k = &c->ranks[r];
            char rank[16], run[64], state[640];
            snprintf(rank, sizeof rank, "%d", r);
            if (k->run_id)
                snprintf(run, sizeof run, "%lld (%s)", (long long)k->run_id, c->col[r].run_status);
            else
                snprintf(run, sizeof run, "-");
            snprintf(state, sizeof state, "%s%s%s", k->state, k->reason[0] ? ": " : "", k->reason);
            const char *row[] = {rank,
                                 k->host,
                                 k->cpus[0] ? k->cpus : "unbound",
                                 k->run_id ? c->col[r].machine : "-",
                                 c->col[r].cpu[0] ? c->col[r].cpu : "-",
                                 run,
                                 state};
            syn->trow(f, align, 7, row);
        }
        fputs(syn->table_end, f);
    }

    syn->heading(f, 2, "lost", "Lost and failed ranks");
    strlist l = {0};
    for (int r = 0; r < c->nranks; r++) {
        const bnb_batch_rank *k = &c->ranks[r];
        if (strcmp(k->state, "stored"))
            report__list_add(&l, "rank %d (host %s): %s: %s", r, k->host, k->state,
                             k->reason[0] ? k->reason : "no reason stored");
    }
    oom |= l.oom;
    if (l.n)
        syn->list(f, &l);
    else
        syn->para(f, "None: every rank's run reached rank 0 and was stored.");
    report__list_free(&l);

    syn->heading(f, 2, "winners", "Winners");
    if (c->ref < 0) {
        syn->para(f, "No rank's run was stored: there is nothing to compare.");
    } else {
        int ties = 0, none = 0;
        for (int i = 0; i < c->ncases; i++) {
            ties += c->cases[i].winner >= 0 && c->cases[i].ntied > 0;
            none += c->cases[i].winner < 0;
        }
        for (int r = 0; r < c->nranks; r++) {
            if (!c->ranks[r].run_id)
                continue; /* listed under the lost ranks */
            char h[600];
            col_head(c, r, h, sizeof h);
            report__list_add(&l, "%s: fastest in %d of %d cases", h, c->col[r].wins, c->ncases);
        }
        report__list_add(&l, "tied (CIs overlap): %d cases; measured by no rank: %d cases", ties,
                         none);
        oom |= l.oom;
        syn->list(f, &l);
        report__list_free(&l);
    }

    syn->heading(f, 2, "cases", "Cases side by side");
    snprintf(t, sizeof t,
             "Each cell: the median time per iteration with its bootstrap 95%% CI; for ranks other "
             "than the reference (rank %d) the ratio x = median / the reference's median (< 1 is "
             "faster) and the verdict: faster / slower only when the Mann-Whitney U test gives "
             "p < %g and the medians differ by more than %.0f%%. Winner: the lowest median; a tie "
             "when another rank's 95%% CI of the median overlaps the winner's.",
             c->ref, c->opts.alpha, 100 * c->opts.threshold);
    syn->para(f, t);
    int ncol = c->nranks + 2;
    char *align = malloc((size_t)ncol + 1);
    const char **cells = calloc((size_t)ncol, sizeof *cells);
    char(*buf)[CELL_MAX] = calloc((size_t)ncol, sizeof *buf);
    if (align && cells && buf) {
        memset(align, 'l', (size_t)ncol);
        align[ncol] = '\0';
        cells[0] = "case";
        for (int r = 0; r < c->nranks; r++) {
            col_head(c, r, buf[r + 1], CELL_MAX);
            cells[r + 1] = buf[r + 1];
        }
        cells[ncol - 1] = "winner";
        syn->thead(f, align, ncol, cells);
        for (int i = 0; i < c->ncases; i++) {
            const bnb_bcase *k = &c->cases[i];
            cells[0] = k->key;
            for (int r = 0; r < c->nranks; r++) {
                cell_words(c, r, &k->cell[r], buf[r + 1], CELL_MAX);
                cells[r + 1] = buf[r + 1];
            }
            bnb_batch_winner_text(c, k, buf[ncol - 1], CELL_MAX);
            cells[ncol - 1] = buf[ncol - 1];
            syn->trow(f, align, ncol, cells);
        }
        fputs(syn->table_end, f);
    } else {
        oom = true;
    }
    free(align);
    free(cells);
    free(buf);

    if (html && c->ref >= 0 && c->nranks > 1) {
        syn->heading(f, 2, "charts", "Each machine against the reference");
        svg_bar *bars = calloc((size_t)(c->ncases ? c->ncases : 1), sizeof *bars);
        oom |= !bars;
        for (int r = 0; bars && r < c->nranks; r++) {
            if (r == c->ref || !c->ranks[r].run_id)
                continue;
            int nb = 0;
            for (int i = 0; i < c->ncases; i++) {
                const bnb_bcell *e = &c->cases[i].cell[r];
                if (isfinite(e->ratio))
                    bars[nb++] = (svg_bar){.label = c->cases[i].key,
                                           .value = e->ratio - 1.0,
                                           .cls = e->verdict == BNB_CMP_SLOWER   ? "bad"
                                                  : e->verdict == BNB_CMP_FASTER ? "good"
                                                                                 : "na"};
            }
            char title[600], h[400];
            col_head(c, r, h, sizeof h);
            snprintf(title, sizeof title,
                     "%s: median against rank %d (left: faster, right: slower)", h, c->ref);
            svg_bars(f, title, bars, nb, c->opts.threshold);
        }
        free(bars);
    }
    return oom ? -1 : 0;
}

int bnb_batch_report_render(bnb_db *db, int64_t batch_id, bnb_report_format fmt, char **text,
                            char *err, size_t cap)
{
    *text = NULL;
    bnb_batch_cmp c;
    if (bnb_batch_cmp_load(db, batch_id, NULL, &c, err, cap)) {
        bnb_batch_cmp_free(&c);
        return -1;
    }
    if (fmt == BNB_REPORT_JSON) {
        cJSON *tree = bnb_batch_json_tree(&c);
        if (tree && !bnb_json_utf8_tree(tree))
            *text = cJSON_Print(tree);
        cJSON_Delete(tree);
    } else {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            int w;
            if (fmt == BNB_REPORT_HTML) {
                fprintf(f,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<meta name=\"viewport\" content=\"width=device-width, "
                        "initial-scale=1\"><title>bnbench hardware comparison: batch %lld"
                        "</title><style>%s</style></head><body>\n",
                        (long long)c.row.id, report__html_css);
                w = write_doc(f, &c, &report__html_syntax, true);
                fputs("<p><small>Generated by bnbench " BN_VERSION " from the stored "
                      "measurements of each rank's run.</small></p>\n</body></html>\n",
                      f);
            } else {
                w = write_doc(f, &c, &report__md_syntax, false);
                fputs("\n_Generated by bnbench " BN_VERSION " from the stored measurements of "
                      "each rank's run._\n",
                      f);
            }
            if (fclose(f) == 0 && w == 0)
                *text = buf;
            else
                free(buf);
        }
    }
    bnb_batch_cmp_free(&c);
    if (!*text) {
        snprintf(err, cap, "report: out of memory writing the report of batch %lld",
                 (long long)batch_id);
        return -1;
    }
    return 0;
}
