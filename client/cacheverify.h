/* What the server reports about its own work, per cell: llama.cpp's
 * `timings` (prompt_n, prompt_ms, predicted_n, predicted_ms, cache_n,
 * draft_n, draft_n_accepted) and usage.prompt_tokens_details.cached_tokens,
 * summarised beside the client's figures; and from them whether the prompt
 * cache behaved as the mode intends (cache_verified: true / false /
 * "unknown"). Pure: reads finished tb_request records, no clock, no I/O.
 *
 * A cell's runs are fed batch by batch (the runner clears its requests
 * between batches), so the state is an accumulator. */
#ifndef CLIENT_CACHEVERIFY_H
#define CLIENT_CACHEVERIFY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "client/request.h"

/* What the cell's requests should find in the server's prompt cache. */
enum cv_mode {
    CV_MODE_PLAIN = 0,    /* no expectation (each run has its own prompt) */
    CV_MODE_CACHED = 1,   /* --enable-prefix-caching, inference phase: the context must hit */
    CV_MODE_COLD = 2,     /* --enable-prefix-caching, context-load phase: should miss */
    CV_MODE_NO_CACHE = 3, /* --no-cache: must miss */
};

enum cv_verdict {
    CV_NOT_APPLICABLE = 0, /* plain mode: nothing to verify (JSON null) */
    CV_VERIFIED = 1,       /* true */
    CV_FAILED = 2,         /* false */
    CV_UNKNOWN = 3,        /* "unknown": the server reported no cache figures */
};

/* Thresholds (docs/tokbench-servers.md). A request hit the cache when its
 * cached tokens reach CV_HIT_FRACTION of the tokens expected to be cached
 * (the context; without an expectation, of its whole prompt). It missed when
 * they stay at or below max(CV_MISS_SLACK_TOKENS, CV_MISS_FRACTION of its
 * prompt): a chat template's common opening may be reused by any request. */
#define CV_HIT_FRACTION 0.5
#define CV_MISS_SLACK_TOKENS 32
#define CV_MISS_FRACTION 0.1

typedef struct cacheverify cacheverify;

/* expected_cached_tokens: tokens the server should find cached in
 * CV_MODE_CACHED (the context depth), 0 when not known. Free with
 * cacheverify_free. */
cacheverify *cacheverify_new(enum cv_mode mode, int expected_cached_tokens);
void cacheverify_free(cacheverify *cv);

/* Adds finished requests (borrowed for the call). Failed requests are
 * skipped: they say nothing about the cache. */
void cacheverify_add(cacheverify *cv, const tb_request *reqs, size_t n);

/* The verdict, with a one-line reason in reason (may be NULL), e.g.
 * "3 of 3 requests found >= 50% of the 4096 context tokens cached
 * (timings.cache_n)". */
enum cv_verdict cacheverify_verdict(const cacheverify *cv, char *reason, size_t reason_len);

/* A warning for the log when the cache did not behave as the mode intends
 * (a "cached" run that missed, a --no-cache or cold run that hit). Writes
 * it to out and returns 1, or returns 0 and writes "". what names the cell
 * in the message (e.g. "pp512 @ d4096"). */
int cacheverify_warning(const cacheverify *cv, const char *what, char *out, size_t out_len);

/* The cell's summary as new members of *extra (created when NULL; the
 * runner's results_run.extra). Adds:
 *   "cache_mode": "plain" | "cached" | "cold" | "no_cache",
 *   "cache_verified": null | true | false | "unknown", "cache_verified_reason",
 *   "server_reported": {"requests", "requests_with_timings",
 *       "timings": {prompt_n, prompt_ms, predicted_n, predicted_ms, cache_n,
 *                   draft_n, draft_n_accepted} (means; null when absent),
 *       "pp_tps", "tg_tps" (means of per-request rates), "draft_acceptance"
 *       (sum accepted / sum drafted), "cached_tokens" (mean of
 *       usage.prompt_tokens_details.cached_tokens), "cache_hits",
 *       "cache_misses", "cache_partial", "cache_unknown" (request counts)}.
 * Floats are raw items in report_pyfloat form, as the other extras. */
void cacheverify_attach(const cacheverify *cv, cJSON **extra);

/* One-shot helper: the verdict over n requests. */
enum cv_verdict cacheverify_requests(enum cv_mode mode, int expected_cached_tokens,
                                     const tb_request *reqs, size_t n, char *reason,
                                     size_t reason_len);

const char *cacheverify_mode_name(enum cv_mode mode);

#endif
