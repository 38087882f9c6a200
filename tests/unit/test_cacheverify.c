/* The prompt-cache verdict and the server-reported summary, from synthetic
 * request records whose numbers come from the real llama.cpp captures
 * (cache-1-first, cache-2-same-system, cache-4-cache_prompt-false,
 * cachex-3-evict-a) and from usage-only servers (vLLM, OpenAI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cacheverify.h"
#include "tests/test.h"

/* A successful request with llama.cpp timings (cache_n < 0: none). */
static tb_request llama(double cache_n, double prompt_n, double prompt_ms, double predicted_n,
                        double predicted_ms)
{
    tb_request r;
    request_init(&r);
    r.timings.cache_n = cache_n;
    r.timings.prompt_n = prompt_n;
    r.timings.prompt_ms = prompt_ms;
    r.timings.predicted_n = predicted_n;
    r.timings.predicted_ms = predicted_ms;
    r.prompt_tokens = (int)(prompt_n + (cache_n > 0 ? cache_n : 0));
    r.cached_tokens = (int)(cache_n > 0 ? cache_n : 0);
    return r;
}

/* A usage-only request (cached < 0: the server did not say). */
static tb_request usage(int prompt, int cached)
{
    tb_request r;
    request_init(&r);
    r.prompt_tokens = prompt;
    r.cached_tokens = cached;
    return r;
}

static tb_request failed(void)
{
    tb_request r = usage(100, 100);
    r.error = (char *)"HTTP 500: boom"; /* only read, never freed here */
    return r;
}

static cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The text a raw number item holds, or "null". */
static const char *raw(const cJSON *o, const char *k)
{
    const cJSON *v = item(o, k);
    if (cJSON_IsRaw(v))
        return v->valuestring;
    if (cJSON_IsNull(v))
        return "null";
    return "?";
}

TEST(cached_hit_llamacpp)
{
    /* cache-2-same-system: 2011 of 2026 prompt tokens cached; depth ~2000. */
    tb_request r[2] = {llama(2011, 15, 97.219, 32, 536.348), llama(2010, 14, 94.62, 24, 387.14)};
    char why[400];
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 2000, r, 2, why, sizeof why), CV_VERIFIED);
    CHECK(strstr(why, "2 of 2 requests") != NULL);
    CHECK(strstr(why, "timings.cache_n") != NULL);
    CHECK(strstr(why, "2000 context tokens") != NULL);
}

TEST(cached_miss_llamacpp)
{
    /* cachex-2-parallel: one of two parallel requests found the slot busy
     * and prefilled cold. */
    tb_request r[2] = {llama(2010, 15, 103.758, 24, 4988.419),
                       llama(0, 2025, 4300.821, 24, 716.491)};
    cacheverify *cv = cacheverify_new(CV_MODE_CACHED, 2000);
    cacheverify_add(cv, r, 2);
    char why[400], warn[600];
    CHECK_INT_EQ(cacheverify_verdict(cv, why, sizeof why), CV_FAILED);
    CHECK(strstr(why, "1 of 2 requests") != NULL);
    CHECK(strstr(why, "1 missed, 0 partly") != NULL);
    CHECK_INT_EQ(cacheverify_warning(cv, "pp15 @ d2000", warn, sizeof warn), 1);
    CHECK(strstr(warn, "pp15 @ d2000: the prefix-caching run did not hit") != NULL);
    cacheverify_free(cv);
}

TEST(cached_partial)
{
    /* 600 of an expected 2000: above the miss ceiling, under the hit floor. */
    tb_request r = llama(600, 1400, 1000, 8, 100);
    char why[400];
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 2000, &r, 1, why, sizeof why), CV_FAILED);
    CHECK(strstr(why, "0 missed, 1 partly") != NULL);
    /* Exactly half is a hit. */
    r = llama(1000, 1000, 1000, 8, 100);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 2000, &r, 1, NULL, 0), CV_VERIFIED);
    /* A tiny context: 16 cached of 16 expected is a hit although under the slack. */
    r = llama(16, 40, 10, 8, 100);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 16, &r, 1, NULL, 0), CV_VERIFIED);
    /* Without an expectation, half of the prompt. */
    r = llama(700, 300, 10, 8, 100);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 0, &r, 1, NULL, 0), CV_VERIFIED);
    r = llama(0, 1000, 10, 8, 100);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 0, &r, 1, NULL, 0), CV_FAILED);
}

TEST(no_cache_and_cold)
{
    /* cache-4-cache_prompt-false: cache_n 0; cachex-3-evict-a: 2 tokens of a
     * template prefix reused is still a miss. */
    tb_request r[2] = {llama(0, 2026, 7219.91, 32, 553.499), llama(2, 3008, 7742.245, 8, 135.735)};
    char why[400], warn[600];
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_NO_CACHE, 0, r, 2, why, sizeof why), CV_VERIFIED);
    CHECK(strstr(why, "2 of 2 requests reused no more") != NULL);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_COLD, 0, r, 2, NULL, 0), CV_VERIFIED);
    /* --no-cache on a server that ignores cache_prompt=false (vLLM usage). */
    tb_request v[3] = {usage(2026, 2016), usage(2026, 0), usage(2026, 400)};
    cacheverify *cv = cacheverify_new(CV_MODE_NO_CACHE, 0);
    cacheverify_add(cv, v, 3);
    CHECK_INT_EQ(cacheverify_verdict(cv, why, sizeof why), CV_FAILED);
    CHECK(strstr(why, "2 of 3 requests reused cached prompt tokens (1 mostly, 1 partly") != NULL);
    CHECK(strstr(why, "usage.prompt_tokens_details.cached_tokens") != NULL);
    CHECK_INT_EQ(cacheverify_warning(cv, NULL, warn, sizeof warn), 1);
    CHECK(strstr(warn, "this cell: --no-cache, but the server") != NULL);
    cacheverify_free(cv);
    cv = cacheverify_new(CV_MODE_COLD, 0);
    cacheverify_add(cv, v, 1);
    CHECK_INT_EQ(cacheverify_warning(cv, "ctx_pp @ d2000", warn, sizeof warn), 1);
    CHECK(strstr(warn, "context-load phase found the context already cached") != NULL);
    cacheverify_free(cv);
    /* The slack: 32 tokens reused of a 100-token prompt is a miss, 33 is not. */
    tb_request s = usage(100, 32);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_NO_CACHE, 0, &s, 1, NULL, 0), CV_VERIFIED);
    s = usage(100, 33);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_NO_CACHE, 0, &s, 1, NULL, 0), CV_FAILED);
}

TEST(unknown_and_plain)
{
    /* SGLang without --enable-cache-report, Ollama: no figures at all. */
    tb_request r[2] = {usage(500, -1), usage(-1, -1)};
    char why[400], warn[100];
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 400, r, 2, why, sizeof why), CV_UNKNOWN);
    CHECK(strstr(why, "reported neither") != NULL);
    cacheverify *cv = cacheverify_new(CV_MODE_CACHED, 400);
    cacheverify_add(cv, r, 2);
    CHECK_INT_EQ(cacheverify_warning(cv, "x", warn, sizeof warn), 0);
    CHECK_STR_EQ(warn, "");
    cacheverify_free(cv);
    /* Only failed requests. */
    tb_request f = failed();
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 400, &f, 1, why, sizeof why), CV_UNKNOWN);
    CHECK_STR_EQ(why, "no successful request");
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 400, NULL, 0, NULL, 0), CV_UNKNOWN);
    /* Plain mode verifies nothing but still counts. */
    tb_request p = usage(100, 90);
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_PLAIN, 0, &p, 1, why, sizeof why), CV_NOT_APPLICABLE);
    /* Mixed: figures from some requests only. */
    tb_request m[2] = {usage(2000, 1990), usage(2000, -1)};
    CHECK_INT_EQ(cacheverify_requests(CV_MODE_CACHED, 1900, m, 2, why, sizeof why), CV_VERIFIED);
    CHECK(strstr(why, "1 request(s) without cache figures") != NULL);
    /* A short reason buffer is truncated, not overrun. */
    char tiny[12];
    memset(tiny, 'x', sizeof tiny);
    cacheverify_requests(CV_MODE_CACHED, 1900, m, 2, tiny, sizeof tiny);
    CHECK_INT_EQ(strlen(tiny), sizeof tiny - 1);
}

TEST(failed_requests_skipped)
{
    tb_request r[3] = {failed(), llama(2011, 15, 97.219, 32, 536.348), failed()};
    cacheverify *cv = cacheverify_new(CV_MODE_CACHED, 2000);
    cacheverify_add(cv, r, 3);
    cJSON *x = NULL;
    cacheverify_attach(cv, &x);
    const cJSON *s = item(x, "server_reported");
    CHECK_INT_EQ(item(s, "requests")->valueint, 1);
    CHECK_INT_EQ(item(s, "cache_hits")->valueint, 1);
    CHECK(cJSON_IsTrue(item(x, "cache_verified")));
    cJSON_Delete(x);
    cacheverify_free(cv);
}

TEST(summary_json)
{
    /* Two llama.cpp requests, one with a draft model, added in two batches. */
    tb_request a = llama(2011, 15, 100, 32, 500);
    a.timings.draft_n = 20;
    a.timings.draft_n_accepted = 15;
    tb_request b = llama(2009, 17, 300, 32, 1500);
    b.timings.draft_n = 20;
    b.timings.draft_n_accepted = 5;
    cacheverify *cv = cacheverify_new(CV_MODE_CACHED, 2000);
    cacheverify_add(cv, &a, 1);
    cacheverify_add(cv, &b, 1);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "load_mode", "burst");
    cacheverify_attach(cv, &x);
    CHECK_STR_EQ(item(x, "load_mode")->valuestring, "burst"); /* existing keys stay */
    CHECK_STR_EQ(item(x, "cache_mode")->valuestring, "cached");
    CHECK(cJSON_IsTrue(item(x, "cache_verified")));
    CHECK(strstr(item(x, "cache_verified_reason")->valuestring, "2 of 2") != NULL);
    const cJSON *s = item(x, "server_reported");
    CHECK_INT_EQ(item(s, "requests")->valueint, 2);
    CHECK_INT_EQ(item(s, "requests_with_timings")->valueint, 2);
    const cJSON *t = item(s, "timings");
    CHECK_STR_EQ(raw(t, "prompt_n"), "16.0");
    CHECK_STR_EQ(raw(t, "prompt_ms"), "200.0");
    CHECK_STR_EQ(raw(t, "predicted_n"), "32.0");
    CHECK_STR_EQ(raw(t, "predicted_ms"), "1000.0");
    CHECK_STR_EQ(raw(t, "cache_n"), "2010.0");
    CHECK_STR_EQ(raw(t, "draft_n"), "20.0");
    CHECK_STR_EQ(raw(t, "draft_n_accepted"), "10.0");
    /* pp: (150 + 56.666...) / 2; tg: (64 + 21.333...) / 2 */
    CHECK_DBL_NEAR(strtod(raw(s, "pp_tps"), NULL), (15 / 0.1 + 17 / 0.3) / 2, 1e-9);
    CHECK_DBL_NEAR(strtod(raw(s, "tg_tps"), NULL), (32 / 0.5 + 32 / 1.5) / 2, 1e-9);
    CHECK_STR_EQ(raw(s, "draft_acceptance"), "0.5");
    CHECK_STR_EQ(raw(s, "cached_tokens"), "2010.0");
    CHECK_INT_EQ(item(s, "cache_misses")->valueint, 0);
    /* Attaching again replaces, never duplicates. */
    cacheverify_attach(cv, &x);
    CHECK_INT_EQ(cJSON_GetArraySize(x), 5);
    char *text = cJSON_PrintUnformatted(x);
    cJSON *back = text ? cJSON_Parse(text) : NULL;
    CHECK(back != NULL);
    cJSON_Delete(back);
    cJSON_free(text);
    cJSON_Delete(x);
    cacheverify_free(cv);
}

TEST(summary_json_absent)
{
    /* A usage-only server: every timing null, verdict "unknown" for a
     * server that reports nothing. */
    tb_request r = usage(100, -1);
    cacheverify *cv = cacheverify_new(CV_MODE_NO_CACHE, 0);
    cacheverify_add(cv, &r, 1);
    cJSON *x = NULL;
    cacheverify_attach(cv, &x);
    CHECK_STR_EQ(item(x, "cache_verified")->valuestring, "unknown");
    CHECK_STR_EQ(item(x, "cache_mode")->valuestring, "no_cache");
    const cJSON *s = item(x, "server_reported");
    CHECK_INT_EQ(item(s, "requests_with_timings")->valueint, 0);
    CHECK_STR_EQ(raw(item(s, "timings"), "cache_n"), "null");
    CHECK_STR_EQ(raw(s, "pp_tps"), "null");
    CHECK_STR_EQ(raw(s, "draft_acceptance"), "null");
    CHECK_STR_EQ(raw(s, "cached_tokens"), "null");
    CHECK_INT_EQ(item(s, "cache_unknown")->valueint, 1);
    cJSON_Delete(x);
    cacheverify_free(cv);
    /* Plain mode: cache_verified is null. */
    cv = cacheverify_new(CV_MODE_PLAIN, 0);
    x = NULL;
    cacheverify_attach(cv, &x);
    CHECK(cJSON_IsNull(item(x, "cache_verified")));
    CHECK_STR_EQ(item(x, "cache_mode")->valuestring, "plain");
    cJSON_Delete(x);
    cacheverify_free(cv);
    CHECK_STR_EQ(cacheverify_mode_name(CV_MODE_COLD), "cold");
}

int main(void)
{
    RUN(cached_hit_llamacpp);
    RUN(cached_miss_llamacpp);
    RUN(cached_partial);
    RUN(no_cache_and_cold);
    RUN(unknown_and_plain);
    RUN(failed_requests_skipped);
    RUN(summary_json);
    RUN(summary_json_absent);
    return test_summary();
}
