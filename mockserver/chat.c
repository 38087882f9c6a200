/* ChatML rendering of a `messages` array and the coherence-question detector:
 * see chat.h. */
#include "mockserver/chat.h"

#include <stdio.h>
#include <string.h>

#define ERR(...)                                                                   \
    do {                                                                           \
        if (err_len > 0)                                                           \
            snprintf(err, err_len, __VA_ARGS__);                                   \
    } while (0)

/* Describes a JSON value's type for error messages. */
static const char *type_name(const cJSON *v)
{
    if (!v)
        return "missing";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "invalid";
}

/* Appends the text of one content value (string, array of text parts, null or
 * absent). Returns 0, or -1 with err set; `index` names the message. */
static int render_content(const cJSON *content, int index, buf *out, char *err, size_t err_len)
{
    if (!content || cJSON_IsNull(content))
        return 0;
    if (cJSON_IsString(content)) {
        if (buf_append_str(out, content->valuestring) != BUF_OK) {
            ERR("messages[%d].content: prompt too large", index);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsArray(content)) {
        ERR("messages[%d].content must be a string, an array of text parts or null, not %s",
            index, type_name(content));
        return -1;
    }
    int part_index = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *type, *text;
        if (!cJSON_IsObject(part)) {
            ERR("messages[%d].content[%d] must be an object, not %s", index, part_index,
                type_name(part));
            return -1;
        }
        type = cJSON_GetObjectItemCaseSensitive(part, "type");
        if (!cJSON_IsString(type)) {
            ERR("messages[%d].content[%d].type must be a string, not %s", index, part_index,
                type_name(type));
            return -1;
        }
        if (strcmp(type->valuestring, "text") != 0) {
            ERR("messages[%d].content[%d].type \"%.64s\" is not supported (only \"text\")",
                index, part_index, type->valuestring);
            return -1;
        }
        text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(text)) {
            ERR("messages[%d].content[%d].text must be a string, not %s", index, part_index,
                type_name(text));
            return -1;
        }
        if (buf_append_str(out, text->valuestring) != BUF_OK) {
            ERR("messages[%d].content: prompt too large", index);
            return -1;
        }
        part_index++;
    }
    return 0;
}

int chat_render(const cJSON *messages, buf *out, char *err, size_t err_len)
{
    const cJSON *msg;
    int index = 0;

    if (!messages) {
        ERR("'messages' is required");
        return -1;
    }
    if (!cJSON_IsArray(messages)) {
        ERR("'messages' must be an array, not %s", type_name(messages));
        return -1;
    }
    if (cJSON_GetArraySize(messages) == 0) {
        ERR("'messages' must not be empty");
        return -1;
    }
    cJSON_ArrayForEach(msg, messages)
    {
        const cJSON *role;
        if (!cJSON_IsObject(msg)) {
            ERR("messages[%d] must be an object, not %s", index, type_name(msg));
            return -1;
        }
        role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        if (!cJSON_IsString(role)) {
            ERR("messages[%d].role must be a string, not %s", index, type_name(role));
            return -1;
        }
        if (role->valuestring[0] == '\0') {
            ERR("messages[%d].role must not be empty", index);
            return -1;
        }
        if (buf_printf(out, "<|im_start|>%s\n", role->valuestring) != BUF_OK)
            goto too_big;
        if (render_content(cJSON_GetObjectItemCaseSensitive(msg, "content"), index, out, err,
                           err_len))
            return -1;
        if (buf_append_str(out, "<|im_end|>\n") != BUF_OK)
            goto too_big;
        index++;
    }
    if (buf_append_str(out, "<|im_start|>assistant\n") != BUF_OK)
        goto too_big;
    return 0;

too_big:
    ERR("prompt too large");
    return -1;
}

static int lower_ascii(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int chat_is_coherence_question(const char *prompt, size_t len)
{
    /* llama-benchy asks "What is the capital of France? Please reply with one
     * word only"; match the core of it loosely, ignoring case. */
    static const char needle[] = "capital of france";
    const size_t n = sizeof needle - 1;
    if (len < n)
        return 0;
    for (size_t i = 0; i + n <= len; i++) {
        size_t j = 0;
        while (j < n && lower_ascii((unsigned char)prompt[i + j]) == needle[j])
            j++;
        if (j == n)
            return 1;
    }
    return 0;
}
