#include "options.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/numparse.h"
#include "mockserver/cache.h"
#include "mockserver/request.h"

static const char usage_text[] =
    "usage: tokmock [options]\n"
    "A deterministic mock OpenAI-compatible LLM server with a closed-form timing model.\n"
    "\n"
    "Listening:\n"
    "  --host H               address to listen on [127.0.0.1]\n"
    "  --port N               port; 0 = any free port [8000]\n"
    "  --port-file F          write the bound port to F once accepting connections\n"
    "  --pid-file F           write the process id to F once accepting connections\n"
    "  --threads N            worker threads = max concurrent connections [1100]\n"
    "  --emitters N           threads that write the token events of plain streams on\n"
    "                         time (real-time scheduling when allowed, else more start\n"
    "                         while events are late, up to 64); 0 = every stream\n"
    "                         sleeps in its own thread [2]\n"
    "  --no-realtime          emitter threads keep normal scheduling (for a shared box)\n"
    "  --yield-cpu            request threads run SCHED_IDLE, so a client on this\n"
    "                         machine gets the CPU first (tokmock runs later instead)\n"
    "  --api-key K            require 'Authorization: Bearer K' (401 otherwise)\n"
    "  --max-body-bytes N     request bodies over N bytes get 413 [67108864]\n"
    "  --max-header-bytes N   request line + headers over N bytes are refused [16384]\n"
    "  --max-json-depth N     JSON nesting deeper than N (1..64) gets 400 [64]\n"
    "  --max-connections N    requests in flight over N get 503 + Retry-After [0=off]\n"
    "\n"
    "Model and timing (SPEC 1.4):\n"
    "  --model NAME           id served by /v1/models; repeatable [tokmock]\n"
    "  --pp-rate R            prefill tokens per second [1000]\n"
    "  --tg-rate R            decode steps per second per sequence [50]\n"
    "  --overhead-ms X        fixed server time before prefill [0]\n"
    "  --parallel N           slots; more requests wait FIFO; 0 = unlimited [0]\n"
    "  --engine E             independent|shared (one accelerator, batches) [independent]\n"
    "  --batch-penalty B      shared engine: step time (1/tg)(1+B(b-1)) [0]\n"
    "  --prefill-chunk N      shared engine: prefill chunk tokens [512]\n"
    "  --kv-budget TOKENS     shared engine: requests wait while their context (prompt +\n"
    "                         max tokens) does not fit beside the running ones [0=off]\n"
    "  --kv-preempt           with --kv-budget: count live tokens; when full, pause the\n"
    "                         newest running request (it recomputes its context later)\n"
    "  --ctx-size N           prompt + max_tokens limit per request [131072]\n"
    "  --cache M              prefix cache lcp|block|off [lcp]\n"
    "  --cache-block N        block cache: tokens per block [16]\n"
    "  --cache-capacity N     block cache: capacity in tokens [1000000]\n"
    "  --mtp K                draft tokens per decode step; 0 = off [0]\n"
    "  --mtp-accept P         per-draft acceptance probability [0.7]\n"
    "  --mtp-pattern a,b,c    fixed tokens per decode step, cycled\n"
    "  --eos-at N             finish with 'stop' after N tokens [never]\n"
    "\n"
    "Stream shape:\n"
    "  --reasoning N          first N tokens are delta.reasoning_content [0]\n"
    "  --reasoning-field F    reasoning_content|reasoning: the delta key of reasoning\n"
    "                         tokens [the personality's: reasoning for ollama, hidden\n"
    "                         for openai, else reasoning_content]\n"
    "  --role-chunk R         with-first|early|none [with-first]\n"
    "  --personality P        wire format of a real server [vllm]:\n"
    "                           llamacpp  llama-server (as captured): role event with\n"
    "                                     content null, one token per event, timings,\n"
    "                                     /props, 503 while loading, ':' pings\n"
    "                           vllm      vLLM: a step per event, token_ids,\n"
    "                                     continuous_usage_stats, object:error bodies\n"
    "                           sglang    SGLang: usage null on every chunk, 400 on\n"
    "                                     stream + return_token_ids\n"
    "                           openai    OpenAI: refusal null, system_fingerprint,\n"
    "                                     hidden reasoning (counted in usage)\n"
    "                           ollama    Ollama's OpenAI layer: role in every delta,\n"
    "                                     delta.reasoning\n"
    "  --startup-ms X         answer every route 503 \"Loading model\" for X ms [0]\n"
    "  --replay PATH          serve a recorded response (a .lines.tsv capture or a\n"
    "                         tokbench --record request directory) with its original\n"
    "                         timing, for every completion request\n"
    "  --ping-ms X            ': ping' comment every X ms while waiting or prefilling [0=off]\n"
    "  --no-tokenize          hide /tokenize and /detokenize (404)\n"
    "  --seed S               text and MTP draws are a function of (seed, body) [0]\n"
    "  --truth                expose GET /tokmock/requests and X-Tokmock-Request-Id\n"
    "  --fault LIST           fault injection, entries KIND[=PARAM][@K][:PROB] joined by\n"
    "                         ',': status=CODE[@S] disconnect-after=K stall=MS[@K]\n"
    "                         malformed[@K] error-event[@K] no-usage slow-headers=MS\n"
    "                         trickle; the X-Tokmock-Fault header overrides it per request\n"
    "\n"
    "Other:\n"
    "  --log-level L          error|warn|info|debug [info]\n"
    "  --quiet                same as --log-level warn (no per-request lines)\n"
    "  --help, --version\n";

void options_usage(FILE *out)
{
    fputs(usage_text, out);
}

void options_default(mock_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8000;
    o->models[0] = "tokmock";
    o->n_models = 0; /* the default applies only when no --model is given */
    sched_params_default(&o->sched);
    o->parallel = 0;
    o->engine = ENGINE_INDEPENDENT;
    o->prefill_chunk = 512;
    o->ctx_size = 131072;
    o->cache_mode = CACHE_LCP;
    o->cache_block = 16;
    o->cache_capacity = 1000000;
    o->role_chunk = ROLE_WITH_FIRST;
    o->personality = PERS_VLLM;
    o->threads = 1100;
    o->emitters = 2;
    o->eos_at = -1;
    o->log_level = LOG_INFO;
    o->max_body_bytes = (size_t)64 << 20;
    o->max_header_bytes = 16384;
    o->max_json_depth = REQ_MAX_DEPTH;
}

const char *options_role_chunk_name(enum role_chunk r)
{
    switch (r) {
    case ROLE_EARLY: return "early";
    case ROLE_NONE: return "none";
    default: return "with-first";
    }
}

const char *options_personality_name(enum personality p)
{
    static const char *const names[] = {"vllm", "llamacpp", "sglang", "openai", "ollama"};
    return (unsigned)p < 5 ? names[p] : "vllm";
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return OPT_ERR;
}

/* Option table: name, whether it takes a value. */
enum opt_id {
    O_HOST, O_PORT, O_PORT_FILE, O_PID_FILE, O_MODEL, O_PP_RATE, O_TG_RATE, O_OVERHEAD,
    O_PARALLEL, O_BATCH_PENALTY, O_ENGINE, O_PREFILL_CHUNK, O_CTX_SIZE, O_CACHE,
    O_CACHE_BLOCK, O_CACHE_CAPACITY, O_MTP, O_MTP_ACCEPT, O_MTP_PATTERN, O_REASONING,
    O_ROLE_CHUNK, O_PERSONALITY, O_SEED, O_API_KEY, O_TRUTH, O_FAULT, O_LOG_LEVEL, O_QUIET,
    O_THREADS, O_PING_MS, O_EOS_AT, O_NO_TOKENIZE, O_MAX_BODY, O_HELP, O_VERSION, O_KV_BUDGET,
    O_KV_PREEMPT, O_MAX_HEADER, O_MAX_JSON_DEPTH, O_MAX_CONNECTIONS,
    O_STARTUP_MS, O_REPLAY, O_REASONING_FIELD, O_EMITTERS, O_NO_REALTIME, O_YIELD_CPU,
};

static const struct {
    const char *name;
    int takes_value;
} table[] = {
    [O_HOST] = {"host", 1}, [O_PORT] = {"port", 1}, [O_PORT_FILE] = {"port-file", 1},
    [O_PID_FILE] = {"pid-file", 1}, [O_MODEL] = {"model", 1}, [O_PP_RATE] = {"pp-rate", 1},
    [O_TG_RATE] = {"tg-rate", 1}, [O_OVERHEAD] = {"overhead-ms", 1},
    [O_PARALLEL] = {"parallel", 1}, [O_BATCH_PENALTY] = {"batch-penalty", 1},
    [O_ENGINE] = {"engine", 1}, [O_PREFILL_CHUNK] = {"prefill-chunk", 1},
    [O_CTX_SIZE] = {"ctx-size", 1}, [O_CACHE] = {"cache", 1},
    [O_CACHE_BLOCK] = {"cache-block", 1}, [O_CACHE_CAPACITY] = {"cache-capacity", 1},
    [O_MTP] = {"mtp", 1}, [O_MTP_ACCEPT] = {"mtp-accept", 1},
    [O_MTP_PATTERN] = {"mtp-pattern", 1}, [O_REASONING] = {"reasoning", 1},
    [O_ROLE_CHUNK] = {"role-chunk", 1}, [O_PERSONALITY] = {"personality", 1},
    [O_SEED] = {"seed", 1}, [O_API_KEY] = {"api-key", 1}, [O_TRUTH] = {"truth", 0},
    [O_FAULT] = {"fault", 1}, [O_LOG_LEVEL] = {"log-level", 1}, [O_QUIET] = {"quiet", 0},
    [O_THREADS] = {"threads", 1}, [O_PING_MS] = {"ping-ms", 1}, [O_EOS_AT] = {"eos-at", 1},
    [O_NO_TOKENIZE] = {"no-tokenize", 0}, [O_MAX_BODY] = {"max-body-bytes", 1},
    [O_HELP] = {"help", 0}, [O_VERSION] = {"version", 0}, [O_KV_BUDGET] = {"kv-budget", 1},
    [O_KV_PREEMPT] = {"kv-preempt", 0}, [O_MAX_HEADER] = {"max-header-bytes", 1},
    [O_MAX_JSON_DEPTH] = {"max-json-depth", 1}, [O_MAX_CONNECTIONS] = {"max-connections", 1},
    [O_STARTUP_MS] = {"startup-ms", 1}, [O_REPLAY] = {"replay", 1},
    [O_REASONING_FIELD] = {"reasoning-field", 1}, [O_EMITTERS] = {"emitters", 1},
    [O_NO_REALTIME] = {"no-realtime", 0}, [O_YIELD_CPU] = {"yield-cpu", 0},
};

#define N_OPTS (sizeof table / sizeof table[0])

static int apply(mock_options *o, int id, const char *v, FILE *out, char *err, size_t err_len)
{
    long l;
    double d;
    uint64_t u;
    const char *name = table[id].name;

    switch (id) {
    case O_HOST:
        if (!*v)
            return fail(err, err_len, "--host: empty address");
        o->host = v;
        break;
    case O_PORT:
        if (parse_long_in(v, 0, 65535, &l))
            return fail(err, err_len, "--port: expected 0..65535, got '%s'", v);
        o->port = (int)l;
        break;
    case O_PORT_FILE: o->port_file = v; break;
    case O_PID_FILE: o->pid_file = v; break;
    case O_MODEL:
        if (!*v)
            return fail(err, err_len, "--model: empty name");
        if (o->n_models == OPT_MAX_MODELS)
            return fail(err, err_len, "--model: at most %d models", OPT_MAX_MODELS);
        o->models[o->n_models++] = v;
        break;
    case O_PP_RATE:
    case O_TG_RATE:
        if (parse_double_in(v, 1e-3, 1e9, &d))
            return fail(err, err_len, "--%s: expected a rate > 0 (tokens/s), got '%s'", name, v);
        if (id == O_PP_RATE)
            o->sched.pp_rate = d;
        else
            o->sched.tg_rate = d;
        break;
    case O_OVERHEAD:
        if (parse_double_in(v, 0, 3.6e6, &d))
            return fail(err, err_len, "--overhead-ms: expected 0..3600000, got '%s'", v);
        o->sched.overhead_ns = (int64_t)llround(d * 1e6);
        break;
    case O_PARALLEL:
        if (parse_long_in(v, 0, 100000, &l))
            return fail(err, err_len, "--parallel: expected 0..100000, got '%s'", v);
        o->parallel = (int)l;
        break;
    case O_BATCH_PENALTY:
        if (parse_double_in(v, 0, 1000, &d))
            return fail(err, err_len, "--batch-penalty: expected 0..1000, got '%s'", v);
        o->batch_penalty = d;
        break;
    case O_ENGINE:
        if (strcmp(v, "independent") == 0)
            o->engine = ENGINE_INDEPENDENT;
        else if (strcmp(v, "shared") == 0)
            o->engine = ENGINE_SHARED;
        else
            return fail(err, err_len, "--engine: expected independent|shared, got '%s'", v);
        break;
    case O_PREFILL_CHUNK:
        if (parse_long_in(v, 1, 1L << 30, &l))
            return fail(err, err_len, "--prefill-chunk: expected a positive count, got '%s'", v);
        o->prefill_chunk = (size_t)l;
        break;
    case O_KV_BUDGET:
        if (parse_long_in(v, 0, 1L << 40, &l))
            return fail(err, err_len, "--kv-budget: expected a token count >= 0, got '%s'", v);
        o->kv_budget = (size_t)l;
        break;
    case O_KV_PREEMPT:
        o->kv_preempt = 1;
        break;
    case O_CTX_SIZE:
        if (parse_long_in(v, 1, 1L << 40, &l))
            return fail(err, err_len, "--ctx-size: expected a positive count, got '%s'", v);
        o->ctx_size = (size_t)l;
        break;
    case O_CACHE: {
        int m = cache_parse_mode(v);
        if (m < 0)
            return fail(err, err_len, "--cache: expected lcp|block|off, got '%s'", v);
        o->cache_mode = m;
        break;
    }
    case O_CACHE_BLOCK:
        if (parse_long_in(v, 1, 1L << 20, &l))
            return fail(err, err_len, "--cache-block: expected 1..1048576, got '%s'", v);
        o->cache_block = (size_t)l;
        break;
    case O_CACHE_CAPACITY:
        if (parse_long_in(v, 0, 1L << 40, &l))
            return fail(err, err_len, "--cache-capacity: expected a token count, got '%s'", v);
        o->cache_capacity = (size_t)l;
        break;
    case O_MTP:
        if (parse_long_in(v, 0, 63, &l))
            return fail(err, err_len, "--mtp: expected 0..63, got '%s'", v);
        o->sched.mtp_k = (int)l;
        break;
    case O_MTP_ACCEPT:
        if (parse_double_in(v, 0, 1, &d))
            return fail(err, err_len, "--mtp-accept: expected a probability 0..1, got '%s'", v);
        o->sched.mtp_accept = d;
        break;
    case O_MTP_PATTERN:
        if (sched_parse_pattern(&o->sched, v))
            return fail(err, err_len,
                        "--mtp-pattern: expected a comma list of 1..64 (at most %d), got '%s'",
                        SCHED_MAX_PATTERN, v);
        break;
    case O_REASONING:
        if (parse_long_in(v, 0, INT_MAX, &l))
            return fail(err, err_len, "--reasoning: expected a token count >= 0, got '%s'", v);
        o->reasoning_tokens = (int)l;
        break;
    case O_ROLE_CHUNK:
        if (strcmp(v, "with-first") == 0)
            o->role_chunk = ROLE_WITH_FIRST;
        else if (strcmp(v, "early") == 0)
            o->role_chunk = ROLE_EARLY;
        else if (strcmp(v, "none") == 0)
            o->role_chunk = ROLE_NONE;
        else
            return fail(err, err_len, "--role-chunk: expected with-first|early|none, got '%s'", v);
        break;
    case O_PERSONALITY: {
        int found = -1;
        for (int p = 0; p < 5; p++)
            if (strcmp(v, options_personality_name((enum personality)p)) == 0)
                found = p;
        if (found < 0)
            return fail(err, err_len,
                        "--personality: expected llamacpp|vllm|sglang|openai|ollama, got '%s'", v);
        o->personality = (enum personality)found;
        o->personality_set = 1;
        break;
    }
    case O_SEED:
        if (parse_u64(v, &u))
            return fail(err, err_len, "--seed: expected an unsigned integer, got '%s'", v);
        o->seed = u;
        break;
    case O_API_KEY:
        if (!*v)
            return fail(err, err_len, "--api-key: empty key");
        o->api_key = v;
        break;
    case O_TRUTH: o->truth = 1; break;
    case O_NO_REALTIME: o->no_realtime = 1; break;
    case O_YIELD_CPU: o->yield_cpu = 1; break;
    case O_FAULT: {
        char why[384];
        if (fault_parse(&o->faults, v, why, sizeof why))
            return fail(err, err_len, "--fault: %s", why);
        break;
    }
    case O_LOG_LEVEL: {
        int lv = log_parse_level(v);
        if (lv < 0)
            return fail(err, err_len, "--log-level: expected error|warn|info|debug, got '%s'", v);
        o->log_level = lv;
        break;
    }
    case O_QUIET: o->log_level = LOG_WARN; break;
    case O_THREADS:
        if (parse_long_in(v, 2, 100000, &l))
            return fail(err, err_len, "--threads: expected 2..100000, got '%s'", v);
        o->threads = (int)l;
        break;
    case O_EMITTERS:
        if (parse_long_in(v, 0, OPT_MAX_EMITTERS, &l))
            return fail(err, err_len, "--emitters: expected 0..%d threads, got '%s'",
                        OPT_MAX_EMITTERS, v);
        o->emitters = (int)l;
        break;
    case O_PING_MS:
        if (parse_double_in(v, 0, 3.6e6, &d))
            return fail(err, err_len, "--ping-ms: expected 0..3600000, got '%s'", v);
        o->ping_ns = (int64_t)llround(d * 1e6);
        break;
    case O_EOS_AT:
        if (parse_long_in(v, 1, LONG_MAX, &l))
            return fail(err, err_len, "--eos-at: expected a token count >= 1, got '%s'", v);
        o->eos_at = l;
        break;
    case O_NO_TOKENIZE: o->no_tokenize = 1; break;
    case O_MAX_BODY:
        if (parse_long_in(v, 16, 1L << 34, &l))
            return fail(err, err_len, "--max-body-bytes: expected 16..2^34, got '%s'", v);
        o->max_body_bytes = (size_t)l;
        break;
    case O_MAX_HEADER:
        if (parse_long_in(v, 1024, 1L << 24, &l))
            return fail(err, err_len, "--max-header-bytes: expected 1024..16777216, got '%s'", v);
        o->max_header_bytes = (size_t)l;
        break;
    case O_MAX_JSON_DEPTH:
        if (parse_long_in(v, 1, REQ_MAX_DEPTH, &l))
            return fail(err, err_len, "--max-json-depth: expected 1..%d, got '%s'", REQ_MAX_DEPTH,
                        v);
        o->max_json_depth = (int)l;
        break;
    case O_MAX_CONNECTIONS:
        if (parse_long_in(v, 0, 1000000, &l))
            return fail(err, err_len, "--max-connections: expected 0..1000000, got '%s'", v);
        o->max_connections = (int)l;
        break;
    case O_STARTUP_MS:
        if (parse_double_in(v, 0, 3.6e6, &d))
            return fail(err, err_len, "--startup-ms: expected 0..3600000, got '%s'", v);
        o->startup_ns = (int64_t)llround(d * 1e6);
        break;
    case O_REASONING_FIELD:
        if (strcmp(v, "reasoning_content") && strcmp(v, "reasoning"))
            return fail(err, err_len,
                        "--reasoning-field: expected reasoning_content|reasoning, got '%s'", v);
        o->reasoning_field = v;
        break;
    case O_REPLAY:
        if (!*v)
            return fail(err, err_len, "--replay: empty path");
        o->replay_path = v;
        break;
    case O_HELP:
        options_usage(out);
        return OPT_EXIT;
    case O_VERSION:
        fprintf(out, "tokmock %s\n", TOKMOCK_VERSION);
        return OPT_EXIT;
    }
    return OPT_OK;
}

int options_parse(mock_options *o, int argc, char **argv, FILE *out, char *err, size_t err_len)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0)
            return fail(err, err_len, "unexpected argument '%s' (see --help)", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        int id = -1;
        for (size_t k = 0; k < N_OPTS; k++)
            if (strlen(table[k].name) == name_len && strncmp(table[k].name, name, name_len) == 0)
                id = (int)k;
        if (id < 0)
            return fail(err, err_len, "unknown option '%s' (see --help)", arg);
        const char *value = NULL;
        if (table[id].takes_value) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return fail(err, err_len, "--%s needs a value", table[id].name);
        } else if (eq) {
            return fail(err, err_len, "--%s takes no value", table[id].name);
        }
        int rc = apply(o, id, value, out, err, err_len);
        if (rc != OPT_OK)
            return rc;
    }
    if (o->n_models == 0)
        o->n_models = 1; /* models[0] holds the default name */
    if (o->sched.mtp_k > 0 && o->sched.mtp_pattern_len > 0)
        return fail(err, err_len, "--mtp and --mtp-pattern are exclusive");
    if (o->kv_budget > 0 && o->engine != ENGINE_SHARED)
        return fail(err, err_len, "--kv-budget needs --engine shared");
    if (o->kv_preempt && o->kv_budget == 0)
        return fail(err, err_len, "--kv-preempt needs --kv-budget");
    if (o->port_file && !*o->port_file)
        return fail(err, err_len, "--port-file: empty path");
    if (o->pid_file && !*o->pid_file)
        return fail(err, err_len, "--pid-file: empty path");
    return OPT_OK;
}
