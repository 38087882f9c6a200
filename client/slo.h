/* Service-level objectives (--slo): parsing "name<=value,..." and checking
 * them against the results. A name is <metric>_<stat>[_ms] for a metric of
 * the JSON (ttft_p95_ms, tg_req_p50, e2el_max_ms), or a per-cell scalar
 * (error_rate, requests_per_second, goodput). Pure: no I/O, no clock. */
#ifndef CLIENT_SLO_H
#define CLIENT_SLO_H

#include <stdbool.h>
#include <stddef.h>

#include "client/results.h"

enum slo_op { SLO_LE, SLO_LT, SLO_GE, SLO_GT };

typedef struct slo_objective {
    char name[64];     /* as written, e.g. "ttft_p95_ms" */
    char metric[48];   /* JSON key, e.g. "ttft", "tg_req_throughput", "error_rate" */
    char stat[16];     /* "mean", "std", "median", "min", "max", "p<N>"; "" for a scalar */
    double pct;        /* N of "p<N>" */
    enum slo_op op;
    double threshold;
    bool per_request;  /* checkable on one request too (counts toward goodput) */
} slo_objective;

typedef struct slo_set {
    slo_objective *items; /* owned */
    size_t n;
} slo_set;

/* Parses spec into set (initialized here; free with slo_set_free in every
 * case). Returns 0, or -1 with one line in err. */
int slo_parse(const char *spec, slo_set *set, char *err, size_t errlen);
void slo_set_free(slo_set *set);

/* One objective's value on one cell: standard metrics from the run's
 * results_metric values, others from run->extra (a number, a raw number, or
 * an object holding the stat). Returns false when the cell has no value. */
bool slo_value(const slo_objective *o, const results_run *run, double *value);
bool slo_holds(const slo_objective *o, double value);

/* Per-request values for goodput, NAN when the request has none. */
typedef struct slo_request_values {
    double ttft_ms, e2e_ttft_ms, ttfr_ms, est_ppt_ms, e2el_ms, tg_tps, pp_tps;
} slo_request_values;

/* True when the request meets every per-request objective of set (a failed
 * request never does: the caller does not ask). A missing value fails. */
bool slo_request_ok(const slo_set *set, const slo_request_values *v);

/* Writes "name <op> threshold" (e.g. "ttft_p95_ms<=500"). */
void slo_format(const slo_objective *o, char *out, size_t size);
const char *slo_op_text(enum slo_op op);

#endif
