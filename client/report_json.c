/* The JSON report: llama-benchy's json.dumps(indent=2) layout and key order,
 * then our extras under new keys. Also Python-compatible float formatting,
 * shared with the CSV writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../common/buf.h"
#include "report.h"

size_t report_pyfloat(double v, char *out, size_t size)
{
    if (isnan(v))
        return (size_t)snprintf(out, size, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, size, v < 0 ? "-Infinity" : "Infinity");
    if (v == 0)
        return (size_t)snprintf(out, size, signbit(v) ? "-0.0" : "0.0");
    /* Shortest digit string that reads back to v. */
    char e[40];
    for (int prec = 0; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    const char *p = e;
    int neg = *p == '-';
    if (neg)
        p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    int exp10 = (int)strtol(p + 1, NULL, 10);
    int decpt = exp10 + 1; /* digits are 0.d1d2... x 10^decpt */

    char tmp[64];
    size_t n = 0;
    if (neg)
        tmp[n++] = '-';
    if (decpt > 16 || decpt < -3) {
        tmp[n++] = digits[0];
        if (nd > 1) {
            tmp[n++] = '.';
            memcpy(tmp + n, digits + 1, nd - 1);
            n += nd - 1;
        }
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "e%c%02d", exp10 < 0 ? '-' : '+',
                              exp10 < 0 ? -exp10 : exp10);
    } else if (decpt <= 0) {
        tmp[n++] = '0';
        tmp[n++] = '.';
        for (int k = 0; k < -decpt; k++)
            tmp[n++] = '0';
        memcpy(tmp + n, digits, nd);
        n += nd;
    } else if ((size_t)decpt >= nd) {
        memcpy(tmp + n, digits, nd);
        n += nd;
        for (size_t k = nd; k < (size_t)decpt; k++)
            tmp[n++] = '0';
        tmp[n++] = '.';
        tmp[n++] = '0';
    } else {
        memcpy(tmp + n, digits, (size_t)decpt);
        n += (size_t)decpt;
        tmp[n++] = '.';
        memcpy(tmp + n, digits + decpt, nd - (size_t)decpt);
        n += nd - (size_t)decpt;
    }
    tmp[n] = '\0';
    return (size_t)snprintf(out, size, "%s", tmp);
}

/* A minimal writer for json.dumps(indent=2) output. */
typedef struct jw {
    buf *out;
    int depth;
    int first[64]; /* per open container: no item written yet */
} jw;

static void indent(jw *w, int depth)
{
    buf_append_str(w->out, "\n");
    for (int i = 0; i < depth; i++)
        buf_append_str(w->out, "  ");
}

/* Python json.dumps(ensure_ascii=True) string escaping. */
static void put_string(jw *w, const char *s)
{
    buf_append_str(w->out, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            switch (c) {
            case '"': buf_append_str(w->out, "\\\""); break;
            case '\\': buf_append_str(w->out, "\\\\"); break;
            case '\n': buf_append_str(w->out, "\\n"); break;
            case '\r': buf_append_str(w->out, "\\r"); break;
            case '\t': buf_append_str(w->out, "\\t"); break;
            case '\b': buf_append_str(w->out, "\\b"); break;
            case '\f': buf_append_str(w->out, "\\f"); break;
            default:
                if (c < 0x20)
                    buf_printf(w->out, "\\u%04x", c);
                else
                    buf_append(w->out, p, 1);
            }
            p++;
            continue;
        }
        /* Decode one UTF-8 sequence; a bad byte becomes U+FFFD. */
        unsigned cp = 0xFFFD;
        size_t len = 1;
        if ((c & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
            cp = ((c & 0x1F) << 6) | (p[1] & 0x3F);
            len = 2;
        } else if ((c & 0xF0) == 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
            cp = ((c & 0x0F) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3F);
            len = 3;
        } else if ((c & 0xF8) == 0xF0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
                   (p[3] & 0xC0) == 0x80) {
            cp = ((c & 0x07) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
                 (p[3] & 0x3F);
            len = 4;
        }
        /* Only the shortest form of a scalar value is UTF-8 (RFC 3629): an
         * overlong form, a surrogate or a value past U+10FFFF would print as
         * an escape of other text (an overlong NUL as \u0000). */
        static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (len > 1 && (cp < min_cp[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) {
            cp = 0xFFFD;
            len = 1;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            buf_printf(w->out, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else {
            buf_printf(w->out, "\\u%04x", cp);
        }
        p += len;
    }
    buf_append_str(w->out, "\"");
}

static void item(jw *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth])
            buf_append_str(w->out, ",");
        w->first[w->depth] = 0;
        indent(w, w->depth);
    }
    if (key) {
        put_string(w, key);
        buf_append_str(w->out, ": ");
    }
}

static void open_c(jw *w, const char *key, const char *bracket)
{
    item(w, key);
    buf_append_str(w->out, bracket);
    w->depth++;
    w->first[w->depth] = 1;
}

static void close_c(jw *w, const char *bracket)
{
    int empty = w->first[w->depth];
    w->depth--;
    if (!empty)
        indent(w, w->depth);
    buf_append_str(w->out, bracket);
}

static void j_num(jw *w, const char *key, double v)
{
    char s[64];
    item(w, key);
    report_pyfloat(v, s, sizeof s);
    buf_append_str(w->out, s);
}

static void j_int(jw *w, const char *key, long long v)
{
    item(w, key);
    buf_printf(w->out, "%lld", v);
}

static void j_raw(jw *w, const char *key, const char *literal)
{
    item(w, key);
    buf_append_str(w->out, literal);
}

static void j_str(jw *w, const char *key, const char *s)
{
    item(w, key);
    if (s)
        put_string(w, s);
    else
        buf_append_str(w->out, "null");
}

static void j_opt_int(jw *w, const char *key, long long v)
{
    if (v < 0)
        j_raw(w, key, "null");
    else
        j_int(w, key, v);
}

static void j_metric(jw *w, const char *key, const results_metric *m, int extras)
{
    if (!m->present) {
        j_raw(w, key, "null");
        return;
    }
    open_c(w, key, "{");
    j_num(w, "mean", m->mean);
    j_num(w, "std", m->std);
    open_c(w, "values", "[");
    for (size_t i = 0; i < m->n; i++)
        j_num(w, NULL, m->values[i]);
    close_c(w, "]");
    if (extras) {
        j_num(w, "std_sample", m->std_sample);
        j_num(w, "median", m->median);
        j_num(w, "p50", m->p50);
        j_num(w, "p90", m->p90);
        j_num(w, "p95", m->p95);
        j_num(w, "p99", m->p99);
        j_num(w, "min", m->min);
        j_num(w, "max", m->max);
    }
    close_c(w, "}");
}

static void j_series(jw *w, const char *key, const results_series *s)
{
    open_c(w, key, "[");
    for (size_t i = 0; i < s->n; i++) {
        open_c(w, NULL, "[");
        j_num(w, NULL, s->t_s[i]);
        j_num(w, NULL, s->value[i]);
        close_c(w, "]");
    }
    close_c(w, "]");
}

/* Prints the items of an extras object (results_run.extra, meta_extra):
 * raw items verbatim (preformatted floats), other numbers as integers. */
static void j_cjson_items(jw *w, const cJSON *obj);

static void j_cjson(jw *w, const char *key, const cJSON *v)
{
    if (w->depth >= 60 || cJSON_IsNull(v) || cJSON_IsInvalid(v)) {
        j_raw(w, key, "null");
    } else if (cJSON_IsRaw(v)) {
        j_raw(w, key, v->valuestring);
    } else if (cJSON_IsBool(v)) {
        j_raw(w, key, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
        if (fabs(v->valuedouble) < 9e15 && v->valuedouble == (double)(long long)v->valuedouble)
            j_int(w, key, (long long)v->valuedouble);
        else
            j_num(w, key, v->valuedouble);
    } else if (cJSON_IsString(v)) {
        j_str(w, key, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        open_c(w, key, "[");
        const cJSON *it;
        cJSON_ArrayForEach(it, v) j_cjson(w, NULL, it);
        close_c(w, "]");
    } else {
        open_c(w, key, "{");
        j_cjson_items(w, v);
        close_c(w, "}");
    }
}

static void j_cjson_items(jw *w, const cJSON *obj)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) j_cjson(w, it->string, it);
}

static void j_run(jw *w, const results_run *run)
{
    open_c(w, NULL, "{");
    j_int(w, "concurrency", run->concurrency);
    j_int(w, "context_size", run->context_size);
    j_int(w, "prompt_size", run->prompt_size);
    j_int(w, "response_size", run->response_size);
    j_raw(w, "is_context_prefill_phase", run->is_context_prefill_phase ? "true" : "false");
    j_metric(w, "pp_throughput", &run->pp_throughput, 1);
    j_metric(w, "pp_req_throughput", &run->pp_req_throughput, 1);
    j_metric(w, "tg_throughput", &run->tg_throughput, 1);
    j_metric(w, "tg_req_throughput", &run->tg_req_throughput, 1);
    j_metric(w, "peak_throughput", &run->peak_throughput, 1);
    j_metric(w, "peak_req_throughput", &run->peak_req_throughput, 1);
    j_metric(w, "ttfr", &run->ttfr, 1);
    j_metric(w, "est_ppt", &run->est_ppt, 1);
    j_metric(w, "e2e_ttft", &run->e2e_ttft, 1);
    if (run->has_total_series) {
        open_c(w, "throughput_over_time", "[");
        for (size_t i = 0; i < run->total_series.n; i++)
            j_series(w, NULL, &run->total_series.items[i]);
        close_c(w, "]");
    } else {
        j_raw(w, "throughput_over_time", "null");
    }
    if (run->has_req_series) {
        open_c(w, "requests_throughput_over_time", "[");
        for (size_t b = 0; b < run->n_req_series; b++) {
            open_c(w, NULL, "[");
            for (size_t i = 0; i < run->req_series[b].n; i++)
                j_series(w, NULL, &run->req_series[b].items[i]);
            close_c(w, "]");
        }
        close_c(w, "]");
    } else {
        j_raw(w, "requests_throughput_over_time", "null");
    }

    /* Extras. */
    j_metric(w, "ttft", &run->ttft, 1);
    j_metric(w, "ttfc", &run->ttfc, 1);
    j_metric(w, "itl", &run->itl, 1);
    j_metric(w, "peak_1s_throughput", &run->peak_1s, 1);
    j_metric(w, "peak_1s_req_throughput", &run->peak_1s_req, 1);
    j_metric(w, "pp_marginal_throughput", &run->pp_marginal, 1);
    j_metric(w, "prompt_tokens", &run->prompt_tokens, 1);
    j_metric(w, "cached_tokens", &run->cached_tokens, 1);
    j_metric(w, "server_pp_throughput", &run->server_pp, 1);
    j_metric(w, "server_tg_throughput", &run->server_tg, 1);
    j_str(w, "count_source", run->count_source);
    j_str(w, "prompt_count_source", run->prompt_count_source);
    j_int(w, "expected_pp_tokens", run->expected_pp_tokens);
    j_int(w, "n_requests", run->n_requests);
    j_int(w, "n_errors", run->n_errors);
    j_int(w, "early_role_chunks", run->early_role_chunks);
    open_c(w, "requests", "[");
    for (size_t i = 0; i < run->n_request_records; i++) {
        const results_request *q = &run->requests[i];
        open_c(w, NULL, "{");
        j_int(w, "run", q->batch);
        j_str(w, "id", q->id);
        j_int(w, "start_ns", q->start_ns);
        j_opt_int(w, "first_response_ns", q->first_response_ns ? q->first_response_ns : -1);
        j_opt_int(w, "first_token_ns", q->first_token_ns ? q->first_token_ns : -1);
        j_opt_int(w, "last_token_ns", q->last_token_ns ? q->last_token_ns : -1);
        j_opt_int(w, "end_ns", q->end_ns ? q->end_ns : -1);
        j_opt_int(w, "prompt_tokens", q->prompt_tokens);
        j_opt_int(w, "completion_tokens", q->completion_tokens);
        j_opt_int(w, "cached_tokens", q->cached_tokens);
        j_int(w, "tokens", q->tokens);
        j_int(w, "events", (long long)q->events);
        j_str(w, "error", q->error);
        j_str(w, "error_kind", q->error_kind);
        close_c(w, "}");
    }
    close_c(w, "]");
    if (run->extra)
        j_cjson_items(w, run->extra);
    /* Failed requests of the measured runs (docs/tokbench-usage.md, "Failures"). */
    const results_failures *f = &run->failures;
    open_c(w, "failures", "{");
    j_int(w, "count", f->count);
    open_c(w, "reasons", "{");
    for (size_t i = 0; i < f->n_kinds; i++)
        j_int(w, f->kinds[i].kind, f->kinds[i].count);
    close_c(w, "}");
    open_c(w, "examples", "[");
    for (size_t i = 0; i < f->n_examples; i++)
        j_str(w, NULL, f->examples[i]);
    close_c(w, "]");
    close_c(w, "}");
    close_c(w, "}");
}

static void render(const results *r, buf *out)
{
    jw w = {out, 0, {0}};
    open_c(&w, NULL, "{");
    if (r->version) {
        j_str(&w, "version", r->version);
        j_str(&w, "timestamp", r->timestamp);
        j_str(&w, "latency_mode", r->latency_mode);
        j_num(&w, "latency_ms", r->latency_ms);
        j_str(&w, "model", r->model);
        j_raw(&w, "prefix_caching_enabled", r->prefix_caching_enabled ? "true" : "false");
        j_int(&w, "max_concurrency", r->max_concurrency);
    }
    open_c(&w, "benchmarks", "[");
    for (size_t i = 0; i < r->n_runs; i++)
        j_run(&w, &r->runs[i]);
    close_c(&w, "]");
    if (r->version && r->prompt_count_source)
        j_str(&w, "prompt_count_source", r->prompt_count_source);
    if (r->meta_extra)
        j_cjson_items(&w, r->meta_extra);
    close_c(&w, "}");
}

static int emit(const results *r, FILE *f, int newline)
{
    buf out;
    buf_init(&out, 0);
    render(r, &out);
    int rc = buf_write_file(&out, f, newline);
    buf_free(&out);
    return rc;
}

int report_json(const results *r, FILE *f)
{
    return emit(r, f, 1);
}

int report_json_file(const results *r, FILE *f)
{
    return emit(r, f, 0);
}
