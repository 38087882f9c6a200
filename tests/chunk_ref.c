/* The reference chunk decoder (see chunk_ref.h): client/chunk.c as it was
 * when it built a cJSON tree, unchanged but for its names, plus the
 * description of what cJSON accepts beyond JSON and a field-by-field
 * comparison of two results. Included by the tests that use it, so that
 * the build needs no rule for it. */
#include "tests/chunk_ref.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int int_field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 2147483647.0)
        return -1;
    return (int)v->valuedouble;
}

static double num_field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return -1;
    return v->valuedouble;
}

static const char *str_field(const cJSON *obj, const char *name, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v) || !v->valuestring)
        return NULL;
    if (len)
        *len = strlen(v->valuestring);
    return v->valuestring;
}

static size_t tool_calls_len(const cJSON *calls)
{
    size_t n = 0;
    const cJSON *call;
    if (!cJSON_IsArray(calls))
        return 0;
    cJSON_ArrayForEach(call, calls)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        size_t len = 0;
        if (!cJSON_IsObject(fn))
            continue;
        if (str_field(fn, "name", &len))
            n += len;
        if (str_field(fn, "arguments", &len))
            n += len;
    }
    /* A tool-call delta with neither name nor arguments text still carries
     * a token (e.g. the opening of the call): count it as one byte. */
    if (n == 0 && cJSON_GetArraySize(calls) > 0)
        n = 1;
    return n;
}

static int32_t ids_len(const cJSON *obj)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(obj, "token_ids");
    if (!cJSON_IsArray(ids))
        return -1;
    int n = cJSON_GetArraySize(ids);
    return n < 0 ? -1 : n;
}

static void read_usage(const cJSON *usage, chunk_info *info)
{
    if (!cJSON_IsObject(usage))
        return;
    info->has_usage = 1;
    info->prompt_tokens = int_field(usage, "prompt_tokens");
    info->completion_tokens = int_field(usage, "completion_tokens");
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
    if (cJSON_IsObject(details))
        info->cached_tokens = int_field(details, "cached_tokens");
}

static void read_timings(const cJSON *t, chunk_info *info)
{
    if (!cJSON_IsObject(t))
        return;
    info->has_timings = 1;
    info->timings.prompt_n = num_field(t, "prompt_n");
    info->timings.prompt_ms = num_field(t, "prompt_ms");
    info->timings.predicted_n = num_field(t, "predicted_n");
    info->timings.predicted_ms = num_field(t, "predicted_ms");
    info->timings.cache_n = num_field(t, "cache_n");
    info->timings.draft_n = num_field(t, "draft_n");
    info->timings.draft_n_accepted = num_field(t, "draft_n_accepted");
}

static const char *error_message(const cJSON *root)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsObject(err)) {
        const char *m = str_field(err, "message", NULL);
        return m ? m : "error object without a message";
    }
    if (cJSON_IsString(err) && err->valuestring)
        return err->valuestring;
    const char *object = str_field(root, "object", NULL);
    if (object && strcmp(object, "error") == 0) {
        const char *m = str_field(root, "message", NULL);
        return m ? m : "error object without a message";
    }
    return NULL;
}

int chunk_ref_parse(const char *json, size_t len, chunk_info *info)
{
    memset(info, 0, sizeof *info);
    info->ids = -1;
    info->prompt_tokens = info->completion_tokens = info->cached_tokens = -1;
    info->timings = (tb_server_timings){-1, -1, -1, -1, -1, -1, -1};

    cJSON *root = cJSON_ParseWithLength(json, len);
    info->root_ = root;
    if (!cJSON_IsObject(root))
        return CHUNK_ERR_JSON;

    info->id = str_field(root, "id", NULL);
    info->model = str_field(root, "model", NULL);
    info->error = error_message(root);
    if (info->error)
        return CHUNK_ERR_ERROR;

    read_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), info);
    const cJSON *timings = cJSON_GetObjectItemCaseSensitive(root, "timings");
    if (!cJSON_IsObject(timings)) {
        const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
        if (cJSON_IsObject(usage))
            timings = cJSON_GetObjectItemCaseSensitive(usage, "timings");
    }
    read_timings(timings, info);
    info->ids = ids_len(root);

    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!cJSON_IsArray(choices) || cJSON_GetArraySize(choices) == 0) {
        info->kind = EV_OTHER;
        return CHUNK_OK;
    }
    info->has_choices = 1;
    const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
    if (!cJSON_IsObject(c0)) {
        info->kind = EV_ROLE_ONLY;
        return CHUNK_OK;
    }
    if (info->ids < 0)
        info->ids = ids_len(c0);
    info->finish_reason = str_field(c0, "finish_reason", NULL);
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(c0, "delta");
    if (!cJSON_IsObject(delta))
        delta = cJSON_GetObjectItemCaseSensitive(c0, "message"); /* non-streaming */
    if (cJSON_IsObject(delta)) {
        info->content = str_field(delta, "content", &info->content_len);
        size_t rlen = 0;
        if (str_field(delta, "reasoning_content", &rlen) && rlen)
            info->reasoning_len = rlen;
        else if (str_field(delta, "reasoning", &rlen))
            info->reasoning_len = rlen;
        info->tool_len = tool_calls_len(cJSON_GetObjectItemCaseSensitive(delta, "tool_calls"));
    } else {
        /* Legacy completions chunks carry choices[0].text. */
        info->content = str_field(c0, "text", &info->content_len);
    }
    size_t bytes = info->content_len + info->reasoning_len + info->tool_len;
    info->text_bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;

    if (info->content_len)
        info->kind = EV_CONTENT;
    else if (info->reasoning_len)
        info->kind = EV_REASONING;
    else if (info->tool_len)
        info->kind = EV_TOOL;
    else if (info->ids > 0)
        info->kind = EV_CONTENT; /* token ids without decodable text yet */
    else
        info->kind = EV_ROLE_ONLY;
    return CHUNK_OK;
}

void chunk_ref_free(chunk_info *info)
{
    cJSON_Delete(info->root_);
    info->root_ = NULL;
}

/* ---- what cJSON accepts beyond RFC 8259 ------------------------------- */

static int is_json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_number_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.';
}

/* RFC 8259's number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?,
 * matched part by part against s[0..n). */
static int json_number(const unsigned char *s, size_t n)
{
    size_t i = 0, digits;
    if (i < n && s[i] == '-')
        i++;
    for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (digits == 0 || (digits > 1 && s[i - digits] == '0'))
        return 0;
    if (i < n && s[i] == '.') {
        for (i++, digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
        if (digits == 0)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
        if (digits == 0)
            return 0;
    }
    return i == n;
}

int chunk_ref_lenient(const char *json, size_t len)
{
    const unsigned char *s = (const unsigned char *)json;
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &parse_end, 0);
    if (!root)
        return 0;
    cJSON_Delete(root);
    size_t stop = (size_t)(parse_end - json);
    for (size_t i = stop; i < len; i++)
        if (!is_json_space(s[i]))
            return 1; /* bytes after the value */
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        return 1;
    int in_string = 0;
    for (size_t i = 0; i < stop; i++) {
        unsigned char c = s[i];
        if (c < 0x20 && (in_string || !is_json_space(c)))
            return 1; /* raw control byte in a string, or as whitespace */
        if (in_string) {
            if (c == '"') {
                in_string = 0;
            } else if (c == '\\') {
                if (i + 1 < stop && s[i + 1] == 'u')
                    for (size_t k = i + 2; k < i + 6; k++)
                        if (k >= stop || !is_hex(s[k]))
                            return 1; /* \u with a non-hex digit: cJSON reads U+0000 */
                i++;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < stop && is_number_byte(s[j]))
                j++;
            if (!json_number(s + i, j - i))
                return 1;
            i = j - 1;
        }
    }
    return 0;
}

/* ---- comparison ------------------------------------------------------- */

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Equal numbers, -0 equal to 0 (cJSON prints -0 as 0), NaN never produced. */
static int same_number(double a, double b)
{
    return a == b;
}

const char *chunk_ref_diff(int rc_a, const chunk_info *a, int rc_b, const chunk_info *b)
{
    if (rc_a != rc_b)
        return "rc";
#define SAME(field)                                                                \
    if (a->field != b->field)                                                      \
        return #field;
    SAME(has_choices)
    SAME(kind)
    SAME(content_len)
    SAME(reasoning_len)
    SAME(tool_len)
    SAME(text_bytes)
    SAME(ids)
    SAME(has_usage)
    SAME(prompt_tokens)
    SAME(completion_tokens)
    SAME(cached_tokens)
    SAME(has_timings)
#undef SAME
    const double ra[] = {a->timings.prompt_n, a->timings.prompt_ms, a->timings.predicted_n,
                         a->timings.predicted_ms, a->timings.cache_n, a->timings.draft_n,
                         a->timings.draft_n_accepted};
    const double rb[] = {b->timings.prompt_n, b->timings.prompt_ms, b->timings.predicted_n,
                         b->timings.predicted_ms, b->timings.cache_n, b->timings.draft_n,
                         b->timings.draft_n_accepted};
    for (size_t i = 0; i < sizeof ra / sizeof ra[0]; i++)
        if (!same_number(ra[i], rb[i]))
            return "timings";
    if (!same_text(a->content, b->content))
        return "content";
    if (!same_text(a->finish_reason, b->finish_reason))
        return "finish_reason";
    if (!same_text(a->id, b->id))
        return "id";
    if (!same_text(a->model, b->model))
        return "model";
    if (!same_text(a->error, b->error))
        return "error";
    return NULL;
}
