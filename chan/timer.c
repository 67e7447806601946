/* timer.c: Go's timers (time.Timer, Ticker, After, AfterFunc, Tick, Sleep),
 * all served by one timer thread from one binary min-heap.
 *
 * Design. Go keeps timers in per-P heaps serviced by the scheduler; gochan's
 * scheduler (sched/) has no timer heaps, and timers must also serve plain
 * threads and GOCHAN_SCHED=0, so one detached thread (started by the first
 * timer) plays that part for the whole process. It sleeps on a CLOCK_MONOTONIC
 * condition variable until the earliest deadline, fires every due timer and
 * sleeps again. Each timer is one heap entry {when, timer} and remembers its
 * heap index, so Stop and Reset remove it in O(log n) at once (Go 1.14+ marks
 * deleted timers and cleans lazily; we need not, as nothing else scans the
 * heap).
 *
 * Go 1.23 semantics ("no stale value after Stop or Reset", go.dev/issue/37196)
 * come from one rule: timers.mu is held both while the timer thread sends into
 * a timer's channel and while Stop/Reset take the timer out of the heap and
 * drain its channel. So once Stop or Reset returns, the old deadline can
 * neither fire later nor sit unreceived in the channel. A value that fired but
 * was not received is still "pending": Stop and Reset discard it and return
 * true, as Go 1.23's synchronous timer channels do. The channel itself is
 * Go's (cap 1, with chan_len and chan_cap hidden as 0), so chan_select and
 * every channel operation work on it unchanged.
 *
 * Lock order: timers.mu, then a timer channel's c->lock (taken inside
 * chan_try_send / chan_try_recv). Channel code never calls into timers, so
 * the order cannot invert.
 *
 * Lifetime. A timer is touched by the timer thread only under timers.mu and
 * only while it is heaped (or, for AfterFunc, while it has a call in flight,
 * counted in u.fn.calls). A timer is freed, under timers.mu, only when its
 * owner is done with it and it is in neither state, so stop, reset and release
 * are safe from any thread, also while the timer fires. Owners: the handle for
 * NewTimer, AfterFunc and NewTicker (until release); the heap for After (until
 * it fires) and for Tick (until no one else holds its channel: Go 1.23 lets
 * the garbage collector reclaim such timers; we notice at the next tick).
 *
 * AfterFunc runs f(arg) on its own thread (chan_go), started with timers.mu
 * dropped so that a slow thread start delays no Stop or Reset. When chan_go
 * fails (no more threads), the call is already committed (Stop returned or
 * will return false), so it is not lost: the timer goes on a FIFO retry list
 * and the timer thread tries again after 1 ms, backing off to 64 ms, without
 * ever running f itself (a blocking f must not stall every other timer).
 * The one exception is gochan's own short, non-blocking callbacks, such as a
 * context's deadline (chan__after_func_on_timer_thread): the timer thread runs
 * those itself, so that they fire on time even when no thread can be started.
 *
 * Limits: 2^31 live timers (2^26 on 32-bit systems; errno ENOMEM beyond).
 * After fork(), the child has no timer thread; timers must not be used there
 * (as with threads in general).
 *
 * Item ids (CH-n) are those of docs/semantics.md.
 */
#include <gochan/timer.h>
#include <gochan/go.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "chan_impl.h"
#include "deadlock.h"
#include "thread.h"
#include "trace.h"
#include "internal/chan_internal.h"
#include "chan_test_hooks.h"

#define NS_PER_SEC 1000000000
#define NOT_HEAPED UINT32_MAX
/* The most live timers: keeps 2 * i + 2 in a uint32_t, and the heap array
 * (16 bytes an entry) addressable on 32-bit systems. */
#if SIZE_MAX > UINT32_MAX
#define MAX_TIMERS (UINT32_C(1) << 31)
#else
#define MAX_TIMERS (UINT32_C(1) << 26)
#endif
#define MIN_HEAP_CAP 64u
#define RETRY_MIN    (1 * CHAN_MILLISECOND)
#define RETRY_MAX    (64 * CHAN_MILLISECOND)

enum timer_kind {
    TIMER_CHAN,   /* NewTimer: the handle owns it; it owns one channel ref */
    TIMER_FUNC,   /* AfterFunc: the handle owns it */
    TIMER_TICKER, /* NewTicker: the handle owns it; it owns one channel ref */
    TIMER_AFTER,  /* After: the heap owns it and a channel ref till it fires */
    TIMER_TICK    /* Tick: the heap owns it while others hold its channel */
};

/* Go's runtime timer, cut to what one heap needs (48 bytes on LP64). The
 * deadline lives in the heap entry, not here. */
struct chan_timer {
    int64_t period;       /* ticker period; 0 for a one-shot; timers.mu */
    uint32_t heap_index;  /* index in timers.heap, or NOT_HEAPED; timers.mu */
    uint8_t kind;         /* enum timer_kind; set at creation, then read-only */
    bool released;        /* the handle was released; timers.mu */
    bool retry_queued;    /* on the retry list (TIMER_FUNC); timers.mu */
    bool on_timer_thread; /* TIMER_FUNC whose f the timer thread runs itself;
                             set at creation, then read-only */
    union {
        chan_t *c; /* channel kinds: set at creation, then read-only */
        struct {
            void (*f)(void *arg); /* set at creation, then read-only */
            void *arg;            /* set at creation, then read-only */
            uint32_t calls;       /* fired calls not yet started; timers.mu */
            struct chan_timer *retry_next; /* timers.mu */
        } fn;
    } u;
};

/* A ticker is a timer with a period; its own type keeps the API apart. */
struct chan_ticker {
    struct chan_timer timer;
};

/* Go's timerWhen: the deadline beside the timer, so that sifting reads one
 * array instead of chasing pointers. */
struct timer_when {
    int64_t when;
    struct chan_timer *t;
};

static struct {
    pthread_mutex_t mu;  /* protects every field below and the timers.mu
                            fields of every timer */
    pthread_cond_t wake; /* wakes the timer thread for an earlier deadline */
    struct timer_when *heap; /* binary min-heap on when */
    uint32_t len;            /* heap entries */
    uint32_t cap;        /* heap slots; always >= ntimers, so no push fails */
    uint32_t ntimers;    /* live timers, each of which may be heaped once */
    bool running;        /* the timer thread has been started */
    int64_t sleep_until; /* the timer thread's wake-up; INT64_MIN while it
                            is awake and will look at the heap again */
    struct chan_timer *retry_head, *retry_tail; /* AfterFuncs to start */
    int64_t retry_delay; /* back-off while chan_go keeps failing */
    int (*go)(void (*fn)(void *), void *arg); /* chan_go, or a test's hook */
} timers = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .sleep_until = INT64_MIN,
    .go = chan_go,
};

static pthread_once_t timers_once = PTHREAD_ONCE_INIT;

/* What the deadlock check reads (sched/internal/deadlock.h): copies of
 * timers.len and timers.running, and whether the timer thread sleeps with
 * nothing to wait for (no timer heaped, no AfterFunc to retry). Written
 * under timers.mu, read without it: the check may not take a lock that a
 * waker holds. */
static struct {
    atomic_uint len;
    atomic_bool running;
    atomic_bool idle;
} timers_seen;

/* A timer pending, or the timer thread awake, may still wake a sleeper. */
static int timers_idle_threads(void)
{
    if (!atomic_load(&timers_seen.running))
        return 0;
    return atomic_load(&timers_seen.len) == 0 && atomic_load(&timers_seen.idle)
               ? 1
               : -1;
}

static sched_deadlock_source_t timers_source = {timers_idle_threads, NULL};

/* ---- the heap (every function here needs timers.mu) ---- */

/* A timer's heap_index names its own entry while it is heaped: what lets
 * Stop and Reset find it in O(1). */
static inline bool heap_index_ok(const struct chan_timer *t)
{
    return t->heap_index < timers.len && timers.heap[t->heap_index].t == t;
}

static void heap_set(uint32_t i, struct timer_when e)
{
    timers.heap[i] = e;
    e.t->heap_index = i;
}

static void heap_sift_up(uint32_t i)
{
    struct timer_when e = timers.heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (timers.heap[parent].when <= e.when)
            break;
        heap_set(i, timers.heap[parent]);
        i = parent;
    }
    heap_set(i, e);
}

static void heap_sift_down(uint32_t i)
{
    struct timer_when e = timers.heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= timers.len)
            break;
        if (child + 1 < timers.len &&
            timers.heap[child + 1].when < timers.heap[child].when)
            child++;
        if (e.when <= timers.heap[child].when)
            break;
        heap_set(i, timers.heap[child]);
        i = child;
    }
    heap_set(i, e);
}

/* Room was reserved when t was made (timers_reserve), so this cannot fail. */
static void heap_push(struct chan_timer *t, int64_t when)
{
    sched__invariant(t->heap_index == NOT_HEAPED && timers.len < timers.cap,
                     "a timer is heaped once, into room reserved for it");
    uint32_t i = timers.len++;
    atomic_store(&timers_seen.len, timers.len);
    timers.heap[i] = (struct timer_when){when, t};
    heap_sift_up(i);
    sched__invariant(heap_index_ok(t), "a pushed timer's heap index");
}

/* Removes t from the heap: the last entry fills its slot and moves up or
 * down to where it belongs. */
static void heap_delete(struct chan_timer *t)
{
    sched__invariant(heap_index_ok(t), "a deleted timer's heap index");
    uint32_t i = t->heap_index;
    uint32_t last = --timers.len;
    atomic_store(&timers_seen.len, timers.len);
    t->heap_index = NOT_HEAPED;
    if (i == last)
        return;
    heap_set(i, timers.heap[last]);
    struct chan_timer *moved = timers.heap[i].t;
    if (i > 0 && timers.heap[i].when < timers.heap[(i - 1) / 2].when)
        heap_sift_up(i);
    else
        heap_sift_down(i);
    sched__invariant(heap_index_ok(moved), "a moved timer's heap index");
    (void)moved; /* read only by the invariant */
}

/* Counts one more live timer, growing the heap by doubling first if it could
 * not hold them all. Reserving at creation is what lets Reset, which cannot
 * report ENOMEM, push without allocating. */
static bool timers_reserve(void)
{
    if (timers.ntimers < timers.cap) {
        timers.ntimers++;
        return true;
    }
    if (timers.cap >= MAX_TIMERS)
        return false;
    uint32_t ncap = timers.cap ? timers.cap * 2 : MIN_HEAP_CAP;
    struct timer_when *heap = realloc(timers.heap, ncap * sizeof *heap);
    if (!heap)
        return false;
    timers.heap = heap;
    timers.cap = ncap;
    timers.ntimers++;
    return true;
}

/* Counts one timer fewer; halves the heap when three quarters are unused, so
 * a burst of 100,000 timers does not pin its memory forever. */
static void timers_unreserve(void)
{
    timers.ntimers--;
    if (timers.cap <= MIN_HEAP_CAP || timers.ntimers >= timers.cap / 4)
        return;
    uint32_t ncap = timers.cap / 2;
    struct timer_when *heap = realloc(timers.heap, ncap * sizeof *heap);
    if (heap) { /* on failure the bigger array simply stays */
        timers.heap = heap;
        timers.cap = ncap;
    }
}

/* ---- the timer thread ---- */

/* timers.mu held; t is not heaped. Schedules t at when and wakes the timer
 * thread if t is now the earliest timer and the thread sleeps past it. */
static void timer_schedule(struct chan_timer *t, int64_t when)
{
    heap_push(t, when);
    if (t->heap_index == 0 && when < timers.sleep_until)
        pthread_cond_signal(&timers.wake);
}

/* time.when(d): the deadline d from now; d <= 0 means now, and a sum that
 * overflows means never (INT64_MAX), as in Go. */
static int64_t timer_when(int64_t d)
{
    int64_t now = chan_now();
    if (d <= 0)
        return now;
    return d > INT64_MAX - now ? INT64_MAX : now + d;
}

/* Go's ticker rule in unlockAndRun: the next tick after now stays on the
 * grid when + k * period, skipping the ticks a late timer thread missed. */
static int64_t ticker_next(int64_t when, int64_t period, int64_t now)
{
    int64_t k = 1 + (now - when) / period; /* now >= when */
    if (k > (INT64_MAX - when) / period)
        return INT64_MAX;
    return when + k * period;
}

static bool timer_has_chan(const struct chan_timer *t)
{
    return t->kind != TIMER_FUNC;
}

/* True when the heap holds the only reference to t's channel and nobody
 * waits on it: nobody can receive from it or retain it again, so the timer
 * is garbage (Go 1.23 lets the collector reclaim such timers). A blocked
 * receive holds no reference (chan__queue_and_park) but is woken by the
 * timer all the same. The acquire pairs with the release in chan_release,
 * so every use by the last other holder, and every operation it saw
 * blocked, happened before; with no holder left, no operation can queue
 * or leave meanwhile. */
static bool timer_unreferenced(const struct chan_timer *t)
{
    struct chan *c = t->u.c;
    return atomic_load_explicit(&c->refs, memory_order_acquire) == 1 &&
           !chan__has_waiters(c);
}

/* timers.mu held; t is out of the heap and no longer used by anyone. */
static void timer_free(struct chan_timer *t)
{
    if (timer_has_chan(t))
        chan_release(t->u.c); /* at most c->lock: after timers.mu */
    free(t);
    timers_unreserve();
}

/* timers.mu held. Frees t once its handle is released and it is neither
 * heaped nor holding an AfterFunc call that has yet to start. */
static void timer_maybe_free(struct chan_timer *t)
{
    if (!t->released || t->heap_index != NOT_HEAPED)
        return;
    if (t->kind == TIMER_FUNC && (t->u.fn.calls > 0 || t->retry_queued))
        return;
    timer_free(t);
}

/* timers.mu held; t has a committed call (u.fn.calls > 0), which keeps t
 * alive while the lock is dropped. Starts one call of f on its own thread.
 * Returns with timers.mu held, true if the thread started. */
static bool timer_go(struct chan_timer *t)
{
    void (*f)(void *) = t->u.fn.f;
    void *arg = t->u.fn.arg;
    int (*go)(void (*)(void *), void *) = timers.go;
    pthread_mutex_unlock(&timers.mu);
    int status = go(f, arg);
    pthread_mutex_lock(&timers.mu);
    if (status != CHAN_OK)
        return false;
    t->u.fn.calls--;
    return true;
}

static void timer_queue_retry(struct chan_timer *t)
{
    t->retry_queued = true;
    t->u.fn.retry_next = NULL;
    if (timers.retry_tail)
        timers.retry_tail->u.fn.retry_next = t;
    else
        timers.retry_head = t;
    timers.retry_tail = t;
    if (timers.retry_delay == 0)
        timers.retry_delay = RETRY_MIN;
}

/* timers.mu held; t has a committed call that keeps it alive while the lock
 * is dropped. Runs f(arg) on the timer thread itself, with timers.mu dropped
 * (f may stop or release timers, its own among them). Returns with timers.mu
 * held, having freed t if its handle was released meanwhile. */
static void timer_call_here(struct chan_timer *t)
{
    void (*f)(void *) = t->u.fn.f;
    void *arg = t->u.fn.arg;
    pthread_mutex_unlock(&timers.mu);
    f(arg);
    pthread_mutex_lock(&timers.mu);
    t->u.fn.calls--;
    timer_maybe_free(t);
}

/* Go's goFunc: an AfterFunc fires. From here on Stop returns false: the call
 * is committed and will run, now or from the retry list. */
static void timer_fire_func(struct chan_timer *t)
{
    heap_delete(t);
    t->u.fn.calls++;
    if (t->on_timer_thread) {
        timer_call_here(t);
        return;
    }
    if (t->retry_queued)
        return; /* earlier calls of t wait to start; this one joins them */
    if (timer_go(t))
        timer_maybe_free(t);
    else
        timer_queue_retry(t);
}

/* Go's sendTime: a non-blocking send of the firing time. A ticker's reader
 * that fell behind loses this tick, as in Go. */
static void timer_send(struct chan_timer *t, int64_t now)
{
    (void)chan_try_send(t->u.c, &now);
}

/* A ticker fires: it stays heaped and moves to its next tick. */
static void timer_fire_ticker(struct chan_timer *t, int64_t when, int64_t now)
{
    timer_send(t, now);
    sched__invariant(heap_index_ok(t), "a firing ticker's heap index");
    timers.heap[t->heap_index].when = ticker_next(when, t->period, now);
    heap_sift_down(t->heap_index);
}

/* timers.mu held; t is the heap's root, due at when <= now. Go's
 * unlockAndRun, without the unlocking: a send into a cap-1 channel never
 * blocks, and holding timers.mu across it is what keeps Stop exact. */
static void timer_fire(struct chan_timer *t, int64_t when, int64_t now)
{
    if (sched__tracing())
        sched__trace_timer_fire(t);
    switch ((enum timer_kind)t->kind) {
    case TIMER_FUNC:
        timer_fire_func(t);
        return;
    case TIMER_CHAN:
        heap_delete(t);
        timer_send(t, now);
        return;
    case TIMER_AFTER:
        heap_delete(t);
        if (!timer_unreferenced(t))
            timer_send(t, now);
        timer_free(t);
        return;
    case TIMER_TICK:
        if (timer_unreferenced(t)) {
            heap_delete(t);
            timer_free(t);
            return;
        }
        timer_fire_ticker(t, when, now); /* a ticker that nobody stops */
        return;
    case TIMER_TICKER:
        timer_fire_ticker(t, when, now);
        return;
    }
}

/* Go's timers.run: fires every timer due at now, earliest first. */
static void timers_run(int64_t now)
{
    while (timers.len > 0 && timers.heap[0].when <= now)
        timer_fire(timers.heap[0].t, timers.heap[0].when, now);
}

/* Starts the AfterFunc calls that chan_go could not start before, oldest
 * first; on another failure, backs off (1 ms doubling to 64 ms). */
static void timers_retry(void)
{
    struct chan_timer *t;
    while ((t = timers.retry_head) != NULL) {
        if (!timer_go(t)) {
            timers.retry_delay *= 2;
            if (timers.retry_delay > RETRY_MAX)
                timers.retry_delay = RETRY_MAX;
            return;
        }
        if (t->u.fn.calls > 0)
            continue; /* only the timer thread edits the list: t is head */
        timers.retry_head = t->u.fn.retry_next;
        if (!timers.retry_head)
            timers.retry_tail = NULL;
        t->retry_queued = false;
        timer_maybe_free(t);
    }
    timers.retry_delay = 0;
}

/* Sleeps until the earliest deadline (or the next retry), or until
 * timer_schedule signals an earlier one. Spurious wake-ups are harmless: the
 * caller looks at the heap again. */
static void timers_sleep(void)
{
    int64_t until = timers.len > 0 ? timers.heap[0].when : INT64_MAX;
    if (timers.retry_head) {
        int64_t retry = chan_now() + timers.retry_delay;
        if (retry < until)
            until = retry;
    }
    timers.sleep_until = until;
    if (until == INT64_MAX) {
        atomic_store(&timers_seen.idle, true);
        /* Its last timer fired: as the last M that goes idle, it may be the
         * last thing that could run (timers.mu before sched.lock is the
         * order firing takes too). */
        sched_checkdead();
        pthread_cond_wait(&timers.wake, &timers.mu);
        atomic_store(&timers_seen.idle, false);
    } else {
        struct timespec ts = {.tv_sec = (time_t)(until / NS_PER_SEC),
                              .tv_nsec = (long)(until % NS_PER_SEC)};
        pthread_cond_timedwait(&timers.wake, &timers.mu, &ts);
    }
    timers.sleep_until = INT64_MIN;
}

static void *timer_thread(void *unused)
{
    (void)unused;
#ifdef __linux__
    /* The default 50 us slack would make every timer that late. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    sched__trace_thread_label("timer");
    pthread_mutex_lock(&timers.mu);
    for (;;) {
        timers_run(chan_now());
        timers_retry();
        timers_sleep();
    }
    return NULL;
}

/* The wake condition must measure deadlines on chan_now()'s clock. */
static void timers_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&timers.wake, &attr);
    pthread_condattr_destroy(&attr);
}

/* timers.mu held. Starts the timer thread on first use. It is started here
 * rather than in timers_init so that a failed start (EAGAIN) fails only this
 * constructor and a later one may try again. Returns 0 or an errno value. */
static int timers_start(void)
{
    if (timers.running)
        return 0;
    static bool registered;
    if (!registered)
        sched_deadlock_add_source(&timers_source);
    registered = true;
    int err = sched__thread_start(timer_thread, NULL);
    if (!err) {
        timers.running = true;
        atomic_store(&timers_seen.running, true);
    }
    return err;
}

/* Go's newTimer: registers t and schedules it at when. Once this returns 0, a
 * heap-owned timer (After, Tick) may already be fired and freed. Returns 0 or
 * an errno value, and then t was never seen by the timer thread. */
static int timer_add(struct chan_timer *t, int64_t when)
{
    pthread_once(&timers_once, timers_init);
    pthread_mutex_lock(&timers.mu);
    int err = timers_reserve() ? 0 : ENOMEM;
    if (!err) {
        err = timers_start();
        if (err)
            timers_unreserve();
    }
    if (!err)
        timer_schedule(t, when);
    pthread_mutex_unlock(&timers.mu);
    return err;
}

/* Allocates a timer of the given kind (size: struct chan_timer or
 * struct chan_ticker). NULL with errno ENOMEM. */
static struct chan_timer *timer_alloc(size_t size, enum timer_kind kind)
{
    struct chan_timer *t = calloc(1, size);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->heap_index = NOT_HEAPED;
    t->kind = (uint8_t)kind;
    return t;
}

/* A timer channel: Go's make(chan Time, 1), reporting len and cap 0 (CH-5). */
static chan_t *timer_chan_make(void)
{
    chan_t *c = chan_make(sizeof(int64_t), 1);
    if (c)
        c->hide_len = true; /* before the channel is shared */
    return c;
}

/* Makes and schedules a channel timer. For the heap-owned kinds (After,
 * Tick), *caller_ref receives the caller's own reference to the channel,
 * taken before the timer thread can fire and release the heap's one. */
static struct chan_timer *timer_new_chan(size_t size, enum timer_kind kind,
                                         int64_t when, int64_t period,
                                         chan_t **caller_ref)
{
    struct chan_timer *t = timer_alloc(size, kind);
    if (!t)
        return NULL;
    chan_t *c = timer_chan_make();
    if (!c) {
        free(t);
        return NULL;
    }
    t->u.c = c;
    t->period = period;
    if (caller_ref)
        *caller_ref = chan_retain(c);
    int err = timer_add(t, when);
    if (err) {
        if (caller_ref)
            chan_release(c);
        chan_release(c);
        free(t);
        errno = err;
        return NULL;
    }
    return t;
}

/* Go's timer.stop and the first half of timer.modify, timers.mu held: takes
 * t out of the heap and discards a value that fired but was not received.
 * Returns true if t was pending either way. Lock order: timers.mu, then the
 * channel's lock (inside chan_try_recv). */
static bool timer_stop_locked(struct chan_timer *t)
{
    bool pending = t->heap_index != NOT_HEAPED;
    if (pending)
        heap_delete(t);
    if (timer_has_chan(t) && chan_try_recv(t->u.c, NULL) == CHAN_OK)
        pending = true;
    return pending;
}

/* ---- public API ---- */

chan_t *chan_after(int64_t d)
{
    chan_t *c = NULL;
    if (!timer_new_chan(sizeof(struct chan_timer), TIMER_AFTER, timer_when(d),
                        0, &c))
        return NULL;
    return c;
}

chan_timer_t *chan_timer_new(int64_t d)
{
    return timer_new_chan(sizeof(struct chan_timer), TIMER_CHAN, timer_when(d),
                          0, NULL);
}

chan_t *chan_timer_chan(chan_timer_t *t)
{
    return t && timer_has_chan(t) ? t->u.c : NULL;
}

bool chan_timer_stop(chan_timer_t *t)
{
    if (!t)
        return false;
    pthread_mutex_lock(&timers.mu);
    bool pending = timer_stop_locked(t);
    pthread_mutex_unlock(&timers.mu);
    return pending;
}

/* Stop and schedule again under one hold of timers.mu, so that no send
 * from the old deadline can slip in between. */
bool chan_timer_reset(chan_timer_t *t, int64_t d)
{
    if (!t)
        return false;
    int64_t when = timer_when(d);
    pthread_mutex_lock(&timers.mu);
    bool pending = timer_stop_locked(t);
    timer_schedule(t, when);
    pthread_mutex_unlock(&timers.mu);
    return pending;
}

void chan_timer_release(chan_timer_t *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&timers.mu);
    (void)timer_stop_locked(t);
    t->released = true;
    timer_maybe_free(t);
    pthread_mutex_unlock(&timers.mu);
}

static chan_timer_t *after_func(int64_t d, void (*f)(void *arg), void *arg,
                                bool on_timer_thread)
{
    if (!f) {
        errno = EINVAL;
        return NULL;
    }
    struct chan_timer *t = timer_alloc(sizeof *t, TIMER_FUNC);
    if (!t)
        return NULL;
    t->u.fn.f = f;
    t->u.fn.arg = arg;
    t->on_timer_thread = on_timer_thread;
    int err = timer_add(t, timer_when(d));
    if (err) {
        free(t);
        errno = err;
        return NULL;
    }
    return t;
}

chan_timer_t *chan_after_func(int64_t d, void (*f)(void *arg), void *arg)
{
    return after_func(d, f, arg, false);
}

chan_timer_t *chan__after_func_on_timer_thread(int64_t d, void (*f)(void *arg),
                                               void *arg)
{
    return after_func(d, f, arg, true);
}

chan_ticker_t *chan_ticker_new(int64_t d)
{
    if (d <= 0) {
        errno = EINVAL; /* Go: "non-positive interval for NewTicker" */
        return NULL;
    }
    struct chan_timer *t = timer_new_chan(sizeof(struct chan_ticker),
                                          TIMER_TICKER, timer_when(d), d, NULL);
    return (struct chan_ticker *)t; /* timer is its first member */
}

chan_t *chan_ticker_chan(chan_ticker_t *t)
{
    return t ? t->timer.u.c : NULL;
}

void chan_ticker_stop(chan_ticker_t *t)
{
    if (t)
        (void)chan_timer_stop(&t->timer);
}

int chan_ticker_reset(chan_ticker_t *t, int64_t d)
{
    if (!t || d <= 0)
        return CHAN_INVALID; /* Go: "non-positive interval for Ticker.Reset" */
    int64_t when = timer_when(d);
    pthread_mutex_lock(&timers.mu);
    (void)timer_stop_locked(&t->timer);
    t->timer.period = d;
    timer_schedule(&t->timer, when);
    pthread_mutex_unlock(&timers.mu);
    return CHAN_OK;
}

void chan_ticker_release(chan_ticker_t *t)
{
    if (t)
        chan_timer_release(&t->timer);
}

chan_t *chan_tick(int64_t d)
{
    if (d <= 0) {
        errno = EINVAL; /* Go's Tick returns nil here */
        return NULL;
    }
    chan_t *c = NULL;
    if (!timer_new_chan(sizeof(struct chan_timer), TIMER_TICK, timer_when(d), d,
                        &c))
        return NULL;
    return c;
}

/* Go's Sleep parks the goroutine on a timer, and so does a goroutine here:
 * it waits for an After channel, parking like any receive. A thread (or a
 * goroutine when memory runs out) simply sleeps to an absolute deadline,
 * which survives EINTR without drifting. */
void chan_sleep(int64_t d)
{
    if (d <= 0)
        return;
    if (chan__on_goroutine()) {
        chan_t *after = chan_after(d);
        if (after && sched__tracing())
            sched__trace_wait_object(SCHED_WAIT_SLEEP, SCHED__TRACE_OBJ_TIMER,
                                     after, 0);
        if (after) {
            chan_recv(after, NULL);
            if (sched__tracing()) /* unused if the receive did not park */
                sched__trace_wait_clear();
            chan_release(after);
            return;
        }
    }
    int64_t until = timer_when(d);
    struct timespec ts = {.tv_sec = (time_t)(until / NS_PER_SEC),
                          .tv_nsec = (long)(until % NS_PER_SEC)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* ---- test hooks ---- */

/* Replaces chan_go for starting AfterFunc calls (NULL restores it), so that
 * a test can make thread starts fail. */
void chan__timer_set_go(int (*go)(void (*fn)(void *), void *arg))
{
    pthread_mutex_lock(&timers.mu);
    timers.go = go ? go : chan_go;
    pthread_mutex_unlock(&timers.mu);
}

/* How many timers are heaped now. */
size_t chan__timer_heap_len(void)
{
    pthread_mutex_lock(&timers.mu);
    size_t n = timers.len;
    pthread_mutex_unlock(&timers.mu);
    return n;
}
