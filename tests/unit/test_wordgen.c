/* Generated words: deterministic per seed, one token each, "Paris" first for
 * the coherence question. */
#include <string.h>

#include "mockserver/tokenizer.h"
#include "mockserver/wordgen.h"
#include "tests/test.h"

/* True when text[0..len) is exactly one token under the tokenizer. */
static int one_token(const char *text, size_t len)
{
    tok_span span;
    return tok_split(text, len, &span, 1) == 1 && span.start == 0 && span.len == len;
}

TEST(word_list_shape)
{
    size_t n = wordgen_word_count();
    CHECK(n >= 200);
    CHECK(wordgen_word(n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const char *w = wordgen_word(i);
        char spaced[WORDGEN_MAX];
        size_t len = strlen(w);
        if (len < 1 || len > 6) {
            TEST_FAIL_AT_("word %zu \"%s\" has %zu letters", i, w, len);
            continue;
        }
        for (size_t j = 0; j < len; j++)
            if (!((w[j] >= 'a' && w[j] <= 'z') || (w[j] >= 'A' && w[j] <= 'Z')))
                TEST_FAIL_AT_("word %zu \"%s\" is not ASCII letters", i, w);
        spaced[0] = ' ';
        memcpy(spaced + 1, w, len);
        if (!one_token(w, len) || !one_token(spaced, len + 1))
            TEST_FAIL_AT_("word \"%s\" is not one token", w);
        for (size_t k = 0; k < i; k++)
            if (strcmp(wordgen_word(k), w) == 0)
                TEST_FAIL_AT_("word \"%s\" listed twice", w);
    }
}

TEST(every_piece_one_token)
{
    wordgen g;
    char out[WORDGEN_MAX];
    size_t bad = 0;
    wordgen_init(&g, 99, 0);
    for (int i = 0; i < 20000; i++) {
        size_t len = wordgen_next(&g, out);
        CHECK_INT_EQ(strlen(out), len); /* NUL terminated */
        if (!one_token(out, len) && bad++ < 3)
            TEST_FAIL_AT_("piece %d \"%s\" is not one token", i, out);
        /* First piece without a leading space, every later one with it. */
        if ((i == 0) != (out[0] != ' ') && bad++ < 3)
            TEST_FAIL_AT_("piece %d \"%s\": wrong leading space", i, out);
    }
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(g.emitted, 20000);
}

TEST(text_and_token_count_agree)
{
    /* The concatenated text tokenizes back into exactly the emitted pieces. */
    wordgen g;
    char text[64 * WORDGEN_MAX];
    size_t len = 0;
    wordgen_init(&g, 5, 0);
    for (int i = 0; i < 64; i++)
        len += wordgen_next(&g, text + len);
    CHECK_INT_EQ(tok_count(text, len), 64);
}

TEST(deterministic_per_seed)
{
    wordgen a, b, c;
    int same_ab = 1, same_ac = 1;
    wordgen_init(&a, 1234, 0);
    wordgen_init(&b, 1234, 0);
    wordgen_init(&c, 1235, 0);
    for (int i = 0; i < 200; i++) {
        char wa[WORDGEN_MAX], wb[WORDGEN_MAX], wc[WORDGEN_MAX];
        wordgen_next(&a, wa);
        wordgen_next(&b, wb);
        wordgen_next(&c, wc);
        same_ab &= strcmp(wa, wb) == 0;
        same_ac &= strcmp(wa, wc) == 0;
    }
    CHECK(same_ab);
    CHECK(!same_ac);
}

TEST(words_vary)
{
    /* The draws use most of the list, not a handful of words. */
    wordgen g;
    static unsigned char seen[4096];
    size_t distinct = 0, n = wordgen_word_count();
    memset(seen, 0, sizeof seen);
    wordgen_init(&g, 3, 0);
    for (int i = 0; i < 20000; i++) {
        char out[WORDGEN_MAX];
        const char *w;
        wordgen_next(&g, out);
        w = out[0] == ' ' ? out + 1 : out;
        for (size_t k = 0; k < n && k < sizeof seen; k++)
            if (strcmp(wordgen_word(k), w) == 0) {
                distinct += !seen[k];
                seen[k] = 1;
                break;
            }
    }
    CHECK(distinct * 10 >= n * 9);
}

TEST(paris_first)
{
    wordgen g;
    char out[WORDGEN_MAX];
    wordgen_init(&g, 77, 1);
    CHECK_INT_EQ(wordgen_next(&g, out), 5);
    CHECK_STR_EQ(out, "Paris");
    wordgen_next(&g, out);
    CHECK(out[0] == ' ');
    CHECK(one_token(out, strlen(out)));
    /* Without the flag the first word is an ordinary draw. */
    wordgen_init(&g, 77, 0);
    wordgen_next(&g, out);
    CHECK(strcmp(out, "Paris") != 0);
}

int main(void)
{
    RUN(word_list_shape);
    RUN(every_piece_one_token);
    RUN(text_and_token_count_agree);
    RUN(deterministic_per_seed);
    RUN(words_vary);
    RUN(paris_first);
    return test_summary();
}
