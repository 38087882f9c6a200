/* The SSE/JSON encoder: every event is one "data: <json>\n\n" whose JSON
 * parses and carries the fields the clients read. Checked by parsing with
 * cJSON, not by comparing strings with the same code that built them. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "mockserver/emit.h"
#include "tests/test.h"

static emit_ctx ctx(enum req_kind kind)
{
    emit_ctx c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.id = "chatcmpl-tokmock-7";
    c.model = "m\"q";
    c.created = 1767225600;
    c.prompt_tokens = 10;
    c.cached_tokens = 4;
    return c;
}

/* Parses one SSE event: checks framing, returns the JSON (free with cJSON_Delete). */
static cJSON *event_json(const buf *b)
{
    if (b->len < 8 || strncmp(b->data, "data: ", 6) != 0 ||
        strcmp(b->data + b->len - 2, "\n\n") != 0 || memchr(b->data, '\n', b->len - 2))
        return NULL;
    return cJSON_ParseWithLength(b->data + 6, b->len - 8);
}

static const cJSON *path(const cJSON *j, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b && cJSON_IsArray(x))
        x = cJSON_GetArrayItem(x, 0);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

TEST(token_event_with_role_ids_and_usage)
{
    emit_ctx c = ctx(REQ_CHAT);
    c.continuous_usage = 1;
    c.return_token_ids = 1;
    int64_t ids[] = {11, 4503599627370495};
    emit_tokens t = {.content = " a\n\"b", .content_len = 5, .ids = ids, .n_ids = 2,
                     .completion_tokens = 3, .with_role = 1};
    buf b;
    buf_init(&b, 0);
    CHECK_INT_EQ(emit_token_event(&b, &c, &t), 0);
    cJSON *j = event_json(&b);
    CHECK(j != NULL);
    CHECK_STR_EQ(path(j, "id", NULL)->valuestring, "chatcmpl-tokmock-7");
    CHECK_STR_EQ(path(j, "object", NULL)->valuestring, "chat.completion.chunk");
    CHECK_STR_EQ(path(j, "model", NULL)->valuestring, "m\"q");
    const cJSON *ch = cJSON_GetArrayItem(path(j, "choices", NULL), 0);
    const cJSON *d = cJSON_GetObjectItem(ch, "delta");
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "role")->valuestring, "assistant");
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "content")->valuestring, " a\n\"b");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(ch, "finish_reason")));
    const cJSON *tid = cJSON_GetObjectItem(ch, "token_ids");
    CHECK_INT_EQ(cJSON_GetArraySize(tid), 2);
    CHECK(cJSON_GetArrayItem(tid, 1)->valuedouble == 4503599627370495.0);
    CHECK_INT_EQ(path(j, "usage", "completion_tokens")->valueint, 3);
    CHECK_INT_EQ(path(j, "usage", "total_tokens")->valueint, 13);
    cJSON_Delete(j);
    buf_free(&b);
}

TEST(reasoning_and_content_split)
{
    emit_ctx c = ctx(REQ_CHAT);
    emit_tokens t = {.reasoning = " r", .reasoning_len = 2, .content = " c", .content_len = 2,
                     .completion_tokens = 2};
    buf b;
    buf_init(&b, 0);
    emit_token_event(&b, &c, &t);
    cJSON *j = event_json(&b);
    const cJSON *d = path(j, "choices", "delta");
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "reasoning_content")->valuestring, " r");
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "content")->valuestring, " c");
    CHECK(cJSON_GetObjectItem(d, "role") == NULL);
    CHECK(path(j, "usage", NULL) == NULL);
    CHECK(path(j, "choices", "token_ids") == NULL);
    cJSON_Delete(j);
    buf_reset(&b);
    emit_tokens only_r = {.reasoning = "x", .reasoning_len = 1, .completion_tokens = 1};
    emit_token_event(&b, &c, &only_r);
    j = event_json(&b);
    CHECK(cJSON_GetObjectItem(path(j, "choices", "delta"), "content") == NULL);
    cJSON_Delete(j);
    buf_free(&b);
}

TEST(role_finish_usage_done)
{
    emit_ctx c = ctx(REQ_CHAT);
    buf b;
    buf_init(&b, 0);
    emit_role_event(&b, &c);
    cJSON *j = event_json(&b);
    CHECK_STR_EQ(cJSON_GetObjectItem(path(j, "choices", "delta"), "content")->valuestring, "");
    cJSON_Delete(j);

    buf_reset(&b);
    emit_finish_event(&b, &c, "length", 5);
    j = event_json(&b);
    CHECK_STR_EQ(path(j, "choices", "finish_reason")->valuestring, "length");
    CHECK_INT_EQ(cJSON_GetArraySize(path(j, "choices", "delta")), 0);
    cJSON_Delete(j);

    buf_reset(&b);
    emit_usage_event(&b, &c, 5);
    j = event_json(&b);
    CHECK_INT_EQ(cJSON_GetArraySize(path(j, "choices", NULL)), 0);
    CHECK_INT_EQ(path(j, "usage", "prompt_tokens")->valueint, 10);
    CHECK_INT_EQ(cJSON_GetObjectItem(path(j, "usage", "prompt_tokens_details"),
                                     "cached_tokens")->valueint, 4);
    cJSON_Delete(j);

    buf_reset(&b);
    emit_done_event(&b);
    CHECK_STR_EQ(b.data, "data: [DONE]\n\n");
    buf_reset(&b);
    emit_ping(&b);
    CHECK(b.data[0] == ':');
    buf_free(&b);
}

TEST(completion_chunks_and_bodies)
{
    emit_ctx c = ctx(REQ_COMPLETION);
    c.return_token_ids = 1;
    int64_t ids[] = {5, 6};
    emit_tokens t = {.content = "ab", .content_len = 2, .ids = ids, .n_ids = 2,
                     .completion_tokens = 2};
    buf b;
    buf_init(&b, 0);
    emit_token_event(&b, &c, &t);
    cJSON *j = event_json(&b);
    CHECK_STR_EQ(path(j, "object", NULL)->valuestring, "text_completion");
    CHECK_STR_EQ(path(j, "choices", "text")->valuestring, "ab");
    cJSON_Delete(j);

    buf_reset(&b);
    emit_full_body(&b, &c, NULL, 0, "ab", 2, ids, 2, "stop", 2);
    j = cJSON_Parse(b.data);
    CHECK_STR_EQ(path(j, "choices", "text")->valuestring, "ab");
    CHECK_STR_EQ(path(j, "choices", "finish_reason")->valuestring, "stop");
    CHECK_INT_EQ(path(j, "usage", "completion_tokens")->valueint, 2);
    cJSON_Delete(j);

    emit_ctx cc = ctx(REQ_CHAT);
    buf_reset(&b);
    emit_full_body(&b, &cc, "think", 5, "ans", 3, NULL, 0, "length", 2);
    j = cJSON_Parse(b.data);
    CHECK_STR_EQ(path(j, "object", NULL)->valuestring, "chat.completion");
    const cJSON *msg = path(j, "choices", "message");
    CHECK_STR_EQ(cJSON_GetObjectItem(msg, "content")->valuestring, "ans");
    CHECK_STR_EQ(cJSON_GetObjectItem(msg, "reasoning_content")->valuestring, "think");
    cJSON_Delete(j);
    buf_free(&b);
}

TEST(error_body_vllm_shape)
{
    buf b;
    buf_init(&b, 0);
    emit_error_body(&b, PERS_VLLM, 400, "bad \"x\"");
    cJSON *j = cJSON_Parse(b.data);
    CHECK_STR_EQ(path(j, "object", NULL)->valuestring, "error");
    CHECK_STR_EQ(path(j, "message", NULL)->valuestring, "bad \"x\"");
    CHECK_STR_EQ(path(j, "type", NULL)->valuestring, "BadRequestError");
    CHECK_INT_EQ(path(j, "code", NULL)->valueint, 400);
    cJSON_Delete(j);
    buf_free(&b);
}

int main(void)
{
    RUN(token_event_with_role_ids_and_usage);
    RUN(reasoning_and_content_split);
    RUN(role_finish_usage_done);
    RUN(completion_chunks_and_bodies);
    RUN(error_body_vllm_shape);
    return test_summary();
}
