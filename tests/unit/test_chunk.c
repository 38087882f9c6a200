/* Unit tests for the chunk decoder (client/chunk.c): every real event of
 * the fixtures and the fuzz seeds decodes as the cJSON reference it replaced
 * (tests/chunk_ref.c) decodes it, and hand-made cases pin the JSON rules
 * (escapes, surrogates, duplicate keys, nesting, numbers, whitespace), the
 * field precedence and the one intended difference from the reference. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/chunk.h"
#include "../chunk_ref.c"
#include "../fixture.h"
#include "../test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- agreement with the reference ------------------------------------- */

typedef struct tally {
    int events, lenient, heap;
} tally;

/* Decodes json with both; they must agree, or the input must be one of the
 * leniencies of cJSON that the decoder refuses. */
static void compare_one(const char *json, size_t len, const char *where, tally *t)
{
    chunk_info c, ref;
    int rc = chunk_parse(json, len, &c);
    int ref_rc = chunk_ref_parse(json, len, &ref);
    t->events++;
    if (ref_rc != CHUNK_ERR_JSON && chunk_ref_lenient(json, len)) {
        t->lenient++;
        if (rc != CHUNK_ERR_JSON)
            TEST_FAIL_AT_("%s: lenient input accepted (rc %d)", where, rc);
    } else {
        const char *field = chunk_ref_diff(rc, &c, ref_rc, &ref);
        if (field)
            TEST_FAIL_AT_("%s: differs from the reference in %s (rc %d vs %d)", where, field, rc,
                          ref_rc);
    }
    if (c.root_)
        t->heap++;
    chunk_info_free(&c);
    chunk_ref_free(&ref);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Each SSE event of body whose data is JSON (tests/fixture.h splits them). */
typedef struct sse_ctx {
    const char *where;
    tally *t;
} sse_ctx;

static void compare_event(void *ctx, const char *json, size_t len)
{
    sse_ctx *c = ctx;
    compare_one(json, len, c->where, c->t);
}

static void compare_sse(const char *body, size_t len, const char *where, tally *t)
{
    sse_ctx c = {where, t};
    test_each_sse_json(body, len, compare_event, &c);
}

/* Every *.body.sse / *.body.json in the first of dirs that opens (paths
 * relative to the repository root, tests run from there or tests/unit). */
static int compare_dir(const char *rel, tally *t, int *files)
{
    static const char *const prefixes[] = {"", "../../", "../"};
    for (size_t p = 0; p < N(prefixes); p++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s%s", prefixes[p], rel);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int sse = ends_with(e->d_name, ".body.sse");
            if (!sse && !ends_with(e->d_name, ".body.json"))
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            size_t len;
            char *body = test_read_file(path, &len);
            if (!body)
                continue;
            (*files)++;
            if (sse) {
                compare_sse(body, len, e->d_name, t);
            } else {
                size_t k = 0;
                while (k < len && strchr(" \t\r\n", body[k]))
                    k++;
                compare_one(body + k, len - k, e->d_name, t);
            }
            free(body);
        }
        closedir(d);
        return 1;
    }
    return 0;
}

TEST(fixture_events_decode_as_the_reference)
{
    tally t = {0};
    int files = 0;
    CHECK(compare_dir("fixtures/streams", &t, &files));
    /* The raw captures these fixtures come from, when the checkout has them. */
    compare_dir("../shared/fixtures-real/llamacpp", &t, &files);
    compare_dir("../shared/fixtures-real/llamacpp/tiny-model", &t, &files);
    printf("# %d events from %d files, %d needed the heap\n", t.events, files, t.heap);
    CHECK(files >= 20);
    CHECK(t.events >= 250); /* fixtures/streams alone hold 287 */
    CHECK_INT_EQ(t.lenient, 0); /* real servers write valid JSON */
    /* Streamed events fit the inline scratch: no allocation at all. */
    CHECK(t.heap * 50 <= t.events);
}

/* Every seed of the fuzz target, as the fuzzer feeds it (whole file). */
TEST(fuzz_seeds_decode_as_the_reference)
{
    static const char *const prefixes[] = {"", "../../", "../"};
    tally t = {0};
    for (size_t p = 0; p < N(prefixes); p++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%stests/fuzz/corpus/fuzz_chunk", prefixes[p]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            size_t len;
            char *body = test_read_file(path, &len);
            if (!body)
                continue;
            compare_one(body, len, e->d_name, &t);
            free(body);
        }
        closedir(d);
        break;
    }
    printf("# %d seeds, %d lenient\n", t.events, t.lenient);
    CHECK(t.events >= 100);
}

/* ---- hand-made cases -------------------------------------------------- */

/* Decodes s with both decoders, checks they agree, and leaves the new
 * decoder's result in *c (free with chunk_info_free). */
static int decode_n(const char *s, size_t len, chunk_info *c)
{
    chunk_info ref;
    int rc = chunk_parse(s, len, c);
    int ref_rc = chunk_ref_parse(s, len, &ref);
    const char *field = chunk_ref_diff(rc, c, ref_rc, &ref);
    if (field)
        TEST_FAIL_AT_("differs from the reference in %s (rc %d vs %d): %.60s", field, rc, ref_rc,
                      s);
    chunk_ref_free(&ref);
    return rc;
}

static int decode(const char *s, chunk_info *c)
{
    return decode_n(s, strlen(s), c);
}

#define CONTENT_OF(json) "{\"choices\":[{\"delta\":{\"content\":" json "}}]}"

TEST(string_escapes)
{
    chunk_info c;
    CHECK_INT_EQ(decode(CONTENT_OF("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\te\""), &c), CHUNK_OK);
    CHECK_STR_EQ(c.content, "a\"b\\c/d\b\f\n\r\te");
    CHECK_INT_EQ(c.content_len, 13);
    CHECK_INT_EQ(c.kind, EV_CONTENT);
    chunk_info_free(&c);
    /* One, two, three bytes of UTF-8; upper and lower case hex. */
    CHECK_INT_EQ(decode(CONTENT_OF("\"\\u0041\\u00e9\\u00E9\\u20AC\""), &c), CHUNK_OK);
    CHECK_STR_EQ(c.content, "A\xc3\xa9\xc3\xa9\xe2\x82\xac");
    CHECK_INT_EQ(c.content_len, 8);
    chunk_info_free(&c);
    /* Raw UTF-8 (and bytes that are not UTF-8) pass unchanged. */
    CHECK_INT_EQ(decode(CONTENT_OF("\"\xe2\x82\xac \xff\""), &c), CHUNK_OK);
    CHECK_STR_EQ(c.content, "\xe2\x82\xac \xff");
    chunk_info_free(&c);
    /* Bad escapes. */
    const char *bad[] = {CONTENT_OF("\"\\x\""),  CONTENT_OF("\"\\'\""), CONTENT_OF("\"\\u12\""),
                         CONTENT_OF("\"ab\\\""), CONTENT_OF("\"ab"),    "{\"a\":\"\\"};
    for (size_t i = 0; i < N(bad); i++) {
        CHECK_INT_EQ(decode(bad[i], &c), CHUNK_ERR_JSON);
        chunk_info_free(&c);
    }
}

TEST(surrogate_pairs)
{
    chunk_info c;
    CHECK_INT_EQ(decode(CONTENT_OF("\"\\ud83d\\ude00!\""), &c), CHUNK_OK);
    CHECK_STR_EQ(c.content, "\xf0\x9f\x98\x80!");
    CHECK_INT_EQ(c.content_len, 5);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode(CONTENT_OF("\"\\uD800\\uDC00\\uDBFF\\uDFFF\""), &c), CHUNK_OK);
    CHECK_STR_EQ(c.content, "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    chunk_info_free(&c);
    /* Lone, reversed or broken halves are refused by both. */
    const char *bad[] = {
        CONTENT_OF("\"\\ud800\""),        CONTENT_OF("\"\\udc00\""),
        CONTENT_OF("\"\\ude00\\ud83d\""), CONTENT_OF("\"\\ud800\\u0041\""),
        CONTENT_OF("\"\\ud800x\""),       CONTENT_OF("\"\\ud800\\uDBFF\""),
        CONTENT_OF("\"\\ud800\\u12\""),   CONTENT_OF("\"\\ud800\\\""),
    };
    for (size_t i = 0; i < N(bad); i++) {
        CHECK_INT_EQ(decode(bad[i], &c), CHUNK_ERR_JSON);
        chunk_info_free(&c);
    }
}

/* A string ends at its first decoded NUL, in lengths as in text (cJSON's
 * valuestring did the same), keys included. */
TEST(escaped_nul_ends_the_string)
{
    chunk_info c;
    CHECK_INT_EQ(decode("{\"id\":\"ab\\u0000cd\",\"choices\":[{\"delta\":{\"content\":"
                        "\"x\\u0000yz\",\"reasoning\":\"\\u0000abc\"}}]}",
                        &c),
                 CHUNK_OK);
    CHECK_STR_EQ(c.id, "ab");
    CHECK_STR_EQ(c.content, "x");
    CHECK_INT_EQ(c.content_len, 1);
    CHECK_INT_EQ(c.reasoning_len, 0);
    CHECK_INT_EQ(c.text_bytes, 1);
    chunk_info_free(&c);
    /* "id\u0000zz" is the key "id". */
    CHECK_INT_EQ(decode("{\"id\\u0000zz\":\"first\",\"id\":\"second\"}", &c), CHUNK_OK);
    CHECK_STR_EQ(c.id, "first");
    chunk_info_free(&c);
    /* Content that is only a NUL is empty: no token text. */
    CHECK_INT_EQ(decode(CONTENT_OF("\"\\u0000\""), &c), CHUNK_OK);
    CHECK_STR_EQ(c.content, "");
    CHECK_INT_EQ(c.kind, EV_ROLE_ONLY);
    chunk_info_free(&c);
}

TEST(escaped_keys_match)
{
    chunk_info c;
    CHECK_INT_EQ(decode("{\"\\u0069d\":\"x\",\"mod\\u0065l\":\"m\",\"ch\\u006fices\":[{\"d"
                        "elta\":{\"con\\u0074ent\":\"hi\"}}]}",
                        &c),
                 CHUNK_OK);
    CHECK_STR_EQ(c.id, "x");
    CHECK_STR_EQ(c.model, "m");
    CHECK_STR_EQ(c.content, "hi");
    chunk_info_free(&c);
    /* A long escaped key is no key of ours; "model" with a trailing
     * character is not "model". */
    CHECK_INT_EQ(decode("{\"\\u0069d_and_a_very_long_key_that_goes_on_and_on\":\"x\","
                        "\"modelx\":\"y\",\"Model\":\"z\"}",
                        &c),
                 CHUNK_OK);
    CHECK(c.id == NULL);
    CHECK(c.model == NULL);
    chunk_info_free(&c);
}

/* The first of duplicate keys counts, whatever its type. */
TEST(duplicate_keys_first_wins)
{
    chunk_info c;
    CHECK_INT_EQ(
        decode("{\"choices\":[{\"delta\":{\"content\":\"first\",\"content\":\"second\"}}]}", &c),
        CHUNK_OK);
    CHECK_STR_EQ(c.content, "first");
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"id\":1,\"id\":\"x\",\"model\":\"a\",\"model\":\"b\"}", &c), CHUNK_OK);
    CHECK(c.id == NULL);
    CHECK_STR_EQ(c.model, "a");
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"usage\":null,\"usage\":{\"prompt_tokens\":3}}", &c), CHUNK_OK);
    CHECK_INT_EQ(c.has_usage, 0);
    CHECK_INT_EQ(c.prompt_tokens, -1);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"usage\":{\"prompt_tokens\":3,\"prompt_tokens\":4},\"usage\":{}}", &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.prompt_tokens, 3);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"choices\":[],\"choices\":[{\"delta\":{\"content\":\"x\"}}]}", &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.has_choices, 0);
    CHECK_INT_EQ(c.kind, EV_OTHER);
    chunk_info_free(&c);
    /* Only choices[0] counts. */
    CHECK_INT_EQ(decode("{\"choices\":[{\"delta\":{}},{\"delta\":{\"content\":\"x\"}}]}", &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.kind, EV_ROLE_ONLY);
    CHECK(c.content == NULL);
    chunk_info_free(&c);
    /* A first delta that is not an object gives way to message. */
    CHECK_INT_EQ(decode("{\"choices\":[{\"delta\":null,\"delta\":{\"content\":\"no\"},"
                        "\"message\":{\"content\":\"yes\"}}]}",
                        &c),
                 CHUNK_OK);
    CHECK_STR_EQ(c.content, "yes");
    chunk_info_free(&c);
    CHECK_INT_EQ(
        decode("{\"error\":null,\"object\":\"error\",\"message\":\"m1\",\"message\":\"m2\"}", &c),
        CHUNK_ERR_ERROR);
    CHECK_STR_EQ(c.error, "m1");
    chunk_info_free(&c);
}

/* Nesting as cJSON counted it: the top-level object is level 1, 1000 levels
 * pass and 1001 do not, wherever the deep value sits. */
static char *nested(const char *head, int levels, const char *tail)
{
    size_t hn = strlen(head), tn = strlen(tail), n = hn;
    char *s = malloc(hn + tn + 6 * (size_t)levels + 16);
    memcpy(s, head, hn);
    for (int i = 0; i < levels; i++) { /* objects and arrays in turn */
        if (i % 2 == 0) {
            memcpy(s + n, "{\"k\":", 5);
            n += 5;
        } else {
            s[n++] = '[';
        }
    }
    s[n++] = '0';
    for (int i = levels - 1; i >= 0; i--)
        s[n++] = i % 2 == 0 ? '}' : ']';
    memcpy(s + n, tail, tn + 1);
    return s;
}

TEST(nesting_limit)
{
    chunk_info c;
    struct {
        const char *head, *tail;
        int outer; /* levels around the deep value */
    } at[] = {
        {"{\"x\":", "}", 1},
        {"{\"choices\":[{\"delta\":{\"content\":\"a\",\"deep\":", "}}]}", 4},
        {"{\"usage\":{\"prompt_tokens\":1,\"d\":", "}}", 2},
        {"{\"token_ids\":[1,", "]}", 2},
        {"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"f\",\"x\":",
         "}}]}}]}", 7},
    };
    for (size_t i = 0; i < N(at); i++) {
        int room = CHUNK_MAX_DEPTH - at[i].outer;
        char *ok = nested(at[i].head, room, at[i].tail);
        char *deep = nested(at[i].head, room + 1, at[i].tail);
        CHECK_INT_EQ(decode(ok, &c), CHUNK_OK);
        chunk_info_free(&c);
        CHECK_INT_EQ(decode(deep, &c), CHUNK_ERR_JSON);
        chunk_info_free(&c);
        free(ok);
        free(deep);
    }
}

TEST(error_objects)
{
    struct {
        const char *json, *error;
    } cases[] = {
        {"{\"error\":{\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}}", "boom"},
        {"{\"error\":{\"message\":7}}", "error object without a message"},
        {"{\"error\":{}}", "error object without a message"},
        {"{\"error\":\"plain text\"}", "plain text"},
        {"{\"error\":\"\"}", ""},
        {"{\"object\":\"error\",\"message\":\"vllm says no\",\"code\":400}", "vllm says no"},
        {"{\"object\":\"error\"}", "error object without a message"},
        {"{\"object\":\"\\u0065rror\",\"message\":\"escaped\"}", "escaped"},
        {"{\"object\":\"error\\u0000x\",\"message\":\"cut\"}", "cut"},
        {"{\"error\":[1],\"object\":\"error\",\"message\":\"m\"}", "m"},
    };
    chunk_info c;
    for (size_t i = 0; i < N(cases); i++) {
        CHECK_INT_EQ(decode(cases[i].json, &c), CHUNK_ERR_ERROR);
        CHECK_STR_EQ(c.error, cases[i].error);
        chunk_info_free(&c);
    }
    /* Not errors: a null error, another object type. */
    const char *fine[] = {"{\"error\":null}", "{\"object\":\"errors\",\"message\":\"m\"}",
                          "{\"object\":\"chat.completion.chunk\"}", "{\"error\":false}"};
    for (size_t i = 0; i < N(fine); i++) {
        CHECK_INT_EQ(decode(fine[i], &c), CHUNK_OK);
        CHECK(c.error == NULL);
        chunk_info_free(&c);
    }
    /* An error keeps id and model, nothing else. */
    CHECK_INT_EQ(decode("{\"id\":\"r1\",\"model\":\"m\",\"usage\":{\"prompt_tokens\":5},"
                        "\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"error\":{\"message\":"
                        "\"late\"}}",
                        &c),
                 CHUNK_ERR_ERROR);
    CHECK_STR_EQ(c.id, "r1");
    CHECK_STR_EQ(c.model, "m");
    CHECK_STR_EQ(c.error, "late");
    CHECK_INT_EQ(c.has_usage, 0);
    CHECK_INT_EQ(c.prompt_tokens, -1);
    CHECK(c.content == NULL);
    CHECK_INT_EQ(c.has_choices, 0);
    chunk_info_free(&c);
}

TEST(numbers)
{
    struct {
        const char *value;
        int count;      /* as usage.prompt_tokens */
        double measure; /* as timings.prompt_ms */
    } cases[] = {
        {"0", 0, 0},
        {"-0", 0, 0},
        {"7", 7, 7},
        {"-1", -1, -1},
        {"-2.5", -1, -2.5},
        {"1.9", 1, 1.9},
        {"1e3", 1000, 1000},
        {"1E+3", 1000, 1000},
        {"12.5e-1", 1, 1.25},
        {"2147483647", 2147483647, 2147483647.0},
        {"2147483648", -1, 2147483648.0},
        {"123456789012345", -1, 123456789012345.0},
        {"1234567890123456789", -1, 1234567890123456789.0},
        {"1e400", -1, -1},
        {"-1e400", -1, -1},
        {"1e-400", 0, 0},
        {"0.000000000000000000000000000000000000000000000000000000000000000000000000000001", 0,
         1e-78},
        {"\"5\"", -1, -1},
        {"null", -1, -1},
        {"true", -1, -1},
        {"[5]", -1, -1},
    };
    chunk_info c;
    char json[512];
    for (size_t i = 0; i < N(cases); i++) {
        snprintf(json, sizeof json,
                 "{\"usage\":{\"prompt_tokens\":%s},\"timings\":{\"prompt_ms\":%s}}",
                 cases[i].value, cases[i].value);
        CHECK_INT_EQ(decode(json, &c), CHUNK_OK);
        CHECK_INT_EQ(c.prompt_tokens, cases[i].count);
        CHECK_DBL_NEAR(c.timings.prompt_ms, cases[i].measure, fabs(cases[i].measure) * 1e-15);
        chunk_info_free(&c);
    }
    /* Long integers are valid JSON (cJSON reads them whole too): 300 digits
     * is a finite double, 400 digits overflows to infinity, i.e. -1. */
    for (int digits = 300; digits <= 400; digits += 100) {
        char big[512] = "{\"timings\":{\"predicted_n\":";
        size_t n = strlen(big), start = n;
        for (int i = 0; i < digits; i++)
            big[n++] = (char)('1' + i % 9);
        big[n] = '\0';
        double want = strtod(big + start, NULL);
        memcpy(big + n, "}}", 3);
        CHECK_INT_EQ(decode(big, &c), CHUNK_OK);
        CHECK_DBL_NEAR(c.timings.predicted_n, isfinite(want) ? want : -1, 0);
        CHECK(digits == 300 ? c.timings.predicted_n > 1e299 : c.timings.predicted_n == -1);
        chunk_info_free(&c);
    }
    /* Not numbers in JSON, refused by both. */
    const char *bad[] = {"+1",    ".5",  "-",   "1e",  "1e+",      "0x1",
                         "1.2.3", "1-2", "NaN", "- 1", "Infinity", "-e"};
    for (size_t i = 0; i < N(bad); i++) {
        snprintf(json, sizeof json, "{\"usage\":{\"prompt_tokens\":%s}}", bad[i]);
        CHECK_INT_EQ(decode(json, &c), CHUNK_ERR_JSON);
        chunk_info_free(&c);
    }
}

TEST(whitespace_and_structure)
{
    chunk_info c;
    CHECK_INT_EQ(decode(" \r\n\t{ \"choices\" :\r\n [ {\t\"delta\" : { \"content\" : \"x\" } ,"
                        " \"finish_reason\" : \"stop\" } ] , \"id\" : \"i\" }\r\n \t",
                        &c),
                 CHUNK_OK);
    CHECK_STR_EQ(c.content, "x");
    CHECK_STR_EQ(c.finish_reason, "stop");
    CHECK_STR_EQ(c.id, "i");
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{}", &c), CHUNK_OK);
    CHECK_INT_EQ(c.kind, EV_OTHER);
    chunk_info_free(&c);
    CHECK_INT_EQ(
        decode("{\"a\":[],\"b\":{},\"c\":[[],{}],\"d\":[true,false,null,\"s\",-1.5e3]}", &c),
        CHUNK_OK);
    chunk_info_free(&c);
    const char *bad[] = {"",
                         " ",
                         "[1]",
                         "\"s\"",
                         "1",
                         "null",
                         "{",
                         "}",
                         "{\"a\"}",
                         "{\"a\":}",
                         "{a:1}",
                         "{\"a\":1,}",
                         "{,}",
                         "{\"a\":[1,]}",
                         "{\"a\":[,]}",
                         "{\"a\" 1}",
                         "{\"a\":1 2}",
                         "{\"a\":tru}",
                         "{\"a\":nul}",
                         "{\"a\":[1}",
                         "{\"a\":{]}",
                         "{\"a\":\"\"",
                         "{\"a\":1,,\"b\":2}",
                         "{'a':1}"};
    for (size_t i = 0; i < N(bad); i++) {
        CHECK_INT_EQ(decode(bad[i], &c), CHUNK_ERR_JSON);
        CHECK(c.id == NULL && c.error == NULL);
        chunk_info_free(&c);
    }
}

/* What cJSON accepts beyond JSON, and the decoder refuses: each case is
 * recognised by chunk_ref_lenient, refused by the decoder, accepted by the
 * reference. */
TEST(lenient_reference_inputs_refused)
{
    struct {
        const char *json;
        size_t len;
    } cases[] = {
#define L(s) {s, sizeof(s) - 1}
        L("{\"id\":\"a\"}x"),
        L("{\"id\":\"a\"}}"),
        L("{\"id\":\"a\"} ,"),
        L("{\"id\":\"a\"}\0"),
        L("{\"id\":\"a\"}{\"id\":\"b\"}"),
        L("{\"id\":\"a\x01\"}"),
        L("{\"id\":\"a\tb\"}"),
        L("{\"id\":\"a\nb\"}"),
        L("{\x01\"id\":\"a\"}"),
        L("{\"id\":\"a\"\0}"),
        L("\xef\xbb\xbf{\"id\":\"a\"}"),
        L("{\"id\":\"\\uZZZZ\"}"),
        L("{\"id\":\"x\\u00G1\"}"),
        L("{\"n\":01}"),
        L("{\"n\":-01.5}"),
        L("{\"n\":00}"),
        L("{\"n\":1.}"),
        L("{\"n\":-.5}"),
        L("{\"n\":1.e5}"),
        L("{\"n\":[1,5.]}"),
#undef L
    };
    for (size_t i = 0; i < N(cases); i++) {
        chunk_info c, ref;
        int rc = chunk_parse(cases[i].json, cases[i].len, &c);
        int ref_rc = chunk_ref_parse(cases[i].json, cases[i].len, &ref);
        if (rc != CHUNK_ERR_JSON || ref_rc != CHUNK_OK ||
            !chunk_ref_lenient(cases[i].json, cases[i].len))
            TEST_FAIL_AT_("case %zu: rc %d, reference %d, lenient %d", i, rc, ref_rc,
                          chunk_ref_lenient(cases[i].json, cases[i].len));
        chunk_info_free(&c);
        chunk_ref_free(&ref);
    }
    /* And valid JSON that merely looks like those is not lenient. */
    const char *valid[] = {"{\"id\":\"01 1. -.5 \\\\uZZZZ\"}", "{\"n\":0,\"m\":-0.5e-1}",
                           "{\"n\":[0,10,1.5]}  \r\n"};
    for (size_t i = 0; i < N(valid); i++) {
        CHECK(!chunk_ref_lenient(valid[i], strlen(valid[i])));
        chunk_info c;
        CHECK_INT_EQ(decode(valid[i], &c), CHUNK_OK);
        chunk_info_free(&c);
    }
}

TEST(text_precedence_and_kinds)
{
    chunk_info c;
    /* reasoning_content wins when non-empty, else reasoning. */
    CHECK_INT_EQ(decode("{\"choices\":[{\"delta\":{\"reasoning_content\":\"\",\"reasoning\":"
                        "\"abc\"}}]}",
                        &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.reasoning_len, 3);
    CHECK_INT_EQ(c.kind, EV_REASONING);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"choices\":[{\"delta\":{\"reasoning\":\"ab\",\"reasoning_content\":"
                        "\"wxyz\",\"content\":null}}]}",
                        &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.reasoning_len, 4);
    CHECK(c.content == NULL);
    chunk_info_free(&c);
    /* Tool calls: name + arguments bytes; an empty call counts as 1. */
    CHECK_INT_EQ(decode("{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
                        "{\"name\":\"get\",\"arguments\":\"{\\\"a\\\":1}\"}},{\"function\":"
                        "{\"arguments\":\"xy\"}},7,{\"function\":null}]}}]}",
                        &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.tool_len, 3 + 7 + 2);
    CHECK_INT_EQ(c.kind, EV_TOOL);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"c1\"}]}}]}", &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.tool_len, 1);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"choices\":[{\"delta\":{\"tool_calls\":[]}}]}", &c), CHUNK_OK);
    CHECK_INT_EQ(c.tool_len, 0);
    CHECK_INT_EQ(c.kind, EV_ROLE_ONLY);
    chunk_info_free(&c);
    /* token_ids: top level first, else choices[0]; ids alone are content. */
    CHECK_INT_EQ(
        decode("{\"token_ids\":[1,2],\"choices\":[{\"token_ids\":[1,2,3],\"delta\":{}}]}", &c),
        CHUNK_OK);
    CHECK_INT_EQ(c.ids, 2);
    CHECK_INT_EQ(c.kind, EV_CONTENT);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"token_ids\":null,\"choices\":[{\"token_ids\":[[1],{},\"x\"]}]}", &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.ids, 3);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"choices\":[7],\"token_ids\":[]}", &c), CHUNK_OK);
    CHECK_INT_EQ(c.kind, EV_ROLE_ONLY);
    CHECK_INT_EQ(c.ids, 0);
    chunk_info_free(&c);
    /* Legacy completions text; message of a non-streaming body. */
    CHECK_INT_EQ(decode("{\"choices\":[{\"text\":\"hello\",\"finish_reason\":null}]}", &c),
                 CHUNK_OK);
    CHECK_STR_EQ(c.content, "hello");
    CHECK(c.finish_reason == NULL);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi "
                        "there\"},\"text\":\"ignored\",\"finish_reason\":\"length\"}]}",
                        &c),
                 CHUNK_OK);
    CHECK_STR_EQ(c.content, "hi there");
    CHECK_STR_EQ(c.finish_reason, "length");
    CHECK_INT_EQ(c.text_bytes, 8);
    chunk_info_free(&c);
}

TEST(usage_and_timings)
{
    chunk_info c;
    CHECK_INT_EQ(decode("{\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":"
                        "3,\"prompt_tokens_details\":{\"cached_tokens\":4},\"timings\":{"
                        "\"prompt_n\":1}},\"timings\":{\"prompt_n\":10,\"prompt_ms\":1.5,"
                        "\"predicted_n\":3,\"predicted_ms\":30.25,\"cache_n\":4,\"draft_n\":2,"
                        "\"draft_n_accepted\":1}}",
                        &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.has_usage, 1);
    CHECK_INT_EQ(c.prompt_tokens, 10);
    CHECK_INT_EQ(c.completion_tokens, 3);
    CHECK_INT_EQ(c.cached_tokens, 4);
    CHECK_INT_EQ(c.has_timings, 1);
    CHECK_DBL_NEAR(c.timings.prompt_n, 10, 0);
    CHECK_DBL_NEAR(c.timings.prompt_ms, 1.5, 0);
    CHECK_DBL_NEAR(c.timings.predicted_ms, 30.25, 0);
    CHECK_DBL_NEAR(c.timings.draft_n_accepted, 1, 0);
    CHECK_INT_EQ(c.kind, EV_OTHER);
    chunk_info_free(&c);
    /* timings that is not an object falls back to usage.timings. */
    CHECK_INT_EQ(decode("{\"timings\":null,\"usage\":{\"timings\":{\"predicted_n\":5}}}", &c),
                 CHUNK_OK);
    CHECK_INT_EQ(c.has_timings, 1);
    CHECK_DBL_NEAR(c.timings.predicted_n, 5, 0);
    CHECK_DBL_NEAR(c.timings.prompt_n, -1, 0);
    CHECK_INT_EQ(c.cached_tokens, -1);
    CHECK_INT_EQ(c.prompt_tokens, -1);
    chunk_info_free(&c);
    CHECK_INT_EQ(decode("{\"usage\":{\"prompt_tokens_details\":null}}", &c), CHUNK_OK);
    CHECK_INT_EQ(c.has_usage, 1);
    CHECK_INT_EQ(c.has_timings, 0);
    CHECK_INT_EQ(c.cached_tokens, -1);
    chunk_info_free(&c);
}

/* The fuzz target's first finding (tests/fuzz/corpus/fuzz_chunk/
 * regress-print-15-digit-roundtrip): a 16-digit prompt_ms that cJSON prints
 * back with 15 digits, because it reads back within an epsilon. The
 * decoders agreed; the target's oracle compared the printed text's value
 * with the input's and now decodes the printed text with both. Pinned here:
 * the decoder gives strtod's value for such a number, as does the reference. */
TEST(sixteen_digit_number_regression)
{
    static const char json[] =
        "{\"choices\":[{\"fiek\":{\"co~tent\":\" esto\"}}],\"created\":1795423585,\"id\":"
        "\"chatcmpl-7dd6A2.comchunk\",\"timings\":{\"cache_n\":23,\"prom_n\":1,\"prompt_ms\":"
        "38.59894210553261}}";
    chunk_info c;
    CHECK_INT_EQ(decode(json, &c), CHUNK_OK);
    CHECK(c.timings.prompt_ms == strtod("38.59894210553261", NULL));
    CHECK_DBL_NEAR(c.timings.cache_n, 23, 0);
    CHECK_DBL_NEAR(c.timings.prompt_n, -1, 0);
    CHECK_INT_EQ(c.kind, EV_ROLE_ONLY);
    chunk_info_free(&c);
    /* Around the edges of the exact fast path, the same as strtod. */
    const char *edges[] = {"9007199254740993",
                           "900719925474099",
                           "0.1",
                           "0.3",
                           "1e22",
                           "1e23",
                           "1e-22",
                           "1e-23",
                           "123456789012345e7",
                           "4.35",
                           "2.675",
                           "-1234.5678e-3"};
    for (size_t i = 0; i < N(edges); i++) {
        char j[128];
        snprintf(j, sizeof j, "{\"timings\":{\"predicted_ms\":%s}}", edges[i]);
        CHECK_INT_EQ(decode(j, &c), CHUNK_OK);
        if (c.timings.predicted_ms != strtod(edges[i], NULL))
            TEST_FAIL_AT_("%s: %.17g != strtod's %.17g", edges[i], c.timings.predicted_ms,
                          strtod(edges[i], NULL));
        chunk_info_free(&c);
    }
}

/* Strings beyond the inline scratch take one heap block, freed by
 * chunk_info_free; short ones take none. */
TEST(long_strings_use_the_heap_once)
{
    chunk_info c;
    CHECK_INT_EQ(
        decode("{\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"x\"}}]}", &c),
        CHUNK_OK);
    CHECK(c.root_ == NULL);
    chunk_info_free(&c);
    size_t n = 3 * CHUNK_SCRATCH_BYTES;
    char *json = malloc(n + 128);
    int len = snprintf(json, n + 128, "{\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"");
    for (size_t i = 0; i < n; i++)
        json[len++] = "ab\\n"[i % 4]; /* "ab\n" again and again */
    len += snprintf(json + len, 32, "\"}}],\"id\":\"last\"}");
    CHECK_INT_EQ(decode_n(json, (size_t)len, &c), CHUNK_OK);
    CHECK(c.root_ != NULL);
    CHECK_STR_EQ(c.id, "last");
    CHECK_STR_EQ(c.model, "m");
    CHECK(c.content != NULL && strlen(c.content) == c.content_len);
    chunk_info_free(&c);
    CHECK(c.root_ == NULL);
    free(json);
}

int main(void)
{
    RUN(fixture_events_decode_as_the_reference);
    RUN(fuzz_seeds_decode_as_the_reference);
    RUN(string_escapes);
    RUN(surrogate_pairs);
    RUN(escaped_nul_ends_the_string);
    RUN(escaped_keys_match);
    RUN(duplicate_keys_first_wins);
    RUN(nesting_limit);
    RUN(error_objects);
    RUN(numbers);
    RUN(whitespace_and_structure);
    RUN(lenient_reference_inputs_refused);
    RUN(text_precedence_and_kinds);
    RUN(usage_and_timings);
    RUN(sixteen_digit_number_regression);
    RUN(long_strings_use_the_heap_once);
    return test_summary();
}
