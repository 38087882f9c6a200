/* Prompt building (SPEC §2.3): the context and the prompt of a request are
 * one contiguous slice of the corpus starting at a seeded offset, cut to
 * exact token counts with the server's /tokenize when it has one (llama.cpp
 * form {"content"} -> {"tokens"}, vLLM form {"model","prompt"} -> {"count"}),
 * or otherwise by calibration: a bytes-per-token ratio from usage.prompt_tokens
 * of max_tokens=1 probes gives a first cut, which is then measured by at most
 * a few probes (usage.prompt_tokens minus the overhead of the same message with
 * empty content) and resized proportionally; cuts are remembered per (offset,
 * size) so runs stay reproducible. A probe sends the slice in a different role
 * (system vs user) than the benchmark request will, so it warms no prefix
 * cache that request could hit. The source used goes into the report. */
#ifndef CLIENT_PROMPTS_H
#define CLIENT_PROMPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/corpus.h"
#include "client/driver.h"
#include "common/buf.h"

enum prompts_source {
    PROMPTS_TOKENIZE_PIECES = 0, /* llama.cpp /tokenize with pieces: exact cuts */
    PROMPTS_TOKENIZE_COUNT = 1,  /* a /tokenize that counts: cuts by search */
    PROMPTS_CALIBRATED = 2,      /* no /tokenize: bytes-per-token ratio */
};

typedef struct prompts prompts;

/* Borrows c and d for its lifetime. chat_url is {base}/chat/completions (for
 * calibration probes); root_urls are tried in order for /tokenize. */
prompts *prompts_new(const corpus *c, driver *d, const char *base_url, const char *model,
                     uint64_t seed);
void prompts_free(prompts *p);

/* Finds how token counts can be had from the server; never fails (the last
 * resort is calibration, done by prompts_calibrate). */
void prompts_detect(prompts *p);
enum prompts_source prompts_get_source(const prompts *p);
/* "server_tokenize" or "calibrated" (for the results metadata). */
const char *prompts_source_name(const prompts *p);

/* Calibrated source only: probes the server (max_tokens 1) to learn the bytes
 * per token of the corpus and the chat template overhead of a user message
 * (*delta_user) and of a system message followed by a "." user message
 * (*delta_context), as llama-benchy's warm-up deltas. Returns 0, or -1 with
 * err set (the warm-up failed). */
int prompts_calibrate(prompts *p, int *delta_user, int *delta_context, char *err, size_t errlen);

/* Token count of text by the current source (an estimate when calibrated).
 * Returns 0, or -1 with err set. */
int prompts_count(prompts *p, const char *text, size_t len, int *count, char *err,
                  size_t errlen);

/* Builds one request's context (ctx_tokens, empty when 0) and prompt
 * (prompt_tokens) from one slice at the next seeded offset. no_cache appends
 * a unique nonce to the prompt, counted in prompt_tokens. Appends to the
 * (reset) buffers; *wrapped tells that the slice passed the end of the book.
 * Returns 0, or -1 with err set. */
int prompts_make(prompts *p, int ctx_tokens, int prompt_tokens, bool no_cache, buf *context,
                 buf *prompt, bool *wrapped, char *err, size_t errlen);

/* Cuts the virtual corpus at offset to the byte length whose token count is
 * `tokens` (closest found), by the current source (calibrated: measured as a
 * user message when prompts_calibrate learned the overheads, else by the
 * ratio alone). Exposed for tests. */
int prompts_cut(prompts *p, size_t offset, int tokens, size_t *nbytes, char *err, size_t errlen);

/* Sends one non-streamed chat request with max_tokens 1 (system message
 * omitted when NULL) and reads usage.prompt_tokens (-1 when the server gave
 * none). Returns 0, or -1 with err set (transport error or non-2xx status). */
int prompts_probe(prompts *p, const char *system, const char *user, int *prompt_tokens, char *err,
                  size_t errlen);

/* How prompt sizes are cut, for the report: "tokenize_pieces",
 * "tokenize_count_search", "usage_probe_measured" (calibrated, each slice
 * measured by max_tokens 1 probes against empty-content overheads) or
 * "bytes_per_token_ratio" (calibrated, ratio only). */
const char *prompts_method(const prompts *p);
/* Probes sent so far to measure slices (calibrated source). */
int prompts_probe_count(const prompts *p);

/* Bytes per token currently assumed (measured, or 4.0 before any measure). */
double prompts_bytes_per_token(const prompts *p);
/* For tests: force the calibrated source with a given ratio. */
void prompts_set_calibrated(prompts *p, double bytes_per_token);

#endif
