/* The SSE/JSON encoder. Two kinds of checks:
 *  - llama.cpp: regenerate each real capture in fixtures/streams/ from the
 *    values it carries (text, ids, created, timings inputs) and compare the
 *    bytes with the capture, event by event. The derived timings figures and
 *    the key order are ours, so a mismatch is a real difference.
 *  - the other personalities: parse with cJSON and check the shapes (key
 *    presence, null vs "", where usage and the role go). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "mockserver/emit.h"
#include "tests/fixture.h"
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

static emit_ctx pctx(enum personality p, enum req_kind kind)
{
    emit_ctx c = ctx(kind);
    c.personality = p;
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

/* Event k (0-based) of a buffer holding several "data: ...\n\n" events, or NULL. */
static cJSON *nth_event(const buf *b, int k)
{
    const char *p = b->data, *end = b->data + b->len;
    for (; p && p < end; k--) {
        const char *e = strstr(p, "\n\n");
        if (!e)
            return NULL;
        if (k == 0)
            return strncmp(p, "data: ", 6) ? NULL : cJSON_ParseWithLength(p + 6, (size_t)(e - p - 6));
        p = e + 2;
    }
    return NULL;
}

static int count_events(const buf *b)
{
    int n = 0;
    for (const char *p = b->data; p && (p = strstr(p, "\n\n")) != NULL; p += 2)
        n++;
    return n;
}

static const cJSON *path(const cJSON *j, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b && cJSON_IsArray(x))
        x = cJSON_GetArrayItem(x, 0);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static const cJSON *delta_of(const cJSON *j)
{
    return path(j, "choices", "delta");
}

/* ------------------------------------------------------------ numbers */

TEST(json_double_like_llama_server)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0.0"},
        {19.357, "19.357"},
        {51.66089786640492, "51.66089786640492"},
        {0.001, "0.001"},
        {1000.0, "1000.0"},
        {13.952, "13.952"},
        {-2.5, "-2.5"},
        {0.00012, "0.00012"},
        {1e-05, "1e-05"},
        {1e20, "1e+20"},
        {123456789012345.0, "123456789012345.0"},
    };
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_reset(&b);
        emit_json_double(&b, cases[i].v);
        CHECK_STR_EQ(b.data, cases[i].want);
    }
    buf_free(&b);
}

/* ------------------------------------------------------------ llama.cpp replays */

/* The capture's timings object as our input struct. */
static void read_timings(const cJSON *t, emit_timings *out)
{
    memset(out, 0, sizeof *out);
    out->cache_n = (size_t)cJSON_GetObjectItem(t, "cache_n")->valuedouble;
    out->prompt_n = (size_t)cJSON_GetObjectItem(t, "prompt_n")->valuedouble;
    out->prompt_ms = cJSON_GetObjectItem(t, "prompt_ms")->valuedouble;
    out->predicted_n = (size_t)cJSON_GetObjectItem(t, "predicted_n")->valuedouble;
    out->predicted_ms = cJSON_GetObjectItem(t, "predicted_ms")->valuedouble;
    const cJSON *d = cJSON_GetObjectItem(t, "draft_n");
    if (d) {
        out->draft_n = (size_t)d->valuedouble;
        out->draft_n_accepted = (size_t)cJSON_GetObjectItem(t, "draft_n_accepted")->valuedouble;
    }
}

/* Prints where two byte strings first differ. Returns 1 when equal. */
static int same_bytes(const char *name, const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0;
    while (i < alen && i < blen && a[i] == b[i])
        i++;
    if (i == alen && i == blen)
        return 1;
    size_t from = i > 60 ? i - 60 : 0;
    printf("  %s: first difference at byte %zu (lengths %zu vs %zu)\n  ours: %.*s\n  real: %.*s\n",
           name, i, alen, blen, (int)((alen > from + 160 ? from + 160 : alen) - from), a + from,
           (int)((blen > from + 160 ? from + 160 : blen) - from), b + from);
    return 0;
}

/* Regenerates a captured llama.cpp stream. The events are taken one by one
 * from the capture; only what a server would know is fed in (texts, ids,
 * created, the timings inputs). Returns 1 when every byte matches. */
static int replay_llamacpp_stream(const char *file)
{
    size_t len = 0;
    char *real = test_read_fixture(file, &len);
    if (!real) {
        printf("  cannot read %s\n", file);
        return 0;
    }
    buf ours;
    buf_init(&ours, 0);
    emit_ctx c;
    memset(&c, 0, sizeof c);
    c.personality = PERS_LLAMACPP;
    char id[128] = "", model[256] = "", fp[64] = "";
    int role_pending = 0, ok = 1;
    size_t n_tokens = 0, usage_tokens = 0;
    const char *finish = NULL;
    char finish_buf[16];

    /* First pass: the response-wide facts. */
    for (const char *p = real; p < real + len;) {
        const char *e = strstr(p, "\n\n");
        if (!e)
            break;
        if (!strncmp(p, "data: {", 7)) {
            cJSON *j = cJSON_ParseWithLength(p + 6, (size_t)(e - p - 6));
            if (!id[0]) {
                snprintf(id, sizeof id, "%s", path(j, "id", NULL)->valuestring);
                snprintf(model, sizeof model, "%s", path(j, "model", NULL)->valuestring);
                snprintf(fp, sizeof fp, "%s", path(j, "system_fingerprint", NULL)->valuestring);
                c.kind = strcmp(path(j, "object", NULL)->valuestring, "text_completion")
                             ? REQ_CHAT
                             : REQ_COMPLETION;
            }
            const cJSON *u = path(j, "usage", NULL);
            if (u) {
                c.include_usage = 1;
                usage_tokens = (size_t)path(u, "completion_tokens", NULL)->valuedouble;
                c.prompt_tokens = (size_t)path(u, "prompt_tokens", NULL)->valuedouble;
                c.cached_tokens =
                    (size_t)path(path(u, "prompt_tokens_details", NULL), "cached_tokens", NULL)
                        ->valuedouble;
            }
            cJSON_Delete(j);
        }
        p = e + 2;
    }
    c.id = id;
    c.model = model;
    c.system_fingerprint = fp;

    /* Second pass: event by event. */
    for (const char *p = real; p < real + len;) {
        const char *e = strstr(p, "\n\n");
        if (!e)
            break;
        if (!strncmp(p, ":\n\n", 3)) {
            emit_ping_for(&ours, PERS_LLAMACPP);
        } else if (!strncmp(p, "data: [DONE]", 12)) {
            /* The tail in one go, as the server sends it. llama.cpp counts the
             * token that hit a stop string, which is never sent: usage says 3
             * where 2 token events came (chat-stream-stop). */
            emit_stream_tail(&ours, &c, finish, usage_tokens ? usage_tokens : n_tokens);
            break;
        } else {
            cJSON *j = cJSON_ParseWithLength(p + 6, (size_t)(e - p - 6));
            c.created = (int64_t)path(j, "created", NULL)->valuedouble;
            const cJSON *ch = cJSON_GetArrayItem(path(j, "choices", NULL), 0);
            const cJSON *fr = ch ? cJSON_GetObjectItem(ch, "finish_reason") : NULL;
            const cJSON *d = ch ? cJSON_GetObjectItem(ch, "delta") : NULL;
            const cJSON *tm = path(j, "timings", NULL);
            if (ch && cJSON_IsString(fr)) {
                snprintf(finish_buf, sizeof finish_buf, "%s", fr->valuestring);
                finish = finish_buf;
                if (tm)
                    read_timings(tm, &c.timings);
            } else if (!ch) {
                if (tm)
                    read_timings(tm, &c.timings);
            } else if (d && cJSON_GetObjectItem(d, "role")) {
                role_pending = 1;
            } else {
                const cJSON *text = d ? cJSON_GetObjectItem(d, "content")
                                      : cJSON_GetObjectItem(ch, "text");
                emit_timings tt;
                if (tm)
                    read_timings(tm, &tt);
                int64_t tid = 42;
                n_tokens++;
                emit_tokens t = {.content = text->valuestring,
                                 .content_len = strlen(text->valuestring),
                                 .ids = &tid,
                                 .n_ids = 1,
                                 .completion_tokens = n_tokens,
                                 .with_role = role_pending,
                                 .timings = tm ? &tt : NULL};
                emit_token_event(&ours, &c, &t);
                role_pending = 0;
            }
            cJSON_Delete(j);
        }
        p = e + 2;
    }
    if (!same_bytes(file, ours.data, ours.len, real, len))
        ok = 0;
    buf_free(&ours);
    free(real);
    return ok;
}

TEST(llamacpp_stream_usage_matches_capture)
{
    CHECK(replay_llamacpp_stream("fixtures/streams/llamacpp-chat-stream-usage.body.sse"));
}

TEST(llamacpp_stream_nousage_timings_on_finish_matches_capture)
{
    CHECK(replay_llamacpp_stream("fixtures/streams/llamacpp-chat-stream-nousage.body.sse"));
}

TEST(llamacpp_timings_per_token_matches_capture)
{
    CHECK(replay_llamacpp_stream(
        "fixtures/streams/llamacpp-chat-stream-timings-per-token.body.sse"));
}

TEST(llamacpp_sse_ping_matches_capture)
{
    CHECK(replay_llamacpp_stream("fixtures/streams/llamacpp-chat-stream-sse-ping.body.sse"));
}

TEST(llamacpp_stop_matches_capture)
{
    CHECK(replay_llamacpp_stream("fixtures/streams/llamacpp-chat-stream-stop.body.sse"));
}

TEST(llamacpp_tiny_model_stream_matches_capture)
{
    CHECK(replay_llamacpp_stream("fixtures/streams/llamacpp-tiny-chat-stream-usage.body.sse"));
}

TEST(llamacpp_completions_stream_matches_capture)
{
    CHECK(replay_llamacpp_stream("fixtures/streams/llamacpp-completions-stream-usage.body.sse"));
}

/* Non-streaming bodies: fed the capture's own text, ids and timings. */
static int replay_llamacpp_body(const char *file, enum req_kind kind)
{
    size_t len = 0;
    char *real = test_read_fixture(file, &len);
    if (!real)
        return 0;
    cJSON *j = cJSON_ParseWithLength(real, len);
    emit_ctx c;
    memset(&c, 0, sizeof c);
    c.personality = PERS_LLAMACPP;
    c.kind = kind;
    c.id = path(j, "id", NULL)->valuestring;
    c.model = path(j, "model", NULL)->valuestring;
    c.system_fingerprint = path(j, "system_fingerprint", NULL)->valuestring;
    c.created = (int64_t)path(j, "created", NULL)->valuedouble;
    const cJSON *u = path(j, "usage", NULL);
    c.prompt_tokens = (size_t)path(u, "prompt_tokens", NULL)->valuedouble;
    c.cached_tokens =
        (size_t)path(path(u, "prompt_tokens_details", NULL), "cached_tokens", NULL)->valuedouble;
    read_timings(path(j, "timings", NULL), &c.timings);
    const cJSON *ch = cJSON_GetArrayItem(path(j, "choices", NULL), 0);
    const char *text = kind == REQ_CHAT
                           ? cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content")
                                 ->valuestring
                           : cJSON_GetObjectItem(ch, "text")->valuestring;
    buf ours;
    buf_init(&ours, 0);
    emit_full_body(&ours, &c, NULL, 0, text, strlen(text), NULL, 0,
                   cJSON_GetObjectItem(ch, "finish_reason")->valuestring,
                   (size_t)path(u, "completion_tokens", NULL)->valuedouble);
    int ok = same_bytes(file, ours.data, ours.len, real, len);
    buf_free(&ours);
    cJSON_Delete(j);
    free(real);
    return ok;
}

TEST(llamacpp_nonstream_bodies_match_capture)
{
    CHECK(replay_llamacpp_body("fixtures/streams/llamacpp-chat-nonstream.body.json", REQ_CHAT));
    CHECK(replay_llamacpp_body("fixtures/streams/llamacpp-completions-nonstream.body.json",
                               REQ_COMPLETION));
}

static int body_equals_fixture(const buf *b, const char *file)
{
    size_t len = 0;
    char *real = test_read_fixture(file, &len);
    int ok = real && same_bytes(file, b->data, b->len, real, len);
    free(real);
    return ok;
}

TEST(llamacpp_error_bodies_match_capture)
{
    buf b;
    buf_init(&b, 0);
    emit_context_error_body(&b, PERS_LLAMACPP, 9010, 16, 4096);
    CHECK(body_equals_fixture(&b, "fixtures/streams/llamacpp-overctx-9k-stream.body.sse"));
    buf_reset(&b);
    emit_error_body(&b, PERS_LLAMACPP, 400, "'messages' is required");
    CHECK(body_equals_fixture(&b, "fixtures/streams/llamacpp-chat-no-messages.body.json"));
    buf_reset(&b);
    emit_error_body(&b, PERS_LLAMACPP, 404, "File Not Found");
    CHECK(body_equals_fixture(&b, "fixtures/streams/llamacpp-not-found.body.json"));
    buf_reset(&b);
    emit_error_body(&b, PERS_LLAMACPP, 500,
                    "[json.exception.parse_error.101] parse error at line 1, column 3: syntax "
                    "error while parsing object key - invalid literal; last read: '{no'; "
                    "expected string literal");
    CHECK(body_equals_fixture(&b, "fixtures/streams/llamacpp-chat-bad-json.body.json"));

    /* The 503 while loading, as in health-during-startup.txt. */
    buf_reset(&b);
    emit_loading_body(&b, PERS_LLAMACPP);
    size_t len = 0;
    char *txt = test_read_fixture("fixtures/streams/llamacpp-health-during-startup.txt", &len);
    CHECK(txt && b.data && strstr(txt, b.data) != NULL);
    CHECK_STR_EQ(b.data, "{\"error\":{\"message\":\"Loading model\",\"type\":\"unavailable_error\","
                         "\"code\":503}}");
    free(txt);
    buf_free(&b);
}

TEST(llamacpp_models_same_keys_as_capture)
{
    size_t len = 0;
    char *real = test_read_fixture("fixtures/streams/llamacpp-v1-models.body.json", &len);
    CHECK(real != NULL);
    cJSON *want = cJSON_ParseWithLength(real, len);
    buf b;
    buf_init(&b, 0);
    const char *models[] = {"models/big-llama-16L-1024-f16.gguf"};
    emit_models_body(&b, PERS_LLAMACPP, models, 1, 1795423586, 4096);
    cJSON *got = cJSON_Parse(b.data);
    CHECK(got != NULL);
    /* Same top-level keys in the same order, same model entry keys. */
    const cJSON *a = want ? want->child : NULL, *g = got ? got->child : NULL;
    for (; a && g; a = a->next, g = g->next)
        CHECK_STR_EQ(g->string, a->string);
    CHECK(a == NULL && g == NULL);
    const cJSON *wm = cJSON_GetArrayItem(path(want, "data", NULL), 0);
    const cJSON *gm = cJSON_GetArrayItem(path(got, "data", NULL), 0);
    CHECK_STR_EQ(cJSON_GetObjectItem(gm, "owned_by")->valuestring,
                 cJSON_GetObjectItem(wm, "owned_by")->valuestring);
    CHECK_STR_EQ(cJSON_GetObjectItem(gm, "id")->valuestring,
                 cJSON_GetObjectItem(wm, "id")->valuestring);
    CHECK_INT_EQ(path(path(gm, "meta", NULL), "n_ctx", NULL)->valueint, 4096);
    wm = cJSON_GetArrayItem(path(want, "models", NULL), 0);
    gm = cJSON_GetArrayItem(path(got, "models", NULL), 0);
    for (a = wm ? wm->child : NULL, g = gm ? gm->child : NULL; a && g; a = a->next, g = g->next)
        CHECK_STR_EQ(g->string, a->string);
    CHECK(a == NULL && g == NULL);
    cJSON_Delete(want);
    cJSON_Delete(got);
    buf_free(&b);
    free(real);
}

TEST(llamacpp_multi_token_step_is_one_event_per_token)
{
    emit_ctx c = pctx(PERS_LLAMACPP, REQ_CHAT);
    int64_t ids[] = {1, 2, 3};
    size_t lens[] = {3, 4, 4};
    emit_timings tm = {.cache_n = 0, .prompt_n = 9, .prompt_ms = 9, .predicted_n = 5,
                       .predicted_ms = 40};
    emit_tokens t = {.content = "one two six", .content_len = 11, .ids = ids, .n_ids = 3,
                     .completion_tokens = 5, .piece_lens = lens, .timings = &tm, .with_role = 1};
    buf b;
    buf_init(&b, 0);
    emit_token_event(&b, &c, &t);
    CHECK_INT_EQ(count_events(&b), 4);
    cJSON *j = nth_event(&b, 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(delta_of(j), "content")));
    CHECK(path(j, "timings", NULL) == NULL);
    cJSON_Delete(j);
    const char *want[] = {"one", " two", " six"};
    for (int i = 0; i < 3; i++) {
        j = nth_event(&b, i + 1);
        CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "content")->valuestring, want[i]);
        CHECK_INT_EQ(path(path(j, "timings", NULL), "predicted_n", NULL)->valueint, 3 + i);
        cJSON_Delete(j);
    }
    buf_free(&b);
}

TEST(llamacpp_draft_counts_and_reasoning)
{
    emit_ctx c = pctx(PERS_LLAMACPP, REQ_CHAT);
    c.include_usage = 1;
    c.timings = (emit_timings){.cache_n = 3, .prompt_n = 7, .prompt_ms = 12.5,
                               .predicted_n = 11, .predicted_ms = 100, .draft_n = 12,
                               .draft_n_accepted = 9};
    buf b;
    buf_init(&b, 0);
    emit_usage_event(&b, &c, 11);
    cJSON *j = event_json(&b);
    const cJSON *t = path(j, "timings", NULL);
    CHECK_INT_EQ(path(t, "draft_n", NULL)->valueint, 12);
    CHECK_INT_EQ(path(t, "draft_n_accepted", NULL)->valueint, 9);
    CHECK_DBL_NEAR(path(t, "predicted_per_second", NULL)->valuedouble, 100.0, 1e-9);
    CHECK_DBL_NEAR(path(t, "prompt_per_token_ms", NULL)->valuedouble, 12.5 / 7, 1e-12);
    CHECK_INT_EQ(path(path(j, "usage", NULL), "completion_tokens", NULL)->valueint, 11);
    cJSON_Delete(j);

    /* Reasoning goes to reasoning_content; with include_usage the finish chunk has no timings. */
    buf_reset(&b);
    emit_tokens r = {.reasoning = "hm", .reasoning_len = 2, .completion_tokens = 1};
    emit_token_event(&b, &c, &r);
    j = event_json(&b);
    CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "reasoning_content")->valuestring, "hm");
    CHECK(cJSON_GetObjectItem(delta_of(j), "content") == NULL);
    cJSON_Delete(j);
    buf_reset(&b);
    emit_finish_event(&b, &c, "stop", 11);
    j = event_json(&b);
    CHECK(j && path(j, "timings", NULL) == NULL && path(j, "usage", NULL) == NULL);
    cJSON_Delete(j);
    buf_free(&b);
}

TEST(llamacpp_ping_and_props)
{
    buf b;
    buf_init(&b, 0);
    emit_ping_for(&b, PERS_LLAMACPP);
    CHECK_STR_EQ(b.data, ":\n\n");
    buf_reset(&b);
    emit_ping_for(&b, PERS_VLLM);
    CHECK_STR_EQ(b.data, ": ping\n\n");
    buf_reset(&b);
    CHECK_INT_EQ(emit_props_body(&b, PERS_LLAMACPP, "m.gguf", 4096, 2), 0);
    cJSON *j = cJSON_Parse(b.data);
    CHECK_INT_EQ(path(path(j, "default_generation_settings", NULL), "n_ctx", NULL)->valueint,
                 4096);
    CHECK_INT_EQ(path(j, "total_slots", NULL)->valueint, 2);
    CHECK_STR_EQ(path(j, "model_alias", NULL)->valuestring, "m.gguf");
    cJSON_Delete(j);
    buf_reset(&b);
    CHECK(emit_props_body(&b, PERS_VLLM, "m", 1, 1) != 0);
    buf_free(&b);
}

/* ------------------------------------------------------------ vLLM (the default) */

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
    CHECK(path(j, "system_fingerprint", NULL) == NULL);
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
    /* Newer vLLM names the field "reasoning". */
    buf_reset(&b);
    c.reasoning_field = "reasoning";
    emit_token_event(&b, &c, &only_r);
    j = event_json(&b);
    CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "reasoning")->valuestring, "x");
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
    CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "content")->valuestring, "");
    CHECK(cJSON_IsNull(path(j, "choices", "stop_reason")));
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

TEST(vllm_finish_on_last_token_and_tail)
{
    emit_ctx c = ctx(REQ_CHAT);
    c.include_usage = 1;
    emit_tokens t = {.content = " z", .content_len = 2, .completion_tokens = 5,
                     .finish_reason = "length"};
    buf b;
    buf_init(&b, 0);
    emit_token_event(&b, &c, &t);
    cJSON *j = event_json(&b);
    CHECK_STR_EQ(path(j, "choices", "finish_reason")->valuestring, "length");
    CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "content")->valuestring, " z");
    cJSON_Delete(j);
    /* The tail after a token that carried the finish: usage + [DONE] only. */
    buf_reset(&b);
    emit_stream_tail(&b, &c, NULL, 5);
    CHECK_INT_EQ(count_events(&b), 2);
    j = nth_event(&b, 0);
    CHECK_INT_EQ(path(j, "usage", "completion_tokens")->valueint, 5);
    cJSON_Delete(j);
    CHECK(strstr(b.data, "data: [DONE]\n\n") != NULL);
    /* Without include_usage: finish + [DONE]. */
    c.include_usage = 0;
    buf_reset(&b);
    emit_stream_tail(&b, &c, "stop", 5);
    CHECK_INT_EQ(count_events(&b), 2);
    CHECK(strstr(b.data, "\"usage\"") == NULL);
    /* A forced separate role event (real vLLM) comes first, content "". */
    buf_reset(&b);
    emit_tokens first = {.content = "a", .content_len = 1, .completion_tokens = 1,
                         .with_role = 1, .role_event_first = 1};
    emit_token_event(&b, &c, &first);
    CHECK_INT_EQ(count_events(&b), 2);
    j = nth_event(&b, 1);
    CHECK(cJSON_GetObjectItem(delta_of(j), "role") == NULL);
    cJSON_Delete(j);
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
    CHECK(cJSON_IsNull(path(j, "param", NULL)));
    CHECK_INT_EQ(path(j, "code", NULL)->valueint, 400);
    cJSON_Delete(j);
    buf_reset(&b);
    emit_context_error_body(&b, PERS_VLLM, 100, 30, 120);
    j = cJSON_Parse(b.data);
    CHECK(strstr(path(j, "message", NULL)->valuestring, "130 tokens") != NULL);
    CHECK_INT_EQ(path(j, "code", NULL)->valueint, 400);
    cJSON_Delete(j);
    buf_free(&b);
}

/* ------------------------------------------------------------ SGLang */

TEST(sglang_usage_null_on_chunks_and_null_fields)
{
    emit_ctx c = pctx(PERS_SGLANG, REQ_CHAT);
    emit_tokens t = {.content = "x", .content_len = 1, .completion_tokens = 1, .with_role = 1};
    buf b;
    buf_init(&b, 0);
    emit_token_event(&b, &c, &t);
    CHECK_INT_EQ(count_events(&b), 2); /* own role event, then the token */
    cJSON *j = nth_event(&b, 0);
    CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "role")->valuestring, "assistant");
    CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "content")->valuestring, "");
    cJSON_Delete(j);
    j = nth_event(&b, 1);
    const cJSON *d = delta_of(j);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(d, "role")));
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "content")->valuestring, "x");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(d, "reasoning_content")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(d, "tool_calls")));
    CHECK(cJSON_IsNull(path(j, "choices", "matched_stop")));
    CHECK(cJSON_IsNull(path(j, "usage", NULL)));
    CHECK(path(j, "system_fingerprint", NULL) == NULL);
    cJSON_Delete(j);

    buf_reset(&b);
    emit_finish_event(&b, &c, "length", 1);
    j = event_json(&b);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(delta_of(j), "content")));
    CHECK(cJSON_IsNull(path(j, "usage", NULL)));
    cJSON_Delete(j);

    buf_reset(&b);
    emit_usage_event(&b, &c, 1);
    j = event_json(&b);
    CHECK_INT_EQ(path(j, "usage", "completion_tokens")->valueint, 1);
    CHECK(cJSON_IsNull(path(j, "usage", "prompt_tokens_details")));
    cJSON_Delete(j);
    buf_free(&b);
}

TEST(sglang_rejects_stream_token_ids)
{
    CHECK(emit_personality_info(PERS_SGLANG)->rejects_stream_token_ids);
    CHECK(!emit_personality_info(PERS_VLLM)->rejects_stream_token_ids);
    buf b;
    buf_init(&b, 0);
    emit_stream_token_ids_error_body(&b, PERS_SGLANG);
    cJSON *j = cJSON_Parse(b.data);
    CHECK_STR_EQ(path(j, "object", NULL)->valuestring, "error");
    CHECK_STR_EQ(path(j, "type", NULL)->valuestring, "BadRequestError");
    CHECK_INT_EQ(path(j, "code", NULL)->valueint, 400);
    CHECK(strstr(path(j, "message", NULL)->valuestring, "return_token_ids") != NULL);
    cJSON_Delete(j);
    buf_free(&b);
}

/* ------------------------------------------------------------ OpenAI */

TEST(openai_refusal_fingerprint_usage_rules)
{
    emit_ctx c = pctx(PERS_OPENAI, REQ_CHAT);
    buf b;
    buf_init(&b, 0);
    emit_tokens t = {.content = "Hi", .content_len = 2, .completion_tokens = 1, .with_role = 1};
    emit_token_event(&b, &c, &t);
    CHECK_INT_EQ(count_events(&b), 2);
    cJSON *j = nth_event(&b, 0);
    const cJSON *d = delta_of(j);
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "content")->valuestring, "");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(d, "refusal")));
    CHECK_STR_EQ(path(j, "system_fingerprint", NULL)->valuestring, "fp_tokmock0");
    CHECK_STR_EQ(path(j, "service_tier", NULL)->valuestring, "default");
    CHECK(path(j, "usage", NULL) == NULL); /* no include_usage: no usage key at all */
    cJSON_Delete(j);

    /* With include_usage: "usage": null on every chunk, the totals at the end. */
    c.include_usage = 1;
    c.reasoning_tokens = 3;
    buf_reset(&b);
    emit_tokens t2 = {.content = "x", .content_len = 1, .completion_tokens = 4};
    emit_token_event(&b, &c, &t2);
    j = event_json(&b);
    CHECK(cJSON_IsNull(path(j, "usage", NULL)));
    cJSON_Delete(j);
    buf_reset(&b);
    emit_stream_tail(&b, &c, "stop", 4);
    CHECK_INT_EQ(count_events(&b), 3);
    j = nth_event(&b, 1);
    CHECK_INT_EQ(cJSON_GetArraySize(path(j, "choices", NULL)), 0);
    CHECK_INT_EQ(path(path(path(j, "usage", NULL), "completion_tokens_details", NULL),
                      "reasoning_tokens", NULL)->valueint, 3);
    CHECK_INT_EQ(path(path(path(j, "usage", NULL), "prompt_tokens_details", NULL),
                      "cached_tokens", NULL)->valueint, 4);
    cJSON_Delete(j);

    /* Reasoning is hidden: a reasoning-only step writes nothing. */
    buf_reset(&b);
    emit_tokens r = {.reasoning = "hmm", .reasoning_len = 3, .completion_tokens = 1};
    emit_token_event(&b, &c, &r);
    CHECK_INT_EQ(b.len, 0);

    buf_reset(&b);
    emit_full_body(&b, &c, "hmm", 3, "ok", 2, NULL, 0, "stop", 2);
    j = cJSON_Parse(b.data);
    const cJSON *msg = path(j, "choices", "message");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(msg, "refusal")));
    CHECK(cJSON_GetObjectItem(msg, "reasoning_content") == NULL);
    CHECK_STR_EQ(path(j, "system_fingerprint", NULL)->valuestring, "fp_tokmock0");
    cJSON_Delete(j);

    buf_reset(&b);
    emit_error_body(&b, PERS_OPENAI, 401, "Incorrect API key provided");
    j = cJSON_Parse(b.data);
    const cJSON *e = path(j, "error", NULL);
    CHECK_STR_EQ(path(e, "type", NULL)->valuestring, "invalid_request_error");
    CHECK(cJSON_IsNull(path(e, "param", NULL)));
    CHECK_STR_EQ(path(e, "code", NULL)->valuestring, "invalid_api_key");
    cJSON_Delete(j);
    buf_reset(&b);
    emit_context_error_body(&b, PERS_OPENAI, 200000, 10, 128000);
    j = cJSON_Parse(b.data);
    CHECK_STR_EQ(path(path(j, "error", NULL), "code", NULL)->valuestring,
                 "context_length_exceeded");
    cJSON_Delete(j);
    buf_free(&b);
}

/* ------------------------------------------------------------ Ollama */

TEST(ollama_role_every_delta_and_fp)
{
    emit_ctx c = pctx(PERS_OLLAMA, REQ_CHAT);
    CHECK_INT_EQ(emit_personality_info(PERS_OLLAMA)->role, EMIT_ROLE_EVERY_DELTA);
    buf b;
    buf_init(&b, 0);
    emit_tokens t = {.reasoning = "r", .reasoning_len = 1, .completion_tokens = 1};
    emit_token_event(&b, &c, &t);
    cJSON *j = event_json(&b);
    const cJSON *d = delta_of(j);
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "role")->valuestring, "assistant");
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "content")->valuestring, "");
    CHECK_STR_EQ(cJSON_GetObjectItem(d, "reasoning")->valuestring, "r");
    CHECK_STR_EQ(path(j, "system_fingerprint", NULL)->valuestring, "fp_ollama");
    CHECK(path(j, "choices", "logprobs") == NULL);
    CHECK(cJSON_IsNull(path(j, "choices", "finish_reason")));
    CHECK(path(j, "usage", NULL) == NULL);
    cJSON_Delete(j);

    c.include_usage = 1;
    buf_reset(&b);
    emit_stream_tail(&b, &c, "length", 7);
    j = nth_event(&b, 0);
    CHECK_STR_EQ(path(j, "choices", "finish_reason")->valuestring, "length");
    CHECK_STR_EQ(cJSON_GetObjectItem(delta_of(j), "content")->valuestring, "");
    cJSON_Delete(j);
    j = nth_event(&b, 1);
    const cJSON *u = path(j, "usage", NULL);
    CHECK_INT_EQ(cJSON_GetArraySize(u), 3);
    CHECK_INT_EQ(path(u, "total_tokens", NULL)->valueint, 17);
    cJSON_Delete(j);

    buf_reset(&b);
    emit_error_body(&b, PERS_OLLAMA, 500, "boom");
    j = cJSON_Parse(b.data);
    CHECK_STR_EQ(path(path(j, "error", NULL), "type", NULL)->valuestring, "api_error");
    CHECK(cJSON_IsNull(path(path(j, "error", NULL), "code", NULL)));
    cJSON_Delete(j);

    buf_reset(&b);
    const char *models[] = {"llama3:latest", "qwen3:8b"};
    emit_models_body(&b, PERS_OLLAMA, models, 2, 1, 4096);
    j = cJSON_Parse(b.data);
    CHECK_INT_EQ(cJSON_GetArraySize(path(j, "data", NULL)), 2);
    CHECK_STR_EQ(path(j, "data", "owned_by")->valuestring, "library");
    cJSON_Delete(j);
    buf_free(&b);
}

TEST(response_id_shapes)
{
    char id[64];
    CHECK_INT_EQ(emit_response_id(id, sizeof id, PERS_LLAMACPP, REQ_COMPLETION, 7), 41);
    CHECK(strncmp(id, "chatcmpl-", 9) == 0);
    CHECK_INT_EQ(emit_response_id(id, sizeof id, PERS_OPENAI, REQ_CHAT, 7), 38);
    CHECK_INT_EQ(emit_response_id(id, sizeof id, PERS_SGLANG, REQ_CHAT, 7), 32);
    CHECK(strspn(id, "0123456789abcdef") == 32);
    emit_response_id(id, sizeof id, PERS_OLLAMA, REQ_CHAT, 1234);
    CHECK_STR_EQ(id, "chatcmpl-234");
    emit_response_id(id, sizeof id, PERS_VLLM, REQ_COMPLETION, 1);
    CHECK(strncmp(id, "cmpl-", 5) == 0 && strlen(id) == 37);
    char small[6];
    CHECK_INT_EQ(emit_response_id(small, sizeof small, PERS_VLLM, REQ_CHAT, 1), 5);
    CHECK_INT_EQ(strlen(small), 5);
    /* A pure function of seq. */
    char a[64], b[64];
    emit_response_id(a, sizeof a, PERS_LLAMACPP, REQ_CHAT, 99);
    emit_response_id(b, sizeof b, PERS_LLAMACPP, REQ_CHAT, 99);
    CHECK_STR_EQ(a, b);
}

TEST(every_personality_every_event_parses)
{
    enum personality ps[] = {PERS_VLLM, PERS_LLAMACPP, PERS_SGLANG, PERS_OPENAI, PERS_OLLAMA};
    enum req_kind ks[] = {REQ_CHAT, REQ_COMPLETION};
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < 5; i++) {
        for (size_t k = 0; k < 2; k++) {
            emit_ctx c = pctx(ps[i], ks[k]);
            c.include_usage = 1;
            c.return_token_ids = 1;
            int64_t ids[] = {1};
            emit_tokens t = {.content = "a\"\\", .content_len = 3, .ids = ids, .n_ids = 1,
                             .completion_tokens = 1, .with_role = 1};
            buf_reset(&b);
            emit_role_event(&b, &c);
            emit_token_event(&b, &c, &t);
            emit_stream_tail(&b, &c, "length", 1);
            int n = count_events(&b);
            for (int e = 0; e < n - 1; e++) { /* the last one is [DONE] */
                cJSON *j = nth_event(&b, e);
                if (!j)
                    printf("  personality %d kind %d event %d does not parse\n", (int)ps[i],
                           (int)ks[k], e);
                CHECK(j != NULL);
                cJSON_Delete(j);
            }
            buf_reset(&b);
            emit_full_body(&b, &c, "r", 1, "c", 1, ids, 1, "stop", 2);
            cJSON *j = cJSON_Parse(b.data);
            CHECK(j != NULL);
            cJSON_Delete(j);
            buf_reset(&b);
            emit_error_body(&b, ps[i], 429, "slow down");
            j = cJSON_Parse(b.data);
            CHECK(j != NULL);
            cJSON_Delete(j);
            CHECK(emit_personality_info(ps[i])->owned_by != NULL);
        }
    }
    buf_free(&b);
}

int main(void)
{
    RUN(json_double_like_llama_server);
    RUN(llamacpp_stream_usage_matches_capture);
    RUN(llamacpp_stream_nousage_timings_on_finish_matches_capture);
    RUN(llamacpp_timings_per_token_matches_capture);
    RUN(llamacpp_sse_ping_matches_capture);
    RUN(llamacpp_stop_matches_capture);
    RUN(llamacpp_tiny_model_stream_matches_capture);
    RUN(llamacpp_completions_stream_matches_capture);
    RUN(llamacpp_nonstream_bodies_match_capture);
    RUN(llamacpp_error_bodies_match_capture);
    RUN(llamacpp_models_same_keys_as_capture);
    RUN(llamacpp_multi_token_step_is_one_event_per_token);
    RUN(llamacpp_draft_counts_and_reasoning);
    RUN(llamacpp_ping_and_props);
    RUN(token_event_with_role_ids_and_usage);
    RUN(reasoning_and_content_split);
    RUN(role_finish_usage_done);
    RUN(vllm_finish_on_last_token_and_tail);
    RUN(completion_chunks_and_bodies);
    RUN(error_body_vllm_shape);
    RUN(sglang_usage_null_on_chunks_and_null_fields);
    RUN(sglang_rejects_stream_token_ids);
    RUN(openai_refusal_fingerprint_usage_rules);
    RUN(ollama_role_every_delta_and_fp);
    RUN(response_id_shapes);
    RUN(every_personality_every_event_parses);
    return test_summary();
}
