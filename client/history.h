/* The history ledger (--history DIR, $TOKBENCH_HISTORY): every finished run's
 * full JSON plus a normalized summary line, and a comparison with the last
 * run of the same shape. docs/tokbench-reports.md describes the layout:
 *   DIR/runs/<UTC stamp>-<key id>.json   the run's JSON report
 *   DIR/index.jsonl                      one summary object per line */
#ifndef CLIENT_HISTORY_H
#define CLIENT_HISTORY_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "client/cli.h"
#include "client/results.h"
#include "common/buf.h"

/* Appends the run to the ledger in dir (created when missing). When an
 * earlier run with the same comparison key exists, prints a comparison to
 * err and flags every metric that got worse by more than o->regress_pct.
 * Never writes to stdout. wall_ns is the run's time (ns since the Unix
 * epoch), used for its stamp. Returns the number of regressions flagged
 * (>= 0), or -1 when the ledger cannot be read or written (message on err). */
int history_record_at(const char *dir, const results *r, const cli_options *o, int64_t wall_ns,
                      FILE *err);

/* What makes two runs comparable. Strings are owned; free with
 * history_key_free(). */
typedef struct history_key {
    char *host;        /* host of --base-url: lower case, no credentials, no port */
    char *model;       /* the model the run measured */
    char *pp, *tg, *depth, *concurrency; /* the lists as "512,1024" */
    char *load_mode;   /* "burst", "duration=60", "request_rate=4,burstiness=1,..." */
    char *latency_mode; /* api | generation | none */
    char *cache;       /* "default", "no_cache", "prefix_caching" (or both) */
    char *version;     /* tokbench's version */
    char *label;       /* --label, "" when none */
    char id[17];       /* 16 hex digits: FNV-1a 64 of the canonical key text */
} history_key;

/* Builds the key of a run of o that measured model (NULL = o->model). */
void history_key_build(const cli_options *o, const char *model, history_key *k);
void history_key_free(history_key *k);
/* The key fields as a new cJSON object (free with cJSON_Delete). */
cJSON *history_key_json(const history_key *k);

/* Copies the host of url into out (lower case; scheme, user:password@,
 * port, path, query and fragment removed; an IPv6 literal keeps its
 * brackets). Returns the length, or -1 when it does not fit. */
int history_url_host(const char *url, char *out, size_t size);

/* The normalized summary of a run, as one index line holds it: a new cJSON
 * object (free with cJSON_Delete) with "key", "key_fields", "time",
 * "tokbench_version", "label", "model", "run_file" and one "cells" entry per
 * benchmark row with the headline figures (null when not measured). */
cJSON *history_summary(const results *r, const history_key *k, const char *time_utc,
                       const char *run_file);

/* Prints, to f, the table comparing every cell of now with the same cell of
 * prev (two summaries as history_summary makes them) and one "REGRESSION"
 * line for each figure that got worse by more than regress_pct percent:
 * t/s lower, latency higher, errors more. Returns the number of regressions. */
int history_compare_summaries(const cJSON *prev, const cJSON *now, double regress_pct, FILE *f);

/* Reads the whole file at path into out (capped at max_bytes). Returns 0, or
 * -1 with a message in err (missing, unreadable, larger than the cap). */
int history_read_file(const char *path, size_t max_bytes, buf *out, char *err, size_t errlen);

/* Largest result JSON `tokbench compare` and the ledger read. */
#define HISTORY_MAX_JSON_BYTES ((size_t)512 << 20)
/* Longest index line read; a longer one is skipped with a warning. */
#define HISTORY_MAX_LINE_BYTES ((size_t)4 << 20)

#endif
