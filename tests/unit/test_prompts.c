/* Prompt slices without a server (calibrated source): seeded, reproducible,
 * contiguous context + prompt, sized by the bytes-per-token ratio, unique
 * nonces with --no-cache. */
#include <stdlib.h>

#include "client/prompts.h"
#include "common/log.h"
#include "tests/test.h"

static corpus book;

static void make(uint64_t seed, int ctx, int pp, bool no_cache, buf *c, buf *p, bool *wrapped)
{
    prompts *pr = prompts_new(&book, NULL, "http://unused/v1", "m", seed);
    prompts_set_calibrated(pr, 4.0);
    char err[256];
    CHECK_INT_EQ(prompts_make(pr, ctx, pp, no_cache, c, p, wrapped, err, sizeof err), 0);
    prompts_free(pr);
}

TEST(seeded_and_reproducible)
{
    buf c1, p1, c2, p2, c3, p3;
    buf_init(&c1, 0), buf_init(&p1, 0), buf_init(&c2, 0), buf_init(&p2, 0);
    buf_init(&c3, 0), buf_init(&p3, 0);
    bool w;
    make(7, 100, 50, false, &c1, &p1, &w);
    make(7, 100, 50, false, &c2, &p2, &w);
    make(8, 100, 50, false, &c3, &p3, &w);
    CHECK_STR_EQ(c1.data, c2.data);
    CHECK_STR_EQ(p1.data, p2.data);
    CHECK(strcmp(c1.data, c3.data) != 0);
    buf_free(&c1), buf_free(&p1), buf_free(&c2), buf_free(&p2), buf_free(&c3), buf_free(&p3);
}

TEST(context_then_prompt_is_one_slice)
{
    buf c, p;
    buf_init(&c, 0), buf_init(&p, 0);
    bool w = true;
    make(42, 256, 128, false, &c, &p, &w);
    CHECK(!w);
    CHECK(c.len >= 1020 && c.len <= 1024);
    CHECK(p.len >= 508 && p.len <= 512);
    const char *at = strstr(book.text, c.data);
    CHECK(at != NULL);
    if (at)
        CHECK(memcmp(at + c.len, p.data, p.len) == 0);
    buf_free(&c), buf_free(&p);
}

TEST(no_context_at_depth_zero_and_nonce_unique)
{
    prompts *pr = prompts_new(&book, NULL, "http://unused/v1", "m", 1);
    prompts_set_calibrated(pr, 4.0);
    buf c, p1, p2;
    buf_init(&c, 0), buf_init(&p1, 0), buf_init(&p2, 0);
    bool w;
    char err[256];
    CHECK_INT_EQ(prompts_make(pr, 0, 64, true, &c, &p1, &w, err, sizeof err), 0);
    CHECK_INT_EQ(c.len, 0);
    char *first = strdup(p1.data);
    CHECK_INT_EQ(prompts_make(pr, 0, 64, true, &c, &p2, &w, err, sizeof err), 0);
    /* " " + 16 hex digits at the end, different each time. */
    CHECK(p1.len > 17 && p1.data[p1.len - 17] == ' ');
    CHECK(strcmp(first + strlen(first) - 16, p2.data + p2.len - 16) != 0);
    free(first);
    buf_free(&c), buf_free(&p1), buf_free(&p2);
    prompts_free(pr);
}

TEST(depth_beyond_corpus_wraps)
{
    buf c, p;
    buf_init(&c, 0), buf_init(&p, 0);
    bool w = false;
    int tokens = (int)(book.len / 4) + 1000;
    make(3, tokens, 16, false, &c, &p, &w);
    CHECK(w);
    CHECK(c.len > book.len);
    CHECK(strstr(c.data, "[... the text starts again ...]") != NULL);
    buf_free(&c), buf_free(&p);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    char err[256];
    if (corpus_load(&book, NULL, err, sizeof err)) {
        printf("FAIL corpus_load: %s\n", err);
        return 1;
    }
    RUN(seeded_and_reproducible);
    RUN(context_then_prompt_is_one_slice);
    RUN(no_context_at_depth_zero_and_nonce_unique);
    RUN(depth_beyond_corpus_wraps);
    corpus_free(&book);
    return test_summary();
}
