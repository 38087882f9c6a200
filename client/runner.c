#include "client/runner.h"

#include <ctype.h>
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

#include "client/corpus.h"
#include "client/driver.h"
#include "client/progress.h"
#include "client/prompts.h"
#include "client/report.h"
#include "client/request.h"
#include "client/results.h"
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
    bool sent_first_response, sent_first_token;
} track;

typedef struct suite {
    const cli_options *o;
    corpus corp;
    driver *d;
    prompts *pr;
    progress *prog;
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
} suite;

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

/* GET {base}/models: exactly one model -> use it (SPEC §2.1). */
static int detect_model(suite *s)
{
    buf url;
    buf_init(&url, 0);
    buf_printf(&url, "%s/models", s->o->base_url);
    long status = 0;
    char err[512];
    cJSON *a = fetch_json(s, url.data, NULL, &status, NULL, err, sizeof err);
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
        driver_fetch_times t = {0, 0, 0};
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

static void hook_data(void *ctx, driver_job *j, int64_t now_ns)
{
    suite *s = ctx;
    track *t = j->user;
    tb_request *r = j->req;
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
        bodies[i] = runner_request_body(s->o, s->served, contexts[i].data, user, bd->tg, with_ids);
        if (with_ids)
            alts[i] = runner_request_body(s->o, s->served, contexts[i].data, user, bd->tg, 0);
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
    if (driver_token_ids_refused(s->d))
        s->token_ids_off = true;
    int failed = 0;
    for (int i = 0; i < n; i++)
        if (reqs[i].error) {
            failed++;
            log_warn("request failed: %s", reqs[i].error);
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

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Runs one cell; returns 0, 1 when the suite must stop (failure under
 * --exit-on-first-fail), or -1 on an internal error. */
static int run_cell(suite *s, int depth, int pp, int tg, int conc)
{
    const cli_options *o = s->o;
    bool two_phase = o->enable_prefix_caching && depth > 0;
    log_info("running test: pp=%d, tg=%d, depth=%d, concurrency=%d", pp, tg, depth, conc);
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
    if (two_phase) {
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
    int warm = o->no_warmup ? 0 : o->warmup_runs;
    int stop = 0;
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
            if (!is_warmup)
                results_cell_add_batch(ctx_cell, reqs, (size_t)conc);
            s->failed_requests += failed;
            clear_requests(reqs, conc);
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
        if (!is_warmup)
            results_cell_add_batch(cell, reqs, (size_t)conc);
        s->failed_requests += failed;
        clear_requests(reqs, conc);
        if (failed && o->exit_on_first_fail) {
            log_error("stopping due to an error in %s", two_phase ? "inference" : "a run");
            stop = 1;
            break;
        }
        if (o->post_run_cmd)
            post_run(o->post_run_cmd);
    }
    if (stop) {
        results_cell_free(cell);
        if (ctx_cell)
            results_cell_free(ctx_cell);
    } else {
        if (ctx_cell)
            results_cell_finish(ctx_cell, &s->res);
        results_cell_finish(cell, &s->res);
    }
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

/* Writes the report: the markdown table always to stdout (stderr when
 * stdout carries progress JSONL), JSON/CSV to stdout unless saved. */
static int write_report(suite *s)
{
    const cli_options *o = s->o;
    FILE *console = (o->emit_progress && strcmp(o->emit_progress, "-") == 0) ? stderr : stdout;
    int rc = 0;
    if (o->format == CLI_FORMAT_MD)
        rc |= report_md(&s->res, console);
    if (o->save_result) {
        FILE *f = fopen(o->save_result, "w");
        if (!f) {
            log_error("cannot write %s", o->save_result);
            return -1;
        }
        if (o->format == CLI_FORMAT_MD)
            rc |= report_md_file(&s->res, f);
        else if (o->format == CLI_FORMAT_JSON)
            rc |= report_json(&s->res, f);
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
    return rc ? -1 : 0;
}

static void set_metadata(suite *s)
{
    char stamp[64];
    time_t secs = (time_t)(s->wall0_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
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
        .max_concurrency = max_of(&s->o->concurrency),
        .prompt_count_source = prompts_source_name(s->pr),
    };
    results_set_meta(&s->res, &m);
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
    char err[1024];
    const char *bench_status = "error";

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    if (corpus_load(&s.corp, o->book_url, err, sizeof err)) {
        log_error("%s", err);
        status = RUNNER_USAGE;
        goto out;
    }
    driver_config dc = {o->api_key, o->timeout_s, max_of(&o->concurrency) + 8};
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
    if (o->model) {
        s.model = xstrdup(o->model);
    } else {
        log_info("no model specified, attempting to auto-detect from the endpoint...");
        if (detect_model(&s))
            goto out;
    }
    s.served = xstrdup(o->served_model_name ? o->served_model_name : s.model);

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
    if (should_warmup && warmup(&s))
        goto out;
    if (!o->skip_coherence) {
        if (coherence(&s)) {
            log_error("benchmark failed due to coherence test failure");
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

    int stop = 0;
    for (size_t di = 0; di < o->depth.n && !stop; di++)
        for (size_t pi = 0; pi < o->pp.n && !stop; pi++)
            for (size_t ti = 0; ti < o->tg.n && !stop; ti++)
                for (size_t ci = 0; ci < o->concurrency.n && !stop; ci++)
                    stop = run_cell(&s, o->depth.v[di], o->pp.v[pi], o->tg.v[ti],
                                    o->concurrency.v[ci]);
    set_metadata(&s);
    if (stop < 0) {
        bench_status = "error";
        status = RUNNER_FAIL;
    } else if (stop > 0 || interrupted) {
        bench_status = interrupted ? "interrupted" : "error";
        status = RUNNER_FAIL;
        if (o->no_results_on_fail && !interrupted) {
            log_warn("results discarded per --no-results-on-fail");
        } else if (s.res.n_runs > 0) {
            log_warn("saving partial results...");
            write_report(&s);
        }
    } else {
        bench_status = "ok";
        status = write_report(&s) ? RUNNER_FAIL : RUNNER_OK;
        if (s.failed_requests)
            log_warn("%d request(s) failed during the benchmark", s.failed_requests);
    }
out:
    progress_complete(s.prog, clock_now_ns(), bench_status);
    progress_close(s.prog);
    prompts_free(s.pr);
    driver_free(s.d);
    corpus_free(&s.corp);
    results_free(&s.res);
    buf_free(&s.chat_url);
    free(s.model);
    free(s.served);
    return status;
}
