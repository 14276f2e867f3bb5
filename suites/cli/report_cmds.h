/*
 * report_cmds.h - the bnbench subcommands that read the store through reports/: report,
 * compare, baseline, check, history, publish, and the hidden _gen-db. Each takes its own argv
 * (argv[0] is the command name) and the global --db path, and returns the
 * process exit code (BNB_EXIT_*).
 */
#ifndef BNB_REPORTS_CLI_H
#define BNB_REPORTS_CLI_H

int bnb_cmd_report(int argc, char **argv, const char *db);
int bnb_cmd_compare(int argc, char **argv, const char *db);
int bnb_cmd_baseline(int argc, char **argv, const char *db);
int bnb_cmd_check(int argc, char **argv, const char *db);
int bnb_cmd_history(int argc, char **argv, const char *db);
int bnb_cmd_publish(int argc, char **argv, const char *db);
int bnb_cmd_gendb(int argc, char **argv, const char *db);

extern const char bnb_usage_report[], bnb_usage_compare[], bnb_usage_baseline[], bnb_usage_check[],
    bnb_usage_history[], bnb_usage_publish[];

#endif
