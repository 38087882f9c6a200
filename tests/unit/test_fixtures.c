/* Parser tests over every stream fixture (fixtures/streams, every NAME.body.sse and
 * NAME.body.json): the real llama.cpp captures and the recorded tokmock
 * personality streams go through the stream reader (client/request.h) under
 * several read splits. Whatever the split, the facts must not change: token
 * and event counts, count source, usage, error kind. Valid streams end with
 * no error and count exactly usage.completion_tokens where usage exists;
 * error bodies fail with the error kind the reader documents. A fixture
 * added later without an entry in the table below is still held to the
 * split-invariance and usage rules (and reported by name). */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/request.h"
#include "../../common/buf.h"
#include "../../common/xalloc.h"
#include "../fixture.h"
#include "../test.h"

static const char *fixture_dir(void)
{
    static const char *dirs[] = {"fixtures/streams", "../../fixtures/streams",
                                 "../fixtures/streams"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        DIR *d = opendir(dirs[i]);
        if (d) {
            closedir(d);
            return dirs[i];
        }
    }
    return NULL;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fixture file names (*.body.sse, *.body.json), sorted; *n set. */
static char **list_fixtures(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!has_suffix(e->d_name, ".body.sse") && !has_suffix(e->d_name, ".body.json"))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof *names, by_name);
    return names;
}

/* A small seeded generator for the random splits (xorshift64*), so a
 * failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* How the body is cut into reads. */
enum split_kind { SPLIT_WHOLE, SPLIT_ONE, SPLIT_SEVEN, SPLIT_RANDOM, SPLIT_LINES };
static const char *split_name(int k)
{
    static const char *names[] = {"whole", "1-byte", "7-byte", "random", "per-line"};
    return names[k];
}

/* Feeds text as reads of the given kind, read i arriving at t = 1000 + i ns
 * (only the order of times matters here), then finishes. */
static void feed(tb_request *r, const char *text, size_t len, int kind, uint64_t seed)
{
    request_init(r);
    r->start_ns = 500;
    uint64_t st = seed ? seed : 1;
    size_t off = 0;
    int64_t t = 1000;
    while (off < len) {
        size_t step;
        switch (kind) {
        case SPLIT_WHOLE: step = len; break;
        case SPLIT_ONE: step = 1; break;
        case SPLIT_SEVEN: step = 7; break;
        case SPLIT_RANDOM: step = 1 + (size_t)(rng_next(&st) % 97); break;
        default: {
            const char *nl = memchr(text + off, '\n', len - off);
            step = nl ? (size_t)(nl - (text + off)) + 1 : len - off;
        }
        }
        if (step > len - off)
            step = len - off;
        request_stream_feed(r, text + off, step, t++);
        off += step;
    }
    request_stream_finish(r, t + 1);
}

/* What one fixture must give. tokens/usage -2: not pinned (the generic rules
 * still apply); error_kind NULL: no error, and request_check_complete()
 * accepts the answer unless incomplete is set. */
typedef struct expect {
    const char *name;
    int tokens;
    int usage;            /* usage.completion_tokens, -1 absent */
    int source;           /* enum count_source, -1 not pinned */
    int token_events;     /* events that carried tokens, -1 not pinned */
    const char *error_kind;
    const char *error_has; /* a phrase of the error message, NULL: not pinned */
    int incomplete;       /* 1: no completion inside (request_check_complete fails) */
    int reasoning;        /* tokens on reasoning events (0 unless set) */
    int usage_differs;    /* 1: the usage total disagrees with the counted tokens */
} expect;

/* For the entries below that name their fields. */
#define STREAM_OK(file, tok, use, src, tev) \
    .name = (file), .tokens = (tok), .usage = (use), .source = (src), .token_events = (tev)

static const expect EXPECT[] = {
    /* Error bodies: the server's message becomes the request's error. */
    {"llamacpp-chat-bad-json.body.json", 0, -1, COUNT_NONE, 0, FAIL_ERROR_EVENT, "parse error",
     1, 0, 0},
    {"llamacpp-chat-no-messages.body.json", 0, -1, COUNT_NONE, 0, FAIL_ERROR_EVENT,
     "'messages' is required", 1, 0, 0},
    {"llamacpp-not-found.body.json", 0, -1, COUNT_NONE, 0, FAIL_ERROR_EVENT, "File Not Found",
     1, 0, 0},
    /* The 400 for a too-long prompt is plain JSON even to a streaming request. */
    {"llamacpp-overctx-9k-stream.body.sse", 0, -1, COUNT_NONE, 0, FAIL_ERROR_EVENT,
     "exceeds the available context size", 1, 0, 0},
    /* Not a completion at all: no error from the reader, but no completion. */
    {"llamacpp-v1-models.body.json", 0, -1, COUNT_NONE, 0, NULL, NULL, 1, 0, 0},
    /* Non-streaming bodies: one event holding everything. */
    {"llamacpp-chat-nonstream.body.json", 32, 32, COUNT_FINAL_USAGE, 1, NULL, NULL, 0, 0, 0},
    {"llamacpp-completions-nonstream.body.json", 16, 16, COUNT_FINAL_USAGE, 1, NULL, NULL, 0, 0, 0},
    /* Streams. */
    {"llamacpp-chat-stream-usage.body.sse", 48, 48, COUNT_FINAL_USAGE, 48, NULL, NULL, 0, 0, 0},
    {"llamacpp-chat-stream-nousage.body.sse", 48, -1, COUNT_ONE_PER_EVENT, 48, NULL, NULL, 0, 0, 0},
    {"llamacpp-chat-stream-timings-per-token.body.sse", 16, 16, COUNT_FINAL_USAGE, 16, NULL,
     NULL, 0, 0, 0},
    {"llamacpp-chat-stream-sse-ping.body.sse", 8, 8, COUNT_FINAL_USAGE, 8, NULL, NULL, 0, 0, 0},
    /* A stop string: usage counts the unsent stop token (3 tokens, 2 events);
     * without token_ids the usage total wins and is spread over the events. */
    {"llamacpp-chat-stream-stop.body.sse", 3, 3, COUNT_FINAL_USAGE, 2, NULL, NULL, 0, 0, 0},
    /* /v1/completions: no role chunk. */
    {"llamacpp-completions-stream-usage.body.sse", 16, 16, COUNT_FINAL_USAGE, 16, NULL, NULL,
     0, 0, 0},
    {"llamacpp-tiny-chat-stream-usage.body.sse", 48, 48, COUNT_FINAL_USAGE, 48, NULL, NULL, 0, 0, 0},
    /* The recorded personalities: 6 tokens, one per event. */
    {"tokmock-llamacpp-chat-stream-usage.body.sse", 6, 6, COUNT_FINAL_USAGE, 6, NULL, NULL, 0, 0, 0},
    {"tokmock-vllm-chat-stream-usage.body.sse", 6, 6, COUNT_FINAL_USAGE, 6, NULL, NULL, 0, 0, 0},
    {"tokmock-sglang-chat-stream-usage.body.sse", 6, 6, COUNT_FINAL_USAGE, 6, NULL, NULL, 0, 0, 0},
    {"tokmock-openai-chat-stream-usage.body.sse", 6, 6, COUNT_FINAL_USAGE, 6, NULL, NULL, 0, 0, 0},
    {"tokmock-ollama-chat-stream-usage.body.sse", 6, 6, COUNT_FINAL_USAGE, 6, NULL, NULL, 0, 0, 0},
    /* Recorded for the regression scenarios (tests/integration/test_regressions.py). */
    /* MTP steps of 3 tokens in one event: token_ids give 1 + 3 + 3. */
    {STREAM_OK("tokmock-vllm-mtp3-token-ids.body.sse", 7, 7, COUNT_TOKEN_IDS, 3)},
    /* Every token is reasoning (vLLM reasoning_content, Ollama reasoning). */
    {STREAM_OK("tokmock-vllm-reasoning-only.body.sse", 4, 4, COUNT_TOKEN_IDS, 4),
     .reasoning = 4},
    {STREAM_OK("tokmock-ollama-reasoning-only.body.sse", 4, 4, COUNT_FINAL_USAGE, 4),
     .reasoning = 4},
    /* A role-only event written at admission, before the first token. */
    {STREAM_OK("tokmock-vllm-early-role.body.sse", 3, 3, COUNT_TOKEN_IDS, 3)},
    /* Usage says 5 while 4 token ids came: token_ids come first. */
    {STREAM_OK("tokmock-vllm-usage-disagrees.body.sse", 4, 5, COUNT_TOKEN_IDS, 4),
     .usage_differs = 1},
    /* "usage": null on every chunk and no totals: one token per event. */
    {STREAM_OK("tokmock-sglang-usage-null.body.sse", 4, -1, COUNT_ONE_PER_EVENT, 4)},
};
#define N_EXPECT (sizeof EXPECT / sizeof EXPECT[0])

static const expect *find_expect(const char *name)
{
    for (size_t i = 0; i < N_EXPECT; i++)
        if (strcmp(EXPECT[i].name, name) == 0)
            return &EXPECT[i];
    return NULL;
}

static int token_events(const tb_request *r)
{
    int n = 0;
    for (size_t i = 0; i < r->n_events; i++)
        n += r->events[i].kind != EV_ROLE_ONLY && r->events[i].kind != EV_OTHER;
    return n;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Everything the reader derives that must not depend on how the bytes were
 * cut (times and the early-role flag do depend on it, by design). NULL when
 * equal, else the first field that differs. */
static const char *split_difference(const tb_request *a, const tb_request *b)
{
    if (a->total_tokens != b->total_tokens)
        return "total_tokens";
    if (a->completion_tokens != b->completion_tokens)
        return "usage completion_tokens";
    if (a->prompt_tokens != b->prompt_tokens || a->cached_tokens != b->cached_tokens)
        return "prompt/cached tokens";
    if (a->count_source != b->count_source)
        return "count_source";
    if (a->reasoning_tokens != b->reasoning_tokens)
        return "reasoning_tokens";
    if (a->n_events != b->n_events)
        return "n_events";
    for (size_t i = 0; i < a->n_events; i++)
        if (a->events[i].n_tokens != b->events[i].n_tokens ||
            a->events[i].kind != b->events[i].kind ||
            a->events[i].text_bytes != b->events[i].text_bytes ||
            a->events[i].ids != b->events[i].ids ||
            a->events[i].usage_completion != b->events[i].usage_completion)
            return "an event's tokens/kind/bytes";
    if (a->stream_end != b->stream_end)
        return "stream_end";
    if (strcmp(a->error_kind, b->error_kind) != 0 || !same_str(a->error, b->error))
        return "error";
    if (!same_str(a->finish_reason, b->finish_reason) || !same_str(a->id, b->id) ||
        !same_str(a->model, b->model))
        return "finish_reason/id/model";
    if (a->content_len != b->content_len ||
        (a->content_len && memcmp(a->content, b->content, a->content_len) != 0))
        return "content";
    if (a->timings.predicted_n != b->timings.predicted_n ||
        a->timings.prompt_n != b->timings.prompt_n || a->timings.cache_n != b->timings.cache_n)
        return "timings";
    return NULL;
}

/* Checks one fixture under every split against the whole-body reading and
 * against its expectation (or the generic rules). */
static void check_fixture(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    char *s = test_read_file(path, &len);
    if (!s) {
        TEST_FAIL_AT_("%s: cannot read", path);
        return;
    }
    const expect *e = find_expect(name);
    tb_request whole;
    feed(&whole, s, len, SPLIT_WHOLE, 0);

    for (int kind = SPLIT_ONE; kind <= SPLIT_LINES; kind++) {
        int seeds = kind == SPLIT_RANDOM ? 5 : 1;
        for (int k = 0; k < seeds; k++) {
            tb_request r;
            feed(&r, s, len, kind, 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
            const char *diff = split_difference(&whole, &r);
            if (diff)
                TEST_FAIL_AT_("%s: %s split (seed %d) changes %s (tokens %d vs %d, error "
                              "'%s' vs '%s')",
                              name, split_name(kind), k, diff, whole.total_tokens,
                              r.total_tokens, whole.error ? whole.error : "-",
                              r.error ? r.error : "-");
            /* Order facts hold under every split. */
            if (r.first_token_ns && (r.first_response_ns > r.first_token_ns ||
                                     r.first_token_ns > r.last_token_ns))
                TEST_FAIL_AT_("%s: %s split: first response %lld, first token %lld, last "
                              "token %lld out of order",
                              name, split_name(kind), (long long)r.first_response_ns,
                              (long long)r.first_token_ns, (long long)r.last_token_ns);
            /* One read per line: a role-only first event is in an earlier
             * read than the first token, so it is flagged early. */
            if (kind == SPLIT_LINES && r.n_events > 0 && !r.error) {
                int role_first = r.events[0].kind == EV_ROLE_ONLY;
                if (r.early_role_chunk != role_first)
                    TEST_FAIL_AT_("%s: per-line split: early_role_chunk %d, first event "
                                  "role-only %d",
                                  name, r.early_role_chunk, role_first);
            }
            request_clear(&r);
        }
    }

    /* A body read in one piece never has an early role chunk. */
    if (whole.early_role_chunk)
        TEST_FAIL_AT_("%s: early role chunk flagged for a single read", name);
    int complete = request_check_complete(&whole, 0);
    if (e) {
        if (e->tokens != -2 && whole.total_tokens != e->tokens)
            TEST_FAIL_AT_("%s: tokens expected %d, measured %d", name, e->tokens,
                          whole.total_tokens);
        if (e->usage != -2 && whole.completion_tokens != e->usage)
            TEST_FAIL_AT_("%s: usage expected %d, measured %d", name, e->usage,
                          whole.completion_tokens);
        if (e->source >= 0 && (int)whole.count_source != e->source)
            TEST_FAIL_AT_("%s: count source expected %s, measured %s", name,
                          count_source_name(e->source), count_source_name(whole.count_source));
        if (e->token_events >= 0 && token_events(&whole) != e->token_events)
            TEST_FAIL_AT_("%s: token events expected %d, measured %d", name, e->token_events,
                          token_events(&whole));
        if (whole.reasoning_tokens != e->reasoning)
            TEST_FAIL_AT_("%s: reasoning tokens expected %d, measured %d", name, e->reasoning,
                          whole.reasoning_tokens);
        if (e->reasoning && e->reasoning == e->tokens &&
            (whole.content_len || whole.first_content_ns))
            TEST_FAIL_AT_("%s: reasoning-only stream has content", name);
        if (e->error_kind) {
            if (strcmp(whole.error_kind, e->error_kind) != 0 || !whole.error ||
                (e->error_has && !strstr(whole.error, e->error_has)))
                TEST_FAIL_AT_("%s: error expected %s containing '%s', measured %s '%s'", name,
                              e->error_kind, e->error_has ? e->error_has : "",
                              whole.error_kind, whole.error ? whole.error : "(none)");
        } else if (e->incomplete) {
            if (complete != -1 || strcmp(whole.error_kind, FAIL_EMPTY) != 0)
                TEST_FAIL_AT_("%s: expected an %s failure, measured '%s'", name, FAIL_EMPTY,
                              whole.error_kind);
        } else if (complete != 0 || whole.error) {
            TEST_FAIL_AT_("%s: valid answer failed: %s", name, whole.error);
        }
    } else {
        printf("# %s: no entry in tests/unit/test_fixtures.c; generic rules only\n", name);
    }
    /* Generic: a valid answer with usage counts exactly the usage total
     * (unless the fixture is there to make them disagree). */
    if (!whole.error && whole.completion_tokens >= 0 && !(e && e->usage_differs) &&
        whole.total_tokens != whole.completion_tokens)
        TEST_FAIL_AT_("%s: counted %d tokens, usage says %d", name, whole.total_tokens,
                      whole.completion_tokens);
    if (!whole.error && whole.total_tokens > 0 && !whole.id)
        TEST_FAIL_AT_("%s: no chunk id read", name);
    request_clear(&whole);
    free(s);
}

static const char *g_dir;

TEST(fixture_directory_holds_every_expected_fixture)
{
    CHECK(g_dir != NULL);
    if (!g_dir)
        return;
    size_t n = 0;
    char **names = list_fixtures(g_dir, &n);
    for (size_t i = 0; i < N_EXPECT; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++)
            found |= strcmp(names[j], EXPECT[i].name) == 0;
        if (!found)
            TEST_FAIL_AT_("fixture %s is listed here but missing from %s", EXPECT[i].name,
                          g_dir);
    }
    for (size_t j = 0; j < n; j++)
        free(names[j]);
    free(names);
}

TEST(random_split_is_reproducible_and_covers_small_pieces)
{
    uint64_t a = 42, b = 42;
    int small = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t x = rng_next(&a), y = rng_next(&b);
        CHECK(x == y);
        small += (1 + x % 97) <= 3;
    }
    CHECK(small > 0);
}

int main(void)
{
    g_dir = fixture_dir();
    RUN(fixture_directory_holds_every_expected_fixture);
    RUN(random_split_is_reproducible_and_covers_small_pieces);
    size_t n = 0;
    char **names = g_dir ? list_fixtures(g_dir, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        /* One PASS/FAIL line per fixture, named after the file. */
        int before = test_failed_checks;
        check_fixture(g_dir, names[i]);
        char label[256];
        snprintf(label, sizeof label, "%s", names[i]);
        for (char *p = label; *p; p++)
            if (*p == '-' || *p == '.')
                *p = '_';
        if (test_failed_checks == before) {
            printf("PASS fixture_%s\n", label);
            test_passed_count++;
        } else {
            printf("FAIL fixture_%s\n", label);
            test_failed_count++;
        }
        fflush(stdout);
        free(names[i]);
    }
    free(names);
    return test_summary();
}
