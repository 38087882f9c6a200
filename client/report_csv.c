/* The CSV report as llama-benchy writes it with Python's csv.DictWriter:
 * excel dialect, minimal quoting, CRLF line ends, None as an empty field,
 * floats as repr(). */
#include <stdio.h>
#include <string.h>

#include "../common/buf.h"
#include "report.h"

static const char *const HEADERS[] = {
    "model",          "test_name",       "t_s_mean",     "t_s_std",
    "t_s_req_mean",   "t_s_req_std",     "peak_ts_mean", "peak_ts_std",
    "peak_ts_req_mean", "peak_ts_req_std", "ttfr_mean",  "ttfr_std",
    "est_ppt_mean",   "est_ppt_std",     "e2e_ttft_mean", "e2e_ttft_std",
};

static void field_str(buf *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        buf_append_str(out, s);
        return;
    }
    buf_append_str(out, "\"");
    for (; *s; s++) {
        if (*s == '"')
            buf_append_str(out, "\"");
        buf_append(out, s, 1);
    }
    buf_append_str(out, "\"");
}

static void field_metric(buf *out, const results_metric *m)
{
    char s[64];
    buf_append_str(out, ",");
    if (m && m->present) {
        report_pyfloat(m->mean, s, sizeof s);
        buf_append_str(out, s);
    }
    buf_append_str(out, ",");
    if (m && m->present) {
        report_pyfloat(m->std, s, sizeof s);
        buf_append_str(out, s);
    }
}

static void row(buf *out, const results *r, const results_run *run, int kind)
{
    char name[256];
    results_test_name(r, run, kind, name, sizeof name);
    field_str(out, r->row_model ? r->row_model : "Unknown");
    buf_append_str(out, ",");
    field_str(out, name);
    field_metric(out, kind == 0 ? &run->pp_throughput : &run->tg_throughput);
    field_metric(out, kind == 0 ? &run->pp_req_throughput : &run->tg_req_throughput);
    field_metric(out, kind == 0 ? NULL : &run->peak_throughput);
    field_metric(out, kind == 0 ? NULL : &run->peak_req_throughput);
    field_metric(out, kind == 0 ? &run->ttfr : NULL);
    field_metric(out, kind == 0 ? &run->est_ppt : NULL);
    field_metric(out, kind == 0 ? &run->e2e_ttft : NULL);
    buf_append_str(out, "\r\n");
}

int report_csv(const results *r, FILE *f)
{
    buf out;
    buf_init(&out, 0);
    for (size_t i = 0; i < sizeof HEADERS / sizeof HEADERS[0]; i++) {
        if (i)
            buf_append_str(&out, ",");
        buf_append_str(&out, HEADERS[i]);
    }
    buf_append_str(&out, "\r\n");
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        if (run->pp_throughput.present)
            row(&out, r, run, 0);
        if (run->tg_throughput.present || run->peak_throughput.present)
            row(&out, r, run, 1);
    }
    int ok = fwrite(out.data, 1, out.len, f) == out.len;
    buf_free(&out);
    return ok && !ferror(f) ? 0 : -1;
}
