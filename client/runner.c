#include "client/runner.h"

#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client/arrivals.h"
#include "client/cacheverify.h"
#include "client/capacity.h"
#include "client/corpus.h"
#include "client/driver.h"
#include "client/history.h"
#include "client/metrics.h"
#include "client/monitor.h"
#include "client/progress.h"
#include "client/prompts.h"
#include "client/record.h"
#include "client/report.h"
#include "client/request.h"
#include "client/results.h"
#include "client/serverinfo.h"
#include "client/slo.h"
#include "client/stats.h"
#include "client/ttyline.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

/* vLLM rejects an empty user message, so a context load sends this one. */
#define CONTEXT_LOAD_USER_MESSAGE "."
#define COHERENCE_PROMPT "What is the capital of France? Please reply with one word only"
#define SMALL_RESPONSE_MAX ((size_t)16 << 20)
#define LATENCY_PROBES 3

/* Progress bookkeeping of one request in flight. */
typedef struct track {
    long id;               /* -1 = not reported (warm-up run) */
    size_t events_seen;
    size_t content_seen;
    size_t tty_seen;       /* events counted on the terminal progress line */
    bool sent_first_response, sent_first_token;
} track;

/* What a cell measured beyond results.c's metrics (load figures). */
typedef struct cell_acc {
    double span_s;          /* measured wall time: bursts' or scenarios' spans */
    int n_ok, n_err, n_good;
    stats e2el_ms;          /* request latency, actual send to last byte */
    stats lag_ms;           /* dispatch lag: actual - intended send time */
    stats ttft_intended_ms; /* first token - intended send time */
    stats e2el_intended_ms; /* end - intended send time */
    bool load_mode;
    bool have_mon;
    int64_t mon_rss_max_kb, mon_hwm_kb, mon_swp0, mon_swp1;
    int64_t mon_last_ns;
} cell_acc;

typedef struct suite {
    const cli_options *o;
    corpus corp;
    driver *d;
    prompts *pr;
    progress *prog;
    ttyline *tty;     /* terminal progress line, NULL = off */
    int cell_index;   /* cells started so far */
    char *model;      /* for the report */
    char *served;     /* for the requests */
    buf chat_url;
    int delta_user, delta_context;
    int64_t latency_ns;
    int64_t mono0_ns, wall0_ns;
    long next_request_id;
    results res;
    bool warned_wrap;
    bool token_ids_off;
    int failed_requests;
    int cell_fail_logged;   /* failure lines logged in the current cell */
    int cell_fail_hidden;   /* failures past the limit, summarized at the cell's end */
    bool unreachable;       /* every request failed and no server ever answered */
    slo_set slo;
    cell_acc *acc;    /* the cell being run */
    char **answer_lines; /* sweep answers and SLO verdicts, printed after the md footer */
    size_t n_answer_lines;
    record *rec;                 /* --record, NULL = off */
    serverinfo server;           /* detected or --server-kind */
    bool logged_dropped;         /* the fields dropped for the server kind were logged */
    cacheverify *cv;             /* the cell's server figures; NULL between cells */
    /* GET {base}/models, asked once at start-up for both model and server-kind
     * detection: body (empty unless a 2xx came), headers, transport error. */
    buf models_body, models_headers;
    long models_status;
    int models_rc;
    char models_err[512];
} suite;

static void answer(suite *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Failure lines per cell before the rest are only counted: a server that
 * answers 429 to everything must not drown the log. */
#define FAIL_LOG_LINES 5

static void log_failure(suite *s, const tb_request *r)
{
    if (s->cell_fail_logged >= FAIL_LOG_LINES) {
        s->cell_fail_hidden++;
        return;
    }
    s->cell_fail_logged++;
    log_warn("request failed (%s): %s", r->error_kind[0] ? r->error_kind : FAIL_OTHER, r->error);
}

/* True (and remembered) when requests failed and no transfer of the run
 * ever got an HTTP response: the URL points nowhere. */
static bool server_unreachable(suite *s, int failed)
{
    if (failed > 0 && !driver_server_reached(s->d))
        s->unreachable = true;
    return s->unreachable;
}

/* ---- request bodies ---- */

static void add_message(cJSON *msgs, const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(msgs, m);
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* Sets key in obj, keeping its position when it exists (Python dict.update). */
static void set_item(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

char *runner_request_body(const cli_options *o, const char *model, const char *context,
                          const char *prompt, int max_tokens, int return_token_ids)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", model);
    cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
    if (context && context[0])
        add_message(msgs, "system", context);
    add_message(msgs, "user", blank(prompt) ? CONTEXT_LOAD_USER_MESSAGE : prompt);
    cJSON_AddNumberToObject(b, "max_tokens", max_tokens);
    cJSON_AddTrueToObject(b, "stream");
    if (return_token_ids)
        cJSON_AddTrueToObject(b, "return_token_ids");
    cJSON *so = cJSON_AddObjectToObject(b, "stream_options");
    cJSON_AddTrueToObject(so, "include_usage");
    if (o->no_cache)
        cJSON_AddFalseToObject(b, "cache_prompt");
    const cJSON *item;
    cJSON_ArrayForEach(item, o->extra_body)
    {
        set_item(b, item->string, cJSON_Duplicate(item, 1));
    }
    if (o->exact_tg) {
        set_item(b, "max_tokens", cJSON_CreateNumber(max_tokens));
        set_item(b, "min_tokens", cJSON_CreateNumber(max_tokens));
        set_item(b, "ignore_eos", cJSON_CreateTrue());
    }
    char *text = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    return text;
}

/* ---- small exchanges ---- */

static cJSON *fetch_json(suite *s, const char *url, const char *body, long *status,
                         driver_fetch_times *times, char *err, size_t errlen)
{
    buf resp;
    buf_init(&resp, SMALL_RESPONSE_MAX);
    cJSON *out = NULL;
    if (driver_fetch(s->d, url, body, SMALL_RESPONSE_MAX, status, &resp, times, err, errlen) ==
        0) {
        if (*status < 200 || *status >= 300)
            snprintf(err, errlen, "HTTP %ld: %.300s", *status, resp.data ? resp.data : "");
        else if (!(out = resp.data ? cJSON_ParseWithLength(resp.data, resp.len) : NULL))
            snprintf(err, errlen, "%s: the response is not JSON", url);
    }
    buf_free(&resp);
    return out;
}

/* Asks GET {base}/models once; detect_model and detect_server read the answer. */
static void fetch_models(suite *s)
{
    buf url;
    buf_init(&url, 0);
    buf_printf(&url, "%s/models", s->o->base_url);
    buf_init(&s->models_body, SMALL_RESPONSE_MAX);
    buf_init(&s->models_headers, 64 << 10);
    driver_fetch_times t = {.headers = &s->models_headers};
    s->models_rc = driver_fetch(s->d, url.data, NULL, SMALL_RESPONSE_MAX, &s->models_status,
                                &s->models_body, &t, s->models_err, sizeof s->models_err);
    if (s->models_rc == 0 && (s->models_status < 200 || s->models_status >= 300)) {
        snprintf(s->models_err, sizeof s->models_err, "HTTP %ld: %.300s", s->models_status,
                 s->models_body.data ? s->models_body.data : "");
        s->models_rc = -1;
    }
    if (s->models_rc)
        buf_reset(&s->models_body);
    buf_free(&url);
}

/* GET {base}/models: exactly one model -> use it (SPEC §2.1). */
static int detect_model(suite *s)
{
    buf url;
    buf_init(&url, 0);
    buf_printf(&url, "%s/models", s->o->base_url);
    char err[512];
    cJSON *a = NULL;
    if (s->models_rc)
        snprintf(err, sizeof err, "%s", s->models_err);
    else if (!(a = cJSON_ParseWithLength(s->models_body.data, s->models_body.len)))
        snprintf(err, sizeof err, "%s: the response is not JSON", url.data);
    int rc = -1;
    if (!a) {
        log_error("unable to list models at %s: %s\nPlease specify --model explicitly.", url.data,
                  err);
        goto out;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(a, "data");
    const char *const *keys;
    static const char *const data_keys[] = {"id", "root", NULL};
    static const char *const models_keys[] = {"model", "name", "id", NULL};
    keys = data_keys;
    if (!cJSON_IsArray(list)) {
        list = cJSON_GetObjectItemCaseSensitive(a, "models");
        keys = models_keys;
    }
    buf names;
    buf_init(&names, 0);
    int n = 0;
    const char *only = NULL;
    const cJSON *m;
    cJSON_ArrayForEach(m, list)
    {
        const char *name = NULL;
        for (int k = 0; keys[k] && !name; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keys[k]);
            if (cJSON_IsString(v) && v->valuestring[0])
                name = v->valuestring;
        }
        if (!name)
            continue;
        buf_printf(&names, "\n  - %s", name);
        only = name;
        n++;
    }
    if (n == 1) {
        s->model = xstrdup(only);
        log_info("auto-detected model: %s", only);
        rc = 0;
    } else if (n == 0) {
        log_error("no models found at %s. Please specify --model explicitly.", url.data);
    } else {
        log_error("multiple models available at the endpoint:%s\nPlease specify --model "
                  "explicitly.",
                  names.data);
    }
    buf_free(&names);
    cJSON_Delete(a);
out:
    buf_free(&url);
    return rc;
}

/* Which kind of server this is (client/serverinfo.h): GET {base}/models
 * and {root}/props, unless --server-kind names it. Never fails: an
 * unrecognised server keeps the default request. */
static void detect_server(suite *s)
{
    serverinfo found = {CLI_SERVER_AUTO, "unknown", "not probed"};
    if (s->o->server_kind == CLI_SERVER_AUTO) {
        buf url, props;
        buf_init(&url, 0);
        buf_init(&props, SMALL_RESPONSE_MAX);
        long st_props = 0;
        char err[512];
        serverinfo_root_url(s->o->base_url, &url);
        buf_append_str(&url, "/props");
        if (driver_fetch(s->d, url.data, NULL, SMALL_RESPONSE_MAX, &st_props, &props, NULL, err,
                         sizeof err) ||
            st_props < 200 || st_props >= 300)
            buf_reset(&props);
        serverinfo_detect(s->models_body.data, s->models_body.len, props.data, props.len,
                          s->models_headers.data, s->models_headers.len, &found);
        buf_free(&url);
        buf_free(&props);
    }
    serverinfo_choose(s->o->server_kind, &found, &s->server);
    log_info("server kind: %s (%s)", s->server.label, s->server.reason);
    if (!serverinfo_accepts(s->server.kind, SI_FIELD_RETURN_TOKEN_IDS))
        s->token_ids_off = true;
}

/* Drops the request fields the server kind does not take; takes body. */
static char *fit_body(suite *s, char *body)
{
    if (!body || s->server.kind == CLI_SERVER_AUTO)
        return body;
    buf dropped;
    buf_init(&dropped, 0);
    char *fitted = serverinfo_filter_text(body, s->server.kind, s->o->extra_body, &dropped);
    if (dropped.len && !s->logged_dropped) {
        log_info("not sending %s: %s does not take them", dropped.data, s->server.label);
        s->logged_dropped = true;
    }
    buf_free(&dropped);
    if (!fitted)
        return body;
    free(body);
    return fitted;
}

/* llama-benchy's warm-up: a user-only request and a system + "." request,
 * max_tokens 1; with token counts, the differences to the local counts are
 * the chat template overheads used by --adapt-prompt. */
static int warmup(suite *s)
{
    char err[1024];
    if (prompts_get_source(s->pr) == PROMPTS_CALIBRATED) {
        if (prompts_calibrate(s->pr, &s->delta_user, &s->delta_context, err, sizeof err)) {
            log_error("warm-up failed: %s", err);
            return -1;
        }
        return 0;
    }
    log_info("warming up...");
    static const char text[] = "Warmup Warmup Warmup Warmup Warmup Warmup Warmup Warmup Warmup "
                               "Warmup ";
    int p_user = -1, p_sys = -1, local = 0, probe_local = 0;
    if (prompts_probe(s->pr, NULL, text, &p_user, err, sizeof err)) {
        log_error("warm-up failed: %s", err);
        return -1;
    }
    if (prompts_count(s->pr, text, sizeof text - 1, &local, err, sizeof err) ||
        prompts_count(s->pr, CONTEXT_LOAD_USER_MESSAGE, 1, &probe_local, err, sizeof err)) {
        log_error("warm-up failed: %s", err);
        return -1;
    }
    if (p_user < 0) {
        log_info("warm-up (user only) complete (no usage stats found)");
        return 0;
    }
    s->delta_user = p_user - local;
    log_info("warm-up (user only) complete. Delta: %d tokens (server: %d, local: %d)",
             s->delta_user, p_user, local);
    if (prompts_probe(s->pr, text, CONTEXT_LOAD_USER_MESSAGE, &p_sys, err, sizeof err)) {
        log_error("warm-up failed: %s", err);
        return -1;
    }
    if (p_sys < 0) {
        s->delta_context = s->delta_user;
    } else {
        s->delta_context = p_sys - local - probe_local;
        log_info("warm-up (system + probe) complete. Delta: %d tokens (server: %d, local "
                 "context: %d, probe: %d)",
                 s->delta_context, p_sys, local, probe_local);
    }
    return 0;
}

static bool contains_paris(const char *s)
{
    for (; s && *s; s++)
        if (strncasecmp(s, "paris", 5) == 0)
            return true;
    return false;
}

static int coherence(suite *s)
{
    log_info("running coherence test...");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", s->served);
    add_message(cJSON_AddArrayToObject(b, "messages"), "user", COHERENCE_PROMPT);
    cJSON_AddNumberToObject(b, "max_tokens", 100);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    long status = 0;
    char err[1024];
    cJSON *a = fetch_json(s, s->chat_url.data, body, &status, NULL, err, sizeof err);
    free(body);
    if (!a) {
        log_error("coherence test FAILED: %s", err);
        return -1;
    }
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const char *fields[] = {"content", "reasoning", "reasoning_content"};
    bool ok = false;
    const char *content = "";
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, fields[i]);
        if (cJSON_IsString(v)) {
            if (i == 0)
                content = v->valuestring;
            ok = ok || contains_paris(v->valuestring);
        }
    }
    if (!choice)
        log_error("coherence test FAILED: no choices in the response");
    else if (!ok)
        log_error("coherence test FAILED: expected 'Paris', got: %.200s", content);
    else
        log_info("coherence test PASSED");
    cJSON_Delete(a);
    return ok ? 0 : -1;
}

static int64_t measure_latency(suite *s)
{
    const char *mode = s->o->latency_mode == CLI_LATENCY_API          ? "api"
                       : s->o->latency_mode == CLI_LATENCY_GENERATION ? "generation"
                                                                      : "none";
    if (s->o->latency_mode == CLI_LATENCY_NONE) {
        log_info("skipping latency measurement (assuming 0 ms)");
        return 0;
    }
    log_info("measuring latency using mode: %s...", mode);
    buf url;
    buf_init(&url, 0);
    char *body = NULL;
    int warm = 0;
    if (s->o->latency_mode == CLI_LATENCY_API) {
        buf_printf(&url, "%s/models", s->o->base_url);
    } else {
        buf_printf(&url, "%s/chat/completions", s->o->base_url);
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "model", s->served);
        add_message(cJSON_AddArrayToObject(b, "messages"), "user", "hello");
        cJSON_AddNumberToObject(b, "max_tokens", 1);
        cJSON_AddTrueToObject(b, "stream");
        body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        warm = s->o->no_warmup ? 0 : s->o->warmup_runs;
    }
    int64_t sum = 0;
    int n = 0;
    buf resp;
    buf_init(&resp, SMALL_RESPONSE_MAX);
    for (int i = 0; i < warm + LATENCY_PROBES; i++) {
        long status = 0;
        char err[512];
        driver_fetch_times t = {.start_ns = 0};
        if (driver_fetch(s->d, url.data, body, SMALL_RESPONSE_MAX, &status, &resp, &t, err,
                         sizeof err)) {
            log_warn("error measuring latency: %s", err);
            continue;
        }
        if (i < warm)
            continue;
        /* api: the whole exchange; generation: up to the first body byte. */
        int64_t end = body ? t.first_byte_ns : t.end_ns;
        if (end > t.start_ns) {
            sum += end - t.start_ns;
            n++;
        }
    }
    buf_free(&resp);
    buf_free(&url);
    free(body);
    int64_t latency = n ? sum / n : 0;
    log_info("average latency (%s): %.2f ms", mode, (double)latency / 1e6);
    return latency;
}

/* ---- progress hooks ---- */

static void monitor_update(suite *s, int64_t now_ns, bool force)
{
    cell_acc *a = s->acc;
    if (!s->o->monitor_pid || !a)
        return;
    if (!force && a->have_mon && now_ns - a->mon_last_ns < 100 * CLOCK_NS_PER_MS)
        return;
    monitor_sample_t m;
    monitor_sample(s->o->monitor_pid, &m);
    a->mon_last_ns = now_ns;
    if (!a->have_mon) {
        a->have_mon = true;
        a->mon_rss_max_kb = m.rss_kb;
        a->mon_swp0 = m.pswpout;
    }
    if (m.rss_kb > a->mon_rss_max_kb)
        a->mon_rss_max_kb = m.rss_kb;
    a->mon_hwm_kb = m.hwm_kb;
    a->mon_swp1 = m.pswpout;
}

static void hook_data(void *ctx, driver_job *j, int64_t now_ns)
{
    suite *s = ctx;
    monitor_update(s, now_ns, false);
    track *t = j->user;
    tb_request *r = j->req;
    if (s->tty) {
        int n = 0;
        for (; t->tty_seen < r->n_events; t->tty_seen++) {
            const tb_event *e = &r->events[t->tty_seen];
            if (e->kind >= EV_CONTENT)
                n += e->ids > 0 ? e->ids : 1;
        }
        ttyline_tokens(s->tty, now_ns, n);
    }
    if (!s->prog || t->id < 0)
        return;
    if (!t->sent_first_response && r->first_response_ns) {
        progress_first_response(s->prog, now_ns, t->id,
                                (double)(r->first_response_ns - r->start_ns) / 1e9);
        t->sent_first_response = true;
    }
    if (!t->sent_first_token && r->first_token_ns) {
        progress_first_token(s->prog, now_ns, t->id,
                             (double)(r->first_token_ns - r->start_ns) / 1e9);
        t->sent_first_token = true;
    }
    for (; t->events_seen < r->n_events; t->events_seen++) {
        const tb_event *e = &r->events[t->events_seen];
        if (e->kind < EV_CONTENT)
            continue;
        const char *snippet = r->content ? r->content + t->content_seen : "";
        size_t len = r->content_len > t->content_seen ? r->content_len - t->content_seen : 0;
        t->content_seen = r->content_len;
        progress_tokens(s->prog, now_ns, t->id, e->ids >= 0 ? e->ids : 1, snippet, len,
                        e->ids < 0);
    }
}

static void hook_done(void *ctx, driver_job *j)
{
    suite *s = ctx;
    track *t = j->user;
    tb_request *r = j->req;
    if (!s->prog || t->id < 0)
        return;
    double decode = r->first_token_ns ? (double)(r->end_ns - r->first_token_ns) / 1e9 : 0.0;
    progress_request_end(s->prog, r->end_ns, t->id, r->total_tokens,
                         r->prompt_tokens > 0 ? r->prompt_tokens : 0, decode, r->error);
}

/* ---- runs ---- */

typedef struct batch_desc {
    int pp, tg, depth, concurrency;
    int run_index;      /* measured run index, -1 for warm-up */
    bool context_load;  /* --enable-prefix-caching phase 1 */
} batch_desc;

/* Sends one synchronized burst; reqs are re-initialized here. Returns the
 * number of failed requests, or -1 on an internal error. */
static int run_batch(suite *s, const batch_desc *bd, buf *contexts, buf *prompts_text,
                     tb_request *reqs)
{
    int n = bd->concurrency;
    driver_job *jobs = xcalloc((size_t)n, sizeof *jobs);
    track *tracks = xcalloc((size_t)n, sizeof *tracks);
    char **bodies = xcalloc((size_t)n, sizeof *bodies);
    char **alts = xcalloc((size_t)n, sizeof *alts);
    bool with_ids = !s->token_ids_off;
    for (int i = 0; i < n; i++) {
        const char *user = bd->context_load ? CONTEXT_LOAD_USER_MESSAGE : prompts_text[i].data;
        bodies[i] = fit_body(
            s, runner_request_body(s->o, s->served, contexts[i].data, user, bd->tg, with_ids));
        if (with_ids)
            alts[i] = fit_body(
                s, runner_request_body(s->o, s->served, contexts[i].data, user, bd->tg, 0));
        request_init(&reqs[i]);
        jobs[i].url = s->chat_url.data;
        jobs[i].body = bodies[i];
        jobs[i].alt_body = alts[i];
        jobs[i].req = &reqs[i];
        jobs[i].user = &tracks[i];
        tracks[i].id = -1;
        if (bd->run_index >= 0 && s->prog) {
            tracks[i].id = s->next_request_id++;
            progress_request_start(s->prog, clock_now_ns(), tracks[i].id, s->model,
                                   s->o->base_url, bd->pp, bd->tg, bd->depth, bd->concurrency,
                                   bd->run_index);
        }
    }
    driver_hooks hooks = {hook_data, hook_done, s};
    int rc = driver_run_burst(s->d, jobs, (size_t)n, &hooks);
    char rerr[512];
    if (record_flush(s->rec, rerr, sizeof rerr))
        log_warn("%s", rerr);
    if (driver_token_ids_refused(s->d))
        s->token_ids_off = true;
    int failed = 0;
    for (int i = 0; i < n; i++)
        if (reqs[i].error) {
            failed++;
            log_failure(s, &reqs[i]);
        }
    for (int i = 0; i < n; i++) {
        free(bodies[i]);
        free(alts[i]);
    }
    free(bodies);
    free(alts);
    free(jobs);
    free(tracks);
    return rc ? -1 : failed;
}

/* Adds n finished requests to the cell's load figures. due_ns (may be NULL)
 * holds each request's intended send time; span_ns is the wall time the
 * batch or scenario took. */
static void account(suite *s, const tb_request *const *reqs, const int64_t *due_ns, size_t n,
                    int64_t span_ns, int expected_pp)
{
    cell_acc *a = s->acc;
    a->span_s += (double)span_ns / 1e9;
    for (size_t i = 0; i < n; i++) {
        const tb_request *r = reqs[i];
        if (due_ns) {
            stats_add(&a->lag_ms, (double)(r->start_ns - due_ns[i]) / 1e6);
            if (!r->error && r->first_token_ns)
                stats_add(&a->ttft_intended_ms, (double)(r->first_token_ns - due_ns[i]) / 1e6);
            if (!r->error)
                stats_add(&a->e2el_intended_ms, (double)(r->end_ns - due_ns[i]) / 1e6);
        }
        if (r->error) {
            a->n_err++;
            continue;
        }
        a->n_ok++;
        stats_add(&a->e2el_ms, (double)(r->end_ns - r->start_ns) / 1e6);
        if (s->slo.n) {
            metrics_request m;
            metrics_request_compute(r, s->latency_ns, expected_pp, &m);
            slo_request_values v = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
            if (r->first_token_ns) {
                v.e2e_ttft_ms = m.e2e_ttft_s * 1e3;
                v.ttft_ms = m.ttft_s * 1e3;
                v.est_ppt_ms = m.est_ppt_s * 1e3;
            }
            if (r->first_response_ns)
                v.ttfr_ms = m.ttfr_s * 1e3;
            v.e2el_ms = (double)(r->end_ns - r->start_ns) / 1e6;
            if (m.tg_tps > 0)
                v.tg_tps = m.tg_tps;
            if (m.pp_tps > 0)
                v.pp_tps = m.pp_tps;
            a->n_good += slo_request_ok(&s->slo, &v);
        }
    }
}

static cJSON *raw_float(double v)
{
    char t[64];
    report_pyfloat(v, t, sizeof t);
    return cJSON_CreateRaw(t);
}

/* {mean, p50, p90, p95, p99, max, values} of a sample in ms, or null. */
static cJSON *summary(const stats *st)
{
    if (st->n == 0)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "mean", raw_float(stats_mean(st->values, st->n)));
    static const double P[] = {50, 90, 95, 99};
    static const char *const K[] = {"p50", "p90", "p95", "p99"};
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToObject(o, K[i], raw_float(stats_percentile(st->values, st->n, P[i])));
    cJSON_AddItemToObject(o, "max", raw_float(stats_percentile(st->values, st->n, 100)));
    cJSON *vals = cJSON_AddArrayToObject(o, "values");
    for (size_t i = 0; i < st->n; i++)
        cJSON_AddItemToArray(vals, raw_float(st->values[i]));
    return o;
}

static cJSON *opt_kb(int64_t v)
{
    return v < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)v);
}

/* Attaches the cell's load figures to run (the last results_run added). */
static void attach_extras(suite *s, results_run *run, const char *mode)
{
    cell_acc *a = s->acc;
    cJSON *x = cJSON_CreateObject();
    int total = a->n_ok + a->n_err;
    cJSON_AddStringToObject(x, "load_mode", mode);
    cJSON_AddItemToObject(x, "requests_per_second",
                          a->span_s > 0 ? raw_float(a->n_ok / a->span_s) : cJSON_CreateNull());
    cJSON_AddItemToObject(x, "error_rate",
                          total ? raw_float((double)a->n_err / total) : cJSON_CreateNull());
    cJSON_AddItemToObject(x, "goodput", s->slo.n && total ? raw_float((double)a->n_good / total)
                                                          : cJSON_CreateNull());
    cJSON_AddItemToObject(x, "measured_s", raw_float(a->span_s));
    cJSON_AddItemToObject(x, "e2el", summary(&a->e2el_ms));
    if (a->load_mode) {
        cJSON_AddItemToObject(x, "dispatch_lag", summary(&a->lag_ms));
        cJSON_AddItemToObject(x, "e2e_ttft_from_intended", summary(&a->ttft_intended_ms));
        cJSON_AddItemToObject(x, "e2el_from_intended", summary(&a->e2el_intended_ms));
    }
    if (s->o->monitor_pid) {
        cJSON *m = cJSON_AddObjectToObject(x, "monitor");
        cJSON_AddNumberToObject(m, "pid", (double)s->o->monitor_pid);
        cJSON_AddItemToObject(m, "peak_rss_kb", opt_kb(a->have_mon ? a->mon_rss_max_kb : -1));
        cJSON_AddItemToObject(m, "vm_hwm_kb", opt_kb(a->have_mon ? a->mon_hwm_kb : -1));
        cJSON_AddItemToObject(m, "pswpout_pages",
                              opt_kb(a->have_mon && a->mon_swp0 >= 0 && a->mon_swp1 >= 0
                                         ? a->mon_swp1 - a->mon_swp0
                                         : -1));
    }
    run->extra = x;
    size_t np = s->o->n_percentiles;
    if (np) {
        run->pct_e2e_ttft_ms = xmalloc(np * sizeof(double));
        run->pct_itl_ms = xmalloc(np * sizeof(double));
        for (size_t k = 0; k < np; k++) {
            double p = s->o->percentiles[k];
            run->pct_e2e_ttft_ms[k] = run->e2e_ttft.present
                                          ? stats_percentile(run->e2e_ttft.values, run->e2e_ttft.n, p)
                                          : NAN;
            run->pct_itl_ms[k] =
                run->itl.present ? stats_percentile(run->itl.values, run->itl.n, p) : NAN;
        }
    }
}

static void acc_free(cell_acc *a)
{
    stats_free(&a->e2el_ms);
    stats_free(&a->lag_ms);
    stats_free(&a->ttft_intended_ms);
    stats_free(&a->e2el_intended_ms);
}

static void clear_requests(tb_request *reqs, int n)
{
    for (int i = 0; i < n; i++)
        request_clear(&reqs[i]);
}

/* Runs --post-run-cmd with its stdout sent to stderr: stdout is the report's. */
static void post_run(const char *cmd)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("post-run command: fork failed");
        return;
    }
    if (pid == 0) {
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        log_warn("post-run command failed (status %d): %s",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, cmd);
}

/* The signal that asked to stop (SIGINT or SIGTERM), 0 while running. The
 * driver loops watch it; a second SIGINT exits at once. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    if (interrupted && sig == SIGINT)
        _exit(130);
    interrupted = sig;
}

/* ---- load modes ---- */

#define LOAD_POOL_MAX 64

typedef struct load_feed {
    suite *s;
    const batch_desc *bd;
    char **bodies, **alts;   /* the prompt pool, cycled */
    size_t n_pool;
    tb_request **reqs;       /* one per started request (owned) */
    driver_job **jobs;
    track **tracks;
    int64_t *due;            /* intended send times (absolute) */
    size_t n, cap;
    int64_t t0, deadline_ns; /* deadline 0 = none */
    size_t limit;            /* 0 = none */
    int64_t *offsets;        /* open loop: arrival offsets from t0, NULL = closed loop */
    size_t n_offsets;
} load_feed;

static int feed_next(void *ctx, int64_t now_ns, driver_job **job, int64_t *due_ns)
{
    load_feed *f = ctx;
    if (f->limit && f->n >= f->limit)
        return 0;
    int64_t due = now_ns;
    if (f->offsets) {
        if (f->n >= f->n_offsets)
            return 0;
        due = f->t0 + f->offsets[f->n];
        if (f->deadline_ns && due >= f->deadline_ns)
            return 0;
    } else if (f->deadline_ns && now_ns >= f->deadline_ns) {
        return 0;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->reqs = xrealloc(f->reqs, f->cap * sizeof *f->reqs);
        f->jobs = xrealloc(f->jobs, f->cap * sizeof *f->jobs);
        f->tracks = xrealloc(f->tracks, f->cap * sizeof *f->tracks);
        f->due = xrealloc(f->due, f->cap * sizeof *f->due);
    }
    size_t i = f->n++;
    size_t k = i % f->n_pool;
    f->reqs[i] = xcalloc(1, sizeof **f->reqs);
    f->jobs[i] = xcalloc(1, sizeof **f->jobs);
    f->tracks[i] = xcalloc(1, sizeof **f->tracks);
    request_init(f->reqs[i]);
    f->due[i] = due;
    driver_job *j = f->jobs[i];
    j->url = f->s->chat_url.data;
    j->body = f->bodies[k];
    j->alt_body = f->alts[k];
    j->req = f->reqs[i];
    j->user = f->tracks[i];
    f->tracks[i]->id = -1;
    const batch_desc *bd = f->bd;
    if (bd->run_index >= 0 && f->s->prog) {
        f->tracks[i]->id = f->s->next_request_id++;
        progress_request_start(f->s->prog, now_ns, f->tracks[i]->id, f->s->model,
                               f->s->o->base_url, bd->pp, bd->tg, bd->depth, bd->concurrency,
                               bd->run_index);
    }
    *job = j;
    *due_ns = due;
    return 1;
}

/* Runs one load scenario (a measured or warm-up run of a load cell). The
 * finished requests go to cell (when measured) as one batch. Returns the
 * number of failed requests, or -1 on an internal error. */
static int run_load(suite *s, const batch_desc *bd, int ctx_tokens, int pp_tokens,
                    results_cell *cell, int expected_pp)
{
    const cli_options *o = s->o;
    load_feed f;
    memset(&f, 0, sizeof f);
    f.s = s;
    f.bd = bd;
    f.limit = (size_t)o->num_requests;
    size_t want = f.limit ? f.limit : (size_t)bd->concurrency * 2;
    f.n_pool = want < LOAD_POOL_MAX ? want : LOAD_POOL_MAX;
    if (f.n_pool < 1)
        f.n_pool = 1;
    f.bodies = xcalloc(f.n_pool, sizeof *f.bodies);
    f.alts = xcalloc(f.n_pool, sizeof *f.alts);
    int rc = 0;
    bool with_ids = !s->token_ids_off;
    buf ctx, prompt;
    buf_init(&ctx, 0);
    buf_init(&prompt, 0);
    for (size_t k = 0; k < f.n_pool; k++) {
        bool wrapped = false;
        char err[512];
        if (prompts_make(s->pr, ctx_tokens, pp_tokens, o->no_cache, &ctx, &prompt, &wrapped, err,
                         sizeof err)) {
            log_error("cannot build a prompt: %s", err);
            rc = -1;
            break;
        }
        if (wrapped && !s->warned_wrap) {
            log_warn("depth %d + pp %d is longer than the corpus: the text wraps around "
                     "(with a marker)",
                     bd->depth, bd->pp);
            s->warned_wrap = true;
        }
        f.bodies[k] = fit_body(
            s, runner_request_body(o, s->served, ctx.data, prompt.data, bd->tg, with_ids));
        if (with_ids)
            f.alts[k] =
                fit_body(s, runner_request_body(o, s->served, ctx.data, prompt.data, bd->tg, 0));
    }
    buf_free(&ctx);
    buf_free(&prompt);
    size_t in_flight = (size_t)bd->concurrency;
    if (rc == 0 && o->request_rate > 0) {
        in_flight = (size_t)o->max_concurrency;
        f.n_offsets = f.limit ? f.limit : (size_t)ceil(o->request_rate * o->duration_s) * 2 + 64;
        if (f.n_offsets > 1000000)
            f.n_offsets = 1000000;
        f.offsets = xmalloc(f.n_offsets * sizeof *f.offsets);
        arrivals_config ac = {o->request_rate, o->burstiness,
                              o->seed ^ (uint64_t)(bd->run_index + 2) * UINT64_C(0x9E3779B97F4A7C15)};
        if (arrivals_schedule(&ac, f.offsets, f.n_offsets)) {
            log_error("invalid arrival schedule parameters");
            rc = -1;
        }
    }
    if (rc == 0) {
        f.t0 = clock_now_ns();
        if (o->duration_s > 0)
            f.deadline_ns = f.t0 + (int64_t)(o->duration_s * 1e9);
        driver_feed feed = {feed_next, &f};
        driver_hooks hooks = {hook_data, hook_done, s};
        if (driver_run_feed(s->d, &feed, in_flight, &hooks))
            rc = -1;
        char rerr[512];
        if (record_flush(s->rec, rerr, sizeof rerr))
            log_warn("%s", rerr);
        if (driver_token_ids_refused(s->d))
            s->token_ids_off = true;
    }
    int failed = 0;
    int64_t end = f.t0;
    for (size_t i = 0; i < f.n; i++) {
        if (f.reqs[i]->error) {
            failed++;
            log_failure(s, f.reqs[i]);
        }
        if (f.reqs[i]->end_ns > end)
            end = f.reqs[i]->end_ns;
    }
    if (rc == 0 && bd->run_index >= 0 && f.n > 0 && !interrupted) {
        account(s, (const tb_request *const *)f.reqs, f.due, f.n, end - f.t0, expected_pp);
        tb_request *flat = xmalloc(f.n * sizeof *flat);
        for (size_t i = 0; i < f.n; i++)
            flat[i] = *f.reqs[i];
        results_cell_add_batch(cell, flat, f.n);
        cacheverify_add(s->cv, flat, f.n);
        free(flat);
    }
    for (size_t i = 0; i < f.n; i++) {
        request_clear(f.reqs[i]);
        free(f.reqs[i]);
        free(f.jobs[i]);
        free(f.tracks[i]);
    }
    for (size_t k = 0; k < f.n_pool; k++) {
        free(f.bodies[k]);
        free(f.alts[k]);
    }
    free(f.bodies);
    free(f.alts);
    free(f.reqs);
    free(f.jobs);
    free(f.tracks);
    free(f.due);
    free(f.offsets);
    return rc ? -1 : failed;
}

static bool load_mode(const cli_options *o)
{
    return o->request_rate > 0 || o->duration_s > 0 || o->num_requests > 0;
}

static const char *mode_name(const cli_options *o)
{
    if (o->request_rate > 0)
        return isinf(o->request_rate) ? "request_rate_inf" : "request_rate";
    if (o->duration_s > 0)
        return "duration";
    if (o->num_requests > 0)
        return "num_requests";
    return "burst";
}

/* Runs one cell; returns 0, 1 when the suite must stop (failure under
 * --exit-on-first-fail), or -1 on an internal error. */
static int run_cell(suite *s, int depth, int pp, int tg, int conc)
{
    const cli_options *o = s->o;
    bool two_phase = o->enable_prefix_caching && depth > 0;
    if (o->request_rate > 0) /* the in-flight cap stands for the concurrency */
        conc = o->max_concurrency ? o->max_concurrency : (o->num_requests ? o->num_requests : 1);
    log_info("running test: pp=%d, tg=%d, depth=%d, concurrency=%d", pp, tg, depth, conc);
    ttyline_cell(s->tty, clock_now_ns(), s->cell_index++, pp, tg, depth, conc);
    int cur_pp = pp, cur_depth = depth;
    if (o->adapt_prompt) {
        if (depth == 0)
            cur_pp = pp - s->delta_user > 1 ? pp - s->delta_user : 1;
        else
            cur_depth = depth - s->delta_context > 1 ? depth - s->delta_context : 1;
    }
    results_cell_params cp = {
        .model = s->model,
        .pp = pp,
        .tg = tg,
        .depth = depth,
        .concurrency = conc,
        .is_context_phase = false,
        .expected_pp_tokens = two_phase ? cur_pp : cur_pp + cur_depth,
        .latency_ns = s->latency_ns,
        .save_total_series = o->save_total_throughput_timeseries,
        .save_all_series = o->save_all_throughput_timeseries,
        .prompt_count_source = prompts_source_name(s->pr),
    };
    results_cell *cell = results_cell_new(&cp);
    results_cell *ctx_cell = NULL;
    cacheverify *ctx_cv = NULL;
    s->cv = cacheverify_new(two_phase     ? CV_MODE_CACHED
                            : o->no_cache ? CV_MODE_NO_CACHE
                                          : CV_MODE_PLAIN,
                            two_phase ? cur_depth : 0);
    if (two_phase) {
        ctx_cv = cacheverify_new(CV_MODE_COLD, 0);
        results_cell_params cc = cp;
        cc.is_context_phase = true;
        cc.expected_pp_tokens = cur_depth;
        ctx_cell = results_cell_new(&cc);
    }
    buf *contexts = xcalloc((size_t)conc, sizeof *contexts);
    buf *prompts_text = xcalloc((size_t)conc, sizeof *prompts_text);
    tb_request *reqs = xcalloc((size_t)conc, sizeof *reqs);
    for (int i = 0; i < conc; i++) {
        buf_init(&contexts[i], 0);
        buf_init(&prompts_text[i], 0);
    }
    cell_acc acc;
    memset(&acc, 0, sizeof acc);
    acc.load_mode = load_mode(o);
    s->acc = &acc;
    monitor_update(s, clock_now_ns(), true);
    int batches_added = 0;
    int warm = o->no_warmup ? 0 : o->warmup_runs;
    int stop = 0;
    s->cell_fail_logged = 0;
    s->cell_fail_hidden = 0;
    for (int run = 0; run < warm + o->runs && !stop; run++) {
        bool is_warmup = run < warm;
        int run_index = is_warmup ? -1 : run - warm;
        if (interrupted) {
            stop = 1;
            break;
        }
        if (is_warmup)
            log_info("  warm-up %d/%d (batch size %d)...", run + 1, warm, conc);
        else
            log_info("  run %d/%d (batch size %d)...", run_index + 1, o->runs, conc);
        ttyline_run(s->tty, clock_now_ns(), is_warmup ? run + 1 : run_index + 1,
                    is_warmup ? warm : o->runs, is_warmup);
        if (acc.load_mode) {
            batch_desc lb = {pp, tg, depth, conc, run_index, false};
            int failed = run_load(s, &lb, cur_depth > 0 ? cur_depth : 0, cur_pp, cell,
                                  cp.expected_pp_tokens);
            if (failed < 0) {
                stop = -1;
                break;
            }
            if (!is_warmup && !interrupted)
                batches_added++;
            s->failed_requests += failed;
            if (server_unreachable(s, failed)) {
                stop = 1;
                break;
            }
            if (interrupted) {
                stop = 1;
                break;
            }
            if (failed && o->exit_on_first_fail) {
                log_error("stopping due to an error in a run");
                stop = 1;
                break;
            }
            if (o->post_run_cmd) {
                ttyline_erase(s->tty);
                post_run(o->post_run_cmd);
            }
            continue;
        }
        for (int i = 0; i < conc; i++) {
            bool wrapped = false;
            char err[512];
            if (prompts_make(s->pr, cur_depth > 0 ? cur_depth : 0, cur_pp, o->no_cache,
                             &contexts[i], &prompts_text[i], &wrapped, err, sizeof err)) {
                log_error("cannot build a prompt: %s", err);
                stop = -1;
                break;
            }
            if (wrapped && !s->warned_wrap) {
                log_warn("depth %d + pp %d is longer than the corpus: the text wraps around "
                         "(with a marker)",
                         depth, pp);
                s->warned_wrap = true;
            }
        }
        if (stop)
            break;
        batch_desc bd = {pp, tg, depth, conc, run_index, false};
        if (two_phase) {
            bd.context_load = true;
            int failed = run_batch(s, &bd, contexts, prompts_text, reqs);
            if (failed < 0) {
                stop = -1;
                break;
            }
            if (!is_warmup) {
                results_cell_add_batch(ctx_cell, reqs, (size_t)conc);
                cacheverify_add(ctx_cv, reqs, (size_t)conc);
            }
            s->failed_requests += failed;
            clear_requests(reqs, conc);
            if (server_unreachable(s, failed)) {
                stop = 1;
                break;
            }
            if (failed && o->exit_on_first_fail) {
                log_error("stopping due to an error in the context load");
                stop = 1;
                break;
            }
            bd.context_load = false;
        }
        int failed = run_batch(s, &bd, contexts, prompts_text, reqs);
        if (failed < 0) {
            stop = -1;
            break;
        }
        if (interrupted) {
            /* A burst cut short is not a measurement. */
            clear_requests(reqs, conc);
            stop = 1;
            break;
        }
        if (!is_warmup) {
            results_cell_add_batch(cell, reqs, (size_t)conc);
            cacheverify_add(s->cv, reqs, (size_t)conc);
            const tb_request *ptrs[conc];
            int64_t lo = reqs[0].start_ns, hi = reqs[0].end_ns;
            for (int i = 0; i < conc; i++) {
                ptrs[i] = &reqs[i];
                lo = reqs[i].start_ns < lo ? reqs[i].start_ns : lo;
                hi = reqs[i].end_ns > hi ? reqs[i].end_ns : hi;
            }
            account(s, ptrs, NULL, (size_t)conc, hi - lo, cp.expected_pp_tokens);
            batches_added++;
        }
        s->failed_requests += failed;
        clear_requests(reqs, conc);
        if (server_unreachable(s, failed)) {
            stop = 1;
            break;
        }
        if (failed && o->exit_on_first_fail) {
            log_error("stopping due to an error in %s", two_phase ? "inference" : "a run");
            stop = 1;
            break;
        }
        if (o->post_run_cmd) {
            ttyline_erase(s->tty);
            post_run(o->post_run_cmd);
        }
    }
    monitor_update(s, clock_now_ns(), true);
    if (s->cell_fail_hidden > 0)
        log_warn("%d more failed request(s) in this cell not shown (the report's \"failures\" "
                 "counts every one)",
                 s->cell_fail_hidden);
    /* An interrupted cell keeps the runs that completed. */
    if (stop && !(interrupted && stop > 0 && batches_added > 0)) {
        results_cell_free(cell);
        if (ctx_cell)
            results_cell_free(ctx_cell);
    } else {
        if (ctx_cell)
            results_cell_finish(ctx_cell, &s->res);
        results_cell_finish(cell, &s->res);
        attach_extras(s, &s->res.runs[s->res.n_runs - 1], mode_name(o));
        char what[128], warn[1024];
        results_test_name(&s->res, &s->res.runs[s->res.n_runs - 1], 0, what, sizeof what);
        cacheverify_attach(s->cv, &s->res.runs[s->res.n_runs - 1].extra);
        if (cacheverify_warning(s->cv, what, warn, sizeof warn))
            log_warn("%s", warn);
        if (ctx_cv) {
            results_run *ctx_run = &s->res.runs[s->res.n_runs - 2];
            results_test_name(&s->res, ctx_run, 0, what, sizeof what);
            cacheverify_attach(ctx_cv, &ctx_run->extra);
            if (cacheverify_warning(ctx_cv, what, warn, sizeof warn))
                log_warn("%s", warn);
        }
    }
    cacheverify_free(s->cv);
    s->cv = NULL;
    cacheverify_free(ctx_cv);
    s->acc = NULL;
    acc_free(&acc);
    for (int i = 0; i < conc; i++) {
        buf_free(&contexts[i]);
        buf_free(&prompts_text[i]);
    }
    free(contexts);
    free(prompts_text);
    free(reqs);
    return stop;
}

static int max_of(const cli_int_list *l)
{
    int m = 0;
    for (size_t i = 0; i < l->n; i++)
        m = l->v[i] > m ? l->v[i] : m;
    return m;
}

/* Writes one more output file (--html, --prom-textfile) beside the report. */
static int write_extra(const char *path, const char *what, const results *r,
                       int (*writer)(const results *, FILE *))
{
    FILE *f = fopen(path, "w");
    if (!f) {
        log_error("cannot write the %s to %s", what, path);
        return -1;
    }
    int rc = writer(r, f);
    if (fclose(f))
        rc = -1;
    if (rc)
        log_error("writing the %s to %s failed", what, path);
    else
        log_info("%s written to %s", what, path);
    return rc;
}

/* Writes the report: the markdown table always to stdout (stderr when
 * stdout carries progress JSONL), JSON/CSV to stdout unless saved. */
static int write_report(suite *s)
{
    const cli_options *o = s->o;
    FILE *console = (o->emit_progress && strcmp(o->emit_progress, "-") == 0) ? stderr : stdout;
    int rc = 0;
    if (o->format == CLI_FORMAT_MD) {
        rc |= report_md(&s->res, console);
        /* llama-benchy's footer; the version is a PEP 440 local version
         * ("0.4.0+tokbench.0.1.0") so tools reading "llama-benchy (X)" still
         * parse the release tokbench follows. */
        fprintf(console, "\nllama-benchy (%s+tokbench.%s)\ndate: %s | latency mode: %s\n",
                TOKBENCH_COMPAT_VERSION, TOKBENCH_VERSION, s->res.timestamp,
                s->res.latency_mode);
        for (size_t i = 0; i < s->n_answer_lines; i++)
            fprintf(console, "%s%s\n", i ? "" : "\n", s->answer_lines[i]);
    }
    if (o->save_result) {
        FILE *f = fopen(o->save_result, "w");
        if (!f) {
            log_error("cannot write %s", o->save_result);
            return -1;
        }
        if (o->format == CLI_FORMAT_MD)
            rc |= report_md_file(&s->res, f);
        else if (o->format == CLI_FORMAT_JSON)
            rc |= report_json_file(&s->res, f);
        else
            rc |= report_csv(&s->res, f);
        if (fclose(f))
            rc = -1;
        if (!rc)
            log_info("results saved to %s", o->save_result);
    } else if (o->format == CLI_FORMAT_JSON) {
        rc |= report_json(&s->res, console);
    } else if (o->format == CLI_FORMAT_CSV) {
        rc |= report_csv(&s->res, console);
    }
    fflush(console);
    if (o->html && write_extra(o->html, "HTML report", &s->res, report_html))
        rc = -1;
    if (o->prom_textfile &&
        write_extra(o->prom_textfile, "Prometheus textfile", &s->res, report_prom))
        rc = -1;
    return rc ? -1 : 0;
}

static void set_metadata(suite *s)
{
    char stamp[64];
    time_t secs = (time_t)(s->wall0_ns / 1000000000);
    struct tm tm;
    localtime_r(&secs, &tm); /* llama-benchy: datetime.now() */
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    const char *mode = s->o->latency_mode == CLI_LATENCY_API          ? "api"
                       : s->o->latency_mode == CLI_LATENCY_GENERATION ? "generation"
                                                                      : "none";
    results_meta m = {
        .version = TOKBENCH_COMPAT_VERSION,
        .timestamp = stamp,
        .latency_mode = mode,
        .latency_ms = (double)s->latency_ns / 1e6,
        .model = s->model,
        .prefix_caching_enabled = s->o->enable_prefix_caching,
        .max_concurrency = s->o->request_rate > 0
                               ? (s->o->max_concurrency ? s->o->max_concurrency
                                                        : (s->o->num_requests ? s->o->num_requests : 1))
                               : max_of(&s->o->concurrency),
        .prompt_count_source = prompts_source_name(s->pr),
    };
    results_set_meta(&s->res, &m);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "tokbench_version", TOKBENCH_VERSION);
    cJSON_AddItemToObject(x, "prompt_wrapped", cJSON_CreateBool(s->warned_wrap));
    /* How prompt sizes were had: see prompts_method(). */
    cJSON_AddStringToObject(x, "prompt_count_method", prompts_method(s->pr));
    cJSON_AddNumberToObject(x, "prompt_measure_probes", prompts_probe_count(s->pr));
    cJSON_AddStringToObject(x, "load_mode", mode_name(s->o));
    if (s->o->request_rate > 0) {
        cJSON_AddItemToObject(x, "request_rate", isinf(s->o->request_rate)
                                                     ? cJSON_CreateString("inf")
                                                     : raw_float(s->o->request_rate));
        cJSON_AddItemToObject(x, "burstiness", raw_float(s->o->burstiness));
    }
    cJSON_AddItemToObject(x, "duration_s",
                          s->o->duration_s > 0 ? raw_float(s->o->duration_s) : cJSON_CreateNull());
    if (s->o->num_requests)
        cJSON_AddNumberToObject(x, "num_requests", s->o->num_requests);
    else
        cJSON_AddNullToObject(x, "num_requests");
    s->res.server_columns = s->o->server_columns;
    /* Whether the stamps were read at real-time priority (--realtime granted). */
    cJSON_AddBoolToObject(x, "realtime", s->o->realtime);
    if (s->o->n_percentiles) { /* so `tokbench report` can rebuild the columns */
        cJSON *pc = cJSON_AddArrayToObject(x, "percentiles");
        for (size_t i = 0; i < s->o->n_percentiles; i++)
            cJSON_AddItemToArray(pc, raw_float(s->o->percentiles[i]));
    }
    s->res.meta_extra = x;
    if (s->o->n_percentiles) {
        s->res.percentiles = xmalloc(s->o->n_percentiles * sizeof(double));
        memcpy(s->res.percentiles, s->o->percentiles, s->o->n_percentiles * sizeof(double));
        s->res.n_percentiles = s->o->n_percentiles;
    }
}

static void answer(suite *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf b;
    buf_init(&b, 0);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    s->answer_lines = xrealloc(s->answer_lines, (s->n_answer_lines + 1) * sizeof(char *));
    s->answer_lines[s->n_answer_lines++] = xstrdup(b.data ? b.data : "");
    buf_free(&b);
}

/* One line per cell with failed requests, printed after the markdown table
 * (logged in the other formats): a reader of the table learns that some
 * values are missing and why. */
static void failure_answers(suite *s)
{
    const results *r = &s->res;
    for (size_t k = 0; k < r->n_runs; k++) {
        const results_run *run = &r->runs[k];
        const results_failures *f = &run->failures;
        if (f->count == 0)
            continue;
        char pp_name[128], tg_name[128];
        results_test_name(r, run, 0, pp_name, sizeof pp_name);
        results_test_name(r, run, 1, tg_name, sizeof tg_name);
        buf kinds;
        buf_init(&kinds, 0);
        for (size_t i = 0; i < f->n_kinds; i++)
            buf_printf(&kinds, "%s%s: %d", i ? ", " : "", f->kinds[i].kind, f->kinds[i].count);
        answer(s, "failed requests in %s / %s: %d of %d (%s), left out of the numbers",
               pp_name, tg_name, f->count, run->n_requests, kinds.data ? kinds.data : "");
        buf_free(&kinds);
    }
}

/* e2el of a run's successful requests, ms (new array, count in *n). */
static double *run_e2el(const results_run *run, size_t *n)
{
    double *v = xmalloc((run->n_request_records + 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; i < run->n_request_records; i++)
        if (!run->requests[i].error)
            v[(*n)++] = (double)(run->requests[i].end_ns - run->requests[i].start_ns) / 1e6;
    return v;
}

/* The sweep answers: depth recommendation and cliffs per (pp, tg, c), the
 * concurrency knee per (depth, pp, tg). */
static void analyse(suite *s)
{
    const cli_options *o = s->o;
    results *r = &s->res;
    cJSON *sweeps = cJSON_CreateArray();
    cJSON *knees = cJSON_CreateArray();
    capacity_point *pts = xcalloc(r->n_runs + 1, sizeof *pts);
    size_t *idx = xcalloc(r->n_runs + 1, sizeof *idx);
    bool *cliff = xcalloc(r->n_runs + 1, sizeof *cliff);
    for (int pass = 0; pass < 2; pass++) {
        bool by_depth = pass == 0;
        if ((by_depth ? o->depth.n : o->concurrency.n) < 2)
            continue;
        bool *seen = xcalloc(r->n_runs + 1, sizeof *seen);
        for (size_t a = 0; a < r->n_runs; a++) {
            const results_run *ra = &r->runs[a];
            if (seen[a] || ra->is_context_prefill_phase)
                continue;
            size_t n = 0;
            for (size_t b = a; b < r->n_runs; b++) {
                const results_run *rb = &r->runs[b];
                if (rb->is_context_prefill_phase || rb->prompt_size != ra->prompt_size ||
                    rb->response_size != ra->response_size)
                    continue;
                if (by_depth ? rb->concurrency != ra->concurrency
                             : rb->context_size != ra->context_size)
                    continue;
                seen[b] = true;
                capacity_point *pt = &pts[n];
                pt->x = by_depth ? rb->context_size : rb->concurrency;
                pt->tg = rb->tg_throughput.present ? rb->tg_throughput.mean : NAN;
                pt->failed = rb->n_errors > 0;
                size_t ne = 0;
                double *e = run_e2el(rb, &ne);
                pt->p50 = ne ? stats_percentile(e, ne, 50) : NAN;
                pt->p95 = ne ? stats_percentile(e, ne, 95) : NAN;
                free(e);
                idx[n++] = b;
            }
            if (n < 2)
                continue;
            if (by_depth) {
                int best = capacity_recommend(pts, n, o->tg_tolerance, CAPACITY_DEFAULT_CLIFF,
                                              cliff);
                cJSON *j = cJSON_CreateObject();
                cJSON_AddNumberToObject(j, "pp", ra->prompt_size);
                cJSON_AddNumberToObject(j, "tg", ra->response_size);
                cJSON_AddNumberToObject(j, "concurrency", ra->concurrency);
                cJSON_AddItemToObject(j, "tolerance", raw_float(o->tg_tolerance));
                if (best >= 0) {
                    cJSON_AddNumberToObject(j, "recommended_depth", pts[best].x);
                    answer(s,
                           "Recommended max context (pp%d, tg%d, c%d): %.0f tokens (tg %.2f t/s, "
                           "within %.0f%% of %.2f t/s at depth %.0f, no failures)",
                           ra->prompt_size, ra->response_size, ra->concurrency, pts[best].x,
                           pts[best].tg, o->tg_tolerance * 100, pts[0].tg, pts[0].x);
                } else {
                    cJSON_AddNullToObject(j, "recommended_depth");
                    answer(s, "Recommended max context (pp%d, tg%d, c%d): none (no depth met "
                              "the criteria)",
                           ra->prompt_size, ra->response_size, ra->concurrency);
                }
                cJSON *cl = cJSON_AddArrayToObject(j, "cliffs");
                for (size_t i = 0; i + 1 < n; i++) {
                    if (!cliff[i])
                        continue;
                    double drop = 1.0 - pts[i + 1].tg / pts[i].tg;
                    cJSON *c = cJSON_CreateObject();
                    cJSON_AddNumberToObject(c, "from_depth", pts[i].x);
                    cJSON_AddNumberToObject(c, "to_depth", pts[i + 1].x);
                    cJSON_AddItemToObject(c, "drop", raw_float(drop));
                    cJSON_AddItemToArray(cl, c);
                    answer(s, "Throughput cliff: tg drops %.0f%% from depth %.0f to %.0f "
                              "(%.2f -> %.2f t/s)",
                           drop * 100, pts[i].x, pts[i + 1].x, pts[i].tg, pts[i + 1].tg);
                }
                cJSON_AddItemToArray(sweeps, j);
            } else {
                const char *why = NULL;
                int k = capacity_knee(pts, n, CAPACITY_KNEE_RATIO, CAPACITY_KNEE_GAIN, &why);
                cJSON *j = cJSON_CreateObject();
                cJSON_AddNumberToObject(j, "depth", ra->context_size);
                cJSON_AddNumberToObject(j, "pp", ra->prompt_size);
                cJSON_AddNumberToObject(j, "tg", ra->response_size);
                if (k >= 0) {
                    cJSON_AddNumberToObject(j, "knee_concurrency", pts[k].x);
                    cJSON_AddStringToObject(j, "reason", why);
                    answer(s, "Concurrency knee (pp%d, tg%d, d%d): c%.0f (%s)", ra->prompt_size,
                           ra->response_size, ra->context_size, pts[k].x,
                           strcmp(why, "latency") == 0
                               ? "p95 request latency above twice p50"
                               : "total throughput rose by 5% or less");
                } else {
                    cJSON_AddNullToObject(j, "knee_concurrency");
                    cJSON_AddNullToObject(j, "reason");
                    answer(s, "Concurrency knee (pp%d, tg%d, d%d): none up to c%.0f",
                           ra->prompt_size, ra->response_size, ra->context_size, pts[n - 1].x);
                }
                cJSON_AddItemToArray(knees, j);
            }
        }
        free(seen);
    }
    free(pts);
    free(idx);
    free(cliff);
    cJSON_AddItemToObject(r->meta_extra, "context_sweep", sweeps);
    cJSON_AddItemToObject(r->meta_extra, "concurrency_knee", knees);
}

/* Checks the objectives on every cell; returns the number of breaches. */
static int check_slo(suite *s)
{
    if (!s->slo.n)
        return 0;
    results *r = &s->res;
    cJSON *j = cJSON_AddObjectToObject(r->meta_extra, "slo");
    cJSON_AddStringToObject(j, "spec", s->o->slo);
    cJSON *br = cJSON_AddArrayToObject(j, "breaches");
    int breaches = 0;
    for (size_t i = 0; i < s->slo.n; i++) {
        const slo_objective *ob = &s->slo.items[i];
        char text[128];
        slo_format(ob, text, sizeof text);
        for (size_t k = 0; k < r->n_runs; k++) {
            const results_run *run = &r->runs[k];
            if (run->is_context_prefill_phase)
                continue;
            double v = NAN;
            bool have = slo_value(ob, run, &v);
            if (have && slo_holds(ob, v))
                continue;
            char name[256];
            results_test_name(r, run, 0, name, sizeof name);
            cJSON *b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "objective", text);
            cJSON_AddStringToObject(b, "test", name);
            cJSON_AddItemToObject(b, "value", have ? raw_float(v) : cJSON_CreateNull());
            cJSON_AddItemToArray(br, b);
            breaches++;
            if (have)
                answer(s, "SLO breached: %s: measured %.4g (%s)", text, v, name);
            else
                answer(s, "SLO breached: %s: not measured (%s)", text, name);
        }
    }
    cJSON_AddItemToObject(j, "met", cJSON_CreateBool(breaches == 0));
    if (!breaches)
        answer(s, "SLO met: %s", s->o->slo);
    return breaches;
}

/* When no request ever got an HTTP response, the base URL is wrong (or the
 * server is down): bad usage, exit 2, with one line saying so. */
static void unreachable_exit(suite *s, int *status)
{
    if (!s->d || driver_server_reached(s->d))
        return;
    log_error("cannot reach the server at %s: no HTTP response to any request (check "
              "--base-url and that the server is running)",
              s->o->base_url);
    *status = RUNNER_USAGE;
}

int runner_run(const cli_options *o, int64_t mono0_ns, int64_t wall0_ns)
{
    suite s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.mono0_ns = mono0_ns;
    s.wall0_ns = wall0_ns;
    buf_init(&s.chat_url, 0);
    buf_printf(&s.chat_url, "%s/chat/completions", o->base_url);
    results_init(&s.res);
    int status = RUNNER_FAIL;
    if (o->slo) {
        char serr[400];
        if (slo_parse(o->slo, &s.slo, serr, sizeof serr)) {
            log_error("%s", serr);
            buf_free(&s.chat_url);
            return RUNNER_USAGE;
        }
    }
    char err[1024];
    const char *bench_status = "error";

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (corpus_load(&s.corp, o->book_url, err, sizeof err)) {
        log_error("%s", err);
        status = RUNNER_USAGE;
        goto out;
    }
    if (o->record_dir) {
        record_config rc = {.api_key = o->api_key, .mono0_ns = mono0_ns, .wall0_ns = wall0_ns};
        s.rec = record_open(o->record_dir, &rc, err, sizeof err);
        if (!s.rec) {
            log_error("%s", err);
            status = RUNNER_USAGE;
            goto out;
        }
    }
    int conns = max_of(&o->concurrency) + 8;
    if (o->request_rate > 0)
        conns = (o->max_concurrency ? o->max_concurrency : 256) + 8;
    driver_config dc = {
        .api_key = o->api_key,
        .timeout_s = o->timeout_s,
        .max_connections = conns,
        .stop = &interrupted,
        .request_timeout_s = o->request_timeout_s,
        .userinfo = o->base_url_userinfo,
        .rec = s.rec,
    };
    s.d = driver_new(&dc, err, sizeof err);
    if (!s.d) {
        log_error("%s", err);
        goto out;
    }
    if (o->emit_progress) {
        s.prog = progress_open(o->emit_progress, TOKBENCH_COMPAT_VERSION, mono0_ns, wall0_ns,
                               clock_now_ns(), err, sizeof err);
        if (!s.prog) {
            log_error("%s", err);
            status = RUNNER_USAGE;
            goto out;
        }
    }
    if (!o->model || o->server_kind == CLI_SERVER_AUTO)
        fetch_models(&s);
    if (o->model) {
        s.model = xstrdup(o->model);
    } else {
        log_info("no model specified, attempting to auto-detect from the endpoint...");
        if (detect_model(&s)) {
            unreachable_exit(&s, &status);
            goto out;
        }
    }
    s.served = xstrdup(o->served_model_name ? o->served_model_name : s.model);
    detect_server(&s);

    s.pr = prompts_new(&s.corp, s.d, o->base_url, s.served, o->seed);
    prompts_detect(s.pr);
    if (o->tokenizer)
        log_warn("--tokenizer %s: tokbench cannot load local tokenizers; token counts come "
                 "from %s",
                 o->tokenizer,
                 prompts_get_source(s.pr) == PROMPTS_CALIBRATED
                     ? "calibration against the server's usage.prompt_tokens"
                     : "the server's /tokenize");

    bool should_warmup = !o->no_warmup || o->adapt_prompt ||
                         prompts_get_source(s.pr) == PROMPTS_CALIBRATED;
    if (should_warmup && warmup(&s)) {
        unreachable_exit(&s, &status);
        goto out;
    }
    if (!o->skip_coherence) {
        if (coherence(&s)) {
            log_error("benchmark failed due to coherence test failure");
            unreachable_exit(&s, &status);
            goto out;
        }
    } else {
        log_info("skipping coherence test (--skip-coherence specified)");
    }
    s.latency_ns = measure_latency(&s);
    progress_latency(s.prog, clock_now_ns(), (double)s.latency_ns / 1e9,
                     o->latency_mode == CLI_LATENCY_API          ? "api"
                     : o->latency_mode == CLI_LATENCY_GENERATION ? "generation"
                                                                 : "none");

    /* auto: not when progress JSONL goes to the same terminal on stdout. */
    bool jsonl_on_tty = o->emit_progress && !strcmp(o->emit_progress, "-") &&
                        isatty(fileno(stdout));
    bool tty_on = o->progress_tty == CLI_PROGRESS_ON ||
                  (o->progress_tty == CLI_PROGRESS_AUTO && isatty(fileno(stderr)) &&
                   o->log_level >= LOG_INFO && !jsonl_on_tty);
    if (tty_on) {
        int cells = (int)(o->depth.n * o->pp.n * o->tg.n * o->concurrency.n);
        s.tty = ttyline_open(stderr, cells, (o->no_warmup ? 0 : o->warmup_runs) + o->runs,
                             clock_now_ns());
    }
    int stop = 0;
    for (size_t di = 0; di < o->depth.n && !stop; di++)
        for (size_t pi = 0; pi < o->pp.n && !stop; pi++)
            for (size_t ti = 0; ti < o->tg.n && !stop; ti++)
                for (size_t ci = 0; ci < o->concurrency.n && !stop; ci++)
                    stop = run_cell(&s, o->depth.v[di], o->pp.v[pi], o->tg.v[ti],
                                    o->concurrency.v[ci]);
    ttyline_close(s.tty);
    s.tty = NULL;
    set_metadata(&s);
    int early = 0;
    for (size_t i = 0; i < s.res.n_runs; i++)
        early += s.res.runs[i].early_role_chunks;
    if (early > 0)
        log_warn("the server sent a role-only event before prefill finished; est_ppt and pp "
                 "use the first token event instead (%d request(s))",
                 early);
    if (s.warned_wrap)
        log_warn("some prompts wrapped past the end of the corpus (JSON: \"prompt_wrapped\": "
                 "true)");
    failure_answers(&s);
    analyse(&s);
    int breaches = check_slo(&s);
    for (size_t i = 0; i < s.n_answer_lines; i++)
        if (o->format != CLI_FORMAT_MD || (o->emit_progress && !strcmp(o->emit_progress, "-"))) {
            if (strncmp(s.answer_lines[i], "SLO breached", 12) != 0)
                log_info("%s", s.answer_lines[i]);
            else if (!o->ci)
                log_warn("%s", s.answer_lines[i]);
        }
    if (s.unreachable) {
        unreachable_exit(&s, &status);
    } else if (stop < 0) {
        bench_status = "error";
        status = RUNNER_FAIL;
    } else if (stop > 0 || interrupted) {
        bench_status = interrupted ? "interrupted" : "error";
        status = interrupted ? 128 + (int)interrupted : RUNNER_FAIL;
        if (o->no_results_on_fail && !interrupted) {
            log_warn("results discarded per --no-results-on-fail");
        } else if (s.res.n_runs > 0 || o->save_result) {
            /* Even with nothing finished, --save-result gets a report (an
             * empty benchmarks list), so a CI consumer always finds one. */
            log_warn("saving partial results...");
            write_report(&s);
        }
    } else {
        bench_status = "ok";
        status = write_report(&s) ? RUNNER_FAIL : RUNNER_OK;
        if (s.failed_requests)
            log_warn("%d request(s) failed during the benchmark", s.failed_requests);
        if (status == RUNNER_OK && o->history_dir &&
            history_record_at(o->history_dir, &s.res, o, s.wall0_ns, stderr) < 0)
            log_warn("the run was not added to the history ledger in %s", o->history_dir);
        if (status == RUNNER_OK && o->ci && breaches) {
            for (size_t i = 0; i < s.n_answer_lines; i++)
                    if (!strncmp(s.answer_lines[i], "SLO breached", 12))
                        log_error("%s", s.answer_lines[i]);
            status = CLI_SLO_BREACH;
        }
    }
out:
    ttyline_close(s.tty);
    progress_complete(s.prog, clock_now_ns(), bench_status);
    progress_close(s.prog);
    prompts_free(s.pr);
    driver_free(s.d);
    size_t n_recorded = record_count(s.rec);
    if (record_close(s.rec, err, sizeof err))
        log_warn("%s", err);
    else if (s.rec)
        log_info("recorded %zu request(s) in %s", n_recorded, o->record_dir);
    corpus_free(&s.corp);
    results_free(&s.res);
    buf_free(&s.chat_url);
    buf_free(&s.models_body);
    buf_free(&s.models_headers);
    free(s.model);
    free(s.served);
    slo_set_free(&s.slo);
    for (size_t i = 0; i < s.n_answer_lines; i++)
        free(s.answer_lines[i]);
    free(s.answer_lines);
    return status;
}
