/* Server-reported figures per cell and the prompt-cache verdict
 * (docs/tokbench-servers.md, "Did the cache hit?"). */
#include "client/cacheverify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/report.h"
#include "common/xalloc.h"

enum {
    T_PROMPT_N,
    T_PROMPT_MS,
    T_PREDICTED_N,
    T_PREDICTED_MS,
    T_CACHE_N,
    T_DRAFT_N,
    T_DRAFT_ACCEPTED,
    T_COUNT
};

static const char *const TIMING_KEYS[T_COUNT] = {
    "prompt_n", "prompt_ms", "predicted_n",      "predicted_ms",
    "cache_n",  "draft_n",   "draft_n_accepted",
};

typedef struct mean_acc {
    double sum;
    long n;
} mean_acc;

struct cacheverify {
    enum cv_mode mode;
    int expected_cached;
    int requests;     /* successful requests fed */
    int with_timings; /* of which carried a timings object */
    mean_acc timing[T_COUNT];
    mean_acc pp_tps, tg_tps, cached_tokens, cached_any;
    double drafted, accepted;
    int hits, misses, partial, unknown;
    int from_cache_n, from_usage; /* where each known request's figure came from */
};

static void acc_add(mean_acc *a, double v)
{
    a->sum += v;
    a->n++;
}

static double acc_mean(const mean_acc *a)
{
    return a->n ? a->sum / (double)a->n : 0.0;
}

cacheverify *cacheverify_new(enum cv_mode mode, int expected_cached_tokens)
{
    cacheverify *cv = xcalloc(1, sizeof *cv);
    cv->mode = mode;
    cv->expected_cached = expected_cached_tokens > 0 ? expected_cached_tokens : 0;
    return cv;
}

void cacheverify_free(cacheverify *cv)
{
    free(cv);
}

const char *cacheverify_mode_name(enum cv_mode mode)
{
    switch (mode) {
    case CV_MODE_CACHED:
        return "cached";
    case CV_MODE_COLD:
        return "cold";
    case CV_MODE_NO_CACHE:
        return "no_cache";
    default:
        return "plain";
    }
}

static const double *timing_fields(const tb_server_timings *t, double out[T_COUNT])
{
    out[T_PROMPT_N] = t->prompt_n;
    out[T_PROMPT_MS] = t->prompt_ms;
    out[T_PREDICTED_N] = t->predicted_n;
    out[T_PREDICTED_MS] = t->predicted_ms;
    out[T_CACHE_N] = t->cache_n;
    out[T_DRAFT_N] = t->draft_n;
    out[T_DRAFT_ACCEPTED] = t->draft_n_accepted;
    return out;
}

enum { R_UNKNOWN, R_HIT, R_MISS, R_PARTIAL };

/* Classifies one request against the cell's expectation. */
static int classify(const cacheverify *cv, const tb_request *r, int *from_cache_n)
{
    double cached = -1, prompt_total = -1;
    const tb_server_timings *t = &r->timings;
    if (t->cache_n >= 0) {
        cached = t->cache_n;
        *from_cache_n = 1;
        if (t->prompt_n >= 0)
            prompt_total = t->prompt_n + t->cache_n; /* prompt_n counts only new tokens */
    } else if (r->cached_tokens >= 0) {
        cached = r->cached_tokens;
        *from_cache_n = 0;
    }
    if (prompt_total < 0 && r->prompt_tokens >= 0)
        prompt_total = r->prompt_tokens;
    if (cached < 0)
        return R_UNKNOWN;
    double base = prompt_total > 0 ? prompt_total : 0;
    double miss_ceiling = CV_MISS_FRACTION * base;
    if (miss_ceiling < CV_MISS_SLACK_TOKENS)
        miss_ceiling = CV_MISS_SLACK_TOKENS;
    double hit_floor;
    if (cv->mode == CV_MODE_CACHED && cv->expected_cached > 0)
        hit_floor = CV_HIT_FRACTION * cv->expected_cached;
    else
        hit_floor = CV_HIT_FRACTION * base;
    if (cv->mode == CV_MODE_CACHED) {
        /* A small context can sit under the miss ceiling: what was expected decides. */
        if (cached > 0 && cached >= hit_floor)
            return R_HIT;
        return cached <= miss_ceiling ? R_MISS : R_PARTIAL;
    }
    if (cached <= miss_ceiling)
        return R_MISS;
    return cached >= hit_floor ? R_HIT : R_PARTIAL;
}

void cacheverify_add(cacheverify *cv, const tb_request *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const tb_request *r = &reqs[i];
        if (r->error)
            continue;
        cv->requests++;
        double f[T_COUNT];
        timing_fields(&r->timings, f);
        int any = 0;
        for (int k = 0; k < T_COUNT; k++)
            if (f[k] >= 0) {
                acc_add(&cv->timing[k], f[k]);
                any = 1;
            }
        cv->with_timings += any;
        if (f[T_PROMPT_N] > 0 && f[T_PROMPT_MS] > 0)
            acc_add(&cv->pp_tps, f[T_PROMPT_N] * 1000.0 / f[T_PROMPT_MS]);
        if (f[T_PREDICTED_N] > 0 && f[T_PREDICTED_MS] > 0)
            acc_add(&cv->tg_tps, f[T_PREDICTED_N] * 1000.0 / f[T_PREDICTED_MS]);
        if (f[T_DRAFT_N] > 0 && f[T_DRAFT_ACCEPTED] >= 0) {
            cv->drafted += f[T_DRAFT_N];
            cv->accepted += f[T_DRAFT_ACCEPTED];
        }
        if (r->cached_tokens >= 0)
            acc_add(&cv->cached_tokens, r->cached_tokens);
        int from_cache_n = 0;
        switch (classify(cv, r, &from_cache_n)) {
        case R_HIT:
            cv->hits++;
            break;
        case R_MISS:
            cv->misses++;
            break;
        case R_PARTIAL:
            cv->partial++;
            break;
        default:
            cv->unknown++;
            continue;
        }
        if (from_cache_n)
            cv->from_cache_n++;
        else
            cv->from_usage++;
        acc_add(&cv->cached_any, from_cache_n ? r->timings.cache_n : r->cached_tokens);
    }
}

static const char *source_name(const cacheverify *cv)
{
    if (cv->from_cache_n && cv->from_usage)
        return "timings.cache_n and usage.prompt_tokens_details.cached_tokens";
    return cv->from_cache_n ? "timings.cache_n" : "usage.prompt_tokens_details.cached_tokens";
}

enum cv_verdict cacheverify_verdict(const cacheverify *cv, char *reason, size_t reason_len)
{
    char tmp[8];
    if (!reason) {
        reason = tmp;
        reason_len = sizeof tmp;
    }
    int known = cv->hits + cv->misses + cv->partial;
    char extra[96] = "";
    if (cv->unknown && known)
        snprintf(extra, sizeof extra, "; %d request(s) without cache figures", cv->unknown);
    if (cv->mode == CV_MODE_PLAIN) {
        snprintf(reason, reason_len, "nothing to verify: each run sends its own prompt");
        return CV_NOT_APPLICABLE;
    }
    if (cv->requests == 0) {
        snprintf(reason, reason_len, "no successful request");
        return CV_UNKNOWN;
    }
    if (known == 0) {
        snprintf(reason, reason_len,
                 "the server reported neither timings.cache_n nor "
                 "usage.prompt_tokens_details.cached_tokens");
        return CV_UNKNOWN;
    }
    double mean = acc_mean(&cv->cached_any);
    if (cv->mode == CV_MODE_CACHED) {
        char expect[64];
        if (cv->expected_cached > 0)
            snprintf(expect, sizeof expect, "of the %d context tokens", cv->expected_cached);
        else
            snprintf(expect, sizeof expect, "of the prompt");
        if (cv->hits == known) {
            snprintf(reason, reason_len,
                     "%d of %d requests found at least %.0f%% %s cached (mean %.0f tokens, "
                     "%s)%s",
                     cv->hits, known, CV_HIT_FRACTION * 100, expect, mean, source_name(cv), extra);
            return CV_VERIFIED;
        }
        snprintf(reason, reason_len,
                 "%d of %d requests found less than %.0f%% %s cached (%d missed, %d partly; "
                 "mean %.0f tokens, %s)%s",
                 known - cv->hits, known, CV_HIT_FRACTION * 100, expect, cv->misses, cv->partial,
                 mean, source_name(cv), extra);
        return CV_FAILED;
    }
    if (cv->misses == known) {
        snprintf(reason, reason_len,
                 "%d of %d requests reused no more than a template's worth of cached tokens "
                 "(mean %.0f, %s)%s",
                 cv->misses, known, mean, source_name(cv), extra);
        return CV_VERIFIED;
    }
    snprintf(reason, reason_len,
             "%d of %d requests reused cached prompt tokens (%d mostly, %d partly; mean %.0f "
             "tokens, %s)%s",
             known - cv->misses, known, cv->hits, cv->partial, mean, source_name(cv), extra);
    return CV_FAILED;
}

int cacheverify_warning(const cacheverify *cv, const char *what, char *out, size_t out_len)
{
    char reason[400];
    if (out_len)
        out[0] = '\0';
    if (cacheverify_verdict(cv, reason, sizeof reason) != CV_FAILED)
        return 0;
    const char *w = what && what[0] ? what : "this cell";
    switch (cv->mode) {
    case CV_MODE_CACHED:
        snprintf(out, out_len,
                 "%s: the prefix-caching run did not hit the server's prompt cache: %s. Its "
                 "figures include a cold prefill of the context",
                 w, reason);
        break;
    case CV_MODE_NO_CACHE:
        snprintf(out, out_len,
                 "%s: --no-cache, but the server still served prompt tokens from its cache: "
                 "%s. The server may ignore cache_prompt=false (only llama.cpp honours it)",
                 w, reason);
        break;
    default:
        snprintf(out, out_len,
                 "%s: the context-load phase found the context already cached: %s. Its "
                 "prefill figures are not a cold prefill",
                 w, reason);
        break;
    }
    return 1;
}

static cJSON *num(double v)
{
    char t[64];
    report_pyfloat(v, t, sizeof t);
    return cJSON_CreateRaw(t);
}

static cJSON *mean_or_null(const mean_acc *a)
{
    return a->n ? num(acc_mean(a)) : cJSON_CreateNull();
}

static void set_key(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

void cacheverify_attach(const cacheverify *cv, cJSON **extra)
{
    if (!*extra)
        *extra = cJSON_CreateObject();
    cJSON *x = *extra;
    char reason[400];
    enum cv_verdict v = cacheverify_verdict(cv, reason, sizeof reason);
    set_key(x, "cache_mode", cJSON_CreateString(cacheverify_mode_name(cv->mode)));
    cJSON *verdict;
    switch (v) {
    case CV_VERIFIED:
        verdict = cJSON_CreateTrue();
        break;
    case CV_FAILED:
        verdict = cJSON_CreateFalse();
        break;
    case CV_UNKNOWN:
        verdict = cJSON_CreateString("unknown");
        break;
    default:
        verdict = cJSON_CreateNull();
        break;
    }
    set_key(x, "cache_verified", verdict);
    set_key(x, "cache_verified_reason", cJSON_CreateString(reason));

    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "requests", cv->requests);
    cJSON_AddNumberToObject(s, "requests_with_timings", cv->with_timings);
    cJSON *t = cJSON_AddObjectToObject(s, "timings");
    for (int k = 0; k < T_COUNT; k++)
        cJSON_AddItemToObject(t, TIMING_KEYS[k], mean_or_null(&cv->timing[k]));
    cJSON_AddItemToObject(s, "pp_tps", mean_or_null(&cv->pp_tps));
    cJSON_AddItemToObject(s, "tg_tps", mean_or_null(&cv->tg_tps));
    cJSON_AddItemToObject(s, "draft_acceptance",
                          cv->drafted > 0 ? num(cv->accepted / cv->drafted) : cJSON_CreateNull());
    cJSON_AddItemToObject(s, "cached_tokens", mean_or_null(&cv->cached_tokens));
    cJSON_AddNumberToObject(s, "cache_hits", cv->hits);
    cJSON_AddNumberToObject(s, "cache_misses", cv->misses);
    cJSON_AddNumberToObject(s, "cache_partial", cv->partial);
    cJSON_AddNumberToObject(s, "cache_unknown", cv->unknown);
    set_key(x, "server_reported", s);
}

enum cv_verdict cacheverify_requests(enum cv_mode mode, int expected_cached_tokens,
                                     const tb_request *reqs, size_t n, char *reason,
                                     size_t reason_len)
{
    cacheverify *cv = cacheverify_new(mode, expected_cached_tokens);
    cacheverify_add(cv, reqs, n);
    enum cv_verdict v = cacheverify_verdict(cv, reason, reason_len);
    cacheverify_free(cv);
    return v;
}
