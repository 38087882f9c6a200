#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void buf_init(buf *b, size_t max_len)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(buf *b, size_t extra)
{
    if (b->max_len && (extra > b->max_len || b->len > b->max_len - extra))
        return BUF_ERR_TOO_BIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return BUF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return BUF_OK;
}

int buf_append(buf *b, const void *data, size_t len)
{
    if (reserve(b, len))
        return BUF_ERR_TOO_BIG;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return BUF_OK;
}

int buf_append_str(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return BUF_ERR_TOO_BIG;
    if (reserve(b, (size_t)n))
        return BUF_ERR_TOO_BIG;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BUF_OK;
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_append_json_escaped(buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        const char *out = NULL;
        size_t out_len = 0;
        switch (c) {
        case '"': out = "\\\""; out_len = 2; break;
        case '\\': out = "\\\\"; out_len = 2; break;
        case '\n': out = "\\n"; out_len = 2; break;
        case '\r': out = "\\r"; out_len = 2; break;
        case '\t': out = "\\t"; out_len = 2; break;
        default:
            if (c < 0x20) {
                esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
                esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; esc[6] = '\0';
                out = esc;
                out_len = 6;
            }
        }
        int rc = out ? buf_append(b, out, out_len) : buf_append(b, &s[i], 1);
        if (rc)
            return rc;
    }
    return BUF_OK;
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

int buf_write_file(const buf *b, FILE *f, int newline)
{
    int ok = b->len == 0 || fwrite(b->data, 1, b->len, f) == b->len;
    if (ok && newline)
        ok = fputc('\n', f) != EOF;
    return ok && !ferror(f) ? 0 : -1;
}

char *buf_steal(buf *b)
{
    char *p = b->data;
    if (!p)
        p = xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
