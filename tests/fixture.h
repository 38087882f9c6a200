/* Reading fixture files from unit tests: one copy of the loop every test
 * that compares against a file needs. */
#ifndef TESTS_FIXTURE_H
#define TESTS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

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

#endif
