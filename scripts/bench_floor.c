/* bench_floor: what the kernel alone costs per streamed token on this machine.
 *
 * Issue #9 asks for a client that spends <= 3 us of CPU per streamed token and
 * a mock server that sends 2000 streams x 50 tokens/s with p99 lateness
 * <= 1 ms on 2 shared cores. This program measures the FLOOR under those
 * targets: the cheapest possible loopback-TCP implementation, with no HTTP,
 * no JSON and no library, so that whatever our programs spend above these
 * figures is ours and whatever is below them is the kernel's (and the
 * hypervisor's: this is a paravirtualised guest where every syscall and
 * context switch is dear).
 *
 * One process, two threads (a paced sender and a receiver) over N loopback
 * TCP connections with TCP_NODELAY, as the real programs use. One process so
 * that each side's CPU is read exactly from its own thread CPU clock, with no
 * second process to start, find and stop; the cost of this choice is that a
 * switch between the two threads skips the address-space switch that a
 * client and a server in two processes pay, so the floor is, if anything,
 * slightly low.
 *
 *   A  receiver floor: N connections each fed a message of --msg-bytes
 *      (the size of one SSE token event) at --rate msg/s, evenly staggered;
 *      the receiver does epoll_wait, then per ready socket one recv (or recv
 *      until EAGAIN, the "drain" variant) and one clock_gettime per read.
 *      Reports receiver CPU us per message, messages per recv and per wait.
 *   B  sender floor: S streams at --rate msg/s sent by one thread that
 *      sleeps (clock_nanosleep TIMER_ABSTIME) until the earliest deadline of
 *      a binary heap and does one send per due message; the receiver of A
 *      ('one' variant) empties the other ends. Reports sender CPU us per
 *      message, emission lateness (send time minus scheduled time)
 *      p50/p99/max and the CPU of both threads against the 2 cores; again
 *      with the sender at SCHED_FIFO when the system permits it.
 *   C  the price of one trivial syscall, of clock_gettime (vDSO), of a
 *      thread CPU clock read and of a pipe round trip between two threads.
 *
 * Every level runs --warmup seconds, then --seconds measured; every socket is
 * closed (with SO_LINGER 0, so a run leaves no TIME_WAIT behind on a shared
 * machine) and every thread joined. It measures and never judges a run as
 * failed: exit 0 after printing, 2 on bad usage or a setup failure.
 * Run by scripts/bench-floor.sh. */
#define _GNU_SOURCE /* epoll, accept4, SOCK_NONBLOCK, gettid */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/numparse.h"

#define MAX_LEVELS 16
#define MAX_STREAMS 20000
#define LATE_BUCKETS 200000 /* 1 us each: lateness up to 200 ms, then "over" */
#define EPOLL_BATCH 512

enum { PHASE_WARM, PHASE_MEASURE, PHASE_STOP };

typedef struct opts {
    double seconds, warmup_s;
    int rate, msg_bytes;
    int recv_levels[MAX_LEVELS], n_recv;
    int send_levels[MAX_LEVELS], n_send;
    int do_a, do_b, do_c, try_fifo;
} opts;

typedef struct deadline {
    int64_t due_ns;
    int idx;
} deadline;

/* N connected pairs and the state the two threads share. Counters are
 * written by one thread each and published with relaxed stores so that the
 * main thread can snapshot them at the edges of the measured window. */
typedef struct rig {
    int n, rate, msg_bytes, drain;
    int *send_fd, *recv_fd;
    int epfd;
    int64_t start_ns;
    _Atomic int phase;
    _Atomic int recv_tid, send_tid;
    _Atomic unsigned long long r_bytes, r_reads, r_calls, r_waits;
    _Atomic unsigned long long s_sent, s_short;
    /* Owned by the sender; read by main only after the join. */
    uint32_t *late_hist;
    unsigned long long late_n, late_over;
    int64_t late_max_ns;
} rig;

typedef struct snap {
    int64_t wall_ns, cpu_send_ns, cpu_recv_ns;
    unsigned long long r_bytes, r_reads, r_calls, r_waits, s_sent, s_short;
    long long cs_recv_vol, cs_send_vol;
} snap;

typedef struct result {
    double seconds, msgs_sent, msgs_recv, recv_cpu_s, send_cpu_s;
    double reads, calls, waits, s_short, cs_recv_vol, cs_send_vol;
    double late_p50_ms, late_p99_ms, late_max_ms, late_over;
    double load1;
    int fifo_rc; /* 0 applied (or not asked), else the errno of the refusal */
} result;

/* ------------------------------------------------------------------ util */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_floor [--seconds S] [--warmup S] [--rate R] [--msg-bytes B]\n"
            "                   [--recv-levels 1,32,128,512,1024] [--send-levels 500,1000,2000]\n"
            "                   [--sections ABC] [--no-fifo] [--help]\n"
            "  --seconds S      measured time per level (default 3)\n"
            "  --warmup S       unmeasured time before each level (default 0.5)\n"
            "  --rate R         messages per second per connection (default 50)\n"
            "  --msg-bytes B    bytes per message, one SSE token event (default 120)\n"
            "  --recv-levels    connection counts for section A (receiver floor)\n"
            "  --send-levels    stream counts for section B (sender floor)\n"
            "  --sections       which of A, B, C to run (default ABC)\n"
            "  --no-fifo        do not try the SCHED_FIFO sender rows in section B\n"
            "Exit 0 after printing (it measures, it does not gate); 2 on bad usage\n"
            "or a setup failure.\n");
}

static int parse_levels(const char *s, int *levels, int *n)
{
    char tmp[256];
    if (strlen(s) >= sizeof tmp)
        return -1;
    memcpy(tmp, s, strlen(s) + 1);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (*n >= MAX_LEVELS || parse_long_in(tok, 1, MAX_STREAMS, &v))
            return -1;
        levels[(*n)++] = (int)v;
    }
    return *n > 0 ? 0 : -1;
}

static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* Sums over all CPUs from /proc/stat, in ticks: steal (time the hypervisor
 * ran something else while a vCPU wanted to run) and the total. */
static int cpu_steal_ticks(unsigned long long *steal, unsigned long long *total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return -1;
    *steal = v[7];
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    return 0;
}

static void print_loadavg(const char *label)
{
    char line[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            snprintf(line, sizeof line, "?");
        fclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    printf("%s load average: %s\n", label, line);
}

/* The first number in a file (a sysctl), -1 when unreadable. */
static long read_long_file(const char *path)
{
    long v = -1;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Voluntary context switches of one thread of this process, -1 if unknown. */
static long long voluntary_switches(int tid)
{
    char path[64], line[128];
    long long v = -1;
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static int64_t cpu_ns(pthread_t t)
{
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(t, &cid) || clock_gettime(cid, &ts))
        return 0;
    return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + ts.tv_nsec;
}

static void sleep_s(double s)
{
    clock_sleep_until_ns(clock_now_ns() + (int64_t)(s * 1e9));
}

/* ------------------------------------------------------------- the heap */

static void heap_sift_down(deadline *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].due_ns < h[m].due_ns)
            m = l;
        if (r < n && h[r].due_ns < h[m].due_ns)
            m = r;
        if (m == i)
            return;
        deadline t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* --------------------------------------------------------------- threads */

static void *receiver_main(void *arg)
{
    rig *r = arg;
    static _Thread_local char buf[65536];
    struct epoll_event ev[EPOLL_BATCH];
    unsigned long long bytes = 0, reads = 0, calls = 0, waits = 0;
    atomic_store(&r->recv_tid, (int)gettid());
    while (atomic_load_explicit(&r->phase, memory_order_relaxed) != PHASE_STOP) {
        int k = epoll_wait(r->epfd, ev, EPOLL_BATCH, 50);
        waits++;
        for (int i = 0; i < k; i++) {
            int fd = ev[i].data.fd;
            for (;;) {
                ssize_t got = recv(fd, buf, sizeof buf, 0);
                calls++;
                if (got > 0) {
                    struct timespec ts; /* the token's arrival time, as a client takes it */
                    clock_gettime(CLOCK_MONOTONIC, &ts);
                    bytes += (unsigned long long)got;
                    reads++;
                    if (r->drain)
                        continue;
                } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL); /* not expected while running */
                }
                break;
            }
        }
        atomic_store_explicit(&r->r_bytes, bytes, memory_order_relaxed);
        atomic_store_explicit(&r->r_reads, reads, memory_order_relaxed);
        atomic_store_explicit(&r->r_calls, calls, memory_order_relaxed);
        atomic_store_explicit(&r->r_waits, waits, memory_order_relaxed);
    }
    return NULL;
}

static void *sender_main(void *arg)
{
    rig *r = arg;
    int n = r->n;
    int64_t period_ns = CLOCK_NS_PER_S / r->rate;
    deadline *h = malloc((size_t)n * sizeof *h);
    char *msg = malloc((size_t)r->msg_bytes);
    unsigned long long sent = 0, shorts = 0;
    atomic_store(&r->send_tid, (int)gettid());
    if (!h || !msg) {
        fprintf(stderr, "bench_floor: out of memory in the sender\n");
        exit(2);
    }
    /* The shape of one SSE token event; the content does not matter. */
    memset(msg, 'x', (size_t)r->msg_bytes);
    memcpy(msg, "data: ", r->msg_bytes > 6 ? 6 : (size_t)r->msg_bytes);
    if (r->msg_bytes >= 2)
        msg[r->msg_bytes - 2] = msg[r->msg_bytes - 1] = '\n';
    /* Evenly staggered; ascending in i, so already a valid min-heap. */
    for (int i = 0; i < n; i++) {
        h[i].due_ns = r->start_ns + (int64_t)i * period_ns / n;
        h[i].idx = i;
    }
    while (atomic_load_explicit(&r->phase, memory_order_relaxed) != PHASE_STOP) {
        int64_t now = clock_now_ns();
        if (h[0].due_ns > now) {
            clock_sleep_until_ns(h[0].due_ns);
            now = clock_now_ns();
        }
        int measuring = atomic_load_explicit(&r->phase, memory_order_relaxed) == PHASE_MEASURE;
        /* Every message due by now, at most one round of the streams before
         * the stop flag is looked at again; each send timestamped first. */
        for (int k = 0; k < n && h[0].due_ns <= now; k++) {
            ssize_t w = send(r->send_fd[h[0].idx], msg, (size_t)r->msg_bytes,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w == r->msg_bytes)
                sent++;
            else
                shorts++;
            if (measuring) {
                int64_t late_ns = now - h[0].due_ns;
                int64_t us = late_ns / CLOCK_NS_PER_US;
                if (us < LATE_BUCKETS)
                    r->late_hist[us]++;
                else
                    r->late_over++;
                if (late_ns > r->late_max_ns)
                    r->late_max_ns = late_ns;
                r->late_n++;
            }
            h[0].due_ns += period_ns;
            heap_sift_down(h, n, 0);
            now = clock_now_ns();
        }
        atomic_store_explicit(&r->s_sent, sent, memory_order_relaxed);
        atomic_store_explicit(&r->s_short, shorts, memory_order_relaxed);
    }
    free(h);
    free(msg);
    return NULL;
}

/* ------------------------------------------------------------------ rigs */

/* TCP_NODELAY as the real programs; SO_LINGER 0 so that close leaves no
 * TIME_WAIT. */
static int set_nodelay_linger0(int fd)
{
    int one = 1;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg))
        return -1;
    return 0;
}

static void rig_close(rig *r)
{
    for (int i = 0; i < r->n; i++) {
        if (r->send_fd[i] >= 0)
            close(r->send_fd[i]);
        if (r->recv_fd[i] >= 0)
            close(r->recv_fd[i]);
    }
    if (r->epfd >= 0)
        close(r->epfd);
    free(r->send_fd);
    free(r->recv_fd);
    free(r->late_hist);
    free(r);
}

/* Opens n connected pairs through the listener: the accepted end sends
 * (the server's side), the connecting end receives (the client's side). */
static rig *rig_open(int listen_fd, const struct sockaddr_in *addr, int n, const opts *o,
                     int drain)
{
    rig *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->n = n;
    r->rate = o->rate;
    r->msg_bytes = o->msg_bytes;
    r->drain = drain;
    r->send_fd = malloc((size_t)n * sizeof(int));
    r->recv_fd = malloc((size_t)n * sizeof(int));
    r->late_hist = calloc(LATE_BUCKETS, sizeof(uint32_t));
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!r->send_fd || !r->recv_fd || !r->late_hist || r->epfd < 0) {
        fprintf(stderr, "bench_floor: setup: %s\n", strerror(errno ? errno : ENOMEM));
        r->n = 0;
        rig_close(r);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        r->send_fd[i] = r->recv_fd[i] = -1;
    for (int i = 0; i < n; i++) {
        const char *what = "socket";
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0)
            goto fail;
        r->recv_fd[i] = c;
        what = "connect";
        if (connect(c, (const struct sockaddr *)addr, sizeof *addr))
            goto fail;
        what = "accept";
        int a = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (a < 0)
            goto fail;
        r->send_fd[i] = a;
        what = "setsockopt";
        if (set_nodelay_linger0(a) || set_nodelay_linger0(c) ||
            fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK))
            goto fail;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
        what = "epoll_ctl";
        if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, c, &ev))
            goto fail;
        continue;
    fail:
        fprintf(stderr, "bench_floor: setup of connection %d of %d: %s: %s\n", i + 1, n, what,
                strerror(errno));
        rig_close(r);
        return NULL;
    }
    return r;
}

/* ------------------------------------------------------------ one level */

static void take_snap(rig *r, pthread_t sender, pthread_t receiver, snap *s)
{
    s->wall_ns = clock_now_ns();
    s->cpu_send_ns = cpu_ns(sender);
    s->cpu_recv_ns = cpu_ns(receiver);
    s->r_bytes = atomic_load_explicit(&r->r_bytes, memory_order_relaxed);
    s->r_reads = atomic_load_explicit(&r->r_reads, memory_order_relaxed);
    s->r_calls = atomic_load_explicit(&r->r_calls, memory_order_relaxed);
    s->r_waits = atomic_load_explicit(&r->r_waits, memory_order_relaxed);
    s->s_sent = atomic_load_explicit(&r->s_sent, memory_order_relaxed);
    s->s_short = atomic_load_explicit(&r->s_short, memory_order_relaxed);
    s->cs_recv_vol = voluntary_switches(atomic_load(&r->recv_tid));
    s->cs_send_vol = voluntary_switches(atomic_load(&r->send_tid));
}

/* Lateness at quantile q in ms, nearest rank, as the upper edge of its 1 us
 * bucket; the cap (200 ms) when the rank falls among the overflows. */
static double late_quantile_ms(const rig *r, double q)
{
    if (!r->late_n)
        return -1;
    unsigned long long rank = (unsigned long long)(q * (double)r->late_n);
    if ((double)rank < q * (double)r->late_n)
        rank++;
    if (rank == 0)
        rank = 1;
    unsigned long long cum = 0;
    for (int i = 0; i < LATE_BUCKETS; i++) {
        cum += r->late_hist[i];
        if (cum >= rank)
            return (double)(i + 1) / 1000.0;
    }
    return LATE_BUCKETS / 1000.0;
}

/* Runs one level: n pairs, warm-up, measured window, stop, join, close.
 * Returns 0, or -1 after printing why the setup failed. */
static int run_level(int listen_fd, const struct sockaddr_in *addr, const opts *o, int n,
                     int drain, int fifo, result *res)
{
    memset(res, 0, sizeof *res);
    rig *r = rig_open(listen_fd, addr, n, o, drain);
    if (!r)
        return -1;
    pthread_t sender, receiver;
    r->start_ns = clock_now_ns() + 5 * CLOCK_NS_PER_MS;
    if (pthread_create(&receiver, NULL, receiver_main, r)) {
        fprintf(stderr, "bench_floor: cannot start the receiver thread\n");
        rig_close(r);
        return -1;
    }
    if (pthread_create(&sender, NULL, sender_main, r)) {
        fprintf(stderr, "bench_floor: cannot start the sender thread\n");
        atomic_store(&r->phase, PHASE_STOP);
        pthread_join(receiver, NULL);
        rig_close(r);
        return -1;
    }
    if (fifo) {
        struct sched_param sp = {.sched_priority = 1};
        res->fifo_rc = pthread_setschedparam(sender, SCHED_FIFO, &sp);
    }
    sleep_s(o->warmup_s);
    for (int i = 0; i < 1000 && !(atomic_load(&r->recv_tid) && atomic_load(&r->send_tid)); i++)
        sleep_s(0.001);
    snap a, b;
    take_snap(r, sender, receiver, &a);
    atomic_store(&r->phase, PHASE_MEASURE);
    sleep_s(o->seconds);
    take_snap(r, sender, receiver, &b);
    atomic_store(&r->phase, PHASE_STOP);
    pthread_join(sender, NULL);
    pthread_join(receiver, NULL);

    res->seconds = (double)(b.wall_ns - a.wall_ns) / 1e9;
    res->msgs_sent = (double)(b.s_sent - a.s_sent);
    res->s_short = (double)(b.s_short - a.s_short);
    res->msgs_recv = (double)(b.r_bytes - a.r_bytes) / o->msg_bytes;
    res->reads = (double)(b.r_reads - a.r_reads);
    res->calls = (double)(b.r_calls - a.r_calls);
    res->waits = (double)(b.r_waits - a.r_waits);
    res->recv_cpu_s = (double)(b.cpu_recv_ns - a.cpu_recv_ns) / 1e9;
    res->send_cpu_s = (double)(b.cpu_send_ns - a.cpu_send_ns) / 1e9;
    res->cs_recv_vol = (a.cs_recv_vol < 0 || b.cs_recv_vol < 0)
                           ? -1
                           : (double)(b.cs_recv_vol - a.cs_recv_vol);
    res->cs_send_vol = (a.cs_send_vol < 0 || b.cs_send_vol < 0)
                           ? -1
                           : (double)(b.cs_send_vol - a.cs_send_vol);
    res->late_p50_ms = late_quantile_ms(r, 0.50);
    res->late_p99_ms = late_quantile_ms(r, 0.99);
    res->late_max_ms = r->late_n ? (double)r->late_max_ns / 1e6 : -1;
    res->late_over = (double)r->late_over;
    res->load1 = load1();
    rig_close(r);
    return 0;
}

static double per(double a, double b)
{
    return b > 0 ? a / b : 0;
}

/* --------------------------------------------------------------- section C */

static double median5(double *v)
{
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[2];
}

typedef struct pingpong {
    int to_peer[2], to_main[2];
    int rounds;
} pingpong;

static void *pong_main(void *arg)
{
    pingpong *p = arg;
    char c;
    for (int i = 0; i < p->rounds; i++) {
        if (read(p->to_peer[0], &c, 1) != 1 || write(p->to_main[1], &c, 1) != 1)
            break;
    }
    return NULL;
}

/* ns per round trip of one byte through two pipes between two threads:
 * two wake-ups (context switches or cross-CPU wake-ups) and four syscalls. */
static double pipe_round_trip_ns(int rounds)
{
    pingpong p = {.rounds = rounds};
    pthread_t t;
    double ns = -1;
    if (pipe(p.to_peer))
        return -1;
    if (pipe(p.to_main)) {
        close(p.to_peer[0]);
        close(p.to_peer[1]);
        return -1;
    }
    if (pthread_create(&t, NULL, pong_main, &p) == 0) {
        char c = 'x';
        int64_t t0 = clock_now_ns();
        int i;
        for (i = 0; i < rounds; i++)
            if (write(p.to_peer[1], &c, 1) != 1 || read(p.to_main[0], &c, 1) != 1)
                break;
        int64_t t1 = clock_now_ns();
        if (i < rounds) /* unblock the peer if we stopped early */
            close(p.to_peer[1]), p.to_peer[1] = -1;
        pthread_join(t, NULL);
        if (i == rounds)
            ns = (double)(t1 - t0) / rounds;
    }
    for (int k = 0; k < 2; k++) {
        if (p.to_peer[k] >= 0)
            close(p.to_peer[k]);
        close(p.to_main[k]);
    }
    return ns;
}

static void section_c(void)
{
    enum { REPS = 5 };
    double v[REPS], best;
    struct timespec ts;
    printf("\nC. Price of one call on this machine (best and median of %d repeats)\n", REPS);
    printf("%-52s %10s %10s\n", "call", "best ns", "median ns");

    for (int k = 0; k < REPS; k++) {
        const int n = 200000;
        int64_t t0 = clock_now_ns();
        for (int i = 0; i < n; i++)
            syscall(SYS_getppid);
        v[k] = (double)(clock_now_ns() - t0) / n;
    }
    best = v[0];
    for (int k = 1; k < REPS; k++)
        best = v[k] < best ? v[k] : best;
    printf("%-52s %10.0f %10.0f\n", "getppid() syscall", best, median5(v));

    for (int k = 0; k < REPS; k++) {
        const int n = 2000000;
        int64_t t0 = clock_now_ns();
        for (int i = 0; i < n; i++)
            clock_gettime(CLOCK_MONOTONIC, &ts);
        v[k] = (double)(clock_now_ns() - t0) / n;
    }
    best = v[0];
    for (int k = 1; k < REPS; k++)
        best = v[k] < best ? v[k] : best;
    printf("%-52s %10.0f %10.0f\n", "clock_gettime(CLOCK_MONOTONIC) (vDSO)", best, median5(v));

    for (int k = 0; k < REPS; k++) {
        const int n = 200000;
        int64_t t0 = clock_now_ns();
        for (int i = 0; i < n; i++)
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        v[k] = (double)(clock_now_ns() - t0) / n;
    }
    best = v[0];
    for (int k = 1; k < REPS; k++)
        best = v[k] < best ? v[k] : best;
    printf("%-52s %10.0f %10.0f\n", "clock_gettime(CLOCK_THREAD_CPUTIME_ID) (syscall)", best,
           median5(v));

    for (int k = 0; k < REPS; k++)
        v[k] = pipe_round_trip_ns(20000);
    best = v[0];
    for (int k = 1; k < REPS; k++)
        best = v[k] < best ? v[k] : best;
    printf("%-52s %10.0f %10.0f\n", "pipe round trip between 2 threads (2 wake-ups)", best,
           median5(v));
}

/* ------------------------------------------------------------------ main */

static int parse_args(int argc, char **argv, opts *o)
{
    static const int recv_default[] = {1, 32, 128, 512, 1024};
    static const int send_default[] = {500, 1000, 2000};
    memset(o, 0, sizeof *o);
    o->seconds = 3;
    o->warmup_s = 0.5;
    o->rate = 50;
    o->msg_bytes = 120;
    o->do_a = o->do_b = o->do_c = o->try_fifo = 1;
    o->n_recv = 5;
    memcpy(o->recv_levels, recv_default, sizeof recv_default);
    o->n_send = 3;
    memcpy(o->send_levels, send_default, sizeof send_default);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--no-fifo")) {
            o->try_fifo = 0;
            continue;
        }
        static const char *const valued[] = {"--seconds",     "--warmup",      "--rate",
                                             "--msg-bytes",   "--recv-levels", "--send-levels",
                                             "--sections"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(a, valued[k]);
        if (!known) {
            fprintf(stderr, "bench_floor: unknown option %s\n", a);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "bench_floor: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--seconds")) {
            if (parse_double_in(v, 0.1, 600, &o->seconds))
                goto bad;
        } else if (!strcmp(a, "--warmup")) {
            if (parse_double_in(v, 0, 60, &o->warmup_s))
                goto bad;
        } else if (!strcmp(a, "--rate")) {
            if (parse_long_in(v, 1, 100000, &l))
                goto bad;
            o->rate = (int)l;
        } else if (!strcmp(a, "--msg-bytes")) {
            if (parse_long_in(v, 1, 65536, &l))
                goto bad;
            o->msg_bytes = (int)l;
        } else if (!strcmp(a, "--recv-levels")) {
            if (parse_levels(v, o->recv_levels, &o->n_recv))
                goto bad;
        } else if (!strcmp(a, "--send-levels")) {
            if (parse_levels(v, o->send_levels, &o->n_send))
                goto bad;
        } else if (!strcmp(a, "--sections")) {
            o->do_a = strchr(v, 'A') || strchr(v, 'a');
            o->do_b = strchr(v, 'B') || strchr(v, 'b');
            o->do_c = strchr(v, 'C') || strchr(v, 'c');
            if (strspn(v, "ABCabc") != strlen(v) || !(o->do_a || o->do_b || o->do_c))
                goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "bench_floor: bad value for %s: %s\n", a, v);
        return -1;
    }
    return 0;
}

/* Two fds per connection plus a margin; raises the soft limit (and the hard
 * one when allowed). */
static int raise_nofile(int conns)
{
    rlim_t need = (rlim_t)conns * 2 + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return -1;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max < need)
        rl.rlim_max = need;
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl)) {
        fprintf(stderr,
                "bench_floor: %d connections need %llu file descriptors, and RLIMIT_NOFILE "
                "cannot be raised to that (%s); try ulimit -n %llu or fewer streams\n",
                conns, (unsigned long long)need, strerror(errno), (unsigned long long)need);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    int max_conns = 1;
    for (int i = 0; o.do_a && i < o.n_recv; i++)
        max_conns = o.recv_levels[i] > max_conns ? o.recv_levels[i] : max_conns;
    for (int i = 0; o.do_b && i < o.n_send; i++)
        max_conns = o.send_levels[i] > max_conns ? o.send_levels[i] : max_conns;
    if (raise_nofile(max_conns))
        return 2;

    struct utsname u;
    char clocksrc[64] = "?";
    FILE *cf = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (cf) {
        if (!fgets(clocksrc, sizeof clocksrc, cf))
            snprintf(clocksrc, sizeof clocksrc, "?");
        clocksrc[strcspn(clocksrc, "\n")] = 0;
        fclose(cf);
    }
    if (uname(&u))
        memset(&u, 0, sizeof u);
    printf("# bench_floor: kernel cost per streamed message, loopback TCP, TCP_NODELAY, "
           "one process, sender + receiver threads\n");
    printf("machine: nproc %ld, kernel %s %s %s, clocksource %s\n", sysconf(_SC_NPROCESSORS_ONLN),
           u.sysname, u.release, u.machine, clocksrc);
    print_loadavg("start");
    unsigned long long steal0 = 0, total0 = 0, steal1, total1;
    int have_steal = cpu_steal_ticks(&steal0, &total0) == 0;
    printf("settings: %.1f s measured per level after %.1f s warm-up, %d msg/s per connection, "
           "%d B per message\n",
           o.seconds, o.warmup_s, o.rate, o.msg_bytes);
    fflush(stdout);

    int listen_fd = -1;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    if (o.do_a || o.do_b) {
        socklen_t alen = sizeof addr;
        int one = 1;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
            bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) || listen(listen_fd, 4096) ||
            getsockname(listen_fd, (struct sockaddr *)&addr, &alen)) {
            fprintf(stderr, "bench_floor: cannot listen on 127.0.0.1: %s\n", strerror(errno));
            return 2;
        }
    }

    /* Kept for the verdict: the largest level of each section. */
    result a_best = {0}, b_other = {0}, b_fifo = {0};
    int a_n = 0, b_s = 0, have_a = 0, have_b = 0, have_fifo = 0, fifo_refused = 0;
    const char *a_variant = "";
    int rc = 0;

    if (o.do_a) {
        printf("\nA. Receiver floor (client side): N connections x %d msg/s, evenly staggered;\n"
               "   receiver = epoll_wait, then per ready socket recv ('one': once; 'drain': until\n"
               "   EAGAIN) + clock_gettime per read. us/msg = receiver thread CPU / messages.\n",
               o.rate);
        printf("%-6s %5s %8s %9s %8s %9s %8s %9s %9s %9s %5s\n", "recv", "N", "msg/s",
               "rx us/msg", "msg/recv", "calls/msg", "msg/wait", "sleep/msg", "tx us/msg",
               "feed p99", "load1");
        for (int i = 0; i < o.n_recv && !rc; i++) {
            int n = o.recv_levels[i];
            result best = {0};
            const char *best_variant = "";
            for (int drain = 0; drain < 2; drain++) {
                result r;
                if (run_level(listen_fd, &addr, &o, n, drain, 0, &r)) {
                    rc = 2;
                    break;
                }
                double msgs = r.msgs_recv;
                printf("%-6s %5d %8.0f %9.2f %8.2f %9.2f %8.2f %9.2f %9.2f %6.3f ms %5.2f\n",
                       drain ? "drain" : "one", n, per(msgs, r.seconds),
                       per(r.recv_cpu_s * 1e6, msgs), per(msgs, r.reads), per(r.calls, msgs),
                       per(msgs, r.waits), r.cs_recv_vol < 0 ? -1 : per(r.cs_recv_vol, msgs),
                       per(r.send_cpu_s * 1e6, r.msgs_sent), r.late_p99_ms, r.load1);
                fflush(stdout);
                if (!best_variant[0] ||
                    per(r.recv_cpu_s, msgs) < per(best.recv_cpu_s, best.msgs_recv)) {
                    best = r;
                    best_variant = drain ? "drain" : "one";
                }
            }
            if (!rc && n >= a_n) {
                a_n = n;
                a_best = best;
                a_variant = best_variant;
                have_a = 1;
            }
        }
        printf("   msg/recv, msg/wait: messages per successful recv and per epoll_wait;\n"
               "   calls/msg: recv calls (EAGAIN included) per message; sleep/msg: receiver\n"
               "   voluntary context switches per message; tx us/msg: the feeding sender's CPU;\n"
               "   feed p99: the feed's lateness (a check that the load arrived on schedule).\n");
    }

    if (o.do_b && !rc) {
        printf("\nB. Sender floor (server side): S streams x %d msg/s from ONE thread (binary heap\n"
               "   of deadlines, clock_nanosleep TIMER_ABSTIME, one send per due message); the 'one'\n"
               "   receiver of A, in the same process, empties the other ends. cores = thread CPU / wall.\n",
               o.rate);
        printf("%-6s %5s %8s %9s %9s %9s %8s %8s %6s %9s %9s %9s %6s %5s\n", "sched", "S",
               "sent/s", "tx us/msg", "tx sleeps", "rx us/msg", "tx cores", "tx+rx", "of 2",
               "late p50", "late p99", "late max", "short", "load1");
        for (int i = 0; i < o.n_send && !rc; i++) {
            int s = o.send_levels[i];
            for (int fifo = 0; fifo < 2 && !rc; fifo++) {
                if (fifo && (!o.try_fifo || fifo_refused))
                    continue;
                result r;
                if (run_level(listen_fd, &addr, &o, s, 0, fifo, &r)) {
                    rc = 2;
                    break;
                }
                if (fifo && r.fifo_rc) {
                    fifo_refused = r.fifo_rc;
                    printf("%-6s %5d SCHED_FIFO refused: %s (no FIFO rows)\n", "fifo", s,
                           strerror(r.fifo_rc));
                    continue;
                }
                double cores = per(r.send_cpu_s + r.recv_cpu_s, r.seconds);
                printf("%-6s %5d %8.0f %9.2f %9.3f %9.2f %8.3f %8.3f %5.0f%% %6.3f ms %6.3f ms "
                       "%6.3f ms %6.0f %5.2f\n",
                       fifo ? "fifo" : "other", s, per(r.msgs_sent, r.seconds),
                       per(r.send_cpu_s * 1e6, r.msgs_sent),
                       r.cs_send_vol < 0 ? -1 : per(r.cs_send_vol, r.msgs_sent),
                       per(r.recv_cpu_s * 1e6, r.msgs_recv),
                       per(r.send_cpu_s, r.seconds), cores, 100 * cores / 2, r.late_p50_ms,
                       r.late_p99_ms, r.late_max_ms, r.s_short, r.load1);
                if (r.late_over > 0)
                    printf("       (%.0f sends were over 200 ms late; quantiles there read 200 ms)\n",
                           r.late_over);
                fflush(stdout);
                if (s >= b_s) {
                    if (fifo) {
                        b_fifo = r;
                        have_fifo = 1;
                    } else {
                        b_other = r;
                        b_s = s;
                        have_b = 1;
                        have_fifo = 0;
                    }
                }
            }
        }
        long rt_runtime = read_long_file("/proc/sys/kernel/sched_rt_runtime_us");
        long rt_period = read_long_file("/proc/sys/kernel/sched_rt_period_us");
        printf("   other = SCHED_OTHER (default 50 us timer slack); fifo = sender at SCHED_FIFO 1\n"
               "   (no timer slack; the kernel lets real-time threads run %ld us of every %ld us,\n"
               "   so a FIFO sender that needs a whole core is held off for the rest);\n"
               "   tx sleeps = sender voluntary context switches per message; short = sends\n"
               "   that did not take the whole message (socket buffer full).\n",
               rt_runtime, rt_period);
    }

    if (listen_fd >= 0)
        close(listen_fd);
    if (rc)
        return rc;

    if (o.do_c)
        section_c();

    printf("\nVerdict (floors, not targets; compare with issue #9)\n");
    if (have_a) {
        double us = per(a_best.recv_cpu_s * 1e6, a_best.msgs_recv);
        printf("- receiver floor %.2f us/msg at N=%d ('%s' variant) vs target 3 us/token: %s\n", us,
               a_n, a_variant,
               us > 3 ? "the target is BELOW the floor (unreachable on this machine)"
                      : "the target is above the floor");
        if (us <= 3)
            printf("  (headroom for HTTP, SSE and JSON above the kernel: %.2f us/token)\n", 3 - us);
    }
    if (have_b) {
        double cores = per(b_other.send_cpu_s + b_other.recv_cpu_s, b_other.seconds);
        double p99 = b_other.late_p99_ms;
        double fifo_cores = per(b_fifo.send_cpu_s + b_fifo.recv_cpu_s, b_fifo.seconds);
        int other_ok = p99 >= 0 && p99 <= 1 && cores < 2;
        int fifo_ok = have_fifo && b_fifo.late_p99_ms >= 0 && b_fifo.late_p99_ms <= 1 &&
                      fifo_cores < 2;
        printf("- sender at %d streams: CPU %.3f cores (sender %.3f + receiver %.3f, %.0f%% of 2),"
               " p99 lateness %.3f ms vs target 1 ms: %s\n",
               b_s, cores, per(b_other.send_cpu_s, b_other.seconds),
               per(b_other.recv_cpu_s, b_other.seconds), 100 * cores / 2, p99,
               other_ok  ? "the target is above the floor"
               : fifo_ok ? "met only with the sender at SCHED_FIFO"
                         : "the target is BELOW the floor (unreachable on this machine)");
        if (have_fifo)
            printf("  with the sender at SCHED_FIFO: CPU %.3f cores (sender %.3f), p99 lateness "
                   "%.3f ms, max %.3f ms\n",
                   fifo_cores, per(b_fifo.send_cpu_s, b_fifo.seconds), b_fifo.late_p99_ms,
                   b_fifo.late_max_ms);
        else if (fifo_refused)
            printf("  SCHED_FIFO was refused (%s)\n", strerror(fifo_refused));
    }
    if (have_a || have_b)
        printf("  (one run on a shared 2-core machine; repeat and compare the load averages)\n");
    print_loadavg("end");
    if (have_steal && cpu_steal_ticks(&steal1, &total1) == 0 && total1 > total0)
        printf("steal time during the run: %.1f%% of all CPU time (/proc/stat)\n",
               100.0 * (double)(steal1 - steal0) / (double)(total1 - total0));
    return 0;
}
