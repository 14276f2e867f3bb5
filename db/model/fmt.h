/*
 * fmt.h - the one way the harness writes a duration or a plain figure as
 * text, so a median reads the same in `bnbench show`, `bnbench compare` and
 * the report.
 *
 * A duration in seconds gets the unit that keeps it readable: below 1 us it
 * is written in ns with 3 significant figures ("12.3 ns"), below 1 ms in us,
 * below 1 s in ms, and from 1 s on in s, these with 4 significant figures
 * ("4.56 us", "1.234 ms", "2.5 s"); %g drops trailing zeros ("10 ms"). The
 * unit is chosen by magnitude, so -1.5e-3 reads "-1.5 ms". A value that is
 * not finite (NAN: not measured) is written "-".
 *
 * Pure functions of their arguments; thread-safe. Output longer than cap is
 * truncated (snprintf); 32 bytes hold every value.
 */
#ifndef BNB_FMT_H
#define BNB_FMT_H

#include <stddef.h>

/* Writes the duration s (seconds) into buf as above; returns buf. */
const char *bnb_fmt_seconds(double s, char *buf, size_t cap);

/* Writes v with the printf conversion fmt, which takes one double (e.g.
 * "%.4g", "%.3f", "%.1f%%"), or "-" when v is not finite; returns buf. */
const char *bnb_fmt_num(double v, const char *fmt, char *buf, size_t cap);

#endif
