#include "sse.h"

#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/xalloc.h"

struct sse_parser {
    sse_event_fn fn;
    void *ctx;
    size_t max_bytes;
    buf line;        /* a partial line carried over between feeds */
    buf data;        /* the current event's data lines, joined by '\n' */
    buf type;        /* the current event's "event:" value */
    size_t data_lines;
    size_t events;
    size_t fed;      /* bytes fed by earlier calls: stream offsets of this call start here */
    long long line_start;  /* stream offset of the line carried in `line` */
    long long event_start; /* offset of the current event's first field line, -1 = none */
    int skip_lf;     /* the previous byte was a CR: a following LF is its pair */
    int err;
};

sse_parser *sse_parser_new(size_t max_bytes, sse_event_fn fn, void *ctx)
{
    sse_parser *p = xcalloc(1, sizeof *p);
    p->fn = fn;
    p->ctx = ctx;
    p->max_bytes = max_bytes ? max_bytes : SSE_DEFAULT_MAX_BYTES;
    p->event_start = -1;
    buf_init(&p->line, p->max_bytes);
    buf_init(&p->data, p->max_bytes);
    buf_init(&p->type, 256);
    return p;
}

void sse_parser_free(sse_parser *p)
{
    if (!p)
        return;
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->type);
    free(p);
}

size_t sse_parser_events(const sse_parser *p)
{
    return p->events;
}

long long sse_parser_event_offset(const sse_parser *p)
{
    return p->event_start;
}

/* Ends the current event (a blank line, or the end of the stream): hands it
 * to the callback when it had data. */
static int dispatch(sse_parser *p)
{
    if (p->data_lines == 0) {
        buf_reset(&p->type);
        p->event_start = -1;
        return SSE_OK;
    }
    p->events++;
    const char *type = p->type.data ? p->type.data : "";
    const char *data = p->data.data ? p->data.data : "";
    int rc = p->fn(p->ctx, type, data, p->data.len);
    buf_reset(&p->data);
    buf_reset(&p->type);
    p->data_lines = 0;
    p->event_start = -1;
    return rc ? SSE_ERR_CALLBACK : SSE_OK;
}

/* One complete line, without its terminator, that began at stream offset
 * line_off. */
static int process_line(sse_parser *p, const char *s, size_t n, long long line_off)
{
    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return SSE_OK; /* comment, e.g. a keep-alive ": ping" */
    if (p->event_start < 0)
        p->event_start = line_off;
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *value = colon ? colon + 1 : s + n;
    size_t value_len = colon ? n - name_len - 1 : 0;
    if (value_len && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp(s, "data", 4) == 0) {
        if (p->data_lines && buf_append(&p->data, "\n", 1))
            return SSE_ERR_TOO_LONG;
        if (buf_append(&p->data, value, value_len))
            return SSE_ERR_TOO_LONG;
        p->data_lines++;
    } else if (name_len == 5 && memcmp(s, "event", 5) == 0) {
        buf_reset(&p->type);
        if (buf_append(&p->type, value, value_len))
            return SSE_ERR_TOO_LONG;
    }
    /* "id", "retry" and unknown fields carry nothing we use. */
    return SSE_OK;
}

/* Lines are found with memchr rather than byte by byte: the next LF is
 * searched once and remembered, then a CR only before it, so a piece is
 * scanned about twice at memchr speed whatever its line ends (CR-only
 * streams included, in linear time). A line complete inside the piece is
 * read where it lies; only a line cut by the end of the piece is carried
 * over in a copy. */
int sse_parser_feed(sse_parser *p, const char *data, size_t len)
{
    if (p->err)
        return p->err;
    const char *s = data, *end = data + len;
    const char *lf = NULL; /* the first LF at or after s, or end; NULL = not searched */
    while (s < end) {
        if (p->skip_lf) {
            p->skip_lf = 0;
            if (*s == '\n') {
                s++;
                continue;
            }
        }
        if (!lf || lf < s) {
            lf = memchr(s, '\n', (size_t)(end - s));
            if (!lf)
                lf = end;
        }
        const char *cr = lf > s ? memchr(s, '\r', (size_t)(lf - s)) : NULL;
        const char *eol = cr ? cr : lf;
        long long off = (long long)(p->fed + (size_t)(s - data));
        if (eol == end) {
            /* No terminator in this piece: carry the start of the line. */
            if (!p->line.len)
                p->line_start = off;
            if (buf_append(&p->line, s, (size_t)(end - s)))
                return p->err = SSE_ERR_TOO_LONG;
            break;
        }
        int rc;
        if (p->line.len) {
            if (buf_append(&p->line, s, (size_t)(eol - s)))
                return p->err = SSE_ERR_TOO_LONG;
            rc = process_line(p, p->line.data, p->line.len, p->line_start);
            buf_reset(&p->line);
        } else {
            if ((size_t)(eol - s) > p->max_bytes)
                return p->err = SSE_ERR_TOO_LONG;
            rc = process_line(p, s, (size_t)(eol - s), off);
        }
        if (rc)
            return p->err = rc;
        if (*eol == '\r')
            p->skip_lf = 1;
        s = eol + 1;
    }
    p->fed += len;
    return SSE_OK;
}

int sse_parser_finish(sse_parser *p)
{
    if (p->err)
        return p->err;
    int rc = SSE_OK;
    if (p->line.len) {
        rc = process_line(p, p->line.data, p->line.len, p->line_start);
        buf_reset(&p->line);
    }
    if (!rc)
        rc = dispatch(p);
    if (rc)
        p->err = rc;
    return rc;
}
