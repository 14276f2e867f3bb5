/*
 * status.c - names and messages of status codes (generated from
 * BN_STATUS_LIST), the thread-local last-error message, and the always-on
 * assert handler.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bitnet/bitnet.h"

#define BN_STATUS_COUNT_(sym, val, msg) +1
_Static_assert(0 BN_STATUS_LIST(BN_STATUS_COUNT_) == BN_STATUS_COUNT,
               "BN_STATUS_COUNT must match BN_STATUS_LIST");
#undef BN_STATUS_COUNT_

static _Thread_local char last_error[512];

const char *bn_status_name(bn_status s)
{
    switch (s) {
#define BN_STATUS_NAME_(sym, val, msg)                                                             \
    case sym:                                                                                      \
        return #sym;
        BN_STATUS_LIST(BN_STATUS_NAME_)
#undef BN_STATUS_NAME_
    }
    return "BN_UNKNOWN_STATUS";
}

const char *bn_status_str(bn_status s)
{
    switch (s) {
#define BN_STATUS_MSG_(sym, val, msg)                                                              \
    case sym:                                                                                      \
        return msg;
        BN_STATUS_LIST(BN_STATUS_MSG_)
#undef BN_STATUS_MSG_
    }
    return "unknown status";
}

const char *bn_last_error(void)
{
    return last_error;
}

void bn_clear_error(void)
{
    last_error[0] = '\0';
}

bn_status bn_error(bn_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

void bn_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "libbitnet: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}

const char *bn_version(void)
{
    return BN_VERSION;
}
