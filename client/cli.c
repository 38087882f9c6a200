#include "client/cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client/slo.h"
#include "common/log.h"
#include "common/xalloc.h"

/* How an option consumes its arguments, after argparse's actions. */
enum kind {
    K_TRUE,     /* store_true */
    K_FALSE,    /* store_false */
    K_STR,      /* one string */
    K_INT,      /* one int */
    K_INTS,     /* nargs='+' ints */
    K_LATENCY,  /* choice api|generation|none */
    K_FORMAT,   /* choice md|json|csv */
    K_EXTRA,    /* append: --extra-body */
    K_U64,
    K_SECONDS,
    K_LOGLEVEL,
    K_QUIET,
    K_HELP,
    K_VERSION,
    K_NUM,      /* one number (field decides the range) */
    K_PCTS,     /* comma-separated percentiles */
};

enum field {
    F_BASE_URL, F_API_KEY, F_MODEL, F_SERVED, F_TOKENIZER, F_PP, F_TG, F_DEPTH, F_RUNS,
    F_WARMUP_RUNS, F_NO_CACHE, F_POST_RUN, F_BOOK, F_LATENCY, F_NO_WARMUP, F_SKIP_COH,
    F_ADAPT, F_NO_ADAPT, F_PREFIX, F_CONC, F_SAVE, F_FORMAT, F_TS_TOTAL, F_TS_ALL,
    F_EXIT_FAIL, F_NO_RESULTS, F_EXTRA, F_EXACT_TG, F_PROGRESS, F_SEED, F_TIMEOUT,
    F_LOGLEVEL, F_QUIET, F_HELP, F_VERSION, F_PCTS, F_RATE, F_BURST, F_MAXCONC, F_DURATION,
    F_NUMREQ, F_SLO, F_CI, F_TGTOL, F_MONPID, F_REQ_TIMEOUT, F_HTML, F_HISTORY, F_LABEL,
    F_REGRESS, F_PROM, F_PROGRESS_TTY, F_RECORD, F_SERVER_KIND, F_SERVER_COLS, F_REALTIME,
};

typedef struct opt_spec {
    const char *name;
    enum kind kind;
    enum field field;
    const char *metavar;
    const char *help;
} opt_spec;

static const opt_spec specs[] = {
    {"--base-url", K_STR, F_BASE_URL, "URL",
     "OpenAI-compatible endpoint URL, e.g. http://127.0.0.1:8080/v1 (required; a trailing / is "
     "tolerated)"},
    {"--api-key", K_STR, F_API_KEY, "KEY",
     "API key sent as 'Authorization: Bearer KEY' (default: EMPTY, which sends none)"},
    {"--model", K_STR, F_MODEL, "NAME",
     "model name for the report and requests (default: auto-detected from GET {base-url}/models "
     "when exactly one model is listed)"},
    {"--served-model-name", K_STR, F_SERVED, "NAME",
     "model name used in API calls (default: --model)"},
    {"--tokenizer", K_STR, F_TOKENIZER, "NAME",
     "tokenizer source; accepted for compatibility. tokbench counts tokens with the server's "
     "/tokenize or by calibration and says so when NAME cannot be used"},
    {"--pp", K_INTS, F_PP, "N [N ...]", "prompt processing token counts (default: 2048)"},
    {"--tg", K_INTS, F_TG, "N [N ...]", "token generation counts (default: 32)"},
    {"--depth", K_INTS, F_DEPTH, "N [N ...]",
     "context depths in tokens, sent as a system message (default: 0)"},
    {"--runs", K_INT, F_RUNS, "N", "measured runs per test (default: 3)"},
    {"--warmup-runs", K_INT, F_WARMUP_RUNS, "N",
     "discarded warm-up runs per test cell, also generation-latency probes (default: 1)"},
    {"--no-cache", K_TRUE, F_NO_CACHE, NULL,
     "make every prompt unique and send cache_prompt=false to the server"},
    {"--post-run-cmd", K_STR, F_POST_RUN, "CMD",
     "shell command executed after each test run (e.g. to clear a cache)"},
    {"--book-url", K_STR, F_BOOK, "PATH",
     "text used for prompts: a local path or file:// URL (default: the built-in copy of The "
     "Adventures of Sherlock Holmes)"},
    {"--latency-mode", K_LATENCY, F_LATENCY, "{api,generation,none}",
     "latency subtracted from ttfr: 'api' (GET /models, default), 'generation' (1-token "
     "request), 'none' (0)"},
    {"--no-warmup", K_TRUE, F_NO_WARMUP, NULL,
     "skip the discarded warm-up runs (the initial warm-up still runs while --adapt-prompt)"},
    {"--skip-coherence", K_TRUE, F_SKIP_COH, NULL, "skip the coherence check after warm-up"},
    {"--adapt-prompt", K_TRUE, F_ADAPT, NULL,
     "adapt prompt sizes to the chat template overhead measured at warm-up (default: on)"},
    {"--no-adapt-prompt", K_FALSE, F_NO_ADAPT, NULL, "disable prompt size adaptation"},
    {"--enable-prefix-caching", K_TRUE, F_PREFIX, NULL,
     "at depth > 0, load the context first (ctx_pp/ctx_tg rows), then measure the prompt over "
     "the cached context"},
    {"--concurrency", K_INTS, F_CONC, "N [N ...]",
     "concurrency levels: requests sent as one synchronized burst (default: 1)"},
    {"--save-result", K_STR, F_SAVE, "FILE", "write the report to FILE instead of stdout"},
    {"--format", K_FORMAT, F_FORMAT, "{md,json,csv}", "report format (default: md)"},
    {"--save-total-throughput-timeseries", K_TRUE, F_TS_TOTAL, NULL,
     "save the total throughput of every 1 s window (JSON)"},
    {"--save-all-throughput-timeseries", K_TRUE, F_TS_ALL, NULL,
     "save the throughput time series of every request (JSON)"},
    {"--exit-on-first-fail", K_TRUE, F_EXIT_FAIL, NULL,
     "stop at the first failed request, save what finished, exit 1"},
    {"--no-results-on-fail", K_TRUE, F_NO_RESULTS, NULL,
     "on a failure print/save no results (implies --exit-on-first-fail)"},
    {"--extra-body", K_EXTRA, F_EXTRA, "K=V[,K=V]",
     "extra fields merged into benchmark requests; V is JSON when it parses, else a string; "
     "key:value also accepted; repeatable"},
    {"--exact-tg", K_TRUE, F_EXACT_TG, NULL,
     "force the output length: send min_tokens=tg and ignore_eos=true"},
    {"--emit-progress", K_STR, F_PROGRESS, "PATH",
     "write llama-benchy-progress.v1 JSONL events to PATH ('-' = stdout)"},
    {"--seed", K_U64, F_SEED, "N", "seed for prompt offsets and nonces (default: 1661)"},
    {"--timeout", K_SECONDS, F_TIMEOUT, "SECONDS",
     "fail a request after this long without a byte (default: 600)"},
    {"--log-level", K_LOGLEVEL, F_LOGLEVEL, "{error,warn,info,debug}",
     "stderr verbosity (default: info)"},
    {"--quiet", K_QUIET, F_QUIET, NULL, "only warnings and errors on stderr"},
    {"--percentiles", K_PCTS, F_PCTS, "P[,P...]",
     "add table columns with these percentiles of e2e_ttft (pp rows) and itl (tg rows), e.g. "
     "50,95,99 (at most 8)"},
    {"--request-rate", K_NUM, F_RATE, "R",
     "open-loop load: requests arrive at R per second (gamma gaps, see --burstiness); 'inf' "
     "sends them all at once. Needs --num-requests or --duration"},
    {"--burstiness", K_NUM, F_BURST, "K",
     "gamma shape of the --request-rate gaps: 1 = Poisson (default), < 1 burstier, > 1 more "
     "regular"},
    {"--max-concurrency", K_NUM, F_MAXCONC, "N",
     "with --request-rate: at most N requests in flight (default: no limit)"},
    {"--duration", K_NUM, F_DURATION, "SECONDS",
     "keep sending for SECONDS per run: closed loop with c users busy (--concurrency), or the "
     "--request-rate schedule"},
    {"--num-requests", K_NUM, F_NUMREQ, "N",
     "requests per run: closed loop with c users (--concurrency), or the --request-rate "
     "schedule"},
    {"--slo", K_STR, F_SLO, "SPEC",
     "service-level objectives, e.g. 'ttft_p95_ms<=500,tg_req_p50>=40,error_rate<=0.01' "
     "(docs/tokbench-load.md lists the names)"},
    {"--ci", K_TRUE, F_CI, NULL,
     "exit with status 3 after the report when an --slo objective is breached"},
    {"--tg-tolerance", K_NUM, F_TGTOL, "F",
     "depth sweep recommendation: largest depth whose tg is within F of the smallest depth's "
     "(default: 0.15)"},
    {"--monitor-pid", K_NUM, F_MONPID, "PID",
     "sample the RSS of local process PID and the swap-out counter (Linux /proc) per test"},
    {"--request-timeout", K_SECONDS, F_REQ_TIMEOUT, "SECONDS",
     "fail a request that has not finished after SECONDS in all (default: no limit)"},
    {"--html", K_STR, F_HTML, "FILE",
     "also write a self-contained HTML report with charts to FILE"},
    {"--prom-textfile", K_STR, F_PROM, "FILE",
     "also write the results in Prometheus node-exporter textfile format to FILE"},
    {"--history", K_STR, F_HISTORY, "DIR",
     "append this run to the history ledger in DIR and compare it with the previous comparable "
     "run on stderr (default: $TOKBENCH_HISTORY, else off)"},
    {"--label", K_STR, F_LABEL, "TEXT",
     "a label that becomes part of the history comparison key (e.g. a build or config name)"},
    {"--regress-pct", K_NUM, F_REGRESS, "PCT",
     "history: flag a metric that got worse by more than PCT percent (default: 10)"},
    {"--progress", K_STR, F_PROGRESS_TTY, "{auto,on,off}",
     "one-line progress display on stderr: auto = when stderr is a terminal (default)"},
    {"--record", K_STR, F_RECORD, "DIR",
     "save every request's body, response headers and raw bytes with per-read arrival times "
     "in DIR (replayable with tokmock --replay)"},
    {"--server-kind", K_STR, F_SERVER_KIND, "KIND",
     "server kind: auto (detect, default), llamacpp, vllm, sglang, openai, ollama or generic"},
    {"--server-columns", K_TRUE, F_SERVER_COLS, NULL,
     "add a 'server t/s' column to the table: the server's own pp / tg rate from llama.cpp "
     "timings (empty when the server reports none)"},
    {"--realtime", K_TRUE, F_REALTIME, NULL,
     "read responses at real-time priority (SCHED_FIFO 2) when the system allows it (root "
     "or RLIMIT_RTPRIO), so other work on this machine, such as a local server, cannot "
     "delay the timestamps; a warning when refused"},
    {"--help", K_HELP, F_HELP, NULL, "show this help and exit"},
    {"--version", K_VERSION, F_VERSION, NULL, "print the version and exit"},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

void cli_print_help(FILE *out)
{
    fprintf(out,
            "usage: tokbench --base-url URL [options]\n\n"
            "Benchmarks an OpenAI-compatible /v1/chat/completions endpoint: prompt processing\n"
            "(pp) and token generation (tg) speed at context depths, TTFT and concurrency.\n"
            "A drop-in replacement for llama-benchy %s (same flags, table, JSON and CSV).\n\n"
            "options:\n",
            TOKBENCH_COMPAT_VERSION);
    for (size_t i = 0; i < N_SPECS; i++) {
        const opt_spec *s = &specs[i];
        fprintf(out, "  %s%s%s\n      %s\n", s->name, s->metavar ? " " : "",
                s->metavar ? s->metavar : "", s->help);
    }
    fprintf(out, "\nExit status: 0 ok; 1 failed warm-up, coherence check, or a failure under\n"
                 "--exit-on-first-fail; 2 bad usage or an unreachable server; 3 an --slo objective\n"
                 "breached under --ci; 130/143 interrupted by SIGINT/SIGTERM (partial report; a\n"
                 "second SIGINT exits at once). Failed requests are counted in each test's\n"
                 "\"failures\" and left out of the numbers. The report goes to stdout, logs to\n"
                 "stderr.\n");
}

static void list_set(cli_int_list *l, const int *v, size_t n)
{
    free(l->v);
    l->v = xmalloc(n * sizeof *l->v);
    memcpy(l->v, v, n * sizeof *v);
    l->n = n;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

/* argparse treats "-5" / "-.5" as a value rather than an option. */
static bool looks_negative_number(const char *s)
{
    if (s[0] != '-')
        return false;
    const char *p = s + 1;
    if (*p == '\0')
        return false;
    bool digit = false, dot = false;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (*p == '.' && !dot)
            dot = true;
        else
            return false;
    }
    return digit;
}

static bool is_value(const char *s)
{
    return s[0] != '-' || looks_negative_number(s) || strcmp(s, "-") == 0;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ')
        end++;
    if (end == s || *end != '\0' || errno || v < INT_MIN || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

/* Finds an option by exact name or unique prefix (argparse's allow_abbrev). */
static const opt_spec *find_spec(const char *name, size_t len, char *err, size_t errlen)
{
    const opt_spec *match = NULL;
    int n_prefix = 0;
    for (size_t i = 0; i < N_SPECS; i++) {
        if (strlen(specs[i].name) == len && strncmp(specs[i].name, name, len) == 0)
            return &specs[i];
        if (strncmp(specs[i].name, name, len) == 0) {
            match = &specs[i];
            n_prefix++;
        }
    }
    if (n_prefix == 1 && len > 2)
        return match;
    if (n_prefix > 1 && len > 2)
        snprintf(err, errlen, "ambiguous option: %.*s", (int)len, name);
    else
        snprintf(err, errlen, "unrecognized argument: %.*s", (int)len, name);
    return NULL;
}

static void options_init(cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->api_key = xstrdup("EMPTY");
    int pp = 2048, tg = 32, depth = 0, conc = 1;
    list_set(&o->pp, &pp, 1);
    list_set(&o->tg, &tg, 1);
    list_set(&o->depth, &depth, 1);
    list_set(&o->concurrency, &conc, 1);
    o->runs = 3;
    o->warmup_runs = 1;
    o->latency_mode = CLI_LATENCY_API;
    o->adapt_prompt = true;
    o->format = CLI_FORMAT_MD;
    o->extra_body = cJSON_CreateObject();
    o->seed = CLI_DEFAULT_SEED;
    o->timeout_s = CLI_DEFAULT_TIMEOUT_S;
    o->log_level = LOG_INFO;
    o->burstiness = 1.0;
    o->tg_tolerance = 0.15;
    o->regress_pct = 10.0;
    o->progress_tty = CLI_PROGRESS_AUTO;
    o->server_kind = CLI_SERVER_AUTO;
}

void cli_options_free(cli_options *o)
{
    free(o->base_url);
    free(o->api_key);
    free(o->model);
    free(o->served_model_name);
    free(o->tokenizer);
    free(o->pp.v);
    free(o->tg.v);
    free(o->depth.v);
    free(o->concurrency.v);
    free(o->post_run_cmd);
    free(o->book_url);
    free(o->save_result);
    free(o->emit_progress);
    cJSON_Delete(o->extra_body);
    free(o->base_url_userinfo);
    free(o->percentiles);
    free(o->slo);
    free(o->html);
    free(o->prom_textfile);
    free(o->history_dir);
    free(o->label);
    free(o->record_dir);
    memset(o, 0, sizeof *o);
}

static const char *const server_kind_names[] = {
    [CLI_SERVER_AUTO] = "auto",     [CLI_SERVER_GENERIC] = "generic", [CLI_SERVER_LLAMACPP] = "llamacpp",
    [CLI_SERVER_VLLM] = "vllm",     [CLI_SERVER_SGLANG] = "sglang",   [CLI_SERVER_OPENAI] = "openai",
    [CLI_SERVER_OLLAMA] = "ollama",
};

const char *cli_server_kind_name(enum cli_server_kind k)
{
    return (unsigned)k < sizeof server_kind_names / sizeof server_kind_names[0]
               ? server_kind_names[k]
               : "generic";
}

int cli_server_kind_parse(const char *s, enum cli_server_kind *out)
{
    for (size_t i = 0; i < sizeof server_kind_names / sizeof server_kind_names[0]; i++) {
        if (strcmp(s, server_kind_names[i]) == 0) {
            *out = (enum cli_server_kind)i;
            return 0;
        }
    }
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Next entry of an --extra-body argument: ends at a comma that is outside
 * any JSON string, object or array (llama-benchy splits at every comma,
 * which breaks JSON values; plain key=value lists split the same way). The
 * comma is overwritten; returns the start of the following entry or NULL. */
static char *split_entry(char *s)
{
    int depth = 0;
    bool in_str = false;
    for (char *q = s; *q; q++) {
        if (in_str) {
            if (*q == '\\' && q[1])
                q++;
            else if (*q == '"')
                in_str = false;
        } else if (*q == '"') {
            in_str = true;
        } else if (*q == '{' || *q == '[') {
            depth++;
        } else if ((*q == '}' || *q == ']') && depth > 0) {
            depth--;
        } else if (*q == ',' && depth == 0) {
            *q = '\0';
            return q + 1;
        }
    }
    return NULL;
}

/* The key/value separator: the first '=' (else the first ':') before any
 * JSON punctuation, so a value may contain both. */
static char *find_separator(char *entry)
{
    size_t head = strcspn(entry, "{[\"");
    for (const char *c = "=:"; *c; c++) {
        char *sep = memchr(entry, *c, head);
        if (sep)
            return sep;
    }
    return NULL;
}

int cli_parse_extra_body(const char *arg, cJSON *obj, char *err, size_t errlen)
{
    char *copy = xstrdup(arg);
    int rc = 0;
    char *next = copy;
    while (next) {
        char *entry = next;
        next = split_entry(entry);
        entry = trim(entry);
        if (*entry == '\0')
            continue;
        char *sep = find_separator(entry);
        if (!sep) {
            snprintf(err, errlen, "invalid --extra-body entry '%s': use key=value or key:value",
                     entry);
            rc = -1;
            goto out;
        }
        *sep = '\0';
        char *key = trim(entry);
        char *raw = trim(sep + 1);
        if (*key == '\0') {
            snprintf(err, errlen, "invalid --extra-body entry '%s=%s': empty key", key, raw);
            rc = -1;
            goto out;
        }
        const char *endp = NULL;
        cJSON *value = cJSON_ParseWithOpts(raw, &endp, 1);
        if (!value && (*raw == '{' || *raw == '[')) {
            /* It was meant as a JSON object or array: a broken one is an
             * error, never silently sent as a string. */
            snprintf(err, errlen, "invalid --extra-body entry '%s': the value is not valid JSON",
                     key);
            rc = -1;
            goto out;
        }
        if (!value || *raw == '\0')
            value = cJSON_CreateString(raw);
        if (cJSON_GetObjectItemCaseSensitive(obj, key))
            cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
        else
            cJSON_AddItemToObject(obj, key, value);
    }
out:
    free(copy);
    return rc;
}

static int check_list(const char *name, const cli_int_list *l, int min, char *err, size_t errlen)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] < min) {
            snprintf(err, errlen, "argument %s: %d is out of range (must be >= %d)", name,
                     l->v[i], min);
            return -1;
        }
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Takes "user:pass@" out of the URL's authority (in place) so no log, report
 * or progress line can print it; returns the percent-decoded "user:pass"
 * (owned) or NULL. */
static char *take_userinfo(char *url)
{
    char *host = strstr(url, "://");
    if (!host)
        return NULL;
    host += 3;
    size_t auth_len = strcspn(host, "/?#");
    char *at = NULL;
    for (char *p = host; p < host + auth_len; p++)
        if (*p == '@')
            at = p; /* the last '@' of the authority ends the userinfo */
    if (!at)
        return NULL;
    size_t n = (size_t)(at - host);
    char *info = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (host[i] == '%' && i + 2 < n && (hi = hex_value(host[i + 1])) >= 0 &&
            (lo = hex_value(host[i + 2])) >= 0) {
            info[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            info[k++] = host[i];
        }
    }
    info[k] = '\0';
    memmove(host, at + 1, strlen(at + 1) + 1);
    return info;
}

static void strip_trailing_slashes(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
}

/* Applies one option; *i is advanced past the values it consumed. */
static int apply(const opt_spec *s, const char *inline_value, int argc, char **argv, int *i,
                 cli_options *o, FILE *out, char *err, size_t errlen)
{
    const char *value = NULL;
    bool takes_value = s->kind != K_TRUE && s->kind != K_FALSE && s->kind != K_QUIET &&
                       s->kind != K_HELP && s->kind != K_VERSION;
    if (!takes_value) {
        if (inline_value) {
            snprintf(err, errlen, "argument %s: ignored explicit argument '%s'", s->name,
                     inline_value);
            return CLI_USAGE;
        }
    } else if (s->kind != K_INTS) {
        if (inline_value)
            value = inline_value;
        else if (*i + 1 < argc && is_value(argv[*i + 1]))
            value = argv[++*i];
        else {
            snprintf(err, errlen, "argument %s: expected one argument", s->name);
            return CLI_USAGE;
        }
    }

    switch (s->kind) {
    case K_TRUE:
    case K_FALSE: {
        bool v = s->kind == K_TRUE;
        switch (s->field) {
        case F_NO_CACHE: o->no_cache = v; break;
        case F_NO_WARMUP: o->no_warmup = v; break;
        case F_SKIP_COH: o->skip_coherence = v; break;
        case F_ADAPT:
        case F_NO_ADAPT: o->adapt_prompt = v; break;
        case F_PREFIX: o->enable_prefix_caching = v; break;
        case F_TS_TOTAL: o->save_total_throughput_timeseries = v; break;
        case F_TS_ALL: o->save_all_throughput_timeseries = v; break;
        case F_EXIT_FAIL: o->exit_on_first_fail = v; break;
        case F_NO_RESULTS: o->no_results_on_fail = v; break;
        case F_EXACT_TG: o->exact_tg = v; break;
        case F_CI: o->ci = v; break;
        case F_SERVER_COLS: o->server_columns = v; break;
        case F_REALTIME: o->realtime = v; break;
        default: break;
        }
        return CLI_OK;
    }
    case K_STR:
        switch (s->field) {
        case F_BASE_URL: set_str(&o->base_url, value); break;
        case F_API_KEY: set_str(&o->api_key, value); break;
        case F_MODEL: set_str(&o->model, value); break;
        case F_SERVED: set_str(&o->served_model_name, value); break;
        case F_TOKENIZER: set_str(&o->tokenizer, value); break;
        case F_POST_RUN: set_str(&o->post_run_cmd, value); break;
        case F_BOOK: set_str(&o->book_url, value); break;
        case F_SAVE: set_str(&o->save_result, value); break;
        case F_PROGRESS: set_str(&o->emit_progress, value); break;
        case F_SLO: set_str(&o->slo, value); break;
        case F_HTML: set_str(&o->html, value); break;
        case F_PROM: set_str(&o->prom_textfile, value); break;
        case F_HISTORY: set_str(&o->history_dir, value); break;
        case F_LABEL: set_str(&o->label, value); break;
        case F_RECORD: set_str(&o->record_dir, value); break;
        case F_PROGRESS_TTY:
            if (strcmp(value, "auto") && strcmp(value, "on") && strcmp(value, "off")) {
                snprintf(err, errlen,
                         "argument --progress: invalid choice: '%s' (choose from 'auto', 'on', "
                         "'off')",
                         value);
                return CLI_USAGE;
            }
            o->progress_tty = value[1] == 'u' ? CLI_PROGRESS_AUTO
                              : value[1] == 'n' ? CLI_PROGRESS_ON
                                                : CLI_PROGRESS_OFF;
            break;
        case F_SERVER_KIND:
            if (cli_server_kind_parse(value, &o->server_kind)) {
                snprintf(err, errlen,
                         "argument --server-kind: invalid choice: '%s' (choose from 'auto', "
                         "'llamacpp', 'vllm', 'sglang', 'openai', 'ollama', 'generic')",
                         value);
                return CLI_USAGE;
            }
            break;
        default: break;
        }
        return CLI_OK;
    case K_INT: {
        int v;
        if (parse_int(value, &v)) {
            snprintf(err, errlen, "argument %s: invalid int value: '%s'", s->name, value);
            return CLI_USAGE;
        }
        if (s->field == F_RUNS)
            o->runs = v;
        else
            o->warmup_runs = v;
        return CLI_OK;
    }
    case K_INTS: {
        int vals[4096];
        size_t n = 0;
        if (inline_value) {
            if (parse_int(inline_value, &vals[0])) {
                snprintf(err, errlen, "argument %s: invalid int value: '%s'", s->name,
                         inline_value);
                return CLI_USAGE;
            }
            n = 1;
        } else {
            while (*i + 1 < argc && is_value(argv[*i + 1])) {
                const char *a = argv[++*i];
                if (n == sizeof vals / sizeof vals[0]) {
                    snprintf(err, errlen, "argument %s: too many values", s->name);
                    return CLI_USAGE;
                }
                if (parse_int(a, &vals[n])) {
                    snprintf(err, errlen, "argument %s: invalid int value: '%s'", s->name, a);
                    return CLI_USAGE;
                }
                n++;
            }
        }
        if (n == 0) {
            snprintf(err, errlen, "argument %s: expected at least one argument", s->name);
            return CLI_USAGE;
        }
        cli_int_list *l = s->field == F_PP ? &o->pp
                          : s->field == F_TG ? &o->tg
                          : s->field == F_DEPTH ? &o->depth
                                                : &o->concurrency;
        list_set(l, vals, n);
        return CLI_OK;
    }
    case K_LATENCY:
        if (strcmp(value, "api") == 0)
            o->latency_mode = CLI_LATENCY_API;
        else if (strcmp(value, "generation") == 0)
            o->latency_mode = CLI_LATENCY_GENERATION;
        else if (strcmp(value, "none") == 0)
            o->latency_mode = CLI_LATENCY_NONE;
        else {
            snprintf(err, errlen,
                     "argument --latency-mode: invalid choice: '%s' (choose from 'api', "
                     "'generation', 'none')",
                     value);
            return CLI_USAGE;
        }
        return CLI_OK;
    case K_FORMAT:
        if (strcmp(value, "md") == 0)
            o->format = CLI_FORMAT_MD;
        else if (strcmp(value, "json") == 0)
            o->format = CLI_FORMAT_JSON;
        else if (strcmp(value, "csv") == 0)
            o->format = CLI_FORMAT_CSV;
        else {
            snprintf(err, errlen,
                     "argument --format: invalid choice: '%s' (choose from 'md', 'json', 'csv')",
                     value);
            return CLI_USAGE;
        }
        return CLI_OK;
    case K_EXTRA: {
        char sub[400];
        if (cli_parse_extra_body(value, o->extra_body, sub, sizeof sub)) {
            snprintf(err, errlen, "argument --extra-body: %s", sub);
            return CLI_USAGE;
        }
        return CLI_OK;
    }
    case K_U64: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 0);
        if (end == value || *end || errno || value[0] == '-') {
            snprintf(err, errlen, "argument %s: invalid unsigned value: '%s'", s->name, value);
            return CLI_USAGE;
        }
        o->seed = (uint64_t)v;
        return CLI_OK;
    }
    case K_SECONDS: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (end == value || *end || errno || !(v > 0) || v > 1e7) {
            snprintf(err, errlen, "argument %s: expected a positive number of seconds, got '%s'",
                     s->name, value);
            return CLI_USAGE;
        }
        if (s->field == F_REQ_TIMEOUT)
            o->request_timeout_s = v;
        else
            o->timeout_s = v;
        return CLI_OK;
    }
    case K_LOGLEVEL: {
        int lv = log_parse_level(value);
        if (lv < 0) {
            snprintf(err, errlen,
                     "argument --log-level: invalid choice: '%s' (choose from 'error', 'warn', "
                     "'info', 'debug')",
                     value);
            return CLI_USAGE;
        }
        o->log_level = lv;
        return CLI_OK;
    }
    case K_QUIET:
        o->log_level = LOG_WARN;
        return CLI_OK;
    case K_NUM: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        bool bad = end == value || *end || errno || isnan(v);
        bool integer = s->field == F_MAXCONC || s->field == F_NUMREQ || s->field == F_MONPID;
        if (!bad && integer)
            bad = v != floor(v) || v < 1 || v > 2147483647.0;
        else if (!bad && s->field == F_RATE)
            bad = !(v > 0);
        else if (!bad && s->field == F_TGTOL)
            bad = !(v >= 0 && v < 1);
        else if (!bad && s->field == F_REGRESS)
            bad = !(v > 0 && v < 1000);
        else if (!bad)
            bad = !(v > 0) || isinf(v);
        if (bad) {
            snprintf(err, errlen, "argument %s: invalid value '%s'%s", s->name, value,
                     integer                  ? " (a positive integer)"
                     : s->field == F_RATE     ? " (a positive number or inf)"
                     : s->field == F_TGTOL    ? " (a fraction in [0, 1))"
                     : s->field == F_REGRESS  ? " (a percentage in (0, 1000))"
                                              : " (a positive number)");
            return CLI_USAGE;
        }
        switch (s->field) {
        case F_RATE: o->request_rate = v; break;
        case F_BURST: o->burstiness = v; break;
        case F_MAXCONC: o->max_concurrency = (int)v; break;
        case F_DURATION: o->duration_s = v; break;
        case F_NUMREQ: o->num_requests = (int)v; break;
        case F_TGTOL: o->tg_tolerance = v; break;
        case F_MONPID: o->monitor_pid = (long)v; break;
        case F_REGRESS: o->regress_pct = v; break;
        default: break;
        }
        return CLI_OK;
    }
    case K_PCTS: {
        free(o->percentiles);
        o->percentiles = NULL;
        o->n_percentiles = 0;
        char *copy = xstrdup(value), *save = NULL;
        int rc = CLI_OK;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *end;
            errno = 0;
            double p = strtod(t, &end);
            if (end == t || *end || errno || !(p >= 0 && p <= 100)) {
                snprintf(err, errlen, "argument --percentiles: '%s' is not a number in [0, 100]",
                         t);
                rc = CLI_USAGE;
                break;
            }
            if (o->n_percentiles == CLI_MAX_PERCENTILES) {
                snprintf(err, errlen, "argument --percentiles: at most %d values",
                         CLI_MAX_PERCENTILES);
                rc = CLI_USAGE;
                break;
            }
            o->percentiles = xrealloc(o->percentiles, (o->n_percentiles + 1) * sizeof(double));
            o->percentiles[o->n_percentiles++] = p;
        }
        free(copy);
        if (rc == CLI_OK && o->n_percentiles == 0) {
            snprintf(err, errlen, "argument --percentiles: expected at least one value");
            rc = CLI_USAGE;
        }
        return rc;
    }
    case K_HELP:
        cli_print_help(out);
        return CLI_EXIT;
    case K_VERSION:
        fprintf(out, "tokbench %s (llama-benchy %s compatible)\n", TOKBENCH_VERSION,
                TOKBENCH_COMPAT_VERSION);
        return CLI_EXIT;
    }
    return CLI_OK;
}

int cli_parse(int argc, char **argv, cli_options *o, FILE *out, char *err, size_t errlen)
{
    options_init(o);
    if (errlen)
        err[0] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (strcmp(a, "-h") == 0) {
                cli_print_help(out);
                return CLI_EXIT;
            }
            snprintf(err, errlen, "unrecognized argument: %s", a);
            return CLI_USAGE;
        }
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        const opt_spec *s = find_spec(a, name_len, err, errlen);
        if (!s)
            return CLI_USAGE;
        int rc = apply(s, eq ? eq + 1 : NULL, argc, argv, &i, o, out, err, errlen);
        if (rc != CLI_OK)
            return rc;
    }

    if (!o->base_url) {
        snprintf(err, errlen, "the following arguments are required: --base-url");
        return CLI_USAGE;
    }
    strip_trailing_slashes(o->base_url);
    if (strncmp(o->base_url, "http://", 7) != 0 && strncmp(o->base_url, "https://", 8) != 0) {
        snprintf(err, errlen, "argument --base-url: expected an http:// or https:// URL, got '%s'",
                 o->base_url);
        return CLI_USAGE;
    }
    o->base_url_userinfo = take_userinfo(o->base_url);
    const char *host = strstr(o->base_url, "://") + 3;
    if (*host == '\0' || *host == '/' || *host == ':' || *host == '?' || *host == '#') {
        snprintf(err, errlen, "argument --base-url: no host in '%s'", o->base_url);
        return CLI_USAGE;
    }
    if (check_list("--pp", &o->pp, 1, err, errlen) || check_list("--tg", &o->tg, 1, err, errlen) ||
        check_list("--depth", &o->depth, 0, err, errlen) ||
        check_list("--concurrency", &o->concurrency, 1, err, errlen))
        return CLI_USAGE;
    if (o->runs < 1) {
        snprintf(err, errlen, "argument --runs: must be >= 1, got %d", o->runs);
        return CLI_USAGE;
    }
    if (o->warmup_runs < 0) {
        snprintf(err, errlen, "--warmup-runs must be >= 0");
        return CLI_USAGE;
    }
    if (o->model && o->model[0] == '\0') {
        snprintf(err, errlen, "argument --model: empty model name");
        return CLI_USAGE;
    }
    if (o->no_results_on_fail)
        o->exit_on_first_fail = true;
    if (o->slo) {
        slo_set set;
        char sub[400];
        if (slo_parse(o->slo, &set, sub, sizeof sub)) {
            snprintf(err, errlen, "argument %s", sub);
            return CLI_USAGE;
        }
        slo_set_free(&set);
    }
    if (o->ci && !o->slo) {
        snprintf(err, errlen, "argument --ci: needs --slo");
        return CLI_USAGE;
    }
    if (o->request_rate > 0 && !o->num_requests && !(o->duration_s > 0)) {
        snprintf(err, errlen, "argument --request-rate: needs --num-requests or --duration");
        return CLI_USAGE;
    }
    if (isinf(o->request_rate) && !o->num_requests) {
        snprintf(err, errlen, "argument --request-rate inf: needs --num-requests");
        return CLI_USAGE;
    }
    if (o->request_rate > 0 && (o->concurrency.n != 1 || o->concurrency.v[0] != 1)) {
        snprintf(err, errlen,
                 "--concurrency does not apply with --request-rate: use --max-concurrency");
        return CLI_USAGE;
    }
    if (o->max_concurrency && !(o->request_rate > 0)) {
        snprintf(err, errlen, "argument --max-concurrency: needs --request-rate (closed loops use "
                              "--concurrency)");
        return CLI_USAGE;
    }
    if ((o->request_rate > 0 || o->duration_s > 0 || o->num_requests) &&
        o->enable_prefix_caching) {
        snprintf(err, errlen, "--enable-prefix-caching is not supported in the load modes");
        return CLI_USAGE;
    }
    return CLI_OK;
}
