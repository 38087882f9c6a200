/* One benchmark request as the client saw it: the contract between the
 * driver (client/driver.c, which timestamps bytes as they arrive) and the
 * stream reader (client/stream.c, which turns bytes into events and token
 * counts). Metrics read only this record, never the clock.
 *
 * All times are nanoseconds on CLOCK_MONOTONIC (common/clock.h); 0 = never. */
#ifndef CLIENT_REQUEST_H
#define CLIENT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* What an SSE event carried (SPEC §2.4). */
enum ev_kind {
    EV_OTHER = 0,     /* no choices (usage-only, keep-alive data, ...) */
    EV_ROLE_ONLY = 1, /* non-empty choices but no token-bearing delta */
    EV_CONTENT = 2,   /* delta.content non-empty */
    EV_REASONING = 3, /* delta.reasoning_content / delta.reasoning non-empty, no content */
    EV_TOOL = 4,      /* delta.tool_calls, no content */
};

typedef struct tb_event {
    int64_t t_ns;        /* arrival of the read that completed the event */
    uint32_t n_tokens;   /* tokens attributed to this event (after counting) */
    uint32_t text_bytes; /* bytes of content + reasoning + tool-call arguments */
    int32_t ids;         /* len(token_ids) on this event, -1 when absent */
    int32_t usage_completion; /* per-event usage.completion_tokens, -1 when absent */
    uint8_t kind;        /* enum ev_kind */
} tb_event;

/* Where the per-event token counts came from, best first (SPEC §2.4). */
enum count_source {
    COUNT_NONE = 0,
    COUNT_TOKEN_IDS = 1,      /* "token_ids" */
    COUNT_EVENT_USAGE = 2,    /* "usage_per_event" */
    COUNT_FINAL_USAGE = 3,    /* "usage_spread" */
    COUNT_ONE_PER_EVENT = 4,  /* "events (estimate)" */
};
const char *count_source_name(enum count_source s);

typedef struct tb_server_timings { /* llama.cpp "timings", -1 when absent */
    double prompt_n, prompt_ms, predicted_n, predicted_ms, cache_n;
    double draft_n, draft_n_accepted;
} tb_server_timings;

/* How the response stream ended (set by request_stream_finish). */
enum stream_end {
    STREAM_END_NONE = 0,   /* no SSE event at all (a plain JSON body, or nothing) */
    STREAM_END_DONE = 1,   /* "data: [DONE]" arrived */
    STREAM_END_FINISH = 2, /* no [DONE], but a finish_reason arrived (old llama.cpp) */
    STREAM_END_CUT = 3,    /* events, then the end without [DONE] or finish_reason */
};

/* Failure kinds: the keys of the report's "failures.reasons" (docs/tokbench-usage.md).
 * An HTTP status failure is "http_<status>" instead. */
#define FAIL_CLOSED "connection_closed"    /* stream cut before its end */
#define FAIL_EMPTY "empty_response"        /* 2xx without any completion */
#define FAIL_NO_DATA "no_data_timeout"     /* --timeout: no byte for S s */
#define FAIL_REQ_TIMEOUT "request_timeout" /* --request-timeout: whole request */
#define FAIL_MALFORMED "malformed_event"   /* an event's JSON does not parse */
#define FAIL_ERROR_EVENT "error_event"     /* an error object inside a 2xx answer */
#define FAIL_TOO_LONG "oversize"           /* a line, event or body over its cap */
#define FAIL_CONNECT "connect_error"       /* no connection to the server */
#define FAIL_TRANSPORT "transport_error"   /* any other libcurl error */
#define FAIL_INTERRUPTED "interrupted"     /* SIGINT / SIGTERM */
#define FAIL_OTHER "other"

typedef struct tb_request {
    /* Set by the driver. */
    int64_t start_ns;         /* just before the transfer was added to the multi handle */
    int64_t upload_done_ns;   /* request body fully sent */
    int64_t headers_ns;       /* response headers arrived */
    int64_t end_ns;           /* transfer finished */
    long http_status;
    char *error;              /* NULL = success; else one-line reason (owned) */
    char error_kind[24];      /* a FAIL_* kind or "http_<status>"; "" while no error */

    /* Set by the stream reader, from the events. */
    tb_event *events;         /* token-bearing and role-only events, in order (owned) */
    size_t n_events, cap_events;
    int64_t first_response_ns; /* first event with non-empty choices (llama-benchy ttfr) */
    int64_t first_token_ns;    /* first token-bearing event (e2e_ttft) */
    int64_t first_content_ns;  /* first event with non-empty delta.content */
    int64_t last_token_ns;     /* last token-bearing event */
    int prompt_tokens;        /* final usage.prompt_tokens, -1 when absent */
    int completion_tokens;    /* final usage.completion_tokens, -1 when absent */
    int cached_tokens;        /* usage.prompt_tokens_details.cached_tokens, -1 when absent */
    int reasoning_tokens;     /* tokens on reasoning events (after counting) */
    int total_tokens;         /* generated tokens counted (after counting) */
    enum count_source count_source;
    tb_server_timings timings;
    char *finish_reason;      /* owned, NULL when absent */
    char *id;                 /* the first chunk "id" seen (owned), NULL when absent */
    char *model;              /* the first chunk "model" seen (owned), NULL when absent */
    int stream_end;           /* enum stream_end */
    int early_role_chunk;     /* 1: first response carried no token and came in an
                                 earlier read than the first token (see metrics) */
    char *content;            /* accumulated delta.content (owned; for the coherence check) */
    size_t content_len;
    size_t content_cap;       /* bytes allocated for content (grows by doubling) */

    void *stream;             /* the stream reader's state (opaque) */
} tb_request;

void request_init(tb_request *r);
/* Frees everything the record owns; the record itself is the caller's. */
void request_clear(tb_request *r);
/* Sets the one-line reason (newlines become spaces), replacing an earlier
 * one; the kind becomes FAIL_OTHER unless one was set before. */
void request_set_error(tb_request *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with an explicit kind (a FAIL_* string or "http_<status>"). */
void request_fail(tb_request *r, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Feeds response body bytes that arrived at now_ns (read by the driver before
 * this call). Accepts any split of the stream. Returns 0, or -1 after setting
 * r->error (stream error event, malformed event, over-size line). */
int request_stream_feed(tb_request *r, const char *data, size_t len, int64_t now_ns);

/* Ends the stream: flushes a pending event, assigns token counts to events by
 * the best available source (SPEC §2.4), and fills the derived fields. Also
 * handles a non-streaming JSON body fed through request_stream_feed. */
void request_stream_finish(tb_request *r, int64_t now_ns);

/* After request_stream_finish, for a 2xx answer whose transfer ended: fails
 * the request when the body was an event stream cut before its end (no
 * [DONE] and no finish_reason: "connection closed after N tokens") or held
 * no completion at all. cut_by_transport: the transfer itself reported an
 * incomplete body. Returns 0 when the request stands, -1 when it failed (or
 * had failed already). */
int request_check_complete(tb_request *r, int cut_by_transport);

#endif
