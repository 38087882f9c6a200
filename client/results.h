/* Benchmark results: what one cell (depth x pp x tg x concurrency) of runs
 * measured, in the shape of llama-benchy 0.4.0's BenchmarkRun, plus our
 * extras. The runner feeds finished requests in; the report writers
 * (client/report.h) only print what is here and do no maths.
 *
 * Units: throughputs in tokens/s, latencies in ms (as llama-benchy's JSON),
 * absolute times in CLOCK_MONOTONIC ns. Everything a results value points to
 * is owned by it; free with results_free(). */
#ifndef CLIENT_RESULTS_H
#define CLIENT_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* One llama-benchy BenchmarkMetric {mean, std, values} plus our summary
 * statistics. present == false is llama-benchy's None (JSON null, empty cell). */
typedef struct results_metric {
    bool present;
    double mean;       /* as llama-benchy: mean(raw) * multiplier */
    double std;        /* population std (numpy.std), as llama-benchy */
    double *values;    /* the samples, scaled (owned) */
    size_t n;
    /* Extras (docs/tokbench-metrics.md): sample std (n-1; 0 when n == 1),
     * median and percentiles by linear interpolation between closest ranks
     * (numpy's default), min and max. */
    double std_sample, median, p50, p90, p95, p99, min, max;
} results_metric;

/* A time series of [seconds since the first token, tokens/s] points, as
 * llama-benchy's throughput_over_time entries. */
typedef struct results_series {
    double *t_s;
    double *value;
    size_t n;
} results_series;

typedef struct results_series_list {
    results_series *items;
    size_t n;
} results_series_list;

/* One measured request, for the JSON "requests" array (extra). */
typedef struct results_request {
    int batch;                /* index of the run (batch) inside the cell */
    char *id;                 /* chunk "id" from the stream, NULL when none */
    int64_t start_ns, first_response_ns, first_token_ns, last_token_ns, end_ns;
    int prompt_tokens, completion_tokens, cached_tokens; /* -1 = absent */
    int tokens;               /* generated tokens counted */
    size_t events;            /* token-bearing and role-only events */
    char *error;              /* NULL on success */
    char *error_kind;         /* NULL on success; FAIL_* or "http_<status>" (request.h) */
} results_request;

/* The failed requests of a cell's measured runs, for the JSON "failures"
 * object: how many, how many of each kind (sorted by kind), and the first
 * few distinct reasons word for word. */
#define RESULTS_FAILURE_EXAMPLES 3
typedef struct results_failure_kind {
    char *kind;  /* owned */
    int count;
} results_failure_kind;

typedef struct results_failures {
    int count;
    results_failure_kind *kinds; /* owned */
    size_t n_kinds;
    char *examples[RESULTS_FAILURE_EXAMPLES]; /* owned */
    size_t n_examples;
} results_failures;

typedef struct results_run {
    /* llama-benchy BenchmarkRun, in its JSON key order. */
    int concurrency;
    int context_size;
    int prompt_size;
    int response_size;
    bool is_context_prefill_phase;
    results_metric pp_throughput;
    results_metric pp_req_throughput;
    results_metric tg_throughput;
    results_metric tg_req_throughput;
    results_metric peak_throughput;
    results_metric peak_req_throughput;
    results_metric ttfr;
    results_metric est_ppt;
    results_metric e2e_ttft;
    bool has_total_series;          /* --save-total-throughput-timeseries */
    results_series_list total_series; /* one per batch */
    bool has_req_series;            /* --save-all-throughput-timeseries */
    results_series_list *req_series; /* one list per batch, one series per request */
    size_t n_req_series;

    /* Extras (new JSON keys, after llama-benchy's). */
    results_metric ttft;            /* e2e_ttft minus latency, ms */
    results_metric ttfc;            /* time to first non-reasoning content, ms */
    results_metric itl;             /* inter-token latency between events / tokens, ms */
    results_metric peak_1s;         /* batch peak only over full 1 s windows */
    results_metric peak_1s_req;     /* per-request peak only over full 1 s windows */
    results_metric pp_marginal;     /* prompt_size / est_ppt (see docs) */
    results_metric prompt_tokens;   /* prompt tokens used for pp (usage or expected) */
    results_metric cached_tokens;   /* usage.prompt_tokens_details.cached_tokens */
    results_metric server_pp;       /* llama.cpp timings: prompt_n / prompt_ms */
    results_metric server_tg;       /* llama.cpp timings: predicted_n / predicted_ms */
    const char *count_source;       /* worst count source seen in the cell (static) */
    char *prompt_count_source;      /* as given by the runner (owned), NULL = unknown */
    int expected_pp_tokens;
    int n_requests;                 /* measured requests fed in */
    int n_errors;                   /* of which failed */
    int early_role_chunks;          /* requests where the early-role rule applied */
    results_request *requests;
    size_t n_request_records;
    results_failures failures;      /* printed last, after the runner's extras */
    /* Added by the runner after the cell (load figures, SLO, monitor):
     * an owned cJSON object or NULL, printed after every other key of the
     * run. Numbers that must print as floats are cJSON raw items holding
     * report_pyfloat text. */
    struct cJSON *extra;
    /* Values of the --percentiles table columns, one per results.percentiles
     * entry (owned, NAN = empty cell): e2e_ttft (ms) on the pp row and
     * itl (ms) on the tg row. */
    double *pct_e2e_ttft_ms, *pct_itl_ms;
} results_run;

/* llama-benchy BenchmarkMetadata plus extras. */
typedef struct results_meta {
    const char *version;
    const char *timestamp;          /* "YYYY-MM-DD HH:MM:SS", the runner's choice */
    const char *latency_mode;       /* api | generation | none */
    double latency_ms;
    const char *model;
    bool prefix_caching_enabled;
    int max_concurrency;
    const char *prompt_count_source; /* extra; NULL = omit */
} results_meta;

typedef struct results {
    /* Copies of results_meta's strings (owned). */
    char *version, *timestamp, *latency_mode, *model, *prompt_count_source;
    double latency_ms;
    bool prefix_caching_enabled;
    int max_concurrency;
    char *row_model;                /* model of the first cell added; rows use it */
    /* Extras set by the runner (NULL/0 = none): metadata keys printed after
     * llama-benchy's (owned cJSON object, same rules as results_run.extra),
     * and the percentiles shown as extra markdown columns. */
    struct cJSON *meta_extra;
    double *percentiles;
    size_t n_percentiles;
    /* --server-columns: the markdown table adds "server t/s", the server's
     * own rate (llama.cpp timings: server_pp on pp rows, server_tg on tg rows). */
    bool server_columns;
    results_run *runs;
    size_t n_runs, cap_runs;
} results;

/* Fills m (whose old contents are dropped, not freed) from n samples
 * already in the metric's unit: mean, population std and every extra.
 * n == 0 leaves it absent. For loaders and tests building results. */
void results_metric_set(results_metric *m, const double *values, size_t n);

void results_init(results *r);
void results_free(results *r);
/* Copies every string of m. May be called before or after cells are added. */
void results_set_meta(results *r, const results_meta *m);

/* What the runner knows about one cell. */
typedef struct results_cell_params {
    const char *model;              /* for the rows (first cell wins, as llama-benchy) */
    int pp, tg, depth, concurrency;
    bool is_context_phase;          /* --enable-prefix-caching context load */
    int expected_pp_tokens;         /* depth + pp, or pp / depth by phase */
    int64_t latency_ns;             /* the suite's measured latency L */
    bool save_total_series;
    bool save_all_series;
    const char *prompt_count_source; /* "server_tokenize", "calibrated", ... or NULL */
} results_cell_params;

/* Collects the measured runs of one cell. Opaque; created by
 * results_cell_new, consumed (and freed) by results_cell_finish. */
typedef struct results_cell results_cell;

results_cell *results_cell_new(const results_cell_params *p);
/* Adds one run: the n requests of one synchronized burst (n == concurrency).
 * Borrows reqs only for the call: everything needed is copied, so the caller
 * may clear the requests afterwards. Failed requests (r->error) are counted
 * and recorded but excluded from the metrics, as llama-benchy does. */
void results_cell_add_batch(results_cell *c, const tb_request *reqs, size_t n);
/* Computes the metrics, appends one results_run to r, frees c. */
void results_cell_finish(results_cell *c, results *r);
/* Frees c without adding anything (e.g. on abort). */
void results_cell_free(results_cell *c);

/* Counts one failed request into f (kind and reason are copied). */
void results_failures_add(results_failures *f, const char *kind, const char *reason);
void results_failures_free(results_failures *f);

/* Test name as llama-benchy prints it for run i: kind is 0 for the pp row
 * and 1 for the tg row, e.g. "pp2048 @ d4096 (c2)" or "ctx_tg @ d4096".
 * Writes at most size bytes (NUL-terminated); returns the length. */
size_t results_test_name(const results *r, const results_run *run, int kind, char *out,
                         size_t size);

#endif
