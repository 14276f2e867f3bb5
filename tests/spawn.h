/*
 * spawn.h - runs the built bnbench binary from a Criterion test, the way a
 * user would: stdin from /dev/null, stdout and stderr captured to files in a
 * scratch directory, the exit code returned. The binary is $BNBENCH, else
 * $BUILD/bnbench (make test sets BUILD), else build/bnbench. Header-only:
 * each test file is its own binary.
 */
#ifndef BN_TESTS_SPAWN_H
#define BN_TESTS_SPAWN_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fx_result {
    int code;
    char out[262144];
    char err[8192];
} fx_result;

static inline void fx_bin(char *bin, size_t cap)
{
    const char *env = getenv("BNBENCH"), *build = getenv("BUILD");
    if (env && *env)
        snprintf(bin, cap, "%s", env);
    else
        snprintf(bin, cap, "%s/bnbench", build && *build ? build : "build");
    cr_assert_eq(access(bin, X_OK), 0, "bnbench binary %s not found (set BNBENCH)", bin);
}

static inline void fx_read(const char *p, char *buf, size_t cap)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s", p);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Starts bnbench with the NULL-terminated args in the background, stdout
 * and stderr to the files outp and errp, stdin from /dev/null; returns its
 * pid. */
static inline pid_t fx_start(const char *outp, const char *errp, const char *const *args)
{
    char bin[256];
    fx_bin(bin, sizeof bin);
    const char *argv[64] = {bin};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0)
            _exit(127);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Runs bnbench with the NULL-terminated args; tmp is a scratch directory. */
static inline void fx_spawn(fx_result *r, const char *tmp, const char *const *args)
{
    char outp[256], errp[256];
    snprintf(outp, sizeof outp, "%s/stdout", tmp);
    snprintf(errp, sizeof errp, "%s/stderr", tmp);
    pid_t pid = fx_start(outp, errp, args);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    fx_read(outp, r->out, sizeof r->out);
    fx_read(errp, r->err, sizeof r->err);
    cr_assert(WIFEXITED(st), "bnbench died with signal %d; stderr: %s", WTERMSIG(st), r->err);
    r->code = WEXITSTATUS(st);
}

#endif
