/* A completion request body, parsed and validated into a plain value:
 * the rendered prompt, the token limit and the stream options the encoder
 * needs. Bad input is an error string for a 400 body, never a crash. */
#ifndef MOCK_REQUEST_H
#define MOCK_REQUEST_H

#include <stddef.h>

#include "common/buf.h"

enum req_kind { REQ_CHAT = 0, REQ_COMPLETION = 1 };

#define REQ_MAX_STOP 8
#define REQ_MAX_DEPTH 64
#define REQ_DEFAULT_MAX_TOKENS 128

typedef struct mock_request {
    enum req_kind kind;
    char *model;           /* owned; NULL when absent */
    buf prompt;            /* owned: ChatML rendering, or the completion prompt */
    size_t max_tokens;     /* max_tokens / max_completion_tokens / n_predict */
    int stream;
    int include_usage;     /* stream_options.include_usage */
    int continuous_usage;  /* stream_options.continuous_usage_stats */
    int return_token_ids;
    int cache_prompt;      /* llama.cpp field; default 1 */
    int timings_per_token; /* llama.cpp field: `timings` on every token event */
    char *stop[REQ_MAX_STOP]; /* owned */
    size_t n_stop;
} mock_request;

/* Parses body[0..len) (borrowed). On success returns 0 and fills r (free with
 * request_free()). On failure returns -1, leaves r freed, and writes a
 * human-readable reason into err. Checks UTF-8 validity and nesting depth
 * before handing the body to cJSON. */
int request_parse(mock_request *r, enum req_kind kind, const char *body, size_t len,
                  char *err, size_t err_len);

void request_free(mock_request *r);

/* True when s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int request_utf8_valid(const char *s, size_t len);

/* Deepest nesting of JSON arrays/objects in s[0..len), ignoring brackets
 * inside strings. Does not validate. */
int request_json_depth(const char *s, size_t len);

/* POST /tokenize: the llama.cpp form {"content", "with_pieces"} answers
 * {"tokens": [ids]} or [{"id","piece"}]; the vLLM form {"prompt"} or
 * {"messages"} answers {"count", "max_model_len", "tokens"}. Appends the
 * response to out and returns 0, or -1 with the reason in err (a 400). */
int request_tokenize(const char *body, size_t len, size_t ctx_size, buf *out, char *err,
                     size_t err_len);

/* POST /detokenize {"tokens": [ids]} -> {"content": text} (llama.cpp), or
 * {"prompt": text} when the body names a "model" (vLLM). */
int request_detokenize(const char *body, size_t len, buf *out, char *err, size_t err_len);

#endif
