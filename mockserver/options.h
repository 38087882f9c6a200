/* tokmock's command line (SPEC §1.1): every option, its default, and the
 * validation that turns a bad value into a message (the caller exits 2).
 * Pure: parses argv into a value, prints nothing except for --help/--version. */
#ifndef MOCK_OPTIONS_H
#define MOCK_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mockserver/fault.h"
#include "mockserver/schedule.h"

struct replay; /* mockserver/replay.h */

#define OPT_MAX_MODELS 16
#define OPT_MAX_EMITTERS 64

enum role_chunk { ROLE_WITH_FIRST = 0, ROLE_EARLY = 1, ROLE_NONE = 2 };

/* Wire formats of real servers (SPEC §1.8; docs/tokmock-personalities.md). */
enum personality {
    PERS_VLLM = 0,
    PERS_LLAMACPP = 1,
    PERS_SGLANG = 2,
    PERS_OPENAI = 3,
    PERS_OLLAMA = 4,
};

enum engine_kind { ENGINE_INDEPENDENT = 0, ENGINE_SHARED = 1 };

typedef struct mock_options {
    const char *host;      /* borrowed from argv (or a literal) */
    int port;              /* 0 = any free port */
    const char *port_file; /* NULL = none */
    const char *pid_file;
    const char *models[OPT_MAX_MODELS];
    size_t n_models;       /* at least 1 after parsing */
    sched_params sched;    /* pp/tg rate, overhead, MTP */
    int parallel;          /* 0 = unlimited */
    double batch_penalty;
    enum engine_kind engine;
    size_t prefill_chunk;
    size_t kv_budget;      /* shared engine: KV tokens, 0 = unlimited */
    int kv_preempt;        /* with kv_budget: pause the newest instead of reserving */
    size_t ctx_size;
    int cache_mode;        /* enum cache_mode */
    size_t cache_block;
    size_t cache_capacity;
    int reasoning_tokens;
    enum role_chunk role_chunk;
    enum personality personality;
    uint64_t seed;
    const char *api_key;   /* NULL = no key required */
    int truth;
    int threads;           /* civetweb worker threads */
    int emitters;          /* threads writing token events; 0 = each stream's own thread */
    int no_realtime;       /* emitter threads do not ask for SCHED_FIFO */
    int yield_cpu;         /* civetweb's request threads run SCHED_IDLE */
    int64_t ping_ns;       /* 0 = no keep-alive comments */
    long eos_at;           /* -1 = never */
    int no_tokenize;
    int log_level;         /* enum log_level */
    size_t max_body_bytes;
    size_t max_header_bytes; /* request line + headers (civetweb max_request_size) */
    int max_json_depth;      /* 1..REQ_MAX_DEPTH */
    int max_connections;     /* concurrent requests; 0 = unlimited */
    fault_list faults;       /* --fault; empty = none */
    int personality_set;     /* --personality was given (the default vllm keeps
                              * owned_by "tokmock" in /v1/models) */
    int64_t startup_ns;      /* --startup-ms: every route answers 503 until then */
    const char *replay_path; /* --replay: NULL = generate */
    const char *reasoning_field; /* --reasoning-field: NULL = the personality's */
    struct replay *replay;   /* loaded by main from replay_path (not by the parser) */
} mock_options;

enum { OPT_OK = 0, OPT_EXIT = 1, OPT_ERR = -1 };

void options_default(mock_options *o);

/* Parses argv. Returns OPT_OK; OPT_EXIT after printing --help or --version to
 * out (the caller exits 0); or OPT_ERR with a one-line reason in err (the
 * caller prints it and exits 2). Strings in o borrow argv. */
int options_parse(mock_options *o, int argc, char **argv, FILE *out, char *err, size_t err_len);

void options_usage(FILE *out);

const char *options_role_chunk_name(enum role_chunk r);
const char *options_personality_name(enum personality p);

#define TOKMOCK_VERSION "0.1.0"

#endif
