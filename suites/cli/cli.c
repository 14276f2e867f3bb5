/*
 * cli.c - the option parser, usage error and strict number parsing of every
 * bnbench command (cli.h).
 *
 * Shape: a command is a table of option specs; bnb_cli_parse walks argv once,
 * in order, checking each value against its spec (length, kind, range,
 * choices) as it is read, and stops at the first problem with one message.
 * It is a plain function of its inputs (no getopt state, no printing, no
 * exit), so the fuzz target can call it millions of times in one process.
 */
#include "suites/cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/bnb.h"
#include "db/model/text.h"

static const char *g_command;

void bnb_cli_set_command(const char *name)
{
    g_command = name;
}

/* The message is escaped as a whole (text.h): errors quote names from the
 * DB and the user, and a terminal must not act on what they hold. */
static void verror(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    fprintf(stderr, "bnbench%s%s: ", g_command && *g_command ? " " : "",
            g_command ? g_command : "");
    if (msg) {
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
        bnb_term_fputs(msg, stderr);
    } else {
        fputs("(out of memory formatting the message)", stderr);
    }
    va_end(ap2);
    free(msg);
    fputc('\n', stderr);
}

void bnb_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
}

int bnb_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    return BNB_EXIT_USAGE;
}

/* Strict integer: the whole text is a decimal number within [lo, hi]
 * (no trailing characters, no overflow). false otherwise, *out untouched. */
static bool parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

const char *bnb_cli_quote(const char *s, char *buf)
{
    return bnb_elide(s, buf, BNB_CLI_QUOTE_MAX);
}

/* ---- the parser ---------------------------------------------------------------- */

static int fail(const bnb_cli_cmd *cmd, bnb_cli_args *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const bnb_cli_cmd *cmd, bnb_cli_args *out, const char *fmt, ...)
{
    int k = snprintf(out->msg, sizeof out->msg, "bnbench%s%s: ", *cmd->name ? " " : "", cmd->name);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < sizeof out->msg)
        vsnprintf(out->msg + k, sizeof out->msg - (size_t)k, fmt, ap);
    va_end(ap);
    return BNB_CLI_ERROR;
}

/* The option of cmd named by the long form at s (s without "--", up to '='
 * or the end); -1 when none. */
static int find_long(const bnb_cli_cmd *cmd, const char *s)
{
    size_t len = strcspn(s, "=");
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
        if (strlen(cmd->opts[i].name) == len && !strncmp(cmd->opts[i].name, s, len))
            return i;
    return -1;
}

static int find_short(const bnb_cli_cmd *cmd, char c)
{
    for (int i = 0; c && cmd->opts && cmd->opts[i].name; i++)
        if (cmd->opts[i].shortc == c)
            return i;
    return -1;
}

/* Whether s reads as an option of cmd (so it is not taken as a value). */
static bool is_option(const bnb_cli_cmd *cmd, const char *s)
{
    if (s[0] != '-' || !s[1])
        return false;
    if (s[1] == '-')
        return s[2] && (!strcmp(s, "--help") || find_long(cmd, s + 2) >= 0);
    return s[1] == 'h' || find_short(cmd, s[1]) >= 0;
}

/* "md|html|json" as "md, html or json". */
static void choice_list(const char *choices, char *buf, size_t cap)
{
    size_t k = 0, n = strlen(choices);
    buf[0] = '\0';
    for (size_t i = 0; i < n && k + 1 < cap;) {
        size_t w = strcspn(choices + i, "|");
        bool last = i + w >= n;
        int r = snprintf(buf + k, cap - k, "%s%.*s",
                         i == 0 ? ""
                         : last ? " or "
                                : ", ",
                         (int)w, choices + i);
        if (r < 0)
            break;
        k += (size_t)r < cap - k ? (size_t)r : cap - k - 1;
        i += w + 1;
    }
}

static bool in_choices(const char *choices, const char *v)
{
    size_t len = strlen(v);
    for (const char *p = choices; *p;) {
        size_t w = strcspn(p, "|");
        if (w == len && !strncmp(p, v, w))
            return true;
        p += w + (p[w] == '|');
    }
    return false;
}

/* Checks v against option o and stores it; shown is how the user wrote the
 * option ("--db", "-o"). */
static int take_value(const bnb_cli_cmd *cmd, const bnb_cli_opt *o, bnb_cli_val *val,
                      const char *shown, const char *v, bnb_cli_args *out)
{
    char q[BNB_CLI_QUOTE_MAX + 1], must[160];
    size_t len = strlen(v);
    if (len > BNB_CLI_VALUE_MAX)
        return fail(cmd, out, "%s \"%s\" is %zu bytes long; at most %d are accepted", shown,
                    bnb_cli_quote(v, q), len, BNB_CLI_VALUE_MAX);
    switch (o->kind) {
    case BNB_CLI_FLAG:
        break; /* not reached: flags take no value */
    case BNB_CLI_STR:
        break;
    case BNB_CLI_NONEMPTY:
        if (!len)
            return fail(cmd, out, "%s must not be empty", shown);
        break;
    case BNB_CLI_LONG:
        if (!parse_long(v, (long)o->lo, (long)o->hi, &val->l)) {
            if (!o->must)
                snprintf(must, sizeof must, "an integer from %ld to %ld", (long)o->lo, (long)o->hi);
            return fail(cmd, out, "%s must be %s, got \"%s\"", shown, o->must ? o->must : must,
                        bnb_cli_quote(v, q));
        }
        break;
    case BNB_CLI_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double d = len ? strtod(v, &end) : NAN;
        bool ok = len && !errno && !*end && isfinite(d) &&
                  (o->excl ? d > o->lo && d < o->hi : d >= o->lo && d <= o->hi);
        if (!ok) {
            if (!o->must)
                snprintf(must, sizeof must,
                         o->excl ? "a number in (%g, %g)" : "a number from %g to %g", o->lo, o->hi);
            return fail(cmd, out, "%s must be %s, got \"%s\"", shown, o->must ? o->must : must,
                        bnb_cli_quote(v, q));
        }
        val->d = d;
        break;
    }
    case BNB_CLI_CHOICE:
        if (!in_choices(o->choices, v)) {
            choice_list(o->choices, must, sizeof must);
            return fail(cmd, out, "%s must be %s, got \"%s\"", shown, must, bnb_cli_quote(v, q));
        }
        break;
    }
    val->str = v;
    return BNB_CLI_OK;
}

int bnb_cli_parse(const bnb_cli_cmd *cmd, int argc, char **argv, bnb_cli_args *out)
{
    memset(out, 0, sizeof *out);
    char q[BNB_CLI_QUOTE_MAX + 1];
    bool opts_done = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || !a[1]) {
            if (cmd->stop_at_pos)
                break;
            size_t len = strlen(a);
            if (len > BNB_CLI_VALUE_MAX)
                return fail(cmd, out, "argument \"%s\" is %zu bytes long; at most %d are accepted",
                            bnb_cli_quote(a, q), len, BNB_CLI_VALUE_MAX);
            if (out->npos == cmd->max_pos || out->npos == BNB_CLI_MAX_POS)
                return fail(cmd, out, "unexpected argument \"%s\" (bnbench%s%s --help)",
                            bnb_cli_quote(a, q), *cmd->name ? " " : "", cmd->name);
            out->pos[out->npos++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            opts_done = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            out->next = i + 1;
            return BNB_CLI_HELP;
        }
        int k;
        const char *inline_val = NULL;
        char shown[BNB_NAME_MAX];
        if (a[1] == '-') {
            k = find_long(cmd, a + 2);
            const char *eq = strchr(a, '=');
            if (k >= 0 && eq)
                inline_val = eq + 1;
            if (k >= 0)
                snprintf(shown, sizeof shown, "--%s", cmd->opts[k].name);
        } else {
            k = find_short(cmd, a[1]);
            if (k >= 0 && a[2])
                inline_val = a + 2;
            if (k >= 0)
                snprintf(shown, sizeof shown, "-%c", a[1]);
        }
        if (k < 0)
            return fail(cmd, out, "unknown option '%s' (bnbench%s%s --help)", bnb_cli_quote(a, q),
                        *cmd->name ? " " : "", cmd->name);
        const bnb_cli_opt *o = &cmd->opts[k];
        bnb_cli_val *val = &out->val[k];
        int max = o->repeat > 1 ? o->repeat : 0;
        if (max && val->count == max)
            return fail(cmd, out, "option '%s' given more than %d times", shown, max);
        if (o->kind == BNB_CLI_FLAG) {
            if (inline_val)
                return fail(cmd, out, "option '%s' takes no value, got \"%s\"", shown,
                            bnb_cli_quote(inline_val, q));
            val->count++;
            continue;
        }
        const char *v = inline_val;
        if (!v) {
            if (i + 1 >= argc || is_option(cmd, argv[i + 1]))
                return fail(cmd, out, "option '%s' needs a value", shown);
            v = argv[++i];
        }
        int rc = take_value(cmd, o, val, shown, v, out);
        if (rc != BNB_CLI_OK)
            return rc;
        if (max)
            val->strs[val->count] = v;
        val->count++;
    }
    out->next = i;
    return BNB_CLI_OK;
}

int bnb_cli_run_parse(const bnb_cli_cmd *cmd, int argc, char **argv, bnb_cli_args *out)
{
    int rc = bnb_cli_parse(cmd, argc, argv, out);
    if (rc == BNB_CLI_ERROR) {
        fprintf(stderr, "%s\n", out->msg);
        return BNB_EXIT_USAGE;
    }
    if (rc == BNB_CLI_HELP) {
        if (fputs(cmd->usage, stdout) == EOF || fflush(stdout) != 0) {
            char e[BNB_CLI_MSG_MAX];
            snprintf(e, sizeof e, "%s", strerror(errno));
            fprintf(stderr, "bnbench%s%s: cannot write the usage text: %s\n", *cmd->name ? " " : "",
                    cmd->name, e);
            return BNB_EXIT_USAGE;
        }
        return BNB_EXIT_OK;
    }
    return -1;
}

const bnb_cli_val *bnb_cli_get(const bnb_cli_cmd *cmd, const bnb_cli_args *a, const char *name)
{
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
        if (!strcmp(cmd->opts[i].name, name))
            return a->val[i].count ? &a->val[i] : NULL;
    return NULL;
}

const char *bnb_cli_str(const bnb_cli_cmd *cmd, const bnb_cli_args *a, const char *name,
                        const char *dflt)
{
    const bnb_cli_val *v = bnb_cli_get(cmd, a, name);
    return v ? v->str : dflt;
}
