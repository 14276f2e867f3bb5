/*
 * report_sections.h - the sections of the Markdown and HTML reports, written
 * once against a small syntax (internal to reports/report*.c).
 *
 * report_sections.c decides what each section says (headings, sentences,
 * lists, table rows: the same words and figures in both formats);
 * a `report_syntax` says how a format writes a heading, a paragraph, a list
 * or a table, and draws what only that format has (the HTML score block
 * and inline SVG charts; Markdown gets the same numbers as tables and a
 * text sparkline, since forges strip inline SVG). report_md.c and
 * report_html.c each define one syntax and their document's head and foot.
 */
#ifndef BNB_REPORT_SECTIONS_H
#define BNB_REPORT_SECTIONS_H

#include <stdio.h>

#include "reports/report_model.h"

typedef struct report_syntax {
    /* Text, escaped for the format: a heading with an anchor id, a
     * paragraph, a non-empty bulleted list. */
    void (*heading)(FILE *f, int level, const char *id, const char *t);
    void (*para)(FILE *f, const char *t);
    void (*list)(FILE *f, const strlist *l);
    /* A table: n columns aligned by align[i], 'l' or 'r'; a header row,
     * body rows, then the text that ends it. */
    void (*thead)(FILE *f, const char *align, int n, const char *const *cells);
    void (*trow)(FILE *f, const char *align, int n, const char *const *cells);
    const char *table_end;
    /* The overall score ("61.4/100"), the status word and the evidence
     * coverage in %. */
    void (*score)(FILE *f, const char *score, const char *status, double coverage);
    /* The checklist: box glyphs for an open and a done item, and how the
     * items (each starting with its box) are listed. */
    const char *box_open, *box_done;
    void (*checklist)(FILE *f, const strlist *l);
    /* Charts; NULL for a format without them. The roofline is drawn only
     * when both ceilings were measured. */
    void (*roofline_chart)(FILE *f, const rep *r);
    void (*history_charts)(FILE *f, const rep *r);
    void (*baseline_chart)(FILE *f, const rep *r);
} report_syntax;

/* The two syntaxes (report_md.c, report_html.c), also used by the
 * hardware-comparison report of a batch (batch_report.c), whose charts
 * are its own; and the HTML report's inline style sheet. */
extern const report_syntax report__md_syntax;
extern const report_syntax report__html_syntax;
extern const char report__html_css[];

/* Writes every section of r, in order, from the title to the definitions
 * (the document's head and foot are the format's). */
void report__write_sections(FILE *f, const rep *r, const report_syntax *syn);

#endif
