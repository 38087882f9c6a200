/* --emit-progress: newline-delimited JSON events in llama-benchy's
 * "llama-benchy-progress.v1" schema (header, latency_measured,
 * request_start, request_first_response, request_first_token, tokens,
 * request_end, bench_complete), to a file or stdout, one flushed line per
 * event. Times are passed in (CLOCK_MONOTONIC ns) and turned into Unix
 * seconds with the wall/monotonic pair given at open. The API key is never
 * written, and user:password parts of URLs are removed. */
#ifndef CLIENT_PROGRESS_H
#define CLIENT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct progress progress;

/* target is a path or "-" (stdout). wall_ns_at_mono0 is the Unix time in ns
 * at monotonic time mono0_ns. Returns NULL with err set on failure. */
progress *progress_open(const char *target, const char *version, int64_t mono0_ns,
                        int64_t wall_ns_at_mono0, int64_t now_ns, char *err, size_t errlen);
/* Writes nothing more; closes a file (not stdout). NULL is accepted. */
void progress_close(progress *p);

void progress_latency(progress *p, int64_t now_ns, double latency_s, const char *mode);
void progress_request_start(progress *p, int64_t now_ns, long id, const char *model,
                            const char *base_url, int pp, int tg, int depth, int concurrency,
                            int run_index);
void progress_first_response(progress *p, int64_t now_ns, long id, double ttfr_s);
void progress_first_token(progress *p, int64_t now_ns, long id, double ttft_s);
void progress_tokens(progress *p, int64_t now_ns, long id, int count, const char *snippet,
                     size_t snippet_len, bool estimated);
void progress_request_end(progress *p, int64_t now_ns, long id, int total_tokens,
                          int prompt_tokens, double decode_s, const char *error);
/* status: "ok", "interrupted" or "error". */
void progress_complete(progress *p, int64_t now_ns, const char *status);

/* Copies url without a user:password@ part into out. */
void progress_redact_url(const char *url, char *out, size_t size);

#endif
