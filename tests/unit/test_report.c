/* Unit tests for the report writers: a results value built by hand (no
 * network, no maths in the writers) printed as markdown, JSON and CSV and
 * compared byte for byte with fixtures/golden/, under LC_ALL=C.
 * `test_report --write-golden DIR` rewrites the golden files. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/report.h"
#include "../../client/stats.h"
#include "../../common/buf.h"
#include "../../common/xalloc.h"
#include "../test.h"

static const char *write_dir;

#define M(field, ...)                                                                    \
    do {                                                                                 \
        const double v_[] = {__VA_ARGS__};                                               \
        results_metric_set(&run->field, v_, sizeof v_ / sizeof v_[0]);                              \
    } while (0)

static results_run *add_run(results *r, int conc, int depth, int pp, int tg, bool ctx)
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
    run->is_context_prefill_phase = ctx;
    run->count_source = "token_ids";
    run->expected_pp_tokens = depth + pp;
    return run;
}

static results_series series(const double *t, const double *v, size_t n)
{
    results_series s = {xmalloc(n * sizeof *t), xmalloc(n * sizeof *v), n};
    memcpy(s.t_s, t, n * sizeof *t);
    memcpy(s.value, v, n * sizeof *v);
    return s;
}

/* Single concurrency, three rows kinds, time series and request records. */
static void build_c1(results *r)
{
    results_init(r);
    results_meta meta = {"0.4.0", "2026-01-02 17:11:19", "generation", 39.98,
                         "openai/gpt-oss-120b", false, 1, "server_tokenize"};
    results_set_meta(r, &meta);
    r->row_model = xstrdup("openai/gpt-oss-120b");

    results_run *run = add_run(r, 1, 0, 2048, 32, false);
    M(pp_throughput, 2019.02, 1984.5, 2053.125);
    M(pp_req_throughput, 2019.02, 1984.5, 2053.125);
    M(tg_throughput, 52.94, 51.9, 53.97);
    M(tg_req_throughput, 52.94, 51.9, 53.97);
    M(peak_throughput, 55.1, 54.2, 56.0);
    M(peak_req_throughput, 55.1, 54.2, 56.0);
    M(ttfr, 1054.64, 1037.1, 1072.2);
    M(est_ppt, 1014.66, 997.12, 1032.22);
    M(e2e_ttft, 1115.41, 1098.0, 1130.75);
    M(itl, 18.5, 19.25, 0.00001);
    run->has_total_series = true;
    const double t[] = {0.0, 0.02, 1.5e-05}, v[] = {1.0, 2.0, 50.0};
    run->total_series.items = xmalloc(sizeof(results_series));
    run->total_series.items[0] = series(t, v, 3);
    run->total_series.n = 1;
    run->has_req_series = true;
    run->n_req_series = 1;
    run->req_series = xmalloc(sizeof(results_series_list));
    run->req_series[0].n = 2;
    run->req_series[0].items = xmalloc(2 * sizeof(results_series));
    run->req_series[0].items[0] = series(t, v, 2);
    run->req_series[0].items[1] = (results_series){NULL, NULL, 0};
    run->prompt_count_source = xstrdup("server_tokenize");
    run->n_requests = 2;
    run->n_errors = 1;
    run->n_request_records = 2;
    run->requests = xcalloc(2, sizeof(results_request));
    run->requests[0] = (results_request){0, xstrdup("chatcmpl-\"1\""), 1000, 2000, 2000, 9000,
                                         9500, 2048, 32, 0, 32, 33, NULL, NULL};
    run->requests[1] = (results_request){1, NULL, 10000, 0, 0, 0, 10500, -1, -1, -1, 0, 0,
                                         xstrdup("HTTP 500: boom \xc3\xa9"),
                                         xstrdup("http_500")};
    results_failures_add(&run->failures, "http_500", "HTTP 500: boom \xc3\xa9");

    run = add_run(r, 1, 4096, 2048, 32, false);
    M(pp_throughput, 1994.49);
    M(pp_req_throughput, 1994.49);
    M(tg_throughput, 46.69);
    M(tg_req_throughput, 46.69);
    M(peak_throughput, 48.0);
    M(peak_req_throughput, 48.0);
    M(ttfr, 3129.18);
    M(est_ppt, 3089.19);
    M(e2e_ttft, 3198.97);

    /* A burst: no decode rate, but a peak (llama-benchy keeps the tg row). */
    run = add_run(r, 1, 0, 512, 1024, false);
    M(pp_throughput, 3000.0, 3100.0);
    M(pp_req_throughput, 3000.0, 3100.0);
    M(peak_throughput, 130.0);
    M(peak_req_throughput, 130.0);
    M(ttfr, 170.5, 165.25);
    M(est_ppt, 130.52, 125.27);
    M(e2e_ttft, 170.5, 165.25);
}

/* Concurrency up to 2 with the prefix-caching context phase. */
static void build_c2(results *r)
{
    results_init(r);
    results_meta meta = {"0.4.0", "2026-01-03 08:00:00", "api", 0.5, "tiny, \"quoted\"", true,
                         2, NULL};
    results_set_meta(r, &meta);
    r->row_model = xstrdup("tiny, \"quoted\"");

    results_run *run = add_run(r, 1, 4096, 512, 64, true);
    M(pp_throughput, 1500.0, 1510.0);
    M(pp_req_throughput, 1500.0, 1510.0);
    M(tg_throughput, 40.0);
    M(tg_req_throughput, 40.0);
    M(peak_throughput, 42.0, 41.0);
    M(peak_req_throughput, 42.0, 41.0);
    M(ttfr, 2731.0, 2712.5);
    M(est_ppt, 2730.5, 2712.0);
    M(e2e_ttft, 2731.0, 2712.5);

    run = add_run(r, 1, 4096, 512, 64, false);
    M(pp_throughput, 12000.0);
    M(pp_req_throughput, 12000.0);
    M(tg_throughput, 39.5);
    M(tg_req_throughput, 39.5);
    M(peak_throughput, 41.0);
    M(peak_req_throughput, 41.0);
    M(ttfr, 43.2);
    M(est_ppt, 42.7);
    M(e2e_ttft, 43.2);

    run = add_run(r, 2, 4096, 512, 64, false);
    M(pp_throughput, 15000.25);
    M(pp_req_throughput, 11000.0, 9000.0);
    M(tg_throughput, 70.0);
    M(tg_req_throughput, 36.0, 34.0);
    M(peak_throughput, 74.0);
    M(peak_req_throughput, 38.0, 37.0);
    M(ttfr, 50.0, 60.0);
    M(est_ppt, 49.5, 59.5);
    M(e2e_ttft, 50.0, 60.0);
}

typedef int (*writer_fn)(const results *, FILE *);

static void compare_golden(const results *r, writer_fn w, const char *name)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_INT_EQ(w(r, f), 0);
    fclose(f);
    char path[512];
    if (write_dir) {
        snprintf(path, sizeof path, "%s/%s", write_dir, name);
        FILE *g = fopen(path, "wb");
        if (g) {
            fwrite(text, 1, len, g);
            fclose(g);
        }
        free(text);
        return;
    }
    const char *prefixes[] = {"", "../../", "../"};
    FILE *g = NULL;
    for (size_t i = 0; i < 3 && !g; i++) {
        snprintf(path, sizeof path, "%sfixtures/golden/%s", prefixes[i], name);
        g = fopen(path, "rb");
    }
    CHECK(g != NULL);
    if (!g) {
        free(text);
        return;
    }
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
        TEST_FAIL_AT_("%s differs from the golden file at byte %zu (got %zu bytes, want %zu)",
                      name, at, len, want.len);
    }
    buf_free(&want);
    free(text);
}

TEST(markdown_single_concurrency)
{
    results r;
    build_c1(&r);
    compare_golden(&r, report_md, "c1.md");
    compare_golden(&r, report_md_file, "c1.file.md");
    results_free(&r);
}

TEST(markdown_with_concurrency_columns)
{
    results r;
    build_c2(&r);
    compare_golden(&r, report_md, "c2.md");
    results_free(&r);
}

TEST(markdown_server_columns)
{
    results r;
    build_c1(&r);
    r.server_columns = true;
    results_run *run = &r.runs[0];
    M(server_pp, 1001.5, 998.5);
    M(server_tg, 50.25);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_INT_EQ(report_md(&r, f), 0);
    fclose(f);
    const char *head = text ? strstr(text, "e2e_ttft (ms) |") : NULL;
    CHECK(head && strncmp(head + strlen("e2e_ttft (ms) |"), "     server t/s |", 17) == 0);
    CHECK(text && strstr(text, "| 1000.00 \xc2\xb1 1.50 |") != NULL);
    CHECK(text && strstr(text, "|   50.25 \xc2\xb1 0.00 |") != NULL);
    /* Off: the table is llama-benchy's, byte for byte. */
    r.server_columns = false;
    compare_golden(&r, report_md, "c1.md");
    free(text);
    results_free(&r);
}

TEST(json_reports)
{
    results r;
    build_c1(&r);
    compare_golden(&r, report_json, "c1.json");
    results_free(&r);
    build_c2(&r);
    compare_golden(&r, report_json, "c2.json");
    results_free(&r);
}

TEST(csv_reports)
{
    results r;
    build_c1(&r);
    compare_golden(&r, report_csv, "c1.csv");
    results_free(&r);
    build_c2(&r);
    compare_golden(&r, report_csv, "c2.csv");
    results_free(&r);
}

TEST(empty_results_policy)
{
    results r;
    results_init(&r);
    compare_golden(&r, report_md, "empty.md");
    compare_golden(&r, report_json, "empty.json");
    compare_golden(&r, report_csv, "empty.csv");
    results_free(&r);
}

/* Strings are written as json.dumps(ensure_ascii=True) would: well-formed
 * UTF-8 as \u escapes (a surrogate pair past U+FFFF), and every byte that
 * does not start a well-formed sequence (overlong, surrogate, past U+10FFFF,
 * cut short) as U+FFFD, never as an escape of other text. */
TEST(json_string_escapes_only_well_formed_utf8)
{
    results r;
    results_init(&r);
    results_meta meta = {"0.4.0", "2026-01-02 17:11:19", "generation", 0.0,
                         "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xc0\x80|\xed\xa0\x80|"
                         "\xf4\x90\x80\x80|\xc3",
                         false, 1, "server_tokenize"};
    results_set_meta(&r, &meta);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    CHECK_INT_EQ(report_json(&r, f), 0);
    fclose(f);
    const char *want = "\"model\": \"a\\u00e9\\u20ac\\ud83d\\ude00|\\ufffd\\ufffd|"
                       "\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\"";
    CHECK(text && strstr(text, want) != NULL);
    if (text && !strstr(text, want))
        fprintf(stderr, "  got: %s\n", text);
    free(text);
    results_free(&r);
}

TEST(python_float_repr)
{
    struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0.0"},         {-0.0, "-0.0"},       {1.0, "1.0"},
        {100.0, "100.0"},     {0.1, "0.1"},         {1e-05, "1e-05"},
        {0.0001, "0.0001"},   {1.5e-05, "1.5e-05"}, {1e16, "1e+16"},
        {1e15, "1000000000000000.0"}, {123456789.125, "123456789.125"},
        {2.0 / 3.0, "0.6666666666666666"}, {-52.94, "-52.94"}, {1e22, "1e+22"},
        {5e-324, "5e-324"},   {1.7976931348623157e308, "1.7976931348623157e+308"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[64];
        report_pyfloat(cases[i].v, s, sizeof s);
        CHECK_STR_EQ(s, cases[i].want);
    }
}

TEST(failures_summary_counts_kinds_and_quotes_examples)
{
    results_failures f;
    memset(&f, 0, sizeof f);
    results_failures_add(&f, "http_429", "HTTP 429: slow down");
    results_failures_add(&f, "connection_closed", "connection closed after 3 tokens");
    results_failures_add(&f, "http_429", "HTTP 429: slow down");
    results_failures_add(&f, NULL, "mystery");
    results_failures_add(&f, "http_429", "HTTP 429: later");
    results_failures_add(&f, "error_event", "server error in the stream: oom");
    CHECK_INT_EQ(f.count, 6);
    /* Sorted by kind, whatever the order of arrival. */
    CHECK_INT_EQ(f.n_kinds, 4);
    CHECK_STR_EQ(f.kinds[0].kind, "connection_closed");
    CHECK_STR_EQ(f.kinds[1].kind, "error_event");
    CHECK_STR_EQ(f.kinds[2].kind, "http_429");
    CHECK_INT_EQ(f.kinds[2].count, 3);
    CHECK_STR_EQ(f.kinds[3].kind, "other");
    /* The first three distinct reasons, in order. */
    CHECK_INT_EQ(f.n_examples, 3);
    CHECK_STR_EQ(f.examples[0], "HTTP 429: slow down");
    CHECK_STR_EQ(f.examples[1], "connection closed after 3 tokens");
    CHECK_STR_EQ(f.examples[2], "mystery");
    results_failures_free(&f);
    CHECK_INT_EQ(f.count, 0);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C");
    if (argc == 3 && strcmp(argv[1], "--write-golden") == 0)
        write_dir = argv[2];
    RUN(markdown_single_concurrency);
    RUN(markdown_with_concurrency_columns);
    RUN(markdown_server_columns);
    RUN(json_reports);
    RUN(csv_reports);
    RUN(empty_results_policy);
    RUN(json_string_escapes_only_well_formed_utf8);
    RUN(python_float_repr);
    RUN(failures_summary_counts_kinds_and_quotes_examples);
    return test_summary();
}
