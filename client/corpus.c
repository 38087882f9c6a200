#include "client/corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

extern const char tb_corpus_start[];
extern const char tb_corpus_end[];

#define MARKER_LEN (sizeof CORPUS_WRAP_MARKER - 1)
#define MAX_BOOK_BYTES ((size_t)256 << 20)

/* Length of a valid UTF-8 sequence starting at s (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && s[1] < 0xA0)
        return 0; /* overlong */
    if (c == 0xED && s[1] > 0x9F)
        return 0; /* surrogate */
    if (c == 0xF0 && s[1] < 0x90)
        return 0;
    if (c == 0xF4 && s[1] > 0x8F)
        return 0;
    return len;
}

/* Copies text into a clean book: CRLF/CR become LF, invalid UTF-8 and NUL
 * bytes become '?', Project Gutenberg's header and licence are cut off. */
static char *clean_text(const char *text, size_t len, size_t *out_len)
{
    const char *start = text, *end = text + len;
    const char *mark = NULL;
    for (const char *p = text; p + 12 < end; p++)
        if (p[0] == '*' && strncmp(p, "*** START OF", 12) == 0) {
            mark = p;
            break;
        }
    if (mark) {
        const char *nl = memchr(mark, '\n', (size_t)(end - mark));
        start = nl ? nl + 1 : end;
    }
    for (const char *p = start; p + 10 < end; p++)
        if (p[0] == '*' && strncmp(p, "*** END OF", 10) == 0) {
            end = p;
            break;
        }
    char *out = xmalloc((size_t)(end - start) + 1);
    size_t n = 0;
    const unsigned char *s = (const unsigned char *)start;
    size_t remaining = (size_t)(end - start);
    while (remaining > 0) {
        if (s[0] == '\r') {
            out[n++] = '\n';
            size_t skip = (remaining > 1 && s[1] == '\n') ? 2 : 1;
            s += skip;
            remaining -= skip;
            continue;
        }
        size_t l = utf8_seq_len(s, remaining);
        if (l == 0) {
            out[n++] = '?';
            s++;
            remaining--;
            continue;
        }
        memcpy(out + n, s, l);
        n += l;
        s += l;
        remaining -= l;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static bool is_gutenberg_sherlock(const char *url)
{
    return (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
           strstr(url, "gutenberg.org") && strstr(url, "1661");
}

int corpus_load(corpus *c, const char *book_url, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (!book_url || is_gutenberg_sherlock(book_url)) {
        /* llama-benchy's default URL names this very book. */
        c->text = tb_corpus_start;
        c->len = (size_t)(tb_corpus_end - tb_corpus_start);
        snprintf(c->name, sizeof c->name, "built-in: The Adventures of Sherlock Holmes");
        return 0;
    }
    const char *path = book_url;
    if (strncmp(path, "file://", 7) == 0) {
        path += 7;
        if (strncmp(path, "localhost/", 10) == 0)
            path += 9;
    } else if (strstr(path, "://")) {
        snprintf(err, errlen,
                 "--book-url %s: only local paths and file:// URLs are supported (tokbench does "
                 "not download; the default book is built in)",
                 book_url);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "--book-url: cannot open %s", path);
        return -1;
    }
    buf raw;
    buf_init(&raw, MAX_BOOK_BYTES);
    char chunk[65536];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&raw, chunk, got)) {
            snprintf(err, errlen, "--book-url: %s is larger than %zu MiB", path,
                     MAX_BOOK_BYTES >> 20);
            rc = -1;
            break;
        }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "--book-url: error reading %s", path);
        rc = -1;
    }
    fclose(f);
    if (!rc) {
        size_t n = 0;
        c->owned = clean_text(raw.data ? raw.data : "", raw.len, &n);
        c->text = c->owned;
        c->len = n;
        if (n < 64) {
            snprintf(err, errlen, "--book-url: %s has too little text (%zu bytes)", path, n);
            rc = -1;
        }
        snprintf(c->name, sizeof c->name, "%s", path);
    }
    buf_free(&raw);
    if (rc)
        corpus_free(c);
    return rc;
}

void corpus_free(corpus *c)
{
    free(c->owned);
    memset(c, 0, sizeof *c);
}

size_t corpus_period(const corpus *c)
{
    return c->len + MARKER_LEN;
}

char corpus_byte(const corpus *c, size_t virt_offset)
{
    size_t i = virt_offset % corpus_period(c);
    return i < c->len ? c->text[i] : CORPUS_WRAP_MARKER[i - c->len];
}

static bool is_continuation(char b)
{
    return ((unsigned char)b & 0xC0) == 0x80;
}

size_t corpus_align(const corpus *c, size_t off)
{
    while (is_continuation(corpus_byte(c, off)))
        off++;
    return off;
}

long corpus_slice(const corpus *c, size_t offset, size_t nbytes, buf *out, bool *wrapped)
{
    size_t period = corpus_period(c);
    size_t start = corpus_align(c, offset);
    size_t end = start + nbytes;
    while (end > start && is_continuation(corpus_byte(c, end)))
        end--;
    if (wrapped)
        *wrapped = (start % period) + (end - start) > c->len;
    size_t pos = start;
    while (pos < end) {
        size_t i = pos % period;
        const char *src;
        size_t avail;
        if (i < c->len) {
            src = c->text + i;
            avail = c->len - i;
        } else {
            src = CORPUS_WRAP_MARKER + (i - c->len);
            avail = period - i;
        }
        size_t take = end - pos < avail ? end - pos : avail;
        if (buf_append(out, src, take))
            return -1;
        pos += take;
    }
    return (long)(end - start);
}
