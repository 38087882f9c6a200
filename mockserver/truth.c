#include "truth.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/xalloc.h"

/* Records live at slot seq % capacity; seq 0 marks an empty slot, so request
 * numbers start at 1. A slot keeps the newest record that maps to it. */
struct truth_log {
    pthread_mutex_t lock;
    int64_t origin_ns;
    size_t capacity;
    uint64_t max_seq;
    truth_record *slots;
};

truth_log *truth_new(size_t capacity, int64_t origin_ns)
{
    truth_log *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->origin_ns = origin_ns;
    t->capacity = capacity ? capacity : 1;
    t->slots = xcalloc(t->capacity, sizeof *t->slots);
    return t;
}

void truth_free(truth_log *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->capacity; i++) {
        free(t->slots[i].events);
        free(t->slots[i].fault);
    }
    free(t->slots);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int64_t truth_origin_ns(const truth_log *t)
{
    return t->origin_ns;
}

void truth_record_init(truth_record *r, uint64_t seq, const char *id, int64_t arrival_ns)
{
    memset(r, 0, sizeof *r);
    r->seq = seq;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->arrival_ns = arrival_ns;
    r->admit_ns = r->prefill_end_ns = r->finish_ns = -1;
}

void truth_record_add_event(truth_record *r, int64_t t_ns, int64_t scheduled_ns,
                            size_t n_tokens, size_t bytes)
{
    if (r->n_events == r->cap_events) {
        r->cap_events = r->cap_events ? r->cap_events * 2 : 16;
        r->events = xrealloc(r->events, r->cap_events * sizeof *r->events);
    }
    truth_event *e = &r->events[r->n_events++];
    e->t_ns = t_ns;
    e->scheduled_ns = scheduled_ns;
    e->n_tokens = (uint32_t)n_tokens;
    e->bytes = (uint32_t)bytes;
}

void truth_record_set_fault(truth_record *r, const char *text)
{
    free(r->fault);
    r->fault = text && *text ? xstrdup(text) : NULL;
}

void truth_record_clear(truth_record *r)
{
    free(r->events);
    r->events = NULL;
    free(r->fault);
    r->fault = NULL;
    r->n_events = r->cap_events = 0;
}

void truth_commit(truth_log *t, truth_record *r)
{
    pthread_mutex_lock(&t->lock);
    truth_record *slot = &t->slots[r->seq % t->capacity];
    if (slot->seq <= r->seq) {
        free(slot->events);
        free(slot->fault);
        *slot = *r;
        if (r->seq > t->max_seq)
            t->max_seq = r->seq;
        r->events = NULL;
        r->fault = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    truth_record_clear(r);
}

/* Microseconds since origin, or null for "never". */
static int time_field(buf *out, const truth_log *t, const char *name, int64_t ns)
{
    if (ns < 0)
        return buf_printf(out, ",\"%s\":null", name);
    return buf_printf(out, ",\"%s\":%" PRId64, name, (ns - t->origin_ns) / CLOCK_NS_PER_US);
}

int truth_write_record(const truth_log *t, const truth_record *r, buf *out)
{
    int rc = buf_append_str(out, "{\"id\":\"");
    rc |= buf_append_json_escaped(out, r->id, strlen(r->id));
    rc |= buf_append_str(out, "\"");
    rc |= time_field(out, t, "arrival_us", r->arrival_ns);
    rc |= time_field(out, t, "admit_us", r->admit_ns);
    rc |= time_field(out, t, "prefill_end_us", r->prefill_end_ns);
    rc |= buf_printf(out, ",\"prompt_tokens\":%zu,\"cached_tokens\":%zu,\"events\":[",
                     r->prompt_tokens, r->cached_tokens);
    for (size_t i = 0; i < r->n_events; i++) {
        const truth_event *e = &r->events[i];
        rc |= buf_printf(out, "%s[%" PRId64 ",%" PRIu32 ",%" PRIu32 "]", i ? "," : "",
                         (e->t_ns - t->origin_ns) / CLOCK_NS_PER_US, e->n_tokens, e->bytes);
    }
    rc |= buf_append_str(out, "],\"scheduled_us\":[");
    for (size_t i = 0; i < r->n_events; i++) {
        const truth_event *e = &r->events[i];
        if (e->scheduled_ns < 0)
            rc |= buf_append_str(out, i ? ",null" : "null");
        else
            rc |= buf_printf(out, "%s%" PRId64, i ? "," : "",
                             (e->scheduled_ns - t->origin_ns) / CLOCK_NS_PER_US);
    }
    rc |= buf_printf(out, "],\"completion_tokens\":%zu", r->completion_tokens);
    rc |= time_field(out, t, "finish_us", r->finish_ns);
    rc |= buf_printf(out, ",\"status\":%d,\"disconnected\":%s,\"stream\":%s", r->status,
                     r->disconnected ? "true" : "false", r->stream ? "true" : "false");
    if (r->finish_reason)
        rc |= buf_printf(out, ",\"finish_reason\":\"%s\"", r->finish_reason);
    else
        rc |= buf_append_str(out, ",\"finish_reason\":null");
    if (r->fault) {
        rc |= buf_append_str(out, ",\"fault\":\"");
        rc |= buf_append_json_escaped(out, r->fault, strlen(r->fault));
        rc |= buf_append_str(out, "\"");
    } else {
        rc |= buf_append_str(out, ",\"fault\":null");
    }
    rc |= buf_append_str(out, "}");
    return rc;
}

int truth_write_all(truth_log *t, buf *out)
{
    pthread_mutex_lock(&t->lock);
    int rc = buf_printf(out, "{\"origin_monotonic_ns\":%" PRId64 ",\"requests\":[", t->origin_ns);
    uint64_t first = t->max_seq >= t->capacity ? t->max_seq - t->capacity + 1 : 1;
    int any = 0;
    for (uint64_t seq = first; seq && seq <= t->max_seq; seq++) {
        const truth_record *r = &t->slots[seq % t->capacity];
        if (r->seq != seq)
            continue;
        if (any)
            rc |= buf_append_str(out, ",");
        rc |= truth_write_record(t, r, out);
        any = 1;
    }
    rc |= buf_append_str(out, "]}");
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int truth_write_one(truth_log *t, const char *id, buf *out)
{
    /* Ids end in "-<seq>": find the slot directly, then confirm the id. */
    const char *dash = strrchr(id, '-');
    if (!dash || !dash[1])
        return -1;
    char *end;
    unsigned long long seq = strtoull(dash + 1, &end, 10);
    if (*end != '\0' || seq == 0)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&t->lock);
    const truth_record *r = &t->slots[seq % t->capacity];
    if (r->seq == seq && strcmp(r->id, id) == 0)
        rc = truth_write_record(t, r, out) ? -1 : 0;
    pthread_mutex_unlock(&t->lock);
    return rc;
}
