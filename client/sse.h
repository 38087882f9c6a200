/* A push parser for Server-Sent Events (the text/event-stream format).
 * Bytes go in with any split; complete events come out through a callback.
 * Lines may end in LF, CRLF or CR; "data:" takes an optional single space;
 * several data lines of one event are joined with "\n"; comment lines
 * (starting with ':') and unknown fields are skipped; "event:" names the
 * event type. A line or an event longer than the cap is an error, never a
 * crash or an unbounded allocation. */
#ifndef CLIENT_SSE_H
#define CLIENT_SSE_H

#include <stddef.h>

enum {
    SSE_OK = 0,
    SSE_ERR_TOO_LONG = -1, /* a line or an event's data exceeded the cap */
    SSE_ERR_CALLBACK = -2, /* the callback returned non-zero: parsing stopped */
};

#define SSE_DEFAULT_MAX_BYTES ((size_t)16 * 1024 * 1024)

/* Called once per dispatched event. event_type is "" when no "event:" line
 * was given; data is NUL-terminated, borrowed for the call. Return 0 to go
 * on, non-zero to stop the parser (feed then returns SSE_ERR_CALLBACK). */
typedef int (*sse_event_fn)(void *ctx, const char *event_type, const char *data, size_t len);

typedef struct sse_parser sse_parser;

/* max_bytes caps one line and one event's data (0 = SSE_DEFAULT_MAX_BYTES).
 * Returns a new parser; free with sse_parser_free(). */
sse_parser *sse_parser_new(size_t max_bytes, sse_event_fn fn, void *ctx);
void sse_parser_free(sse_parser *p);
/* Returns SSE_OK or an SSE_ERR_*; after an error every later call returns it. */
int sse_parser_feed(sse_parser *p, const char *data, size_t len);
/* End of stream: a last line without terminator is taken as complete and a
 * pending event whose blank line never came is dispatched (servers that
 * close right after "data: ...\n" lose nothing). */
int sse_parser_finish(sse_parser *p);
/* Events dispatched so far: lets the caller recognise a body that was not
 * an event stream at all (a plain JSON answer). */
size_t sse_parser_events(const sse_parser *p);
/* Where the current event starts, as a byte offset in the stream (bytes fed
 * since sse_parser_new): the start of its first line that is neither blank
 * nor a comment. Read inside the callback, it names the event being
 * dispatched, whatever the split; -1 while no event has begun. */
long long sse_parser_event_offset(const sse_parser *p);

#endif
