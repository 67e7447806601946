/* gochan_bench.c: the C half of the side-by-side benchmark against Go.
 *
 * Usage: gochan_bench [--quick] WORKLOAD
 * Runs one workload and prints one line per measurement on stdout:
 *     id <TAB> value <TAB> unit            (value "n/a" plus a reason when the
 *                                           library lacks what it needs)
 *     note <TAB> text                      (e.g. fewer threads than asked)
 * bench/go/main.go is the twin: the same workloads with the same counts,
 * thread/goroutine structure and element type (int64), printing the same ids.
 * bench/run.sh runs the two alternately and tabulates medians.
 *
 * Which chan_go starts, a kernel thread or a goroutine on the scheduler, is
 * the library's choice (GOCHAN_SCHED in the environment); run.sh sets it per
 * workload: 0 (threads) for b1-b4 and scale_*, 1 (goroutines) for the rest,
 * g1-g4 and gscale_* included, which only mean something on the scheduler.
 *
 * One workload per process keeps the measurements independent (a fresh heap
 * for the memory rows, no threads left over from an earlier workload) and
 * lets the driver survive a crash or hang in code that is still being written.
 *
 * Timers and contexts are written in parallel with this file, so their
 * functions are declared weak: an unwritten one links as NULL and its rows
 * report n/a. CMakeLists.txt links the whole static library so that a written
 * one is always found.
 */
#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/sync.h>
#include <gochan/timer.h>

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#pragma weak context_background
#pragma weak context_with_cancel
#pragma weak context_with_timeout
#pragma weak context_with_value
#pragma weak context_cancel
#pragma weak context_release
#pragma weak context_done
#pragma weak context_value
#pragma weak chan_timer_new
#pragma weak chan_timer_chan
#pragma weak chan_timer_release

/* --quick (CI smoke runs) divides every count by 10. */
static bool quick;
static int64_t scaled(int64_t n)
{
    return quick ? n / 10 : n;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void emit(const char *id, double value, const char *unit)
{
    printf("%s\t%.3f\t%s\n", id, value, unit);
    fflush(stdout);
}

static void emit_na(const char *id, const char *unit, const char *why)
{
    printf("%s\tn/a\t%s\t%s\n", id, unit, why);
    fflush(stdout);
}

static void note(const char *fmt, int64_t a, int64_t b)
{
    printf("note\t");
    printf(fmt, (long long)a, (long long)b);
    printf("\n");
    fflush(stdout);
}

/* A benchmark that computes a wrong answer measures nothing: stop loudly. */
static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "gochan_bench: check failed: %s\n", what);
        exit(1);
    }
}

static chan_t *make_chan(size_t cap)
{
    chan_t *c = chan_make(sizeof(int64_t), cap);
    check(c != NULL, "chan_make");
    return c;
}

static void go(chan_waitgroup_t *wg, void (*fn)(void *), void *arg)
{
    check(chan_waitgroup_go(wg, fn, arg) == CHAN_OK, "chan_waitgroup_go");
}

/* ---- B1: buffered channel, cap 128, one producer and one consumer ------- */

typedef struct producer {
    chan_t *c;
    int64_t n;
    bool close_when_done;
} producer_t;

static void produce(void *p)
{
    producer_t *a = p;
    for (int64_t i = 0; i < a->n; i++)
        chan_send(a->c, &i);
    if (a->close_when_done)
        chan_close(a->c);
}

static double b1_once(int64_t n)
{
    chan_t *c = make_chan(128);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    producer_t p = {c, n, true};
    int64_t start = now_ns(), v, sum = 0;
    go(&wg, produce, &p);
    while (chan_recv(c, &v) == CHAN_OK)
        sum += v;
    chan_waitgroup_wait(&wg);
    int64_t elapsed = now_ns() - start;
    check(sum == n * (n - 1) / 2, "b1 sum");
    chan_release(c);
    return (double)elapsed / (double)n;
}

static void b1(void)
{
    int64_t n = scaled(2000000);
    b1_once(n / 20);
    emit("b1", b1_once(n), "ns/msg");
}

/* ---- B2: unbuffered ping-pong between two threads ----------------------- */

typedef struct pingpong {
    chan_t *ping, *pong;
} pingpong_t;

static void ponger(void *p)
{
    pingpong_t *a = p;
    int64_t v;
    while (chan_recv(a->ping, &v) == CHAN_OK)
        chan_send(a->pong, &v);
}

static double b2_once(int64_t rounds)
{
    pingpong_t a = {make_chan(0), make_chan(0)};
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    int64_t start = now_ns(), v = 0, sum = 0;
    go(&wg, ponger, &a);
    for (int64_t i = 0; i < rounds; i++) {
        chan_send(a.ping, &i);
        chan_recv(a.pong, &v);
        sum += v;
    }
    chan_close(a.ping);
    chan_waitgroup_wait(&wg);
    int64_t elapsed = now_ns() - start;
    check(sum == rounds * (rounds - 1) / 2, "b2 sum");
    chan_release(a.ping);
    chan_release(a.pong);
    return (double)elapsed / (double)rounds;
}

static void b2(void)
{
    int64_t rounds = scaled(200000);
    b2_once(rounds / 20);
    emit("b2", b2_once(rounds), "ns/rtt");
}

/* ---- B3: 4 producers and 4 consumers on one channel of cap 1024 --------- */

typedef struct consumer {
    chan_t *c;
    int64_t sum;
    char pad[64]; /* consumers' sums on their own cache lines */
} consumer_t;

static void consume(void *p)
{
    consumer_t *a = p;
    int64_t v, sum = 0;
    while (chan_recv(a->c, &v) == CHAN_OK)
        sum += v;
    a->sum = sum;
}

static double b3_once(int64_t n)
{
    enum { P = 4, C = 4 };
    chan_t *c = make_chan(1024);
    chan_waitgroup_t producers = CHAN_WAITGROUP_INIT;
    chan_waitgroup_t consumers = CHAN_WAITGROUP_INIT;
    producer_t prod[P];
    consumer_t cons[C];
    int64_t start = now_ns();
    for (int i = 0; i < C; i++) {
        cons[i] = (consumer_t){.c = c};
        go(&consumers, consume, &cons[i]);
    }
    for (int i = 0; i < P; i++) {
        prod[i] = (producer_t){c, n / P, false};
        go(&producers, produce, &prod[i]);
    }
    chan_waitgroup_wait(&producers);
    chan_close(c);
    chan_waitgroup_wait(&consumers);
    int64_t elapsed = now_ns() - start, sum = 0;
    for (int i = 0; i < C; i++)
        sum += cons[i].sum;
    check(sum == P * ((n / P) * (n / P - 1) / 2), "b3 sum");
    chan_release(c);
    return (double)elapsed / (double)n;
}

static void b3(void)
{
    int64_t n = scaled(2000000);
    b3_once(n / 20);
    emit("b3", b3_once(n), "ns/msg");
}

/* ---- B4: one consumer selecting over 4 producers' channels of cap 128 --- */

static double b4_once(int64_t n)
{
    enum { P = 4 };
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    producer_t prod[P];
    chan_case_t cases[P];
    int64_t values[P];
    int64_t start = now_ns(), sum = 0;
    for (int i = 0; i < P; i++) {
        prod[i] = (producer_t){make_chan(128), n / P, true};
        cases[i] = (chan_case_t){prod[i].c, CHAN_RECV, &values[i], 0};
        go(&wg, produce, &prod[i]);
    }
    for (int open = P; open > 0;) {
        int i = chan_select(cases, P);
        if (cases[i].status == CHAN_OK) {
            sum += values[i];
        } else {
            cases[i].chan =
                NULL; /* as Go sets a closed case's channel to nil */
            open--;
        }
    }
    chan_waitgroup_wait(&wg);
    int64_t elapsed = now_ns() - start;
    check(sum == P * ((n / P) * (n / P - 1) / 2), "b4 sum");
    for (int i = 0; i < P; i++)
        chan_release(prod[i].c);
    return (double)elapsed / (double)n;
}

static void b4(void)
{
    int64_t n = scaled(2000000);
    b4_once(n / 20);
    emit("b4", b4_once(n), "ns/msg");
}

/* ---- G1 - G4: B1 - B4 with every worker a goroutine ---------------------- */

/* The whole bN_once body runs inside one goroutine (so its own sends and
 * receives are a goroutine's too, as main's are in Go); main only waits for
 * the result on a channel. Meant for GOCHAN_SCHED=1 (run.sh sets it). */
typedef struct in_goroutine {
    double (*body)(int64_t n);
    int64_t n;
    chan_t *result;
} in_goroutine_t;

static void run_body(void *p)
{
    in_goroutine_t *a = p;
    double r = a->body(a->n);
    chan_send(a->result, &r);
}

static double in_goroutine(double (*body)(int64_t n), int64_t n)
{
    in_goroutine_t a = {body, n, chan_make(sizeof(double), 0)};
    check(a.result != NULL, "chan_make");
    check(chan_go(run_body, &a) == CHAN_OK, "chan_go");
    double r = 0;
    check(chan_recv(a.result, &r) == CHAN_OK, "g result");
    chan_release(a.result);
    return r;
}

static void g_row(const char *id, double (*body)(int64_t n), int64_t n,
                  const char *unit)
{
    in_goroutine(body, n / 20);
    emit(id, in_goroutine(body, n), unit);
}

static void g1(void)
{
    g_row("g1", b1_once, scaled(2000000), "ns/msg");
}
static void g2(void)
{
    g_row("g2", b2_once, scaled(200000), "ns/rtt");
}
static void g3(void)
{
    g_row("g3", b3_once, scaled(2000000), "ns/msg");
}
static void g4(void)
{
    g_row("g4", b4_once, scaled(2000000), "ns/msg");
}

/* ---- B5, B6, B7: single-thread costs ------------------------------------ */

static double b5_once(int64_t n)
{
    chan_t *c = make_chan(0);
    int64_t v = 0, start = now_ns();
    for (int64_t i = 0; i < n; i++)
        if (chan_try_recv(c, &v) != CHAN_WOULDBLOCK)
            check(false, "b5 try_recv");
    int64_t elapsed = now_ns() - start;
    chan_release(c);
    return (double)elapsed / (double)n;
}

static void b5(void)
{
    int64_t n = scaled(2000000);
    b5_once(n / 20);
    emit("b5", b5_once(n), "ns/op");
}

static double b6_once(int64_t n)
{
    chan_t *c = make_chan(1);
    int64_t v = 0, sum = 0, start = now_ns();
    for (int64_t i = 0; i < n; i++) {
        chan_send(c, &i);
        chan_recv(c, &v);
        sum += v;
    }
    int64_t elapsed = now_ns() - start;
    check(sum == n * (n - 1) / 2, "b6 sum");
    chan_release(c);
    return (double)elapsed / (double)n;
}

static void b6(void)
{
    int64_t n = scaled(2000000);
    b6_once(n / 20);
    emit("b6", b6_once(n), "ns/pair");
}

static double b7_once(int64_t n)
{
    int64_t start = now_ns();
    for (int64_t i = 0; i < n; i++)
        chan_release(make_chan(0));
    return (double)(now_ns() - start) / (double)n;
}

static void b7(void)
{
    int64_t n = scaled(2000000);
    b7_once(n / 20);
    emit("b7", b7_once(n), "ns");
}

/* ---- B8 - B11: contexts -------------------------------------------------- */

static bool have_context(void)
{
    return context_background && context_with_cancel && context_cancel &&
           context_release && context_done;
}

static double b8_once(int64_t n)
{
    context_t *bg = context_background();
    int64_t start = now_ns();
    for (int64_t i = 0; i < n; i++) {
        context_cancel_t *cancel;
        context_t *ctx = context_with_cancel(bg, &cancel);
        context_cancel(cancel);
        context_release(ctx);
    }
    return (double)(now_ns() - start) / (double)n;
}

static void b8(void)
{
    if (!have_context()) {
        emit_na("b8", "ns", "context/context.c not written yet");
        return;
    }
    int64_t n = scaled(2000000);
    b8_once(n / 20);
    emit("b8", b8_once(n), "ns");
}

static void b9(void)
{
    if (!have_context()) {
        emit_na("b9", "ms", "context/context.c not written yet");
        return;
    }
    int64_t n = scaled(100000);
    context_t **kids = malloc((size_t)n * sizeof *kids);
    context_cancel_t **cancels = malloc((size_t)n * sizeof *cancels);
    chan_t **dones = malloc((size_t)n * sizeof *dones);
    check(kids && cancels && dones, "b9 malloc");
    context_cancel_t *parent_cancel;
    context_t *parent =
        context_with_cancel(context_background(), &parent_cancel);
    check(parent != NULL, "b9 parent");
    for (int64_t i = 0; i < n; i++) {
        kids[i] = context_with_cancel(parent, &cancels[i]);
        check(kids[i] != NULL, "b9 child");
        dones[i] = context_done(kids[i]); /* made before the cancel, as Go's */
    }
    int64_t start = now_ns();
    context_cancel(parent_cancel);
    for (int64_t i = 0; i < n; i++)
        check(chan_recv(dones[i], NULL) == CHAN_CLOSED, "b9 done closed");
    int64_t elapsed = now_ns() - start;
    for (int64_t i = 0; i < n; i++) {
        context_cancel(cancels[i]);
        context_release(kids[i]);
    }
    context_release(parent);
    free(kids);
    free(cancels);
    free(dones);
    emit("b9", (double)elapsed / 1e6, "ms");
}

static double b10_once(int64_t n)
{
    context_t *bg = context_background();
    int64_t start = now_ns();
    for (int64_t i = 0; i < n; i++) {
        context_cancel_t *cancel;
        context_t *ctx = context_with_timeout(bg, CHAN_HOUR, &cancel);
        context_cancel(cancel);
        context_release(ctx);
    }
    return (double)(now_ns() - start) / (double)n;
}

static void b10(void)
{
    if (!have_context() || !context_with_timeout) {
        emit_na("b10", "ns", "context/context.c not written yet");
        return;
    }
    int64_t n = scaled(2000000);
    b10_once(n / 20);
    emit("b10", b10_once(n), "ns");
}

static void b11(void)
{
    if (!have_context() || !context_with_value || !context_value) {
        emit_na("b11", "ns", "context/context.c not written yet");
        return;
    }
    enum { DEPTH = 100 };
    static int keys[DEPTH];
    context_t *chain[DEPTH];
    context_t *ctx = context_background();
    for (int i = 0; i < DEPTH; i++) {
        chain[i] = ctx = context_with_value(ctx, &keys[i], &keys[i]);
        check(ctx != NULL, "b11 with_value");
    }
    int64_t n = scaled(2000000), hits = 0;
    for (int64_t i = 0; i < n / 20; i++)
        hits += context_value(ctx, &keys[0]) == &keys[0];
    int64_t start = now_ns();
    for (int64_t i = 0; i < n; i++)
        hits += context_value(ctx, &keys[0]) == &keys[0];
    int64_t elapsed = now_ns() - start;
    check(hits == n + n / 20, "b11 lookups");
    for (int i = DEPTH; i-- > 0;)
        context_release(chain[i]);
    emit("b11", (double)elapsed / (double)n, "ns");
}

/* ---- B12: lateness of a 1 ms timer in a select --------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void b12(void)
{
    if (!chan_timer_new || !chan_timer_chan || !chan_timer_release) {
        emit_na("b12_p50", "us", "chan/timer.c not written yet");
        emit_na("b12_p99", "us", "chan/timer.c not written yet");
        return;
    }
    int n = quick ? 100 : 1000;
    int64_t *late = malloc((size_t)n * sizeof *late);
    check(late != NULL, "b12 malloc");
    chan_t *never = make_chan(0); /* the select's other case, never ready */
    for (int i = 0; i < n; i++) {
        int64_t start = now_ns(), fired = 0, v = 0;
        chan_timer_t *t = chan_timer_new(CHAN_MILLISECOND);
        check(t != NULL, "b12 timer");
        chan_case_t cases[2] = {{chan_timer_chan(t), CHAN_RECV, &fired, 0},
                                {never, CHAN_RECV, &v, 0}};
        check(chan_select(cases, 2) == 0, "b12 select");
        late[i] = now_ns() - start - CHAN_MILLISECOND;
        chan_timer_release(t);
    }
    chan_release(never);
    qsort(late, (size_t)n, sizeof *late, cmp_i64);
    emit("b12_p50", (double)late[n / 2] / 1e3, "us");
    emit("b12_p99", (double)late[n * 99 / 100] / 1e3, "us");
    free(late);
}

/* ---- memory: bytes per object, from malloc's own accounting -------------- */

enum { MEM_OBJECTS = 10000 };

/* Bytes malloc has handed out and not had back (chunk headers included, as
 * Go's HeapAlloc includes size-class rounding). */
static int64_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
#else
    return -1;
#endif
}

static void mem_report(const char *id, int64_t before, int64_t after)
{
    if (before < 0)
        emit_na(id, "B", "needs glibc 2.33 mallinfo2");
    else
        emit(id, (double)(after - before) / MEM_OBJECTS, "B");
}

static void mem_chan(void)
{
    chan_t **cs = malloc(MEM_OBJECTS * sizeof *cs);
    check(cs != NULL, "mem malloc");
    chan_release(make_chan(0));
    int64_t before = heap_in_use();
    for (int i = 0; i < MEM_OBJECTS; i++)
        cs[i] = make_chan(0);
    int64_t after = heap_in_use();
    for (int i = 0; i < MEM_OBJECTS; i++)
        chan_release(cs[i]);
    free(cs);
    mem_report("mem_chan", before, after);
}

static void mem_context(const char *id, bool timeout)
{
    if (!have_context() || (timeout && !context_with_timeout)) {
        emit_na(id, "B", "context/context.c not written yet");
        return;
    }
    context_t **ctxs = malloc(MEM_OBJECTS * sizeof *ctxs);
    context_cancel_t **cancels = malloc(MEM_OBJECTS * sizeof *cancels);
    check(ctxs && cancels, "mem malloc");
    context_t *bg = context_background();
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up (timer thread) */
        int count = pass ? MEM_OBJECTS : 1;
        int64_t before = heap_in_use();
        for (int i = 0; i < count; i++) {
            ctxs[i] = timeout ? context_with_timeout(bg, CHAN_HOUR, &cancels[i])
                              : context_with_cancel(bg, &cancels[i]);
            check(ctxs[i] != NULL, "mem context");
        }
        int64_t after = heap_in_use();
        for (int i = 0; i < count; i++) {
            context_cancel(cancels[i]);
            context_release(ctxs[i]);
        }
        if (pass)
            mem_report(id, before, after);
    }
    free(ctxs);
    free(cancels);
}

static void mem_cancel(void)
{
    mem_context("mem_cancel", false);
}
static void mem_timeout(void)
{
    mem_context("mem_timeout", true);
}

static void mem_timer(void)
{
    if (!chan_timer_new || !chan_timer_release) {
        emit_na("mem_timer", "B", "chan/timer.c not written yet");
        return;
    }
    chan_timer_t **ts = malloc(MEM_OBJECTS * sizeof *ts);
    check(ts != NULL, "mem malloc");
    chan_timer_release(chan_timer_new(CHAN_HOUR)); /* starts the timer thread */
    int64_t before = heap_in_use();
    for (int i = 0; i < MEM_OBJECTS; i++) {
        ts[i] = chan_timer_new(CHAN_HOUR);
        check(ts[i] != NULL, "mem timer");
    }
    int64_t after = heap_in_use();
    for (int i = 0; i < MEM_OBJECTS; i++)
        chan_timer_release(ts[i]);
    free(ts);
    mem_report("mem_timer", before, after);
}

/* ---- scale: 10,000 threads ---------------------------------------------- */

static int64_t scale_threads(void)
{
    return quick ? 1000 : 10000;
}

typedef struct blocked {
    chan_t *c;
    chan_waitgroup_t *wg;
    _Atomic int64_t *ready;
} blocked_t;

static void block_on(void *p)
{
    blocked_t *a = p;
    atomic_fetch_add(a->ready, 1);
    check(chan_recv(a->c, NULL) == CHAN_CLOSED, "scale_close recv");
    chan_waitgroup_done(a->wg);
}

/* How many threads of this process other than the caller are running or
 * runnable (state R in /proc/self/task/TID/stat); -1 if that cannot be read. */
static int other_running_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return -1;
    pid_t self = gettid();
    int running = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        int tid = atoi(e->d_name);
        if (tid <= 0 || tid == self)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread exited */
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        const char *state = strrchr(buf, ')'); /* "pid (comm) S ..." */
        if (state && state[1] == ' ' && state[2] == 'R')
            running++;
    }
    closedir(dir);
    return running;
}

/* Waits until `ready` reaches n, then until every other thread is asleep
 * (a blocked gochan thread spins for a while before it sleeps), so that the
 * timed part starts with all of them blocked. Go's twin does the same. */
static void wait_ready(_Atomic int64_t *ready, int64_t n)
{
    while (atomic_load(ready) < n)
        sleep_ms(1);
    for (int i = 0; i < 1000 && other_running_threads() > 0; i++)
        sleep_ms(10);
    sleep_ms(50);
}

static void scale_close(void)
{
    int64_t n = scale_threads(), started = 0;
    chan_t *c = make_chan(0);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    _Atomic int64_t ready = 0;
    blocked_t arg = {c, &wg, &ready};
    chan_waitgroup_add(&wg, n);
    for (; started < n; started++)
        if (chan_go(block_on, &arg) != CHAN_OK)
            break;
    if (started < n) {
        note("scale_close: the machine allowed %lld of %lld threads", started,
             n);
        chan_waitgroup_add(&wg, started - n);
    }
    wait_ready(&ready, started);
    int64_t start = now_ns();
    chan_close(c);
    chan_waitgroup_wait(&wg);
    int64_t elapsed = now_ns() - start;
    chan_release(c);
    emit("scale_close", (double)elapsed / 1e6, "ms");
}

typedef struct link {
    chan_t *left, *right;
    _Atomic int64_t *ready;
} link_t;

/* Go's daisy chain "whisper": left <- 1 + <-right. */
static void whisper(void *p)
{
    link_t *l = p;
    int64_t v;
    atomic_fetch_add(l->ready, 1);
    check(chan_recv(l->right, &v) == CHAN_OK, "daisy recv");
    v++;
    chan_send(l->left, &v);
}

/* Builds a chain of n threads (goroutines under GOCHAN_SCHED=1) and passes
 * one value through it; returns the milliseconds from the first one's
 * creation to the answer (wait_first: from the send, once every one is about
 * to block). id names the row in a note. */
static double daisy(const char *id, int64_t n, bool wait_first)
{
    chan_t **cs = malloc((size_t)(n + 1) * sizeof *cs);
    link_t *links = malloc((size_t)n * sizeof *links);
    check(cs && links, "daisy malloc");
    _Atomic int64_t ready = 0;
    for (int64_t i = 0; i <= n; i++)
        cs[i] = make_chan(0);
    int64_t start = now_ns(), started = 0;
    for (; started < n; started++) {
        links[started] = (link_t){cs[started], cs[started + 1], &ready};
        if (chan_go(whisper, &links[started]) != CHAN_OK)
            break;
    }
    if (started < n) {
        printf("note\t%s: chan_go started %lld of %lld\n", id,
               (long long)started, (long long)n);
        fflush(stdout);
    }
    if (wait_first) {
        wait_ready(&ready, started);
        start = now_ns();
    }
    int64_t one = 1, v = 0;
    chan_send(cs[started], &one);
    chan_recv(cs[0], &v);
    int64_t elapsed = now_ns() - start;
    check(v == started + 1, "daisy value");
    for (int64_t i = 0; i <= n; i++)
        chan_release(cs[i]);
    sleep_ms(100); /* let the threads exit before links goes */
    free(links);
    free(cs);
    return (double)elapsed / 1e6;
}

static void scale_daisy(void)
{
    emit("scale_daisy", daisy("scale_daisy", scale_threads(), false), "ms");
    emit("scale_daisy_pass", daisy("scale_daisy", scale_threads(), true), "ms");
}

/* ---- gscale: 10k, 100k and 1M blocked goroutines ------------------------- */

/* These rows mean goroutines: run.sh runs them with GOCHAN_SCHED=1, where
 * chan_go starts goroutines on the scheduler (main stays a plain thread and
 * only starts, closes and waits). The method, mirrored line for line in the
 * Go twin:
 *   - one goroutine is started and waited for first, so that the runtime
 *     (gochan: the scheduler's Ps and first M) is up before anything is timed;
 *   - start: main starts n goroutines that each bump a counter and block on
 *     one channel; the one whose bump takes the counter to n records the
 *     time since the first start (exact: no polling interval in it), then
 *     blocks too;
 *   - main polls until that time is recorded, then settles (wait_ready: no
 *     other thread of the process running, then 50 ms) so that every
 *     goroutine is parked, not just about to park;
 *   - close: main closes the channel and waits on a WaitGroup that each
 *     goroutine's Done after its receive brings to zero;
 *   - memory: VmRSS (/proc/self/status) before the start and after the
 *     settle, divided by n, so that both sides count what the kernel counts;
 *   - out of memory: every GSCALE_CHECK_EVERY starts, main reads MemAvailable
 *     (/proc/meminfo) and stops short when it is below GSCALE_RESERVE, rather
 *     than let the kernel's OOM killer end the process (there is no swap, and
 *     the machine is shared): the rows then print n/a with the reason, as
 *     they do when chan_go fails. */
enum { GSCALE_CHECK_EVERY = 4096 };
#define GSCALE_RESERVE ((int64_t)1 << 30) /* bytes of MemAvailable to leave */

/* The value of "Key:   N kB" in a /proc file, in bytes; -1 if not there. */
static int64_t proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    size_t len = strlen(key);
    int64_t bytes = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            bytes = strtoll(line + len + 1, NULL, 10) * 1024;
            break;
        }
    }
    fclose(f);
    return bytes;
}

static int64_t vm_rss(void)
{
    return proc_kb("/proc/self/status", "VmRSS");
}

static bool memory_low(void)
{
    int64_t avail = proc_kb("/proc/meminfo", "MemAvailable");
    return avail >= 0 && avail < GSCALE_RESERVE;
}

static void send_one(void *p)
{
    int64_t one = 1;
    chan_send(p, &one);
}

/* Starts the runtime: one goroutine, waited for. */
static void warm_up(void)
{
    chan_t *c = make_chan(0);
    int64_t v = 0;
    check(chan_go(send_one, c) == CHAN_OK, "warm-up chan_go");
    check(chan_recv(c, &v) == CHAN_OK && v == 1, "warm-up recv");
    chan_release(c);
}

typedef struct gscale {
    chan_t *c;
    chan_waitgroup_t wg;
    int64_t n;  /* goroutines to start; set before the first starts */
    int64_t t0; /* now_ns() just before the first start */
    _Atomic int64_t ready;
    _Atomic int64_t all_ready_ns; /* since t0, by the n-th to be ready */
} gscale_t;

static void gscale_block(void *p)
{
    gscale_t *s = p;
    if (atomic_fetch_add(&s->ready, 1) + 1 == s->n) {
        int64_t t = now_ns() - s->t0;
        atomic_store(&s->all_ready_ns, t > 0 ? t : 1);
    }
    check(chan_recv(s->c, NULL) == CHAN_CLOSED, "gscale recv");
    chan_waitgroup_done(&s->wg);
}

/* Starts s->n goroutines blocked on s->c and waits until all are parked.
 * Returns true when all started; otherwise false, with why set, once those
 * that did start are parked. */
static bool gscale_start(gscale_t *s, char *why, size_t why_size)
{
    int64_t n = s->n, started = 0;
    check(chan_waitgroup_add(&s->wg, n) == CHAN_OK, "gscale add");
    s->t0 = now_ns();
    for (; started < n; started++) {
        if (started % GSCALE_CHECK_EVERY == 0 && memory_low()) {
            snprintf(why, why_size,
                     "stopped after %lld goroutines: MemAvailable below "
                     "%lld MiB",
                     (long long)started, (long long)(GSCALE_RESERVE >> 20));
            break;
        }
        if (chan_go(gscale_block, s) != CHAN_OK) {
            snprintf(why, why_size, "chan_go failed after %lld goroutines: %s",
                     (long long)started, strerror(errno));
            break;
        }
    }
    if (started < n) {
        chan_waitgroup_add(&s->wg, started - n);
        wait_ready(&s->ready, started);
        return false;
    }
    while (atomic_load(&s->all_ready_ns) == 0)
        sleep_ms(1);
    wait_ready(&s->ready, n);
    return true;
}

/* Closes the channel and waits for every goroutine to finish: ms. */
static double gscale_close(gscale_t *s)
{
    int64_t start = now_ns();
    chan_close(s->c);
    chan_waitgroup_wait(&s->wg);
    return (double)(now_ns() - start) / 1e6;
}

/* One round at n goroutines: start (and memory, when mem_id), then close
 * when close_id. */
static void gscale(int64_t n, const char *start_id, const char *close_id,
                   const char *mem_id)
{
    warm_up();
    gscale_t s = {.c = make_chan(0), .n = n};
    chan_waitgroup_init(&s.wg);
    char why[160] = "";
    int64_t rss_before = vm_rss();
    bool ok = gscale_start(&s, why, sizeof why);
    int64_t rss_after = vm_rss();
    if (ok) {
        emit(start_id, (double)atomic_load(&s.all_ready_ns) / 1e6, "ms");
        if (mem_id && rss_before >= 0 && rss_after >= 0)
            emit(mem_id, (double)(rss_after - rss_before) / (double)n, "B");
        else if (mem_id)
            emit_na(mem_id, "B", "no VmRSS in /proc/self/status");
    } else {
        emit_na(start_id, "ms", why);
        if (mem_id)
            emit_na(mem_id, "B", why);
    }
    if (!close_id)
        return; /* the process exits with them blocked */
    double closed = gscale_close(&s);
    if (ok)
        emit(close_id, closed, "ms");
    else
        emit_na(close_id, "ms", why);
    chan_release(s.c);
    chan_waitgroup_destroy(&s.wg);
}

static void gscale_10k(void)
{
    gscale(scaled(10000), "gscale_start_10k", "gscale_close_10k", NULL);
}

static void gscale_100k(void)
{
    gscale(scaled(100000), "gscale_start_100k", "gscale_close_100k",
           "mem_goroutine");
}

static void gscale_1m(void)
{
    gscale(scaled(1000000), "gscale_start_1m", "gscale_close_1m", NULL);
}

static void gscale_daisy(void)
{
    warm_up();
    emit("gscale_daisy", daisy("gscale_daisy", scaled(10000), false), "ms");
}

/* ---- S1 - S4: Go's sync, every row inside a goroutine ------------------- */

#define S_WORKERS 4 /* goroutines of the contended rows, as Go's twin */

/* S1: Lock + Unlock of an uncontended Mutex, one goroutine. */
static double s1_once(int64_t n)
{
    chan_mutex_t m = CHAN_MUTEX_INIT;
    int64_t start = now_ns();
    for (int64_t i = 0; i < n; i++) {
        chan_mutex_lock(&m);
        chan_mutex_unlock(&m);
    }
    return (double)(now_ns() - start) / (double)n;
}

typedef struct s_shared {
    chan_mutex_t m;
    chan_rwmutex_t rw;
    int64_t counter; /* protected by m, resp. rw */
    int64_t per_worker;
    atomic_llong sink;
} s_shared_t;

static void s2_worker(void *p)
{
    s_shared_t *s = p;
    for (int64_t i = 0; i < s->per_worker; i++) {
        chan_mutex_lock(&s->m);
        s->counter++;
        chan_mutex_unlock(&s->m);
    }
}

/* S3's worker: one write in 100, else a read (Go's BenchmarkRWMutexWrite100
 * shape, without the local work). */
static void s3_worker(void *p)
{
    s_shared_t *s = p;
    int64_t seen = 0;
    for (int64_t i = 0; i < s->per_worker; i++) {
        if (i % 100 == 0) {
            chan_rwmutex_lock(&s->rw);
            s->counter++;
            chan_rwmutex_unlock(&s->rw);
        } else {
            chan_rwmutex_rlock(&s->rw);
            seen += s->counter;
            chan_rwmutex_runlock(&s->rw);
        }
    }
    atomic_fetch_add(&s->sink, seen);
}

/* S2 and S3: S_WORKERS goroutines share one lock; ns per operation. Each
 * worker writes once every `write_every` operations (S2: every one). */
static double s_contended(int64_t n, void (*worker)(void *),
                          int64_t write_every)
{
    s_shared_t s = {.m = CHAN_MUTEX_INIT,
                    .rw = CHAN_RWMUTEX_INIT,
                    .per_worker = n / S_WORKERS};
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    int64_t start = now_ns();
    for (int i = 0; i < S_WORKERS; i++)
        check(chan_waitgroup_go(&wg, worker, &s) == CHAN_OK, "chan_go");
    chan_waitgroup_wait(&wg);
    int64_t elapsed = now_ns() - start;
    int64_t writes = (s.per_worker + write_every - 1) / write_every;
    check(s.counter == S_WORKERS * writes, "s counter");
    return (double)elapsed / (double)(S_WORKERS * s.per_worker);
}

static double s2_once(int64_t n)
{
    return s_contended(n, s2_worker, 1);
}

static double s3_once(int64_t n)
{
    return s_contended(n, s3_worker, 100);
}

static void s_nothing(void *arg)
{
    (void)arg;
}

/* S4: Once.Do after the first call (the fast path). */
static double s4_once(int64_t n)
{
    chan_once_t once = CHAN_ONCE_INIT;
    chan_once_do(&once, s_nothing, NULL);
    int64_t start = now_ns();
    for (int64_t i = 0; i < n; i++)
        chan_once_do(&once, s_nothing, NULL);
    return (double)(now_ns() - start) / (double)n;
}

static void s1(void)
{
    g_row("s1", s1_once, scaled(20000000), "ns/op");
}
static void s2(void)
{
    g_row("s2", s2_once, scaled(4000000), "ns/op");
}
static void s3(void)
{
    g_row("s3", s3_once, scaled(8000000), "ns/op");
}
static void s4(void)
{
    g_row("s4", s4_once, scaled(50000000), "ns/op");
}

/* ---- main --------------------------------------------------------------- */

static const struct {
    const char *name;
    void (*run)(void);
} workloads[] = {
    {"b1", b1},
    {"b2", b2},
    {"b3", b3},
    {"b4", b4},
    {"g1", g1},
    {"g2", g2},
    {"g3", g3},
    {"g4", g4},
    {"b5", b5},
    {"b6", b6},
    {"b7", b7},
    {"b8", b8},
    {"b9", b9},
    {"b10", b10},
    {"b11", b11},
    {"b12", b12},
    {"mem_chan", mem_chan},
    {"mem_cancel", mem_cancel},
    {"mem_timeout", mem_timeout},
    {"mem_timer", mem_timer},
    {"scale_close", scale_close},
    {"scale_daisy", scale_daisy},
    {"gscale_10k", gscale_10k},
    {"gscale_100k", gscale_100k},
    {"gscale_daisy", gscale_daisy},
    {"gscale_1m", gscale_1m},
    {"s1", s1},
    {"s2", s2},
    {"s3", s3},
    {"s4", s4},
};

int main(int argc, char **argv)
{
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else
            name = argv[i];
    }
    size_t count = sizeof workloads / sizeof workloads[0];
    for (size_t i = 0; name && i < count; i++) {
        if (strcmp(workloads[i].name, name) == 0) {
            workloads[i].run();
            return 0;
        }
    }
    fprintf(stderr, "usage: gochan_bench [--quick] WORKLOAD\nworkloads:");
    for (size_t i = 0; i < count; i++)
        fprintf(stderr, " %s", workloads[i].name);
    fprintf(stderr, "\n");
    return 2;
}
