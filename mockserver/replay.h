/* A recorded HTTP response as a list of timed writes, for `tokmock --replay`:
 * the status line, the headers, the body bytes, and for each moment the
 * client saw bytes arrive, (offset in µs since the request started, bytes).
 * Pure parsing: reads the files once, no clock, no socket; the server plays
 * the events at arrival + t_us.
 *
 * Two input formats (docs/tokmock-personalities.md):
 *   - the real captures' NAME.lines.tsv (`t_ms<TAB>nbytes<TAB>line-as-JSON`),
 *     with the sibling NAME.headers when present;
 *   - a tokbench `--record` request directory (request.json,
 *     response.headers, response.body, reads.tsv, meta.json). */
#ifndef MOCK_REPLAY_H
#define MOCK_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Every input file is refused above this size unless the caller passes another cap. */
#define REPLAY_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define REPLAY_MAX_HEADERS 64

enum replay_format { REPLAY_LINES_TSV = 1, REPLAY_RECORD_DIR = 2 };

enum { REPLAY_OK = 0, REPLAY_ERR = -1 };

/* One write: body bytes [offset, offset + len) are due t_us after the request
 * started. Events are in order, t_us never decreases, and the ranges tile
 * the body exactly. */
typedef struct replay_event {
    int64_t t_us;
    size_t offset;
    size_t len;
} replay_event;

typedef struct replay_header {
    char *name;  /* owned by the replay */
    char *value;
} replay_header;

typedef struct replay replay;

/* Loads path: a .lines.tsv file, a record directory, or a record's reads.tsv.
 * Detects the format. On success returns REPLAY_OK and a new object in *out
 * (free with replay_free()); on failure REPLAY_ERR, *out = NULL, and a one-line
 * reason naming the file (and row) in err. Any file over max_bytes
 * (0 = REPLAY_DEFAULT_MAX_BYTES) is refused. */
int replay_load(replay **out, const char *path, size_t max_bytes, char *err, size_t err_len);

/* The pure cores, from memory (all inputs borrowed; headers may be NULL). */
int replay_parse_lines_tsv(replay **out, const char *tsv, size_t tsv_len, const char *headers,
                           size_t headers_len, size_t max_bytes, char *err, size_t err_len);
int replay_parse_record(replay **out, const char *reads_tsv, size_t reads_len, const char *body,
                        size_t body_len, const char *headers, size_t headers_len,
                        size_t max_bytes, char *err, size_t err_len);

enum replay_format replay_format_of(const replay *r);

/* The recorded status (200 when no headers were recorded) and reason phrase. */
int replay_status(const replay *r);
const char *replay_reason(const replay *r);

size_t replay_n_headers(const replay *r);
const replay_header *replay_header_at(const replay *r, size_t i);
/* Value of the first header with this name (case-insensitive), or NULL. */
const char *replay_header_get(const replay *r, const char *name);
/* True for the headers that describe one connection's framing (Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive): a replaying server sets its own. */
int replay_header_is_hop(const char *name);

size_t replay_n_events(const replay *r);
const replay_event *replay_event_at(const replay *r, size_t i);

/* The whole body (NUL-terminated for convenience; len excludes the NUL). */
const char *replay_body(const replay *r, size_t *len);

/* The request body that produced the response, when the input had one
 * (request.json / NAME.request.json), else NULL. */
const char *replay_request(const replay *r, size_t *len);

/* Sets the request body (copied); replay_load() calls it. */
void replay_set_request(replay *r, const char *body, size_t len);

void replay_free(replay *r);

#endif
