/* The history ledger. A run is written in two steps that each survive a
 * crash: the full JSON goes to a temporary file that is synced and then
 * linked under its final name (a reader never sees half a file), and the
 * summary is appended to index.jsonl with one write() on an O_APPEND
 * descriptor (a line is either whole or absent; a torn tail line is skipped
 * with a warning when read). */
#include "client/history.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/commands.h"
#include "client/report.h"
#include "common/xalloc.h"

/* ---- the comparison key ---- */

static char *list_text(const cli_int_list *l)
{
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < l->n; i++)
        buf_printf(&b, "%s%d", i ? "," : "", l->v[i]);
    if (!b.data)
        return xstrdup("");
    return buf_steal(&b);
}

int history_url_host(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t end = strcspn(p, "/?#");
    /* Credentials end at the last '@' of the authority. */
    const char *at = NULL;
    for (size_t i = 0; i < end; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) {
        end -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    /* The port goes too: the same machine serves the same model whatever
     * port a restart picked (a --label tells servers on one host apart). */
    if (end > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', end);
        if (close)
            end = (size_t)(close + 1 - p);
    } else {
        const char *colon = memchr(p, ':', end);
        if (colon)
            end = (size_t)(colon - p);
    }
    if (end + 1 > size)
        return -1;
    for (size_t i = 0; i < end; i++)
        out[i] = (char)tolower((unsigned char)p[i]);
    out[end] = '\0';
    return (int)end;
}

static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static char *load_mode_text(const cli_options *o)
{
    buf b;
    buf_init(&b, 0);
    if (o->request_rate > 0) {
        if (isinf(o->request_rate))
            buf_printf(&b, "request_rate=inf");
        else
            buf_printf(&b, "request_rate=%.17g", o->request_rate);
        buf_printf(&b, ",burstiness=%.17g,max_concurrency=%d", o->burstiness, o->max_concurrency);
        if (o->duration_s > 0)
            buf_printf(&b, ",duration=%.17g", o->duration_s);
        if (o->num_requests > 0)
            buf_printf(&b, ",num_requests=%d", o->num_requests);
    } else if (o->duration_s > 0) {
        buf_printf(&b, "duration=%.17g", o->duration_s);
    } else if (o->num_requests > 0) {
        buf_printf(&b, "num_requests=%d", o->num_requests);
    } else {
        buf_printf(&b, "burst");
    }
    return buf_steal(&b);
}

void history_key_build(const cli_options *o, const char *model, history_key *k)
{
    memset(k, 0, sizeof *k);
    const char *url = o->base_url ? o->base_url : "";
    char *host = xmalloc(strlen(url) + 1);
    history_url_host(url, host, strlen(url) + 1);
    k->host = host;
    k->model = xstrdup(model ? model : o->model ? o->model : "");
    k->pp = list_text(&o->pp);
    k->tg = list_text(&o->tg);
    k->depth = list_text(&o->depth);
    k->concurrency = list_text(&o->concurrency);
    k->load_mode = load_mode_text(o);
    k->latency_mode = xstrdup(o->latency_mode == CLI_LATENCY_API          ? "api"
                              : o->latency_mode == CLI_LATENCY_GENERATION ? "generation"
                                                                          : "none");
    k->cache = xstrdup(o->no_cache && o->enable_prefix_caching ? "no_cache,prefix_caching"
                       : o->no_cache                           ? "no_cache"
                       : o->enable_prefix_caching              ? "prefix_caching"
                                                               : "default");
    k->version = xstrdup(TOKBENCH_VERSION);
    k->label = xstrdup(o->label ? o->label : "");

    /* One field per line, each value up to its newline: a label holding a
     * newline cannot forge another field because it cannot hold a NUL. */
    buf text;
    buf_init(&text, 0);
    buf_printf(&text, "host=%s\nmodel=%s\npp=%s\ntg=%s\ndepth=%s\nconcurrency=%s\nload=%s\n"
                      "latency=%s\ncache=%s\nversion=%s\nlabel=%s",
               k->host, k->model, k->pp, k->tg, k->depth, k->concurrency, k->load_mode,
               k->latency_mode, k->cache, k->version, k->label);
    buf_append(&text, "", 1); /* the label's end is part of the text */
    snprintf(k->id, sizeof k->id, "%016llx", (unsigned long long)fnv1a64(text.data, text.len));
    buf_free(&text);
}

void history_key_free(history_key *k)
{
    free(k->host);
    free(k->model);
    free(k->pp);
    free(k->tg);
    free(k->depth);
    free(k->concurrency);
    free(k->load_mode);
    free(k->latency_mode);
    free(k->cache);
    free(k->version);
    free(k->label);
    memset(k, 0, sizeof *k);
}

cJSON *history_key_json(const history_key *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "host", k->host);
    cJSON_AddStringToObject(o, "model", k->model);
    cJSON_AddStringToObject(o, "pp", k->pp);
    cJSON_AddStringToObject(o, "tg", k->tg);
    cJSON_AddStringToObject(o, "depth", k->depth);
    cJSON_AddStringToObject(o, "concurrency", k->concurrency);
    cJSON_AddStringToObject(o, "load_mode", k->load_mode);
    cJSON_AddStringToObject(o, "latency_mode", k->latency_mode);
    cJSON_AddStringToObject(o, "cache", k->cache);
    cJSON_AddStringToObject(o, "tokbench_version", k->version);
    cJSON_AddStringToObject(o, "label", k->label);
    return o;
}

/* ---- the summary ---- */

static void add_num(cJSON *o, const char *name, bool present, double v)
{
    if (present && isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

cJSON *history_summary(const results *r, const history_key *k, const char *time_utc,
                       const char *run_file)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "key", k->id);
    cJSON_AddItemToObject(s, "key_fields", history_key_json(k));
    cJSON_AddStringToObject(s, "time", time_utc);
    cJSON_AddStringToObject(s, "tokbench_version", k->version);
    cJSON_AddStringToObject(s, "label", k->label);
    cJSON_AddStringToObject(s, "model", r->model ? r->model : k->model);
    cJSON_AddStringToObject(s, "run_file", run_file);
    cJSON *cells = cJSON_AddArrayToObject(s, "cells");
    for (size_t i = 0; i < r->n_runs; i++) {
        const results_run *run = &r->runs[i];
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(cells, c);
        cJSON_AddNumberToObject(c, "depth", run->context_size);
        cJSON_AddNumberToObject(c, "pp", run->prompt_size);
        cJSON_AddNumberToObject(c, "tg", run->response_size);
        cJSON_AddNumberToObject(c, "concurrency", run->concurrency);
        cJSON_AddBoolToObject(c, "context_phase", run->is_context_prefill_phase);
        add_num(c, "pp_tps_mean", run->pp_throughput.present, run->pp_throughput.mean);
        add_num(c, "tg_tps_mean", run->tg_throughput.present, run->tg_throughput.mean);
        add_num(c, "ttft_ms_median", run->ttft.present, run->ttft.median);
        add_num(c, "ttft_ms_p99", run->ttft.present, run->ttft.p99);
        add_num(c, "e2e_ttft_ms_median", run->e2e_ttft.present, run->e2e_ttft.median);
        add_num(c, "e2e_ttft_ms_p99", run->e2e_ttft.present, run->e2e_ttft.p99);
        cJSON_AddNumberToObject(c, "requests", run->n_requests);
        cJSON_AddNumberToObject(c, "failures", run->n_errors);
        add_num(c, "error_rate", true,
                run->n_requests > 0 ? (double)run->n_errors / run->n_requests : 0);
    }
    return s;
}

/* A summary line as read back: an object with a string key and an array of
 * cell objects. Anything else is a corrupt line. */
static bool summary_valid(const cJSON *s)
{
    if (!cJSON_IsObject(s) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "key")))
        return false;
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(s, "cells");
    if (!cJSON_IsArray(cells))
        return false;
    const cJSON *c;
    cJSON_ArrayForEach(c, cells)
    {
        if (!cJSON_IsObject(c))
            return false;
        static const char *const ints[] = {"depth", "pp", "tg", "concurrency"};
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, ints[i])))
                return false;
    }
    return true;
}

static const char *str_field(const cJSON *o, const char *name, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}

static bool num_field(const cJSON *o, const char *name, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(x))
        return false;
    *v = x->valuedouble;
    return true;
}

static int int_field(const cJSON *o, const char *name)
{
    double v = 0;
    num_field(o, name, &v);
    return (int)v;
}

static void cell_name(const cJSON *c, char *out, size_t size)
{
    snprintf(out, size, "%spp%d tg%d @ d%d c%d",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "context_phase")) ? "ctx " : "",
             int_field(c, "pp"), int_field(c, "tg"), int_field(c, "depth"),
             int_field(c, "concurrency"));
}

static bool same_cell(const cJSON *a, const cJSON *b)
{
    return int_field(a, "pp") == int_field(b, "pp") && int_field(a, "tg") == int_field(b, "tg") &&
           int_field(a, "depth") == int_field(b, "depth") &&
           int_field(a, "concurrency") == int_field(b, "concurrency") &&
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "context_phase")) ==
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "context_phase"));
}

static const cJSON *find_cell(const cJSON *cells, const cJSON *like)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cells)
    {
        if (same_cell(c, like))
            return c;
    }
    return NULL;
}

/* Which way is better for each headline figure. */
enum direction { HIGHER_BETTER, LOWER_BETTER, FEWER_BETTER };

static const struct figure {
    const char *field, *title;
    enum direction dir;
} figures[] = {
    {"pp_tps_mean", "pp t/s (mean)", HIGHER_BETTER},
    {"tg_tps_mean", "tg t/s (mean)", HIGHER_BETTER},
    {"ttft_ms_median", "ttft ms (p50)", LOWER_BETTER},
    {"ttft_ms_p99", "ttft ms (p99)", LOWER_BETTER},
    {"e2e_ttft_ms_median", "e2e_ttft ms (p50)", LOWER_BETTER},
    {"e2e_ttft_ms_p99", "e2e_ttft ms (p99)", LOWER_BETTER},
    {"error_rate", "error rate", FEWER_BETTER},
};

static void fmt_value(bool present, double v, const struct figure *fig, char *out, size_t size)
{
    if (!present)
        snprintf(out, size, "-");
    else if (fig->dir == FEWER_BETTER)
        snprintf(out, size, "%.1f%%", v * 100);
    else
        snprintf(out, size, "%.2f", v);
}

int history_compare_summaries(const cJSON *prev, const cJSON *now, double regress_pct, FILE *f)
{
    const cJSON *pcells = cJSON_GetObjectItemCaseSensitive(prev, "cells");
    const cJSON *ncells = cJSON_GetObjectItemCaseSensitive(now, "cells");
    fprintf(f, "%-28s %-18s %12s %12s %9s\n", "cell", "metric", "previous", "now", "change");
    buf flags;
    buf_init(&flags, 0);
    int regressions = 0;
    const cJSON *nc;
    cJSON_ArrayForEach(nc, ncells)
    {
        char name[96];
        cell_name(nc, name, sizeof name);
        const cJSON *pc = find_cell(pcells, nc);
        if (!pc) {
            fprintf(f, "%-28s (new cell: not in the previous run)\n", name);
            continue;
        }
        for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
            const struct figure *fig = &figures[i];
            double pv = 0, nv = 0;
            bool has_p = num_field(pc, fig->field, &pv), has_n = num_field(nc, fig->field, &nv);
            if (!has_p && !has_n)
                continue;
            char ps[32], ns[32], change[32] = "n/a";
            fmt_value(has_p, pv, fig, ps, sizeof ps);
            fmt_value(has_n, nv, fig, ns, sizeof ns);
            double pct = NAN;
            if (has_p && has_n && pv != 0) {
                pct = (nv - pv) / fabs(pv) * 100;
                snprintf(change, sizeof change, "%+.1f%%", pct);
            }
            bool worse;
            const char *why = NULL;
            if (fig->dir == HIGHER_BETTER) {
                worse = has_p && (!has_n || (!isnan(pct) && pct < -regress_pct));
                if (worse && !has_n)
                    why = "no longer measured";
            } else if (fig->dir == LOWER_BETTER) {
                worse = has_p && has_n && !isnan(pct) && pct > regress_pct;
            } else {
                /* Failures that appear from none are a regression at any
                 * threshold; a rise from some by more than the threshold too. */
                worse = has_n && nv > 0 &&
                        (!has_p || pv == 0 || (!isnan(pct) && pct > regress_pct));
            }
            fprintf(f, "%-28s %-18s %12s %12s %9s%s\n", name, fig->title, ps, ns, change,
                    worse ? "  <- REGRESSION" : "");
            if (worse) {
                regressions++;
                if (why)
                    buf_printf(&flags, "REGRESSION: %s: %s %s (was %s)\n", name, fig->title, why,
                               ps);
                else
                    buf_printf(&flags, "REGRESSION: %s: %s %s -> %s (%s, threshold %g%%)\n",
                               name, fig->title, ps, ns, change, regress_pct);
            }
        }
    }
    const cJSON *pc;
    cJSON_ArrayForEach(pc, pcells)
    {
        if (!find_cell(ncells, pc)) {
            char name[96];
            cell_name(pc, name, sizeof name);
            fprintf(f, "%-28s (not measured this time)\n", name);
        }
    }
    if (flags.data)
        fputs(flags.data, f);
    buf_free(&flags);
    return regressions;
}

/* ---- files ---- */

int history_read_file(const char *path, size_t max_bytes, buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    buf_reset(out);
    out->max_len = max_bytes;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(out, chunk, n) != BUF_OK) {
            snprintf(err, errlen, "%s is larger than %zu bytes", path, max_bytes);
            rc = -1;
            break;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

static int make_dir(const char *path, FILE *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        fprintf(err, "tokbench: history: %s is not a directory\n", path);
        return -1;
    }
    fprintf(err, "tokbench: history: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

/* Called for each valid summary line of the index, in order; a corrupt line
 * is reported on err and skipped. Return non-zero to stop. */
typedef int (*index_fn)(const cJSON *summary, void *ctx);

/* Parses one index line and hands it to fn; returns fn's verdict. */
static int index_line(const char *text, size_t len, const char *path, size_t lineno, index_fn fn,
                      void *ctx, FILE *err)
{
    cJSON *s = cJSON_ParseWithLength(text, len);
    int stop = 0;
    if (!summary_valid(s))
        fprintf(err, "tokbench: history: %s:%zu: not a valid summary line (skipped)\n", path,
                lineno);
    else
        stop = fn(s, ctx);
    cJSON_Delete(s);
    return stop;
}

/* Returns 0 (also when the index does not exist yet: *missing set), or -1
 * when it cannot be read. */
static int index_each(const char *dir, index_fn fn, void *ctx, bool *missing, FILE *err)
{
    buf path;
    buf_init(&path, 0);
    buf_printf(&path, "%s/index.jsonl", dir);
    *missing = false;
    FILE *f = fopen(path.data, "rb");
    if (!f) {
        int e = errno;
        int rc = 0;
        if (e == ENOENT)
            *missing = true;
        else {
            fprintf(err, "tokbench: history: cannot read %s: %s\n", path.data, strerror(e));
            rc = -1;
        }
        buf_free(&path);
        return rc;
    }
    buf line;
    buf_init(&line, HISTORY_MAX_LINE_BYTES);
    char chunk[65536];
    size_t lineno = 0;
    bool too_long = false, stop = false, pending = false;
    for (;;) {
        bool got = fgets(chunk, sizeof chunk, f) != NULL;
        size_t n = got ? strlen(chunk) : 0;
        bool end = !got || (n > 0 && chunk[n - 1] == '\n');
        if (got && n > 0 && chunk[n - 1] == '\n')
            n--;
        if (got)
            pending = true;
        if (got && !too_long && buf_append(&line, chunk, n) != BUF_OK)
            too_long = true;
        if (!end)
            continue;
        if (pending) {
            lineno++;
            if (too_long)
                fprintf(err, "tokbench: history: %s:%zu: line longer than %zu bytes (skipped)\n",
                        path.data, lineno, HISTORY_MAX_LINE_BYTES);
            else if (line.len > 0)
                stop = index_line(line.data, line.len, path.data, lineno, fn, ctx, err);
        }
        too_long = pending = false;
        buf_reset(&line);
        if (!got || stop)
            break;
    }
    int rc = 0;
    if (ferror(f)) {
        fprintf(err, "tokbench: history: cannot read %s: %s\n", path.data, strerror(errno));
        rc = -1;
    }
    fclose(f);
    buf_free(&line);
    buf_free(&path);
    return rc;
}

typedef struct last_match {
    const char *key;
    cJSON *found; /* owned duplicate of the last summary with this key */
} last_match;

static int keep_last(const cJSON *s, void *ctx)
{
    last_match *m = ctx;
    if (strcmp(str_field(s, "key", ""), m->key) == 0) {
        cJSON_Delete(m->found);
        m->found = cJSON_Duplicate(s, 1);
    }
    return 0;
}

/* Writes the JSON report to dir/runs/<name>.json under a name no other run
 * holds; the name (relative to dir) goes to rel. */
static int write_run_file(const char *dir, const char *stamp, const char *id, const results *r,
                          buf *rel, FILE *err)
{
    buf tmp, final;
    buf_init(&tmp, 0);
    buf_init(&final, 0);
    buf_printf(&tmp, "%s/runs/.tmp-%s-%s-%ld.json", dir, stamp, id, (long)getpid());
    int rc = -1;
    FILE *f = fopen(tmp.data, "wb");
    if (!f) {
        fprintf(err, "tokbench: history: cannot write %s: %s\n", tmp.data, strerror(errno));
        goto out;
    }
    int wrc = report_json(r, f);
    if (fflush(f) || fsync(fileno(f)))
        wrc = -1;
    if (fclose(f))
        wrc = -1;
    if (wrc) {
        fprintf(err, "tokbench: history: cannot write %s\n", tmp.data);
        unlink(tmp.data);
        goto out;
    }
    /* link() refuses an existing name: two runs in the same second get
     * "-2", "-3"... instead of overwriting each other. */
    for (int n = 1; n <= 100 && rc; n++) {
        buf_reset(rel);
        if (n == 1)
            buf_printf(rel, "runs/%s-%s.json", stamp, id);
        else
            buf_printf(rel, "runs/%s-%s-%d.json", stamp, id, n);
        buf_reset(&final);
        buf_printf(&final, "%s/%s", dir, rel->data);
        if (link(tmp.data, final.data) == 0) {
            rc = 0;
        } else if (errno != EEXIST) {
            /* A file system without hard links: rename is atomic too. */
            if (access(final.data, F_OK) != 0 && rename(tmp.data, final.data) == 0)
                rc = 0;
            else {
                fprintf(err, "tokbench: history: cannot create %s: %s\n", final.data,
                        strerror(errno));
                break;
            }
        }
    }
    unlink(tmp.data);
out:
    buf_free(&tmp);
    buf_free(&final);
    return rc;
}

static int append_index(const char *dir, const cJSON *summary, FILE *err)
{
    buf path;
    buf_init(&path, 0);
    buf_printf(&path, "%s/index.jsonl", dir);
    char *text = cJSON_PrintUnformatted(summary);
    buf line;
    buf_init(&line, 0);
    buf_append_str(&line, text);
    buf_append_str(&line, "\n");
    free(text);
    int rc = -1;
    int fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (fd < 0) {
        fprintf(err, "tokbench: history: cannot open %s: %s\n", path.data, strerror(errno));
    } else {
        ssize_t w = write(fd, line.data, line.len);
        if (w == (ssize_t)line.len)
            rc = 0;
        else
            fprintf(err, "tokbench: history: cannot append to %s: %s\n", path.data,
                    w < 0 ? strerror(errno) : "short write");
        if (close(fd))
            rc = -1;
    }
    buf_free(&line);
    buf_free(&path);
    return rc;
}

int history_record_at(const char *dir, const results *r, const cli_options *o, int64_t wall_ns,
                      FILE *err)
{
    history_key k;
    history_key_build(o, r->model, &k);
    time_t secs = (time_t)(wall_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32], iso[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);

    buf runs_dir, rel;
    buf_init(&runs_dir, 0);
    buf_init(&rel, 0);
    buf_printf(&runs_dir, "%s/runs", dir);
    last_match m = {k.id, NULL};
    cJSON *summary = NULL;
    bool missing;
    int rc = -1;
    if (make_dir(dir, err) || make_dir(runs_dir.data, err))
        goto out;
    if (index_each(dir, keep_last, &m, &missing, err))
        goto out;
    if (write_run_file(dir, stamp, k.id, r, &rel, err))
        goto out;
    summary = history_summary(r, &k, iso, rel.data);
    if (append_index(dir, summary, err))
        goto out;
    fprintf(err, "tokbench: history: run recorded as %s/%s (key %s)\n", dir, rel.data, k.id);
    rc = 0;
    if (m.found) {
        fprintf(err, "tokbench: history: compared with the previous run of this key (%s, %s):\n",
                str_field(m.found, "time", "?"), str_field(m.found, "run_file", "?"));
        rc = history_compare_summaries(m.found, summary, o->regress_pct, err);
        if (rc)
            fprintf(err, "tokbench: history: %d REGRESSION%s beyond %g%%\n", rc,
                    rc == 1 ? "" : "S", o->regress_pct);
        else
            fprintf(err, "tokbench: history: no regression beyond %g%%\n", o->regress_pct);
    } else {
        fprintf(err, "tokbench: history: first run with this key: nothing to compare with\n");
    }
out:
    cJSON_Delete(m.found);
    cJSON_Delete(summary);
    buf_free(&runs_dir);
    buf_free(&rel);
    history_key_free(&k);
    return rc;
}


/* ---- tokbench history DIR ---- */

typedef struct lister {
    const char *key_prefix; /* NULL = every run */
    FILE *out;
    size_t shown;
} lister;

static void print_opt(FILE *out, const cJSON *c, const char *field, int width)
{
    double v;
    if (num_field(c, field, &v))
        fprintf(out, " %*.2f", width, v);
    else
        fprintf(out, " %*s", width, "-");
}

static int list_one(const cJSON *s, void *ctx)
{
    lister *l = ctx;
    const char *key = str_field(s, "key", "");
    if (l->key_prefix && strncmp(key, l->key_prefix, strlen(l->key_prefix)) != 0)
        return 0;
    FILE *out = l->out;
    const char *label = str_field(s, "label", "");
    fprintf(out, "%s%s  key %s  model %s  label %s  %s\n", l->shown ? "\n" : "",
            str_field(s, "time", "?"), key, str_field(s, "model", "?"), *label ? label : "-",
            str_field(s, "run_file", "?"));
    fprintf(out, "  %-28s %10s %10s %12s %12s %9s\n", "cell", "pp t/s", "tg t/s", "ttft p50 ms",
            "ttft p99 ms", "failures");
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(s, "cells"))
    {
        char name[96];
        cell_name(c, name, sizeof name);
        fprintf(out, "  %-28s", name);
        print_opt(out, c, "pp_tps_mean", 10);
        print_opt(out, c, "tg_tps_mean", 10);
        print_opt(out, c, "ttft_ms_median", 12);
        print_opt(out, c, "ttft_ms_p99", 12);
        char fails[32];
        snprintf(fails, sizeof fails, "%d/%d", int_field(c, "failures"),
                 int_field(c, "requests"));
        fprintf(out, " %9s\n", fails);
    }
    l->shown++;
    return 0;
}

static void history_usage(FILE *f)
{
    fputs("usage: tokbench history DIR [--key KEY]\n"
          "Lists the runs of the history ledger in DIR (written by --history DIR): time,\n"
          "comparison key, model, label and each cell's headline figures.\n"
          "  --key KEY  only runs whose comparison key starts with KEY\n",
          f);
}

int history_cmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    const char *dir = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            history_usage(out);
            return 0;
        }
        if (strcmp(argv[i], "--key") == 0) {
            if (i + 1 >= argc) {
                fputs("tokbench history: --key needs a value\n", err);
                history_usage(err);
                return 2;
            }
            key = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(err, "tokbench history: unknown option %s\n", argv[i]);
            history_usage(err);
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else {
            fprintf(err, "tokbench history: unexpected argument %s\n", argv[i]);
            history_usage(err);
            return 2;
        }
    }
    if (!dir) {
        history_usage(err);
        return 2;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(err, "tokbench history: %s: no such directory\n", dir);
        return 1;
    }
    lister l = {key, out, 0};
    bool missing;
    if (index_each(dir, list_one, &l, &missing, err))
        return 1;
    if (missing) {
        fprintf(err, "tokbench history: %s has no index.jsonl: no runs recorded there\n", dir);
        return 1;
    }
    if (l.shown == 0 && key)
        fprintf(err, "tokbench history: no run with key %s in %s\n", key, dir);
    else if (l.shown == 0)
        fprintf(err, "tokbench history: no runs in %s\n", dir);
    return fflush(out) ? 1 : 0;
}
