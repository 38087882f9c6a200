/* Unit tests for client/stats: hand-computed vectors for mean, population
 * and sample std, and percentiles by linear interpolation (numpy default). */
#include "../../client/stats.h"
#include "../test.h"

TEST(empty_sample)
{
    CHECK_DBL_NEAR(stats_mean(NULL, 0), 0, 0);
    CHECK_DBL_NEAR(stats_std_pop(NULL, 0), 0, 0);
    CHECK_DBL_NEAR(stats_std_sample(NULL, 0), 0, 0);
    CHECK_DBL_NEAR(stats_percentile(NULL, 0, 50), 0, 0);
}

TEST(one_sample)
{
    double v[] = {7.5};
    CHECK_DBL_NEAR(stats_mean(v, 1), 7.5, 0);
    CHECK_DBL_NEAR(stats_std_pop(v, 1), 0, 0);
    CHECK_DBL_NEAR(stats_std_sample(v, 1), 0, 0);
    CHECK_DBL_NEAR(stats_percentile(v, 1, 0), 7.5, 0);
    CHECK_DBL_NEAR(stats_percentile(v, 1, 99), 7.5, 0);
    CHECK_DBL_NEAR(stats_percentile(v, 1, 100), 7.5, 0);
}

TEST(all_equal)
{
    double v[] = {3, 3, 3, 3};
    CHECK_DBL_NEAR(stats_mean(v, 4), 3, 0);
    CHECK_DBL_NEAR(stats_std_pop(v, 4), 0, 0);
    CHECK_DBL_NEAR(stats_std_sample(v, 4), 0, 0);
    CHECK_DBL_NEAR(stats_percentile(v, 4, 37), 3, 0);
}

TEST(hand_computed_vector)
{
    /* Unsorted on purpose: 2 4 4 4 5 5 7 9 sorted; mean 5; squared deviations
     * sum to 32: pop std sqrt(32/8) = 2, sample std sqrt(32/7). */
    double v[] = {9, 4, 2, 5, 4, 7, 4, 5};
    CHECK_DBL_NEAR(stats_mean(v, 8), 5, 1e-12);
    CHECK_DBL_NEAR(stats_std_pop(v, 8), 2, 1e-12);
    CHECK_DBL_NEAR(stats_std_sample(v, 8), sqrt(32.0 / 7.0), 1e-12);
    /* h = 7 p / 100. p0 -> x[0]; p100 -> x[7]; p50: h = 3.5 -> 4 + 0.5 (5-4).
     * p90: h = 6.3 -> 7 + 0.3 (9 - 7) = 7.6; p25: h = 1.75 -> 4. */
    CHECK_DBL_NEAR(stats_percentile(v, 8, 0), 2, 0);
    CHECK_DBL_NEAR(stats_percentile(v, 8, 100), 9, 0);
    CHECK_DBL_NEAR(stats_percentile(v, 8, 50), 4.5, 1e-12);
    CHECK_DBL_NEAR(stats_median(v, 8), 4.5, 1e-12);
    CHECK_DBL_NEAR(stats_percentile(v, 8, 90), 7.6, 1e-12);
    CHECK_DBL_NEAR(stats_percentile(v, 8, 25), 4, 1e-12);
    /* Out-of-range p is clamped; the input is left unsorted. */
    CHECK_DBL_NEAR(stats_percentile(v, 8, -5), 2, 0);
    CHECK_DBL_NEAR(stats_percentile(v, 8, 250), 9, 0);
    CHECK_DBL_NEAR(v[0], 9, 0);
}

TEST(two_samples_interpolate)
{
    double v[] = {10, 20};
    CHECK_DBL_NEAR(stats_percentile(v, 2, 99), 19.9, 1e-12);
    CHECK_DBL_NEAR(stats_percentile(v, 2, 95), 19.5, 1e-12);
    CHECK_DBL_NEAR(stats_median(v, 2), 15, 1e-12);
}

TEST(growable_sample)
{
    stats s;
    stats_init(&s);
    for (int i = 1; i <= 100; i++)
        stats_add(&s, i);
    CHECK_INT_EQ(s.n, 100);
    CHECK_DBL_NEAR(stats_mean(s.values, s.n), 50.5, 1e-12);
    /* h = 99 * 0.99 = 98.01 -> 99 + 0.01 * 1 */
    CHECK_DBL_NEAR(stats_percentile(s.values, s.n, 99), 99.01, 1e-9);
    stats_free(&s);
    CHECK(s.values == NULL && s.n == 0);
}

int main(void)
{
    RUN(empty_sample);
    RUN(one_sample);
    RUN(all_equal);
    RUN(hand_computed_vector);
    RUN(two_samples_interpolate);
    RUN(growable_sample);
    return test_summary();
}
