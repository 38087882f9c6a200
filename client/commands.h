/* tokbench's subcommands besides the benchmark itself: `tokbench report`,
 * `tokbench history` and `tokbench compare` (docs/tokbench-reports.md).
 * Each takes the arguments after its name (argv[0] is the subcommand name),
 * writes its output to out and its messages to err, and returns the process
 * exit status: 0 ok, 1 failure (unreadable file, ...), 2 bad usage. */
#ifndef CLIENT_COMMANDS_H
#define CLIENT_COMMANDS_H

#include <stdio.h>

/* tokbench report FILE.json [--format md|csv|html|json]: re-renders a saved
 * tokbench or llama-benchy JSON result without re-running (client/report_cmd.c). */
int report_cmd_main(int argc, char **argv, FILE *out, FILE *err);
/* tokbench history DIR: lists the runs of a ledger (client/history.c). */
int history_cmd_main(int argc, char **argv, FILE *out, FILE *err);
/* tokbench compare A.json B.json: side by side with relative changes and a
 * Mann-Whitney U significance note (client/compare.c). */
int compare_cmd_main(int argc, char **argv, FILE *out, FILE *err);

#endif
