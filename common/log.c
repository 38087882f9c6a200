#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int current_level = LOG_INFO;

/* Read and written only with stderr locked. */
static log_line_hook hook_before, hook_after;
static void *hook_ctx;

void log_set_line_hooks(log_line_hook before, log_line_hook after, void *ctx)
{
    flockfile(stderr);
    hook_before = before;
    hook_after = after;
    hook_ctx = ctx;
    funlockfile(stderr);
}

void log_set_level(enum log_level level)
{
    current_level = (int)level;
}

enum log_level log_get_level(void)
{
    return (enum log_level)current_level;
}

int log_parse_level(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"error: ", "warning: ", "", ""};
    if ((int)level > current_level)
        return;
    /* One formatted line, one write: lines from threads do not interleave. */
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    flockfile(stderr);
    if (hook_before)
        hook_before(hook_ctx);
    fprintf(stderr, "%s%s\n", prefix[level], line);
    if (hook_after)
        hook_after(hook_ctx);
    funlockfile(stderr);
}
