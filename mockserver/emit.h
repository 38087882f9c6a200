/* The response encoder: SSE events and JSON bodies in the wire format of the
 * configured personality (vLLM-like for now). Pure string building into a
 * buf: no I/O, no clock. Every function appends one complete SSE event
 * ("data: ...\n\n") or one complete body, so one call = one write.
 *
 * Deliberately independent of the client's SSE decoder (STYLE 9). */
#ifndef MOCK_EMIT_H
#define MOCK_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "mockserver/options.h"
#include "mockserver/request.h"

/* What every chunk of one response shares. Strings are borrowed. */
typedef struct emit_ctx {
    enum personality personality;
    enum req_kind kind;       /* chat.completion(.chunk) or text_completion */
    const char *id;           /* response id, also the truth id */
    const char *model;        /* echoed model name */
    int64_t created;          /* unix seconds */
    size_t prompt_tokens;     /* P */
    size_t cached_tokens;     /* C */
    int continuous_usage;     /* usage on every chunk */
    int return_token_ids;     /* token_ids on every token event */
} emit_ctx;

/* One token event's payload: reasoning text first, then content text. */
typedef struct emit_tokens {
    const char *reasoning;    /* may be NULL */
    size_t reasoning_len;
    const char *content;      /* may be NULL */
    size_t content_len;
    const int64_t *ids;       /* the event's token ids */
    size_t n_ids;
    size_t completion_tokens; /* cumulative, including this event */
    int with_role;            /* carry delta.role = "assistant" */
} emit_tokens;

/* The role-only chunk (--role-chunk early): delta {"role":"assistant","content":""}. */
int emit_role_event(buf *out, const emit_ctx *c);

/* A chunk carrying one decode step's tokens. */
int emit_token_event(buf *out, const emit_ctx *c, const emit_tokens *t);

/* The chunk with finish_reason ("length" or "stop") and an empty delta. */
int emit_finish_event(buf *out, const emit_ctx *c, const char *finish_reason,
                      size_t completion_tokens);

/* The usage-only chunk (stream_options.include_usage): choices []. */
int emit_usage_event(buf *out, const emit_ctx *c, size_t completion_tokens);

/* "data: [DONE]\n\n". */
int emit_done_event(buf *out);

/* ": ping\n\n" keep-alive comment. */
int emit_ping(buf *out);

/* The non-streaming body. ids may be NULL unless c->return_token_ids. */
int emit_full_body(buf *out, const emit_ctx *c, const char *reasoning, size_t reasoning_len,
                   const char *content, size_t content_len, const int64_t *ids, size_t n_ids,
                   const char *finish_reason, size_t completion_tokens);

/* The error body of the personality for HTTP status `status`. The one place
 * error bodies are built, so personalities can differ later. */
int emit_error_body(buf *out, enum personality p, int status, const char *message);

#endif
