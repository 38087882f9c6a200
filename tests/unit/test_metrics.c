/* Unit tests for client/metrics + results: llama-benchy's own vectors (its
 * tests/test_results.py) and the batch formulas, on hand-built requests. */
#include <stdlib.h>
#include <string.h>

#include "../../client/metrics.h"
#include "../../client/results.h"
#include "../test.h"

#define S(x) ((int64_t)((x) * 1e9 + ((x) >= 0 ? 0.5 : -0.5)))

/* A successful request whose token timestamps (seconds) are ts[0..n), each
 * timestamp one token; equal timestamps are one event. */
static void make_request(tb_request *r, double start, double first_response, double end,
                         int prompt_tokens, const double *ts, size_t n)
{
    request_init(r);
    r->start_ns = S(start);
    r->first_response_ns = first_response > 0 ? S(first_response) : 0;
    r->end_ns = S(end);
    r->prompt_tokens = prompt_tokens;
    for (size_t i = 0; i < n; i++) {
        if (r->n_events && r->events[r->n_events - 1].t_ns == S(ts[i])) {
            r->events[r->n_events - 1].n_tokens++;
            continue;
        }
        if (r->n_events == r->cap_events) {
            r->cap_events = r->cap_events ? r->cap_events * 2 : 16;
            r->events = realloc(r->events, r->cap_events * sizeof *r->events);
        }
        r->events[r->n_events++] = (tb_event){S(ts[i]), 1, 1, -1, -1, EV_CONTENT};
    }
    r->total_tokens = (int)n;
    r->count_source = COUNT_TOKEN_IDS;
    if (n) {
        r->first_token_ns = S(ts[0]);
        r->first_content_ns = S(ts[0]);
        r->last_token_ns = S(ts[n - 1]);
    }
}

static results_run *one_cell(results *res, int pp, int tg, int conc, double latency,
                             int expected, tb_request *reqs, size_t n)
{
    results_cell_params p = {.model = "model", .pp = pp, .tg = tg, .depth = 0,
                             .concurrency = conc, .expected_pp_tokens = expected,
                             .latency_ns = S(latency)};
    results_cell *c = results_cell_new(&p);
    results_cell_add_batch(c, reqs, n);
    results_cell_finish(c, res);
    return &res->runs[res->n_runs - 1];
}

TEST(decode_throughput_uses_observed_token_interval)
{
    double ts[] = {1.0, 1.1, 1.2, 1.3};
    tb_request r;
    make_request(&r, 0, 1.0, 1.35, 100, ts, 4);
    results res;
    results_init(&res);
    results_run *run = one_cell(&res, 100, 4, 1, 0, 100, &r, 1);
    CHECK(run->tg_throughput.present);
    CHECK_DBL_NEAR(run->tg_throughput.mean, 10.0, 1e-6);
    CHECK(run->tg_req_throughput.present);
    CHECK_DBL_NEAR(run->pp_throughput.mean, 100.0, 1e-6); /* 100 / 1.0 s */
    results_free(&res);
    request_clear(&r);
}

TEST(burst_output_has_no_decode_throughput_but_a_peak)
{
    double ts[130];
    for (int i = 0; i < 130; i++)
        ts[i] = 3.0;
    tb_request r;
    make_request(&r, 0, 3.0, 3.001, 2048, ts, 130);
    results res;
    results_init(&res);
    res.max_concurrency = 1;
    results_run *run = one_cell(&res, 2048, 1024, 1, 0, 2048, &r, 1);
    CHECK(!run->tg_throughput.present);
    CHECK(run->peak_throughput.present);
    CHECK_DBL_NEAR(run->peak_throughput.mean, 130.0, 1e-9);
    CHECK(!run->peak_1s.present); /* no full 1 s window */
    char name[64];
    results_test_name(&res, run, 1, name, sizeof name);
    CHECK_STR_EQ(name, "tg1024");
    results_free(&res);
    request_clear(&r);
}

TEST(block_streaming_excludes_first_observed_block)
{
    double ts[512];
    for (int i = 0; i < 256; i++)
        ts[i] = 1.0;
    for (int i = 0; i < 256; i++)
        ts[256 + i] = 1.25 + 0.75 * (i + 1) / 256.0;
    tb_request r;
    make_request(&r, 0, 0.9, 2.01, 2048, ts, 512);
    results res;
    results_init(&res);
    results_run *run = one_cell(&res, 2048, 512, 1, 0, 2048, &r, 1);
    CHECK(run->tg_throughput.present);
    CHECK_DBL_NEAR(run->tg_throughput.mean, 256.0, 1e-6);
    results_free(&res);
    request_clear(&r);
}

TEST(early_empty_response_uses_first_token_for_prefill)
{
    /* llama-benchy's vector: first response at 10 ms carries no token, the
     * first token comes at 2.0 s in another read: est_ppt = 2.0 - 0.1. */
    double ts[] = {2.0, 2.1, 2.2};
    tb_request r;
    make_request(&r, 0, 0.01, 2.2, 2000, ts, 3);
    results res;
    results_init(&res);
    results_run *run = one_cell(&res, 2000, 3, 1, 0.1, 2000, &r, 1);
    CHECK_DBL_NEAR(run->ttfr.mean, 10.0, 1e-6);
    CHECK_DBL_NEAR(run->est_ppt.mean, 1900.0, 1e-6);
    CHECK_DBL_NEAR(run->pp_throughput.mean, 2000 / 1.9, 1e-6);
    CHECK_DBL_NEAR(run->e2e_ttft.mean, 2000.0, 1e-6);
    CHECK_DBL_NEAR(run->ttft.mean, 1900.0, 1e-6);
    CHECK_INT_EQ(run->early_role_chunks, 1);
    results_free(&res);
    request_clear(&r);
}

TEST(role_chunk_in_same_read_keeps_ttfr_rule)
{
    /* First response and first token share a read: est_ppt = ttfr - L. */
    double ts[] = {0.5, 0.6, 0.7};
    tb_request r;
    make_request(&r, 0, 0.5, 0.7, 1000, ts, 3);
    metrics_request m;
    metrics_request_compute(&r, S(0.1), 1000, &m);
    CHECK_DBL_NEAR(m.est_ppt_s, 0.4, 1e-9);
    CHECK_DBL_NEAR(m.pp_tps, 2500, 1e-6);
    CHECK_INT_EQ(m.early_role, 0);
    /* Latency above ttfr: est_ppt clamps to 0 and pp is absent. */
    metrics_request_compute(&r, S(0.6), 1000, &m);
    CHECK_DBL_NEAR(m.est_ppt_s, 0, 0);
    CHECK(m.pp_tps < 0);
    request_clear(&r);
}

TEST(prompt_tokens_twenty_percent_rule)
{
    double ts[] = {1.0, 1.5};
    tb_request r;
    make_request(&r, 0, 1.0, 1.5, 1100, ts, 2);
    metrics_request m;
    metrics_request_compute(&r, 0, 1000, &m);
    CHECK_INT_EQ(m.prompt_tokens, 1100); /* within 20%: usage wins */
    r.prompt_tokens = 1200;
    metrics_request_compute(&r, 0, 1000, &m);
    CHECK_INT_EQ(m.prompt_tokens, 1000); /* |diff| = 20% is not < 20% */
    r.prompt_tokens = -1;
    metrics_request_compute(&r, 0, 1000, &m);
    CHECK_INT_EQ(m.prompt_tokens, 1000);
    request_clear(&r);
}

TEST(peak_rules)
{
    /* Under 1 s: n / duration. 32 tokens over 0.62 s. */
    int64_t ts[64];
    for (int i = 0; i < 32; i++)
        ts[i] = S(1.0 + 0.02 * i);
    CHECK_DBL_NEAR(metrics_peak(ts, 32, METRICS_PEAK_WINDOW_NS, NULL), 32 / 0.62, 1e-6);
    CHECK_DBL_NEAR(metrics_peak_full_windows(ts, 32, METRICS_PEAK_WINDOW_NS), -1, 0);
    /* 3 s at 10 tok/s then a burst of 20 within 0.1 s: trailing window
     * (t - 1, t] holds at most 10 + 20 - 1 tokens... computed by hand below. */
    size_t n = 0;
    for (int i = 0; i < 30; i++)
        ts[n++] = S(0.1 * i);           /* 0.0 .. 2.9 */
    for (int i = 0; i < 20; i++)
        ts[n++] = S(2.9 + 0.005 * (i + 1)); /* 2.905 .. 3.0 */
    /* Window ending at 3.0 covers (2.0, 3.0]: 2.1..2.9 (9 tokens) + 20 = 29. */
    CHECK_DBL_NEAR(metrics_peak(ts, n, METRICS_PEAK_WINDOW_NS, NULL), 29, 1e-9);
    CHECK_DBL_NEAR(metrics_peak_full_windows(ts, n, METRICS_PEAK_WINDOW_NS), 29, 1e-9);
    /* Series: one point per token, relative to the first. */
    results_series s;
    metrics_peak(ts, n, METRICS_PEAK_WINDOW_NS, &s);
    CHECK_INT_EQ(s.n, n);
    CHECK_DBL_NEAR(s.t_s[0], 0, 0);
    CHECK_DBL_NEAR(s.value[0], 1, 0);
    CHECK_DBL_NEAR(s.t_s[n - 1], 3.0, 1e-9);
    CHECK_DBL_NEAR(s.value[n - 1], 29, 0);
    free(s.t_s);
    free(s.value);
    CHECK_DBL_NEAR(metrics_peak(ts, 0, METRICS_PEAK_WINDOW_NS, NULL), 0, 0);
}

TEST(concurrency_batch_totals)
{
    /* Two requests started together; llama-benchy's batch formulas:
     * pp total = sum P / (max first token - min start) = 2000 / 1.0;
     * tg total = sum decode tokens / (max last - min first) = (3 + 3) / (1.3 - 0.5). */
    double a[] = {0.5, 0.6, 0.7, 0.8};
    double b[] = {1.0, 1.1, 1.2, 1.3};
    tb_request r[2];
    make_request(&r[0], 0, 0.5, 0.85, 1000, a, 4);
    make_request(&r[1], 0, 1.0, 1.35, 1000, b, 4);
    results res;
    results_init(&res);
    res.max_concurrency = 2;
    results_run *run = one_cell(&res, 1000, 4, 2, 0, 1000, r, 2);
    CHECK_DBL_NEAR(run->pp_throughput.mean, 2000.0, 1e-6);
    CHECK_DBL_NEAR(run->tg_throughput.mean, 6 / 0.8, 1e-6);
    /* Per request: pp 2000 and 1000 t/s; tg 10 t/s each. */
    CHECK_DBL_NEAR(run->pp_req_throughput.mean, 1500, 1e-6);
    CHECK_DBL_NEAR(run->pp_req_throughput.std, 500, 1e-6);
    CHECK_DBL_NEAR(run->tg_req_throughput.mean, 10, 1e-6);
    CHECK_INT_EQ(run->n_request_records, 2);
    char name[64];
    results_test_name(&res, run, 0, name, sizeof name);
    CHECK_STR_EQ(name, "pp1000 (c2)");
    results_free(&res);
    request_clear(&r[0]);
    request_clear(&r[1]);
}

TEST(failed_requests_are_excluded_but_recorded)
{
    double a[] = {0.5, 0.6};
    tb_request r[2];
    make_request(&r[0], 0, 0.5, 0.6, 100, a, 2);
    request_init(&r[1]);
    request_set_error(&r[1], "HTTP %d: %s", 500, "boom\nline");
    results res;
    results_init(&res);
    results_run *run = one_cell(&res, 100, 2, 1, 0, 100, r, 2);
    CHECK_INT_EQ(run->n_requests, 2);
    CHECK_INT_EQ(run->n_errors, 1);
    CHECK_INT_EQ(run->ttfr.n, 1);
    CHECK_STR_EQ(run->requests[1].error, "HTTP 500: boom line");
    results_free(&res);
    request_clear(&r[0]);
    request_clear(&r[1]);

    /* Nothing succeeded: every metric is absent. */
    request_init(&r[0]);
    request_set_error(&r[0], "x");
    results_init(&res);
    run = one_cell(&res, 100, 2, 1, 0, 100, r, 1);
    CHECK(!run->pp_throughput.present && !run->tg_throughput.present);
    CHECK(!run->peak_throughput.present && !run->ttfr.present);
    results_free(&res);
    request_clear(&r[0]);
}

TEST(test_names)
{
    results res;
    results_init(&res);
    results_run run;
    memset(&run, 0, sizeof run);
    run.prompt_size = 2048;
    run.response_size = 32;
    run.context_size = 4096;
    run.concurrency = 2;
    char name[64];
    res.max_concurrency = 1;
    results_test_name(&res, &run, 0, name, sizeof name);
    CHECK_STR_EQ(name, "pp2048 @ d4096");
    results_test_name(&res, &run, 1, name, sizeof name);
    CHECK_STR_EQ(name, "tg32 @ d4096");
    run.is_context_prefill_phase = true;
    res.max_concurrency = 4;
    results_test_name(&res, &run, 0, name, sizeof name);
    CHECK_STR_EQ(name, "ctx_pp @ d4096 (c2)");
    results_test_name(&res, &run, 1, name, sizeof name);
    CHECK_STR_EQ(name, "ctx_tg @ d4096 (c2)");
    run.is_context_prefill_phase = false;
    run.context_size = 0;
    results_test_name(&res, &run, 0, name, sizeof name);
    CHECK_STR_EQ(name, "pp2048 (c2)");
}

TEST(itl_per_token)
{
    /* Events at 1.0 (1 token), 1.1 (1 token), 1.4 (3 tokens): ITL 100 ms,
     * then 100 ms for each of the 3 tokens. */
    double ts[] = {1.0, 1.1, 1.4, 1.4, 1.4};
    tb_request r;
    make_request(&r, 0, 1.0, 1.5, 10, ts, 5);
    double *v = NULL;
    size_t n = 0, cap = 0;
    metrics_itl_ms(&r, &v, &n, &cap);
    CHECK_INT_EQ(n, 4);
    for (size_t i = 0; i < n && i < 4; i++)
        CHECK_DBL_NEAR(v[i], 100, 1e-6);
    free(v);
    request_clear(&r);
}

TEST(time_series_shapes)
{
    double a[] = {0.5, 0.6};
    double b[] = {0.7, 0.8, 0.9};
    tb_request r[2];
    make_request(&r[0], 0, 0.5, 0.6, 10, a, 2);
    make_request(&r[1], 0, 0.7, 0.9, 10, b, 3);
    results res;
    results_init(&res);
    results_cell_params p = {.model = "m", .pp = 10, .tg = 3, .concurrency = 2,
                             .expected_pp_tokens = 10, .save_total_series = true,
                             .save_all_series = true};
    results_cell *c = results_cell_new(&p);
    results_cell_add_batch(c, r, 2);
    results_cell_add_batch(c, r, 2);
    results_cell_finish(c, &res);
    results_run *run = &res.runs[0];
    CHECK_INT_EQ(run->total_series.n, 2);
    CHECK_INT_EQ(run->total_series.items[0].n, 5);
    CHECK_INT_EQ(run->n_req_series, 2);
    CHECK_INT_EQ(run->req_series[0].n, 2);
    CHECK_INT_EQ(run->req_series[0].items[1].n, 3);
    CHECK_INT_EQ(run->peak_req_throughput.n, 4);
    results_free(&res);
    request_clear(&r[0]);
    request_clear(&r[1]);
}

int main(void)
{
    RUN(decode_throughput_uses_observed_token_interval);
    RUN(burst_output_has_no_decode_throughput_but_a_peak);
    RUN(block_streaming_excludes_first_observed_block);
    RUN(early_empty_response_uses_first_token_for_prefill);
    RUN(role_chunk_in_same_read_keeps_ttfr_rule);
    RUN(prompt_tokens_twenty_percent_rule);
    RUN(peak_rules);
    RUN(concurrency_batch_totals);
    RUN(failed_requests_are_excluded_but_recorded);
    RUN(test_names);
    RUN(itl_per_token);
    RUN(time_series_shapes);
    return test_summary();
}
