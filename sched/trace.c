/* trace.c: the execution tracer (Go's runtime/trace), see internal/trace.h
 * and docs/trace.md for the file it writes.
 *
 * Recording. A traced event is a 48-byte binary record appended by the
 * thread where it happens to a ring of its own: single producer (the owning
 * thread), single consumer (the writer). The producer writes the slot, then
 * publishes it with a release store of tail; the consumer reads up to tail
 * (acquire) and hands the slots back with a release store of head. No lock,
 * no fence, no cache line shared with another producer. A ring holds
 * RING_EVENTS records; when the writer has not caught up, the record is
 * dropped and counted (Go's tracer grows its buffers instead; a bounded
 * tracer must lose something, and losing events is better than stalling the
 * program). A thread takes its ring from a pool on its first event (a mutex,
 * once per thread) and gives it back when it exits; at most MAX_RINGS rings
 * exist, and the events of threads beyond them are dropped and counted.
 *
 * Writing. One writer thread, started by sched__trace_start, wakes every few
 * milliseconds, or when a ring is half full, drains every ring in turn,
 * formats the records as JSON (Chrome's Trace Event Format) into a buffer and
 * write(2)s it. It holds no lock that a traced thread takes: a slow file
 * slows only the writer, and what it cannot keep up with is dropped. It
 * blocks every signal, so a closed pipe gives it EPIPE rather than a SIGPIPE
 * that kills the process. A failed write (a full disk, a closed pipe) ends
 * the recording at once; the writer discards the rest, and chan_trace_stop
 * reports the error.
 *
 * Sessions. Every start begins a new session number, which every record
 * carries. sched__trace_stop turns recording off, then the writer drains
 * what was recorded and closes the JSON. A thread that saw tracing on just
 * before the stop may still append a record after the writer's last look: it
 * stays in its ring, and the writer of a later session skips it (an older
 * session number).
 *
 * Naming tracks. A goroutine's track is named the first time the writer
 * formats an event of it (a bitmap by goid, the writer's own), a thread's
 * the first time it formats one of the thread's own events.
 */
#include "internal/trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal/netpoll.h"
#include "internal/scheduler.h"

_Atomic int sched__trace_enabled;

/* ---- records -------------------------------------------------------------
 */

enum {
    EV_RUNNING = 1,     /* ts start, a goid, b dur, c p, d m */
    EV_CREATE,          /* a goid, b creator goid (F_G) or this thread, c fn */
    EV_BLOCK,           /* a goid, reason, kind, b obj, c extra */
    EV_UNBLOCK,         /* a goid, b waker goid (F_G) or this thread, c flow */
    EV_UNBLOCK_NETPOLL, /* a goid */
    EV_END,             /* a goid */
    EV_TBLOCKED,        /* this thread: ts start, a dur, reason, kind, b obj,
                           c extra */
    EV_TWAKE, /* a waker goid (F_G) or this thread, b flow, c woken tid */
    EV_CLOSE, /* a actor goid (F_G) or this thread, b chan, c cap */
    EV_TIMER, /* this thread, b timer */
    EV_MARK,  /* this thread (or a goid, F_G): a is 0 for start, 1 for stop */
};
enum { F_G = 1 }; /* the actor is a goroutine (a), not this thread */

typedef struct ev {
    uint32_t session;
    uint8_t type, reason, kind, flags;
    int64_t ts;
    uint64_t a, b, c, d;
} ev_t;

#define RING_EVENTS 4096u /* a power of two */
#define MAX_RINGS   256
enum { RING_OWNED = 0, RING_ORPHAN, RING_FREE };

typedef struct ring {
    /* the owner's */
    _Atomic uint64_t tail;
    uint64_t seq; /* flow ids */
    _Atomic uint64_t drops;
    _Atomic int kicked;
    _Atomic long tid;
    _Atomic(const char *) label;
    _Atomic int state; /* RING_*: under pool_mu but for the writer's reads */
    uint32_t index;
    /* the writer's */
    _Alignas(64) _Atomic uint64_t head;
    uint32_t named_session;
    long named_tid;
    ev_t ev[RING_EVENTS];
} ring_t;

static _Atomic(ring_t *) rings[MAX_RINGS];
static _Atomic int nrings;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t ring_key;
static pthread_once_t ring_key_once = PTHREAD_ONCE_INIT;
static bool ring_key_ok;
static _Atomic uint64_t lost; /* events of threads without a ring */

static _Thread_local ring_t *tl_ring;
static _Thread_local const char *tl_label;
static _Thread_local struct {
    bool set;
    uint8_t reason, kind;
    uint64_t goid; /* whose: 0 on a plain thread */
    const void *obj;
    uint64_t extra;
} tl_wait;

static _Atomic uint32_t session;
static int64_t start_ns; /* written before enabling, read by producers */

/* The writer's wake-up. */
static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcond;
static bool wkick, wstop;

int64_t sched__trace_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long gettid_(void)
{
    return (long)syscall(SYS_gettid);
}

static void ring_release(void *v)
{
    ring_t *r = v;
    tl_ring = NULL;
    atomic_store_explicit(&r->state, RING_ORPHAN, memory_order_release);
}

static void ring_key_make(void)
{
    ring_key_ok = pthread_key_create(&ring_key, ring_release) == 0;
}

/* The calling thread's ring, taken from the pool on its first event; NULL
 * when MAX_RINGS threads hold one. */
static ring_t *ring_get(void)
{
    pthread_once(&ring_key_once, ring_key_make);
    if (!ring_key_ok)
        return NULL;
    ring_t *r = NULL;
    pthread_mutex_lock(&pool_mu);
    int n = atomic_load_explicit(&nrings, memory_order_relaxed);
    for (int i = 0; i < n && !r; i++) {
        ring_t *c = atomic_load_explicit(&rings[i], memory_order_relaxed);
        if (atomic_load_explicit(&c->state, memory_order_acquire) == RING_FREE)
            r = c;
    }
    if (!r && n < MAX_RINGS && (r = calloc(1, sizeof *r)) != NULL) {
        r->index = (uint32_t)n;
        atomic_store_explicit(&rings[n], r, memory_order_relaxed);
        atomic_store_explicit(&nrings, n + 1, memory_order_release);
    }
    if (r) {
        atomic_store_explicit(&r->tid, gettid_(), memory_order_relaxed);
        atomic_store_explicit(&r->label, tl_label, memory_order_relaxed);
        atomic_store_explicit(&r->state, RING_OWNED, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool_mu);
    if (r && pthread_setspecific(ring_key, r) != 0) {
        pthread_mutex_lock(&pool_mu);
        atomic_store_explicit(&r->state, RING_FREE, memory_order_relaxed);
        pthread_mutex_unlock(&pool_mu);
        r = NULL;
    }
    return tl_ring = r;
}

static void kick(void)
{
    pthread_mutex_lock(&wmu);
    wkick = true;
    pthread_cond_signal(&wcond);
    pthread_mutex_unlock(&wmu);
}

/* Appends e to the caller's ring (or drops it). */
static void emit(ev_t *e)
{
    ring_t *r = tl_ring;
    if (!r && !(r = ring_get())) {
        atomic_fetch_add_explicit(&lost, 1, memory_order_relaxed);
        return;
    }
    e->session = atomic_load_explicit(&session, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t used = t - atomic_load_explicit(&r->head, memory_order_acquire);
    if (used >= RING_EVENTS) {
        atomic_fetch_add_explicit(&r->drops, 1, memory_order_relaxed);
        return;
    }
    r->ev[t & (RING_EVENTS - 1)] = *e;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    if (used + 1 >= RING_EVENTS / 2 &&
        !atomic_load_explicit(&r->kicked, memory_order_relaxed)) {
        atomic_store_explicit(&r->kicked, 1, memory_order_relaxed);
        kick();
    }
}

/* A flow id unique within the session: the ring's index and a count. */
static uint64_t flow_id(void)
{
    ring_t *r = tl_ring;
    if (!r && !(r = ring_get()))
        return 0;
    return ((uint64_t)r->index + 1) << 32 | (++r->seq & 0xffffffffu);
}

/* Who acts: the running goroutine (*flags F_G, its goid) or this thread. */
static uint64_t actor(uint8_t *flags)
{
    sched_g *g = sched_getg();
    *flags = g ? F_G : 0;
    return g ? sched_goid(g) : 0;
}

/* ---- the hooks ------------------------------------------------------------
 */

void sched__trace_running(uint64_t goid, int64_t start, int p, int m)
{
    ev_t e = {.type = EV_RUNNING,
              .ts = start,
              .a = goid,
              .b = (uint64_t)(sched__trace_now() - start),
              .c = (uint64_t)p,
              .d = (uint64_t)m};
    emit(&e);
}

void sched__trace_create(uint64_t goid, void (*fn)(void *))
{
    ev_t e = {.type = EV_CREATE, .ts = sched__trace_now(), .a = goid};
    e.b = actor(&e.flags);
    e.c = (uint64_t)(uintptr_t)fn;
    emit(&e);
}

void sched__trace_wait_object(sched_wait_reason_t reason,
                              sched__trace_obj_t kind, const void *obj,
                              uint64_t extra)
{
    uint8_t f;
    uint64_t goid = actor(&f);
    /* chan_sleep's "sleep" outranks the receive that carries it out. */
    if (tl_wait.set && tl_wait.goid == goid &&
        tl_wait.reason == SCHED_WAIT_SLEEP)
        return;
    tl_wait.set = true;
    tl_wait.goid = goid;
    tl_wait.reason = (uint8_t)reason;
    tl_wait.kind = (uint8_t)kind;
    tl_wait.obj = obj;
    tl_wait.extra = extra;
}

void sched__trace_wait_clear(void)
{
    tl_wait.set = false;
}

/* Takes what sched__trace_wait_object said for goid (0: this thread). */
static bool wait_take(uint64_t goid, uint8_t *reason, uint8_t *kind,
                      const void **obj, uint64_t *extra)
{
    if (!tl_wait.set || tl_wait.goid != goid)
        return false;
    tl_wait.set = false;
    if (tl_wait.reason != SCHED_WAIT_ZERO)
        *reason = tl_wait.reason;
    *kind = tl_wait.kind;
    *obj = tl_wait.obj;
    *extra = tl_wait.extra;
    return true;
}

void sched__trace_block(uint64_t goid, int64_t ts, sched_wait_reason_t reason)
{
    ev_t e = {.type = EV_BLOCK, .ts = ts, .a = goid, .reason = (uint8_t)reason};
    const void *obj = NULL;
    (void)wait_take(goid, &e.reason, &e.kind, &obj, &e.c);
    e.b = (uint64_t)(uintptr_t)obj;
    emit(&e);
}

void sched__trace_unblock(uint64_t goid)
{
    ev_t e = {.type = EV_UNBLOCK, .ts = sched__trace_now(), .a = goid};
    e.b = actor(&e.flags);
    e.c = flow_id();
    emit(&e);
}

void sched__trace_unblock_netpoll(uint64_t goid)
{
    ev_t e = {.type = EV_UNBLOCK_NETPOLL, .ts = sched__trace_now(), .a = goid};
    emit(&e);
}

void sched__trace_end(uint64_t goid)
{
    ev_t e = {.type = EV_END, .ts = sched__trace_now(), .a = goid};
    emit(&e);
}

void sched__trace_chan_close(const void *c, uint64_t cap)
{
    ev_t e = {.type = EV_CLOSE, .ts = sched__trace_now()};
    e.a = actor(&e.flags);
    e.b = (uint64_t)(uintptr_t)c;
    e.c = cap;
    emit(&e);
}

void sched__trace_timer_fire(const void *timer)
{
    ev_t e = {.type = EV_TIMER,
              .ts = sched__trace_now(),
              .b = (uint64_t)(uintptr_t)timer};
    emit(&e);
}

/* "trace start" / "trace stop" on the track of whoever started or stopped
 * the trace: with GOCHAN_TRACE, main's, from its first instruction to its
 * exit, so a program that never waits in gochan still has a lane and a
 * length. */
static void trace_mark(int stop)
{
    ev_t e = {.type = EV_MARK, .ts = sched__trace_now()};
    e.b = actor(&e.flags);
    e.a = (uint64_t)stop;
    emit(&e);
}

void sched__trace_thread_label(const char *label)
{
    tl_label = label;
    if (tl_ring)
        atomic_store_explicit(&tl_ring->label, label, memory_order_relaxed);
}

/* ---- plain threads' waits --------------------------------------------------
 * A waker knows only the address its sleeper waits on (a parker), not the
 * sleeper's thread: the sleeper enters that address and its thread id in a
 * small table, where the waker finds it and draws the whole arrow, both ends
 * in one record (so a dropped record or a stop loses both, never one). A
 * wait that finds no free slot (very many threads asleep at once) has no
 * arrow. */

#define TWAIT_SLOTS 1024u
#define TWAIT_PROBE 16u
static struct {
    _Atomic uintptr_t key; /* 0 free, 1 being filled, else the address */
    _Atomic long tid;
    _Atomic int claimed;
} twait[TWAIT_SLOTS];

static unsigned twait_hash(const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15u;
    return (unsigned)(h >> 40);
}

void sched__trace_thread_wait_begin(sched__trace_twait_t *w, const void *key)
{
    w->start = sched__trace_now();
    w->slot = -1;
    w->reason = SCHED_WAIT_ZERO;
    w->kind = SCHED__TRACE_OBJ_NONE;
    w->obj = NULL;
    w->extra = 0;
    (void)wait_take(0, &w->reason, &w->kind, &w->obj, &w->extra);
    ring_t *r = tl_ring;
    if (!key || (!r && !(r = ring_get())))
        return;
    long tid = atomic_load_explicit(&r->tid, memory_order_relaxed);
    unsigned h = twait_hash(key);
    for (unsigned i = 0; i < TWAIT_PROBE; i++) {
        unsigned s = (h + i) & (TWAIT_SLOTS - 1);
        uintptr_t free_ = 0;
        if (atomic_compare_exchange_strong_explicit(&twait[s].key, &free_, 1,
                                                    memory_order_acquire,
                                                    memory_order_relaxed)) {
            atomic_store_explicit(&twait[s].tid, tid, memory_order_relaxed);
            atomic_store_explicit(&twait[s].claimed, 0, memory_order_relaxed);
            atomic_store_explicit(&twait[s].key, (uintptr_t)key,
                                  memory_order_release);
            w->slot = (int)s;
            return;
        }
    }
}

void sched__trace_thread_wake(const void *key)
{
    unsigned h = twait_hash(key);
    for (unsigned i = 0; i < TWAIT_PROBE; i++) {
        unsigned s = (h + i) & (TWAIT_SLOTS - 1);
        if (atomic_load_explicit(&twait[s].key, memory_order_acquire) !=
            (uintptr_t)key)
            continue;
        long tid = atomic_load_explicit(&twait[s].tid, memory_order_relaxed);
        int unclaimed = 0;
        if (!atomic_compare_exchange_strong_explicit(
                &twait[s].claimed, &unclaimed, 1, memory_order_acq_rel,
                memory_order_relaxed))
            return;
        ev_t e = {
            .type = EV_TWAKE, .ts = sched__trace_now(), .c = (uint64_t)tid};
        if (!(e.b = flow_id()))
            return;
        e.a = actor(&e.flags);
        emit(&e);
        return;
    }
}

void sched__trace_thread_wait_end(sched__trace_twait_t *w)
{
    if (w->slot >= 0)
        atomic_store_explicit(&twait[w->slot].key, 0, memory_order_release);
    if (!sched__tracing())
        return;
    ev_t e = {.type = EV_TBLOCKED,
              .ts = w->start,
              .a = (uint64_t)(sched__trace_now() - w->start),
              .reason = w->reason,
              .kind = w->kind,
              .b = (uint64_t)(uintptr_t)w->obj,
              .c = w->extra};
    emit(&e);
}

/* ---- the writer -------------------------------------------------------------
 */

#define OUT_SIZE    (64 * 1024)
#define OUT_ROOM    2048 /* the most one event takes, with its track's name */
#define DROPS_WIDTH 20

static pthread_mutex_t ctl_mu = PTHREAD_MUTEX_INITIALIZER; /* start/stop */
static struct {
    bool active;    /* between start and stop */
    bool atexit_on; /* the atexit stop is registered */
    int fd;
    pthread_t thread;
    uint32_t session;
    /* the writer's own while it runs; stop's after the join */
    int failed;         /* the errno that ended the trace early, or 0 */
    off_t drops_offset; /* where otherData's count is, -1: not seekable */
    uint64_t events;    /* written */
    uint8_t *gnamed;    /* goroutines named, a bit per goid */
    size_t gnamed_bytes;
    size_t outlen;
    char out[OUT_SIZE];
} W;

static void trace_failed(int err)
{
    W.failed = err;
    atomic_store_explicit(&sched__trace_enabled, 0, memory_order_relaxed);
    if (err == EPIPE) { /* the SIGPIPE (blocked here) must not linger */
        sigset_t pipe_;
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_, NULL, &zero) == SIGPIPE)
            ;
    }
    char msg[160];
    int n =
        snprintf(msg, sizeof msg, "gochan: trace: write: %s; tracing stopped\n",
                 strerror(err));
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n);
}

static void out_flush(void)
{
    size_t off = 0;
    while (!W.failed && off < W.outlen) {
        ssize_t n = write(W.fd, W.out + off, W.outlen - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            trace_failed(n < 0 ? errno : EIO);
            break;
        }
        off += (size_t)n;
    }
    W.outlen = 0;
}

__attribute__((format(printf, 1, 2))) static void out(const char *fmt, ...)
{
    if (OUT_SIZE - W.outlen < OUT_ROOM)
        out_flush();
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(W.out + W.outlen, OUT_SIZE - W.outlen, fmt, ap);
    va_end(ap);
    if (n > 0)
        W.outlen += (size_t)n < OUT_SIZE - W.outlen ? (size_t)n
                                                    : OUT_SIZE - W.outlen - 1;
}

/* A timestamp in microseconds with nanosecond decimals. */
typedef struct {
    char s[32];
} tsbuf_t;
static tsbuf_t us(int64_t ns)
{
    tsbuf_t b;
    if (ns < 0)
        ns = 0;
    snprintf(b.s, sizeof b.s, "%" PRId64 ".%03d", ns / 1000, (int)(ns % 1000));
    return b;
}

static int64_t rel(int64_t ts, int64_t base)
{
    return ts - base;
}

/* ---- the hot events, without printf ---------------------------------------
 * A goroutine hand-off writes a running slice, a block and an unblock with
 * its arrow; vsnprintf made the writer the bottleneck (about 1.5M events a
 * second, so a hot ping-pong dropped most of its events). These appenders
 * write the same text several times faster. Each event starts with
 * out_begin, which leaves OUT_ROOM bytes. */

static char *put_s(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

static char *put_u(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_x(char *p, uint64_t v)
{
    char tmp[16];
    int n = 0;
    do
        tmp[n++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* us()'s text: microseconds with three decimals. */
static char *put_us(char *p, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    p = put_u(p, (uint64_t)(ns / 1000));
    int frac = (int)(ns % 1000);
    *p++ = '.';
    *p++ = (char)('0' + frac / 100);
    *p++ = (char)('0' + frac / 10 % 10);
    *p++ = (char)('0' + frac % 10);
    return p;
}

static char *out_begin(void)
{
    if (OUT_SIZE - W.outlen < OUT_ROOM)
        out_flush();
    return W.out + W.outlen;
}

static void out_end(const char *p)
{
    W.outlen = (size_t)(p - W.out);
}

static void name_goroutine(uint64_t goid)
{
    size_t byte = (size_t)(goid / 8);
    if (byte >= W.gnamed_bytes) {
        size_t n = W.gnamed_bytes ? W.gnamed_bytes : 1024;
        while (n <= byte)
            n *= 2;
        uint8_t *p = realloc(W.gnamed, n);
        if (!p)
            return;
        memset(p + W.gnamed_bytes, 0, n - W.gnamed_bytes);
        W.gnamed = p;
        W.gnamed_bytes = n;
    }
    uint8_t bit = (uint8_t)(1u << (goid % 8));
    if (W.gnamed[byte] & bit)
        return;
    W.gnamed[byte] |= bit;
    out(",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%" PRIu64
        ",\"args\":{\"name\":\"goroutine %" PRIu64 "\"}}",
        goid, goid);
}

static void name_thread(ring_t *r, long tid)
{
    if (r->named_session == W.session && r->named_tid == tid)
        return;
    r->named_session = W.session;
    r->named_tid = tid;
    const char *label = atomic_load_explicit(&r->label, memory_order_relaxed);
    if (!label && tid == (long)getpid())
        label = "main";
    out(",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":2,\"tid\":%ld,"
        "\"args\":{\"name\":\"thread %ld%s%s%s\"}}",
        tid, tid, label ? " (" : "", label ? label : "", label ? ")" : "");
}

/* The track (pid, tid) of an actor: a goroutine or r's thread. */
static void track(ring_t *r, long tid, uint8_t flags, uint64_t goid, int *pid,
                  uint64_t *t)
{
    if (flags & F_G) {
        name_goroutine(goid);
        *pid = 1;
        *t = goid;
    } else {
        name_thread(r, tid);
        *pid = 2;
        *t = (uint64_t)tid;
    }
}

static const char *waker_name(ring_t *r, uint8_t flags, uint64_t goid, long tid,
                              char *buf, size_t n)
{
    const char *label = atomic_load_explicit(&r->label, memory_order_relaxed);
    if (flags & F_G)
        snprintf(buf, n, "%" PRIu64, goid);
    else if (label && strcmp(label, "timer") == 0)
        snprintf(buf, n, "\"timer\"");
    else
        snprintf(buf, n, "\"thread %ld\"", tid);
    return buf;
}

/* The "object" text (and extra args) of a wait. */
static void object_args(const ev_t *e, char *buf, size_t n)
{
    switch (e->kind) {
    case SCHED__TRACE_OBJ_CHAN:
        snprintf(buf, n, ",\"object\":\"chan 0x%" PRIx64 " (cap %" PRIu64 ")\"",
                 e->b, e->c);
        break;
    case SCHED__TRACE_OBJ_SYNC:
        snprintf(buf, n, ",\"object\":\"%s 0x%" PRIx64 "\"",
                 sched_wait_reason_string((sched_wait_reason_t)e->reason),
                 e->b);
        break;
    case SCHED__TRACE_OBJ_SELECT:
        snprintf(buf, n, ",\"object\":\"select (%" PRIu64 " cases)\"", e->c);
        break;
    case SCHED__TRACE_OBJ_FD: {
        int fd = (int)(uint32_t)e->c;
        const char *mode = (e->c >> 32) == SCHED_POLL_WRITE ? "write" : "read";
        snprintf(buf, n, ",\"object\":\"fd %d\",\"fd\":%d,\"mode\":\"%s\"", fd,
                 fd, mode);
        break;
    }
    case SCHED__TRACE_OBJ_TIMER:
        snprintf(buf, n, ",\"object\":\"timer 0x%" PRIx64 "\"", e->b);
        break;
    default:
        buf[0] = 0;
    }
}

/* A function's name for "fn": its symbol when the dynamic symbol table has
 * it (an executable linked with -rdynamic, a shared library), else its
 * address. */
static void fn_name(uint64_t fn, char *buf, size_t n)
{
    Dl_info info;
    if (dladdr((void *)(uintptr_t)fn, &info) && info.dli_sname &&
        info.dli_saddr == (void *)(uintptr_t)fn) {
        size_t j = 0;
        for (const char *s = info.dli_sname; *s && j + 2 < n && j < 200; s++)
            if ((unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
                buf[j++] = *s;
        buf[j] = 0;
        return;
    }
    snprintf(buf, n, "0x%" PRIx64, fn);
}

/* format()'s text for the hot events; false for the rest. Name events
 * (metadata) go out first, as format() writes them. */
static bool format_fast(const ev_t *e, int64_t base)
{
    char *p;
    switch (e->type) {
    case EV_RUNNING:
        name_goroutine(e->a);
        p = put_s(out_begin(), ",\n{\"ph\":\"X\",\"name\":\"running\",\"cat\":"
                               "\"sched\",\"pid\":1,\"tid\":");
        p = put_u(p, e->a);
        p = put_us(put_s(p, ",\"ts\":"), rel(e->ts, base));
        p = put_us(put_s(p, ",\"dur\":"), (int64_t)e->b);
        p = put_u(put_s(p, ",\"args\":{\"p\":"), e->c);
        p = put_s(put_u(put_s(p, ",\"m\":"), e->d), "}}");
        out_end(p);
        return true;
    case EV_BLOCK:
        if (e->kind != SCHED__TRACE_OBJ_CHAN)
            return false;
        name_goroutine(e->a);
        p = put_s(out_begin(),
                  ",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":"
                  "\"block\",\"cat\":\"sched\",\"pid\":1,\"tid\":");
        p = put_u(p, e->a);
        p = put_us(put_s(p, ",\"ts\":"), rel(e->ts, base));
        p = put_s(put_s(p, ",\"args\":{\"reason\":\""),
                  sched_wait_reason_string((sched_wait_reason_t)e->reason));
        p = put_x(put_s(p, "\",\"object\":\"chan 0x"), e->b);
        p = put_s(put_u(put_s(p, " (cap "), e->c), ")\"}}");
        out_end(p);
        return true;
    case EV_UNBLOCK: {
        if (!(e->flags & F_G))
            return false;
        name_goroutine(e->a);
        name_goroutine(e->b);
        char ts[32];
        char *q = put_us(ts, rel(e->ts, base));
        *q = 0;
        p = put_s(out_begin(),
                  ",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":"
                  "\"unblock\",\"cat\":\"sched\",\"pid\":1,\"tid\":");
        p = put_s(put_s(put_u(p, e->a), ",\"ts\":"), ts);
        p = put_s(put_u(put_s(p, ",\"args\":{\"by\":"), e->b), "}}");
        if (e->c) {
            p = put_u(put_s(p, ",\n{\"ph\":\"s\",\"name\":\"wake\",\"cat\":"
                               "\"wake\",\"id\":"),
                      e->c);
            p = put_u(put_s(p, ",\"pid\":1,\"tid\":"), e->b);
            p = put_s(put_s(put_s(p, ",\"ts\":"), ts), "}");
            p = put_u(put_s(p, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"name\":"
                               "\"wake\",\"cat\":\"wake\",\"id\":"),
                      e->c);
            p = put_u(put_s(p, ",\"pid\":1,\"tid\":"), e->a);
            p = put_s(put_s(put_s(p, ",\"ts\":"), ts), "}");
        }
        out_end(p);
        return true;
    }
    default:
        return false;
    }
}

static void format(ring_t *r, const ev_t *e, int64_t base)
{
    long tid = atomic_load_explicit(&r->tid, memory_order_relaxed);
    char by[48], obj[128], fn[224];
    int pid;
    uint64_t t;
    W.events++;
    if (format_fast(e, base))
        return;
    switch (e->type) {
    case EV_CREATE:
        name_goroutine(e->a);
        fn_name(e->c, fn, sizeof fn);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"create\",\"cat\":"
            "\"sched\","
            "\"pid\":1,\"tid\":%" PRIu64
            ",\"ts\":%s,\"args\":{\"by\":%s,\"fn\":\"%s\"}}",
            e->a, us(rel(e->ts, base)).s,
            waker_name(r, e->flags, e->b, tid, by, sizeof by), fn);
        break;
    case EV_BLOCK:
        name_goroutine(e->a);
        object_args(e, obj, sizeof obj);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"block\",\"cat\":\"sched\","
            "\"pid\":1,\"tid\":%" PRIu64
            ",\"ts\":%s,\"args\":{\"reason\":\"%s\"%s}}",
            e->a, us(rel(e->ts, base)).s,
            sched_wait_reason_string((sched_wait_reason_t)e->reason), obj);
        break;
    case EV_UNBLOCK: {
        tsbuf_t ts = us(rel(e->ts, base));
        name_goroutine(e->a);
        track(r, tid, e->flags, e->b, &pid, &t);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"unblock\",\"cat\":"
            "\"sched\","
            "\"pid\":1,\"tid\":%" PRIu64 ",\"ts\":%s,\"args\":{\"by\":%s}}",
            e->a, ts.s, waker_name(r, e->flags, e->b, tid, by, sizeof by));
        if (!e->c)
            break;
        out(",\n{\"ph\":\"s\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":"
            "%" PRIu64 ",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":%s}",
            e->c, pid, t, ts.s);
        out(",\n{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\","
            "\"id\":%" PRIu64 ",\"pid\":1,\"tid\":%" PRIu64 ",\"ts\":%s}",
            e->c, e->a, ts.s);
        break;
    }
    case EV_UNBLOCK_NETPOLL:
        name_goroutine(e->a);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"unblock\",\"cat\":"
            "\"sched\","
            "\"pid\":1,\"tid\":%" PRIu64
            ",\"ts\":%s,\"args\":{\"by\":\"netpoll\"}}",
            e->a, us(rel(e->ts, base)).s);
        break;
    case EV_END:
        name_goroutine(e->a);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"end\",\"cat\":\"sched\","
            "\"pid\":1,\"tid\":%" PRIu64 ",\"ts\":%s}",
            e->a, us(rel(e->ts, base)).s);
        break;
    case EV_TBLOCKED:
        name_thread(r, tid);
        object_args(e, obj, sizeof obj);
        out(",\n{\"ph\":\"X\",\"name\":\"blocked\",\"cat\":\"block\",\"pid\":2,"
            "\"tid\":%ld,\"ts\":%s,\"dur\":%s,\"args\":{\"reason\":\"%s\"%s}}",
            tid, us(rel(e->ts, base)).s, us((int64_t)e->a).s,
            sched_wait_reason_string((sched_wait_reason_t)e->reason), obj);
        break;
    case EV_TWAKE: {
        tsbuf_t ts = us(rel(e->ts, base));
        track(r, tid, e->flags, e->a, &pid, &t);
        out(",\n{\"ph\":\"s\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":"
            "%" PRIu64 ",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":%s}",
            e->b, pid, t, ts.s);
        out(",\n{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"wake\",\"cat\":"
            "\"wake\",\"id\":%" PRIu64 ",\"pid\":2,\"tid\":%" PRIu64
            ",\"ts\":%s}",
            e->b, e->c, ts.s);
        break;
    }
    case EV_CLOSE:
        track(r, tid, e->flags, e->a, &pid, &t);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"chan close\",\"cat\":"
            "\"chan\",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":%s,\"args\":{"
            "\"object\":\"chan 0x%" PRIx64 " (cap %" PRIu64 ")\"}}",
            pid, t, us(rel(e->ts, base)).s, e->b, e->c);
        break;
    case EV_TIMER:
        name_thread(r, tid);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"timer fire\",\"cat\":"
            "\"timer\",\"pid\":2,\"tid\":%ld,\"ts\":%s,\"args\":{\"object\":"
            "\"timer 0x%" PRIx64 "\"}}",
            tid, us(rel(e->ts, base)).s, e->b);
        break;
    case EV_MARK:
        track(r, tid, e->flags, e->b, &pid, &t);
        out(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s\",\"cat\":"
            "\"trace\",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":%s}",
            e->a ? "trace stop" : "trace start", pid, t,
            us(rel(e->ts, base)).s);
        break;
    default:
        W.events--;
        break;
    }
}

/* Drains every ring: formats this session's records, skips older ones,
 * gives back the rings of threads that exited. The writer's alone. */
static void drain_all(void)
{
    int n = atomic_load_explicit(&nrings, memory_order_acquire);
    int64_t base = start_ns;
    for (int i = 0; i < n; i++) {
        ring_t *r = atomic_load_explicit(&rings[i], memory_order_relaxed);
        int state = atomic_load_explicit(&r->state, memory_order_acquire);
        if (state == RING_FREE)
            continue;
        uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
        for (; h != t; h++) {
            const ev_t *e = &r->ev[h & (RING_EVENTS - 1)];
            if (e->session == W.session && !W.failed)
                format(r, e, base);
        }
        atomic_store_explicit(&r->head, h, memory_order_release);
        atomic_store_explicit(&r->kicked, 0, memory_order_relaxed);
        if (state == RING_ORPHAN) {
            pthread_mutex_lock(&pool_mu);
            atomic_store_explicit(&r->state, RING_FREE, memory_order_relaxed);
            pthread_mutex_unlock(&pool_mu);
        }
    }
    out_flush();
}

static uint64_t drops_total(void)
{
    uint64_t d = atomic_load_explicit(&lost, memory_order_relaxed);
    int n = atomic_load_explicit(&nrings, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        ring_t *r = atomic_load_explicit(&rings[i], memory_order_relaxed);
        d += atomic_load_explicit(&r->drops, memory_order_relaxed);
    }
    return d;
}

static void drops_reset(void)
{
    atomic_store_explicit(&lost, 0, memory_order_relaxed);
    int n = atomic_load_explicit(&nrings, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        ring_t *r = atomic_load_explicit(&rings[i], memory_order_relaxed);
        atomic_store_explicit(&r->drops, 0, memory_order_relaxed);
    }
}

static void write_header(void)
{
    static const char head[] =
        "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"gochan\","
        "\"version\":1,\"dropped_events\":";
    struct stat st;
    W.drops_offset = fstat(W.fd, &st) == 0 && S_ISREG(st.st_mode) &&
                             lseek(W.fd, 0, SEEK_CUR) == 0
                         ? (off_t)(sizeof head - 1)
                         : -1;
    out("%s%-*d},\"traceEvents\":[\n", head, DROPS_WIDTH, 0);
    out("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"args\":{\"name\":"
        "\"goroutines\"}}");
    out(",\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":2,\"args\":{"
        "\"name\":\"threads\"}}");
}

static void write_trailer(void)
{
    uint64_t drops = drops_total();
    out(",\n{\"ph\":\"M\",\"name\":\"trace_stats\",\"pid\":1,\"args\":{"
        "\"events\":%" PRIu64 ",\"dropped_events\":%" PRIu64 "}}\n]}\n",
        W.events, drops);
    out_flush();
    if (W.failed || W.drops_offset < 0)
        return;
    char num[DROPS_WIDTH + 1];
    snprintf(num, sizeof num, "%-*" PRIu64, DROPS_WIDTH, drops);
    if (pwrite(W.fd, num, DROPS_WIDTH, W.drops_offset) != DROPS_WIDTH)
        trace_failed(errno ? errno : EIO);
}

static void *writer_main(void *unused)
{
    (void)unused;
    sched__trace_thread_label("trace writer");
    write_header();
    pthread_mutex_lock(&wmu);
    while (!wstop) {
        if (!wkick) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 5 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&wcond, &wmu, &ts);
        }
        wkick = false;
        pthread_mutex_unlock(&wmu);
        drain_all();
        pthread_mutex_lock(&wmu);
    }
    pthread_mutex_unlock(&wmu);
    drain_all();
    write_trailer();
    return NULL;
}

static void wcond_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wcond, &attr);
    pthread_condattr_destroy(&attr);
}

static void trace_atexit(void)
{
    (void)sched__trace_stop();
}

int sched__trace_start(const char *path)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!path)
        return EINVAL;
    pthread_once(&once, wcond_init);
    pthread_mutex_lock(&ctl_mu);
    if (W.active) {
        pthread_mutex_unlock(&ctl_mu);
        return EBUSY;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        pthread_mutex_unlock(&ctl_mu);
        return err;
    }
    W.fd = fd;
    W.failed = 0;
    W.events = 0;
    W.outlen = 0;
    if (W.gnamed)
        memset(W.gnamed, 0, W.gnamed_bytes);
    W.session = atomic_load_explicit(&session, memory_order_relaxed) + 1;
    drops_reset();
    wstop = false;
    wkick = false;
    start_ns = sched__trace_now();
    /* Every signal blocked on the writer, from its first instruction. */
    sigset_t old;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&W.thread, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        close(fd);
        pthread_mutex_unlock(&ctl_mu);
        return err;
    }
    atomic_store_explicit(&session, W.session, memory_order_relaxed);
    W.active = true;
    if (!W.atexit_on)
        W.atexit_on = atexit(trace_atexit) == 0;
    /* release: a thread that sees tracing on sees start_ns and session. */
    atomic_store_explicit(&sched__trace_enabled, 1, memory_order_release);
    trace_mark(0);
    pthread_mutex_unlock(&ctl_mu);
    return 0;
}

int sched__trace_stop(void)
{
    pthread_mutex_lock(&ctl_mu);
    if (!W.active) {
        pthread_mutex_unlock(&ctl_mu);
        return EINVAL;
    }
    trace_mark(1);
    atomic_store_explicit(&sched__trace_enabled, 0, memory_order_seq_cst);
    pthread_mutex_lock(&wmu);
    wstop = true;
    pthread_cond_signal(&wcond);
    pthread_mutex_unlock(&wmu);
    pthread_join(W.thread, NULL);
    int err = W.failed;
    if (close(W.fd) != 0 && !err && errno != EINTR)
        err = errno;
    W.fd = -1;
    W.active = false;
    free(W.gnamed);
    W.gnamed = NULL;
    W.gnamed_bytes = 0;
    pthread_mutex_unlock(&ctl_mu);
    return err;
}

/* A forked child has no writer: it forgets the parent's trace (its copy of
 * the file is closed; the parent's goes on). */
static void trace_atfork_child(void)
{
    atomic_store_explicit(&sched__trace_enabled, 0, memory_order_relaxed);
    pthread_mutex_init(&ctl_mu, NULL);
    pthread_mutex_init(&wmu, NULL);
    pthread_mutex_init(&pool_mu, NULL);
    if (W.active)
        close(W.fd);
    W.active = false;
    W.fd = -1;
}

/* GOCHAN_TRACE=path traces the whole run of any program, stopped (written
 * out) at exit. */
__attribute__((constructor)) static void trace_from_env(void)
{
    pthread_atfork(NULL, NULL, trace_atfork_child);
    const char *path = getenv("GOCHAN_TRACE");
    if (!path || !*path)
        return;
    int err = sched__trace_start(path);
    if (err)
        fprintf(stderr, "gochan: GOCHAN_TRACE=%s: %s\n", path, strerror(err));
}
