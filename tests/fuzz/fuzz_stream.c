/* libFuzzer target: the whole stream reader (client/request.h:
 * request_stream_feed / request_stream_finish), the surface every response
 * byte goes through.
 *
 * Input: bytes 0..3 are the split pattern, the rest is the response body.
 * The body is read twice, whole and in pieces arriving 1 ms apart; the
 * counts, usage, content and error must not depend on the split, and the
 * split run's record must be self-consistent (times ordered, token counts
 * summing up). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/request.h"
#include "tests/fuzz/fuzz_util.h"

#define HEADER_BYTES 4
#define MS 1000000

static void read_body(tb_request *r, const uint8_t *body, size_t len, const uint8_t *pattern,
                      size_t n_pattern)
{
    request_init(r);
    int64_t now = MS;
    int rc = 0;
    if (!pattern) {
        rc = request_stream_feed(r, (const char *)body, len, now);
    } else {
        fuzz_splitter sp;
        fuzz_splitter_init(&sp, pattern, n_pattern);
        size_t off = 0;
        /* The driver keeps feeding after an error is reported only by
         * accident; keep going here too: it must stay harmless. */
        while (off < len) {
            size_t n = fuzz_next_piece(&sp, len - off);
            int r1 = request_stream_feed(r, (const char *)body + off, n, now);
            if (rc)
                FUZZ_ASSERT(r1 == -1); /* a failed stream stays failed */
            rc |= r1;
            off += n;
            now += MS;
        }
    }
    FUZZ_ASSERT(rc == 0 || r->error != NULL);
    request_stream_finish(r, now + MS);
    FUZZ_ASSERT(r->stream == NULL);
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_record(const tb_request *r)
{
    int64_t sum = 0, reasoning = 0, prev_t = 0;
    size_t token_events = 0;
    for (size_t k = 0; k < r->n_events; k++) {
        const tb_event *e = &r->events[k];
        FUZZ_ASSERT(e->kind <= EV_TOOL);
        FUZZ_ASSERT(e->t_ns >= prev_t);
        prev_t = e->t_ns;
        sum += e->n_tokens;
        token_events += e->kind == EV_CONTENT || e->kind == EV_REASONING || e->kind == EV_TOOL;
        if (e->kind == EV_REASONING)
            reasoning += e->n_tokens;
        if (e->kind == EV_OTHER || e->kind == EV_ROLE_ONLY)
            FUZZ_ASSERT(e->n_tokens == 0);
    }
    /* Without a token-bearing event the total comes from the final usage. */
    if (token_events)
        FUZZ_ASSERT(sum == r->total_tokens);
    else
        FUZZ_ASSERT(r->total_tokens == (r->completion_tokens > 0 ? r->completion_tokens : 0));
    FUZZ_ASSERT(r->total_tokens >= 0);
    FUZZ_ASSERT(reasoning == r->reasoning_tokens);
    if (r->first_token_ns) {
        FUZZ_ASSERT(r->first_response_ns && r->first_response_ns <= r->first_token_ns);
        FUZZ_ASSERT(r->first_token_ns <= r->last_token_ns);
    }
    if (r->first_content_ns)
        FUZZ_ASSERT(r->first_token_ns && r->first_token_ns <= r->first_content_ns);
    if (r->content)
        FUZZ_ASSERT(strlen(r->content) <= r->content_len);
    else
        FUZZ_ASSERT(r->content_len == 0);
    if (r->error)
        FUZZ_ASSERT(strchr(r->error, '\n') == NULL);
    (void)count_source_name(r->count_source);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER_BYTES)
        return 0;
    const uint8_t *body = data + HEADER_BYTES;
    size_t len = size - HEADER_BYTES;
    tb_request whole, split;
    read_body(&whole, body, len, NULL, 0);
    read_body(&split, body, len, data, HEADER_BYTES);
    check_record(&whole);
    check_record(&split);

    FUZZ_ASSERT(same_str(whole.error, split.error));
    FUZZ_ASSERT(whole.total_tokens == split.total_tokens);
    FUZZ_ASSERT(whole.reasoning_tokens == split.reasoning_tokens);
    FUZZ_ASSERT(whole.n_events == split.n_events);
    FUZZ_ASSERT(whole.count_source == split.count_source);
    FUZZ_ASSERT(whole.prompt_tokens == split.prompt_tokens);
    FUZZ_ASSERT(whole.completion_tokens == split.completion_tokens);
    FUZZ_ASSERT(whole.cached_tokens == split.cached_tokens);
    FUZZ_ASSERT(whole.content_len == split.content_len);
    FUZZ_ASSERT(whole.content_len == 0 ||
                memcmp(whole.content, split.content, whole.content_len) == 0);
    FUZZ_ASSERT(same_str(whole.finish_reason, split.finish_reason));
    FUZZ_ASSERT(same_str(whole.id, split.id));
    FUZZ_ASSERT(same_str(whole.model, split.model));
    for (size_t k = 0; k < whole.n_events; k++)
        FUZZ_ASSERT(whole.events[k].n_tokens == split.events[k].n_tokens &&
                    whole.events[k].kind == split.events[k].kind);
    request_clear(&whole);
    request_clear(&split);
    return 0;
}
