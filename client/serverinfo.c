/* Server kind detection and the per-kind table of accepted request fields.
 * The facts behind the table are in docs/tokbench-servers.md. */
#include "client/serverinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

/* ------------------------------------------------------------ detection */

/* Evidence strength: a stronger clue replaces a weaker one. */
enum { EV_NONE = 0, EV_HEADER = 1, EV_SHAPE = 2, EV_PROPS = 3, EV_OWNED_BY = 4 };

typedef struct finding {
    int strength;
    enum cli_server_kind kind;
    const char *label;
    char reason[200];
} finding;

static void consider(finding *f, int strength, enum cli_server_kind kind, const char *label,
                     const char *reason)
{
    if (strength <= f->strength)
        return;
    f->strength = strength;
    f->kind = kind;
    f->label = label;
    snprintf(f->reason, sizeof f->reason, "%s", reason);
}

/* owned_by values and what they mean. Ollama writes "library" for models
 * of its library (a user namespace otherwise); LM Studio writes
 * "organization_owner". tokmock without --personality writes "tokmock": it
 * honours every field of the table (return_token_ids as vLLM, cache_prompt
 * as llama.cpp), so it stays CLI_SERVER_AUTO and nothing is removed. */
static const struct {
    const char *owned_by;
    enum cli_server_kind kind;
    const char *label;
} OWNERS[] = {
    {"llamacpp", CLI_SERVER_LLAMACPP, "llamacpp"},
    {"vllm", CLI_SERVER_VLLM, "vllm"},
    {"sglang", CLI_SERVER_SGLANG, "sglang"},
    {"openai", CLI_SERVER_OPENAI, "openai"},
    {"system", CLI_SERVER_OPENAI, "openai"},
    {"openai-internal", CLI_SERVER_OPENAI, "openai"},
    {"openai-dev", CLI_SERVER_OPENAI, "openai"},
    {"library", CLI_SERVER_OLLAMA, "ollama"},
    {"organization_owner", CLI_SERVER_GENERIC, "lmstudio"},
    {"tokmock", CLI_SERVER_AUTO, "tokmock"},
};

static void from_models(finding *f, const char *body, size_t len)
{
    if (!body || !len)
        return;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return;
    }
    char why[200];
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *list = cJSON_IsArray(data) ? data : NULL;
    const cJSON *m;
    cJSON_ArrayForEach(m, list)
    {
        const cJSON *owner = cJSON_GetObjectItemCaseSensitive(m, "owned_by");
        if (cJSON_IsString(owner)) {
            for (size_t i = 0; i < sizeof OWNERS / sizeof OWNERS[0]; i++) {
                if (strcasecmp(owner->valuestring, OWNERS[i].owned_by) == 0) {
                    snprintf(why, sizeof why, "/models owned_by=%s", OWNERS[i].owned_by);
                    consider(f, EV_OWNED_BY, OWNERS[i].kind, OWNERS[i].label, why);
                }
            }
        }
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(m, "meta");
        if (cJSON_IsObject(meta) && (cJSON_GetObjectItemCaseSensitive(meta, "n_ctx_train") ||
                                     cJSON_GetObjectItemCaseSensitive(meta, "n_vocab")))
            consider(f, EV_SHAPE, CLI_SERVER_LLAMACPP, "llamacpp",
                     "/models data[].meta holds GGUF metadata (llama.cpp)");
        const cJSON *perm = cJSON_GetObjectItemCaseSensitive(m, "permission");
        const cJSON *p0 = cJSON_IsArray(perm) ? cJSON_GetArrayItem(perm, 0) : NULL;
        const cJSON *pobj = p0 ? cJSON_GetObjectItemCaseSensitive(p0, "object") : NULL;
        if (cJSON_IsString(pobj) && strcmp(pobj->valuestring, "model_permission") == 0 &&
            cJSON_GetObjectItemCaseSensitive(m, "max_model_len"))
            consider(f, EV_SHAPE, CLI_SERVER_VLLM, "vllm",
                     "/models entries carry model_permission and max_model_len (vLLM)");
    }
    if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "models")) && cJSON_IsArray(data))
        consider(f, EV_SHAPE, CLI_SERVER_LLAMACPP, "llamacpp",
                 "/models has both \"models\" and \"data\" lists (llama.cpp)");
    cJSON_Delete(root);
}

static void from_props(finding *f, const char *body, size_t len)
{
    if (!body || !len)
        return;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (cJSON_IsObject(root)) {
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "default_generation_settings")))
            consider(f, EV_PROPS, CLI_SERVER_LLAMACPP, "llamacpp",
                     "/props has default_generation_settings (llama.cpp)");
        else if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "build_info")))
            consider(f, EV_PROPS, CLI_SERVER_LLAMACPP, "llamacpp",
                     "/props has build_info (llama.cpp)");
    }
    cJSON_Delete(root);
}

/* Case-insensitive prefix test on a counted string. */
static bool starts_with_ci(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && strncasecmp(s, prefix, k) == 0;
}

static void from_headers(finding *f, const char *h, size_t len)
{
    if (!h)
        return;
    const char *p = h, *end = h + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n && p[n - 1] == '\r')
            n--;
        const char *colon = memchr(p, ':', n);
        if (colon) {
            size_t name_len = (size_t)(colon - p);
            const char *v = colon + 1;
            while (v < p + n && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(p + n - v);
            char why[200];
            if (name_len == 6 && strncasecmp(p, "Server", 6) == 0) {
                if (starts_with_ci(v, vlen, "llama.cpp")) {
                    consider(f, EV_HEADER, CLI_SERVER_LLAMACPP, "llamacpp",
                             "header Server: llama.cpp");
                } else if (starts_with_ci(v, vlen, "uvicorn")) {
                    /* vLLM and SGLang both run under uvicorn: not enough to
                     * choose, and they differ on return_token_ids. */
                } else if (starts_with_ci(v, vlen, "ollama")) {
                    consider(f, EV_HEADER, CLI_SERVER_OLLAMA, "ollama", "header Server: Ollama");
                }
            } else if (starts_with_ci(p, name_len, "openai-")) {
                snprintf(why, sizeof why, "header %.*s (OpenAI)",
                         (int)(name_len > 40 ? 40 : name_len), p);
                consider(f, EV_HEADER, CLI_SERVER_OPENAI, "openai", why);
            } else if (name_len == 12 && strncasecmp(p, "X-Powered-By", 12) == 0 &&
                       starts_with_ci(v, vlen, "Express")) {
                consider(f, EV_HEADER, CLI_SERVER_GENERIC, "lmstudio",
                         "header X-Powered-By: Express (LM Studio)");
            }
        }
        p = nl ? nl + 1 : end;
    }
}

void serverinfo_detect(const char *models_body, size_t models_len, const char *props_body,
                       size_t props_len, const char *headers, size_t headers_len, serverinfo *out)
{
    finding f = {EV_NONE, CLI_SERVER_AUTO, "unknown", ""};
    from_models(&f, models_body, models_len);
    from_props(&f, props_body, props_len);
    from_headers(&f, headers, headers_len);
    out->kind = f.kind;
    snprintf(out->label, sizeof out->label, "%s", f.label);
    if (f.strength == EV_NONE)
        snprintf(out->reason, sizeof out->reason, "not recognised from /models, /props or headers");
    else
        snprintf(out->reason, sizeof out->reason, "%s", f.reason);
}

void serverinfo_choose(enum cli_server_kind requested, const serverinfo *detected, serverinfo *out)
{
    if (requested == CLI_SERVER_AUTO) {
        if (out != detected)
            *out = *detected;
        return;
    }
    serverinfo s;
    s.kind = requested;
    snprintf(s.label, sizeof s.label, "%s", cli_server_kind_name(requested));
    snprintf(s.reason, sizeof s.reason, "--server-kind %s", cli_server_kind_name(requested));
    *out = s;
}

int serverinfo_root_url(const char *base_url, buf *out)
{
    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/')
        n--;
    if (n >= 3 && strncmp(base_url + n - 3, "/v1", 3) == 0)
        n -= 3;
    while (n && base_url[n - 1] == '/')
        n--;
    return buf_append(out, base_url, n);
}

/* ------------------------------------------------------------ fields */

static const char *const FIELD_NAMES[SI_FIELD_COUNT] = {
    "return_token_ids",
    "stream_options.include_usage",
    "stream_options.continuous_usage_stats",
    "cache_prompt",
    "timings_per_token",
    "min_tokens",
    "ignore_eos",
};

#define H SI_HONOURED
#define I SI_IGNORED
#define R SI_REJECTED
/* Rows in enum cli_server_kind order; columns in enum serverinfo_field order.
 * GENERIC assumes a strict OpenAI-compatible validator: anything beyond the
 * standard fields is treated as refused. */
/* clang-format off */
static const unsigned char TABLE[][SI_FIELD_COUNT] = {
    /*                       ids include cont cache tpt min eos */
    [CLI_SERVER_AUTO]     = {0,  0,      0,   0,    0,  0,  0},
    [CLI_SERVER_GENERIC]  = {R,  H,      R,   R,    R,  R,  R},
    [CLI_SERVER_LLAMACPP] = {I,  H,      I,   H,    H,  I,  H},
    [CLI_SERVER_VLLM]     = {H,  H,      H,   I,    I,  H,  H},
    [CLI_SERVER_SGLANG]   = {R,  H,      H,   I,    I,  H,  H},
    [CLI_SERVER_OPENAI]   = {R,  H,      R,   R,    R,  R,  R},
    [CLI_SERVER_OLLAMA]   = {I,  H,      I,   I,    I,  I,  I},
};
/* clang-format on */
#undef H
#undef I
#undef R

const char *serverinfo_field_name(enum serverinfo_field f)
{
    return (unsigned)f < SI_FIELD_COUNT ? FIELD_NAMES[f] : "?";
}

enum serverinfo_support serverinfo_support_of(enum cli_server_kind kind, enum serverinfo_field f)
{
    if ((unsigned)kind >= sizeof TABLE / sizeof TABLE[0] || (unsigned)f >= SI_FIELD_COUNT)
        return SI_UNKNOWN;
    return (enum serverinfo_support)TABLE[kind][f];
}

const char *serverinfo_support_name(enum serverinfo_support s)
{
    switch (s) {
    case SI_HONOURED:
        return "honoured";
    case SI_IGNORED:
        return "ignored";
    case SI_REJECTED:
        return "rejected";
    default:
        return "unknown";
    }
}

bool serverinfo_accepts(enum cli_server_kind kind, enum serverinfo_field f)
{
    enum serverinfo_support s = serverinfo_support_of(kind, f);
    return s == SI_UNKNOWN || s == SI_HONOURED;
}

static void note_dropped(buf *dropped, const char *name)
{
    if (!dropped)
        return;
    if (dropped->len)
        buf_append_str(dropped, ", ");
    buf_append_str(dropped, name);
}

int serverinfo_filter_request(cJSON *body, enum cli_server_kind kind, const cJSON *keep,
                              buf *dropped)
{
    if (!cJSON_IsObject(body) || kind == CLI_SERVER_AUTO)
        return 0;
    int removed = 0;
    cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    const cJSON *keep_so = keep ? cJSON_GetObjectItemCaseSensitive(keep, "stream_options") : NULL;
    for (int f = 0; f < SI_FIELD_COUNT; f++) {
        if (serverinfo_accepts(kind, (enum serverinfo_field)f))
            continue;
        const char *full = FIELD_NAMES[f];
        const char *dot = strchr(full, '.');
        if (dot) {
            /* A stream_options member; a user's own stream_options stays whole. */
            if (!cJSON_IsObject(so) || keep_so)
                continue;
            if (!cJSON_GetObjectItemCaseSensitive(so, dot + 1))
                continue;
            cJSON_DeleteItemFromObjectCaseSensitive(so, dot + 1);
        } else {
            if (!cJSON_GetObjectItemCaseSensitive(body, full))
                continue;
            if (keep && cJSON_GetObjectItemCaseSensitive(keep, full))
                continue;
            cJSON_DeleteItemFromObjectCaseSensitive(body, full);
        }
        note_dropped(dropped, full);
        removed++;
    }
    if (cJSON_IsObject(so) && !so->child && !keep_so)
        cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    return removed;
}

char *serverinfo_filter_text(const char *body, enum cli_server_kind kind, const cJSON *keep,
                             buf *dropped)
{
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    serverinfo_filter_request(j, kind, keep, dropped);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return NULL;
    /* cJSON allocates with malloc: hand back our own copy so callers free()
     * consistently whatever cJSON's hooks are. */
    char *copy = xstrdup(text);
    cJSON_free(text);
    return copy;
}
