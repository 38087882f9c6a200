/* The libcurl driver: sends requests and records when bytes arrive. It does
 * no maths; the stream reader (request.h) turns bytes into events and the
 * metrics turn records into numbers.
 *
 * One multi handle per driver keeps a shared connection cache, so HTTP/1.1
 * keep-alive connections are reused across bursts. The loops use libcurl's
 * socket interface: libcurl names the sockets to watch and its next timeout
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION), the driver sleeps in
 * epoll_wait and calls curl_multi_socket_action for the ready sockets only,
 * then curl_multi_info_read. A wakeup thus costs the same whether 1 or 1000
 * transfers are in flight; every read is still stamped on its own, before
 * parsing. */
#ifndef CLIENT_DRIVER_H
#define CLIENT_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "client/record.h"
#include "client/request.h"
#include "common/buf.h"

typedef struct driver driver;

typedef struct driver_config {
    const char *api_key;  /* NULL, "" or "EMPTY" = no Authorization header */
    double timeout_s;     /* a transfer fails after this long without a byte */
    int max_connections;  /* size of the connection cache (>= the largest burst) */
    /* Optional (may be NULL): set non-zero by a signal handler to stop. The
     * loops then abandon the transfers in flight, fail them with
     * "interrupted" and return. */
    volatile sig_atomic_t *stop;
    /* A request (streamed or plain) fails after this long in total
     * (CURLOPT_TIMEOUT_MS); 0 = no limit. */
    double request_timeout_s;
    /* "user:password" for HTTP basic authentication (from a base URL's
     * user:pass@), or NULL. Sent by libcurl, never part of a URL or a log. */
    const char *userinfo;
    /* --record: every streamed request's body, headers and reads go here
     * (client/record.h); NULL = not recording. Borrowed. */
    record *rec;
} driver_config;

/* Returns a new driver (free with driver_free), or NULL with err set. */
driver *driver_new(const driver_config *cfg, char *err, size_t errlen);
void driver_free(driver *d);

/* One streaming request of a burst. The driver fills req (initialized by the
 * caller with request_init) and feeds its body to the stream reader. When
 * alt_body is set and the server answers 400 with a body naming
 * "return_token_ids", the request is retried once with alt_body and
 * driver_token_ids_refused() becomes true. */
typedef struct driver_job {
    const char *url;
    const char *body;      /* JSON, borrowed */
    const char *alt_body;  /* the same without return_token_ids, or NULL */
    tb_request *req;
    void *user;            /* passed to the hooks */
} driver_job;

/* Optional observers, called from the driver loop (same thread). */
typedef struct driver_hooks {
    /* Right after request_stream_feed for job j (progress reporting). */
    void (*on_data)(void *ctx, driver_job *j, int64_t now_ns);
    /* After request_stream_finish / the error is set. */
    void (*on_done)(void *ctx, driver_job *j);
    void *ctx;
} driver_hooks;

/* Runs the n jobs as one synchronized burst: every transfer is added before
 * the loop starts, each start_ns taken just before its curl_multi_add_handle.
 * Returns when all have finished; failures are in each req->error with a
 * one-line reason and req->error_kind (client/request.h): "HTTP <status>
 * (Retry-After: S): <body excerpt>", "connection closed after N tokens", "no
 * data for S s", "request took longer than S s", a malformed event, the
 * server's error event. Returns 0, or -1 on an internal error. */
int driver_run_burst(driver *d, driver_job *jobs, size_t n, const driver_hooks *hooks);

/* Load modes: requests come from a feed instead of a fixed burst. Whenever
 * fewer than max_in_flight transfers run (0 = no limit), the driver asks
 * next() for the following job and its intended start due_ns (absolute
 * CLOCK_MONOTONIC; 0 = now), waits until then, and starts it (start_ns is
 * the actual time, taken as in a burst). next() returns 1 with a job, or 0
 * when the feed is exhausted; it may return 0 now and never be asked again.
 * Returns when the feed is exhausted and every transfer has finished: 0, or
 * -1 on an internal error. */
typedef struct driver_feed {
    int (*next)(void *ctx, int64_t now_ns, driver_job **job, int64_t *due_ns);
    void *ctx;
} driver_feed;
int driver_run_feed(driver *d, const driver_feed *feed, size_t max_in_flight,
                    const driver_hooks *hooks);

/* True once a server refused return_token_ids during this driver's life. */
bool driver_token_ids_refused(const driver *d);

/* True once any transfer of this driver received a response status line:
 * the server was reachable. Lets the runner tell "cannot reach the server"
 * (bad usage, exit 2) from a server that answered with errors. */
bool driver_server_reached(const driver *d);

/* A plain (non-streamed) exchange: GET when body is NULL, else POST of JSON.
 * The response body (capped at max_body bytes) goes to resp. Times (may be
 * NULL): start just before the transfer is added, first body byte, end.
 * Returns 0 when a response arrived (any status, in *status), or -1 with a
 * transport error in err. */
typedef struct driver_fetch_times {
    int64_t start_ns, first_byte_ns, end_ns;
    /* When not NULL, the response's raw header lines are appended here
     * (status line included; capped by the buf's max_len). */
    buf *headers;
} driver_fetch_times;
int driver_fetch(driver *d, const char *url, const char *body, size_t max_body, long *status,
                 buf *resp, driver_fetch_times *times, char *err, size_t errlen);

#endif
