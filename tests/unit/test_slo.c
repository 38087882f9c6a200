/* SLO parsing and evaluation, capacity answers, /proc parsers. */
#include <math.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "client/capacity.h"
#include "client/monitor.h"
#include "client/slo.h"
#include "tests/test.h"

TEST(slo_parse_names_and_ops)
{
    slo_set s;
    char err[256];
    CHECK(slo_parse("ttft_p95_ms<=500, tg_req_p50>=40,error_rate<0.01,e2el_max_ms>1", &s, err,
                    sizeof err) == 0);
    CHECK_INT_EQ((int)s.n, 4);
    CHECK(strcmp(s.items[0].metric, "ttft") == 0 && strcmp(s.items[0].stat, "p95") == 0);
    CHECK_DBL_NEAR(s.items[0].pct, 95, 0);
    CHECK(s.items[0].op == SLO_LE && s.items[0].per_request);
    CHECK(strcmp(s.items[1].metric, "tg_req_throughput") == 0 && s.items[1].op == SLO_GE);
    CHECK(strcmp(s.items[2].metric, "error_rate") == 0 && s.items[2].stat[0] == 0);
    CHECK(s.items[2].op == SLO_LT && !s.items[2].per_request);
    CHECK(s.items[3].op == SLO_GT && strcmp(s.items[3].stat, "max") == 0);
    slo_set_free(&s);
}

TEST(slo_parse_errors)
{
    slo_set s;
    char err[256];
    const char *bad[] = {"", "ttft_p95_ms", "ttft_p95_ms<=abc", "ttft_p101_ms<=1",
                         "ttft_foo_ms<=1", "<=3", "nounderscore<=1", "ttft_p95_ms<=1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK(slo_parse(bad[i], &s, err, sizeof err) == -1);
        CHECK(err[0] != 0);
        CHECK(s.items == NULL);
    }
}

TEST(slo_values_and_goodput)
{
    results_run run;
    memset(&run, 0, sizeof run);
    double v[] = {100, 200, 300, 400, 500};
    run.ttft.present = true;
    run.ttft.values = v;
    run.ttft.n = 5;
    run.extra = cJSON_CreateObject();
    cJSON_AddItemToObject(run.extra, "error_rate", cJSON_CreateRaw("0.25"));
    slo_set s;
    char err[256];
    CHECK(slo_parse("ttft_p95_ms<=500,ttft_p50_ms<300,error_rate<=0.01,goodput>=0.5", &s, err,
                    sizeof err) == 0);
    double x;
    CHECK(slo_value(&s.items[0], &run, &x));
    CHECK_DBL_NEAR(x, 480, 1e-9); /* 100 + 0.95*4*100 */
    CHECK(slo_holds(&s.items[0], x));
    CHECK(slo_value(&s.items[1], &run, &x));
    CHECK_DBL_NEAR(x, 300, 1e-9);
    CHECK(!slo_holds(&s.items[1], x)); /* strict < */
    CHECK(slo_value(&s.items[2], &run, &x));
    CHECK_DBL_NEAR(x, 0.25, 1e-12);
    CHECK(!slo_holds(&s.items[2], x));
    CHECK(!slo_value(&s.items[3], &run, &x)); /* not measured */
    CHECK(!slo_holds(&s.items[0], NAN));
    slo_request_values ok = {300, 260, 240, 230, 900, 50, 1000};
    CHECK(slo_request_ok(&s, &ok) == false); /* 300 is not < 300 */
    ok.ttft_ms = 200;
    CHECK(slo_request_ok(&s, &ok));
    ok.ttft_ms = NAN;
    CHECK(!slo_request_ok(&s, &ok));
    slo_set_free(&s);
    cJSON_Delete(run.extra);
}

TEST(capacity_recommend_and_cliff)
{
    capacity_point p[] = {{0, 50, NAN, NAN, false},
                          {1024, 48, NAN, NAN, false},
                          {4096, 43, NAN, NAN, false},
                          {8192, 20, NAN, NAN, false},
                          {16384, 45, NAN, NAN, true}};
    bool cliff[4];
    CHECK_INT_EQ(capacity_recommend(p, 5, 0.15, 0.30, cliff), 2); /* 43 >= 42.5; 16384 failed */
    CHECK(!cliff[0] && !cliff[1] && cliff[2] && !cliff[3]);
    CHECK_INT_EQ(capacity_recommend(p, 5, 0.10, 0.30, NULL), 1);
    p[0].tg = NAN;
    CHECK_INT_EQ(capacity_recommend(p, 5, 0.15, 0.30, NULL), -1);
}

TEST(capacity_knee)
{
    const char *why = NULL;
    capacity_point p[] = {{1, 50, 100, 110, false},
                          {2, 98, 100, 120, false},
                          {4, 180, 110, 150, false},
                          {8, 185, 120, 200, false}};
    CHECK_INT_EQ(capacity_knee(p, 4, 2.0, 0.05, &why), 3);
    CHECK(why && strcmp(why, "throughput") == 0);
    p[2].p95 = 300; /* > 2 x 110 */
    CHECK_INT_EQ(capacity_knee(p, 4, 2.0, 0.05, &why), 2);
    CHECK(strcmp(why, "latency") == 0);
    p[2].p95 = 150;
    p[3].tg = 400;
    CHECK_INT_EQ(capacity_knee(p, 4, 2.0, 0.05, &why), -1);
}

TEST(monitor_parsers)
{
    const char *status = "Name:\ttokmock\nVmPeak:\t  20000 kB\nVmHWM:\t    9000 kB\n"
                         "VmRSS:\t    8123 kB\n";
    CHECK(monitor_parse_status_kb(status, "VmRSS") == 8123);
    CHECK(monitor_parse_status_kb(status, "VmHWM") == 9000);
    CHECK(monitor_parse_status_kb(status, "VmSwap") == -1);
    const char *vm = "pswpin 12\npswpout 345\npswpoutx 1\n";
    CHECK(monitor_parse_vmstat(vm, "pswpout") == 345);
    CHECK(monitor_parse_vmstat(vm, "nope") == -1);
    monitor_sample_t m;
    monitor_sample(-1, &m);
    CHECK(m.rss_kb == -1);
}

int main(void)
{
    RUN(slo_parse_names_and_ops);
    RUN(slo_parse_errors);
    RUN(slo_values_and_goodput);
    RUN(capacity_recommend_and_cliff);
    RUN(capacity_knee);
    RUN(monitor_parsers);
    return test_summary();
}
