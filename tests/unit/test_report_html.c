/* Unit tests for the HTML report (client/report_html.c) and its SVG helpers
 * (client/svg.c): results built by hand are rendered and compared byte for
 * byte with the report-NAME.html files in fixtures/golden under LC_ALL=C, and the pages are checked
 * for what must hold whatever the layout: escaped server strings, nothing
 * fetched from the network, one <svg> per chart, no NaN in coordinates.
 * `test_report_html --write-golden DIR` rewrites the golden files. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../client/report.h"
#include "../../client/stats.h"
#include "../../client/svg.h"
#include "../../common/buf.h"
#include "../../common/xalloc.h"
#include "../test.h"

static const char *write_dir;

#define M(field, ...)                                                                              \
    do {                                                                                           \
        const double v_[] = {__VA_ARGS__};                                                         \
        results_metric_set(&run->field, v_, sizeof v_ / sizeof v_[0]);                                         \
    } while (0)

static results_run *add_run(results *r, int conc, int depth, int pp, int tg)
{
    if (r->n_runs == r->cap_runs) {
        r->cap_runs = r->cap_runs ? r->cap_runs * 2 : 8;
        r->runs = xrealloc(r->runs, r->cap_runs * sizeof *r->runs);
    }
    results_run *run = &r->runs[r->n_runs++];
    memset(run, 0, sizeof *run);
    run->concurrency = conc;
    run->context_size = depth;
    run->prompt_size = pp;
    run->response_size = tg;
    run->count_source = "token_ids";
    run->expected_pp_tokens = depth + pp;
    return run;
}

static cJSON *raw(const char *text)
{
    return cJSON_CreateRaw(text);
}

/* The runner's per-cell extras (client/runner.c attach_extras). */
static cJSON *load_extra(const char *rps, const char *err_rate, const char *goodput,
                         const char *p50, const char *p99)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "load_mode", "burst");
    cJSON_AddItemToObject(x, "requests_per_second", raw(rps));
    cJSON_AddItemToObject(x, "error_rate", raw(err_rate));
    cJSON_AddItemToObject(x, "goodput", goodput ? raw(goodput) : cJSON_CreateNull());
    cJSON *e = cJSON_AddObjectToObject(x, "e2el");
    cJSON_AddItemToObject(e, "p50", raw(p50));
    cJSON_AddItemToObject(e, "p99", raw(p99));
    return x;
}

static void add_requests(results_run *run, int64_t t0_ns, int errors)
{
    size_t n = (size_t)run->concurrency * 2;
    run->requests = xcalloc(n, sizeof *run->requests);
    run->n_request_records = n;
    for (size_t i = 0; i < n; i++) {
        results_request *q = &run->requests[i];
        int batch = (int)(i / (size_t)run->concurrency);
        int64_t start = t0_ns + batch * 3000000000LL + (int64_t)i * 1000000;
        char id[32];
        snprintf(id, sizeof id, "chatcmpl-%zu", i);
        q->batch = batch;
        q->id = xstrdup(id);
        q->start_ns = start;
        q->prompt_tokens = q->completion_tokens = q->cached_tokens = -1;
        if (errors && i == 1) {
            q->end_ns = start + 5000000;
            q->error = xstrdup("HTTP 500: <boom>");
            continue;
        }
        q->first_response_ns = start + 200000000 + (int64_t)i * 50000000;
        q->first_token_ns = q->first_response_ns;
        q->last_token_ns = q->first_token_ns + 1500000000;
        q->end_ns = q->last_token_ns + 1000000;
        q->tokens = 64;
        q->completion_tokens = 64;
        q->events = 64;
    }
    run->n_requests = (int)n;
    run->n_errors = errors ? 1 : 0;
}

/* 2 depths x 2 concurrencies, request records, load extras, an SLO breach,
 * a --percentiles column and a model name that must be escaped. */
static void build_full(results *r)
{
    results_init(r);
    results_meta meta = {
        "0.4.0", "2026-01-05 10:00:00", "api", 1.25, "mock<script>alert('x')</script> & co", false,
        2,       "server_tokenize"};
    results_set_meta(r, &meta);
    r->row_model = xstrdup(meta.model);
    r->meta_extra = cJSON_CreateObject();
    cJSON_AddStringToObject(r->meta_extra, "tokbench_version", "0.1.0");
    cJSON_AddStringToObject(r->meta_extra, "prompt_count_method", "tokenize_pieces");
    cJSON_AddStringToObject(r->meta_extra, "load_mode", "burst");
    cJSON *slo = cJSON_AddObjectToObject(r->meta_extra, "slo");
    cJSON_AddStringToObject(slo, "spec", "e2e_ttft_p99<300,tg_p50>30");
    cJSON *br = cJSON_AddArrayToObject(slo, "breaches");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "objective", "e2e_ttft p99 < 300 ms");
    cJSON_AddStringToObject(b, "test", "pp512 @ d4096 (c2)");
    cJSON_AddItemToObject(b, "value", raw("351.25"));
    cJSON_AddItemToArray(br, b);
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "objective", "tg p50 > 30 t/s");
    cJSON_AddStringToObject(b, "test", "pp512 @ d4096 (c2)");
    cJSON_AddNullToObject(b, "value");
    cJSON_AddItemToArray(br, b);
    cJSON_AddFalseToObject(slo, "met");
    /* Capacity answers, in the runner's shape. */
    cJSON *sweeps = cJSON_AddArrayToObject(r->meta_extra, "context_sweep");
    cJSON *sw = cJSON_CreateObject();
    cJSON_AddNumberToObject(sw, "pp", 512);
    cJSON_AddNumberToObject(sw, "tg", 64);
    cJSON_AddNumberToObject(sw, "concurrency", 2);
    cJSON_AddNullToObject(sw, "recommended_depth");
    cJSON *cliff = cJSON_CreateObject();
    cJSON_AddNumberToObject(cliff, "from_depth", 0);
    cJSON_AddNumberToObject(cliff, "to_depth", 4096);
    cJSON_AddItemToObject(cliff, "drop", raw("0.333"));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(sw, "cliffs"), cliff);
    cJSON_AddItemToArray(sweeps, sw);
    cJSON *knee = cJSON_CreateObject();
    cJSON_AddNumberToObject(knee, "depth", 4096);
    cJSON_AddNumberToObject(knee, "pp", 512);
    cJSON_AddNumberToObject(knee, "tg", 64);
    cJSON_AddNumberToObject(knee, "knee_concurrency", 2);
    cJSON_AddStringToObject(knee, "reason", "latency");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r->meta_extra, "concurrency_knee"), knee);
    r->percentiles = xmalloc(sizeof(double));
    r->percentiles[0] = 95;
    r->n_percentiles = 1;

    static const int depths[] = {0, 4096};
    static const int concs[] = {1, 2};
    for (int d = 0; d < 2; d++)
        for (int c = 0; c < 2; c++) {
            results_run *run = add_run(r, concs[c], depths[d], 512, 64);
            double k = 1.0 + d * 0.5 + c * 0.25;
            M(pp_throughput, 2000 * (c + 1) / k, 1900 * (c + 1) / k);
            M(pp_req_throughput, 2000 / k, 1900 / k);
            M(tg_throughput, 40.0 * (c + 1) / k, 41.5 * (c + 1) / k);
            M(tg_req_throughput, 40.0 / k, 41.5 / k);
            M(peak_throughput, 45.0 * (c + 1) / k);
            M(peak_req_throughput, 45.0 / k);
            M(ttfr, 150 * k, 180 * k, 210 * k);
            M(est_ppt, 149 * k, 179 * k, 209 * k);
            M(e2e_ttft, 150 * k, 180 * k, 240 * k);
            M(itl, 24.0, 25.0, 26.5);
            run->pct_e2e_ttft_ms = xmalloc(sizeof(double));
            run->pct_itl_ms = xmalloc(sizeof(double));
            run->pct_e2e_ttft_ms[0] = run->e2e_ttft.p95;
            run->pct_itl_ms[0] = run->itl.p95;
            add_requests(run, 1000000000LL * (1 + d * 10 + c), c == 1 && d == 1);
            if (c == 1 && d == 1)
                results_failures_add(&run->failures, "http_500", "HTTP 500: <boom>");
            run->extra = load_extra(c ? "4.5" : "2.25", c && d ? "0.25" : "0.0",
                                    c && d ? "0.5" : "1.0", "1712.5", "1790.25");
        }
}

/* One cell, no extras, no request records (like a llama-benchy JSON). */
static void build_one_cell(results *r)
{
    results_init(r);
    results_meta meta = {"0.4.0", "2026-01-05 11:00:00", "generation", 40.0, "solo", false, 1,
                         NULL};
    results_set_meta(r, &meta);
    r->row_model = xstrdup("solo");
    results_run *run = add_run(r, 1, 0, 2048, 32);
    M(pp_throughput, 2019.02);
    M(pp_req_throughput, 2019.02);
    M(tg_throughput, 52.94);
    M(tg_req_throughput, 52.94);
    M(peak_throughput, 55.1);
    M(peak_req_throughput, 55.1);
    M(ttfr, 1054.64);
    M(est_ppt, 1014.66);
    M(e2e_ttft, 1115.41);
}

/* Absent and NaN metrics: a burst without a decode rate, a cell whose every
 * request failed, NaN means; none may leak "nan" into the SVG. */
static void build_nan(results *r)
{
    results_init(r);
    results_meta meta = {"0.4.0", "2026-01-05 12:00:00", "none", 0.0, "gaps", false, 4, NULL};
    results_set_meta(r, &meta);
    r->row_model = xstrdup("gaps");
    results_run *run = add_run(r, 1, 0, 128, 1);
    M(pp_throughput, 3000.0);
    M(pp_req_throughput, 3000.0);
    M(peak_throughput, 130.0);
    M(peak_req_throughput, 130.0);
    M(ttfr, 40.0);
    M(est_ppt, 39.0);
    M(e2e_ttft, NAN);
    run = add_run(r, 4, 0, 128, 1);
    M(pp_throughput, NAN, 1.0);
    M(tg_throughput, INFINITY);
    run->n_requests = 4;
    run->n_errors = 4;
    run->requests = xcalloc(1, sizeof *run->requests);
    run->n_request_records = 1;
    run->requests[0] =
        (results_request){0, NULL, 5, 0, 0, 0, 9, -1, -1, -1, 0, 0, xstrdup("connect_error"), NULL};
    run->extra = cJSON_CreateObject();
    cJSON_AddNullToObject(run->extra, "goodput");
    cJSON_AddStringToObject(run->extra, "e2el", "not an object");
}

static char *render(const results *r, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    CHECK_INT_EQ(report_html(r, f), 0);
    fclose(f);
    if (len)
        *len = n;
    return text;
}

static void compare_golden(const char *text, size_t len, const char *name)
{
    char path[512];
    if (write_dir) {
        snprintf(path, sizeof path, "%s/%s", write_dir, name);
        FILE *g = fopen(path, "wb");
        if (g) {
            fwrite(text, 1, len, g);
            fclose(g);
        }
        return;
    }
    const char *prefixes[] = {"", "../../", "../"};
    FILE *g = NULL;
    for (size_t i = 0; i < 3 && !g; i++) {
        snprintf(path, sizeof path, "%sfixtures/golden/%s", prefixes[i], name);
        g = fopen(path, "rb");
    }
    CHECK(g != NULL);
    if (!g)
        return;
    buf want;
    buf_init(&want, 0);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, g)) > 0)
        buf_append(&want, tmp, n);
    fclose(g);
    if (want.len != len || memcmp(want.data, text, len) != 0) {
        size_t at = 0;
        while (at < len && at < want.len && text[at] == want.data[at])
            at++;
        TEST_FAIL_AT_("%s differs from the golden file at byte %zu (got %zu bytes, want %zu)", name,
                      at, len, want.len);
    }
    buf_free(&want);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* What every page must satisfy: one document, nothing loaded from
 * elsewhere, no script. */
static void check_self_contained(const char *html)
{
    CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    CHECK_INT_EQ(count(html, "</html>\n"), 1);
    CHECK_INT_EQ(count(html, "<script"), 0);
    CHECK_INT_EQ(count(html, "src="), 0);
    CHECK_INT_EQ(count(html, "href="), 0);
    CHECK_INT_EQ(count(html, "url("), 0);
    CHECK_INT_EQ(count(html, "@import"), 0);
    /* The only URL is the SVG namespace name, which is never fetched. */
    CHECK_INT_EQ(count(html, "://"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
}

TEST(html_full_matrix)
{
    results r;
    build_full(&r);
    size_t len;
    char *html = render(&r, &len);
    compare_golden(html, len, "report-full.html");
    check_self_contained(html);
    CHECK_INT_EQ(count(html, "<svg "), 4);
    CHECK(strstr(html, "id=\"chart-pp\"") && strstr(html, "id=\"chart-tg\""));
    CHECK(strstr(html, "id=\"chart-ttft\"") && strstr(html, "id=\"chart-timeline\""));
    /* The server-given model name is escaped everywhere it appears. */
    CHECK_INT_EQ(count(html, "mock&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"),
                 1 + 1 + 1 + 8); /* <title>, subtitle, metadata, 8 table rows */
    CHECK_INT_EQ(count(html, "<tr class=\"pp\">"), 4);
    CHECK_INT_EQ(count(html, "<tr class=\"tg\">"), 4);
    CHECK(strstr(html, "<th>e2e_ttft p95 (ms)</th>") != NULL);
    CHECK(strstr(html, "SLO breached") != NULL);
    CHECK(strstr(html, "<td>351.2</td>") != NULL);
    CHECK(strstr(html, "<td>not measured</td>") != NULL);
    CHECK(strstr(html, "<td>50.00 %</td>") != NULL); /* goodput of the breaching cell */
    /* One line per concurrency on the throughput charts, p50/p90/p99 per
     * depth on the TTFT chart, one line per successful request of the
     * first run of the last c2 cell (2 requests, 1 failed). */
    CHECK(strstr(html, "<title>c1</title>") && strstr(html, "<title>c2</title>"));
    CHECK(strstr(html, "<title>p99 d4096</title>") != NULL);
    CHECK(strstr(html, "Per-request token timeline: tg64 @ d4096 (c2)") != NULL);
    CHECK_INT_EQ(count(html, "<title>request "), 1);
    CHECK(strstr(html, "(2 request(s), 1 failed") != NULL);
    CHECK(strstr(html, "http_500 &times;1<br><span class=\"sub\">HTTP 500: &lt;boom&gt;") != NULL);
    CHECK(strstr(html, "Recommended max context (pp512, tg64, c2): <b>none</b>") != NULL);
    CHECK(strstr(html, "tg drops 33% from depth 0 to 4096") != NULL);
    CHECK(strstr(html, "<b>c2</b> (p95 request latency above twice p50)") != NULL);
    free(html);
    results_free(&r);
}

TEST(html_one_cell)
{
    results r;
    build_one_cell(&r);
    size_t len;
    char *html = render(&r, &len);
    compare_golden(html, len, "report-one-cell.html");
    check_self_contained(html);
    CHECK_INT_EQ(count(html, "<svg "), 4);
    CHECK_INT_EQ(count(html, "<circle "), 2 + 3); /* a point per line: pp, tg, 3 TTFT lines */
    CHECK(strstr(html, "no per-request records") != NULL);
    CHECK(strstr(html, "No objectives were given") != NULL);
    CHECK(strstr(html, "id=\"capacity\"") == NULL);
    CHECK(strstr(html, "<th>t/s</th>") != NULL); /* single-concurrency columns */
    free(html);
    results_free(&r);
}

TEST(html_empty_results)
{
    results r;
    results_init(&r);
    size_t len;
    char *html = render(&r, &len);
    compare_golden(html, len, "report-empty.html");
    check_self_contained(html);
    CHECK(strstr(html, "No results collected. Check if the model is generating tokens.") != NULL);
    CHECK_INT_EQ(count(html, "<svg "), 0);
    free(html);
    results_free(&r);
}

TEST(html_nan_and_absent_metrics)
{
    results r;
    build_nan(&r);
    size_t len;
    char *html = render(&r, &len);
    compare_golden(html, len, "report-nan.html");
    check_self_contained(html);
    CHECK_INT_EQ(count(html, "<svg "), 4);
    /* The table prints NaN as the markdown report does ("nan ± nan"); the
     * charts leave such points out. */
    CHECK(strstr(html, "<td>nan \xc2\xb1 nan</td>") != NULL);
    const char *charts = strstr(html, "<section id=\"charts\">");
    const char *charts_end = charts ? strstr(charts, "</section>") : NULL;
    CHECK(charts && charts_end);
    if (charts && charts_end) {
        char *part = xstrndup(charts, (size_t)(charts_end - charts));
        CHECK_INT_EQ(count(part, "nan"), 0);
        CHECK_INT_EQ(count(part, "inf"), 0);
        free(part);
    }
    CHECK(strstr(html, "no successful request") != NULL);
    free(html);
    results_free(&r);
}

/* Many cell shapes: the TTFT chart keeps at most 24 lines (8 depths x 3
 * percentiles) and grows taller so that its legend fits. */
TEST(html_many_lines_grow_the_chart)
{
    results r;
    results_init(&r);
    results_meta meta = {"0.4.0", "2026-01-05 13:00:00", "api", 1.0, "many", false, 2, NULL};
    results_set_meta(&r, &meta);
    for (int d = 0; d < 10; d++)
        for (int c = 1; c <= 2; c++) {
            results_run *run = add_run(&r, c, d * 1024, 64, 8);
            M(pp_throughput, 1000.0 + d);
            M(tg_throughput, 50.0 - d);
            M(e2e_ttft, 100.0 + d * 10, 120.0 + d * 10);
        }
    char *html = render(&r, NULL);
    const char *svg = strstr(html, "id=\"chart-ttft\" width=\"560\" height=\"");
    CHECK(svg != NULL);
    if (svg) {
        long height = strtol(svg + strlen("id=\"chart-ttft\" width=\"560\" height=\""), NULL, 10);
        if (height < 38 + 16 * 24 + 50)
            TEST_FAIL_AT_("TTFT chart height %ld does not fit a 24-entry legend", height);
    }
    CHECK(strstr(html, "Some cell shapes were left out (too many).") != NULL);
    CHECK(strstr(html, "<title>p99 d7168</title>") != NULL);
    CHECK(strstr(html, "<title>p50 d8192</title>") == NULL);
    /* The throughput charts have one line per concurrency, 10 points each. */
    const char *pp = strstr(html, "id=\"chart-pp\"");
    const char *pp_end = pp ? strstr(pp, "</svg>") : NULL;
    CHECK(pp && pp_end);
    if (pp && pp_end) {
        char *part = xstrndup(pp, (size_t)(pp_end - pp));
        CHECK_INT_EQ(count(part, "<circle "), 20);
        free(part);
    }
    free(html);
    results_free(&r);
}

TEST(svg_nice_ticks_cover_the_range)
{
    struct {
        double lo, hi, want_lo, want_hi;
        size_t want_n;
    } cases[] = {
        {0, 97, 0, 100, 6},      /* step 20 */
        {0, 40000, 0, 40000, 5}, /* step 10000 */
        {3.2, 3.2, 1, 5, 5},     /* degenerate: opened around the value */
        {0, 0, 0, 1, 6},         /* all zero */
        {-5, 5, -5, 5, 5},       /* step 2.5 */
        {0, 0.09, 0, 0.1, 6},    /* step 0.02 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double lo = cases[i].lo, hi = cases[i].hi, t[SVG_MAX_TICKS];
        size_t n = svg_nice_ticks(&lo, &hi, 6, t);
        CHECK_DBL_NEAR(lo, cases[i].want_lo, 1e-9);
        CHECK_DBL_NEAR(hi, cases[i].want_hi, 1e-9);
        CHECK_INT_EQ(n, cases[i].want_n);
        CHECK(n >= 2 && t[0] == lo && fabs(t[n - 1] - hi) < 1e-9);
        CHECK(lo <= cases[i].lo && hi >= cases[i].hi);
    }
    double lo = NAN, hi = 1, t[SVG_MAX_TICKS];
    size_t n = svg_nice_ticks(&lo, &hi, 6, t);
    CHECK(n >= 2 && isfinite(lo) && isfinite(hi));
}

TEST(svg_escape_and_numbers)
{
    buf b;
    buf_init(&b, 0);
    svg_escape(&b, "a<b>&\"c\"'d'\x01\xc3\xa9");
    CHECK_STR_EQ(b.data, "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;\xef\xbf\xbd\xc3\xa9");
    buf_free(&b);
    struct {
        double v;
        const char *want;
    } cases[] = {{0, "0"},           {4096, "4096"}, {12500, "12500"},   {0.25, "0.25"},
                 {1.5e9, "1.5e+09"}, {-20, "-20"},   {1234.5, "1234.5"}, {0.02, "0.02"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[32];
        svg_format_number(s, sizeof s, cases[i].v);
        CHECK_STR_EQ(s, cases[i].want);
    }
}

TEST(svg_series_breaks_at_nan)
{
    svg_chart c;
    memset(&c, 0, sizeof c);
    c.title = "t";
    svg_range_reset(&c);
    svg_range_add(&c, 0, 0);
    svg_range_add(&c, 10, 10);
    svg_range_add(&c, NAN, 50); /* ignored */
    buf b;
    buf_init(&b, 0);
    svg_begin(&b, &c);
    CHECK_DBL_NEAR(c.y_max, 10, 1e-9);
    double x[] = {0, 2, 4, 6, 8}, y[] = {1, 2, NAN, 4, 5};
    svg_series(&b, &c, x, y, 5, "#000", SVG_DASHED, 1, "s<1>");
    svg_end(&b);
    CHECK_INT_EQ(count(b.data, "<polyline "), 2);
    CHECK_INT_EQ(count(b.data, "<circle "), 4);
    CHECK_INT_EQ(count(b.data, "stroke-dasharray"), 2);
    CHECK(strstr(b.data, "<title>s&lt;1&gt;</title>") != NULL);
    CHECK_INT_EQ(count(b.data, "nan"), 0);
    buf_free(&b);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C");
    if (argc == 3 && strcmp(argv[1], "--write-golden") == 0)
        write_dir = argv[2];
    RUN(html_full_matrix);
    RUN(html_one_cell);
    RUN(html_empty_results);
    RUN(html_nan_and_absent_metrics);
    RUN(html_many_lines_grow_the_chart);
    RUN(svg_nice_ticks_cover_the_range);
    RUN(svg_escape_and_numbers);
    RUN(svg_series_breaks_at_nan);
    return test_summary();
}
