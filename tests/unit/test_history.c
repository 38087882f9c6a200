/* Unit tests for the history ledger: the comparison key, the normalized
 * summary, regression detection, and a record/list round trip in a
 * temporary directory (fixed wall times, no network). */
#define _GNU_SOURCE /* mkdtemp, open_memstream (POSIX 2008 too) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../client/cli.h"
#include "../../client/commands.h"
#include "../../client/history.h"
#include "../../client/stats.h"
#include "../../common/xalloc.h"
#include "../test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-11-23 12:00:00 UTC */
#define WALL0 (INT64_C(1795435200) * 1000000000)

#define M(run, field, ...)                                                               \
    do {                                                                                 \
        const double v_[] = {__VA_ARGS__};                                               \
        results_metric_set(&(run)->field, v_, N(v_));                                                \
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
    return run;
}

/* One cell, pp512 tg32 d0 c1; tg_scale scales the tg t/s (a regression). */
static void build(results *r, double tg_scale, int errors)
{
    results_init(r);
    results_meta meta = {"0.4.0", "2026-11-23 12:00:00", "api", 1.0, "tiny", false, 1, NULL};
    results_set_meta(r, &meta);
    results_run *run = add_run(r, 1, 0, 512, 32);
    M(run, pp_throughput, 1000, 1010, 990);
    M(run, tg_throughput, 50 * tg_scale, 51 * tg_scale, 49 * tg_scale);
    M(run, ttft, 100, 110, 120);
    M(run, e2e_ttft, 101, 111, 121);
    run->n_requests = 3;
    run->n_errors = errors;
}

static int parse(cli_options *o, const char *const *args, size_t n)
{
    char *argv[32];
    argv[0] = (char *)"tokbench";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    char err[256];
    FILE *devnull = fopen("/dev/null", "w");
    int rc = cli_parse((int)n + 1, argv, o, devnull, err, sizeof err);
    fclose(devnull);
    if (rc != CLI_OK)
        printf("  cli_parse: %s\n", err);
    return rc;
}

TEST(url_host_table)
{
    static const struct {
        const char *url, *host;
    } cases[] = {
        {"http://127.0.0.1:8080/v1", "127.0.0.1"},
        {"https://user:secret@API.Example.com/v1?x=1", "api.example.com"},
        {"http://a@b@host:1/v1", "host"},
        {"http://[::1]:8000/v1", "[::1]"},
        {"localhost:9000", "localhost"},
        {"http://host#frag", "host"},
        {"", ""},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[64];
        CHECK(history_url_host(cases[i].url, out, sizeof out) >= 0);
        CHECK_STR_EQ(out, cases[i].host);
    }
    char tiny[4];
    CHECK_INT_EQ(history_url_host("http://longhost/", tiny, sizeof tiny), -1);
}

TEST(key_same_shape_same_id)
{
    const char *a1[] = {"--base-url", "http://127.0.0.1:1111/v1", "--pp", "512", "1024", "--tg",
                        "32"};
    const char *a2[] = {"--base-url", "http://user:pw@127.0.0.1:2222/v1", "--pp", "512", "1024",
                        "--tg", "32", "--runs", "7"};
    cli_options o1, o2;
    CHECK_INT_EQ(parse(&o1, a1, N(a1)), CLI_OK);
    CHECK_INT_EQ(parse(&o2, a2, N(a2)), CLI_OK);
    history_key k1, k2;
    history_key_build(&o1, "m", &k1);
    history_key_build(&o2, "m", &k2);
    CHECK_STR_EQ(k1.id, k2.id); /* port, credentials and --runs do not matter */
    CHECK_INT_EQ(strlen(k1.id), 16);
    CHECK_STR_EQ(k1.host, "127.0.0.1");
    CHECK_STR_EQ(k1.pp, "512,1024");
    CHECK_STR_EQ(k1.tg, "32");
    CHECK_STR_EQ(k1.depth, "0");
    CHECK_STR_EQ(k1.concurrency, "1");
    CHECK_STR_EQ(k1.load_mode, "burst");
    CHECK_STR_EQ(k1.cache, "default");
    CHECK_STR_EQ(k1.label, "");
    CHECK_STR_EQ(k1.version, TOKBENCH_VERSION);
    history_key_free(&k1);
    history_key_free(&k2);
    cli_options_free(&o1);
    cli_options_free(&o2);
}

TEST(key_differs_by_shape)
{
    const char *base[] = {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32"};
    cli_options o;
    CHECK_INT_EQ(parse(&o, base, N(base)), CLI_OK);
    history_key k0;
    history_key_build(&o, "m", &k0);
    cli_options_free(&o);

    static const char *const variants[][12] = {
        {"--base-url", "http://other/v1", "--pp", "512", "--tg", "32"},
        {"--base-url", "http://h/v1", "--pp", "1024", "--tg", "32"},
        {"--base-url", "http://h/v1", "--pp", "512", "--tg", "64"},
        {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32", "--depth", "4096"},
        {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32", "--concurrency", "2"},
        {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32", "--label", "build-2"},
        {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32", "--request-rate", "4",
         "--num-requests", "8"},
        {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32", "--no-cache"},
        {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32", "--latency-mode", "none"},
    };
    for (size_t i = 0; i < N(variants); i++) {
        size_t n = 0;
        while (n < 12 && variants[i][n])
            n++;
        CHECK_INT_EQ(parse(&o, (const char *const *)variants[i], n), CLI_OK);
        history_key k;
        history_key_build(&o, "m", &k);
        if (strcmp(k.id, k0.id) == 0)
            TEST_FAIL_AT_("variant %zu has the base key %s", i, k.id);
        if (i == 6)
            CHECK(strncmp(k.load_mode, "request_rate=4,", 15) == 0);
        history_key_free(&k);
        cli_options_free(&o);
    }
    /* The model is part of the key too. */
    CHECK_INT_EQ(parse(&o, base, N(base)), CLI_OK);
    history_key k;
    history_key_build(&o, "other-model", &k);
    CHECK(strcmp(k.id, k0.id) != 0);
    history_key_free(&k);
    cli_options_free(&o);
    history_key_free(&k0);
}

static const cJSON *cell0(const cJSON *s)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(s, "cells"), 0);
}

TEST(summary_normalizes_cells)
{
    const char *args[] = {"--base-url", "http://h/v1", "--pp", "512", "--tg", "32", "--label",
                          "nightly"};
    cli_options o;
    CHECK_INT_EQ(parse(&o, args, N(args)), CLI_OK);
    results r;
    build(&r, 1.0, 1);
    results_run *ctx = add_run(&r, 2, 4096, 512, 32); /* nothing measured */
    ctx->is_context_prefill_phase = true;
    history_key k;
    history_key_build(&o, r.model, &k);
    cJSON *s = history_summary(&r, &k, "2026-11-23T12:00:00Z", "runs/x.json");
    CHECK_STR_EQ(cJSON_GetObjectItem(s, "key")->valuestring, k.id);
    CHECK_STR_EQ(cJSON_GetObjectItem(s, "label")->valuestring, "nightly");
    CHECK_STR_EQ(cJSON_GetObjectItem(s, "model")->valuestring, "tiny");
    CHECK_STR_EQ(cJSON_GetObjectItem(s, "time")->valuestring, "2026-11-23T12:00:00Z");
    CHECK_STR_EQ(cJSON_GetObjectItem(s, "run_file")->valuestring, "runs/x.json");
    CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "key_fields"), "host")->valuestring,
                 "h");
    CHECK_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(s, "cells")), 2);
    const cJSON *c = cell0(s);
    CHECK_INT_EQ(cJSON_GetObjectItem(c, "pp")->valueint, 512);
    CHECK_INT_EQ(cJSON_GetObjectItem(c, "tg")->valueint, 32);
    CHECK_INT_EQ(cJSON_GetObjectItem(c, "depth")->valueint, 0);
    CHECK_INT_EQ(cJSON_GetObjectItem(c, "concurrency")->valueint, 1);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c, "context_phase")));
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c, "pp_tps_mean")->valuedouble, 1000, 1e-9);
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c, "tg_tps_mean")->valuedouble, 50, 1e-9);
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c, "ttft_ms_median")->valuedouble, 110, 1e-9);
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c, "ttft_ms_p99")->valuedouble, 119.8, 1e-9);
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c, "e2e_ttft_ms_median")->valuedouble, 111, 1e-9);
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c, "e2e_ttft_ms_p99")->valuedouble, 120.8, 1e-9);
    CHECK_INT_EQ(cJSON_GetObjectItem(c, "requests")->valueint, 3);
    CHECK_INT_EQ(cJSON_GetObjectItem(c, "failures")->valueint, 1);
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c, "error_rate")->valuedouble, 1.0 / 3, 1e-12);
    const cJSON *c2 = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "cells"), 1);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c2, "context_phase")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(c2, "pp_tps_mean")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(c2, "ttft_ms_p99")));
    CHECK_DBL_NEAR(cJSON_GetObjectItem(c2, "error_rate")->valuedouble, 0, 0);
    cJSON_Delete(s);
    history_key_free(&k);
    results_free(&r);
    cli_options_free(&o);
}

/* A summary with one cell, built from JSON text. */
static cJSON *summary_text(const char *cell)
{
    buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"key\":\"k\",\"cells\":[%s]}", cell);
    cJSON *s = cJSON_Parse(b.data);
    buf_free(&b);
    return s;
}

#define CELL(pp_tps, tg_tps, ttft_p50, ttft_p99, err_rate)                                 \
    "{\"depth\":0,\"pp\":512,\"tg\":32,\"concurrency\":1,\"context_phase\":false,"         \
    "\"pp_tps_mean\":" pp_tps ",\"tg_tps_mean\":" tg_tps ",\"ttft_ms_median\":" ttft_p50   \
    ",\"ttft_ms_p99\":" ttft_p99 ",\"e2e_ttft_ms_median\":null,\"e2e_ttft_ms_p99\":null,"  \
    "\"requests\":10,\"failures\":0,\"error_rate\":" err_rate "}"

static int compare_text(const char *prev_cell, const char *now_cell, double pct, char **text)
{
    cJSON *p = summary_text(prev_cell), *n = summary_text(now_cell);
    size_t len;
    FILE *f = open_memstream(text, &len);
    int rc = history_compare_summaries(p, n, pct, f);
    fclose(f);
    cJSON_Delete(p);
    cJSON_Delete(n);
    return rc;
}

TEST(regression_detection_table)
{
    static const struct {
        const char *name, *prev, *now;
        double pct;
        int regressions;
        const char *needle; /* must appear in the output (NULL = none) */
    } cases[] = {
        {"unchanged", CELL("1000", "50", "100", "120", "0"), CELL("1000", "50", "100", "120", "0"),
         10, 0, NULL},
        {"small_noise", CELL("1000", "50", "100", "120", "0"), CELL("950", "46", "109", "131", "0"),
         10, 0, NULL},
        {"tg_halved", CELL("1000", "50", "100", "120", "0"), CELL("1000", "25", "100", "120", "0"),
         10, 1, "REGRESSION: pp512 tg32 @ d0 c1: tg t/s (mean) 50.00 -> 25.00 (-50.0%"},
        {"tg_halved_loose_threshold", CELL("1000", "50", "100", "120", "0"),
         CELL("1000", "25", "100", "120", "0"), 60, 0, NULL},
        {"faster_is_fine", CELL("1000", "50", "100", "120", "0"),
         CELL("2000", "100", "50", "60", "0"), 10, 0, NULL},
        {"latency_up", CELL("1000", "50", "100", "120", "0"), CELL("1000", "50", "115", "150", "0"),
         10, 2, "ttft ms (p99) 120.00 -> 150.00 (+25.0%"},
        {"errors_appear", CELL("1000", "50", "100", "120", "0"),
         CELL("1000", "50", "100", "120", "0.1"), 10, 1, "error rate 0.0% -> 10.0%"},
        {"tg_no_longer_measured", CELL("1000", "50", "100", "120", "0"),
         CELL("1000", "null", "100", "120", "0"), 10, 1, "tg t/s (mean) no longer measured"},
        {"zero_previous_is_not_a_division", CELL("0", "50", "0", "120", "0"),
         CELL("10", "50", "5", "120", "0"), 10, 0, "n/a"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *text = NULL;
        int got = compare_text(cases[i].prev, cases[i].now, cases[i].pct, &text);
        if (got != cases[i].regressions)
            TEST_FAIL_AT_("%s: %d regressions, expected %d:\n%s", cases[i].name, got,
                          cases[i].regressions, text);
        if (cases[i].needle && !strstr(text, cases[i].needle))
            TEST_FAIL_AT_("%s: no \"%s\" in:\n%s", cases[i].name, cases[i].needle, text);
        if (!cases[i].regressions && strstr(text, "REGRESSION"))
            TEST_FAIL_AT_("%s: unexpected REGRESSION in:\n%s", cases[i].name, text);
        free(text);
    }
}

TEST(cells_that_come_and_go)
{
    char *text = NULL;
    const char *other = "{\"depth\":4096,\"pp\":512,\"tg\":32,\"concurrency\":1,"
                        "\"context_phase\":false,\"tg_tps_mean\":1}";
    int got = compare_text(CELL("1000", "50", "100", "120", "0"), other, 10, &text);
    CHECK_INT_EQ(got, 0);
    CHECK(strstr(text, "pp512 tg32 @ d4096 c1        (new cell") != NULL);
    CHECK(strstr(text, "pp512 tg32 @ d0 c1           (not measured this time)") != NULL);
    free(text);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/test_history.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? xstrdup(d) : NULL;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes a test directory and everything in it. */
static void remove_tree(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *path)
{
    buf b;
    buf_init(&b, 0);
    char err[256];
    if (history_read_file(path, 1 << 20, &b, err, sizeof err)) {
        buf_free(&b);
        return xstrdup("");
    }
    return b.data ? buf_steal(&b) : xstrdup("");
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int run_cmd(int (*fn)(int, char **, FILE *, FILE *), const char *const *args, size_t n,
                   char **out, char **err)
{
    char *argv[8];
    for (size_t i = 0; i < n; i++)
        argv[i] = (char *)args[i];
    size_t lo, le;
    FILE *fo = open_memstream(out, &lo), *fe = open_memstream(err, &le);
    int rc = fn((int)n, argv, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

TEST(record_round_trip)
{
    char *dir = make_tmpdir();
    CHECK(dir != NULL);
    if (!dir)
        return;
    buf sub;
    buf_init(&sub, 0);
    buf_printf(&sub, "%s/ledger", dir); /* created by the first record */
    const char *args[] = {"--base-url", "http://127.0.0.1:9/v1", "--pp", "512", "--tg", "32"};
    cli_options o;
    CHECK_INT_EQ(parse(&o, args, N(args)), CLI_OK);

    results r1, r2;
    build(&r1, 1.0, 0);
    build(&r2, 0.5, 0);
    char *e1 = NULL, *e2 = NULL;
    size_t l1, l2;
    FILE *f1 = open_memstream(&e1, &l1);
    CHECK_INT_EQ(history_record_at(sub.data, &r1, &o, WALL0, f1), 0);
    fclose(f1);
    CHECK(strstr(e1, "first run with this key") != NULL);
    /* Same second, same key: the run file gets a "-2" name, nothing is lost. */
    FILE *f2 = open_memstream(&e2, &l2);
    CHECK_INT_EQ(history_record_at(sub.data, &r2, &o, WALL0, f2), 1);
    fclose(f2);
    CHECK(strstr(e2, "REGRESSION: pp512 tg32 @ d0 c1: tg t/s (mean) 50.00 -> 25.00") != NULL);
    CHECK(strstr(e2, "1 REGRESSION beyond 10%") != NULL);

    history_key k;
    history_key_build(&o, "tiny", &k);
    buf p;
    buf_init(&p, 0);
    buf_printf(&p, "%s/runs/20261123T120000Z-%s.json", sub.data, k.id);
    char *run1 = slurp(p.data);
    CHECK(strstr(run1, "\"model\": \"tiny\"") != NULL);
    buf_reset(&p);
    buf_printf(&p, "%s/runs/20261123T120000Z-%s-2.json", sub.data, k.id);
    CHECK(access(p.data, F_OK) == 0);
    buf_reset(&p);
    buf_printf(&p, "%s/index.jsonl", sub.data);
    char *index = slurp(p.data);
    CHECK_INT_EQ(count_lines(index), 2);
    CHECK(strstr(index, "\"time\":\"2026-11-23T12:00:00Z\"") != NULL);

    /* A corrupt line and a torn last line (no newline) are skipped with a
     * warning; the runs around them still count. */
    FILE *fi = fopen(p.data, "a");
    fputs("{not json\n[1,2]\n{\"key\":\"x\",\"cells\":[{\"pp\":1", fi);
    fclose(fi);
    const char *la[] = {"history", sub.data};
    char *out = NULL, *err = NULL;
    CHECK_INT_EQ(run_cmd(history_cmd_main, la, 2, &out, &err), 0);
    CHECK(strstr(err, "index.jsonl:3: not a valid summary line (skipped)") != NULL);
    CHECK(strstr(err, "index.jsonl:4: not a valid summary line") != NULL);
    CHECK(strstr(err, "index.jsonl:5: not a valid summary line") != NULL);
    CHECK(strstr(out, "2026-11-23T12:00:00Z  key ") != NULL);
    CHECK(strstr(out, "      25.00") != NULL);
    CHECK(strstr(out, "      50.00") != NULL);
    free(out);
    free(err);

    /* A third run appends after the damage and still compares with run 2. */
    char *e3 = NULL;
    size_t l3;
    FILE *f3 = open_memstream(&e3, &l3);
    CHECK_INT_EQ(history_record_at(sub.data, &r2, &o, WALL0 + 1000000000, f3), 0);
    fclose(f3);
    CHECK(strstr(e3, "previous run of this key (2026-11-23T12:00:00Z") != NULL);
    CHECK(strstr(e3, "no regression beyond 10%") != NULL);

    /* --key filters; an unknown key lists nothing. */
    const char *lk[] = {"history", sub.data, "--key", "ffff"};
    CHECK_INT_EQ(run_cmd(history_cmd_main, lk, 4, &out, &err), 0);
    CHECK_STR_EQ(out, "");
    CHECK(strstr(err, "no run with key ffff") != NULL);
    free(out);
    free(err);
    char prefix[5];
    memcpy(prefix, k.id, 4);
    prefix[4] = '\0';
    const char *lk2[] = {"history", sub.data, "--key", prefix};
    CHECK_INT_EQ(run_cmd(history_cmd_main, lk2, 4, &out, &err), 0);
    CHECK(strstr(out, k.id) != NULL);
    free(out);
    free(err);

    free(e1);
    free(e2);
    free(e3);
    free(run1);
    free(index);
    buf_free(&p);
    history_key_free(&k);
    results_free(&r1);
    results_free(&r2);
    cli_options_free(&o);
    buf_free(&sub);
    remove_tree(dir);
    free(dir);
}

TEST(record_into_a_file_fails_cleanly)
{
    char *dir = make_tmpdir();
    if (!dir)
        return;
    buf f;
    buf_init(&f, 0);
    buf_printf(&f, "%s/plainfile", dir);
    FILE *fp = fopen(f.data, "w");
    fclose(fp);
    const char *args[] = {"--base-url", "http://h/v1"};
    cli_options o;
    parse(&o, args, N(args));
    results r;
    build(&r, 1, 0);
    char *e = NULL;
    size_t l;
    FILE *fe = open_memstream(&e, &l);
    CHECK_INT_EQ(history_record_at(f.data, &r, &o, WALL0, fe), -1);
    fclose(fe);
    CHECK(strstr(e, "is not a directory") != NULL);
    free(e);
    results_free(&r);
    cli_options_free(&o);
    buf_free(&f);
    remove_tree(dir);
    free(dir);
}

TEST(history_cmd_usage)
{
    char *out = NULL, *err = NULL;
    const char *none[] = {"history"};
    CHECK_INT_EQ(run_cmd(history_cmd_main, none, 1, &out, &err), 2);
    CHECK(strstr(err, "usage: tokbench history DIR") != NULL);
    free(out);
    free(err);
    const char *bad[] = {"history", "/tmp", "--bogus"};
    CHECK_INT_EQ(run_cmd(history_cmd_main, bad, 3, &out, &err), 2);
    CHECK(strstr(err, "unknown option --bogus") != NULL);
    free(out);
    free(err);
    const char *missing[] = {"history", "/nonexistent/ledger"};
    CHECK_INT_EQ(run_cmd(history_cmd_main, missing, 2, &out, &err), 1);
    CHECK(strstr(err, "no such directory") != NULL);
    free(out);
    free(err);
    const char *empty[] = {"history", "/"};
    CHECK_INT_EQ(run_cmd(history_cmd_main, empty, 2, &out, &err), 1);
    CHECK(strstr(err, "no index.jsonl") != NULL);
    free(out);
    free(err);
    const char *help[] = {"history", "--help"};
    CHECK_INT_EQ(run_cmd(history_cmd_main, help, 2, &out, &err), 0);
    CHECK(strstr(out, "--key KEY") != NULL);
    free(out);
    free(err);
}

int main(void)
{
    RUN(url_host_table);
    RUN(key_same_shape_same_id);
    RUN(key_differs_by_shape);
    RUN(summary_normalizes_cells);
    RUN(regression_detection_table);
    RUN(cells_that_come_and_go);
    RUN(record_round_trip);
    RUN(record_into_a_file_fails_cleanly);
    RUN(history_cmd_usage);
    return test_summary();
}
