/*
 * cli.h - what every bnbench command shares when it talks to the user: the
 * one-line usage error and strict number parsing. One place, so every
 * command words its errors and reads its numbers the same way.
 */
#ifndef BNB_CLI_H
#define BNB_CLI_H

#include <stdbool.h>

/* Prints "bnbench: <message>" on one line to stderr; returns BNB_EXIT_USAGE (2). */
int bnb_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict integer: the whole text is a decimal number within [lo, hi]
 * (no trailing characters, no overflow). false otherwise, *out untouched. */
bool bnb_parse_long(const char *s, long lo, long hi, long *out);

#endif
