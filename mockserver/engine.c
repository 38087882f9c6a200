#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/xalloc.h"
#include "mockserver/shared.h"

struct mock_engine {
    pthread_mutex_t lock;
    /* Shared engine only (sched != NULL): the step scheduler, the thread
     * that plays it, and two conditions: work_cond wakes the thread (new
     * sequence, shutdown), played_cond wakes handlers (a step was decided). */
    shared_sched *sched;
    pthread_t thread;
    int have_thread;
    pthread_cond_t work_cond, played_cond;
    const sched_params *params; /* borrowed */
    int parallel;               /* 0 = unlimited */
    size_t kv_budget;           /* shared engine, 0 = none */
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

static void cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

static struct timespec to_timespec(int64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / CLOCK_NS_PER_S);
    ts.tv_nsec = (long)(ns % CLOCK_NS_PER_S);
    return ts;
}

/* The virtual accelerator: decides a step as soon as it can start, publishes
 * its events (each due at the step's end), then sleeps until that end on an
 * absolute deadline, so steps follow each other with no drift. */
static void *engine_thread(void *arg)
{
    mock_engine *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->shutting_down) {
        shared_step step;
        int64_t wake_ns;
        if (shared_next_step(e->sched, clock_now_ns(), &step, &wake_ns)) {
            pthread_cond_broadcast(&e->played_cond);
            continue;
        }
        if (wake_ns == INT64_MAX) {
            pthread_cond_wait(&e->work_cond, &e->lock);
        } else {
            struct timespec ts = to_timespec(wake_ns);
            pthread_cond_timedwait(&e->work_cond, &e->lock, &ts);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

mock_engine *engine_new_shared(int parallel, const sched_params *params, double batch_penalty,
                               size_t prefill_chunk)
{
    mock_engine *e = engine_new(parallel, params);
    e->sched = shared_new(params, batch_penalty, prefill_chunk);
    cond_init_monotonic(&e->work_cond);
    cond_init_monotonic(&e->played_cond);
    if (pthread_create(&e->thread, NULL, engine_thread, e) != 0) {
        fprintf(stderr, "tokmock: cannot start the engine thread\n");
        abort();
    }
    e->have_thread = 1;
    return e;
}

void engine_set_kv_budget(mock_engine *e, size_t kv_budget, int preempt)
{
    if (!e->sched)
        return;
    pthread_mutex_lock(&e->lock);
    e->kv_budget = kv_budget;
    shared_set_kv_budget(e->sched, kv_budget);
    shared_set_kv_preempt(e->sched, preempt);
    pthread_cond_signal(&e->work_cond);
    pthread_mutex_unlock(&e->lock);
}

void engine_free(mock_engine *e)
{
    if (!e)
        return;
    if (e->sched) {
        engine_shutdown(e);
        if (e->have_thread)
            pthread_join(e->thread, NULL);
        shared_free(e->sched);
        pthread_cond_destroy(&e->work_cond);
        pthread_cond_destroy(&e->played_cond);
    }
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
    cond_init_monotonic(&t->cond);
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
    struct timespec ts = to_timespec(until_ns);
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

void engine_play_start_ctx(mock_engine *e, engine_play *p, int64_t admit_ns,
                           size_t context_tokens, size_t uncached_tokens, size_t limit,
                           uint64_t seed)
{
    p->admit_ns = admit_ns;
    p->seq = NULL;
    if (!e->sched) {
        p->prefill_end_ns = sched_prefill_end_ns(e->params, admit_ns, uncached_tokens);
        sched_stream_init(&p->stream, e->params, p->prefill_end_ns, limit, seed);
        return;
    }
    /* The overhead is time before prefill that does not occupy the
     * accelerator: the sequence joins the prefill queue when it is over. */
    sched_stream_init(&p->stream, e->params, admit_ns, limit, seed); /* unused */
    pthread_mutex_lock(&e->lock);
    p->seq = shared_add(e->sched, admit_ns + e->params->overhead_ns, context_tokens,
                        uncached_tokens, limit, seed);
    pthread_cond_signal(&e->work_cond);
    while (!e->shutting_down && shared_seq_prefill_end_ns(p->seq) < 0)
        pthread_cond_wait(&e->played_cond, &e->lock);
    int64_t end_ns = shared_seq_prefill_end_ns(p->seq);
    p->prefill_end_ns = end_ns >= 0 ? end_ns : admit_ns;
    pthread_mutex_unlock(&e->lock);
}

void engine_play_start(mock_engine *e, engine_play *p, int64_t admit_ns, size_t uncached_tokens,
                       size_t limit, uint64_t seed)
{
    engine_play_start_ctx(e, p, admit_ns, uncached_tokens, uncached_tokens, limit, seed);
}

int engine_play_next(mock_engine *e, engine_play *p, int64_t *at_ns, size_t *n_tokens)
{
    if (!e->sched)
        return sched_stream_next(&p->stream, at_ns, n_tokens);
    if (!p->seq)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        if (shared_seq_pop(p->seq, at_ns, n_tokens)) {
            rc = 1;
            break;
        }
        if (shared_seq_finished(p->seq) || e->shutting_down)
            break;
        pthread_cond_wait(&e->played_cond, &e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

void engine_play_end(mock_engine *e, engine_play *p)
{
    if (!e->sched || !p->seq)
        return;
    pthread_mutex_lock(&e->lock);
    shared_remove(e->sched, p->seq);
    p->seq = NULL;
    pthread_cond_signal(&e->work_cond); /* KV room may have freed */
    pthread_mutex_unlock(&e->lock);
}

void engine_shutdown(mock_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->shutting_down = 1;
    for (engine_ticket *t = e->head; t; t = t->next)
        pthread_cond_signal(&t->cond);
    if (e->sched) {
        pthread_cond_broadcast(&e->work_cond);
        pthread_cond_broadcast(&e->played_cond);
    }
    pthread_mutex_unlock(&e->lock);
}

engine_counts engine_get_counts(mock_engine *e)
{
    engine_counts c = {0, 0, 0, 0, 0, 0};
    pthread_mutex_lock(&e->lock);
    c.running = e->running;
    c.waiting = e->waiting;
    if (e->sched) {
        shared_counts sc = shared_get_counts(e->sched);
        c.prefilling = (int)sc.prefilling;
        c.decoding = (int)sc.decoding;
        c.kv_tokens = sc.context_tokens;
        c.kv_budget = e->kv_budget;
        /* A request admitted to a slot but still waiting for KV room is
         * waiting, as vLLM counts it. */
        c.running -= (int)sc.kv_waiting;
        c.waiting += (int)sc.kv_waiting;
    }
    pthread_mutex_unlock(&e->lock);
    return c;
}
