/* The HTML report: one self-contained page (inline CSS, inline SVG drawn by
 * client/svg.c, no script, nothing fetched) with the run's metadata, the
 * markdown report's table, four charts, the load figures and SLO verdicts.
 * Like the other writers it only lays out what the results hold; the output
 * depends on nothing else (no clock, no environment), so it is golden-tested. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../common/buf.h"
#include "../common/xalloc.h"
#include "report.h"
#include "svg.h"

/* Lines per chart beyond which the rest are left out (and said so). */
#define MAX_LINES 24
#define MAX_TIMELINE_REQUESTS 64

static const char NO_RESULTS[] = "No results collected. Check if the model is generating tokens.";

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0;background:#f4f5f7;color:#1d2330}\n"
    "main{max-width:1240px;margin:0 auto;padding:16px 24px 40px}\n"
    "h1{font-size:1.6em;margin:8px 0 4px}h2{font-size:1.2em;margin:28px 0 10px;"
    "border-bottom:1px solid #d5d9e0;padding-bottom:4px}\n"
    ".sub{color:#5a6270;margin:0 0 8px}\n"
    "dl.meta{display:grid;grid-template-columns:max-content auto;gap:4px 18px;margin:0;"
    "background:#fff;padding:12px 16px;border:1px solid #dde1e7;border-radius:6px}\n"
    "dl.meta dt{color:#5a6270}dl.meta dd{margin:0;font-weight:600}\n"
    "table{border-collapse:collapse;background:#fff;font-size:0.84em;"
    "border:1px solid #dde1e7}\n"
    "th,td{padding:4px 7px;border-bottom:1px solid #e6e9ee;white-space:nowrap}\n"
    "th{background:#eef1f5;text-align:right}td{text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "th:first-child,td:first-child,td.l,th.l,table.results td:nth-child(2),"
    "table.results th:nth-child(2){text-align:left}\n"
    "tr.tg td{border-bottom:2px solid #d5d9e0}\n"
    ".wide{overflow-x:auto}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}\n"
    "figure{margin:0;background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:6px}\n"
    "figcaption{font-size:0.85em;color:#5a6270;max-width:560px;padding:4px 6px}\n"
    "svg.chart .bg{fill:#fff}svg.chart .grid{stroke:#e3e6eb;stroke-width:1}\n"
    "svg.chart .tickmark,svg.chart .axis{stroke:#4a5160;stroke-width:1;fill:none}\n"
    "svg.chart text{font-family:inherit;fill:#2c3340}\n"
    "svg.chart .ctitle{font-size:15px;font-weight:600}svg.chart .tick{font-size:11px}\n"
    "svg.chart .alabel{font-size:12px}svg.chart .ltext{font-size:11px}\n"
    "svg.chart .note{font-size:13px;fill:#8a909c}\n"
    "svg.chart .legend rect{fill:#fff;fill-opacity:0.88;stroke:#cfd4dc}\n"
    ".verdict{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:700;"
    "color:#fff}\n"
    ".met{background:#2a9d3a}.breached{background:#c8323c}.none{background:#8a909c}\n"
    ".empty{background:#fff;border:1px solid #dde1e7;padding:14px;border-radius:6px}\n"
    "ul.answers{background:#fff;border:1px solid #dde1e7;border-radius:6px;"
    "padding:10px 10px 10px 32px;margin:0}ul.answers li{margin:3px 0}\n"
    "footer{margin-top:32px;color:#8a909c;font-size:0.85em}\n";

/* Numbers in the runner's extras are cJSON numbers or raw items holding
 * report_pyfloat text; NAN when absent or of another type. */
static double json_num(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsRaw(v) && v->valuestring)
        return strtod(v->valuestring, NULL);
    return NAN;
}

static const cJSON *json_get(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = json_get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void esc(buf *out, const char *s)
{
    svg_escape(out, s);
}

static void cell_fixed(buf *out, double v, const char *suffix)
{
    if (isfinite(v))
        buf_printf(out, "<td>%.2f%s</td>", v, suffix);
    else
        buf_append_str(out, "<td></td>");
}

static void cell_metric(buf *out, const results_metric *m)
{
    if (m && m->present)
        buf_printf(out, "<td>%.2f \xc2\xb1 %.2f</td>", m->mean, m->std);
    else
        buf_append_str(out, "<td></td>");
}

static void meta_item(buf *out, const char *name, const char *value)
{
    buf_printf(out, "<dt>%s</dt><dd>", name);
    esc(out, value && *value ? value : "unknown");
    buf_append_str(out, "</dd>\n");
}

static void write_meta(const results *r, buf *out)
{
    char text[128];
    buf_append_str(out, "<section id=\"run\">\n<h2>Run</h2>\n<dl class=\"meta\">\n");
    meta_item(out, "Model", r->model ? r->model : r->row_model);
    meta_item(out, "Date", r->timestamp);
    const char *tv = json_str(r->meta_extra, "tokbench_version");
    snprintf(text, sizeof text, "llama-benchy %s%s%s", r->version ? r->version : "?",
             tv ? ", tokbench " : "", tv ? tv : "");
    meta_item(out, "Version", text);
    if (r->latency_mode) {
        snprintf(text, sizeof text, "%s (%.2f ms)", r->latency_mode, r->latency_ms);
        meta_item(out, "Latency mode", text);
    } else {
        meta_item(out, "Latency mode", NULL);
    }
    snprintf(text, sizeof text, "%d", r->max_concurrency);
    meta_item(out, "Max concurrency", text);
    const char *lm = json_str(r->meta_extra, "load_mode");
    if (lm)
        meta_item(out, "Load mode", lm);
    meta_item(out, "Prefix caching",
              r->version ? (r->prefix_caching_enabled ? "on" : "off") : NULL);
    const char *method = json_str(r->meta_extra, "prompt_count_method");
    if (method && r->prompt_count_source) {
        snprintf(text, sizeof text, "%s (%s)", r->prompt_count_source, method);
        meta_item(out, "Prompt count source", text);
    } else {
        meta_item(out, "Prompt count source", r->prompt_count_source);
    }
    buf_append_str(out, "</dl>\n</section>\n");
}

static int has_row(const results_run *run, int kind)
{
    return kind == 0 ? run->pp_throughput.present
                     : run->tg_throughput.present || run->peak_throughput.present;
}

static size_t count_rows(const results *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        n += (size_t)has_row(&r->runs[i], 0) + (size_t)has_row(&r->runs[i], 1);
    return n;
}

/* The markdown report's table, same columns and cells. */
static void write_table(const results *r, buf *out)
{
    int multi = r->max_concurrency > 1;
    buf_append_str(out, "<section id=\"results\">\n<h2>Results</h2>\n");
    if (count_rows(r) == 0) {
        buf_printf(out, "<p class=\"empty\">%s</p>\n</section>\n", NO_RESULTS);
        return;
    }
    buf_append_str(out, "<div class=\"wide\"><table class=\"results\">\n<thead><tr>");
    const char *h1[] = {"model",     "test",         "t/s",          "peak t/s",
                        "ttfr (ms)", "est_ppt (ms)", "e2e_ttft (ms)"};
    const char *hn[] = {"model",          "test",      "t/s (total)",  "t/s (req)",    "peak t/s",
                        "peak t/s (req)", "ttfr (ms)", "est_ppt (ms)", "e2e_ttft (ms)"};
    size_t nh = multi ? 9 : 7;
    for (size_t c = 0; c < nh; c++)
        buf_printf(out, "<th>%s</th>", multi ? hn[c] : h1[c]);
    for (int k = 0; k < 2; k++)
        for (size_t p = 0; p < r->n_percentiles; p++)
            buf_printf(out, "<th>%s p%g (ms)</th>", k == 0 ? "e2e_ttft" : "itl", r->percentiles[p]);
    buf_append_str(out, "</tr></thead>\n<tbody>\n");
    char name[256];
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        for (int kind = 0; kind < 2; kind++) {
            if (!has_row(run, kind))
                continue;
            buf_printf(out, "<tr class=\"%s\"><td>", kind == 0 ? "pp" : "tg");
            esc(out, r->row_model ? r->row_model : "Unknown");
            results_test_name(r, run, kind, name, sizeof name);
            buf_append_str(out, "</td><td>");
            esc(out, name);
            buf_append_str(out, "</td>");
            cell_metric(out, kind == 0 ? &run->pp_throughput : &run->tg_throughput);
            if (multi)
                cell_metric(out, kind == 0 ? &run->pp_req_throughput : &run->tg_req_throughput);
            cell_metric(out, kind == 0 ? NULL : &run->peak_throughput);
            if (multi)
                cell_metric(out, kind == 0 ? NULL : &run->peak_req_throughput);
            cell_metric(out, kind == 0 ? &run->ttfr : NULL);
            cell_metric(out, kind == 0 ? &run->est_ppt : NULL);
            cell_metric(out, kind == 0 ? &run->e2e_ttft : NULL);
            for (int k = 0; k < 2; k++)
                for (size_t p = 0; p < r->n_percentiles; p++) {
                    const double *v = k == 0 ? run->pct_e2e_ttft_ms : run->pct_itl_ms;
                    cell_fixed(out, v && k == kind ? v[p] : NAN, "");
                }
            buf_append_str(out, "</tr>\n");
        }
    }
    buf_append_str(out, "</tbody>\n</table></div>\n</section>\n");
}

/* A measured (not context-phase) cell's shape, for grouping runs into lines. */
typedef struct shape {
    int depth, pp, tg, concurrency;
} shape;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Collects the distinct values of one run field (measured cells only) as
 * the sorted categories of a chart. */
static void categories(const results *r, svg_chart *c, int by_depth)
{
    c->x_scale = SVG_X_CATEGORY;
    c->n_categories = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        if (run->is_context_prefill_phase)
            continue;
        double v = by_depth ? run->context_size : run->concurrency;
        size_t k = 0;
        while (k < c->n_categories && c->categories[k] != v)
            k++;
        if (k == c->n_categories && k < SVG_MAX_CATEGORIES)
            c->categories[c->n_categories++] = v;
    }
    qsort(c->categories, c->n_categories, sizeof(double), cmp_double);
}

/* Distinct line keys: for throughput charts (concurrency, pp, tg), for the
 * TTFT chart (depth, pp, tg). Returns how many were found (<= max). */
static size_t line_keys(const results *r, int by_depth, shape *keys, size_t max, size_t *dropped)
{
    size_t n = 0;
    *dropped = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        if (run->is_context_prefill_phase)
            continue;
        shape s = {by_depth ? 0 : run->context_size, run->prompt_size, run->response_size,
                   by_depth ? run->concurrency : 0};
        size_t k = 0;
        while (k < n && memcmp(&keys[k], &s, sizeof s) != 0)
            k++;
        if (k < n)
            continue;
        if (n < max)
            keys[n++] = s;
        else
            (*dropped)++;
    }
    return n;
}

static int distinct_pp_tg(const shape *keys, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (keys[i].pp != keys[0].pp || keys[i].tg != keys[0].tg)
            return 1;
    return 0;
}

static void figure_open(buf *out, const char *id)
{
    buf_printf(out, "<figure id=\"fig-%s\">\n", id);
}

static void figure_close(buf *out, const char *caption)
{
    buf_append_str(out, "<figcaption>");
    esc(out, caption);
    buf_append_str(out, "</figcaption>\n</figure>\n");
}

/* pp or tg total throughput (t/s) against depth, one line per concurrency
 * (and per pp/tg size when the matrix has several). */
static void chart_throughput(const results *r, buf *out, int tg)
{
    svg_chart c;
    memset(&c, 0, sizeof c);
    c.id = tg ? "chart-tg" : "chart-pp";
    c.title = tg ? "tg throughput against depth" : "pp throughput against depth";
    c.x_label = "depth (context tokens)";
    c.y_label = tg ? "tg t/s (total)" : "pp t/s (total)";
    c.y_from_zero = 1;
    categories(r, &c, 1);
    shape keys[MAX_LINES];
    size_t dropped;
    size_t nk = line_keys(r, 1, keys, MAX_LINES, &dropped);
    int sizes = distinct_pp_tg(keys, nk);

    svg_range_reset(&c);
    double *xs = xcalloc(r->n_runs + 1, sizeof(double));
    double *ys = xcalloc(r->n_runs + 1, sizeof(double));
    size_t points = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        const results_metric *m = tg ? &run->tg_throughput : &run->pp_throughput;
        if (!run->is_context_prefill_phase && m->present) {
            svg_range_add(&c, run->context_size, m->mean);
            points += isfinite(m->mean) != 0;
        }
    }
    const char *names[MAX_LINES], *colours[MAX_LINES];
    char name_buf[MAX_LINES][64];
    for (size_t k = 0; k < nk; k++) {
        if (sizes)
            snprintf(name_buf[k], sizeof name_buf[k], "c%d pp%d tg%d", keys[k].concurrency,
                     keys[k].pp, keys[k].tg);
        else
            snprintf(name_buf[k], sizeof name_buf[k], "c%d", keys[k].concurrency);
        names[k] = name_buf[k];
        colours[k] = svg_colour(k);
    }
    if (points) {
        c.legend_width_px = svg_legend_width_px(names, nk);
        c.legend_rows = nk;
    }
    figure_open(out, c.id);
    svg_begin(out, &c);
    for (size_t k = 0; k < nk; k++) {
        size_t n = 0;
        for (size_t i = 0; i < r->n_runs; i++) {
            const results_run *run = &r->runs[i];
            const results_metric *m = tg ? &run->tg_throughput : &run->pp_throughput;
            if (run->is_context_prefill_phase || run->concurrency != keys[k].concurrency ||
                run->prompt_size != keys[k].pp || run->response_size != keys[k].tg)
                continue;
            xs[n] = run->context_size;
            ys[n] = m->present ? m->mean : NAN;
            n++;
        }
        svg_series(out, &c, xs, ys, n, colours[k], SVG_SOLID, 1, names[k]);
    }
    if (points == 0)
        svg_note(out, &c, "no data");
    else
        svg_legend(out, &c, names, colours, NULL, nk);
    svg_end(out);
    char caption[256];
    snprintf(caption, sizeof caption,
             "Mean %s throughput of each cell (all requests of a burst together), one line per "
             "concurrency.%s",
             tg ? "token generation" : "prompt processing",
             dropped ? " Some lines were left out (too many)." : "");
    figure_close(out, caption);
    free(xs);
    free(ys);
}

/* p50, p90 and p99 of e2e_ttft (ms) against concurrency: colour by cell
 * shape (depth, pp, tg), line style by percentile. */
static void chart_ttft(const results *r, buf *out)
{
    svg_chart c;
    memset(&c, 0, sizeof c);
    c.id = "chart-ttft";
    c.title = "TTFT percentiles against concurrency";
    c.x_label = "concurrency";
    c.y_label = "e2e_ttft (ms)";
    c.y_from_zero = 1;
    categories(r, &c, 0);
    shape keys[MAX_LINES / 3];
    size_t dropped;
    size_t nk = line_keys(r, 0, keys, MAX_LINES / 3, &dropped);
    int multi_shape = nk > 1;
    int sizes = distinct_pp_tg(keys, nk);

    svg_range_reset(&c);
    size_t points = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        const results_metric *m = &run->e2e_ttft;
        if (run->is_context_prefill_phase || !m->present)
            continue;
        svg_range_add(&c, run->concurrency, m->p50);
        svg_range_add(&c, run->concurrency, m->p99);
        svg_range_add(&c, run->concurrency, m->p90);
        points += isfinite(m->p50) != 0;
    }
    double *xs = xcalloc(r->n_runs + 1, sizeof(double));
    double *ys = xcalloc(r->n_runs + 1, sizeof(double));
    const char *names[MAX_LINES], *colours[MAX_LINES];
    enum svg_dash dash[MAX_LINES];
    char name_buf[MAX_LINES][80];
    size_t nl = 0;
    static const char *const PCT[] = {"p50", "p90", "p99"};
    for (size_t k = 0; k < nk; k++)
        for (int p = 0; p < 3; p++, nl++) {
            if (multi_shape && sizes)
                snprintf(name_buf[nl], sizeof name_buf[nl], "%s d%d pp%d tg%d", PCT[p],
                         keys[k].depth, keys[k].pp, keys[k].tg);
            else if (multi_shape)
                snprintf(name_buf[nl], sizeof name_buf[nl], "%s d%d", PCT[p], keys[k].depth);
            else
                snprintf(name_buf[nl], sizeof name_buf[nl], "%s", PCT[p]);
            names[nl] = name_buf[nl];
            colours[nl] = svg_colour(multi_shape ? k : (size_t)p);
            dash[nl] = (enum svg_dash)p;
        }
    if (points) {
        c.legend_width_px = svg_legend_width_px(names, nl);
        c.legend_rows = nl;
    }
    figure_open(out, c.id);
    svg_begin(out, &c);
    for (size_t k = 0; k < nk; k++) {
        for (int p = 0; p < 3; p++) {
            size_t li = k * 3 + (size_t)p;
            size_t n = 0;
            for (size_t i = 0; i < r->n_runs; i++) {
                const results_run *run = &r->runs[i];
                const results_metric *m = &run->e2e_ttft;
                if (run->is_context_prefill_phase || run->context_size != keys[k].depth ||
                    run->prompt_size != keys[k].pp || run->response_size != keys[k].tg)
                    continue;
                xs[n] = run->concurrency;
                ys[n] = !m->present ? NAN : p == 0 ? m->p50 : p == 1 ? m->p90 : m->p99;
                n++;
            }
            svg_series(out, &c, xs, ys, n, colours[li], dash[li], 1, names[li]);
        }
    }
    if (points == 0)
        svg_note(out, &c, "no data");
    else
        svg_legend(out, &c, names, colours, dash, nl);
    svg_end(out);
    figure_close(out, dropped ? "Time to first token seen by the client (request sent to first "
                                "token), percentiles over the cell's requests. Some cell shapes "
                                "were left out (too many)."
                              : "Time to first token seen by the client (request sent to first "
                                "token), percentiles over the cell's requests.");
    free(xs);
    free(ys);
}

/* The cell whose requests the timeline shows: the measured cell with the
 * highest concurrency that has request records (the last such, i.e. the
 * deepest); NULL when there is none. */
static const results_run *timeline_cell(const results *r)
{
    const results_run *best = NULL;
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        if (run->is_context_prefill_phase || run->n_request_records == 0)
            continue;
        if (!best || run->concurrency >= best->concurrency)
            best = run;
    }
    return best;
}

/* Cumulative tokens of each request of the cell's first run (burst) against
 * time since that run's first request was sent: flat until the first token,
 * then up to the request's token count at its last token. */
static void chart_timeline(const results *r, buf *out)
{
    svg_chart c;
    memset(&c, 0, sizeof c);
    c.id = "chart-timeline";
    c.x_label = "time since the run started (s)";
    c.y_label = "tokens generated";
    c.y_from_zero = 1;
    c.x_scale = SVG_X_LINEAR;
    const results_run *run = timeline_cell(r);
    char title[256] = "Per-request token timeline";
    if (run) {
        char name[128];
        results_test_name(r, run, 1, name, sizeof name);
        snprintf(title, sizeof title, "Per-request token timeline: %s", name);
    }
    c.title = title;
    svg_range_reset(&c);
    int64_t t0 = 0;
    int have_t0 = 0, batch = 0;
    size_t shown = 0, failed = 0, total = 0;
    if (run) {
        batch = run->requests[0].batch;
        for (size_t i = 0; i < run->n_request_records; i++) {
            const results_request *q = &run->requests[i];
            if (q->batch != batch)
                continue;
            if (!have_t0 || q->start_ns < t0)
                t0 = q->start_ns;
            have_t0 = 1;
        }
        for (size_t i = 0; i < run->n_request_records; i++) {
            const results_request *q = &run->requests[i];
            if (q->batch != batch)
                continue;
            total++;
            if (q->error || !q->first_token_ns) {
                failed++;
                continue;
            }
            svg_range_add(&c, (double)(q->start_ns - t0) / 1e9, 0);
            svg_range_add(&c, (double)((q->end_ns ? q->end_ns : q->last_token_ns) - t0) / 1e9,
                          q->tokens);
        }
    }
    figure_open(out, "chart-timeline");
    svg_begin(out, &c);
    for (size_t i = 0; run && i < run->n_request_records; i++) {
        const results_request *q = &run->requests[i];
        if (q->batch != batch || q->error || !q->first_token_ns)
            continue;
        if (shown == MAX_TIMELINE_REQUESTS)
            break;
        int64_t last = q->last_token_ns ? q->last_token_ns : q->first_token_ns;
        int64_t end = q->end_ns ? q->end_ns : last;
        double xs[5] = {(double)(q->start_ns - t0) / 1e9, (double)(q->first_token_ns - t0) / 1e9,
                        (double)(q->first_token_ns - t0) / 1e9, (double)(last - t0) / 1e9,
                        (double)(end - t0) / 1e9};
        double ys[5] = {0, 0, q->tokens > 0 ? 1 : 0, q->tokens, q->tokens};
        char name[160];
        snprintf(name, sizeof name, "request %zu%s%s: %d tokens", shown + 1, q->id ? " " : "",
                 q->id ? q->id : "", q->tokens);
        svg_series(out, &c, xs, ys, 5, svg_colour(shown), SVG_SOLID, 0, name);
        shown++;
    }
    if (shown == 0)
        svg_note(out, &c, run ? "no successful request" : "no per-request records");
    svg_end(out);
    char caption[320];
    if (run)
        snprintf(caption, sizeof caption,
                 "Each line is one request of the first run of this cell (%zu request(s)%s%zu "
                 "failed%s): waiting from send to the first token, then its tokens up to the "
                 "last token (drawn at the average rate), then the end of the stream.",
                 total, ", ", failed,
                 shown < total - failed ? "; only the first ones are drawn" : "");
    else
        snprintf(caption, sizeof caption,
                 "These results carry no per-request records (e.g. a llama-benchy JSON).");
    figure_close(out, caption);
}

static void write_charts(const results *r, buf *out)
{
    buf_append_str(out, "<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n");
    chart_throughput(r, out, 0);
    chart_throughput(r, out, 1);
    chart_ttft(r, out);
    chart_timeline(r, out);
    buf_append_str(out, "</div>\n</section>\n");
}

static void cell_json_num(buf *out, const cJSON *v, double scale, const char *fmt_suffix)
{
    cell_fixed(out, json_num(v) * scale, fmt_suffix);
}

/* Load figures per cell (from each run's extras) and the SLO verdicts (from
 * the metadata's "slo" object, written by the runner's check). */
static void write_slo(const results *r, buf *out)
{
    buf_append_str(out, "<section id=\"slo\">\n<h2>Service levels</h2>\n");
    const cJSON *slo = json_get(r->meta_extra, "slo");
    if (!cJSON_IsObject(slo)) {
        buf_append_str(out, "<p class=\"sub\"><span class=\"verdict none\">no SLO</span> "
                            "No objectives were given (--slo), so there is no verdict and no "
                            "goodput.</p>\n");
    } else {
        const cJSON *met = json_get(slo, "met");
        int ok = cJSON_IsTrue(met);
        buf_printf(out,
                   "<p class=\"sub\"><span class=\"verdict %s\">%s</span> Objectives: "
                   "<code>",
                   ok ? "met" : "breached", ok ? "SLO met" : "SLO breached");
        esc(out, json_str(slo, "spec"));
        buf_append_str(out, "</code></p>\n");
        const cJSON *br = json_get(slo, "breaches");
        if (cJSON_IsArray(br) && cJSON_GetArraySize(br) > 0) {
            buf_append_str(out, "<table class=\"breaches\">\n<thead><tr><th class=\"l\">"
                                "objective</th><th class=\"l\">test</th><th>measured</th>"
                                "</tr></thead>\n<tbody>\n");
            const cJSON *b;
            cJSON_ArrayForEach(b, br)
            {
                buf_append_str(out, "<tr><td class=\"l\">");
                esc(out, json_str(b, "objective"));
                buf_append_str(out, "</td><td class=\"l\">");
                esc(out, json_str(b, "test"));
                buf_append_str(out, "</td>");
                double v = json_num(json_get(b, "value"));
                if (isfinite(v))
                    buf_printf(out, "<td>%.4g</td>", v);
                else
                    buf_append_str(out, "<td>not measured</td>");
                buf_append_str(out, "</tr>\n");
            }
            buf_append_str(out, "</tbody>\n</table>\n");
        }
    }

    size_t with_extra = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        with_extra += cJSON_IsObject(r->runs[i].extra) != 0;
    if (with_extra == 0) {
        buf_append_str(out, "</section>\n");
        return;
    }
    buf_append_str(out, "<h3>Load figures per cell</h3>\n<div class=\"wide\"><table "
                        "class=\"load\">\n<thead><tr><th class=\"l\">cell</th><th "
                        "class=\"l\">load mode</th><th>requests</th><th>errors</th><th>req/s"
                        "</th><th>error rate</th><th>goodput</th><th>e2el p50 (ms)</th><th>"
                        "e2el p99 (ms)</th><th class=\"l\">failure kinds</th></tr></thead>\n"
                        "<tbody>\n");
    char name[256];
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        if (!cJSON_IsObject(run->extra))
            continue;
        results_test_name(r, run, 0, name, sizeof name);
        buf_append_str(out, "<tr><td>");
        esc(out, name);
        buf_append_str(out, "</td><td class=\"l\">");
        esc(out, json_str(run->extra, "load_mode"));
        buf_printf(out, "</td><td>%d</td><td>%d</td>", run->n_requests, run->n_errors);
        cell_json_num(out, json_get(run->extra, "requests_per_second"), 1, "");
        cell_json_num(out, json_get(run->extra, "error_rate"), 100, " %");
        cell_json_num(out, json_get(run->extra, "goodput"), 100, " %");
        const cJSON *e2el = json_get(run->extra, "e2el");
        cell_json_num(out, json_get(e2el, "p50"), 1, "");
        cell_json_num(out, json_get(e2el, "p99"), 1, "");
        buf_append_str(out, "<td class=\"l\">");
        const results_failures *fl = &run->failures;
        for (size_t k = 0; k < fl->n_kinds; k++) {
            if (k)
                buf_append_str(out, ", ");
            esc(out, fl->kinds[k].kind);
            buf_printf(out, " &times;%d", fl->kinds[k].count);
        }
        if (fl->n_examples) {
            buf_append_str(out, "<br><span class=\"sub\">");
            esc(out, fl->examples[0]);
            buf_append_str(out, "</span>");
        }
        buf_append_str(out, "</td></tr>\n");
    }
    buf_append_str(out, "</tbody>\n</table></div>\n</section>\n");
}

/* The runner's capacity answers (metadata "context_sweep" and
 * "concurrency_knee"), when the matrix had two depths or concurrencies. */
static void write_capacity(const results *r, buf *out)
{
    const cJSON *sweeps = json_get(r->meta_extra, "context_sweep");
    const cJSON *knees = json_get(r->meta_extra, "concurrency_knee");
    int n_sweeps = cJSON_IsArray(sweeps) ? cJSON_GetArraySize(sweeps) : 0;
    int n_knees = cJSON_IsArray(knees) ? cJSON_GetArraySize(knees) : 0;
    if (n_sweeps + n_knees == 0)
        return;
    buf_append_str(out, "<section id=\"capacity\">\n<h2>Capacity</h2>\n<ul class=\"answers\">\n");
    const cJSON *it;
    if (n_sweeps)
        cJSON_ArrayForEach(it, sweeps)
        {
            double depth = json_num(json_get(it, "recommended_depth"));
            buf_printf(out, "<li>Recommended max context (pp%.0f, tg%.0f, c%.0f): ",
                       json_num(json_get(it, "pp")), json_num(json_get(it, "tg")),
                       json_num(json_get(it, "concurrency")));
            if (isfinite(depth))
                buf_printf(out, "<b>%.0f tokens</b>", depth);
            else
                buf_append_str(out, "<b>none</b> (no depth met the criteria)");
            const cJSON *cliffs = json_get(it, "cliffs"), *c;
            if (cJSON_IsArray(cliffs))
                cJSON_ArrayForEach(c, cliffs)
                {
                    buf_printf(out, "; tg drops %.0f%% from depth %.0f to %.0f",
                               json_num(json_get(c, "drop")) * 100,
                               json_num(json_get(c, "from_depth")),
                               json_num(json_get(c, "to_depth")));
                }
            buf_append_str(out, "</li>\n");
        }
    if (n_knees)
        cJSON_ArrayForEach(it, knees)
        {
            double knee = json_num(json_get(it, "knee_concurrency"));
            buf_printf(
                out, "<li>Concurrency knee (pp%.0f, tg%.0f, d%.0f): ", json_num(json_get(it, "pp")),
                json_num(json_get(it, "tg")), json_num(json_get(it, "depth")));
            if (isfinite(knee)) {
                const char *why = json_str(it, "reason");
                buf_printf(out, "<b>c%.0f</b>", knee);
                if (why) {
                    buf_append_str(out, " (");
                    esc(out, strcmp(why, "latency") == 0 ? "p95 request latency above twice p50"
                             : strcmp(why, "throughput") == 0
                                 ? "total throughput rose by 5% or less"
                                 : why);
                    buf_append_str(out, ")");
                }
            } else {
                buf_append_str(out, "<b>none</b> within the concurrencies measured");
            }
            buf_append_str(out, "</li>\n");
        }
    buf_append_str(out, "</ul>\n</section>\n");
}

static void render(const results *r, buf *out)
{
    buf_append_str(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, "
                        "initial-scale=1\">\n<title>tokbench report");
    const char *model = r->model ? r->model : r->row_model;
    if (model) {
        buf_append_str(out, ": ");
        esc(out, model);
    }
    buf_printf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", CSS);
    buf_append_str(out, "<h1>tokbench report</h1>\n<p class=\"sub\">");
    esc(out, model ? model : "unknown model");
    if (r->timestamp) {
        buf_append_str(out, " &middot; ");
        esc(out, r->timestamp);
    }
    buf_append_str(out, "</p>\n");
    write_meta(r, out);
    write_table(r, out);
    if (count_rows(r) > 0)
        write_charts(r, out);
    write_slo(r, out);
    write_capacity(r, out);
    const char *tv = json_str(r->meta_extra, "tokbench_version");
    buf_append_str(out, "<footer>Written by tokbench");
    if (tv) {
        buf_append_str(out, " ");
        esc(out, tv);
    }
    buf_append_str(out, " (llama-benchy-compatible results). Self-contained: no scripts, no "
                        "network.</footer>\n</main>\n</body>\n</html>\n");
}

int report_html(const results *r, FILE *f)
{
    buf out;
    buf_init(&out, 0);
    render(r, &out);
    int rc = buf_write_file(&out, f, 0);
    buf_free(&out);
    return rc;
}
