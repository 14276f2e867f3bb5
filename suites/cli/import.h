/*
 * import.h - `bnbench import FILE...`: run documents (bnbench export --format
 * run) and other bnbench DBs merged into this DB through the run document
 * contract (db/rundoc.h), idempotent by run UUID. Takes its own argv (argv[0]
 * is the command name) and the global --db path; returns the exit code.
 */
#ifndef BNB_CLI_IMPORT_H
#define BNB_CLI_IMPORT_H

int bnb_cmd_import(int argc, char **argv, const char *db);

extern const char bnb_usage_import[];

#endif
