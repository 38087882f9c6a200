/* Unit tests for common/: buffer caps and escaping, the PRNG, the clock,
 * whole-string number parsing. */
#include <stdlib.h>

#include "../../common/buf.h"
#include "../../common/clock.h"
#include "../../common/numparse.h"
#include "../../common/prng.h"
#include "../test.h"

TEST(buf_append_and_printf)
{
    buf b;
    buf_init(&b, 0);
    CHECK_INT_EQ(buf_append_str(&b, "ab"), BUF_OK);
    CHECK_INT_EQ(buf_printf(&b, "%d-%s", 42, "x"), BUF_OK);
    CHECK_STR_EQ(b.data, "ab42-x");
    CHECK_INT_EQ(b.len, 6);
    buf_consume(&b, 2);
    CHECK_STR_EQ(b.data, "42-x");
    buf_consume(&b, 100);
    CHECK_INT_EQ(b.len, 0);
    buf_free(&b);
}

TEST(buf_cap_refuses_growth_past_max)
{
    buf b;
    buf_init(&b, 4);
    CHECK_INT_EQ(buf_append(&b, "1234", 4), BUF_OK);
    CHECK_INT_EQ(buf_append(&b, "5", 1), BUF_ERR_TOO_BIG);
    CHECK_INT_EQ(buf_printf(&b, "%s", "x"), BUF_ERR_TOO_BIG);
    CHECK_STR_EQ(b.data, "1234");
    buf_free(&b);
}

TEST(buf_json_escape)
{
    buf b;
    buf_init(&b, 0);
    const char in[] = "a\"b\\c\n\t\x01";
    CHECK_INT_EQ(buf_append_json_escaped(&b, in, sizeof in - 1), BUF_OK);
    CHECK_STR_EQ(b.data, "a\\\"b\\\\c\\n\\t\\u0001");
    char *s = buf_steal(&b);
    CHECK_STR_EQ(s, "a\\\"b\\\\c\\n\\t\\u0001");
    free(s);
    CHECK(b.data == NULL);
}

TEST(prng_is_reproducible_and_uniform)
{
    prng a, b;
    prng_seed(&a, 7);
    prng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        CHECK(prng_next(&a) == prng_next(&b));
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = prng_uniform(&a);
        CHECK(u >= 0.0 && u < 1.0);
        sum += u;
    }
    CHECK_DBL_NEAR(sum / 100000, 0.5, 0.01);
}

TEST(fnv_hash_known_value)
{
    /* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (published test vector). */
    CHECK(hash_fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    CHECK(hash_fnv1a64("", 0) == UINT64_C(0xcbf29ce484222325));
}

TEST(clock_sleep_until_reaches_deadline)
{
    int64_t t0 = clock_now_ns();
    int64_t deadline = t0 + 2 * CLOCK_NS_PER_MS;
    clock_sleep_until_ns(deadline);
    CHECK(clock_now_ns() >= deadline);
    /* A deadline in the past returns at once. */
    clock_sleep_until_ns(t0);
    CHECK(clock_now_ns() >= t0);
}

TEST(numparse_whole_string_in_range)
{
    long l = 7;
    CHECK_INT_EQ(parse_long_in("42", 0, 100, &l), 0);
    CHECK_INT_EQ(l, 42);
    CHECK_INT_EQ(parse_long_in("-3", -5, 5, &l), 0);
    CHECK_INT_EQ(l, -3);
    const char *bad_long[] = {"", " ", "4x", "x4", "101", "-6", "1e2", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_long / sizeof *bad_long; i++) {
        long keep = 9;
        CHECK_INT_EQ(parse_long_in(bad_long[i], -5, 100, &keep), -1);
        CHECK_INT_EQ(keep, 9);
    }
    int n = 0;
    CHECK_INT_EQ(parse_int_in("65535", 1, 65535, &n), 0);
    CHECK_INT_EQ(n, 65535);
    CHECK_INT_EQ(parse_int_in("65536", 1, 65535, &n), -1);
    CHECK_INT_EQ(parse_int_in("0", 1, 65535, &n), -1);
    double d = 0;
    CHECK_INT_EQ(parse_double_in("0.25", 0, 1, &d), 0);
    CHECK(d == 0.25);
    CHECK_INT_EQ(parse_double_in("1e-3", 1e-3, 1, &d), 0);
    const char *bad_double[] = {"", "nan", "inf", "-inf", "1.5", "-0.1", "0.5s", "1e999"};
    for (size_t i = 0; i < sizeof bad_double / sizeof *bad_double; i++) {
        double keep = 0.75;
        CHECK_INT_EQ(parse_double_in(bad_double[i], 0, 1, &keep), -1);
        CHECK(keep == 0.75);
    }
    uint64_t u = 0;
    CHECK_INT_EQ(parse_u64("18446744073709551615", &u), 0);
    CHECK(u == UINT64_MAX);
    CHECK_INT_EQ(parse_u64("0x10", &u), 0);
    CHECK(u == 16);
    const char *bad_u64[] = {"", "-1", "+1", " 1", "18446744073709551616", "12ab"};
    for (size_t i = 0; i < sizeof bad_u64 / sizeof *bad_u64; i++) {
        uint64_t keep = 5;
        CHECK_INT_EQ(parse_u64(bad_u64[i], &keep), -1);
        CHECK(keep == 5);
    }
}

int main(void)
{
    RUN(buf_append_and_printf);
    RUN(buf_cap_refuses_growth_past_max);
    RUN(buf_json_escape);
    RUN(prng_is_reproducible_and_uniform);
    RUN(fnv_hash_known_value);
    RUN(clock_sleep_until_reaches_deadline);
    RUN(numparse_whole_string_in_range);
    return test_summary();
}
