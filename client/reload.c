/* Saved JSON results back into a results value (see reload.h).
 *
 * cJSON cannot read the NaN and Infinity that Python's json module (and so
 * llama-benchy and report_json) writes, and it forgets how a number was
 * spelt ("100.0" vs "100"), which the extras need to print back the same.
 * So the text is parsed here into a cJSON tree in the runner's own
 * convention for extras: integers as cJSON numbers, every other number
 * (a fraction, an exponent, NaN, Infinity, an integer too big for a
 * double) as a raw item holding its literal text. */
#include "reload.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../common/buf.h"
#include "../common/xalloc.h"
#include "stats.h"

/* ---- the parser ---------------------------------------------------------- */

typedef struct parser {
    const char *start, *p, *end;
    char *err;
    size_t err_size;
} parser;

__attribute__((format(printf, 2, 3))) static cJSON *fail(parser *ps, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->err_size, "not valid JSON: line %zu, column %zu: %s", line, col, msg);
    return NULL;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(buf *b, unsigned cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(b, u, n);
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF) at s, of at most n bytes; 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Reads a string (ps->p at the opening quote) into out, decoded to UTF-8.
 * A \u0000, a lone surrogate or a byte that does not start well-formed UTF-8
 * becomes U+FFFD (C strings end at NUL; the writers expect valid UTF-8, and
 * report_json would print an overlong or surrogate form as an escape that
 * reads back differently). */
static int parse_string(parser *ps, buf *out)
{
    ps->p++;
    buf_reset(out);
    buf_append(out, "", 0);
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            return 0;
        }
        if (c < 0x20) {
            fail(ps, "control character in a string");
            return -1;
        }
        if (c < 0x80 && c != '\\') {
            buf_append(out, ps->p, 1);
            ps->p++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
            if (n) {
                buf_append(out, ps->p, n);
                ps->p += n;
            } else {
                put_utf8(out, 0xFFFD);
                ps->p++;
            }
            continue;
        }
        if (ps->end - ps->p < 2)
            break;
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"':
            buf_append_str(out, "\"");
            break;
        case '\\':
            buf_append_str(out, "\\");
            break;
        case '/':
            buf_append_str(out, "/");
            break;
        case 'b':
            buf_append_str(out, "\b");
            break;
        case 'f':
            buf_append_str(out, "\f");
            break;
        case 'n':
            buf_append_str(out, "\n");
            break;
        case 'r':
            buf_append_str(out, "\r");
            break;
        case 't':
            buf_append_str(out, "\t");
            break;
        case 'u': {
            unsigned cp, lo;
            if (ps->end - ps->p < 4 || hex4(ps->p, &cp)) {
                fail(ps, "bad \\u escape");
                return -1;
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
                ps->p[1] == 'u' && hex4(ps->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp == 0 || (cp >= 0xD800 && cp < 0xE000)) {
                cp = 0xFFFD;
            }
            put_utf8(out, cp);
            break;
        }
        default:
            ps->p--;
            /* The reason stays one line of text whatever the byte. */
            if (e > ' ' && e < 0x7F)
                fail(ps, "bad escape '\\%c'", e);
            else
                fail(ps, "bad escape: byte 0x%02x after '\\'", (unsigned)(unsigned char)e);
            return -1;
        }
    }
    fail(ps, "unterminated string");
    return -1;
}

static cJSON *parse_number(parser *ps)
{
    const char *s = ps->p;
    int is_int = 1;
    if (literal(ps, "NaN") || literal(ps, "Infinity") || literal(ps, "-Infinity")) {
        is_int = 0;
    } else {
        const char *q = ps->p;
        if (q < ps->end && *q == '-')
            q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9'))
            return fail(ps, "expected a value");
        if (*q == '0')
            q++;
        else
            while (q < ps->end && *q >= '0' && *q <= '9')
                q++;
        if (q < ps->end && *q == '.') {
            is_int = 0;
            q++;
            if (q >= ps->end || !(*q >= '0' && *q <= '9'))
                return fail(ps, "digit expected after '.'");
            while (q < ps->end && *q >= '0' && *q <= '9')
                q++;
        }
        if (q < ps->end && (*q == 'e' || *q == 'E')) {
            is_int = 0;
            q++;
            if (q < ps->end && (*q == '+' || *q == '-'))
                q++;
            if (q >= ps->end || !(*q >= '0' && *q <= '9'))
                return fail(ps, "digit expected in the exponent");
            while (q < ps->end && *q >= '0' && *q <= '9')
                q++;
        }
        ps->p = q;
    }
    size_t n = (size_t)(ps->p - s);
    if (n >= 400)
        return fail(ps, "number too long");
    char text[400];
    memcpy(text, s, n);
    text[n] = '\0';
    if (is_int) {
        double v = strtod(text, NULL);
        if (fabs(v) < 9e15)
            return cJSON_CreateNumber(v);
    }
    return cJSON_CreateRaw(text);
}

static cJSON *parse_value(parser *ps, int depth, buf *scratch);

static cJSON *parse_container(parser *ps, int depth, buf *scratch)
{
    int is_obj = *ps->p == '{';
    char close = is_obj ? '}' : ']';
    if (depth >= RELOAD_MAX_DEPTH)
        return fail(ps, "nested deeper than %d", RELOAD_MAX_DEPTH);
    ps->p++;
    cJSON *c = is_obj ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!c)
        return fail(ps, "out of memory");
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return c;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (is_obj) {
            if (ps->p >= ps->end || *ps->p != '"') {
                cJSON_Delete(c);
                return fail(ps, "expected a key string");
            }
            if (parse_string(ps, scratch)) {
                cJSON_Delete(c);
                return NULL;
            }
            key = xstrdup(scratch->data ? scratch->data : "");
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                cJSON_Delete(c);
                return fail(ps, "expected ':'");
            }
            ps->p++;
        }
        cJSON *v = parse_value(ps, depth + 1, scratch);
        if (!v) {
            free(key);
            cJSON_Delete(c);
            return NULL;
        }
        if (is_obj)
            cJSON_AddItemToObject(c, key, v);
        else
            cJSON_AddItemToArray(c, v);
        free(key);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return c;
        }
        cJSON_Delete(c);
        return fail(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static cJSON *parse_value(parser *ps, int depth, buf *scratch)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of input");
    char c = *ps->p;
    if (c == '{' || c == '[')
        return parse_container(ps, depth, scratch);
    if (c == '"') {
        if (parse_string(ps, scratch))
            return NULL;
        return cJSON_CreateString(scratch->data ? scratch->data : "");
    }
    if (literal(ps, "true"))
        return cJSON_CreateTrue();
    if (literal(ps, "false"))
        return cJSON_CreateFalse();
    if (literal(ps, "null"))
        return cJSON_CreateNull();
    return parse_number(ps);
}

static cJSON *parse_text(const char *text, size_t len, char *err, size_t err_size)
{
    parser ps = {text, text, text + len, err, err_size};
    buf scratch;
    buf_init(&scratch, 0);
    /* A UTF-8 byte order mark is tolerated. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        ps.p += 3;
    cJSON *root = parse_value(&ps, 0, &scratch);
    buf_free(&scratch);
    if (!root)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        cJSON_Delete(root);
        return fail(&ps, "extra text after the JSON value");
    }
    return root;
}

/* ---- from the tree into results ------------------------------------------ */

typedef struct ctx {
    char *err;
    size_t err_size;
    char where[64]; /* "benchmarks[3]" or "" for the top level */
} ctx;

__attribute__((format(printf, 2, 3))) static int bad(ctx *x, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(x->err, x->err_size, "%s%s%s", x->where, *x->where ? ": " : "", msg);
    return -1;
}

static int is_num(const cJSON *v)
{
    return cJSON_IsNumber(v) || (cJSON_IsRaw(v) && v->valuestring);
}

static double num(const cJSON *v)
{
    return cJSON_IsNumber(v) ? v->valuedouble : strtod(v->valuestring, NULL);
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* An integer field: absent or null gives dflt; anything else but an
 * integer is an error. */
static int get_i64(ctx *x, const cJSON *obj, const char *key, int64_t dflt, int64_t *out)
{
    const cJSON *v = get(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        *out = (int64_t)v->valuedouble;
        return 0;
    }
    if (cJSON_IsRaw(v) && v->valuestring) {
        char *end;
        errno = 0;
        long long ll = strtoll(v->valuestring, &end, 10);
        if (*end == '\0' && errno == 0) {
            *out = ll;
            return 0;
        }
    }
    return bad(x, "\"%s\" is not an integer", key);
}

static int get_int(ctx *x, const cJSON *obj, const char *key, int dflt, int required, int *out)
{
    if (required && !get(obj, key))
        return bad(x, "\"%s\" is missing", key);
    int64_t v;
    if (get_i64(x, obj, key, dflt, &v))
        return -1;
    if (v < -2147483647 || v > 2147483647)
        return bad(x, "\"%s\" is out of range", key);
    *out = (int)v;
    return 0;
}

static int get_bool(ctx *x, const cJSON *obj, const char *key, bool *out)
{
    const cJSON *v = get(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = false;
        return 0;
    }
    if (!cJSON_IsBool(v))
        return bad(x, "\"%s\" is not true or false", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A string field or null; the result is owned by the tree. */
static int get_str(ctx *x, const cJSON *obj, const char *key, const char **out)
{
    const cJSON *v = get(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return bad(x, "\"%s\" is not a string", key);
    *out = v->valuestring;
    return 0;
}

static int get_double(ctx *x, const cJSON *obj, const char *key, double dflt, double *out)
{
    const cJSON *v = get(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return 0;
    }
    if (!is_num(v))
        return bad(x, "\"%s\" is not a number", key);
    *out = num(v);
    return 0;
}

/* A BenchmarkMetric {mean, std, values} plus our summary keys; those that
 * are missing (llama-benchy's JSON) are computed from the values. */
static int get_metric(ctx *x, const cJSON *obj, const char *key, results_metric *m)
{
    memset(m, 0, sizeof *m);
    const cJSON *v = get(obj, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return bad(x, "\"%s\" is not an object or null", key);
    const cJSON *vals = get(v, "values");
    if (vals && !cJSON_IsArray(vals) && !cJSON_IsNull(vals))
        return bad(x, "\"%s.values\" is not a list", key);
    size_t n = cJSON_IsArray(vals) ? (size_t)cJSON_GetArraySize(vals) : 0;
    m->values = n ? xmalloc(n * sizeof(double)) : NULL;
    const cJSON *it;
    if (n)
        cJSON_ArrayForEach(it, vals)
        {
            if (!is_num(it))
                return bad(x, "\"%s.values\" holds a value that is not a number", key);
            m->values[m->n++] = num(it);
        }
    m->present = true;
    double *fields[] = {&m->mean, &m->std, &m->std_sample, &m->median, &m->p50,
                        &m->p90,  &m->p95, &m->p99,        &m->min,    &m->max};
    static const char *const names[] = {"mean", "std", "std_sample", "median", "p50",
                                        "p90",  "p95", "p99",        "min",    "max"};
    const double *s = m->values;
    double computed[] = {stats_mean(s, n),           stats_std_pop(s, n),
                         stats_std_sample(s, n),     stats_percentile(s, n, 50),
                         stats_percentile(s, n, 50), stats_percentile(s, n, 90),
                         stats_percentile(s, n, 95), stats_percentile(s, n, 99),
                         stats_percentile(s, n, 0),  stats_percentile(s, n, 100)};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const cJSON *f = get(v, names[i]);
        if (f && !cJSON_IsNull(f) && !is_num(f))
            return bad(x, "\"%s.%s\" is not a number", key, names[i]);
        *fields[i] = f && is_num(f) ? num(f) : n ? computed[i] : NAN;
    }
    return 0;
}

/* [[t, v], ...] */
static int get_series(ctx *x, const cJSON *v, const char *key, results_series *s)
{
    memset(s, 0, sizeof *s);
    if (cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return bad(x, "\"%s\" holds a series that is not a list", key);
    size_t n = (size_t)cJSON_GetArraySize(v);
    s->t_s = n ? xmalloc(n * sizeof(double)) : NULL;
    s->value = n ? xmalloc(n * sizeof(double)) : NULL;
    const cJSON *pt;
    cJSON_ArrayForEach(pt, v)
    {
        if (!cJSON_IsArray(pt) || cJSON_GetArraySize(pt) != 2 ||
            !is_num(cJSON_GetArrayItem(pt, 0)) || !is_num(cJSON_GetArrayItem(pt, 1)))
            return bad(x, "\"%s\" holds a point that is not [time, value]", key);
        s->t_s[s->n] = num(cJSON_GetArrayItem(pt, 0));
        s->value[s->n] = num(cJSON_GetArrayItem(pt, 1));
        s->n++;
    }
    return 0;
}

static int get_series_list(ctx *x, const cJSON *v, const char *key, results_series_list *l)
{
    memset(l, 0, sizeof *l);
    if (!cJSON_IsArray(v))
        return bad(x, "\"%s\" is not a list or null", key);
    size_t n = (size_t)cJSON_GetArraySize(v);
    l->items = n ? xcalloc(n, sizeof *l->items) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        l->n++; /* counted first: a half-read series is still freed */
        if (get_series(x, it, key, &l->items[l->n - 1]))
            return -1;
    }
    return 0;
}

static const char *const COUNT_SOURCES[] = {"token_ids", "usage_per_event", "usage_spread",
                                            "events (estimate)", "none"};

/* results_run.count_source points at static text. */
static const char *static_count_source(const char *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < sizeof COUNT_SOURCES / sizeof COUNT_SOURCES[0]; i++)
        if (strcmp(s, COUNT_SOURCES[i]) == 0)
            return COUNT_SOURCES[i];
    return "unknown";
}

static int get_request(ctx *x, const cJSON *o, results_request *q)
{
    if (!cJSON_IsObject(o))
        return bad(x, "a \"requests\" entry is not an object");
    int64_t v[5];
    static const char *const ns_keys[] = {"start_ns", "first_response_ns", "first_token_ns",
                                          "last_token_ns", "end_ns"};
    for (int i = 0; i < 5; i++)
        if (get_i64(x, o, ns_keys[i], 0, &v[i]))
            return -1;
    q->start_ns = v[0];
    q->first_response_ns = v[1];
    q->first_token_ns = v[2];
    q->last_token_ns = v[3];
    q->end_ns = v[4];
    int events = 0;
    const char *id = NULL, *error = NULL, *kind = NULL;
    if (get_int(x, o, "run", 0, 0, &q->batch) ||
        get_int(x, o, "prompt_tokens", -1, 0, &q->prompt_tokens) ||
        get_int(x, o, "completion_tokens", -1, 0, &q->completion_tokens) ||
        get_int(x, o, "cached_tokens", -1, 0, &q->cached_tokens) ||
        get_int(x, o, "tokens", 0, 0, &q->tokens) || get_int(x, o, "events", 0, 0, &events) ||
        get_str(x, o, "id", &id) || get_str(x, o, "error", &error) ||
        get_str(x, o, "error_kind", &kind))
        return -1;
    q->error_kind = kind ? xstrdup(kind) : NULL;
    q->events = events < 0 ? 0 : (size_t)events;
    q->id = id ? xstrdup(id) : NULL;
    q->error = error ? xstrdup(error) : NULL;
    return 0;
}

/* Keys of a benchmarks entry that have a results_run field; the rest go to
 * run->extra, in their order. */
static const char *const RUN_KEYS[] = {"concurrency",
                                       "context_size",
                                       "prompt_size",
                                       "response_size",
                                       "is_context_prefill_phase",
                                       "pp_throughput",
                                       "pp_req_throughput",
                                       "tg_throughput",
                                       "tg_req_throughput",
                                       "peak_throughput",
                                       "peak_req_throughput",
                                       "ttfr",
                                       "est_ppt",
                                       "e2e_ttft",
                                       "throughput_over_time",
                                       "requests_throughput_over_time",
                                       "ttft",
                                       "ttfc",
                                       "itl",
                                       "peak_1s_throughput",
                                       "peak_1s_req_throughput",
                                       "pp_marginal_throughput",
                                       "prompt_tokens",
                                       "cached_tokens",
                                       "server_pp_throughput",
                                       "server_tg_throughput",
                                       "count_source",
                                       "prompt_count_source",
                                       "expected_pp_tokens",
                                       "n_requests",
                                       "n_errors",
                                       "early_role_chunks",
                                       "requests",
                                       "failures"};

static const char *const META_KEYS[] = {"version",         "timestamp",  "latency_mode",
                                        "latency_ms",      "model",      "prefix_caching_enabled",
                                        "max_concurrency", "benchmarks", "prompt_count_source"};

static int known(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return 0;
}

/* Moves the items of obj whose keys are not in keys into a new object;
 * NULL when there are none. */
static cJSON *take_unknown(cJSON *obj, const char *const *keys, size_t n)
{
    cJSON *extra = NULL;
    cJSON *it = obj->child;
    while (it) {
        cJSON *next = it->next;
        if (it->string && !known(it->string, keys, n)) {
            if (!extra)
                extra = cJSON_CreateObject();
            cJSON_DetachItemViaPointer(obj, it);
            cJSON_AddItemToObject(extra, it->string, it);
        }
        it = next;
    }
    return extra;
}

/* {"count": N, "reasons": {kind: count, ...}, "examples": [text, ...]} */
static int get_failures(ctx *x, const cJSON *o, results_failures *f)
{
    const cJSON *v = get(o, "failures");
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return bad(x, "\"failures\" is not an object");
    if (get_int(x, v, "count", 0, 0, &f->count))
        return -1;
    const cJSON *reasons = get(v, "reasons"), *it;
    if (reasons && !cJSON_IsObject(reasons))
        return bad(x, "\"failures.reasons\" is not an object");
    size_t n = reasons ? (size_t)cJSON_GetArraySize(reasons) : 0;
    f->kinds = n ? xcalloc(n, sizeof *f->kinds) : NULL;
    if (n)
        cJSON_ArrayForEach(it, reasons)
        {
            if (!cJSON_IsNumber(it))
                return bad(x, "\"failures.reasons\" holds a count that is not an integer");
            if (fabs(it->valuedouble) > 2147483647)
                return bad(x, "\"failures.reasons\" holds a count that is out of range");
            f->kinds[f->n_kinds].kind = xstrdup(it->string ? it->string : "");
            f->kinds[f->n_kinds].count = (int)it->valuedouble;
            f->n_kinds++;
        }
    const cJSON *ex = get(v, "examples");
    if (ex && !cJSON_IsArray(ex))
        return bad(x, "\"failures.examples\" is not a list");
    if (ex)
        cJSON_ArrayForEach(it, ex)
        {
            if (!cJSON_IsString(it))
                return bad(x, "\"failures.examples\" holds a value that is not a string");
            if (f->n_examples < RESULTS_FAILURE_EXAMPLES)
                f->examples[f->n_examples++] = xstrdup(it->valuestring);
        }
    return 0;
}

static int get_run(ctx *x, cJSON *o, results_run *run)
{
    memset(run, 0, sizeof *run);
    if (!cJSON_IsObject(o))
        return bad(x, "not an object");
    if (get_int(x, o, "concurrency", 0, 1, &run->concurrency) ||
        get_int(x, o, "context_size", 0, 1, &run->context_size) ||
        get_int(x, o, "prompt_size", 0, 1, &run->prompt_size) ||
        get_int(x, o, "response_size", 0, 1, &run->response_size) ||
        get_bool(x, o, "is_context_prefill_phase", &run->is_context_prefill_phase))
        return -1;
    struct {
        const char *key;
        results_metric *m;
    } metrics[] = {
        {"pp_throughput", &run->pp_throughput},
        {"pp_req_throughput", &run->pp_req_throughput},
        {"tg_throughput", &run->tg_throughput},
        {"tg_req_throughput", &run->tg_req_throughput},
        {"peak_throughput", &run->peak_throughput},
        {"peak_req_throughput", &run->peak_req_throughput},
        {"ttfr", &run->ttfr},
        {"est_ppt", &run->est_ppt},
        {"e2e_ttft", &run->e2e_ttft},
        {"ttft", &run->ttft},
        {"ttfc", &run->ttfc},
        {"itl", &run->itl},
        {"peak_1s_throughput", &run->peak_1s},
        {"peak_1s_req_throughput", &run->peak_1s_req},
        {"pp_marginal_throughput", &run->pp_marginal},
        {"prompt_tokens", &run->prompt_tokens},
        {"cached_tokens", &run->cached_tokens},
        {"server_pp_throughput", &run->server_pp},
        {"server_tg_throughput", &run->server_tg},
    };
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (get_metric(x, o, metrics[i].key, metrics[i].m))
            return -1;

    const cJSON *tot = get(o, "throughput_over_time");
    if (tot && !cJSON_IsNull(tot)) {
        run->has_total_series = true;
        if (get_series_list(x, tot, "throughput_over_time", &run->total_series))
            return -1;
    }
    const cJSON *req = get(o, "requests_throughput_over_time");
    if (req && !cJSON_IsNull(req)) {
        if (!cJSON_IsArray(req))
            return bad(x, "\"requests_throughput_over_time\" is not a list or null");
        run->has_req_series = true;
        size_t n = (size_t)cJSON_GetArraySize(req);
        run->req_series = n ? xcalloc(n, sizeof *run->req_series) : NULL;
        const cJSON *it;
        cJSON_ArrayForEach(it, req)
        {
            run->n_req_series++;
            if (get_series_list(x, it, "requests_throughput_over_time",
                                &run->req_series[run->n_req_series - 1]))
                return -1;
        }
    }

    const char *cs, *pcs;
    if (get_str(x, o, "count_source", &cs) || get_str(x, o, "prompt_count_source", &pcs) ||
        get_int(x, o, "expected_pp_tokens", 0, 0, &run->expected_pp_tokens) ||
        get_int(x, o, "n_requests", 0, 0, &run->n_requests) ||
        get_int(x, o, "n_errors", 0, 0, &run->n_errors) ||
        get_int(x, o, "early_role_chunks", 0, 0, &run->early_role_chunks))
        return -1;
    run->count_source = static_count_source(cs);
    run->prompt_count_source = pcs ? xstrdup(pcs) : NULL;

    const cJSON *rq = get(o, "requests");
    if (rq && !cJSON_IsNull(rq)) {
        if (!cJSON_IsArray(rq))
            return bad(x, "\"requests\" is not a list");
        size_t n = (size_t)cJSON_GetArraySize(rq);
        run->requests = n ? xcalloc(n, sizeof *run->requests) : NULL;
        const cJSON *it;
        cJSON_ArrayForEach(it, rq)
        {
            run->n_request_records++;
            if (get_request(x, it, &run->requests[run->n_request_records - 1]))
                return -1;
        }
    }
    if (get_failures(x, o, &run->failures))
        return -1;
    run->extra = take_unknown(o, RUN_KEYS, sizeof RUN_KEYS / sizeof RUN_KEYS[0]);
    return 0;
}

/* --percentiles columns, when the metadata names them ("percentiles": [..]):
 * the same closest-rank interpolation the runner uses. */
static void fill_percentiles(results *r)
{
    const cJSON *p = r->meta_extra ? get(r->meta_extra, "percentiles") : NULL;
    if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) == 0)
        return;
    size_t n = (size_t)cJSON_GetArraySize(p);
    r->percentiles = xmalloc(n * sizeof(double));
    const cJSON *it;
    cJSON_ArrayForEach(it, p)
    {
        if (is_num(it))
            r->percentiles[r->n_percentiles++] = num(it);
    }
    for (size_t i = 0; i < r->n_runs; i++) {
        results_run *run = &r->runs[i];
        run->pct_e2e_ttft_ms = xmalloc((r->n_percentiles + 1) * sizeof(double));
        run->pct_itl_ms = xmalloc((r->n_percentiles + 1) * sizeof(double));
        for (size_t k = 0; k < r->n_percentiles; k++) {
            double q = r->percentiles[k];
            run->pct_e2e_ttft_ms[k] =
                run->e2e_ttft.present && run->e2e_ttft.n
                    ? stats_percentile(run->e2e_ttft.values, run->e2e_ttft.n, q)
                    : NAN;
            run->pct_itl_ms[k] = run->itl.present && run->itl.n
                                     ? stats_percentile(run->itl.values, run->itl.n, q)
                                     : NAN;
        }
    }
}

static int from_tree(cJSON *root, results *r, ctx *x)
{
    if (!cJSON_IsObject(root))
        return bad(x, "not a benchmark result: the JSON is not an object");
    cJSON *benchmarks = cJSON_GetObjectItemCaseSensitive(root, "benchmarks");
    if (!cJSON_IsArray(benchmarks))
        return bad(x, "not a benchmark result: no \"benchmarks\" list");

    const cJSON *version = get(root, "version");
    if (version && !cJSON_IsNull(version)) {
        results_meta m;
        memset(&m, 0, sizeof m);
        if (get_str(x, root, "version", &m.version) ||
            get_str(x, root, "timestamp", &m.timestamp) ||
            get_str(x, root, "latency_mode", &m.latency_mode) ||
            get_double(x, root, "latency_ms", 0, &m.latency_ms) ||
            get_str(x, root, "model", &m.model) ||
            get_bool(x, root, "prefix_caching_enabled", &m.prefix_caching_enabled) ||
            get_int(x, root, "max_concurrency", 1, 0, &m.max_concurrency) ||
            get_str(x, root, "prompt_count_source", &m.prompt_count_source))
            return -1;
        results_set_meta(r, &m);
        if (m.model)
            r->row_model = xstrdup(m.model);
    }

    size_t n = (size_t)cJSON_GetArraySize(benchmarks);
    if (n) {
        r->runs = xcalloc(n, sizeof *r->runs);
        r->cap_runs = n;
    }
    int max_c = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, benchmarks)
    {
        snprintf(x->where, sizeof x->where, "benchmarks[%zu]", r->n_runs);
        int rc = get_run(x, it, &r->runs[r->n_runs]);
        r->n_runs++; /* a half-read run is still freed by results_free */
        if (rc)
            return -1;
        if (r->runs[r->n_runs - 1].concurrency > max_c)
            max_c = r->runs[r->n_runs - 1].concurrency;
    }
    x->where[0] = '\0';
    if (!r->version)
        r->max_concurrency = max_c; /* no metadata: the table's columns follow the runs */
    r->meta_extra = take_unknown(root, META_KEYS, sizeof META_KEYS / sizeof META_KEYS[0]);
    fill_percentiles(r);
    return 0;
}

int reload_json(const char *text, size_t len, results *r, char *err, size_t err_size)
{
    results_init(r);
    cJSON *root = parse_text(text, len, err, err_size);
    if (!root)
        return -1;
    ctx x = {err, err_size, ""};
    int rc = from_tree(root, r, &x);
    cJSON_Delete(root);
    return rc;
}

int reload_file(const char *path, results *r, char *err, size_t err_size)
{
    results_init(r);
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open: %s", strerror(errno));
        return -1;
    }
    buf text;
    buf_init(&text, RELOAD_MAX_BYTES);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&text, chunk, n)) {
            snprintf(err, err_size, "larger than %zu bytes", RELOAD_MAX_BYTES);
            rc = -1;
            break;
        }
    if (!rc && ferror(f)) {
        snprintf(err, err_size, "cannot read: %s", strerror(errno));
        rc = -1;
    }
    if (!is_stdin)
        fclose(f);
    if (!rc && text.len == 0) {
        snprintf(err, err_size, "empty file");
        rc = -1;
    }
    if (!rc)
        rc = reload_json(text.data, text.len, r, err, err_size);
    buf_free(&text);
    return rc;
}
