/* Server counters and latency histograms, rendered as Prometheus text with
 * vLLM-style names (vllm:prompt_tokens_total, vllm:num_requests_running, ...).
 * Counters are atomics updated by handlers; gauges that other modules own
 * (engine queue, cache) are passed in at render time. Reads no clock. */
#ifndef MOCK_METRICS_H
#define MOCK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "mockserver/cache.h"
#include "mockserver/engine.h"

typedef struct mock_metrics mock_metrics;

mock_metrics *metrics_new(void);
void metrics_free(mock_metrics *m);

/* A finished completion request: token counts, the finish reason ("length",
 * "stop" or NULL when it did not finish), whether the client went away,
 * and its latencies (ns; < 0 = not observed). */
typedef struct metrics_request {
    size_t prompt_tokens;
    size_t cached_tokens;
    size_t completion_tokens;
    const char *finish_reason;
    int disconnected;
    int64_t queue_ns;
    int64_t ttft_ns;
    int64_t e2e_ns;
} metrics_request;

void metrics_observe_request(mock_metrics *m, const metrics_request *r);
/* One gap between consecutive token events, divided over its tokens. */
void metrics_observe_itl(mock_metrics *m, int64_t gap_ns, size_t n_tokens);
/* A request answered with an HTTP error status (4xx/5xx). */
void metrics_count_error(mock_metrics *m, int status);

/* A fault applied to a request (kind: enum fault_kind, 0..FAULT_N_KINDS-1). */
void metrics_count_fault(mock_metrics *m, int kind);
/* A request refused with 503 by --max-connections. */
void metrics_count_overload(mock_metrics *m);

/* Appends the exposition text. model labels every series. */
int metrics_render(mock_metrics *m, buf *out, const char *model, engine_counts counts,
                   cache_stats cache);

#endif
