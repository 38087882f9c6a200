/* Unit tests for client/sse: every split of real and synthetic streams gives
 * the same events; LF / CRLF / CR; field syntax; caps. */
#include <stdlib.h>
#include <string.h>

#include "../../client/sse.h"
#include "../../common/buf.h"
#include "../fixture.h"
#include "../test.h"

/* Events serialised as "type\x1fdata\x1e". */
static int collect(void *ctx, const char *type, const char *data, size_t len)
{
    buf *b = ctx;
    buf_append_str(b, type);
    buf_append(b, "\x1f", 1);
    buf_append(b, data, len);
    buf_append(b, "\x1e", 1);
    return 0;
}

/* Feeds s in pieces of `piece` bytes (0 = whole), or split once at `at`
 * when piece == (size_t)-1. Returns the serialised events (free()). */
static char *run(const char *s, size_t len, size_t piece, size_t at, int *rc_out)
{
    buf ev;
    buf_init(&ev, 0);
    buf_append(&ev, "", 0);
    sse_parser *p = sse_parser_new(0, collect, &ev);
    int rc = SSE_OK;
    if (piece == (size_t)-1) {
        rc = sse_parser_feed(p, s, at);
        if (!rc)
            rc = sse_parser_feed(p, s + at, len - at);
    } else if (piece == 0) {
        rc = sse_parser_feed(p, s, len);
    } else {
        for (size_t i = 0; i < len && !rc; i += piece)
            rc = sse_parser_feed(p, s + i, len - i < piece ? len - i : piece);
    }
    if (!rc)
        rc = sse_parser_finish(p);
    sse_parser_free(p);
    *rc_out = rc;
    return buf_steal(&ev);
}

static int count_events(const char *ser)
{
    int n = 0;
    for (; *ser; ser++)
        n += *ser == '\x1e';
    return n;
}

static void check_all_splits(const char *s, size_t len, size_t max_piece, int every_split)
{
    int rc;
    char *ref = run(s, len, 0, 0, &rc);
    CHECK_INT_EQ(rc, SSE_OK);
    int bad = 0;
    for (size_t piece = 1; piece <= max_piece && piece <= len; piece++) {
        char *got = run(s, len, piece, 0, &rc);
        if (rc != SSE_OK || strcmp(got, ref) != 0) {
            if (!bad++)
                TEST_FAIL_AT_("piece size %zu gives different events", piece);
        }
        free(got);
    }
    if (every_split) {
        for (size_t at = 0; at <= len; at++) {
            char *got = run(s, len, (size_t)-1, at, &rc);
            if (rc != SSE_OK || strcmp(got, ref) != 0) {
                if (!bad++)
                    TEST_FAIL_AT_("split at %zu gives different events", at);
            }
            free(got);
        }
    }
    free(ref);
}

/* Rewrites every "\n" of s as `eol`. */
static char *convert_eol(const char *s, size_t len, const char *eol, size_t *out_len)
{
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            buf_append_str(&b, eol);
        else
            buf_append(&b, s + i, 1);
    }
    *out_len = b.len;
    return buf_steal(&b);
}

static const char *const FIXTURES[] = {
    "fixtures/streams/llamacpp-chat-stream-usage.body.sse",
    "fixtures/streams/llamacpp-chat-stream-nousage.body.sse",
    "fixtures/streams/llamacpp-chat-stream-timings-per-token.body.sse",
    "fixtures/streams/llamacpp-chat-stream-sse-ping.body.sse",
};

TEST(real_llamacpp_captures_every_piece_size)
{
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
        size_t len;
        char *s = test_read_fixture(FIXTURES[i], &len);
        CHECK(s != NULL);
        if (!s)
            continue;
        check_all_splits(s, len, 97, 0);
        free(s);
    }
}

TEST(real_capture_every_split_point_and_line_ends)
{
    size_t len;
    char *s = test_read_fixture("fixtures/streams/llamacpp-chat-stream-sse-ping.body.sse", &len);
    CHECK(s != NULL);
    if (!s)
        return;
    int rc;
    char *ref = run(s, len, 0, 0, &rc);
    /* 1 role + 8 tokens + finish + usage + [DONE]; the ": ping" lines are comments. */
    CHECK_INT_EQ(count_events(ref), 12);
    check_all_splits(s, len, 40, 1);
    const char *eols[] = {"\r\n", "\r"};
    for (size_t e = 0; e < 2; e++) {
        size_t clen;
        char *conv = convert_eol(s, len, eols[e], &clen);
        char *got = run(conv, clen, 0, 0, &rc);
        CHECK_INT_EQ(rc, SSE_OK);
        CHECK_STR_EQ(got, ref);
        free(got);
        check_all_splits(conv, clen, 40, 1);
        free(conv);
    }
    free(ref);
    free(s);
}

TEST(field_syntax)
{
    const char *s = ": comment\n"
                    "event: delta\n"
                    "data:no-space\n"
                    "\n"
                    "data: line1\n"
                    "data:  two spaces\n"
                    "id: 7\n"
                    "retry: 10\n"
                    "unknown: x\n"
                    "\n"
                    "data\n"
                    "\n"
                    "\n"
                    "event: lonely\n"
                    "\n"
                    "data: [DONE]\n"
                    "\n";
    int rc;
    char *got = run(s, strlen(s), 0, 0, &rc);
    CHECK_INT_EQ(rc, SSE_OK);
    CHECK_STR_EQ(got, "delta\x1fno-space\x1e"
                      "\x1fline1\n two spaces\x1e"
                      "\x1f\x1e"
                      "\x1f[DONE]\x1e");
    free(got);
    check_all_splits(s, strlen(s), strlen(s), 1);
}

TEST(mixed_line_ends_and_trailing_event_without_blank_line)
{
    const char *s = "data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d";
    int rc;
    char *got = run(s, strlen(s), 0, 0, &rc);
    CHECK_INT_EQ(rc, SSE_OK);
    CHECK_STR_EQ(got, "\x1f" "a\x1e\x1f" "b\x1e\x1f" "c\x1e\x1f" "d\x1e");
    free(got);
    check_all_splits(s, strlen(s), strlen(s), 1);
}

TEST(cr_at_piece_end_then_lf_is_one_line_end)
{
    buf ev;
    buf_init(&ev, 0);
    sse_parser *p = sse_parser_new(0, collect, &ev);
    CHECK_INT_EQ(sse_parser_feed(p, "data: x\r", 8), SSE_OK);
    CHECK_INT_EQ(sse_parser_feed(p, "\n", 1), SSE_OK);
    CHECK(ev.len == 0); /* the LF paired with the CR: no blank line yet */
    CHECK_INT_EQ(sse_parser_feed(p, "\r\n", 2), SSE_OK);
    CHECK_STR_EQ(ev.data, "\x1fx\x1e");
    CHECK_INT_EQ(sse_parser_events(p), 1);
    sse_parser_free(p);
    buf_free(&ev);
}

TEST(line_over_cap_is_an_error_not_a_crash)
{
    buf ev;
    buf_init(&ev, 0);
    sse_parser *p = sse_parser_new(64, collect, &ev);
    char line[200];
    memset(line, 'x', sizeof line);
    memcpy(line, "data: ", 6);
    /* In one piece, without terminator, then with one. */
    CHECK_INT_EQ(sse_parser_feed(p, line, 50), SSE_OK);
    CHECK_INT_EQ(sse_parser_feed(p, line, 50), SSE_ERR_TOO_LONG);
    CHECK_INT_EQ(sse_parser_feed(p, "\n\n", 2), SSE_ERR_TOO_LONG);
    CHECK_INT_EQ(sse_parser_finish(p), SSE_ERR_TOO_LONG);
    sse_parser_free(p);

    p = sse_parser_new(64, collect, &ev);
    line[100] = '\n';
    CHECK_INT_EQ(sse_parser_feed(p, line, 101), SSE_ERR_TOO_LONG);
    sse_parser_free(p);

    /* Many short data lines that together exceed the cap. */
    p = sse_parser_new(64, collect, &ev);
    int rc = SSE_OK;
    for (int i = 0; i < 20 && rc == SSE_OK; i++)
        rc = sse_parser_feed(p, "data: 0123456789\n", 17);
    CHECK_INT_EQ(rc, SSE_ERR_TOO_LONG);
    CHECK(ev.len == 0);
    sse_parser_free(p);
    buf_free(&ev);
}

static int stop_after_first(void *ctx, const char *type, const char *data, size_t len)
{
    (void)type;
    (void)data;
    (void)len;
    int *n = ctx;
    return ++*n >= 1;
}

TEST(callback_can_stop_the_parser)
{
    int n = 0;
    sse_parser *p = sse_parser_new(0, stop_after_first, &n);
    CHECK_INT_EQ(sse_parser_feed(p, "data: 1\n\ndata: 2\n\n", 18), SSE_ERR_CALLBACK);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(sse_parser_feed(p, "data: 3\n\n", 9), SSE_ERR_CALLBACK);
    CHECK_INT_EQ(n, 1);
    sse_parser_free(p);
}

/* Event start offsets, "<offset>," per event, whatever the split. */
typedef struct offsets_ctx {
    sse_parser *p;
    buf out;
} offsets_ctx;

static int collect_offset(void *ctx, const char *type, const char *data, size_t len)
{
    (void)type;
    (void)data;
    (void)len;
    offsets_ctx *c = ctx;
    buf_printf(&c->out, "%lld,", sse_parser_event_offset(c->p));
    return 0;
}

static char *offsets_split_at(const char *s, size_t len, size_t at)
{
    offsets_ctx c;
    buf_init(&c.out, 0);
    buf_append(&c.out, "", 0);
    c.p = sse_parser_new(0, collect_offset, &c);
    CHECK_INT_EQ(sse_parser_event_offset(c.p), -1);
    CHECK_INT_EQ(sse_parser_feed(c.p, s, at), SSE_OK);
    CHECK_INT_EQ(sse_parser_feed(c.p, s + at, len - at), SSE_OK);
    CHECK_INT_EQ(sse_parser_finish(c.p), SSE_OK);
    sse_parser_free(c.p);
    return buf_steal(&c.out);
}

TEST(event_offset_is_its_first_field_line_under_every_split)
{
    /* Offsets by hand: a comment and the blank lines before an event do
     * not count, its "event:" / "id:" line does; the LF of a CRLF is not a
     * blank line; the last event ends with the stream. */
    const char *s = ": ping\n"              /* 0..6 */
                    "\n"                    /* 7 */
                    "data: a\n"             /* 8 */
                    "\n"                    /* 16 */
                    "\n"                    /* 17 */
                    ": c\n"                 /* 18..21 */
                    "event: e\r\n"          /* 22..31 */
                    "data: b\r\n"           /* 32..40 */
                    "\r\n"                  /* 41..42 */
                    "id: 1\r"               /* 43..48 */
                    "data: c\r"             /* 49..56 */
                    "\r"                    /* 57 */
                    "data: d";              /* 58.. */
    size_t len = strlen(s);
    for (size_t at = 0; at <= len; at++) {
        char *got = offsets_split_at(s, len, at);
        if (strcmp(got, "8,22,43,58,") != 0)
            TEST_FAIL_AT_("split at %zu: offsets %s, want 8,22,43,58,", at, got);
        free(got);
    }
}

static int count_only(void *ctx, const char *type, const char *data, size_t len)
{
    (void)type;
    (void)data;
    (void)len;
    ++*(size_t *)ctx;
    return 0;
}

TEST(cr_only_stream_in_one_piece_is_read_in_linear_time)
{
    /* 4 MiB of CR-only events in one feed: a line search that looked for
     * the next LF from every line would scan it 2^18 times (minutes); the
     * parser remembers that there is none. */
    size_t n = (size_t)1 << 18, len = n * 16;
    char *s = malloc(len);
    CHECK(s != NULL);
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * 16, "data: 01234567\r\r", 16); /* one event per 16 bytes */
    size_t events = 0;
    sse_parser *p = sse_parser_new(0, count_only, &events);
    CHECK_INT_EQ(sse_parser_feed(p, s, len), SSE_OK);
    CHECK_INT_EQ(sse_parser_finish(p), SSE_OK);
    CHECK_INT_EQ(events, n);
    sse_parser_free(p);
    free(s);
}

int main(void)
{
    RUN(real_llamacpp_captures_every_piece_size);
    RUN(real_capture_every_split_point_and_line_ends);
    RUN(field_syntax);
    RUN(mixed_line_ends_and_trailing_event_without_blank_line);
    RUN(cr_at_piece_end_then_lf_is_one_line_end);
    RUN(line_over_cap_is_an_error_not_a_crash);
    RUN(callback_can_stop_the_parser);
    RUN(event_offset_is_its_first_field_line_under_every_split);
    RUN(cr_only_stream_in_one_piece_is_read_in_linear_time);
    return test_summary();
}
