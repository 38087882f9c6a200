/* Request parsing and validation: the fields tokmock reads, defaults, and
 * every kind of bad input answered with an error string, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "mockserver/request.h"
#include "tests/test.h"

static int parse(mock_request *r, enum req_kind kind, const char *body, char *err)
{
    return request_parse(r, kind, body, strlen(body), err, 256);
}

TEST(chat_defaults)
{
    mock_request r;
    char err[256] = "";
    CHECK_INT_EQ(parse(&r, REQ_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", err), 0);
    CHECK_INT_EQ(r.max_tokens, REQ_DEFAULT_MAX_TOKENS);
    CHECK_INT_EQ(r.stream, 0);
    CHECK_INT_EQ(r.include_usage, 0);
    CHECK_INT_EQ(r.cache_prompt, 1);
    CHECK_INT_EQ(r.timings_per_token, 0);
    CHECK_INT_EQ(r.n_stop, 0);
    CHECK(r.model == NULL);
    CHECK_STR_EQ(r.prompt.data, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    request_free(&r);
}

TEST(chat_all_fields)
{
    mock_request r;
    char err[256] = "";
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                       "\"max_tokens\":7,\"stream\":true,\"stream_options\":{\"include_usage\":"
                       "true,\"continuous_usage_stats\":true},\"return_token_ids\":true,"
                       "\"cache_prompt\":false,\"stop\":[\"a\",\"\",\"bc\"],"
                       "\"timings_per_token\":true}";
    CHECK_INT_EQ(parse(&r, REQ_CHAT, body, err), 0);
    CHECK_STR_EQ(r.model, "m");
    CHECK_INT_EQ(r.max_tokens, 7);
    CHECK_INT_EQ(r.stream, 1);
    CHECK_INT_EQ(r.include_usage, 1);
    CHECK_INT_EQ(r.continuous_usage, 1);
    CHECK_INT_EQ(r.return_token_ids, 1);
    CHECK_INT_EQ(r.cache_prompt, 0);
    CHECK_INT_EQ(r.timings_per_token, 1);
    CHECK_INT_EQ(r.n_stop, 2);
    request_free(&r);
    /* A wrong type is refused with the field's name. */
    const char *bad = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                      "\"timings_per_token\":1}";
    CHECK_INT_EQ(parse(&r, REQ_CHAT, bad, err), -1);
    CHECK(strstr(err, "timings_per_token") != NULL);
    CHECK_INT_EQ(parse(&r, REQ_CHAT, body, err), 0);
    CHECK_STR_EQ(r.stop[1], "bc");
    request_free(&r);
}

TEST(limit_field_precedence)
{
    static const struct {
        const char *extra;
        size_t want;
    } cases[] = {
        {"\"max_tokens\":5", 5},
        {"\"max_completion_tokens\":9,\"max_tokens\":5", 9},
        {"\"n_predict\":11", 11},
        {"\"n_predict\":-1", REQ_DEFAULT_MAX_TOKENS},
        {"\"max_tokens\":null", REQ_DEFAULT_MAX_TOKENS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],%s}",
                 cases[i].extra);
        mock_request r;
        char err[256] = "";
        CHECK_INT_EQ(parse(&r, REQ_CHAT, body, err), 0);
        CHECK_INT_EQ(r.max_tokens, cases[i].want);
        request_free(&r);
    }
}

TEST(completion_prompt_forms)
{
    mock_request r;
    char err[256] = "";
    CHECK_INT_EQ(parse(&r, REQ_COMPLETION, "{\"prompt\":\"Once upon\"}", err), 0);
    CHECK_STR_EQ(r.prompt.data, "Once upon");
    request_free(&r);
    CHECK_INT_EQ(parse(&r, REQ_COMPLETION, "{\"prompt\":[\"abc\"]}", err), 0);
    CHECK_STR_EQ(r.prompt.data, "abc");
    request_free(&r);
    CHECK_INT_EQ(parse(&r, REQ_COMPLETION, "{\"prompt\":[1,2]}", err), 0);
    CHECK_STR_EQ(r.prompt.data, "<|im_start|><|im_end|>");
    request_free(&r);
}

TEST(bad_inputs_are_errors)
{
    static const char *const bodies[] = {
        "",
        "{",
        "[]",
        "\"str\"",
        "{}",
        "{\"messages\":[]}",
        "{\"messages\":{}}",
        "{\"messages\":[{\"role\":1,\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":\"5\"}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2.5}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1e300}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":1}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":[]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":5}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        mock_request r;
        char err[256] = "";
        int rc = parse(&r, REQ_CHAT, bodies[i], err);
        if (rc != -1 || err[0] == '\0')
            TEST_FAIL_AT_("body %zu accepted or no message: \"%s\"", i, bodies[i]);
    }
    mock_request r;
    char err[256] = "";
    CHECK_INT_EQ(parse(&r, REQ_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}", err), -1);
    CHECK_INT_EQ(parse(&r, REQ_COMPLETION, "{\"prompt\":5}", err), -1);
    CHECK_INT_EQ(parse(&r, REQ_COMPLETION, "{\"max_tokens\":5}", err), -1);
}

TEST(depth_cap)
{
    char body[400];
    size_t n = 0;
    n += (size_t)snprintf(body, sizeof body, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"a\":");
    for (int i = 0; i < 100; i++)
        body[n++] = '[';
    for (int i = 0; i < 100; i++)
        body[n++] = ']';
    body[n++] = '}';
    body[n] = '\0';
    mock_request r;
    char err[256] = "";
    CHECK_INT_EQ(parse(&r, REQ_CHAT, body, err), -1);
    CHECK(strstr(err, "nesting") != NULL);
    CHECK_INT_EQ(request_json_depth("{\"a\":\"[[[[\"}", 11), 1);
    CHECK_INT_EQ(request_json_depth("[[{}]]", 6), 3);
}

TEST(utf8_validation)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"", 1}, {"abc", 1}, {"\xc3\xa9", 1}, {"\xe2\x82\xac", 1}, {"\xf0\x9f\x98\x80", 1},
        {"\xc3", 0}, {"\xc3\x28", 0}, {"\xc0\xaf", 0}, {"\xe0\x80\xaf", 0},
        {"\xed\xa0\x80", 0}, {"\xf4\x90\x80\x80", 0}, {"\xff", 0}, {"\x80", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_INT_EQ(request_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok);
}

TEST(tokenize_forms)
{
    buf out;
    char err[256];
    buf_init(&out, 0);
    const char *llama = "{\"content\":\"Hi there\"}";
    CHECK_INT_EQ(request_tokenize(llama, strlen(llama), 100, &out, err, sizeof err), 0);
    CHECK(strncmp(out.data, "{\"tokens\":[", 11) == 0);
    buf_reset(&out);
    const char *pieces = "{\"content\":\"Hi there\",\"with_pieces\":true}";
    CHECK_INT_EQ(request_tokenize(pieces, strlen(pieces), 100, &out, err, sizeof err), 0);
    CHECK(strstr(out.data, "\"piece\":\" there\"") != NULL);
    buf_reset(&out);
    const char *vllm = "{\"model\":\"m\",\"prompt\":\"Hi there\"}";
    CHECK_INT_EQ(request_tokenize(vllm, strlen(vllm), 100, &out, err, sizeof err), 0);
    CHECK(strstr(out.data, "\"count\":2,\"max_model_len\":100") != NULL);
    buf_reset(&out);
    CHECK_INT_EQ(request_tokenize("{\"content\":5}", 13, 100, &out, err, sizeof err), -1);
    const char *detok = "{\"tokens\":[1,2]}";
    CHECK_INT_EQ(request_detokenize(detok, strlen(detok), &out, err, sizeof err), 0);
    CHECK_STR_EQ(out.data, "{\"content\":\"<|im_start|><|im_end|>\"}");
    CHECK_INT_EQ(request_detokenize("{\"tokens\":[-1]}", 15, &out, err, sizeof err), -1);
    CHECK_INT_EQ(request_detokenize("{\"tokens\":\"x\"}", 14, &out, err, sizeof err), -1);
    buf_free(&out);
}

/* Found by tests/fuzz/fuzz_mock_request: a part type holding a raw newline
 * (cJSON accepts control bytes inside strings) was echoed into the 400 reason,
 * and a type cut at 64 bytes in the middle of a character made the reason
 * invalid UTF-8 inside a JSON error body. */
TEST(fuzz_reason_is_one_line_of_valid_utf8)
{
    static const char *const bodies[] = {
        "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": "
        "[{\"type\":\"text: [1532001 ]\n}\", \"text\": \"b\"}]}]}",
        /* 63 ASCII bytes then a 2-byte character straddling the 64-byte cut */
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9\"}]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"\t\r\x7f\"}]}]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        mock_request r;
        char err[256] = "";
        CHECK_INT_EQ(parse(&r, REQ_CHAT, bodies[i], err), -1);
        CHECK(err[0] != '\0');
        CHECK(strpbrk(err, "\n\r\t") == NULL);
        CHECK(request_utf8_valid(err, strlen(err)));
    }
    /* The tokenizer routes tidy their reasons the same way. */
    buf out;
    buf_init(&out, 0);
    char err[256] = "";
    const char *tok = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"a\nb\"}]}]}";
    CHECK_INT_EQ(request_tokenize(tok, strlen(tok), 100, &out, err, sizeof err), -1);
    CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
    buf_free(&out);
}

int main(void)
{
    RUN(chat_defaults);
    RUN(chat_all_fields);
    RUN(limit_field_precedence);
    RUN(completion_prompt_forms);
    RUN(bad_inputs_are_errors);
    RUN(depth_cap);
    RUN(utf8_validation);
    RUN(tokenize_forms);
    RUN(fuzz_reason_is_one_line_of_valid_utf8);
    return test_summary();
}
