#include "request.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "mockserver/chat.h"
#include "mockserver/tokenizer.h"

/* Rendered prompts are bounded by the body cap anyway; this is a backstop. */
#define PROMPT_MAX_BYTES ((size_t)1 << 30)
#define MAX_TOKENS_LIMIT 1000000000.0

/* Length of the valid UTF-8 sequence at p[0..len) (len > 0), or 0 when it is
 * not one (overlong forms, surrogates and code points over U+10FFFF are not). */
static size_t utf8_seq_len(const unsigned char *p, size_t len)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len <= n)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        unsigned cc = p[k];
        if ((cc & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n + 1;
}

int request_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* A refusal reason quotes the client's own bytes (a role, a part type), cut
 * to a few dozen bytes: it goes into a JSON error body and the log, so it is
 * made one line of valid UTF-8 (control bytes become spaces, the bytes of a
 * broken or cut character '?'). */
static void tidy_reason(char *err, size_t err_len)
{
    if (!err || err_len == 0)
        return;
    unsigned char *p = (unsigned char *)err;
    size_t len = strnlen(err, err_len - 1);
    err[len] = '\0';
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x20 || p[i] == 0x7F) {
            p[i++] = ' ';
            continue;
        }
        size_t n = utf8_seq_len(p + i, len - i);
        if (n == 0)
            p[i++] = '?';
        else
            i += n;
    }
}

int request_json_depth(const char *s, size_t len)
{
    int depth = 0, deepest = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest)
                deepest = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* A present-and-not-null field, or NULL. */
static const cJSON *field(const cJSON *obj, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    return (f && !cJSON_IsNull(f)) ? f : NULL;
}

static int get_bool(const cJSON *obj, const char *name, int *out, char *err, size_t err_len)
{
    const cJSON *f = field(obj, name);
    if (!f)
        return 0;
    if (!cJSON_IsBool(f))
        return fail(err, err_len, "'%s' must be a boolean", name);
    *out = cJSON_IsTrue(f) ? 1 : 0;
    return 0;
}

/* Reads an integer token limit; *found is set when the field is present. */
static int get_limit(const cJSON *obj, const char *name, long long *out, int *found,
                     char *err, size_t err_len)
{
    const cJSON *f = field(obj, name);
    if (!f)
        return 0;
    double v = f->valuedouble;
    if (!cJSON_IsNumber(f) || v != floor(v) || fabs(v) > MAX_TOKENS_LIMIT)
        return fail(err, err_len, "'%s' must be an integer", name);
    *out = (long long)v;
    *found = 1;
    return 0;
}

static int parse_limit(mock_request *r, const cJSON *root, char *err, size_t err_len)
{
    static const char *const names[] = {"max_completion_tokens", "max_tokens", "n_predict"};
    r->max_tokens = REQ_DEFAULT_MAX_TOKENS;
    for (int i = 0; i < 3; i++) {
        long long v = 0;
        int found = 0;
        if (get_limit(root, names[i], &v, &found, err, err_len))
            return -1;
        if (!found)
            continue;
        if (i == 2 && v < 0) /* llama.cpp: -1 = no limit; the default stands in */
            return 0;
        if (v < 1)
            return fail(err, err_len, "'%s' must be at least 1, got %lld", names[i], v);
        r->max_tokens = (size_t)v;
        return 0;
    }
    return 0;
}

static int parse_stop(mock_request *r, const cJSON *root, char *err, size_t err_len)
{
    const cJSON *stop = field(root, "stop");
    if (!stop)
        return 0;
    if (cJSON_IsString(stop)) {
        if (stop->valuestring[0])
            r->stop[r->n_stop++] = xstrdup(stop->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(stop))
        return fail(err, err_len, "'stop' must be a string or an array of strings");
    const cJSON *s;
    cJSON_ArrayForEach(s, stop) {
        if (!cJSON_IsString(s))
            return fail(err, err_len, "'stop' must be a string or an array of strings");
        if (!s->valuestring[0])
            continue;
        if (r->n_stop == REQ_MAX_STOP)
            return fail(err, err_len, "'stop' has more than %d strings", REQ_MAX_STOP);
        r->stop[r->n_stop++] = xstrdup(s->valuestring);
    }
    return 0;
}

/* /v1/completions: a string, a one-string array, or an array of token ids. */
static int parse_prompt(mock_request *r, const cJSON *root, char *err, size_t err_len)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (!p)
        return fail(err, err_len, "'prompt' is required");
    if (cJSON_IsString(p)) {
        if (buf_append_str(&r->prompt, p->valuestring))
            return fail(err, err_len, "'prompt' is too long");
        return 0;
    }
    if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) == 0)
        return fail(err, err_len, "'prompt' must be a string, or an array of token ids");
    const cJSON *first = cJSON_GetArrayItem(p, 0);
    if (cJSON_IsString(first)) {
        if (cJSON_GetArraySize(p) != 1)
            return fail(err, err_len, "'prompt': batches of several prompts are not supported");
        if (buf_append_str(&r->prompt, first->valuestring))
            return fail(err, err_len, "'prompt' is too long");
        return 0;
    }
    const cJSON *id;
    cJSON_ArrayForEach(id, p) {
        char piece[TOK_PIECE_MAX];
        int n = -1;
        if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
            id->valuedouble >= 0 && id->valuedouble < 9007199254740992.0)
            n = tok_piece((int64_t)id->valuedouble, piece);
        if (n < 0)
            return fail(err, err_len, "'prompt' holds an invalid token id");
        if (buf_append(&r->prompt, piece, (size_t)n))
            return fail(err, err_len, "'prompt' is too long");
    }
    return 0;
}

/* Validates and parses a body that must be a JSON object. Returns a new tree
 * (free with cJSON_Delete) or NULL with the reason in err. */
static cJSON *parse_root(const char *body, size_t len, char *err, size_t err_len)
{
    if (len == 0) {
        fail(err, err_len, "empty request body: expected a JSON object");
        return NULL;
    }
    if (!request_utf8_valid(body, len)) {
        fail(err, err_len, "request body is not valid UTF-8");
        return NULL;
    }
    if (request_json_depth(body, len) > REQ_MAX_DEPTH) {
        fail(err, err_len, "JSON nesting deeper than %d levels", REQ_MAX_DEPTH);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t at = (end && end >= body && end <= body + len) ? (size_t)(end - body) : 0;
        fail(err, err_len, "malformed JSON near byte %zu", at);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        fail(err, err_len, "request body must be a JSON object");
        return NULL;
    }
    return root;
}

int request_parse(mock_request *r, enum req_kind kind, const char *body, size_t len,
                  char *err, size_t err_len)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->cache_prompt = 1;
    buf_init(&r->prompt, PROMPT_MAX_BYTES);
    cJSON *root = NULL;
    int rc = -1;

    root = parse_root(body, len, err, err_len);
    if (!root)
        goto out;

    const cJSON *model = field(root, "model");
    if (model) {
        if (!cJSON_IsString(model)) {
            fail(err, err_len, "'model' must be a string");
            goto out;
        }
        r->model = xstrdup(model->valuestring);
    }

    if (kind == REQ_CHAT) {
        const cJSON *messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
        if (!messages) {
            fail(err, err_len, "'messages' is required");
            goto out;
        }
        if (chat_render(messages, &r->prompt, err, err_len))
            goto out;
    } else if (parse_prompt(r, root, err, err_len)) {
        goto out;
    }

    if (parse_limit(r, root, err, err_len) || parse_stop(r, root, err, err_len) ||
        get_bool(root, "stream", &r->stream, err, err_len) ||
        get_bool(root, "return_token_ids", &r->return_token_ids, err, err_len) ||
        get_bool(root, "cache_prompt", &r->cache_prompt, err, err_len) ||
        get_bool(root, "timings_per_token", &r->timings_per_token, err, err_len))
        goto out;

    const cJSON *so = field(root, "stream_options");
    if (so) {
        if (!cJSON_IsObject(so)) {
            fail(err, err_len, "'stream_options' must be an object");
            goto out;
        }
        if (get_bool(so, "include_usage", &r->include_usage, err, err_len) ||
            get_bool(so, "continuous_usage_stats", &r->continuous_usage, err, err_len))
            goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) {
        request_free(r);
        tidy_reason(err, err_len);
    }
    return rc;
}

void request_free(mock_request *r)
{
    free(r->model);
    r->model = NULL;
    buf_free(&r->prompt);
    for (size_t i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    r->n_stop = 0;
}

static int write_ids(buf *out, const int64_t *ids, size_t n)
{
    int rc = buf_append_str(out, "[");
    for (size_t i = 0; i < n; i++)
        rc |= buf_printf(out, i ? ",%lld" : "%lld", (long long)ids[i]);
    rc |= buf_append_str(out, "]");
    return rc;
}

/* [{"id":N,"piece":"..."}...]: pieces are valid UTF-8 here because the whole
 * body was checked, and a token never splits a code point. */
static int write_pieces(buf *out, const char *text, size_t len)
{
    size_t n = tok_split(text, len, NULL, 0);
    tok_span *spans = xmalloc((n ? n : 1) * sizeof *spans);
    tok_split(text, len, spans, n);
    int rc = buf_append_str(out, "[");
    for (size_t i = 0; i < n; i++) {
        const char *piece = text + spans[i].start;
        rc |= buf_printf(out, "%s{\"id\":%lld,\"piece\":\"", i ? "," : "",
                         (long long)tok_id(piece, spans[i].len));
        rc |= buf_append_json_escaped(out, piece, spans[i].len);
        rc |= buf_append_str(out, "\"}");
    }
    rc |= buf_append_str(out, "]");
    free(spans);
    return rc;
}

int request_tokenize(const char *body, size_t len, size_t ctx_size, buf *out, char *err,
                     size_t err_len)
{
    buf text;
    buf_init(&text, PROMPT_MAX_BYTES);
    int rc = -1, vllm_form = 0;
    cJSON *root = parse_root(body, len, err, err_len);
    if (!root)
        goto out;

    const cJSON *content = field(root, "content");
    const cJSON *prompt = field(root, "prompt");
    const cJSON *messages = field(root, "messages");
    if (content) {
        if (!cJSON_IsString(content)) {
            fail(err, err_len, "'content' must be a string");
            goto out;
        }
        buf_append_str(&text, content->valuestring);
    } else if (prompt) {
        vllm_form = 1;
        if (!cJSON_IsString(prompt)) {
            fail(err, err_len, "'prompt' must be a string");
            goto out;
        }
        buf_append_str(&text, prompt->valuestring);
    } else if (messages) {
        vllm_form = 1;
        if (chat_render(messages, &text, err, err_len))
            goto out;
    }
    /* An empty object is llama.cpp's form with no content: no tokens. */

    int with_pieces = 0;
    if (get_bool(root, "with_pieces", &with_pieces, err, err_len))
        goto out;
    const char *t = text.data ? text.data : "";
    if (vllm_form) {
        size_t n = 0;
        int64_t *ids = tok_encode(t, text.len, &n);
        buf_printf(out, "{\"count\":%zu,\"max_model_len\":%zu,\"tokens\":", n, ctx_size);
        write_ids(out, ids, n);
        buf_append_str(out, ",\"token_strs\":null}");
        free(ids);
    } else if (with_pieces) {
        buf_append_str(out, "{\"tokens\":");
        write_pieces(out, t, text.len);
        buf_append_str(out, "}");
    } else {
        size_t n = 0;
        int64_t *ids = tok_encode(t, text.len, &n);
        buf_append_str(out, "{\"tokens\":");
        write_ids(out, ids, n);
        buf_append_str(out, "}");
        free(ids);
    }
    rc = 0;
out:
    cJSON_Delete(root);
    buf_free(&text);
    if (rc)
        tidy_reason(err, err_len);
    return rc;
}

int request_detokenize(const char *body, size_t len, buf *out, char *err, size_t err_len)
{
    buf text;
    buf_init(&text, PROMPT_MAX_BYTES);
    int rc = -1;
    cJSON *root = parse_root(body, len, err, err_len);
    if (!root)
        goto out;
    const cJSON *tokens = field(root, "tokens");
    if (tokens && !cJSON_IsArray(tokens)) {
        fail(err, err_len, "'tokens' must be an array of token ids");
        goto out;
    }
    const cJSON *id;
    cJSON_ArrayForEach(id, tokens) {
        char piece[TOK_PIECE_MAX];
        int n = -1;
        if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
            id->valuedouble >= 0 && id->valuedouble < 9007199254740992.0)
            n = tok_piece((int64_t)id->valuedouble, piece);
        if (n < 0) {
            fail(err, err_len, "'tokens' holds an invalid token id");
            goto out;
        }
        buf_append(&text, piece, (size_t)n);
    }
    /* vLLM answers {"prompt": ...}; llama.cpp {"content": ...}. A "model"
     * field marks the vLLM form. */
    buf_append_str(out, field(root, "model") ? "{\"prompt\":\"" : "{\"content\":\"");
    buf_append_json_escaped(out, text.data ? text.data : "", text.len);
    buf_append_str(out, "\"}");
    rc = 0;
out:
    cJSON_Delete(root);
    buf_free(&text);
    if (rc)
        tidy_reason(err, err_len);
    return rc;
}
