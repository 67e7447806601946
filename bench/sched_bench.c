/* sched_bench.c: micro-benchmarks of sched/, the goroutine scheduler (not
 * part of bench/run.sh's side-by-side table; never asserted by a test).
 *
 * Usage: sched_bench [--quick]
 * Prints, one per line (id <TAB> value <TAB> unit):
 *   switch       one fiber switch (half a round trip between two fibers on
 *                one thread, including the sanitizer hooks when built in)
 *   pingpong1    one round trip between two goroutines, gopark/goready, on
 *                one P (GOMAXPROCS=1)
 *   pingpong     the same with the default GOMAXPROCS
 *   spawn        sched_go of a goroutine that returns at once, per goroutine
 *                (start, run and exit, stacks from the pool)
 * Each runs in a child process, so that each starts its own scheduler.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sched/fiber.h"
#include "sched/proc.h"
#include "sched/internal/scheduler.h"

static bool quick;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long scaled(long n)
{
    return quick ? n / 10 : n;
}

/* ---- switch -------------------------------------------------------------- */

static sched__fiber_t main_fiber, co_fiber;

static void co_loop(void *p)
{
    (void)p;
    sched__fiber_started();
    for (;;)
        sched__fiber_switch(&co_fiber, &main_fiber);
}

static void bench_switch(void)
{
    sched__stack_t st;
    if (sched__stack_get(&st) != 0)
        exit(1);
    sched__fiber_init_thread(&main_fiber);
    sched__fiber_make(&co_fiber, &st, co_loop, NULL);
    long n = scaled(10000000);
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        sched__fiber_switch(&main_fiber, &co_fiber);
    int64_t dt = now_ns() - t0;
    printf("switch\t%.1f\tns\n", (double)dt / (2.0 * (double)n));
}

/* ---- ping-pong ----------------------------------------------------------- */

typedef struct {
    _Atomic uintptr_t state; /* 0, 1 (token) or the parked g */
} sema_t;

static bool sema_publish(sched_g *gp, void *p)
{
    uintptr_t empty = 0;
    return atomic_compare_exchange_strong_explicit(
        &((sema_t *)p)->state, &empty, (uintptr_t)gp, memory_order_release,
        memory_order_relaxed);
}

static void sema_acquire(sema_t *s)
{
    for (;;) {
        uintptr_t token = 1;
        if (atomic_compare_exchange_strong_explicit(&s->state, &token, 0,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
            return;
        sched_gopark(sema_publish, s, SCHED_WAIT_SEMACQUIRE);
    }
}

static void sema_release(sema_t *s)
{
    uintptr_t v = atomic_load_explicit(&s->state, memory_order_acquire);
    while (!atomic_compare_exchange_weak_explicit(
        &s->state, &v, 1, memory_order_acq_rel, memory_order_acquire))
        ;
    if (v > 1)
        sched_goready((sched_g *)v);
}

static sema_t ping, pong;
static long rounds;
static atomic_long done;
static int64_t t_start, t_end;

static void pinger(void *p)
{
    (void)p;
    t_start = now_ns();
    for (long i = 0; i < rounds; i++) {
        sema_release(&ping);
        sema_acquire(&pong);
    }
    t_end = now_ns();
    atomic_fetch_add(&done, 1);
}

static void ponger(void *p)
{
    (void)p;
    for (long i = 0; i < rounds; i++) {
        sema_acquire(&ping);
        sema_release(&pong);
    }
    atomic_fetch_add(&done, 1);
}

static void wait_done(long n)
{
    while (atomic_load(&done) < n)
        nanosleep(&(struct timespec){0, 100000}, NULL);
}

static void bench_pingpong(const char *id, int procs)
{
    if (procs > 0)
        sched__set_maxprocs(procs);
    rounds = scaled(1000000);
    if (sched_go(ponger, NULL) || sched_go(pinger, NULL))
        exit(1);
    wait_done(2);
    printf("%s\t%.1f\tns\n", id, (double)(t_end - t_start) / (double)rounds);
}

/* ---- spawn --------------------------------------------------------------- */

static void nothing(void *p)
{
    (void)p;
    atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

static long spawned;

static void spawner(void *p)
{
    (void)p;
    t_start = now_ns();
    for (long i = 0; i < spawned; i++) {
        if (sched_go(nothing, NULL))
            exit(1);
        if (i % 64 == 63)
            sched_gosched(); /* let them run, so that stacks are recycled */
    }
}

static void bench_spawn(void)
{
    spawned = scaled(1000000);
    if (sched_go(spawner, NULL))
        exit(1);
    wait_done(spawned);
    t_end = now_ns();
    printf("spawn\t%.1f\tns\n", (double)(t_end - t_start) / (double)spawned);
}

static void in_child(void (*fn)(const char *, int), const char *id, int procs)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fn(id, procs);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
}

static void run_switch(const char *id, int procs)
{
    (void)id;
    (void)procs;
    bench_switch();
}

static void run_spawn(const char *id, int procs)
{
    (void)id;
    (void)procs;
    bench_spawn();
}

int main(int argc, char **argv)
{
    quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    in_child(run_switch, "switch", 0);
    in_child(bench_pingpong, "pingpong1", 1);
    in_child(bench_pingpong, "pingpong", 0);
    in_child(run_spawn, "spawn", 0);
    return 0;
}
