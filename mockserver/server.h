/* tokmock's HTTP side (SPEC §1.2): civetweb routes, request handlers that
 * play the engine's schedule at absolute deadlines, and the wiring of the
 * cache, truth log and metrics. */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "mockserver/options.h"

typedef struct mock_server mock_server;

/* Starts listening (civetweb worker threads) with the options (borrowed for
 * the server's lifetime). origin_ns: the server's start on CLOCK_MONOTONIC,
 * the zero of the truth record. Returns NULL with the reason in err. */
mock_server *server_start(const mock_options *o, int64_t origin_ns, char *err, size_t err_len);

/* The port actually bound (useful with --port 0). */
int server_port(const mock_server *s);

/* Cancels waiting requests, cuts running streams short, stops civetweb and
 * frees everything. */
void server_stop(mock_server *s);

#endif
