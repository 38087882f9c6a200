/* The engine: admission of requests into --parallel slots (a FIFO ticket
 * queue) and the "play" interface the HTTP handler calls to learn when its
 * next event is due and how many tokens it carries.
 *
 * The handler never computes times itself: it asks engine_play_next() and
 * sleeps until the returned absolute CLOCK_MONOTONIC deadline. The independent
 * engine answers from the closed-form schedule (schedule.h); the shared
 * engine (engine_new_shared) runs one thread, the virtual accelerator, that
 * steps through prefill chunks and decode batches (shared.h) and hands each
 * stream its event times; its play calls block until the time is decided.
 * Thread safe. Deadlines for waiting and admission times are passed in; only
 * the shared engine's thread asks the clock for "now". */
#ifndef MOCK_ENGINE_H
#define MOCK_ENGINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "mockserver/schedule.h"

typedef struct mock_engine mock_engine;

/* A request's place in the admission queue. Lives in the handler (stack);
 * the engine links it while the request waits. */
typedef struct engine_ticket {
    pthread_cond_t cond;
    struct engine_ticket *next;
    int queued;   /* linked in the wait queue */
    int admitted; /* owns a slot */
} engine_ticket;

/* One admitted request's schedule. */
typedef struct engine_play {
    sched_stream stream;     /* independent engine */
    struct shared_seq *seq;  /* shared engine: owned by the engine */
    int64_t admit_ns;
    int64_t prefill_end_ns;
} engine_play;

/* parallel: slots, 0 = unlimited. Borrows params for the engine's lifetime. */
mock_engine *engine_new(int parallel, const sched_params *params);
/* The shared engine: --parallel slots in front of one virtual accelerator
 * (decode step time grows with batch_penalty; prefill in chunks of
 * prefill_chunk tokens). Starts the engine thread. */
mock_engine *engine_new_shared(int parallel, const sched_params *params, double batch_penalty,
                               size_t prefill_chunk);
/* Shared engine: the KV budget in tokens and whether it preempts
 * (shared.h); call before the first request. No effect on the independent
 * engine. */
void engine_set_kv_budget(mock_engine *e, size_t kv_budget, int preempt);
/* Stops the engine thread (if any); call only when no handler uses the
 * engine any more. */
void engine_free(mock_engine *e);

/* Joins the FIFO queue (admitted at once when a slot is free). */
void engine_enqueue(mock_engine *e, engine_ticket *t);

/* Waits for admission until the absolute CLOCK_MONOTONIC deadline until_ns
 * (INT64_MAX = no deadline). Returns 1 when admitted, 0 when the deadline
 * passed first (the caller may send a keep-alive and call again), -1 when the
 * engine is shutting down (the ticket is no longer queued). */
int engine_wait_admit(mock_engine *e, engine_ticket *t, int64_t until_ns);

/* Leaves the queue or frees the slot the ticket holds (stream ended, client
 * gone, error). Safe to call in any state, once per enqueue. */
void engine_leave(mock_engine *e, engine_ticket *t);

/* Starts the schedule of an admitted request: prefill of uncached_tokens from
 * admit_ns, then up to limit tokens. seed drives the MTP draws. The shared
 * engine returns only once the prefill end (p->prefill_end_ns) is decided;
 * at shutdown it returns with prefill_end_ns = admit_ns. Every started play
 * must be ended with engine_play_end(). */
void engine_play_start(mock_engine *e, engine_play *p, int64_t admit_ns, size_t uncached_tokens,
                       size_t limit, uint64_t seed);
/* The same, telling the shared engine the whole prompt length
 * (context_tokens, cached part included) for its KV-usage count. */
void engine_play_start_ctx(mock_engine *e, engine_play *p, int64_t admit_ns,
                           size_t context_tokens, size_t uncached_tokens, size_t limit,
                           uint64_t seed);

/* The next token event: its absolute due time and token count. Returns 1, or
 * 0 when the request has all its tokens (or the engine shuts down). The
 * shared engine blocks until the step carrying the event is decided. */
int engine_play_next(mock_engine *e, engine_play *p, int64_t *at_ns, size_t *n_tokens);

/* The request stops playing (all tokens sent, stopped early, client gone):
 * the shared engine drops it from its batch. Safe to call twice. */
void engine_play_end(mock_engine *e, engine_play *p);

/* Wakes every waiter with -1 and refuses new admissions. */
void engine_shutdown(mock_engine *e);

typedef struct engine_counts {
    /* In a slot and holding KV room / queued for a slot or for KV room. */
    int running;
    int waiting;
    /* Shared engine only (0 otherwise): sequences in prefill and in decode,
     * and the KV tokens they hold (prompt + generated). */
    int prefilling;
    int decoding;
    size_t kv_tokens;
    size_t kv_budget; /* 0 = none */
} engine_counts;

engine_counts engine_get_counts(mock_engine *e);

#endif
