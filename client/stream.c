/* The stream reader: response bytes -> SSE events -> chunk facts -> the
 * request's event list, then token counting by the best source available
 * (SPEC §2.4) when the stream ends. Pure: times come in as parameters. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/xalloc.h"
#include "chunk.h"
#include "request.h"
#include "sse.h"

#define STREAM_MAX_BYTES ((size_t)16 * 1024 * 1024)

typedef struct stream_state {
    sse_parser *sse;
    tb_request *r;
    int64_t now_ns;
    int done;          /* [DONE] seen: later events are ignored */
    int failed;
    int last_cum;      /* last cumulative usage.completion_tokens seen */
    size_t offset;     /* bytes fed before the current piece */
    int finishing;     /* inside sse_parser_finish: a broken event there was cut */
    long long cut_at;  /* offset of an event cut by the end of the body, -1 = none */
    buf raw;           /* body copy while no event was seen (plain JSON answers) */
    int raw_dropped;   /* the copy was released: an event came, or it overflowed */
    int raw_overflow;
} stream_state;

void stream_state_free(void *state);

void stream_state_free(void *state)
{
    stream_state *s = state;
    if (!s)
        return;
    sse_parser_free(s->sse);
    buf_free(&s->raw);
    free(s);
}

static void push_event(tb_request *r, const tb_event *ev)
{
    if (r->n_events == r->cap_events) {
        r->cap_events = r->cap_events ? r->cap_events * 2 : 64;
        r->events = xrealloc(r->events, r->cap_events * sizeof *r->events);
    }
    r->events[r->n_events++] = *ev;
}

/* Called once per content event: the buffer doubles, so a stream of N
 * events costs O(log N) reallocations, not N. */
static void append_content(tb_request *r, const char *s, size_t n)
{
    if (!s || !n || r->content_len + n > STREAM_MAX_BYTES)
        return;
    if (r->content_len + n + 1 > r->content_cap) {
        size_t cap = r->content_cap ? r->content_cap : 256;
        while (cap < r->content_len + n + 1)
            cap *= 2;
        r->content = xrealloc(r->content, cap);
        r->content_cap = cap;
    }
    memcpy(r->content + r->content_len, s, n);
    r->content_len += n;
    r->content[r->content_len] = '\0';
}

static int is_token_kind(int kind)
{
    return kind == EV_CONTENT || kind == EV_REASONING || kind == EV_TOOL;
}

/* Applies one decoded chunk that arrived at now_ns. */
static void apply_chunk(stream_state *s, const chunk_info *c, int64_t now_ns, int streaming)
{
    tb_request *r = s->r;
    if (c->id && !r->id)
        r->id = xstrdup(c->id);
    if (c->model && !r->model)
        r->model = xstrdup(c->model);
    int usage_delta = -1;
    if (c->has_usage) {
        if (c->prompt_tokens >= 0)
            r->prompt_tokens = c->prompt_tokens;
        if (c->cached_tokens >= 0)
            r->cached_tokens = c->cached_tokens;
        if (c->completion_tokens >= 0) {
            r->completion_tokens = c->completion_tokens;
            /* A whole (non-streaming) body has no per-event usage. */
            usage_delta = streaming ? c->completion_tokens - s->last_cum : -1;
            /* A cumulative count only grows: a lower value (a stray usage
             * chunk) is not a new base for the next event's delta. */
            if (c->completion_tokens > s->last_cum)
                s->last_cum = c->completion_tokens;
        }
    }
    if (c->has_timings)
        r->timings = c->timings;
    if (c->finish_reason) {
        free(r->finish_reason);
        r->finish_reason = xstrdup(c->finish_reason);
    }
    if (!c->has_choices)
        return;
    if (!r->first_response_ns)
        r->first_response_ns = now_ns;
    int token = is_token_kind(c->kind);
    if (!token && r->first_token_ns)
        return; /* role-only events after the first token carry nothing */
    tb_event ev = {
        .t_ns = now_ns,
        .n_tokens = 0,
        .text_bytes = c->text_bytes,
        .ids = c->ids,
        .usage_completion = usage_delta,
        .kind = (uint8_t)c->kind,
    };
    push_event(r, &ev);
    if (!token)
        return;
    if (!r->first_token_ns)
        r->first_token_ns = now_ns;
    if (c->kind == EV_CONTENT && c->content_len && !r->first_content_ns)
        r->first_content_ns = now_ns;
    r->last_token_ns = now_ns;
    append_content(r, c->content, c->content_len);
}

/* The first characters of a broken event, for the error message. */
static void excerpt(const char *data, size_t len, char *out, size_t size)
{
    size_t n = len < size - 1 ? len : size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)data[i];
        out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

static int on_event(void *ctx, const char *type, const char *data, size_t len)
{
    stream_state *s = ctx;
    tb_request *r = s->r;
    (void)type;
    if (s->done || r->error)
        return 0;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n'))
        i++;
    if (len - i >= 6 && memcmp(data + i, "[DONE]", 6) == 0) {
        s->done = 1;
        return 0;
    }
    if (i == len || (data[i] != '{' && data[i] != '['))
        return 0; /* keep-alive or other non-JSON data */
    chunk_info c;
    int rc = chunk_parse(data + i, len - i, &c);
    /* A broken event is named by where it starts, whatever the split. */
    long long at = sse_parser_event_offset(s->sse);
    if (at < 0)
        at = (long long)s->offset;
    if (rc == CHUNK_ERR_ERROR) {
        request_fail(r, FAIL_ERROR_EVENT, "server error in the stream: %s", c.error);
    } else if (rc == CHUNK_ERR_JSON && s->finishing) {
        /* The body ended inside this event: a cut, not a broken server. */
        s->cut_at = at;
        rc = CHUNK_OK;
    } else if (rc == CHUNK_ERR_JSON) {
        /* One broken event fails the request: the tokens it carried are
         * unknown, so every count and rate after it would be a guess. */
        char head[41];
        excerpt(data + i, len - i, head, sizeof head);
        request_fail(r, FAIL_MALFORMED, "malformed event at byte %lld: %s%s", at, head,
                     len - i > sizeof head - 1 ? "..." : "");
    } else {
        apply_chunk(s, &c, s->now_ns, 1);
    }
    chunk_info_free(&c);
    return rc != CHUNK_OK;
}

static stream_state *state_of(tb_request *r)
{
    if (!r->stream) {
        stream_state *s = xcalloc(1, sizeof *s);
        s->r = r;
        s->sse = sse_parser_new(STREAM_MAX_BYTES, on_event, s);
        s->cut_at = -1;
        buf_init(&s->raw, STREAM_MAX_BYTES);
        r->stream = s;
    }
    return r->stream;
}

int request_stream_feed(tb_request *r, const char *data, size_t len, int64_t now_ns)
{
    stream_state *s = state_of(r);
    if (s->failed)
        return -1;
    s->now_ns = now_ns;
    if (!s->raw_dropped) {
        int events = sse_parser_events(s->sse) > 0;
        if (events || buf_append(&s->raw, data, len)) {
            s->raw_overflow = !events;
            buf_free(&s->raw);
            s->raw_dropped = 1;
        }
    }
    int rc = sse_parser_feed(s->sse, data, len);
    s->offset += len;
    if (rc == SSE_OK)
        return 0;
    s->failed = 1;
    if (rc == SSE_ERR_TOO_LONG)
        request_fail(r, FAIL_TOO_LONG, "SSE line or event longer than %zu bytes",
                     STREAM_MAX_BYTES);
    else if (!r->error)
        request_set_error(r, "stream parsing stopped");
    return -1;
}

/* A non-streaming chat.completion body (or an error body) read whole. */
static void finish_plain_body(stream_state *s, int64_t now_ns)
{
    tb_request *r = s->r;
    size_t i = 0;
    while (i < s->raw.len && (s->raw.data[i] == ' ' || s->raw.data[i] == '\n' ||
                              s->raw.data[i] == '\r' || s->raw.data[i] == '\t'))
        i++;
    if (i == s->raw.len || s->raw.data[i] != '{')
        return;
    chunk_info c;
    int rc = chunk_parse(s->raw.data + i, s->raw.len - i, &c);
    if (rc == CHUNK_ERR_ERROR)
        request_fail(r, FAIL_ERROR_EVENT, "error response: %s", c.error);
    else if (rc == CHUNK_ERR_JSON)
        request_fail(r, FAIL_MALFORMED, "response body is neither an event stream nor JSON");
    else
        apply_chunk(s, &c, now_ns, 0);
    chunk_info_free(&c);
}

typedef struct share_rem {
    uint64_t rem;
    size_t idx;
} share_rem;

static int by_remainder_desc(const void *a, const void *b)
{
    const share_rem *x = a, *y = b;
    if (x->rem != y->rem)
        return x->rem < y->rem ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Spreads total tokens over the token events by text bytes, each at least
 * one when there are enough tokens; otherwise one token each to events
 * spaced evenly from the first to the last, so the first and last token
 * times stay observed times. */
static void spread_tokens(tb_event **tok, size_t n, uint32_t total)
{
    if (total < n) {
        for (size_t k = 0; k < n; k++)
            tok[k]->n_tokens = 0;
        if (total == 1) {
            tok[0]->n_tokens = 1;
            return;
        }
        for (uint32_t k = 0; k < total; k++) {
            size_t idx = (size_t)(((uint64_t)k * (n - 1) + (total - 1) / 2) / (total - 1));
            tok[idx]->n_tokens++;
        }
        return;
    }
    uint64_t bytes = 0;
    for (size_t k = 0; k < n; k++)
        bytes += tok[k]->text_bytes;
    /* extra < 2^32 and a weight < 2^32 keep every product below 2^64. */
    uint64_t extra = total - n, given = 0, denom = bytes ? bytes : n;
    share_rem *rem = xmalloc(n * sizeof *rem);
    for (size_t k = 0; k < n; k++) {
        uint64_t num = extra * (bytes ? tok[k]->text_bytes : 1);
        uint64_t share = num / denom;
        rem[k] = (share_rem){num % denom, k};
        tok[k]->n_tokens = (uint32_t)(1 + share);
        given += share;
    }
    /* Largest remainder: the tokens left go one each to the events with the
     * largest remainders, earliest first on ties. */
    qsort(rem, n, sizeof *rem, by_remainder_desc);
    for (size_t k = 0; given < extra && k < n; k++, given++)
        tok[rem[k].idx]->n_tokens++;
    free(rem);
}

static void count_tokens(tb_request *r)
{
    size_t n = 0;
    for (size_t k = 0; k < r->n_events; k++)
        n += is_token_kind(r->events[k].kind);
    r->total_tokens = 0;
    r->reasoning_tokens = 0;
    if (n == 0) {
        r->total_tokens = r->completion_tokens > 0 ? r->completion_tokens : 0;
        r->count_source = r->completion_tokens >= 0 ? COUNT_FINAL_USAGE : COUNT_NONE;
        return;
    }
    tb_event **tok = xmalloc(n * sizeof *tok);
    size_t m = 0;
    int all_ids = 1, all_usage = 1;
    int64_t usage_sum = 0;
    for (size_t k = 0; k < r->n_events; k++) {
        tb_event *ev = &r->events[k];
        if (!is_token_kind(ev->kind))
            continue;
        tok[m++] = ev;
        if (ev->ids < 0)
            all_ids = 0;
        if (ev->usage_completion < 0)
            all_usage = 0;
        else
            usage_sum += ev->usage_completion;
    }
    if (all_ids) {
        for (size_t k = 0; k < n; k++)
            tok[k]->n_tokens = (uint32_t)tok[k]->ids;
        r->count_source = COUNT_TOKEN_IDS;
    } else if (all_usage && usage_sum > 0) {
        for (size_t k = 0; k < n; k++)
            tok[k]->n_tokens = (uint32_t)tok[k]->usage_completion;
        r->count_source = COUNT_EVENT_USAGE;
    } else if (r->completion_tokens > 0) {
        spread_tokens(tok, n, (uint32_t)r->completion_tokens);
        r->count_source = COUNT_FINAL_USAGE;
    } else {
        for (size_t k = 0; k < n; k++)
            tok[k]->n_tokens = 1;
        r->count_source = COUNT_ONE_PER_EVENT;
    }
    /* A server can claim absurd counts: events beyond INT_MAX tokens in all
     * are cut down, so the events still add up to the total. */
    int64_t total = 0, reasoning = 0;
    for (size_t k = 0; k < n; k++) {
        int64_t room = (int64_t)INT_MAX - total;
        if ((int64_t)tok[k]->n_tokens > room)
            tok[k]->n_tokens = (uint32_t)room;
        total += tok[k]->n_tokens;
        if (tok[k]->kind == EV_REASONING)
            reasoning += tok[k]->n_tokens;
    }
    r->total_tokens = (int)total;
    r->reasoning_tokens = (int)reasoning;
    free(tok);
}

void request_stream_finish(tb_request *r, int64_t now_ns)
{
    stream_state *s = state_of(r);
    if (!s->failed) {
        s->now_ns = now_ns;
        s->finishing = 1;
        int rc = sse_parser_finish(s->sse);
        if (rc == SSE_ERR_TOO_LONG)
            request_fail(r, FAIL_TOO_LONG, "SSE line or event longer than %zu bytes",
                         STREAM_MAX_BYTES);
        if (rc == SSE_OK && sse_parser_events(s->sse) == 0) {
            if (!s->raw_dropped)
                finish_plain_body(s, now_ns);
            else if (s->raw_overflow)
                request_fail(r, FAIL_TOO_LONG,
                             "response body over %zu bytes and not an event stream",
                             STREAM_MAX_BYTES);
        }
    }
    count_tokens(r);
    r->early_role_chunk = r->first_response_ns && r->first_token_ns &&
                          r->first_response_ns < r->first_token_ns;
    if (sse_parser_events(s->sse) == 0)
        r->stream_end = STREAM_END_NONE;
    else if (s->done)
        r->stream_end = STREAM_END_DONE;
    else if (r->finish_reason && s->cut_at < 0)
        r->stream_end = STREAM_END_FINISH;
    else
        r->stream_end = STREAM_END_CUT;
    if (s->cut_at >= 0 && !r->error)
        request_fail(r, FAIL_CLOSED,
                     "connection closed after %d tokens, in the middle of the event at byte %lld",
                     r->total_tokens, s->cut_at);
    stream_state_free(s);
    r->stream = NULL;
}

int request_check_complete(tb_request *r, int cut_by_transport)
{
    if (r->error)
        return -1;
    if (r->stream_end == STREAM_END_CUT || (cut_by_transport && r->stream_end != STREAM_END_DONE)) {
        request_fail(r, FAIL_CLOSED, "connection closed after %d tokens (%s)", r->total_tokens,
                     r->stream_end == STREAM_END_FINISH ? "after the finish_reason"
                                                        : "no finish_reason, no [DONE]");
        return -1;
    }
    if (r->stream_end == STREAM_END_NONE && !r->first_response_ns && r->completion_tokens < 0) {
        if (cut_by_transport)
            request_fail(r, FAIL_CLOSED, "connection closed after 0 tokens (no data)");
        else
            request_fail(r, FAIL_EMPTY, "the response holds no completion (no events, no "
                                        "choices, no usage)");
        return -1;
    }
    return 0;
}
