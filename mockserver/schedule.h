/* The independent engine's timing model (SPEC §1.4) and the multi-token steps
 * (SPEC §1.6), as pure functions of their inputs: no clock, no I/O.
 *
 * A request admitted at s with U uncached prompt tokens finishes prefill at
 * f = s + overhead + U / pp_rate and emits its first token (1 token) at f.
 * Decode step k (k = 1, 2, ...) happens at f + k / tg_rate and yields
 * n_k tokens: 1, or with --mtp K 1 + the number of leading successes of K
 * Bernoulli(mtp_accept) draws, or the next entry of --mtp-pattern; clamped so
 * the total never exceeds the limit. */
#ifndef MOCK_SCHEDULE_H
#define MOCK_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "common/prng.h"

#define SCHED_MAX_PATTERN 32

typedef struct sched_params {
    double pp_rate;       /* prefill tokens per second, > 0 */
    double tg_rate;       /* decode steps per second, > 0 */
    int64_t overhead_ns;  /* fixed time before prefill */
    int mtp_k;            /* draft tokens per step, 0 = off */
    double mtp_accept;    /* per-draft acceptance probability */
    int mtp_pattern[SCHED_MAX_PATTERN]; /* fixed step sizes, cycled; */
    size_t mtp_pattern_len;             /* 0 = not used */
} sched_params;

void sched_params_default(sched_params *p);

/* Parses "3,1,2" into the pattern; each entry 1..64. Returns 0 or -1. */
int sched_parse_pattern(sched_params *p, const char *list);

/* Time prefill ends: admit_ns + overhead + uncached / pp_rate. */
int64_t sched_prefill_end_ns(const sched_params *p, int64_t admit_ns, size_t uncached_tokens);

typedef struct sched_stream {
    const sched_params *params; /* borrowed */
    int64_t prefill_end_ns;
    size_t limit;          /* max tokens to generate */
    size_t emitted;        /* tokens produced so far */
    size_t step;           /* 0 = the first token (end of prefill), then 1, 2, ... */
    size_t pattern_pos;
    size_t drafted;        /* MTP draft tokens proposed so far */
    size_t accepted;       /* of which accepted */
    prng rng;              /* per-request: MTP draws */
} sched_stream;

/* seed: per request (server seed mixed with the request body hash). */
void sched_stream_init(sched_stream *s, const sched_params *p, int64_t prefill_end_ns,
                       size_t limit, uint64_t seed);

/* The next event: its scheduled time and how many tokens it carries.
 * Returns 1, or 0 when all `limit` tokens have been produced. */
int sched_stream_next(sched_stream *s, int64_t *at_ns, size_t *n_tokens);

#endif
