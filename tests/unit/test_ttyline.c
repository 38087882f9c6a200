/* The terminal progress line: its text for given inputs (widths, ETA known
 * and unknown, count units) and the bytes the handle writes (frames, the
 * 200 ms throttle, erasing around log lines, erasing on close). */
#include "client/ttyline.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/test.h"

#define MS 1000000LL
#define SEC 1000000000LL

static const char *count(double v)
{
    static char out[32];
    ttyline_fmt_count(out, sizeof out, v);
    return out;
}

static const char *duration(double s)
{
    static char out[32];
    ttyline_fmt_duration(out, sizeof out, s);
    return out;
}

TEST(count_units)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},         {7, "7"},        {845, "845"},    {999.4, "999"},   {999.6, "1.0k"},
        {1234, "1.2k"},   {9949, "9.9k"},  {9960, "10k"},   {123456, "123k"}, {999400, "999k"},
        {999600, "1.0M"}, {3.4e6, "3.4M"}, {2.5e9, "2.5G"}, {7e15, "7000T"},  {-1, "?"},
        {NAN, "?"},       {INFINITY, "?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR_EQ(count(cases[i].v), cases[i].want);
}

TEST(duration_text)
{
    CHECK_STR_EQ(duration(0), "0s");
    CHECK_STR_EQ(duration(0.2), "1s"); /* rounds up: 0s only when done */
    CHECK_STR_EQ(duration(44.2), "45s");
    CHECK_STR_EQ(duration(59), "59s");
    CHECK_STR_EQ(duration(60), "1m00s");
    CHECK_STR_EQ(duration(80), "1m20s");
    CHECK_STR_EQ(duration(3599.5), "1h00m");
    CHECK_STR_EQ(duration(7500), "2h05m");
    CHECK_STR_EQ(duration(-1), "?");
    CHECK_STR_EQ(duration(NAN), "?");
    CHECK_STR_EQ(duration(1e12), "?");
}

TEST(eta_from_finished_runs)
{
    CHECK_DBL_NEAR(ttyline_eta_s(0, 0, 0, 12), -1, 0);           /* nothing finished */
    CHECK_DBL_NEAR(ttyline_eta_s(10 * SEC, 0, 2, 12), 50, 1e-9); /* 5 s/run × 10 */
    CHECK_DBL_NEAR(ttyline_eta_s(10 * SEC, 1 * SEC, 2, 12), 49, 1e-9);
    CHECK_DBL_NEAR(ttyline_eta_s(10 * SEC, 99 * SEC, 2, 12), 0, 0); /* never negative */
    CHECK_DBL_NEAR(ttyline_eta_s(10 * SEC, 0, 12, 12), 0, 0);
    CHECK_DBL_NEAR(ttyline_eta_s(10 * SEC, 0, 13, 12), 0, 0);
}

static ttyline_view sample(void)
{
    ttyline_view v = {
        .cell = 3,
        .cells = 12,
        .pp = 2048,
        .tg = 32,
        .depth = 4096,
        .conc = 4,
        .run = 2,
        .runs = 3,
        .tokens = 1234,
        .tokens_per_s = 845,
        .eta_s = 80,
    };
    return v;
}

static const char *fmt(const ttyline_view *v, int width)
{
    static char out[256];
    size_t n = ttyline_format(out, sizeof out, v, width);
    CHECK_INT_EQ(n, strlen(out));
    CHECK(ttyline_columns(out) + 1 <= (size_t)(width > 1 ? width : 1));
    return out;
}

#define FULL                                                                                       \
    "tokbench [3/12] pp2048 tg32 d4096 c4 \xC2\xB7 run 2/3 \xC2\xB7 1.2k tok "                     \
    "\xC2\xB7 845 tok/s \xC2\xB7 ETA 1m20s"

TEST(format_full_line)
{
    ttyline_view v = sample();
    CHECK_STR_EQ(fmt(&v, 200), FULL);
    CHECK_INT_EQ(ttyline_columns(FULL), 81);
    CHECK_STR_EQ(fmt(&v, 82), FULL); /* 81 columns + the cursor's column */
    CHECK(strstr(fmt(&v, 81), "tok/s") == NULL);
    v.ascii = true;
    CHECK_STR_EQ(fmt(&v, 200),
                 "tokbench [3/12] pp2048 tg32 d4096 c4 | run 2/3 | 1.2k tok | 845 tok/s | "
                 "ETA 1m20s");
}

TEST(format_unknowns)
{
    ttyline_view v = sample();
    v.ascii = true;
    v.eta_s = -1;
    v.tokens_per_s = -1;
    CHECK_STR_EQ(fmt(&v, 200), "tokbench [3/12] pp2048 tg32 d4096 c4 | run 2/3 | 1.2k tok | ETA ?");
    v.run = 1;
    v.runs = 1;
    v.warmup = true;
    CHECK_STR_EQ(fmt(&v, 200),
                 "tokbench [3/12] pp2048 tg32 d4096 c4 | warm-up 1/1 | 1.2k tok | ETA ?");
    v.run = 0; /* the cell has begun, no run yet */
    v.tokens = 0;
    CHECK_STR_EQ(fmt(&v, 200), "tokbench [3/12] pp2048 tg32 d4096 c4 | 0 tok | ETA ?");
    ttyline_view none = {.cells = 12, .tokens_per_s = -1, .eta_s = -1, .ascii = true};
    CHECK_STR_EQ(fmt(&none, 200), "tokbench [0/12] starting | ETA ?");
}

TEST(format_narrow_drops_parts_then_cuts)
{
    ttyline_view v = sample();
    CHECK_STR_EQ(fmt(&v, 79),
                 "tokbench [3/12] pp2048 tg32 d4096 c4 \xC2\xB7 run 2/3 \xC2\xB7 1.2k tok "
                 "\xC2\xB7 ETA 1m20s");
    CHECK_STR_EQ(fmt(&v, 60), "tokbench [3/12] pp2048 tg32 d4096 c4 \xC2\xB7 run 2/3 \xC2\xB7 "
                              "ETA 1m20s");
    CHECK_STR_EQ(fmt(&v, 50), "tokbench [3/12] pp2048 tg32 d4096 c4 \xC2\xB7 ETA 1m20s");
    CHECK_STR_EQ(fmt(&v, 40), "tokbench [3/12] pp2048 tg32 d4096 c4");
    CHECK_STR_EQ(fmt(&v, 20), "tokbench [3/12] pp2");
    CHECK_STR_EQ(fmt(&v, 1), "");
    CHECK_STR_EQ(fmt(&v, 0), "");
    CHECK_STR_EQ(fmt(&v, -5), "");
    /* A tiny buffer is cut, still NUL-terminated. */
    char small[8];
    ttyline_format(small, sizeof small, &v, 200);
    CHECK_STR_EQ(small, "tokbenc");
    /* A cap that ends inside the two-byte middle dot drops it whole. */
    char mid[40];
    CHECK_INT_EQ(ttyline_format(mid, 39, &v, 200), 37);
    CHECK_STR_EQ(mid, "tokbench [3/12] pp2048 tg32 d4096 c4 ");
}

/* ---- the handle, writing into memory ---------------------------------- */

static char *mem;
static size_t mem_len;

static FILE *open_mem(void)
{
    free(mem);
    mem = NULL;
    mem_len = 0;
    return open_memstream(&mem, &mem_len);
}

static int count_sub(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)) != NULL; p += strlen(sub))
        n++;
    return n;
}

TEST(handle_null_is_off)
{
    CHECK(ttyline_open(NULL, 3, 2, 0) == NULL);
    ttyline_cell(NULL, 0, 0, 1, 1, 0, 1);
    ttyline_run(NULL, 0, 1, 1, false);
    ttyline_tokens(NULL, 0, 5);
    ttyline_set_width(NULL, 80);
    ttyline_erase(NULL);
    ttyline_close(NULL);
}

TEST(handle_frames_throttle_and_eta)
{
    setenv("LC_ALL", "C", 1);
    FILE *f = open_mem();
    ttyline *t = ttyline_open(f, 2, 3, 0);
    ttyline_set_width(t, 120);
    fflush(f);
    CHECK_INT_EQ(mem_len, 0); /* nothing is drawn before the first cell */
    ttyline_cell(t, 0, 0, 512, 32, 0, 1);
    fflush(f);
    CHECK_STR_EQ(mem, "\rtokbench [1/2] pp512 tg32 d0 c1 | 0 tok | ETA ?\x1b[K");
    ttyline_run(t, 1 * MS, 1, 3, false); /* within 200 ms: no frame */
    ttyline_tokens(t, 100 * MS, 10);
    fflush(f);
    CHECK_INT_EQ(count_sub(mem, "\r"), 1);
    ttyline_tokens(t, 501 * MS, 90); /* 100 tokens in 0.5 s */
    fflush(f);
    CHECK_INT_EQ(count_sub(mem, "\r"), 2);
    CHECK(strstr(mem, "\rtokbench [1/2] pp512 tg32 d0 c1 | run 1/3 | 100 tok | 200 tok/s | "
                      "ETA ?\x1b[K") != NULL);
    ttyline_run(t, 10 * SEC, 2, 3, false); /* run 1 took 10 s: 5 left */
    fflush(f);
    CHECK(strstr(mem, "run 2/3 | 100 tok | ETA 50s\x1b[K") != NULL);
    ttyline_run(t, 20 * SEC, 3, 3, false);
    ttyline_cell(t, 30 * SEC, 1, 512, 32, 4096, 1); /* 3 of 6 done in 30 s */
    fflush(f);
    CHECK(strstr(mem, "\rtokbench [2/2] pp512 tg32 d4096 c1 | 100 tok | ETA 30s\x1b[K") != NULL);
    /* Erased on demand; the next token update redraws without waiting. */
    ttyline_erase(t);
    fflush(f);
    size_t n = mem_len;
    CHECK(n >= 4 && strcmp(mem + n - 4, "\r\x1b[K") == 0);
    ttyline_erase(t); /* nothing on screen: nothing written */
    fflush(f);
    CHECK_INT_EQ(mem_len, n);
    ttyline_tokens(t, 30 * SEC + 1 * MS, 1);
    fflush(f);
    CHECK(mem_len > n && strstr(mem + n, "[2/2]") != NULL);
    ttyline_close(t);
    fflush(f);
    CHECK(mem_len >= 4 && strcmp(mem + mem_len - 4, "\r\x1b[K") == 0);
    fclose(f);
    unsetenv("LC_ALL");
}

TEST(handle_log_lines_erase_and_redraw)
{
    setenv("LC_ALL", "C", 1);
    FILE *f = open_mem();
    ttyline *t = ttyline_open(f, 1, 1, 0);
    ttyline_set_width(t, 100);
    /* Log lines go to the real stderr: point it at /dev/null meanwhile. */
    fflush(stderr);
    int saved = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    log_warn("before any frame");
    fflush(f);
    CHECK_INT_EQ(mem_len, 0); /* nothing on screen: nothing erased or drawn */
    ttyline_cell(t, 0, 0, 8, 8, 0, 1);
    fflush(f);
    size_t after_frame = mem_len;
    log_warn("a log line");
    fflush(f);
    CHECK_STR_EQ(mem + after_frame, "\r\x1b[K\rtokbench [1/1] pp8 tg8 d0 c1 | 0 tok | ETA ?\x1b[K");
    ttyline_close(t);
    fflush(f);
    size_t after_close = mem_len;
    log_warn("after close"); /* the hook is gone */
    fflush(f);
    CHECK_INT_EQ(mem_len, after_close);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    fclose(f);
    unsetenv("LC_ALL");
}

static void hook_mark_before(void *ctx)
{
    (*(int *)ctx)++;
    fputs("<B>", stderr);
}

static void hook_mark_after(void *ctx)
{
    (*(int *)ctx)++;
    fputs("<A>", stderr);
}

TEST(log_hooks_wrap_each_printed_line)
{
    FILE *cap = tmpfile();
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(cap), 2);
    int calls = 0;
    enum log_level level = log_get_level();
    log_set_level(LOG_WARN);
    log_set_line_hooks(hook_mark_before, hook_mark_after, &calls);
    log_warn("shown %d", 1);
    log_info("filtered out"); /* below the level: no hooks either */
    log_error("shown %d", 2);
    log_set_line_hooks(NULL, NULL, NULL);
    log_warn("no hooks");
    log_set_level(level);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[256] = "";
    rewind(cap);
    size_t n = fread(text, 1, sizeof text - 1, cap);
    text[n] = '\0';
    fclose(cap);
    CHECK_INT_EQ(calls, 4);
    CHECK_STR_EQ(text, "<B>warning: shown 1\n<A><B>error: shown 2\n<A>warning: no hooks\n");
}

TEST(handle_utf8_locale_uses_middle_dot)
{
    setenv("LC_ALL", "", 1);
    setenv("LC_CTYPE", "en_US.UTF-8", 1);
    FILE *f = open_mem();
    ttyline *t = ttyline_open(f, 1, 1, 0);
    ttyline_set_width(t, 100);
    ttyline_cell(t, 0, 0, 8, 8, 0, 1);
    fflush(f);
    CHECK(strstr(mem, "c1 \xC2\xB7 0 tok") != NULL);
    ttyline_close(t);
    fclose(f);
    unsetenv("LC_ALL");
    unsetenv("LC_CTYPE");
}

TEST(handle_width_from_columns_env)
{
    setenv("LC_ALL", "C", 1);
    setenv("COLUMNS", "30", 1);
    FILE *f = open_mem(); /* not a terminal: $COLUMNS decides */
    ttyline *t = ttyline_open(f, 1, 1, 0);
    ttyline_cell(t, 0, 0, 2048, 32, 4096, 16);
    fflush(f);
    CHECK_STR_EQ(mem, "\rtokbench [1/1] pp2048 tg32 d4\x1b[K");
    ttyline_close(t);
    fclose(f);
    setenv("COLUMNS", "junk", 1);
    f = open_mem();
    t = ttyline_open(f, 1, 1, 0); /* default 80 */
    ttyline_cell(t, 0, 0, 2048, 32, 4096, 16);
    fflush(f);
    CHECK_STR_EQ(mem, "\rtokbench [1/1] pp2048 tg32 d4096 c16 | 0 tok | ETA ?\x1b[K");
    ttyline_close(t);
    fclose(f);
    unsetenv("COLUMNS");
    unsetenv("LC_ALL");
}

int main(void)
{
    RUN(count_units);
    RUN(duration_text);
    RUN(eta_from_finished_runs);
    RUN(format_full_line);
    RUN(format_unknowns);
    RUN(format_narrow_drops_parts_then_cuts);
    RUN(handle_null_is_off);
    RUN(handle_frames_throttle_and_eta);
    RUN(handle_log_lines_erase_and_redraw);
    RUN(log_hooks_wrap_each_printed_line);
    RUN(handle_utf8_locale_uses_middle_dot);
    RUN(handle_width_from_columns_env);
    free(mem);
    return test_summary();
}
