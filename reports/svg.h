/*
 * svg.h - the report's charts as inline SVG (no scripts, fonts or images:
 * the HTML report stays self-contained and printable).
 *
 * Every chart writes one <svg> element with a title, labelled axes and
 * text escaped for XML. Non-finite or non-positive values (on log axes) are
 * left out, never drawn at a made-up place.
 */
#ifndef BNB_SVG_H
#define BNB_SVG_H

#include <stdio.h>

typedef struct svg_point {
    const char *label;
    double x, y;
} svg_point;

typedef struct svg_bar {
    const char *label;
    double value;    /* relative change, e.g. +0.07 = 7% slower */
    const char *cls; /* "good", "bad", "na": colour */
} svg_bar;

/* Log-log roofline: roof min(peak, bw * AI) with peak in GFLOP/s and bw in
 * GB/s; each point at (AI flop/byte, GFLOP/s), numbered, with a legend. */
void svg_roofline(FILE *f, double peak, double bw, const svg_point *pts, int n);

/* A small line chart of v[0..n) (oldest first), the last point marked. */
void svg_history(FILE *f, const char *title, const char *unit, const double *v, int n);

/* Horizontal bars of relative change around 0, dashed lines at
 * +-threshold, under the heading title (also the chart's <title>; the
 * caller says what is compared with what). */
void svg_bars(FILE *f, const char *title, const svg_bar *b, int n, double threshold);

#endif
