/*
 * fmt.c - durations and plain figures as text (contract: fmt.h). One copy
 * for the whole harness: the report, compare and the CLI's show all call it.
 */
#include "db/model/fmt.h"

#include <math.h>
#include <stdio.h>

const char *bnb_fmt_seconds(double s, char *buf, size_t cap)
{
    double a = fabs(s);
    if (!isfinite(s))
        snprintf(buf, cap, "-");
    else if (a < 1e-6)
        snprintf(buf, cap, "%.3g ns", s * 1e9);
    else if (a < 1e-3)
        snprintf(buf, cap, "%.4g us", s * 1e6);
    else if (a < 1.0)
        snprintf(buf, cap, "%.4g ms", s * 1e3);
    else
        snprintf(buf, cap, "%.4g s", s);
    return buf;
}

const char *bnb_fmt_num(double v, const char *fmt, char *buf, size_t cap)
{
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v);
    return buf;
}
