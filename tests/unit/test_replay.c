/* The replay parser: the real llama.cpp captures' .lines.tsv rebuild their
 * .body.* byte for byte with the reads grouped by arrival time; a synthetic
 * tokbench record directory loads with its reads kept apart; malformed and
 * oversized inputs are refused with a message that says where. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "mockserver/replay.h"
#include "tests/fixture.h"
#include "tests/test.h"

static const char *root(void)
{
    static const char *prefixes[] = {"", "../../", "../"};
    for (size_t i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, "%sfixtures/streams/llamacpp-chat-stream-usage.lines.tsv",
                 prefixes[i]);
        if (access(p, R_OK) == 0)
            return prefixes[i];
    }
    return "";
}

/* Checks the structural promises: events tile the body in order, time never decreases. */
static int events_tile_body(const replay *r)
{
    size_t len, off = 0;
    replay_body(r, &len);
    int64_t t = 0;
    for (size_t i = 0; i < replay_n_events(r); i++) {
        const replay_event *e = replay_event_at(r, i);
        if (e->offset != off || e->len == 0 || e->t_us < t)
            return 0;
        off += e->len;
        t = e->t_us;
    }
    return off == len;
}

/* Loads NAME.lines.tsv and compares the rebuilt body with NAME.<body_ext>. */
static replay *load_capture(const char *name, const char *body_ext)
{
    char path[512], bpath[512], err[512];
    snprintf(path, sizeof path, "%sfixtures/streams/llamacpp-%s.lines.tsv", root(), name);
    snprintf(bpath, sizeof bpath, "%sfixtures/streams/llamacpp-%s.%s", root(), name, body_ext);
    replay *r = NULL;
    if (replay_load(&r, path, 0, err, sizeof err)) {
        printf("  %s\n", err);
        return NULL;
    }
    size_t want_len = 0, got_len = 0;
    char *want = test_read_file(bpath, &want_len);
    const char *got = replay_body(r, &got_len);
    CHECK(want != NULL);
    CHECK_INT_EQ(got_len, want_len);
    CHECK(want && got_len == want_len && memcmp(got, want, want_len) == 0);
    CHECK(events_tile_body(r));
    CHECK_INT_EQ(replay_format_of(r), REPLAY_LINES_TSV);
    free(want);
    return r;
}

TEST(capture_stream_usage_rebuilds_body_and_groups_reads)
{
    replay *r = load_capture("chat-stream-usage", "body.sse");
    CHECK(r != NULL);
    if (!r)
        return;
    /* The role chunk and the first token arrived in one read at 43.076 ms:
     * 279 + 1 + 268 + 1 bytes (lines and their newlines). */
    const replay_event *e0 = replay_event_at(r, 0);
    CHECK_INT_EQ(e0->t_us, 43076);
    CHECK_INT_EQ(e0->len, 279 + 1 + 268 + 1);
    const replay_event *last = replay_event_at(r, replay_n_events(r) - 1);
    CHECK_INT_EQ(last->t_us, 663568);
    CHECK_INT_EQ(last->len, strlen("data: [DONE]\n\n"));
    CHECK_INT_EQ(replay_status(r), 200);
    CHECK_STR_EQ(replay_reason(r), "OK");
    CHECK_STR_EQ(replay_header_get(r, "content-type"), "text/event-stream");
    CHECK_STR_EQ(replay_header_get(r, "Access-Control-Allow-Origin"), "");
    CHECK(replay_header_is_hop("transfer-encoding") && !replay_header_is_hop("Server"));
    size_t qlen = 0;
    const char *q = replay_request(r, &qlen);
    CHECK(q && strstr(q, "include_usage") != NULL);
    replay_free(r);
}

TEST(capture_tiny_model_many_events_per_read)
{
    replay *r = load_capture("tiny-chat-stream-usage", "body.sse");
    CHECK(r != NULL);
    if (!r)
        return;
    /* The first read carried three SSE events (six lines). */
    size_t len;
    const char *body = replay_body(r, &len);
    const replay_event *e0 = replay_event_at(r, 0);
    int events = 0;
    for (size_t i = 0; i + 1 < e0->len; i++)
        events += body[e0->offset + i] == '\n' && body[e0->offset + i + 1] == '\n';
    CHECK_INT_EQ(events, 3);
    replay_free(r);
}

TEST(capture_ping_and_error_captures)
{
    replay *r = load_capture("chat-stream-sse-ping", "body.sse");
    CHECK(r != NULL);
    if (r) {
        const replay_event *e0 = replay_event_at(r, 0);
        size_t len;
        const char *body = replay_body(r, &len);
        CHECK_INT_EQ(e0->len, 3);
        CHECK(memcmp(body, ":\n\n", 3) == 0);
        CHECK_INT_EQ(e0->t_us, 1034896);
        replay_free(r);
    }
    /* A streaming request answered with a plain JSON 400, no final newline. */
    r = load_capture("overctx-9k-stream", "body.sse");
    CHECK(r != NULL);
    if (r) {
        CHECK_INT_EQ(replay_status(r), 400);
        CHECK_STR_EQ(replay_reason(r), "Bad Request");
        CHECK_INT_EQ(replay_n_events(r), 1);
        CHECK_STR_EQ(replay_header_get(r, "Content-Type"), "application/json; charset=utf-8");
        replay_free(r);
    }
}

/* ------------------------------------------------------------ record directories */

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void remove_dir(const char *dir)
{
    const char *names[] = {"request.json", "response.headers", "response.body", "reads.tsv",
                           "meta.json", "x.lines.tsv", "other.txt"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static const char BODY[] = "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n";

TEST(record_directory_loads)
{
    char dir[] = "/tmp/tokmock-replay-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_file(dir, "request.json", "{\"stream\":true}", 15);
    const char *hdr = "HTTP/1.1 200 OK\nContent-Type: text/event-stream\nX-Thing:  spaced  \n\n";
    write_file(dir, "response.headers", hdr, strlen(hdr));
    write_file(dir, "response.body", BODY, sizeof BODY - 1);
    /* Two reads at the same microsecond stay two events. */
    const char *reads = "t_us\tnbytes\n1500\t15\n1500\t15\n99000\t14\n";
    write_file(dir, "reads.tsv", reads, strlen(reads));
    write_file(dir, "meta.json", "{}", 2);

    char err[512];
    replay *r = NULL;
    if (replay_load(&r, dir, 0, err, sizeof err))
        printf("  %s\n", err);
    CHECK(r != NULL);
    if (r) {
        CHECK_INT_EQ(replay_format_of(r), REPLAY_RECORD_DIR);
        CHECK_INT_EQ(replay_n_events(r), 3);
        CHECK_INT_EQ(replay_event_at(r, 1)->t_us, 1500);
        CHECK_INT_EQ(replay_event_at(r, 1)->offset, 15);
        CHECK_INT_EQ(replay_event_at(r, 2)->t_us, 99000);
        CHECK_STR_EQ(replay_header_get(r, "x-thing"), "spaced");
        CHECK_INT_EQ(replay_n_headers(r), 2);
        size_t qlen;
        CHECK_STR_EQ(replay_request(r, &qlen), "{\"stream\":true}");
        CHECK(events_tile_body(r));
        replay_free(r);
    }
    /* The same through the reads.tsv path. */
    char p[512];
    snprintf(p, sizeof p, "%s/reads.tsv", dir);
    CHECK_INT_EQ(replay_load(&r, p, 0, err, sizeof err), REPLAY_OK);
    if (r)
        CHECK_INT_EQ(replay_n_events(r), 3);
    replay_free(r);

    /* A body over the cap is refused before parsing. */
    r = (replay *)1;
    CHECK_INT_EQ(replay_load(&r, dir, 20, err, sizeof err), REPLAY_ERR);
    CHECK(r == NULL);
    CHECK(strstr(err, "limit") != NULL);

    /* Reads that do not cover the body. */
    write_file(dir, "reads.tsv", "t_us\tnbytes\n1\t15\n", 17);
    CHECK_INT_EQ(replay_load(&r, dir, 0, err, sizeof err), REPLAY_ERR);
    if (!strstr(err, "cover 15 of response.body's 44"))
        printf("  %s\n", err);
    CHECK(strstr(err, "cover 15 of response.body's 44") != NULL);
    remove_dir(dir);
}

TEST(record_directory_without_headers_is_200)
{
    char dir[] = "/tmp/tokmock-replay-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_file(dir, "response.body", BODY, sizeof BODY - 1);
    write_file(dir, "reads.tsv", "t_us\tnbytes\n0\t44", 16);
    char err[512];
    replay *r = NULL;
    CHECK_INT_EQ(replay_load(&r, dir, 0, err, sizeof err), REPLAY_OK);
    if (r) {
        CHECK_INT_EQ(replay_status(r), 200);
        CHECK_INT_EQ(replay_n_events(r), 1);
        size_t qlen;
        CHECK(replay_request(r, &qlen) == NULL);
    }
    replay_free(r);
    /* Not a record, not a capture. */
    write_file(dir, "other.txt", "hello\n", 6);
    char p[512];
    snprintf(p, sizeof p, "%s/other.txt", dir);
    CHECK_INT_EQ(replay_load(&r, p, 0, err, sizeof err), REPLAY_ERR);
    CHECK(strstr(err, "not a replay input") != NULL);
    unlink(p);
    snprintf(p, sizeof p, "%s/reads.tsv", dir);
    unlink(p);
    CHECK_INT_EQ(replay_load(&r, dir, 0, err, sizeof err), REPLAY_ERR);
    CHECK(strstr(err, "without reads.tsv") != NULL);
    CHECK_INT_EQ(replay_load(&r, "/nonexistent/tokmock/x.lines.tsv", 0, err, sizeof err),
                 REPLAY_ERR);
    CHECK(strstr(err, "No such file") != NULL);
    remove_dir(dir);
}

/* ------------------------------------------------------------ malformed input */

TEST(malformed_lines_tsv_rows_are_named)
{
    static const struct {
        const char *tsv;
        const char *headers;
        const char *want;
    } cases[] = {
        {"", NULL, "first line"},
        {"t_ms\tnbytes\n", NULL, "first line"},
        {"t_ms\tnbytes\tline_json\n1.0\t3\n", NULL, "row 2: expected three"},
        {"t_ms\tnbytes\tline_json\nx\t3\t\"ab\"\n", NULL, "row 2: t_ms and nbytes"},
        {"t_ms\tnbytes\tline_json\n-1\t3\t\"ab\"\n", NULL, "row 2: t_ms and nbytes"},
        {"t_ms\tnbytes\tline_json\n1\t9\t\"ab\"\n", NULL, "row 2: nbytes 9"},
        {"t_ms\tnbytes\tline_json\n1\t3\t{\"a\":1}\n", NULL, "row 2: the line is not a JSON"},
        {"t_ms\tnbytes\tline_json\n1\t3\t\"ab\n", NULL, "not a JSON string"},
        {"t_ms\tnbytes\tline_json\n2\t3\t\"ab\"\n1\t3\t\"ab\"\n", NULL, "row 3: time goes"},
        {"t_ms\tnbytes\tline_json\n1\t2\t\"ab\"\n2\t3\t\"ab\"\n", NULL, "row 3: a line follows"},
        {"t_ms\tnbytes\tline_json\n1\t3\t\"ab\"\n", "HTTP/1.1 2x0 OK\r\n", "bad status line"},
        {"t_ms\tnbytes\tline_json\n1\t3\t\"ab\"\n", "Server: x\r\n", "outside a response"},
        {"t_ms\tnbytes\tline_json\n1\t3\t\"ab\"\n", "HTTP/1.1 200 OK\r\nBad Header\r\n",
         "'Name: value'"},
        {"t_ms\tnbytes\tline_json\n1\t3\t\"ab\"\n", "\r\n", "no HTTP status"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        replay *r = (replay *)1;
        int rc = replay_parse_lines_tsv(&r, cases[i].tsv, strlen(cases[i].tsv), cases[i].headers,
                                        cases[i].headers ? strlen(cases[i].headers) : 0, 0, err,
                                        sizeof err);
        CHECK_INT_EQ(rc, REPLAY_ERR);
        CHECK(r == NULL);
        if (!strstr(err, cases[i].want))
            printf("  case %zu: '%s' lacks '%s'\n", i, err, cases[i].want);
        CHECK(strstr(err, cases[i].want) != NULL);
    }
}

TEST(malformed_reads_tsv_rows_are_named)
{
    static const struct {
        const char *reads;
        const char *want;
    } cases[] = {
        {"t_ms\tnbytes\n", "first line"},
        {"t_us\tnbytes\n5\n", "row 2: expected"},
        {"t_us\tnbytes\n5\t0\n", "row 2: expected"},
        {"t_us\tnbytes\n5\t1.5\n", "row 2: expected"},
        {"t_us\tnbytes\n9\t1\n8\t1\n", "row 3: time goes"},
        {"t_us\tnbytes\n1\t4\n2\t99\n", "row 3: the reads add up"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        replay *r = (replay *)1;
        int rc = replay_parse_record(&r, cases[i].reads, strlen(cases[i].reads), BODY,
                                     sizeof BODY - 1, NULL, 0, 0, err, sizeof err);
        CHECK_INT_EQ(rc, REPLAY_ERR);
        CHECK(r == NULL);
        if (!strstr(err, cases[i].want))
            printf("  case %zu: '%s' lacks '%s'\n", i, err, cases[i].want);
        CHECK(strstr(err, cases[i].want) != NULL);
    }
}

TEST(lines_tsv_body_cap)
{
    const char *tsv = "t_ms\tnbytes\tline_json\n1\t5\t\"abcd\"\n2\t5\t\"efgh\"\n";
    char err[256];
    replay *r = NULL;
    CHECK_INT_EQ(replay_parse_lines_tsv(&r, tsv, strlen(tsv), NULL, 0, 8, err, sizeof err),
                 REPLAY_ERR);
    CHECK(strstr(err, "row 3: the body exceeds 8 bytes") != NULL);
    CHECK_INT_EQ(replay_parse_lines_tsv(&r, tsv, strlen(tsv), NULL, 0, 10, err, sizeof err),
                 REPLAY_OK);
    if (r) {
        CHECK_INT_EQ(replay_n_events(r), 2);
        CHECK_INT_EQ(replay_event_at(r, 1)->t_us, 2000);
        size_t len;
        CHECK_STR_EQ(replay_body(r, &len), "abcd\nefgh\n");
        CHECK_INT_EQ(replay_status(r), 200);
    }
    replay_free(r);
}

int main(void)
{
    RUN(capture_stream_usage_rebuilds_body_and_groups_reads);
    RUN(capture_tiny_model_many_events_per_read);
    RUN(capture_ping_and_error_captures);
    RUN(record_directory_loads);
    RUN(record_directory_without_headers_is_200);
    RUN(malformed_lines_tsv_rows_are_named);
    RUN(malformed_reads_tsv_rows_are_named);
    RUN(lines_tsv_body_cap);
    return test_summary();
}
