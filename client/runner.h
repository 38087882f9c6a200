/* The benchmark suite, as llama-benchy 0.4.0 runs it: warm-up (with prompt
 * adaptation), coherence check, one latency measurement, then the cells
 * depth -> pp -> tg -> concurrency, each with discarded warm-up runs and
 * measured runs (a synchronized burst of `concurrency` requests per run),
 * optionally in two phases (--enable-prefix-caching), then the report. */
#ifndef CLIENT_RUNNER_H
#define CLIENT_RUNNER_H

#include <stdint.h>

#include "client/cli.h"

/* Exit statuses (SPEC §2.1). */
enum { RUNNER_OK = 0, RUNNER_FAIL = 1, RUNNER_USAGE = 2 };

/* Runs everything the options ask for. Times: mono0_ns is CLOCK_MONOTONIC
 * and wall0_ns the Unix time (ns) read at the same moment, for the report's
 * date and progress timestamps. Returns the process exit status. */
int runner_run(const cli_options *opts, int64_t mono0_ns, int64_t wall0_ns);

/* Builds the JSON body of one benchmark request (exposed for tests).
 * Returns a new string (free with free()). */
char *runner_request_body(const cli_options *opts, const char *model, const char *context,
                          const char *prompt, int max_tokens, int return_token_ids);

#endif
