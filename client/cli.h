/* tokbench's command line: every llama-benchy 0.4.0 flag with the same name,
 * arity and default, plus tokbench's own (--seed, --timeout, --log-level,
 * --quiet). Parsing is pure: no network, no clock; model autodetection and
 * file access happen later in the runner. */
#ifndef CLIENT_CLI_H
#define CLIENT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define TOKBENCH_VERSION "0.1.0"
/* The llama-benchy release whose command line and outputs tokbench follows. */
#define TOKBENCH_COMPAT_VERSION "0.4.0"

typedef struct cli_int_list {
    int *v; /* owned */
    size_t n;
} cli_int_list;

enum cli_latency_mode { CLI_LATENCY_API = 0, CLI_LATENCY_GENERATION = 1, CLI_LATENCY_NONE = 2 };
enum cli_format { CLI_FORMAT_MD = 0, CLI_FORMAT_JSON = 1, CLI_FORMAT_CSV = 2 };
enum cli_progress { CLI_PROGRESS_AUTO = 0, CLI_PROGRESS_ON = 1, CLI_PROGRESS_OFF = 2 };
/* What kind of server is benchmarked (--server-kind): decides which request
 * fields it accepts. AUTO = detect from /models, /props and headers. */
enum cli_server_kind {
    CLI_SERVER_AUTO = 0,
    CLI_SERVER_GENERIC = 1,
    CLI_SERVER_LLAMACPP = 2,
    CLI_SERVER_VLLM = 3,
    CLI_SERVER_SGLANG = 4,
    CLI_SERVER_OPENAI = 5,
    CLI_SERVER_OLLAMA = 6,
};

typedef struct cli_options {
    char *base_url;          /* trailing slashes removed; never holds user:pass@ */
    char *base_url_userinfo; /* "user:password" taken out of --base-url (percent-
                                decoded; sent as basic auth), NULL = none */
    char *api_key;           /* "EMPTY" by default, as llama-benchy */
    char *model;             /* NULL = autodetect from GET {base}/models */
    char *served_model_name; /* NULL = same as model */
    char *tokenizer;         /* NULL = none named */
    cli_int_list pp, tg, depth, concurrency;
    int runs;
    int warmup_runs;         /* discarded runs per cell (llama-benchy --warmup-runs) */
    bool no_cache;
    char *post_run_cmd;
    char *book_url;          /* NULL = the built-in corpus */
    enum cli_latency_mode latency_mode;
    bool no_warmup;
    bool skip_coherence;
    bool adapt_prompt;
    bool enable_prefix_caching;
    char *save_result;
    enum cli_format format;
    bool save_total_throughput_timeseries;
    bool save_all_throughput_timeseries;
    bool exit_on_first_fail;
    bool no_results_on_fail; /* implies exit_on_first_fail */
    cJSON *extra_body;       /* object, owned; empty when no --extra-body */
    bool exact_tg;
    char *emit_progress;     /* NULL, a path, or "-" for stdout */
    /* tokbench's own */
    uint64_t seed;
    double timeout_s;        /* a request fails after this long without a byte */
    int log_level;           /* enum log_level */
    /* Load modes, percentiles, gates, monitoring (docs/tokbench-load.md). */
    double *percentiles;     /* --percentiles: extra table columns (owned) */
    size_t n_percentiles;
    double request_rate;     /* --request-rate: 0 = not set; INFINITY = all at once */
    double burstiness;       /* gamma shape of the gaps; 1 = Poisson */
    int max_concurrency;     /* in-flight cap in --request-rate mode; 0 = none */
    double duration_s;       /* --duration: 0 = not set */
    int num_requests;        /* --num-requests: 0 = not set */
    char *slo;               /* --slo spec (checked here, evaluated by the runner) */
    bool ci;                 /* --ci: exit 3 when an objective is breached */
    double tg_tolerance;     /* depth recommendation tolerance (0.15) */
    long monitor_pid;        /* --monitor-pid: 0 = none */
    /* Failures (docs/tokbench-usage.md). */
    double request_timeout_s; /* --request-timeout: whole request; 0 = no limit */
    /* Reports, history, progress (docs/tokbench-reports.md). */
    char *html;              /* --html FILE */
    char *prom_textfile;     /* --prom-textfile FILE */
    char *history_dir;       /* --history DIR (main.c falls back to $TOKBENCH_HISTORY) */
    char *label;             /* --label: part of the history comparison key */
    double regress_pct;      /* --regress-pct: 10 by default */
    enum cli_progress progress_tty; /* --progress auto|on|off */
    /* Server kind and recording (docs/tokbench-servers.md). */
    char *record_dir;        /* --record DIR */
    enum cli_server_kind server_kind; /* --server-kind */
    bool server_columns;     /* --server-columns: the server's own t/s in the table */
    bool realtime;           /* --realtime: the reading thread asks for SCHED_FIFO;
                                main() clears it when refused */
} cli_options;

enum {
    CLI_OK = 0,    /* run the benchmark */
    CLI_EXIT = 1,  /* --help or --version was printed: exit 0 */
    CLI_USAGE = 2, /* bad usage: message in err, exit 2 */
    CLI_SLO_BREACH = 3, /* exit status under --ci when an objective is breached */
};

#define CLI_DEFAULT_SEED UINT64_C(1661)
#define CLI_DEFAULT_TIMEOUT_S 600.0
#define CLI_MAX_PERCENTILES 8

/* Parses argv into opts (initialized by this call; release with
 * cli_options_free in every case). --help and --version print to out.
 * On CLI_USAGE, err holds one line without a trailing newline. */
int cli_parse(int argc, char **argv, cli_options *opts, FILE *out, char *err, size_t errlen);
void cli_options_free(cli_options *opts);

/* Merges one --extra-body argument into obj: comma-separated key=value or
 * key:value entries; a value that parses as JSON is taken as JSON, otherwise
 * as a string. Returns 0, or -1 with a message in err. */
int cli_parse_extra_body(const char *arg, cJSON *obj, char *err, size_t errlen);

void cli_print_help(FILE *out);

/* "auto", "llamacpp", ... and back; parse returns -1 for an unknown name. */
const char *cli_server_kind_name(enum cli_server_kind k);
int cli_server_kind_parse(const char *s, enum cli_server_kind *out);

#endif
