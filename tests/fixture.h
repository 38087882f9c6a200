/* Reading fixture files from unit tests: one copy of the loop every test
 * that compares against a file needs. */
#ifndef TESTS_FIXTURE_H
#define TESTS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"

/* The whole file, NUL-terminated (an empty file gives ""), with its length
 * in *len when len is not NULL; NULL when it cannot be opened. Free with free(). */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    buf b;
    buf_init(&b, 0);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    if (len)
        *len = b.len;
    char *data = buf_steal(&b);
    return data ? data : calloc(1, 1);
}

/* A file named relative to the repository root: tests run from the root or
 * from tests/unit. */
static inline char *test_read_fixture(const char *rel, size_t *len)
{
    static const char *const prefixes[] = {"", "../../", "../"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s%s", prefixes[i], rel);
        char *data = test_read_file(path, len);
        if (data)
            return data;
    }
    return NULL;
}

/* Calls fn(ctx, json, len) for each event of an SSE body whose data is a
 * JSON object: data lines joined by "\n", a CR before LF dropped, one space
 * after "data:" dropped, leading spaces and newlines of the data skipped.
 * Comments, other fields and non-JSON data ("[DONE]") are passed over. */
static inline void test_each_sse_json(const char *body, size_t len,
                                      void (*fn)(void *ctx, const char *json, size_t len),
                                      void *ctx)
{
    buf data;
    buf_init(&data, 0);
    int lines = 0;
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && body[j] != '\n')
            j++;
        size_t n = j - i;
        if (n && body[i + n - 1] == '\r')
            n--;
        if (n == 0) { /* blank line (or the end): dispatch */
            size_t k = 0;
            while (k < data.len && (data.data[k] == ' ' || data.data[k] == '\n'))
                k++;
            if (lines && k < data.len && data.data[k] == '{')
                fn(ctx, data.data + k, data.len - k);
            data.len = 0;
            lines = 0;
        } else if (n >= 5 && memcmp(body + i, "data:", 5) == 0) {
            size_t skip = n > 5 && body[i + 5] == ' ' ? 6 : 5;
            if (lines++)
                buf_append(&data, "\n", 1);
            buf_append(&data, body + i + skip, n - skip);
        }
        i = j + 1;
    }
    buf_free(&data);
}

#endif
