/* Unit tests for the stream reader (client/stream.c + chunk.c): token
 * counting paths in the SPEC §2.4 order, llama-benchy's own vectors, errors,
 * null fields, non-streaming bodies and real llama.cpp captures. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/request.h"
#include "../../common/buf.h"
#include "../fixture.h"
#include "../test.h"

/* Feeds each string as one read at t = 1000 + 10*i ns, then finishes. */
static int feed_reads(tb_request *r, const char *const *reads, size_t n)
{
    int rc = 0;
    request_init(r);
    r->start_ns = 1000;
    for (size_t i = 0; i < n && !rc; i++)
        rc = request_stream_feed(r, reads[i], strlen(reads[i]), 2000 + 10 * (int64_t)i);
    request_stream_finish(r, 5000);
    return rc;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(usage_spread_llama_benchy_vector)
{
    /* llama-benchy: chunks "Hel", "lo", " world" with usage 2 -> 2 tokens. */
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\" world\"}}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
        "data: [DONE]\n\n",
    };
    tb_request r;
    CHECK_INT_EQ(feed_reads(&r, reads, N(reads)), 0);
    CHECK(r.error == NULL);
    CHECK_INT_EQ(r.total_tokens, 2);
    CHECK_INT_EQ(r.count_source, COUNT_FINAL_USAGE);
    CHECK_STR_EQ(count_source_name(r.count_source), "usage_spread");
    CHECK_INT_EQ(r.n_events, 3);
    /* First and last token times stay observed times. */
    CHECK_INT_EQ(r.events[0].n_tokens, 1);
    CHECK_INT_EQ(r.events[2].n_tokens, 1);
    CHECK_INT_EQ(r.first_response_ns, 2000);
    CHECK_INT_EQ(r.first_token_ns, 2000);
    CHECK_INT_EQ(r.last_token_ns, 2020);
    CHECK_INT_EQ(r.prompt_tokens, 5);
    CHECK_STR_EQ(r.content, "Hello world");
    CHECK_INT_EQ(r.early_role_chunk, 0);
    request_clear(&r);
}

TEST(token_ids_win_over_usage)
{
    /* llama-benchy: token_ids [1] and [2,3] with usage 99 -> 3 tokens. vLLM
     * puts token_ids on the choice; a top-level array works too. */
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"token_ids\":[1]}]}\n\n",
        "data: {\"token_ids\":[2,3],\"choices\":[{\"delta\":{\"content\":\"bc\"}}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"completion_tokens\":99}}\n\ndata: [DONE]\n\n",
    };
    tb_request r;
    feed_reads(&r, reads, N(reads));
    CHECK_INT_EQ(r.total_tokens, 3);
    CHECK_INT_EQ(r.count_source, COUNT_TOKEN_IDS);
    CHECK_INT_EQ(r.events[1].n_tokens, 2);
    CHECK_INT_EQ(r.completion_tokens, 99);
    request_clear(&r);
}

TEST(per_event_usage_deltas)
{
    /* continuous_usage_stats: cumulative completion_tokens on every chunk,
     * an MTP step of 3 tokens in the second event. */
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":0}}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":{\"completion_tokens\":1}}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"yyy\"}}],\"usage\":{\"completion_tokens\":4}}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"z\"}}],\"usage\":{\"completion_tokens\":5}}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5}}\n\n",
    };
    tb_request r;
    feed_reads(&r, reads, N(reads));
    CHECK_INT_EQ(r.count_source, COUNT_EVENT_USAGE);
    CHECK_INT_EQ(r.total_tokens, 5);
    CHECK_INT_EQ(r.n_events, 4); /* role chunk + 3 token events */
    CHECK_INT_EQ(r.events[0].kind, EV_ROLE_ONLY);
    CHECK_INT_EQ(r.events[2].n_tokens, 3);
    CHECK_INT_EQ(r.first_response_ns, 2000);
    CHECK_INT_EQ(r.first_token_ns, 2010);
    CHECK_INT_EQ(r.early_role_chunk, 1);
    request_clear(&r);
}

TEST(absurd_usage_counts_clamp_instead_of_overflowing)
{
    /* Found by fuzz_stream (UBSan): cumulative usage that falls back to 0
     * between token events makes per-event deltas whose sum exceeds INT_MAX. */
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],"
        "\"usage\":{\"completion_tokens\":2000000000}}\n\n",
        "data: {\"usage\":{\"completion_tokens\":0}}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],"
        "\"usage\":{\"completion_tokens\":2000000000}}\n\n",
    };
    tb_request r;
    feed_reads(&r, reads, N(reads));
    /* The stray lower usage is not a new base: the second event adds 0. */
    CHECK_INT_EQ(r.total_tokens, 2000000000);
    int64_t sum = 0;
    for (size_t k = 0; k < r.n_events; k++)
        sum += r.events[k].n_tokens;
    CHECK(sum == r.total_tokens);
    CHECK(r.total_tokens <= INT_MAX);
    request_clear(&r);
}

TEST(spread_by_bytes_each_event_at_least_one)
{
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\"aaaaaaaaaa\"}}]}\n\n", /* 10 bytes */
        "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",          /* 1 */
        "data: {\"choices\":[{\"delta\":{\"content\":\"ccccc\"}}]}\n\n",      /* 5 */
        "data: {\"choices\":[],\"usage\":{\"completion_tokens\":19}}\n\n",
    };
    tb_request r;
    feed_reads(&r, reads, N(reads));
    CHECK_INT_EQ(r.count_source, COUNT_FINAL_USAGE);
    CHECK_INT_EQ(r.total_tokens, 19);
    /* 3 + 16 extra: shares 10, 1, 5 of 16 -> exactly proportional. */
    CHECK_INT_EQ(r.events[0].n_tokens, 11);
    CHECK_INT_EQ(r.events[1].n_tokens, 2);
    CHECK_INT_EQ(r.events[2].n_tokens, 6);
    request_clear(&r);
}

TEST(one_per_event_estimate_and_reasoning)
{
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"reasoning\":\"so\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Paris\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    };
    tb_request r;
    feed_reads(&r, reads, N(reads));
    CHECK_INT_EQ(r.count_source, COUNT_ONE_PER_EVENT);
    CHECK_INT_EQ(r.total_tokens, 4);
    CHECK_INT_EQ(r.reasoning_tokens, 2);
    CHECK_INT_EQ(r.first_token_ns, 2000);
    CHECK_INT_EQ(r.first_content_ns, 2020);
    CHECK_INT_EQ(r.last_token_ns, 2030);
    CHECK_INT_EQ(r.events[3].kind, EV_TOOL);
    CHECK_STR_EQ(r.finish_reason, "stop");
    CHECK_STR_EQ(r.content, "Paris");
    request_clear(&r);
}

TEST(null_fields_are_tolerated)
{
    const char *reads[] = {
        "data: {\"id\":\"req-7\",\"choices\":null,\"usage\":null}\n\n",
        "data: {\"choices\":[{\"delta\":null}],\"usage\":null}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":null,\"reasoning_content\":null}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"token_ids\":null}]}\n\n",
        "data: {\"choices\":[{}]}\n\n",
        "data: {\"choices\":[]}\n\n",
    };
    tb_request r;
    CHECK_INT_EQ(feed_reads(&r, reads, N(reads)), 0);
    CHECK(r.error == NULL);
    CHECK_INT_EQ(r.total_tokens, 1);
    CHECK_INT_EQ(r.first_response_ns, 2010);
    CHECK_INT_EQ(r.first_token_ns, 2030);
    CHECK_STR_EQ(r.id, "req-7");
    CHECK_INT_EQ(r.prompt_tokens, -1);
    request_clear(&r);
}

TEST(error_event_fails_the_request)
{
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
        "data: {\"error\":{\"message\":\"context overflow\",\"code\":500}}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\n\n",
    };
    tb_request r;
    CHECK_INT_EQ(feed_reads(&r, reads, N(reads)), -1);
    CHECK(r.error != NULL && strstr(r.error, "context overflow") != NULL);
    request_clear(&r);

    const char *vllm[] = {"data: {\"object\":\"error\",\"message\":\"bad\",\"code\":400}\n\n"};
    feed_reads(&r, vllm, 1);
    CHECK(r.error != NULL && strstr(r.error, "bad") != NULL);
    request_clear(&r);
}

TEST(malformed_json_event_is_an_error_keepalive_data_is_not)
{
    const char *reads[] = {"data: ping\n\n", "data: {\"choices\":[{\"delta\":{\"cont\n\n"};
    tb_request r;
    CHECK_INT_EQ(feed_reads(&r, reads, 1), 0);
    CHECK(r.error == NULL);
    request_clear(&r);
    CHECK_INT_EQ(feed_reads(&r, reads, 2), -1);
    CHECK(r.error != NULL && strstr(r.error, "malformed") != NULL);
    request_clear(&r);
}

TEST(events_after_done_are_ignored)
{
    const char *reads[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\n\n",
    };
    tb_request r;
    feed_reads(&r, reads, N(reads));
    CHECK_INT_EQ(r.total_tokens, 1);
    request_clear(&r);
}

TEST(non_streaming_body)
{
    size_t len;
    char *body = test_read_fixture("fixtures/streams/llamacpp-chat-nonstream.body.json", &len);
    const char *fallback =
        "{\"choices\":[{\"finish_reason\":\"length\",\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"Paris is\"}}],\"usage\":{\"completion_tokens\":32,"
        "\"prompt_tokens\":24,\"total_tokens\":56}}";
    tb_request r;
    request_init(&r);
    /* Fed in two reads to prove the body is reassembled. */
    const char *b = body ? body : fallback;
    size_t n = body ? len : strlen(fallback);
    CHECK_INT_EQ(request_stream_feed(&r, b, n / 2, 100), 0);
    CHECK_INT_EQ(request_stream_feed(&r, b + n / 2, n - n / 2, 200), 0);
    request_stream_finish(&r, 300);
    CHECK(r.error == NULL);
    CHECK_INT_EQ(r.total_tokens, 32);
    CHECK_INT_EQ(r.count_source, COUNT_FINAL_USAGE);
    CHECK_INT_EQ(r.first_token_ns, 300);
    CHECK_INT_EQ(r.prompt_tokens, 24);
    CHECK_STR_EQ(r.finish_reason, "length");
    request_clear(&r);
    free(body);

    const char *err = "{\"error\":{\"code\":400,\"message\":\"the request exceeds the available "
                      "context size\",\"type\":\"exceed_context_size_error\"}}";
    request_init(&r);
    request_stream_feed(&r, err, strlen(err), 100);
    request_stream_finish(&r, 100);
    CHECK(r.error != NULL && strstr(r.error, "exceeds") != NULL);
    request_clear(&r);
}

TEST(oversize_line_is_an_error)
{
    tb_request r;
    request_init(&r);
    size_t big = (size_t)17 * 1024 * 1024;
    char *junk = malloc(big);
    memset(junk, 'a', big);
    memcpy(junk, "data: ", 6);
    int rc = 0;
    for (size_t off = 0; off < big && !rc; off += 1 << 20)
        rc = request_stream_feed(&r, junk + off, 1 << 20, 1);
    CHECK_INT_EQ(rc, -1);
    CHECK(r.error != NULL && strstr(r.error, "longer than") != NULL);
    request_stream_finish(&r, 2);
    request_clear(&r);
    free(junk);
}

/* Real captures: token counts equal usage.completion_tokens, for every
 * piece size of a read. */
TEST(real_captures_counts_equal_usage)
{
    struct {
        const char *path;
        int tokens;
        int source;
    } cases[] = {
        {"fixtures/streams/llamacpp-chat-stream-usage.body.sse", 48, COUNT_FINAL_USAGE},
        {"fixtures/streams/llamacpp-chat-stream-nousage.body.sse", 48, COUNT_ONE_PER_EVENT},
        {"fixtures/streams/llamacpp-chat-stream-timings-per-token.body.sse", 16,
         COUNT_FINAL_USAGE},
        {"fixtures/streams/llamacpp-chat-stream-sse-ping.body.sse", 8, COUNT_FINAL_USAGE},
    };
    for (size_t i = 0; i < N(cases); i++) {
        size_t len;
        char *s = test_read_fixture(cases[i].path, &len);
        CHECK(s != NULL);
        if (!s)
            continue;
        for (size_t piece = 1; piece <= 64; piece += 7) {
            tb_request r;
            request_init(&r);
            for (size_t off = 0; off < len; off += piece)
                request_stream_feed(&r, s + off, len - off < piece ? len - off : piece,
                                    (int64_t)off);
            request_stream_finish(&r, (int64_t)len);
            CHECK(r.error == NULL);
            CHECK_INT_EQ(r.total_tokens, cases[i].tokens);
            CHECK_INT_EQ(r.count_source, cases[i].source);
            CHECK(r.id != NULL && strncmp(r.id, "chatcmpl-", 9) == 0);
            CHECK(r.first_response_ns <= r.first_token_ns && r.first_token_ns > 0);
            if (cases[i].tokens == 16) {
                CHECK_DBL_NEAR(r.timings.predicted_n, 16, 0);
                CHECK_DBL_NEAR(r.timings.cache_n, 23, 0);
                CHECK_INT_EQ(r.cached_tokens, 23);
            }
            request_clear(&r);
        }
        free(s);
    }
}

/* Feeds the whole text split into reads of `step` bytes; finishes. */
static void feed_split(tb_request *r, const char *text, size_t step)
{
    request_init(r);
    r->start_ns = 1000;
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        if (request_stream_feed(r, text + i, n, 2000 + (int64_t)i))
            break;
    }
    request_stream_finish(r, 9000);
}

TEST(content_of_many_events_is_whole_and_grows_by_doubling)
{
    /* 3000 content events of 3 bytes each, split into reads of 7 bytes: the
     * text comes out whole, and the buffer doubles instead of growing by
     * each event's bytes (at most twice what it holds, at least 256). */
    buf body;
    buf_init(&body, 0);
    for (int i = 0; i < 3000; i++)
        buf_printf(&body, "data: {\"choices\":[{\"delta\":{\"content\":\"%03d\"}}]}\n\n", i % 1000);
    buf_append_str(&body, "data: [DONE]\n\n");
    tb_request r;
    feed_split(&r, body.data, 7);
    CHECK(r.error == NULL);
    CHECK_INT_EQ(r.n_events, 3000);
    CHECK_INT_EQ(r.total_tokens, 3000);
    CHECK_INT_EQ(r.content_len, 9000);
    CHECK(r.content != NULL && strlen(r.content) == 9000);
    CHECK(r.content != NULL && memcmp(r.content, "000001002", 9) == 0);
    CHECK(r.content != NULL && memcmp(r.content + 8991, "997998999", 9) == 0);
    CHECK(r.content_cap > r.content_len);
    CHECK(r.content_cap <= 2 * (r.content_len + 1));
    CHECK_INT_EQ(r.content_cap, 16384); /* 256 doubled six times */
    request_clear(&r);
    buf_free(&body);
}

TEST(malformed_event_names_its_byte_offset_under_any_split)
{
    /* The broken event starts at byte 104: 49 + 47 bytes of two events, 7 of
     * a comment line and 1 of the blank line after it (mixed line ends). */
    const char *text = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"
                       "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
                       ": ping\r"
                       "\r"
                       "data: {\"id\":\"x\",\"choi\n\n"
                       "data: [DONE]\n\n";
    const char *broken = strstr(text, "data: {\"id\"");
    char want[64];
    snprintf(want, sizeof want, "malformed event at byte %d:", (int)(broken - text));
    for (size_t step = 1; step <= strlen(text); step++) {
        tb_request r;
        feed_split(&r, text, step);
        if (!r.error || !strstr(r.error, want) || strcmp(r.error_kind, FAIL_MALFORMED) != 0)
            TEST_FAIL_AT_("step %zu: error '%s' kind '%s', want '%s'", step,
                          r.error ? r.error : "(none)", r.error_kind, want);
        request_clear(&r);
    }
    CHECK_INT_EQ(broken - text, 104);
}

TEST(stream_end_and_completeness)
{
    tb_request r;
    /* [DONE]: complete. */
    const char *done[] = {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                          "data: [DONE]\n\n"};
    feed_reads(&r, done, 1);
    CHECK_INT_EQ(r.stream_end, STREAM_END_DONE);
    CHECK_INT_EQ(request_check_complete(&r, 0), 0);
    CHECK(r.error == NULL);
    request_clear(&r);
    /* finish_reason but no [DONE] (older llama.cpp): complete; with no
     * usage the counts fall back to one per event (SPEC §2.4). */
    const char *fin[] = {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                         "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"};
    feed_reads(&r, fin, 1);
    CHECK_INT_EQ(r.stream_end, STREAM_END_FINISH);
    CHECK_INT_EQ(request_check_complete(&r, 0), 0);
    CHECK_INT_EQ(r.total_tokens, 1);
    CHECK_INT_EQ(r.count_source, COUNT_ONE_PER_EVENT);
    request_clear(&r);
    /* Events, then the end: cut after 2 tokens. */
    const char *cut[] = {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
                         "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"};
    feed_reads(&r, cut, 2);
    CHECK_INT_EQ(r.stream_end, STREAM_END_CUT);
    CHECK_INT_EQ(request_check_complete(&r, 0), -1);
    CHECK(r.error && strstr(r.error, "connection closed after 2 tokens"));
    CHECK_STR_EQ(r.error_kind, FAIL_CLOSED);
    request_clear(&r);
    /* The body ends inside an event: a cut, not a malformed event. */
    const char *mid[] = {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
                         "data: {\"choices\":[{\"del"};
    feed_reads(&r, mid, 2);
    CHECK(r.error && strstr(r.error, "connection closed after 1 tokens, in the middle of the "
                                     "event at byte 47"));
    CHECK_STR_EQ(r.error_kind, FAIL_CLOSED);
    request_clear(&r);
    /* Nothing at all: an empty answer, or a cut when the transport says so. */
    feed_reads(&r, NULL, 0);
    CHECK_INT_EQ(request_check_complete(&r, 0), -1);
    CHECK_STR_EQ(r.error_kind, FAIL_EMPTY);
    request_clear(&r);
    feed_reads(&r, NULL, 0);
    CHECK_INT_EQ(request_check_complete(&r, 1), -1);
    CHECK(r.error && strstr(r.error, "connection closed after 0 tokens"));
    request_clear(&r);
    /* A complete stream cut by the transport after its finish_reason. */
    feed_reads(&r, fin, 1);
    CHECK_INT_EQ(request_check_complete(&r, 1), -1);
    CHECK(r.error && strstr(r.error, "after the finish_reason"));
    request_clear(&r);
}

TEST(error_kinds)
{
    tb_request r;
    const char *ev[] = {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
                        "data: {\"error\":{\"code\":500,\"message\":\"out of memory\"}}\n\n"};
    feed_reads(&r, ev, 2);
    CHECK_STR_EQ(r.error_kind, FAIL_ERROR_EVENT);
    CHECK(r.error && strstr(r.error, "out of memory"));
    /* The first error stands: a later check does not replace it. */
    CHECK_INT_EQ(request_check_complete(&r, 1), -1);
    CHECK(r.error && strstr(r.error, "out of memory"));
    request_clear(&r);
    request_init(&r);
    request_set_error(&r, "x");
    CHECK_STR_EQ(r.error_kind, FAIL_OTHER);
    request_fail(&r, "http_429", "HTTP 429: slow down");
    CHECK_STR_EQ(r.error_kind, "http_429");
    CHECK_STR_EQ(r.error, "HTTP 429: slow down");
    request_clear(&r);
    CHECK_STR_EQ(r.error_kind, "");
}

int main(void)
{
    RUN(usage_spread_llama_benchy_vector);
    RUN(token_ids_win_over_usage);
    RUN(per_event_usage_deltas);
    RUN(absurd_usage_counts_clamp_instead_of_overflowing);
    RUN(spread_by_bytes_each_event_at_least_one);
    RUN(one_per_event_estimate_and_reasoning);
    RUN(null_fields_are_tolerated);
    RUN(error_event_fails_the_request);
    RUN(malformed_json_event_is_an_error_keepalive_data_is_not);
    RUN(events_after_done_are_ignored);
    RUN(non_streaming_body);
    RUN(oversize_line_is_an_error);
    RUN(real_captures_counts_equal_usage);
    RUN(malformed_event_names_its_byte_offset_under_any_split);
    RUN(content_of_many_events_is_whole_and_grows_by_doubling);
    RUN(stream_end_and_completeness);
    RUN(error_kinds);
    return test_summary();
}
