/* Tokenizer: the SPEC §1.3 rule on hand-split cases, ids, and round trips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/prng.h"
#include "common/xalloc.h"
#include "mockserver/tokenizer.h"
#include "tests/test.h"

#define MAX_PIECES 16

/* One case: the text and its expected pieces, in order. */
typedef struct split_case {
    const char *name;
    const char *text;
    size_t len; /* 0 = strlen(text) */
    const char *pieces[MAX_PIECES];
} split_case;

static const split_case CASES[] = {
    {"empty", "", 0, {NULL}},
    {"one space", " ", 0, {" "}},
    {"two spaces", "  ", 0, {" ", " "}},
    {"word", "Hello", 0, {"Hello"}},
    {"leading space belongs to word", "Hello world", 0, {"Hello", " world"}},
    {"only one space joins", "Hello  world", 0, {"Hello", " ", " world"}},
    {"trailing space", "hi ", 0, {"hi", " "}},
    {"punctuation", "Hello, world!", 0, {"Hello", ",", " world", "!"}},
    {"space before punctuation", "a .b", 0, {"a", " ", ".", "b"}},
    {"digits are alnum", "abc123 42", 0, {"abc123", " 42"}},
    {"six letters", "abcdef", 0, {"abcdef"}},
    {"seven letters", "abcdefg", 0, {"abcdef", "g"}},
    {"six with space", " planet", 0, {" planet"}},
    {"seven with space", " planets", 0, {" planet", "s"}},
    {"thirteen letters", " international", 0, {" intern", "ationa", "l"}},
    {"tab and newline", "a\tb\nc", 0, {"a", "\t", "b", "\n", "c"}},
    {"newline then space word", "x\n y", 0, {"x", "\n", " y"}},
    {"crlf", "\r\n", 0, {"\r", "\n"}},
    {"two byte utf8", "caf\xc3\xa9", 0, {"caf", "\xc3\xa9"}},
    {"utf8 inside word", " na\xc3\xafve", 0, {" na", "\xc3\xaf", "ve"}},
    {"three byte utf8", "\xe6\x97\xa5\xe6\x9c\xac", 0, {"\xe6\x97\xa5", "\xe6\x9c\xac"}},
    {"four byte utf8", "\xf0\x9f\x98\x80!", 0, {"\xf0\x9f\x98\x80", "!"}},
    {"curly apostrophe", "don\xe2\x80\x99t", 0, {"don", "\xe2\x80\x99", "t"}},
    {"invalid byte", "\xff", 0, {"\xff"}},
    {"truncated sequence", "a\xc3", 0, {"a", "\xc3"}},
    {"truncated then ascii", "\xe2\x82x", 0, {"\xe2", "\x82", "x"}},
    {"overlong slash", "\xc0\xaf", 0, {"\xc0", "\xaf"}},
    {"surrogate", "\xed\xa0\x80", 0, {"\xed", "\xa0", "\x80"}},
    {"above U+10FFFF", "\xf4\x90\x80\x80", 0, {"\xf4", "\x90", "\x80", "\x80"}},
    {"NUL byte", "a\0b", 3, {"a", "\0", "b"}},
    {"special tokens",
     "<|im_start|>user\nHi<|im_end|>\n",
     0,
     {"<|im_start|>", "user", "\n", "Hi", "<|im_end|>", "\n"}},
    {"space before special", "a <|im_end|>", 0, {"a", " ", "<|im_end|>"}},
    {"partial special", "<|im_st", 0, {"<", "|", "im", "_", "st"}},
    {"specials back to back", "<|im_end|><|im_start|>", 0, {"<|im_end|>", "<|im_start|>"}},
};

static size_t case_len(const split_case *c)
{
    return c->len ? c->len : strlen(c->text);
}

static size_t n_pieces(const split_case *c)
{
    size_t n = 0;
    while (n < MAX_PIECES && c->pieces[n])
        n++;
    return n;
}

/* Length of expected piece i; the NUL-byte case has a one-byte "\0" piece. */
static size_t piece_len(const char *p)
{
    return *p ? strlen(p) : 1;
}

TEST(split_table)
{
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const split_case *c = &CASES[k];
        tok_span spans[MAX_PIECES + 4];
        size_t len = case_len(c);
        size_t want = n_pieces(c);
        size_t got = tok_split(c->text, len, spans, MAX_PIECES + 4);
        if (got != want) {
            TEST_FAIL_AT_("case \"%s\": %zu tokens, want %zu", c->name, got, want);
            continue;
        }
        CHECK_INT_EQ(tok_count(c->text, len), want);
        for (size_t i = 0; i < want; i++) {
            size_t plen = piece_len(c->pieces[i]);
            if (spans[i].len != plen ||
                memcmp(c->text + spans[i].start, c->pieces[i], plen) != 0)
                TEST_FAIL_AT_("case \"%s\": piece %zu is \"%.*s\", want \"%s\"", c->name, i,
                              (int)spans[i].len, c->text + spans[i].start, c->pieces[i]);
        }
    }
}

TEST(split_truncated_output)
{
    /* The total is reported even when fewer spans fit. */
    tok_span spans[2];
    CHECK_INT_EQ(tok_split("a b c d", 7, spans, 2), 4);
    CHECK_INT_EQ(spans[1].start, 1);
    CHECK_INT_EQ(spans[1].len, 2);
    CHECK_INT_EQ(tok_split("a b c d", 7, NULL, 0), 4);
}

TEST(special_ids)
{
    size_t n = 0;
    int64_t *ids = tok_encode("<|im_start|>x<|im_end|>", 23, &n);
    char piece[TOK_PIECE_MAX];
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(ids[0], TOK_ID_IM_START);
    CHECK_INT_EQ(ids[2], TOK_ID_IM_END);
    CHECK_INT_EQ(tok_piece(TOK_ID_IM_START, piece), 12);
    CHECK(memcmp(piece, "<|im_start|>", 12) == 0);
    CHECK_INT_EQ(tok_piece(TOK_ID_IM_END, piece), 10);
    CHECK(memcmp(piece, "<|im_end|>", 10) == 0);
    free(ids);
}

TEST(ids_distinct_and_invertible)
{
    /* Pieces that differ only by the leading space, by case, or by length
     * get different ids, and each id turns back into its bytes. */
    static const char *const pieces[] = {"a",  " a", "A",   "ab", " ab", "abcdef", " abcdef",
                                         "0",  "9",  " ",   "\n", ",",   "\xc3\xa9",
                                         "\xf0\x9f\x98\x80", "\xff", "\x80", "zzzzzz"};
    const size_t n = sizeof pieces / sizeof pieces[0];
    int64_t ids[sizeof pieces / sizeof pieces[0]];
    for (size_t i = 0; i < n; i++) {
        char out[TOK_PIECE_MAX];
        size_t len = strlen(pieces[i]);
        int got;
        ids[i] = tok_id(pieces[i], len);
        CHECK(ids[i] > 2);
        CHECK(ids[i] < (INT64_C(1) << 53));
        got = tok_piece(ids[i], out);
        if (got != (int)len || memcmp(out, pieces[i], len) != 0)
            TEST_FAIL_AT_("piece %zu: round trip gave %d bytes", i, got);
        for (size_t j = 0; j < i; j++)
            if (ids[i] == ids[j])
                TEST_FAIL_AT_("pieces %zu and %zu share id %lld", i, j, (long long)ids[i]);
    }
}

TEST(invalid_ids_rejected)
{
    char out[TOK_PIECE_MAX];
    static const int64_t bad[] = {
        -1, 0, 3, 0x100 + 'a',         /* raw ids exist only for bytes >= 0x80 */
        0x1000 + 'a',                  /* alnum is never a lone code point token */
        0x1000 + 0xD800,               /* surrogate */
        0x1000 + 0x110000,             /* past the code space */
        INT64_C(1) << 44,              /* word tag with no characters */
        (INT64_C(1) << 44) | ((int64_t)'a' << 7), /* gap before the first char */
        (INT64_C(1) << 44) | '-',      /* non-alnum in a word */
        INT64_C(1) << 52,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tok_piece(bad[i], out) != -1)
            TEST_FAIL_AT_("id %lld accepted", (long long)bad[i]);
}

/* Random text from fragments that exercise every branch of the rule. */
static size_t random_text(prng *r, char *out, size_t cap)
{
    static const char *const frags[] = {
        "a", "Z", "7", "word", "letters", "international", " ", "  ", "\n", "\t", ",",
        ".", "<", "|", "<|im_start|>", "<|im_end|>", "\xc3\xa9", "\xe2\x80\x99",
        "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "_", "'"};
    const size_t nf = sizeof frags / sizeof frags[0];
    size_t len = 0;
    size_t count = 1 + prng_below(r, 60);
    for (size_t i = 0; i < count; i++) {
        const char *f = frags[prng_below(r, nf)];
        size_t fl = strlen(f);
        if (len + fl > cap)
            break;
        memcpy(out + len, f, fl);
        len += fl;
    }
    return len;
}

TEST(round_trip_random)
{
    prng r;
    prng_seed(&r, 12345);
    for (int iter = 0; iter < 2000; iter++) {
        char text[1024], back[1024 + TOK_PIECE_MAX];
        size_t len = random_text(&r, text, sizeof text);
        size_t n = 0, back_len = 0;
        int64_t *ids = tok_encode(text, len, &n);
        int ok = 1;
        tok_span *spans = xmalloc((n ? n : 1) * sizeof *spans);
        CHECK_INT_EQ(tok_split(text, len, spans, n), n);
        for (size_t i = 0; i < n && ok; i++) {
            int pl = tok_piece(ids[i], back + back_len);
            if (pl < 0 || ids[i] >= (INT64_C(1) << 53)) {
                ok = 0;
                break;
            }
            /* Every piece re-encodes to the same id. */
            if (tok_id(text + spans[i].start, spans[i].len) != ids[i])
                ok = 0;
            back_len += (size_t)pl;
        }
        if (!ok || back_len != len || memcmp(back, text, len) != 0) {
            TEST_FAIL_AT_("iteration %d: round trip failed (%zu vs %zu bytes)", iter, back_len,
                          len);
            free(ids);
            free(spans);
            break;
        }
        free(ids);
        free(spans);
    }
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long size;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    data = xmalloc((size_t)size + 1);
    *len = fread(data, 1, (size_t)size, f);
    fclose(f);
    return data;
}

/* The book from the project root: the working directory, or three levels up
 * from this binary (BUILD/tests/unit/test_tokenizer). */
static char *read_book(size_t *len)
{
    static const char book[] = "fixtures/sherlock-holmes.txt";
    char exe[4096], path[4096 + sizeof book];
    ssize_t n;
    char *data = read_file(book, len);
    if (data)
        return data;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return NULL;
        *slash = '\0';
    }
    snprintf(path, sizeof path, "%s/%s", exe, book);
    return read_file(path, len);
}

TEST(chars_per_token_on_book)
{
    size_t len = 0, code_points = 0, tokens, n_ids = 0;
    char *book = read_book(&len);
    int64_t *ids;
    if (!book) {
        TEST_FAIL_AT_("fixtures/sherlock-holmes.txt not found (run from the project root)");
        return;
    }
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)book[i] & 0xC0) != 0x80)
            code_points++;
    tokens = tok_count(book, len);
    printf("  book: %zu bytes, %zu characters, %zu tokens: %.3f characters/token, "
           "%.3f bytes/token\n",
           len, code_points, tokens, (double)code_points / (double)tokens,
           (double)len / (double)tokens);
    /* English prose near 4 characters per token (the 6-letter cap and one
     * token per punctuation mark keep it a little under). */
    CHECK(tokens > 0);
    CHECK_DBL_NEAR((double)code_points / (double)tokens, 3.7, 0.4);
    ids = tok_encode(book, len, &n_ids);
    CHECK_INT_EQ(n_ids, tokens);
    free(ids);
    free(book);
}

int main(void)
{
    RUN(split_table);
    RUN(split_truncated_output);
    RUN(special_ids);
    RUN(ids_distinct_and_invertible);
    RUN(invalid_ids_rejected);
    RUN(round_trip_random);
    RUN(chars_per_token_on_book);
    return test_summary();
}
