/* Unit tests for the Mann-Whitney U test. Reference p-values come from a
 * brute-force enumeration of every rank arrangement (exact cases) and from
 * the tie-corrected normal formula worked by hand (approximate cases). */
#include "../../client/mwu.h"
#include "../test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef struct exact_case {
    const char *name;
    double x[8];
    size_t n1;
    double y[8];
    size_t n2;
    double u1, p;
} exact_case;

static const exact_case exact_cases[] = {
    {"separated_3_3", {1, 2, 3}, 3, {4, 5, 6}, 3, 0, 0.1},
    {"separated_5_5", {1, 2, 3, 4, 5}, 5, {6, 7, 8, 9, 10}, 5, 0, 2.0 / 252},
    {"mixed_4_5", {1.5, 3.1, 4.2, 8.0}, 4, {2.0, 5.5, 6.1, 7.3, 9.9}, 5, 6, 26.0 / 63},
    {"interleaved_6_7", {10, 20, 30, 40, 50, 60}, 6, {15, 25, 35, 45, 55, 65, 75}, 7, 15,
     0.44522144522144524},
    {"x_above_4_3", {5.1, 4.9, 5.3, 5.0}, 4, {4.0, 4.2, 3.9}, 3, 12, 4.0 / 70},
};

TEST(exact_against_enumeration)
{
    for (size_t i = 0; i < N(exact_cases); i++) {
        const exact_case *c = &exact_cases[i];
        mwu_result r;
        CHECK_INT_EQ(mwu_test(c->x, c->n1, c->y, c->n2, &r), 0);
        CHECK(r.exact);
        CHECK(!r.ties);
        CHECK_DBL_NEAR(r.u1, c->u1, 1e-12);
        CHECK_DBL_NEAR(r.u2, (double)(c->n1 * c->n2) - c->u1, 1e-12);
        CHECK_DBL_NEAR(r.p, c->p, 1e-12);
        if (test_failed_checks)
            printf("  in case %s\n", c->name);
    }
}

TEST(exact_is_symmetric)
{
    const double a[] = {1.5, 3.1, 4.2, 8.0}, b[] = {2.0, 5.5, 6.1, 7.3, 9.9};
    mwu_result r1, r2;
    mwu_test(a, N(a), b, N(b), &r1);
    mwu_test(b, N(b), a, N(a), &r2);
    CHECK_DBL_NEAR(r1.p, r2.p, 1e-15);
    CHECK_DBL_NEAR(r1.u1, r2.u2, 0);
}

TEST(ties_use_normal_approximation)
{
    /* Ties of sizes 2, 4, 3, 2 (values 2..5): sum(t^3 - t) = 6 + 60 + 24 + 6;
     * the header's formula gives z = 2.8180093098831724. */
    const double x[] = {1, 2, 2, 3, 3, 3, 4}, y[] = {3, 4, 4, 5, 5, 6, 7, 8};
    mwu_result r;
    CHECK_INT_EQ(mwu_test(x, N(x), y, N(y), &r), 0);
    CHECK(!r.exact);
    CHECK(r.ties);
    CHECK_DBL_NEAR(r.u1, 3.5, 1e-12);
    CHECK_DBL_NEAR(r.z, 2.8180093098831724, 1e-9);
    CHECK_DBL_NEAR(r.p, 0.004832240868896155, 1e-12);
}

TEST(large_samples_use_normal_approximation)
{
    double x[25], y[25];
    for (int i = 0; i < 25; i++) {
        x[i] = i;
        y[i] = i + 20.5;
    }
    mwu_result r;
    CHECK_INT_EQ(mwu_test(x, 25, y, 25, &r), 0);
    CHECK(!r.exact);
    CHECK_DBL_NEAR(r.u1, 10, 1e-12);
    CHECK_DBL_NEAR(r.z, 5.8596607008778046, 1e-9);
    CHECK_DBL_NEAR(r.p, 4.638138549093103e-09, 1e-15);
}

TEST(all_equal_gives_p_one)
{
    const double x[] = {1, 1, 1, 1, 1}, y[] = {1, 1, 1, 1};
    mwu_result r;
    CHECK_INT_EQ(mwu_test(x, N(x), y, N(y), &r), 0);
    CHECK_DBL_NEAR(r.p, 1, 0);
    CHECK_DBL_NEAR(r.u1, 10, 1e-12);
}

TEST(single_values)
{
    const double x[] = {1}, y[] = {2};
    mwu_result r;
    CHECK_INT_EQ(mwu_test(x, 1, y, 1, &r), 0);
    CHECK(r.exact);
    CHECK_DBL_NEAR(r.p, 1, 0);
}

TEST(bad_input_is_an_error)
{
    const double x[] = {1, 2}, y[] = {NAN, 3};
    mwu_result r;
    CHECK_INT_EQ(mwu_test(x, 2, y, 0, &r), -1);
    CHECK_DBL_NEAR(r.p, 1, 0);
    CHECK_INT_EQ(mwu_test(x, 0, y, 2, &r), -1);
    CHECK_INT_EQ(mwu_test(x, 2, y, 2, &r), -1);
}

TEST(min_p_by_sizes)
{
    CHECK_DBL_NEAR(mwu_min_p(3, 3), 0.1, 1e-15);
    CHECK_DBL_NEAR(mwu_min_p(5, 5), 2.0 / 252, 1e-15);
    CHECK_DBL_NEAR(mwu_min_p(1, 1), 1, 0);
    CHECK_DBL_NEAR(mwu_min_p(0, 4), 1, 0);
    CHECK(mwu_min_p(4, 4) < 0.05);
    CHECK(mwu_min_p(1000, 1000) == 0);
}

TEST(exact_reaches_max_total)
{
    /* 20 vs 20, fully separated: 2 / C(40, 20). */
    double x[20], y[20];
    for (int i = 0; i < 20; i++) {
        x[i] = i;
        y[i] = 100 + i;
    }
    mwu_result r;
    CHECK_INT_EQ(mwu_test(x, 20, y, 20, &r), 0);
    CHECK(r.exact);
    CHECK_DBL_NEAR(r.p / (2.0 / 137846528820.0), 1, 1e-12);
}

int main(void)
{
    RUN(exact_against_enumeration);
    RUN(exact_is_symmetric);
    RUN(ties_use_normal_approximation);
    RUN(large_samples_use_normal_approximation);
    RUN(all_equal_gives_p_one);
    RUN(single_values);
    RUN(bad_input_is_an_error);
    RUN(min_p_by_sizes);
    RUN(exact_reaches_max_total);
    return test_summary();
}
