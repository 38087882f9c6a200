/* Report writers: the results as llama-benchy 0.4.0 prints them (markdown
 * table, JSON, CSV) and our extras. Writers take the results and a stream,
 * format, and do no maths. Each returns 0, or -1 when writing failed. */
#ifndef CLIENT_REPORT_H
#define CLIENT_REPORT_H

#include <stdio.h>

#include "results.h"

/* The tabulate "pipe" table llama-benchy prints, followed by one newline;
 * or its message "No results collected. Check if the model is generating
 * tokens." when there are no rows. Columns depend on r->max_concurrency. */
int report_md(const results *r, FILE *f);
/* Same text without the final newline (what llama-benchy writes to a
 * --save-result file). */
int report_md_file(const results *r, FILE *f);
/* JSON: llama-benchy's metadata keys, "benchmarks" with its keys in its order,
 * then our extras under new keys; indent 2, as Python's json.dumps(indent=2).
 * Ends with a newline. */
int report_json(const results *r, FILE *f);
/* Same JSON without the final newline (llama-benchy's --save-result file). */
int report_json_file(const results *r, FILE *f);
/* CSV with llama-benchy's header and CRLF line ends (Python csv module). */
int report_csv(const results *r, FILE *f);

/* One self-contained HTML page (no network: inline CSS and inline SVG charts
 * drawn here): the metadata, the table, pp and tg t/s against depth, TTFT
 * percentiles against concurrency, token timelines and SLO verdicts
 * (client/report_html.c). */
int report_html(const results *r, FILE *f);
/* Prometheus node-exporter textfile format: gauges per cell (client/report_prom.c). */
int report_prom(const results *r, FILE *f);

/* Formats v as Python's repr(float) does (shortest round-trip digits,
 * "1e-05", "100.0", "1e+16", "nan"): JSON and CSV numbers match
 * llama-benchy's byte for byte. Returns the length written. */
size_t report_pyfloat(double v, char *out, size_t size);

#endif
