/* The terminal progress line: pure formatting first, then the handle that
 * counts, throttles and writes "\r" + text + erase-to-end-of-line. */
#include "client/ttyline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

/* ---- pure text ---------------------------------------------------------- */

size_t ttyline_columns(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) /* not a continuation byte */
            n++;
    return n;
}

void ttyline_fmt_count(char *out, size_t cap, double value)
{
    if (!(value >= 0) || !isfinite(value)) {
        snprintf(out, cap, "?");
        return;
    }
    if (round(value) < 1000.0) {
        snprintf(out, cap, "%.0f", value);
        return;
    }
    /* The unit is picked from the value as printed: 999.7 shows as 1.0k,
     * never as "1000". */
    static const char suffix[] = "kMGT";
    for (int unit = 0; unit < 4; unit++) {
        value /= 1000.0;
        if (value < 9.95) {
            snprintf(out, cap, "%.1f%c", value, suffix[unit]);
            return;
        }
        if (value < 999.5 || unit == 3) {
            snprintf(out, cap, "%.0f%c", value, suffix[unit]);
            return;
        }
    }
}

void ttyline_fmt_duration(char *out, size_t cap, double seconds)
{
    if (!(seconds >= 0) || !isfinite(seconds) || seconds > 1e9) {
        snprintf(out, cap, "?");
        return;
    }
    long s = (long)ceil(seconds); /* an ETA rounds up: "0s" only at the end */
    if (s < 60)
        snprintf(out, cap, "%lds", s);
    else if (s < 3600)
        snprintf(out, cap, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, cap, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
}

double ttyline_eta_s(int64_t done_elapsed_ns, int64_t since_done_ns, int runs_done, int runs_total)
{
    if (runs_done <= 0 || done_elapsed_ns < 0)
        return -1;
    int left = runs_total - runs_done;
    if (left <= 0)
        return 0;
    double per_run_s = (double)done_elapsed_ns / 1e9 / runs_done;
    double eta = per_run_s * left - (since_done_ns > 0 ? (double)since_done_ns / 1e9 : 0);
    return eta > 0 ? eta : 0;
}

enum { PART_HEAD, PART_RUN, PART_TOKENS, PART_RATE, PART_ETA, N_PARTS };

size_t ttyline_format(char *out, size_t cap, const ttyline_view *v, int width)
{
    char part[N_PARTS][96];
    char num[32];
    memset(part, 0, sizeof part);
    if (v->cell > 0)
        snprintf(part[PART_HEAD], sizeof part[0], "tokbench [%d/%d] pp%d tg%d d%d c%d", v->cell,
                 v->cells, v->pp, v->tg, v->depth, v->conc);
    else
        snprintf(part[PART_HEAD], sizeof part[0], "tokbench [0/%d] starting", v->cells);
    if (v->run > 0)
        snprintf(part[PART_RUN], sizeof part[0], "%s %d/%d", v->warmup ? "warm-up" : "run", v->run,
                 v->runs);
    if (v->cell > 0) {
        ttyline_fmt_count(num, sizeof num, v->tokens);
        snprintf(part[PART_TOKENS], sizeof part[0], "%s tok", num);
    }
    if (v->tokens_per_s >= 0) {
        ttyline_fmt_count(num, sizeof num, v->tokens_per_s);
        snprintf(part[PART_RATE], sizeof part[0], "%s tok/s", num);
    }
    ttyline_fmt_duration(num, sizeof num, v->eta_s);
    snprintf(part[PART_ETA], sizeof part[0], "ETA %s", num);

    const char *sep = v->ascii ? " | " : " \xC2\xB7 ";
    size_t max_cols = width > 1 ? (size_t)width - 1 : 0;
    /* Parts leave in this order until the line fits. */
    static const int drop_order[] = {PART_RATE, PART_TOKENS, PART_RUN, PART_ETA};
    bool keep[N_PARTS];
    for (int i = 0; i < N_PARTS; i++)
        keep[i] = part[i][0] != '\0';
    for (size_t d = 0;; d++) {
        size_t cols = 0;
        for (int i = 0; i < N_PARTS; i++)
            if (keep[i])
                cols += (i ? 3 : 0) + ttyline_columns(part[i]);
        if (cols <= max_cols || d == sizeof drop_order / sizeof drop_order[0])
            break;
        keep[drop_order[d]] = false;
    }
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < N_PARTS; i++) {
        if (!keep[i])
            continue;
        if (i) {
            snprintf(out + len, cap - len, "%s", sep);
            len += strlen(out + len);
        }
        snprintf(out + len, cap - len, "%s", part[i]);
        len += strlen(out + len);
    }
    /* Only the head is left and it is still too wide: cut it, at a character
     * boundary. */
    size_t cols = 0, i = 0;
    for (; out[i]; i++) {
        if (((unsigned char)out[i] & 0xC0) != 0x80) {
            if (cols == max_cols)
                break;
            cols++;
        }
    }
    /* A small cap may have split the last character: drop its lead bytes. */
    size_t lead = i;
    while (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0xC0) {
        unsigned char c = (unsigned char)out[lead - 1];
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (i - (lead - 1) < need)
            i = lead - 1;
    }
    out[i] = '\0';
    return i;
}

/* ---- the handle --------------------------------------------------------- */

struct ttyline {
    FILE *f;
    int fixed_width; /* > 0: set by ttyline_set_width */
    int env_width;   /* from $COLUMNS, 0 = none */
    ttyline_view view;
    int runs_per_cell;
    int64_t start_ns;     /* ttyline_open */
    int64_t last_done_ns; /* when the last finished run ended */
    int runs_done;
    bool run_open; /* a run has started and not yet finished */
    int64_t run_start_ns;
    double run_tokens;
    int64_t last_draw_ns;
    bool drawn;      /* the line is on screen now */
    bool redraw_now; /* set by ttyline_erase: skip the throttle once */
    char text[512];  /* the last text drawn, for redraws after log lines */
};

static int terminal_width(const ttyline *t)
{
    if (t->fixed_width > 0)
        return t->fixed_width;
    struct winsize ws;
    int fd = fileno(t->f);
    if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return t->env_width > 0 ? t->env_width : 80;
}

static bool contains_nocase(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

static bool utf8_locale(void)
{
    /* The first of these that is set decides, as setlocale would. */
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return contains_nocase(v, "utf-8") || contains_nocase(v, "utf8");
    }
    return false;
}

static void put_line(ttyline *t)
{
    fprintf(t->f, "\r%s\x1b[K", t->text);
    fflush(t->f);
    t->drawn = true;
}

static void erase_line(ttyline *t)
{
    if (!t->drawn)
        return;
    fputs("\r\x1b[K", t->f);
    fflush(t->f);
    t->drawn = false;
}

static void hook_before(void *ctx)
{
    erase_line(ctx);
}

static void hook_after(void *ctx)
{
    ttyline *t = ctx;
    if (t->text[0])
        put_line(t);
}

static void draw(ttyline *t, int64_t now_ns)
{
    ttyline_view *v = &t->view;
    int total = t->view.cells * t->runs_per_cell;
    v->eta_s =
        ttyline_eta_s(t->last_done_ns - t->start_ns, now_ns - t->last_done_ns, t->runs_done, total);
    int64_t run_ns = now_ns - t->run_start_ns;
    v->tokens_per_s = t->run_open && run_ns > 0 ? t->run_tokens / ((double)run_ns / 1e9) : -1;
    flockfile(t->f);
    ttyline_format(t->text, sizeof t->text, v, terminal_width(t));
    put_line(t);
    funlockfile(t->f);
    t->last_draw_ns = now_ns;
    t->redraw_now = false;
}

static void finish_run(ttyline *t, int64_t now_ns)
{
    if (!t->run_open)
        return;
    t->run_open = false;
    t->runs_done++;
    t->last_done_ns = now_ns;
}

ttyline *ttyline_open(FILE *f, int total_cells, int runs_per_cell, int64_t now_ns)
{
    if (!f)
        return NULL;
    ttyline *t = xcalloc(1, sizeof *t);
    t->f = f;
    t->view.cells = total_cells > 0 ? total_cells : 0;
    t->view.ascii = !utf8_locale();
    t->runs_per_cell = runs_per_cell > 0 ? runs_per_cell : 1;
    t->start_ns = now_ns;
    t->last_done_ns = now_ns;
    const char *cols = getenv("COLUMNS");
    if (cols && *cols) {
        char *end;
        long c = strtol(cols, &end, 10);
        if (*end == '\0' && c > 0 && c < 10000)
            t->env_width = (int)c;
    }
    log_set_line_hooks(hook_before, hook_after, t);
    return t;
}

void ttyline_set_width(ttyline *t, int columns)
{
    if (t)
        t->fixed_width = columns > 0 ? columns : 0;
}

void ttyline_cell(ttyline *t, int64_t now_ns, int cell, int pp, int tg, int depth, int conc)
{
    if (!t)
        return;
    finish_run(t, now_ns);
    t->view.cell = cell + 1;
    t->view.pp = pp;
    t->view.tg = tg;
    t->view.depth = depth;
    t->view.conc = conc;
    t->view.run = 0;
    t->view.runs = 0;
    t->view.warmup = false;
    draw(t, now_ns);
}

void ttyline_run(ttyline *t, int64_t now_ns, int run, int runs, bool warmup)
{
    if (!t)
        return;
    finish_run(t, now_ns);
    t->run_open = true;
    t->run_start_ns = now_ns;
    t->run_tokens = 0;
    t->view.run = run;
    t->view.runs = runs;
    t->view.warmup = warmup;
    if (t->redraw_now || now_ns - t->last_draw_ns >= TTYLINE_MIN_REDRAW_NS)
        draw(t, now_ns);
}

void ttyline_tokens(ttyline *t, int64_t now_ns, int n)
{
    if (!t || n <= 0)
        return;
    t->view.tokens += n;
    t->run_tokens += n;
    if (t->redraw_now || now_ns - t->last_draw_ns >= TTYLINE_MIN_REDRAW_NS)
        draw(t, now_ns);
}

void ttyline_erase(ttyline *t)
{
    if (!t)
        return;
    flockfile(t->f);
    erase_line(t);
    t->redraw_now = true; /* the next update draws without waiting */
    funlockfile(t->f);
}

void ttyline_close(ttyline *t)
{
    if (!t)
        return;
    log_set_line_hooks(NULL, NULL, NULL);
    flockfile(t->f);
    erase_line(t);
    funlockfile(t->f);
    free(t);
}
