#include "replay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/xalloc.h"

struct replay {
    enum replay_format format;
    int status;
    char *reason;
    replay_header headers[REPLAY_MAX_HEADERS];
    size_t n_headers;
    buf body;
    replay_event *events;
    size_t n_events, cap_events;
    char *request;
    size_t request_len;
};

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return REPLAY_ERR;
}

static replay *replay_new(enum replay_format format, size_t max_bytes)
{
    replay *r = xcalloc(1, sizeof *r);
    r->format = format;
    r->status = 200;
    r->reason = xstrdup("OK");
    buf_init(&r->body, max_bytes);
    return r;
}

void replay_free(replay *r)
{
    if (!r)
        return;
    free(r->reason);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    buf_free(&r->body);
    free(r->events);
    free(r->request);
    free(r);
}

/* Adds bytes to the body: as a new event when t_us differs from the last
 * event's, otherwise to the last event (bytes that arrived together). */
static int add_bytes(replay *r, int64_t t_us, const char *data, size_t len, int new_event)
{
    if (buf_append(&r->body, data, len))
        return REPLAY_ERR;
    if (!new_event && r->n_events && r->events[r->n_events - 1].t_us == t_us) {
        r->events[r->n_events - 1].len += len;
        return REPLAY_OK;
    }
    if (r->n_events == r->cap_events) {
        r->cap_events = r->cap_events ? 2 * r->cap_events : 64;
        r->events = xrealloc(r->events, r->cap_events * sizeof *r->events);
    }
    r->events[r->n_events++] = (replay_event){t_us, r->body.len - len, len};
    return REPLAY_OK;
}

/* Next line of [*p, end): sets *line and *len, without the "\n" or "\r\n";
 * returns 0 at the end. */
static int next_line(const char **p, const char *end, const char **line, size_t *len)
{
    if (*p >= end)
        return 0;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    *line = *p;
    *len = (size_t)(stop - *p);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    *p = nl ? nl + 1 : end;
    return 1;
}

/* The status line and headers (curl -D or our record's response.headers).
 * When several blocks are present (1xx, redirects), the last one counts. */
static int parse_headers(replay *r, const char *h, size_t len, char *err, size_t err_len)
{
    const char *p = h, *end = h + len, *line;
    size_t n;
    int seen_status = 0, in_block = 0;
    unsigned row = 0;
    while (next_line(&p, end, &line, &n)) {
        row++;
        if (n == 0) {
            in_block = 0;
            continue;
        }
        if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
            const char *sp = memchr(line, ' ', n);
            if (!sp || (size_t)(line + n - sp) < 4 || sp[1] < '1' || sp[1] > '5' ||
                sp[2] < '0' || sp[2] > '9' || sp[3] < '0' || sp[3] > '9' ||
                ((size_t)(line + n - sp) > 4 && sp[4] != ' '))
                return fail(err, err_len, "headers line %u: bad status line '%.*s'", row,
                            (int)(n > 80 ? 80 : n), line);
            r->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
            free(r->reason);
            size_t rest = (size_t)(line + n - sp);
            r->reason = rest > 5 ? xstrndup(sp + 5, rest - 5) : xstrdup("");
            for (size_t i = 0; i < r->n_headers; i++) {
                free(r->headers[i].name);
                free(r->headers[i].value);
            }
            r->n_headers = 0;
            seen_status = in_block = 1;
            continue;
        }
        if (!in_block)
            return fail(err, err_len, "headers line %u: a header outside a response block",
                        row);
        const char *colon = memchr(line, ':', n);
        if (!colon || colon == line || memchr(line, ' ', (size_t)(colon - line)))
            return fail(err, err_len, "headers line %u: expected 'Name: value'", row);
        if (r->n_headers == REPLAY_MAX_HEADERS)
            return fail(err, err_len, "headers: more than %d headers", REPLAY_MAX_HEADERS);
        const char *v = colon + 1, *vend = line + n;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        r->headers[r->n_headers].name = xstrndup(line, (size_t)(colon - line));
        r->headers[r->n_headers].value = xstrndup(v, (size_t)(vend - v));
        r->n_headers++;
    }
    if (!seen_status)
        return fail(err, err_len, "headers: no HTTP status line");
    return REPLAY_OK;
}

/* A non-negative decimal (digits with an optional fraction) from s[0..n). */
static int parse_number(const char *s, size_t n, double *out, int integer)
{
    char tmp[48];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (!integer && s[i] == '.')))
            return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static const char LINES_TSV_HEADER[] = "t_ms\tnbytes\tline_json";

int replay_parse_lines_tsv(replay **out, const char *tsv, size_t tsv_len, const char *headers,
                           size_t headers_len, size_t max_bytes, char *err, size_t err_len)
{
    *out = NULL;
    if (!max_bytes)
        max_bytes = REPLAY_DEFAULT_MAX_BYTES;
    replay *r = replay_new(REPLAY_LINES_TSV, max_bytes);
    const char *p = tsv, *end = tsv + tsv_len, *line;
    size_t n;
    unsigned row = 0;
    int64_t last_t_us = 0;
    int no_newline_seen = 0;
    int rc = REPLAY_ERR;
    if (headers && parse_headers(r, headers, headers_len, err, err_len))
        goto out;
    if (!next_line(&p, end, &line, &n) || n != sizeof LINES_TSV_HEADER - 1 ||
        memcmp(line, LINES_TSV_HEADER, n) != 0) {
        fail(err, err_len, "lines.tsv: the first line must be 't_ms<TAB>nbytes<TAB>line_json'");
        goto out;
    }
    row = 1;
    while (next_line(&p, end, &line, &n)) {
        row++;
        if (n == 0 && p >= end)
            break; /* the file's final newline */
        const char *t1 = memchr(line, '\t', n);
        const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(line + n - t1 - 1)) : NULL;
        if (!t2) {
            fail(err, err_len, "lines.tsv row %u: expected three tab-separated fields", row);
            goto out;
        }
        double t_ms, nbytes;
        if (parse_number(line, (size_t)(t1 - line), &t_ms, 0) ||
            parse_number(t1 + 1, (size_t)(t2 - t1 - 1), &nbytes, 1)) {
            fail(err, err_len, "lines.tsv row %u: t_ms and nbytes must be non-negative numbers",
                 row);
            goto out;
        }
        int64_t t_us = (int64_t)llround(t_ms * 1000.0);
        if (t_us < last_t_us) {
            fail(err, err_len, "lines.tsv row %u: time goes backwards (%.3f ms)", row, t_ms);
            goto out;
        }
        if (no_newline_seen) {
            fail(err, err_len, "lines.tsv row %u: a line follows one without a newline", row);
            goto out;
        }
        cJSON *j = cJSON_ParseWithLength(t2 + 1, (size_t)(line + n - t2 - 1));
        if (!cJSON_IsString(j)) {
            cJSON_Delete(j);
            fail(err, err_len, "lines.tsv row %u: the line is not a JSON string", row);
            goto out;
        }
        size_t len = strlen(j->valuestring);
        int nl;
        if ((double)len + 1 == nbytes) {
            nl = 1;
        } else if ((double)len == nbytes) {
            nl = 0; /* the body's last line has no newline */
            no_newline_seen = 1;
        } else {
            cJSON_Delete(j);
            fail(err, err_len, "lines.tsv row %u: nbytes %.0f does not match the line's %zu bytes",
                 row, nbytes, len);
            goto out;
        }
        int bad = (len && add_bytes(r, t_us, j->valuestring, len, 0)) ||
                  (nl && add_bytes(r, t_us, "\n", 1, 0));
        cJSON_Delete(j);
        if (bad) {
            fail(err, err_len, "lines.tsv row %u: the body exceeds %zu bytes", row, max_bytes);
            goto out;
        }
        last_t_us = t_us;
    }
    rc = REPLAY_OK;
out:
    if (rc)
        replay_free(r);
    else
        *out = r;
    return rc;
}

static const char READS_TSV_HEADER[] = "t_us\tnbytes";

int replay_parse_record(replay **out, const char *reads_tsv, size_t reads_len, const char *body,
                        size_t body_len, const char *headers, size_t headers_len,
                        size_t max_bytes, char *err, size_t err_len)
{
    *out = NULL;
    if (!max_bytes)
        max_bytes = REPLAY_DEFAULT_MAX_BYTES;
    if (body_len > max_bytes)
        return fail(err, err_len, "response.body: %zu bytes, over the %zu-byte limit", body_len,
                    max_bytes);
    replay *r = replay_new(REPLAY_RECORD_DIR, max_bytes);
    const char *p = reads_tsv, *end = reads_tsv + reads_len, *line;
    size_t n, offset = 0;
    unsigned row = 0;
    int64_t last_t_us = 0;
    int rc = REPLAY_ERR;
    if (headers && parse_headers(r, headers, headers_len, err, err_len))
        goto out;
    if (!next_line(&p, end, &line, &n) || n != sizeof READS_TSV_HEADER - 1 ||
        memcmp(line, READS_TSV_HEADER, n) != 0) {
        fail(err, err_len, "reads.tsv: the first line must be 't_us<TAB>nbytes'");
        goto out;
    }
    row = 1;
    while (next_line(&p, end, &line, &n)) {
        row++;
        if (n == 0 && p >= end)
            break;
        const char *tab = memchr(line, '\t', n);
        double t, nb;
        if (!tab || parse_number(line, (size_t)(tab - line), &t, 1) ||
            parse_number(tab + 1, (size_t)(line + n - tab - 1), &nb, 1) || nb < 1 ||
            t > 9e15) {
            fail(err, err_len,
                 "reads.tsv row %u: expected 't_us<TAB>nbytes' with whole numbers, nbytes >= 1",
                 row);
            goto out;
        }
        int64_t t_us = (int64_t)t;
        if (t_us < last_t_us) {
            fail(err, err_len, "reads.tsv row %u: time goes backwards (%" "lld us)", row,
                 (long long)t_us);
            goto out;
        }
        if (nb > (double)(body_len - offset)) {
            fail(err, err_len,
                 "reads.tsv row %u: the reads add up to more than response.body's %zu bytes",
                 row, body_len);
            goto out;
        }
        size_t len = (size_t)nb;
        /* Reads stay separate events even at equal times: they were separate reads. */
        if (add_bytes(r, t_us, body + offset, len, 1)) {
            fail(err, err_len, "reads.tsv row %u: the body exceeds %zu bytes", row, max_bytes);
            goto out;
        }
        offset += len;
        last_t_us = t_us;
    }
    if (offset != body_len) {
        fail(err, err_len, "reads.tsv: the reads cover %zu of response.body's %zu bytes", offset,
             body_len);
        goto out;
    }
    rc = REPLAY_OK;
out:
    if (rc)
        replay_free(r);
    else
        *out = r;
    return rc;
}

/* ------------------------------------------------------------ files */

/* Reads a whole file, refusing more than max bytes. Returns a new
 * NUL-terminated buffer (free with free()) or NULL with the reason in err;
 * *missing is set when the file does not exist (callers with optional
 * files check it). */
static char *read_file(const char *path, size_t max, size_t *len, int *missing, char *err,
                       size_t err_len)
{
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        fail(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        fail(err, err_len, "%s: %jd bytes, over the %zu-byte limit", path, (intmax_t)st.st_size,
             max);
        fclose(f);
        return NULL;
    }
    buf b;
    buf_init(&b, max);
    char tmp[65536];
    size_t n;
    int too_big = 0;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (buf_append(&b, tmp, n)) {
            too_big = 1;
            break;
        }
    int read_err = ferror(f);
    fclose(f);
    if (too_big || read_err) {
        buf_free(&b);
        if (too_big)
            fail(err, err_len, "%s: over the %zu-byte limit", path, max);
        else
            fail(err, err_len, "%s: read error", path);
        return NULL;
    }
    *len = b.len;
    if (!b.data)
        return xstrdup("");
    return buf_steal(&b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int load_record_dir(replay **out, const char *dir, size_t max, char *err, size_t err_len)
{
    char path[4096];
    size_t reads_len = 0, body_len = 0, headers_len = 0, req_len = 0;
    int missing;
    char *reads = NULL, *body = NULL, *headers = NULL, *req = NULL;
    int rc = REPLAY_ERR;

    snprintf(path, sizeof path, "%s/reads.tsv", dir);
    if (!(reads = read_file(path, max, &reads_len, &missing, err, err_len)))
        goto out;
    snprintf(path, sizeof path, "%s/response.body", dir);
    if (!(body = read_file(path, max, &body_len, &missing, err, err_len)))
        goto out;
    snprintf(path, sizeof path, "%s/response.headers", dir);
    headers = read_file(path, max, &headers_len, &missing, err, err_len);
    if (!headers && !missing)
        goto out;
    char detail[512];
    if (replay_parse_record(out, reads, reads_len, body, body_len, headers, headers_len, max,
                            detail, sizeof detail)) {
        fail(err, err_len, "%s: %s", dir, detail);
        goto out;
    }
    snprintf(path, sizeof path, "%s/request.json", dir);
    if ((req = read_file(path, max, &req_len, &missing, err, err_len)) != NULL)
        replay_set_request(*out, req, req_len);
    else if (!missing) {
        replay_free(*out);
        *out = NULL;
        goto out;
    }
    rc = REPLAY_OK;
out:
    free(reads);
    free(body);
    free(headers);
    free(req);
    return rc;
}

static int load_lines_tsv(replay **out, const char *file, size_t max, char *err, size_t err_len)
{
    char path[4096];
    size_t tsv_len = 0, headers_len = 0, req_len = 0;
    int missing;
    char *tsv = NULL, *headers = NULL, *req = NULL;
    int rc = REPLAY_ERR;
    if (!(tsv = read_file(file, max, &tsv_len, &missing, err, err_len)))
        goto out;
    /* Siblings: NAME.headers and NAME.request.json next to NAME.lines.tsv. */
    size_t stem = strlen(file) - (ends_with(file, ".lines.tsv") ? strlen(".lines.tsv") : 0);
    if (stem + 16 < sizeof path) {
        snprintf(path, sizeof path, "%.*s.headers", (int)stem, file);
        headers = read_file(path, max, &headers_len, &missing, err, err_len);
        if (!headers && !missing)
            goto out;
    }
    char detail[512];
    if (replay_parse_lines_tsv(out, tsv, tsv_len, headers, headers_len, max, detail,
                               sizeof detail)) {
        fail(err, err_len, "%s: %s", file, detail);
        goto out;
    }
    if (stem + 16 < sizeof path) {
        snprintf(path, sizeof path, "%.*s.request.json", (int)stem, file);
        if ((req = read_file(path, max, &req_len, &missing, err, err_len)) != NULL)
            replay_set_request(*out, req, req_len);
    }
    rc = REPLAY_OK;
out:
    free(tsv);
    free(headers);
    free(req);
    return rc;
}

int replay_load(replay **out, const char *path, size_t max_bytes, char *err, size_t err_len)
{
    *out = NULL;
    if (!max_bytes)
        max_bytes = REPLAY_DEFAULT_MAX_BYTES;
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, err_len, "%s: %s", path, strerror(errno));
    if (strlen(path) > 3000)
        return fail(err, err_len, "replay path too long");
    if (S_ISDIR(st.st_mode)) {
        char reads[4096];
        snprintf(reads, sizeof reads, "%s/reads.tsv", path);
        if (stat(reads, &st) != 0)
            return fail(err, err_len,
                        "%s: a directory without reads.tsv is not a tokbench record", path);
        return load_record_dir(out, path, max_bytes, err, err_len);
    }
    if (ends_with(path, "/reads.tsv") || strcmp(path, "reads.tsv") == 0) {
        char dir[4096];
        size_t n = strlen(path) - strlen("reads.tsv");
        snprintf(dir, sizeof dir, "%.*s", n ? (int)(n - 1) : 1, n ? path : ".");
        return load_record_dir(out, dir, max_bytes, err, err_len);
    }
    if (ends_with(path, ".lines.tsv"))
        return load_lines_tsv(out, path, max_bytes, err, err_len);
    /* Any other name: sniff the first line. */
    FILE *f = fopen(path, "rb");
    char first[64] = "";
    if (f) {
        if (!fgets(first, sizeof first, f))
            first[0] = '\0';
        fclose(f);
    }
    if (!strncmp(first, LINES_TSV_HEADER, sizeof LINES_TSV_HEADER - 1))
        return load_lines_tsv(out, path, max_bytes, err, err_len);
    return fail(err, err_len,
                "%s: not a replay input (expected a NAME.lines.tsv capture or a tokbench "
                "--record directory with reads.tsv)",
                path);
}

/* ------------------------------------------------------------ accessors */

enum replay_format replay_format_of(const replay *r)
{
    return r->format;
}

int replay_status(const replay *r)
{
    return r->status;
}

const char *replay_reason(const replay *r)
{
    return r->reason;
}

size_t replay_n_headers(const replay *r)
{
    return r->n_headers;
}

const replay_header *replay_header_at(const replay *r, size_t i)
{
    return i < r->n_headers ? &r->headers[i] : NULL;
}

const char *replay_header_get(const replay *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

int replay_header_is_hop(const char *name)
{
    static const char *const hop[] = {"Content-Length", "Transfer-Encoding", "Connection",
                                      "Keep-Alive", "Date"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return 1;
    return 0;
}

size_t replay_n_events(const replay *r)
{
    return r->n_events;
}

const replay_event *replay_event_at(const replay *r, size_t i)
{
    return i < r->n_events ? &r->events[i] : NULL;
}

const char *replay_body(const replay *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *replay_request(const replay *r, size_t *len)
{
    *len = r->request_len;
    return r->request;
}

void replay_set_request(replay *r, const char *body, size_t len)
{
    free(r->request);
    r->request = xstrndup(body, len);
    r->request_len = len;
}
