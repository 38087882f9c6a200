/* The shared scheduler's KV budget (shared_set_kv_budget): FIFO admission
 * by reservation (context + max tokens), room freed at the end of the last
 * step, no overtaking, an oversized request running alone. Made-up times;
 * default rates: prefill 1000 tok/s, one decode step per 20 ms. */
#include "mockserver/shared.h"
#include "tests/test.h"

#define MS INT64_C(1000000)
#define S INT64_C(1000000000)

static int run_until(shared_sched *s, int64_t now_ns)
{
    shared_step st;
    int64_t wake;
    int n = 0;
    while (shared_next_step(s, now_ns, &st, &wake))
        n++;
    return n;
}

static shared_sched *make(sched_params *p, size_t budget)
{
    sched_params_default(p);
    shared_sched *s = shared_new(p, 0.0, 512);
    shared_set_kv_budget(s, budget);
    return s;
}

TEST(no_budget_admits_everything)
{
    sched_params p;
    shared_sched *s = make(&p, 0);
    shared_seq *a = shared_add(s, 0, 100000, 10, 3, 1);
    shared_seq *b = shared_add(s, 0, 100000, 10, 3, 2);
    CHECK(shared_seq_resident(a));
    CHECK(shared_seq_resident(b));
    CHECK_INT_EQ(shared_get_counts(s).kv_waiting, 0);
    shared_free(s);
}

TEST(two_that_fit_run_together)
{
    sched_params p;
    shared_sched *s = make(&p, 1000);
    shared_seq *a = shared_add(s, 0, 300, 300, 3, 1);
    shared_seq *b = shared_add(s, 0, 300, 300, 3, 2);
    run_until(s, 0);
    CHECK(shared_seq_resident(a));
    CHECK(shared_seq_resident(b));
    CHECK_INT_EQ(shared_kv_held(s), 606);
    run_until(s, 10 * S);
    /* Prefill first, one after the other: 0..300 ms, 300..600 ms. */
    CHECK_INT_EQ(shared_seq_prefill_end_ns(a), 300 * MS);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(b), 600 * MS);
    shared_free(s);
}

TEST(second_waits_until_first_finishes)
{
    sched_params p;
    shared_sched *s = make(&p, 700);
    shared_seq *a = shared_add(s, 0, 400, 400, 3, 1);
    shared_seq *b = shared_add(s, 0, 400, 400, 3, 2);
    CHECK_INT_EQ(run_until(s, 0), 1); /* a's prefill only */
    CHECK(shared_seq_resident(a));
    CHECK(!shared_seq_resident(b));
    shared_counts c = shared_get_counts(s);
    CHECK_INT_EQ(c.kv_waiting, 1);
    /* a's prefill step is decided (its first token is scheduled): it counts
     * as decoding; the waiting one holds nothing. */
    CHECK_INT_EQ(c.decoding, 1);
    CHECK_INT_EQ(c.context_tokens, 401);
    CHECK_INT_EQ(shared_kv_held(s), 403);
    /* a: first token at 400 ms, then 420 and 440 ms (finished). b gets room
     * at the end of a's last step and prefills 440..840 ms. */
    run_until(s, 10 * S);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(a), 400 * MS);
    CHECK(shared_seq_finished(a));
    CHECK(shared_seq_resident(b));
    CHECK_INT_EQ(shared_seq_prefill_end_ns(b), 840 * MS);
    int64_t at;
    size_t n;
    int64_t last = 0;
    while (shared_seq_pop(b, &at, &n))
        last = at;
    CHECK_INT_EQ(last, 880 * MS);
    shared_free(s);
}

TEST(fifo_no_overtaking)
{
    sched_params p;
    shared_sched *s = make(&p, 700);
    shared_seq *a = shared_add(s, 0, 400, 400, 3, 1);
    shared_seq *b = shared_add(s, 0, 400, 400, 3, 2);
    shared_seq *c = shared_add(s, 0, 50, 50, 3, 3); /* would fit beside a */
    run_until(s, 0);
    CHECK(shared_seq_resident(a));
    CHECK(!shared_seq_resident(b));
    CHECK(!shared_seq_resident(c));
    CHECK_INT_EQ(shared_get_counts(s).kv_waiting, 2);
    run_until(s, 10 * S);
    /* After a: b and c both fit (403 + 53), prefilled in order. */
    CHECK_INT_EQ(shared_seq_prefill_end_ns(b), 840 * MS);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(c), 890 * MS);
    shared_free(s);
}

TEST(oversized_request_runs_alone)
{
    sched_params p;
    shared_sched *s = make(&p, 100);
    shared_seq *a = shared_add(s, 0, 400, 400, 3, 1);
    shared_seq *b = shared_add(s, 0, 5, 5, 3, 2);
    run_until(s, 0);
    CHECK(shared_seq_resident(a));
    CHECK(!shared_seq_resident(b));
    run_until(s, 10 * S);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(b), 445 * MS);
    shared_free(s);
}

TEST(removed_request_frees_room)
{
    sched_params p;
    shared_sched *s = make(&p, 700);
    shared_seq *a = shared_add(s, 0, 400, 400, 30, 1);
    shared_seq *b = shared_add(s, 0, 400, 400, 3, 2);
    run_until(s, 0);
    CHECK(!shared_seq_resident(b));
    shared_remove(s, a); /* client gone during its prefill */
    /* The running step still ends at 400 ms; b starts right after it. */
    run_until(s, 400 * MS);
    CHECK(shared_seq_resident(b));
    run_until(s, 10 * S);
    CHECK_INT_EQ(shared_seq_prefill_end_ns(b), 800 * MS);
    CHECK_INT_EQ(shared_kv_held(s), 0); /* b finished */
    shared_free(s);
}

TEST(late_arrival_after_idle_waits_for_its_ready_time)
{
    sched_params p;
    shared_sched *s = make(&p, 700);
    shared_seq *a = shared_add(s, 0, 400, 400, 3, 1);
    run_until(s, 10 * S); /* a done at 440 ms; engine idle */
    shared_seq *b = shared_add(s, 5 * S, 400, 400, 3, 2);
    run_until(s, 5 * S);
    CHECK(shared_seq_resident(b));
    CHECK_INT_EQ(shared_seq_prefill_end_ns(b), 5 * S + 400 * MS);
    shared_remove(s, a);
    shared_free(s);
}

TEST(preempt_pauses_newest_and_recomputes)
{
    sched_params p;
    shared_sched *s = make(&p, 50);
    shared_set_kv_preempt(s, 1);
    /* Both fit at first (20 + 20 + a token each); they grow by one token a
     * step until the step after 120 ms would need 52. */
    shared_seq *a = shared_add(s, 0, 20, 20, 30, 1);
    shared_seq *b = shared_add(s, 0, 20, 20, 10, 2);
    CHECK_INT_EQ(run_until(s, 130 * MS), 7);
    CHECK(shared_seq_resident(a));
    CHECK(!shared_seq_resident(b));
    shared_counts c = shared_get_counts(s);
    CHECK_INT_EQ(c.kv_waiting, 1);
    CHECK_INT_EQ(c.decoding, 1);
    run_until(s, 10 * S);
    int64_t at, last_a = 0;
    size_t n;
    while (shared_seq_pop(a, &at, &n))
        last_a = at;
    /* a alone from 120 ms: 25 more tokens, one per 20 ms. */
    CHECK_INT_EQ(last_a, 620 * MS);
    /* b: 5 tokens by 120 ms, then room at 620 ms, 25 context tokens
     * prefilled again (25 ms), then its 5 remaining tokens. */
    int64_t want[] = {40 * MS, 60 * MS, 80 * MS, 100 * MS, 120 * MS,
                      665 * MS, 685 * MS, 705 * MS, 725 * MS, 745 * MS};
    for (int i = 0; i < 10; i++) {
        CHECK_INT_EQ(shared_seq_pop(b, &at, &n), 1);
        CHECK_INT_EQ(at, want[i]);
    }
    CHECK_INT_EQ(shared_seq_pop(b, &at, &n), 0);
    CHECK(shared_seq_finished(b));
    CHECK_INT_EQ(shared_kv_held(s), 0);
    shared_free(s);
}

TEST(preempt_never_pauses_the_only_request)
{
    sched_params p;
    shared_sched *s = make(&p, 10);
    shared_set_kv_preempt(s, 1);
    shared_seq *a = shared_add(s, 0, 20, 20, 5, 1);
    run_until(s, 10 * S);
    int64_t at, last = 0;
    size_t n;
    while (shared_seq_pop(a, &at, &n))
        last = at;
    CHECK_INT_EQ(last, 100 * MS);
    CHECK(shared_seq_finished(a));
    shared_free(s);
}

int main(void)
{
    RUN(no_budget_admits_everything);
    RUN(two_that_fit_run_together);
    RUN(second_waits_until_first_finishes);
    RUN(fifo_no_overtaking);
    RUN(oversized_request_runs_alone);
    RUN(removed_request_frees_room);
    RUN(late_arrival_after_idle_waits_for_its_ready_time);
    RUN(preempt_pauses_newest_and_recomputes);
    RUN(preempt_never_pauses_the_only_request);
    return test_summary();
}
