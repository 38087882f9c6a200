/* The engine: admission of requests into --parallel slots (a FIFO ticket
 * queue) and the "play" interface the HTTP handler calls to learn when its
 * next event is due and how many tokens it carries.
 *
 * The handler never computes times itself: it asks engine_play_next() and
 * sleeps until the returned absolute CLOCK_MONOTONIC deadline. The independent
 * engine answers from the closed-form schedule (schedule.h); a shared engine
 * (one virtual accelerator stepping batches) can answer the same calls later
 * without changes to the handler. Thread safe. Reads no clock: deadlines for
 * waiting and admission times are passed in. */
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
    sched_stream stream;
    int64_t admit_ns;
    int64_t prefill_end_ns;
} engine_play;

/* parallel: slots, 0 = unlimited. Borrows params for the engine's lifetime. */
mock_engine *engine_new(int parallel, const sched_params *params);
/* Call only when no handler uses the engine any more. */
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
 * admit_ns, then up to limit tokens. seed drives the MTP draws. */
void engine_play_start(mock_engine *e, engine_play *p, int64_t admit_ns, size_t uncached_tokens,
                       size_t limit, uint64_t seed);

/* The next token event: its absolute due time and token count. Returns 1, or
 * 0 when the request has all its tokens. */
int engine_play_next(mock_engine *e, engine_play *p, int64_t *at_ns, size_t *n_tokens);

/* Wakes every waiter with -1 and refuses new admissions. */
void engine_shutdown(mock_engine *e);

typedef struct engine_counts {
    int running;
    int waiting;
} engine_counts;

engine_counts engine_get_counts(mock_engine *e);

#endif
