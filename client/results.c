/* Turns a cell's finished requests into llama-benchy's BenchmarkRun values
 * (and our extras). All the maths of the reports happens here. */
#include "results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../common/xalloc.h"
#include "metrics.h"
#include "stats.h"

struct results_cell {
    results_cell_params p;
    char *model;
    char *prompt_count_source;
    /* Per-request values, seconds or tokens/s, unscaled. */
    stats pp_speeds, tg_speeds, ttft, ttfr, est_ppt, e2e_ttft, ttfc;
    stats batch_pp, batch_tg, peak, peak_req, peak_1s, peak_1s_req;
    stats pp_marginal, prompt_tokens, cached_tokens, server_pp, server_tg;
    double *itl;
    size_t n_itl, cap_itl;
    results_series_list total_series;
    size_t cap_total_series;
    results_series_list *req_series;
    size_t n_req_series, cap_req_series;
    results_request *requests;
    size_t n_requests_rec, cap_requests_rec;
    results_failures failures;
    int n_requests, n_errors, early_role;
    enum count_source worst_source;
    int batch_index;
};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void results_init(results *r)
{
    memset(r, 0, sizeof *r);
}

static void metric_free(results_metric *m)
{
    free(m->values);
    memset(m, 0, sizeof *m);
}

static void series_free(results_series *s)
{
    free(s->t_s);
    free(s->value);
    s->t_s = s->value = NULL;
    s->n = 0;
}

static void series_list_free(results_series_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        series_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void results_failures_add(results_failures *f, const char *kind, const char *reason)
{
    if (!kind || !kind[0])
        kind = FAIL_OTHER;
    f->count++;
    size_t k = 0;
    while (k < f->n_kinds && strcmp(f->kinds[k].kind, kind) < 0)
        k++;
    if (k < f->n_kinds && strcmp(f->kinds[k].kind, kind) == 0) {
        f->kinds[k].count++;
    } else {
        /* Kept sorted by kind, so the report does not depend on arrival order. */
        f->kinds = xrealloc(f->kinds, (f->n_kinds + 1) * sizeof *f->kinds);
        memmove(&f->kinds[k + 1], &f->kinds[k], (f->n_kinds - k) * sizeof *f->kinds);
        f->kinds[k] = (results_failure_kind){xstrdup(kind), 1};
        f->n_kinds++;
    }
    if (!reason || f->n_examples == RESULTS_FAILURE_EXAMPLES)
        return;
    for (size_t i = 0; i < f->n_examples; i++)
        if (strcmp(f->examples[i], reason) == 0)
            return;
    f->examples[f->n_examples++] = xstrdup(reason);
}

void results_failures_free(results_failures *f)
{
    for (size_t i = 0; i < f->n_kinds; i++)
        free(f->kinds[i].kind);
    free(f->kinds);
    for (size_t i = 0; i < f->n_examples; i++)
        free(f->examples[i]);
    memset(f, 0, sizeof *f);
}

static void run_free(results_run *run)
{
    results_metric *ms[] = {&run->pp_throughput, &run->pp_req_throughput, &run->tg_throughput,
                            &run->tg_req_throughput, &run->peak_throughput,
                            &run->peak_req_throughput, &run->ttfr, &run->est_ppt, &run->e2e_ttft,
                            &run->ttft, &run->ttfc, &run->itl, &run->peak_1s, &run->peak_1s_req,
                            &run->pp_marginal, &run->prompt_tokens, &run->cached_tokens,
                            &run->server_pp, &run->server_tg};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        metric_free(ms[i]);
    series_list_free(&run->total_series);
    for (size_t i = 0; i < run->n_req_series; i++)
        series_list_free(&run->req_series[i]);
    free(run->req_series);
    for (size_t i = 0; i < run->n_request_records; i++) {
        free(run->requests[i].id);
        free(run->requests[i].error);
        free(run->requests[i].error_kind);
    }
    results_failures_free(&run->failures);
    free(run->requests);
    free(run->prompt_count_source);
    cJSON_Delete(run->extra);
    free(run->pct_e2e_ttft_ms);
    free(run->pct_itl_ms);
}

void results_free(results *r)
{
    for (size_t i = 0; i < r->n_runs; i++)
        run_free(&r->runs[i]);
    free(r->runs);
    free(r->version);
    free(r->timestamp);
    free(r->latency_mode);
    free(r->model);
    free(r->prompt_count_source);
    free(r->row_model);
    cJSON_Delete(r->meta_extra);
    free(r->percentiles);
    results_init(r);
}

void results_set_meta(results *r, const results_meta *m)
{
    free(r->version);
    free(r->timestamp);
    free(r->latency_mode);
    free(r->model);
    free(r->prompt_count_source);
    r->version = dup_or_null(m->version);
    r->timestamp = dup_or_null(m->timestamp);
    r->latency_mode = dup_or_null(m->latency_mode);
    r->model = dup_or_null(m->model);
    r->prompt_count_source = dup_or_null(m->prompt_count_source);
    r->latency_ms = m->latency_ms;
    r->prefix_caching_enabled = m->prefix_caching_enabled;
    r->max_concurrency = m->max_concurrency;
}

results_cell *results_cell_new(const results_cell_params *p)
{
    results_cell *c = xcalloc(1, sizeof *c);
    c->p = *p;
    c->model = dup_or_null(p->model);
    c->prompt_count_source = dup_or_null(p->prompt_count_source);
    c->p.model = NULL;
    c->p.prompt_count_source = NULL;
    return c;
}

void results_cell_free(results_cell *c)
{
    if (!c)
        return;
    stats *ss[] = {&c->pp_speeds, &c->tg_speeds, &c->ttft, &c->ttfr, &c->est_ppt,
                   &c->e2e_ttft, &c->ttfc, &c->batch_pp, &c->batch_tg, &c->peak,
                   &c->peak_req, &c->peak_1s, &c->peak_1s_req, &c->pp_marginal,
                   &c->prompt_tokens, &c->cached_tokens, &c->server_pp, &c->server_tg};
    for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++)
        stats_free(ss[i]);
    free(c->itl);
    series_list_free(&c->total_series);
    for (size_t i = 0; i < c->n_req_series; i++)
        series_list_free(&c->req_series[i]);
    free(c->req_series);
    for (size_t i = 0; i < c->n_requests_rec; i++) {
        free(c->requests[i].id);
        free(c->requests[i].error);
        free(c->requests[i].error_kind);
    }
    results_failures_free(&c->failures);
    free(c->requests);
    free(c->model);
    free(c->prompt_count_source);
    free(c);
}

static void record_request(results_cell *c, const tb_request *q)
{
    if (c->n_requests_rec == c->cap_requests_rec) {
        c->cap_requests_rec = c->cap_requests_rec ? c->cap_requests_rec * 2 : 16;
        c->requests = xrealloc(c->requests, c->cap_requests_rec * sizeof *c->requests);
    }
    results_request *rec = &c->requests[c->n_requests_rec++];
    rec->batch = c->batch_index;
    rec->id = dup_or_null(q->id);
    rec->start_ns = q->start_ns;
    rec->first_response_ns = q->first_response_ns;
    rec->first_token_ns = q->first_token_ns;
    rec->last_token_ns = q->last_token_ns;
    rec->end_ns = q->end_ns;
    rec->prompt_tokens = q->prompt_tokens;
    rec->completion_tokens = q->completion_tokens;
    rec->cached_tokens = q->cached_tokens;
    rec->tokens = q->total_tokens;
    rec->events = q->n_events;
    rec->error = dup_or_null(q->error);
    rec->error_kind = q->error ? xstrdup(q->error_kind[0] ? q->error_kind : FAIL_OTHER) : NULL;
}

static void push_series(results_series_list *l, size_t *cap, results_series s)
{
    if (l->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        l->items = xrealloc(l->items, *cap * sizeof *l->items);
    }
    l->items[l->n++] = s;
}

void results_cell_add_batch(results_cell *c, const tb_request *reqs, size_t n)
{
    int64_t min_start = 0, max_end = 0, max_first = 0, min_first = 0, max_last = 0;
    int have_first = 0, have_last = 0, have_start = 0;
    double batch_prompt = 0;
    size_t batch_decode = 0;
    int64_t *all_ts = NULL;
    size_t n_all = 0, cap_all = 0;
    results_series_list req_list = {NULL, 0};
    size_t req_list_cap = 0;

    for (size_t i = 0; i < n; i++) {
        const tb_request *q = &reqs[i];
        c->n_requests++;
        record_request(c, q);
        if (q->error) {
            c->n_errors++;
            results_failures_add(&c->failures, q->error_kind, q->error);
            continue;
        }
        metrics_request m;
        metrics_request_compute(q, c->p.latency_ns, c->p.expected_pp_tokens, &m);
        if (q->count_source > c->worst_source && q->total_tokens > 0)
            c->worst_source = q->count_source;
        if (m.early_role)
            c->early_role++;

        if (!have_start || q->start_ns < min_start)
            min_start = q->start_ns;
        if (!have_start || q->end_ns > max_end)
            max_end = q->end_ns;
        have_start = 1;

        int64_t *ts = NULL;
        size_t nt = metrics_token_times(q, &ts);
        if (nt) {
            if (n_all + nt > cap_all) {
                cap_all = (n_all + nt) * 2;
                all_ts = xrealloc(all_ts, cap_all * sizeof *all_ts);
            }
            memcpy(all_ts + n_all, ts, nt * sizeof *ts);
            n_all += nt;
            int64_t last = ts[nt - 1];
            if (!have_last || last > max_last)
                max_last = last;
            have_last = 1;
            batch_decode += metrics_decode_tokens(ts, nt);
            results_series s;
            double peak = metrics_peak(ts, nt, METRICS_PEAK_WINDOW_NS,
                                       c->p.save_all_series ? &s : NULL);
            stats_add(&c->peak_req, peak);
            if (c->p.save_all_series)
                push_series(&req_list, &req_list_cap, s);
        } else {
            if (c->p.save_all_series)
                push_series(&req_list, &req_list_cap, (results_series){NULL, NULL, 0});
            if (q->end_ns) {
                if (!have_last || q->end_ns > max_last)
                    max_last = q->end_ns;
                have_last = 1;
            }
        }
        free(ts);
        if (m.peak_1s_tps >= 0)
            stats_add(&c->peak_1s_req, m.peak_1s_tps);

        batch_prompt += m.prompt_tokens;
        stats_add(&c->prompt_tokens, m.prompt_tokens);
        if (m.ttfr_s >= 0)
            stats_add(&c->ttfr, m.ttfr_s);
        if (q->first_token_ns) {
            if (!have_first || q->first_token_ns > max_first)
                max_first = q->first_token_ns;
            if (!have_first || q->first_token_ns < min_first)
                min_first = q->first_token_ns;
            have_first = 1;
            stats_add(&c->e2e_ttft, m.e2e_ttft_s);
            stats_add(&c->ttft, m.ttft_s);
            stats_add(&c->est_ppt, m.est_ppt_s);
        }
        if (m.ttfc_s >= 0)
            stats_add(&c->ttfc, m.ttfc_s);
        if (m.pp_tps >= 0)
            stats_add(&c->pp_speeds, m.pp_tps);
        if (m.est_ppt_s > 0 && !c->p.is_context_phase)
            stats_add(&c->pp_marginal, c->p.pp / m.est_ppt_s);
        if (m.tg_tps >= 0)
            stats_add(&c->tg_speeds, m.tg_tps);
        if (q->cached_tokens >= 0)
            stats_add(&c->cached_tokens, q->cached_tokens);
        if (q->timings.prompt_n > 0 && q->timings.prompt_ms > 0)
            stats_add(&c->server_pp, q->timings.prompt_n * 1000.0 / q->timings.prompt_ms);
        if (q->timings.predicted_n > 0 && q->timings.predicted_ms > 0)
            stats_add(&c->server_tg, q->timings.predicted_n * 1000.0 / q->timings.predicted_ms);
        metrics_itl_ms(q, &c->itl, &c->n_itl, &c->cap_itl);
    }

    if (c->p.save_all_series && have_start) {
        if (c->n_req_series == c->cap_req_series) {
            c->cap_req_series = c->cap_req_series ? c->cap_req_series * 2 : 8;
            c->req_series = xrealloc(c->req_series, c->cap_req_series * sizeof *c->req_series);
        }
        c->req_series[c->n_req_series++] = req_list;
    } else {
        series_list_free(&req_list);
    }

    /* Batch-level throughput, as llama-benchy: only when something succeeded. */
    if (have_start && have_first) {
        double pp_duration = (double)(max_first - min_start) / 1e9;
        if (pp_duration > 0)
            stats_add(&c->batch_pp, batch_prompt / pp_duration);
        int64_t last = have_last ? max_last : max_end;
        double tg_duration = (double)(last - min_first) / 1e9;
        if (tg_duration > 0 && batch_decode > 0)
            stats_add(&c->batch_tg, (double)batch_decode / tg_duration);
    }
    if (n_all) {
        results_series s;
        int want = c->p.save_total_series;
        double peak = metrics_peak(all_ts, n_all, METRICS_PEAK_WINDOW_NS, want ? &s : NULL);
        stats_add(&c->peak, peak);
        if (want)
            push_series(&c->total_series, &c->cap_total_series, s);
        double p1 = metrics_peak_full_windows(all_ts, n_all, METRICS_PEAK_WINDOW_NS);
        if (p1 >= 0)
            stats_add(&c->peak_1s, p1);
    }
    free(all_ts);
    c->batch_index++;
}

/* The extras of m (sample std, median, percentiles, min, max) from its
 * values, which are set. */
static void summarize(results_metric *m)
{
    double *sorted = xmalloc(m->n * sizeof *sorted);
    memcpy(sorted, m->values, m->n * sizeof *sorted);
    stats_sort(sorted, m->n);
    m->std_sample = stats_std_sample(m->values, m->n);
    m->median = stats_percentile_sorted(sorted, m->n, 50);
    m->p50 = m->median;
    m->p90 = stats_percentile_sorted(sorted, m->n, 90);
    m->p95 = stats_percentile_sorted(sorted, m->n, 95);
    m->p99 = stats_percentile_sorted(sorted, m->n, 99);
    m->min = sorted[0];
    m->max = sorted[m->n - 1];
    free(sorted);
}

static void metric_from(results_metric *m, const stats *s, double multiplier)
{
    memset(m, 0, sizeof *m);
    if (s->n == 0)
        return;
    m->present = true;
    m->n = s->n;
    /* llama-benchy: mean(raw) * multiplier, not the mean of scaled values. */
    m->mean = stats_mean(s->values, s->n) * multiplier;
    m->std = stats_std_pop(s->values, s->n) * multiplier;
    m->values = xmalloc(s->n * sizeof *m->values);
    for (size_t i = 0; i < s->n; i++)
        m->values[i] = s->values[i] * multiplier;
    summarize(m);
}

void results_metric_set(results_metric *m, const double *values, size_t n)
{
    memset(m, 0, sizeof *m);
    if (n == 0)
        return;
    m->present = true;
    m->n = n;
    m->values = xmalloc(n * sizeof *m->values);
    memcpy(m->values, values, n * sizeof *values);
    m->mean = stats_mean(values, n);
    m->std = stats_std_pop(values, n);
    summarize(m);
}

static void metric_copy(results_metric *dst, const results_metric *src)
{
    *dst = *src;
    if (src->present) {
        dst->values = xmalloc(src->n * sizeof *dst->values);
        memcpy(dst->values, src->values, src->n * sizeof *dst->values);
    }
}

void results_cell_finish(results_cell *c, results *r)
{
    if (!r->row_model && c->model)
        r->row_model = xstrdup(c->model);
    if (r->n_runs == r->cap_runs) {
        r->cap_runs = r->cap_runs ? r->cap_runs * 2 : 8;
        r->runs = xrealloc(r->runs, r->cap_runs * sizeof *r->runs);
    }
    results_run *run = &r->runs[r->n_runs++];
    memset(run, 0, sizeof *run);
    int conc = c->p.concurrency;
    run->concurrency = conc;
    run->context_size = c->p.depth;
    run->prompt_size = c->p.pp;
    run->response_size = c->p.tg;
    run->is_context_prefill_phase = c->p.is_context_phase;

    metric_from(&run->pp_throughput, conc > 1 ? &c->batch_pp : &c->pp_speeds, 1);
    if (conc == 1)
        metric_copy(&run->pp_req_throughput, &run->pp_throughput);
    else
        metric_from(&run->pp_req_throughput, &c->pp_speeds, 1);
    metric_from(&run->tg_throughput, conc > 1 ? &c->batch_tg : &c->tg_speeds, 1);
    if (conc == 1)
        metric_copy(&run->tg_req_throughput, &run->tg_throughput);
    else
        metric_from(&run->tg_req_throughput, &c->tg_speeds, 1);
    metric_from(&run->peak_throughput, &c->peak, 1);
    metric_from(&run->peak_req_throughput, &c->peak_req, 1);
    metric_from(&run->ttfr, &c->ttfr, 1000);
    metric_from(&run->est_ppt, &c->est_ppt, 1000);
    metric_from(&run->e2e_ttft, &c->e2e_ttft, 1000);

    run->has_total_series = c->p.save_total_series;
    run->total_series = c->total_series;
    c->total_series = (results_series_list){NULL, 0};
    run->has_req_series = c->p.save_all_series;
    run->req_series = c->req_series;
    run->n_req_series = c->n_req_series;
    c->req_series = NULL;
    c->n_req_series = 0;

    metric_from(&run->ttft, &c->ttft, 1000);
    metric_from(&run->ttfc, &c->ttfc, 1000);
    stats itl = {c->itl, c->n_itl, c->cap_itl};
    metric_from(&run->itl, &itl, 1);
    metric_from(&run->peak_1s, &c->peak_1s, 1);
    metric_from(&run->peak_1s_req, &c->peak_1s_req, 1);
    metric_from(&run->pp_marginal, &c->pp_marginal, 1);
    metric_from(&run->prompt_tokens, &c->prompt_tokens, 1);
    metric_from(&run->cached_tokens, &c->cached_tokens, 1);
    metric_from(&run->server_pp, &c->server_pp, 1);
    metric_from(&run->server_tg, &c->server_tg, 1);
    run->count_source = count_source_name(c->worst_source);
    run->prompt_count_source = c->prompt_count_source;
    c->prompt_count_source = NULL;
    run->expected_pp_tokens = c->p.expected_pp_tokens;
    run->n_requests = c->n_requests;
    run->n_errors = c->n_errors;
    run->early_role_chunks = c->early_role;
    run->requests = c->requests;
    run->n_request_records = c->n_requests_rec;
    c->requests = NULL;
    c->n_requests_rec = 0;
    run->failures = c->failures;
    memset(&c->failures, 0, sizeof c->failures);
    results_cell_free(c);
}

size_t results_test_name(const results *r, const results_run *run, int kind, char *out,
                         size_t size)
{
    char c_suffix[32] = "";
    char d_suffix[32] = "";
    if (r->max_concurrency > 1)
        snprintf(c_suffix, sizeof c_suffix, " (c%d)", run->concurrency);
    int n;
    if (run->is_context_prefill_phase) {
        n = snprintf(out, size, "ctx_%s @ d%d%s", kind == 0 ? "pp" : "tg", run->context_size,
                     c_suffix);
    } else {
        if (run->context_size > 0)
            snprintf(d_suffix, sizeof d_suffix, " @ d%d", run->context_size);
        n = snprintf(out, size, "%s%d%s%s", kind == 0 ? "pp" : "tg",
                     kind == 0 ? run->prompt_size : run->response_size, d_suffix, c_suffix);
    }
    return n < 0 ? 0 : (size_t)n;
}
