/* Unit tests for client/reload.c and `tokbench report` (client/report_cmd.c):
 * saved results read back render the same bytes as the direct rendering
 * (the golden files of test_report and a real run with every extra), a
 * llama-benchy 0.4.0 JSON is read with its keys only, and bad input gives a
 * clear message, never a crash.
 * `test_reload --write-golden DIR` rewrites llama-benchy-0.4.0.md. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../client/commands.h"
#include "../../client/reload.h"
#include "../../client/report.h"
#include "../../common/buf.h"
#include "../../common/xalloc.h"
#include "../fixture.h"
#include "../test.h"

static const char *write_dir;

/* The path of a fixture, whether the test runs from the top directory or
 * from the build tree. */
static const char *fixture(const char *name)
{
    static char path[512];
    const char *prefixes[] = {"", "../../", "../"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%sfixtures/golden/%s", prefixes[i], name);
        if (access(path, R_OK) == 0)
            return path;
    }
    return name;
}

typedef int (*writer_fn)(const results *, FILE *);

static char *render(const results *r, writer_fn w, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    CHECK_INT_EQ(w(r, f), 0);
    fclose(f);
    return text;
}

/* Renders r with w and compares with the fixture (optionally with one
 * extra final newline, for files saved without it). */
static void same_as_file(const results *r, writer_fn w, const char *name, int add_newline)
{
    size_t want_len = 0, got_len = 0;
    char *want = test_read_file(fixture(name), &want_len);
    CHECK(want != NULL);
    if (!want)
        return;
    char *got = render(r, w, &got_len);
    size_t expect_len = want_len + (add_newline ? 1 : 0);
    int same = got_len == expect_len && memcmp(got, want, want_len) == 0 &&
               (!add_newline || got[want_len] == '\n');
    if (!same) {
        size_t at = 0;
        while (at < got_len && at < want_len && got[at] == want[at])
            at++;
        TEST_FAIL_AT_("%s: rendering the reloaded result differs at byte %zu (got %zu bytes, "
                      "want %zu)",
                      name, at, got_len, expect_len);
    }
    free(want);
    free(got);
}

static int load(const char *name, results *r)
{
    char err[256] = "";
    int rc = reload_file(fixture(name), r, err, sizeof err);
    if (rc)
        TEST_FAIL_AT_("reloading %s failed: %s", name, err);
    return rc;
}

TEST(round_trip_of_the_report_goldens)
{
    static const char *const names[] = {"c1", "c2", "empty"};
    for (size_t i = 0; i < 3; i++) {
        results r;
        char name[32];
        snprintf(name, sizeof name, "%s.json", names[i]);
        if (load(name, &r) == 0) {
            same_as_file(&r, report_json, name, 0);
            snprintf(name, sizeof name, "%s.md", names[i]);
            same_as_file(&r, report_md, name, 0);
            snprintf(name, sizeof name, "%s.csv", names[i]);
            same_as_file(&r, report_csv, name, 0);
        }
        results_free(&r);
    }
}

/* A real run against tokmock with every extra: SLO breaches, load figures,
 * failures, capacity answers, both time series, a model name to escape. */
TEST(round_trip_of_a_full_run)
{
    results r;
    if (load("tokbench-run.json", &r) == 0) {
        same_as_file(&r, report_json, "tokbench-run.json", 0);
        CHECK_INT_EQ(r.n_runs, 4);
        CHECK(r.meta_extra != NULL);
        CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r.meta_extra, "slo")));
        CHECK(r.runs[0].extra != NULL);
        CHECK(r.runs[0].has_total_series && r.runs[0].has_req_series);
        CHECK(r.runs[3].n_request_records == 4);
        CHECK_STR_EQ(r.runs[0].count_source, "token_ids");
        /* Integers stay cJSON numbers, fractions are raw literals. */
        const cJSON *rps = cJSON_GetObjectItemCaseSensitive(r.runs[0].extra, "requests_per_second");
        CHECK(cJSON_IsRaw(rps));
        const cJSON *probes =
            cJSON_GetObjectItemCaseSensitive(r.meta_extra, "prompt_measure_probes");
        CHECK(cJSON_IsNumber(probes));
        size_t len;
        char *html = render(&r, report_html, &len);
        CHECK(strstr(html, "SLO breached") != NULL);
        CHECK(strstr(html, "tiny&lt;b&gt;&amp;&quot;x&quot;") != NULL);
        CHECK(strstr(html, "tiny<b>") == NULL);
        free(html);
    }
    results_free(&r);
}

TEST(llama_benchy_json_is_read_with_its_keys_only)
{
    results r;
    if (load("llama-benchy-0.4.0.json", &r) == 0) {
        if (write_dir) {
            char path[512];
            snprintf(path, sizeof path, "%s/llama-benchy-0.4.0.md", write_dir);
            FILE *f = fopen(path, "wb");
            if (f) {
                report_md(&r, f);
                fclose(f);
            }
        } else {
            same_as_file(&r, report_md, "llama-benchy-0.4.0.md", 0);
        }
        CHECK_STR_EQ(r.model, "Qwen/Qwen3-4B-Instruct-2507");
        CHECK_STR_EQ(r.row_model, r.model);
        CHECK_INT_EQ(r.max_concurrency, 2);
        CHECK_DBL_NEAR(r.latency_ms, 12.345, 1e-12);
        CHECK_INT_EQ(r.n_runs, 4);
        CHECK(r.meta_extra == NULL);
        const results_run *run = &r.runs[0];
        CHECK(run->count_source == NULL && run->extra == NULL);
        CHECK(!run->has_total_series && !run->has_req_series && run->n_request_records == 0);
        CHECK(!run->ttft.present && !run->itl.present);
        /* The summary statistics llama-benchy does not write are computed
         * from the values (243.1, 245.6, 241.2 + 1.9). */
        CHECK_INT_EQ(run->e2e_ttft.n, 3);
        CHECK_DBL_NEAR(run->e2e_ttft.p50, 245.0, 1e-9);
        CHECK_DBL_NEAR(run->e2e_ttft.min, 243.1, 1e-9);
        CHECK_DBL_NEAR(run->e2e_ttft.max, 247.5, 1e-9);
        CHECK_DBL_NEAR(run->e2e_ttft.p90, 245.0 + 0.8 * 2.5, 1e-9);
        /* The file's own mean and std are kept as written. */
        CHECK_DBL_NEAR(run->pp_throughput.mean, 2210.6666666666665, 1e-9);
        size_t len;
        char *html = render(&r, report_html, &len);
        CHECK(strstr(html, "no per-request records") != NULL);
        free(html);
    }
    results_free(&r);
}

/* Numbers: NaN and Infinity (Python's json writes them), literals kept in
 * the extras, \u escapes with a surrogate pair, a byte order mark. */
TEST(parser_reads_python_json)
{
    const char text[] =
        "\xef\xbb\xbf{\"version\": \"0.4.0\", \"timestamp\": \"t\", \"latency_mode\": \"none\","
        " \"latency_ms\": 0.0, \"model\": \"m\\u00e9\\ud83d\\ude00\\u0000\","
        " \"prefix_caching_enabled\": false, \"max_concurrency\": 1, \"benchmarks\": [{"
        "\"concurrency\": 1, \"context_size\": 0, \"prompt_size\": 8, \"response_size\": 4,"
        " \"is_context_prefill_phase\": false,"
        " \"pp_throughput\": {\"mean\": NaN, \"std\": Infinity, \"values\": [-Infinity, 1e2]},"
        " \"custom\": {\"f\": 100.0, \"i\": 5, \"e\": 1.5e-05, \"big\": 123456789012345678901,"
        " \"list\": [true, null, \"s\"]}}], \"extra_meta\": -0.5}";
    results r;
    char err[256] = "";
    CHECK_INT_EQ(reload_json(text, sizeof text - 1, &r, err, sizeof err), 0);
    CHECK_STR_EQ(err, "");
    if (r.n_runs == 1) {
        CHECK_STR_EQ(r.model, "m\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
        const results_metric *m = &r.runs[0].pp_throughput;
        CHECK(m->present && isnan(m->mean) && isinf(m->std) && m->std > 0);
        CHECK(m->n == 2 && isinf(m->values[0]) && m->values[0] < 0 && m->values[1] == 100);
        size_t len;
        char *json = render(&r, report_json, &len);
        CHECK(strstr(json, "\"mean\": NaN,") != NULL);
        CHECK(strstr(json, "\"std\": Infinity,") != NULL);
        CHECK(strstr(json, "\"f\": 100.0,") != NULL);
        CHECK(strstr(json, "\"i\": 5,") != NULL);
        CHECK(strstr(json, "\"e\": 1.5e-05,") != NULL);
        CHECK(strstr(json, "\"big\": 123456789012345678901,") != NULL);
        CHECK(strstr(json, "\"extra_meta\": -0.5\n") != NULL);
        free(json);
    }
    results_free(&r);
}

TEST(bad_input_is_a_clear_error)
{
    struct {
        const char *text;
        const char *want; /* a part of the message */
    } cases[] = {
        {"", "unexpected end of input"},
        {"not json", "line 1, column 1: expected a value"},
        {"{\n  \"benchmarks\": [],\n  \"x\": tru\n}", "line 3, column 8"},
        {"[1, 2]", "the JSON is not an object"},
        {"{\"benchmarks\": 3}", "no \"benchmarks\" list"},
        {"{\"version\": \"0.4.0\"}", "no \"benchmarks\" list"},
        {"{\"benchmarks\": []} x", "extra text after the JSON value"},
        {"{\"benchmarks\": [], \"version\": 5}", "\"version\" is not a string"},
        {"{\"benchmarks\": [1]}", "benchmarks[0]: not an object"},
        {"{\"benchmarks\": [{\"concurrency\": \"2\"}]}",
         "benchmarks[0]: \"concurrency\" is not an integer"},
        {"{\"benchmarks\": [{\"concurrency\": 1, \"context_size\": 0, \"prompt_size\": 1}]}",
         "benchmarks[0]: \"response_size\" is missing"},
        {"{\"benchmarks\": [{\"concurrency\": 1, \"context_size\": 0, \"prompt_size\": 1, "
         "\"response_size\": 1, \"ttfr\": {\"mean\": 1, \"values\": [1, \"x\"]}}]}",
         "\"ttfr.values\" holds a value that is not a number"},
        {"{\"benchmarks\": [{\"concurrency\": 1, \"context_size\": 0, \"prompt_size\": 1, "
         "\"response_size\": 1, \"throughput_over_time\": [[[1, 2], [3]]]}]}",
         "not [time, value]"},
        {"{\"benchmarks\": [{\"concurrency\": 1e99, \"context_size\": 0}]}",
         "\"concurrency\" is not an integer"},
        {"{\"benchmarks\": [], \"s\": \"a\x01\"}", "control character in a string"},
        {"{\"benchmarks\": [], \"s\": \"abc", "unterminated string"},
        {"{\"benchmarks\": [], \"s\": \"\\q\"}", "bad escape"},
        {"{\"benchmarks\": [], \"n\": -}", "expected a value"},
        {"{\"benchmarks\": [], \"n\": 1.}", "digit expected after '.'"},
        {"{\"benchmarks\" 1}", "expected ':'"},
        {"{\"benchmarks\": [] \"a\": 1}", "expected ',' or '}'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        results r;
        char err[256] = "";
        int rc = reload_json(cases[i].text, strlen(cases[i].text), &r, err, sizeof err);
        CHECK_INT_EQ(rc, -1);
        if (!strstr(err, cases[i].want))
            TEST_FAIL_AT_("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].want);
        results_free(&r);
    }
    /* Deep nesting is refused before the stack is at risk. */
    char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "{\"benchmarks\": [], \"d\": ");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    results r;
    char err[256] = "";
    CHECK_INT_EQ(reload_json(deep, n, &r, err, sizeof err), -1);
    CHECK(strstr(err, "nested deeper than") != NULL);
    results_free(&r);
}

/* Found by tests/fuzz/fuzz_reload.c (seeds regress-* in
 * tests/fuzz/corpus/fuzz_reload/): a bad escape of a control byte gave a
 * two-line reason; a failure count beyond int was converted with undefined
 * behaviour; and raw bytes that are not well-formed UTF-8 (an overlong NUL, a
 * surrogate, a code point above U+10FFFF) were kept, so report_json printed
 * them as escapes that read back as other text. */
TEST(fuzz_findings)
{
    results r;
    char err[256] = "";
    const char esc[] = "{\"benchmarks\": [], \"s\": \"\\\n\"}";
    CHECK_INT_EQ(reload_json(esc, sizeof esc - 1, &r, err, sizeof err), -1);
    CHECK(strstr(err, "bad escape: byte 0x0a after '\\'") != NULL);
    CHECK(strchr(err, '\n') == NULL);
    results_free(&r);

    const char count[] = "{\"benchmarks\": [{\"concurrency\": 1, \"context_size\": 0, "
                         "\"prompt_size\": 1, \"response_size\": 1, "
                         "\"failures\": {\"count\": 1, \"reasons\": {\"x\": 3000000000}}}]}";
    CHECK_INT_EQ(reload_json(count, sizeof count - 1, &r, err, sizeof err), -1);
    CHECK(strstr(err, "benchmarks[0]: \"failures.reasons\" holds a count that is out of "
                      "range") != NULL);
    results_free(&r);

    /* Each bad sequence becomes U+FFFD byte by byte; well-formed UTF-8 (2, 3
     * and 4 bytes, U+10FFFF the largest) is kept as it is. */
    const char utf8[] = "{\"version\": \"0.4.0\", \"model\": "
                        "\"\xc0\x80|\xed\xa0\x80|\xf7\xbf|\xc3|\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\","
                        " \"benchmarks\": []}";
    CHECK_INT_EQ(reload_json(utf8, sizeof utf8 - 1, &r, err, sizeof err), 0);
#define FFFD "\xef\xbf\xbd"
    CHECK_STR_EQ(r.model, FFFD FFFD "|" FFFD FFFD FFFD "|" FFFD FFFD "|" FFFD
                                    "|\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf");
#undef FFFD
    size_t len1, len2;
    char *once = render(&r, report_json, &len1);
    results_free(&r);
    CHECK_INT_EQ(reload_json(once, len1, &r, err, sizeof err), 0);
    char *twice = render(&r, report_json, &len2);
    CHECK(len1 == len2 && memcmp(once, twice, len1) == 0);
    results_free(&r);
    free(once);
    free(twice);
}

TEST(missing_file_is_an_error)
{
    results r;
    char err[256] = "";
    CHECK_INT_EQ(reload_file("/nonexistent/tokbench.json", &r, err, sizeof err), -1);
    CHECK(strstr(err, "cannot open") != NULL);
    results_free(&r);
}

/* Runs report_cmd_main with args; returns its status, out/err text. */
static int run_cmd(char **out_text, char **err_text, int argc, char **argv)
{
    size_t ol = 0, el = 0;
    FILE *out = open_memstream(out_text, &ol);
    FILE *err = open_memstream(err_text, &el);
    int rc = report_cmd_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return rc;
}

TEST(report_command_statuses)
{
    char c2[512], missing[] = "/nonexistent/x.json";
    snprintf(c2, sizeof c2, "%s", fixture("c2.json"));
    struct {
        int argc;
        char *argv[5];
        int want;
        const char *out_has, *err_has;
    } cases[] = {
        {1, {"report"}, 2, "", "no FILE.json given"},
        {3, {"report", c2, "--format"}, 2, "", "--format needs a value"},
        {4, {"report", c2, "--format", "xml"}, 2, "", "must be md, csv, json or html"},
        {3, {"report", c2, "--bogus"}, 2, "", "unknown option --bogus"},
        {3, {"report", c2, c2}, 2, "", "one FILE.json only"},
        {2, {"report", "--help"}, 0, "usage: tokbench report", ""},
        {2, {"report", missing}, 1, "", "cannot open"},
        {2, {"report", c2}, 0, "| tiny, \"quoted\" |", ""},
        {3, {"report", c2, "--format=csv"}, 0, "model,test_name,", ""},
        {4, {"report", c2, "--format", "json"}, 0, "\"max_concurrency\": 2,", ""},
        {4, {"report", c2, "--format", "html"}, 0, "<svg ", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, *err = NULL;
        int rc = run_cmd(&out, &err, cases[i].argc, cases[i].argv);
        if (rc != cases[i].want || !strstr(out, cases[i].out_has) || !strstr(err, cases[i].err_has))
            TEST_FAIL_AT_("case %zu: status %d (want %d), stdout \"%.80s\", stderr \"%.200s\"", i,
                          rc, cases[i].want, out, err);
        free(out);
        free(err);
    }
    /* The md output is the table and the footer a run prints. */
    char *out = NULL, *err = NULL;
    char *argv[] = {"report", c2};
    CHECK_INT_EQ(run_cmd(&out, &err, 2, argv), 0);
    CHECK(strstr(out, "\nllama-benchy (0.4.0)\ndate: 2026-01-03 08:00:00 | latency mode: api\n") !=
          NULL);
    free(out);
    free(err);
    /* A file that is not a result: status 1 and the reason. */
    char bad_path[] = "/tmp/test_reload_XXXXXX";
    int fd = mkstemp(bad_path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, "[]", 2) == 2);
        close(fd);
        char *argv2[] = {"report", bad_path};
        out = err = NULL;
        CHECK_INT_EQ(run_cmd(&out, &err, 2, argv2), 1);
        CHECK(strstr(err, "not a benchmark result") != NULL);
        free(out);
        free(err);
        /* --output writes the file instead of stdout. */
        char *argv3[] = {"report", c2, "--format", "html", "-o", bad_path};
        out = err = NULL;
        CHECK_INT_EQ(run_cmd(&out, &err, 6, argv3), 0);
        CHECK_STR_EQ(out, "");
        size_t len = 0;
        char *html = test_read_file(bad_path, &len);
        CHECK(html && strstr(html, "</html>\n"));
        free(html);
        free(out);
        free(err);
        unlink(bad_path);
    }
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C");
    if (argc == 3 && strcmp(argv[1], "--write-golden") == 0)
        write_dir = argv[2];
    RUN(round_trip_of_the_report_goldens);
    RUN(round_trip_of_a_full_run);
    RUN(llama_benchy_json_is_read_with_its_keys_only);
    RUN(parser_reads_python_json);
    RUN(bad_input_is_a_clear_error);
    RUN(fuzz_findings);
    RUN(missing_file_is_an_error);
    RUN(report_command_statuses);
    return test_summary();
}
