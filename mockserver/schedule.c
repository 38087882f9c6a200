/* The independent engine's timing model: see schedule.h. Times are derived
 * from the step number on every call, never by adding intervals, so rounding
 * never drifts however long a stream runs. */
#include "mockserver/schedule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define PATTERN_ENTRY_MAX 64

void sched_params_default(sched_params *p)
{
    p->pp_rate = 1000.0;
    p->tg_rate = 50.0;
    p->overhead_ns = 0;
    p->mtp_k = 0;
    p->mtp_accept = 0.7;
    for (size_t i = 0; i < SCHED_MAX_PATTERN; i++)
        p->mtp_pattern[i] = 0;
    p->mtp_pattern_len = 0;
}

int sched_parse_pattern(sched_params *p, const char *list)
{
    int parsed[SCHED_MAX_PATTERN];
    size_t n = 0;
    const char *s = list;

    if (!s || !*s)
        return -1;
    for (;;) {
        char *end;
        long v;
        if (*s < '0' || *s > '9')
            return -1; /* no sign, no space, no empty entry */
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || v < 1 || v > PATTERN_ENTRY_MAX || n == SCHED_MAX_PATTERN)
            return -1;
        parsed[n++] = (int)v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
    for (size_t i = 0; i < n; i++)
        p->mtp_pattern[i] = parsed[i];
    p->mtp_pattern_len = n;
    return 0;
}

/* Rounds seconds to the nearest nanosecond, saturating at about 146 years so
 * that an absurd rate can never overflow (or feed NaN into) the conversion. */
static int64_t seconds_to_ns(double seconds)
{
    const double max_ns = 4.6e18;
    double ns = seconds * 1e9;
    if (!(ns < max_ns))
        return (int64_t)max_ns; /* also NaN */
    if (ns < 0)
        return 0;
    return (int64_t)llround(ns);
}

int64_t sched_prefill_end_ns(const sched_params *p, int64_t admit_ns, size_t uncached_tokens)
{
    return admit_ns + p->overhead_ns + seconds_to_ns((double)uncached_tokens / p->pp_rate);
}

void sched_stream_init(sched_stream *s, const sched_params *p, int64_t prefill_end_ns,
                       size_t limit, uint64_t seed)
{
    s->params = p;
    s->prefill_end_ns = prefill_end_ns;
    s->limit = limit;
    s->emitted = 0;
    s->step = 0;
    s->pattern_pos = 0;
    s->drafted = 0;
    s->accepted = 0;
    prng_seed(&s->rng, seed);
}

/* Tokens the next decode step would yield before clamping; *drafted_out is
 * the number of draft tokens proposed for it. A pattern entry n counts as
 * n - 1 drafts, all accepted. */
static size_t step_tokens(sched_stream *s, size_t *drafted_out)
{
    const sched_params *p = s->params;
    if (p->mtp_pattern_len > 0) {
        size_t n = (size_t)p->mtp_pattern[s->pattern_pos];
        s->pattern_pos = (s->pattern_pos + 1) % p->mtp_pattern_len;
        *drafted_out = n - 1;
        return n;
    }
    if (p->mtp_k > 0) {
        /* Leading successes: drafting stops at the first rejected token. */
        size_t accepted = 0;
        while (accepted < (size_t)p->mtp_k && prng_uniform(&s->rng) < p->mtp_accept)
            accepted++;
        *drafted_out = (size_t)p->mtp_k;
        return 1 + accepted;
    }
    *drafted_out = 0;
    return 1;
}

int sched_stream_next(sched_stream *s, int64_t *at_ns, size_t *n_tokens)
{
    size_t n, drafted = 0;
    if (s->emitted >= s->limit)
        return 0;
    if (s->step == 0) {
        n = 1; /* the prefill pass produces exactly one token */
        *at_ns = s->prefill_end_ns;
    } else {
        n = step_tokens(s, &drafted);
        *at_ns = s->prefill_end_ns + seconds_to_ns((double)s->step / s->params->tg_rate);
    }
    if (n > s->limit - s->emitted)
        n = s->limit - s->emitted;
    if (drafted > 0) {
        /* Accepted drafts are the tokens beyond the step's own one that were
         * actually emitted, so the counts agree with the stream after a clamp. */
        s->drafted += drafted;
        s->accepted += n - 1;
    }
    s->emitted += n;
    s->step++;
    *n_tokens = n;
    return 1;
}
