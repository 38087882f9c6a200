/* loadgen: the lightest load we can put on tokmock, for scripts/bench-capacity.
 *
 * Opens N connections (at once, or spread evenly over --ramp-ms as load
 * arrives at a real server), sends one streaming chat request on each and
 * reads the answers without parsing them, until every server has closed its
 * connection (the request says "Connection: close"). Reads are batched: the
 * program sleeps --read-interval-ms between sweeps and then drains every
 * readable socket, so it costs far fewer wake-ups than one per token and
 * leaves the CPU to the server under test. It measures nothing itself: the
 * server's truth record holds the times that matter (when each write was due
 * and when it happened). Prints one summary line; exit 0 when every stream got
 * a 200 and ended, 1 when some did not, 2 on bad usage. */
#define _GNU_SOURCE /* SOCK_NONBLOCK, epoll */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/numparse.h"

typedef struct conn {
    int fd;
    char *req;
    size_t req_len, sent;
    char head[16]; /* the first bytes of the answer: "HTTP/1.1 200" */
    size_t head_len;
    unsigned long long bytes;
    int done; /* 1 ended (EOF), -1 failed */
} conn;

typedef struct opts {
    const char *host, *path, *model;
    int port, streams, max_tokens, prompt_words, interval_ms, ramp_ms;
    double timeout_s;
} opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: loadgen --port P [--host 127.0.0.1] [--streams N] [--max-tokens T]\n"
               "               [--prompt-words W] [--ramp-ms MS] [--read-interval-ms MS]\n"
               "               [--timeout S]\n"
               "               [--path /v1/chat/completions] [--model NAME]\n");
}

static int parse_opts(int argc, char **argv, opts *o)
{
    *o = (opts){.host = "127.0.0.1", .path = "/v1/chat/completions", .model = "loadgen",
                .port = -1, .streams = 100, .max_tokens = 100, .prompt_words = 24,
                .interval_ms = 50, .timeout_s = 600};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "loadgen: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--path"))
            o->path = v;
        else if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--port"))
            bad = parse_int_in(v, 1, 65535, &o->port);
        else if (!strcmp(a, "--streams"))
            bad = parse_int_in(v, 1, 100000, &o->streams);
        else if (!strcmp(a, "--max-tokens"))
            bad = parse_int_in(v, 1, 1000000, &o->max_tokens);
        else if (!strcmp(a, "--prompt-words"))
            bad = parse_int_in(v, 1, 100000, &o->prompt_words);
        else if (!strcmp(a, "--ramp-ms"))
            bad = parse_int_in(v, 0, 3600000, &o->ramp_ms);
        else if (!strcmp(a, "--read-interval-ms"))
            bad = parse_int_in(v, 0, 10000, &o->interval_ms);
        else if (!strcmp(a, "--timeout"))
            bad = parse_double_in(v, 1e-3, 86400, &o->timeout_s);
        else {
            fprintf(stderr, "loadgen: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "loadgen: bad value for %s: '%s'\n", a, v);
            return -1;
        }
    }
    if (o->port < 0) {
        fprintf(stderr, "loadgen: --port is required\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* A distinct prompt per stream (its number first), so no two share a cache
 * prefix beyond the template. */
static char *build_request(const opts *o, int idx, size_t *len)
{
    static const char *const words[] = {"the", "quick", "brown", "fox", "jumps", "over",
                                        "a", "lazy", "dog", "while", "holmes", "watches"};
    size_t cap = 512 + (size_t)o->prompt_words * 10;
    char *body = malloc(cap);
    if (!body)
        return NULL;
    int n = snprintf(body, cap,
                     "{\"model\":\"%s\",\"stream\":true,\"max_tokens\":%d,"
                     "\"messages\":[{\"role\":\"user\",\"content\":\"stream %d:",
                     o->model, o->max_tokens, idx);
    size_t at = (size_t)n;
    for (int w = 0; w < o->prompt_words; w++)
        at += (size_t)snprintf(body + at, cap - at, " %s", words[(idx + w) % 12]);
    at += (size_t)snprintf(body + at, cap - at, "\"}]}");
    size_t rcap = at + 512;
    char *req = malloc(rcap);
    if (!req) {
        free(body);
        return NULL;
    }
    int h = snprintf(req, rcap,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     "Accept: text/event-stream\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     o->path, o->host, o->port, at);
    memcpy(req + h, body, at);
    free(body);
    *len = (size_t)h + at;
    return req;
}

static void raise_fd_limit(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < (rlim_t)need + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void finish(conn *c, int ep, int how)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->done = how;
}

/* Sends what is left of the request; -1 on a hard error. */
static int send_more(conn *c)
{
    while (c->sent < c->req_len) {
        ssize_t w = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->sent += (size_t)w;
    }
    return 0;
}

/* Reads everything available; marks the connection done at EOF. */
static void drain(conn *c, int ep, char *scratch, size_t cap)
{
    for (;;) {
        ssize_t r = recv(c->fd, scratch, cap, 0);
        if (r > 0) {
            if (c->head_len < sizeof c->head - 1) {
                size_t take = (size_t)r < sizeof c->head - 1 - c->head_len
                                  ? (size_t)r
                                  : sizeof c->head - 1 - c->head_len;
                memcpy(c->head + c->head_len, scratch, take);
                c->head_len += take;
                c->head[c->head_len] = '\0';
            }
            c->bytes += (unsigned long long)r;
            continue;
        }
        if (r == 0) {
            int ok = c->head_len >= 12 && !strncmp(c->head + 8, " 200", 4);
            finish(c, ep, ok ? 1 : -1);
        } else if (errno != EAGAIN && errno != EINTR) {
            finish(c, ep, -1);
        }
        return;
    }
}

/* Builds stream i's request and starts its non-blocking connect. Returns
 * 0, or -1 (the stream counts as failed). */
static int open_conn(conn *c, int i, const opts *o, const struct sockaddr_in *addr, int ep)
{
    c->req = build_request(o, i, &c->req_len);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    if (!c->req || c->fd < 0 ||
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) != 0 &&
         errno != EINPROGRESS)) {
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        c->done = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_opts(argc, argv, &o))
        return 2;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    if (inet_pton(AF_INET, o.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address: '%s'\n", o.host);
        return 2;
    }
    raise_fd_limit(o.streams);
    int ep = epoll_create1(0);
    conn *cs = calloc((size_t)o.streams, sizeof *cs);
    char *scratch = malloc(1 << 16);
    if (ep < 0 || !cs || !scratch) {
        fprintf(stderr, "loadgen: out of resources\n");
        return 1;
    }
    for (int i = 0; i < o.streams; i++)
        cs[i].fd = -1; /* not opened yet */
    int64_t t0 = clock_now_ns();
    int64_t ramp_ns = (int64_t)o.ramp_ms * CLOCK_NS_PER_MS;
    int opened = 0, open_fail = 0, live = o.streams;
    int64_t deadline = t0 + (int64_t)(o.timeout_s * 1e9);
    struct epoll_event evs[1024];
    int64_t next_sweep = t0;
    while (live > 0 && clock_now_ns() < deadline) {
        /* Connections open on their ramp times; sending is done at once;
         * reading waits for the next sweep. */
        int64_t now = clock_now_ns();
        while (opened < o.streams && t0 + ramp_ns * opened / o.streams <= now) {
            if (open_conn(&cs[opened], opened, &o, &addr, ep)) {
                open_fail++;
                live--;
            }
            opened++;
        }
        int64_t next_open =
            opened < o.streams ? t0 + ramp_ns * opened / o.streams : INT64_MAX;
        int n = epoll_wait(ep, evs, 1024, 0);
        if (n == 0) {
            if (o.interval_ms > 0) {
                if (next_sweep <= now)
                    next_sweep = now + (int64_t)o.interval_ms * CLOCK_NS_PER_MS;
                clock_sleep_until_ns(next_sweep < next_open ? next_sweep : next_open);
                continue;
            }
            n = epoll_wait(ep, evs, 1024, next_open == INT64_MAX ? 100 : 1);
        }
        for (int k = 0; k < n; k++) {
            conn *c = &cs[evs[k].data.u32];
            if (c->fd < 0)
                continue;
            if (c->sent < c->req_len && (evs[k].events & EPOLLOUT)) {
                if (send_more(c)) {
                    finish(c, ep, -1);
                    live--;
                    continue;
                }
                if (c->sent == c->req_len) {
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
                                             .data.u32 = evs[k].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                drain(c, ep, scratch, 1 << 16);
                if (c->done)
                    live--;
            }
        }
    }
    if (open_fail)
        fprintf(stderr, "loadgen: %d connections could not be opened\n", open_fail);
    double secs = (double)(clock_now_ns() - t0) / 1e9;
    int ok = 0, failed = 0, unfinished = 0;
    unsigned long long bytes = 0;
    for (int i = 0; i < o.streams; i++) {
        ok += cs[i].done == 1;
        failed += cs[i].done == -1;
        unfinished += cs[i].done == 0;
        bytes += cs[i].bytes;
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].req);
    }
    printf("loadgen: streams %d ok %d failed %d unfinished %d bytes %llu seconds %.3f\n",
           o.streams, ok, failed, unfinished, bytes, secs);
    free(cs);
    free(scratch);
    close(ep);
    return ok == o.streams ? 0 : 1;
}
