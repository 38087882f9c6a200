/* Placeholder until the terminal progress line lands (this session). */
#include "client/ttyline.h"

ttyline *ttyline_open(FILE *f, int total_cells, int runs_per_cell, int64_t now_ns)
{
    (void)f;
    (void)total_cells;
    (void)runs_per_cell;
    (void)now_ns;
    return NULL;
}
void ttyline_cell(ttyline *t, int64_t now_ns, int cell, int pp, int tg, int depth, int conc)
{
    (void)t, (void)now_ns, (void)cell, (void)pp, (void)tg, (void)depth, (void)conc;
}
void ttyline_run(ttyline *t, int64_t now_ns, int run, int runs, bool warmup)
{
    (void)t, (void)now_ns, (void)run, (void)runs, (void)warmup;
}
void ttyline_tokens(ttyline *t, int64_t now_ns, int n)
{
    (void)t, (void)now_ns, (void)n;
}
void ttyline_close(ttyline *t)
{
    (void)t;
}
