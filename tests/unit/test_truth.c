/* The truth ring: records in, JSON out, lookups by id, the oldest dropped. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "mockserver/truth.h"
#include "tests/test.h"

static void add(truth_log *t, uint64_t seq, int64_t arrival_ns)
{
    truth_record r;
    char id[32];
    snprintf(id, sizeof id, "chatcmpl-tokmock-%llu", (unsigned long long)seq);
    truth_record_init(&r, seq, id, arrival_ns);
    r.admit_ns = arrival_ns + 1000;
    r.prefill_end_ns = arrival_ns + 2000000;
    truth_record_add_event(&r, arrival_ns + 2100000, arrival_ns + 2000000, 1, 100);
    truth_record_add_event(&r, arrival_ns + 2200000, -1, 0, 14);
    r.finish_ns = arrival_ns + 2300000;
    r.prompt_tokens = 2000;
    r.completion_tokens = 1;
    r.status = 200;
    r.finish_reason = "length";
    truth_commit(t, &r);
    CHECK(r.events == NULL);
}

TEST(record_json_fields_in_microseconds)
{
    truth_log *t = truth_new(4, 1000000000);
    add(t, 1, 1005000000);
    buf b;
    buf_init(&b, 0);
    CHECK_INT_EQ(truth_write_one(t, "chatcmpl-tokmock-1", &b), 0);
    cJSON *j = cJSON_Parse(b.data);
    CHECK(j != NULL);
    CHECK_INT_EQ(cJSON_GetObjectItem(j, "arrival_us")->valuedouble, 5000);
    CHECK_INT_EQ(cJSON_GetObjectItem(j, "admit_us")->valuedouble, 5001);
    CHECK_INT_EQ(cJSON_GetObjectItem(j, "prefill_end_us")->valuedouble, 7000);
    CHECK_INT_EQ(cJSON_GetObjectItem(j, "finish_us")->valuedouble, 7300);
    const cJSON *ev = cJSON_GetObjectItem(j, "events");
    CHECK_INT_EQ(cJSON_GetArraySize(ev), 2);
    CHECK_INT_EQ(cJSON_GetArrayItem(cJSON_GetArrayItem(ev, 0), 0)->valuedouble, 7100);
    CHECK_INT_EQ(cJSON_GetArrayItem(cJSON_GetArrayItem(ev, 0), 2)->valuedouble, 100);
    const cJSON *sched = cJSON_GetObjectItem(j, "scheduled_us");
    CHECK_INT_EQ(cJSON_GetArrayItem(sched, 0)->valuedouble, 7000);
    CHECK(cJSON_IsNull(cJSON_GetArrayItem(sched, 1)));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "disconnected")));
    CHECK_STR_EQ(cJSON_GetObjectItem(j, "finish_reason")->valuestring, "length");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "fault")));
    cJSON_Delete(j);
    buf_free(&b);
    truth_free(t);
}

TEST(fault_text_in_record_and_freed)
{
    truth_log *t = truth_new(2, 0);
    for (uint64_t seq = 1; seq <= 5; seq++) { /* ring of 2: older texts are freed */
        truth_record r;
        char id[32];
        snprintf(id, sizeof id, "chatcmpl-tokmock-%llu", (unsigned long long)seq);
        truth_record_init(&r, seq, id, 10);
        truth_record_set_fault(&r, "stall=5@1");
        truth_record_set_fault(&r, seq % 2 ? "error-event@3,\"x\"" : NULL);
        r.status = 200;
        truth_commit(t, &r);
        CHECK(r.fault == NULL);
    }
    buf b;
    buf_init(&b, 0);
    CHECK_INT_EQ(truth_write_one(t, "chatcmpl-tokmock-5", &b), 0);
    cJSON *j = cJSON_Parse(b.data);
    CHECK(j != NULL);
    CHECK_STR_EQ(cJSON_GetObjectItem(j, "fault")->valuestring, "error-event@3,\"x\"");
    cJSON_Delete(j);
    buf_reset(&b);
    CHECK_INT_EQ(truth_write_one(t, "chatcmpl-tokmock-4", &b), 0);
    j = cJSON_Parse(b.data);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "fault")));
    cJSON_Delete(j);
    /* A record that is dropped, not committed, frees its text too. */
    truth_record r;
    truth_record_init(&r, 9, "x-9", 0);
    truth_record_set_fault(&r, "trickle");
    truth_record_clear(&r);
    CHECK(r.fault == NULL);
    buf_free(&b);
    truth_free(t);
}

TEST(ring_keeps_the_newest)
{
    truth_log *t = truth_new(3, 0);
    for (uint64_t s = 1; s <= 5; s++)
        add(t, s, (int64_t)s * 1000000);
    buf b;
    buf_init(&b, 0);
    CHECK_INT_EQ(truth_write_one(t, "chatcmpl-tokmock-2", &b), -1);
    CHECK_INT_EQ(truth_write_one(t, "chatcmpl-tokmock-3", &b), 0);
    CHECK_INT_EQ(truth_write_one(t, "nonsense", &b), -1);
    CHECK_INT_EQ(truth_write_one(t, "cmpl-tokmock-4", &b), -1); /* wrong prefix */
    buf_reset(&b);
    truth_write_all(t, &b);
    cJSON *j = cJSON_Parse(b.data);
    const cJSON *reqs = cJSON_GetObjectItem(j, "requests");
    CHECK_INT_EQ(cJSON_GetArraySize(reqs), 3);
    CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "id")->valuestring,
                 "chatcmpl-tokmock-3");
    CHECK_INT_EQ(cJSON_GetObjectItem(j, "origin_monotonic_ns")->valuedouble, 0);
    cJSON_Delete(j);
    /* A late commit of an older record never replaces a newer one. */
    add(t, 2, 1);
    CHECK_INT_EQ(truth_write_one(t, "chatcmpl-tokmock-2", &b), -1);
    CHECK_INT_EQ(truth_write_one(t, "chatcmpl-tokmock-5", &b), 0);
    buf_free(&b);
    truth_free(t);
}

TEST(empty_log)
{
    truth_log *t = truth_new(10, 42);
    buf b;
    buf_init(&b, 0);
    truth_write_all(t, &b);
    CHECK_STR_EQ(b.data, "{\"origin_monotonic_ns\":42,\"requests\":[]}");
    buf_free(&b);
    truth_free(t);
}

int main(void)
{
    RUN(record_json_fields_in_microseconds);
    RUN(ring_keeps_the_newest);
    RUN(fault_text_in_record_and_freed);
    RUN(empty_log);
    return test_summary();
}
