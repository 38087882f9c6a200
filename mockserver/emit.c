#include "emit.h"

#include <inttypes.h>
#include <string.h>

/* Each builder appends to out and returns BUF_OK or BUF_ERR_TOO_BIG; rc
 * accumulates with |= because every failure is the same error. */

static int json_string(buf *out, const char *s, size_t len)
{
    int rc = buf_append(out, "\"", 1);
    rc |= buf_append_json_escaped(out, s, len);
    rc |= buf_append(out, "\"", 1);
    return rc;
}

static int usage_object(buf *out, const emit_ctx *c, size_t completion_tokens)
{
    return buf_printf(out,
                      "\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu,"
                      "\"completion_tokens\":%zu,\"prompt_tokens_details\":"
                      "{\"cached_tokens\":%zu}}",
                      c->prompt_tokens, c->prompt_tokens + completion_tokens,
                      completion_tokens, c->cached_tokens);
}

static const char *object_name(const emit_ctx *c, int streaming)
{
    if (c->kind == REQ_COMPLETION)
        return "text_completion";
    return streaming ? "chat.completion.chunk" : "chat.completion";
}

/* `data: {"id":..,"object":..,"created":..,"model":..,"choices":[` */
static int chunk_head(buf *out, const emit_ctx *c)
{
    int rc = buf_append_str(out, "data: {\"id\":");
    rc |= json_string(out, c->id, strlen(c->id));
    rc |= buf_printf(out, ",\"object\":\"%s\",\"created\":%" PRId64 ",\"model\":",
                     object_name(c, 1), c->created);
    rc |= json_string(out, c->model, strlen(c->model));
    rc |= buf_append_str(out, ",\"choices\":[");
    return rc;
}

/* Closes the choices array, adds per-event usage when asked, ends the event. */
static int chunk_tail(buf *out, const emit_ctx *c, size_t completion_tokens)
{
    int rc = buf_append_str(out, "]");
    if (c->continuous_usage) {
        rc |= buf_append_str(out, ",");
        rc |= usage_object(out, c, completion_tokens);
    }
    rc |= buf_append_str(out, "}\n\n");
    return rc;
}

static int id_array(buf *out, const int64_t *ids, size_t n)
{
    int rc = buf_append_str(out, "[");
    for (size_t i = 0; i < n; i++)
        rc |= buf_printf(out, i ? ",%" PRId64 : "%" PRId64, ids[i]);
    rc |= buf_append_str(out, "]");
    return rc;
}

int emit_role_event(buf *out, const emit_ctx *c)
{
    int rc = chunk_head(out, c);
    if (c->kind == REQ_CHAT)
        rc |= buf_append_str(out, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                                  "\"logprobs\":null,\"finish_reason\":null}");
    else
        rc |= buf_append_str(out, "{\"index\":0,\"text\":\"\",\"logprobs\":null,"
                                  "\"finish_reason\":null}");
    rc |= chunk_tail(out, c, 0);
    return rc;
}

int emit_token_event(buf *out, const emit_ctx *c, const emit_tokens *t)
{
    int rc = chunk_head(out, c);
    if (c->kind == REQ_CHAT) {
        rc |= buf_append_str(out, "{\"index\":0,\"delta\":{");
        const char *sep = "";
        if (t->with_role) {
            rc |= buf_append_str(out, "\"role\":\"assistant\"");
            sep = ",";
        }
        if (t->reasoning_len) {
            rc |= buf_printf(out, "%s\"reasoning_content\":", sep);
            rc |= json_string(out, t->reasoning, t->reasoning_len);
            sep = ",";
        }
        if (t->content_len || !t->reasoning_len) {
            rc |= buf_printf(out, "%s\"content\":", sep);
            rc |= json_string(out, t->content ? t->content : "", t->content_len);
        }
        rc |= buf_append_str(out, "}");
    } else {
        /* Completions have no reasoning channel: all text is "text". */
        rc |= buf_append_str(out, "{\"index\":0,\"text\":\"");
        if (t->reasoning_len)
            rc |= buf_append_json_escaped(out, t->reasoning, t->reasoning_len);
        if (t->content_len)
            rc |= buf_append_json_escaped(out, t->content, t->content_len);
        rc |= buf_append_str(out, "\"");
    }
    rc |= buf_append_str(out, ",\"logprobs\":null,\"finish_reason\":null");
    if (c->return_token_ids) {
        rc |= buf_append_str(out, ",\"token_ids\":");
        rc |= id_array(out, t->ids, t->n_ids);
    }
    rc |= buf_append_str(out, "}");
    rc |= chunk_tail(out, c, t->completion_tokens);
    return rc;
}

int emit_finish_event(buf *out, const emit_ctx *c, const char *finish_reason,
                      size_t completion_tokens)
{
    int rc = chunk_head(out, c);
    if (c->kind == REQ_CHAT)
        rc |= buf_append_str(out, "{\"index\":0,\"delta\":{}");
    else
        rc |= buf_append_str(out, "{\"index\":0,\"text\":\"\"");
    rc |= buf_printf(out, ",\"logprobs\":null,\"finish_reason\":\"%s\",\"stop_reason\":null}",
                     finish_reason);
    rc |= chunk_tail(out, c, completion_tokens);
    return rc;
}

int emit_usage_event(buf *out, const emit_ctx *c, size_t completion_tokens)
{
    int rc = chunk_head(out, c);
    rc |= buf_append_str(out, "],");
    rc |= usage_object(out, c, completion_tokens);
    rc |= buf_append_str(out, "}\n\n");
    return rc;
}

int emit_done_event(buf *out)
{
    return buf_append_str(out, "data: [DONE]\n\n");
}

int emit_ping(buf *out)
{
    return buf_append_str(out, ": ping\n\n");
}

int emit_full_body(buf *out, const emit_ctx *c, const char *reasoning, size_t reasoning_len,
                   const char *content, size_t content_len, const int64_t *ids, size_t n_ids,
                   const char *finish_reason, size_t completion_tokens)
{
    int rc = buf_append_str(out, "{\"id\":");
    rc |= json_string(out, c->id, strlen(c->id));
    rc |= buf_printf(out, ",\"object\":\"%s\",\"created\":%" PRId64 ",\"model\":",
                     object_name(c, 0), c->created);
    rc |= json_string(out, c->model, strlen(c->model));
    rc |= buf_append_str(out, ",\"choices\":[{\"index\":0,");
    if (c->kind == REQ_CHAT) {
        rc |= buf_append_str(out, "\"message\":{\"role\":\"assistant\",\"content\":");
        rc |= json_string(out, content ? content : "", content_len);
        if (reasoning_len) {
            rc |= buf_append_str(out, ",\"reasoning_content\":");
            rc |= json_string(out, reasoning, reasoning_len);
        }
        rc |= buf_append_str(out, "}");
    } else {
        rc |= buf_append_str(out, "\"text\":\"");
        if (reasoning_len)
            rc |= buf_append_json_escaped(out, reasoning, reasoning_len);
        if (content_len)
            rc |= buf_append_json_escaped(out, content, content_len);
        rc |= buf_append_str(out, "\"");
    }
    rc |= buf_printf(out, ",\"logprobs\":null,\"finish_reason\":\"%s\",\"stop_reason\":null",
                     finish_reason);
    if (c->return_token_ids) {
        rc |= buf_append_str(out, ",\"token_ids\":");
        rc |= id_array(out, ids, n_ids);
    }
    rc |= buf_append_str(out, "}],");
    rc |= usage_object(out, c, completion_tokens);
    rc |= buf_append_str(out, "}");
    return rc;
}

static const char *vllm_error_type(int status)
{
    switch (status) {
    case 400: return "BadRequestError";
    case 401: return "AuthenticationError";
    case 404: return "NotFoundError";
    case 405: return "MethodNotAllowedError";
    case 413: return "RequestEntityTooLargeError";
    default: return status >= 500 ? "InternalServerError" : "BadRequestError";
    }
}

int emit_error_body(buf *out, enum personality p, int status, const char *message)
{
    /* Only the vLLM shape exists so far; other personalities fall back to it. */
    (void)p;
    int rc = buf_append_str(out, "{\"object\":\"error\",\"message\":");
    rc |= json_string(out, message, strlen(message));
    rc |= buf_printf(out, ",\"type\":\"%s\",\"param\":null,\"code\":%d}",
                     vllm_error_type(status), status);
    return rc;
}
