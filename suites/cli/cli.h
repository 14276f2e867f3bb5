/*
 * cli.h - what every bnbench command shares when it talks to the user: one
 * option parser driven by a table of option specs per command, the one-line
 * usage error, and strict number parsing. One place, so every command reads
 * its options, words its errors and quotes long values the same way:
 *
 *   bnbench CMD: unknown option '--x' (bnbench CMD --help)
 *   bnbench CMD: option '--db' needs a value
 *   bnbench CMD: option '--limit' must be an integer from 1 to 2147483647, got "ten"
 *
 * The parser (bnb_cli_parse) never prints and never exits: it returns a
 * code and the message, so it can be fuzzed (tests/fuzz/fuzz_cli.c).
 * Values quoted in messages are elided in the middle to BNB_CLI_QUOTE_MAX
 * bytes and escaped for the terminal, so the reason always appears.
 */
#ifndef BNB_CLI_H
#define BNB_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Longest option value or positional argument accepted (bytes); longer
 * values are refused here with a message. Error messages below the CLI are
 * built in BNB_ERR_MAX = 512 bytes and quote a value with bnb_quote
 * (db/model/text.h, at most about 150 bytes), so the reason after it fits. */
#define BNB_CLI_VALUE_MAX 1024
/* Longest quotation of a value in a message (bytes, before the NUL). */
#define BNB_CLI_QUOTE_MAX  80
#define BNB_CLI_MAX_OPTS   24
#define BNB_CLI_MAX_POS    64
#define BNB_CLI_MAX_REPEAT 2
#define BNB_CLI_MSG_MAX    512

typedef enum bnb_cli_kind {
    BNB_CLI_FLAG,     /* no value */
    BNB_CLI_STR,      /* any value, may be empty */
    BNB_CLI_NONEMPTY, /* a value that may not be empty (paths, names) */
    BNB_CLI_LONG,     /* decimal integer within [lo, hi] */
    BNB_CLI_DOUBLE,   /* finite number within [lo, hi] */
    BNB_CLI_CHOICE,   /* one of the '|'-separated words of choices */
} bnb_cli_kind;

/* One option of a command. */
typedef struct bnb_cli_opt {
    const char *name; /* long name without "--" ("db"); NULL ends a table */
    char shortc;      /* short form ('o' for -o), 0 for none */
    bnb_cli_kind kind;
    double lo, hi;       /* range of LONG and DOUBLE (inclusive; DOUBLE: excl) */
    bool excl;           /* DOUBLE: the bounds themselves are refused */
    const char *must;    /* what a value must be, for the message (NULL: from
                            the range or choices) */
    const char *choices; /* CHOICE: "md|html|json" */
    int repeat;          /* times it may be given; 0 or 1: once, a later one wins */
} bnb_cli_opt;

/* A command: its name (the message prefix "bnbench NAME: "; "" for the
 * global options), usage text, options (NULL-name terminated, at most
 * BNB_CLI_MAX_OPTS), the positional arguments it takes, and whether the
 * first positional argument ends option parsing (the global options stop at
 * the command name). -h/--help is always accepted. */
typedef struct bnb_cli_cmd {
    const char *name;
    const char *usage;
    const bnb_cli_opt *opts;
    int max_pos;
    bool stop_at_pos;
} bnb_cli_cmd;

/* The value(s) of one option after parsing. */
typedef struct bnb_cli_val {
    int count;                            /* times given */
    const char *str;                      /* last value as given (points into argv) */
    const char *strs[BNB_CLI_MAX_REPEAT]; /* values in order, when repeat > 1 */
    long l;                               /* LONG */
    double d;                             /* DOUBLE */
} bnb_cli_val;

typedef struct bnb_cli_args {
    bnb_cli_val val[BNB_CLI_MAX_OPTS]; /* indexed like the command's opts */
    int npos;
    char *pos[BNB_CLI_MAX_POS];
    int next;                  /* argv index after the parsed part (stop_at_pos) */
    char msg[BNB_CLI_MSG_MAX]; /* the error, "bnbench CMD: ..." (no newline) */
} bnb_cli_args;

enum { BNB_CLI_OK = 0, BNB_CLI_HELP = 1, BNB_CLI_ERROR = -1 };

/* Parses argv[1..argc-1] (argv[0] is the command name) against cmd into
 * *out (zeroed first). Forms: --name VALUE, --name=VALUE, -o VALUE, -oVALUE,
 * -h, --help, and "--" before positional arguments that begin with '-'.
 * A value that is itself an option of the command (`-o --db`) is a missing
 * value; write `--case=--db` to pass it. Returns BNB_CLI_OK, BNB_CLI_HELP
 * (help asked; nothing else checked after it), or BNB_CLI_ERROR with
 * out->msg set. Never prints, never exits, never allocates; argv is not
 * modified. Not thread-safe only in the sense that out must not be shared. */
int bnb_cli_parse(const bnb_cli_cmd *cmd, int argc, char **argv, bnb_cli_args *out);

/* bnb_cli_parse, then: help -> usage on stdout, returns BNB_EXIT_OK; error
 * -> the message on stderr, returns BNB_EXIT_USAGE; parsed -> returns -1
 * (go on). Also reports a failed write of the usage text (exit 2). */
int bnb_cli_run_parse(const bnb_cli_cmd *cmd, int argc, char **argv, bnb_cli_args *out);

/* The value of option name of cmd in a (NULL when not given). */
const bnb_cli_val *bnb_cli_get(const bnb_cli_cmd *cmd, const bnb_cli_args *a, const char *name);
const char *bnb_cli_str(const bnb_cli_cmd *cmd, const bnb_cli_args *a, const char *name,
                        const char *dflt);

/* The command whose errors bnb_usage_error prefixes ("bnbench CMD: ");
 * main sets it once at dispatch, so a command run from another one (check's
 * re-run) still speaks as the command the user typed. NULL: "bnbench: ". */
void bnb_cli_set_command(const char *name);

/* Prints "bnbench CMD: <message>" on one line to stderr (the error of a
 * command that is not a usage error: the caller picks the exit code). */
void bnb_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bnb_cli_error, returning BNB_EXIT_USAGE (2). */
int bnb_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* s quoted for a message: at most BNB_CLI_QUOTE_MAX bytes, the middle
 * replaced by "..." when longer, control characters escaped (text.h).
 * buf must hold BNB_CLI_QUOTE_MAX + 1 bytes. Returns buf. */
const char *bnb_cli_quote(const char *s, char *buf);

#endif
