/* Prometheus exposition: names, counters and cumulative histogram buckets. */
#include <string.h>

#include "mockserver/metrics.h"
#include "tests/test.h"

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

TEST(counters_and_gauges)
{
    mock_metrics *m = metrics_new();
    metrics_request r = {.prompt_tokens = 100, .cached_tokens = 40, .completion_tokens = 7,
                         .finish_reason = "length", .queue_ns = 0, .ttft_ns = 3000000,
                         .e2e_ns = 400000000};
    metrics_observe_request(m, &r);
    r.finish_reason = "stop";
    metrics_observe_request(m, &r);
    r.finish_reason = NULL;
    r.disconnected = 1;
    metrics_observe_request(m, &r);
    metrics_observe_itl(m, 20000000, 2); /* two tokens, 10 ms each */
    metrics_count_error(m, 400);
    engine_counts c = {.running = 3, .waiting = 2};
    cache_stats cs = {.queries = 300, .hits = 120, .requests = 3};
    buf b;
    buf_init(&b, 0);
    CHECK_INT_EQ(metrics_render(m, &b, "tok\"mock", c, cs), 0);
    const char *t = b.data;
    CHECK(has_line(t, "vllm:num_requests_running{model_name=\"tok\\\"mock\"} 3"));
    CHECK(has_line(t, "vllm:num_requests_waiting{model_name=\"tok\\\"mock\"} 2"));
    CHECK(has_line(t, "vllm:prompt_tokens_total{model_name=\"tok\\\"mock\"} 300"));
    CHECK(has_line(t, "vllm:generation_tokens_total{model_name=\"tok\\\"mock\"} 21"));
    CHECK(has_line(t, "vllm:prefix_cache_queries_total{model_name=\"tok\\\"mock\"} 300"));
    CHECK(has_line(t, "vllm:prefix_cache_hits_total{model_name=\"tok\\\"mock\"} 120"));
    CHECK(has_line(t, "vllm:request_success_total{model_name=\"tok\\\"mock\",finished_reason=\"abort\"} 1"));
    CHECK(has_line(t, "tokmock:http_errors_total{model_name=\"tok\\\"mock\",class=\"4xx\"} 1"));
    /* 3 ms TTFT: not in the 1 ms bucket, in the 5 ms one and all above. */
    CHECK(has_line(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"tok\\\"mock\",le=\"0.001\"} 0"));
    CHECK(has_line(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"tok\\\"mock\",le=\"0.005\"} 3"));
    CHECK(has_line(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"tok\\\"mock\",le=\"+Inf\"} 3"));
    CHECK(has_line(t, "vllm:inter_token_latency_seconds_bucket{model_name=\"tok\\\"mock\",le=\"0.01\"} 2"));
    CHECK(has_line(t, "vllm:inter_token_latency_seconds_count{model_name=\"tok\\\"mock\"} 2"));
    buf_free(&b);
    metrics_free(m);
}

int main(void)
{
    RUN(counters_and_gauges);
    return test_summary();
}
