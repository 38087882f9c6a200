/* The emitter (issue #9): token events written by a few timer-driven threads
 * instead of one sleeping handler thread per stream, so a token costs a write
 * and not a thread wake-up.
 *
 * Each stream has a FIFO of pending writes that its handler (the producer)
 * fills ahead of time; a min-heap orders the streams by the due time of their
 * head item. The core below is pure (no clock, no threads, no I/O: the caller
 * holds a lock and passes "now"); emitter_new() wraps it with N threads that
 * sleep on a CLOCK_MONOTONIC condition variable until the earliest due time. */
#ifndef MOCK_EMITTER_H
#define MOCK_EMITTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* One pending write. */
typedef struct emitter_item {
    int64_t due_ns;       /* CLOCK_MONOTONIC; < 0 = right after the stream's previous item */
    int64_t scheduled_ns; /* the truth's scheduled time; -1 = none */
    size_t n_tokens;      /* tokens the write carries (for the truth and the metrics) */
    size_t n_gen_after;   /* tokens generated once this event is sent */
    int end;              /* the stream's last write (ends the chunked body) */
    char *data;           /* owned (malloc'd): pushing hands it to the emitter */
    size_t len;
} emitter_item;

/* ------------------------------------------------------------- pure core */

typedef struct emitter_core emitter_core;
typedef struct emitter_stream emitter_stream;

/* What a stream's producer waits for. */
enum emitter_wait {
    EMITTER_WAIT_NONE = 0,
    EMITTER_WAIT_ROOM,  /* the queue dropped to low water (or the stream failed) */
    EMITTER_WAIT_DRAIN, /* nothing queued and nothing being written */
};

/* A producer blocks when its stream holds high_water items and is woken when
 * it drops to low_water (low_water < high_water, high_water >= 1). */
emitter_core *emitter_core_new(size_t high_water, size_t low_water);
/* Frees the core and every stream still open (their items too). */
void emitter_core_free(emitter_core *c);

/* A new stream; user is handed back by emitter_core_user(). n_gen_start: the
 * tokens generated before anything is queued (what "sent" means until the
 * first write). Returns a stream owned by the core until emitter_core_close. */
emitter_stream *emitter_core_open(emitter_core *c, void *user, size_t n_gen_start);
/* Frees a stream that is not being written (busy) and its queued items. */
void emitter_core_close(emitter_core *c, emitter_stream *st);

/* Appends an item (its data is owned by the core from here on, also on
 * failure). Returns 1 when the stream's head became the earliest due of all
 * (emitter threads should re-arm their timers), 0 when queued otherwise, -1
 * when refused because the stream failed or the core is stopping (the data
 * is freed). A push never waits: the caller checks emitter_core_full(). */
int emitter_core_push(emitter_core *c, emitter_stream *st, const emitter_item *it);

/* The earliest due time of a stream that can be written now (not busy, not
 * empty), or INT64_MAX when there is none. */
int64_t emitter_core_next_due(const emitter_core *c);

/* Takes the head item of the earliest stream when its due time is <= now_ns:
 * the stream turns busy (no other take returns it until emitter_core_done)
 * and *out receives the item, whose data the caller now owns. Returns the
 * stream, or NULL when nothing is due (or the core is stopping). */
emitter_stream *emitter_core_take(emitter_core *c, int64_t now_ns, emitter_item *out);

/* The write of the item last taken from st ended: ok = 0 marks the stream
 * failed and drops its queue. Returns 1 when the stream's producer waits and
 * its wait is now over (wake it). */
int emitter_core_done(emitter_core *c, emitter_stream *st, int ok);

/* Drops what st still holds queued (shutdown): it stays out of the heap. */
void emitter_core_drop(emitter_core *c, emitter_stream *st);

/* Stops the core: takes return NULL, pushes are refused, and wake(user, arg)
 * is called for every stream whose producer waits (under the caller's lock). */
void emitter_core_stop(emitter_core *c, void (*wake)(void *user, void *arg), void *arg);

/* 1 when the producer must wait before pushing: high water reached (and the
 * stream neither failed nor the core stopping). */
int emitter_core_full(const emitter_core *c, const emitter_stream *st);
/* Records what the producer waits for; emitter_core_done() reports when it is over. */
void emitter_core_set_wait(emitter_stream *st, enum emitter_wait w);
/* 1 when the wait recorded for st is over (or there is none). */
int emitter_core_wait_over(const emitter_core *c, const emitter_stream *st);

void *emitter_core_user(const emitter_stream *st);
size_t emitter_core_queued(const emitter_stream *st);
int emitter_core_busy(const emitter_stream *st);
int emitter_core_failed(const emitter_stream *st);
/* 1 when items were dropped unwritten (failure or shutdown). */
int emitter_core_dropped(const emitter_stream *st);
/* n_gen_after of the last item whose write was attempted (the failed one
 * included), or n_gen_start before any: the tokens the client was sent. */
size_t emitter_core_n_gen_done(const emitter_stream *st);
/* Streams with a queued item that is not being written. */
size_t emitter_core_n_ready(const emitter_core *c);

/* ------------------------------------------------------ threaded wrapper */

/* Writes one item to the stream's connection and records it (truth time is
 * read after the write). scratch: a buffer owned by the calling emitter
 * thread, for framing. Returns 0, or -1 when the client is gone. Called
 * without the emitter's lock, never twice at once for one stream. */
typedef int (*emitter_write_fn)(void *user, const emitter_item *it, buf *scratch);

typedef struct emitter emitter;
typedef struct emitter_handle emitter_handle;

/* Starts n_threads (>= 1) emitter threads. realtime: each thread asks for
 * SCHED_FIFO at the lowest real-time priority, and keeps normal scheduling
 * when refused (no privilege). Without it, while events are written more than
 * 2 ms late, more threads are started, up to max_threads: the scheduler
 * shares the CPU between threads, so more threads get more of it on a busy
 * machine. Returns NULL when a thread cannot be started. Free with
 * emitter_free(). */
emitter *emitter_new(int n_threads, int max_threads, int realtime, size_t high_water,
                     size_t low_water, emitter_write_fn write);
/* Stops writing: emitter threads finish the write in progress and exit,
 * producers blocked in push or drain return. Safe to call twice. */
void emitter_shutdown(emitter *e);
/* Emitter threads running now. */
int emitter_n_threads(emitter *e);
/* 1 once an emitter thread runs with real-time scheduling. */
int emitter_realtime(emitter *e);
/* Shuts down, joins the threads and frees. Every handle must be closed. */
void emitter_free(emitter *e);

/* A stream for one response; user is passed to the write function. Close
 * with emitter_close() (after emitter_drain()). */
emitter_handle *emitter_open(emitter *e, void *user, size_t n_gen_start);
/* Queues an item (data ownership passes to the emitter), first blocking
 * while the stream is at high water until it drops to low water. Returns 0,
 * or -1 when the stream failed or the emitter is shut down (data freed). */
int emitter_push(emitter *e, emitter_handle *h, const emitter_item *it);
/* Waits until everything queued is written, or the stream failed, or the
 * emitter shut down (what is left is dropped). Returns 0 when all was
 * written, -1 when a write failed, -2 when items were dropped at shutdown.
 * Afterwards no emitter thread touches the stream's user any more. */
int emitter_drain(emitter *e, emitter_handle *h);
/* Frees the handle (drains first). *n_gen_done: see emitter_core_n_gen_done. */
void emitter_close(emitter *e, emitter_handle *h, size_t *n_gen_done);

#endif
