/* bench_chunk: the chunk decoder against the cJSON reference it replaced,
 * on real events. Reads the JSON events of the given files (every "data:"
 * event of a *.sse file whose data is an object, a *.json file whole),
 * checks that both decoders agree on each, then decodes the whole set
 * ROUNDS times with each decoder, in turns, REPEATS times, and prints the
 * best ns per event of each and their ratio (the best of several passes is
 * the least disturbed by other work on a shared machine).
 * Usage: bench_chunk [-r ROUNDS] [-n REPEATS] FILE...
 * Run by scripts/bench-chunk.sh. Exit 0, 1 when the decoders disagree, 2 on
 * bad usage or unreadable input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/chunk.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/xalloc.h"
#include "tests/chunk_ref.c"
#include "tests/fixture.h"

typedef struct event {
    char *json;
    size_t len;
} event;

typedef struct events {
    event *v;
    size_t n, cap, bytes;
} events;

static void add_event(events *e, const char *json, size_t len)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 256;
        e->v = xrealloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n].json = xstrndup(json, len);
    e->v[e->n].len = len;
    e->n++;
    e->bytes += len;
}

static void add_event_cb(void *ctx, const char *json, size_t len)
{
    add_event(ctx, json, len);
}

/* The data of each SSE event that is a JSON object (tests/fixture.h). */
static void add_sse(events *e, const char *body, size_t len)
{
    test_each_sse_json(body, len, add_event_cb, e);
}

typedef int (*parse_fn)(const char *, size_t, chunk_info *);
typedef void (*free_fn)(chunk_info *);

/* ns per event over rounds passes of the set; *sink keeps the work alive. */
static double time_decoder(const events *e, long rounds, parse_fn parse, free_fn release,
                           unsigned long *sink)
{
    int64_t t0 = clock_now_ns();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < e->n; i++) {
            chunk_info c;
            *sink += (unsigned long)parse(e->v[i].json, e->v[i].len, &c) + c.content_len +
                     (unsigned long)c.kind;
            release(&c);
        }
    }
    return (double)(clock_now_ns() - t0) / ((double)rounds * (double)e->n);
}

int main(int argc, char **argv)
{
    long rounds = 200, repeats = 5;
    int a = 1;
    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        if (strcmp(argv[a], "-r") == 0)
            rounds = strtol(argv[a + 1], NULL, 10);
        else if (strcmp(argv[a], "-n") == 0)
            repeats = strtol(argv[a + 1], NULL, 10);
        else
            break;
    }
    if (a >= argc || rounds < 1 || repeats < 1) {
        fprintf(stderr, "usage: bench_chunk [-r ROUNDS] [-n REPEATS] FILE...\n");
        return 2;
    }
    events e = {0};
    for (; a < argc; a++) {
        size_t len;
        char *body = test_read_file(argv[a], &len);
        if (!body) {
            fprintf(stderr, "bench_chunk: cannot read %s\n", argv[a]);
            return 2;
        }
        size_t n = strlen(argv[a]);
        if (n > 4 && strcmp(argv[a] + n - 4, ".sse") == 0)
            add_sse(&e, body, len);
        else
            add_event(&e, body, len);
        free(body);
    }
    if (e.n == 0) {
        fprintf(stderr, "bench_chunk: no JSON event in the files\n");
        return 2;
    }

    int disagree = 0;
    for (size_t i = 0; i < e.n; i++) {
        chunk_info c, ref;
        int rc = chunk_parse(e.v[i].json, e.v[i].len, &c);
        int ref_rc = chunk_ref_parse(e.v[i].json, e.v[i].len, &ref);
        const char *field = chunk_ref_diff(rc, &c, ref_rc, &ref);
        if (field) {
            fprintf(stderr, "bench_chunk: event %zu differs in %s: %.80s\n", i, field, e.v[i].json);
            disagree = 1;
        }
        chunk_info_free(&c);
        chunk_ref_free(&ref);
    }
    if (disagree)
        return 1;

    unsigned long sink = 0;
    double best_new = 0, best_ref = 0;
    for (long k = 0; k < repeats; k++) {
        double t_ref = time_decoder(&e, rounds, chunk_ref_parse, chunk_ref_free, &sink);
        double t_new = time_decoder(&e, rounds, chunk_parse, chunk_info_free, &sink);
        if (k == 0 || t_ref < best_ref)
            best_ref = t_ref;
        if (k == 0 || t_new < best_new)
            best_new = t_new;
    }
    printf("events %zu (mean %.0f bytes), %ld rounds x %ld repeats, best pass:\n", e.n,
           (double)e.bytes / (double)e.n, rounds, repeats);
    printf("  cJSON reference   %8.1f ns/event\n", best_ref);
    printf("  single-pass       %8.1f ns/event\n", best_new);
    printf("  ratio             %8.2fx  (reference / single-pass)\n", best_ref / best_new);
    printf("  (checksum %lu)\n", sink);
    for (size_t i = 0; i < e.n; i++)
        free(e.v[i].json);
    free(e.v);
    return 0;
}
