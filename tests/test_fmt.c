/*
 * test_fmt.c - the harness's one duration and number formatter
 * (db/model/fmt.h): the unit chosen at each boundary, the significant
 * figures per unit, negative durations by magnitude, "-" for what was not
 * measured, truncation to the buffer, and printf conversions for figures.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "db/model/fmt.h"

static void expect_seconds(double s, const char *want)
{
    char buf[32] = "canary";
    const char *got = bnb_fmt_seconds(s, buf, sizeof buf);
    cr_assert_eq(got, buf, "returns its buffer");
    cr_assert_str_eq(buf, want, "seconds %.17g", s);
}

Test(fmt, seconds_units_and_figures)
{
    expect_seconds(12.3e-9, "12.3 ns");
    expect_seconds(12.345e-9, "12.3 ns"); /* 3 significant figures in ns */
    expect_seconds(4.56e-6, "4.56 us");
    expect_seconds(4.5678e-6, "4.568 us"); /* 4 from us on */
    expect_seconds(1.234e-3, "1.234 ms");
    expect_seconds(0.01, "10 ms"); /* %g drops trailing zeros */
    expect_seconds(2.5, "2.5 s");
    expect_seconds(123456.0, "1.235e+05 s");
    expect_seconds(0.0, "0 ns");
}

Test(fmt, seconds_unit_boundaries)
{
    expect_seconds(999e-9, "999 ns");
    expect_seconds(1e-6, "1 us");
    expect_seconds(999.9e-6, "999.9 us");
    expect_seconds(1e-3, "1 ms");
    expect_seconds(0.9999, "999.9 ms");
    expect_seconds(1.0, "1 s");
}

Test(fmt, seconds_negative_by_magnitude)
{
    expect_seconds(-1.5e-3, "-1.5 ms");
    expect_seconds(-2e-8, "-20 ns");
    expect_seconds(-3.0, "-3 s");
}

Test(fmt, seconds_not_measured)
{
    expect_seconds(NAN, "-");
    expect_seconds(INFINITY, "-");
    expect_seconds(-INFINITY, "-");
}

Test(fmt, seconds_truncated_to_cap)
{
    char buf[8];
    memset(buf, 'x', sizeof buf);
    bnb_fmt_seconds(1.234e-3, buf, 4);
    cr_assert_str_eq(buf, "1.2");
    cr_assert_eq(buf[4], 'x', "nothing written past cap");
}

Test(fmt, numbers)
{
    char buf[32];
    cr_assert_str_eq(bnb_fmt_num(1.2345678, "%.3f", buf, sizeof buf), "1.235");
    cr_assert_str_eq(bnb_fmt_num(0.00012345, "%.2g", buf, sizeof buf), "0.00012");
    cr_assert_str_eq(bnb_fmt_num(1234567.0, "%.4g", buf, sizeof buf), "1.235e+06");
    cr_assert_str_eq(bnb_fmt_num(87.654, "%.1f%%", buf, sizeof buf), "87.7%");
    cr_assert_str_eq(bnb_fmt_num(NAN, "%.3f", buf, sizeof buf), "-");
    cr_assert_str_eq(bnb_fmt_num(INFINITY, "%.3f", buf, sizeof buf), "-");
    cr_assert_eq(bnb_fmt_num(1.0, "%.0f", buf, sizeof buf), buf);
}
