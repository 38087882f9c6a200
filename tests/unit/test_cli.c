/* tokbench's command line: llama-benchy 0.4.0 names, arities and defaults,
 * --extra-body parsing, and the request body built from the options. */
#include <stdlib.h>

#include "client/cli.h"
#include "client/runner.h"
#include "common/log.h"
#include "tests/test.h"

static char errbuf[1024];

static int parse(cli_options *o, int argc, char **argv)
{
    FILE *out = fopen("/dev/null", "w");
    int rc = cli_parse(argc, argv, o, out, errbuf, sizeof errbuf);
    fclose(out);
    return rc;
}

#define PARSE(o, ...)                                                                              \
    parse(o, (int)(sizeof((char *[]){"tokbench", __VA_ARGS__}) / sizeof(char *)),                  \
          (char *[]){"tokbench", __VA_ARGS__})

TEST(defaults_match_llama_benchy)
{
    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http://h:1/v1/"), CLI_OK);
    CHECK_STR_EQ(o.base_url, "http://h:1/v1");
    CHECK_STR_EQ(o.api_key, "EMPTY");
    CHECK(o.model == NULL);
    CHECK_INT_EQ(o.pp.n, 1);
    CHECK_INT_EQ(o.pp.v[0], 2048);
    CHECK_INT_EQ(o.tg.v[0], 32);
    CHECK_INT_EQ(o.depth.v[0], 0);
    CHECK_INT_EQ(o.concurrency.v[0], 1);
    CHECK_INT_EQ(o.runs, 3);
    CHECK_INT_EQ(o.latency_mode, CLI_LATENCY_API);
    CHECK_INT_EQ(o.format, CLI_FORMAT_MD);
    CHECK(o.adapt_prompt);
    CHECK(!o.no_cache && !o.no_warmup && !o.skip_coherence && !o.enable_prefix_caching);
    CHECK(!o.exit_on_first_fail && !o.no_results_on_fail && !o.exact_tg && !o.realtime);
    CHECK_INT_EQ(cJSON_GetArraySize(o.extra_body), 0);
    CHECK(o.timeout_s == 600.0);
    CHECK(o.seed == CLI_DEFAULT_SEED);
    cli_options_free(&o);
}

TEST(lists_and_flags)
{
    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http://h", "--pp", "512", "1024", "--tg", "32", "--depth",
                       "0", "2048", "4096", "--concurrency", "1", "4", "--runs", "2",
                       "--no-adapt-prompt", "--latency-mode", "generation", "--format", "json",
                       "--no-results-on-fail", "--enable-prefix-caching", "--no-cache",
                       "--exact-tg", "--model", "m", "--served-model-name", "s", "--realtime"),
                 CLI_OK);
    CHECK_INT_EQ(o.pp.n, 2);
    CHECK_INT_EQ(o.pp.v[1], 1024);
    CHECK_INT_EQ(o.depth.n, 3);
    CHECK_INT_EQ(o.depth.v[2], 4096);
    CHECK_INT_EQ(o.concurrency.v[1], 4);
    CHECK_INT_EQ(o.runs, 2);
    CHECK(!o.adapt_prompt);
    CHECK_INT_EQ(o.latency_mode, CLI_LATENCY_GENERATION);
    CHECK_INT_EQ(o.format, CLI_FORMAT_JSON);
    CHECK(o.no_results_on_fail && o.exit_on_first_fail);
    CHECK(o.enable_prefix_caching && o.no_cache && o.exact_tg && o.realtime);
    CHECK_STR_EQ(o.model, "m");
    CHECK_STR_EQ(o.served_model_name, "s");
    cli_options_free(&o);
}

TEST(equals_form_abbreviation_and_last_wins)
{
    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--base-url=http://h", "--runs=5", "--conc", "8", "--pp", "1", "--pp",
                       "7", "--adapt-prompt", "--no-adapt-prompt", "--adapt-prompt"),
                 CLI_OK);
    CHECK_INT_EQ(o.runs, 5);
    CHECK_INT_EQ(o.concurrency.v[0], 8);
    CHECK_INT_EQ(o.pp.n, 1);
    CHECK_INT_EQ(o.pp.v[0], 7);
    CHECK(o.adapt_prompt);
    cli_options_free(&o);
}

TEST(bad_usage_is_reported)
{
    static const struct {
        const char *a, *b, *c;
        const char *needle;
    } cases[] = {
        {"--pp", "x", NULL, "invalid int value"},
        {"--pp", NULL, NULL, "expected at least one argument"},
        {"--pp", "0", NULL, "out of range"},
        {"--depth", "-1", NULL, "out of range"},
        {"--runs", "0", NULL, "--runs"},
        {"--format", "xml", NULL, "invalid choice"},
        {"--latency-mode", "fast", NULL, "invalid choice"},
        {"--bogus", NULL, NULL, "unrecognized"},
        {"--p", "1", NULL, "ambiguous"},
        {"--extra-body", "novalue", NULL, "key=value"},
        {"--extra-body", "=1", NULL, "empty key"},
        {"--timeout", "0", NULL, "positive"},
        {"--no-cache=1", NULL, NULL, "ignored explicit argument"},
        {"--model", NULL, NULL, "expected one argument"},
        {"--concurrency", "0", NULL, "out of range"},
        {"--tg", "-3", NULL, "out of range"},
        {"--runs", "-1", NULL, "--runs"},
        {"--extra-body", "a={\"x\":1,", NULL, "not valid JSON"},
        {"--extra-body", "a=[1,2", NULL, "not valid JSON"},
        {"--slo", "bogus", NULL, "--slo"},
        {"--request-timeout", "-2", NULL, "positive"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[6] = {"tokbench", "--base-url", "http://h", (char *)cases[i].a,
                         (char *)cases[i].b, (char *)cases[i].c};
        int argc = 4 + (cases[i].b != NULL) + (cases[i].c != NULL);
        cli_options o;
        int rc = parse(&o, argc, argv);
        if (rc != CLI_USAGE || !strstr(errbuf, cases[i].needle))
            TEST_FAIL_AT_("case %zu (%s): rc %d, message '%s'", i, cases[i].a, rc, errbuf);
        cli_options_free(&o);
    }
    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--pp", "1"), CLI_USAGE);
    CHECK(strstr(errbuf, "--base-url") != NULL);
    cli_options_free(&o);
    CHECK_INT_EQ(PARSE(&o, "--base-url", "ftp://h"), CLI_USAGE);
    cli_options_free(&o);
    /* A URL without a scheme or without a host. */
    CHECK_INT_EQ(PARSE(&o, "--base-url", "127.0.0.1:8080/v1"), CLI_USAGE);
    CHECK(strstr(errbuf, "http://") != NULL);
    cli_options_free(&o);
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http:///v1"), CLI_USAGE);
    CHECK(strstr(errbuf, "no host") != NULL);
    cli_options_free(&o);
}

TEST(base_url_credentials_are_taken_out)
{
    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http://alice:s%40cret@h:8080/v1/"), CLI_OK);
    CHECK_STR_EQ(o.base_url, "http://h:8080/v1");
    CHECK_STR_EQ(o.base_url_userinfo, "alice:s@cret");
    cli_options_free(&o);
    CHECK_INT_EQ(PARSE(&o, "--base-url", "https://h/v1?x=a@b"), CLI_OK);
    CHECK_STR_EQ(o.base_url, "https://h/v1?x=a@b");
    CHECK(o.base_url_userinfo == NULL);
    cli_options_free(&o);
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http://user@/v1"), CLI_USAGE);
    CHECK(strstr(errbuf, "no host") != NULL);
    CHECK(strstr(errbuf, "user") == NULL);
    cli_options_free(&o);
}

TEST(help_and_version_exit_zero)
{
    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--help"), CLI_EXIT);
    cli_options_free(&o);
    CHECK_INT_EQ(PARSE(&o, "--version"), CLI_EXIT);
    cli_options_free(&o);
    CHECK_INT_EQ(PARSE(&o, "-h"), CLI_EXIT);
    cli_options_free(&o);
}

TEST(extra_body_values)
{
    cJSON *obj = cJSON_CreateObject();
    char err[256];
    CHECK_INT_EQ(cli_parse_extra_body("temperature=0.5, top_k:40,flag=true", obj, err, sizeof err),
                 0);
    CHECK_INT_EQ(cli_parse_extra_body("name=hello world,obj={\"a\":1},n=null", obj, err,
                                      sizeof err),
                 0);
    CHECK_INT_EQ(cli_parse_extra_body("temperature=1", obj, err, sizeof err), 0);
    char *s = cJSON_PrintUnformatted(obj);
    CHECK_STR_EQ(s, "{\"temperature\":1,\"top_k\":40,\"flag\":true,\"name\":\"hello world\","
                    "\"obj\":{\"a\":1},\"n\":null}");
    free(s);
    CHECK_INT_EQ(cli_parse_extra_body("x", obj, err, sizeof err), -1);
    cJSON_Delete(obj);
}

TEST(extra_body_json_values_keep_their_commas)
{
    cJSON *obj = cJSON_CreateObject();
    char err[256];
    CHECK_INT_EQ(cli_parse_extra_body("stream_options={\"include_usage\":true, "
                                      "\"continuous_usage_stats\":true}",
                                      obj, err, sizeof err),
                 0);
    CHECK_INT_EQ(cli_parse_extra_body("stop=[\"a,b\", \"}\"],t=0.1,"
                                      "kw:{\"x\":{\"y\":[1,2]},\"s\":\"q\\\",\"},z=1",
                                      obj, err, sizeof err),
                 0);
    /* '=' and ':' inside a JSON value do not move the key separator. */
    CHECK_INT_EQ(cli_parse_extra_body("m:{\"a=b\":1},u=http://h:1/x", obj, err, sizeof err),
                 0);
    char *s = cJSON_PrintUnformatted(obj);
    CHECK_STR_EQ(s, "{\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":"
                    "true},\"stop\":[\"a,b\",\"}\"],\"t\":0.1,\"kw\":{\"x\":{\"y\":[1,2]},"
                    "\"s\":\"q\\\",\"},\"z\":1,\"m\":{\"a=b\":1},\"u\":\"http://h:1/x\"}");
    free(s);
    /* Unbalanced JSON: llama-benchy would send it as a string; issue 7 makes
     * it bad usage (no silent default), naming the key. */
    CHECK_INT_EQ(cli_parse_extra_body("bad={\"a\":1,b=2", obj, err, sizeof err), -1);
    CHECK(strstr(err, "'bad'") != NULL && strstr(err, "not valid JSON") != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(obj, "bad") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(obj, "b") == NULL);
    /* Empty entries are skipped; an entry without a separator is an error. */
    CHECK_INT_EQ(cli_parse_extra_body(",, ,", obj, err, sizeof err), 0);
    CHECK_INT_EQ(cli_parse_extra_body("ok=1,{\"a\":1}", obj, err, sizeof err), -1);
    cJSON_Delete(obj);

    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http://h", "--extra-body",
                       "stream_options={\"include_usage\":true,\"continuous_usage_stats\":true}"),
                 CLI_OK);
    char *b = runner_request_body(&o, "m", "", "hi", 8, 0);
    CHECK(b && strstr(b, "\"continuous_usage_stats\":true") != NULL);
    free(b);
    cli_options_free(&o);
}

TEST(request_body_order_and_merges)
{
    cli_options o;
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http://h", "--no-cache", "--extra-body",
                       "max_tokens=5,temperature=0", "--exact-tg"),
                 CLI_OK);
    char *b = runner_request_body(&o, "m", "CTX", "hi", 32, 1);
    CHECK_STR_EQ(b, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"CTX\"},"
                    "{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":32,\"stream\":true,"
                    "\"return_token_ids\":true,\"stream_options\":{\"include_usage\":true},"
                    "\"cache_prompt\":false,\"temperature\":0,\"min_tokens\":32,"
                    "\"ignore_eos\":true}");
    free(b);
    cli_options_free(&o);
    CHECK_INT_EQ(PARSE(&o, "--base-url", "http://h"), CLI_OK);
    b = runner_request_body(&o, "m", "", "  ", 8, 0);
    CHECK_STR_EQ(b, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\".\"}],"
                    "\"max_tokens\":8,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    free(b);
    cli_options_free(&o);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    RUN(defaults_match_llama_benchy);
    RUN(lists_and_flags);
    RUN(equals_form_abbreviation_and_last_wins);
    RUN(bad_usage_is_reported);
    RUN(base_url_credentials_are_taken_out);
    RUN(help_and_version_exit_zero);
    RUN(extra_body_values);
    RUN(extra_body_json_values_keep_their_commas);
    RUN(request_body_order_and_merges);
    return test_summary();
}
