/*
 * commands.h - the bnbench subcommands implemented outside suites/cli/main.c.
 * Each takes the command's own argv (argv[0] is the command name, e.g.
 * "run") and returns the process exit code (BNB_EXIT_*).
 */
#ifndef BNB_COMMANDS_H
#define BNB_COMMANDS_H

int bnb_cmd_run(int argc, char **argv);
int bnb_cmd_list(int argc, char **argv);
int bnb_cmd_topo(int argc, char **argv);
int bnb_cmd_counters(int argc, char **argv);

#endif
