/* The markdown table, byte-compatible with llama-benchy's
 * tabulate(tablefmt="pipe", colalign=(left, right, ...)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/xalloc.h"
#include "report.h"

/* llama-benchy's 9 columns, two per --percentiles entry, one for
 * --server-columns. */
#define MD_MAX_PCT 8
#define MD_MAX_COLS (9 + 2 * MD_MAX_PCT + 1)

static const char NO_RESULTS[] = "No results collected. Check if the model is generating tokens.";

/* Display width: tabulate counts code points (Python len), not bytes. */
static size_t width_of(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void cell_metric(char *out, size_t size, const results_metric *m)
{
    if (!m || !m->present)
        out[0] = '\0';
    else
        snprintf(out, size, "%.2f \xc2\xb1 %.2f", m->mean, m->std);
}

typedef struct md_table {
    size_t n_cols, n_rows, cap_rows;
    char (*cells)[MD_MAX_COLS][512];
} md_table;

static char *new_row(md_table *t)
{
    if (t->n_rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 16;
        t->cells = xrealloc(t->cells, t->cap_rows * sizeof *t->cells);
    }
    memset(t->cells[t->n_rows], 0, sizeof *t->cells);
    return t->cells[t->n_rows++][0];
}

static void add_row(md_table *t, const results *r, const results_run *run, int kind)
{
    int multi = r->max_concurrency > 1;
    const results_metric *ts = kind == 0 ? &run->pp_throughput : &run->tg_throughput;
    const results_metric *ts_req = kind == 0 ? &run->pp_req_throughput : &run->tg_req_throughput;
    const results_metric *peak = kind == 0 ? NULL : &run->peak_throughput;
    const results_metric *peak_req = kind == 0 ? NULL : &run->peak_req_throughput;
    const results_metric *lat[3] = {NULL, NULL, NULL};
    if (kind == 0) {
        lat[0] = &run->ttfr;
        lat[1] = &run->est_ppt;
        lat[2] = &run->e2e_ttft;
    }
    new_row(t);
    char(*row)[512] = t->cells[t->n_rows - 1];
    size_t c = 0;
    snprintf(row[c++], 512, "%s", r->row_model ? r->row_model : "Unknown");
    results_test_name(r, run, kind, row[c++], 512);
    cell_metric(row[c++], 512, ts);
    if (multi)
        cell_metric(row[c++], 512, ts_req);
    cell_metric(row[c++], 512, peak);
    if (multi)
        cell_metric(row[c++], 512, peak_req);
    for (int i = 0; i < 3; i++)
        cell_metric(row[c++], 512, lat[i]);
    /* --percentiles: e2e_ttft on pp rows, itl on tg rows. */
    size_t np = r->n_percentiles < MD_MAX_PCT ? r->n_percentiles : MD_MAX_PCT;
    for (size_t k = 0; k < np; k++) {
        const double *v = kind == 0 ? run->pct_e2e_ttft_ms : NULL;
        if (v && !isnan(v[k]))
            snprintf(row[c], 512, "%.2f", v[k]);
        c++;
    }
    for (size_t k = 0; k < np; k++) {
        const double *v = kind == 1 ? run->pct_itl_ms : NULL;
        if (v && !isnan(v[k]))
            snprintf(row[c], 512, "%.2f", v[k]);
        c++;
    }
    if (r->server_columns)
        cell_metric(row[c++], 512, kind == 0 ? &run->server_pp : &run->server_tg);
}

/* Header of a percentile column, e.g. "e2e_ttft p95 (ms)", "itl p99.9 (ms)". */
static void pct_header(char *out, size_t size, const char *metric, double p)
{
    snprintf(out, size, "%s p%g (ms)", metric, p);
}

/* Builds the whole report text into out (no final newline). */
static void render(const results *r, buf *out)
{
    md_table t = {0, 0, 0, NULL};
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        if (run->pp_throughput.present)
            add_row(&t, r, run, 0);
        if (run->tg_throughput.present || run->peak_throughput.present)
            add_row(&t, r, run, 1);
    }
    if (t.n_rows == 0) {
        buf_append_str(out, NO_RESULTS);
        return;
    }
    int multi = r->max_concurrency > 1;
    const char *headers_1[] = {"model", "test", "t/s", "peak t/s", "ttfr (ms)", "est_ppt (ms)",
                               "e2e_ttft (ms)"};
    const char *headers_n[] = {"model", "test", "t/s (total)", "t/s (req)", "peak t/s",
                               "peak t/s (req)", "ttfr (ms)", "est_ppt (ms)", "e2e_ttft (ms)"};
    const char *headers[MD_MAX_COLS];
    size_t n_cols = multi ? 9 : 7;
    for (size_t c = 0; c < n_cols; c++)
        headers[c] = multi ? headers_n[c] : headers_1[c];
    char pct_names[2 * MD_MAX_PCT][64];
    size_t np = r->n_percentiles < MD_MAX_PCT ? r->n_percentiles : MD_MAX_PCT;
    for (size_t k = 0; k < np; k++) {
        pct_header(pct_names[k], sizeof pct_names[k], "e2e_ttft", r->percentiles[k]);
        pct_header(pct_names[np + k], sizeof pct_names[np + k], "itl", r->percentiles[k]);
    }
    for (size_t k = 0; k < 2 * np; k++)
        headers[n_cols++] = pct_names[k];
    if (r->server_columns)
        headers[n_cols++] = "server t/s";
    size_t widths[MD_MAX_COLS];
    for (size_t c = 0; c < n_cols; c++) {
        widths[c] = width_of(headers[c]) + 2; /* tabulate's MIN_PADDING */
        for (size_t i = 0; i < t.n_rows; i++) {
            size_t w = width_of(t.cells[i][c]);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    /* Column 0 is left-aligned, the rest right-aligned. */
    for (size_t line = 0; line < t.n_rows + 2; line++) {
        if (line)
            buf_append_str(out, "\n");
        if (line == 1) {
            for (size_t c = 0; c < n_cols; c++) {
                buf_append_str(out, "|");
                if (c == 0)
                    buf_append_str(out, ":");
                for (size_t k = 0; k < widths[c] + 1; k++)
                    buf_append_str(out, "-");
                if (c != 0)
                    buf_append_str(out, ":");
            }
            buf_append_str(out, "|");
            continue;
        }
        for (size_t c = 0; c < n_cols; c++) {
            const char *s = line == 0 ? headers[c] : t.cells[line - 2][c];
            size_t pad = widths[c] - width_of(s);
            buf_append_str(out, "| ");
            if (c != 0)
                buf_printf(out, "%*s", (int)pad, "");
            buf_append_str(out, s);
            if (c == 0)
                buf_printf(out, "%*s", (int)pad, "");
            buf_append_str(out, " ");
        }
        buf_append_str(out, "|");
    }
    free(t.cells);
}

static int emit(const results *r, FILE *f, int newline)
{
    buf out;
    buf_init(&out, 0);
    render(r, &out);
    int rc = buf_write_file(&out, f, newline);
    buf_free(&out);
    return rc;
}

int report_md(const results *r, FILE *f)
{
    return emit(r, f, 1);
}

int report_md_file(const results *r, FILE *f)
{
    return emit(r, f, 0);
}
