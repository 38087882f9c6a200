/* ChatML rendering: exact text and token counts, error texts for bad shapes,
 * and the coherence-question detector. */
#include <cjson/cJSON.h>
#include <string.h>

#include "common/buf.h"
#include "mockserver/chat.h"
#include "mockserver/tokenizer.h"
#include "tests/test.h"

/* Renders the JSON array text; returns chat_render's result and leaves the
 * prompt in out and any error in err. */
static int render_json(const char *json, buf *out, char *err, size_t err_len)
{
    cJSON *messages = cJSON_Parse(json);
    int rc;
    if (!messages) {
        TEST_FAIL_AT_("test JSON does not parse: %s", json);
        return -2;
    }
    rc = chat_render(messages, out, err, err_len);
    cJSON_Delete(messages);
    return rc;
}

static const struct {
    const char *name;
    const char *json;
    const char *want;
    size_t want_tokens;
} RENDER_CASES[] = {
    /* system: im_start system \n Be " brief" . im_end \n           = 8
     * user:   im_start user \n Hi " there" im_end \n                = 7
     * tail:   im_start "assist" "ant" \n                            = 4 */
    {"system and user",
     "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi there\"}]",
     "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
     "<|im_start|>assistant\n",
     19},
    /* Text parts are joined without a separator:
     * im_start user \n Hello " world" im_end \n + 4 = 11 */
    {"array of text parts",
     "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hello\"},"
     "{\"type\":\"text\",\"text\":\" world\"}]}]",
     "<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n", 11},
    /* Parts carrying extra keys are fine; an empty array is empty content. */
    {"empty parts array",
     "[{\"role\":\"user\",\"content\":[]}]",
     "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n", 9},
    {"null content",
     "[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":null}]",
     "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
     "<|im_start|>assistant\n",
     16},
    {"absent content is empty",
     "[{\"role\":\"tool\"}]",
     "<|im_start|>tool\n<|im_end|>\n<|im_start|>assistant\n", 9},
    {"empty string content",
     "[{\"role\":\"user\",\"content\":\"\"}]",
     "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n", 9},
    /* Extra keys on a message (name, tool_calls) are ignored. */
    {"extra keys ignored",
     "[{\"role\":\"user\",\"name\":\"bob\",\"content\":\"ok\",\"x\":[1,2]}]",
     "<|im_start|>user\nok<|im_end|>\n<|im_start|>assistant\n", 10},
    /* UTF-8 content passes through: im_start user \n caf é im_end \n + 4 */
    {"utf8 content",
     "[{\"role\":\"user\",\"content\":\"caf\\u00e9\"}]",
     "<|im_start|>user\ncaf\xc3\xa9<|im_end|>\n<|im_start|>assistant\n", 11},
};

TEST(render_table)
{
    for (size_t i = 0; i < sizeof RENDER_CASES / sizeof RENDER_CASES[0]; i++) {
        buf out;
        char err[256] = "";
        buf_init(&out, 0);
        if (render_json(RENDER_CASES[i].json, &out, err, sizeof err) != 0) {
            TEST_FAIL_AT_("case \"%s\": error \"%s\"", RENDER_CASES[i].name, err);
        } else {
            if (strcmp(out.data, RENDER_CASES[i].want) != 0)
                TEST_FAIL_AT_("case \"%s\": rendered \"%s\"", RENDER_CASES[i].name, out.data);
            if (tok_count(out.data, out.len) != RENDER_CASES[i].want_tokens)
                TEST_FAIL_AT_("case \"%s\": %zu tokens, want %zu", RENDER_CASES[i].name,
                              tok_count(out.data, out.len), RENDER_CASES[i].want_tokens);
        }
        buf_free(&out);
    }
}

TEST(render_appends)
{
    buf out;
    char err[64];
    buf_init(&out, 0);
    buf_append_str(&out, "PRE:");
    CHECK_INT_EQ(render_json("[{\"role\":\"user\",\"content\":\"a\"}]", &out, err, sizeof err), 0);
    CHECK_STR_EQ(out.data, "PRE:<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n");
    buf_free(&out);
}

static const struct {
    const char *json;
    const char *want_in_error; /* a substring the message must contain */
} ERROR_CASES[] = {
    {"{\"role\":\"user\"}", "'messages' must be an array, not an object"},
    {"\"hello\"", "'messages' must be an array, not a string"},
    {"null", "'messages' must be an array, not null"},
    {"[]", "'messages' must not be empty"},
    {"[\"hi\"]", "messages[0] must be an object, not a string"},
    {"[{\"role\":\"user\",\"content\":\"a\"}, 5]", "messages[1] must be an object, not a number"},
    {"[{\"content\":\"a\"}]", "messages[0].role must be a string, not missing"},
    {"[{\"role\":7,\"content\":\"a\"}]", "messages[0].role must be a string, not a number"},
    {"[{\"role\":\"\",\"content\":\"a\"}]", "messages[0].role must not be empty"},
    {"[{\"role\":\"user\",\"content\":5}]",
     "messages[0].content must be a string, an array of text parts or null, not a number"},
    {"[{\"role\":\"user\",\"content\":{\"text\":\"a\"}}]", "not an object"},
    {"[{\"role\":\"user\",\"content\":true}]", "not a boolean"},
    {"[{\"role\":\"user\",\"content\":[\"a\"]}]", "messages[0].content[0] must be an object"},
    {"[{\"role\":\"user\",\"content\":[{\"text\":\"a\"}]}]",
     "messages[0].content[0].type must be a string, not missing"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
     "{\"type\":\"image_url\",\"image_url\":{}}]}]",
     "messages[0].content[1].type \"image_url\" is not supported"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]",
     "messages[0].content[0].text must be a string, not missing"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":3}]}]",
     "messages[0].content[0].text must be a string, not a number"},
};

TEST(render_errors)
{
    for (size_t i = 0; i < sizeof ERROR_CASES / sizeof ERROR_CASES[0]; i++) {
        buf out;
        char err[256] = "";
        buf_init(&out, 0);
        if (render_json(ERROR_CASES[i].json, &out, err, sizeof err) != -1)
            TEST_FAIL_AT_("case %zu (%s) accepted", i, ERROR_CASES[i].json);
        else if (!strstr(err, ERROR_CASES[i].want_in_error))
            TEST_FAIL_AT_("case %zu: error \"%s\" lacks \"%s\"", i, err,
                          ERROR_CASES[i].want_in_error);
        buf_free(&out);
    }
}

TEST(render_missing_messages)
{
    buf out;
    char err[64] = "";
    buf_init(&out, 0);
    CHECK_INT_EQ(chat_render(NULL, &out, err, sizeof err), -1);
    CHECK_STR_EQ(err, "'messages' is required");
    /* A tiny or absent error buffer is safe. */
    CHECK_INT_EQ(chat_render(NULL, &out, err, 5), -1);
    CHECK_STR_EQ(err, "'mes");
    CHECK_INT_EQ(chat_render(NULL, &out, NULL, 0), -1);
    buf_free(&out);
}

TEST(render_too_large)
{
    /* The output buffer's cap turns into an error, not a truncated prompt. */
    buf out;
    char err[64] = "";
    buf_init(&out, 20);
    CHECK_INT_EQ(render_json("[{\"role\":\"user\",\"content\":\"a long message here\"}]", &out, err,
                             sizeof err),
                 -1);
    CHECK(strstr(err, "too large") != NULL);
    buf_free(&out);
}

TEST(coherence_detector)
{
    static const struct {
        const char *text;
        int want;
    } cases[] = {
        {"<|im_start|>user\nWhat is the capital of France? Please reply with one word "
         "only<|im_end|>\n<|im_start|>assistant\n",
         1},
        {"WHAT IS THE CAPITAL OF FRANCE", 1},
        {"capital of france", 1},
        {"The Capital Of France?", 1},
        {"What is the capital of Germany?", 0},
        {"capital of fran", 0},
        {"capital  of france", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (chat_is_coherence_question(cases[i].text, strlen(cases[i].text)) != cases[i].want)
            TEST_FAIL_AT_("\"%s\": want %d", cases[i].text, cases[i].want);
    /* Only the first len bytes count. */
    CHECK(!chat_is_coherence_question("capital of france", 16));
}

int main(void)
{
    RUN(render_table);
    RUN(render_appends);
    RUN(render_errors);
    RUN(render_missing_messages);
    RUN(render_too_large);
    RUN(coherence_detector);
    return test_summary();
}
