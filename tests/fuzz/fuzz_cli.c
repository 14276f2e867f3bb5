/*
 * fuzz_cli.c - fuzz target of the bnbench option parser (suites/cli/cli.h)
 * and of the text functions every message goes through (db/model/text.h).
 *
 * Input: the first byte picks a command table, the rest is argv, split at
 * NUL bytes (at most 32 arguments). Checked on every input, besides the
 * sanitizers' own checks:
 *   - the parser returns one of its three codes and never exits;
 *   - an error message starts "bnbench CMD: ", is not cut (shorter than its
 *     buffer), holds no raw control character and is valid UTF-8;
 *   - parsed values point into argv, positional counts stay in bounds;
 *   - bnb_utf8_sanitize gives valid UTF-8; bnb_term_safe and bnb_cli_quote
 *     stay within their buffers and give terminal-safe UTF-8.
 * Built with clang -fsanitize=fuzzer,address (`make fuzz-short`); where
 * libFuzzer is missing, with tests/fuzz/standalone.c's replay-and-mutate
 * driver instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"
#include "suites/cli/cli.h"

/* Tables shaped like the real commands': every kind of option, short
 * forms, repeats, the global table that stops at the command name. */
static const bnb_cli_opt opt_a[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "format", .kind = BNB_CLI_CHOICE, .choices = "md|html|json"},
    {.name = "output", .shortc = 'o', .kind = BNB_CLI_NONEMPTY},
    {.name = "history", .kind = BNB_CLI_LONG, .lo = 1, .hi = 100000},
    {.name = "threshold", .kind = BNB_CLI_DOUBLE, .lo = 0, .hi = 100, .excl = true},
    {.name = "machine", .kind = BNB_CLI_NONEMPTY, .repeat = 2},
    {.name = "no-rerun", .kind = BNB_CLI_FLAG},
    {.name = "counters", .kind = BNB_CLI_STR},
    {0},
};
static const bnb_cli_opt opt_g[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "version", .kind = BNB_CLI_FLAG},
    {0},
};
static const bnb_cli_cmd cmds[] = {
    {"report", "usage\n", opt_a, 1, false},
    {"compare", "usage\n", opt_a, 2, false},
    {"", "usage\n", opt_g, 1, true},
    {"check", "usage\n", opt_a, 0, false},
};

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_cli: invariant broken: %s\n", what);
        abort();
    }
}

static void check_terminal_safe(const char *s)
{
    size_t n = strlen(s);
    check(bnb_utf8_valid(s, n), "terminal text is UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        check(c >= 0x20 && c != 0x7f, "no raw control byte");
        check(!(c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0), "no raw C1");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const bnb_cli_cmd *cmd = &cmds[data[0] % (sizeof cmds / sizeof cmds[0])];
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *argv[34] = {(char *)"cmd"};
    int argc = 1;
    for (size_t i = 0; i < size - 1 && argc < 33;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;

    bnb_cli_args a;
    int rc = bnb_cli_parse(cmd, argc, argv, &a);
    check(rc == BNB_CLI_OK || rc == BNB_CLI_HELP || rc == BNB_CLI_ERROR, "return code");
    if (rc == BNB_CLI_ERROR) {
        size_t n = strlen(a.msg);
        check(!strncmp(a.msg, "bnbench", 7) && strstr(a.msg, ": "), "message prefix");
        check(n + 1 < sizeof a.msg, "message not cut");
        check_terminal_safe(a.msg);
    } else {
        check(a.npos >= 0 && a.npos <= cmd->max_pos, "positional count");
        for (int i = 0; i < a.npos; i++)
            check(a.pos[i] >= buf && a.pos[i] < buf + size, "positional in argv");
        for (int i = 0; cmd->opts[i].name; i++)
            if (a.val[i].count && cmd->opts[i].kind != BNB_CLI_FLAG)
                check(a.val[i].str >= buf && a.val[i].str < buf + size, "value in argv");
    }

    char q[BNB_CLI_QUOTE_MAX + 1], t[64];
    for (int i = 1; i < argc; i++) {
        check(strlen(bnb_cli_quote(argv[i], q)) <= BNB_CLI_QUOTE_MAX, "quote length");
        check_terminal_safe(q);
        check(strlen(bnb_term_safe(argv[i], t, sizeof t)) < sizeof t, "term_safe length");
        check_terminal_safe(t);
        char *u = bnb_utf8_sanitize(argv[i]);
        if (u) {
            check(bnb_utf8_valid(u, strlen(u)), "sanitised text is UTF-8");
            check(bnb_utf8_valid(argv[i], strlen(argv[i])) == !strcmp(u, argv[i]),
                  "valid text is unchanged, invalid text changed");
            free(u);
        }
    }
    free(buf);
    return 0;
}
