/* Ground truth (SPEC §1.9): what the server sent and when, per request, in a
 * ring of the last N records (100 000 by default). Thread safe. Handlers
 * fill a truth_record of their own and commit it at the end; readers get
 * JSON with times in microseconds relative to the server's origin on
 * CLOCK_MONOTONIC. Reads no clock: every time is passed in. */
#ifndef MOCK_TRUTH_H
#define MOCK_TRUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define TRUTH_DEFAULT_CAPACITY 100000
#define TRUTH_ID_MAX 48

typedef struct truth_event {
    int64_t t_ns;         /* right after the write returned */
    int64_t scheduled_ns; /* the schedule's deadline; -1 for events without tokens */
    uint32_t n_tokens;
    uint32_t bytes;       /* bytes of the write */
} truth_event;

typedef struct truth_record {
    uint64_t seq;              /* the number in the id */
    char id[TRUTH_ID_MAX];
    int64_t arrival_ns, admit_ns, prefill_end_ns, finish_ns; /* -1 = never */
    size_t prompt_tokens, cached_tokens, completion_tokens;
    int status;                /* HTTP status sent */
    int disconnected;          /* a write failed: the client went away */
    int stream;
    const char *finish_reason; /* static string or NULL */
    char *fault;               /* owned: the applied faults' text, NULL = none */
    truth_event *events;       /* owned */
    size_t n_events, cap_events;
} truth_record;

typedef struct truth_log truth_log;

/* origin_ns: the server's start on CLOCK_MONOTONIC; capacity: records kept. */
truth_log *truth_new(size_t capacity, int64_t origin_ns);
void truth_free(truth_log *t);

int64_t truth_origin_ns(const truth_log *t);

/* Initializes a record (times -1, no events); id is copied. */
void truth_record_init(truth_record *r, uint64_t seq, const char *id, int64_t arrival_ns);
void truth_record_add_event(truth_record *r, int64_t t_ns, int64_t scheduled_ns,
                            size_t n_tokens, size_t bytes);
/* Sets the applied-fault text (copied); NULL or "" clears it. */
void truth_record_set_fault(truth_record *r, const char *text);
/* Frees the events (and fault text) of a record that is not committed. */
void truth_record_clear(truth_record *r);

/* Moves the record into the ring (the oldest drops out); r is left empty. */
void truth_commit(truth_log *t, truth_record *r);

/* Appends {"origin_monotonic_ns": N, "requests": [...]} (oldest first). */
int truth_write_all(truth_log *t, buf *out);

/* Appends the one record with this id; returns 0, or -1 when not kept. */
int truth_write_one(truth_log *t, const char *id, buf *out);

/* Appends one record as JSON (exposed for tests). */
int truth_write_record(const truth_log *t, const truth_record *r, buf *out);

#endif
