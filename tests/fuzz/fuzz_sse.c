/* libFuzzer target: the SSE push parser (client/sse.h).
 *
 * Input: byte 0 picks the line/event cap (low 4 bits, 0 = the default) and
 * after how many events the callback asks to stop (high 4 bits, 0 = never);
 * bytes 1..4 are the split pattern; the rest is the stream. The stream is
 * parsed twice, whole and in pieces: the two runs must dispatch the same
 * events (type and data) and end with the same status. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/sse.h"
#include "common/prng.h"
#include "tests/fuzz/fuzz_util.h"

#define HEADER_BYTES 5

typedef struct sink {
    size_t events;
    size_t stop_after; /* 0 = never */
    uint64_t digest;   /* order-sensitive digest of every (type, data) */
} sink;

static int on_event(void *ctx, const char *type, const char *data, size_t len)
{
    sink *s = ctx;
    FUZZ_ASSERT(type != NULL && data != NULL);
    FUZZ_ASSERT(data[len] == '\0'); /* the contract: data is NUL-terminated */
    size_t type_len = strlen(type);
    uint64_t h[3] = {s->digest, hash_fnv1a64(type, type_len), hash_fnv1a64(data, len)};
    s->digest = hash_fnv1a64(h, sizeof h) ^ (uint64_t)len;
    s->events++;
    return s->stop_after && s->events >= s->stop_after;
}

static const size_t CAPS[16] = {0, 1, 2, 3, 5, 8, 13, 16, 31, 64, 100, 255, 256, 257, 1000, 4096};

/* Runs the parser over body; pattern NULL = one feed. Returns the first
 * non-OK status of feed/finish (or SSE_OK). */
static int run(const uint8_t *body, size_t len, size_t cap, const uint8_t *pattern,
               size_t n_pattern, sink *out)
{
    sse_parser *p = sse_parser_new(cap, on_event, out);
    int rc = SSE_OK;
    if (!pattern) {
        rc = sse_parser_feed(p, (const char *)body, len);
    } else {
        fuzz_splitter sp;
        fuzz_splitter_init(&sp, pattern, n_pattern);
        size_t off = 0;
        while (off < len && rc == SSE_OK) {
            size_t n = fuzz_next_piece(&sp, len - off);
            rc = sse_parser_feed(p, (const char *)body + off, n);
            off += n;
        }
    }
    int fin = sse_parser_finish(p);
    if (rc == SSE_OK)
        rc = fin;
    else
        FUZZ_ASSERT(fin == rc); /* an error is sticky */
    FUZZ_ASSERT(sse_parser_events(p) == out->events);
    sse_parser_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER_BYTES)
        return 0;
    size_t cap = CAPS[data[0] & 15];
    size_t stop_after = data[0] >> 4;
    const uint8_t *body = data + HEADER_BYTES;
    size_t len = size - HEADER_BYTES;

    sink whole = {0, stop_after, 0}, split = {0, stop_after, 0};
    int rc_whole = run(body, len, cap, NULL, 0, &whole);
    int rc_split = run(body, len, cap, data + 1, HEADER_BYTES - 1, &split);
    FUZZ_ASSERT(rc_whole == SSE_OK || rc_whole == SSE_ERR_TOO_LONG ||
                rc_whole == SSE_ERR_CALLBACK);
    FUZZ_ASSERT(rc_whole == rc_split);
    FUZZ_ASSERT(whole.events == split.events);
    FUZZ_ASSERT(whole.digest == split.digest);
    if (stop_after)
        FUZZ_ASSERT(whole.events <= stop_after);
    return 0;
}
