/* Reading a saved result back into a results value, so that the report
 * writers can render it again without re-running: tokbench's own JSON (every
 * key report_json writes, the extras included) or llama-benchy 0.4.0's JSON
 * (its keys only; the summary statistics it lacks are computed from the
 * values). Rendering tokbench's JSON again gives the same bytes. */
#ifndef CLIENT_RELOAD_H
#define CLIENT_RELOAD_H

#include <stddef.h>

#include "results.h"

/* Saved results larger than this are refused (a guard, not a format limit). */
#define RELOAD_MAX_BYTES ((size_t)1 << 30)
/* Deepest JSON nesting accepted (our own output nests 5 deep). */
#define RELOAD_MAX_DEPTH 48

/* Parses len bytes of JSON text into r (initialised here; free it with
 * results_free() whatever the result). Returns 0, or -1 with a one-line
 * reason in err (e.g. "line 3: expected ',' or '}'", "benchmarks[2]:
 * \"concurrency\" is not an integer"). */
int reload_json(const char *text, size_t len, results *r, char *err, size_t err_size);
/* Reads the file at path and parses it as reload_json does; "-" reads
 * standard input. The reason in err does not repeat the path. */
int reload_file(const char *path, results *r, char *err, size_t err_size);

#endif
