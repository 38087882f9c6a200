/* The Prometheus textfile (--prom-textfile FILE): the run's results as
 * gauges in the text exposition format that node-exporter's textfile
 * collector reads. One family after another (HELP and TYPE once, then its
 * samples in the order of the benchmark rows), so the output is the same
 * for the same results. Latencies are in seconds, as Prometheus names want;
 * a metric not measured in a cell has no sample there. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "client/cli.h"
#include "client/report.h"
#include "common/buf.h"

/* Appends v as a label value: backslash, double quote and newline escaped. */
static void label_value(buf *b, const char *v)
{
    buf_append_str(b, "\"");
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\')
            buf_append_str(b, "\\\\");
        else if (*p == '"')
            buf_append_str(b, "\\\"");
        else if (*p == '\n')
            buf_append_str(b, "\\n");
        else
            buf_append(b, p, 1);
    }
    buf_append_str(b, "\"");
}

static void cell_labels(buf *b, const char *model, const results_run *run)
{
    buf_append_str(b, "model=");
    label_value(b, model);
    buf_printf(b, ",depth=\"%d\",pp=\"%d\",tg=\"%d\",concurrency=\"%d\",phase=\"%s\"",
               run->context_size, run->prompt_size, run->response_size, run->concurrency,
               run->is_context_prefill_phase ? "context" : "inference");
}

static void sample(buf *b, const char *name, const char *model, const results_run *run,
                   const char *extra_label, double v)
{
    char num[64];
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(num, sizeof num, "%.0f", v); /* counts print as integers */
    else
        report_pyfloat(v, num, sizeof num);
    buf_printf(b, "%s{", name);
    cell_labels(b, model, run);
    if (extra_label)
        buf_printf(b, ",%s", extra_label);
    buf_printf(b, "} %s\n", num);
}

static void header(buf *b, const char *name, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* What to take from a results_metric. */
enum pick { PICK_MEAN, PICK_P50, PICK_P90, PICK_P95, PICK_P99 };

static double picked(const results_metric *m, enum pick p)
{
    switch (p) {
    case PICK_MEAN: return m->mean;
    case PICK_P50: return m->p50;
    case PICK_P90: return m->p90;
    case PICK_P95: return m->p95;
    default: return m->p99;
    }
}

static bool has_any(const results *r, size_t offset)
{
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_metric *m = (const results_metric *)((const char *)&r->runs[i] + offset);
        if (m->present)
            return true;
    }
    return false;
}

/* A throughput family: stat="mean|p50|p99" in tokens/s. */
static void throughput_family(buf *b, const results *r, const char *model, const char *name,
                              const char *help, size_t offset)
{
    static const struct {
        const char *label;
        enum pick pick;
    } stats[] = {{"stat=\"mean\"", PICK_MEAN}, {"stat=\"p50\"", PICK_P50}, {"stat=\"p99\"", PICK_P99}};
    if (!has_any(r, offset))
        return;
    header(b, name, help);
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_metric *m = (const results_metric *)((const char *)&r->runs[i] + offset);
        for (size_t s = 0; m->present && s < sizeof stats / sizeof stats[0]; s++) {
            double v = picked(m, stats[s].pick);
            if (isfinite(v))
                sample(b, name, model, &r->runs[i], stats[s].label, v);
        }
    }
}

/* A latency as a summary: quantile="0.5|0.9|0.95|0.99" samples, then _sum
 * and _count over the cell's values (so _sum / _count is the mean), all in
 * seconds (the results hold ms). */
static void latency_family(buf *b, const results *r, const char *model, const char *what,
                           const char *help, size_t offset)
{
    static const struct {
        const char *label;
        enum pick pick;
    } qs[] = {{"quantile=\"0.5\"", PICK_P50},
              {"quantile=\"0.9\"", PICK_P90},
              {"quantile=\"0.95\"", PICK_P95},
              {"quantile=\"0.99\"", PICK_P99}};
    if (!has_any(r, offset))
        return;
    char name[96], part[112];
    snprintf(name, sizeof name, "tokbench_%s_seconds", what);
    buf_printf(b, "# HELP %s %s, seconds, over the cell's requests.\n# TYPE %s summary\n", name,
               help, name);
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_metric *m = (const results_metric *)((const char *)&r->runs[i] + offset);
        if (!m->present || !isfinite(m->mean))
            continue;
        for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
            double v = picked(m, qs[q].pick) / 1000;
            if (isfinite(v))
                sample(b, name, model, &r->runs[i], qs[q].label, v);
        }
        snprintf(part, sizeof part, "%s_sum", name);
        sample(b, part, model, &r->runs[i], NULL, m->mean * (double)m->n / 1000);
        snprintf(part, sizeof part, "%s_count", name);
        sample(b, part, model, &r->runs[i], NULL, (double)m->n);
    }
}

static void count_family(buf *b, const results *r, const char *model, const char *name,
                         const char *help, bool failures)
{
    if (r->n_runs == 0)
        return;
    header(b, name, help);
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        sample(b, name, model, run, NULL, failures ? run->n_errors : run->n_requests);
    }
}

int report_prom(const results *r, FILE *f)
{
    const char *model = r->row_model ? r->row_model : r->model ? r->model : "";
    buf b;
    buf_init(&b, 0);
    header(&b, "tokbench_info", "The run that wrote this file (value always 1).");
    buf_append_str(&b, "tokbench_info{model=");
    label_value(&b, model);
    buf_append_str(&b, ",tokbench_version=");
    label_value(&b, TOKBENCH_VERSION);
    buf_append_str(&b, ",llama_benchy_version=");
    label_value(&b, r->version ? r->version : TOKBENCH_COMPAT_VERSION);
    buf_append_str(&b, ",latency_mode=");
    label_value(&b, r->latency_mode ? r->latency_mode : "");
    buf_append_str(&b, ",date=");
    label_value(&b, r->timestamp ? r->timestamp : "");
    buf_append_str(&b, "} 1\n");

    throughput_family(&b, r, model, "tokbench_pp_tokens_per_second",
                      "Prompt processing throughput (llama-benchy pp t/s), tokens per second.",
                      offsetof(results_run, pp_throughput));
    throughput_family(&b, r, model, "tokbench_tg_tokens_per_second",
                      "Token generation throughput (llama-benchy tg t/s), tokens per second.",
                      offsetof(results_run, tg_throughput));
    throughput_family(&b, r, model, "tokbench_peak_tokens_per_second",
                      "Peak generation throughput (llama-benchy peak t/s), tokens per second.",
                      offsetof(results_run, peak_throughput));
    latency_family(&b, r, model, "ttft", "Time to first token (e2e_ttft minus the latency)",
                   offsetof(results_run, ttft));
    latency_family(&b, r, model, "e2e_ttft", "End-to-end time to first token",
                   offsetof(results_run, e2e_ttft));
    latency_family(&b, r, model, "itl", "Inter-token latency", offsetof(results_run, itl));
    count_family(&b, r, model, "tokbench_requests", "Measured requests in the cell.", false);
    count_family(&b, r, model, "tokbench_failures", "Failed requests in the cell.", true);
    int rc = buf_write_file(&b, f, 0);
    buf_free(&b);
    return rc;
}
