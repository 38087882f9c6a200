/* Unit tests for the Prometheus textfile writer: exact text for a small
 * hand-built result (families, label escaping, units, order), cells without
 * a metric, and the empty result. promtool checks the real output in
 * tests/integration/test_tokbench_history.py. */
#define _GNU_SOURCE /* open_memstream (POSIX 2008 too) */
#include <stdlib.h>
#include <string.h>

#include "../../client/cli.h"
#include "../../client/report.h"
#include "../../client/stats.h"
#include "../../common/xalloc.h"
#include "../test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define M(run, field, ...)                                                               \
    do {                                                                                 \
        const double v_[] = {__VA_ARGS__};                                               \
        results_metric_set(&(run)->field, v_, N(v_));                                                \
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
    return run;
}

static char *render(const results *r, int *rc)
{
    char *text = NULL;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    *rc = report_prom(r, f);
    fclose(f);
    return text;
}

static const char expected[] =
    "# HELP tokbench_info The run that wrote this file (value always 1).\n"
    "# TYPE tokbench_info gauge\n"
    "tokbench_info{model=\"a\\\"b\\\\c\\nd\",tokbench_version=\"" TOKBENCH_VERSION "\","
    "llama_benchy_version=\"0.4.0\",latency_mode=\"api\",date=\"2026-11-23 12:00:00\"} 1\n"
    "# HELP tokbench_pp_tokens_per_second Prompt processing throughput (llama-benchy pp t/s), "
    "tokens per second.\n"
    "# TYPE tokbench_pp_tokens_per_second gauge\n"
    "tokbench_pp_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"1\",phase=\"context\",stat=\"mean\"} 3000\n"
    "tokbench_pp_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"1\",phase=\"context\",stat=\"p50\"} 3000\n"
    "tokbench_pp_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"1\",phase=\"context\",stat=\"p99\"} 3000\n"
    "tokbench_pp_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",stat=\"mean\"} 1500\n"
    "tokbench_pp_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",stat=\"p50\"} 1500\n"
    "tokbench_pp_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",stat=\"p99\"} 1598\n"
    "# HELP tokbench_tg_tokens_per_second Token generation throughput (llama-benchy tg t/s), "
    "tokens per second.\n"
    "# TYPE tokbench_tg_tokens_per_second gauge\n"
    "tokbench_tg_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",stat=\"mean\"} 40.25\n"
    "tokbench_tg_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",stat=\"p50\"} 40.25\n"
    "tokbench_tg_tokens_per_second{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",stat=\"p99\"} 40.25\n"
    "# HELP tokbench_ttft_seconds Time to first token (e2e_ttft minus the latency), seconds, "
    "over the cell's requests.\n"
    "# TYPE tokbench_ttft_seconds summary\n"
    "tokbench_ttft_seconds{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",quantile=\"0.5\"} 0.2\n"
    "tokbench_ttft_seconds{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",quantile=\"0.9\"} 0.28\n"
    "tokbench_ttft_seconds{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",quantile=\"0.95\"} 0.29\n"
    "tokbench_ttft_seconds{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\",quantile=\"0.99\"} 0.298\n"
    "tokbench_ttft_seconds_sum{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\"} 0.6\n"
    "tokbench_ttft_seconds_count{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\"} 3\n"
    "# HELP tokbench_requests Measured requests in the cell.\n"
    "# TYPE tokbench_requests gauge\n"
    "tokbench_requests{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"1\",phase=\"context\"} 1\n"
    "tokbench_requests{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\"} 4\n"
    "# HELP tokbench_failures Failed requests in the cell.\n"
    "# TYPE tokbench_failures gauge\n"
    "tokbench_failures{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"1\",phase=\"context\"} 0\n"
    "tokbench_failures{model=\"a\\\"b\\\\c\\nd\",depth=\"4096\",pp=\"512\",tg=\"32\","
    "concurrency=\"2\",phase=\"inference\"} 1\n";

static void build(results *r)
{
    results_init(r);
    results_meta meta = {"0.4.0", "2026-11-23 12:00:00", "api", 1.0, "a\"b\\c\nd", false, 2,
                         NULL};
    results_set_meta(r, &meta);
    results_run *ctx = add_run(r, 1, 4096, 512, 32, true);
    M(ctx, pp_throughput, 3000);
    ctx->n_requests = 1;
    results_run *run = add_run(r, 2, 4096, 512, 32, false);
    M(run, pp_throughput, 1400, 1600);
    M(run, tg_throughput, 40.25);
    M(run, ttft, 100, 200, 300);
    run->n_requests = 4;
    run->n_errors = 1;
}

TEST(exact_text)
{
    results r;
    build(&r);
    int rc;
    char *text = render(&r, &rc);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(text, expected);
    /* Deterministic: the same results give the same bytes. */
    char *again = render(&r, &rc);
    CHECK_STR_EQ(again, text);
    free(text);
    free(again);
    results_free(&r);
}

TEST(every_family_once_and_contiguous)
{
    results r;
    build(&r);
    results_run *run = &r.runs[1];
    M(run, e2e_ttft, 101, 201, 301);
    M(run, itl, 20, 21);
    M(run, peak_throughput, 45);
    int rc;
    char *text = render(&r, &rc);
    static const char *const families[] = {
        "tokbench_info",         "tokbench_pp_tokens_per_second", "tokbench_tg_tokens_per_second",
        "tokbench_peak_tokens_per_second", "tokbench_ttft_seconds", "tokbench_e2e_ttft_seconds",
        "tokbench_itl_seconds",  "tokbench_requests",             "tokbench_failures"};
    const char *prev = text;
    for (size_t i = 0; i < N(families); i++) {
        char type[128];
        snprintf(type, sizeof type, "# TYPE %s ", families[i]);
        const char *at = strstr(text, type);
        if (!at) {
            TEST_FAIL_AT_("no %s", type);
            continue;
        }
        CHECK(at >= prev); /* in the documented order */
        CHECK(strstr(at + 1, type) == NULL); /* once */
        prev = at;
    }
    /* itl in seconds: 20.5 ms mean over 2 values -> sum 0.041 s. */
    CHECK(strstr(text, "phase=\"inference\"} 0.041\n") != NULL);
    free(text);
    results_free(&r);
}

TEST(empty_results)
{
    results r;
    results_init(&r);
    int rc;
    char *text = render(&r, &rc);
    CHECK_INT_EQ(rc, 0);
    CHECK(strncmp(text, "# HELP tokbench_info", 20) == 0);
    CHECK(strstr(text, "tokbench_requests") == NULL);
    CHECK(strstr(text, "model=\"\"") != NULL);
    free(text);
    results_free(&r);
}

int main(void)
{
    RUN(exact_text);
    RUN(every_family_once_and_contiguous);
    RUN(empty_results);
    return test_summary();
}
