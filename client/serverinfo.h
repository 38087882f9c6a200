/* Which kind of server is being benchmarked, from what the server tells
 * about itself (the GET {base}/models body, an optional GET {root}/props
 * body, response headers), and which request fields that kind accepts.
 * Pure: every function takes the bodies and headers as strings; fetching
 * them is the runner's job (docs/tokbench-servers.md). */
#ifndef CLIENT_SERVERINFO_H
#define CLIENT_SERVERINFO_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "client/cli.h"
#include "common/buf.h"

/* What detection found. kind is CLI_SERVER_AUTO when nothing was
 * recognised: the caller then keeps its default request (and the driver's
 * retry without return_token_ids on a 400 that names it). */
typedef struct serverinfo {
    enum cli_server_kind kind;
    char label[24];   /* finer name: "llamacpp", "vllm", "lmstudio", "tokmock", "unknown" */
    char reason[200]; /* what decided it, e.g. "owned_by=vllm", or "--server-kind vllm" */
} serverinfo;

/* Detects the kind. Each input may be NULL (not fetched / not available);
 * the lengths count bytes (no NUL needed). headers is a raw header block:
 * a status line and "Name: value" lines, LF or CRLF, as received.
 * Evidence, strongest first: /models owned_by; /props (llama.cpp's
 * default_generation_settings or build_info); the shape of /models (llama.cpp's
 * data[].meta and "models" list, vLLM's model_permission entries); headers
 * (Server: llama.cpp, openai-* headers, X-Powered-By: Express for LM Studio).
 * Never fails: malformed JSON counts as no evidence. */
void serverinfo_detect(const char *models_body, size_t models_len, const char *props_body,
                       size_t props_len, const char *headers, size_t headers_len, serverinfo *out);

/* The kind to use: requested (from --server-kind) unless it is
 * CLI_SERVER_AUTO, else what was detected. */
void serverinfo_choose(enum cli_server_kind requested, const serverinfo *detected, serverinfo *out);

/* The server's root for non-OpenAI routes such as /props: base_url with a
 * trailing "/v1" (and slashes) removed. Appends to out. */
int serverinfo_root_url(const char *base_url, buf *out);

/* Request fields beyond the standard OpenAI chat completion that tokbench
 * may send. */
enum serverinfo_field {
    SI_FIELD_RETURN_TOKEN_IDS = 0,       /* "return_token_ids" */
    SI_FIELD_INCLUDE_USAGE = 1,          /* "stream_options.include_usage" */
    SI_FIELD_CONTINUOUS_USAGE_STATS = 2, /* "stream_options.continuous_usage_stats" */
    SI_FIELD_CACHE_PROMPT = 3,           /* "cache_prompt" (llama.cpp) */
    SI_FIELD_TIMINGS_PER_TOKEN = 4,      /* "timings_per_token" (llama.cpp) */
    SI_FIELD_MIN_TOKENS = 5,             /* "min_tokens" */
    SI_FIELD_IGNORE_EOS = 6,             /* "ignore_eos" */
    SI_FIELD_COUNT = 7
};

/* How a kind treats a field. */
enum serverinfo_support {
    SI_UNKNOWN = 0,  /* not known (kind AUTO): send as usual */
    SI_HONOURED = 1, /* accepted and acted on */
    SI_IGNORED = 2,  /* accepted without effect */
    SI_REJECTED = 3, /* the request fails (HTTP 400) */
};

/* The field's name as written in a request ("stream_options.include_usage"). */
const char *serverinfo_field_name(enum serverinfo_field f);
enum serverinfo_support serverinfo_support_of(enum cli_server_kind kind, enum serverinfo_field f);
const char *serverinfo_support_name(enum serverinfo_support s);
/* True when sending the field is worth it: honoured, or not known. */
bool serverinfo_accepts(enum cli_server_kind kind, enum serverinfo_field f);

/* Removes from a request body (a JSON object, modified in place) every field
 * of the table above that kind ignores or rejects; an empty stream_options
 * left behind is removed too. Fields named in keep (an object such as
 * --extra-body, may be NULL) are never removed: the user asked for them.
 * For CLI_SERVER_AUTO nothing is removed. When dropped is given, appends
 * the removed names, comma-separated ("return_token_ids, cache_prompt").
 * Returns the number of fields removed. */
int serverinfo_filter_request(cJSON *body, enum cli_server_kind kind, const cJSON *keep,
                              buf *dropped);

/* The same over a JSON text: returns a new string (free with free()), or
 * NULL when body is not a JSON object. */
char *serverinfo_filter_text(const char *body, enum cli_server_kind kind, const cJSON *keep,
                             buf *dropped);

#endif
