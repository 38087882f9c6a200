#include "client/progress.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/xalloc.h"

#define SCHEMA "llama-benchy-progress.v1"

struct progress {
    FILE *f;
    bool owns;
    int64_t mono0_ns, wall0_ns;
};

static cJSON *event(progress *p, const char *type, int64_t now_ns)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schema", SCHEMA);
    cJSON_AddStringToObject(o, "type", type);
    double ts = (double)(p->wall0_ns + (now_ns - p->mono0_ns)) / 1e9;
    cJSON_AddNumberToObject(o, "ts", ts);
    return o;
}

/* Writes and frees o; a broken consumer never stops the benchmark. */
static void emit(progress *p, cJSON *o)
{
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line)
        return;
    fputs(line, p->f);
    fputc('\n', p->f);
    fflush(p->f);
    free(line);
}

progress *progress_open(const char *target, const char *version, int64_t mono0_ns,
                        int64_t wall_ns_at_mono0, int64_t now_ns, char *err, size_t errlen)
{
    FILE *f;
    bool owns = false;
    if (strcmp(target, "-") == 0) {
        f = stdout;
    } else {
        f = fopen(target, "w");
        if (!f) {
            snprintf(err, errlen, "--emit-progress: cannot open %s for writing", target);
            return NULL;
        }
        owns = true;
    }
    progress *p = xcalloc(1, sizeof *p);
    p->f = f;
    p->owns = owns;
    p->mono0_ns = mono0_ns;
    p->wall0_ns = wall_ns_at_mono0;
    cJSON *o = event(p, "header", now_ns);
    cJSON_AddStringToObject(o, "llama_benchy_version", version);
    emit(p, o);
    return p;
}

void progress_close(progress *p)
{
    if (!p)
        return;
    if (p->owns)
        fclose(p->f);
    else
        fflush(p->f);
    free(p);
}

void progress_redact_url(const char *url, char *out, size_t size)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = strchr(host, '@');
    if (at && (!slash || at < slash))
        snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, size, "%s", url);
}

void progress_latency(progress *p, int64_t now_ns, double latency_s, const char *mode)
{
    if (!p)
        return;
    cJSON *o = event(p, "latency_measured", now_ns);
    cJSON_AddNumberToObject(o, "latency_s", latency_s);
    cJSON_AddStringToObject(o, "mode", mode);
    emit(p, o);
}

void progress_request_start(progress *p, int64_t now_ns, long id, const char *model,
                            const char *base_url, int pp, int tg, int depth, int concurrency,
                            int run_index)
{
    if (!p)
        return;
    char url[2048];
    progress_redact_url(base_url, url, sizeof url);
    cJSON *o = event(p, "request_start", now_ns);
    cJSON_AddNumberToObject(o, "request_id", (double)id);
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "base_url", url);
    cJSON_AddNumberToObject(o, "prompt_size", pp);
    cJSON_AddNumberToObject(o, "response_size", tg);
    cJSON_AddNumberToObject(o, "context_size", depth);
    cJSON_AddNumberToObject(o, "concurrency", concurrency);
    cJSON_AddNumberToObject(o, "run_index", run_index);
    cJSON_AddStringToObject(o, "target_label", "");
    emit(p, o);
}

void progress_first_response(progress *p, int64_t now_ns, long id, double ttfr_s)
{
    if (!p)
        return;
    cJSON *o = event(p, "request_first_response", now_ns);
    cJSON_AddNumberToObject(o, "request_id", (double)id);
    cJSON_AddNumberToObject(o, "ttfr_s", ttfr_s);
    emit(p, o);
}

void progress_first_token(progress *p, int64_t now_ns, long id, double ttft_s)
{
    if (!p)
        return;
    cJSON *o = event(p, "request_first_token", now_ns);
    cJSON_AddNumberToObject(o, "request_id", (double)id);
    cJSON_AddNumberToObject(o, "ttft_s", ttft_s);
    emit(p, o);
}

void progress_tokens(progress *p, int64_t now_ns, long id, int count, const char *snippet,
                     size_t snippet_len, bool estimated)
{
    if (!p || (count <= 0 && snippet_len == 0))
        return;
    char *s = xstrndup(snippet ? snippet : "", snippet ? snippet_len : 0);
    cJSON *o = event(p, "tokens", now_ns);
    cJSON_AddNumberToObject(o, "request_id", (double)id);
    cJSON_AddNumberToObject(o, "count", count);
    cJSON_AddStringToObject(o, "snippet", s);
    if (estimated)
        cJSON_AddTrueToObject(o, "estimated");
    free(s);
    emit(p, o);
}

void progress_request_end(progress *p, int64_t now_ns, long id, int total_tokens,
                          int prompt_tokens, double decode_s, const char *error)
{
    if (!p)
        return;
    cJSON *o = event(p, "request_end", now_ns);
    cJSON_AddNumberToObject(o, "request_id", (double)id);
    cJSON_AddNumberToObject(o, "total_tokens", total_tokens);
    cJSON_AddNumberToObject(o, "prompt_tokens", prompt_tokens);
    cJSON_AddNumberToObject(o, "decode_seconds", decode_s);
    cJSON_AddStringToObject(o, "error", error ? error : "");
    emit(p, o);
}

void progress_complete(progress *p, int64_t now_ns, const char *status)
{
    if (!p)
        return;
    cJSON *o = event(p, "bench_complete", now_ns);
    cJSON_AddStringToObject(o, "status", status);
    emit(p, o);
}
