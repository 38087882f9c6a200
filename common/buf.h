/* A growable byte buffer with a hard cap, for anything fed by the network.
 * The contents are always NUL-terminated so they can be read as a C string. */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

typedef struct buf {
    char *data;     /* owned; NULL until the first append */
    size_t len;     /* bytes in use, not counting the terminating NUL */
    size_t cap;     /* bytes allocated */
    size_t max_len; /* appends beyond this fail with BUF_ERR_TOO_BIG; 0 = no cap */
} buf;

enum { BUF_OK = 0, BUF_ERR_TOO_BIG = -1 };

void buf_init(buf *b, size_t max_len);
void buf_free(buf *b);
void buf_reset(buf *b);
int buf_append(buf *b, const void *data, size_t len);
int buf_append_str(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s as the inside of a JSON string (quotes not added). */
int buf_append_json_escaped(buf *b, const char *s, size_t len);
/* Removes the first n bytes. */
void buf_consume(buf *b, size_t n);
/* Writes the contents to f, then one "\n" when newline is set.
 * Returns 0, or -1 when the write failed. */
int buf_write_file(const buf *b, FILE *f, int newline);
/* Hands the data to the caller (free with free()) and leaves b empty. */
char *buf_steal(buf *b);

#endif
