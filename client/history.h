/* The history ledger (--history DIR, $TOKBENCH_HISTORY): every finished run's
 * full JSON plus a normalized summary line, and a comparison with the last
 * run of the same shape. docs/tokbench-reports.md describes the layout. */
#ifndef CLIENT_HISTORY_H
#define CLIENT_HISTORY_H

#include <stdio.h>

#include "client/cli.h"
#include "client/results.h"

/* Appends the run to the ledger in dir (created when missing). When an
 * earlier run with the same comparison key exists, prints a comparison to
 * err and flags every metric that got worse by more than o->regress_pct.
 * Never writes to stdout. Returns the number of regressions flagged (>= 0),
 * or -1 when the ledger cannot be read or written (message on err). */
int history_record(const char *dir, const results *r, const cli_options *o, FILE *err);

#endif
