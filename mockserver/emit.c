#include "emit.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/prng.h"

/* Each builder appends to out and returns BUF_OK or BUF_ERR_TOO_BIG; rc
 * accumulates with |= because every failure is the same error. */

/* ------------------------------------------------------------ the table */

static const emit_personality personalities[] = {
    [PERS_VLLM] = {.name = "vllm", .owned_by = "vllm", .role = EMIT_ROLE_IN_FIRST_DELTA,
                   .finish_with_last_token = 1, .usage_requires_include = 1,
                   .loading_503 = 0, .ping = NULL},
    [PERS_LLAMACPP] = {.name = "llamacpp", .owned_by = "llamacpp", .role = EMIT_ROLE_OWN_EVENT,
                       .one_token_per_event = 1, .usage_requires_include = 1, .has_timings = 1,
                       .context_error_prompt_only = 1, .has_props = 1, .loading_503 = 1,
                       .ping = ":\n\n"},
    [PERS_SGLANG] = {.name = "sglang", .owned_by = "sglang", .role = EMIT_ROLE_OWN_EVENT,
                     .usage_requires_include = 1, .rejects_stream_token_ids = 1, .ping = NULL},
    [PERS_OPENAI] = {.name = "openai", .owned_by = "openai", .role = EMIT_ROLE_OWN_EVENT,
                     .usage_requires_include = 1, .ping = NULL},
    [PERS_OLLAMA] = {.name = "ollama", .owned_by = "library", .role = EMIT_ROLE_EVERY_DELTA,
                     .usage_requires_include = 1, .ping = NULL},
};

const emit_personality *emit_personality_info(enum personality p)
{
    if ((unsigned)p >= sizeof personalities / sizeof personalities[0])
        p = PERS_VLLM;
    return &personalities[p];
}

static const char *fingerprint(const emit_ctx *c)
{
    if (c->system_fingerprint)
        return c->system_fingerprint;
    switch (c->personality) {
    case PERS_LLAMACPP: return "b0-unknown";
    case PERS_OPENAI: return "fp_tokmock0";
    case PERS_OLLAMA: return "fp_ollama";
    default: return NULL; /* vLLM and SGLang send no fingerprint */
    }
}

/* NULL = reasoning is not shown (OpenAI keeps it hidden, counting it only in usage). */
static const char *reasoning_key(const emit_ctx *c)
{
    if (c->reasoning_field)
        return c->reasoning_field;
    switch (c->personality) {
    case PERS_OPENAI: return NULL;
    case PERS_OLLAMA: return "reasoning";
    default: return "reasoning_content";
    }
}

/* ------------------------------------------------------------ small pieces */

static int json_string(buf *out, const char *s, size_t len)
{
    int rc = buf_append(out, "\"", 1);
    rc |= buf_append_json_escaped(out, s ? s : "", s ? len : 0);
    rc |= buf_append(out, "\"", 1);
    return rc;
}

static int json_cstr(buf *out, const char *s)
{
    return json_string(out, s, s ? strlen(s) : 0);
}

/* `,"key":"value"` */
static int kv_str(buf *out, const char *key, const char *s)
{
    int rc = buf_printf(out, ",\"%s\":", key);
    rc |= json_cstr(out, s);
    return rc;
}

int emit_json_double(buf *out, double v)
{
    if (!isfinite(v))
        return buf_append_str(out, "null");
    if (v == 0)
        return buf_append_str(out, signbit(v) ? "-0.0" : "0.0");
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is "[-]d[.ddd]e[+-]XX": split into digits and a decimal exponent. */
    const char *p = tmp;
    int rc = BUF_OK;
    if (*p == '-') {
        rc |= buf_append(out, "-", 1);
        p++;
    }
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd < (int)sizeof digits - 1)
            digits[nd++] = *p;
    digits[nd] = '\0';
    int e10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
    int n = e10 + 1; /* the value is 0.DIGITS x 10^n */
    if (n >= nd && n <= 15) {
        rc |= buf_append(out, digits, (size_t)nd);
        for (int i = nd; i < n; i++)
            rc |= buf_append(out, "0", 1);
        rc |= buf_append(out, ".0", 2);
    } else if (n > 0 && n <= 15) {
        rc |= buf_append(out, digits, (size_t)n);
        rc |= buf_append(out, ".", 1);
        rc |= buf_append(out, digits + n, (size_t)(nd - n));
    } else if (n > -4 && n <= 0) {
        rc |= buf_append(out, "0.", 2);
        for (int i = n; i < 0; i++)
            rc |= buf_append(out, "0", 1);
        rc |= buf_append(out, digits, (size_t)nd);
    } else {
        rc |= buf_append(out, digits, 1);
        if (nd > 1) {
            rc |= buf_append(out, ".", 1);
            rc |= buf_append(out, digits + 1, (size_t)(nd - 1));
        }
        int x = n - 1;
        rc |= buf_printf(out, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    }
    return rc;
}

/* `,"key":number` */
static int kv_double(buf *out, const char *key, double v)
{
    int rc = buf_printf(out, ",\"%s\":", key);
    rc |= emit_json_double(out, v);
    return rc;
}

/* llama-server measures in whole microseconds and never reports 0. */
static double whole_us_ms(double ms)
{
    double us = floor(ms * 1000.0 + 0.5);
    return (us < 1 ? 1 : us) / 1000.0;
}

/* The `timings` object, with the derived figures computed as llama-server
 * does: the prompt rate over prompt_n, the generation rate over the tokens
 * after the first (the first one comes out of the prefill pass). */
static int timings_object(buf *out, const emit_timings *t)
{
    double pms = whole_us_ms(t->prompt_ms);
    double gms = whole_us_ms(t->predicted_ms);
    double pn = (double)t->prompt_n, gn = t->predicted_n > 1 ? (double)(t->predicted_n - 1) : 0;
    int rc = buf_printf(out, "\"timings\":{\"cache_n\":%zu,\"prompt_n\":%zu", t->cache_n,
                        t->prompt_n);
    rc |= kv_double(out, "prompt_ms", pms);
    rc |= kv_double(out, "prompt_per_token_ms", t->prompt_n ? pms / pn : 0.0);
    rc |= kv_double(out, "prompt_per_second", t->prompt_n ? 1e3 / pms * pn : 0.0);
    rc |= buf_printf(out, ",\"predicted_n\":%zu", t->predicted_n);
    rc |= kv_double(out, "predicted_ms", gms);
    rc |= kv_double(out, "predicted_per_token_ms", gn > 0 ? gms / gn : 0.0);
    rc |= kv_double(out, "predicted_per_second", gn > 0 ? 1e3 / gms * gn : 0.0);
    if (t->draft_n)
        rc |= buf_printf(out, ",\"draft_n\":%zu,\"draft_n_accepted\":%zu", t->draft_n,
                         t->draft_n_accepted);
    rc |= buf_append_str(out, "}");
    return rc;
}

/* `"usage":{...}` in the personality's key order and detail. */
static int usage_object(buf *out, const emit_ctx *c, size_t completion_tokens)
{
    size_t p = c->prompt_tokens, total = c->prompt_tokens + completion_tokens;
    switch (c->personality) {
    case PERS_LLAMACPP:
        return buf_printf(out,
                          "\"usage\":{\"completion_tokens\":%zu,\"prompt_tokens\":%zu,"
                          "\"total_tokens\":%zu,\"prompt_tokens_details\":{\"cached_tokens\":%zu}}",
                          completion_tokens, p, total, c->cached_tokens);
    case PERS_SGLANG:
        /* SGLang reports cached tokens only with --enable-cache-report: off by default. */
        return buf_printf(out,
                          "\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu,"
                          "\"completion_tokens\":%zu,\"prompt_tokens_details\":null,"
                          "\"reasoning_tokens\":%zu}",
                          p, total, completion_tokens, c->reasoning_tokens);
    case PERS_OPENAI:
        return buf_printf(out,
                          "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,"
                          "\"total_tokens\":%zu,\"prompt_tokens_details\":{\"cached_tokens\":%zu,"
                          "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":"
                          "%zu,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
                          "\"rejected_prediction_tokens\":0}}",
                          p, completion_tokens, total, c->cached_tokens, c->reasoning_tokens);
    case PERS_OLLAMA:
        return buf_printf(out,
                          "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,"
                          "\"total_tokens\":%zu}",
                          p, completion_tokens, total);
    default:
        return buf_printf(out,
                          "\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu,"
                          "\"completion_tokens\":%zu,\"prompt_tokens_details\":"
                          "{\"cached_tokens\":%zu}}",
                          p, total, completion_tokens, c->cached_tokens);
    }
}

static const char *object_name(const emit_ctx *c, int streaming)
{
    if (c->kind == REQ_COMPLETION)
        return "text_completion";
    return streaming ? "chat.completion.chunk" : "chat.completion";
}

static int id_array(buf *out, const int64_t *ids, size_t n)
{
    int rc = buf_append_str(out, "[");
    for (size_t i = 0; i < n && ids; i++)
        rc |= buf_printf(out, i ? ",%" PRId64 : "%" PRId64, ids[i]);
    rc |= buf_append_str(out, "]");
    return rc;
}

/* ------------------------------------------------------------ llama.cpp */

/* llama-server writes its keys in this order (captured):
 *   chat chunk:   choices, created, id, model, system_fingerprint, object, [usage], [timings]
 *   everything else (completion chunks, non-stream bodies):
 *                 choices, created, model, system_fingerprint, object, [usage], id, [timings]
 * The choices array is already written and closed when this runs. */
static int lc_tail(buf *out, const emit_ctx *c, int streaming, const size_t *usage_tokens,
                   const emit_timings *timings)
{
    int chat_chunk = streaming && c->kind == REQ_CHAT;
    int rc = buf_printf(out, ",\"created\":%" PRId64, c->created);
    if (chat_chunk)
        rc |= kv_str(out, "id", c->id);
    rc |= kv_str(out, "model", c->model);
    rc |= kv_str(out, "system_fingerprint", fingerprint(c));
    rc |= kv_str(out, "object", object_name(c, streaming));
    if (usage_tokens) {
        rc |= buf_append_str(out, ",");
        rc |= usage_object(out, c, *usage_tokens);
    }
    if (!chat_chunk)
        rc |= kv_str(out, "id", c->id);
    if (timings) {
        rc |= buf_append_str(out, ",");
        rc |= timings_object(out, timings);
    }
    rc |= buf_append_str(out, "}");
    return rc;
}

/* One llama.cpp token event with the given reasoning/content slices. */
static int lc_token(buf *out, const emit_ctx *c, const char *r, size_t rlen, const char *s,
                    size_t slen, const emit_timings *timings)
{
    int rc = buf_append_str(out, "data: {\"choices\":[{");
    if (c->kind == REQ_CHAT) {
        rc |= buf_append_str(out, "\"finish_reason\":null,\"index\":0,\"delta\":{");
        const char *sep = "";
        if (rlen) {
            rc |= buf_printf(out, "\"%s\":", reasoning_key(c));
            rc |= json_string(out, r, rlen);
            sep = ",";
        }
        if (slen || !rlen) {
            rc |= buf_printf(out, "%s\"content\":", sep);
            rc |= json_string(out, s, slen);
        }
        rc |= buf_append_str(out, "}}]");
    } else {
        rc |= buf_append_str(out, "\"text\":\"");
        rc |= buf_append_json_escaped(out, r ? r : "", r ? rlen : 0);
        rc |= buf_append_json_escaped(out, s ? s : "", s ? slen : 0);
        rc |= buf_append_str(out, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]");
    }
    rc |= lc_tail(out, c, 1, NULL, timings);
    rc |= buf_append_str(out, "\n\n");
    return rc;
}

/* llama.cpp sends one event per token: split the step at piece boundaries. */
static int lc_tokens(buf *out, const emit_ctx *c, const emit_tokens *t)
{
    const char *r = t->reasoning, *s = t->content;
    size_t rlen = t->reasoning ? t->reasoning_len : 0, slen = t->content ? t->content_len : 0;
    if (!t->piece_lens || t->n_ids < 2)
        return lc_token(out, c, r, rlen, s, slen, t->timings);
    int rc = BUF_OK;
    size_t off = 0, total = rlen + slen;
    for (size_t i = 0; i < t->n_ids; i++) {
        size_t len = t->piece_lens[i];
        if (off + len > total || i + 1 == t->n_ids)
            len = total - off; /* the last piece takes the rest */
        size_t a = off, b = off + len;
        size_t ra = a < rlen ? a : rlen, rb = b < rlen ? b : rlen;
        size_t sa = a > rlen ? a - rlen : 0, sb = b > rlen ? b - rlen : 0;
        emit_timings tt;
        const emit_timings *tp = NULL;
        if (t->timings) {
            tt = *t->timings;
            size_t later = t->n_ids - 1 - i;
            tt.predicted_n = tt.predicted_n > later ? tt.predicted_n - later : 1;
            tp = &tt;
        }
        rc |= lc_token(out, c, r ? r + ra : NULL, rb - ra, s ? s + sa : NULL, sb - sa, tp);
        off = b;
    }
    return rc;
}

/* ------------------------------------------------------------ the others */

/* `data: {` + head keys + `"choices":[` for vLLM, SGLang, OpenAI, Ollama. */
static int oai_head(buf *out, const emit_ctx *c, int streaming)
{
    int rc = buf_append_str(out, "{\"id\":");
    rc |= json_cstr(out, c->id);
    rc |= kv_str(out, "object", object_name(c, streaming));
    rc |= buf_printf(out, ",\"created\":%" PRId64, c->created);
    rc |= kv_str(out, "model", c->model);
    if (c->personality == PERS_OPENAI && streaming)
        rc |= kv_str(out, "service_tier", "default");
    if (fingerprint(c) && (c->personality != PERS_OPENAI || streaming))
        rc |= kv_str(out, "system_fingerprint", fingerprint(c));
    rc |= buf_append_str(out, ",\"choices\":[");
    return rc;
}

static int chunk_head(buf *out, const emit_ctx *c)
{
    int rc = buf_append_str(out, "data: ");
    rc |= oai_head(out, c, 1);
    return rc;
}

/* Closes choices, adds the per-chunk usage the personality sends, ends the event. */
static int chunk_tail(buf *out, const emit_ctx *c, size_t completion_tokens)
{
    int rc = buf_append_str(out, "]");
    if (c->continuous_usage && (c->personality == PERS_VLLM || c->personality == PERS_SGLANG)) {
        rc |= buf_append_str(out, ",");
        rc |= usage_object(out, c, completion_tokens);
    } else if (c->personality == PERS_SGLANG ||
               (c->personality == PERS_OPENAI && c->include_usage)) {
        rc |= buf_append_str(out, ",\"usage\":null");
    }
    rc |= buf_append_str(out, "}\n\n");
    return rc;
}

/* The choice's fields after the delta/text, up to and including its `}`. */
static int choice_end(buf *out, const emit_ctx *c, const char *finish_reason, const int64_t *ids,
                      size_t n_ids, int want_ids)
{
    int rc = BUF_OK;
    if (c->personality != PERS_OLLAMA)
        rc |= buf_append_str(out, ",\"logprobs\":null");
    if (finish_reason)
        rc |= kv_str(out, "finish_reason", finish_reason);
    else
        rc |= buf_append_str(out, ",\"finish_reason\":null");
    if (c->personality == PERS_VLLM && finish_reason)
        rc |= buf_append_str(out, ",\"stop_reason\":null");
    if (c->personality == PERS_SGLANG)
        rc |= buf_append_str(out, ",\"matched_stop\":null");
    if (want_ids && c->return_token_ids &&
        (c->personality == PERS_VLLM || c->personality == PERS_SGLANG)) {
        rc |= buf_append_str(out, ",\"token_ids\":");
        rc |= id_array(out, ids, n_ids);
    }
    rc |= buf_append_str(out, "}");
    return rc;
}

/* A delta object. role: put role "assistant"; r/s: reasoning and content, NULL =
 * absent (SGLang writes null instead); finish: the final empty delta. */
static int oai_delta(buf *out, const emit_ctx *c, int role, const char *r, size_t rlen,
                     const char *s, size_t slen, int finish)
{
    const char *rkey = reasoning_key(c);
    int rc = buf_append_str(out, "{");
    switch (c->personality) {
    case PERS_SGLANG:
        rc |= buf_append_str(out, role ? "\"role\":\"assistant\"" : "\"role\":null");
        rc |= buf_append_str(out, ",\"content\":");
        rc |= (s || (role && !r)) ? json_string(out, s, slen) : buf_append_str(out, "null");
        rc |= buf_printf(out, ",\"%s\":", rkey);
        rc |= r ? json_string(out, r, rlen) : buf_append_str(out, "null");
        rc |= buf_append_str(out, ",\"tool_calls\":null");
        break;
    case PERS_OLLAMA:
        rc |= buf_append_str(out, "\"role\":\"assistant\",\"content\":");
        rc |= json_string(out, s, s ? slen : 0);
        if (r && rlen) {
            rc |= buf_printf(out, ",\"%s\":", rkey);
            rc |= json_string(out, r, rlen);
        }
        break;
    default: {
        const char *sep = "";
        if (finish) {
            if (c->personality == PERS_VLLM)
                rc |= buf_append_str(out, "\"content\":\"\"");
            break;
        }
        if (role) {
            rc |= buf_append_str(out, "\"role\":\"assistant\"");
            sep = ",";
        }
        if (r && rlen && rkey) {
            rc |= buf_printf(out, "%s\"%s\":", sep, rkey);
            rc |= json_string(out, r, rlen);
            sep = ",";
        }
        if ((s && slen) || !(r && rlen && rkey)) {
            rc |= buf_printf(out, "%s\"content\":", sep);
            rc |= json_string(out, s, s ? slen : 0);
        }
        if (role && c->personality == PERS_OPENAI)
            rc |= buf_append_str(out, ",\"refusal\":null");
        break;
    }
    }
    rc |= buf_append_str(out, "}");
    return rc;
}

/* The completion-kind choice start: `{"index":0,"text":"..."` or, for OpenAI
 * and Ollama, `{"text":"...","index":0`. */
static int text_choice(buf *out, const emit_ctx *c, const char *r, size_t rlen, const char *s,
                       size_t slen)
{
    int text_first = c->personality == PERS_OPENAI || c->personality == PERS_OLLAMA;
    int rc = buf_append_str(out, text_first ? "{\"text\":\"" : "{\"index\":0,\"text\":\"");
    if (r && rlen)
        rc |= buf_append_json_escaped(out, r, rlen);
    if (s && slen)
        rc |= buf_append_json_escaped(out, s, slen);
    rc |= buf_append_str(out, text_first ? "\",\"index\":0" : "\"");
    return rc;
}

/* ------------------------------------------------------------ stream events */

int emit_role_event(buf *out, const emit_ctx *c)
{
    int rc;
    if (c->personality == PERS_LLAMACPP) {
        if (c->kind != REQ_CHAT)
            return BUF_OK; /* llama.cpp completions have no role chunk */
        rc = buf_append_str(out, "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,"
                                 "\"delta\":{\"role\":\"assistant\",\"content\":null}}]");
        rc |= lc_tail(out, c, 1, NULL, NULL);
        rc |= buf_append_str(out, "\n\n");
        return rc;
    }
    rc = chunk_head(out, c);
    if (c->kind == REQ_CHAT) {
        rc |= buf_append_str(out, "{\"index\":0,\"delta\":");
        rc |= oai_delta(out, c, 1, NULL, 0, "", 0, 0);
    } else {
        rc |= text_choice(out, c, NULL, 0, NULL, 0);
    }
    rc |= choice_end(out, c, NULL, NULL, 0, 0);
    rc |= chunk_tail(out, c, 0);
    return rc;
}

int emit_token_event(buf *out, const emit_ctx *c, const emit_tokens *t)
{
    enum emit_role_placement placement = emit_personality_info(c->personality)->role;
    int own_event = t->role_event_first || (t->with_role && placement == EMIT_ROLE_OWN_EVENT);
    int role = !own_event && t->with_role && placement == EMIT_ROLE_IN_FIRST_DELTA;
    int rc = BUF_OK;
    if (own_event && c->kind == REQ_CHAT)
        rc |= emit_role_event(out, c);
    if (c->personality == PERS_LLAMACPP) {
        rc |= lc_tokens(out, c, t);
        return rc;
    }
    const char *r = t->reasoning_len ? t->reasoning : NULL;
    const char *s = t->content_len ? t->content : NULL;
    if (c->kind == REQ_CHAT && !reasoning_key(c) && !s && !role && !t->finish_reason)
        return rc; /* hidden reasoning only: nothing to show in this step */
    rc |= chunk_head(out, c);
    if (c->kind == REQ_CHAT) {
        rc |= buf_append_str(out, "{\"index\":0,\"delta\":");
        if (c->personality == PERS_SGLANG && !r && !s)
            s = "";
        rc |= oai_delta(out, c, role, r, t->reasoning_len, s, t->content_len, 0);
    } else {
        rc |= text_choice(out, c, r, t->reasoning_len, s, t->content_len);
    }
    rc |= choice_end(out, c, t->finish_reason, t->ids, t->n_ids, 1);
    rc |= chunk_tail(out, c, t->completion_tokens);
    return rc;
}

int emit_finish_event(buf *out, const emit_ctx *c, const char *finish_reason,
                      size_t completion_tokens)
{
    int rc;
    if (c->personality == PERS_LLAMACPP) {
        const emit_timings *tm = &c->timings;
        if (c->kind == REQ_CHAT) {
            rc = buf_printf(out, "data: {\"choices\":[{\"finish_reason\":\"%s\",\"index\":0,"
                                 "\"delta\":{}}]",
                            finish_reason);
            /* With include_usage, usage and timings ride the usage chunk instead. */
            rc |= lc_tail(out, c, 1, NULL, c->include_usage ? NULL : tm);
        } else {
            rc = buf_printf(out, "data: {\"choices\":[{\"text\":\"\",\"index\":0,"
                                 "\"logprobs\":null,\"finish_reason\":\"%s\"}]",
                            finish_reason);
            rc |= lc_tail(out, c, 1, c->include_usage ? &completion_tokens : NULL, tm);
        }
        rc |= buf_append_str(out, "\n\n");
        return rc;
    }
    rc = chunk_head(out, c);
    if (c->kind == REQ_CHAT) {
        rc |= buf_append_str(out, "{\"index\":0,\"delta\":");
        rc |= oai_delta(out, c, 0, NULL, 0, NULL, 0, 1);
    } else {
        rc |= text_choice(out, c, NULL, 0, NULL, 0);
    }
    rc |= choice_end(out, c, finish_reason, NULL, 0, 0);
    rc |= chunk_tail(out, c, completion_tokens);
    return rc;
}

int emit_usage_event(buf *out, const emit_ctx *c, size_t completion_tokens)
{
    int rc;
    if (c->personality == PERS_LLAMACPP) {
        if (c->kind != REQ_CHAT)
            return BUF_OK; /* carried by the finish chunk */
        rc = buf_append_str(out, "data: {\"choices\":[]");
        rc |= lc_tail(out, c, 1, &completion_tokens, &c->timings);
        rc |= buf_append_str(out, "\n\n");
        return rc;
    }
    rc = chunk_head(out, c);
    rc |= buf_append_str(out, "],");
    rc |= usage_object(out, c, completion_tokens);
    rc |= buf_append_str(out, "}\n\n");
    return rc;
}

int emit_stream_tail(buf *out, const emit_ctx *c, const char *finish_reason,
                     size_t completion_tokens)
{
    int rc = BUF_OK;
    if (finish_reason)
        rc |= emit_finish_event(out, c, finish_reason, completion_tokens);
    if (c->include_usage || !emit_personality_info(c->personality)->usage_requires_include)
        rc |= emit_usage_event(out, c, completion_tokens);
    rc |= emit_done_event(out);
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

int emit_ping_for(buf *out, enum personality p)
{
    const char *ping = emit_personality_info(p)->ping;
    return buf_append_str(out, ping ? ping : ": ping\n\n");
}

/* ------------------------------------------------------------ bodies */

int emit_full_body(buf *out, const emit_ctx *c, const char *reasoning, size_t reasoning_len,
                   const char *content, size_t content_len, const int64_t *ids, size_t n_ids,
                   const char *finish_reason, size_t completion_tokens)
{
    const char *r = reasoning_len ? reasoning : NULL;
    const char *rkey = reasoning_key(c);
    int rc;
    if (c->personality == PERS_LLAMACPP) {
        if (c->kind == REQ_CHAT) {
            rc = buf_printf(out, "{\"choices\":[{\"finish_reason\":\"%s\",\"index\":0,"
                                 "\"message\":{\"role\":\"assistant\",\"content\":",
                            finish_reason);
            rc |= json_string(out, content, content_len);
            if (r) {
                rc |= buf_printf(out, ",\"%s\":", rkey);
                rc |= json_string(out, r, reasoning_len);
            }
            rc |= buf_append_str(out, "}}]");
        } else {
            rc = buf_append_str(out, "{\"choices\":[{\"text\":\"");
            if (r)
                rc |= buf_append_json_escaped(out, r, reasoning_len);
            if (content)
                rc |= buf_append_json_escaped(out, content, content_len);
            rc |= buf_printf(out, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"%s\"}]",
                             finish_reason);
        }
        rc |= lc_tail(out, c, 0, &completion_tokens, &c->timings);
        return rc;
    }
    rc = oai_head(out, c, 0);
    if (c->kind == REQ_CHAT) {
        rc |= buf_append_str(out, "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
        rc |= json_string(out, content, content ? content_len : 0);
        if (c->personality == PERS_SGLANG) {
            rc |= buf_printf(out, ",\"%s\":", rkey);
            rc |= r ? json_string(out, r, reasoning_len) : buf_append_str(out, "null");
            rc |= buf_append_str(out, ",\"tool_calls\":null");
        } else if (r && rkey) {
            rc |= buf_printf(out, ",\"%s\":", rkey);
            rc |= json_string(out, r, reasoning_len);
        }
        if (c->personality == PERS_OPENAI)
            rc |= buf_append_str(out, ",\"refusal\":null,\"annotations\":[]");
        rc |= buf_append_str(out, "}");
    } else {
        rc |= text_choice(out, c, r, reasoning_len, content, content_len);
    }
    rc |= choice_end(out, c, finish_reason, ids, n_ids, 1);
    rc |= buf_append_str(out, "],");
    rc |= usage_object(out, c, completion_tokens);
    if (c->personality == PERS_OPENAI) {
        rc |= kv_str(out, "service_tier", "default");
        rc |= kv_str(out, "system_fingerprint", fingerprint(c));
    }
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
    case 429: return "TooManyRequestsError";
    case 503: return "ServiceUnavailableError";
    default: return status >= 500 ? "InternalServerError" : "BadRequestError";
    }
}

static const char *llamacpp_error_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 501: return "not_supported_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *openai_error_type(int status)
{
    switch (status) {
    case 401: return "invalid_request_error";
    case 429: return "requests";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *openai_error_code(int status)
{
    switch (status) {
    case 401: return "invalid_api_key";
    case 429: return "rate_limit_exceeded";
    default: return NULL;
    }
}

/* {"error":{"message":..,"type":..,"param":<param>,"code":<code>}} with
 * param/code as JSON strings or null. */
static int openai_style_error(buf *out, const char *message, const char *type,
                              const char *param, const char *code)
{
    int rc = buf_append_str(out, "{\"error\":{\"message\":");
    rc |= json_cstr(out, message);
    rc |= kv_str(out, "type", type);
    rc |= buf_append_str(out, ",\"param\":");
    rc |= param ? json_cstr(out, param) : buf_append_str(out, "null");
    rc |= buf_append_str(out, ",\"code\":");
    rc |= code ? json_cstr(out, code) : buf_append_str(out, "null");
    rc |= buf_append_str(out, "}}");
    return rc;
}

int emit_error_body(buf *out, enum personality p, int status, const char *message)
{
    int rc;
    switch (p) {
    case PERS_LLAMACPP:
        /* Errors raised by the HTTP layer (unknown route, model loading) put
         * the code last; errors from a handler put it first (captured). */
        if (status == 404 || status == 503) {
            rc = buf_append_str(out, "{\"error\":{\"message\":");
            rc |= json_cstr(out, message);
            rc |= kv_str(out, "type", llamacpp_error_type(status));
            rc |= buf_printf(out, ",\"code\":%d}}", status);
        } else {
            rc = buf_printf(out, "{\"error\":{\"code\":%d,\"message\":", status);
            rc |= json_cstr(out, message);
            rc |= kv_str(out, "type", llamacpp_error_type(status));
            rc |= buf_append_str(out, "}}");
        }
        return rc;
    case PERS_OPENAI:
        return openai_style_error(out, message, openai_error_type(status), NULL,
                                  openai_error_code(status));
    case PERS_OLLAMA:
        return openai_style_error(out, message,
                                  status == 400   ? "invalid_request_error"
                                  : status == 404 ? "not_found_error"
                                                  : "api_error",
                                  NULL, NULL);
    default: /* vLLM and SGLang share the shape */
        rc = buf_append_str(out, "{\"object\":\"error\",\"message\":");
        rc |= json_cstr(out, message);
        rc |= buf_printf(out, ",\"type\":\"%s\",\"param\":null,\"code\":%d}",
                         vllm_error_type(status), status);
        return rc;
    }
}

int emit_context_error_body(buf *out, enum personality p, size_t n_prompt_tokens,
                            size_t max_tokens, size_t n_ctx)
{
    char msg[512];
    switch (p) {
    case PERS_LLAMACPP: {
        int rc = buf_printf(out,
                            "{\"error\":{\"code\":400,\"message\":\"request (%zu tokens) exceeds "
                            "the available context size (%zu tokens), try increasing it\","
                            "\"type\":\"exceed_context_size_error\",\"n_prompt_tokens\":%zu,"
                            "\"n_ctx\":%zu}}",
                            n_prompt_tokens, n_ctx, n_prompt_tokens, n_ctx);
        return rc;
    }
    case PERS_OPENAI:
        snprintf(msg, sizeof msg,
                 "This model's maximum context length is %zu tokens. However, your messages "
                 "resulted in %zu tokens. Please reduce the length of the messages.",
                 n_ctx, n_prompt_tokens);
        return openai_style_error(out, msg, "invalid_request_error", "messages",
                                  "context_length_exceeded");
    default:
        snprintf(msg, sizeof msg,
                 "This model's maximum context length is %zu tokens. However, you requested "
                 "%zu tokens (%zu in the messages, %zu in the completion). Please reduce the "
                 "length of the messages or completion.",
                 n_ctx, n_prompt_tokens + max_tokens, n_prompt_tokens, max_tokens);
        return emit_error_body(out, p, 400, msg);
    }
}

int emit_loading_body(buf *out, enum personality p)
{
    return emit_error_body(out, p, 503, "Loading model");
}

int emit_stream_token_ids_error_body(buf *out, enum personality p)
{
    return emit_error_body(out, p, 400,
                           "return_token_ids cannot be combined with stream=true");
}

int emit_models_body(buf *out, enum personality p, const char *const *models, size_t n,
                     int64_t created, size_t n_ctx)
{
    const emit_personality *info = emit_personality_info(p);
    int rc = BUF_OK;
    if (p == PERS_LLAMACPP) {
        /* llama-server answers with an Ollama-style "models" list and an OpenAI-style "data". */
        rc |= buf_append_str(out, "{\"models\":[");
        for (size_t i = 0; i < n; i++) {
            rc |= buf_append_str(out, i ? ",{\"name\":" : "{\"name\":");
            rc |= json_cstr(out, models[i]);
            rc |= kv_str(out, "model", models[i]);
            rc |= buf_append_str(out,
                                 ",\"modified_at\":\"\",\"size\":\"\",\"digest\":\"\","
                                 "\"type\":\"model\",\"description\":\"\",\"tags\":[\"\"],"
                                 "\"capabilities\":[\"completion\"],\"parameters\":\"\","
                                 "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\","
                                 "\"family\":\"\",\"families\":[\"\"],\"parameter_size\":\"\","
                                 "\"quantization_level\":\"\"}}");
        }
        rc |= buf_append_str(out, "],\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < n; i++) {
            rc |= buf_append_str(out, i ? ",{\"id\":" : "{\"id\":");
            rc |= json_cstr(out, models[i]);
            rc |= buf_append_str(out, ",\"aliases\":[");
            rc |= json_cstr(out, models[i]);
            rc |= buf_printf(out,
                             "],\"tags\":[],\"object\":\"model\",\"created\":%" PRId64
                             ",\"owned_by\":\"llamacpp\",\"meta\":{\"vocab_type\":1,"
                             "\"n_ctx\":%zu,\"n_ctx_train\":%zu}}",
                             created, n_ctx, n_ctx);
        }
        rc |= buf_append_str(out, "]}");
        return rc;
    }
    rc |= buf_append_str(out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        rc |= buf_append_str(out, i ? ",{\"id\":" : "{\"id\":");
        rc |= json_cstr(out, models[i]);
        rc |= buf_printf(out, ",\"object\":\"model\",\"created\":%" PRId64, created);
        rc |= kv_str(out, "owned_by", info->owned_by);
        if (p == PERS_VLLM || p == PERS_SGLANG) {
            rc |= kv_str(out, "root", models[i]);
            rc |= buf_printf(out, ",\"parent\":null,\"max_model_len\":%zu", n_ctx);
        }
        rc |= buf_append_str(out, "}");
    }
    rc |= buf_append_str(out, "]}");
    return rc;
}

int emit_props_body(buf *out, enum personality p, const char *model, size_t n_ctx,
                    int total_slots)
{
    if (!emit_personality_info(p)->has_props)
        return -1;
    int rc = buf_printf(out,
                        "{\"default_generation_settings\":{\"params\":{\"seed\":4294967295,"
                        "\"temperature\":0.800000011920929,\"top_k\":40,"
                        "\"top_p\":0.949999988079071,\"min_p\":0.05000000074505806,"
                        "\"max_tokens\":-1,\"n_predict\":-1,\"n_keep\":0,\"ignore_eos\":false,"
                        "\"stream\":false,\"timings_per_token\":false,"
                        "\"speculative.types\":\"none\"},\"n_ctx\":%zu},\"total_slots\":%d",
                        n_ctx, total_slots);
    rc |= kv_str(out, "model_alias", model);
    rc |= kv_str(out, "model_path", model);
    rc |= buf_append_str(out,
                         ",\"modalities\":{\"vision\":false,\"video\":false,\"audio\":false},"
                         "\"endpoint_slots\":true,\"endpoint_props\":false,"
                         "\"endpoint_metrics\":true,\"chat_template\":");
    static const char tmpl[] =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt "
        "%}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    rc |= json_string(out, tmpl, sizeof tmpl - 1);
    rc |= buf_append_str(out, ",\"bos_token\":\"<s>\",\"eos_token\":\"<|im_end|>\","
                              "\"build_info\":\"b0-unknown\",\"is_sleeping\":false}");
    return rc;
}

size_t emit_response_id(char *dst, size_t len, enum personality p, enum req_kind kind,
                        uint64_t seq)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static const char hex[] = "0123456789abcdef";
    char tmp[64];
    size_t n = 0;
    prng r;
    prng_seed(&r, seq ^ UINT64_C(0x746F6B6D6F636B21));
    const char *prefix = kind == REQ_CHAT ? "chatcmpl-" : "cmpl-";
    if (p == PERS_LLAMACPP)
        prefix = "chatcmpl-"; /* even for /v1/completions (captured) */
    if (p == PERS_SGLANG)
        prefix = "";
    if (p == PERS_OLLAMA) {
        n = (size_t)snprintf(tmp, sizeof tmp, "%s%" PRIu64, prefix, seq % 1000);
    } else {
        n = (size_t)snprintf(tmp, sizeof tmp, "%s", prefix);
        int letters = p == PERS_LLAMACPP || p == PERS_OPENAI;
        size_t count = p == PERS_OPENAI ? 29 : 32;
        for (size_t i = 0; i < count; i++)
            tmp[n++] = letters ? alnum[prng_below(&r, sizeof alnum - 1)]
                               : hex[prng_below(&r, 16)];
        tmp[n] = '\0';
    }
    if (len == 0)
        return 0;
    if (n >= len)
        n = len - 1;
    memcpy(dst, tmp, n);
    dst[n] = '\0';
    return n;
}
