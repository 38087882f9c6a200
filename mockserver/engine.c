#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/xalloc.h"

struct mock_engine {
    pthread_mutex_t lock;
    const sched_params *params; /* borrowed */
    int parallel;               /* 0 = unlimited */
    int running;
    int waiting;
    int shutting_down;
    engine_ticket *head, *tail; /* FIFO of waiting tickets */
};

mock_engine *engine_new(int parallel, const sched_params *params)
{
    mock_engine *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    e->params = params;
    e->parallel = parallel;
    return e;
}

void engine_free(mock_engine *e)
{
    if (!e)
        return;
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static int slot_free(const mock_engine *e)
{
    return e->parallel == 0 || e->running < e->parallel;
}

/* Called with the lock held: hands freed slots to the oldest waiters. */
static void admit_waiters(mock_engine *e)
{
    while (e->head && slot_free(e)) {
        engine_ticket *t = e->head;
        e->head = t->next;
        if (!e->head)
            e->tail = NULL;
        t->next = NULL;
        t->queued = 0;
        t->admitted = 1;
        e->running++;
        e->waiting--;
        pthread_cond_signal(&t->cond);
    }
}

void engine_enqueue(mock_engine *e, engine_ticket *t)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &attr);
    pthread_condattr_destroy(&attr);
    t->next = NULL;
    t->queued = 0;
    t->admitted = 0;

    pthread_mutex_lock(&e->lock);
    if (!e->head && slot_free(e) && !e->shutting_down) {
        t->admitted = 1;
        e->running++;
    } else {
        t->queued = 1;
        e->waiting++;
        if (e->tail)
            e->tail->next = t;
        else
            e->head = t;
        e->tail = t;
    }
    pthread_mutex_unlock(&e->lock);
}

/* Called with the lock held. */
static void unlink_ticket(mock_engine *e, engine_ticket *t)
{
    engine_ticket **pp = &e->head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = t->next;
        if (e->tail == t)
            e->tail = prev;
        e->waiting--;
    }
    t->next = NULL;
    t->queued = 0;
}

int engine_wait_admit(mock_engine *e, engine_ticket *t, int64_t until_ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(until_ns / CLOCK_NS_PER_S);
    ts.tv_nsec = (long)(until_ns % CLOCK_NS_PER_S);
    int rc;

    pthread_mutex_lock(&e->lock);
    while (!t->admitted && !e->shutting_down) {
        if (until_ns == INT64_MAX) {
            pthread_cond_wait(&t->cond, &e->lock);
        } else if (pthread_cond_timedwait(&t->cond, &e->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (t->admitted) {
        rc = 1;
    } else if (e->shutting_down) {
        if (t->queued)
            unlink_ticket(e, t);
        rc = -1;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

void engine_leave(mock_engine *e, engine_ticket *t)
{
    pthread_mutex_lock(&e->lock);
    if (t->queued) {
        unlink_ticket(e, t);
    } else if (t->admitted) {
        t->admitted = 0;
        e->running--;
    }
    if (!e->shutting_down)
        admit_waiters(e);
    pthread_mutex_unlock(&e->lock);
    pthread_cond_destroy(&t->cond);
}

void engine_play_start(mock_engine *e, engine_play *p, int64_t admit_ns, size_t uncached_tokens,
                       size_t limit, uint64_t seed)
{
    p->admit_ns = admit_ns;
    p->prefill_end_ns = sched_prefill_end_ns(e->params, admit_ns, uncached_tokens);
    sched_stream_init(&p->stream, e->params, p->prefill_end_ns, limit, seed);
}

int engine_play_next(mock_engine *e, engine_play *p, int64_t *at_ns, size_t *n_tokens)
{
    (void)e; /* the independent engine needs no shared state */
    return sched_stream_next(&p->stream, at_ns, n_tokens);
}

void engine_shutdown(mock_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->shutting_down = 1;
    for (engine_ticket *t = e->head; t; t = t->next)
        pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&e->lock);
}

engine_counts engine_get_counts(mock_engine *e)
{
    engine_counts c;
    pthread_mutex_lock(&e->lock);
    c.running = e->running;
    c.waiting = e->waiting;
    pthread_mutex_unlock(&e->lock);
    return c;
}
