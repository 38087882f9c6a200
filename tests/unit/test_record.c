/* The --record writer: what it writes reads back through tokmock's replay
 * loader (mockserver/replay.h) with the same bytes, reads and times;
 * secrets are masked; sizes are bounded; bad directories are refused with
 * a reason; a NULL recorder is a no-op. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client/record.h"
#include "common/buf.h"
#include "mockserver/replay.h"
#include "tests/fixture.h"
#include "tests/test.h"

#define MS 1000000LL /* ns per ms */

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char tmpdir[256];

static void make_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_record.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static char *entry_file(const char *dir, int index, const char *name, size_t *len)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%06d/%s", dir, index, name);
    return test_read_file(p, len);
}

static cJSON *entry_meta(const char *dir, int index)
{
    char *t = entry_file(dir, index, "meta.json", NULL);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

static bool exists(const char *dir, const char *name)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static const char KEY[] = "sk-test-0123456789abcdef";

TEST(roundtrip_through_replay)
{
    make_tmp();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/nested/rec", tmpdir); /* parents are created */
    char err[512] = "";
    record_config cfg = {.api_key = KEY, .mono0_ns = 1000 * MS, .wall0_ns = 1795423586000 * MS};
    record *rec = record_open(dir, &cfg, err, sizeof err);
    CHECK(rec != NULL);
    if (!rec) {
        printf("  %s\n", err);
        return;
    }
    const char *body = "{\"model\":\"m\",\"stream\":true,\"note\":\"sk-test-0123456789abcdef\"}";
    int64_t t0 = 5000 * MS;
    record_req *h = record_begin(rec, "pp8 tg4 run 1",
                                 "http://user:pw@127.0.0.1:9/v1/chat/"
                                 "completions?api_key=abc&x=1",
                                 body, t0);
    CHECK(h != NULL);
    const char *hdr[] = {"HTTP/1.1 200 OK\r\n", "Content-Type: text/event-stream\r\n",
                         "Set-Cookie: session=abcdef\r\n", "X-Echo: sk-test-0123456789abcdef\r\n",
                         "\r\n"};
    for (size_t i = 0; i < 5; i++)
        record_headers(h, hdr[i], strlen(hdr[i]));
    const char *reads[] = {"data: {\"a\":1}\n\n", "data: {\"b\":2}\n\n", "data: [DO", "NE]\n\n"};
    const int64_t at_ms[] = {12, 30, 30, 29}; /* the last one goes backwards: clamped */
    for (size_t i = 0; i < 4; i++)
        record_data(h, t0 + at_ms[i] * MS + 400, reads[i], strlen(reads[i]));
    record_data(h, t0 + 40 * MS, "", 0); /* ignored */
    CHECK(!exists(dir, "000000"));       /* nothing on disk before the flush */
    CHECK_INT_EQ(record_end(h, t0 + 41 * MS, t0 + 10 * MS, NULL), 0);
    CHECK(!exists(dir, "000000"));
    CHECK_INT_EQ(record_flush(rec, err, sizeof err), 0);
    CHECK(exists(dir, "000000"));
    CHECK(!exists(dir, "000000.part"));
    CHECK_INT_EQ(record_count(rec), 1);
    CHECK_INT_EQ(record_close(rec, err, sizeof err), 0);

    /* tokmock reads it back. */
    char entry[600];
    snprintf(entry, sizeof entry, "%s/000000", dir);
    replay *r = NULL;
    CHECK_INT_EQ(replay_load(&r, entry, 0, err, sizeof err), REPLAY_OK);
    if (!r) {
        printf("  %s\n", err);
        return;
    }
    CHECK_INT_EQ(replay_format_of(r), REPLAY_RECORD_DIR);
    CHECK_INT_EQ(replay_status(r), 200);
    CHECK_STR_EQ(replay_header_get(r, "Content-Type"), "text/event-stream");
    CHECK_STR_EQ(replay_header_get(r, "Set-Cookie"), "[redacted]");
    CHECK_STR_EQ(replay_header_get(r, "X-Echo"), "************************");
    size_t blen = 0;
    const char *b = replay_body(r, &blen);
    CHECK_STR_EQ(b, "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n");
    CHECK_INT_EQ(replay_n_events(r), 4); /* equal times stay separate reads */
    const int64_t want_us[] = {12000, 30000, 30000, 30000};
    for (size_t i = 0; i < 4 && i < replay_n_events(r); i++) {
        CHECK_INT_EQ(replay_event_at(r, i)->t_us, want_us[i]);
        CHECK_INT_EQ(replay_event_at(r, i)->len, strlen(reads[i]));
    }
    size_t qlen = 0;
    const char *q = replay_request(r, &qlen);
    CHECK(q != NULL && strstr(q, "\"note\":\"************************\"") != NULL);
    CHECK(q != NULL && strstr(q, KEY) == NULL);
    CHECK_INT_EQ(qlen, strlen(body));
    replay_free(r);

    char *tsv = entry_file(dir, 0, "reads.tsv", NULL);
    CHECK_STR_EQ(tsv, "t_us\tnbytes\n12000\t15\n30000\t15\n30000\t9\n30000\t5\n");
    free(tsv);
    cJSON *m = entry_meta(dir, 0);
    CHECK(m != NULL);
    CHECK_STR_EQ(cJSON_GetObjectItem(m, "url")->valuestring,
                 "http://[redacted]@127.0.0.1:9/v1/chat/completions?api_key=[redacted]&x=1");
    CHECK_STR_EQ(cJSON_GetObjectItem(m, "method")->valuestring, "POST");
    CHECK_DBL_NEAR(cJSON_GetObjectItem(m, "start_unix_ms")->valuedouble, 1795423590000.0, 0);
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "headers_us")->valuedouble, 10000);
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "status")->valueint, 200);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(m, "error")));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(m, "tokbench_version")));
    CHECK_STR_EQ(cJSON_GetObjectItem(m, "label")->valuestring, "pp8 tg4 run 1");
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "end_us")->valueint, 41000);
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "bytes")->valueint, 44);
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "reads")->valueint, 4);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(m, "truncated")));
    cJSON_Delete(m);
    /* The key appears in no file at all. */
    const char *files[] = {"request.json", "response.headers", "response.body", "reads.tsv",
                           "meta.json"};
    for (size_t i = 0; i < 5; i++) {
        char *t = entry_file(dir, 0, files[i], NULL);
        CHECK(t != NULL);
        CHECK(t && strstr(t, KEY) == NULL && strstr(t, "pw@") == NULL);
        free(t);
    }
    remove_tree(tmpdir);
}

TEST(error_get_retry_and_close)
{
    make_tmp();
    char err[512] = "";
    record *rec = record_open(tmpdir, NULL, err, sizeof err); /* an existing empty directory */
    CHECK(rec != NULL);
    if (!rec)
        return;
    /* A 400 that makes the driver retry: two entries, in order. */
    record_req *a = record_begin(rec, NULL, "http://h/v1/chat/completions", "{\"x\":1}", 0);
    const char *s400 = "HTTP/1.1 400 Bad Request\n";
    record_headers(a, s400, strlen(s400));
    record_headers(a, "\n", 1);
    record_data(a, 2 * MS, "{\"error\":\"return_token_ids\"}", 28);
    record_end(a, 3 * MS, 1 * MS, "retried without return_token_ids");
    record_req *b = record_begin(rec, NULL, "http://h/v1/chat/completions", "{}", 4 * MS);
    /* A GET with no body at all, finished. */
    record_req *g = record_begin(rec, NULL, "http://h/v1/models", NULL, 5 * MS);
    record_end(g, 6 * MS, 0, "connection refused");
    /* b is never finished: close writes it anyway. */
    record_data(b, 9 * MS, "data: x\n\n", 9);
    CHECK_INT_EQ(record_count(rec), 3);
    CHECK_INT_EQ(record_close(rec, err, sizeof err), 0);

    cJSON *m = entry_meta(tmpdir, 0);
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "status")->valueint, 400);
    CHECK_STR_EQ(cJSON_GetObjectItem(m, "error")->valuestring, "retried without return_token_ids");
    cJSON_Delete(m);
    replay *r = NULL;
    char entry[600];
    snprintf(entry, sizeof entry, "%s/000000", tmpdir);
    CHECK_INT_EQ(replay_load(&r, entry, 0, err, sizeof err), REPLAY_OK);
    CHECK_INT_EQ(replay_status(r), 400);
    replay_free(r);

    m = entry_meta(tmpdir, 1);
    CHECK_STR_EQ(cJSON_GetObjectItem(m, "error")->valuestring,
                 "not finished when the recording ended");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(m, "status")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(m, "headers_us")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(m, "start_unix_ms")));
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "end_us")->valueint, 5000);
    cJSON_Delete(m);
    /* Without response.headers, replay assumes 200. */
    snprintf(entry, sizeof entry, "%s/000001", tmpdir);
    CHECK_INT_EQ(replay_load(&r, entry, 0, err, sizeof err), REPLAY_OK);
    CHECK_INT_EQ(replay_status(r), 200);
    replay_free(r);

    m = entry_meta(tmpdir, 2);
    CHECK_STR_EQ(cJSON_GetObjectItem(m, "method")->valuestring, "GET");
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "bytes")->valueint, 0);
    cJSON_Delete(m);
    CHECK(!exists(tmpdir, "000002/request.json"));
    size_t n = 99;
    char *body = entry_file(tmpdir, 2, "response.body", &n);
    CHECK(body != NULL);
    CHECK_INT_EQ(n, 0);
    free(body);
    snprintf(entry, sizeof entry, "%s/000002", tmpdir);
    CHECK_INT_EQ(replay_load(&r, entry, 0, err, sizeof err), REPLAY_OK);
    CHECK_INT_EQ(replay_n_events(r), 0);
    replay_free(r);

    /* The directory now holds a recording: a second one is refused. */
    rec = record_open(tmpdir, NULL, err, sizeof err);
    CHECK(rec == NULL);
    CHECK(strstr(err, "already holds a recording") != NULL);
    remove_tree(tmpdir);
}

TEST(sizes_bounded)
{
    make_tmp();
    char err[512] = "";
    record_config cfg = {.max_body_bytes = 10};
    record *rec = record_open(tmpdir, &cfg, err, sizeof err);
    CHECK(rec != NULL);
    if (!rec)
        return;
    record_req *h = record_begin(rec, NULL, "http://h/", "{}", 0);
    record_data(h, 1 * MS, "abcdef", 6);
    record_data(h, 2 * MS, "ghijkl", 6); /* would pass the cap: dropped whole */
    record_data(h, 3 * MS, "mn", 2);     /* nothing after a cut either */
    char big[RECORD_MAX_HEADER_BYTES + 10];
    memset(big, 'h', sizeof big);
    record_headers(h, "HTTP/1.1 200 OK\r\n", 17);
    record_headers(h, big, sizeof big); /* over the header cap: dropped */
    record_end(h, 4 * MS, 1 * MS, NULL);
    CHECK_INT_EQ(record_close(rec, err, sizeof err), 0);
    size_t n = 0;
    char *b = entry_file(tmpdir, 0, "response.body", &n);
    CHECK_INT_EQ(n, 6);
    free(b);
    char *hd = entry_file(tmpdir, 0, "response.headers", &n);
    CHECK_INT_EQ(n, 17);
    free(hd);
    cJSON *m = entry_meta(tmpdir, 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(m, "truncated")));
    CHECK_INT_EQ(cJSON_GetObjectItem(m, "reads")->valueint, 1);
    cJSON_Delete(m);
    replay *r = NULL;
    char entry[600];
    snprintf(entry, sizeof entry, "%s/000000", tmpdir);
    CHECK_INT_EQ(replay_load(&r, entry, 0, err, sizeof err), REPLAY_OK);
    replay_free(r);
    remove_tree(tmpdir);
}

TEST(pending_cap_writes_at_end)
{
    make_tmp();
    char err[512] = "";
    record_config cfg = {.max_pending_bytes = 100};
    record *rec = record_open(tmpdir, &cfg, err, sizeof err);
    CHECK(rec != NULL);
    if (!rec)
        return;
    char chunk[64];
    memset(chunk, 'z', sizeof chunk);
    record_req *a = record_begin(rec, NULL, "http://h/", "{}", 0);
    record_data(a, 1 * MS, chunk, sizeof chunk);
    CHECK_INT_EQ(record_end(a, 2 * MS, 1 * MS, NULL), 0);
    CHECK(!exists(tmpdir, "000000")); /* under the cap: waits for the flush */
    record_req *b = record_begin(rec, NULL, "http://h/", "{}", 0);
    record_data(b, 1 * MS, chunk, sizeof chunk);
    CHECK_INT_EQ(record_end(b, 2 * MS, 1 * MS, NULL), 0);
    CHECK(exists(tmpdir, "000001")); /* over it: written at once */
    CHECK(!exists(tmpdir, "000000"));
    CHECK_INT_EQ(record_flush(rec, err, sizeof err), 0);
    CHECK(exists(tmpdir, "000000"));
    CHECK_INT_EQ(record_close(rec, err, sizeof err), 0);
    remove_tree(tmpdir);
}

TEST(open_errors)
{
    make_tmp();
    char err[512] = "";
    char path[600];
    snprintf(path, sizeof path, "%s/file", tmpdir);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    CHECK(record_open(path, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "is not a directory") != NULL);
    snprintf(path, sizeof path, "%s/file/sub", tmpdir);
    err[0] = '\0';
    CHECK(record_open(path, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "--record") != NULL);
    err[0] = '\0';
    CHECK(record_open("", NULL, err, sizeof err) == NULL);
    CHECK(err[0] != '\0');
    if (geteuid() != 0) { /* root writes anywhere */
        snprintf(path, sizeof path, "%s/ro", tmpdir);
        mkdir(path, 0555);
        err[0] = '\0';
        CHECK(record_open(path, NULL, err, sizeof err) == NULL);
        CHECK(strstr(err, "not writable") != NULL);
    }
    remove_tree(tmpdir);
}

TEST(null_is_noop)
{
    record_req *h = record_begin(NULL, "x", "http://h/", "{}", 0);
    CHECK(h == NULL);
    record_headers(NULL, "a", 1);
    record_data(NULL, 1, "a", 1);
    CHECK_INT_EQ(record_end(NULL, 1, 1, NULL), 0);
    CHECK_INT_EQ(record_flush(NULL, NULL, 0), 0);
    CHECK_INT_EQ(record_close(NULL, NULL, 0), 0);
    CHECK_INT_EQ(record_count(NULL), 0);
}

int main(void)
{
    RUN(roundtrip_through_replay);
    RUN(error_get_retry_and_close);
    RUN(sizes_bounded);
    RUN(pending_cap_writes_at_end);
    RUN(open_errors);
    RUN(null_is_noop);
    return test_summary();
}
