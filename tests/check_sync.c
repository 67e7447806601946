/* check_sync.c: the sync suite (sync_suite), a port of Go's sync tests
 * (mutex_test.go TestMutex, TestMutexMisuse, TestMutexFairness;
 * runtime_sema_test.go's semaphore hammer; rwmutex_test.go
 * TestParallelReaders, TestRWMutex; once_test.go TestOnce; cond_test.go
 * TestCondSignal, TestCondSignalGenerations, TestCondBroadcast, TestRace,
 * TestCondSignalStealing), plus the C-only contracts: status codes where Go
 * panics, and every primitive shared between goroutines and plain threads.
 *
 * Loop tests run their workers as goroutines (_i == 0), as kernel threads
 * outside the scheduler (chan_go_locked, _i == 1) and half and half (2).
 */
#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/sync.h>
#include <gochan/timer.h>

#include "lock.h"      /* sched__cpu_relax */
#include "sync/sema.h" /* the semaphore, Go's runtime_Semacquire */
#include "testutil.h"

/* ---- workers on goroutines, threads or both ---------------------------- */

enum { ON_GOROUTINES, ON_THREADS, MIXED, NMODES };

struct worker {
    chan_waitgroup_t *wg;
    void (*fn)(void *);
    void *arg;
};

static void worker_run(void *p)
{
    struct worker w = *(struct worker *)p;
    free(p);
    w.fn(w.arg);
    chan_waitgroup_done(w.wg);
}

/* Starts worker i of a test in mode: fn(arg), then Done on wg. */
static void spawn(chan_waitgroup_t *wg, int mode, int i, void (*fn)(void *),
                  void *arg)
{
    bool thread = mode == ON_THREADS || (mode == MIXED && i % 2 == 1);
    struct worker *w = malloc(sizeof *w);
    ck_assert_ptr_nonnull(w);
    *w = (struct worker){wg, fn, arg};
    ck_assert_int_eq(chan_waitgroup_add(wg, 1), CHAN_OK);
    int st = thread ? chan_go_locked(worker_run, w) : chan_go(worker_run, w);
    ck_assert_int_eq(st, CHAN_OK);
}

static void send_int(chan_t *c, int v)
{
    ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
}

static int recv_int(chan_t *c)
{
    int v = -1;
    ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
    return v;
}

/* Whether c stays empty for a short bounded time. */
static bool stays_empty(chan_t *c)
{
    tu_quiet_sleep();
    return chan_len(c) == 0;
}

/* Whether a receive from c completes within 10 s (scaled). */
static bool recv_within_10s(chan_t *c)
{
    chan_timer_t *t = chan_timer_new((int64_t)(10 * tu_scale()) * CHAN_SECOND);
    ck_assert_ptr_nonnull(t);
    chan_case_t cases[] = {
        CHAN_RECV_CASE(c, NULL),
        CHAN_RECV_CASE(chan_timer_chan(t), NULL),
    };
    int chosen = chan_select(cases, 2);
    chan_timer_stop(t);
    chan_timer_release(t);
    return chosen == 0;
}

/* ---- Mutex ------------------------------------------------------------- */

struct hammer {
    chan_mutex_t m;
    long counter; /* protected by m */
    int loops;
};

static void hammer_mutex(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < h->loops; i++) {
        if (i % 3 == 0 && chan_mutex_trylock(&h->m)) {
            h->counter++;
            ck_assert_int_eq(chan_mutex_unlock(&h->m), CHAN_OK);
            continue;
        }
        chan_mutex_lock(&h->m);
        h->counter++;
        chan_mutex_unlock(&h->m);
    }
}

/* Go's TestMutex (HammerMutex): ten lockers, TryLock among them; the
 * counter the mutex protects loses no increment. */
START_TEST(test_sync_mutex)
{
    struct hammer h = {.m = CHAN_MUTEX_INIT, .loops = tu_rounds(10000)};
    ck_assert(chan_mutex_trylock(&h.m));
    ck_assert(!chan_mutex_trylock(&h.m));
    ck_assert_int_eq(chan_mutex_unlock(&h.m), CHAN_OK);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    for (int i = 0; i < 10; i++)
        spawn(&wg, _i, i, hammer_mutex, &h);
    chan_waitgroup_wait(&wg);
    ck_assert_int_eq(h.counter, 10L * h.loops);
    ck_assert_int_eq(h.m.state_, 0);
}
END_TEST

/* Go's TestMutexMisuse: an Unlock of an unlocked mutex, where Go throws,
 * returns CHAN_INVALID and leaves the mutex as it was. */
START_TEST(test_sync_mutex_misuse)
{
    chan_mutex_t m = CHAN_MUTEX_INIT;
    ck_assert_int_eq(chan_mutex_unlock(&m), CHAN_INVALID);
    ck_assert_int_eq(m.state_, 0);
    ck_assert_int_eq(chan_mutex_lock(&m), CHAN_OK);
    ck_assert_int_eq(chan_mutex_unlock(&m), CHAN_OK);
    ck_assert_int_eq(chan_mutex_unlock(&m), CHAN_INVALID);
    ck_assert(chan_mutex_trylock(&m)); /* still a working mutex */
    ck_assert_int_eq(chan_mutex_unlock(&m), CHAN_OK);
    ck_assert_int_eq(chan_mutex_lock(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_mutex_unlock(NULL), CHAN_INVALID);
    ck_assert(!chan_mutex_trylock(NULL));
}
END_TEST

/* SY-1: a locked mutex belongs to no one: another thread may unlock it, and
 * a blocked Lock then goes on. */
struct handover {
    chan_mutex_t m;
    chan_t *locked;
};

static void lock_then_report(void *arg)
{
    struct handover *h = arg;
    chan_mutex_lock(&h->m);
    send_int(h->locked, 1);
    chan_mutex_unlock(&h->m);
}

static void unlock_it(void *m)
{
    ck_assert_int_eq(chan_mutex_unlock(m), CHAN_OK);
}

START_TEST(test_sync_mutex_unlock_by_another)
{
    struct handover h = {.m = CHAN_MUTEX_INIT,
                         .locked = chan_make(sizeof(int), 1)};
    chan_mutex_lock(&h.m);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    spawn(&wg, _i, 0, lock_then_report, &h);
    ck_assert(stays_empty(h.locked));
    spawn(&wg, _i, 1, unlock_it, &h.m);
    ck_assert_int_eq(recv_int(h.locked), 1);
    chan_waitgroup_wait(&wg);
    ck_assert_int_eq(h.m.state_, 0);
    chan_release(h.locked);
}
END_TEST

struct fairness {
    chan_mutex_t m;
    atomic_bool stop;
    chan_t *done;
};

static void fairness_hog(void *arg)
{
    struct fairness *f = arg;
    while (!atomic_load(&f->stop)) {
        chan_mutex_lock(&f->m);
        chan_sleep(100 * 1000); /* 100 µs holding the lock */
        chan_mutex_unlock(&f->m);
    }
}

static void fairness_victim(void *arg)
{
    struct fairness *f = arg;
    for (int i = 0; i < 10; i++) {
        chan_sleep(100 * 1000);
        chan_mutex_lock(&f->m);
        chan_mutex_unlock(&f->m);
    }
    send_int(f->done, 1);
}

/* Go's TestMutexFairness: one locker that unlocks and relocks at once in a
 * loop cannot starve another (starvation mode hands the lock over). */
START_TEST(test_sync_mutex_fairness)
{
    struct fairness f = {.m = CHAN_MUTEX_INIT,
                         .done = chan_make(sizeof(int), 1)};
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    spawn(&wg, _i, 0, fairness_hog, &f);
    spawn(&wg, _i, 1, fairness_victim, &f);
    bool finished = recv_within_10s(f.done);
    atomic_store(&f.stop, true);
    chan_waitgroup_wait(&wg);
    ck_assert_msg(finished, "can't acquire the mutex in 10 seconds");
    chan_release(f.done);
}
END_TEST

/* ---- the semaphore under Mutex and RWMutex ------------------------------ */

struct sem_hammer {
    uint32_t sem;
    long counter; /* protected by sem, a binary semaphore */
    int loops;
};

static void hammer_semaphore(void *arg)
{
    struct sem_hammer *h = arg;
    for (int i = 0; i < h->loops; i++) {
        sync__semacquire(&h->sem, i % 2 == 0, SCHED_WAIT_SYNC_MUTEX_LOCK, h);
        h->counter++;
        sync__semrelease(&h->sem, i % 3 == 0);
    }
}

/* Go's TestSemaphore and TestSemaphoreHandoff (runtime_sema_test.go). */
START_TEST(test_sync_semaphore)
{
    struct sem_hammer h = {.sem = 1, .loops = tu_rounds(5000)};
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    for (int i = 0; i < 10; i++)
        spawn(&wg, _i, i, hammer_semaphore, &h);
    chan_waitgroup_wait(&wg);
    ck_assert_int_eq(h.counter, 10L * h.loops);
    ck_assert_uint_eq(h.sem, 1);
}
END_TEST

/* ---- RWMutex ------------------------------------------------------------ */

struct readers {
    chan_rwmutex_t rw;
    chan_t *clocked, *cunlock;
};

static void parallel_reader(void *arg)
{
    struct readers *r = arg;
    chan_rwmutex_rlock(&r->rw);
    send_int(r->clocked, 1);
    recv_int(r->cunlock);
    ck_assert_int_eq(chan_rwmutex_runlock(&r->rw), CHAN_OK);
}

/* Go's TestParallelReaders: n readers hold the read lock at once (each
 * waits, holding it, until all have it). */
START_TEST(test_sync_parallel_readers)
{
    static const int counts[] = {1, 3, 4, 10};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        int n = counts[k];
        struct readers r = {.rw = CHAN_RWMUTEX_INIT,
                            .clocked = chan_make(sizeof(int), 0),
                            .cunlock = chan_make(sizeof(int), 0)};
        chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
        for (int i = 0; i < n; i++)
            spawn(&wg, _i, i, parallel_reader, &r);
        for (int i = 0; i < n; i++)
            recv_int(r.clocked);
        ck_assert(!chan_rwmutex_trylock(&r.rw));
        for (int i = 0; i < n; i++)
            send_int(r.cunlock, 1);
        chan_waitgroup_wait(&wg);
        ck_assert(chan_rwmutex_trylock(&r.rw));
        ck_assert_int_eq(chan_rwmutex_unlock(&r.rw), CHAN_OK);
        chan_release(r.clocked);
        chan_release(r.cunlock);
    }
}
END_TEST

struct rw_hammer {
    chan_rwmutex_t rw;
    atomic_int activity;
    atomic_int errors;
    int loops;
};

static void hammer_reader(void *arg)
{
    struct rw_hammer *h = arg;
    for (int i = 0; i < h->loops; i++) {
        bool tried = i % 5 == 0 && chan_rwmutex_tryrlock(&h->rw);
        if (!tried)
            chan_rwmutex_rlock(&h->rw);
        int n = atomic_fetch_add(&h->activity, 1) + 1;
        if (n < 1 || n >= 10000)
            atomic_fetch_add(&h->errors, 1); /* a writer is in */
        for (int j = 0; j < 10; j++)
            sched__cpu_relax();
        atomic_fetch_sub(&h->activity, 1);
        chan_rwmutex_runlock(&h->rw);
    }
}

static void hammer_writer(void *arg)
{
    struct rw_hammer *h = arg;
    for (int i = 0; i < h->loops; i++) {
        bool tried = i % 5 == 0 && chan_rwmutex_trylock(&h->rw);
        if (!tried)
            chan_rwmutex_lock(&h->rw);
        int n = atomic_fetch_add(&h->activity, 10000) + 10000;
        if (n != 10000)
            atomic_fetch_add(&h->errors, 1); /* not alone */
        for (int j = 0; j < 10; j++)
            sched__cpu_relax();
        atomic_fetch_sub(&h->activity, 10000);
        chan_rwmutex_unlock(&h->rw);
    }
}

/* Go's TestRWMutex (HammerRWMutex): readers share, a writer is alone. */
START_TEST(test_sync_rwmutex)
{
    static const int nreaders[] = {1, 3, 10};
    for (size_t k = 0; k < sizeof nreaders / sizeof nreaders[0]; k++) {
        struct rw_hammer h = {.rw = CHAN_RWMUTEX_INIT,
                              .loops = tu_rounds(2000)};
        chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
        spawn(&wg, _i, 0, hammer_writer, &h);
        int i = 0;
        for (; i < nreaders[k] / 2; i++)
            spawn(&wg, _i, i + 1, hammer_reader, &h);
        spawn(&wg, _i, i + 1, hammer_writer, &h);
        for (; i < nreaders[k]; i++)
            spawn(&wg, _i, i + 2, hammer_reader, &h);
        chan_waitgroup_wait(&wg);
        ck_assert_int_eq(atomic_load(&h.errors), 0);
        ck_assert_int_eq(h.rw.reader_count_, 0);
        ck_assert_int_eq(h.rw.w_.state_, 0);
    }
}
END_TEST

struct preference {
    chan_rwmutex_t rw;
    chan_t *writer_in, *reader_in;
};

static void preference_writer(void *arg)
{
    struct preference *p = arg;
    chan_rwmutex_lock(&p->rw);
    send_int(p->writer_in, 1);
    recv_int(p->writer_in); /* until the test lets go */
    chan_rwmutex_unlock(&p->rw);
}

static void preference_reader(void *arg)
{
    struct preference *p = arg;
    chan_rwmutex_rlock(&p->rw);
    send_int(p->reader_in, 1);
    chan_rwmutex_runlock(&p->rw);
}

/* SY-4: once a writer waits in Lock, new readers wait until it has had and
 * released the lock (writer preference). */
START_TEST(test_sync_rwmutex_writer_preference)
{
    struct preference p = {.rw = CHAN_RWMUTEX_INIT,
                           .writer_in = chan_make(sizeof(int), 0),
                           .reader_in = chan_make(sizeof(int), 1)};
    chan_rwmutex_rlock(&p.rw); /* the first reader: the test */
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    spawn(&wg, _i, 0, preference_writer, &p);
    /* The writer announced itself once TryRLock fails (bounded wait). */
    int64_t deadline = chan_now() + (int64_t)(10 * tu_scale()) * CHAN_SECOND;
    while (chan_rwmutex_tryrlock(&p.rw)) {
        chan_rwmutex_runlock(&p.rw);
        ck_assert(chan_now() < deadline);
        tu_sleep_ms(1);
    }
    spawn(&wg, _i, 1, preference_reader, &p);
    ck_assert(stays_empty(p.reader_in)); /* behind the writer */
    ck_assert_int_eq(chan_rwmutex_runlock(&p.rw), CHAN_OK);
    ck_assert_int_eq(recv_int(p.writer_in), 1); /* the writer is in */
    ck_assert(stays_empty(p.reader_in));
    send_int(p.writer_in, 1); /* writer unlocks */
    ck_assert_int_eq(recv_int(p.reader_in), 1);
    chan_waitgroup_wait(&wg);
    chan_release(p.writer_in);
    chan_release(p.reader_in);
}
END_TEST

/* Go's "sync: RUnlock of unlocked RWMutex" and "sync: Unlock of unlocked
 * RWMutex": CHAN_INVALID, and the RWMutex works on unchanged. */
START_TEST(test_sync_rwmutex_misuse)
{
    chan_rwmutex_t rw = CHAN_RWMUTEX_INIT;
    ck_assert_int_eq(chan_rwmutex_runlock(&rw), CHAN_INVALID);
    ck_assert_int_eq(chan_rwmutex_unlock(&rw), CHAN_INVALID);
    ck_assert_int_eq(chan_rwmutex_rlock(&rw), CHAN_OK);
    ck_assert_int_eq(chan_rwmutex_unlock(&rw), CHAN_INVALID); /* read-held */
    ck_assert(!chan_rwmutex_trylock(&rw));
    ck_assert(chan_rwmutex_tryrlock(&rw));
    ck_assert_int_eq(chan_rwmutex_runlock(&rw), CHAN_OK);
    ck_assert_int_eq(chan_rwmutex_runlock(&rw), CHAN_OK);
    ck_assert_int_eq(chan_rwmutex_runlock(&rw), CHAN_INVALID);
    ck_assert_int_eq(chan_rwmutex_lock(&rw), CHAN_OK);
    ck_assert_int_eq(chan_rwmutex_runlock(&rw), CHAN_INVALID); /* write-held */
    ck_assert(!chan_rwmutex_tryrlock(&rw));
    ck_assert(!chan_rwmutex_trylock(&rw));
    ck_assert_int_eq(chan_rwmutex_unlock(&rw), CHAN_OK);
    ck_assert_int_eq(chan_rwmutex_unlock(&rw), CHAN_INVALID);
    ck_assert_int_eq(rw.reader_count_, 0);
    ck_assert_int_eq(rw.w_.state_, 0);
    ck_assert_int_eq(chan_rwmutex_lock(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_rwmutex_rlock(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_rwmutex_unlock(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_rwmutex_runlock(NULL), CHAN_INVALID);
    ck_assert(!chan_rwmutex_trylock(NULL));
    ck_assert(!chan_rwmutex_tryrlock(NULL));
}
END_TEST

/* ---- Once ------------------------------------------------------------- */

struct once_test {
    chan_once_t once;
    chan_once_value_t value;
    atomic_int calls, value_calls;
    int seen; /* written by the once function, read after Do */
    atomic_int bad;
    chan_t *gate; /* closed when the once function may return */
};

static void once_increment(void *arg)
{
    struct once_test *t = arg;
    if (t->gate)
        chan_recv(t->gate, NULL);
    atomic_fetch_add(&t->calls, 1);
    t->seen = 42;
}

static void *once_make_value(void *arg)
{
    struct once_test *t = arg;
    atomic_fetch_add(&t->value_calls, 1);
    return &t->seen;
}

static void once_caller(void *arg)
{
    struct once_test *t = arg;
    chan_once_do(&t->once, once_increment, t);
    /* Do returns only after f has: its writes are visible. */
    if (atomic_load(&t->calls) != 1 || t->seen != 42)
        atomic_fetch_add(&t->bad, 1);
    if (chan_once_value(&t->value, once_make_value, t) != &t->seen)
        atomic_fetch_add(&t->bad, 1);
}

/* Go's TestOnce: f runs once among ten callers, and each returns after it;
 * OnceValue's shape gives every caller f's one result. */
START_TEST(test_sync_once)
{
    struct once_test t = {.once = CHAN_ONCE_INIT,
                          .value = CHAN_ONCE_VALUE_INIT,
                          .gate = chan_make(0, 0)};
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    for (int i = 0; i < 10; i++)
        spawn(&wg, _i, i, once_caller, &t);
    tu_quiet_sleep(); /* callers wait inside Do while f is held */
    ck_assert_int_eq(atomic_load(&t.calls), 0);
    chan_close(t.gate);
    chan_waitgroup_wait(&wg);
    ck_assert_int_eq(atomic_load(&t.calls), 1);
    ck_assert_int_eq(atomic_load(&t.value_calls), 1);
    ck_assert_int_eq(atomic_load(&t.bad), 0);
    ck_assert_int_eq(chan_once_do(&t.once, once_increment, &t), CHAN_OK);
    ck_assert_int_eq(atomic_load(&t.calls), 1);
    ck_assert_int_eq(chan_once_do(NULL, once_increment, &t), CHAN_INVALID);
    ck_assert_int_eq(chan_once_do(&t.once, NULL, &t), CHAN_INVALID);
    ck_assert_ptr_null(chan_once_value(NULL, once_make_value, &t));
    ck_assert_ptr_null(chan_once_value(&t.value, NULL, &t));
    chan_release(t.gate);
}
END_TEST

/* ---- Cond ------------------------------------------------------------- */

struct cond_test {
    chan_mutex_t m;
    chan_cond_t c;
    chan_t *running, *awake;
    int id;    /* the worker's index, copied under m by the worker */
    bool exit; /* protected by m */
};

static void cond_signal_waiter(void *arg)
{
    struct cond_test *t = arg;
    chan_mutex_lock(&t->m);
    int me = t->id;
    send_int(t->running, 1);
    chan_cond_wait(&t->c);
    send_int(t->awake, me);
    chan_mutex_unlock(&t->m);
}

static void cond_test_init(struct cond_test *t, size_t n)
{
    t->m = (chan_mutex_t)CHAN_MUTEX_INIT;
    ck_assert_int_eq(chan_cond_init(&t->c, &t->m), CHAN_OK);
    t->running = chan_make(sizeof(int), n);
    t->awake = chan_make(sizeof(int), n);
    t->exit = false;
    t->id = 0;
}

static void cond_test_destroy(struct cond_test *t)
{
    chan_release(t->running);
    chan_release(t->awake);
}

/* Go's TestCondSignal: each Signal wakes exactly one waiter. */
START_TEST(test_sync_cond_signal)
{
    struct cond_test t;
    cond_test_init(&t, 2);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    for (int i = 0; i < 2; i++)
        spawn(&wg, _i, i, cond_signal_waiter, &t);
    for (int i = 0; i < 2; i++)
        recv_int(t.running);
    for (int n = 2; n > 0; n--) {
        ck_assert_msg(chan_try_recv(t.awake, NULL) == CHAN_WOULDBLOCK,
                      "goroutine not asleep");
        chan_mutex_lock(&t.m);
        chan_cond_signal(&t.c);
        chan_mutex_unlock(&t.m);
        recv_int(t.awake);
        ck_assert_msg(stays_empty(t.awake), "too many goroutines awake");
    }
    chan_cond_signal(&t.c);
    chan_waitgroup_wait(&wg);
    cond_test_destroy(&t);
}
END_TEST

/* Go's TestCondSignalGenerations: Signal wakes the longest waiter. */
START_TEST(test_sync_cond_signal_generations)
{
    const int n = 100;
    struct cond_test t;
    cond_test_init(&t, (size_t)n);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    for (int i = 0; i < n; i++) {
        chan_mutex_lock(&t.m);
        t.id = i;
        chan_mutex_unlock(&t.m);
        spawn(&wg, _i, i, cond_signal_waiter, &t);
        if (i > 0)
            ck_assert_int_eq(recv_int(t.awake), i - 1);
        recv_int(t.running);
        chan_mutex_lock(&t.m);
        chan_cond_signal(&t.c);
        chan_mutex_unlock(&t.m);
    }
    ck_assert_int_eq(recv_int(t.awake), n - 1);
    chan_waitgroup_wait(&wg);
    cond_test_destroy(&t);
}
END_TEST

struct broadcast_waiter {
    struct cond_test *t;
    int g;
};

static void cond_broadcast_waiter(void *arg)
{
    struct broadcast_waiter *w = arg;
    struct cond_test *t = w->t;
    chan_mutex_lock(&t->m);
    while (!t->exit) {
        send_int(t->running, w->g);
        chan_cond_wait(&t->c);
        send_int(t->awake, w->g);
    }
    chan_mutex_unlock(&t->m);
}

/* Go's TestCondBroadcast: Broadcast wakes every waiter, each once. */
START_TEST(test_sync_cond_broadcast)
{
    const int n = tu_short() ? 20 : 100;
    struct cond_test t;
    cond_test_init(&t, (size_t)n);
    struct broadcast_waiter *w = calloc((size_t)n, sizeof *w);
    bool *seen = calloc((size_t)n, sizeof *seen);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    for (int i = 0; i < n; i++) {
        w[i] = (struct broadcast_waiter){&t, i};
        spawn(&wg, _i, i, cond_broadcast_waiter, &w[i]);
    }
    for (int round = 0; round < n; round++) {
        for (int i = 0; i < n; i++)
            recv_int(t.running);
        if (round == n - 1) {
            chan_mutex_lock(&t.m);
            t.exit = true;
            chan_mutex_unlock(&t.m);
        }
        ck_assert_msg(chan_try_recv(t.awake, NULL) == CHAN_WOULDBLOCK,
                      "goroutine not asleep");
        chan_mutex_lock(&t.m);
        chan_cond_broadcast(&t.c);
        chan_mutex_unlock(&t.m);
        for (int i = 0; i < n; i++)
            seen[i] = false;
        for (int i = 0; i < n; i++) {
            int g = recv_int(t.awake);
            ck_assert_msg(!seen[g], "goroutine woke up twice");
            seen[g] = true;
        }
    }
    chan_waitgroup_wait(&wg);
    ck_assert_msg(chan_try_recv(t.running, NULL) == CHAN_WOULDBLOCK,
                  "goroutine did not exit");
    chan_cond_broadcast(&t.c);
    free(seen);
    free(w);
    cond_test_destroy(&t);
}
END_TEST

struct race {
    chan_mutex_t m;
    chan_cond_t c;
    int x; /* protected by m */
    atomic_int errors;
};

static void race_first(void *arg)
{
    struct race *r = arg;
    chan_mutex_lock(&r->m);
    r->x = 1;
    chan_cond_wait(&r->c);
    if (r->x != 2)
        atomic_fetch_add(&r->errors, 1); /* want 2 */
    r->x = 3;
    chan_cond_signal(&r->c);
    chan_mutex_unlock(&r->m);
}

static void race_second(void *arg)
{
    struct race *r = arg;
    chan_mutex_lock(&r->m);
    while (r->x != 1) {
        chan_mutex_unlock(&r->m);
        chan_gosched();
        chan_mutex_lock(&r->m);
    }
    r->x = 2;
    chan_cond_signal(&r->c);
    chan_mutex_unlock(&r->m);
}

static void race_third(void *arg)
{
    struct race *r = arg;
    chan_mutex_lock(&r->m);
    for (;;) {
        if (r->x == 2) {
            chan_cond_wait(&r->c);
            if (r->x != 3)
                atomic_fetch_add(&r->errors, 1); /* want 3 */
            break;
        }
        if (r->x == 3)
            break;
        chan_mutex_unlock(&r->m);
        chan_gosched();
        chan_mutex_lock(&r->m);
    }
    chan_mutex_unlock(&r->m);
}

/* Go's TestRace: three goroutines hand x along through one Cond. */
START_TEST(test_sync_cond_race)
{
    struct race r = {.m = CHAN_MUTEX_INIT};
    chan_cond_init(&r.c, &r.m);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    spawn(&wg, _i, 0, race_first, &r);
    spawn(&wg, _i, 1, race_second, &r);
    spawn(&wg, _i, 2, race_third, &r);
    chan_waitgroup_wait(&wg);
    ck_assert_int_eq(atomic_load(&r.errors), 0);
}
END_TEST

struct stealing {
    chan_mutex_t m;
    chan_cond_t c;
    chan_t *ch;
    bool done; /* protected by m */
};

static void stealing_first(void *arg)
{
    struct stealing *s = arg;
    chan_mutex_lock(&s->m);
    send_int(s->ch, 1);
    chan_cond_wait(&s->c);
    chan_mutex_unlock(&s->m);
    send_int(s->ch, 2);
}

static void stealing_broadcast(void *arg)
{
    struct stealing *s = arg;
    chan_cond_broadcast(&s->c);
}

static void stealing_second(void *arg)
{
    struct stealing *s = arg;
    chan_mutex_lock(&s->m);
    while (!s->done)
        chan_cond_wait(&s->c);
    chan_mutex_unlock(&s->m);
}

/* Go's TestCondSignalStealing: a Wait that races a Broadcast cannot steal
 * the wake-up of a waiter that was already waiting. */
START_TEST(test_sync_cond_signal_stealing)
{
    int iters = tu_short() ? 50 : 1000;
    for (int it = 0; it < iters; it++) {
        struct stealing s = {.m = CHAN_MUTEX_INIT,
                             .ch = chan_make(sizeof(int), 0)};
        chan_cond_init(&s.c, &s.m);
        chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
        spawn(&wg, _i, it, stealing_first, &s);
        recv_int(s.ch);
        chan_mutex_lock(&s.m); /* the waiter is inside Wait */
        chan_mutex_unlock(&s.m);
        spawn(&wg, _i, it + 1, stealing_broadcast, &s);
        spawn(&wg, _i, it, stealing_second, &s);
        ck_assert_msg(recv_within_10s(s.ch),
                      "first waiter didn't get broadcast");
        chan_mutex_lock(&s.m);
        s.done = true;
        chan_mutex_unlock(&s.m);
        chan_cond_broadcast(&s.c);
        chan_waitgroup_wait(&wg);
        chan_release(s.ch);
    }
}
END_TEST

/* A Wait without the lock held, where Go throws at its Unlock: CHAN_INVALID,
 * and no ticket is spent (the next Signal still wakes the next Wait). */
START_TEST(test_sync_cond_misuse)
{
    struct cond_test t;
    cond_test_init(&t, 1);
    ck_assert_int_eq(chan_cond_wait(&t.c), CHAN_INVALID);
    ck_assert_uint_eq(t.c.wait_, 0);
    ck_assert_int_eq(chan_cond_wait(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_cond_signal(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_cond_broadcast(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_cond_init(NULL, &t.m), CHAN_INVALID);
    ck_assert_int_eq(chan_cond_init(&t.c, NULL), CHAN_INVALID);
    chan_cond_t none = CHAN_COND_INIT(NULL);
    ck_assert_int_eq(chan_cond_wait(&none), CHAN_INVALID);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    spawn(&wg, ON_GOROUTINES, 0, cond_signal_waiter, &t);
    recv_int(t.running);
    chan_mutex_lock(&t.m);
    chan_cond_signal(&t.c);
    chan_mutex_unlock(&t.m);
    recv_int(t.awake);
    chan_waitgroup_wait(&wg);
    cond_test_destroy(&t);
}
END_TEST

/* ---- the suite ---------------------------------------------------------- */

Suite *sync_suite(void);
Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc;

    tc = tu_tcase(s, "mutex", 60);
    tcase_add_loop_test(tc, test_sync_mutex, 0, NMODES);
    tcase_add_test(tc, test_sync_mutex_misuse);
    tcase_add_loop_test(tc, test_sync_mutex_unlock_by_another, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_mutex_fairness, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_semaphore, 0, NMODES);

    tc = tu_tcase(s, "rwmutex", 60);
    tcase_add_loop_test(tc, test_sync_parallel_readers, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_rwmutex, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_rwmutex_writer_preference, 0, NMODES);
    tcase_add_test(tc, test_sync_rwmutex_misuse);

    tc = tu_tcase(s, "once", 30);
    tcase_add_loop_test(tc, test_sync_once, 0, NMODES);

    tc = tu_tcase(s, "cond", 60);
    tcase_add_loop_test(tc, test_sync_cond_signal, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_cond_signal_generations, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_cond_broadcast, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_cond_race, 0, NMODES);
    tcase_add_loop_test(tc, test_sync_cond_signal_stealing, 0, NMODES);
    tcase_add_test(tc, test_sync_cond_misuse);

    return s;
}

int main(void)
{
    return tu_run(sync_suite());
}
