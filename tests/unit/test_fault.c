/* Fault lists: parsing (every kind, defaults, refusals naming the entry),
 * the seeded per-request draw, conflict rules and the stream helpers. */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "mockserver/fault.h"
#include "tests/test.h"

static fault_list parse_ok(const char *text)
{
    fault_list l;
    char err[256] = "";
    if (fault_parse(&l, text, err, sizeof err) != 0)
        TEST_FAIL_AT_("'%s' refused: %s", text, err);
    return l;
}

TEST(parse_spec_example)
{
    fault_list l = parse_ok("status=429:0.1,disconnect-after=20:0.05,stall=2000@10:0.02");
    CHECK_INT_EQ(l.n, 3);
    CHECK_INT_EQ(l.entries[0].kind, FAULT_STATUS);
    CHECK_INT_EQ(l.entries[0].param, 429);
    CHECK_INT_EQ(l.entries[0].at, 1); /* Retry-After default */
    CHECK_DBL_NEAR(l.entries[0].prob, 0.1, 1e-12);
    CHECK_INT_EQ(l.entries[1].kind, FAULT_DISCONNECT);
    CHECK_INT_EQ(l.entries[1].param, 20);
    CHECK_DBL_NEAR(l.entries[1].prob, 0.05, 1e-12);
    CHECK_INT_EQ(l.entries[2].kind, FAULT_STALL);
    CHECK_INT_EQ(l.entries[2].param, 2000);
    CHECK_INT_EQ(l.entries[2].at, 10);
    CHECK_DBL_NEAR(l.entries[2].prob, 0.02, 1e-12);
}

TEST(parse_every_kind_and_canonical_text)
{
    static const struct {
        const char *in, *canonical;
        enum fault_kind kind;
    } cases[] = {
        {"status=500", "status=500@1", FAULT_STATUS},
        {"status=503@7", "status=503@7", FAULT_STATUS},
        {"disconnect-after=0", "disconnect-after=0", FAULT_DISCONNECT},
        {"stall=250", "stall=250@1", FAULT_STALL},
        {"stall=2000@0", "stall=2000@0", FAULT_STALL},
        {"malformed", "malformed@1", FAULT_MALFORMED},
        {"malformed@12:1", "malformed@12", FAULT_MALFORMED},
        {"error-event", "error-event@1", FAULT_ERROR_EVENT},
        {"error-event@0", "error-event@0", FAULT_ERROR_EVENT},
        {"no-usage", "no-usage", FAULT_NO_USAGE},
        {"slow-headers=300:0.5", "slow-headers=300", FAULT_SLOW_HEADERS},
        {"trickle", "trickle", FAULT_TRICKLE},
        {"  trickle  ", "trickle", FAULT_TRICKLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fault_list l = parse_ok(cases[i].in);
        if (l.n != 1) {
            TEST_FAIL_AT_("'%s': %zu entries", cases[i].in, l.n);
            continue;
        }
        char text[64];
        fault_entry_format(&l.entries[0], text, sizeof text);
        CHECK_STR_EQ(text, cases[i].canonical);
        CHECK_INT_EQ(l.entries[0].kind, cases[i].kind);
    }
}

TEST(parse_empty_is_no_fault)
{
    fault_list l = parse_ok("");
    CHECK_INT_EQ(l.n, 0);
    l = parse_ok("   ");
    CHECK_INT_EQ(l.n, 0);
    l = parse_ok("trickle , no-usage");
    CHECK_INT_EQ(l.n, 2);
}

TEST(parse_refusals_name_the_entry)
{
    static const struct {
        const char *in, *must_contain;
    } bad[] = {
        {"bogus", "'bogus'"},
        {"status", "needs"},
        {"status=200", "400..599"},
        {"status=600", "400..599"},
        {"status=42x", "status="},
        {"status=429@-1", "Retry-After"},
        {"status=429:1.5", "probability"},
        {"status=429:-0.1", "probability"},
        {"status=429:nan", "probability"},
        {"status=429:", "probability"},
        {"disconnect-after", "needs"},
        {"disconnect-after=5@3", "takes no '@'"},
        /* Found by fuzz_fault (UBSan): 19 digits overflowed int64 before the range check. */
        {"disconnect-after=9999999999999999994", "disconnect-after="},
        {"stall=99999999", "milliseconds"},
        {"stall=10@x", "token count"},
        {"malformed=3", "takes no '='"},
        {"malformed@0", "token number"},
        {"trickle=1", "takes no '='"},
        {"no-usage@2", "takes no '@'"},
        {"slow-headers", "needs"},
        {"trickle,,no-usage", "empty entry"},
        {"trickle,", "empty entry"},
        {"stall=10 @3", "space"},
        {"status=500:0.5:0.5", "probability"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fault_list l;
        char err[256] = "";
        if (fault_parse(&l, bad[i].in, err, sizeof err) == 0) {
            TEST_FAIL_AT_("'%s' accepted", bad[i].in);
            continue;
        }
        if (!strstr(err, bad[i].must_contain))
            TEST_FAIL_AT_("'%s': message '%s' lacks '%s'", bad[i].in, err, bad[i].must_contain);
    }
    /* Too many entries and too long. */
    char many[400] = "";
    for (int i = 0; i < FAULT_MAX_ENTRIES + 1; i++)
        strncat(many, i ? ",trickle" : "trickle", sizeof many - strlen(many) - 1);
    fault_list l;
    char err[256];
    CHECK(fault_parse(&l, many, err, sizeof err) != 0);
    char longer[FAULT_MAX_LIST_LEN + 10];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK(fault_parse(&l, longer, err, sizeof err) != 0);
}

TEST(draw_is_reproducible_and_near_the_probability)
{
    fault_list l = parse_ok("status=429:0.1,stall=5@2:0.3");
    int n_status = 0, n_stall = 0;
    for (uint64_t seq = 1; seq <= 20000; seq++) {
        fault_plan a, b;
        fault_draw(&a, &l, 7, seq);
        fault_draw(&b, &l, 7, seq);
        if (memcmp(&a, &b, sizeof a) != 0)
            TEST_FAIL_AT_("seq %llu drew differently", (unsigned long long)seq);
        n_status += a.status == 429;
        n_stall += a.n_stalls == 1;
    }
    /* Stalls are masked by the status that wins: 0.9 * 0.3 = 0.27. */
    CHECK_DBL_NEAR(n_status / 20000.0, 0.1, 0.01);
    CHECK_DBL_NEAR(n_stall / 20000.0, 0.27, 0.015);
    /* Another seed picks other requests. */
    int differ = 0;
    for (uint64_t seq = 1; seq <= 200; seq++) {
        fault_plan a, b;
        fault_draw(&a, &l, 7, seq);
        fault_draw(&b, &l, 8, seq);
        differ += a.kinds != b.kinds;
    }
    CHECK(differ > 10);
}

TEST(draw_probability_edges)
{
    fault_list always = parse_ok("trickle:1"), never = parse_ok("trickle:0");
    for (uint64_t seq = 1; seq < 500; seq++) {
        fault_plan p;
        fault_draw(&p, &always, 3, seq);
        CHECK_INT_EQ(p.trickle, 1);
        fault_draw(&p, &never, 3, seq);
        CHECK_INT_EQ(p.kinds, 0);
        CHECK_STR_EQ(p.text, "");
    }
    fault_plan p;
    fault_draw(&p, NULL, 3, 1);
    CHECK_INT_EQ(p.kinds, 0);
}

TEST(draw_conflicts)
{
    fault_plan p;
    fault_list l = parse_ok("trickle,status=503@4,status=500,stall=10@1");
    fault_draw(&p, &l, 0, 1);
    CHECK_INT_EQ(p.status, 503);
    CHECK_INT_EQ(p.retry_after_s, 4);
    CHECK_INT_EQ(p.trickle, 0);
    CHECK_INT_EQ(p.kinds, 1u << FAULT_STATUS);
    CHECK_STR_EQ(p.text, "status=503@4");

    l = parse_ok("error-event@9,disconnect-after=4,stall=100@2,stall=50@3,no-usage,malformed@2");
    fault_draw(&p, &l, 0, 1);
    CHECK_INT_EQ(p.end, FAULT_END_DISCONNECT);
    CHECK_INT_EQ(p.end_after_tokens, 4);
    CHECK_STR_EQ(p.text, "disconnect-after=4,stall=100@2,stall=50@3,no-usage,malformed@2");
    CHECK_INT_EQ(p.kinds, (1u << FAULT_DISCONNECT) | (1u << FAULT_STALL) |
                              (1u << FAULT_NO_USAGE) | (1u << FAULT_MALFORMED));
    CHECK_INT_EQ(fault_stall_shift_ns(&p, 0), 0);
    CHECK_INT_EQ(fault_stall_shift_ns(&p, 1), 0);
    CHECK_INT_EQ(fault_stall_shift_ns(&p, 2), 100000000);
    CHECK_INT_EQ(fault_stall_shift_ns(&p, 3), 150000000);
    CHECK_INT_EQ(fault_stall_shift_ns(&p, 99), 150000000);
    CHECK_INT_EQ(fault_end_due(&p, 3), FAULT_END_NONE);
    CHECK_INT_EQ(fault_end_due(&p, 4), FAULT_END_DISCONNECT);
    CHECK_INT_EQ(fault_end_due(&p, 6), FAULT_END_DISCONNECT);
    /* Token 2 rides in the event carrying tokens 2..3 (an MTP step). */
    CHECK_INT_EQ(fault_event_malformed(&p, 0, 1, 0), 0);
    CHECK_INT_EQ(fault_event_malformed(&p, 1, 2, 0), 1);
    CHECK_INT_EQ(fault_event_malformed(&p, 2, 1, 0), 0);
    /* Beyond the end of a short stream: the last token event takes it. */
    CHECK_INT_EQ(fault_event_malformed(&p, 0, 1, 1), 1);
    CHECK_INT_EQ(fault_event_malformed(&p, 2, 1, 1), 0);

    l = parse_ok("error-event@0,disconnect-after=3");
    fault_draw(&p, &l, 0, 1);
    CHECK_INT_EQ(p.end, FAULT_END_ERROR);
    CHECK_INT_EQ(fault_end_due(&p, 0), FAULT_END_ERROR);

    l = parse_ok("slow-headers=20,slow-headers=30");
    fault_draw(&p, &l, 0, 1);
    CHECK_INT_EQ(p.slow_headers_ns, 50000000);
}

TEST(malformed_copy_never_parses)
{
    static const char ev[] = "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"h\xc3\xa9\xc3\xa9\xc3\xa9\"}}]}\n\n";
    buf out;
    buf_init(&out, 0);
    CHECK_INT_EQ(fault_malformed_copy(&out, ev, sizeof ev - 1), 0);
    CHECK(out.len < sizeof ev - 1);
    CHECK(strncmp(out.data, "data: {", 7) == 0);
    CHECK(out.len >= 2 && strcmp(out.data + out.len - 2, "\n\n") == 0);
    CHECK(strchr(out.data, '}') == NULL || out.data[out.len - 3] != '}');
    /* Cut points never split a UTF-8 character. */
    for (size_t len = 10; len < sizeof ev; len++) {
        buf_reset(&out);
        fault_malformed_copy(&out, ev, len);
        size_t body = out.len;
        while (body && out.data[body - 1] == '\n')
            body--;
        if (body && ((unsigned char)out.data[body - 1] & 0xC0) == 0xC0)
            TEST_FAIL_AT_("cut of %zu bytes ends in a lead byte", len);
    }
    /* A body without trailing newlines (non-streaming JSON) gets cut too. */
    buf_reset(&out);
    fault_malformed_copy(&out, "{\"a\":1,\"b\":2}", 13);
    CHECK_STR_EQ(out.data, "{\"a\":1\n\n");
    buf_free(&out);
}

TEST(error_event_shape)
{
    buf out;
    buf_init(&out, 0);
    fault_error_event(&out, 3);
    CHECK(strncmp(out.data, "data: {\"error\":{\"code\":500,", 27) == 0);
    CHECK(strstr(out.data, "\"type\":\"server_error\"}}\n\n") != NULL);
    CHECK(strstr(out.data, "after 3 tokens") != NULL);
    buf_free(&out);
}

TEST(kind_names)
{
    CHECK_STR_EQ(fault_kind_name(FAULT_DISCONNECT), "disconnect-after");
    CHECK_STR_EQ(fault_kind_name(FAULT_TRICKLE), "trickle");
    CHECK_STR_EQ(fault_kind_name((enum fault_kind)99), "?");
}

int main(void)
{
    RUN(parse_spec_example);
    RUN(parse_every_kind_and_canonical_text);
    RUN(parse_empty_is_no_fault);
    RUN(parse_refusals_name_the_entry);
    RUN(draw_is_reproducible_and_near_the_probability);
    RUN(draw_probability_edges);
    RUN(draw_conflicts);
    RUN(malformed_copy_never_parses);
    RUN(error_event_shape);
    RUN(kind_names);
    return test_summary();
}
