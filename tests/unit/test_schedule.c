/* Timing model: prefill end, drift-free step times, clamping, MTP steps. */
#include <stdint.h>
#include <stdlib.h>

#include "mockserver/schedule.h"
#include "tests/test.h"

TEST(defaults)
{
    sched_params p;
    sched_params_default(&p);
    CHECK_DBL_NEAR(p.pp_rate, 1000.0, 0);
    CHECK_DBL_NEAR(p.tg_rate, 50.0, 0);
    CHECK_INT_EQ(p.overhead_ns, 0);
    CHECK_INT_EQ(p.mtp_k, 0);
    CHECK_DBL_NEAR(p.mtp_accept, 0.7, 0);
    CHECK_INT_EQ(p.mtp_pattern_len, 0);
}

TEST(prefill_end_table)
{
    static const struct {
        double pp_rate;
        int64_t overhead_ns, admit_ns;
        size_t uncached;
        int64_t want_ns;
    } cases[] = {
        {1000.0, 0, 0, 0, 0},
        {1000.0, 0, 0, 1, 1000000},                 /* 1 ms per token */
        {1000.0, 0, 5, 2048, 5 + 2048000000},       /* 2.048 s */
        {1000.0, 25000000, 1000, 500, 1000 + 25000000 + 500000000},
        {3000.0, 0, 0, 1, 333333},                  /* rounded to nearest ns */
        {3000.0, 0, 0, 2, 666667},
        {250.0, 10, 0, 100000, 10 + 400000000000},  /* 400 s */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sched_params p;
        sched_params_default(&p);
        p.pp_rate = cases[i].pp_rate;
        p.overhead_ns = cases[i].overhead_ns;
        CHECK_INT_EQ(sched_prefill_end_ns(&p, cases[i].admit_ns, cases[i].uncached),
                     cases[i].want_ns);
    }
}

TEST(step_times_no_drift)
{
    /* tg 3 steps/s: 1/3 s is not a whole number of ns, so accumulating the
     * step would drift; the times must stay f + round(k * 1e9 / 3). */
    sched_params p;
    sched_stream s;
    const int64_t f = 123456789;
    const size_t limit = 10001; /* first token + 10 000 steps */
    int64_t at = 0;
    size_t n = 0, k = 0, bad = 0;
    sched_params_default(&p);
    p.tg_rate = 3.0;
    sched_stream_init(&s, &p, f, limit, 1);
    while (sched_stream_next(&s, &at, &n)) {
        int64_t want = f + (int64_t)((k * 1000000000 + 1) / 3); /* round half up of k/3 s */
        if (at != want && bad++ < 3)
            TEST_FAIL_AT_("step %zu at %lld, want %lld", k, (long long)at, (long long)want);
        if (n != 1)
            bad++;
        k++;
    }
    CHECK_INT_EQ(k, limit);
    CHECK_INT_EQ(bad, 0);
    /* The last step lands 10 000 / 3 s (rounded to the ns) after the first token. */
    CHECK_INT_EQ(at - f, INT64_C(3333333333333));
}

TEST(step_times_default_rate)
{
    sched_params p;
    sched_stream s;
    int64_t at;
    size_t n;
    sched_params_default(&p);
    sched_stream_init(&s, &p, 1000, 4, 0);
    CHECK(sched_stream_next(&s, &at, &n));
    CHECK_INT_EQ(at, 1000);
    CHECK_INT_EQ(n, 1);
    CHECK(sched_stream_next(&s, &at, &n));
    CHECK_INT_EQ(at, 1000 + 20000000); /* 20 ms at 50 steps/s */
    CHECK(sched_stream_next(&s, &at, &n));
    CHECK_INT_EQ(at, 1000 + 40000000);
    CHECK(sched_stream_next(&s, &at, &n));
    CHECK_INT_EQ(at, 1000 + 60000000);
    CHECK(!sched_stream_next(&s, &at, &n));
    CHECK(!sched_stream_next(&s, &at, &n)); /* stays finished */
}

TEST(limit_clamping)
{
    /* Pattern 4 with limit 10: 1 (first) + 4 + 4 + 1 (clamped) = 10. */
    sched_params p;
    sched_stream s;
    int64_t at;
    size_t n, total = 0, events = 0;
    static const size_t want[] = {1, 4, 4, 1};
    sched_params_default(&p);
    CHECK_INT_EQ(sched_parse_pattern(&p, "4"), 0);
    sched_stream_init(&s, &p, 0, 10, 0);
    while (sched_stream_next(&s, &at, &n)) {
        if (events < 4)
            CHECK_INT_EQ(n, want[events]);
        total += n;
        events++;
    }
    CHECK_INT_EQ(events, 4);
    CHECK_INT_EQ(total, 10);

    /* Limit 0: nothing at all; limit 1: only the prefill token. */
    sched_stream_init(&s, &p, 0, 0, 0);
    CHECK(!sched_stream_next(&s, &at, &n));
    sched_stream_init(&s, &p, 7, 1, 0);
    CHECK(sched_stream_next(&s, &at, &n));
    CHECK_INT_EQ(at, 7);
    CHECK_INT_EQ(n, 1);
    CHECK(!sched_stream_next(&s, &at, &n));
}

TEST(mtp_pattern_cycles)
{
    sched_params p;
    sched_stream s;
    int64_t at;
    size_t n, i = 0;
    static const size_t want[] = {1, 3, 3, 3, 3};
    sched_params_default(&p);
    CHECK_INT_EQ(sched_parse_pattern(&p, "3"), 0);
    sched_stream_init(&s, &p, 0, 13, 0);
    while (sched_stream_next(&s, &at, &n) && i < 5)
        CHECK_INT_EQ(n, want[i++]);
    CHECK_INT_EQ(i, 5);

    static const size_t want2[] = {1, 3, 1, 2, 3, 1, 2};
    CHECK_INT_EQ(sched_parse_pattern(&p, "3,1,2"), 0);
    sched_stream_init(&s, &p, 0, 13, 0);
    for (i = 0; i < 7; i++) {
        CHECK(sched_stream_next(&s, &at, &n));
        CHECK_INT_EQ(n, want2[i]);
    }
}

TEST(parse_pattern_errors)
{
    sched_params p;
    static const char *const bad[] = {"",   ",",   "1,",  ",1",  "0",  "65",  "-1", "+2",
                                      "1,,2", "a",  "1;2", "2 ",  " 2", "99999999999999999999",
                                      "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"};
    sched_params_default(&p);
    CHECK_INT_EQ(sched_parse_pattern(&p, "2,5"), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sched_parse_pattern(&p, bad[i]) != -1)
            TEST_FAIL_AT_("pattern \"%s\" accepted", bad[i]);
    }
    CHECK_INT_EQ(sched_parse_pattern(&p, NULL), -1);
    /* A failed parse leaves the previous pattern alone. */
    CHECK_INT_EQ(p.mtp_pattern_len, 2);
    CHECK_INT_EQ(p.mtp_pattern[1], 5);
    CHECK_INT_EQ(sched_parse_pattern(&p, "64"), 0);
    CHECK_INT_EQ(p.mtp_pattern[0], 64);
}

/* Runs a stream of `steps` decode steps and returns the tokens of each step
 * after the first token in counts (may be NULL). */
static double mean_step_tokens(const sched_params *p, uint64_t seed, size_t steps,
                               size_t *counts, sched_stream *out)
{
    sched_stream s;
    int64_t at;
    size_t n, total = 0;
    /* A limit no step sequence can reach, so nothing is clamped. */
    sched_stream_init(&s, p, 0, (size_t)(p->mtp_k + 1) * steps + 1, seed);
    CHECK(sched_stream_next(&s, &at, &n)); /* the prefill token */
    for (size_t i = 0; i < steps; i++) {
        CHECK(sched_stream_next(&s, &at, &n));
        if (counts)
            counts[i] = n;
        total += n;
    }
    if (out)
        *out = s;
    return (double)total / (double)steps;
}

TEST(mtp_accept_zero_and_one)
{
    sched_params p;
    sched_stream s;
    size_t counts[500];
    size_t bad = 0;
    sched_params_default(&p);
    p.mtp_k = 3;
    p.mtp_accept = 0.0;
    mean_step_tokens(&p, 9, 500, counts, &s);
    for (size_t i = 0; i < 500; i++)
        bad += counts[i] != 1;
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(s.drafted, 1500);
    CHECK_INT_EQ(s.accepted, 0);

    p.mtp_accept = 1.0;
    mean_step_tokens(&p, 9, 500, counts, &s);
    for (size_t i = 0; i < 500; i++)
        bad += counts[i] != 4;
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(s.drafted, 1500);
    CHECK_INT_EQ(s.accepted, 1500);
}

TEST(mtp_mean_matches_closed_form)
{
    /* Leading successes of K Bernoulli(p) draws: E[tokens per step] =
     * 1 + p + p^2 + ... + p^K = (1 - p^(K+1)) / (1 - p). */
    static const struct {
        int k;
        double accept;
    } cases[] = {{1, 0.6}, {2, 0.6}, {3, 0.6}, {4, 0.9}, {3, 0.3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sched_params p;
        double want, got;
        sched_params_default(&p);
        p.mtp_k = cases[i].k;
        p.mtp_accept = cases[i].accept;
        want = (1.0 - pow(p.mtp_accept, p.mtp_k + 1)) / (1.0 - p.mtp_accept);
        got = mean_step_tokens(&p, 42 + i, 200000, NULL, NULL);
        CHECK_DBL_NEAR(got, want, 0.02 * want);
    }
    /* K = 3, p = 0.6 by hand: 1 + 0.6 + 0.36 + 0.216 = 2.176. */
    {
        sched_params p;
        sched_params_default(&p);
        p.mtp_k = 3;
        p.mtp_accept = 0.6;
        CHECK_DBL_NEAR(mean_step_tokens(&p, 7, 200000, NULL, NULL), 2.176, 0.02 * 2.176);
    }
}

TEST(mtp_same_seed_same_draws)
{
    sched_params p;
    size_t a[300], b[300], c[300];
    int same_ab = 1, same_ac = 1;
    sched_params_default(&p);
    p.mtp_k = 4;
    p.mtp_accept = 0.5;
    mean_step_tokens(&p, 777, 300, a, NULL);
    mean_step_tokens(&p, 777, 300, b, NULL);
    mean_step_tokens(&p, 778, 300, c, NULL);
    for (size_t i = 0; i < 300; i++) {
        same_ab &= a[i] == b[i];
        same_ac &= a[i] == c[i];
    }
    CHECK(same_ab);
    CHECK(!same_ac); /* a different seed chunks differently */
}

TEST(mtp_clamped_counts_agree)
{
    /* accept 1, K 3, limit 6: 1 + 4 + 1 (clamped from 4); the accepted count
     * covers only the drafts actually emitted. */
    sched_params p;
    sched_stream s;
    int64_t at;
    size_t n, total = 0;
    sched_params_default(&p);
    p.mtp_k = 3;
    p.mtp_accept = 1.0;
    sched_stream_init(&s, &p, 0, 6, 0);
    while (sched_stream_next(&s, &at, &n))
        total += n;
    CHECK_INT_EQ(total, 6);
    CHECK_INT_EQ(s.drafted, 6);
    CHECK_INT_EQ(s.accepted, 3);
    CHECK_INT_EQ(s.step, 3);
}

TEST(absurd_rates_saturate)
{
    /* A rate so low the time would overflow int64 ns saturates instead. */
    sched_params p;
    sched_params_default(&p);
    p.pp_rate = 1e-12;
    CHECK_INT_EQ(sched_prefill_end_ns(&p, 0, 1000000), INT64_C(4600000000000000000));
    CHECK_INT_EQ(sched_prefill_end_ns(&p, 5, 0), 5);
}

int main(void)
{
    RUN(defaults);
    RUN(prefill_end_table);
    RUN(step_times_no_drift);
    RUN(step_times_default_rate);
    RUN(limit_clamping);
    RUN(mtp_pattern_cycles);
    RUN(parse_pattern_errors);
    RUN(mtp_accept_zero_and_one);
    RUN(mtp_mean_matches_closed_form);
    RUN(mtp_same_seed_same_draws);
    RUN(mtp_clamped_counts_agree);
    RUN(absurd_rates_saturate);
    return test_summary();
}
