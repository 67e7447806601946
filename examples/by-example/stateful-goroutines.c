/* stateful-goroutines.c: one goroutine owns the state; the others read and
 * write it by sending requests on channels. Twin of stateful-goroutines.go.
 *
 * Rule: masked. How many operations run in 200ms depends on the machine,
 * so the counts (the regex [0-9]+) are masked in both outputs.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* type readOp struct { key int; resp chan int } */
struct read_op {
    int key;
    chan_t *resp; /* chan int */
};

/* type writeOp struct { key, val int; resp chan bool } */
struct write_op {
    int key, val;
    chan_t *resp; /* chan bool */
};

static atomic_uint_least64_t read_ops, write_ops;
static chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
/* Made once by main before any goroutine starts, released after wg.Wait:
 * the goroutines may share main's references. */
static chan_t *reads, *writes, *quit;

/* rand.Intn(n) for a goroutine: rand() is not thread-safe in C, so each
 * goroutine keeps its own state (a small xorshift). */
static int intn(unsigned *state, int n)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return (int)(*state % (unsigned)n);
}

/* The owner: the only goroutine that touches state. */
static void owner(void *arg)
{
    (void)arg;
    int state[5] = {0}; /* state := make(map[int]int), keys 0 to 4 */
    for (;;) {
        struct read_op read;
        struct write_op write;
        chan_case_t cases[] = {
            CHAN_RECV_CASE(reads, &read),
            CHAN_RECV_CASE(writes, &write),
            CHAN_RECV_CASE(quit, NULL),
        };
        int i = chan_select(cases, 3);
        if (i == 0) {
            chan_send(read.resp, &state[read.key]); /* read.resp <- ... */
        } else if (i == 1) {
            state[write.key] = write.val;
            chan_send(write.resp, &(bool){true});
        } else {
            break; /* case <-quit: return */
        }
    }
    chan_waitgroup_done(&wg);
}

static void reader(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (;;) {
        /* read := readOp{key: rand.Intn(5), resp: make(chan int)} */
        struct read_op read = {intn(&seed, 5), chan_make(sizeof(int), 0)};
        chan_case_t cases[] = {
            CHAN_SEND_CASE(reads, &read),
            CHAN_RECV_CASE(quit, NULL),
        };
        if (chan_select(cases, 2) == 1) {
            chan_release(read.resp); /* Go's collector frees it */
            break;
        }
        chan_recv(read.resp, NULL); /* <-read.resp */
        chan_release(read.resp);
        atomic_fetch_add(&read_ops, 1);
        chan_sleep(CHAN_MILLISECOND);
    }
    chan_waitgroup_done(&wg);
}

static void writer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (;;) {
        struct write_op write = {intn(&seed, 5), intn(&seed, 100),
                                 chan_make(sizeof(bool), 0)};
        chan_case_t cases[] = {
            CHAN_SEND_CASE(writes, &write),
            CHAN_RECV_CASE(quit, NULL),
        };
        if (chan_select(cases, 2) == 1) {
            chan_release(write.resp);
            break;
        }
        chan_recv(write.resp, NULL);
        chan_release(write.resp);
        atomic_fetch_add(&write_ops, 1);
        chan_sleep(CHAN_MILLISECOND);
    }
    chan_waitgroup_done(&wg);
}

int main(void)
{
    reads = chan_make(sizeof(struct read_op), 0);
    writes = chan_make(sizeof(struct write_op), 0);
    quit = chan_make(0, 0);

    chan_waitgroup_add(&wg, 1);
    chan_go(owner, NULL);

    for (int r = 0; r < 100; r++) { /* 100 readers */
        chan_waitgroup_add(&wg, 1);
        chan_go(reader, (void *)(uintptr_t)(2 * r + 1));
    }
    for (int w = 0; w < 10; w++) { /* 10 writers */
        chan_waitgroup_add(&wg, 1);
        chan_go(writer, (void *)(uintptr_t)(2 * w + 1001));
    }

    /* Let them work for a while, then stop everyone and wait. */
    chan_sleep(200 * CHAN_MILLISECOND);
    chan_close(quit);
    chan_waitgroup_wait(&wg);

    printf("readOps: %llu\n", (unsigned long long)atomic_load(&read_ops));
    printf("writeOps: %llu\n", (unsigned long long)atomic_load(&write_ops));

    chan_waitgroup_destroy(&wg);
    chan_release(reads);
    chan_release(writes);
    chan_release(quit);
    return 0;
}
