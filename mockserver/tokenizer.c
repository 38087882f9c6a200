/* tokmock's tokenizer: see tokenizer.h for the rule.
 *
 * Id layout (all below 2^53):
 *   1, 2                      the special tokens
 *   RAW_BASE + byte           a byte that is not part of valid UTF-8
 *   CP_BASE + code point      one code point that is not a word piece
 *   WORD_TAG | space | chars  a word piece: up to 6 ASCII alnum bytes, 7 bits
 *                             each, the first in the lowest bits; bit 42 set
 *                             when the piece starts with its leading space.
 * Because every field can be read back, tok_piece() needs no table. */
#include "mockserver/tokenizer.h"

#include <string.h>

#include "common/xalloc.h"

#define WORD_MAX_CHARS 6
#define RAW_BASE INT64_C(0x100)
#define CP_BASE INT64_C(0x1000)
#define CP_LIMIT INT64_C(0x110000)
#define WORD_SPACE_BIT (INT64_C(1) << 42)
#define WORD_TAG (INT64_C(1) << 44)

static const char IM_START[] = "<|im_start|>";
static const char IM_END[] = "<|im_end|>";

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the valid UTF-8 sequence starting at s[0] (1-4) and its code
 * point, or 0 when s[0..) does not start a valid, shortest-form sequence. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0; /* continuation byte, overlong lead 0xC0/0xC1, or 0xF5.. */
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* Length of the special token at s, or 0. */
static size_t special_at(const char *s, size_t len)
{
    if (len >= sizeof IM_START - 1 && memcmp(s, IM_START, sizeof IM_START - 1) == 0)
        return sizeof IM_START - 1;
    if (len >= sizeof IM_END - 1 && memcmp(s, IM_END, sizeof IM_END - 1) == 0)
        return sizeof IM_END - 1;
    return 0;
}

/* Length in bytes of the token that starts at text[pos]; pos < len.
 * The continuation of a cut alnum run starts with a letter or digit, so only
 * the first piece of a run can carry the leading space. */
static size_t token_len_at(const char *text, size_t len, size_t pos)
{
    const unsigned char *s = (const unsigned char *)text + pos;
    size_t rest = len - pos;
    size_t n;
    uint32_t cp;

    if (s[0] == '<' && (n = special_at(text + pos, rest)) > 0)
        return n;
    if (is_alnum(s[0]) || (s[0] == ' ' && rest > 1 && is_alnum(s[1]))) {
        size_t lead = s[0] == ' ';
        n = 0;
        while (n < WORD_MAX_CHARS && lead + n < rest && is_alnum(s[lead + n]))
            n++;
        return lead + n;
    }
    n = utf8_decode(s, rest, &cp);
    return n ? n : 1;
}

size_t tok_split(const char *text, size_t len, tok_span *out, size_t max_out)
{
    size_t count = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t n = token_len_at(text, len, pos);
        if (count < max_out) {
            out[count].start = pos;
            out[count].len = n;
        }
        count++;
        pos += n;
    }
    return count;
}

size_t tok_count(const char *text, size_t len)
{
    return tok_split(text, len, NULL, 0);
}

int64_t tok_id(const char *piece, size_t len)
{
    const unsigned char *s = (const unsigned char *)piece;
    uint32_t cp;

    if (len == 0)
        return -1;
    if (special_at(piece, len) == len)
        return len == sizeof IM_START - 1 ? TOK_ID_IM_START : TOK_ID_IM_END;
    {
        size_t lead = s[0] == ' ' && len > 1;
        size_t chars = len - lead;
        if (chars >= 1 && chars <= WORD_MAX_CHARS) {
            int64_t id = WORD_TAG | (lead ? WORD_SPACE_BIT : 0);
            size_t i;
            for (i = 0; i < chars && is_alnum(s[lead + i]); i++)
                id |= (int64_t)s[lead + i] << (7 * i);
            if (i == chars)
                return id;
        }
    }
    if (utf8_decode(s, len, &cp) == len)
        return CP_BASE + cp;
    if (len == 1)
        return RAW_BASE + s[0];
    return -1;
}

int64_t *tok_encode(const char *text, size_t len, size_t *n_out)
{
    size_t cap = 16, count = 0, pos = 0;
    int64_t *ids = xmalloc(cap * sizeof *ids);
    while (pos < len) {
        size_t n = token_len_at(text, len, pos);
        if (count == cap) {
            cap *= 2;
            ids = xrealloc(ids, cap * sizeof *ids);
        }
        ids[count++] = tok_id(text + pos, n);
        pos += n;
    }
    *n_out = count;
    return ids;
}

/* Encodes code point cp as UTF-8 into out; returns the length. */
static int utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int tok_piece(int64_t id, char *out)
{
    if (id == TOK_ID_IM_START) {
        memcpy(out, IM_START, sizeof IM_START - 1);
        return (int)(sizeof IM_START - 1);
    }
    if (id == TOK_ID_IM_END) {
        memcpy(out, IM_END, sizeof IM_END - 1);
        return (int)(sizeof IM_END - 1);
    }
    if (id >= RAW_BASE + 0x80 && id < RAW_BASE + 0x100) {
        /* Only bytes that can be invalid UTF-8 on their own get a raw id. */
        out[0] = (char)(unsigned char)(id - RAW_BASE);
        return 1;
    }
    if (id >= CP_BASE && id < CP_BASE + CP_LIMIT) {
        uint32_t cp = (uint32_t)(id - CP_BASE);
        if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp < 0x80 && is_alnum((unsigned char)cp)))
            return -1;
        return utf8_encode(cp, out);
    }
    if (id >= WORD_TAG && id < WORD_TAG * 2) {
        int64_t bits = id - WORD_TAG;
        int n = 0;
        if (bits & WORD_SPACE_BIT) {
            out[n++] = ' ';
            bits &= ~WORD_SPACE_BIT;
        }
        if (bits >= (INT64_C(1) << (7 * WORD_MAX_CHARS)) || bits == 0)
            return -1;
        while (bits) {
            unsigned char c = (unsigned char)(bits & 0x7F);
            if (!is_alnum(c))
                return -1;
            out[n++] = (char)c;
            bits >>= 7;
        }
        return n;
    }
    return -1;
}
