/* The response encoder: SSE events and JSON bodies in the wire format of one
 * personality (SPEC §1.8): llama.cpp as captured from a real llama-server,
 * vLLM, SGLang, OpenAI and Ollama's OpenAI layer from their documented
 * formats. Pure string building into a buf: no I/O, no clock. Every stream
 * function appends whole SSE events, so one call = one write.
 *
 * Where the personalities differ in what the server must DO (not only in
 * what it writes), emit_personality_info() says so; see
 * docs/tokmock-personalities.md for the table.
 *
 * Deliberately independent of the client's SSE decoder (STYLE 9). */
#ifndef MOCK_EMIT_H
#define MOCK_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "mockserver/options.h"
#include "mockserver/request.h"

/* llama.cpp's `timings` object, as the server's schedule saw it. The derived
 * figures (per-token ms, per-second rates) are computed here the way
 * llama-server computes them. Times are rounded to whole microseconds. */
typedef struct emit_timings {
    size_t cache_n;          /* prompt tokens taken from the cache (C) */
    size_t prompt_n;         /* prompt tokens evaluated (P - C) */
    double prompt_ms;        /* prefill duration */
    size_t predicted_n;      /* tokens generated so far, the first one included */
    double predicted_ms;     /* from the first token to the latest one */
    size_t draft_n;          /* speculative tokens drafted; 0 = no draft keys */
    size_t draft_n_accepted;
} emit_timings;

/* What every event of one response shares. Strings are borrowed. Zero is a
 * good default for every field added after `return_token_ids`. */
typedef struct emit_ctx {
    enum personality personality;
    enum req_kind kind;       /* chat.completion(.chunk) or text_completion */
    const char *id;           /* response id, also the truth id */
    const char *model;        /* echoed model name (llama.cpp: the server's alias) */
    int64_t created;          /* unix seconds */
    size_t prompt_tokens;     /* P */
    size_t cached_tokens;     /* C */
    int continuous_usage;     /* usage on every chunk (vLLM continuous_usage_stats) */
    int return_token_ids;     /* token_ids on every token event (vLLM) */
    int include_usage;        /* stream_options.include_usage */
    const char *system_fingerprint; /* NULL = the personality's default */
    const char *reasoning_field;    /* NULL = the personality's default */
    size_t reasoning_tokens;  /* of the completion tokens (OpenAI usage details) */
    emit_timings timings;     /* llama.cpp: filled before the finish/usage events */
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
    int with_role;            /* first token event: the role goes where the personality
                               * puts it (emit_personality.role) */
    /* Added for the personalities; all optional (zero/NULL = off). */
    int role_event_first;     /* force a separate role event before it (same write) */
    const size_t *piece_lens; /* n_ids byte lengths of each token's text, reasoning
                               * then content; lets llama.cpp send one event per token */
    const emit_timings *timings; /* llama.cpp timings_per_token: timings on this event */
    const char *finish_reason;   /* non-NULL: this event also ends the choice (vLLM) */
} emit_tokens;

/* Where the role goes in a stream of the personality (with --role-chunk with-first). */
enum emit_role_placement {
    EMIT_ROLE_OWN_EVENT = 0,      /* a role-only event in the same write as the first
                                   * token (llama.cpp, SGLang, OpenAI) */
    EMIT_ROLE_IN_FIRST_DELTA = 1, /* role inside the first token's delta (the mock's vLLM;
                                   * real vLLM's own role event: role_event_first) */
    EMIT_ROLE_EVERY_DELTA = 2,    /* every delta carries role "assistant" (Ollama) */
};

/* Per-personality facts the server acts on. Static data, never NULL. */
typedef struct emit_personality {
    const char *name;
    const char *owned_by;            /* /v1/models */
    enum emit_role_placement role;
    int one_token_per_event;         /* llama.cpp: a multi-token step goes out as one
                                      * event per token (pass piece_lens) */
    int finish_with_last_token;      /* vLLM: finish_reason may ride the last token event */
    int usage_requires_include;      /* usage in a stream only with include_usage */
    int has_timings;                 /* llama.cpp `timings` */
    int context_error_prompt_only;   /* llama.cpp: 400 only when the prompt alone does not
                                      * fit; generation is cut at the limit instead */
    int rejects_stream_token_ids;    /* SGLang: 400 on stream + return_token_ids */
    int has_props;                   /* GET /props exists */
    int loading_503;                 /* answers 503 while loading (vs not listening) */
    const char *ping;                /* keep-alive comment, NULL = the server sends none */
} emit_personality;

const emit_personality *emit_personality_info(enum personality p);

/* The role-only chunk (--role-chunk early, or role_event_first), in the
 * personality's shape (llama.cpp: "content":null; others: ""). */
int emit_role_event(buf *out, const emit_ctx *c);

/* One decode step's tokens: one event, or one per token for llama.cpp when
 * piece_lens is given; preceded by the role event when role_event_first.
 * Appends nothing when there is nothing the personality shows (OpenAI hides
 * reasoning): the caller must not write an empty buffer. */
int emit_token_event(buf *out, const emit_ctx *c, const emit_tokens *t);

/* The chunk with finish_reason ("length" or "stop") and an empty delta.
 * llama.cpp: carries `timings` when !include_usage (chat), or usage (when
 * asked) and timings (completions). */
int emit_finish_event(buf *out, const emit_ctx *c, const char *finish_reason,
                      size_t completion_tokens);

/* The usage-only chunk: choices []. llama.cpp chat adds `timings`. Appends
 * nothing for llama.cpp completions, whose usage rides the finish chunk. */
int emit_usage_event(buf *out, const emit_ctx *c, size_t completion_tokens);

/* Everything after the last token, for one write: the finish event (unless
 * finish_reason is NULL because the last token event carried it), the usage
 * event when the personality sends one, then [DONE]. */
int emit_stream_tail(buf *out, const emit_ctx *c, const char *finish_reason,
                     size_t completion_tokens);

/* "data: [DONE]\n\n". */
int emit_done_event(buf *out);

/* ": ping\n\n" keep-alive comment (the mock's generic one). */
int emit_ping(buf *out);

/* The personality's keep-alive comment (llama.cpp ":\n\n"), or the generic one
 * when the real server sends none. */
int emit_ping_for(buf *out, enum personality p);

/* The non-streaming body. ids may be NULL unless c->return_token_ids. */
int emit_full_body(buf *out, const emit_ctx *c, const char *reasoning, size_t reasoning_len,
                   const char *content, size_t content_len, const int64_t *ids, size_t n_ids,
                   const char *finish_reason, size_t completion_tokens);

/* The error body of the personality for HTTP status `status`. */
int emit_error_body(buf *out, enum personality p, int status, const char *message);

/* The 400 body for a request that does not fit the context. llama.cpp:
 * exceed_context_size_error with n_prompt_tokens and n_ctx (sent as plain
 * JSON even when the request asked to stream). */
int emit_context_error_body(buf *out, enum personality p, size_t n_prompt_tokens,
                            size_t max_tokens, size_t n_ctx);

/* The 503 body while the model loads (--startup-ms): llama.cpp's
 * {"error":{"message":"Loading model","type":"unavailable_error","code":503}}. */
int emit_loading_body(buf *out, enum personality p);

/* SGLang's 400 for stream + return_token_ids. */
int emit_stream_token_ids_error_body(buf *out, enum personality p);

/* GET /v1/models. models[0..n) borrowed; created in unix seconds. */
int emit_models_body(buf *out, enum personality p, const char *const *models, size_t n,
                     int64_t created, size_t n_ctx);

/* GET /props (llama.cpp): a reduced copy of the real body with the fields
 * clients read (n_ctx, total_slots, model_alias, model_path, build_info). */
int emit_props_body(buf *out, enum personality p, const char *model, size_t n_ctx,
                    int total_slots);

/* A response id in the personality's shape, a pure function of seq:
 * llama.cpp/OpenAI "chatcmpl-" + 32/29 letters, vLLM "chatcmpl-" + 32 hex,
 * SGLang 32 hex, Ollama "chatcmpl-" + a number below 1000 (completions use
 * "cmpl-"). Writes at most len - 1 bytes + NUL; returns the length. */
size_t emit_response_id(char *dst, size_t len, enum personality p, enum req_kind kind,
                        uint64_t seq);

/* The shortest decimal that reads back as v, in the style of llama-server's
 * JSON library (always a '.' or an exponent: 0.0, 19.357, 51.66089786640492).
 * Exposed for tests. */
int emit_json_double(buf *out, double v);

#endif
