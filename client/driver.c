#include "client/driver.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include <strings.h>

/* Bytes of a non-2xx body kept for the error message. */
#define ERROR_BODY_MAX 4096
/* Characters of that body quoted in the request's error. */
#define ERROR_EXCERPT 300
/* Ready sockets taken from one epoll_wait. */
#define EPOLL_BATCH 256
/* The longest sleep of the loops: the stop flag is looked at least this often. */
#define MAX_WAIT_NS CLOCK_NS_PER_S

struct driver {
    CURLM *multi;
    /* libcurl's socket interface: curl tells which sockets to watch
     * (on_socket) and when its next timeout is due (on_timer); the loops
     * wait in epoll and hand libcurl only the sockets that are ready, so a
     * wakeup costs the same with 1 or 1000 transfers in flight. */
    int ep;
    int64_t timer_ns;         /* libcurl's next timeout (absolute), INT64_MAX = none */
    struct epoll_event evs[EPOLL_BATCH];
    struct curl_slist *headers;
    int64_t idle_ns;          /* --timeout: a transfer fails after this long without a byte */
    double idle_s;
    long request_timeout_ms;  /* --request-timeout; 0 = none */
    double request_timeout_s;
    char *userinfo;           /* basic auth "user:password", or NULL */
    /* No transfer can go idle before this time (a lower bound of every
     * transfer's last_io_ns + idle_ns), so the loops scan only then. */
    int64_t next_idle_check_ns;
    bool token_ids_refused;
    bool reached;
    volatile sig_atomic_t *stop;
    record *rec;              /* --record, or NULL (borrowed) */
};

/* One transfer in flight: a streaming job or a plain fetch. */
typedef struct xfer {
    driver *d;
    CURL *easy;
    /* streaming */
    driver_job *job;
    const driver_hooks *hooks;
    bool retried;
    /* plain fetch */
    buf *resp;
    driver_fetch_times *times;
    bool truncated;
    /* both */
    long status;        /* from the status line of the final response */
    char retry_after[32]; /* Retry-After header value, "" when none */
    buf err_body;       /* non-2xx body (capped) */
    int64_t last_io_ns; /* the last byte sent or received (idle timeout) */
    curl_off_t ul_seen;
    bool idle_expired;  /* failed by the idle timeout, not by libcurl */
    int64_t start_ns, first_byte_ns, headers_ns, upload_done_ns;
    char curl_err[CURL_ERROR_SIZE];
    bool done;
    record_req *rec_h;  /* --record entry of the current attempt, NULL = none */
} xfer;

/* CURLMOPT_SOCKETFUNCTION: libcurl says which events a socket waits for
 * (or that it is done with it); the epoll set follows. A non-NULL socketp
 * (set with curl_multi_assign) marks a socket that is in the set. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    driver *d = userp;
    if (what == CURL_POLL_REMOVE) {
        /* The socket may be closed already (EBADF): epoll dropped it then. */
        if (socketp)
            epoll_ctl(d->ep, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = s;
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(d->ep, op, s, &ev);
    if (rc != 0 && errno == EEXIST)
        rc = epoll_ctl(d->ep, EPOLL_CTL_MOD, s, &ev);
    else if (rc != 0 && errno == ENOENT)
        rc = epoll_ctl(d->ep, EPOLL_CTL_ADD, s, &ev);
    if (rc != 0) {
        log_error("epoll_ctl on a libcurl socket: %s", strerror(errno));
        return -1; /* libcurl fails the transfer */
    }
    if (!socketp)
        curl_multi_assign(d->multi, s, d);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl's next timeout, relative; -1 = none. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    driver *d = userp;
    if (timeout_ms < 0)
        d->timer_ns = INT64_MAX;
    else
        d->timer_ns = clock_now_ns() + (int64_t)timeout_ms * CLOCK_NS_PER_MS;
    return 0;
}

static bool global_ok;

driver *driver_new(const driver_config *cfg, char *err, size_t errlen)
{
    if (!global_ok) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl initialization failed");
            return NULL;
        }
        global_ok = true;
    }
    driver *d = xcalloc(1, sizeof *d);
    d->ep = epoll_create1(EPOLL_CLOEXEC);
    if (d->ep < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        free(d);
        return NULL;
    }
    d->multi = curl_multi_init();
    if (!d->multi) {
        snprintf(err, errlen, "libcurl: cannot create a multi handle");
        close(d->ep);
        free(d);
        return NULL;
    }
    d->timer_ns = INT64_MAX;
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    long maxconn = cfg->max_connections > 0 ? cfg->max_connections : 16;
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, maxconn);
    d->idle_s = cfg->timeout_s > 0 ? cfg->timeout_s : 600.0;
    d->idle_ns = (int64_t)(d->idle_s * 1e9);
    d->next_idle_check_ns = INT64_MAX;
    if (cfg->request_timeout_s > 0) {
        d->request_timeout_s = cfg->request_timeout_s;
        d->request_timeout_ms = (long)ceil(cfg->request_timeout_s * 1000.0);
    }
    if (cfg->userinfo && cfg->userinfo[0])
        d->userinfo = xstrdup(cfg->userinfo);
    d->stop = cfg->stop;
    d->rec = cfg->rec;

    d->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue": it would hold large bodies back for a second. */
    d->headers = curl_slist_append(d->headers, "Expect:");
    const char *key = cfg->api_key;
    if (key && key[0] && strcmp(key, "EMPTY") != 0) {
        buf h;
        buf_init(&h, 0);
        buf_printf(&h, "Authorization: Bearer %s", key);
        d->headers = curl_slist_append(d->headers, h.data);
        buf_free(&h);
    }
    return d;
}

void driver_free(driver *d)
{
    if (!d)
        return;
    curl_multi_cleanup(d->multi); /* may still report sockets: ep closes after */
    close(d->ep);
    curl_slist_free_all(d->headers);
    free(d->userinfo);
    free(d);
}

bool driver_token_ids_refused(const driver *d)
{
    return d->token_ids_refused;
}

bool driver_server_reached(const driver *d)
{
    return d->reached;
}

static bool is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    /* The arrival time is read before anything is parsed (SPEC §2.2). */
    int64_t now = clock_now_ns();
    xfer *x = userp;
    size_t len = size * nmemb;
    record_data(x->rec_h, now, data, len);
    x->last_io_ns = now;
    if (!x->first_byte_ns)
        x->first_byte_ns = now;
    if (!x->headers_ns)
        x->headers_ns = now;
    if (x->resp) {
        if (!x->truncated && buf_append(x->resp, data, len))
            x->truncated = true;
        return len;
    }
    if (!is_2xx(x->status)) {
        size_t room = ERROR_BODY_MAX > x->err_body.len ? ERROR_BODY_MAX - x->err_body.len : 0;
        buf_append(&x->err_body, data, len < room ? len : room);
        return len;
    }
    tb_request *r = x->job->req;
    if (request_stream_feed(r, data, len, now) != 0)
        return 0; /* aborts the transfer; r->error says why */
    if (x->hooks && x->hooks->on_data)
        x->hooks->on_data(x->hooks->ctx, x->job, now);
    return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    int64_t now = clock_now_ns();
    xfer *x = userp;
    size_t len = size * nmemb;
    record_headers(x->rec_h, data, len);
    if (x->times && x->times->headers)
        buf_append(x->times->headers, data, len);
    x->last_io_ns = now;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* "HTTP/1.1 200 OK": a new response (after a 1xx, the final one). */
        const char *sp = memchr(data, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->retry_after[0] = '\0';
        x->d->reached = true;
    } else if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        size_t i = 12, n = len;
        while (i < n && (data[i] == ' ' || data[i] == '\t'))
            i++;
        while (n > i && (data[n - 1] == '\r' || data[n - 1] == '\n' || data[n - 1] == ' '))
            n--;
        size_t m = n - i < sizeof x->retry_after - 1 ? n - i : sizeof x->retry_after - 1;
        memcpy(x->retry_after, data + i, m);
        x->retry_after[m] = '\0';
    } else if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n')) {
        if (x->status >= 200 && !x->headers_ns)
            x->headers_ns = now;
    }
    return len;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    xfer *x = userp;
    if (ulnow > x->ul_seen) {
        /* Sending counts as activity for the idle timeout too. */
        x->ul_seen = ulnow;
        x->last_io_ns = clock_now_ns();
    }
    if (!x->upload_done_ns && ultotal > 0 && ulnow >= ultotal)
        x->upload_done_ns = clock_now_ns();
    return 0;
}

static CURL *make_easy(driver *d, xfer *x, const char *url, const char *body)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    /* The idle timeout (--timeout) is the loops' own: libcurl's low-speed
     * check averages over seconds and would fire late. */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ceil(d->idle_s * 1000.0));
    if (d->request_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, d->request_timeout_ms);
    if (d->userinfo) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, d->userinfo);
    }
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    return e;
}

/* Adds x to the multi handle; the start time is taken just before. */
static int add_xfer(driver *d, xfer *x, const char *url, const char *body)
{
    x->easy = make_easy(d, x, url, body);
    if (!x->easy)
        return -1;
    x->start_ns = clock_now_ns();
    x->last_io_ns = x->start_ns;
    x->ul_seen = 0;
    x->idle_expired = false;
    if (x->start_ns + d->idle_ns < d->next_idle_check_ns)
        d->next_idle_check_ns = x->start_ns + d->idle_ns;
    if (x->job) {
        x->job->req->start_ns = x->start_ns;
        x->rec_h = record_begin(d->rec, NULL, url, body, x->start_ns);
    }
    if (curl_multi_add_handle(d->multi, x->easy) != CURLM_OK) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        record_end(x->rec_h, x->start_ns, 0, "cannot start the request (libcurl)");
        x->rec_h = NULL;
        return -1;
    }
    return 0;
}

static void reset_xfer_state(xfer *x)
{
    x->status = 0;
    x->retry_after[0] = '\0';
    buf_reset(&x->err_body);
    x->first_byte_ns = x->headers_ns = x->upload_done_ns = 0;
    x->curl_err[0] = '\0';
}

static void describe_failure(driver *d, xfer *x, tb_request *r, CURLcode rc, int64_t now);

static int finish_stream_inner(driver *d, xfer *x, CURLcode rc, int64_t now);

/* Finishes a streaming transfer and its --record entry. Returns 1 when it
 * was re-added (retry: a new entry was begun). */
static int finish_stream(driver *d, xfer *x, CURLcode rc, int64_t now)
{
    record_req *h = x->rec_h;
    int64_t headers_ns = x->headers_ns;
    x->rec_h = NULL;
    int retried = finish_stream_inner(d, x, rc, now);
    record_end(h, now, headers_ns,
               retried ? "refused return_token_ids: retried without it" : x->job->req->error);
    return retried;
}

static int finish_stream_inner(driver *d, xfer *x, CURLcode rc, int64_t now)
{
    tb_request *r = x->job->req;
    if (rc == CURLE_OK && x->status == 400 && x->job->alt_body && !x->retried &&
        x->err_body.data && strstr(x->err_body.data, "return_token_ids")) {
        /* The server refuses return_token_ids: once more without it, and
         * never again during this run. */
        if (!d->token_ids_refused)
            log_warn("the server refused return_token_ids; retrying without it");
        d->token_ids_refused = true;
        x->retried = true;
        request_clear(r);
        request_init(r);
        reset_xfer_state(x);
        if (add_xfer(d, x, x->job->url, x->job->alt_body) == 0)
            return 1;
        request_set_error(r, "cannot start the retried request");
        r->end_ns = now;
        return 0;
    }
    r->end_ns = now;
    r->http_status = x->status;
    r->headers_ns = x->headers_ns;
    r->upload_done_ns = x->upload_done_ns ? x->upload_done_ns : x->headers_ns;
    if (x->status >= 300) {
        /* An error status is the reason, even when its body was cut short. */
        size_t n = x->err_body.len < ERROR_EXCERPT ? x->err_body.len : ERROR_EXCERPT;
        char excerpt[ERROR_EXCERPT + 1];
        memcpy(excerpt, x->err_body.data ? x->err_body.data : "", n);
        excerpt[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)excerpt[i] < 0x20)
                excerpt[i] = ' ';
        char kind[24];
        snprintf(kind, sizeof kind, "http_%ld", x->status);
        char retry[64] = "";
        if (x->retry_after[0])
            snprintf(retry, sizeof retry, " (Retry-After: %s)", x->retry_after);
        request_fail(r, kind, "HTTP %ld%s: %s%s", x->status, retry, excerpt,
                     rc == CURLE_OK ? "" : " [body incomplete]");
        return 0;
    }
    if (is_2xx(x->status))
        request_stream_finish(r, now);
    describe_failure(d, x, r, rc, now);
    return 0;
}

/* Names what ended a streamed transfer that was not an HTTP error status;
 * leaves a success alone. */
static void describe_failure(driver *d, xfer *x, tb_request *r, CURLcode rc, int64_t now)
{
    const char *curl_msg = x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc);
    if (x->idle_expired) {
        request_fail(r, FAIL_NO_DATA, "no data for %g s (%s, %d tokens received)", d->idle_s,
                     x->status ? "during the response" : "waiting for the response headers",
                     r->total_tokens);
        return;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        if (d->request_timeout_ms > 0 &&
            now - x->start_ns >= (int64_t)d->request_timeout_ms * CLOCK_NS_PER_MS - CLOCK_NS_PER_MS)
            request_fail(r, FAIL_REQ_TIMEOUT, "request took longer than %g s (%d tokens received)",
                         d->request_timeout_s, r->total_tokens);
        else
            request_fail(r, FAIL_CONNECT, "%s", curl_msg);
        return;
    }
    if (r->error)
        return; /* the stream reader named it (malformed or error event, cut, over-size) */
    bool cut = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
    if (is_2xx(x->status) && (rc == CURLE_OK || cut)) {
        if (request_check_complete(r, cut) == 0 && rc != CURLE_OK)
            request_fail(r, FAIL_TRANSPORT, "%s", curl_msg);
        return;
    }
    if (rc == CURLE_OK)
        return;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        rc == CURLE_COULDNT_RESOLVE_PROXY)
        request_fail(r, FAIL_CONNECT, "%s", curl_msg);
    else if (cut)
        request_fail(r, FAIL_CLOSED, "connection closed before the response (%s)", curl_msg);
    else
        request_fail(r, FAIL_TRANSPORT, "%s", curl_msg);
}

static bool stopping(const driver *d)
{
    return d->stop && *d->stop;
}

/* Abandons a transfer in flight (interrupt). */
static void abandon(driver *d, xfer *x, int64_t now)
{
    if (x->easy) {
        curl_multi_remove_handle(d->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    if (x->job && !x->job->req->error) {
        request_fail(x->job->req, FAIL_INTERRUPTED, "interrupted");
        x->job->req->end_ns = now;
    }
    record_end(x->rec_h, now, x->headers_ns, "interrupted");
    x->rec_h = NULL;
    x->done = true;
}

/* Takes x off the multi handle when it went without a byte for the idle
 * timeout (--timeout) and returns true; otherwise lowers the driver's next
 * scan time to x's deadline. */
static bool idle_expired(driver *d, xfer *x, int64_t now)
{
    if (!x->easy)
        return false;
    int64_t due = x->last_io_ns + d->idle_ns;
    if (due > now) {
        if (due < d->next_idle_check_ns)
            d->next_idle_check_ns = due;
        return false;
    }
    curl_multi_remove_handle(d->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    x->idle_expired = true;
    snprintf(x->curl_err, sizeof x->curl_err, "no data for %g s", d->idle_s);
    return true;
}

/* Sleeps in epoll until a socket is ready, libcurl's timer is due, the
 * next idle scan is due or until_ns (absolute; INT64_MAX = none) passes, at
 * most MAX_WAIT_NS; then lets libcurl act on the ready sockets only (their
 * reads are stamped in on_write) and on its timer. Returns 0, or -1 on an
 * internal error (logged). */
static int wait_and_act(driver *d, int64_t until_ns)
{
    int64_t now = clock_now_ns();
    int64_t deadline = now + MAX_WAIT_NS;
    if (until_ns < deadline)
        deadline = until_ns;
    if (d->timer_ns < deadline)
        deadline = d->timer_ns;
    if (d->next_idle_check_ns < deadline)
        deadline = d->next_idle_check_ns;
    int ms = 0;
    if (deadline > now)
        ms = (int)((deadline - now + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS);
    int n = epoll_wait(d->ep, d->evs, EPOLL_BATCH, ms);
    if (n < 0) {
        if (errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            return -1;
        }
        n = 0; /* a signal: the caller looks at the stop flag */
    }
    int running = 0;
    for (int i = 0; i < n; i++) {
        uint32_t ev = d->evs[i].events;
        int mask = 0;
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
            mask |= CURL_CSELECT_IN;
        if (ev & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (ev & EPOLLERR)
            mask |= CURL_CSELECT_ERR;
        CURLMcode mc = curl_multi_socket_action(d->multi, d->evs[i].data.fd, mask, &running);
        if (mc != CURLM_OK) {
            log_error("libcurl: %s", curl_multi_strerror(mc));
            return -1;
        }
    }
    /* socket_action above also ran the timeouts that were due; this covers
     * a wakeup by the timer alone. */
    if (d->timer_ns != INT64_MAX && clock_now_ns() >= d->timer_ns) {
        d->timer_ns = INT64_MAX;
        CURLMcode mc = curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        if (mc != CURLM_OK) {
            log_error("libcurl: %s", curl_multi_strerror(mc));
            return -1;
        }
        /* libcurl reports a timer only when it changes: ask for the current
         * one, in case it fired on a rounded value and is due again. */
        long t = -1;
        if (d->timer_ns == INT64_MAX && curl_multi_timeout(d->multi, &t) == CURLM_OK && t >= 0)
            d->timer_ns = clock_now_ns() + (int64_t)t * CLOCK_NS_PER_MS;
    }
    return 0;
}

/* A transfer of run_loop ended with result (or by the idle timeout): hands
 * it to the stream finisher or the fetch. Returns 1 when it was re-added. */
static int complete_xfer(driver *d, xfer *x, CURLcode result, int64_t now)
{
    if (x->job) {
        if (finish_stream(d, x, result, now))
            return 1; /* retried: still in flight */
        if (x->hooks && x->hooks->on_done)
            x->hooks->on_done(x->hooks->ctx, x->job);
    } else if (x->times) {
        x->times->start_ns = x->start_ns;
        x->times->first_byte_ns = x->first_byte_ns;
        x->times->end_ns = now;
    }
    return 0;
}

/* Drives the multi handle until every transfer in xs is done. */
static int run_loop(driver *d, xfer *xs, size_t n, CURLcode *codes)
{
    size_t remaining = 0;
    for (size_t i = 0; i < n; i++)
        remaining += !xs[i].done;
    int rc = 0;
    while (remaining > 0) {
        /* Plain fetches are short and finish; streams are abandoned. */
        if (stopping(d) && n > 0 && xs[0].job) {
            int64_t now = clock_now_ns();
            for (size_t i = 0; i < n; i++)
                if (!xs[i].done)
                    abandon(d, &xs[i], now);
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(d->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            int64_t now = clock_now_ns();
            CURL *e = msg->easy_handle;
            CURLcode result = msg->data.result;
            xfer *x = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
            curl_multi_remove_handle(d->multi, e);
            curl_easy_cleanup(e);
            x->easy = NULL;
            if (complete_xfer(d, x, result, now))
                continue;
            if (codes)
                codes[x - xs] = result;
            x->done = true;
            remaining--;
        }
        int64_t now = clock_now_ns();
        if (now >= d->next_idle_check_ns) {
            d->next_idle_check_ns = INT64_MAX;
            for (size_t i = 0; i < n; i++) {
                xfer *x = &xs[i];
                if (x->done || !idle_expired(d, x, now))
                    continue;
                if (complete_xfer(d, x, CURLE_OPERATION_TIMEDOUT, now))
                    continue;
                if (codes)
                    codes[i] = CURLE_OPERATION_TIMEDOUT;
                x->done = true;
                remaining--;
            }
        }
        if (remaining == 0)
            break;
        if (wait_and_act(d, INT64_MAX)) {
            rc = -1;
            break;
        }
    }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            if (xs[i].easy) {
                curl_multi_remove_handle(d->multi, xs[i].easy);
                curl_easy_cleanup(xs[i].easy);
                xs[i].easy = NULL;
            }
    }
    return rc;
}

int driver_run_burst(driver *d, driver_job *jobs, size_t n, const driver_hooks *hooks)
{
    if (n == 0)
        return 0;
    xfer *xs = xcalloc(n, sizeof *xs);
    int rc = 0;
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        xs[i].d = d;
        xs[i].job = &jobs[i];
        xs[i].hooks = hooks;
        buf_init(&xs[i].err_body, ERROR_BODY_MAX + 1);
    }
    /* The burst: everything is added before the loop runs. */
    for (size_t i = 0; i < n; i++) {
        if (add_xfer(d, &xs[i], jobs[i].url, jobs[i].body)) {
            request_set_error(jobs[i].req, "cannot start the request (libcurl)");
            xs[i].done = true;
            continue;
        }
        added++;
    }
    if (added > 0)
        rc = run_loop(d, xs, n, NULL);
    for (size_t i = 0; i < n; i++)
        buf_free(&xs[i].err_body);
    free(xs);
    return rc;
}

int driver_fetch(driver *d, const char *url, const char *body, size_t max_body, long *status,
                 buf *resp, driver_fetch_times *times, char *err, size_t errlen)
{
    xfer x;
    memset(&x, 0, sizeof x);
    x.d = d;
    driver_fetch_times local;
    memset(&local, 0, sizeof local);
    x.times = times ? times : &local;
    buf_init(&x.err_body, 0);
    buf_reset(resp);
    resp->max_len = max_body;
    x.resp = resp;
    if (add_xfer(d, &x, url, body)) {
        snprintf(err, errlen, "cannot start a request to %s", url);
        buf_free(&x.err_body);
        return -1;
    }
    CURLcode code = CURLE_OK;
    int rc = run_loop(d, &x, 1, &code);
    buf_free(&x.err_body);
    if (rc) {
        snprintf(err, errlen, "internal libcurl error talking to %s", url);
        return -1;
    }
    if (code != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url, x.curl_err[0] ? x.curl_err : curl_easy_strerror(code));
        return -1;
    }
    if (x.truncated) {
        snprintf(err, errlen, "%s: response larger than %zu bytes", url, max_body);
        return -1;
    }
    *status = x.status;
    return 0;
}

/* ---- load modes ---- */

int driver_run_feed(driver *d, const driver_feed *feed, size_t max_in_flight,
                    const driver_hooks *hooks)
{
    size_t cap = 64, n_live = 0;
    xfer **live = xcalloc(cap, sizeof *live);
    driver_job *pending = NULL;
    int64_t due = 0;
    bool exhausted = false;
    int rc = 0;
    for (;;) {
        int64_t now = clock_now_ns();
        if (stopping(d)) {
            for (size_t i = 0; i < n_live; i++)
                abandon(d, live[i], now);
            break;
        }
        /* Start every job that is due, up to the in-flight limit. */
        while (!exhausted && (max_in_flight == 0 || n_live < max_in_flight)) {
            if (!pending && !feed->next(feed->ctx, now, &pending, &due)) {
                exhausted = true;
                break;
            }
            if (due > now)
                break;
            xfer *x = xcalloc(1, sizeof *x);
            x->d = d;
            x->job = pending;
            x->hooks = hooks;
            buf_init(&x->err_body, ERROR_BODY_MAX + 1);
            pending = NULL;
            if (add_xfer(d, x, x->job->url, x->job->body)) {
                request_set_error(x->job->req, "cannot start the request (libcurl)");
                x->job->req->end_ns = now;
                if (hooks && hooks->on_done)
                    hooks->on_done(hooks->ctx, x->job);
                buf_free(&x->err_body);
                free(x);
                continue;
            }
            if (n_live == cap) {
                cap *= 2;
                live = xrealloc(live, cap * sizeof *live);
            }
            live[n_live++] = x;
            now = clock_now_ns();
        }
        if (exhausted && n_live == 0)
            break;
        CURLMsg *msg;
        int left;
        bool freed = false;
        while ((msg = curl_multi_info_read(d->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            freed = true;
            int64_t t = clock_now_ns();
            CURL *e = msg->easy_handle;
            CURLcode result = msg->data.result;
            xfer *x = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
            curl_multi_remove_handle(d->multi, e);
            curl_easy_cleanup(e);
            x->easy = NULL;
            if (finish_stream(d, x, result, t))
                continue; /* retried */
            if (hooks && hooks->on_done)
                hooks->on_done(hooks->ctx, x->job);
            for (size_t i = 0; i < n_live; i++)
                if (live[i] == x) {
                    live[i] = live[--n_live];
                    break;
                }
            buf_free(&x->err_body);
            free(x);
        }
        int64_t t_idle = clock_now_ns();
        if (t_idle >= d->next_idle_check_ns) {
            d->next_idle_check_ns = INT64_MAX;
            for (size_t i = 0; i < n_live;) {
                xfer *x = live[i];
                if (!idle_expired(d, x, t_idle)) {
                    i++;
                    continue;
                }
                freed = true;
                finish_stream(d, x, CURLE_OPERATION_TIMEDOUT, t_idle);
                if (hooks && hooks->on_done)
                    hooks->on_done(hooks->ctx, x->job);
                live[i] = live[--n_live];
                buf_free(&x->err_body);
                free(x);
            }
        }
        /* A slot came free: refill it before sleeping. */
        if (freed && !exhausted)
            continue;
        /* Sleep until data arrives or the next job is due. */
        int64_t until = INT64_MAX;
        if (pending && (max_in_flight == 0 || n_live < max_in_flight))
            until = due;
        if (n_live == 0 && until <= clock_now_ns())
            continue;
        if (wait_and_act(d, until)) {
            rc = -1;
            break;
        }
    }
    for (size_t i = 0; i < n_live; i++) {
        if (live[i]->easy)
            abandon(d, live[i], clock_now_ns());
        buf_free(&live[i]->err_body);
        free(live[i]);
    }
    free(live);
    return rc;
}
