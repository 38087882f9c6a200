/* The --record writer: entries live in memory while their transfer runs and
 * are written as DIR/NNNNNN/ (via DIR/NNNNNN.part, renamed when complete, so
 * a directory with the final name is always whole). */
#include "client/record.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client/cli.h"
#include "common/buf.h"
#include "common/xalloc.h"

typedef struct read_ent {
    int64_t t_us;
    size_t nbytes;
} read_ent;

struct record_req {
    record *owner;
    size_t index;
    char *label, *url, *body;
    buf headers; /* raw header lines as received (capped) */
    buf resp;    /* body bytes (capped) */
    read_ent *reads;
    size_t n_reads, cap_reads;
    int64_t start_ns, end_ns, headers_ns, last_t_us;
    char *error;
    bool truncated, headers_truncated, finished;
    record_req *next;
};

struct record {
    char *dir;
    char *api_key; /* NULL when there is nothing to mask */
    int64_t mono0_ns, wall0_ns;
    size_t max_body, max_pending, pending_bytes;
    size_t count;
    record_req *head, *tail; /* entries not yet written, in begin order */
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* mkdir -p: creates path and its missing parents. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char *p = xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                rc = fail(err, errlen, "--record %s: cannot create %s: %s", path, p,
                          strerror(errno));
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return rc;
}

record *record_open(const char *dir, const record_config *cfg, char *err, size_t errlen)
{
    if (!dir || !dir[0]) {
        fail(err, errlen, "--record: an empty directory name");
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fail(err, errlen, "--record %s: exists and is not a directory", dir);
            return NULL;
        }
    } else if (errno != ENOENT || make_dirs(dir, err, errlen)) {
        if (errno != ENOENT)
            fail(err, errlen, "--record %s: %s", dir, strerror(errno));
        return NULL;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fail(err, errlen, "--record %s: not writable: %s", dir, strerror(errno));
        return NULL;
    }
    buf first;
    buf_init(&first, 0);
    buf_printf(&first, "%s/000000", dir);
    bool taken = stat(first.data, &st) == 0;
    buf_free(&first);
    if (taken) {
        fail(err, errlen,
             "--record %s: already holds a recording (000000 exists); choose a new or empty "
             "directory",
             dir);
        return NULL;
    }
    record *rec = xcalloc(1, sizeof *rec);
    rec->dir = xstrdup(dir);
    size_t n = strlen(rec->dir);
    while (n > 1 && rec->dir[n - 1] == '/')
        rec->dir[--n] = '\0';
    rec->max_body = RECORD_DEFAULT_MAX_BODY;
    rec->max_pending = RECORD_DEFAULT_MAX_PENDING;
    if (cfg) {
        /* A short key would mask ordinary words: keys this short are not secrets. */
        if (cfg->api_key && strlen(cfg->api_key) >= 4 && strcmp(cfg->api_key, "EMPTY") != 0)
            rec->api_key = xstrdup(cfg->api_key);
        rec->mono0_ns = cfg->mono0_ns;
        rec->wall0_ns = cfg->wall0_ns;
        if (cfg->max_body_bytes)
            rec->max_body = cfg->max_body_bytes;
        if (cfg->max_pending_bytes)
            rec->max_pending = cfg->max_pending_bytes;
    }
    return rec;
}

size_t record_count(const record *rec)
{
    return rec ? rec->count : 0;
}

record_req *record_begin(record *rec, const char *label, const char *url, const char *body,
                         int64_t start_ns)
{
    if (!rec)
        return NULL;
    record_req *h = xcalloc(1, sizeof *h);
    h->owner = rec;
    h->index = rec->count++;
    h->label = label ? xstrdup(label) : NULL;
    h->url = xstrdup(url ? url : "");
    h->body = body ? xstrdup(body) : NULL;
    buf_init(&h->headers, RECORD_MAX_HEADER_BYTES);
    buf_init(&h->resp, rec->max_body);
    h->start_ns = start_ns;
    if (rec->tail)
        rec->tail->next = h;
    else
        rec->head = h;
    rec->tail = h;
    return h;
}

void record_headers(record_req *h, const char *bytes, size_t len)
{
    if (!h || h->finished || !len)
        return;
    if (!h->headers_truncated && buf_append(&h->headers, bytes, len))
        h->headers_truncated = true;
}

void record_data(record_req *h, int64_t t_ns, const char *bytes, size_t len)
{
    if (!h || h->finished || !len || h->truncated)
        return;
    if (h->n_reads == RECORD_MAX_READS || buf_append(&h->resp, bytes, len)) {
        /* Whole reads only: response.body and reads.tsv stay consistent. */
        h->truncated = true;
        return;
    }
    int64_t t_us = (t_ns - h->start_ns) / 1000;
    if (t_us < h->last_t_us)
        t_us = h->last_t_us; /* never backwards, whatever the caller's clock did */
    h->last_t_us = t_us;
    if (h->n_reads == h->cap_reads) {
        h->cap_reads = h->cap_reads ? h->cap_reads * 2 : 64;
        h->reads = xrealloc(h->reads, h->cap_reads * sizeof *h->reads);
    }
    h->reads[h->n_reads++] = (read_ent){t_us, len};
}

static void req_free(record_req *h)
{
    free(h->label);
    free(h->url);
    free(h->body);
    buf_free(&h->headers);
    buf_free(&h->resp);
    free(h->reads);
    free(h->error);
    free(h);
}

static size_t req_size(const record_req *h)
{
    return h->resp.len + h->headers.len + h->n_reads * sizeof(read_ent) +
           (h->body ? strlen(h->body) : 0);
}

/* ---- redaction ---- */

/* Overwrites every occurrence of key in data with '*' (sizes unchanged, so
 * reads.tsv still adds up). */
static void mask_key(char *data, size_t len, const char *key)
{
    if (!key || !data)
        return;
    size_t k = strlen(key);
    if (!k || k > len)
        return;
    for (size_t i = 0; i + k <= len;) {
        if (data[i] == key[0] && memcmp(data + i, key, k) == 0) {
            memset(data + i, '*', k);
            i += k;
        } else {
            i++;
        }
    }
}

static const char *const SECRET_HEADERS[] = {
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
};

static bool secret_header(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof SECRET_HEADERS / sizeof SECRET_HEADERS[0]; i++)
        if (strlen(SECRET_HEADERS[i]) == n && strncasecmp(name, SECRET_HEADERS[i], n) == 0)
            return true;
    return false;
}

/* The header block with credential values replaced by "[redacted]". */
static void redact_headers(const buf *in, buf *out)
{
    const char *p = in->data, *end = in->data ? in->data + in->len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;
        const char *colon = memchr(p, ':', (size_t)(stop - p));
        if (colon && secret_header(p, (size_t)(colon - p))) {
            buf_append(out, p, (size_t)(colon - p));
            buf_append_str(out, ": [redacted]");
            /* keep the line's own ending */
            if (stop > p && stop[-1] == '\n')
                buf_append_str(out, stop - 1 > p && stop[-2] == '\r' ? "\r\n" : "\n");
        } else {
            buf_append(out, p, (size_t)(stop - p));
        }
        p = stop;
    }
}

static const char *const SECRET_PARAMS[] = {
    "key", "api_key", "api-key", "apikey", "access_token", "token", "sig", "signature", "password",
};

static bool secret_param(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof SECRET_PARAMS / sizeof SECRET_PARAMS[0]; i++)
        if (strlen(SECRET_PARAMS[i]) == n && strncasecmp(name, SECRET_PARAMS[i], n) == 0)
            return true;
    return false;
}

/* The URL without user info and with key-like query values redacted. */
static void redact_url(const char *url, buf *out)
{
    const char *scheme = strstr(url, "://");
    const char *p = url;
    if (scheme) {
        const char *auth = scheme + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', alen);
        buf_append(out, url, (size_t)(auth - url));
        if (at) {
            buf_append_str(out, "[redacted]");
            p = at;
        } else {
            p = auth;
        }
    }
    const char *q = strchr(p, '?');
    if (!q) {
        buf_append_str(out, p);
        return;
    }
    buf_append(out, p, (size_t)(q + 1 - p));
    p = q + 1;
    while (*p) {
        size_t plen = strcspn(p, "&#");
        const char *eq = memchr(p, '=', plen);
        if (eq && secret_param(p, (size_t)(eq - p))) {
            buf_append(out, p, (size_t)(eq + 1 - p));
            buf_append_str(out, "[redacted]");
        } else {
            buf_append(out, p, plen);
        }
        p += plen;
        if (*p == '#') {
            buf_append_str(out, p);
            return;
        }
        if (*p == '&') {
            buf_append_str(out, "&");
            p++;
        }
    }
}

/* ---- writing ---- */

static int write_file(const char *dir, const char *name, const char *data, size_t len, char *err,
                      size_t errlen)
{
    buf path;
    buf_init(&path, 0);
    buf_printf(&path, "%s/%s", dir, name);
    int rc = 0;
    FILE *f = fopen(path.data, "wb");
    if (!f) {
        rc = fail(err, errlen, "--record: cannot create %s: %s", path.data, strerror(errno));
    } else {
        bool bad = len && fwrite(data, 1, len, f) != len;
        if (fclose(f) != 0 || bad)
            rc = fail(err, errlen, "--record: cannot write %s: %s", path.data, strerror(errno));
    }
    buf_free(&path);
    return rc;
}

/* The status of the last response block in the headers, or 0. */
static long header_status(const buf *h)
{
    long status = 0;
    const char *p = h->data, *end = h->data ? h->data + h->len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (stop - p > 5 && strncmp(p, "HTTP/", 5) == 0) {
            const char *sp = memchr(p, ' ', (size_t)(stop - p));
            if (sp && stop - sp >= 4 && sp[1] >= '1' && sp[1] <= '5' && sp[2] >= '0' &&
                sp[2] <= '9' && sp[3] >= '0' && sp[3] <= '9')
                status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        }
        p = nl ? nl + 1 : end;
    }
    return status;
}

static char *meta_json(const record *rec, const record_req *h)
{
    cJSON *m = cJSON_CreateObject();
    buf url;
    buf_init(&url, 0);
    redact_url(h->url, &url);
    mask_key(url.data, url.len, rec->api_key);
    cJSON_AddStringToObject(m, "url", url.data ? url.data : "");
    buf_free(&url);
    cJSON_AddStringToObject(m, "method", h->body ? "POST" : "GET");
    if (rec->wall0_ns)
        cJSON_AddNumberToObject(
            m, "start_unix_ms",
            (double)((rec->wall0_ns + (h->start_ns - rec->mono0_ns)) / 1000000));
    else
        cJSON_AddNullToObject(m, "start_unix_ms");
    if (h->headers_ns)
        cJSON_AddNumberToObject(m, "headers_us", (double)((h->headers_ns - h->start_ns) / 1000));
    else
        cJSON_AddNullToObject(m, "headers_us");
    long status = header_status(&h->headers);
    if (status)
        cJSON_AddNumberToObject(m, "status", (double)status);
    else
        cJSON_AddNullToObject(m, "status");
    cJSON_AddStringToObject(m, "tokbench_version", TOKBENCH_VERSION);
    if (h->error) {
        char *e = xstrdup(h->error);
        mask_key(e, strlen(e), rec->api_key);
        cJSON_AddStringToObject(m, "error", e);
        free(e);
    } else {
        cJSON_AddNullToObject(m, "error");
    }
    /* Extras, not needed for replay. */
    if (h->label)
        cJSON_AddStringToObject(m, "label", h->label);
    cJSON_AddNumberToObject(m, "end_us", (double)((h->end_ns - h->start_ns) / 1000));
    cJSON_AddNumberToObject(m, "bytes", (double)h->resp.len);
    cJSON_AddNumberToObject(m, "reads", (double)h->n_reads);
    cJSON_AddBoolToObject(m, "truncated", h->truncated || h->headers_truncated);
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    char *copy = xstrdup(text ? text : "{}");
    cJSON_free(text);
    return copy;
}

static int write_entry(record *rec, record_req *h, char *err, size_t errlen)
{
    buf part, final;
    buf_init(&part, 0);
    buf_init(&final, 0);
    buf_printf(&final, "%s/%06zu", rec->dir, h->index);
    buf_printf(&part, "%s.part", final.data);
    int rc = 0;
    if (mkdir(part.data, 0777) != 0) {
        rc = fail(err, errlen, "--record: cannot create %s: %s", part.data, strerror(errno));
        goto out;
    }
    if (h->body) {
        size_t n = strlen(h->body);
        mask_key(h->body, n, rec->api_key);
        rc |= write_file(part.data, "request.json", h->body, n, err, errlen);
    }
    if (h->headers.len) {
        buf hb;
        buf_init(&hb, 0);
        redact_headers(&h->headers, &hb);
        mask_key(hb.data, hb.len, rec->api_key);
        rc |= write_file(part.data, "response.headers", hb.data, hb.len, err, errlen);
        buf_free(&hb);
    }
    mask_key(h->resp.data, h->resp.len, rec->api_key);
    rc |= write_file(part.data, "response.body", h->resp.data, h->resp.len, err, errlen);
    buf reads;
    buf_init(&reads, 0);
    buf_append_str(&reads, "t_us\tnbytes\n");
    for (size_t i = 0; i < h->n_reads; i++)
        buf_printf(&reads, "%lld\t%zu\n", (long long)h->reads[i].t_us, h->reads[i].nbytes);
    rc |= write_file(part.data, "reads.tsv", reads.data, reads.len, err, errlen);
    buf_free(&reads);
    char *meta = meta_json(rec, h);
    rc |= write_file(part.data, "meta.json", meta, strlen(meta), err, errlen);
    free(meta);
    if (rc == 0 && rename(part.data, final.data) != 0)
        rc = fail(err, errlen, "--record: cannot rename %s: %s", part.data, strerror(errno));
out:
    buf_free(&part);
    buf_free(&final);
    return rc ? -1 : 0;
}

/* Unlinks h from the pending list. */
static void detach(record *rec, record_req *h)
{
    record_req **pp = &rec->head, *prev = NULL;
    while (*pp && *pp != h) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = h->next;
    if (rec->tail == h)
        rec->tail = prev;
    h->next = NULL;
}

int record_end(record_req *h, int64_t end_ns, int64_t headers_ns, const char *error)
{
    if (!h || h->finished)
        return 0;
    record *rec = h->owner;
    h->finished = true;
    h->end_ns = end_ns;
    h->headers_ns = headers_ns;
    h->error = error ? xstrdup(error) : NULL;
    rec->pending_bytes += req_size(h);
    if (rec->pending_bytes <= rec->max_pending)
        return 0;
    /* Too much waiting in memory: this one goes to disk now. */
    rec->pending_bytes -= req_size(h);
    detach(rec, h);
    int rc = write_entry(rec, h, NULL, 0);
    req_free(h);
    return rc;
}

int record_flush(record *rec, char *err, size_t errlen)
{
    if (!rec)
        return 0;
    int rc = 0;
    record_req *h = rec->head;
    while (h) {
        record_req *next = h->next;
        if (h->finished) {
            char e[512];
            if (write_entry(rec, h, e, sizeof e) && rc == 0)
                rc = fail(err, errlen, "%s", e);
            rec->pending_bytes -= req_size(h);
            detach(rec, h);
            req_free(h);
        }
        h = next;
    }
    return rc;
}

int record_close(record *rec, char *err, size_t errlen)
{
    if (!rec)
        return 0;
    for (record_req *h = rec->head, *next; h; h = next) {
        next = h->next; /* record_end may write and free h */
        if (!h->finished)
            record_end(h, h->start_ns + h->last_t_us * 1000, h->headers_ns,
                       "not finished when the recording ended");
    }
    int rc = record_flush(rec, err, errlen);
    free(rec->dir);
    free(rec->api_key);
    free(rec);
    return rc;
}
