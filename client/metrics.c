#include "metrics.h"

#include <stdlib.h>

#include "../common/xalloc.h"

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

size_t metrics_token_times(const tb_request *r, int64_t **out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_events; i++)
        n += r->events[i].n_tokens;
    *out = NULL;
    if (n == 0)
        return 0;
    int64_t *ts = xmalloc(n * sizeof *ts);
    size_t k = 0;
    for (size_t i = 0; i < r->n_events; i++)
        for (uint32_t j = 0; j < r->events[i].n_tokens; j++)
            ts[k++] = r->events[i].t_ns;
    *out = ts;
    return n;
}

size_t metrics_decode_tokens(const int64_t *ts, size_t n)
{
    if (n < 2)
        return 0;
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        k += ts[i] > ts[0];
    return k;
}

double metrics_peak(int64_t *ts, size_t n, int64_t window_ns, results_series *series)
{
    if (series) {
        series->t_s = series->value = NULL;
        series->n = 0;
    }
    if (n == 0)
        return 0;
    qsort(ts, n, sizeof *ts, cmp_i64);
    int64_t duration = ts[n - 1] - ts[0];
    double window_s = secs(window_ns);
    if (series) {
        series->t_s = xmalloc(n * sizeof *series->t_s);
        series->value = xmalloc(n * sizeof *series->value);
        series->n = n;
    }
    size_t start = 0, max_tokens = 0;
    for (size_t end = 0; end < n; end++) {
        while (start < end && ts[start] <= ts[end] - window_ns)
            start++;
        size_t cur = end - start + 1;
        if (cur > max_tokens)
            max_tokens = cur;
        if (series) {
            series->t_s[end] = secs(ts[end] - ts[0]);
            series->value[end] = (double)cur / window_s;
        }
    }
    if (duration > 0 && duration < window_ns)
        return (double)n / secs(duration);
    return (double)max_tokens / window_s;
}

double metrics_peak_full_windows(int64_t *ts, size_t n, int64_t window_ns)
{
    if (n == 0)
        return -1;
    qsort(ts, n, sizeof *ts, cmp_i64);
    if (ts[n - 1] - ts[0] < window_ns)
        return -1;
    size_t start = 0, max_tokens = 0;
    for (size_t end = 0; end < n; end++) {
        while (start < end && ts[start] <= ts[end] - window_ns)
            start++;
        if (end - start + 1 > max_tokens)
            max_tokens = end - start + 1;
    }
    return (double)max_tokens / secs(window_ns);
}

void metrics_itl_ms(const tb_request *r, double **out, size_t *n, size_t *cap)
{
    int64_t prev = 0;
    int have_prev = 0;
    for (size_t i = 0; i < r->n_events; i++) {
        const tb_event *ev = &r->events[i];
        if (ev->n_tokens == 0)
            continue;
        if (have_prev) {
            double each = (double)(ev->t_ns - prev) / 1e6 / ev->n_tokens;
            for (uint32_t j = 0; j < ev->n_tokens; j++) {
                if (*n == *cap) {
                    *cap = *cap ? *cap * 2 : 256;
                    *out = xrealloc(*out, *cap * sizeof **out);
                }
                (*out)[(*n)++] = each;
            }
        }
        prev = ev->t_ns;
        have_prev = 1;
    }
}

void metrics_request_compute(const tb_request *r, int64_t latency_ns, int expected_pp_tokens,
                             metrics_request *m)
{
    double latency = secs(latency_ns);
    m->ttfr_s = m->e2e_ttft_s = m->ttft_s = m->est_ppt_s = m->ttfc_s = -1;
    m->pp_tps = m->tg_tps = m->peak_tps = m->peak_1s_tps = -1;
    m->decode_tokens = 0;
    m->early_role = 0;

    m->prompt_tokens = expected_pp_tokens;
    if (r->prompt_tokens > 0) {
        double diff = r->prompt_tokens > expected_pp_tokens
                          ? (double)(r->prompt_tokens - expected_pp_tokens)
                          : (double)(expected_pp_tokens - r->prompt_tokens);
        if (diff < expected_pp_tokens * 0.2)
            m->prompt_tokens = r->prompt_tokens;
    }
    if (r->first_response_ns)
        m->ttfr_s = secs(r->first_response_ns - r->start_ns);
    if (r->first_content_ns)
        m->ttfc_s = secs(r->first_content_ns - r->start_ns);
    if (r->first_token_ns) {
        m->e2e_ttft_s = secs(r->first_token_ns - r->start_ns);
        m->ttft_s = m->e2e_ttft_s - latency > 0 ? m->e2e_ttft_s - latency : 0;
        /* llama-benchy bases est_ppt on ttfr; a first response that carried
         * no token and came in an earlier read than the first token was not
         * produced by prefill (an early role chunk), so use the first token. */
        double base = m->ttfr_s >= 0 ? m->ttfr_s : 0;
        if (r->first_response_ns && r->first_response_ns < r->first_token_ns) {
            base = m->e2e_ttft_s;
            m->early_role = 1;
        }
        m->est_ppt_s = base - latency > 0 ? base - latency : 0;
        if (m->est_ppt_s > 0)
            m->pp_tps = m->prompt_tokens / m->est_ppt_s;
    }

    int64_t *ts = NULL;
    size_t n = metrics_token_times(r, &ts);
    if (n > 0) {
        /* Events are in arrival order, so ts is already sorted. */
        m->decode_tokens = (int)metrics_decode_tokens(ts, n);
        int64_t span = ts[n - 1] - ts[0];
        if (r->total_tokens > 1 && n > 1 && span > 0 && m->decode_tokens > 0)
            m->tg_tps = m->decode_tokens / secs(span);
        m->peak_tps = metrics_peak(ts, n, METRICS_PEAK_WINDOW_NS, NULL);
        m->peak_1s_tps = metrics_peak_full_windows(ts, n, METRICS_PEAK_WINDOW_NS);
    }
    free(ts);
}
