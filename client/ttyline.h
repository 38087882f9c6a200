/* The one-line progress display on a terminal (--progress): cell k of n,
 * the test, run r of R, tokens so far and an ETA, rewritten in place on
 * stderr at most a few times per second and erased before log lines. Times
 * are passed in; nothing here reads the clock. */
#ifndef CLIENT_TTYLINE_H
#define CLIENT_TTYLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ttyline ttyline;

/* Starts the display on f for total_cells cells. All functions accept NULL
 * (display off) and do nothing then. */
ttyline *ttyline_open(FILE *f, int total_cells, int runs_per_cell, int64_t now_ns);
/* A cell begins (cell is 0-based). */
void ttyline_cell(ttyline *t, int64_t now_ns, int cell, int pp, int tg, int depth, int conc);
/* A run of the current cell begins (run is 1-based; warm-up runs have warmup set). */
void ttyline_run(ttyline *t, int64_t now_ns, int run, int runs, bool warmup);
/* n more tokens arrived (redraws at most every 200 ms). */
void ttyline_tokens(ttyline *t, int64_t now_ns, int n);
/* Erases the line and frees t. */
void ttyline_close(ttyline *t);

#endif
