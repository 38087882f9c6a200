#include "client/prompts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/prng.h"
#include "common/xalloc.h"

/* Cap on a /tokenize or probe response (a long prompt with pieces is large). */
#define RESPONSE_MAX ((size_t)64 << 20)
/* Cap on count-search iterations per cut. */
#define SEARCH_MAX_STEPS 40
/* Calibrated source: max_tokens 1 probes spent measuring one cut. */
#define MEASURE_MAX_PROBES 4
/* Calibrated cuts remembered per (offset, target, role). */
#define CUT_CACHE_MAX 256

enum tok_form { FORM_NONE = 0, FORM_LLAMA = 1, FORM_VLLM = 2 };

struct prompts {
    const corpus *c;
    driver *d;
    char *base_url;
    char *model;
    char *tok_url;        /* the /tokenize that answered, NULL = none */
    enum tok_form form;
    enum prompts_source source;
    double bytes_per_token;
    prng rng;
    /* Calibrated source: exact template overheads from empty-content probes
     * (-1 = unknown, then cuts are by the ratio alone). */
    int over_user;   /* [user: ""] */
    int over_system; /* [system: "", user: "."] */
    int probes;      /* measuring probes sent */
    struct cut_memo {
        size_t offset;
        int tokens;
        bool as_system;
        size_t nbytes;
    } memo[CUT_CACHE_MAX];
    size_t n_memo, memo_next;
};

prompts *prompts_new(const corpus *c, driver *d, const char *base_url, const char *model,
                     uint64_t seed)
{
    prompts *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->d = d;
    p->base_url = xstrdup(base_url);
    p->model = xstrdup(model);
    p->source = PROMPTS_CALIBRATED;
    p->bytes_per_token = 4.0;
    p->over_user = -1;
    p->over_system = -1;
    prng_seed(&p->rng, seed);
    return p;
}

void prompts_free(prompts *p)
{
    if (!p)
        return;
    free(p->base_url);
    free(p->model);
    free(p->tok_url);
    free(p);
}

enum prompts_source prompts_get_source(const prompts *p)
{
    return p->source;
}

const char *prompts_source_name(const prompts *p)
{
    return p->source == PROMPTS_CALIBRATED ? "calibrated" : "server_tokenize";
}

const char *prompts_method(const prompts *p)
{
    switch (p->source) {
    case PROMPTS_TOKENIZE_PIECES:
        return "tokenize_pieces";
    case PROMPTS_TOKENIZE_COUNT:
        return "tokenize_count_search";
    case PROMPTS_CALIBRATED:
        break;
    }
    return p->over_user >= 0 ? "usage_probe_measured" : "bytes_per_token_ratio";
}

int prompts_probe_count(const prompts *p)
{
    return p->probes;
}

double prompts_bytes_per_token(const prompts *p)
{
    return p->bytes_per_token;
}

void prompts_set_calibrated(prompts *p, double bytes_per_token)
{
    p->source = PROMPTS_CALIBRATED;
    p->bytes_per_token = bytes_per_token;
}

/* POSTs body to url and parses a JSON answer. Returns the parsed value (free
 * with cJSON_Delete) or NULL; *status is 0 on a transport error. */
static cJSON *post_json(prompts *p, const char *url, cJSON *body, long *status, char *err,
                        size_t errlen)
{
    char *text = cJSON_PrintUnformatted(body);
    buf resp;
    buf_init(&resp, RESPONSE_MAX);
    *status = 0;
    cJSON *out = NULL;
    if (driver_fetch(p->d, url, text, RESPONSE_MAX, status, &resp, NULL, err, errlen) == 0) {
        if (*status >= 200 && *status < 300) {
            out = resp.data ? cJSON_ParseWithLength(resp.data, resp.len) : NULL;
            if (!out)
                snprintf(err, errlen, "%s: the response is not JSON", url);
        } else {
            snprintf(err, errlen, "%s: HTTP %ld: %.200s", url, *status,
                     resp.data ? resp.data : "");
        }
    }
    free(text);
    buf_free(&resp);
    return out;
}

static cJSON *tokenize_body(prompts *p, enum tok_form form, const char *text, size_t len,
                            bool pieces)
{
    cJSON *b = cJSON_CreateObject();
    char *copy = xstrndup(text, len);
    if (form == FORM_LLAMA) {
        cJSON_AddStringToObject(b, "content", copy);
        if (pieces)
            cJSON_AddBoolToObject(b, "with_pieces", 1);
    } else {
        cJSON_AddStringToObject(b, "model", p->model);
        cJSON_AddStringToObject(b, "prompt", copy);
        cJSON_AddBoolToObject(b, "add_special_tokens", 0);
    }
    free(copy);
    return b;
}

/* Token count in a /tokenize answer: "count", else the length of "tokens". */
static int answer_count(const cJSON *a)
{
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(a, "count");
    if (cJSON_IsNumber(count) && count->valuedouble >= 0)
        return (int)count->valuedouble;
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(a, "tokens");
    if (cJSON_IsArray(tokens))
        return cJSON_GetArraySize(tokens);
    return -1;
}

static int server_count(prompts *p, const char *text, size_t len, int *count, char *err,
                        size_t errlen)
{
    cJSON *b = tokenize_body(p, p->form, text, len, false);
    long status;
    cJSON *a = post_json(p, p->tok_url, b, &status, err, errlen);
    cJSON_Delete(b);
    if (!a)
        return -1;
    int n = answer_count(a);
    cJSON_Delete(a);
    if (n < 0) {
        snprintf(err, errlen, "%s: no token count in the answer", p->tok_url);
        return -1;
    }
    *count = n;
    return 0;
}

int prompts_count(prompts *p, const char *text, size_t len, int *count, char *err, size_t errlen)
{
    if (p->source == PROMPTS_CALIBRATED) {
        *count = len ? (int)lround((double)len / p->bytes_per_token) : 0;
        if (len && *count < 1)
            *count = 1;
        return 0;
    }
    return server_count(p, text, len, count, err, errlen);
}

/* Tries one /tokenize URL and form; on success records them. */
static bool try_tokenize(prompts *p, const char *url, enum tok_form form)
{
    static const char probe[] = "Hello world, this is a tokenizer probe.";
    cJSON *b = tokenize_body(p, form, probe, sizeof probe - 1, form == FORM_LLAMA);
    long status;
    char err[512];
    cJSON *a = post_json(p, url, b, &status, err, sizeof err);
    cJSON_Delete(b);
    if (!a) {
        log_debug("tokenize probe: %s", err);
        return false;
    }
    int n = answer_count(a);
    bool pieces = false;
    if (n > 0 && form == FORM_LLAMA) {
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "tokens"), 0);
        pieces = cJSON_IsObject(first) &&
                 cJSON_IsString(cJSON_GetObjectItemCaseSensitive(first, "piece"));
    }
    cJSON_Delete(a);
    if (n <= 0)
        return false;
    free(p->tok_url);
    p->tok_url = xstrdup(url);
    p->form = form;
    p->source = pieces ? PROMPTS_TOKENIZE_PIECES : PROMPTS_TOKENIZE_COUNT;
    return true;
}

void prompts_detect(prompts *p)
{
    /* llama.cpp and vLLM serve /tokenize beside /v1, not under it. */
    buf root;
    buf_init(&root, 0);
    buf_append_str(&root, p->base_url);
    if (root.len >= 3 && strcmp(root.data + root.len - 3, "/v1") == 0) {
        root.len -= 3;
        root.data[root.len] = '\0';
    }
    char urls[2][1024];
    snprintf(urls[0], sizeof urls[0], "%s/tokenize", root.data);
    snprintf(urls[1], sizeof urls[1], "%s/tokenize", p->base_url);
    buf_free(&root);
    bool found = false;
    for (int i = 0; i < 2 && !found; i++) {
        if (i == 1 && strcmp(urls[0], urls[1]) == 0)
            break;
        found = try_tokenize(p, urls[i], FORM_LLAMA) || try_tokenize(p, urls[i], FORM_VLLM);
    }
    if (!found) {
        p->source = PROMPTS_CALIBRATED;
        log_info("no usable /tokenize on the server: token counts will be calibrated from "
                 "usage.prompt_tokens");
        return;
    }
    /* Bytes per token of this corpus, for first guesses when cutting. */
    buf sample;
    buf_init(&sample, 0);
    corpus_slice(p->c, p->c->len / 3, 16384, &sample, NULL);
    int n = 0;
    char err[512];
    if (server_count(p, sample.data, sample.len, &n, err, sizeof err) == 0 && n > 0)
        p->bytes_per_token = (double)sample.len / n;
    buf_free(&sample);
    log_info("token counts from the server's %s (%s form%s), %.2f bytes per token", p->tok_url,
             p->form == FORM_LLAMA ? "llama.cpp" : "vLLM",
             p->source == PROMPTS_TOKENIZE_PIECES ? ", with pieces" : "", p->bytes_per_token);
}

/* Exact cut with llama.cpp pieces. Returns 0, 1 when pieces cannot be used
 * (they do not reproduce the text), or -1 on error. */
static int cut_by_pieces(prompts *p, size_t offset, int tokens, size_t *nbytes, char *err,
                         size_t errlen)
{
    size_t window = (size_t)(tokens * p->bytes_per_token * 1.25) + 64;
    for (int attempt = 0; attempt < 8; attempt++) {
        buf text;
        buf_init(&text, 0);
        long got = corpus_slice(p->c, offset, window, &text, NULL);
        if (got < 0) {
            buf_free(&text);
            snprintf(err, errlen, "prompt slice too large");
            return -1;
        }
        cJSON *b = tokenize_body(p, FORM_LLAMA, text.data ? text.data : "", text.len, true);
        long status;
        cJSON *a = post_json(p, p->tok_url, b, &status, err, errlen);
        cJSON_Delete(b);
        if (!a) {
            buf_free(&text);
            return -1;
        }
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(a, "tokens");
        int n = cJSON_GetArraySize(arr);
        size_t pos = 0, cut = 0;
        int i = 0, usable = 1;
        const cJSON *t;
        cJSON_ArrayForEach(t, arr)
        {
            const cJSON *piece = cJSON_GetObjectItemCaseSensitive(t, "piece");
            if (!cJSON_IsString(piece)) {
                usable = 0;
                break;
            }
            size_t pl = strlen(piece->valuestring);
            if (pos + pl > text.len || memcmp(text.data + pos, piece->valuestring, pl) != 0) {
                usable = 0;
                break;
            }
            pos += pl;
            if (++i == tokens)
                cut = pos;
        }
        cJSON_Delete(a);
        buf_free(&text);
        if (!usable || pos != (size_t)got)
            return 1;
        if (n > tokens) {
            *nbytes = cut;
            return 0;
        }
        window = window * 3 / 2 + 256;
    }
    snprintf(err, errlen, "could not cut %d tokens from the corpus", tokens);
    return -1;
}

static int count_at(prompts *p, size_t offset, size_t len, int *count, size_t *actual, char *err,
                    size_t errlen)
{
    buf text;
    buf_init(&text, 0);
    long got = corpus_slice(p->c, offset, len, &text, NULL);
    int rc = -1;
    if (got >= 0) {
        *actual = (size_t)got;
        rc = server_count(p, text.data ? text.data : "", text.len, count, err, errlen);
    } else {
        snprintf(err, errlen, "prompt slice too large");
    }
    buf_free(&text);
    return rc;
}

/* Cut by counting: secant guesses, then bisection, to the closest count. */
static int cut_by_count(prompts *p, size_t offset, int tokens, size_t *nbytes, char *err,
                        size_t errlen)
{
    size_t lo = 0, hi = 0; /* lo: count < tokens; hi: count > tokens (0 = unknown) */
    size_t best = (size_t)(tokens * p->bytes_per_token);
    int best_diff = -1;
    size_t guess = best > 0 ? best : 1;
    for (int step = 0; step < SEARCH_MAX_STEPS; step++) {
        int n;
        size_t actual;
        if (count_at(p, offset, guess, &n, &actual, err, errlen))
            return -1;
        int diff = abs(n - tokens);
        if (best_diff < 0 || diff < best_diff) {
            best_diff = diff;
            best = actual;
        }
        if (n == tokens)
            break;
        if (n < tokens)
            lo = guess > lo ? guess : lo;
        else
            hi = (hi == 0 || guess < hi) ? guess : hi;
        size_t next;
        if (step < 3 && n > 0) /* proportional guess */
            next = (size_t)((double)guess * tokens / n);
        else if (hi == 0)
            next = guess * 2 + 16;
        else
            next = lo + (hi - lo) / 2;
        if (hi && next >= hi)
            next = lo + (hi - lo) / 2;
        if (next <= lo)
            next = lo + (hi ? (hi - lo) / 2 : 16);
        if (next == guess || (hi && hi - lo <= 1))
            break;
        guess = next;
    }
    *nbytes = best;
    return 0;
}

/* Token count of the virtual text [offset, offset + len) by one probe: as
 * the system message before a "." user message, or as the user message,
 * minus the overhead of the same messages with empty content. */
static int measure_at(prompts *p, size_t offset, size_t len, bool as_system, int *count,
                      size_t *actual, char *err, size_t errlen)
{
    buf text;
    buf_init(&text, 0);
    long got = corpus_slice(p->c, offset, len, &text, NULL);
    if (got < 0) {
        buf_free(&text);
        snprintf(err, errlen, "prompt slice too large");
        return -1;
    }
    const char *t = text.data ? text.data : "";
    int pt = -1;
    int rc = as_system ? prompts_probe(p, t, ".", &pt, err, errlen)
                       : prompts_probe(p, NULL, t, &pt, err, errlen);
    buf_free(&text);
    p->probes++;
    if (rc)
        return -1;
    if (pt < 0) {
        snprintf(err, errlen, "the server's answer has no usage.prompt_tokens");
        return -1;
    }
    *actual = (size_t)got;
    *count = pt - (as_system ? p->over_system : p->over_user);
    return 0;
}

/* Calibrated cut: a first guess by the ratio, then proportional steps from
 * what the server counts, keeping the closest; remembered so that a cut is
 * measured once. Falls back to the ratio when a probe fails. */
static size_t cut_calibrated(prompts *p, size_t offset, int tokens, bool as_system)
{
    size_t guess = (size_t)lround(tokens * p->bytes_per_token);
    if (guess == 0)
        guess = 1;
    if (p->over_user < 0 || (as_system && p->over_system < 0))
        return guess;
    for (size_t i = 0; i < p->n_memo; i++)
        if (p->memo[i].offset == offset && p->memo[i].tokens == tokens &&
            p->memo[i].as_system == as_system)
            return p->memo[i].nbytes;
    size_t best = guess;
    int best_diff = -1;
    int tolerance = tokens / 2000;
    for (int probe = 0; probe < MEASURE_MAX_PROBES; probe++) {
        int n;
        size_t actual;
        char err[512];
        if (measure_at(p, offset, guess, as_system, &n, &actual, err, sizeof err)) {
            log_warn("measuring a prompt slice failed (%s): cutting by the calibrated ratio "
                     "from now on",
                     err);
            p->over_user = -1;
            p->over_system = -1;
            return best_diff < 0 ? guess : best;
        }
        int diff = abs(n - tokens);
        if (best_diff < 0 || diff < best_diff) {
            best_diff = diff;
            best = actual;
        }
        /* Later first guesses follow what the server has been counting. */
        if (n >= 64)
            p->bytes_per_token = 0.5 * p->bytes_per_token + 0.5 * (double)actual / n;
        if (diff <= tolerance)
            break;
        size_t next = n > 0 ? (size_t)llround((double)actual * tokens / n) : actual * 2 + 16;
        if (next == 0)
            next = 1;
        if (next == guess || next == actual)
            break;
        guess = next;
    }
    if (best_diff > tolerance)
        log_debug("calibrated cut at %zu: %d tokens wanted, %d off after %d probes", offset,
                  tokens, best_diff, MEASURE_MAX_PROBES);
    size_t slot;
    if (p->n_memo < CUT_CACHE_MAX) {
        slot = p->n_memo++;
    } else { /* full: replace the oldest */
        slot = p->memo_next;
        p->memo_next = (p->memo_next + 1) % CUT_CACHE_MAX;
    }
    p->memo[slot] = (struct cut_memo){offset, tokens, as_system, best};
    return best;
}

static int cut_role(prompts *p, size_t offset, int tokens, bool as_system, size_t *nbytes,
                    char *err, size_t errlen);

int prompts_cut(prompts *p, size_t offset, int tokens, size_t *nbytes, char *err, size_t errlen)
{
    return cut_role(p, offset, tokens, false, nbytes, err, errlen);
}

/* as_system (calibrated source): measure the slice as a system message, so
 * that the probe shares no prefix with a request sending it as the user
 * message (and the other way round), and no prefix cache is warmed. */
static int cut_role(prompts *p, size_t offset, int tokens, bool as_system, size_t *nbytes,
                    char *err, size_t errlen)
{
    if (tokens <= 0) {
        *nbytes = 0;
        return 0;
    }
    if (p->source == PROMPTS_TOKENIZE_PIECES) {
        int rc = cut_by_pieces(p, offset, tokens, nbytes, err, errlen);
        if (rc <= 0)
            return rc;
        log_warn("/tokenize pieces do not reproduce the text; cutting by counts instead");
        p->source = PROMPTS_TOKENIZE_COUNT;
    }
    if (p->source == PROMPTS_TOKENIZE_COUNT)
        return cut_by_count(p, offset, tokens, nbytes, err, errlen);
    *nbytes = cut_calibrated(p, offset, tokens, as_system);
    return 0;
}

int prompts_make(prompts *p, int ctx_tokens, int prompt_tokens, bool no_cache, buf *context,
                 buf *prompt, bool *wrapped, char *err, size_t errlen)
{
    buf_reset(context);
    buf_reset(prompt);
    *wrapped = false;
    char nonce[40] = "";
    int nonce_tokens = 0;
    if (no_cache) {
        snprintf(nonce, sizeof nonce, " %016llx", (unsigned long long)prng_next(&p->rng));
        if (prompts_count(p, nonce, strlen(nonce), &nonce_tokens, err, errlen))
            return -1;
    }
    int text_tokens = prompt_tokens - nonce_tokens;
    if (text_tokens < 0)
        text_tokens = 0;
    /* A start offset such that the slice fits in the book when it can. */
    double need = (double)(ctx_tokens + text_tokens) * p->bytes_per_token * 1.1 + 64;
    size_t span = need < (double)p->c->len ? p->c->len - (size_t)need : p->c->len;
    size_t offset = corpus_align(p->c, (size_t)prng_below(&p->rng, span ? span : 1));

    size_t ctx_bytes = 0, prompt_bytes = 0;
    bool w1 = false, w2 = false;
    if (ctx_tokens > 0) {
        if (prompts_cut(p, offset, ctx_tokens, &ctx_bytes, err, errlen))
            return -1;
        long got = corpus_slice(p->c, offset, ctx_bytes, context, &w1);
        if (got < 0) {
            snprintf(err, errlen, "context slice too large");
            return -1;
        }
        ctx_bytes = (size_t)got;
    }
    size_t prompt_offset = corpus_align(p->c, offset + ctx_bytes);
    if (text_tokens > 0) {
        if (cut_role(p, prompt_offset, text_tokens, true, &prompt_bytes, err, errlen))
            return -1;
        if (corpus_slice(p->c, prompt_offset, prompt_bytes, prompt, &w2) < 0) {
            snprintf(err, errlen, "prompt slice too large");
            return -1;
        }
    }
    if (no_cache)
        buf_append_str(prompt, nonce);
    if (!prompt->data)
        buf_append_str(prompt, "");
    if (!context->data)
        buf_append_str(context, "");
    *wrapped = w1 || w2;
    return 0;
}

int prompts_probe(prompts *p, const char *system, const char *user, int *prompt_tokens, char *err,
                  size_t errlen)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", p->model);
    cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
    if (system) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "system");
        cJSON_AddStringToObject(m, "content", system);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", user);
    cJSON_AddItemToArray(msgs, m);
    cJSON_AddNumberToObject(b, "max_tokens", 1);
    buf url;
    buf_init(&url, 0);
    buf_printf(&url, "%s/chat/completions", p->base_url);
    long status;
    cJSON *a = post_json(p, url.data, b, &status, err, errlen);
    cJSON_Delete(b);
    buf_free(&url);
    if (!a)
        return -1;
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(a, "usage");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
    *prompt_tokens = cJSON_IsNumber(pt) ? (int)pt->valuedouble : -1;
    cJSON_Delete(a);
    return 0;
}

int prompts_calibrate(prompts *p, int *delta_user, int *delta_context, char *err, size_t errlen)
{
    /* Two user-only probes that share their start: a short one (whose
     * token count is small, so the ratio's error in it is well under a
     * token) and a long one; the difference gives bytes per token, the
     * short one then gives the template overhead. */
    size_t start = corpus_align(p->c, p->c->len / 2);
    while (start < p->c->len && p->c->text[start] != ' ' && p->c->text[start] != '\n')
        start++;
    start++;
    buf a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    corpus_slice(p->c, start, 48, &a, NULL);
    corpus_slice(p->c, start, 3072, &b, NULL);
    int pa = -1, pb = -1, ps = -1, rc = -1;
    if (prompts_probe(p, NULL, a.data, &pa, err, errlen) ||
        prompts_probe(p, NULL, b.data, &pb, err, errlen) ||
        prompts_probe(p, a.data, ".", &ps, err, errlen))
        goto out;
    if (pa <= 0 || pb <= pa || ps <= 0) {
        snprintf(err, errlen,
                 "cannot calibrate token counts: the server reports no usable "
                 "usage.prompt_tokens (got %d, %d, %d)",
                 pa, pb, ps);
        goto out;
    }
    p->source = PROMPTS_CALIBRATED;
    p->bytes_per_token = (double)(b.len - a.len) / (pb - pa);
    int a_tokens = (int)lround((double)a.len / p->bytes_per_token);
    if (a_tokens < 1)
        a_tokens = 1;
    *delta_user = pa - a_tokens;
    /* The "." user message is one token in the tokenizers we know. */
    *delta_context = ps - a_tokens - 1;
    /* Exact overheads from messages with empty content: [user ""],
     * [user "."] and [system "", user "."]. Slices are then measured by
     * probes (prompts_cut); a server refusing empty content keeps the
     * estimates above and the ratio. */
    int e_user = -1, dot_user = -1, e_sys = -1;
    char perr[512] = "no usage.prompt_tokens";
    p->over_user = p->over_system = -1;
    if (prompts_probe(p, NULL, "", &e_user, perr, sizeof perr) == 0 &&
        prompts_probe(p, NULL, ".", &dot_user, perr, sizeof perr) == 0 &&
        prompts_probe(p, "", ".", &e_sys, perr, sizeof perr) == 0 && e_user >= 0 &&
        dot_user > e_user && e_sys >= dot_user - e_user) {
        p->over_user = e_user;
        p->over_system = e_sys;
        *delta_user = e_user;
        *delta_context = e_sys - (dot_user - e_user);
    } else {
        log_info("empty-content probes unusable (%s): prompt sizes follow the calibrated "
                 "ratio only",
                 e_user < 0 ? perr : "inconsistent usage counts");
    }
    log_info("calibrated token counts: %.3f bytes per token, template overhead %d (user), %d "
             "(system + user)",
             p->bytes_per_token, *delta_user, *delta_context);
    rc = 0;
out:
    buf_free(&a);
    buf_free(&b);
    return rc;
}
