/* Minimal unit-test harness: assertion macros print both operands, each test
 * function is reported as one "PASS name" or "FAIL name" line that
 * tests/run.sh counts.
 *
 * Usage:
 *     TEST(tokenizer_empty) { CHECK_INT_EQ(tok_count("", 0), 0); }
 *     int main(void) { RUN(tokenizer_empty); return test_summary(); }
 */
#ifndef TESTS_TEST_H
#define TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_failed_checks;
static int test_passed_count;
static int test_failed_count;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                  \
    do {                                                                           \
        int before_ = test_failed_checks;                                          \
        test_##name();                                                             \
        if (test_failed_checks == before_) {                                       \
            printf("PASS %s\n", #name);                                            \
            test_passed_count++;                                                   \
        } else {                                                                   \
            printf("FAIL %s\n", #name);                                            \
            test_failed_count++;                                                   \
        }                                                                          \
        fflush(stdout);                                                            \
    } while (0)

#define TEST_FAIL_AT_(...)                                                         \
    do {                                                                           \
        fprintf(stdout, "  %s:%d: ", __FILE__, __LINE__);                          \
        fprintf(stdout, __VA_ARGS__);                                              \
        fputc('\n', stdout);                                                       \
        test_failed_checks++;                                                      \
    } while (0)

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            TEST_FAIL_AT_("check failed: %s", #cond);                              \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                         \
    do {                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                        \
        if (a_ != b_)                                                              \
            TEST_FAIL_AT_("%s == %s: %lld != %lld", #a, #b, a_, b_);               \
    } while (0)

#define CHECK_DBL_NEAR(a, b, tol)                                                  \
    do {                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);             \
        if (!(fabs(a_ - b_) <= t_))                                                \
            TEST_FAIL_AT_("%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, t_);  \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                         \
    do {                                                                           \
        const char *a_ = (a), *b_ = (b);                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
            TEST_FAIL_AT_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", \
                          b_ ? b_ : "(null)");                                     \
    } while (0)

static inline int test_summary(void)
{
    printf("# %d passed, %d failed\n", test_passed_count, test_failed_count);
    return test_failed_count ? 1 : 0;
}

#endif
