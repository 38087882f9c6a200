/* tokbench --record DIR: keeps each request's body, the response headers,
 * the raw response bytes and when each read arrived, in the record format
 * that `tokmock --replay` reads (docs/tokmock-personalities.md, "The
 * tokbench record directory"; docs/tokbench-servers.md).
 *
 * Nothing touches the disk while bytes stream in: record_data only copies
 * into memory (bounded per request), record_end only closes the entry, and
 * the files are written by record_flush (between bursts) or record_close.
 * Times are parameters: CLOCK_MONOTONIC ns, as the driver reads them.
 * Secrets never reach the files: the API key is masked wherever it appears,
 * credential headers and URL user info / key parameters are redacted.
 *
 * Every function accepts a NULL recorder or handle and then does nothing,
 * so callers need no "is recording on?" branches. */
#ifndef CLIENT_RECORD_H
#define CLIENT_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Caps: a request's body beyond RECORD_DEFAULT_MAX_BODY bytes (the replay
 * loader's own limit), or more than RECORD_MAX_READS reads, is cut there and
 * marked "truncated" in meta.json; headers beyond RECORD_MAX_HEADER_BYTES
 * are dropped. Finished entries waiting for record_flush beyond
 * RECORD_DEFAULT_MAX_PENDING bytes are written at record_end instead. */
#define RECORD_DEFAULT_MAX_BODY ((size_t)64 << 20)
#define RECORD_DEFAULT_MAX_PENDING ((size_t)256 << 20)
#define RECORD_MAX_READS ((size_t)1 << 20)
#define RECORD_MAX_HEADER_BYTES ((size_t)64 << 10)

typedef struct record record;         /* the record directory */
typedef struct record_req record_req; /* one request being recorded */

typedef struct record_config {
    const char *api_key; /* masked in everything written; NULL, "" or "EMPTY" = none */
    /* The same instant on both clocks, to write start_unix_ms in meta.json;
     * wall0_ns == 0 writes null. */
    int64_t mono0_ns, wall0_ns;
    size_t max_body_bytes;    /* per request; 0 = RECORD_DEFAULT_MAX_BODY */
    size_t max_pending_bytes; /* 0 = RECORD_DEFAULT_MAX_PENDING */
} record_config;

/* Creates dir (and missing parents) or opens an existing empty-of-records
 * directory. Fails with a one-line reason in err when dir is not a
 * directory, cannot be created or written, or already holds a recording
 * (a 000000 entry). cfg may be NULL. Returns a new recorder (end with
 * record_close) or NULL. */
record *record_open(const char *dir, const record_config *cfg, char *err, size_t errlen);

/* Starts recording one request: body is the JSON sent (NULL for a GET),
 * start_ns the instant the transfer was handed to libcurl (the origin of
 * every t_us). label is free text for meta.json (may be NULL). Entries are
 * numbered 000000, 000001, ... in the order of record_begin calls. The
 * handle belongs to the recorder and stays valid until record_end. */
record_req *record_begin(record *rec, const char *label, const char *url, const char *body,
                         int64_t start_ns);

/* One header line as libcurl's header callback hands it (with its CRLF),
 * status lines included. */
void record_headers(record_req *h, const char *bytes, size_t len);

/* One body read that arrived at t_ns (the write callback's timestamp),
 * after de-chunking. Empty reads are ignored. */
void record_data(record_req *h, int64_t t_ns, const char *bytes, size_t len);

/* Closes the entry: end_ns when the transfer finished, headers_ns when the
 * headers arrived (0 = never), error the transfer's failure or NULL. The
 * handle is invalid afterwards. Returns 0, or -1 when the entry had to be
 * written at once (too much pending) and that write failed. */
int record_end(record_req *h, int64_t end_ns, int64_t headers_ns, const char *error);

/* Writes every finished entry to disk. Returns 0, or -1 with a reason in
 * err (the first failure; the other entries are still attempted). */
int record_flush(record *rec, char *err, size_t errlen);

/* Ends unfinished entries (error "not finished"), flushes, frees. Returns as
 * record_flush. */
int record_close(record *rec, char *err, size_t errlen);

/* Entries begun so far. */
size_t record_count(const record *rec);

#endif
