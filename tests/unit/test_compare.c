/* Unit tests for `tokbench compare`: the significance notes, cell matching
 * and the table on tokbench- and llama-benchy-shaped documents, and the
 * command's errors (missing file, not JSON, not a result, usage). */
#define _GNU_SOURCE /* open_memstream, mkstemp (POSIX 2008 too) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../client/commands.h"
#include "../../client/compare.h"
#include "../test.h"

TEST(notes)
{
    static const struct {
        double a[8];
        size_t na;
        double b[8];
        size_t nb;
        const char *note;
    } cases[] = {
        {{1, 2, 3}, 3, {4, 5, 6}, 3, "not significant (n=3 vs 3: too few runs to tell)"},
        {{1, 2, 3, 4, 5}, 5, {6, 7, 8, 9, 10}, 5, "p=0.0079 (significant at 5%)"},
        {{1.5, 3.1, 4.2, 8.0}, 4, {2.0, 5.5, 6.1, 7.3, 9.9}, 5, "p=0.41 (not significant)"},
        {{1}, 1, {2}, 0, "no per-run values"},
        {{0}, 0, {2}, 1, "no per-run values"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char note[128];
        compare_note(cases[i].a, cases[i].na, cases[i].b, cases[i].nb, note, sizeof note);
        CHECK_STR_EQ(note, cases[i].note);
    }
}

/* A tokbench-shaped result (extras: ttft, itl, tokbench_version). */
static const char doc_a[] =
    "{\"version\":\"0.4.0\",\"timestamp\":\"2026-11-23 12:00:00\",\"model\":\"m\","
    "\"tokbench_version\":\"0.1.0\",\"benchmarks\":["
    "{\"concurrency\":1,\"context_size\":0,\"prompt_size\":512,\"response_size\":32,"
    "\"is_context_prefill_phase\":false,"
    "\"pp_throughput\":{\"mean\":1000,\"std\":1,\"values\":[999,1000,1001,1000,1000]},"
    "\"tg_throughput\":{\"mean\":50,\"std\":1,\"values\":[49,50,51,50.5,49.5]},"
    "\"ttfr\":null,\"ttft\":{\"mean\":100,\"values\":[100]},"
    "\"itl\":{\"mean\":20,\"values\":[20,20,20]}},"
    "{\"concurrency\":2,\"context_size\":0,\"prompt_size\":512,\"response_size\":32,"
    "\"is_context_prefill_phase\":false,"
    "\"tg_throughput\":{\"mean\":90,\"values\":[90]}}]}";

/* llama-benchy-shaped (no extras); the c1 cell is slower in tg. */
static const char doc_b[] =
    "{\"version\":\"0.4.0\",\"timestamp\":\"2026-11-24 08:00:00\",\"model\":\"m\","
    "\"benchmarks\":["
    "{\"concurrency\":1,\"context_size\":0,\"prompt_size\":512,\"response_size\":32,"
    "\"is_context_prefill_phase\":false,"
    "\"pp_throughput\":{\"mean\":1000,\"std\":1,\"values\":[998,1000,1002,1001,999]},"
    "\"tg_throughput\":{\"mean\":25,\"std\":1,\"values\":[24,25,26,25.5,24.5]},"
    "\"ttfr\":{\"mean\":10,\"std\":0,\"values\":[10]}},"
    "{\"concurrency\":1,\"context_size\":4096,\"prompt_size\":512,\"response_size\":32,"
    "\"is_context_prefill_phase\":false,\"tg_throughput\":null}]}";

TEST(table_on_both_shapes)
{
    cJSON *a = cJSON_Parse(doc_a), *b = cJSON_Parse(doc_b);
    char *text = NULL, *etext = NULL;
    size_t len, elen;
    FILE *f = open_memstream(&text, &len), *e = open_memstream(&etext, &elen);
    int common = compare_docs(a, b, "a.json", "b.json", f, e);
    fclose(f);
    fclose(e);
    CHECK_INT_EQ(common, 1);
    CHECK(strstr(text, "A: a.json (model m, 2026-11-23 12:00:00, tokbench 0.1.0)") != NULL);
    CHECK(strstr(text, "B: b.json (model m, 2026-11-24 08:00:00, llama-benchy 0.4.0)") != NULL);
    CHECK(strstr(text, "pp512 tg32 @ d0 c1           pp t/s              1000.00      1000.00"
                       "     +0.0%  p=1 (not significant)") != NULL);
    CHECK(strstr(text, "pp512 tg32 @ d0 c1           tg t/s                50.00        25.00"
                       "    -50.0%  p=0.0079 (significant at 5%)") != NULL);
    CHECK(strstr(text, "ttfr ms                   -        10.00       n/a  measured in B only") !=
          NULL);
    CHECK(strstr(text, "ttft ms              100.00            -       n/a  measured in A only") !=
          NULL);
    CHECK(strstr(text, "pp512 tg32 @ d0 c2           only in A") != NULL);
    CHECK(strstr(text, "pp512 tg32 @ d4096 c1        only in B") != NULL);
    CHECK_STR_EQ(etext, "");
    free(text);
    free(etext);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

TEST(not_a_result)
{
    cJSON *a = cJSON_Parse("{\"benchmarks\":[]}"), *b = cJSON_Parse("{\"x\":1}");
    char *text = NULL, *etext = NULL;
    size_t len, elen;
    FILE *f = open_memstream(&text, &len), *e = open_memstream(&etext, &elen);
    CHECK_INT_EQ(compare_docs(a, b, "a.json", "b.json", f, e), -1);
    fclose(f);
    fclose(e);
    CHECK(strstr(etext, "b.json has no \"benchmarks\" list") != NULL);
    free(text);
    free(etext);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static char *temp_file(const char *content)
{
    char tmpl[] = "/tmp/test_compare.XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return NULL;
    ssize_t w = write(fd, content, strlen(content));
    close(fd);
    return w == (ssize_t)strlen(content) ? strdup(tmpl) : NULL;
}

static int run(const char *a1, const char *a2, const char *a3, char **out, char **err)
{
    char *argv[4] = {(char *)"compare", (char *)a1, (char *)a2, (char *)a3};
    int argc = a3 ? 4 : a2 ? 3 : a1 ? 2 : 1;
    size_t lo, le;
    FILE *fo = open_memstream(out, &lo), *fe = open_memstream(err, &le);
    int rc = compare_cmd_main(argc, argv, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

TEST(command_errors_and_success)
{
    char *fa = temp_file(doc_a), *fb = temp_file(doc_b), *bad = temp_file("{\"benchmarks\": [");
    char *other = temp_file("{\"benchmarks\":[{\"concurrency\":8}]}");
    CHECK(fa && fb && bad && other);
    char *out, *err;
    CHECK_INT_EQ(run(fa, fb, NULL, &out, &err), 0);
    CHECK(strstr(out, "significant at 5%") != NULL);
    free(out);
    free(err);
    CHECK_INT_EQ(run(fa, "/nonexistent.json", NULL, &out, &err), 1);
    CHECK(strstr(err, "cannot open /nonexistent.json") != NULL);
    free(out);
    free(err);
    CHECK_INT_EQ(run(bad, fb, NULL, &out, &err), 1);
    CHECK(strstr(err, "not a JSON object") != NULL);
    free(out);
    free(err);
    CHECK_INT_EQ(run(fa, other, NULL, &out, &err), 1); /* no cell in common */
    CHECK(strstr(out, "no cell (concurrency, depth, pp, tg) is in both files") != NULL);
    free(out);
    free(err);
    CHECK_INT_EQ(run(fa, NULL, NULL, &out, &err), 2);
    CHECK(strstr(err, "usage: tokbench compare A.json B.json") != NULL);
    free(out);
    free(err);
    CHECK_INT_EQ(run(fa, fb, fb, &out, &err), 2);
    free(out);
    free(err);
    CHECK_INT_EQ(run("--fast", fb, NULL, &out, &err), 2);
    CHECK(strstr(err, "unknown option --fast") != NULL);
    free(out);
    free(err);
    CHECK_INT_EQ(run("--help", NULL, NULL, &out, &err), 0);
    CHECK(strstr(out, "Mann-Whitney") != NULL);
    free(out);
    free(err);
    const char *files[] = {fa, fb, bad, other};
    for (size_t i = 0; i < 4; i++)
        if (files[i])
            unlink(files[i]);
    free(fa);
    free(fb);
    free(bad);
    free(other);
}

int main(void)
{
    RUN(notes);
    RUN(table_on_both_shapes);
    RUN(not_a_result);
    RUN(command_errors_and_success);
    return test_summary();
}
