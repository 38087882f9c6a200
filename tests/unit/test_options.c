/* tokmock's command line: defaults, every value form, and refusals. */
#include <stdio.h>
#include <string.h>

#include "mockserver/cache.h"
#include "mockserver/options.h"
#include "tests/test.h"

static int parse(mock_options *o, const char *const *args, char *err)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"tokmock";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    options_default(o);
    FILE *sink = fopen("/dev/null", "w");
    int rc = options_parse(o, argc, argv, sink, err, 256);
    fclose(sink);
    return rc;
}

TEST(defaults)
{
    mock_options o;
    char err[256];
    const char *args[] = {NULL};
    CHECK_INT_EQ(parse(&o, args, err), OPT_OK);
    CHECK_STR_EQ(o.host, "127.0.0.1");
    CHECK_INT_EQ(o.port, 8000);
    CHECK_INT_EQ(o.n_models, 1);
    CHECK_STR_EQ(o.models[0], "tokmock");
    CHECK_DBL_NEAR(o.sched.pp_rate, 1000, 0);
    CHECK_DBL_NEAR(o.sched.tg_rate, 50, 0);
    CHECK_INT_EQ(o.threads, 1100);
    CHECK_INT_EQ(o.emitters, 2);
    CHECK_INT_EQ(o.ctx_size, 131072);
    CHECK_INT_EQ(o.cache_mode, CACHE_LCP);
    CHECK_INT_EQ(o.role_chunk, ROLE_WITH_FIRST);
    CHECK_INT_EQ(o.personality, PERS_VLLM);
    CHECK_INT_EQ(o.eos_at, -1);
    CHECK_INT_EQ(o.max_body_bytes, 64 << 20);
    CHECK_INT_EQ(o.max_header_bytes, 16384);
    CHECK_INT_EQ(o.max_json_depth, 64);
    CHECK_INT_EQ(o.max_connections, 0);
    CHECK_INT_EQ(o.faults.n, 0);
    CHECK_INT_EQ(o.personality_set, 0);
    CHECK_INT_EQ(o.startup_ns, 0);
    CHECK(o.replay_path == NULL);
}

TEST(personality_startup_replay)
{
    mock_options o;
    char err[256] = "";
    const char *args[] = {"--personality", "vllm", "--startup-ms", "1.5", "--replay",
                          "fixtures/x.lines.tsv", NULL};
    CHECK_INT_EQ(parse(&o, args, err), OPT_OK);
    CHECK_INT_EQ(o.personality, PERS_VLLM);
    CHECK_INT_EQ(o.personality_set, 1);
    CHECK_INT_EQ(o.startup_ns, 1500000);
    CHECK_STR_EQ(o.replay_path, "fixtures/x.lines.tsv");
    static const char *const names[] = {"llamacpp", "vllm", "sglang", "openai", "ollama"};
    for (size_t i = 0; i < 5; i++) {
        const char *one[] = {"--personality", names[i], NULL};
        CHECK_INT_EQ(parse(&o, one, err), OPT_OK);
        CHECK_STR_EQ(options_personality_name(o.personality), names[i]);
    }
    const char *b1[] = {"--startup-ms", "-1", NULL};
    CHECK_INT_EQ(parse(&o, b1, err), OPT_ERR);
    CHECK(strstr(err, "--startup-ms") != NULL);
    const char *b2[] = {"--replay", "", NULL};
    CHECK_INT_EQ(parse(&o, b2, err), OPT_ERR);
    CHECK(strstr(err, "--replay") != NULL);
}

TEST(limits_and_faults)
{
    mock_options o;
    char err[256] = "";
    const char *args[] = {"--max-header-bytes", "4096", "--max-json-depth", "8",
                          "--max-connections", "3", "--fault",
                          "status=429:0.1,disconnect-after=20:0.05,stall=2000@10:0.02", NULL};
    CHECK_INT_EQ(parse(&o, args, err), OPT_OK);
    CHECK_INT_EQ(o.max_header_bytes, 4096);
    CHECK_INT_EQ(o.max_json_depth, 8);
    CHECK_INT_EQ(o.max_connections, 3);
    CHECK_INT_EQ(o.faults.n, 3);
    CHECK_INT_EQ(o.faults.entries[2].kind, FAULT_STALL);

    /* A bad entry is named in the message. */
    const char *bad[] = {"--fault", "trickle,stall=x@2", NULL};
    CHECK_INT_EQ(parse(&o, bad, err), OPT_ERR);
    CHECK(strstr(err, "--fault") && strstr(err, "stall=x@2"));
}

TEST(values)
{
    mock_options o;
    char err[256];
    const char *args[] = {"--port=0", "--model", "a", "--model", "b", "--pp-rate", "2000.5",
                          "--tg-rate=75", "--overhead-ms", "1.5", "--parallel", "4",
                          "--cache", "block", "--cache-block", "32", "--mtp-pattern", "3,1,2",
                          "--reasoning", "5", "--role-chunk", "early", "--seed", "99",
                          "--api-key", "k", "--truth", "--threads", "64", "--ping-ms", "250",
                          "--eos-at", "9", "--no-tokenize", "--quiet", "--personality",
                          "llamacpp", NULL};
    CHECK_INT_EQ(parse(&o, args, err), OPT_OK);
    CHECK_INT_EQ(o.port, 0);
    CHECK_INT_EQ(o.n_models, 2);
    CHECK_STR_EQ(o.models[1], "b");
    CHECK_DBL_NEAR(o.sched.pp_rate, 2000.5, 0);
    CHECK_DBL_NEAR(o.sched.tg_rate, 75, 0);
    CHECK_INT_EQ(o.sched.overhead_ns, 1500000);
    CHECK_INT_EQ(o.parallel, 4);
    CHECK_INT_EQ(o.cache_mode, CACHE_BLOCK);
    CHECK_INT_EQ(o.cache_block, 32);
    CHECK_INT_EQ(o.sched.mtp_pattern_len, 3);
    CHECK_INT_EQ(o.reasoning_tokens, 5);
    CHECK_INT_EQ(o.role_chunk, ROLE_EARLY);
    CHECK_INT_EQ(o.seed, 99);
    CHECK_STR_EQ(o.api_key, "k");
    CHECK_INT_EQ(o.truth, 1);
    CHECK_INT_EQ(o.threads, 64);
    CHECK_INT_EQ(o.ping_ns, 250000000);
    CHECK_INT_EQ(o.eos_at, 9);
    CHECK_INT_EQ(o.no_tokenize, 1);
    CHECK_INT_EQ(o.personality, PERS_LLAMACPP);
}

TEST(refusals)
{
    static const char *const bad[][4] = {
        {"--port", "65536"}, {"--port", "1x"}, {"--pp-rate", "0"}, {"--tg-rate", "nan"},
        {"--overhead-ms", "-1"}, {"--parallel", "-2"}, {"--engine", "shard"},
        {"--engine", "other"}, {"--cache", "lru"}, {"--mtp", "64"}, {"--mtp-accept", "2"},
        {"--mtp-pattern", "0"}, {"--role-chunk", "x"}, {"--personality", "x"},
        {"--seed", "-1"}, {"--fault", "status=200:1"}, {"--fault", "bogus"},
        {"--fault", "stall"}, {"--log-level", "loud"}, {"--max-json-depth", "0"},
        {"--max-json-depth", "65"}, {"--max-connections", "-1"}, {"--max-header-bytes", "10"},
        {"--threads", "1"}, {"--eos-at", "0"}, {"--truth=1"}, {"--port"}, {"positional"},
        {"--unknown"}, {"--mtp", "2", "--mtp-pattern", "1"}, {"--model", ""},
        {"--emitters", "-1"}, {"--emitters", "65"}, {"--emitters", "two"}, {"--emitters", ""},
        {"--emitters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mock_options o;
        char err[256] = "";
        if (parse(&o, bad[i], err) != OPT_ERR || !err[0])
            TEST_FAIL_AT_("case %zu (%s) accepted", i, bad[i][0]);
    }
}

TEST(emitters)
{
    static const struct {
        const char *value;
        int want;
    } cases[] = {{"0", 0}, {"1", 1}, {"4", 4}, {"64", 64}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mock_options o;
        char err[256] = "";
        const char *args[] = {"--emitters", cases[i].value, NULL};
        CHECK_INT_EQ(parse(&o, args, err), OPT_OK);
        CHECK_INT_EQ(o.emitters, cases[i].want);
    }
    mock_options o;
    char err[256] = "";
    const char *bad[] = {"--emitters=99", NULL};
    CHECK_INT_EQ(parse(&o, bad, err), OPT_ERR);
    CHECK(strstr(err, "--emitters") != NULL && strstr(err, "0..64") != NULL &&
          strstr(err, "'99'") != NULL);
}

/* The two scheduling switches: off by default, no value taken. */
TEST(scheduling_switches)
{
    mock_options o;
    char err[256] = "";
    const char *none[] = {NULL};
    CHECK_INT_EQ(parse(&o, none, err), OPT_OK);
    CHECK_INT_EQ(o.no_realtime, 0);
    CHECK_INT_EQ(o.yield_cpu, 0);
    const char *rt[] = {"--no-realtime", NULL};
    CHECK_INT_EQ(parse(&o, rt, err), OPT_OK);
    CHECK_INT_EQ(o.no_realtime, 1);
    CHECK_INT_EQ(o.yield_cpu, 0);
    const char *yield[] = {"--yield-cpu", NULL};
    CHECK_INT_EQ(parse(&o, yield, err), OPT_OK);
    CHECK_INT_EQ(o.no_realtime, 0);
    CHECK_INT_EQ(o.yield_cpu, 1);
    const char *bad[] = {"--no-realtime=1", NULL};
    CHECK_INT_EQ(parse(&o, bad, err), OPT_ERR);
    const char *bad2[] = {"--yield-cpu=yes", NULL};
    CHECK_INT_EQ(parse(&o, bad2, err), OPT_ERR);
    CHECK(strstr(err, "--yield-cpu") != NULL);
}

TEST(help_and_version_exit)
{
    mock_options o;
    char err[256];
    const char *h[] = {"--help", NULL};
    const char *v[] = {"--version", NULL};
    CHECK_INT_EQ(parse(&o, h, err), OPT_EXIT);
    CHECK_INT_EQ(parse(&o, v, err), OPT_EXIT);
}

int main(void)
{
    RUN(defaults);
    RUN(values);
    RUN(limits_and_faults);
    RUN(personality_startup_replay);
    RUN(refusals);
    RUN(emitters);
    RUN(scheduling_switches);
    RUN(help_and_version_exit);
    return test_summary();
}
