/*
 * svg.c - inline SVG charts of the report (contract: svg.h).
 *
 * Hand-written SVG: a handful of <line>, <polyline>, <rect>, <circle> and
 * <text> elements sized in user units with a viewBox, so the browser scales
 * them and print keeps them vector.
 */
#include "reports/svg.h"

#include <math.h>
#include <string.h>

#include "db/model/text.h"

static const char *color(const char *cls)
{
    if (cls && !strcmp(cls, "good"))
        return "#1a8f44";
    if (cls && !strcmp(cls, "bad"))
        return "#c4161c";
    return "#8a9099";
}

void svg_roofline(FILE *f, double peak, double bw, const svg_point *pts, int n)
{
    const double W = 760, H = 420, L = 70, R = 20, T = 30, B = 50;
    double ridge = peak / bw;
    double xmin = ridge / 256, xmax = ridge * 64;
    for (int i = 0; i < n; i++)
        if (pts[i].x > 0 && isfinite(pts[i].x)) {
            xmin = fmin(xmin, pts[i].x / 2);
            xmax = fmax(xmax, pts[i].x * 2);
        }
    double ymax = peak * 2, ymin = fmin(bw * xmin, peak / 1000);
    for (int i = 0; i < n; i++)
        if (pts[i].y > 0 && isfinite(pts[i].y))
            ymin = fmin(ymin, pts[i].y / 2);
    double lx0 = log10(xmin), lx1 = log10(xmax), ly0 = log10(ymin), ly1 = log10(ymax);
#define PX(x) (L + (log10(x) - lx0) / (lx1 - lx0) * (W - L - R))
#define PY(y) (H - B - (log10(y) - ly0) / (ly1 - ly0) * (H - T - B))
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "role=\"img\" aria-label=\"roofline\">\n<title>Roofline</title>\n",
            W, H, W);
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafbfc\" "
            "stroke=\"#99a\"/>\n",
            L, T, W - L - R, H - T - B);
    /* decade grid */
    for (int e = (int)floor(lx0); e <= (int)ceil(lx1); e++) {
        double x = pow(10, e);
        if (x < xmin || x > xmax)
            continue;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#dde\"/>"
                "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n",
                PX(x), T, PX(x), H - B, PX(x), H - B + 15, x);
    }
    for (int e = (int)floor(ly0); e <= (int)ceil(ly1); e++) {
        double y = pow(10, e);
        if (y < ymin || y > ymax)
            continue;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#dde\"/>"
                "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
                L, PY(y), W - R, PY(y), L - 5, PY(y) + 4, y);
    }
    /* roof */
    double x0 = xmin, y0 = bw * xmin, xr = ridge;
    if (y0 < ymin) {
        x0 = ymin / bw;
        y0 = ymin;
    }
    fprintf(f,
            "<polyline fill=\"none\" stroke=\"#1d4e89\" stroke-width=\"2.5\" "
            "points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n",
            PX(x0), PY(y0), PX(xr), PY(peak), PX(xmax), PY(peak));
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#1d4e89\">FMA peak %.4g "
            "GFLOP/s</text>\n",
            PX(xr) + 8, PY(peak) - 6, peak);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#1d4e89\" "
            "transform=\"rotate(%.1f %.1f %.1f)\">triad %.4g GB/s</text>\n",
            PX(x0 * 4), PY(y0 * 4) - 8,
            -atan2(PY(y0) - PY(y0 * 4), PX(x0 * 4) - PX(x0)) * 180 / M_PI, PX(x0 * 4),
            PY(y0 * 4) - 8, bw);
    /* points */
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!(pts[i].x > 0 && pts[i].y > 0 && isfinite(pts[i].x) && isfinite(pts[i].y)))
            continue;
        k++;
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#d9822b\" stroke=\"#333\">"
                "<title>",
                PX(pts[i].x), PY(pts[i].y));
        bnb_markup_fputs(pts[i].label, f);
        fprintf(f,
                ": AI %.3g, %.4g GFLOP/s</title></circle><text x=\"%.1f\" y=\"%.1f\" "
                "font-size=\"11\" font-weight=\"bold\">%d</text>\n",
                pts[i].x, pts[i].y, PX(pts[i].x) + 7, PY(pts[i].y) - 6, k);
    }
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">arithmetic "
            "intensity (flop/byte, log)</text>\n",
            (W + L) / 2, H - 12);
    fprintf(f,
            "<text x=\"14\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 14 %.0f)\">GFLOP/s (log)</text>\n",
            (H - B + T) / 2, (H - B + T) / 2);
    /* legend */
    k = 0;
    double ly = T + 16;
    for (int i = 0; i < n; i++) {
        if (!(pts[i].x > 0 && pts[i].y > 0 && isfinite(pts[i].x) && isfinite(pts[i].y)))
            continue;
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%d: ", L + 8, ly, ++k);
        bnb_markup_fputs(pts[i].label, f);
        fputs("</text>\n", f);
        ly += 14;
    }
    fputs("</svg>\n", f);
#undef PX
#undef PY
}

void svg_history(FILE *f, const char *title, const char *unit, const double *v, int n)
{
    const double W = 360, H = 150, L = 50, R = 10, T = 26, B = 22;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "role=\"img\"><title>",
            W, H, W);
    bnb_markup_fputs(title, f);
    fputs("</title>\n<text x=\"4\" y=\"14\" font-size=\"11\" font-weight=\"bold\">", f);
    bnb_markup_fputs(title, f);
    fputs("</text>\n", f);
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafbfc\" "
            "stroke=\"#99a\"/>\n",
            L, T, W - L - R, H - T - B);
    if (!isfinite(lo)) {
        fputs("<text x=\"60\" y=\"80\" font-size=\"12\">no value</text></svg>\n", f);
        return;
    }
    double pad = hi > lo ? (hi - lo) * 0.1 : fabs(hi) * 0.05 + 1e-12;
    lo -= pad;
    hi += pad;
#define HX(i) (n > 1 ? L + (double)(i) / (n - 1) * (W - L - R) : (W + L - R) / 2)
#define HY(y) (H - B - ((y)-lo) / (hi - lo) * (H - T - B))
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"end\">%.4g</text>"
            "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"end\">%.4g</text>\n",
            L - 3, T + 8, hi, L - 3, H - B, lo);
    fputs("<polyline fill=\"none\" stroke=\"#1d4e89\" stroke-width=\"1.5\" points=\"", f);
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            fprintf(f, "%.1f,%.1f ", HX(i), HY(v[i]));
    fputs("\"/>\n", f);
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>\n", HX(i), HY(v[i]),
                    i == n - 1 ? "4" : "2", i == n - 1 ? "#d9822b" : "#1d4e89");
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%d runs, oldest first; unit ", L,
            H - 6, n);
    bnb_markup_fputs(unit, f);
    fputs("</text></svg>\n", f);
#undef HX
#undef HY
}

void svg_bars(FILE *f, const char *title, const svg_bar *b, int n, double threshold)
{
    const double W = 760, L = 330, R = 60, T = 24, row = 20;
    double H = T + row * (n > 0 ? n : 1) + 30;
    double m = threshold * 2;
    for (int i = 0; i < n; i++)
        if (isfinite(b[i].value))
            m = fmax(m, fabs(b[i].value) * 1.1);
    double cx = L + (W - L - R) / 2, sc = (W - L - R) / 2 / m;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "role=\"img\"><title>",
            W, H, W);
    bnb_markup_fputs(title, f);
    fprintf(f, "</title>\n<text x=\"%.0f\" y=\"14\" font-size=\"11\" text-anchor=\"middle\">", cx);
    bnb_markup_fputs(title, f);
    fputs("</text>\n", f);
    for (int s = -1; s <= 1; s += 2)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#999\" "
                "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" "
                "text-anchor=\"middle\">%+.0f%%</text>\n",
                cx + s * threshold * sc, T, cx + s * threshold * sc, H - 24,
                cx + s * threshold * sc, H - 10, s * threshold * 100);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#333\"/>\n", cx, T,
            cx, H - 24);
    for (int i = 0; i < n; i++) {
        double y = T + i * row, v = isfinite(b[i].value) ? b[i].value : 0;
        double x = v < 0 ? cx + v * sc : cx, w = fabs(v) * sc;
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">", L - 6,
                y + 14);
        bnb_markup_fputs(b[i].label, f);
        fprintf(f,
                "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
                "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%+.1f%%</text>\n",
                x, y + 3, w < 1 ? 1 : w, row - 6, color(b[i].cls), v < 0 ? cx + 4 : cx + w + 4,
                y + 14, v * 100);
    }
    fputs("</svg>\n", f);
}
