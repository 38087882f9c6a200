/* The prompt corpus: the embedded book, file loading and cleaning, and
 * slices of the endless "book + marker" text. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "client/corpus.h"
#include "tests/test.h"

TEST(builtin_is_the_fixture)
{
    corpus c;
    char err[256];
    CHECK_INT_EQ(corpus_load(&c, NULL, err, sizeof err), 0);
    FILE *f = fopen("fixtures/sherlock-holmes.txt", "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        CHECK_INT_EQ(c.len, ftell(f));
        fclose(f);
    }
    CHECK(c.len > 500000);
    CHECK(strstr(c.name, "built-in") != NULL);
    corpus_free(&c);
    /* llama-benchy's default --book-url names the same book. */
    CHECK_INT_EQ(corpus_load(&c, "https://www.gutenberg.org/files/1661/1661-0.txt", err,
                             sizeof err),
                 0);
    CHECK(c.len > 500000);
    corpus_free(&c);
    CHECK_INT_EQ(corpus_load(&c, "https://example.com/book.txt", err, sizeof err), -1);
    CHECK(strstr(err, "local") != NULL);
    CHECK_INT_EQ(corpus_load(&c, "/nonexistent/book.txt", err, sizeof err), -1);
}

TEST(file_is_cleaned)
{
    char path[] = "/tmp/tokbench-corpus-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char text[] = "header junk\r\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\n"
                        "Line one\r\nLine two \xff\xfe bad bytes, and caf\xc3\xa9 is fine. "
                        "Padding padding padding padding padding padding.\r\n"
                        "*** END OF THE PROJECT GUTENBERG EBOOK X ***\r\nlicence";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    corpus c;
    char err[256];
    buf url;
    buf_init(&url, 0);
    buf_printf(&url, "file://%s", path);
    CHECK_INT_EQ(corpus_load(&c, url.data, err, sizeof err), 0);
    buf_free(&url);
    CHECK(strncmp(c.text, "Line one\nLine two ?? bad", 24) == 0);
    CHECK(strstr(c.text, "caf\xc3\xa9") != NULL);
    CHECK(strstr(c.text, "licence") == NULL);
    CHECK(strstr(c.text, "header") == NULL);
    CHECK(strchr(c.text, '\r') == NULL);
    corpus_free(&c);
    unlink(path);
}

TEST(slices_wrap_with_marker_and_keep_utf8)
{
    corpus c;
    char err[256];
    CHECK_INT_EQ(corpus_load(&c, NULL, err, sizeof err), 0);
    buf out;
    buf_init(&out, 0);
    bool wrapped = true;
    CHECK_INT_EQ(corpus_slice(&c, 100, 50, &out, &wrapped), 50);
    CHECK(!wrapped);
    CHECK(memcmp(out.data, c.text + 100, 50) == 0);
    buf_reset(&out);
    long n = corpus_slice(&c, c.len - 10, 100, &out, &wrapped);
    CHECK(wrapped);
    CHECK(n <= 100 && n >= 97);
    CHECK(strstr(out.data, "[... the text starts again ...]") != NULL);
    CHECK(memcmp(out.data, c.text + c.len - 10, 10) == 0);
    /* Every slice of the book starts and ends on code point boundaries. */
    const char *apos = strstr(c.text, "\xe2\x80\x99"); /* a 3-byte apostrophe */
    CHECK(apos != NULL);
    size_t at = (size_t)(apos - c.text);
    buf_reset(&out);
    n = corpus_slice(&c, at + 1, 10, &out, NULL);
    CHECK(((unsigned char)out.data[0] & 0xC0) != 0x80);
    buf_reset(&out);
    n = corpus_slice(&c, at - 3, 5, &out, NULL);
    CHECK_INT_EQ(n, 3); /* stops before the partial apostrophe */
    buf_free(&out);
    corpus_free(&c);
}

int main(void)
{
    RUN(builtin_is_the_fixture);
    RUN(file_is_cleaned);
    RUN(slices_wrap_with_marker_and_keep_utf8);
    return test_summary();
}
