/* The per-request record: life cycle and names. The stream reader that fills
 * it lives in stream.c. */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/xalloc.h"

void stream_state_free(void *state); /* stream.c */

const char *count_source_name(enum count_source s)
{
    switch (s) {
    case COUNT_TOKEN_IDS:
        return "token_ids";
    case COUNT_EVENT_USAGE:
        return "usage_per_event";
    case COUNT_FINAL_USAGE:
        return "usage_spread";
    case COUNT_ONE_PER_EVENT:
        return "events (estimate)";
    case COUNT_NONE:
        break;
    }
    return "none";
}

void request_init(tb_request *r)
{
    memset(r, 0, sizeof *r);
    r->prompt_tokens = -1;
    r->completion_tokens = -1;
    r->cached_tokens = -1;
    r->timings = (tb_server_timings){-1, -1, -1, -1, -1, -1, -1};
}

void request_clear(tb_request *r)
{
    free(r->error);
    free(r->events);
    free(r->finish_reason);
    free(r->content);
    free(r->id);
    free(r->model);
    stream_state_free(r->stream);
    request_init(r);
}

static void set_error_v(tb_request *r, const char *kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void set_error_v(tb_request *r, const char *kind, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (kind)
        snprintf(r->error_kind, sizeof r->error_kind, "%s", kind);
    else if (!r->error_kind[0])
        snprintf(r->error_kind, sizeof r->error_kind, "%s", FAIL_OTHER);
    /* Keep the message on one line. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    free(r->error);
    r->error = xstrdup(msg);
}

void request_set_error(tb_request *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(r, NULL, fmt, ap);
    va_end(ap);
}

void request_fail(tb_request *r, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(r, kind, fmt, ap);
    va_end(ap);
}
