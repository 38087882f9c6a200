/* The chunk decoder: a strict single-pass JSON reader specialised to the few
 * paths of a chat.completion(.chunk) that tokbench reads. It keeps no tree:
 * each object of interest is walked once, the first occurrence of every
 * wanted key is read (later duplicates are skipped, as a lookup that stops
 * at the first match would), and everything else is validated and skipped
 * by an iterative skipper whose nesting count is shared with the walkers.
 * Strings are only located during the walk; the handful that are returned
 * are decoded at the end into the scratch area of chunk_info. */
#include "chunk.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

typedef struct lexer {
    const unsigned char *p, *end;
    int depth; /* containers open at p, the top-level object included */
} lexer;

/* A string as it stands in the input, between its quotes. */
typedef struct str {
    const unsigned char *raw;
    size_t raw_len;
    size_t len;  /* decoded bytes before the first NUL */
    int escaped; /* raw holds a backslash: decode before use */
} str;

/* An object key, decoded when it is escaped (only short keys can match). */
typedef struct key {
    const char *text; /* NULL: cannot be a key we look for */
    size_t len;
    char buf[32];
} key;

/* What choices[0].delta (or .message) carries. */
typedef struct delta_facts {
    int is_object;
    int has_content;
    str content;
    int rc_is_string, r_is_string; /* reasoning_content, reasoning */
    size_t rc_len, r_len;
    size_t tool_len;
} delta_facts;

/* Everything the walk gathers, applied to chunk_info at the end. */
typedef struct facts {
    int has_id, has_model;
    str id, model;
    int error_kind; /* ERR_NONE, ERR_OBJECT (message: has_error_msg), ERR_STRING */
    int has_error_msg;
    str error_msg;
    int object_is_error, has_message;
    str message;
    int usage_is_object;
    int prompt_tokens, completion_tokens, cached_tokens;
    int root_timings_object, usage_timings_object;
    tb_server_timings root_timings, usage_timings;
    int32_t root_ids;
    int choices; /* CH_NONE, CH_FIRST_NOT_OBJECT, CH_FIRST_OBJECT */
    int32_t c0_ids;
    int has_finish, has_text;
    str finish, text;
    delta_facts delta, message_obj;
} facts;

enum { ERR_NONE, ERR_OBJECT, ERR_STRING };
enum { CH_NONE, CH_FIRST_NOT_OBJECT, CH_FIRST_OBJECT };

static const char no_message[] = "error object without a message";

/* ---- lexical layer ---------------------------------------------------- */

static void skip_ws(lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\n' || *lx->p == '\r' || *lx->p == '\t'))
        lx->p++;
}

static int hex_digit(unsigned c)
{
    if (c - '0' < 10)
        return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' < 6)
        return (int)(c - 'a' + 10);
    return -1;
}

/* The code unit of the four hex digits at p (p + 4 <= end), -1 if one is not hex. */
static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Reads the escape at p (p[0] == '\\'): its code point in *cp and its width
 * in the input; 0 when it is malformed. Surrogates must come as a pair. */
static size_t read_escape(const unsigned char *p, const unsigned char *end, unsigned long *cp)
{
    if (end - p < 2)
        return 0;
    switch (p[1]) {
    case '"':
        *cp = '"';
        return 2;
    case '\\':
        *cp = '\\';
        return 2;
    case '/':
        *cp = '/';
        return 2;
    case 'b':
        *cp = '\b';
        return 2;
    case 'f':
        *cp = '\f';
        return 2;
    case 'n':
        *cp = '\n';
        return 2;
    case 'r':
        *cp = '\r';
        return 2;
    case 't':
        *cp = '\t';
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }
    if (end - p < 6)
        return 0;
    long hi = hex4(p + 2);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return 0;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = (unsigned long)hi;
        return 6;
    }
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return 0;
    long lo = hex4(p + 8);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return 0;
    *cp = 0x10000 + (((unsigned long)(hi & 0x3FF) << 10) | (unsigned long)(lo & 0x3FF));
    return 12;
}

static size_t utf8_width(unsigned long cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static char *put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Bytes of a word, each set to b. */
#define BYTES(b) (UINT64_C(0x0101010101010101) * (b))

/* The end of the run of bytes at p that need no attention in a string: not
 * a quote, a backslash or a control byte. Eight bytes at a time while a
 * whole word is left: a byte of x is zero exactly where x - 1 borrows into
 * a high bit that x did not have, and a byte is below 0x20 where
 * subtracting 0x20 does the same. */
static const unsigned char *plain_run(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t quote = x ^ BYTES('"'), backslash = x ^ BYTES('\\');
        uint64_t hit = ((quote - BYTES(1)) & ~quote) | ((backslash - BYTES(1)) & ~backslash) |
                       ((x - BYTES(0x20)) & ~x);
        if (hit & BYTES(0x80))
            break;
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20)
        p++;
    return p;
}

/* At an opening quote: validates the string, notes where it is and how long
 * it decodes to, and moves past the closing quote. Bytes >= 0x80 pass as
 * they are (no UTF-8 check, as before). */
static int scan_string(lexer *lx, str *out)
{
    const unsigned char *p = lx->p + 1, *end = lx->end;
    size_t len = 0;
    int escaped = 0, ended = 0; /* ended: a NUL was decoded, count no more */
    out->raw = p;
    for (;;) {
        const unsigned char *run = p;
        p = plain_run(p, end);
        if (!ended)
            len += (size_t)(p - run);
        if (p >= end || *p < 0x20)
            return -1;
        if (*p == '"')
            break;
        unsigned long cp;
        size_t w = read_escape(p, end, &cp);
        if (!w)
            return -1;
        escaped = 1;
        p += w;
        if (cp == 0)
            ended = 1;
        else if (!ended)
            len += utf8_width(cp);
    }
    out->raw_len = (size_t)(p - out->raw);
    out->len = len;
    out->escaped = escaped;
    lx->p = p + 1;
    return 0;
}

/* Writes s's decoded bytes (s->len of them) and a NUL at dst. */
static void decode_to(const str *s, char *dst)
{
    if (!s->escaped) {
        memcpy(dst, s->raw, s->len);
        dst[s->len] = '\0';
        return;
    }
    const unsigned char *p = s->raw, *end = s->raw + s->raw_len;
    char *o = dst;
    while (p < end) {
        if (*p != '\\') {
            *o++ = (char)*p++;
            continue;
        }
        unsigned long cp;
        p += read_escape(p, end, &cp); /* valid: scan_string checked it */
        if (cp == 0)
            break;
        o = put_utf8(o, cp);
    }
    *o = '\0';
}

/* At a '-' or digit: the RFC 8259 number grammar, no leading zeros. */
static int scan_number(lexer *lx, const unsigned char **start, size_t *len)
{
    const unsigned char *p = lx->p, *end = lx->end;
    *start = p;
    if (*p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return -1;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    *len = (size_t)(p - *start);
    lx->p = p;
    return 0;
}

/* The value of a number scan_number accepted, equal to what strtod gives.
 * Fast path: when the digits, decimal point removed, make an integer m
 * below 2^53 and the power of ten left over is within 10^+-22, both m and
 * the power are exact doubles, so the one correctly rounded multiplication
 * or division is strtod's correctly rounded result. Anything else goes
 * through strtod on a NUL-terminated copy with the locale's decimal point,
 * as cJSON did. */
static double number_value(const unsigned char *s, size_t n)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = s[0] == '-';
    uint64_t m = 0;
    long exp10 = 0;
    int exact = 1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        m = m * 10 + (uint64_t)(s[i] - '0');
        exact &= m < (UINT64_C(1) << 53) / 10;
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, exp10--) {
            m = m * 10 + (uint64_t)(s[i] - '0');
            exact &= m < (UINT64_C(1) << 53) / 10;
        }
    }
    if (i < n) { /* the exponent */
        int neg = s[++i] == '-';
        long e = 0;
        if (s[i] == '+' || s[i] == '-')
            i++;
        for (; i < n; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        exp10 += neg ? -e : e;
    }
    if (exact && exp10 >= -22 && exp10 <= 22) {
        double d = exp10 < 0 ? (double)m / pow10[-exp10] : (double)m * pow10[exp10];
        return s[0] == '-' ? -d : d;
    }
    char small[64];
    char *copy = n < sizeof small ? small : xmalloc(n + 1);
    char point = localeconv()->decimal_point[0];
    for (size_t k = 0; k < n; k++)
        copy[k] = s[k] == '.' ? point : (char)s[k];
    copy[n] = '\0';
    double d = strtod(copy, NULL);
    if (copy != small)
        free(copy);
    return d;
}

static int scan_literal(lexer *lx, const char *word, size_t n)
{
    if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0)
        return -1;
    lx->p += n;
    return 0;
}

/* A scalar at lx->p (not an object or array). */
static int skip_scalar(lexer *lx)
{
    const unsigned char *s;
    size_t n;
    str tmp;
    if (lx->p >= lx->end)
        return -1;
    switch (*lx->p) {
    case '"':
        return scan_string(lx, &tmp);
    case 't':
        return scan_literal(lx, "true", 4);
    case 'f':
        return scan_literal(lx, "false", 5);
    case 'n':
        return scan_literal(lx, "null", 4);
    default:
        if (*lx->p == '-' || (*lx->p >= '0' && *lx->p <= '9'))
            return scan_number(lx, &s, &n);
        return -1;
    }
}

/* Enters the container at lx->p ('{' or '['), counting its depth. */
static int open_container(lexer *lx)
{
    if (lx->depth >= CHUNK_MAX_DEPTH)
        return -1;
    lx->depth++;
    lx->p++;
    return 0;
}

/* Validates and steps over one value of any kind. Iterative: the kind of
 * each open container is one bit of a stack sized by the depth limit. */
static int skip_value(lexer *lx)
{
    if (lx->p < lx->end && *lx->p != '{' && *lx->p != '[')
        return skip_scalar(lx); /* the common case: no stack needed */
    unsigned char is_object[CHUNK_MAX_DEPTH / 8 + 1];
    int base = lx->depth, top; /* top: containers opened here */
    for (;;) {
        /* A value starts here. */
        if (lx->p >= lx->end)
            return -1;
        if (*lx->p == '{' || *lx->p == '[') {
            int obj = *lx->p == '{';
            if (open_container(lx))
                return -1;
            top = lx->depth - base - 1;
            if (obj)
                is_object[top / 8] |= (unsigned char)(1u << (top % 8));
            else
                is_object[top / 8] &= (unsigned char)~(1u << (top % 8));
            skip_ws(lx);
            if (lx->p < lx->end && *lx->p == (obj ? '}' : ']')) {
                lx->p++;
                lx->depth--;
            } else if (obj) {
                goto member;
            } else {
                continue;
            }
        } else if (skip_scalar(lx)) {
            return -1;
        }
        /* A value ended: what follows it in its container? */
        for (;;) {
            if (lx->depth == base)
                return 0;
            top = lx->depth - base - 1;
            int obj = (is_object[top / 8] >> (top % 8)) & 1;
            skip_ws(lx);
            if (lx->p >= lx->end)
                return -1;
            if (*lx->p == (obj ? '}' : ']')) {
                lx->p++;
                lx->depth--;
                continue;
            }
            if (*lx->p != ',')
                return -1;
            lx->p++;
            skip_ws(lx);
            if (obj)
                goto member;
            break;
        }
        continue;
    member:
        /* A key, a colon, then the value at the top of the loop. */
        {
            str k;
            if (lx->p >= lx->end || *lx->p != '"' || scan_string(lx, &k))
                return -1;
            skip_ws(lx);
            if (lx->p >= lx->end || *lx->p != ':')
                return -1;
            lx->p++;
            skip_ws(lx);
        }
    }
}

/* ---- object walking --------------------------------------------------- */

/* Inside an object (after '{' or after a member's value): reads the next key
 * and leaves lx at its value. 1 when a member follows, 0 after the closing
 * '}', -1 on malformed input. */
static int next_member(lexer *lx, int *first, key *k)
{
    skip_ws(lx);
    if (lx->p >= lx->end)
        return -1;
    if (*lx->p == '}') {
        lx->p++;
        lx->depth--;
        return 0;
    }
    if (!*first) {
        if (*lx->p != ',')
            return -1;
        lx->p++;
        skip_ws(lx);
    }
    *first = 0;
    str s;
    if (lx->p >= lx->end || *lx->p != '"' || scan_string(lx, &s))
        return -1;
    if (!s.escaped) {
        k->text = (const char *)s.raw;
        k->len = s.len;
    } else if (s.len < sizeof k->buf) {
        decode_to(&s, k->buf);
        k->text = k->buf;
        k->len = s.len;
    } else {
        k->text = NULL;
        k->len = 0;
    }
    skip_ws(lx);
    if (lx->p >= lx->end || *lx->p != ':')
        return -1;
    lx->p++;
    skip_ws(lx);
    if (lx->p >= lx->end)
        return -1;
    return 1;
}

/* Inside an array (after '[' or after an element): 1 when an element
 * follows (lx at its first byte), 0 after the closing ']', -1 on malformed
 * input (a missing comma, a comma before ']', the end of the input). */
static int next_element(lexer *lx, int *first)
{
    skip_ws(lx);
    if (lx->p >= lx->end)
        return -1;
    if (*lx->p == ']') {
        lx->p++;
        lx->depth--;
        return 0;
    }
    if (!*first) {
        if (*lx->p != ',')
            return -1;
        lx->p++;
        skip_ws(lx);
        if (lx->p >= lx->end || *lx->p == ']')
            return -1;
    }
    *first = 0;
    return 1;
}

/* A key we look for, with its length. */
typedef struct name {
    const char *text;
    size_t len;
} name;
/* clang-format off */
#define NAME(s) {s, sizeof(s) - 1}
/* clang-format on */

/* Index of k in names[0..n), -1 when absent. */
static int lookup(const key *k, const name *names, int n)
{
    if (!k->text)
        return -1;
    for (int i = 0; i < n; i++)
        if (names[i].len == k->len && names[i].text[0] == k->text[0] &&
            memcmp(names[i].text, k->text, k->len) == 0)
            return i;
    return -1;
}

/* First time member i of an object is seen: later duplicates are skipped. */
static int first_time(unsigned *seen, int i)
{
    if (i < 0 || (*seen >> i & 1u))
        return 0;
    *seen |= 1u << i;
    return 1;
}

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int is_at(const lexer *lx, unsigned char c)
{
    return lx->p < lx->end && *lx->p == c;
}

/* The string value at lx, or any other value skipped (*present = 0). */
static int string_value(lexer *lx, str *out, int *present)
{
    if (is_at(lx, '"')) {
        *present = 1;
        return scan_string(lx, out);
    }
    *present = 0;
    return skip_value(lx);
}

/* A number value, or NaN when the value is anything else. */
static int number_field(lexer *lx, double *out)
{
    if (lx->p < lx->end && (*lx->p == '-' || (*lx->p >= '0' && *lx->p <= '9'))) {
        const unsigned char *s;
        size_t n;
        if (scan_number(lx, &s, &n))
            return -1;
        *out = number_value(s, n);
        return 0;
    }
    *out = NAN;
    return skip_value(lx);
}

/* A count in [0, INT_MAX] (truncated), -1 when not a number or out of range. */
static int count_field(lexer *lx, int *out)
{
    double d;
    if (number_field(lx, &d))
        return -1;
    *out = !isfinite(d) || d < 0 || d > 2147483647.0 ? -1 : (int)d;
    return 0;
}

/* A measurement: the number, -1 when not a finite number. */
static int measure_field(lexer *lx, double *out)
{
    if (number_field(lx, out))
        return -1;
    if (!isfinite(*out))
        *out = -1;
    return 0;
}

/* The element count of an array value, -1 for any other value. */
static int array_length(lexer *lx, int32_t *out)
{
    if (!is_at(lx, '['))
        return *out = -1, skip_value(lx);
    if (open_container(lx))
        return -1;
    int32_t n = 0;
    int first = 1, more;
    while ((more = next_element(lx, &first)) > 0) {
        if (skip_value(lx))
            return -1;
        if (n < INT32_MAX)
            n++;
    }
    if (more < 0)
        return -1;
    *out = n;
    return 0;
}

static int walk_timings(lexer *lx, tb_server_timings *t)
{
    static const name names[] = {NAME("prompt_n"),        NAME("prompt_ms"), NAME("predicted_n"),
                                 NAME("predicted_ms"),    NAME("cache_n"),   NAME("draft_n"),
                                 NAME("draft_n_accepted")};
    double *slots[] = {&t->prompt_n, &t->prompt_ms, &t->predicted_n,     &t->predicted_ms,
                       &t->cache_n,  &t->draft_n,   &t->draft_n_accepted};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names));
        int rc = first_time(&seen, i) ? measure_field(lx, slots[i]) : skip_value(lx);
        if (rc)
            return -1;
    }
    return more;
}

static const tb_server_timings no_timings = {-1, -1, -1, -1, -1, -1, -1};

static int walk_usage_details(lexer *lx, facts *f)
{
    static const name names[] = {NAME("cached_tokens")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names));
        int rc = first_time(&seen, i) ? count_field(lx, &f->cached_tokens) : skip_value(lx);
        if (rc)
            return -1;
    }
    return more;
}

static int walk_usage(lexer *lx, facts *f)
{
    enum { PROMPT, COMPLETION, DETAILS, TIMINGS };
    static const name names[] = {NAME("prompt_tokens"), NAME("completion_tokens"),
                                 NAME("prompt_tokens_details"), NAME("timings")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    f->usage_is_object = 1;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names)), rc;
        if (!first_time(&seen, i))
            rc = skip_value(lx);
        else if (i == PROMPT)
            rc = count_field(lx, &f->prompt_tokens);
        else if (i == COMPLETION)
            rc = count_field(lx, &f->completion_tokens);
        else if (!is_at(lx, '{'))
            rc = skip_value(lx);
        else if (i == DETAILS)
            rc = walk_usage_details(lx, f);
        else
            rc = (f->usage_timings_object = 1, walk_timings(lx, &f->usage_timings));
        if (rc)
            return -1;
    }
    return more;
}

/* tool_calls[i].function: adds the decoded lengths of name and arguments. */
static int walk_function(lexer *lx, size_t *bytes)
{
    static const name names[] = {NAME("name"), NAME("arguments")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names)), rc, present;
        str s = {0};
        if (!first_time(&seen, i)) {
            rc = skip_value(lx);
        } else {
            rc = string_value(lx, &s, &present);
            if (!rc && present)
                *bytes += s.len;
        }
        if (rc)
            return -1;
    }
    return more;
}

static int walk_tool_call(lexer *lx, size_t *bytes)
{
    static const name names[] = {NAME("function")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names));
        int rc = first_time(&seen, i) && is_at(lx, '{') ? walk_function(lx, bytes) : skip_value(lx);
        if (rc)
            return -1;
    }
    return more;
}

/* The bytes of text a tool_calls array carries; a non-empty array without
 * any name or arguments text still stands for one token: 1 byte. */
static int walk_tool_calls(lexer *lx, size_t *out)
{
    size_t bytes = 0, calls = 0;
    if (!is_at(lx, '['))
        return skip_value(lx);
    if (open_container(lx))
        return -1;
    int first = 1, more;
    while ((more = next_element(lx, &first)) > 0) {
        if (is_at(lx, '{') ? walk_tool_call(lx, &bytes) : skip_value(lx))
            return -1;
        calls++;
    }
    if (more < 0)
        return -1;
    *out = bytes == 0 && calls > 0 ? 1 : bytes;
    return 0;
}

/* choices[0].delta, or .message of a non-streaming body. */
static int walk_delta(lexer *lx, delta_facts *d)
{
    enum { CONTENT, REASONING_CONTENT, REASONING, TOOL_CALLS };
    static const name names[] = {NAME("content"), NAME("reasoning_content"), NAME("reasoning"),
                                 NAME("tool_calls")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    d->is_object = 1;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names)), rc;
        str s = {0};
        if (!first_time(&seen, i)) {
            rc = skip_value(lx);
        } else if (i == CONTENT) {
            rc = string_value(lx, &d->content, &d->has_content);
        } else if (i == REASONING_CONTENT) {
            rc = string_value(lx, &s, &d->rc_is_string);
            d->rc_len = s.len;
        } else if (i == REASONING) {
            rc = string_value(lx, &s, &d->r_is_string);
            d->r_len = s.len;
        } else {
            rc = walk_tool_calls(lx, &d->tool_len);
        }
        if (rc)
            return -1;
    }
    return more;
}

static int walk_choice(lexer *lx, facts *f)
{
    enum { TOKEN_IDS, FINISH, DELTA, MESSAGE, TEXT };
    static const name names[] = {NAME("token_ids"), NAME("finish_reason"), NAME("delta"),
                                 NAME("message"), NAME("text")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    f->choices = CH_FIRST_OBJECT;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names)), rc;
        if (!first_time(&seen, i))
            rc = skip_value(lx);
        else if (i == TOKEN_IDS)
            rc = array_length(lx, &f->c0_ids);
        else if (i == FINISH)
            rc = string_value(lx, &f->finish, &f->has_finish);
        else if (i == TEXT)
            rc = string_value(lx, &f->text, &f->has_text);
        else if (!is_at(lx, '{'))
            rc = skip_value(lx);
        else
            rc = walk_delta(lx, i == DELTA ? &f->delta : &f->message_obj);
        if (rc)
            return -1;
    }
    return more;
}

/* choices: only the first element is read. */
static int walk_choices(lexer *lx, facts *f)
{
    if (!is_at(lx, '['))
        return skip_value(lx);
    if (open_container(lx))
        return -1;
    int first = 1, more;
    for (int n = 0; (more = next_element(lx, &first)) > 0; n++) {
        int rc;
        if (n > 0)
            rc = skip_value(lx);
        else if (is_at(lx, '{'))
            rc = walk_choice(lx, f);
        else
            rc = (f->choices = CH_FIRST_NOT_OBJECT, skip_value(lx));
        if (rc)
            return -1;
    }
    return more < 0 ? -1 : 0;
}

/* {"error": {...}}: its first "message", when a string. */
static int walk_error(lexer *lx, facts *f)
{
    static const name names[] = {NAME("message")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    if (open_container(lx))
        return -1;
    f->error_kind = ERR_OBJECT;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names));
        int rc = first_time(&seen, i) ? string_value(lx, &f->error_msg, &f->has_error_msg)
                                      : skip_value(lx);
        if (rc)
            return -1;
    }
    return more;
}

/* Whether s decodes to exactly the NUL-terminated word. */
static int str_equals(const str *s, const char *word)
{
    size_t n = strlen(word);
    if (s->len != n)
        return 0;
    if (!s->escaped)
        return memcmp(s->raw, word, n) == 0;
    char tmp[16];
    if (n >= sizeof tmp)
        return 0;
    decode_to(s, tmp);
    return memcmp(tmp, word, n) == 0;
}

static int walk_root(lexer *lx, facts *f)
{
    enum { ID, MODEL, CHOICES, USAGE, TIMINGS, TOKEN_IDS, ERROR, OBJECT, MESSAGE };
    static const name names[] = {NAME("id"),    NAME("model"),   NAME("choices"),
                                 NAME("usage"), NAME("timings"), NAME("token_ids"),
                                 NAME("error"), NAME("object"),  NAME("message")};
    key k;
    int first = 1, more;
    unsigned seen = 0;
    skip_ws(lx);
    if (!is_at(lx, '{') || open_container(lx))
        return -1;
    while ((more = next_member(lx, &first, &k)) > 0) {
        int i = lookup(&k, names, COUNT(names)), rc = 0, present;
        str s = {0};
        if (!first_time(&seen, i)) {
            rc = skip_value(lx);
        } else {
            switch (i) {
            case ID:
                rc = string_value(lx, &f->id, &f->has_id);
                break;
            case MODEL:
                rc = string_value(lx, &f->model, &f->has_model);
                break;
            case CHOICES:
                rc = walk_choices(lx, f);
                break;
            case USAGE:
                rc = is_at(lx, '{') ? walk_usage(lx, f) : skip_value(lx);
                break;
            case TIMINGS:
                if (is_at(lx, '{'))
                    rc = (f->root_timings_object = 1, walk_timings(lx, &f->root_timings));
                else
                    rc = skip_value(lx);
                break;
            case TOKEN_IDS:
                rc = array_length(lx, &f->root_ids);
                break;
            case ERROR:
                if (is_at(lx, '{'))
                    rc = walk_error(lx, f);
                else if (!(rc = string_value(lx, &f->error_msg, &present)) && present)
                    f->error_kind = ERR_STRING;
                break;
            case OBJECT:
                rc = string_value(lx, &s, &present);
                f->object_is_error = !rc && present && str_equals(&s, "error");
                break;
            default:
                rc = string_value(lx, &f->message, &f->has_message);
                break;
            }
        }
        if (rc)
            return -1;
    }
    if (more < 0)
        return -1;
    skip_ws(lx);
    return lx->p == lx->end ? 0 : -1; /* one object and nothing after it */
}

/* ---- results ---------------------------------------------------------- */

static void reset(chunk_info *info)
{
    info->has_choices = 0;
    info->kind = EV_OTHER;
    info->content = NULL;
    info->content_len = info->reasoning_len = info->tool_len = 0;
    info->text_bytes = 0;
    info->ids = -1;
    info->has_usage = 0;
    info->prompt_tokens = info->completion_tokens = info->cached_tokens = -1;
    info->has_timings = 0;
    info->timings = no_timings;
    info->finish_reason = info->id = info->model = info->error = NULL;
    info->root_ = NULL;
}

/* Decodes the strings handed out into info's scratch (or one heap block
 * when they do not fit) and points the fields at them. */
static void place_strings(chunk_info *info, const str *const *src, const char **const *dst, int n)
{
    size_t need = 0;
    for (int i = 0; i < n; i++)
        if (src[i])
            need += src[i]->len + 1;
    char *o = info->scratch_;
    if (need > sizeof info->scratch_)
        o = info->root_ = xmalloc(need);
    for (int i = 0; i < n; i++) {
        if (!src[i])
            continue;
        decode_to(src[i], o);
        *dst[i] = o;
        o += src[i]->len + 1;
    }
}

int chunk_parse(const char *json, size_t len, chunk_info *info)
{
    reset(info);
    facts f;
    memset(&f, 0, sizeof f);
    f.root_ids = f.c0_ids = -1;
    f.prompt_tokens = f.completion_tokens = f.cached_tokens = -1;
    f.root_timings = f.usage_timings = no_timings;
    lexer lx = {(const unsigned char *)json, (const unsigned char *)json + len, 0};
    if (walk_root(&lx, &f))
        return CHUNK_ERR_JSON;

    const str *error_text = NULL;
    int is_error = 1;
    if (f.error_kind == ERR_OBJECT)
        error_text = f.has_error_msg ? &f.error_msg : NULL;
    else if (f.error_kind == ERR_STRING)
        error_text = &f.error_msg;
    else if (f.object_is_error)
        error_text = f.has_message ? &f.message : NULL;
    else
        is_error = 0;
    if (is_error) {
        const str *src[] = {f.has_id ? &f.id : NULL, f.has_model ? &f.model : NULL, error_text};
        const char **dst[] = {&info->id, &info->model, &info->error};
        place_strings(info, src, dst, COUNT(src));
        if (!info->error)
            info->error = no_message;
        return CHUNK_ERR_ERROR;
    }

    info->has_usage = f.usage_is_object;
    info->prompt_tokens = f.prompt_tokens;
    info->completion_tokens = f.completion_tokens;
    info->cached_tokens = f.cached_tokens;
    if (f.root_timings_object || f.usage_timings_object) {
        info->has_timings = 1;
        info->timings = f.root_timings_object ? f.root_timings : f.usage_timings;
    }
    info->ids = f.root_ids;

    const str *content = NULL;
    if (f.choices != CH_NONE)
        info->has_choices = 1;
    if (f.choices == CH_FIRST_OBJECT) {
        if (info->ids < 0)
            info->ids = f.c0_ids;
        const delta_facts *d = f.delta.is_object         ? &f.delta
                               : f.message_obj.is_object ? &f.message_obj
                                                         : NULL;
        if (d) {
            content = d->has_content ? &d->content : NULL;
            if (d->rc_is_string && d->rc_len)
                info->reasoning_len = d->rc_len;
            else if (d->r_is_string)
                info->reasoning_len = d->r_len;
            info->tool_len = d->tool_len;
        } else if (f.has_text) {
            content = &f.text; /* legacy completions chunks */
        }
        info->content_len = content ? content->len : 0;
        size_t bytes = info->content_len + info->reasoning_len + info->tool_len;
        info->text_bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
        if (info->content_len)
            info->kind = EV_CONTENT;
        else if (info->reasoning_len)
            info->kind = EV_REASONING;
        else if (info->tool_len)
            info->kind = EV_TOOL;
        else if (info->ids > 0)
            info->kind = EV_CONTENT; /* token ids without decodable text yet */
        else
            info->kind = EV_ROLE_ONLY;
    } else if (f.choices == CH_FIRST_NOT_OBJECT) {
        info->kind = EV_ROLE_ONLY;
    }

    const str *src[] = {f.has_id ? &f.id : NULL, f.has_model ? &f.model : NULL, content,
                        f.choices == CH_FIRST_OBJECT && f.has_finish ? &f.finish : NULL};
    const char **dst[] = {&info->id, &info->model, &info->content, &info->finish_reason};
    place_strings(info, src, dst, COUNT(src));
    return CHUNK_OK;
}

void chunk_info_free(chunk_info *info)
{
    free(info->root_);
    info->root_ = NULL;
}
