/* Fault injection (SPEC §1.10): parses fault lists and decides, per request,
 * which faults apply. Pure: no I/O and no clock; a request's draw is a
 * function of (seed, request number, list) only, so a run is reproducible.
 *
 * Syntax of a fault list (--fault LIST and the X-Tokmock-Fault header):
 *
 *     LIST  = ENTRY { "," ENTRY }          spaces around entries are ignored
 *     ENTRY = KIND [ "=" PARAM ] [ "@" K ] [ ":" PROB ]
 *
 *     status=CODE[@S]      answer HTTP CODE (400..599) instead of the request;
 *                          429 and 503 carry Retry-After: S (default 1)
 *     disconnect-after=K   close the connection once K tokens went out
 *                          (no finish chunk, no usage, no [DONE])
 *     stall=MS[@K]         pause MS ms after token K (default 1); every later
 *                          event comes MS ms late
 *     malformed[@K]        the event carrying token K (default 1) is sent as
 *                          broken JSON; the stream then goes on
 *     error-event[@K]      after K tokens (default 1) send an in-stream
 *                          {"error":{...}} event, end the body and close
 *     no-usage             omit usage even when include_usage asks for it
 *     slow-headers=MS      wait MS ms before the response headers
 *     trickle              write every event as one-byte chunks
 *
 * PROB is a probability in [0, 1], default 1. CODE 400..599, K 0..10^9,
 * MS 0..3600000, S 0..86400. At most FAULT_MAX_ENTRIES entries and
 * FAULT_MAX_LIST_LEN characters. Each entry is drawn independently; of
 * conflicting drawn entries a status wins over everything, the smallest K of
 * disconnect-after/error-event ends the stream, stalls add up. */
#ifndef MOCK_FAULT_H
#define MOCK_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define FAULT_MAX_ENTRIES 16
#define FAULT_MAX_LIST_LEN 256
/* Room for the canonical text of a full list (without probabilities). */
#define FAULT_TEXT_MAX 512

enum fault_kind {
    FAULT_STATUS = 0,
    FAULT_DISCONNECT = 1,
    FAULT_STALL = 2,
    FAULT_MALFORMED = 3,
    FAULT_ERROR_EVENT = 4,
    FAULT_NO_USAGE = 5,
    FAULT_SLOW_HEADERS = 6,
    FAULT_TRICKLE = 7,
    FAULT_N_KINDS = 8,
};

typedef struct fault_entry {
    enum fault_kind kind;
    int64_t param; /* status: CODE; disconnect-after: K; stall, slow-headers: MS */
    int64_t at;    /* status: Retry-After s; stall, malformed, error-event: K; else -1 */
    double prob;   /* [0, 1] */
} fault_entry;

typedef struct fault_list {
    fault_entry entries[FAULT_MAX_ENTRIES];
    size_t n;
} fault_list;

enum fault_end { FAULT_END_NONE = 0, FAULT_END_DISCONNECT = 1, FAULT_END_ERROR = 2 };

typedef struct fault_stall {
    size_t after_tokens;
    int64_t delay_ns;
} fault_stall;

/* The faults applied to one request. All zero = no fault. */
typedef struct fault_plan {
    int status;                   /* 0 = none */
    int retry_after_s;            /* sent with 429 and 503 */
    enum fault_end end;
    size_t end_after_tokens;      /* with end != NONE */
    fault_stall stalls[FAULT_MAX_ENTRIES];
    size_t n_stalls;
    size_t malformed_at[FAULT_MAX_ENTRIES]; /* token numbers, >= 1 */
    size_t n_malformed;
    int no_usage;
    int64_t slow_headers_ns;
    int trickle;
    unsigned kinds;               /* bit (1u << kind) per applied kind */
    char text[FAULT_TEXT_MAX];    /* applied entries, canonical, comma-joined; "" = none */
} fault_plan;

/* Parses text into out. An empty or all-space text is a valid empty list.
 * Returns 0, or -1 with a message naming the bad entry in err. */
int fault_parse(fault_list *out, const char *text, char *err, size_t err_len);

/* "status", "disconnect-after", ... ("?" for an out-of-range kind). */
const char *fault_kind_name(enum fault_kind kind);

/* Writes the canonical text of one entry, without its probability
 * ("stall=2000@10"). Returns the length it needed (as snprintf). */
int fault_entry_format(const fault_entry *e, char *out, size_t out_len);

/* Draws which entries of l apply to request number request_seq under seed.
 * Entry i is taken when the i-th uniform draw of a PRNG seeded from
 * (seed, request_seq) is below its probability. l may be NULL (no faults). */
void fault_draw(fault_plan *plan, const fault_list *l, uint64_t seed, uint64_t request_seq);

/* Total extra delay for an event sent after tokens_sent tokens: the sum of
 * the stalls whose token number is <= tokens_sent. */
int64_t fault_stall_shift_ns(const fault_plan *plan, size_t tokens_sent);

/* True when the event carrying tokens tokens_before+1 .. tokens_before+n
 * must be sent malformed. is_last: no token event follows this one; then a
 * malformed@K beyond the stream's end applies to it, so a drawn fault always
 * takes effect on a stream with at least one token. */
int fault_event_malformed(const fault_plan *plan, size_t tokens_before, size_t n_tokens,
                          int is_last);

/* The stream end the plan asks for before the next event, when tokens_sent
 * tokens went out already: FAULT_END_NONE to go on. */
enum fault_end fault_end_due(const fault_plan *plan, size_t tokens_sent);

/* Appends a broken copy of one event (borrowed): the first half of its text,
 * cut at a UTF-8 character boundary, followed by the event's own trailing
 * newlines. A JSON object cut before its closing brace never parses. */
int fault_malformed_copy(buf *out, const char *event, size_t len);

/* Appends the in-stream error event sent by error-event:
 * data: {"error":{"code":500,"message":"...","type":"server_error"}} */
int fault_error_event(buf *out, size_t tokens_sent);

#endif
