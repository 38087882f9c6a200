#include "metrics.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/xalloc.h"
#include "mockserver/fault.h"

/* Bucket upper bounds in seconds, as vLLM uses for its latency histograms. */
static const double ttft_bounds[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25,
                                     0.5,   0.75,  1.0,  2.5,  5.0,  7.5,  10.0, 20.0, 40.0,
                                     80.0,  160.0, 640.0, 2560.0};
static const double itl_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03,
                                    0.04,  0.05,   0.075, 0.1,  0.15,  0.2,  0.3,   0.4,
                                    0.5,   0.75,   1.0,   2.5,  5.0,   7.5,  10.0,  20.0};
static const double e2e_bounds[] = {0.3,  0.5,  0.8,   1.0,   1.5,   2.0,   2.5,   5.0,
                                    10.0, 15.0, 20.0,  30.0,  40.0,  50.0,  60.0,  120.0,
                                    240.0, 480.0, 960.0, 1920.0, 7680.0};

#define MAX_BUCKETS 32

typedef struct histogram {
    const double *bounds;
    size_t n_bounds;
    _Atomic uint64_t counts[MAX_BUCKETS]; /* per bucket, not cumulative; last = +Inf */
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t count;
} histogram;

struct mock_metrics {
    _Atomic uint64_t prompt_tokens;
    _Atomic uint64_t cached_tokens;
    _Atomic uint64_t generation_tokens;
    _Atomic uint64_t finished_length;
    _Atomic uint64_t finished_stop;
    _Atomic uint64_t aborted;
    _Atomic uint64_t errors_4xx;
    _Atomic uint64_t errors_5xx;
    _Atomic uint64_t faults[FAULT_N_KINDS];
    _Atomic uint64_t overloaded;
    histogram ttft, itl, e2e, queue;
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void hist_init(histogram *h, const double *bounds, size_t n)
{
    h->bounds = bounds;
    h->n_bounds = n;
}

static void hist_observe(histogram *h, int64_t ns)
{
    if (ns < 0)
        return;
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < h->n_bounds && s > h->bounds[i])
        i++;
    atomic_fetch_add(&h->counts[i], 1);
    atomic_fetch_add(&h->sum_ns, (uint64_t)ns);
    atomic_fetch_add(&h->count, 1);
}

mock_metrics *metrics_new(void)
{
    mock_metrics *m = xcalloc(1, sizeof *m);
    hist_init(&m->ttft, ttft_bounds, N_OF(ttft_bounds));
    hist_init(&m->itl, itl_bounds, N_OF(itl_bounds));
    hist_init(&m->e2e, e2e_bounds, N_OF(e2e_bounds));
    hist_init(&m->queue, e2e_bounds, N_OF(e2e_bounds));
    return m;
}

void metrics_free(mock_metrics *m)
{
    free(m);
}

void metrics_observe_request(mock_metrics *m, const metrics_request *r)
{
    atomic_fetch_add(&m->prompt_tokens, r->prompt_tokens);
    atomic_fetch_add(&m->cached_tokens, r->cached_tokens);
    atomic_fetch_add(&m->generation_tokens, r->completion_tokens);
    if (r->disconnected || !r->finish_reason)
        atomic_fetch_add(&m->aborted, 1);
    else if (r->finish_reason[0] == 's')
        atomic_fetch_add(&m->finished_stop, 1);
    else
        atomic_fetch_add(&m->finished_length, 1);
    hist_observe(&m->queue, r->queue_ns);
    hist_observe(&m->ttft, r->ttft_ns);
    hist_observe(&m->e2e, r->e2e_ns);
}

void metrics_observe_itl(mock_metrics *m, int64_t gap_ns, size_t n_tokens)
{
    if (n_tokens == 0)
        return;
    int64_t per = gap_ns / (int64_t)n_tokens;
    for (size_t i = 0; i < n_tokens; i++)
        hist_observe(&m->itl, per);
}

void metrics_count_error(mock_metrics *m, int status)
{
    if (status >= 500)
        atomic_fetch_add(&m->errors_5xx, 1);
    else
        atomic_fetch_add(&m->errors_4xx, 1);
}

void metrics_count_fault(mock_metrics *m, int kind)
{
    if (kind >= 0 && kind < FAULT_N_KINDS)
        atomic_fetch_add(&m->faults[kind], 1);
}

void metrics_count_overload(mock_metrics *m)
{
    atomic_fetch_add(&m->overloaded, 1);
}

static int render_hist(buf *out, histogram *h, const char *name, const char *help,
                       const char *labels)
{
    int rc = buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        cumulative += atomic_load(&h->counts[i]);
        if (i < h->n_bounds)
            rc |= buf_printf(out, "%s_bucket{%s,le=\"%g\"} %" PRIu64 "\n", name, labels,
                             h->bounds[i], cumulative);
        else
            rc |= buf_printf(out, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", name, labels,
                             cumulative);
    }
    rc |= buf_printf(out, "%s_sum{%s} %.9f\n%s_count{%s} %" PRIu64 "\n", name, labels,
                     (double)atomic_load(&h->sum_ns) / 1e9, name, labels, cumulative);
    return rc;
}

static int render_one(buf *out, const char *name, const char *type, const char *help,
                      const char *labels, uint64_t value)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s{%s} %" PRIu64 "\n", name, help, name,
                      type, name, labels, value);
}

int metrics_render(mock_metrics *m, buf *out, const char *model, engine_counts counts,
                   cache_stats cache)
{
    /* Label values escape backslash, quote and newline (exposition format). */
    char labels[256];
    size_t n = (size_t)snprintf(labels, sizeof labels, "model_name=\"");
    for (const char *s = model; *s && n + 4 < sizeof labels; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n')
            labels[n++] = '\\';
        labels[n++] = *s == '\n' ? 'n' : *s;
    }
    labels[n++] = '"';
    labels[n] = '\0';
    int rc = 0;
    rc |= render_one(out, "vllm:num_requests_running", "gauge",
                     "Requests in a slot (prefill or decode).", labels, (uint64_t)counts.running);
    rc |= render_one(out, "vllm:num_requests_waiting", "gauge",
                     "Requests waiting for a slot.", labels, (uint64_t)counts.waiting);
    rc |= render_one(out, "tokmock:num_requests_prefilling", "gauge",
                     "Shared engine: running requests still prefilling.", labels,
                     (uint64_t)counts.prefilling);
    rc |= render_one(out, "tokmock:num_requests_decoding", "gauge",
                     "Shared engine: running requests in the decode batch.", labels,
                     (uint64_t)counts.decoding);
    rc |= render_one(out, "tokmock:kv_tokens", "gauge",
                     "Shared engine: KV tokens held (prompt + generated, unfinished requests).",
                     labels, (uint64_t)counts.kv_tokens);
    if (counts.kv_budget > 0)
        rc |= buf_printf(out,
                         "# HELP vllm:kv_cache_usage_perc KV cache usage (1 = the whole "
                         "--kv-budget).\n# TYPE vllm:kv_cache_usage_perc gauge\n"
                         "vllm:kv_cache_usage_perc{%s} %.9g\n",
                         labels, (double)counts.kv_tokens / (double)counts.kv_budget);
    rc |= render_one(out, "vllm:prompt_tokens_total", "counter", "Prompt tokens processed.",
                     labels, atomic_load(&m->prompt_tokens));
    rc |= render_one(out, "vllm:generation_tokens_total", "counter", "Tokens generated.",
                     labels, atomic_load(&m->generation_tokens));
    rc |= render_one(out, "vllm:prefix_cache_queries_total", "counter",
                     "Prompt tokens looked up in the prefix cache.", labels, cache.queries);
    rc |= render_one(out, "vllm:prefix_cache_hits_total", "counter",
                     "Prompt tokens found in the prefix cache.", labels, cache.hits);
    rc |= buf_printf(out,
                     "# HELP vllm:request_success_total Finished requests by reason.\n"
                     "# TYPE vllm:request_success_total counter\n"
                     "vllm:request_success_total{%s,finished_reason=\"length\"} %" PRIu64 "\n"
                     "vllm:request_success_total{%s,finished_reason=\"stop\"} %" PRIu64 "\n"
                     "vllm:request_success_total{%s,finished_reason=\"abort\"} %" PRIu64 "\n",
                     labels, atomic_load(&m->finished_length), labels,
                     atomic_load(&m->finished_stop), labels, atomic_load(&m->aborted));
    rc |= buf_printf(out,
                     "# HELP tokmock:http_errors_total Requests answered with an error status.\n"
                     "# TYPE tokmock:http_errors_total counter\n"
                     "tokmock:http_errors_total{%s,class=\"4xx\"} %" PRIu64 "\n"
                     "tokmock:http_errors_total{%s,class=\"5xx\"} %" PRIu64 "\n",
                     labels, atomic_load(&m->errors_4xx), labels, atomic_load(&m->errors_5xx));
    rc |= buf_append_str(out, "# HELP tokmock:faults_total Faults applied (--fault, "
                              "X-Tokmock-Fault), by kind.\n# TYPE tokmock:faults_total counter\n");
    for (int k = 0; k < FAULT_N_KINDS; k++)
        rc |= buf_printf(out, "tokmock:faults_total{%s,kind=\"%s\"} %" PRIu64 "\n", labels,
                         fault_kind_name((enum fault_kind)k), atomic_load(&m->faults[k]));
    rc |= render_one(out, "tokmock:overload_rejections_total", "counter",
                     "Requests answered 503 because --max-connections were in flight.", labels,
                     atomic_load(&m->overloaded));
    rc |= render_hist(out, &m->ttft, "vllm:time_to_first_token_seconds",
                      "Time to first token, from arrival to the write of the first token.",
                      labels);
    rc |= render_hist(out, &m->itl, "vllm:inter_token_latency_seconds",
                      "Time between token writes, per token.", labels);
    rc |= render_hist(out, &m->e2e, "vllm:e2e_request_latency_seconds",
                      "Arrival to last write.", labels);
    rc |= render_hist(out, &m->queue, "vllm:request_queue_time_seconds",
                      "Arrival to admission into a slot.", labels);
    return rc;
}
