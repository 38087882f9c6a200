/* Server kind detection over the bodies and headers of each kind in
 * fixtures/servers/, the --server-kind override, the capability table and
 * the request filter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/serverinfo.h"
#include "common/buf.h"
#include "tests/fixture.h"
#include "tests/test.h"

static const char *root(void)
{
    static const char *prefixes[] = {"", "../../", "../"};
    for (size_t i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, "%sfixtures/servers/vllm.models.json", prefixes[i]);
        if (access(p, R_OK) == 0)
            return prefixes[i];
    }
    return "";
}

/* The file's bytes, or NULL (len 0) when it does not exist. */
static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%sfixtures/servers/%s", root(), name);
    *len = 0;
    return test_read_file(path, len);
}

/* Detects kind `name` from its fixture files; which says which to use:
 * 'm' models body, 'p' props body, 'h' the models headers. */
static void detect_fixture(const char *name, const char *which, serverinfo *out)
{
    char fn[128];
    size_t ml = 0, pl = 0, hl = 0;
    char *m = NULL, *p = NULL, *h = NULL;
    if (strchr(which, 'm')) {
        snprintf(fn, sizeof fn, "%s.models.json", name);
        m = slurp(fn, &ml);
        CHECK(m != NULL);
    }
    if (strchr(which, 'p')) {
        snprintf(fn, sizeof fn, "%s.props.json", name);
        p = slurp(fn, &pl);
        CHECK(p != NULL);
    }
    if (strchr(which, 'h')) {
        snprintf(fn, sizeof fn, "%s.models.headers", name);
        h = slurp(fn, &hl);
        CHECK(h != NULL);
    }
    serverinfo_detect(m, ml, p, pl, h, hl, out);
    free(m);
    free(p);
    free(h);
}

static const struct {
    const char *name, *which;
    enum cli_server_kind kind;
    const char *label, *reason_part;
} CASES[] = {
    {"llamacpp", "mph", CLI_SERVER_LLAMACPP, "llamacpp", "owned_by=llamacpp"},
    {"vllm", "mph", CLI_SERVER_VLLM, "vllm", "owned_by=vllm"},
    {"sglang", "mh", CLI_SERVER_SGLANG, "sglang", "owned_by=sglang"},
    {"openai", "mh", CLI_SERVER_OPENAI, "openai", "owned_by=system"},
    {"ollama", "mh", CLI_SERVER_OLLAMA, "ollama", "owned_by=library"},
    {"lmstudio", "mh", CLI_SERVER_GENERIC, "lmstudio", "owned_by=organization_owner"},
    {"tokmock", "m", CLI_SERVER_AUTO, "tokmock", "owned_by=tokmock"},
    {"unknown", "m", CLI_SERVER_AUTO, "unknown", "not recognised"},
    /* Weaker evidence alone. */
    {"llamacpp", "p", CLI_SERVER_LLAMACPP, "llamacpp", "default_generation_settings"},
    {"llamacpp", "h", CLI_SERVER_LLAMACPP, "llamacpp", "Server: llama.cpp"},
    {"openai", "h", CLI_SERVER_OPENAI, "openai", "openai-version"},
    {"lmstudio", "h", CLI_SERVER_GENERIC, "lmstudio", "Express"},
    /* uvicorn alone cannot tell vLLM from SGLang. */
    {"sglang", "h", CLI_SERVER_AUTO, "unknown", "not recognised"},
    {"vllm", "p", CLI_SERVER_AUTO, "unknown", "not recognised"},
};

TEST(detect_fixtures)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        serverinfo s;
        memset(&s, 0x55, sizeof s);
        detect_fixture(CASES[i].name, CASES[i].which, &s);
        if (s.kind != CASES[i].kind || strcmp(s.label, CASES[i].label) != 0 ||
            !strstr(s.reason, CASES[i].reason_part))
            printf("  case %zu (%s/%s): kind %d label %s reason '%s'\n", i, CASES[i].name,
                   CASES[i].which, (int)s.kind, s.label, s.reason);
        CHECK_INT_EQ(s.kind, CASES[i].kind);
        CHECK_STR_EQ(s.label, CASES[i].label);
        CHECK(strstr(s.reason, CASES[i].reason_part) != NULL);
    }
}

TEST(detect_shape_without_owner)
{
    /* llama.cpp's model entry with its GGUF meta, but a renamed owner. */
    const char *llama = "{\"object\":\"list\",\"data\":[{\"id\":\"m\",\"owned_by\":\"me\","
                        "\"meta\":{\"n_vocab\":32000,\"n_ctx_train\":4096}}]}";
    serverinfo s;
    serverinfo_detect(llama, strlen(llama), NULL, 0, NULL, 0, &s);
    CHECK_INT_EQ(s.kind, CLI_SERVER_LLAMACPP);
    const char *vllm = "{\"data\":[{\"id\":\"m\",\"owned_by\":\"x\",\"max_model_len\":8,"
                       "\"permission\":[{\"object\":\"model_permission\"}]}]}";
    serverinfo_detect(vllm, strlen(vllm), NULL, 0, NULL, 0, &s);
    CHECK_INT_EQ(s.kind, CLI_SERVER_VLLM);
    /* Owned_by beats headers that say otherwise. */
    const char *m = "{\"data\":[{\"id\":\"m\",\"owned_by\":\"sglang\"}]}";
    const char *h = "HTTP/1.1 200 OK\r\nServer: llama.cpp\r\n\r\n";
    serverinfo_detect(m, strlen(m), NULL, 0, h, strlen(h), &s);
    CHECK_INT_EQ(s.kind, CLI_SERVER_SGLANG);
    /* build_info alone in /props. */
    const char *props = "{\"build_info\":\"b6000-abc\"}";
    serverinfo_detect(NULL, 0, props, strlen(props), NULL, 0, &s);
    CHECK_INT_EQ(s.kind, CLI_SERVER_LLAMACPP);
}

TEST(detect_bad_input)
{
    static const char *const bodies[] = {"",
                                         "{",
                                         "[]",
                                         "null",
                                         "{\"data\":5}",
                                         "{\"data\":[1,\"x\",null,{\"owned_by\":7}]}",
                                         "{\"data\":[{\"meta\":\"x\",\"permission\":[3]}]}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        serverinfo s;
        serverinfo_detect(bodies[i], strlen(bodies[i]), bodies[i], strlen(bodies[i]), bodies[i],
                          strlen(bodies[i]), &s);
        CHECK_INT_EQ(s.kind, CLI_SERVER_AUTO);
        CHECK_STR_EQ(s.label, "unknown");
    }
    /* Truncated inputs: the length is honoured, no NUL is needed. */
    const char *m = "{\"data\":[{\"owned_by\":\"vllm\"}]}XXXX";
    serverinfo s;
    serverinfo_detect(m, strlen(m) - 4, NULL, 0, "Server", 6, &s);
    CHECK_INT_EQ(s.kind, CLI_SERVER_VLLM);
    serverinfo_detect(m, 10, NULL, 0, NULL, 0, &s);
    CHECK_INT_EQ(s.kind, CLI_SERVER_AUTO);
    serverinfo_detect(NULL, 0, NULL, 0, NULL, 0, &s);
    CHECK_INT_EQ(s.kind, CLI_SERVER_AUTO);
}

TEST(choose_override)
{
    serverinfo d = {CLI_SERVER_VLLM, "vllm", "/models owned_by=vllm"}, out;
    serverinfo_choose(CLI_SERVER_AUTO, &d, &out);
    CHECK_INT_EQ(out.kind, CLI_SERVER_VLLM);
    CHECK_STR_EQ(out.reason, "/models owned_by=vllm");
    serverinfo_choose(CLI_SERVER_GENERIC, &d, &out);
    CHECK_INT_EQ(out.kind, CLI_SERVER_GENERIC);
    CHECK_STR_EQ(out.label, "generic");
    CHECK_STR_EQ(out.reason, "--server-kind generic");
    serverinfo_choose(CLI_SERVER_SGLANG, &d, &d); /* in place */
    CHECK_INT_EQ(d.kind, CLI_SERVER_SGLANG);
}

TEST(root_url)
{
    static const char *const cases[][2] = {
        {"http://h:1/v1", "http://h:1"},
        {"http://h:1/v1/", "http://h:1"},
        {"http://h:1", "http://h:1"},
        {"http://h:1/api/v1", "http://h:1/api"},
        {"http://h:1/openai", "http://h:1/openai"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b;
        buf_init(&b, 0);
        CHECK_INT_EQ(serverinfo_root_url(cases[i][0], &b), 0);
        CHECK_STR_EQ(b.data ? b.data : "", cases[i][1]);
        buf_free(&b);
    }
}

TEST(capability_table)
{
    CHECK(serverinfo_accepts(CLI_SERVER_VLLM, SI_FIELD_RETURN_TOKEN_IDS));
    CHECK(!serverinfo_accepts(CLI_SERVER_SGLANG, SI_FIELD_RETURN_TOKEN_IDS));
    CHECK_INT_EQ(serverinfo_support_of(CLI_SERVER_SGLANG, SI_FIELD_RETURN_TOKEN_IDS), SI_REJECTED);
    CHECK(serverinfo_accepts(CLI_SERVER_LLAMACPP, SI_FIELD_CACHE_PROMPT));
    CHECK(serverinfo_accepts(CLI_SERVER_LLAMACPP, SI_FIELD_TIMINGS_PER_TOKEN));
    CHECK(!serverinfo_accepts(CLI_SERVER_VLLM, SI_FIELD_CACHE_PROMPT));
    CHECK(serverinfo_accepts(CLI_SERVER_VLLM, SI_FIELD_CONTINUOUS_USAGE_STATS));
    CHECK(!serverinfo_accepts(CLI_SERVER_OPENAI, SI_FIELD_MIN_TOKENS));
    CHECK(!serverinfo_accepts(CLI_SERVER_GENERIC, SI_FIELD_IGNORE_EOS));
    /* Every kind takes the standard include_usage; unknown accepts everything. */
    for (int k = CLI_SERVER_AUTO; k <= CLI_SERVER_OLLAMA; k++)
        CHECK(serverinfo_accepts((enum cli_server_kind)k, SI_FIELD_INCLUDE_USAGE));
    for (int f = 0; f < SI_FIELD_COUNT; f++) {
        CHECK(serverinfo_accepts(CLI_SERVER_AUTO, (enum serverinfo_field)f));
        CHECK(strcmp(serverinfo_field_name((enum serverinfo_field)f), "?") != 0);
    }
    CHECK_INT_EQ(serverinfo_support_of((enum cli_server_kind)99, SI_FIELD_MIN_TOKENS), SI_UNKNOWN);
    CHECK_STR_EQ(serverinfo_field_name(SI_FIELD_COUNT), "?");
    CHECK_STR_EQ(serverinfo_support_name(SI_IGNORED), "ignored");
}

/* A request body as the runner writes it with --no-cache and --exact-tg. */
static const char FULL[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":8,"
    "\"stream\":true,\"return_token_ids\":true,\"stream_options\":{\"include_usage\":true,"
    "\"continuous_usage_stats\":true},\"cache_prompt\":false,\"timings_per_token\":true,"
    "\"min_tokens\":8,\"ignore_eos\":true}";

TEST(filter_per_kind)
{
    static const struct {
        enum cli_server_kind kind;
        const char *dropped;
        const char *expect;
    } cases[] = {
        {CLI_SERVER_AUTO, "", NULL},
        {CLI_SERVER_VLLM, "cache_prompt, timings_per_token",
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":8,"
         "\"stream\":true,\"return_token_ids\":true,\"stream_options\":{\"include_usage\":true,"
         "\"continuous_usage_stats\":true},\"min_tokens\":8,\"ignore_eos\":true}"},
        {CLI_SERVER_SGLANG, "return_token_ids, cache_prompt, timings_per_token", NULL},
        {CLI_SERVER_LLAMACPP, "return_token_ids, stream_options.continuous_usage_stats, min_tokens",
         NULL},
        {CLI_SERVER_OPENAI,
         "return_token_ids, stream_options.continuous_usage_stats, cache_prompt, "
         "timings_per_token, min_tokens, ignore_eos",
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":8,"
         "\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
        {CLI_SERVER_GENERIC,
         "return_token_ids, stream_options.continuous_usage_stats, cache_prompt, "
         "timings_per_token, min_tokens, ignore_eos",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf d;
        buf_init(&d, 0);
        char *out = serverinfo_filter_text(FULL, cases[i].kind, NULL, &d);
        CHECK(out != NULL);
        CHECK_STR_EQ(d.data ? d.data : "", cases[i].dropped);
        if (cases[i].kind == CLI_SERVER_AUTO)
            CHECK_STR_EQ(out, FULL);
        if (cases[i].expect)
            CHECK_STR_EQ(out, cases[i].expect);
        free(out);
        buf_free(&d);
    }
}

TEST(filter_keeps_user_fields)
{
    cJSON *body = cJSON_Parse(FULL);
    cJSON *keep = cJSON_Parse("{\"cache_prompt\":false,\"min_tokens\":8}");
    buf d;
    buf_init(&d, 0);
    int n = serverinfo_filter_request(body, CLI_SERVER_OPENAI, keep, &d);
    CHECK_INT_EQ(n, 4);
    CHECK_STR_EQ(d.data, "return_token_ids, stream_options.continuous_usage_stats, "
                         "timings_per_token, ignore_eos");
    CHECK(cJSON_GetObjectItemCaseSensitive(body, "cache_prompt") != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(body, "min_tokens") != NULL);
    cJSON_Delete(keep);
    buf_free(&d);

    /* A user's own stream_options stays whole. */
    keep = cJSON_Parse("{\"stream_options\":{\"continuous_usage_stats\":true}}");
    cJSON_Delete(body);
    body = cJSON_Parse(FULL);
    n = serverinfo_filter_request(body, CLI_SERVER_OPENAI, keep, NULL);
    CHECK_INT_EQ(n, 5);
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    CHECK(cJSON_GetObjectItemCaseSensitive(so, "continuous_usage_stats") != NULL);
    cJSON_Delete(keep);
    cJSON_Delete(body);
}

TEST(filter_edge_cases)
{
    /* An emptied stream_options goes away. */
    cJSON *b = cJSON_Parse("{\"stream_options\":{\"continuous_usage_stats\":true}}");
    CHECK_INT_EQ(serverinfo_filter_request(b, CLI_SERVER_OPENAI, NULL, NULL), 1);
    CHECK(cJSON_GetObjectItemCaseSensitive(b, "stream_options") == NULL);
    cJSON_Delete(b);
    /* Not an object, nothing to do. */
    CHECK(serverinfo_filter_text("[1,2]", CLI_SERVER_OPENAI, NULL, NULL) == NULL);
    CHECK(serverinfo_filter_text("{bad", CLI_SERVER_OPENAI, NULL, NULL) == NULL);
    CHECK(serverinfo_filter_text(NULL, CLI_SERVER_OPENAI, NULL, NULL) == NULL);
    CHECK_INT_EQ(serverinfo_filter_request(NULL, CLI_SERVER_OPENAI, NULL, NULL), 0);
    /* stream_options of the wrong type is left for the server to judge. */
    char *t = serverinfo_filter_text("{\"stream_options\":3,\"ignore_eos\":true}",
                                     CLI_SERVER_OPENAI, NULL, NULL);
    CHECK_STR_EQ(t, "{\"stream_options\":3}");
    free(t);
}

/* Regression: tokmock was once taken for vLLM, so --no-cache lost its
 * cache_prompt:false and tokmock's prefix cache served "uncached" runs. */
TEST(tokmock_no_cache_keeps_cache_prompt)
{
    size_t n = 0;
    char *m = slurp("tokmock.models.json", &n);
    serverinfo s;
    serverinfo_detect(m, n, NULL, 0, NULL, 0, &s);
    free(m);
    char *out = serverinfo_filter_text(FULL, s.kind, NULL, NULL);
    CHECK_STR_EQ(out, FULL);
    free(out);
}

int main(void)
{
    RUN(detect_fixtures);
    RUN(detect_shape_without_owner);
    RUN(detect_bad_input);
    RUN(choose_override);
    RUN(root_url);
    RUN(capability_table);
    RUN(filter_per_kind);
    RUN(filter_keeps_user_fields);
    RUN(filter_edge_cases);
    RUN(tokmock_no_cache_keeps_cache_prompt);
    return test_summary();
}
