/* The emitter: the pure core driven with hand-made timelines (order across
 * and inside streams, high/low water, failure, items without a due time,
 * shutdown, many streams), then the threaded wrapper with deadlines in the
 * past only, so nothing depends on how fast the machine is. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/prng.h"
#include "common/xalloc.h"
#include "mockserver/emitter.h"
#include "tests/test.h"

/* An item whose data is its label, so a take shows which one it was. */
static emitter_item item(int64_t due_ns, const char *label, size_t n_gen_after)
{
    emitter_item it = {.due_ns = due_ns, .scheduled_ns = due_ns, .n_tokens = 1,
                       .n_gen_after = n_gen_after, .data = xstrdup(label),
                       .len = strlen(label)};
    return it;
}

/* Takes one item due by now_ns and ends its write with ok; returns the
 * label ("" when nothing was due), in a static buffer. */
static const char *take_one(emitter_core *c, int64_t now_ns, int ok)
{
    static char label[64];
    emitter_item it;
    emitter_stream *st = emitter_core_take(c, now_ns, &it);
    if (!st)
        return "";
    snprintf(label, sizeof label, "%.*s", (int)it.len, it.data);
    free(it.data);
    emitter_core_done(c, st, ok);
    return label;
}

TEST(empty_core_has_nothing_due)
{
    emitter_core *c = emitter_core_new(16, 4);
    CHECK_INT_EQ(emitter_core_next_due(c), INT64_MAX);
    CHECK_STR_EQ(take_one(c, INT64_MAX, 1), "");
    emitter_core_free(c);
}

TEST(order_across_streams_by_due_time_then_push_order)
{
    emitter_core *c = emitter_core_new(16, 4);
    emitter_stream *a = emitter_core_open(c, NULL, 0);
    emitter_stream *b = emitter_core_open(c, NULL, 0);
    emitter_stream *d = emitter_core_open(c, NULL, 0);
    emitter_item it = item(300, "a300", 1);
    CHECK_INT_EQ(emitter_core_push(c, a, &it), 1); /* the first: earliest of all */
    it = item(100, "b100", 1);
    CHECK_INT_EQ(emitter_core_push(c, b, &it), 1); /* earlier than a's head */
    it = item(200, "d200", 1);
    CHECK_INT_EQ(emitter_core_push(c, d, &it), 0); /* not the earliest */
    it = item(400, "b400", 2);
    CHECK_INT_EQ(emitter_core_push(c, b, &it), 0); /* behind b's head */
    CHECK_INT_EQ(emitter_core_next_due(c), 100);

    /* Nothing before its time; then in due order. */
    CHECK_STR_EQ(take_one(c, 99, 1), "");
    CHECK_STR_EQ(take_one(c, 100, 1), "b100");
    CHECK_STR_EQ(take_one(c, 150, 1), "");
    CHECK_INT_EQ(emitter_core_next_due(c), 200);
    CHECK_STR_EQ(take_one(c, 1000, 1), "d200");
    CHECK_STR_EQ(take_one(c, 1000, 1), "a300");
    CHECK_STR_EQ(take_one(c, 1000, 1), "b400");
    CHECK_STR_EQ(take_one(c, 1000, 1), "");

    /* Equal due times across streams: the order they were pushed. */
    it = item(500, "d500", 2);
    emitter_core_push(c, d, &it);
    it = item(500, "a500", 2);
    emitter_core_push(c, a, &it);
    it = item(500, "b500", 3);
    emitter_core_push(c, b, &it);
    CHECK_STR_EQ(take_one(c, 500, 1), "d500");
    CHECK_STR_EQ(take_one(c, 500, 1), "a500");
    CHECK_STR_EQ(take_one(c, 500, 1), "b500");
    emitter_core_free(c); /* closes the streams still open */
}

TEST(fifo_inside_a_stream_is_never_broken)
{
    emitter_core *c = emitter_core_new(16, 4);
    emitter_stream *a = emitter_core_open(c, NULL, 0);
    emitter_item it = item(100, "first", 1);
    emitter_core_push(c, a, &it);
    it = item(50, "second-due-earlier", 2); /* waits for the one ahead */
    emitter_core_push(c, a, &it);
    CHECK_INT_EQ(emitter_core_next_due(c), 100);
    CHECK_STR_EQ(take_one(c, 60, 1), "");
    CHECK_STR_EQ(take_one(c, 100, 1), "first");
    CHECK_STR_EQ(take_one(c, 100, 1), "second-due-earlier");
    emitter_core_free(c);
}

TEST(busy_stream_is_not_offered_twice)
{
    emitter_core *c = emitter_core_new(16, 4);
    emitter_stream *a = emitter_core_open(c, NULL, 0);
    emitter_stream *b = emitter_core_open(c, NULL, 0);
    emitter_item it = item(10, "a10", 1);
    emitter_core_push(c, a, &it);
    it = item(20, "a20", 2);
    emitter_core_push(c, a, &it);
    it = item(30, "b30", 1);
    emitter_core_push(c, b, &it);

    emitter_item got;
    emitter_stream *st = emitter_core_take(c, 100, &got);
    CHECK(st == a);
    CHECK_INT_EQ(emitter_core_busy(a), 1);
    free(got.data);
    /* a's next item is due first, but a is being written: b comes next. */
    emitter_item got_b;
    CHECK(emitter_core_take(c, 100, &got_b) == b);
    free(got_b.data);
    CHECK(emitter_core_take(c, 100, &got) == NULL);
    /* Pushing to a busy stream does not put it back either. */
    it = item(5, "a5", 3);
    CHECK_INT_EQ(emitter_core_push(c, a, &it), 0);
    CHECK(emitter_core_take(c, 100, &got) == NULL);
    emitter_core_done(c, a, 1);
    emitter_core_done(c, b, 1);
    CHECK_INT_EQ(emitter_core_busy(a), 0);
    CHECK_STR_EQ(take_one(c, 100, 1), "a20");
    CHECK_STR_EQ(take_one(c, 100, 1), "a5");
    CHECK_INT_EQ(emitter_core_n_gen_done(a), 3);
    emitter_core_free(c);
}

TEST(item_without_due_time_follows_the_previous)
{
    emitter_core *c = emitter_core_new(16, 4);
    emitter_stream *a = emitter_core_open(c, NULL, 0);
    emitter_stream *b = emitter_core_open(c, NULL, 0);
    /* A stream's very first item without a due time is due at once. */
    emitter_item it = item(-1, "b-now", 0);
    emitter_core_push(c, b, &it);
    CHECK_INT_EQ(emitter_core_next_due(c), INT64_MIN);
    CHECK_STR_EQ(take_one(c, 0, 1), "b-now");

    it = item(1000, "a-token", 1);
    emitter_core_push(c, a, &it);
    it = item(-1, "a-tail", 1);
    emitter_core_push(c, a, &it);
    it = item(1000, "b-token", 1); /* pushed after a's tail, same due time */
    emitter_core_push(c, b, &it);
    CHECK_STR_EQ(take_one(c, 999, 1), "");
    CHECK_STR_EQ(take_one(c, 1000, 1), "a-token");
    /* The tail is due with the token before it, and was pushed before b's
     * token: it comes first. */
    CHECK_STR_EQ(take_one(c, 1000, 1), "a-tail");
    CHECK_STR_EQ(take_one(c, 1000, 1), "b-token");

    /* Once a stream is empty, an item without due time keeps the last due. */
    it = item(-1, "a-late", 1);
    emitter_core_push(c, a, &it);
    CHECK_INT_EQ(emitter_core_next_due(c), 1000);
    emitter_core_free(c);
}

TEST(high_and_low_water)
{
    enum { HIGH = 16, LOW = 4 };
    emitter_core *c = emitter_core_new(HIGH, LOW);
    emitter_stream *a = emitter_core_open(c, NULL, 0);
    for (int i = 0; i < HIGH; i++) {
        CHECK_INT_EQ(emitter_core_full(c, a), 0);
        emitter_item it = item(i, "x", (size_t)i + 1);
        CHECK(emitter_core_push(c, a, &it) >= 0);
    }
    CHECK_INT_EQ(emitter_core_queued(a), HIGH);
    CHECK_INT_EQ(emitter_core_full(c, a), 1);
    emitter_core_set_wait(a, EMITTER_WAIT_ROOM);
    CHECK_INT_EQ(emitter_core_wait_over(c, a), 0);

    /* Every write but the one that reaches low water leaves the producer asleep. */
    int wakes = 0, woken_at = -1;
    for (int i = 0; i < HIGH; i++) {
        emitter_item it;
        emitter_stream *st = emitter_core_take(c, INT64_MAX, &it);
        CHECK(st == a);
        free(it.data);
        if (emitter_core_done(c, a, 1)) {
            wakes++;
            woken_at = (int)emitter_core_queued(a);
            emitter_core_set_wait(a, EMITTER_WAIT_NONE); /* the producer ran */
        }
    }
    CHECK_INT_EQ(wakes, 1);
    CHECK_INT_EQ(woken_at, LOW);
    CHECK_INT_EQ(emitter_core_n_gen_done(a), HIGH);

    /* Drain: over only when empty and not being written. */
    emitter_item it = item(100, "last", HIGH + 1);
    emitter_core_push(c, a, &it);
    emitter_core_set_wait(a, EMITTER_WAIT_DRAIN);
    CHECK_INT_EQ(emitter_core_wait_over(c, a), 0);
    emitter_item got;
    CHECK(emitter_core_take(c, 100, &got) == a);
    free(got.data);
    CHECK_INT_EQ(emitter_core_queued(a), 0);
    CHECK_INT_EQ(emitter_core_wait_over(c, a), 0); /* still being written */
    CHECK_INT_EQ(emitter_core_done(c, a, 1), 1);
    CHECK_INT_EQ(emitter_core_dropped(a), 0);
    emitter_core_free(c);
}

TEST(failure_drops_the_stream_queue)
{
    emitter_core *c = emitter_core_new(4, 1);
    emitter_stream *a = emitter_core_open(c, NULL, 7);
    emitter_stream *b = emitter_core_open(c, NULL, 0);
    CHECK_INT_EQ(emitter_core_n_gen_done(a), 7); /* before any write */
    for (int i = 0; i < 4; i++) {
        emitter_item it = item(10 * (i + 1), "a", 8 + (size_t)i);
        emitter_core_push(c, a, &it);
        it = item(10 * (i + 1) + 5, "b", (size_t)i + 1);
        emitter_core_push(c, b, &it);
    }
    emitter_core_set_wait(a, EMITTER_WAIT_ROOM);
    CHECK_STR_EQ(take_one(c, 10, 1), "a");
    CHECK_INT_EQ(emitter_core_n_gen_done(a), 8);

    /* a's second write fails: the client is gone. */
    CHECK_STR_EQ(take_one(c, 15, 1), "b");
    emitter_item got;
    CHECK(emitter_core_take(c, 20, &got) == a);
    free(got.data);
    CHECK_INT_EQ(emitter_core_done(c, a, 0), 1); /* the waiting producer is woken */
    CHECK_INT_EQ(emitter_core_failed(a), 1);
    CHECK_INT_EQ(emitter_core_dropped(a), 1);
    CHECK_INT_EQ(emitter_core_queued(a), 0);
    CHECK_INT_EQ(emitter_core_n_gen_done(a), 9); /* the failed event's tokens count */
    CHECK_INT_EQ(emitter_core_full(c, a), 0);

    /* Its producer's next push is refused; b goes on alone. */
    emitter_item it = item(25, "a-more", 12);
    CHECK_INT_EQ(emitter_core_push(c, a, &it), -1);
    CHECK_STR_EQ(take_one(c, 1000, 1), "b");
    CHECK_STR_EQ(take_one(c, 1000, 1), "b");
    CHECK_STR_EQ(take_one(c, 1000, 1), "b");
    CHECK_STR_EQ(take_one(c, 1000, 1), "");
    CHECK_INT_EQ(emitter_core_n_ready(c), 0);
    emitter_core_close(c, a);
    emitter_core_close(c, b);
    emitter_core_free(c);
}

static void count_wake(void *user, void *arg)
{
    (void)user;
    (*(int *)arg)++;
}

TEST(stop_wakes_waiting_producers_and_refuses_work)
{
    emitter_core *c = emitter_core_new(2, 0);
    emitter_stream *a = emitter_core_open(c, NULL, 0);
    emitter_stream *b = emitter_core_open(c, NULL, 0);
    emitter_stream *d = emitter_core_open(c, NULL, 0);
    for (int i = 0; i < 2; i++) {
        emitter_item it = item(i, "a", (size_t)i + 1);
        emitter_core_push(c, a, &it);
        it = item(i, "b", (size_t)i + 1);
        emitter_core_push(c, b, &it);
    }
    emitter_core_set_wait(a, EMITTER_WAIT_ROOM);
    emitter_item got;
    CHECK(emitter_core_take(c, 0, &got) == a); /* a write in progress */
    free(got.data);
    emitter_core_set_wait(b, EMITTER_WAIT_DRAIN);
    int woken = 0;
    emitter_core_stop(c, count_wake, &woken);
    CHECK_INT_EQ(woken, 2); /* a and b wait, d does not */
    CHECK_INT_EQ(emitter_core_next_due(c), INT64_MAX);
    CHECK(emitter_core_take(c, INT64_MAX, &got) == NULL);
    CHECK_INT_EQ(emitter_core_wait_over(c, a), 1); /* room: no more waiting */
    CHECK_INT_EQ(emitter_core_wait_over(c, b), 1); /* drain: b is not being written */
    emitter_core_set_wait(a, EMITTER_WAIT_DRAIN);
    CHECK_INT_EQ(emitter_core_wait_over(c, a), 0); /* the write in progress ends first */
    CHECK_INT_EQ(emitter_core_done(c, a, 1), 1);
    emitter_item it = item(5, "d", 1);
    CHECK_INT_EQ(emitter_core_push(c, d, &it), -1);
    /* The producers drop what is left; what was sent is still known. */
    emitter_core_drop(c, a);
    emitter_core_drop(c, b);
    CHECK_INT_EQ(emitter_core_dropped(a), 1);
    CHECK_INT_EQ(emitter_core_n_gen_done(a), 1);
    CHECK_INT_EQ(emitter_core_n_gen_done(b), 0);
    CHECK_INT_EQ(emitter_core_dropped(d), 0);
    emitter_core_free(c);
}

TEST(many_streams_come_out_in_due_order)
{
    enum { N = 2000, PER = 12 };
    emitter_core *c = emitter_core_new(PER + 1, 1);
    emitter_stream **st = xcalloc(N, sizeof *st);
    size_t *written = xcalloc(N, sizeof *written);
    prng rng;
    prng_seed(&rng, 42);
    for (size_t i = 0; i < N; i++) {
        st[i] = emitter_core_open(c, &written[i], 0);
        /* Each stream's items at its own phase and pace, like token events. */
        int64_t at = (int64_t)(prng_next(&rng) % 20000);
        int64_t step = 15000 + (int64_t)(prng_next(&rng) % 10000);
        for (size_t k = 0; k < PER; k++) {
            char label[32];
            snprintf(label, sizeof label, "%zu:%zu", i, k);
            emitter_item it = item(at, label, k + 1);
            emitter_core_push(c, st[i], &it);
            at += step;
        }
    }
    CHECK_INT_EQ(emitter_core_n_ready(c), N);
    /* Advance time in uneven jumps; every item comes out once, never before
     * it is due, in nondecreasing due order, each stream in its own order. */
    int64_t now = 0, last_due = INT64_MIN;
    size_t total = 0, early = 0, out_of_order = 0, wrong_fifo = 0;
    while (total < (size_t)N * PER) {
        now += (int64_t)(prng_next(&rng) % 3000);
        emitter_item it;
        emitter_stream *s;
        while ((s = emitter_core_take(c, now, &it)) != NULL) {
            size_t *w = emitter_core_user(s);
            size_t i = (size_t)(w - written), k = 0;
            early += it.due_ns > now;
            out_of_order += it.due_ns < last_due;
            last_due = it.due_ns;
            sscanf(it.data, "%zu:%zu", &i, &k);
            wrong_fifo += k != *w || &written[i] != w;
            (*w)++;
            free(it.data);
            emitter_core_done(c, s, 1);
            total++;
        }
    }
    CHECK_INT_EQ(total, (size_t)N * PER);
    CHECK_INT_EQ(early, 0);
    CHECK_INT_EQ(out_of_order, 0);
    CHECK_INT_EQ(wrong_fifo, 0);
    CHECK_INT_EQ(emitter_core_n_ready(c), 0);
    for (size_t i = 0; i < N; i++) {
        CHECK_INT_EQ(emitter_core_n_gen_done(st[i]), PER);
        emitter_core_close(c, st[i]);
    }
    emitter_core_free(c);
    free(st);
    free(written);
}

/* ------------------------------------------------------ threaded wrapper */

enum { T_STREAMS = 64, T_ITEMS = 200 };

typedef struct fake_conn {
    pthread_mutex_t lock;
    size_t next;        /* the index the next write should carry */
    size_t writes;
    size_t fail_at;     /* the write with this index fails; SIZE_MAX = never */
    int out_of_order;
    _Atomic int busy;   /* two writers at once would see 1 here */
    int overlap;
} fake_conn;

static int fake_write(void *user, const emitter_item *it, buf *scratch)
{
    fake_conn *f = user;
    if (atomic_fetch_add(&f->busy, 1) != 0)
        f->overlap = 1;
    buf_reset(scratch);
    buf_append(scratch, it->data, it->len);
    size_t index = (size_t)strtoul(scratch->data, NULL, 10);
    pthread_mutex_lock(&f->lock);
    int rc = 0;
    if (index != f->next)
        f->out_of_order = 1;
    f->next = index + 1;
    if (index == f->fail_at)
        rc = -1;
    else
        f->writes++;
    pthread_mutex_unlock(&f->lock);
    atomic_fetch_sub(&f->busy, 1);
    return rc;
}

typedef struct producer {
    emitter *e;
    fake_conn *conn;
    int push_refused_at;
    int drain_rc;
    size_t n_gen_done;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    emitter_handle *h = emitter_open(p->e, p->conn, 0);
    p->push_refused_at = -1;
    for (int i = 0; i < T_ITEMS; i++) {
        char label[16];
        snprintf(label, sizeof label, "%d", i);
        /* Due times in the past (1, 2, ...): written as soon as possible. */
        emitter_item it = item(i % 3 == 2 ? -1 : i + 1, label, (size_t)i + 1);
        if (emitter_push(p->e, h, &it)) {
            p->push_refused_at = i;
            break;
        }
    }
    p->drain_rc = emitter_drain(p->e, h);
    emitter_close(p->e, h, &p->n_gen_done);
    return NULL;
}

TEST(threads_write_every_stream_in_order_and_report_failures)
{
    emitter *e = emitter_new(3, 3, 0, 16, 4, fake_write);
    CHECK(e != NULL);
    fake_conn conns[T_STREAMS];
    producer prods[T_STREAMS];
    pthread_t threads[T_STREAMS];
    memset(conns, 0, sizeof conns);
    for (int i = 0; i < T_STREAMS; i++) {
        pthread_mutex_init(&conns[i].lock, NULL);
        /* Every fourth client goes away at its 50th write. */
        conns[i].fail_at = i % 4 == 3 ? 50 : SIZE_MAX;
        prods[i] = (producer){.e = e, .conn = &conns[i]};
        pthread_create(&threads[i], NULL, produce, &prods[i]);
    }
    for (int i = 0; i < T_STREAMS; i++)
        pthread_join(threads[i], NULL);
    int bad_order = 0, overlap = 0, bad_counts = 0;
    for (int i = 0; i < T_STREAMS; i++) {
        bad_order += conns[i].out_of_order;
        overlap += conns[i].overlap;
        if (conns[i].fail_at == SIZE_MAX) {
            bad_counts += conns[i].writes != T_ITEMS || prods[i].drain_rc != 0 ||
                          prods[i].n_gen_done != T_ITEMS || prods[i].push_refused_at != -1;
        } else {
            /* 50 written, the 51st failed: it counts as sent, nothing after. */
            bad_counts += conns[i].writes != 50 || prods[i].drain_rc != -1 ||
                          prods[i].n_gen_done != 51 || conns[i].next != 51;
        }
    }
    CHECK_INT_EQ(bad_order, 0);
    CHECK_INT_EQ(overlap, 0);
    CHECK_INT_EQ(bad_counts, 0);
    emitter_free(e);
    for (int i = 0; i < T_STREAMS; i++)
        pthread_mutex_destroy(&conns[i].lock);
}

TEST(shutdown_releases_producers_waiting_on_far_deadlines)
{
    emitter *e = emitter_new(2, 2, 0, 4, 1, fake_write);
    fake_conn conn;
    memset(&conn, 0, sizeof conn);
    pthread_mutex_init(&conn.lock, NULL);
    conn.fail_at = SIZE_MAX;
    emitter_handle *h = emitter_open(e, &conn, 3);
    /* Four items due in a day: the queue is at high water. */
    for (int i = 0; i < 4; i++) {
        char label[16];
        snprintf(label, sizeof label, "%d", i);
        emitter_item it = item(INT64_MAX / 2, label, 4 + (size_t)i);
        CHECK_INT_EQ(emitter_push(e, h, &it), 0);
    }
    emitter_shutdown(e);
    /* A push that would block returns at once, and so does the drain. */
    emitter_item it = item(INT64_MAX / 2, "4", 8);
    CHECK_INT_EQ(emitter_push(e, h, &it), -1);
    CHECK_INT_EQ(emitter_drain(e, h), -2);
    size_t n_gen_done = 0;
    emitter_close(e, h, &n_gen_done);
    CHECK_INT_EQ(n_gen_done, 3); /* nothing was sent */
    CHECK_INT_EQ(conn.writes, 0);
    emitter_free(e);
    pthread_mutex_destroy(&conn.lock);
}

/* A writer slower than the deadlines: every write takes 3 ms. */
static int slow_write(void *user, const emitter_item *it, buf *scratch)
{
    (void)scratch;
    (void)it;
    clock_sleep_until_ns(clock_now_ns() + 3 * CLOCK_NS_PER_MS);
    atomic_fetch_add((_Atomic size_t *)user, 1);
    return 0;
}

TEST(late_events_add_threads_up_to_the_maximum)
{
    emitter *e = emitter_new(1, 4, 0, 64, 8, slow_write);
    _Atomic size_t written = 0;
    enum { STREAMS = 8, PER = 10 };
    emitter_handle *h[STREAMS];
    for (int i = 0; i < STREAMS; i++)
        h[i] = emitter_open(e, (void *)&written, 0);
    CHECK_INT_EQ(emitter_n_threads(e), 1);
    /* All due long ago: one thread would be 240 ms behind at the end. */
    for (int k = 0; k < PER; k++)
        for (int i = 0; i < STREAMS; i++) {
            emitter_item it = item(1 + k, "x", (size_t)k + 1);
            CHECK_INT_EQ(emitter_push(e, h[i], &it), 0);
        }
    for (int i = 0; i < STREAMS; i++) {
        CHECK_INT_EQ(emitter_drain(e, h[i]), 0);
        emitter_close(e, h[i], NULL);
    }
    CHECK_INT_EQ(atomic_load(&written), STREAMS * PER);
    int n = emitter_n_threads(e);
    CHECK(n > 1);
    CHECK(n <= 4);
    emitter_free(e);
}

/* Real-time scheduling is asked for and may be refused (no privilege): the
 * events are written either way, and only threads without it multiply. */
TEST(realtime_when_granted_replaces_growth)
{
    emitter *e = emitter_new(1, 4, 1, 64, 8, slow_write);
    _Atomic size_t written = 0;
    emitter_handle *h = emitter_open(e, (void *)&written, 0);
    for (int k = 0; k < 20; k++) {
        emitter_item it = item(1 + k, "x", (size_t)k + 1);
        CHECK_INT_EQ(emitter_push(e, h, &it), 0);
    }
    CHECK_INT_EQ(emitter_drain(e, h), 0);
    emitter_close(e, h, NULL);
    CHECK_INT_EQ(atomic_load(&written), 20);
    if (emitter_realtime(e))
        CHECK_INT_EQ(emitter_n_threads(e), 1);
    else
        CHECK(emitter_n_threads(e) > 1);
    printf("# realtime scheduling %s\n", emitter_realtime(e) ? "granted" : "refused");
    emitter_free(e);
}

TEST(no_threads_is_refused)
{
    CHECK(emitter_new(0, 4, 0, 16, 4, fake_write) == NULL);
}

int main(void)
{
    RUN(empty_core_has_nothing_due);
    RUN(order_across_streams_by_due_time_then_push_order);
    RUN(fifo_inside_a_stream_is_never_broken);
    RUN(busy_stream_is_not_offered_twice);
    RUN(item_without_due_time_follows_the_previous);
    RUN(high_and_low_water);
    RUN(failure_drops_the_stream_queue);
    RUN(stop_wakes_waiting_producers_and_refuses_work);
    RUN(many_streams_come_out_in_due_order);
    RUN(threads_write_every_stream_in_order_and_report_failures);
    RUN(shutdown_releases_producers_waiting_on_far_deadlines);
    RUN(late_events_add_threads_up_to_the_maximum);
    RUN(realtime_when_granted_replaces_growth);
    RUN(no_threads_is_refused);
    return test_summary();
}
