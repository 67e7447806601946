/* gdb_target.c: the program tests/gdb/run_gdb.py drives under gdb, to check
 * gdb/gochan-gdb.py's `info goroutines` and `goroutine N bt`.
 *
 *   gdb_target park   starts goroutines 1-5 that park (two receives, a send,
 *                     a Mutex, a select), waits until all five are recorded,
 *                     then calls gdb_stop_here (gdb's breakpoint) and exits
 *   gdb_target churn  goroutines ping-pong on a channel for ever: gdb stops
 *                     it in the middle of context switches
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <gochan/chan.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/sync.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static chan_t *a, *b, *c2, *d;
static chan_mutex_t m = CHAN_MUTEX_INIT;

__attribute__((noinline)) static void gdb_parked_receiver(void *arg)
{
    long v;
    chan_recv(arg, &v);
}

__attribute__((noinline)) static void gdb_parked_sender(void *arg)
{
    long v = 1;
    chan_send(arg, &v);
}

__attribute__((noinline)) static void gdb_parked_locker(void *arg)
{
    chan_mutex_lock(arg);
    chan_mutex_unlock(arg);
}

__attribute__((noinline)) static void gdb_parked_selector(void *arg)
{
    (void)arg;
    long v;
    chan_case_t cases[] = {CHAN_RECV_CASE(c2, &v), CHAN_RECV_CASE(d, &v)};
    chan_select(cases, 2);
}

/* gdb's breakpoint: every goroutine is parked when it is called. */
__attribute__((noinline)) void gdb_stop_here(void);
void gdb_stop_here(void)
{
    __asm__ volatile("" ::: "memory");
}

static void pinger(void *arg)
{
    chan_t *ch = arg;
    for (long v = 0;; v++) {
        chan_send(ch, &v);
        chan_recv(ch, &v);
    }
}

static int park(void)
{
    chan_debug_enable(true);
    a = chan_make(sizeof(long), 0);
    b = chan_make(sizeof(long), 0);
    c2 = chan_make(sizeof(long), 0);
    d = chan_make(sizeof(long), 0);
    chan_mutex_lock(&m);
    chan_go(gdb_parked_receiver, a);    /* goroutine 1 */
    chan_go(gdb_parked_receiver, a);    /* 2 */
    chan_go(gdb_parked_sender, b);      /* 3 */
    chan_go(gdb_parked_locker, &m);     /* 4 */
    chan_go(gdb_parked_selector, NULL); /* 5 */
    FILE *devnull = fopen("/dev/null", "w");
    for (int i = 0; i < 10000 && chan_debug_dump(devnull) < 5; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    fclose(devnull);
    gdb_stop_here();
    return 0;
}

static int churn(void)
{
    chan_t *ch = chan_make(sizeof(long), 0);
    chan_go(pinger, ch);
    chan_go(pinger, ch);
    nanosleep(&(struct timespec){10, 0}, NULL); /* gdb kills it first */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "churn") == 0)
        return churn();
    return park();
}
