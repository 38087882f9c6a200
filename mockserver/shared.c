/* The shared engine's step scheduler: see shared.h. Sequences live in one
 * list in the order they were added, which is also the prefill order. */
#include "mockserver/shared.h"

#include <math.h>
#include <stdlib.h>

#include "common/xalloc.h"

typedef struct seq_event {
    int64_t at_ns;
    size_t n_tokens;
} seq_event;

struct shared_seq {
    shared_seq *prev, *next;
    int64_t ready_ns;
    size_t context_tokens;
    size_t kv_need;         /* context + max tokens: its reservation under a KV budget */
    int resident;           /* holds its KV reservation (0 while it waits for room) */
    size_t uncached;        /* uncached prompt tokens as added */
    size_t prefill_left;    /* uncached prompt tokens not yet prefilled */
    size_t recompute_left;  /* after a preemption: context to prefill again */
    int64_t prefill_end_ns; /* -1 until the last chunk is scheduled */
    int finished;
    sched_stream stream;    /* token counts (its times are not used) */
    seq_event *events;      /* queued, not yet popped: [head, len) */
    size_t head, len, cap;
};

struct shared_sched {
    const sched_params *params; /* borrowed */
    double batch_penalty;
    size_t prefill_chunk;
    size_t kv_budget;      /* 0 = unlimited */
    int kv_preempt;        /* count live tokens, pause the newest when full */
    shared_seq *first, *last;
    int64_t busy_until_ns; /* end of the last step decided */
    int started;           /* a step has been decided at least once */
};

/* Rounds seconds to the nearest nanosecond, saturating far in the future so
 * an absurd rate never overflows. */
static int64_t seconds_to_ns(double seconds)
{
    const double max_ns = 4.6e18;
    double ns = seconds * 1e9;
    if (!(ns < max_ns))
        return (int64_t)max_ns;
    if (ns < 0)
        return 0;
    return (int64_t)llround(ns);
}

int64_t shared_decode_step_ns(const sched_params *p, double batch_penalty, size_t batch)
{
    double b = batch > 0 ? (double)batch : 1.0;
    return seconds_to_ns((1.0 + batch_penalty * (b - 1.0)) / p->tg_rate);
}

shared_sched *shared_new(const sched_params *params, double batch_penalty, size_t prefill_chunk)
{
    shared_sched *s = xcalloc(1, sizeof *s);
    s->params = params;
    s->batch_penalty = batch_penalty;
    s->prefill_chunk = prefill_chunk ? prefill_chunk : 1;
    return s;
}

static void seq_free(shared_seq *q)
{
    free(q->events);
    free(q);
}

void shared_free(shared_sched *s)
{
    if (!s)
        return;
    shared_seq *q = s->first;
    while (q) {
        shared_seq *next = q->next;
        seq_free(q);
        q = next;
    }
    free(s);
}

shared_seq *shared_add(shared_sched *s, int64_t ready_ns, size_t context_tokens,
                       size_t uncached_tokens, size_t limit, uint64_t seed)
{
    shared_seq *q = xcalloc(1, sizeof *q);
    q->ready_ns = ready_ns;
    q->context_tokens = context_tokens;
    q->kv_need = context_tokens + limit;
    q->resident = s->kv_budget == 0;
    q->uncached = uncached_tokens;
    q->prefill_left = uncached_tokens;
    q->prefill_end_ns = -1;
    sched_stream_init(&q->stream, s->params, 0, limit, seed);
    q->prev = s->last;
    if (s->last)
        s->last->next = q;
    else
        s->first = q;
    s->last = q;
    return q;
}

void shared_remove(shared_sched *s, shared_seq *q)
{
    if (!q)
        return;
    if (q->prev)
        q->prev->next = q->next;
    else
        s->first = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        s->last = q->prev;
    seq_free(q);
}

static void push_event(shared_seq *q, int64_t at_ns, size_t n_tokens)
{
    if (q->head == q->len) {
        q->head = q->len = 0; /* everything popped: reuse from the start */
    }
    if (q->len == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 8;
        q->events = xrealloc(q->events, q->cap * sizeof *q->events);
    }
    q->events[q->len].at_ns = at_ns;
    q->events[q->len].n_tokens = n_tokens;
    q->len++;
}

/* Asks the sequence's stream for its next step's tokens and queues them as an
 * event at at_ns; marks the sequence finished when nothing is left. Returns
 * the tokens queued. */
static size_t produce(shared_seq *q, int64_t at_ns)
{
    int64_t ignored_ns;
    size_t n = 0;
    if (!sched_stream_next(&q->stream, &ignored_ns, &n))
        n = 0;
    if (n > 0)
        push_event(q, at_ns, n);
    if (q->stream.emitted >= q->stream.limit)
        q->finished = 1;
    return n;
}

void shared_set_kv_budget(shared_sched *s, size_t kv_budget)
{
    s->kv_budget = kv_budget;
    for (shared_seq *q = s->first; q; q = q->next)
        q->resident = q->resident || kv_budget == 0;
}

void shared_set_kv_preempt(shared_sched *s, int on)
{
    s->kv_preempt = on != 0;
}

/* Tokens a sequence holds now: its context and what it generated. */
static size_t live_tokens(const shared_seq *q)
{
    return q->context_tokens + q->stream.emitted;
}

size_t shared_kv_held(const shared_sched *s)
{
    size_t held = 0;
    for (const shared_seq *q = s->first; q; q = q->next)
        if (q->resident && !q->finished)
            held += s->kv_preempt ? live_tokens(q) : q->kv_need;
    return held;
}

static int needs_prefill(const shared_seq *q)
{
    return q->prefill_end_ns < 0 || q->recompute_left > 0;
}

/* Unfinished sequences holding room whose prefill is done: the decode
 * batch; each will hold one more token after the next decode step. */
static size_t count_decoders(const shared_sched *s)
{
    size_t n = 0;
    for (const shared_seq *q = s->first; q; q = q->next)
        if (q->resident && !q->finished && !needs_prefill(q))
            n++;
    return n;
}

/* Gives KV room to waiting sequences in FIFO order: each takes its
 * reservation if it fits beside the unfinished resident ones, or if nothing
 * else holds room (a request larger than the whole budget still runs,
 * alone). The first one that does not fit stops the scan: no overtaking. */
static void admit_kv(shared_sched *s)
{
    if (s->kv_budget == 0)
        return;
    size_t held = shared_kv_held(s);
    /* Under preemption a request needs room for what it holds now plus its
     * next token, beside the running ones and their next tokens. */
    size_t growth = s->kv_preempt ? count_decoders(s) : 0;
    for (shared_seq *q = s->first; q; q = q->next) {
        if (q->resident)
            continue;
        size_t need = s->kv_preempt ? live_tokens(q) + 1 : q->kv_need;
        if (held > 0 && held + growth + need > s->kv_budget)
            break;
        q->resident = 1;
        held += s->kv_preempt ? live_tokens(q) : need;
    }
}

/* --kv-preempt, before a decode step: while the running sequences' tokens
 * after the step would exceed the budget, the newest of them (but never the
 * last one) gives its room back and waits at the head of the queue; its KV
 * is lost, so it prefills its whole context again when it gets room back
 * (vLLM's recomputation). */
static void preempt_kv(shared_sched *s)
{
    if (s->kv_budget == 0 || !s->kv_preempt)
        return;
    for (;;) {
        size_t live = shared_kv_held(s) + count_decoders(s);
        if (live <= s->kv_budget)
            return;
        shared_seq *newest = NULL;
        size_t holders = 0;
        for (shared_seq *q = s->first; q; q = q->next)
            if (q->resident && !q->finished) {
                holders++;
                newest = q;
            }
        if (holders < 2)
            return;
        newest->resident = 0;
        if (newest->prefill_end_ns < 0)
            newest->prefill_left = newest->uncached; /* its prefill restarts */
        else
            newest->recompute_left = live_tokens(newest);
    }
}

int shared_seq_resident(const shared_seq *q)
{
    return q->resident;
}

static int is_prefilling(const shared_seq *q)
{
    return q->resident && !q->finished && needs_prefill(q);
}

static int is_decoding(const shared_seq *q)
{
    return q->resident && !q->finished && !needs_prefill(q);
}

/* The oldest sequence whose prefill can run in a step starting at start_ns. */
static shared_seq *prefill_candidate(const shared_sched *s, int64_t start_ns)
{
    for (shared_seq *q = s->first; q; q = q->next)
        if (is_prefilling(q) && q->ready_ns <= start_ns)
            return q;
    return NULL;
}

int shared_next_step(shared_sched *s, int64_t now_ns, shared_step *out, int64_t *wake_ns)
{
    *wake_ns = INT64_MAX;
    if (s->started && now_ns < s->busy_until_ns) {
        *wake_ns = s->busy_until_ns; /* a step is still running */
        return 0;
    }
    admit_kv(s);

    size_t batch = 0;
    int64_t earliest_ready = INT64_MAX;
    for (const shared_seq *q = s->first; q; q = q->next) {
        if (is_decoding(q))
            batch++;
        else if (is_prefilling(q) && q->ready_ns < earliest_ready)
            earliest_ready = q->ready_ns;
    }

    /* Back to back with the previous step while there is work at its end;
     * after an idle gap, the step starts when its sequence became ready, so
     * the timeline does not depend on how late the caller woke. */
    int64_t start_ns;
    if (s->started && (batch > 0 || earliest_ready <= s->busy_until_ns)) {
        start_ns = s->busy_until_ns;
    } else if (earliest_ready == INT64_MAX) {
        return 0; /* idle: nothing added */
    } else if (earliest_ready > now_ns) {
        *wake_ns = earliest_ready;
        return 0;
    } else {
        start_ns = earliest_ready;
        if (s->started && start_ns < s->busy_until_ns)
            start_ns = s->busy_until_ns;
    }

    out->start_ns = start_ns;
    out->prefill_tokens = 0;
    out->batch = 0;
    out->tokens_out = 0;
    shared_seq *pq = prefill_candidate(s, start_ns);
    if (pq) {
        size_t *left = pq->recompute_left > 0 ? &pq->recompute_left : &pq->prefill_left;
        size_t chunk = *left < s->prefill_chunk ? *left : s->prefill_chunk;
        out->kind = SHARED_STEP_PREFILL;
        out->prefill_tokens = chunk;
        out->end_ns = start_ns + seconds_to_ns((double)chunk / s->params->pp_rate);
        *left -= chunk;
        if (left == &pq->prefill_left && pq->prefill_left == 0) {
            pq->prefill_end_ns = out->end_ns;
            out->tokens_out = produce(pq, out->end_ns); /* the first token */
            if (pq->stream.limit == 0)
                pq->finished = 1;
        }
    } else {
        if (s->kv_preempt && s->kv_budget > 0) {
            preempt_kv(s);
            batch = count_decoders(s);
            if (batch == 0) {
                /* Only sequences still waiting to be ready hold room. */
                int64_t ready = INT64_MAX;
                for (const shared_seq *q = s->first; q; q = q->next)
                    if (is_prefilling(q) && q->ready_ns < ready)
                        ready = q->ready_ns;
                *wake_ns = ready;
                return 0;
            }
        }
        out->kind = SHARED_STEP_DECODE;
        out->batch = batch;
        out->end_ns = start_ns + shared_decode_step_ns(s->params, s->batch_penalty, batch);
        for (shared_seq *q = s->first; q; q = q->next)
            if (is_decoding(q))
                out->tokens_out += produce(q, out->end_ns);
    }
    s->busy_until_ns = out->end_ns;
    s->started = 1;
    return 1;
}

int64_t shared_seq_prefill_end_ns(const shared_seq *q)
{
    return q->prefill_end_ns;
}

int shared_seq_pop(shared_seq *q, int64_t *at_ns, size_t *n_tokens)
{
    if (q->head == q->len)
        return 0;
    *at_ns = q->events[q->head].at_ns;
    *n_tokens = q->events[q->head].n_tokens;
    q->head++;
    return 1;
}

int shared_seq_finished(const shared_seq *q)
{
    return q->finished;
}

const sched_stream *shared_seq_stream(const shared_seq *q)
{
    return &q->stream;
}

shared_counts shared_get_counts(const shared_sched *s)
{
    shared_counts c = {0, 0, 0, 0, 0};
    for (const shared_seq *q = s->first; q; q = q->next) {
        if (!q->resident) {
            c.kv_waiting++;
            continue;
        }
        if (q->finished) {
            c.finished++;
            continue;
        }
        if (is_prefilling(q))
            c.prefilling++;
        else
            c.decoding++;
        c.context_tokens += q->context_tokens + q->stream.emitted;
    }
    return c;
}
