/* SCHED_IDLE (Linux) */
#define _GNU_SOURCE
#include "server.h"

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/prng.h"
#include "common/xalloc.h"
#include "mockserver/cache.h"
#include "mockserver/chat.h"
#include "mockserver/emit.h"
#include "mockserver/emitter.h"
#include "mockserver/engine.h"
#include "mockserver/fault.h"
#include "mockserver/metrics.h"
#include "mockserver/replay.h"
#include "mockserver/request.h"
#include "mockserver/tokenizer.h"
#include "mockserver/truth.h"
#include "mockserver/wordgen.h"

/* "created" in responses: a fixed epoch plus seconds since the server
 * started, so the output never depends on the wall clock. */
#define CREATED_EPOCH INT64_C(1767225600) /* 2026-01-01T00:00:00Z */

/* Long sleeps are cut into slices so shutdown is noticed quickly; the last
 * slice still ends at the absolute deadline. */
#define SLEEP_SLICE_NS (50 * CLOCK_NS_PER_MS)

/* Bodies up to this much over the cap are read and dropped so the 413 can be
 * answered on a connection that stays usable; larger ones close it. */
#define DRAIN_LIMIT ((long long)64 << 20)

#define ERR_LEN 512

/* A stream's producer generates events ahead of the emitter and blocks when
 * this many are queued, until they drop to the low water: it wakes about
 * once per (high - low) tokens instead of once per token. */
#define EMITTER_HIGH_WATER 32
#define EMITTER_LOW_WATER 8
/* --emitters threads start; more join while events go out late. */
#define EMITTER_MAX_THREADS 64

struct mock_server {
    const mock_options *opts;
    struct mg_context *ctx;
    mock_engine *engine;
    mock_cache *cache;
    truth_log *truth; /* NULL without --truth */
    mock_metrics *metrics;
    emitter *em; /* NULL with --emitters 0: every stream sleeps in its own thread */
    int64_t origin_ns;
    int64_t ready_ns; /* --startup-ms: every route answers 503 before this */
    int port;
    _Atomic uint64_t next_seq;
    _Atomic int in_flight; /* requests counted by --max-connections */
    _Atomic int stopping;
    _Atomic int stopped;
    /* Streams whose last byte is written but whose truth record is not
     * stored yet: a client that read [DONE] may ask for the record sooner
     * than the handler thread gets to store it (see wait_records()). */
    _Atomic int settling;
};

/* ------------------------------------------------------------------ helpers */

static void sleep_until(mock_server *s, int64_t deadline_ns)
{
    for (;;) {
        if (atomic_load(&s->stopping))
            return;
        int64_t now = clock_now_ns();
        if (now >= deadline_ns)
            return;
        clock_sleep_until_ns(deadline_ns - now > SLEEP_SLICE_NS ? now + SLEEP_SLICE_NS
                                                                : deadline_ns);
    }
}

static int64_t created_s(const mock_server *s)
{
    return CREATED_EPOCH + (clock_now_ns() - s->origin_ns) / CLOCK_NS_PER_S;
}

/* How a complete response goes out: extra headers and the trickle fault. */
typedef struct body_opts {
    const char *request_id; /* X-Tokmock-Request-Id, or NULL */
    int close;              /* unread body bytes follow: the connection cannot be reused */
    int retry_after_s;      /* Retry-After header when >= 0 */
    int trickle;            /* one byte per write (fault) */
} body_opts;

/* Sends a complete response with a Content-Length. Returns 0 or -1 when the
 * client is gone. */
static int send_body_opts(struct mg_connection *conn, int status, const char *content_type,
                          const char *body, size_t len, const body_opts *bo)
{
    char length[32], retry[16];
    snprintf(length, sizeof length, "%zu", len);
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", content_type, -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    if (bo->request_id)
        mg_response_header_add(conn, "X-Tokmock-Request-Id", bo->request_id, -1);
    if (bo->retry_after_s >= 0) {
        snprintf(retry, sizeof retry, "%d", bo->retry_after_s);
        mg_response_header_add(conn, "Retry-After", retry, -1);
    }
    if (bo->close)
        mg_disable_connection_keep_alive(conn);
    if (mg_response_header_send(conn) != 0)
        return -1;
    if (bo->trickle) {
        for (size_t i = 0; i < len; i++)
            if (mg_write(conn, body + i, 1) != 1)
                return -1;
        return 0;
    }
    if (len && mg_write(conn, body, len) != (int)len)
        return -1;
    return 0;
}

static int send_body(struct mg_connection *conn, int status, const char *content_type,
                     const char *body, size_t len, const char *request_id, int close)
{
    body_opts bo = {.request_id = request_id, .close = close, .retry_after_s = -1};
    return send_body_opts(conn, status, content_type, body, len, &bo);
}

static int send_json(struct mg_connection *conn, int status, const buf *body,
                     const char *request_id)
{
    return send_body(conn, status, "application/json", body->data ? body->data : "", body->len,
                     request_id, 0);
}

static int send_error_opts(mock_server *s, struct mg_connection *conn, int status,
                           const char *message, const body_opts *bo)
{
    buf body;
    buf_init(&body, 0);
    emit_error_body(&body, s->opts->personality, status, message);
    int rc = send_body_opts(conn, status, "application/json", body.data, body.len, bo);
    buf_free(&body);
    metrics_count_error(s->metrics, status);
    return rc;
}

/* An error whose body the caller built (context, loading, SGLang's 400). */
static int send_status_body(mock_server *s, struct mg_connection *conn, int status,
                            const buf *body, const char *request_id)
{
    int rc = send_json(conn, status, body, request_id);
    metrics_count_error(s->metrics, status);
    return rc;
}

static int send_error(mock_server *s, struct mg_connection *conn, int status, const char *message,
                      const char *request_id, int close)
{
    body_opts bo = {.request_id = request_id, .close = close, .retry_after_s = -1};
    return send_error_opts(s, conn, status, message, &bo);
}

/* One SSE event = one chunk = one write: civetweb's mg_send_chunk() issues
 * three writes (size line, data, CRLF), which splits an event over several
 * TCP segments, so the framing is built here instead. */

/* The zero-size chunk that ends a chunked body. */
#define LAST_CHUNK "0\r\n\r\n"

/* end: the stream's last event; the terminating chunk goes in the same
 * write, so a client that closes right after reading [DONE] never races the
 * server's final write (which would otherwise count as a disconnect). */
static int send_chunk_raw(struct mg_connection *conn, buf *frame, const char *data, size_t len,
                          int trickle, int end)
{
    if (trickle) { /* fault: every byte its own chunk, its own write */
        for (size_t i = 0; i < len; i++) {
            char one[8] = {'1', '\r', '\n', data[i], '\r', '\n'};
            if (mg_write(conn, one, 6) != 6)
                return -1;
        }
        if (end && mg_write(conn, LAST_CHUNK, 5) != 5)
            return -1;
        return 0;
    }
    buf_reset(frame);
    int rc = buf_printf(frame, "%zx\r\n", len);
    rc |= buf_append(frame, data, len);
    rc |= buf_append(frame, "\r\n", 2);
    if (end)
        rc |= buf_append(frame, LAST_CHUNK, 5);
    if (rc)
        return -1;
    return mg_write(conn, frame->data, frame->len) == (int)frame->len ? 0 : -1;
}

static int send_chunk(struct mg_connection *conn, buf *frame, const buf *event, int trickle)
{
    return send_chunk_raw(conn, frame, event->data ? event->data : "", event->len, trickle, 0);
}

/* Reads the whole request body into out (capped). Returns 200, 413 (with
 * *close set when the excess could not be drained) or 400. */
static int read_body(struct mg_connection *conn, size_t cap, buf *out, int *close)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char chunk[16384];
    *close = 0;
    if (ri->content_length > (long long)cap) {
        if (ri->content_length - (long long)cap > DRAIN_LIMIT) {
            *close = 1;
            return 413;
        }
        long long left = ri->content_length;
        while (left > 0) {
            int n = mg_read(conn, chunk, sizeof chunk);
            if (n <= 0)
                break;
            left -= n;
        }
        return 413;
    }
    for (;;) {
        int n = mg_read(conn, chunk, sizeof chunk);
        if (n < 0)
            return 400;
        if (n == 0)
            break;
        if (buf_append(out, chunk, (size_t)n)) {
            *close = 1; /* chunked upload over the cap: stop reading it */
            return 413;
        }
    }
    return 200;
}

static int authorized(const mock_server *s, struct mg_connection *conn)
{
    if (!s->opts->api_key)
        return 1;
    const char *h = mg_get_header(conn, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return strcmp(h, s->opts->api_key) == 0;
}

/* ------------------------------------------------------------- completions */

/* Everything one completion request accumulates while it plays. */
typedef struct play_state {
    mock_server *s;
    struct mg_connection *conn;
    const mock_request *req;
    const fault_plan *plan;
    truth_record rec;
    emit_ctx ectx;
    buf event, frame;
    buf text;              /* all generated text, to find stop strings */
    buf reasoning_text;    /* non-stream: the reasoning part */
    buf content_text;      /* non-stream: the content part */
    int64_t *gen_ids;
    size_t n_gen, cap_gen;
    size_t *piece_lens;    /* the current step's token byte lengths */
    size_t cap_lens;
    size_t pending_tokens; /* generated but not shown yet (OpenAI's hidden reasoning):
                            * counted with the next write that carries tokens */
    int64_t first_token_ns, last_token_ns;
    int disconnected;
    int end_stream; /* the next write_event() also ends the chunked body */
    /* Token events queued to the emitter instead of written here. While it is
     * open the emitter's threads own what write_event() would touch (the
     * truth events, first/last token times) until emitter_drain(). */
    emitter_handle *em;
    int em_refused; /* a push was refused: the stream failed or shutdown */
    int settling;   /* counted in s->settling until the record is stored */
} play_state;

/* The stream's last byte went out: its record is due (stored at the end of
 * handle_completion(), which then takes it off s->settling). */
static void mark_settling(play_state *p)
{
    p->settling = 1;
    atomic_fetch_add(&p->s->settling, 1);
}

static void push_id(play_state *p, int64_t id)
{
    if (p->n_gen == p->cap_gen) {
        p->cap_gen = p->cap_gen ? p->cap_gen * 2 : 64;
        p->gen_ids = xrealloc(p->gen_ids, p->cap_gen * sizeof *p->gen_ids);
    }
    p->gen_ids[p->n_gen++] = id;
}

/* A write of n_tokens (bytes long) returned at t_ns: the truth event, the
 * first and last token times, the inter-token latency metric. */
static void record_write(play_state *p, int64_t t_ns, int64_t scheduled_ns, size_t n_tokens,
                         size_t bytes)
{
    truth_record_add_event(&p->rec, t_ns, scheduled_ns, n_tokens, bytes);
    if (n_tokens) {
        if (p->first_token_ns < 0)
            p->first_token_ns = t_ns;
        else
            metrics_observe_itl(p->s->metrics, t_ns - p->last_token_ns, n_tokens);
        p->last_token_ns = t_ns;
    }
}

/* Writes one SSE event and records it in the truth. Returns 0 or -1. An
 * empty event (nothing the personality shows) is not written: a zero-length
 * chunk would end the chunked stream; its tokens go with the next write that
 * carries tokens. */
static int write_event(play_state *p, int64_t scheduled_ns, size_t n_tokens)
{
    if (p->disconnected)
        return -1;
    if (!p->event.len) {
        p->pending_tokens += n_tokens;
        return 0;
    }
    if (n_tokens) {
        n_tokens += p->pending_tokens;
        p->pending_tokens = 0;
    }
    if (send_chunk_raw(p->conn, &p->frame, p->event.data, p->event.len, p->plan->trickle,
                       p->end_stream)) {
        p->disconnected = 1;
        return -1;
    }
    record_write(p, clock_now_ns(), scheduled_ns, n_tokens, p->event.len);
    if (p->end_stream)
        mark_settling(p);
    return 0;
}

/* The emitter's write function: one queued event, framed and recorded as
 * write_event() does. Runs on an emitter thread; scratch is that thread's. */
static int emitter_write(void *user, const emitter_item *it, buf *scratch)
{
    play_state *p = user;
    if (send_chunk_raw(p->conn, scratch, it->data, it->len, 0, it->end))
        return -1;
    record_write(p, clock_now_ns(), it->scheduled_ns, it->n_tokens, it->len);
    if (it->end)
        mark_settling(p); /* the handler reads p->settling after emitter_drain() */
    return 0;
}

/* write_event() through the emitter: the event is copied and queued to be
 * written at due_ns (< 0: right after the previous one). May block while the
 * stream's queue is full. Returns 0, or -1 when the stream failed or the
 * server stops (nothing more should be generated). */
static int queue_event(play_state *p, int64_t due_ns, int64_t scheduled_ns, size_t n_tokens)
{
    if (p->em_refused)
        return -1;
    if (!p->event.len) {
        p->pending_tokens += n_tokens;
        return 0;
    }
    if (n_tokens) {
        n_tokens += p->pending_tokens;
        p->pending_tokens = 0;
    }
    emitter_item it = {
        .due_ns = due_ns,
        .scheduled_ns = scheduled_ns,
        .n_tokens = n_tokens,
        .n_gen_after = p->n_gen,
        .end = p->end_stream,
        .data = xmalloc(p->event.len),
        .len = p->event.len,
    };
    memcpy(it.data, p->event.data, p->event.len);
    if (emitter_push(p->s->em, p->em, &it)) {
        p->em_refused = 1;
        return -1;
    }
    return 0;
}

/* Waits until the emitter wrote everything queued (or the stream failed, or
 * the server stopped) and closes the stream; from here the handler owns its
 * record again. Tokens that were generated but never sent are taken back so
 * the truth, the usage and the prefix cache see what the client got. */
static void finish_emitter(play_state *p)
{
    if (!p->em)
        return;
    int rc = emitter_drain(p->s->em, p->em);
    size_t n_sent = p->n_gen;
    emitter_close(p->s->em, p->em, &n_sent);
    p->em = NULL;
    if (rc == -1)
        p->disconnected = 1;
    if (rc != 0 && n_sent < p->n_gen)
        p->n_gen = n_sent;
}

/* True when appending piece to the generated text completes a stop string. */
static int hits_stop(const play_state *p, const char *piece, size_t len)
{
    for (size_t i = 0; i < p->req->n_stop; i++) {
        const char *stop = p->req->stop[i];
        size_t stop_len = strlen(stop);
        /* Search the tail of the text that could overlap the stop string. */
        size_t keep = stop_len > 1 ? stop_len - 1 : 0;
        size_t from = p->text.len > keep ? p->text.len - keep : 0;
        char window[WORDGEN_MAX + 256];
        size_t tail = p->text.len - from;
        if (tail + len >= sizeof window) {
            tail = sizeof window - 1 - len;
            from = p->text.len - tail;
        }
        memcpy(window, p->text.data ? p->text.data + from : "", tail);
        memcpy(window + tail, piece, len);
        window[tail + len] = '\0';
        if (strstr(window, stop))
            return 1;
    }
    return 0;
}

/* Removes the top-level "usage" object of a JSON body (the no-usage fault);
 * leaves the body unchanged when it does not parse. */
static void strip_usage(buf *body)
{
    cJSON *root = cJSON_ParseWithLength(body->data ? body->data : "", body->len);
    if (!root)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return;
    buf_reset(body);
    buf_append_str(body, text);
    cJSON_free(text);
}

/* Sends ": ping" comments until admission; returns 1 admitted, 0 gone. */
static int wait_admission(play_state *p, engine_ticket *ticket)
{
    mock_server *s = p->s;
    int64_t ping_ns = p->req->stream ? s->opts->ping_ns : 0;
    for (;;) {
        int64_t until = ping_ns ? clock_now_ns() + ping_ns : INT64_MAX;
        int rc = engine_wait_admit(s->engine, ticket, until);
        if (rc == 1)
            return 1;
        if (rc < 0)
            return 0;
        buf_reset(&p->event);
        emit_ping_for(&p->event, s->opts->personality);
        if (send_chunk(p->conn, &p->frame, &p->event, p->plan->trickle)) {
            p->disconnected = 1;
            return 0;
        }
    }
}

/* Sleeps until the deadline, with ": ping" comments every --ping-ms. */
static void wait_with_pings(play_state *p, int64_t deadline_ns)
{
    mock_server *s = p->s;
    int64_t ping_ns = p->req->stream ? s->opts->ping_ns : 0;
    if (!ping_ns) {
        sleep_until(s, deadline_ns);
        return;
    }
    for (;;) {
        int64_t next = clock_now_ns() + ping_ns;
        if (next >= deadline_ns || atomic_load(&s->stopping)) {
            sleep_until(s, deadline_ns);
            return;
        }
        sleep_until(s, next);
        buf_reset(&p->event);
        emit_ping_for(&p->event, s->opts->personality);
        if (send_chunk(p->conn, &p->frame, &p->event, p->plan->trickle)) {
            p->disconnected = 1;
            return;
        }
    }
}

static void start_stream(play_state *p)
{
    mg_response_header_start(p->conn, 200);
    mg_response_header_add(p->conn, "Content-Type", "text/event-stream", -1);
    mg_response_header_add(p->conn, "Cache-Control", "no-cache", -1);
    mg_response_header_add(p->conn, "X-Accel-Buffering", "no", -1);
    mg_response_header_add(p->conn, "Transfer-Encoding", "chunked", -1);
    if (p->s->truth)
        mg_response_header_add(p->conn, "X-Tokmock-Request-Id", p->rec.id, -1);
    if (p->plan->end != FAULT_END_NONE) /* the stream will be cut: no reuse */
        mg_disable_connection_keep_alive(p->conn);
    if (mg_response_header_send(p->conn) != 0)
        p->disconnected = 1;
}

/* Plays an accepted request: admission, prefill, token events, end. */
static void play(play_state *p, const int64_t *prompt_ids, size_t n_prompt, uint64_t seed)
{
    mock_server *s = p->s;
    const mock_options *o = s->opts;
    const mock_request *req = p->req;
    engine_ticket ticket;
    engine_play ep;
    const char *finish = NULL;

    if (req->stream)
        start_stream(p);

    engine_enqueue(s->engine, &ticket);
    if (p->disconnected || !wait_admission(p, &ticket)) {
        engine_leave(s->engine, &ticket);
        p->disconnected = 1;
        return;
    }
    int64_t admit_ns = clock_now_ns();
    p->rec.admit_ns = admit_ns;

    if (req->stream && o->role_chunk == ROLE_EARLY) {
        buf_reset(&p->event);
        emit_role_event(&p->event, &p->ectx);
        write_event(p, -1, 0);
    }

    cache_claim claim = cache_acquire(s->cache, prompt_ids, n_prompt, req->cache_prompt);
    size_t cached = claim.cached_tokens;
    p->rec.cached_tokens = cached;
    p->ectx.cached_tokens = cached;

    const emit_personality *info = emit_personality_info(o->personality);
    size_t limit = req->max_tokens;
    /* llama.cpp refuses only a prompt that does not fit (handle_completion);
     * otherwise generation stops at the context's end with "length". */
    if (info->context_error_prompt_only && n_prompt < o->ctx_size &&
        limit > o->ctx_size - n_prompt)
        limit = o->ctx_size - n_prompt;
    int eos_limited = 0;
    if (o->eos_at > 0 && (size_t)o->eos_at < limit) {
        limit = (size_t)o->eos_at;
        eos_limited = 1;
    }
    engine_play_start_ctx(s->engine, &ep, admit_ns, n_prompt, n_prompt - cached, limit, seed);
    p->rec.prefill_end_ns = ep.prefill_end_ns;
    wait_with_pings(p, ep.prefill_end_ns);

    wordgen wg;
    wordgen_init(&wg, seed, chat_is_coherence_question(req->prompt.data, req->prompt.len));
    size_t reasoning_left = (size_t)o->reasoning_tokens, n_reasoning = 0;
    int stopped = 0, first = 1;
    /* OpenAI streams no reasoning: a step of reasoning only shows nothing. */
    int hidden_reasoning = o->personality == PERS_OPENAI && req->kind == REQ_CHAT;
    /* Speculative decoding as llama.cpp reports it: drafts per decode step. */
    size_t draft_per_step = (size_t)(o->sched.mtp_k > 0 ? o->sched.mtp_k : 0);
    for (size_t i = 0; i < o->sched.mtp_pattern_len; i++)
        if (o->sched.mtp_pattern[i] > 1 && (size_t)o->sched.mtp_pattern[i] - 1 > draft_per_step)
            draft_per_step = (size_t)o->sched.mtp_pattern[i] - 1;
    size_t draft_n = 0, draft_accepted = 0, step = 0;
    /* `--personality vllm` given explicitly: real vLLM's own role event (content
     * "") before the first token, and the finish reason on the last token's
     * event. The default keeps the mock's historical shape (role in the first
     * delta, a separate finish chunk), and so do streams a fault will cut. */
    int real_vllm = o->personality_set && info->finish_with_last_token &&
                    p->plan->end == FAULT_END_NONE;
    const char *finish_sent = NULL;
    int64_t at_ns = ep.prefill_end_ns, last_at_ns = ep.prefill_end_ns;
    size_t n_tokens;
    const fault_plan *plan = p->plan;
    enum fault_end cut = FAULT_END_NONE;

    /* Plain streams go through the emitter; faulted ones keep their own
     * thread, which plays the faults' timing and framing as it always did.
     * What was written so far (headers, pings, an early role event) was
     * direct: nothing is queued yet, so the order holds. */
    if (s->em && req->stream && !plan->kinds && !p->disconnected)
        p->em = emitter_open(s->em, p, p->n_gen);

    while (!p->disconnected && !p->em_refused && !stopped && !atomic_load(&s->stopping) &&
           engine_play_next(s->engine, &ep, &at_ns, &n_tokens)) {
        cut = fault_end_due(plan, p->n_gen);
        if (cut != FAULT_END_NONE)
            break;
        char piece[WORDGEN_MAX];
        size_t start_ids = p->n_gen;
        size_t r_from = p->reasoning_text.len, c_from = p->content_text.len;
        if (n_tokens > p->cap_lens) {
            p->cap_lens = n_tokens;
            p->piece_lens = xrealloc(p->piece_lens, p->cap_lens * sizeof *p->piece_lens);
        }
        for (size_t i = 0; i < n_tokens; i++) {
            size_t len = wordgen_next(&wg, piece);
            if (hits_stop(p, piece, len)) {
                stopped = 1;
                break;
            }
            buf_append(&p->text, piece, len);
            push_id(p, tok_id(piece, len));
            p->piece_lens[i] = len;
            if (reasoning_left) {
                reasoning_left--;
                n_reasoning++;
                buf_append(&p->reasoning_text, piece, len);
            } else {
                buf_append(&p->content_text, piece, len);
            }
        }
        size_t taken = p->n_gen - start_ids;
        if (taken == 0)
            break;
        if (step++ > 0 && draft_per_step) {
            draft_n += draft_per_step;
            draft_accepted += taken - 1 < draft_per_step ? taken - 1 : draft_per_step;
        }
        last_at_ns = at_ns;
        /* A stall fault moves this event and every later one. */
        int64_t due_ns = at_ns + fault_stall_shift_ns(plan, start_ids);
        if (!req->stream)
            continue;
        emit_tokens t = {
            .reasoning = p->reasoning_text.data ? p->reasoning_text.data + r_from : NULL,
            .reasoning_len = p->reasoning_text.len - r_from,
            .content = p->content_text.data ? p->content_text.data + c_from : NULL,
            .content_len = p->content_text.len - c_from,
            .ids = p->gen_ids + start_ids,
            .n_ids = taken,
            .completion_tokens = p->n_gen,
            .with_role = first && o->role_chunk == ROLE_WITH_FIRST && req->kind == REQ_CHAT,
            .piece_lens = info->one_token_per_event ? p->piece_lens : NULL,
        };
        if (real_vllm) {
            t.role_event_first = t.with_role;
            if (!stopped && p->n_gen >= limit)
                t.finish_reason = finish_sent = eos_limited ? "stop" : "length";
        }
        emit_timings tpt;
        if (info->has_timings && req->timings_per_token) {
            tpt = (emit_timings){
                .cache_n = cached,
                .prompt_n = n_prompt - cached,
                .prompt_ms = (double)(ep.prefill_end_ns - admit_ns) / 1e6,
                .predicted_n = p->n_gen,
                .predicted_ms = (double)(at_ns - ep.prefill_end_ns) / 1e6,
                .draft_n = draft_n,
                .draft_n_accepted = draft_accepted,
            };
            t.timings = &tpt;
        }
        buf_reset(&p->event);
        emit_token_event(&p->event, &p->ectx, &t);
        size_t n_recorded = taken;
        int64_t scheduled_ns = due_ns;
        if (hidden_reasoning && t.content_len == 0) {
            /* Only hidden reasoning (maybe a role event): the tokens show later. */
            p->pending_tokens += taken;
            n_recorded = 0;
            scheduled_ns = -1;
        }
        if (fault_event_malformed(plan, start_ids, taken, stopped || p->n_gen >= limit)) {
            /* The broken copy carries nothing a client can parse: 0 tokens. */
            buf broken;
            buf_init(&broken, 0);
            fault_malformed_copy(&broken, p->event.data, p->event.len);
            buf_reset(&p->event);
            buf_append(&p->event, broken.data ? broken.data : "", broken.len);
            buf_free(&broken);
            n_recorded = 0;
        }
        if (p->em) {
            queue_event(p, due_ns, scheduled_ns, n_recorded);
        } else {
            sleep_until(s, due_ns);
            write_event(p, scheduled_ns, n_recorded);
        }
        first = 0;
        /* The stream only needs the text for stop strings: keep it short. */
        if (p->reasoning_text.len > 4096)
            buf_reset(&p->reasoning_text);
        if (p->content_text.len > 4096)
            buf_reset(&p->content_text);
    }

    /* A cut whose K lies beyond the end still happens, before the finish. */
    if (cut == FAULT_END_NONE && !p->disconnected && !atomic_load(&s->stopping))
        cut = plan->end;
    /* A stall after the last token delays what follows it. */
    if (plan->n_stalls && !p->disconnected)
        sleep_until(s, last_at_ns + fault_stall_shift_ns(plan, p->n_gen));

    if (cut != FAULT_END_NONE && !p->disconnected && !atomic_load(&s->stopping)) {
        if (!req->stream)
            sleep_until(s, last_at_ns);
        if (cut == FAULT_END_ERROR && req->stream) {
            buf_reset(&p->event);
            fault_error_event(&p->event, p->n_gen);
            write_event(p, -1, 0);
            if (!p->disconnected && mg_send_chunk(p->conn, "", 0) < 0)
                p->disconnected = 1;
        } else if (cut == FAULT_END_ERROR) {
            char msg[128];
            snprintf(msg, sizeof msg, "tokmock fault: the server failed after %zu tokens",
                     p->n_gen);
            body_opts bo = {.request_id = s->truth ? p->rec.id : NULL, .close = 1,
                            .retry_after_s = -1, .trickle = plan->trickle};
            if (send_error_opts(s, p->conn, 500, msg, &bo))
                p->disconnected = 1;
            p->rec.status = 500;
        } else {
            /* disconnect-after: nothing more; civetweb closes the socket when
             * the handler returns, without a terminating chunk. */
            mg_disable_connection_keep_alive(p->conn);
        }
    } else if (!p->disconnected && !p->em_refused && !atomic_load(&s->stopping)) {
        finish = (stopped || (eos_limited && p->n_gen >= limit)) ? "stop" : "length";
        /* llama.cpp counts the token that held a stop string, though it is not sent. */
        size_t n_reported = p->n_gen + (stopped && o->personality == PERS_LLAMACPP ? 1 : 0);
        p->ectx.reasoning_tokens = n_reasoning;
        p->ectx.timings = (emit_timings){
            .cache_n = cached,
            .prompt_n = n_prompt - cached,
            .prompt_ms = (double)(ep.prefill_end_ns - admit_ns) / 1e6,
            .predicted_n = n_reported,
            .predicted_ms = (double)(last_at_ns - ep.prefill_end_ns) / 1e6,
            .draft_n = draft_n,
            .draft_n_accepted = draft_accepted,
        };
        if (req->stream) {
            /* Finish, usage and [DONE] in one write, as the real servers send them. */
            emit_ctx tail_ctx = p->ectx;
            if (plan->no_usage)
                tail_ctx.include_usage = 0;
            buf_reset(&p->event);
            emit_stream_tail(&p->event, &tail_ctx, finish_sent ? NULL : finish, n_reported);
            size_t carried = p->pending_tokens; /* tokens never shown: counted here */
            p->pending_tokens = 0;
            p->end_stream = 1; /* the tail is never empty: it holds [DONE] */
            if (p->em)
                queue_event(p, -1, -1, carried); /* right after the last token */
            else
                write_event(p, -1, carried);
        } else {
            buf_reset(&p->event);
            emit_full_body(&p->event, &p->ectx, p->reasoning_text.data, p->reasoning_text.len,
                           p->content_text.data, p->content_text.len, p->gen_ids, p->n_gen,
                           finish, n_reported);
            size_t n_recorded = p->n_gen;
            if (plan->no_usage)
                strip_usage(&p->event);
            if (plan->n_malformed) {
                buf broken;
                buf_init(&broken, 0);
                fault_malformed_copy(&broken, p->event.data, p->event.len);
                broken.len -= broken.len >= 2 ? 2 : 0; /* a JSON body: no SSE newlines */
                buf_reset(&p->event);
                buf_append(&p->event, broken.data ? broken.data : "", broken.len);
                buf_free(&broken);
                n_recorded = 0;
            }
            int64_t due_ns = last_at_ns + fault_stall_shift_ns(plan, p->n_gen);
            sleep_until(s, due_ns);
            body_opts bo = {.request_id = s->truth ? p->rec.id : NULL, .retry_after_s = -1,
                            .trickle = plan->trickle};
            if (send_body_opts(p->conn, 200, "application/json", p->event.data, p->event.len,
                               &bo)) {
                p->disconnected = 1;
            } else {
                int64_t t = clock_now_ns();
                truth_record_add_event(&p->rec, t, due_ns, n_recorded, p->event.len);
                p->first_token_ns = p->last_token_ns = t;
            }
        }
    }
    finish_emitter(p);
    if (p->disconnected || atomic_load(&s->stopping))
        finish = NULL;
    p->rec.finish_reason = finish;

    engine_play_end(s->engine, &ep);

    /* The cache keeps what this request leaves behind: prompt + generated. */
    size_t n_all = n_prompt + p->n_gen;
    int64_t *all = xmalloc((n_all ? n_all : 1) * sizeof *all);
    memcpy(all, prompt_ids, n_prompt * sizeof *all);
    if (p->n_gen)
        memcpy(all + n_prompt, p->gen_ids, p->n_gen * sizeof *all);
    cache_release(s->cache, claim, all, n_all);
    free(all);
    engine_leave(s->engine, &ticket);
}

static void log_request(const mock_server *s, const char *uri, const play_state *p)
{
    if (log_get_level() < LOG_INFO)
        return;
    const truth_record *r = &p->rec;
    double ttft_ms = p->first_token_ns >= 0 ? (double)(p->first_token_ns - r->arrival_ns) / 1e6
                                            : -1.0;
    double e2e_ms = (double)(r->finish_ns - r->arrival_ns) / 1e6;
    (void)s;
    log_info("POST %s id=%s status=%d prompt=%zu cached=%zu completion=%zu finish=%s%s "
             "ttft_ms=%.1f e2e_ms=%.1f%s%s",
             uri, r->id, r->status, r->prompt_tokens, r->cached_tokens, r->completion_tokens,
             r->finish_reason ? r->finish_reason : "none", r->disconnected ? " disconnected" : "",
             ttft_ms, e2e_ms, r->fault ? " fault=" : "", r->fault ? r->fault : "");
}

/* The drawn faults take effect: counted in /metrics, named in the truth. */
static void note_faults(mock_server *s, play_state *p)
{
    if (!p->plan->kinds)
        return;
    for (int k = 0; k < FAULT_N_KINDS; k++)
        if (p->plan->kinds & (1u << k))
            metrics_count_fault(s->metrics, k);
    truth_record_set_fault(&p->rec, p->plan->text);
}

static void handle_completion(mock_server *s, struct mg_connection *conn, enum req_kind kind,
                              const char *uri, int64_t arrival_ns)
{
    const mock_options *o = s->opts;
    uint64_t seq = atomic_fetch_add(&s->next_seq, 1);
    char id[TRUTH_ID_MAX];
    /* llama-server names /v1/completions responses chatcmpl- too. */
    snprintf(id, sizeof id, "%s-tokmock-%" PRIu64,
             kind == REQ_CHAT || o->personality == PERS_LLAMACPP ? "chatcmpl" : "cmpl", seq);
    const char *id_header = s->truth ? id : NULL;

    play_state p;
    memset(&p, 0, sizeof p);
    p.s = s;
    p.conn = conn;
    p.first_token_ns = p.last_token_ns = -1;
    truth_record_init(&p.rec, seq, id, arrival_ns);
    buf_init(&p.event, 0);
    buf_init(&p.frame, 0);
    buf_init(&p.text, 0);
    buf_init(&p.reasoning_text, 0);
    buf_init(&p.content_text, 0);

    buf body;
    buf_init(&body, o->max_body_bytes);
    mock_request req;
    int have_req = 0;
    int64_t *prompt_ids = NULL;
    char err[ERR_LEN];
    int close = 0;

    /* Faults: the request header replaces --fault for this request. */
    fault_list header_faults;
    const fault_list *faults = &o->faults;
    char fault_err[ERR_LEN] = "";
    const char *fault_header = mg_get_header(conn, "X-Tokmock-Fault");
    if (fault_header) {
        char why[384];
        if (fault_parse(&header_faults, fault_header, why, sizeof why))
            snprintf(fault_err, sizeof fault_err, "X-Tokmock-Fault: %s", why);
        faults = &header_faults;
    }
    fault_plan plan;
    fault_draw(&plan, fault_err[0] ? NULL : faults, o->seed, seq);
    p.plan = &plan;

    int status = read_body(conn, o->max_body_bytes, &body, &close);
    if (status == 413) {
        snprintf(err, sizeof err, "request body is larger than the limit of %zu bytes",
                 o->max_body_bytes);
        send_error(s, conn, 413, err, id_header, close);
        p.rec.status = 413;
        goto out;
    }
    if (status == 200 && fault_err[0]) {
        send_error(s, conn, 400, fault_err, id_header, 0);
        p.rec.status = 400;
        goto out;
    }
    if (status == 200 && plan.slow_headers_ns)
        sleep_until(s, arrival_ns + plan.slow_headers_ns);
    if (status == 200 && plan.status) {
        /* A status fault refuses the request before any work on it. */
        snprintf(err, sizeof err, "tokmock fault: status %d", plan.status);
        body_opts bo = {.request_id = id_header, .trickle = plan.trickle,
                        .retry_after_s =
                            plan.status == 429 || plan.status == 503 ? plan.retry_after_s : -1};
        note_faults(s, &p);
        send_error_opts(s, conn, plan.status, err, &bo);
        p.rec.status = plan.status;
        goto out;
    }
    if (status == 200 && request_json_depth(body.data ? body.data : "", body.len) >
                             o->max_json_depth) {
        snprintf(err, sizeof err, "JSON nesting deeper than %d levels", o->max_json_depth);
        send_error(s, conn, 400, err, id_header, 0);
        p.rec.status = 400;
        goto out;
    }
    if (status != 200 || request_parse(&req, kind, body.data ? body.data : "", body.len, err,
                                       sizeof err)) {
        if (status != 200)
            snprintf(err, sizeof err, "could not read the request body");
        send_error(s, conn, 400, err, id_header, 0);
        p.rec.status = 400;
        goto out;
    }
    have_req = 1;
    p.req = &req;

    size_t n_prompt = 0;
    prompt_ids = tok_encode(req.prompt.data ? req.prompt.data : "", req.prompt.len, &n_prompt);
    p.rec.prompt_tokens = n_prompt;
    p.rec.stream = req.stream;
    if (n_prompt == 0) {
        send_error(s, conn, 400, "the prompt is empty", id_header, 0);
        p.rec.status = 400;
        goto out;
    }
    const emit_personality *info = emit_personality_info(o->personality);
    int too_long = info->context_error_prompt_only
                       ? n_prompt >= o->ctx_size
                       : n_prompt > o->ctx_size || req.max_tokens > o->ctx_size - n_prompt;
    if (too_long) {
        /* Plain JSON before any stream starts, even when the request streams. */
        buf eb;
        buf_init(&eb, 0);
        emit_context_error_body(&eb, o->personality, n_prompt, req.max_tokens, o->ctx_size);
        send_status_body(s, conn, 400, &eb, id_header);
        buf_free(&eb);
        p.rec.status = 400;
        goto out;
    }
    if (info->rejects_stream_token_ids && req.stream && req.return_token_ids) {
        buf eb;
        buf_init(&eb, 0);
        emit_stream_token_ids_error_body(&eb, o->personality);
        send_status_body(s, conn, 400, &eb, id_header);
        buf_free(&eb);
        p.rec.status = 400;
        goto out;
    }

    p.ectx.personality = o->personality;
    p.ectx.reasoning_field = o->reasoning_field;
    p.ectx.kind = kind;
    p.ectx.id = id;
    /* llama-server echoes its own alias whatever the request named. */
    p.ectx.model = o->personality == PERS_LLAMACPP || !req.model ? o->models[0] : req.model;
    p.ectx.include_usage = req.stream && req.include_usage;
    p.ectx.created = created_s(s);
    p.ectx.prompt_tokens = n_prompt;
    p.ectx.continuous_usage = req.stream && req.continuous_usage;
    p.ectx.return_token_ids = req.return_token_ids;

    /* Text and MTP draws: a pure function of (--seed, request body). */
    uint64_t seed = hash_fnv1a64(body.data, body.len) ^ (o->seed * UINT64_C(0x9E3779B97F4A7C15));
    p.rec.status = 200;
    note_faults(s, &p);
    play(&p, prompt_ids, n_prompt, seed);

out:
    p.rec.finish_ns = clock_now_ns();
    p.rec.completion_tokens = p.n_gen;
    p.rec.disconnected = p.disconnected;
    if (p.rec.status == 200) {
        metrics_request m = {
            .prompt_tokens = p.rec.prompt_tokens,
            .cached_tokens = p.rec.cached_tokens,
            .completion_tokens = p.n_gen,
            .finish_reason = p.rec.finish_reason,
            .disconnected = p.disconnected,
            .queue_ns = p.rec.admit_ns >= 0 ? p.rec.admit_ns - arrival_ns : -1,
            .ttft_ns = p.first_token_ns >= 0 ? p.first_token_ns - arrival_ns : -1,
            .e2e_ns = p.rec.finish_ns - arrival_ns,
        };
        metrics_observe_request(s->metrics, &m);
    }
    log_request(s, uri, &p);
    if (s->truth)
        truth_commit(s->truth, &p.rec);
    else
        truth_record_clear(&p.rec);
    if (p.settling)
        atomic_fetch_sub(&s->settling, 1);
    free(prompt_ids);
    free(p.gen_ids);
    free(p.piece_lens);
    if (have_req)
        request_free(&req);
    buf_free(&body);
    buf_free(&p.event);
    buf_free(&p.frame);
    buf_free(&p.text);
    buf_free(&p.reasoning_text);
    buf_free(&p.content_text);
}

/* ------------------------------------------------------------------ replay */

/* 1 when the JSON text of one SSE data line carries generated text. */
static int replay_line_has_text(const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return 0;
    int found = 0;
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    if (cJSON_IsObject(c0)) {
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(c0, "delta");
        static const char *const keys[] = {"content", "reasoning_content", "reasoning"};
        for (size_t k = 0; cJSON_IsObject(delta) && k < 3 && !found; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(delta, keys[k]);
            found = cJSON_IsString(v) && v->valuestring[0];
        }
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c0, "text");
        if (!found && cJSON_IsString(text) && text->valuestring[0])
            found = 1;
    }
    cJSON_Delete(root);
    return found;
}

/* Tokens per recorded write, for the truth: the recording does not say how
 * many tokens an event held, so each SSE data line with text counts one, in
 * the write that completes the line. A JSON body counts its
 * usage.completion_tokens in its last write. */
static size_t *replay_token_counts(const replay *r, int sse, size_t *total)
{
    size_t n = replay_n_events(r), body_len = 0;
    const char *body = replay_body(r, &body_len);
    size_t *counts = xcalloc(n ? n : 1, sizeof *counts);
    *total = 0;
    if (!n)
        return counts;
    if (!sse) {
        cJSON *root = cJSON_ParseWithLength(body, body_len);
        const cJSON *usage = root ? cJSON_GetObjectItemCaseSensitive(root, "usage") : NULL;
        const cJSON *ct = cJSON_IsObject(usage)
                              ? cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens")
                              : NULL;
        if (cJSON_IsNumber(ct) && ct->valuedouble >= 0 && ct->valuedouble < 1e12)
            counts[n - 1] = *total = (size_t)ct->valuedouble;
        cJSON_Delete(root);
        return counts;
    }
    size_t ev = 0;
    for (size_t at = 0; at < body_len;) {
        const char *nl = memchr(body + at, '\n', body_len - at);
        size_t end = nl ? (size_t)(nl - body) : body_len; /* the line is [at, end) */
        size_t line_len = end - at;
        if (line_len && body[at + line_len - 1] == '\r')
            line_len--;
        if (line_len > 5 && memcmp(body + at, "data:", 5) == 0) {
            const char *json = body + at + 5;
            size_t json_len = line_len - 5;
            while (json_len && *json == ' ') {
                json++;
                json_len--;
            }
            if (replay_line_has_text(json, json_len)) {
                size_t last = end < body_len ? end : body_len - 1; /* the line's last byte */
                while (ev + 1 < n && replay_event_at(r, ev)->offset +
                                             replay_event_at(r, ev)->len <= last)
                    ev++;
                counts[ev]++;
                (*total)++;
            }
        }
        at = end + 1;
    }
    return counts;
}

/* --replay: sends the recorded status and headers (minus the framing ones),
 * then every recorded write at arrival + t_us (absolute deadlines): chunked
 * for an event stream, else the whole body at the last write's time. The
 * request is read and otherwise ignored. */
static void handle_replay(mock_server *s, struct mg_connection *conn, const char *uri,
                          int64_t arrival_ns)
{
    const mock_options *o = s->opts;
    const replay *r = o->replay;
    uint64_t seq = atomic_fetch_add(&s->next_seq, 1);
    char id[TRUTH_ID_MAX];
    snprintf(id, sizeof id, "replay-tokmock-%" PRIu64, seq);
    truth_record rec;
    truth_record_init(&rec, seq, id, arrival_ns);

    buf body, frame;
    buf_init(&body, o->max_body_bytes);
    buf_init(&frame, 0);
    int close = 0;
    int status = read_body(conn, o->max_body_bytes, &body, &close);
    if (status != 200) {
        send_error(s, conn, status, status == 413 ? "request body is too large"
                                                  : "could not read the request body",
                   s->truth ? id : NULL, close);
        rec.status = status;
        goto out;
    }
    rec.admit_ns = arrival_ns;
    rec.status = replay_status(r);

    const char *type = replay_header_get(r, "Content-Type");
    size_t body_len = 0;
    const char *rbody = replay_body(r, &body_len);
    int sse = type ? strstr(type, "text/event-stream") != NULL
                   : body_len >= 5 && memcmp(rbody, "data:", 5) == 0;
    rec.stream = sse;
    size_t n_events = replay_n_events(r), total = 0;
    size_t *counts = replay_token_counts(r, sse, &total);
    const replay_event *last = n_events ? replay_event_at(r, n_events - 1) : NULL;

    mg_response_header_start(conn, rec.status);
    for (size_t i = 0; i < replay_n_headers(r); i++) {
        const replay_header *h = replay_header_at(r, i);
        if (!replay_header_is_hop(h->name))
            mg_response_header_add(conn, h->name, h->value, -1);
    }
    char length[32];
    if (sse) {
        mg_response_header_add(conn, "Transfer-Encoding", "chunked", -1);
    } else {
        snprintf(length, sizeof length, "%zu", body_len);
        mg_response_header_add(conn, "Content-Length", length, -1);
    }
    if (s->truth)
        mg_response_header_add(conn, "X-Tokmock-Request-Id", id, -1);

    int gone = 0;
    if (!sse && last) /* one body, when the recording's last bytes came */
        sleep_until(s, arrival_ns + last->t_us * 1000);
    if (mg_response_header_send(conn) != 0)
        gone = 1;
    if (!sse && !gone) {
        if (body_len && mg_write(conn, rbody, body_len) != (int)body_len) {
            gone = 1;
        } else if (last) {
            int64_t t = clock_now_ns();
            truth_record_add_event(&rec, t, arrival_ns + last->t_us * 1000, total, body_len);
        }
    }
    for (size_t i = 0; sse && !gone && i < n_events; i++) {
        const replay_event *ev = replay_event_at(r, i);
        int64_t due_ns = arrival_ns + ev->t_us * 1000;
        sleep_until(s, due_ns);
        if (atomic_load(&s->stopping) ||
            send_chunk_raw(conn, &frame, rbody + ev->offset, ev->len, 0, i + 1 == n_events)) {
            gone = 1;
            break;
        }
        truth_record_add_event(&rec, clock_now_ns(), due_ns, counts[i], ev->len);
        if (counts[i] && rec.prefill_end_ns < 0)
            rec.prefill_end_ns = due_ns;
    }
    if (sse && !gone && !n_events && mg_write(conn, LAST_CHUNK, 5) != 5)
        gone = 1;
    free(counts);
    rec.disconnected = gone;
    rec.completion_tokens = total;
    rec.finish_reason = gone ? NULL : "replay";

out:
    rec.finish_ns = clock_now_ns();
    if (log_get_level() >= LOG_INFO)
        log_info("POST %s id=%s status=%d replay events=%zu%s", uri, id, rec.status,
                 rec.n_events, rec.disconnected ? " disconnected" : "");
    if (s->truth)
        truth_commit(s->truth, &rec);
    else
        truth_record_clear(&rec);
    buf_free(&body);
    buf_free(&frame);
}

/* ------------------------------------------------------------ other routes */

static void handle_models(mock_server *s, struct mg_connection *conn)
{
    buf out;
    buf_init(&out, 0);
    if (s->opts->personality_set || s->opts->personality != PERS_VLLM) {
        emit_models_body(&out, s->opts->personality, s->opts->models, s->opts->n_models,
                         CREATED_EPOCH, s->opts->ctx_size);
        send_json(conn, 200, &out, NULL);
        buf_free(&out);
        return;
    }
    /* The default personality says "tokmock", so clients can tell the mock. */
    buf_append_str(&out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < s->opts->n_models; i++) {
        buf_printf(&out, "%s{\"id\":\"", i ? "," : "");
        buf_append_json_escaped(&out, s->opts->models[i], strlen(s->opts->models[i]));
        buf_printf(&out,
                   "\",\"object\":\"model\",\"created\":%" PRId64 ",\"owned_by\":\"tokmock\","
                   "\"max_model_len\":%zu}",
                   CREATED_EPOCH, s->opts->ctx_size);
    }
    buf_append_str(&out, "]}");
    send_json(conn, 200, &out, NULL);
    buf_free(&out);
}

static void handle_tokenize(mock_server *s, struct mg_connection *conn, int detokenize)
{
    buf body, out;
    buf_init(&body, s->opts->max_body_bytes);
    buf_init(&out, 0);
    char err[ERR_LEN];
    int close = 0;
    int status = read_body(conn, s->opts->max_body_bytes, &body, &close);
    if (status == 413) {
        send_error(s, conn, 413, "request body is too large", NULL, close);
    } else if (status != 200) {
        send_error(s, conn, 400, "could not read the request body", NULL, 0);
    } else {
        const char *data = body.data ? body.data : "";
        int rc = detokenize ? request_detokenize(data, body.len, &out, err, sizeof err)
                            : request_tokenize(data, body.len, s->opts->ctx_size, &out, err,
                                               sizeof err);
        if (rc)
            send_error(s, conn, 400, err, NULL, 0);
        else
            send_json(conn, 200, &out, NULL);
    }
    buf_free(&body);
    buf_free(&out);
}

/* GET /props (llama.cpp): the context per slot and the slot count. */
static void handle_props(mock_server *s, struct mg_connection *conn)
{
    buf out;
    buf_init(&out, 0);
    emit_props_body(&out, s->opts->personality, s->opts->models[0], s->opts->ctx_size,
                    s->opts->parallel > 0 ? s->opts->parallel : 1);
    send_json(conn, 200, &out, NULL);
    buf_free(&out);
}

static void handle_metrics(mock_server *s, struct mg_connection *conn)
{
    buf out;
    buf_init(&out, 0);
    metrics_render(s->metrics, &out, s->opts->models[0], engine_get_counts(s->engine),
                   cache_get_stats(s->cache));
    send_body(conn, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len, NULL, 0);
    buf_free(&out);
}

/* Before answering with records: waits (at most TRUTH_SETTLE_NS) until every
 * stream whose last byte was written has stored its record, so a client that
 * asks right after reading [DONE] finds it. Under load the handler thread
 * may run a while after the emitter thread wrote that byte. */
#define TRUTH_SETTLE_NS (1000 * CLOCK_NS_PER_MS)
static void wait_records(mock_server *s)
{
    int64_t deadline = clock_now_ns() + TRUTH_SETTLE_NS;
    while (atomic_load(&s->settling) > 0 && !atomic_load(&s->stopping) &&
           clock_now_ns() < deadline)
        clock_sleep_until_ns(clock_now_ns() + CLOCK_NS_PER_MS);
}

static void handle_truth(mock_server *s, struct mg_connection *conn)
{
    wait_records(s);
    const struct mg_request_info *ri = mg_get_request_info(conn);
    buf out;
    buf_init(&out, 0);
    char id[TRUTH_ID_MAX];
    if (ri->query_string && mg_get_var(ri->query_string, strlen(ri->query_string), "id", id,
                                       sizeof id) > 0) {
        if (truth_write_one(s->truth, id, &out))
            send_error(s, conn, 404, "no record with this id (unknown or dropped)", NULL, 0);
        else
            send_json(conn, 200, &out, NULL);
    } else {
        truth_write_all(s->truth, &out);
        send_json(conn, 200, &out, NULL);
    }
    buf_free(&out);
}

/* Route table: path (without the optional /v1 prefix where noted), method. */
enum route {
    R_NONE, R_CHAT, R_COMPLETIONS, R_MODELS, R_HEALTH, R_TOKENIZE, R_DETOKENIZE, R_METRICS,
    R_TRUTH, R_PROPS,
};

static enum route find_route(const mock_server *s, const char *uri, const char **method_out)
{
    static const struct {
        const char *path;
        enum route route;
        const char *method;
    } routes[] = {
        {"/v1/chat/completions", R_CHAT, "POST"}, {"/chat/completions", R_CHAT, "POST"},
        {"/v1/completions", R_COMPLETIONS, "POST"}, {"/completions", R_COMPLETIONS, "POST"},
        {"/v1/models", R_MODELS, "GET"},           {"/models", R_MODELS, "GET"},
        {"/health", R_HEALTH, "GET"},               {"/v1/health", R_HEALTH, "GET"},
        {"/tokenize", R_TOKENIZE, "POST"},          {"/v1/tokenize", R_TOKENIZE, "POST"},
        {"/detokenize", R_DETOKENIZE, "POST"},      {"/v1/detokenize", R_DETOKENIZE, "POST"},
        {"/metrics", R_METRICS, "GET"},             {"/tokmock/requests", R_TRUTH, "GET"},
        {"/props", R_PROPS, "GET"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(uri, routes[i].path) != 0)
            continue;
        enum route r = routes[i].route;
        if ((r == R_TOKENIZE || r == R_DETOKENIZE) && s->opts->no_tokenize)
            return R_NONE;
        if (r == R_TRUTH && !s->truth)
            return R_NONE;
        if (r == R_PROPS && !emit_personality_info(s->opts->personality)->has_props)
            return R_NONE;
        *method_out = routes[i].method;
        return r;
    }
    return R_NONE;
}

static int handler(struct mg_connection *conn, void *cbdata)
{
    mock_server *s = cbdata;
    int64_t arrival_ns = clock_now_ns();
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *uri = ri->local_uri ? ri->local_uri : "/";
    const char *method = "GET";
    char msg[256];

    if (arrival_ns < s->ready_ns) {
        /* --startup-ms: the model is "loading"; llama-server answers every route so,
         * and closes the connection. */
        buf out;
        buf_init(&out, 0);
        emit_loading_body(&out, s->opts->personality);
        send_body(conn, 503, "application/json", out.data ? out.data : "", out.len, NULL, 1);
        metrics_count_error(s->metrics, 503);
        buf_free(&out);
        return 503;
    }

    enum route r = find_route(s, uri, &method);
    if (r == R_NONE) {
        snprintf(msg, sizeof msg, "route not found: %.200s", uri);
        send_error(s, conn, 404, msg, NULL, 0);
        return 404;
    }
    int head = strcmp(ri->request_method, "HEAD") == 0 && strcmp(method, "GET") == 0;
    if (strcmp(ri->request_method, method) != 0 && !head) {
        snprintf(msg, sizeof msg, "method %.16s not allowed on %.200s (use %s)",
                 ri->request_method, uri, method);
        send_error(s, conn, 405, msg, NULL, 0);
        return 405;
    }
    /* --max-connections: refuse at once, without reading the body (so the
     * connection is closed after the answer). Observability routes are free. */
    int counted = s->opts->max_connections > 0 && r != R_HEALTH && r != R_METRICS && r != R_TRUTH;
    if (counted && atomic_fetch_add(&s->in_flight, 1) >= s->opts->max_connections) {
        atomic_fetch_sub(&s->in_flight, 1);
        snprintf(msg, sizeof msg, "server busy: %d requests in flight (--max-connections)",
                 s->opts->max_connections);
        body_opts bo = {.close = 1, .retry_after_s = 1};
        metrics_count_overload(s->metrics);
        send_error_opts(s, conn, 503, msg, &bo);
        return 503;
    }
    if (r != R_HEALTH && r != R_METRICS && !authorized(s, conn)) {
        /* Never echo what was sent: a wrong key may be a real key elsewhere. */
        send_error(s, conn, 401, "invalid or missing API key (Authorization: Bearer ...)", NULL,
                   0);
        if (counted)
            atomic_fetch_sub(&s->in_flight, 1);
        return 401;
    }
    switch (r) {
    case R_CHAT:
    case R_COMPLETIONS:
        if (s->opts->replay)
            handle_replay(s, conn, uri, arrival_ns);
        else
            handle_completion(s, conn, r == R_CHAT ? REQ_CHAT : REQ_COMPLETION, uri,
                              arrival_ns);
        break;
    case R_MODELS: handle_models(s, conn); break;
    case R_HEALTH: {
        static const char ok[] = "{\"status\":\"ok\"}";
        send_body(conn, 200, "application/json", ok, sizeof ok - 1, NULL, 0);
        break;
    }
    case R_TOKENIZE: handle_tokenize(s, conn, 0); break;
    case R_DETOKENIZE: handle_tokenize(s, conn, 1); break;
    case R_METRICS: handle_metrics(s, conn); break;
    case R_TRUTH: handle_truth(s, conn); break;
    case R_PROPS: handle_props(s, conn); break;
    case R_NONE: break;
    }
    if (counted)
        atomic_fetch_sub(&s->in_flight, 1);
    return 200;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_debug("civetweb: %s", message);
    return 1;
}

/* civetweb answers protocol errors itself (a request line + headers over
 * --max-header-bytes, a malformed request line) with
 * a text page; this gives them the personality's JSON error body instead.
 * The connection is closed: its remaining bytes cannot be trusted. */
static int http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    mock_server *s = mg_get_user_data(mg_get_context(conn));
    if (!s)
        return 1; /* let civetweb answer */
    char msg[256];
    snprintf(msg, sizeof msg,
             "%s: malformed HTTP request, or request line + headers over %zu bytes",
             errmsg && *errmsg ? errmsg : "bad request", s->opts->max_header_bytes);
    send_error(s, conn, status, msg, NULL, 1);
    return 0;
}

/* ------------------------------------------------------------------ lifecycle */

/* civetweb's init_thread callback, run first in each of its threads. With
 * --yield-cpu a request (worker) thread moves to SCHED_IDLE: a client on this
 * machine, such as the tokbench under test, then gets the CPU ahead of a
 * burst of hundreds of request threads. The kernel gives every runnable
 * thread an equal share, so otherwise a burst of 512 requests leaves one
 * client thread about 1/513 of the CPU and its timestamps run tens of ms
 * late. What tokmock then does late (admission, first events) is in the
 * truth record, as always. The emitter threads are not civetweb's: they keep
 * their own (real-time) scheduling. */
static void *on_thread_start(const struct mg_context *ctx, int thread_type)
{
    const mock_server *s = mg_get_user_data(ctx);
    if (thread_type == 1 && s && s->opts->yield_cpu) {
        struct sched_param sp;
        memset(&sp, 0, sizeof sp);
        if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
            log_debug("request thread stays at normal scheduling: SCHED_IDLE refused");
    }
    return NULL;
}

mock_server *server_start(const mock_options *o, int64_t origin_ns, char *err, size_t err_len)
{
    mock_server *s = xcalloc(1, sizeof *s);
    s->opts = o;
    s->origin_ns = origin_ns;
    s->ready_ns = origin_ns + o->startup_ns;
    atomic_init(&s->next_seq, 1);
    atomic_init(&s->stopping, 0);
    atomic_init(&s->stopped, 0);
    atomic_init(&s->settling, 0);
    s->engine = o->engine == ENGINE_SHARED
                    ? engine_new_shared(o->parallel, &o->sched, o->batch_penalty,
                                        o->prefill_chunk)
                    : engine_new(o->parallel, &o->sched);
    if (o->kv_budget > 0)
        engine_set_kv_budget(s->engine, o->kv_budget, o->kv_preempt);
    s->cache = cache_new((enum cache_mode)o->cache_mode, o->parallel, o->cache_block,
                         o->cache_capacity);
    s->metrics = metrics_new();
    if (o->emitters > 0 && !o->replay) {
        s->em = emitter_new(o->emitters, EMITTER_MAX_THREADS, !o->no_realtime,
                            EMITTER_HIGH_WATER, EMITTER_LOW_WATER, emitter_write);
        if (!s->em) {
            snprintf(err, err_len, "cannot start %d emitter threads", o->emitters);
            server_stop(s);
            return NULL;
        }
    }
    if (o->truth)
        s->truth = truth_new(TRUTH_DEFAULT_CAPACITY, origin_ns);

    char ports[300], threads[16], queue[16], header_cap[24];
    snprintf(header_cap, sizeof header_cap, "%zu", o->max_header_bytes);
    if (strchr(o->host, ':'))
        snprintf(ports, sizeof ports, "[%s]:%d", o->host, o->port);
    else
        snprintf(ports, sizeof ports, "%s:%d", o->host, o->port);
    snprintf(threads, sizeof threads, "%d", o->threads);
    snprintf(queue, sizeof queue, "%d", o->threads < 4096 ? 4096 : o->threads);
    const char *config[] = {
        "listening_ports", ports,
        "num_threads", threads,
        "connection_queue", queue,
        "listen_backlog", queue,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "30000",
        "tcp_nodelay", "1",
        "request_timeout_ms", "600000",
        "max_request_size", header_cap,
        NULL,
    };
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.log_message = log_message;
    callbacks.http_error = http_error;
    callbacks.init_thread = on_thread_start;

    struct mg_init_data init;
    memset(&init, 0, sizeof init);
    init.callbacks = &callbacks;
    init.user_data = s;
    init.configuration_options = config;
    char mg_err[256] = "";
    struct mg_error_data error;
    memset(&error, 0, sizeof error);
    error.text = mg_err;
    error.text_buffer_size = sizeof mg_err;

    mg_init_library(0);
    s->ctx = mg_start2(&init, &error);
    if (!s->ctx) {
        snprintf(err, err_len, "cannot listen on %s: %s", ports,
                 mg_err[0] ? mg_err : "civetweb failed to start");
        server_stop(s);
        return NULL;
    }
    mg_set_request_handler(s->ctx, "**", handler, s);

    struct mg_server_port bound[4];
    memset(bound, 0, sizeof bound);
    if (mg_get_server_ports(s->ctx, 4, bound) < 1) {
        snprintf(err, err_len, "cannot find the bound port");
        server_stop(s);
        return NULL;
    }
    s->port = bound[0].port;
    return s;
}

int server_port(const mock_server *s)
{
    return s->port;
}

/* civetweb's accept loop polls with a 2 s timeout and checks its stop flag
 * only between polls, so mg_stop() alone takes up to 2 s. Connecting to our
 * own port wakes the poll; repeated until mg_stop() returns, because a
 * connection made before the flag is set only starts another poll. */
static void *stop_waker(void *arg)
{
    mock_server *s = arg;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(s->opts->host, port, &hints, &ai) != 0)
        return NULL;
    while (!atomic_load(&s->stopped)) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0) {
            (void)connect(fd, ai->ai_addr, ai->ai_addrlen);
            close(fd);
        }
        clock_sleep_until_ns(clock_now_ns() + 20 * CLOCK_NS_PER_MS);
    }
    freeaddrinfo(ai);
    return NULL;
}

void server_stop(mock_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    engine_shutdown(s->engine);
    emitter_shutdown(s->em); /* handlers waiting on it return */
    if (s->ctx) {
        pthread_t waker;
        int have_waker = s->port > 0 && pthread_create(&waker, NULL, stop_waker, s) == 0;
        mg_stop(s->ctx);
        atomic_store(&s->stopped, 1);
        if (have_waker)
            pthread_join(waker, NULL);
        mg_exit_library();
    }
    emitter_free(s->em); /* no handler uses it any more */
    truth_free(s->truth);
    metrics_free(s->metrics);
    cache_free(s->cache);
    engine_free(s->engine);
    free(s);
}
