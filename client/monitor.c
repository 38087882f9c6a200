#include "client/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds key at the start of a line followed by sep; returns the value text. */
static const char *find_line(const char *text, const char *key, char sep)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, key, n) == 0 && p[n] == sep)
            return p + n + 1;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

static int64_t number_at(const char *v)
{
    if (!v)
        return -1;
    char *end;
    long long x = strtoll(v, &end, 10);
    return end == v || x < 0 ? -1 : (int64_t)x;
}

int64_t monitor_parse_status_kb(const char *text, const char *key)
{
    return number_at(find_line(text, key, ':'));
}

int64_t monitor_parse_vmstat(const char *text, const char *key)
{
    return number_at(find_line(text, key, ' '));
}

/* Reads a small /proc file (they report size 0, so read to EOF). */
static int slurp(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
    return 0;
}

void monitor_sample(long pid, monitor_sample_t *out)
{
    char text[16384];
    out->rss_kb = out->hwm_kb = out->pswpout = -1;
    if (pid > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
        if (slurp(path, text, sizeof text) == 0) {
            out->rss_kb = monitor_parse_status_kb(text, "VmRSS");
            out->hwm_kb = monitor_parse_status_kb(text, "VmHWM");
        }
    }
    if (slurp("/proc/vmstat", text, sizeof text) == 0)
        out->pswpout = monitor_parse_vmstat(text, "pswpout");
}
