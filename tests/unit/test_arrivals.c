/* Arrival schedules: seeded, mean rate, burstiness, infinite rate, errors. */
#include <math.h>
#include <stdlib.h>

#include "client/arrivals.h"
#include "tests/test.h"

#define N 20000

static void gaps_stats(const int64_t *off, size_t n, double *mean_s, double *cv)
{
    double sum = 0, sq = 0;
    for (size_t i = 1; i < n; i++) {
        double g = (double)(off[i] - off[i - 1]) / 1e9;
        sum += g;
        sq += g * g;
    }
    double m = sum / (double)(n - 1);
    *mean_s = m;
    *cv = sqrt(sq / (double)(n - 1) - m * m) / m;
}

TEST(arrivals_mean_rate_seeded_and_shapes)
{
    int64_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    arrivals_config c = {10.0, 1.0, 42};
    CHECK(arrivals_schedule(&c, a, N) == 0);
    CHECK(a[0] == 0);
    double m, cv;
    gaps_stats(a, N, &m, &cv);
    CHECK(fabs(m - 0.1) < 0.003);       /* mean rate 10/s within 3 % */
    CHECK(fabs(cv - 1.0) < 0.05);       /* Poisson: exponential gaps, CV 1 */
    CHECK(arrivals_schedule(&c, b, N) == 0);
    int same = 1;
    for (size_t i = 0; i < N; i++)
        same &= a[i] == b[i];
    CHECK(same);                        /* seeded: reproducible */
    c.seed = 43;
    arrivals_schedule(&c, b, N);
    CHECK(a[N - 1] != b[N - 1]);
    arrivals_config burst = {50.0, 0.25, 7};
    arrivals_schedule(&burst, a, N);
    gaps_stats(a, N, &m, &cv);
    CHECK(fabs(m - 0.02) < 0.02 * 0.05); /* same mean for any shape */
    CHECK(fabs(cv - 2.0) < 0.15);        /* CV = 1/sqrt(k) = 2 */
    arrivals_config regular = {50.0, 4.0, 7};
    arrivals_schedule(&regular, a, N);
    gaps_stats(a, N, &m, &cv);
    CHECK(fabs(m - 0.02) < 0.02 * 0.03);
    CHECK(fabs(cv - 0.5) < 0.05);
    arrivals_config inf = {INFINITY, 1.0, 1};
    CHECK(arrivals_schedule(&inf, a, 5) == 0);
    CHECK(a[0] == 0 && a[4] == 0);
    arrivals_config bad = {0.0, 1.0, 1};
    CHECK(arrivals_schedule(&bad, a, 5) == -1);
    bad.rate_per_s = 1;
    bad.burstiness = -1;
    CHECK(arrivals_schedule(&bad, a, 5) == -1);
    bad.burstiness = NAN;
    CHECK(arrivals_schedule(&bad, a, 5) == -1);
    free(a);
    free(b);
}

int main(void)
{
    RUN(arrivals_mean_rate_seeded_and_shapes);
    return test_summary();
}
