/* Admission FIFO and the play interface of the independent engine. Waits use
 * deadlines in the past or far future, never sleeps for timing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "common/clock.h"
#include "mockserver/engine.h"
#include "tests/test.h"

TEST(unlimited_admits_at_once)
{
    sched_params p;
    sched_params_default(&p);
    mock_engine *e = engine_new(0, &p);
    engine_ticket t[5];
    for (int i = 0; i < 5; i++) {
        engine_enqueue(e, &t[i]);
        CHECK_INT_EQ(engine_wait_admit(e, &t[i], 0), 1);
    }
    CHECK_INT_EQ(engine_get_counts(e).running, 5);
    for (int i = 0; i < 5; i++)
        engine_leave(e, &t[i]);
    CHECK_INT_EQ(engine_get_counts(e).running, 0);
    engine_free(e);
}

TEST(fifo_with_two_slots)
{
    sched_params p;
    sched_params_default(&p);
    mock_engine *e = engine_new(2, &p);
    engine_ticket t[5];
    for (int i = 0; i < 5; i++)
        engine_enqueue(e, &t[i]);
    engine_counts c = engine_get_counts(e);
    CHECK_INT_EQ(c.running, 2);
    CHECK_INT_EQ(c.waiting, 3);
    /* A deadline in the past: waiting tickets time out at once. */
    CHECK_INT_EQ(engine_wait_admit(e, &t[2], 0), 0);
    /* The third ticket gives up while queued: the fourth is next in line. */
    engine_leave(e, &t[2]);
    CHECK_INT_EQ(engine_get_counts(e).waiting, 2);
    engine_leave(e, &t[0]);
    CHECK_INT_EQ(engine_wait_admit(e, &t[3], 0), 1);
    CHECK_INT_EQ(engine_wait_admit(e, &t[4], 0), 0);
    engine_leave(e, &t[1]);
    CHECK_INT_EQ(engine_wait_admit(e, &t[4], 0), 1);
    c = engine_get_counts(e);
    CHECK_INT_EQ(c.running, 2);
    CHECK_INT_EQ(c.waiting, 0);
    engine_leave(e, &t[3]);
    engine_leave(e, &t[4]);
    engine_free(e);
}

typedef struct waiter {
    mock_engine *e;
    engine_ticket t;
    int rc;
    _Atomic int *order;
    int position;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    w->rc = engine_wait_admit(w->e, &w->t, INT64_MAX);
    if (w->rc == 1) {
        w->position = atomic_fetch_add(w->order, 1);
        engine_leave(w->e, &w->t);
    }
    return NULL;
}

TEST(blocked_waiters_wake_in_order)
{
    sched_params p;
    sched_params_default(&p);
    mock_engine *e = engine_new(1, &p);
    engine_ticket holder;
    engine_enqueue(e, &holder);
    _Atomic int order = 0;
    waiter w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].e = e;
        w[i].order = &order;
        engine_enqueue(e, &w[i].t); /* queued here, in this order */
        pthread_create(&th[i], NULL, wait_thread, &w[i]);
    }
    engine_leave(e, &holder);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK_INT_EQ(w[i].rc, 1);
        CHECK_INT_EQ(w[i].position, i);
    }
    engine_free(e);
}

TEST(shutdown_releases_waiters)
{
    sched_params p;
    sched_params_default(&p);
    mock_engine *e = engine_new(1, &p);
    engine_ticket holder;
    engine_enqueue(e, &holder);
    _Atomic int order = 0;
    waiter w;
    memset(&w, 0, sizeof w);
    w.e = e;
    w.order = &order;
    engine_enqueue(e, &w.t);
    pthread_t th;
    pthread_create(&th, NULL, wait_thread, &w);
    engine_shutdown(e);
    pthread_join(th, NULL);
    CHECK_INT_EQ(w.rc, -1);
    engine_leave(e, &w.t);
    engine_leave(e, &holder);
    engine_free(e);
}

TEST(play_follows_schedule)
{
    sched_params p;
    sched_params_default(&p); /* 1000 tok/s prefill, 50 steps/s */
    mock_engine *e = engine_new(0, &p);
    engine_play play;
    engine_play_start(e, &play, 1000000000, 500, 3, 7);
    CHECK_INT_EQ(play.prefill_end_ns, 1500000000);
    int64_t at;
    size_t n;
    CHECK_INT_EQ(engine_play_next(e, &play, &at, &n), 1);
    CHECK_INT_EQ(at, 1500000000);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(engine_play_next(e, &play, &at, &n), 1);
    CHECK_INT_EQ(at, 1520000000);
    CHECK_INT_EQ(engine_play_next(e, &play, &at, &n), 1);
    CHECK_INT_EQ(at, 1540000000);
    CHECK_INT_EQ(engine_play_next(e, &play, &at, &n), 0);
    engine_free(e);
}

int main(void)
{
    RUN(unlimited_admits_at_once);
    RUN(fifo_with_two_slots);
    RUN(blocked_waiters_wake_in_order);
    RUN(shutdown_releases_waiters);
    RUN(play_follows_schedule);
    return test_summary();
}
