/* The shared engine's step scheduler (mockserver/shared.h), driven with
 * made-up times; and the threaded engine around it (engine_new_shared). */
#include <pthread.h>

#include "common/clock.h"
#include "mockserver/engine.h"
#include "mockserver/shared.h"
#include "tests/test.h"

#define MS INT64_C(1000000)
#define S INT64_C(1000000000)

/* Runs steps until none can start by now_ns; returns how many ran. */
static int run_until(shared_sched *s, int64_t now_ns)
{
    shared_step st;
    int64_t wake;
    int n = 0;
    while (shared_next_step(s, now_ns, &st, &wake))
        n++;
    return n;
}

TEST(single_sequence_matches_closed_form)
{
    sched_params p;
    sched_params_default(&p); /* 1000 tok/s prefill, 50 steps/s */
    shared_sched *s = shared_new(&p, 0.0, 512);
    shared_seq *q = shared_add(s, 1 * S, 500, 500, 3, 7);
    shared_step st;
    int64_t wake;
    CHECK_INT_EQ(shared_next_step(s, 1 * S, &st, &wake), 1);
    CHECK_INT_EQ(st.kind, SHARED_STEP_PREFILL);
    CHECK_INT_EQ(st.start_ns, 1 * S);
    CHECK_INT_EQ(st.end_ns, 1 * S + 500 * MS);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(q), 1 * S + 500 * MS);
    /* The next step cannot start before this one ends. */
    CHECK_INT_EQ(shared_next_step(s, 1 * S + 100 * MS, &st, &wake), 0);
    CHECK_INT_EQ(wake, 1 * S + 500 * MS);
    CHECK_INT_EQ(run_until(s, 10 * S), 2);
    int64_t at;
    size_t n;
    int64_t want[] = {1500 * MS, 1520 * MS, 1540 * MS};
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(shared_seq_pop(q, &at, &n), 1);
        CHECK_INT_EQ(at, want[i]);
        CHECK_INT_EQ(n, 1);
    }
    CHECK_INT_EQ(shared_seq_pop(q, &at, &n), 0);
    CHECK(shared_seq_finished(q));
    /* Finished: no more steps, the engine idles. */
    CHECK_INT_EQ(shared_next_step(s, 20 * S, &st, &wake), 0);
    CHECK_INT_EQ(wake, INT64_MAX);
    shared_remove(s, q);
    shared_free(s);
}

TEST(prefill_is_chunked)
{
    sched_params p;
    sched_params_default(&p);
    shared_sched *s = shared_new(&p, 0.0, 512);
    shared_seq *q = shared_add(s, 0, 1200, 1200, 1, 1);
    shared_step st;
    int64_t wake;
    size_t chunks[3];
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(shared_next_step(s, 10 * S, &st, &wake), 1);
        CHECK_INT_EQ(st.kind, SHARED_STEP_PREFILL);
        chunks[i] = st.prefill_tokens;
    }
    CHECK_INT_EQ(chunks[0], 512);
    CHECK_INT_EQ(chunks[1], 512);
    CHECK_INT_EQ(chunks[2], 176);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(q), 1200 * MS);
    CHECK(shared_seq_finished(q)); /* limit 1: the prefill's token */
    shared_free(s);
}

TEST(batch_penalty_stretches_decode_steps)
{
    sched_params p;
    sched_params_default(&p);
    shared_sched *s = shared_new(&p, 0.5, 512);
    shared_seq *a = shared_add(s, 0, 10, 10, 4, 1);
    shared_seq *b = shared_add(s, 0, 10, 10, 4, 2);
    /* Two prefills of 10 ms, then decode steps of 20 ms * (1 + 0.5). */
    CHECK_INT_EQ(run_until(s, 10 * S), 2 + 3);
    int64_t at_a[4], at_b[4];
    size_t n;
    for (int i = 0; i < 4; i++) {
        CHECK_INT_EQ(shared_seq_pop(a, &at_a[i], &n), 1);
        CHECK_INT_EQ(shared_seq_pop(b, &at_b[i], &n), 1);
    }
    CHECK_INT_EQ(at_a[0], 10 * MS);
    CHECK_INT_EQ(at_b[0], 20 * MS);
    for (int i = 1; i < 4; i++) {
        CHECK_INT_EQ(at_a[i], 20 * MS + i * 30 * MS);
        CHECK_INT_EQ(at_b[i], at_a[i]);
    }
    CHECK_INT_EQ(shared_decode_step_ns(&p, 0.67, 4), 60200 * 1000);
    CHECK_INT_EQ(shared_decode_step_ns(&p, 0.67, 1), 20 * MS);
    shared_free(s);
}

TEST(long_prefill_stalls_decoding_stream)
{
    sched_params p;
    sched_params_default(&p);
    shared_sched *s = shared_new(&p, 0.0, 256);
    shared_seq *a = shared_add(s, 0, 10, 10, 100, 1);
    run_until(s, 50 * MS); /* prefill 0-10 ms, decode steps end 30, 50 (70 decided) */
    shared_seq *b = shared_add(s, 55 * MS, 1000, 1000, 2, 2);
    run_until(s, 10 * S);
    int64_t at, prev = -1, gap = 0;
    size_t n;
    while (shared_seq_pop(a, &at, &n)) {
        if (prev >= 0 && at - prev > gap)
            gap = at - prev;
        prev = at;
    }
    /* B becomes ready during the step 50-70 ms; its four chunks (256, 256,
     * 256, 232 tokens = 1000 ms) run before A's next decode step. */
    CHECK_INT_EQ(gap, 1000 * MS + 20 * MS);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(b), 70 * MS + 1000 * MS);
    shared_free(s);
}

TEST(idle_gap_starts_at_ready_time_not_wake_time)
{
    sched_params p;
    sched_params_default(&p);
    shared_sched *s = shared_new(&p, 0.0, 512);
    shared_step st;
    int64_t wake;
    CHECK_INT_EQ(shared_next_step(s, 0, &st, &wake), 0);
    CHECK_INT_EQ(wake, INT64_MAX);
    shared_seq *q = shared_add(s, 5 * S, 100, 100, 1, 1);
    CHECK_INT_EQ(shared_next_step(s, 4 * S, &st, &wake), 0);
    CHECK_INT_EQ(wake, 5 * S);
    CHECK_INT_EQ(shared_next_step(s, 6 * S, &st, &wake), 1); /* woke late */
    CHECK_INT_EQ(st.start_ns, 5 * S);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(q), 5 * S + 100 * MS);
    /* A later request after an idle gap starts at its own ready time. */
    shared_remove(s, q);
    q = shared_add(s, 8 * S, 100, 100, 1, 1);
    CHECK_INT_EQ(shared_next_step(s, 9 * S, &st, &wake), 1);
    CHECK_INT_EQ(st.start_ns, 8 * S);
    shared_free(s);
}

TEST(mtp_counts_match_independent_schedule)
{
    sched_params p;
    sched_params_default(&p);
    p.mtp_k = 3;
    p.mtp_accept = 0.6;
    shared_sched *s = shared_new(&p, 0.0, 512);
    shared_seq *q = shared_add(s, 0, 20, 20, 50, 99);
    sched_stream ref;
    sched_stream_init(&ref, &p, 20 * MS, 50, 99);
    run_until(s, 100 * S);
    int64_t at, ref_at;
    size_t n, ref_n, total = 0;
    int events = 0;
    while (shared_seq_pop(q, &at, &n)) {
        CHECK_INT_EQ(sched_stream_next(&ref, &ref_at, &ref_n), 1);
        CHECK_INT_EQ(n, ref_n);
        CHECK_INT_EQ(at, ref_at); /* alone, the shared engine is the closed form */
        total += n;
        events++;
    }
    CHECK_INT_EQ(total, 50);
    CHECK(events < 50); /* some steps carried several tokens */
    CHECK_INT_EQ(shared_seq_stream(q)->accepted, ref.accepted);
    shared_free(s);
}

TEST(removed_sequence_leaves_the_batch)
{
    sched_params p;
    sched_params_default(&p);
    shared_sched *s = shared_new(&p, 1.0, 512);
    shared_seq *a = shared_add(s, 0, 10, 10, 100, 1);
    shared_seq *b = shared_add(s, 0, 10, 10, 100, 2);
    shared_step st;
    int64_t wake;
    run_until(s, 19 * MS); /* two prefills (0-10, 10-20 ms), one token each */
    shared_counts c = shared_get_counts(s);
    CHECK_INT_EQ(c.decoding, 2);
    CHECK_INT_EQ(c.prefilling, 0);
    CHECK_INT_EQ(c.context_tokens, 22);
    CHECK_INT_EQ(shared_next_step(s, 1 * S, &st, &wake), 1);
    CHECK_INT_EQ(st.batch, 2);
    CHECK_INT_EQ(st.end_ns - st.start_ns, 40 * MS);
    shared_remove(s, b);
    CHECK_INT_EQ(shared_next_step(s, 1 * S, &st, &wake), 1);
    CHECK_INT_EQ(st.batch, 1);
    CHECK_INT_EQ(st.end_ns - st.start_ns, 20 * MS);
    (void)a;
    shared_free(s); /* frees a too */
}

TEST(zero_limit_finishes_at_prefill)
{
    sched_params p;
    sched_params_default(&p);
    shared_sched *s = shared_new(&p, 0.0, 512);
    shared_seq *q = shared_add(s, 0, 10, 10, 0, 1);
    CHECK_INT_EQ(run_until(s, 1 * S), 1);
    int64_t at;
    size_t n;
    CHECK_INT_EQ(shared_seq_pop(q, &at, &n), 0);
    CHECK(shared_seq_finished(q));
    CHECK_INT_EQ(shared_seq_prefill_end_ns(q), 10 * MS);
    shared_free(s);
}

TEST(overhead_delays_the_queue_entry)
{
    sched_params p;
    sched_params_default(&p);
    shared_sched *s = shared_new(&p, 0.0, 512);
    shared_seq *q = shared_add(s, 0 + 30 * MS, 10, 10, 1, 1);
    run_until(s, 1 * S);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(q), 40 * MS);
    shared_free(s);
}

/* ----------------------------------------------- the threaded engine */

TEST(threaded_engine_plays_decided_times)
{
    sched_params p;
    sched_params_default(&p);
    p.pp_rate = 10000.0; /* 10 tokens = 1 ms */
    p.tg_rate = 500.0;   /* 2 ms steps */
    mock_engine *e = engine_new_shared(1, &p, 0.0, 512);
    engine_ticket t;
    engine_enqueue(e, &t);
    CHECK_INT_EQ(engine_wait_admit(e, &t, INT64_MAX), 1);
    int64_t admit = clock_now_ns();
    engine_play play;
    engine_play_start_ctx(e, &play, admit, 10, 10, 5, 3);
    CHECK_INT_EQ(play.prefill_end_ns, admit + 1 * MS);
    int64_t at;
    size_t n, total = 0;
    int i = 0;
    while (engine_play_next(e, &play, &at, &n)) {
        CHECK_INT_EQ(at, admit + 1 * MS + i * 2 * MS);
        total += n;
        i++;
    }
    CHECK_INT_EQ(total, 5);
    engine_counts c = engine_get_counts(e);
    CHECK_INT_EQ(c.running, 1);
    CHECK_INT_EQ(c.decoding, 0);
    engine_play_end(e, &play);
    engine_play_end(e, &play); /* twice is harmless */
    engine_leave(e, &t);
    engine_free(e);
}

static void *shutdown_later(void *arg)
{
    mock_engine *e = arg;
    clock_sleep_until_ns(clock_now_ns() + 50 * MS);
    engine_shutdown(e);
    return NULL;
}

TEST(shutdown_releases_a_blocked_play)
{
    sched_params p;
    sched_params_default(&p);
    p.pp_rate = 1.0; /* a prefill chunk of 512 tokens takes 512 s */
    mock_engine *e = engine_new_shared(0, &p, 0.0, 512);
    engine_ticket t;
    engine_enqueue(e, &t);
    engine_wait_admit(e, &t, INT64_MAX);
    engine_play first, second;
    /* The first's 1-token prefill takes 1 s; the second waits behind it. */
    int64_t admit = clock_now_ns();
    engine_play_start_ctx(e, &first, admit, 1, 1, 1000, 1);
    pthread_t th;
    CHECK_INT_EQ(pthread_create(&th, NULL, shutdown_later, e), 0);
    int64_t at;
    size_t n;
    int events = 0;
    while (engine_play_next(e, &first, &at, &n))
        events++; /* the prefill's token; its decode step comes after shutdown */
    CHECK_INT_EQ(events, 1);
    engine_play_start_ctx(e, &second, admit, 2000, 2000, 5, 2);
    CHECK_INT_EQ(second.prefill_end_ns, admit);
    CHECK_INT_EQ(engine_play_next(e, &second, &at, &n), 0);
    pthread_join(th, NULL);
    engine_play_end(e, &first);
    engine_play_end(e, &second);
    engine_leave(e, &t);
    int64_t t0 = clock_now_ns();
    engine_free(e);
    CHECK(clock_now_ns() - t0 < 1 * S); /* the thread does not sleep out its step */
}

int main(void)
{
    RUN(single_sequence_matches_closed_form);
    RUN(prefill_is_chunked);
    RUN(batch_penalty_stretches_decode_steps);
    RUN(long_prefill_stalls_decoding_stream);
    RUN(idle_gap_starts_at_ready_time_not_wake_time);
    RUN(mtp_counts_match_independent_schedule);
    RUN(removed_sequence_leaves_the_batch);
    RUN(zero_limit_finishes_at_prefill);
    RUN(overhead_delays_the_queue_entry);
    RUN(threaded_engine_plays_decided_times);
    RUN(shutdown_releases_a_blocked_play);
    return test_summary();
}
