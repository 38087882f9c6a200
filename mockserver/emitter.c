#include "emitter.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/xalloc.h"

/* ------------------------------------------------------------- pure core */

#define NOT_IN_HEAP ((size_t)-1)

/* A queued item and its push order, which breaks ties between equal due
 * times so the order across streams does not depend on the heap's shape. */
typedef struct slot {
    emitter_item item;
    uint64_t seq;
} slot;

struct emitter_stream {
    void *user;
    slot *ring; /* FIFO: count items from head, wrapping at cap */
    size_t head, count, cap;
    int64_t last_due_ns; /* where an item without a due time goes */
    size_t heap_at;      /* index in the heap, or NOT_IN_HEAP */
    size_t taken_n_gen;  /* n_gen_after of the item being written */
    size_t n_gen_done;
    enum emitter_wait wait;
    int busy, failed, dropped;
    emitter_stream *prev, *next; /* every open stream, for stop() */
};

/* A heap entry carries its stream's head key, so sifting reads one array. */
typedef struct hent {
    int64_t due_ns;
    uint64_t seq;
    emitter_stream *st;
} hent;

struct emitter_core {
    size_t high_water, low_water;
    hent *heap; /* min-heap on (head due, head seq) */
    size_t n_heap, cap_heap;
    emitter_stream *streams;
    uint64_t next_seq;
    int stopping;
};

static const slot *head_slot(const emitter_stream *st)
{
    return &st->ring[st->head];
}

/* a before b in the heap order. */
static int earlier(const hent *a, const hent *b)
{
    if (a->due_ns != b->due_ns)
        return a->due_ns < b->due_ns;
    return a->seq < b->seq;
}

static void heap_set(emitter_core *c, size_t i, hent e)
{
    c->heap[i] = e;
    e.st->heap_at = i;
}

static void sift_up(emitter_core *c, size_t i)
{
    hent e = c->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&e, &c->heap[parent]))
            break;
        heap_set(c, i, c->heap[parent]);
        i = parent;
    }
    heap_set(c, i, e);
}

static void sift_down(emitter_core *c, size_t i)
{
    hent e = c->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= c->n_heap)
            break;
        if (child + 1 < c->n_heap && earlier(&c->heap[child + 1], &c->heap[child]))
            child++;
        if (!earlier(&c->heap[child], &e))
            break;
        heap_set(c, i, c->heap[child]);
        i = child;
    }
    heap_set(c, i, e);
}

/* Enters st, whose queue is not empty, keyed by its head item. */
static void heap_insert(emitter_core *c, emitter_stream *st)
{
    if (c->n_heap == c->cap_heap) {
        c->cap_heap = c->cap_heap ? c->cap_heap * 2 : 64;
        c->heap = xrealloc(c->heap, c->cap_heap * sizeof *c->heap);
    }
    const slot *head = head_slot(st);
    hent e = {.due_ns = head->item.due_ns, .seq = head->seq, .st = st};
    heap_set(c, c->n_heap++, e);
    sift_up(c, st->heap_at);
}

static void heap_remove(emitter_core *c, emitter_stream *st)
{
    size_t i = st->heap_at;
    if (i == NOT_IN_HEAP)
        return;
    st->heap_at = NOT_IN_HEAP;
    hent last = c->heap[--c->n_heap];
    if (i == c->n_heap)
        return;
    heap_set(c, i, last);
    sift_down(c, i);
    sift_up(c, last.st->heap_at);
}

static void free_queue(emitter_stream *st)
{
    for (size_t k = 0; k < st->count; k++)
        free(st->ring[(st->head + k) % st->cap].item.data);
    st->head = st->count = 0;
}

emitter_core *emitter_core_new(size_t high_water, size_t low_water)
{
    emitter_core *c = xcalloc(1, sizeof *c);
    c->high_water = high_water ? high_water : 1;
    c->low_water = low_water < c->high_water ? low_water : c->high_water - 1;
    return c;
}

void emitter_core_free(emitter_core *c)
{
    if (!c)
        return;
    while (c->streams) {
        c->streams->busy = 0;
        emitter_core_close(c, c->streams);
    }
    free(c->heap);
    free(c);
}

emitter_stream *emitter_core_open(emitter_core *c, void *user, size_t n_gen_start)
{
    emitter_stream *st = xcalloc(1, sizeof *st);
    st->user = user;
    st->last_due_ns = INT64_MIN;
    st->heap_at = NOT_IN_HEAP;
    st->n_gen_done = n_gen_start;
    st->next = c->streams;
    if (c->streams)
        c->streams->prev = st;
    c->streams = st;
    return st;
}

void emitter_core_close(emitter_core *c, emitter_stream *st)
{
    if (!st)
        return;
    heap_remove(c, st);
    free_queue(st);
    if (st->prev)
        st->prev->next = st->next;
    else
        c->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    free(st->ring);
    free(st);
}

int emitter_core_push(emitter_core *c, emitter_stream *st, const emitter_item *it)
{
    if (st->failed || c->stopping) {
        free(it->data);
        return -1;
    }
    if (st->count == st->cap) {
        /* Grow and unwrap so the FIFO starts at 0 again. */
        size_t cap = st->cap ? st->cap * 2 : c->high_water + 1;
        slot *ring = xmalloc(cap * sizeof *ring);
        for (size_t k = 0; k < st->count; k++)
            ring[k] = st->ring[(st->head + k) % st->cap];
        free(st->ring);
        st->ring = ring;
        st->cap = cap;
        st->head = 0;
    }
    slot *s = &st->ring[(st->head + st->count) % st->cap];
    s->item = *it;
    /* FIFO order is never broken: an item due before the one ahead of it
     * simply waits its turn; one without a due time follows the last. */
    if (s->item.due_ns < 0)
        s->item.due_ns = st->last_due_ns;
    st->last_due_ns = s->item.due_ns;
    s->seq = c->next_seq++;
    st->count++;
    if (st->count > 1 || st->busy)
        return 0; /* the head did not change, or the stream is being written */
    heap_insert(c, st);
    return st->heap_at == 0 ? 1 : 0;
}

int64_t emitter_core_next_due(const emitter_core *c)
{
    if (c->stopping || c->n_heap == 0)
        return INT64_MAX;
    return c->heap[0].due_ns;
}

emitter_stream *emitter_core_take(emitter_core *c, int64_t now_ns, emitter_item *out)
{
    if (c->stopping || c->n_heap == 0)
        return NULL;
    if (c->heap[0].due_ns > now_ns)
        return NULL;
    emitter_stream *st = c->heap[0].st;
    const slot *s = head_slot(st);
    *out = s->item;
    st->head = (st->head + 1) % st->cap;
    st->count--;
    heap_remove(c, st);
    st->busy = 1;
    st->taken_n_gen = out->n_gen_after;
    return st;
}

int emitter_core_done(emitter_core *c, emitter_stream *st, int ok)
{
    st->busy = 0;
    st->n_gen_done = st->taken_n_gen;
    if (!ok) {
        st->failed = 1;
        if (st->count)
            st->dropped = 1;
        free_queue(st);
    } else if (st->count && !c->stopping) {
        heap_insert(c, st); /* when stopping, the producer drops the rest */
    }
    return st->wait != EMITTER_WAIT_NONE && emitter_core_wait_over(c, st);
}

void emitter_core_drop(emitter_core *c, emitter_stream *st)
{
    heap_remove(c, st);
    if (st->count)
        st->dropped = 1;
    free_queue(st);
}

void emitter_core_stop(emitter_core *c, void (*wake)(void *user, void *arg), void *arg)
{
    c->stopping = 1;
    for (emitter_stream *st = c->streams; st; st = st->next)
        if (st->wait != EMITTER_WAIT_NONE && wake)
            wake(st->user, arg);
}

int emitter_core_full(const emitter_core *c, const emitter_stream *st)
{
    return !st->failed && !c->stopping && st->count >= c->high_water;
}

void emitter_core_set_wait(emitter_stream *st, enum emitter_wait w)
{
    st->wait = w;
}

int emitter_core_wait_over(const emitter_core *c, const emitter_stream *st)
{
    switch (st->wait) {
    case EMITTER_WAIT_ROOM:
        return st->failed || c->stopping || st->count <= c->low_water;
    case EMITTER_WAIT_DRAIN:
        /* A write in progress always ends first: the producer may free
         * what the writer uses once this holds. */
        return !st->busy && (st->failed || c->stopping || st->count == 0);
    case EMITTER_WAIT_NONE: break;
    }
    return 1;
}

void *emitter_core_user(const emitter_stream *st)
{
    return st->user;
}

size_t emitter_core_queued(const emitter_stream *st)
{
    return st->count;
}

int emitter_core_busy(const emitter_stream *st)
{
    return st->busy;
}

int emitter_core_failed(const emitter_stream *st)
{
    return st->failed;
}

int emitter_core_dropped(const emitter_stream *st)
{
    return st->dropped;
}

size_t emitter_core_n_gen_done(const emitter_stream *st)
{
    return st->n_gen_done;
}

size_t emitter_core_n_ready(const emitter_core *c)
{
    return c->n_heap;
}

/* ------------------------------------------------------ threaded wrapper */

struct emitter_handle {
    emitter_stream *st;
    pthread_cond_t cond; /* the producer waits here */
    void *user;
};

/* Items one emitter thread takes under one hold of the lock. */
#define BATCH_MAX 16

/* A thread that is not the timer keeper still looks this long after the
 * earliest deadline. */
#define BACKUP_NS (2 * CLOCK_NS_PER_MS)

/* See maybe_grow(). */
#define GROW_LAG_NS (2 * CLOCK_NS_PER_MS)
#define GROW_INTERVAL_NS (20 * CLOCK_NS_PER_MS)

/* Timer wake-ups are at least this far apart: a wake-up costs more than a
 * write on a VM, so events due within the quantum after one are written
 * together, up to this much late, instead of one wake-up each. Events
 * further apart are written at their deadline. */
#define QUANTUM_NS (200 * CLOCK_NS_PER_US)

/* One thread at a time (the timer keeper) sleeps until the earliest due
 * time; the others wait until there is more due work than one thread takes,
 * so a deadline wakes one thread, not all of them. */
struct emitter {
    pthread_mutex_t lock;
    pthread_cond_t timer_cond; /* the keeper's timed wait */
    pthread_cond_t idle_cond;  /* the other threads; both on CLOCK_MONOTONIC */
    emitter_core *core;
    emitter_write_fn write;
    pthread_t *threads;
    int n_threads, max_threads;
    int64_t last_grow_ns;
    int realtime;        /* ask for SCHED_FIFO in each thread */
    int realtime_ok;     /* a thread got it: growing would not help */
    int keeper;          /* a thread is in the timed wait */
    int64_t keeper_until;
    int64_t last_timer_ns; /* when the keeper's timer last fired */
    int n_idle;          /* threads waiting on idle_cond */
    int deputy;          /* an idle thread with the backup timer */
    int shut;
};

static struct timespec to_timespec(int64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / CLOCK_NS_PER_S);
    ts.tv_nsec = (long)(ns % CLOCK_NS_PER_S);
    return ts;
}

static void wake_producer(void *user, void *arg)
{
    (void)arg;
    emitter_handle *h = user;
    pthread_cond_signal(&h->cond);
}

/* When the keeper should wake: the earliest deadline, but not sooner than a
 * quantum after its last timed wake-up. */
static int64_t timer_target(const emitter *e)
{
    int64_t due_ns = emitter_core_next_due(e->core);
    if (due_ns != INT64_MAX && due_ns < e->last_timer_ns + QUANTUM_NS)
        due_ns = e->last_timer_ns + QUANTUM_NS;
    return due_ns;
}

/* Waits (lock held) for work: as the timer keeper when there is none, else
 * until the keeper or a full batch asks for help, or a little after the
 * earliest deadline in case the threads that could have asked are all held
 * in writes (a client that stopped reading). */
static void wait_for_work(emitter *e)
{
    int64_t due_ns = emitter_core_next_due(e->core);
    if (e->keeper) {
        e->n_idle++;
        if (e->deputy || due_ns >= INT64_MAX - BACKUP_NS) {
            pthread_cond_wait(&e->idle_cond, &e->lock);
        } else {
            /* One idle thread (the deputy) keeps the backup timer. */
            e->deputy = 1;
            struct timespec ts = to_timespec(due_ns + BACKUP_NS);
            pthread_cond_timedwait(&e->idle_cond, &e->lock, &ts);
            e->deputy = 0;
        }
        e->n_idle--;
        return;
    }
    e->keeper = 1;
    due_ns = timer_target(e);
    e->keeper_until = due_ns;
    if (due_ns == INT64_MAX) {
        pthread_cond_wait(&e->timer_cond, &e->lock);
    } else {
        struct timespec ts = to_timespec(due_ns);
        if (pthread_cond_timedwait(&e->timer_cond, &e->lock, &ts) == ETIMEDOUT)
            e->last_timer_ns = due_ns;
    }
    e->keeper = 0;
}

static void *emitter_thread(void *arg);

/* Falling behind: the scheduler gives each thread an equal share, so on a
 * machine busy with other work a few emitter threads get too little CPU
 * while a thread per stream would get plenty. An emitter that takes an event
 * later than GROW_LAG_NS starts one more thread (at most one per
 * GROW_INTERVAL_NS, up to max_threads); they stay until shutdown. */
static void maybe_grow(emitter *e, int64_t oldest_due_ns, int64_t now_ns)
{
    if (e->realtime_ok || oldest_due_ns == INT64_MIN || oldest_due_ns >= now_ns - GROW_LAG_NS ||
        e->n_threads >= e->max_threads || now_ns - e->last_grow_ns < GROW_INTERVAL_NS)
        return;
    e->last_grow_ns = now_ns;
    if (pthread_create(&e->threads[e->n_threads], NULL, emitter_thread, e) == 0)
        e->n_threads++;
}

/* An emitter sleeps until a deadline and must then run at once, whatever
 * else the machine is doing: real-time scheduling at the lowest real-time
 * priority says so. It needs the privilege (CAP_SYS_NICE or RLIMIT_RTPRIO);
 * without it the thread keeps normal scheduling. Returns 1 when granted. */
static int ask_realtime(void)
{
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = sched_get_priority_min(SCHED_FIFO);
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
}

static void *emitter_thread(void *arg)
{
    emitter *e = arg;
    buf scratch;
    buf_init(&scratch, 0);
    emitter_item items[BATCH_MAX];
    emitter_stream *streams[BATCH_MAX];
    int realtime = e->realtime && ask_realtime();
    pthread_mutex_lock(&e->lock);
    if (realtime)
        e->realtime_ok = 1;
    while (!e->shut) {
        int64_t now_ns = clock_now_ns();
        size_t n = 0;
        while (n < BATCH_MAX &&
               (streams[n] = emitter_core_take(e->core, now_ns, &items[n])) != NULL)
            n++;
        if (n == 0) {
            wait_for_work(e);
            continue;
        }
        maybe_grow(e, items[0].due_ns, now_ns); /* taken in due order: the oldest */
        /* More is due than this batch: another thread helps. */
        if (e->n_idle && emitter_core_next_due(e->core) <= now_ns)
            pthread_cond_signal(&e->idle_cond);
        pthread_mutex_unlock(&e->lock);
        int rc[BATCH_MAX];
        for (size_t i = 0; i < n; i++) {
            emitter_handle *h = emitter_core_user(streams[i]);
            rc[i] = e->write(h->user, &items[i], &scratch);
            free(items[i].data);
        }
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < n; i++) {
            emitter_handle *h = emitter_core_user(streams[i]);
            if (emitter_core_done(e->core, streams[i], rc[i] == 0))
                pthread_cond_signal(&h->cond);
        }
    }
    pthread_mutex_unlock(&e->lock);
    buf_free(&scratch);
    return NULL;
}

emitter *emitter_new(int n_threads, int max_threads, int realtime, size_t high_water,
                     size_t low_water, emitter_write_fn write)
{
    if (n_threads < 1)
        return NULL;
    if (max_threads < n_threads)
        max_threads = n_threads;
    emitter *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->timer_cond, &attr);
    pthread_cond_init(&e->idle_cond, &attr);
    pthread_condattr_destroy(&attr);
    e->core = emitter_core_new(high_water, low_water);
    e->write = write;
    e->threads = xcalloc((size_t)max_threads, sizeof *e->threads);
    e->max_threads = max_threads;
    e->realtime = realtime;
    /* Under the lock: a started thread may already add threads itself. */
    pthread_mutex_lock(&e->lock);
    int ok = 1;
    for (int i = 0; i < n_threads && ok; i++) {
        ok = pthread_create(&e->threads[e->n_threads], NULL, emitter_thread, e) == 0;
        e->n_threads += ok;
    }
    pthread_mutex_unlock(&e->lock);
    if (!ok) {
        emitter_free(e);
        return NULL;
    }
    return e;
}

void emitter_shutdown(emitter *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->shut = 1;
    emitter_core_stop(e->core, wake_producer, NULL);
    pthread_cond_broadcast(&e->timer_cond);
    pthread_cond_broadcast(&e->idle_cond);
    pthread_mutex_unlock(&e->lock);
}

int emitter_realtime(emitter *e)
{
    pthread_mutex_lock(&e->lock);
    int ok = e->realtime_ok;
    pthread_mutex_unlock(&e->lock);
    return ok;
}

int emitter_n_threads(emitter *e)
{
    pthread_mutex_lock(&e->lock);
    int n = e->n_threads;
    pthread_mutex_unlock(&e->lock);
    return n;
}

void emitter_free(emitter *e)
{
    if (!e)
        return;
    emitter_shutdown(e);
    pthread_mutex_lock(&e->lock);
    int n = e->n_threads; /* no thread is added after the shutdown */
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < n; i++)
        pthread_join(e->threads[i], NULL);
    emitter_core_free(e->core);
    pthread_cond_destroy(&e->timer_cond);
    pthread_cond_destroy(&e->idle_cond);
    pthread_mutex_destroy(&e->lock);
    free(e->threads);
    free(e);
}

emitter_handle *emitter_open(emitter *e, void *user, size_t n_gen_start)
{
    emitter_handle *h = xcalloc(1, sizeof *h);
    pthread_cond_init(&h->cond, NULL);
    h->user = user;
    pthread_mutex_lock(&e->lock);
    h->st = emitter_core_open(e->core, h, n_gen_start);
    pthread_mutex_unlock(&e->lock);
    return h;
}

/* Waits (lock held) until the recorded wait is over. */
static void wait_for(emitter *e, emitter_handle *h, enum emitter_wait w)
{
    emitter_core_set_wait(h->st, w);
    while (!emitter_core_wait_over(e->core, h->st))
        pthread_cond_wait(&h->cond, &e->lock);
    emitter_core_set_wait(h->st, EMITTER_WAIT_NONE);
}

int emitter_push(emitter *e, emitter_handle *h, const emitter_item *it)
{
    pthread_mutex_lock(&e->lock);
    if (emitter_core_full(e->core, h->st))
        wait_for(e, h, EMITTER_WAIT_ROOM);
    int rc = emitter_core_push(e->core, h->st, it);
    if (rc == 1) {
        /* A new earliest deadline: the keeper re-arms its timer; without a
         * keeper an idle thread takes the timer (busy ones look again when
         * their batch is written). */
        if (e->keeper) {
            if (timer_target(e) < e->keeper_until)
                pthread_cond_signal(&e->timer_cond);
        } else if (e->n_idle) {
            pthread_cond_signal(&e->idle_cond);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return rc < 0 ? -1 : 0;
}

int emitter_drain(emitter *e, emitter_handle *h)
{
    pthread_mutex_lock(&e->lock);
    wait_for(e, h, EMITTER_WAIT_DRAIN);
    if (emitter_core_queued(h->st)) /* shut down before it was written */
        emitter_core_drop(e->core, h->st);
    int rc = emitter_core_failed(h->st) ? -1 : emitter_core_dropped(h->st) ? -2 : 0;
    pthread_mutex_unlock(&e->lock);
    return rc;
}

void emitter_close(emitter *e, emitter_handle *h, size_t *n_gen_done)
{
    if (!h)
        return;
    emitter_drain(e, h);
    pthread_mutex_lock(&e->lock);
    if (n_gen_done)
        *n_gen_done = emitter_core_n_gen_done(h->st);
    emitter_core_close(e->core, h->st);
    pthread_mutex_unlock(&e->lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}
