/* Decodes one streamed chunk (the JSON of one SSE event) or a whole
 * non-streaming chat.completion body into the few facts the stream reader
 * needs. Tolerates null / missing choices, delta, usage; recognises error
 * objects (OpenAI/llama.cpp {"error":{...}} and vLLM {"object":"error"}).
 *
 * One pass over the bytes, no tree: values the reader does not need are
 * checked and skipped. The input must be one JSON object (RFC 8259: no
 * trailing bytes, no raw control bytes in strings, nesting at most
 * CHUNK_MAX_DEPTH). Of duplicate keys the first one counts. A decoded string
 * ends at its first NUL (an escaped \u0000): lengths are counted to there. */
#ifndef CLIENT_CHUNK_H
#define CLIENT_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* Room for the decoded strings (id, model, content, finish_reason, error
 * message, each with its NUL) inside chunk_info; beyond it one malloc. */
#define CHUNK_SCRATCH_BYTES 512
/* Deepest nesting of objects and arrays accepted, the top-level object
 * counting as 1 (cJSON's limit, which the decoder replaced). */
#define CHUNK_MAX_DEPTH 1000

typedef struct chunk_info {
    int has_choices;          /* choices is a non-empty array */
    int kind;                 /* enum ev_kind */
    /* Text of choices[0].delta (or .message, or .text), decoded into info's
     * own scratch (so a chunk_info must not be copied or moved while its
     * strings are in use): valid until chunk_info_free. NULL when absent or
     * not a string. The other borrowed strings below live there too. */
    const char *content;
    size_t content_len;
    size_t reasoning_len;     /* reasoning_content or reasoning */
    size_t tool_len;          /* tool_calls function names + arguments */
    uint32_t text_bytes;      /* content + reasoning + tool bytes */
    int32_t ids;              /* len(token_ids) (top level or choices[0]), -1 absent */
    int has_usage;
    int prompt_tokens, completion_tokens, cached_tokens; /* -1 when absent */
    int has_timings;
    tb_server_timings timings;
    const char *finish_reason; /* borrowed, NULL when absent */
    const char *id;           /* borrowed, NULL when absent */
    const char *model;        /* borrowed, NULL when absent */
    const char *error;        /* error message (borrowed), NULL when none */
    void *root_;              /* private: heap scratch when the strings outgrow scratch_ */
    char scratch_[CHUNK_SCRATCH_BYTES]; /* private: the decoded strings */
} chunk_info;

enum { CHUNK_OK = 0, CHUNK_ERR_JSON = -1, CHUNK_ERR_ERROR = -2 };

/* Parses json[0..len). Returns CHUNK_OK; CHUNK_ERR_JSON when it is not a
 * JSON object; CHUNK_ERR_ERROR when it is an error object (info->error set).
 * Always call chunk_info_free afterwards. */
int chunk_parse(const char *json, size_t len, chunk_info *info);
void chunk_info_free(chunk_info *info);

#endif
