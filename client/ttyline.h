/* The one-line progress display on a terminal (--progress): cell k of n,
 * the test, run r of R, tokens so far and an ETA, rewritten in place on
 * stderr at most a few times per second and erased before log lines. Times
 * are passed in; nothing here reads the clock.
 *
 * The text is built by pure functions (ttyline_format and helpers) from a
 * ttyline_view value, so tests check it without a terminal; the handle only
 * keeps the counters, throttles redraws and writes the control bytes. */
#ifndef CLIENT_TTYLINE_H
#define CLIENT_TTYLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ttyline ttyline;

/* Redraws caused by arriving tokens are at least this far apart. */
#define TTYLINE_MIN_REDRAW_NS 200000000LL

/* Starts the display on f for total_cells cells of runs_per_cell runs each
 * (warm-up runs included). Returns a new handle, free with ttyline_close();
 * while it is open, log lines (common/log.h) erase the line first and redraw
 * it after. The width is asked of the terminal at every redraw (TIOCGWINSZ),
 * else taken from $COLUMNS, else 80. All functions accept NULL (display off)
 * and do nothing then. */
ttyline *ttyline_open(FILE *f, int total_cells, int runs_per_cell, int64_t now_ns);
/* A cell begins (cell is 0-based). Always redraws. */
void ttyline_cell(ttyline *t, int64_t now_ns, int cell, int pp, int tg, int depth, int conc);
/* A run of the current cell begins (run is 1-based; warm-up runs have warmup set).
 * The previous run, if any, counts as finished for the ETA. */
void ttyline_run(ttyline *t, int64_t now_ns, int run, int runs, bool warmup);
/* n more tokens arrived (redraws at most every TTYLINE_MIN_REDRAW_NS). */
void ttyline_tokens(ttyline *t, int64_t now_ns, int n);
/* Erases the line now, e.g. before a child process writes to the terminal
 * (--post-run-cmd); the next update draws it again. */
void ttyline_erase(ttyline *t);
/* Erases the line and frees t. */
void ttyline_close(ttyline *t);
/* Fixes the width in columns instead of asking the terminal (tests; 0 = ask). */
void ttyline_set_width(ttyline *t, int columns);

/* What the line shows. Unknown values are negative (or 0 for cell/run). */
typedef struct ttyline_view {
    int cell, cells;         /* 1-based cell, 0 = none started yet */
    int pp, tg, depth, conc; /* the cell's shape */
    int run, runs;           /* 1-based run of the cell, 0 = none yet */
    bool warmup;             /* the run is a discarded warm-up run */
    double tokens;           /* tokens received so far, whole benchmark */
    double tokens_per_s;     /* current run's rate; < 0 = unknown */
    double eta_s;            /* < 0 = unknown ("ETA ?") */
    bool ascii;              /* "|" between parts instead of U+00B7 */
} ttyline_view;

/* Writes the line's text (no control bytes) into out, NUL-terminated, at
 * most width - 1 columns wide so the cursor never reaches the last column.
 * When too wide, whole parts are dropped (the rate first, then the tokens,
 * the run and the ETA); the head alone is cut at the width. Returns the
 * length in bytes. cap must be at least 1. */
size_t ttyline_format(char *out, size_t cap, const ttyline_view *v, int width);
/* A count in at most four significant characters: 845, 1.2k, 12k, 120k, 3.4M. */
void ttyline_fmt_count(char *out, size_t cap, double value);
/* A duration for the ETA: 45s, 1m20s, 2h05m; "?" when negative or not finite. */
void ttyline_fmt_duration(char *out, size_t cap, double seconds);
/* Seconds left: the mean time of the runs_done finished runs (done_elapsed_ns
 * from the start to the end of the last one) times the runs left, less the
 * time already spent since the last one ended (since_done_ns); never below 0.
 * Returns -1 while no run has finished. */
double ttyline_eta_s(int64_t done_elapsed_ns, int64_t since_done_ns, int runs_done, int runs_total);
/* Display columns of UTF-8 text (every character one column wide). */
size_t ttyline_columns(const char *s);

#endif
