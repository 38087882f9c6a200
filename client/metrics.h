/* Per-request and per-batch metric formulas of llama-benchy 0.4.0 (SPEC
 * §2.5), as pure functions of a request's recorded timestamps. Times in
 * seconds relative to start unless the name says _ns. See
 * docs/tokbench-metrics.md for every definition side by side. */
#ifndef CLIENT_METRICS_H
#define CLIENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "results.h"

#define METRICS_PEAK_WINDOW_NS INT64_C(1000000000)

/* One request's figures. A negative value means "none" (llama-benchy would
 * not append a value for it). */
typedef struct metrics_request {
    double ttfr_s;       /* first event with non-empty choices - start */
    double e2e_ttft_s;   /* first token-bearing event - start */
    double ttft_s;       /* max(0, e2e_ttft - L) */
    double est_ppt_s;    /* max(0, ttfr - L); early-role rule: max(0, e2e_ttft - L) */
    double ttfc_s;       /* first non-empty delta.content - start */
    int prompt_tokens;   /* usage.prompt_tokens when within 20% of expected, else expected */
    double pp_tps;       /* prompt_tokens / est_ppt, when est_ppt > 0 */
    int decode_tokens;   /* tokens whose timestamp is after the first token's */
    double tg_tps;       /* decode_tokens / (last token - first token) */
    double peak_tps;     /* llama-benchy peak over the token timestamps */
    double peak_1s_tps;  /* peak over full 1 s windows only; none when shorter */
    int early_role;      /* the early-role rule applied */
} metrics_request;

/* Computes m for a finished, successful request. */
void metrics_request_compute(const tb_request *r, int64_t latency_ns, int expected_pp_tokens,
                             metrics_request *m);

/* The request's token timestamps (one per counted token, each at its event's
 * time), in order. Returns the count; *out is a new array (free()), NULL
 * when there are none. */
size_t metrics_token_times(const tb_request *r, int64_t **out);

/* Tokens whose timestamp is strictly after the first one (llama-benchy's
 * "observed decode tokens"). ts sorted ascending. */
size_t metrics_decode_tokens(const int64_t *ts, size_t n);

/* llama-benchy's peak throughput: sorts ts in place; 0 for no tokens; when
 * 0 < duration < window: n / duration; else the most tokens in a trailing
 * window (t - window, t] divided by the window. When series is not NULL it
 * receives one point per token: [t - first, tokens in window / window]. */
double metrics_peak(int64_t *ts, size_t n, int64_t window_ns, results_series *series);
/* Our peak over full windows only: -1 when the duration is below the window. */
double metrics_peak_full_windows(int64_t *ts, size_t n, int64_t window_ns);

/* Inter-token latencies in ms: for every token-bearing event after the first
 * one carrying tokens, each of its k tokens is given (t - t_previous) / k.
 * Appends to out (a stats-like growable array). */
void metrics_itl_ms(const tb_request *r, double **out, size_t *n, size_t *cap);

#endif
