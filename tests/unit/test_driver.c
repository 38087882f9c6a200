/* The libcurl driver's event loop (client/driver.c) against a small HTTP
 * server run on threads of this test: plain fetches, a burst of streams
 * stamped per read, an error status, the idle timeout, the stop flag and the
 * feed (load) mode. Port 0 on 127.0.0.1 only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/driver.h"
#include "client/request.h"
#include "common/clock.h"
#include "tests/test.h"

/* ---- the test server: one thread per connection, "Connection: close" ---- */

#define SSE_EVENTS 20
#define SSE_GAP_NS (2 * CLOCK_NS_PER_MS)
#define MAX_CONNS 512
#define BURST_N 64

/* Server-side send times of the burst test's events (written by the
 * connection threads, read after they are joined or done). */
static int64_t sse_sent[BURST_N][SSE_EVENTS];

typedef struct srv {
    int lfd;
    int port;
    pthread_t accepter;
    pthread_mutex_t mu;
    pthread_t conns[MAX_CONNS];
    int n_conns;
} srv;

static int send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

/* Reads the request head and its body; copies the path into path. */
static int read_request(int fd, char *path, size_t pathlen)
{
    char b[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len + 1 >= sizeof b)
            return -1;
        ssize_t r = recv(fd, b + len, sizeof b - 1 - len, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        b[len] = '\0';
        end = strstr(b, "\r\n\r\n");
    }
    const char *sp = strchr(b, ' ');
    if (!sp)
        return -1;
    sp++;
    size_t n = strcspn(sp, " ");
    if (n >= pathlen)
        n = pathlen - 1;
    memcpy(path, sp, n);
    path[n] = '\0';
    size_t want = 0;
    const char *cl = strcasestr(b, "\r\nContent-Length:");
    if (cl && cl < end)
        want = (size_t)strtoul(cl + 17, NULL, 10);
    size_t have = len - (size_t)(end + 4 - b);
    while (have < want) {
        ssize_t r = recv(fd, b, sizeof b, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return 0;
}

static const char SSE_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Connection: close\r\n\r\n";
static const char SSE_EVENT[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w\"}}]}\n\n";

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char path[256];
    if (read_request(fd, path, sizeof path) == 0) {
        if (strcmp(path, "/hello") == 0) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        } else if (strncmp(path, "/sse", 4) == 0) {
            /* "/sse/<i>" records when each event of stream i was handed to
             * the kernel (just before send: a lower bound of its arrival). */
            long idx = path[4] == '/' ? strtol(path + 5, NULL, 10) : -1;
            int64_t *sent = idx >= 0 && idx < BURST_N ? sse_sent[idx] : NULL;
            int ok = send_str(fd, SSE_HEAD);
            for (int i = 0; i < SSE_EVENTS && ok == 0; i++) {
                clock_sleep_until_ns(clock_now_ns() + SSE_GAP_NS);
                if (sent)
                    sent[i] = clock_now_ns();
                ok = send_str(fd, SSE_EVENT);
            }
            if (ok == 0)
                send_str(fd, "data: [DONE]\n\n");
        } else if (strcmp(path, "/stall") == 0) {
            /* One event, then silence until the client hangs up. */
            if (send_str(fd, SSE_HEAD) == 0 && send_str(fd, SSE_EVENT) == 0) {
                char c;
                while (recv(fd, &c, 1, 0) > 0) {
                }
            }
        } else if (strcmp(path, "/err") == 0) {
            send_str(fd, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
                         "Content-Length: 4\r\nConnection: close\r\n\r\nbusy");
        } else {
            send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    srv *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* shut down by srv_stop */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&s->mu);
        if (s->n_conns == MAX_CONNS ||
            pthread_create(&s->conns[s->n_conns], NULL, serve_conn, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            s->n_conns++;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int srv_start(srv *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 1024) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0) {
        close(s->lfd);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->accepter, NULL, accept_loop, s) != 0) {
        close(s->lfd);
        return -1;
    }
    return 0;
}

/* Call after driver_free: every client socket is closed by then, so every
 * connection thread ends. */
static void srv_stop(srv *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->accepter, NULL);
    close(s->lfd);
    for (int i = 0; i < s->n_conns; i++)
        pthread_join(s->conns[i], NULL);
    pthread_mutex_destroy(&s->mu);
}

static srv server;
static char url_hello[64], url_sse[64], url_stall[64], url_err[64];

static driver *new_driver(double timeout_s, volatile sig_atomic_t *stop)
{
    driver_config c;
    memset(&c, 0, sizeof c);
    c.timeout_s = timeout_s;
    c.max_connections = 256;
    c.stop = stop;
    char err[256] = "";
    driver *d = driver_new(&c, err, sizeof err);
    if (!d)
        printf("  driver_new: %s\n", err);
    return d;
}

/* A burst of n jobs to url; the caller checks and clears reqs. */
static int run_burst(driver *d, const char *url, tb_request *reqs, size_t n,
                     const driver_hooks *hooks)
{
    driver_job *jobs = calloc(n, sizeof *jobs);
    if (!jobs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        request_init(&reqs[i]);
        jobs[i].url = url;
        jobs[i].body = "{\"stream\":true}";
        jobs[i].req = &reqs[i];
    }
    int rc = driver_run_burst(d, jobs, n, hooks);
    free(jobs);
    return rc;
}

/* ---- tests ---- */

TEST(fetch_plain)
{
    driver *d = new_driver(10, NULL);
    CHECK(d != NULL);
    if (!d)
        return;
    buf resp;
    buf_init(&resp, 0);
    long status = 0;
    buf headers;
    buf_init(&headers, 1 << 16);
    driver_fetch_times t = {.headers = &headers};
    char err[256] = "";
    CHECK_INT_EQ(driver_fetch(d, url_hello, NULL, 1000, &status, &resp, &t, err, sizeof err), 0);
    CHECK_INT_EQ(status, 200);
    /* The raw header lines, status line first (server-kind detection reads them). */
    CHECK(headers.len > 12 && strncmp(headers.data, "HTTP/1.1 200", 12) == 0);
    CHECK(headers.data && strstr(headers.data, "\r\n\r\n") != NULL);
    buf_free(&headers);
    CHECK_INT_EQ(resp.len, 5);
    CHECK(resp.data && memcmp(resp.data, "hello", 5) == 0);
    CHECK(t.start_ns > 0 && t.start_ns <= t.first_byte_ns && t.first_byte_ns <= t.end_ns);
    CHECK(driver_server_reached(d));
    /* Too small a cap is an error, not a cut body. */
    CHECK_INT_EQ(driver_fetch(d, url_hello, NULL, 2, &status, &resp, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "larger than") != NULL);
    buf_free(&resp);
    driver_free(d);
}

TEST(fetch_refused)
{
    /* A port that was just free: nobody listens on it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", ntohs(a.sin_port));
    driver *d = new_driver(10, NULL);
    if (!d)
        return;
    buf resp;
    buf_init(&resp, 0);
    long status = 0;
    char err[256] = "";
    CHECK_INT_EQ(driver_fetch(d, url, NULL, 1000, &status, &resp, NULL, err, sizeof err), -1);
    CHECK(err[0] != '\0');
    CHECK(!driver_server_reached(d));
    buf_free(&resp);
    driver_free(d);
}

/* Many streams at once: every event of every stream arrives, and its stamp
 * is taken at its own read: never before the server sent it, and not long
 * after (generous bound for a loaded machine). */
TEST(burst_streams)
{
    driver *d = new_driver(30, NULL);
    if (!d)
        return;
    static tb_request reqs[BURST_N];
    static driver_job jobs[BURST_N];
    static char urls[BURST_N][128];
    memset(sse_sent, 0, sizeof sse_sent);
    for (int i = 0; i < BURST_N; i++) {
        snprintf(urls[i], sizeof urls[i], "%s/%d", url_sse, i);
        request_init(&reqs[i]);
        jobs[i].url = urls[i];
        jobs[i].body = "{\"stream\":true}";
        jobs[i].alt_body = NULL;
        jobs[i].req = &reqs[i];
    }
    CHECK_INT_EQ(driver_run_burst(d, jobs, BURST_N, NULL), 0);
    int bad = 0;
    int64_t worst_lag = 0;
    for (int i = 0; i < BURST_N; i++) {
        tb_request *r = &reqs[i];
        if (r->error) {
            printf("  request %d: %s\n", i, r->error);
            bad++;
        } else if (r->total_tokens != SSE_EVENTS || r->n_events != SSE_EVENTS) {
            printf("  request %d: %d tokens, %zu events\n", i, r->total_tokens, r->n_events);
            bad++;
        } else {
            if (r->start_ns <= 0 || r->start_ns > sse_sent[i][0] || r->end_ns < r->last_token_ns)
                bad++;
            for (size_t k = 0; k < r->n_events; k++) {
                int64_t lag = r->events[k].t_ns - sse_sent[i][k];
                if (lag < 0 || (k > 0 && r->events[k].t_ns < r->events[k - 1].t_ns)) {
                    printf("  request %d event %zu: stamp - send = %lld ns\n", i, k,
                           (long long)lag);
                    bad++;
                }
                if (lag > worst_lag)
                    worst_lag = lag;
            }
        }
        request_clear(r);
    }
    CHECK_INT_EQ(bad, 0);
    CHECK(worst_lag < 2 * CLOCK_NS_PER_S);
    driver_free(d);
}

TEST(http_error_status)
{
    driver *d = new_driver(10, NULL);
    if (!d)
        return;
    tb_request r;
    CHECK_INT_EQ(run_burst(d, url_err, &r, 1, NULL), 0);
    CHECK_STR_EQ(r.error_kind, "http_503");
    CHECK(r.error && strstr(r.error, "Retry-After: 7") && strstr(r.error, "busy"));
    CHECK_INT_EQ(r.http_status, 503);
    request_clear(&r);
    driver_free(d);
}

/* --timeout: a stream that goes silent fails after the idle time, not at
 * the first second boundary and not never. */
TEST(idle_timeout)
{
    const double idle = 0.3;
    driver *d = new_driver(idle, NULL);
    if (!d)
        return;
    tb_request r[2];
    int64_t t0 = clock_now_ns();
    CHECK_INT_EQ(run_burst(d, url_stall, r, 2, NULL), 0);
    int64_t took = clock_now_ns() - t0;
    for (int i = 0; i < 2; i++) {
        CHECK_STR_EQ(r[i].error_kind, FAIL_NO_DATA);
        CHECK(r[i].error && strstr(r[i].error, "no data for 0.3 s"));
        CHECK_INT_EQ(r[i].total_tokens, 1);
        int64_t quiet = r[i].end_ns - r[i].last_token_ns;
        CHECK(quiet >= (int64_t)(idle * 1e9) - CLOCK_NS_PER_MS);
        request_clear(&r[i]);
    }
    CHECK(took < 10 * CLOCK_NS_PER_S); /* generous: a loaded machine */
    driver_free(d);
}

static volatile sig_atomic_t stop_flag;

static void stop_on_data(void *ctx, driver_job *j, int64_t now_ns)
{
    (void)ctx;
    (void)j;
    (void)now_ns;
    stop_flag = 1;
}

TEST(stop_flag_interrupts)
{
    stop_flag = 0;
    driver *d = new_driver(60, &stop_flag);
    if (!d)
        return;
    driver_hooks hooks = {stop_on_data, NULL, NULL};
    tb_request r[4];
    int64_t t0 = clock_now_ns();
    CHECK_INT_EQ(run_burst(d, url_stall, r, 4, &hooks), 0);
    CHECK(clock_now_ns() - t0 < 10 * CLOCK_NS_PER_S);
    for (int i = 0; i < 4; i++) {
        CHECK_STR_EQ(r[i].error_kind, FAIL_INTERRUPTED);
        request_clear(&r[i]);
    }
    driver_free(d);
}

/* ---- feed mode ---- */

enum { FEED_N = 10 };
typedef struct feed_state {
    driver_job jobs[FEED_N];
    tb_request reqs[FEED_N];
    int64_t due[FEED_N];
    int next, done, live, max_live;
} feed_state;

static int feed_next(void *ctx, int64_t now_ns, driver_job **job, int64_t *due_ns)
{
    (void)now_ns;
    feed_state *f = ctx;
    if (f->next == FEED_N)
        return 0;
    *job = &f->jobs[f->next];
    *due_ns = f->due[f->next];
    f->next++;
    /* Counted from the moment it is handed over (pending or started). */
    if (++f->live > f->max_live)
        f->max_live = f->live;
    return 1;
}

static void feed_done(void *ctx, driver_job *j)
{
    (void)j;
    feed_state *f = ctx;
    f->done++;
    f->live--;
}

TEST(feed_paced)
{
    driver *d = new_driver(30, NULL);
    if (!d)
        return;
    static feed_state f;
    memset(&f, 0, sizeof f);
    int64_t t0 = clock_now_ns() + 20 * CLOCK_NS_PER_MS;
    for (int i = 0; i < FEED_N; i++) {
        request_init(&f.reqs[i]);
        f.jobs[i].url = url_sse;
        f.jobs[i].body = "{}";
        f.jobs[i].req = &f.reqs[i];
        f.due[i] = t0 + i * 15 * CLOCK_NS_PER_MS;
    }
    driver_feed feed = {feed_next, &f};
    driver_hooks hooks = {NULL, feed_done, &f};
    CHECK_INT_EQ(driver_run_feed(d, &feed, 3, &hooks), 0);
    CHECK_INT_EQ(f.done, FEED_N);
    for (int i = 0; i < FEED_N; i++) {
        tb_request *r = &f.reqs[i];
        CHECK(r->error == NULL);
        CHECK_INT_EQ(r->total_tokens, SSE_EVENTS);
        /* Never started before it was due (the wait is rounded up). */
        CHECK(r->start_ns >= f.due[i]);
        request_clear(r);
    }
    CHECK(f.max_live <= 3);
    CHECK(f.max_live >= 2); /* 15 ms apart, 40 ms long: they overlap */
    driver_free(d);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (srv_start(&server) != 0) {
        printf("FAIL test_server_start\n");
        return 1;
    }
    snprintf(url_hello, sizeof url_hello, "http://127.0.0.1:%d/hello", server.port);
    snprintf(url_sse, sizeof url_sse, "http://127.0.0.1:%d/sse", server.port);
    snprintf(url_stall, sizeof url_stall, "http://127.0.0.1:%d/stall", server.port);
    snprintf(url_err, sizeof url_err, "http://127.0.0.1:%d/err", server.port);
    RUN(fetch_plain);
    RUN(fetch_refused);
    RUN(burst_streams);
    RUN(http_error_status);
    RUN(idle_timeout);
    RUN(stop_flag_interrupts);
    RUN(feed_paced);
    srv_stop(&server);
    return test_summary();
}
