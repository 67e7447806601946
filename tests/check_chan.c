/* check_chan.c: the channel suite (chan_suite): Go's channel tests ported to
 * gochan, plus one test per channel rule and status code of the contract in
 * docs/semantics.md.
 *
 * Each test names the Go test it ports (runtime/chan_test.go, test/chan/...)
 * or the contract rule it checks, and the behaviour items it covers; the ids
 * (CH-n) are those of docs/semantics.md.
 * Worker threads record what they saw; the test thread asserts after joining.
 * Threads are ordered with channels and with tu_wait_waiters ("this thread is
 * queued on c"), never with sleeps; a check that something does NOT happen
 * watches for TU_QUIET_MS (scaled). Data-race freedom of the memory-model tests
 * is checked by running the suite under ThreadSanitizer.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gochan/chan.h>

#include "chan/chan_impl.h" /* internal: the reference count (refs tests) */
#include "sched/internal/scheduler.h" /* a goroutine's waiter (sched_g_sudog) */
#include "testutil.h"

/* chan_make must report an unallocatable size as ENOMEM; the sanitizers'
 * allocators abort on such a malloc unless told to return NULL, as libc's
 * malloc does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* The capacities TestChan runs for (Go runs 0..199; these cover unbuffered,
 * the smallest buffer, and buffers smaller and larger than the 4x1000 load). */
static const size_t testchan_caps[] = {0, 1, 10, 100};
#define N_TESTCHAN_CAPS (sizeof testchan_caps / sizeof testchan_caps[0])

/* A small per-thread random source, to vary interleavings. */
static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void spin(uint32_t n)
{
    for (volatile uint32_t i = 0; i < n; i++)
        ;
}

/* Retries a try operation: yields, then naps, for at most 10 s (scaled). The
 * bound catches a channel that never becomes ready; it never decides a pass. */
typedef struct {
    int64_t deadline;
    long tries;
} retry_t;

static retry_t retry_start(void)
{
    return (retry_t){chan_now() + (int64_t)(10e9 * tu_scale()), 0};
}

static bool retry_again(retry_t *r)
{
    if (chan_now() > r->deadline)
        return false;
    if (++r->tries % 64 == 0) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    } else {
        sched_yield();
    }
    return true;
}

/* ---- workers shared by several tests ---------------------------------- */

/* One blocking receive of an int64, with its outcome. */
typedef struct {
    chan_t *c;
    int64_t v;      /* prefilled by the test; written by chan_recv */
    bool null_elem; /* receive into NULL */
    int status;
    tu_flag_t done;
} recv_arg_t;

static void *recv_worker(void *p)
{
    recv_arg_t *a = p;
    a->status = chan_recv(a->c, a->null_elem ? NULL : &a->v);
    tu_flag_set(&a->done);
    return NULL;
}

/* One blocking send of an int64, with its outcome. */
typedef struct {
    chan_t *c;
    int64_t v;
    int status;
    tu_flag_t done;
} send_arg_t;

static void *send_worker(void *p)
{
    send_arg_t *a = p;
    a->status = chan_send(a->c, &a->v);
    tu_flag_set(&a->done);
    return NULL;
}

static void send_i64(chan_t *c, int64_t v)
{
    ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
}

static int64_t recv_i64(chan_t *c)
{
    int64_t v = -12345;
    ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
    return v;
}

/* ---- TestChan (runtime/chan_test.go), one test per sub-check ------------ */

/* TestChan, "receive from empty chan blocks" (both receive forms: here
 * chan_recv into a value and chan_recv into NULL), then "non-blocking receive
 * does not block" (both forms). CH-11, CH-12 step 5, CH-15. */
START_TEST(test_chan_recv_empty_blocks)
{
    size_t cap = testchan_caps[_i];
    chan_t *c = chan_make(sizeof(int64_t), cap);
    ck_assert_ptr_nonnull(c);
    recv_arg_t r1 = {.c = c, .v = -1},
               r2 = {.c = c, .v = -1, .null_elem = true};
    pthread_t t1 = tu_spawn(recv_worker, &r1);
    pthread_t t2 = tu_spawn(recv_worker, &r2);
    tu_wait_waiters(c, 2, 0);
    ck_assert(!tu_flag_wait(&r1.done, TU_QUIET_MS));
    ck_assert(!tu_flag_is_set(&r2.done));

    int64_t v = 77;
    ck_assert_int_eq(chan_try_recv(c, &v), CHAN_WOULDBLOCK);
    ck_assert_int_eq(v, 77);
    ck_assert_int_eq(chan_try_recv(c, NULL), CHAN_WOULDBLOCK);
    ck_assert_uint_eq(chan_len(c), 0);

    send_i64(c, 0);
    send_i64(c, 0);
    tu_join(t1);
    tu_join(t2);
    ck_assert_int_eq(r1.status, CHAN_OK);
    ck_assert_int_eq(r1.v, 0);
    ck_assert_int_eq(r2.status, CHAN_OK);
    ck_assert_uint_eq(chan_len(c), 0);
    chan_release(c);
}
END_TEST

/* TestChan, "send to full chan blocks" and "non-blocking send does not
 * block"; the final receive unblocks the sender. CH-8 steps 4-5, CH-10. */
START_TEST(test_chan_send_full_blocks)
{
    size_t cap = testchan_caps[_i];
    chan_t *c = chan_make(sizeof(int64_t), cap);
    for (size_t i = 0; i < cap; i++)
        send_i64(c, (int64_t)i);
    send_arg_t s = {.c = c, .v = 1000};
    pthread_t t = tu_spawn(send_worker, &s);
    tu_wait_waiters(c, 0, 1);
    ck_assert(!tu_flag_wait(&s.done, TU_QUIET_MS));

    int64_t v = 5;
    ck_assert_int_eq(chan_try_send(c, &v), CHAN_WOULDBLOCK);
    ck_assert_uint_eq(chan_len(c), cap);

    /* The receive takes the head (0, or the blocked sender's value when
     * unbuffered) and releases the sender. */
    ck_assert_int_eq(recv_i64(c), cap ? 0 : 1000);
    tu_join(t);
    ck_assert_int_eq(s.status, CHAN_OK);
    ck_assert_uint_eq(chan_len(c), cap);
    chan_release(c);
}
END_TEST

/* TestChan, "receive 0 from closed chan": after close the buffered values
 * are still received in order, then the zero value with ok == false (both
 * receive forms). CH-12 step 1, CH-13. */
START_TEST(test_chan_close_drains)
{
    size_t cap = testchan_caps[_i];
    chan_t *c = chan_make(sizeof(int64_t), cap);
    for (size_t i = 0; i < cap; i++)
        send_i64(c, (int64_t)i + 1);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    ck_assert_uint_eq(chan_len(c), cap);
    for (size_t i = 0; i < cap; i++)
        ck_assert_int_eq(recv_i64(c), (int64_t)i + 1);
    int64_t v = 99;
    ck_assert_int_eq(chan_recv(c, &v), CHAN_CLOSED);
    ck_assert_int_eq(v, 0);
    v = 98;
    ck_assert_int_eq(chan_recv(c, &v), CHAN_CLOSED);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(chan_recv(c, NULL), CHAN_CLOSED);
    v = 97;
    ck_assert_int_eq(chan_try_recv(c, &v), CHAN_CLOSED);
    ck_assert_int_eq(v, 0);
    ck_assert_uint_eq(chan_len(c), 0);
    chan_release(c);
}
END_TEST

/* TestChan, "close unblocks receive": a blocked receiver gets 0, ok ==
 * false. CH-14, CH-18. */
START_TEST(test_chan_close_unblocks_recv)
{
    size_t cap = testchan_caps[_i];
    chan_t *c = chan_make(sizeof(int64_t), cap);
    recv_arg_t r = {.c = c, .v = -1};
    pthread_t t = tu_spawn(recv_worker, &r);
    tu_wait_waiters(c, 1, 0);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    tu_join(t);
    ck_assert_int_eq(r.status, CHAN_CLOSED);
    ck_assert_int_eq(r.v, 0);
    chan_release(c);
}
END_TEST

typedef struct {
    chan_t *c;
    int64_t from, n;
    int status; /* the first failing status, or CHAN_OK */
} seq_sender_t;

static void *seq_sender(void *p)
{
    seq_sender_t *a = p;
    a->status = CHAN_OK;
    for (int64_t i = 0; i < a->n; i++) {
        int64_t v = a->from + i;
        int st = chan_send(a->c, &v);
        if (st != CHAN_OK && a->status == CHAN_OK)
            a->status = st;
    }
    return NULL;
}

/* TestChan, "send 100 integers, receive them in FIFO order", once with the
 * value-only receive and once checking ok (recv2). CH-16. */
START_TEST(test_chan_fifo100)
{
    size_t cap = testchan_caps[_i];
    chan_t *c = chan_make(sizeof(int64_t), cap);
    for (int form = 0; form < 2; form++) {
        seq_sender_t s = {.c = c, .from = 0, .n = 100};
        pthread_t t = tu_spawn(seq_sender, &s);
        for (int64_t i = 0; i < 100; i++) {
            int64_t v = -1;
            int st = chan_recv(c, &v);
            if (form == 1)
                ck_assert_int_eq(st, CHAN_OK);
            ck_assert_int_eq(v, i);
        }
        tu_join(t);
        ck_assert_int_eq(s.status, CHAN_OK);
    }
    ck_assert_uint_eq(chan_len(c), 0);
    chan_release(c);
}
END_TEST

#define PC_P 4
#define PC_L 1000

typedef struct {
    chan_t *c;
    int count[PC_L]; /* how often each value arrived */
    int bad;         /* values out of range or failed receives */
} pc_consumer_t;

static void *pc_consumer(void *p)
{
    pc_consumer_t *a = p;
    for (int i = 0; i < PC_L; i++) {
        int64_t v = -1;
        if (chan_recv(a->c, &v) != CHAN_OK || v < 0 || v >= PC_L)
            a->bad++;
        else
            a->count[v]++;
    }
    return NULL;
}

/* TestChan, "send 1000 integers in 4 goroutines, receive what we send":
 * 4 producers and 4 consumers, every value arrives exactly 4 times. CH-16. */
START_TEST(test_chan_multi_prodcons)
{
    size_t cap = testchan_caps[_i];
    chan_t *c = chan_make(sizeof(int64_t), cap);
    seq_sender_t prod[PC_P];
    static pc_consumer_t cons[PC_P];
    pthread_t tp[PC_P], tc[PC_P];
    memset(cons, 0, sizeof cons);
    for (int p = 0; p < PC_P; p++) {
        prod[p] = (seq_sender_t){.c = c, .from = 0, .n = PC_L};
        cons[p].c = c;
        tp[p] = tu_spawn(seq_sender, &prod[p]);
        tc[p] = tu_spawn(pc_consumer, &cons[p]);
    }
    for (int p = 0; p < PC_P; p++) {
        tu_join(tp[p]);
        tu_join(tc[p]);
    }
    for (int p = 0; p < PC_P; p++) {
        ck_assert_int_eq(prod[p].status, CHAN_OK);
        ck_assert_int_eq(cons[p].bad, 0);
    }
    for (int v = 0; v < PC_L; v++) {
        int total = 0;
        for (int p = 0; p < PC_P; p++)
            total += cons[p].count[v];
        ck_assert_msg(total == PC_P, "value %d received %d times", v, total);
    }
    ck_assert_uint_eq(chan_len(c), 0);
    chan_release(c);
}
END_TEST

/* TestChan, "len/cap": empty, then full. CH-4. */
START_TEST(test_chan_len_cap)
{
    size_t cap = testchan_caps[_i];
    chan_t *c = chan_make(sizeof(int64_t), cap);
    ck_assert_uint_eq(chan_len(c), 0);
    ck_assert_uint_eq(chan_cap(c), cap);
    for (size_t i = 0; i < cap; i++) {
        send_i64(c, (int64_t)i);
        ck_assert_uint_eq(chan_len(c), i + 1);
    }
    ck_assert_uint_eq(chan_len(c), cap);
    ck_assert_uint_eq(chan_cap(c), cap);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    ck_assert_uint_eq(chan_len(c), cap); /* close keeps the buffer (CH-13) */
    ck_assert_uint_eq(chan_cap(c), cap);
    chan_release(c);
}
END_TEST

/* A sender that borrows the receiver's reference: the receiver releases the
 * channel, freeing it, as soon as it has the value, while the send may still
 * be returning. Go's garbage collector makes this safe; here the send must
 * not touch the channel once its value is out (CH-27's ring promises it as
 * the locked path does). ASan and TSan runs catch a use after free. */
static void *borrowed_send(void *arg)
{
    int64_t v = 42;
    ck_assert_int_eq(chan_send(arg, &v), CHAN_OK);
    return NULL;
}

START_TEST(test_chan_release_right_after_recv)
{
    int rounds = tu_rounds(300);
    for (int i = 0; i < rounds; i++) {
        static const size_t caps[] = {0, 1, 8}; /* 8: a ring (CH-27) */
        chan_t *c = chan_make(sizeof(int64_t), caps[i % 3]);
        ck_assert_ptr_nonnull(c);
        pthread_t t = tu_spawn(borrowed_send, c);
        int64_t v = 0;
        ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
        ck_assert_int_eq(v, 42);
        chan_release(c); /* the last reference: the sender may be inside */
        tu_join(t);
    }
}
END_TEST

/* The flavour of each shape (CH-27): with GOCHAN_CHAN_LOCKFREE (the
 * default), buffered channels of capacity 8 to 65,536 use the lock-free ring;
 * the others keep the locked buffer. */
START_TEST(test_chan_flavour)
{
    static const struct {
        size_t esize, cap;
        bool ring;
    } shapes[] = {{8, 0, false},
                  {8, 1, false},
                  {0, 7, false},
                  {8, 8, true},
                  {0, 8, true},
                  {24, 1024, true},
                  {0, (size_t)1 << 16, true},
                  {0, SIZE_MAX, false},
                  {1, ((size_t)1 << 16) + 1, false}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        chan_t *c = chan_make(shapes[i].esize, shapes[i].cap);
        ck_assert_ptr_nonnull(c);
#ifdef GOCHAN_CHAN_LOCKFREE
        ck_assert_msg(c->ring == shapes[i].ring,
                      "shape %zu: ring %d, expected %d", i, c->ring,
                      shapes[i].ring);
#endif
        ck_assert_uint_eq(chan_cap(c), shapes[i].cap);
        ck_assert_uint_eq(chan_len(c), 0);
        if (shapes[i].cap) {
            int64_t v[4] = {7, 8, 9, 10}, w[4] = {0}; /* up to 32 bytes */
            ck_assert_int_eq(chan_try_send(c, v), CHAN_OK);
            ck_assert_uint_eq(chan_len(c), 1);
            ck_assert_int_eq(chan_try_recv(c, w), CHAN_OK);
            ck_assert_int_eq(memcmp(v, w, shapes[i].esize), 0);
        }
        chan_release(c);
    }
}
END_TEST

/* ---- TestNonblockRecvRace ----------------------------------------------- */

typedef struct {
    chan_t *work;   /* unbuffered: carries the channel of each round */
    chan_t *result; /* unbuffered: the try-receive's status and value */
    uint32_t seed;
} nbr_worker_t;

typedef struct {
    int status;
    int64_t v;
} nbr_result_t;

static void *nbr_worker(void *p)
{
    nbr_worker_t *a = p;
    chan_t *c;
    while (chan_recv(a->work, &c) == CHAN_OK) {
        spin(xorshift(&a->seed) % 256);
        nbr_result_t r = {.v = -1};
        r.status = chan_try_recv(c, &r.v);
        chan_send(a->result, &r);
    }
    return NULL;
}

/* TestNonblockRecvRace: a cap-1 channel holding one value is closed while
 * another thread does a non-blocking receive; the channel always has a value
 * or is closed, so the try-receive must never report WOULDBLOCK (the fast
 * path's empty/closed loads must not be reordered). CH-15, CH-13.
 * Go runs 10,000 rounds with a new goroutine each; here one worker thread
 * takes as many rounds, each started by a rendezvous, with random delays on
 * both sides to vary where the try-receive lands. */
#define NBR_ROUNDS 10000
START_TEST(test_chan_nonblock_recv_race)
{
    nbr_worker_t w = {.work = chan_make(sizeof(chan_t *), 0),
                      .result = chan_make(sizeof(nbr_result_t), 0),
                      .seed = 12345};
    pthread_t t = tu_spawn(nbr_worker, &w);
    uint32_t seed = 777;
    int wouldblock = 0, bad_value = 0, got_value = 0, got_closed = 0;
    int rounds = tu_rounds(NBR_ROUNDS);
    for (int i = 0; i < rounds; i++) {
        chan_t *c = chan_make(sizeof(int64_t), 1);
        send_i64(c, 1);
        ck_assert_int_eq(chan_send(w.work, &c), CHAN_OK);
        spin(xorshift(&seed) % 256);
        ck_assert_int_eq(chan_close(c), CHAN_OK);
        int64_t v = -1;
        int st = chan_recv(c, &v);
        ck_assert(st == CHAN_OK || st == CHAN_CLOSED);
        nbr_result_t r;
        ck_assert_int_eq(chan_recv(w.result, &r), CHAN_OK);
        if (r.status == CHAN_WOULDBLOCK)
            wouldblock++;
        else if (r.status == CHAN_OK && r.v == 1)
            got_value++;
        else if (r.status == CHAN_CLOSED && r.v == 0)
            got_closed++;
        else
            bad_value++;
        /* Exactly one of the two receives took the value. */
        if (r.status != CHAN_WOULDBLOCK)
            ck_assert_int_eq(st == CHAN_OK, r.status == CHAN_CLOSED);
        chan_release(c);
    }
    chan_close(w.work);
    tu_join(t);
    ck_assert_msg(wouldblock == 0,
                  "try-receive on a ready channel would block "
                  "%d times",
                  wouldblock);
    ck_assert_int_eq(bad_value, 0);
    ck_assert_int_eq(got_value + got_closed, rounds);
    chan_release(w.work);
    chan_release(w.result);
}
END_TEST

typedef struct {
    chan_t *work, *result;
} nbc_poller_t;

static void *nbc_poller(void *p)
{
    nbc_poller_t *a = p;
    chan_t *c;
    while (chan_recv(a->work, &c) == CHAN_OK) {
        nbr_result_t r = {.v = -1};
        retry_t rt = retry_start();
        for (long n = 0;; n++) {
            r.status = chan_try_recv(c, &r.v);
            if (r.status != CHAN_WOULDBLOCK)
                break;
            if (n % 1024 == 1023 && !retry_again(&rt))
                break;
        }
        chan_send(a->result, &r);
    }
    return NULL;
}

/* The other half of TestNonblockRecvRace's fast path (CH-15 step 2): a
 * try-receive that saw the channel empty and then sees it closed must look
 * at emptiness again, because a value may have been sent between its loads.
 * A poller spins on try-receive while this thread sends one value and then
 * closes; the value was sent before the close and nobody else receives, so
 * the poller's first result must be that value, never CHAN_CLOSED. */
START_TEST(test_chan_nonblock_recv_close_race)
{
    nbc_poller_t a = {.work = chan_make(sizeof(chan_t *), 0),
                      .result = chan_make(sizeof(nbr_result_t), 0)};
    pthread_t t = tu_spawn(nbc_poller, &a);
    uint32_t seed = 4242;
    int lost = 0, other = 0;
    for (int i = 0, rounds = tu_rounds(20000); i < rounds; i++) {
        chan_t *c = chan_make(sizeof(int64_t), 1);
        ck_assert_int_eq(chan_send(a.work, &c), CHAN_OK);
        spin(xorshift(&seed) % 512);
        send_i64(c, 1);
        ck_assert_int_eq(chan_close(c), CHAN_OK);
        nbr_result_t r;
        ck_assert_int_eq(chan_recv(a.result, &r), CHAN_OK);
        if (r.status == CHAN_CLOSED)
            lost++;
        else if (r.status != CHAN_OK || r.v != 1)
            other++;
        chan_release(c);
    }
    chan_close(a.work);
    tu_join(t);
    ck_assert_msg(lost == 0,
                  "a buffered value was lost to CHAN_CLOSED %d times", lost);
    ck_assert_int_eq(other, 0);
    chan_release(a.work);
    chan_release(a.result);
}
END_TEST

#define TRR_ROUNDS 20000

typedef struct {
    chan_t *c;
    int rounds; /* at most TRR_ROUNDS */
    atomic_int round, done;
    int64_t v[TRR_ROUNDS]; /* per round: what the try-receive left in *elem */
    int status[TRR_ROUNDS];
} trr_t;

/* Waits for *x > r: spins (both racers must be on a CPU when the round
 * starts), yielding now and then for machines with fewer cores. */
static void trr_wait(atomic_int *x, int r)
{
    for (int n = 1; atomic_load(x) <= r; n++)
        if (n % 4096 == 0)
            sched_yield();
}

static void *trr_worker(void *p)
{
    trr_t *a = p;
    for (int r = 0; r < a->rounds; r++) {
        trr_wait(&a->round, r);
        a->v[r] = -7;
        a->status[r] = chan_try_recv(a->c, &a->v[r]);
        atomic_store(&a->done, r + 1);
    }
    return NULL;
}

static int trr_won_badly(int st, int64_t v, int64_t want)
{
    return st == CHAN_OK && v != want;
}

static int trr_lost_badly(int st, int64_t v)
{
    return st != CHAN_OK && (st != CHAN_WOULDBLOCK || v != -7);
}

/* Contract "try leaves elem untouched" (docs/semantics.md), also on the slow
 * path: two threads (a worker and this one) race to try-receive the one value
 * in a cap-1 channel; both may pass the lock-free check, and the loser, which
 * learns under the lock that the value is gone, must leave its elem alone.
 * Exactly one wins each round. */
START_TEST(test_chan_try_recv_race_untouched)
{
    static trr_t w;
    memset(&w, 0, sizeof w);
    w.c = chan_make(sizeof(int64_t), 1);
    w.rounds = tu_rounds(TRR_ROUNDS);
    pthread_t t = tu_spawn(trr_worker, &w);
    uint32_t seed = 99;
    int untouched_bad = 0, winners_bad = 0;
    for (int r = 0; r < w.rounds; r++) {
        send_i64(w.c, 1000 + r);
        atomic_store(&w.round, r + 1);
        /* vary which racer is ahead, and by how much */
        spin(xorshift(&seed) % 64);
        int64_t mine = -7;
        int st = chan_try_recv(w.c, &mine);
        trr_wait(&w.done, r);
        if ((st == CHAN_OK) + (w.status[r] == CHAN_OK) != 1)
            winners_bad++;
        winners_bad += trr_won_badly(st, mine, 1000 + r) +
                       trr_won_badly(w.status[r], w.v[r], 1000 + r);
        untouched_bad +=
            trr_lost_badly(st, mine) + trr_lost_badly(w.status[r], w.v[r]);
    }
    tu_join(t);
    ck_assert_int_eq(untouched_bad, 0);
    ck_assert_int_eq(winners_bad, 0);
    chan_release(w.c);
}
END_TEST

/* ---- TestMultiConsumer --------------------------------------------------- */

#define MC_NWORK 23
#define MC_NITER 20000
static const int64_t mc_pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};

typedef struct {
    chan_t *q, *r;
    int w;
    int bad;
} mc_worker_t;

static void *mc_worker(void *p)
{
    mc_worker_t *a = p;
    int64_t v;
    while (chan_recv(a->q, &v) == CHAN_OK) { /* for v := range q */
        /* disturb the FIFO-ish order of the workers, as Go's Gosched does */
        if (mc_pn[a->w % 10] == v)
            sched_yield();
        if (chan_send(a->r, &v) != CHAN_OK)
            a->bad++;
    }
    if (v != 0) /* the receive that ended the range was zeroed */
        a->bad++;
    return NULL;
}

typedef struct {
    chan_t *q, *r;
    mc_worker_t *workers;
    pthread_t *threads;
    int64_t expect;
    int bad;
} mc_feeder_t;

static void *mc_feeder(void *p)
{
    mc_feeder_t *a = p;
    for (int i = 0; i < MC_NITER; i++) {
        int64_t v = mc_pn[i % 10];
        a->expect += v;
        if (chan_send(a->q, &v) != CHAN_OK)
            a->bad++;
    }
    chan_close(a->q); /* no more work */
    for (int i = 0; i < MC_NWORK; i++)
        pthread_join(a->threads[i], NULL); /* workers done */
    /* so there can be no more results */
    chan_close(a->r);
    return NULL;
}

/* TestMultiConsumer: 23 workers range over a work channel and forward to a
 * result channel; the feeder closes the work channel, waits for the workers
 * and closes the results; the count and the sum must match. CH-16, CH-25.
 * Go sends 271,828 values; 20,000 here keep the suite fast under TSan. */
START_TEST(test_chan_multi_consumer)
{
    chan_t *q = chan_make(sizeof(int64_t), MC_NWORK * 3);
    chan_t *r = chan_make(sizeof(int64_t), MC_NWORK * 3);
    mc_worker_t workers[MC_NWORK];
    pthread_t threads[MC_NWORK];
    for (int i = 0; i < MC_NWORK; i++) {
        workers[i] = (mc_worker_t){.q = q, .r = r, .w = i};
        threads[i] = tu_spawn(mc_worker, &workers[i]);
    }
    mc_feeder_t f = {.q = q, .r = r, .workers = workers, .threads = threads};
    pthread_t tf = tu_spawn(mc_feeder, &f);
    int64_t n = 0, sum = 0, v;
    while (chan_recv(r, &v) == CHAN_OK) { /* for v := range r */
        n++;
        sum += v;
    }
    tu_join(tf);
    ck_assert_int_eq(f.bad, 0);
    for (int i = 0; i < MC_NWORK; i++)
        ck_assert_int_eq(workers[i].bad, 0);
    ck_assert_int_eq(n, MC_NITER);
    ck_assert_int_eq(sum, f.expect);
    chan_release(q);
    chan_release(r);
}
END_TEST

/* ---- test/chan/fifo.go, and FIFO service of blocked threads ------------- */

/* fifo.go AsynchFifo: a buffered channel is a FIFO. CH-16. */
START_TEST(test_chan_fifo_async)
{
    enum { N = 10 };
    chan_t *c = chan_make(sizeof(int64_t), N);
    for (int64_t i = 0; i < N; i++)
        send_i64(c, i);
    for (int64_t i = 0; i < N; i++)
        ck_assert_int_eq(recv_i64(c), i);
    chan_release(c);
}
END_TEST

typedef struct {
    chan_t *ch, *in, *out;
    int64_t val, got;
    int status;
} fifo_link_t;

static void *fifo_link(void *p)
{
    fifo_link_t *a = p;
    a->got = -1;
    a->status = chan_recv(a->in, NULL);
    if (a->status == CHAN_OK)
        a->status = chan_recv(a->ch, &a->got);
    int64_t one = 1;
    if (a->status == CHAN_OK)
        a->status = chan_send(a->out, &one);
    return NULL;
}

/* fifo.go SynchFifo: a daisy chain of 10 threads, each waiting for its
 * predecessor before it receives, must see the unbuffered sends in order.
 * CH-16. */
START_TEST(test_chan_fifo_sync)
{
    enum { N = 10 };
    chan_t *ch = chan_make(sizeof(int64_t), 0);
    chan_t *links[N + 1];
    fifo_link_t a[N];
    pthread_t t[N];
    for (int i = 0; i <= N; i++)
        links[i] = chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < N; i++) {
        a[i] = (fifo_link_t){
            .ch = ch, .in = links[i], .out = links[i + 1], .val = i};
        t[i] = tu_spawn(fifo_link, &a[i]);
    }
    send_i64(links[0], 0);
    for (int64_t i = 0; i < N; i++)
        send_i64(ch, i);
    ck_assert_int_eq(recv_i64(links[N]), 1);
    for (int i = 0; i < N; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(a[i].status, CHAN_OK);
        ck_assert_int_eq(a[i].got, a[i].val);
    }
    for (int i = 0; i <= N; i++)
        chan_release(links[i]);
    chan_release(ch);
}
END_TEST

/* Contract "FIFO service" (docs/semantics.md), blocked senders and receivers
 * are served first in, first out: receivers queued one after another (each
 * known to be queued before the next starts) get the values in the order they
 * queued. Unbuffered and buffered. CH-12 step 5, CH-8 step 2, CH-16. */
START_TEST(test_chan_fifo_blocked_receivers)
{
    enum { N = 6 };
    size_t cap = _i == 0 ? 0 : 4;
    chan_t *c = chan_make(sizeof(int64_t), cap);
    recv_arg_t r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i] = (recv_arg_t){.c = c, .v = -1};
        t[i] = tu_spawn(recv_worker, &r[i]);
        tu_wait_waiters(c, (size_t)i + 1, 0);
    }
    for (int64_t i = 0; i < N; i++)
        send_i64(c, 100 + i);
    for (int i = 0; i < N; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(r[i].status, CHAN_OK);
        ck_assert_int_eq(r[i].v, 100 + i);
    }
    ck_assert_uint_eq(chan_len(c), 0);
    chan_release(c);
}
END_TEST

/* Contract "FIFO service", the senders' side on an unbuffered channel: senders
 * queued in order are received in order. CH-12 step 2, CH-16. */
START_TEST(test_chan_fifo_blocked_senders)
{
    enum { N = 6 };
    chan_t *c = chan_make(sizeof(int64_t), 0);
    send_arg_t s[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        s[i] = (send_arg_t){.c = c, .v = 200 + i};
        t[i] = tu_spawn(send_worker, &s[i]);
        tu_wait_waiters(c, 0, (size_t)i + 1);
    }
    for (int64_t i = 0; i < N; i++)
        ck_assert_int_eq(recv_i64(c), 200 + i);
    for (int i = 0; i < N; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(s[i].status, CHAN_OK);
    }
    chan_release(c);
}
END_TEST

/* Contract "FIFO service" and CH-12 step 2, buffered: a full buffer with queued
 * senders. Each receive takes the head of the buffer and moves the first
 * sender's value to the tail, so the buffer stays full and the order is:
 * buffered values, then the senders' values in the order they queued. */
START_TEST(test_chan_full_buffer_sender_to_tail)
{
    enum { CAP = 3, N = 5 };
    chan_t *c = chan_make(sizeof(int64_t), CAP);
    for (int64_t i = 0; i < CAP; i++)
        send_i64(c, 100 + i);
    send_arg_t s[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        s[i] = (send_arg_t){.c = c, .v = 200 + i};
        t[i] = tu_spawn(send_worker, &s[i]);
        tu_wait_waiters(c, 0, (size_t)i + 1);
    }
    ck_assert_int_eq(recv_i64(c), 100);
    /* The first sender's value went into the freed slot, synchronously. */
    ck_assert_uint_eq(chan_len(c), CAP);
    tu_join(t[0]);
    ck_assert_int_eq(s[0].status, CHAN_OK);
    size_t nr, ns;
    tu_chan_waiters(c, &nr, &ns);
    ck_assert_uint_eq(ns, N - 1);
    for (int64_t i = 1; i < CAP; i++)
        ck_assert_int_eq(recv_i64(c), 100 + i);
    for (int64_t i = 0; i < N; i++)
        ck_assert_int_eq(recv_i64(c), 200 + i);
    for (int i = 1; i < N; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(s[i].status, CHAN_OK);
    }
    ck_assert_uint_eq(chan_len(c), 0);
    chan_release(c);
}
END_TEST

/* ---- test/chan/nonblock.go ----------------------------------------------- */

/* Element sizes as nonblock.go's bool, int32, int64 and string (a 16-byte
 * header), with buffers 0, 1 (Go's) and 8. */
static const size_t nb_sizes[] = {1, 4, 8, 16};
static const size_t nb_bufs[] = {0, 1, 8};

typedef struct {
    chan_t *c, *sync;
    size_t size;
    unsigned char expect[16]; /* receiver: the value it must get */
    unsigned char value[16];  /* sender: the value it sends */
    unsigned char got[16];
    int status;
} nb_arg_t;

static void nb_pattern(unsigned char *b, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed + 31 * i);
}

static void *nb_receiver(void *p)
{
    nb_arg_t *a = p;
    a->status = chan_recv(a->c, a->got);
    bool t = true;
    chan_send(a->sync, &t);
    return NULL;
}

static void *nb_sender(void *p)
{
    nb_arg_t *a = p;
    a->status = chan_send(a->c, a->value);
    bool t = true;
    chan_send(a->sync, &t);
    return NULL;
}

/* test/chan/nonblock.go: non-blocking receives on an empty channel do not
 * block; a non-blocking send retried (a bounded number of times) reaches a
 * receiver that is starting; a non-blocking receive retried reaches a sender
 * that is starting; the values arrive intact. CH-10, CH-15, CH-8, CH-12. */
START_TEST(test_chan_nonblock)
{
    size_t size = nb_sizes[_i % 4], buf = nb_bufs[_i / 4];
    chan_t *c = chan_make(size, buf);
    chan_t *sync = chan_make(sizeof(bool), 0);
    unsigned char v[16], before[16];

    /* "blocked sender": nothing to receive yet */
    nb_pattern(v, size, 0xee);
    memcpy(before, v, size);
    ck_assert_int_eq(chan_try_recv(c, v), CHAN_WOULDBLOCK);
    ck_assert_mem_eq(v, before, size);

    for (int round = 0; round < 3; round++) {
        /* receiver: the test sends without blocking until it lands */
        nb_arg_t r = {.c = c, .sync = sync, .size = size};
        nb_pattern(r.expect, size, (unsigned char)(0x10 + round));
        pthread_t t = tu_spawn(nb_receiver, &r);
        retry_t rt = retry_start();
        int st;
        while ((st = chan_try_send(c, r.expect)) == CHAN_WOULDBLOCK &&
               retry_again(&rt))
            ;
        ck_assert_int_eq(st, CHAN_OK);
        ck_assert_int_eq(chan_recv(sync, NULL), CHAN_OK);
        tu_join(t);
        ck_assert_int_eq(r.status, CHAN_OK);
        ck_assert_mem_eq(r.got, r.expect, size);

        /* sender: the test receives without blocking until it lands */
        nb_arg_t s = {.c = c, .sync = sync, .size = size};
        nb_pattern(s.value, size, (unsigned char)(0x80 + round));
        t = tu_spawn(nb_sender, &s);
        if (buf > 0) /* a buffered send completes on its own */
            ck_assert_int_eq(chan_recv(sync, NULL), CHAN_OK);
        memset(v, 0, sizeof v);
        rt = retry_start();
        while ((st = chan_try_recv(c, v)) == CHAN_WOULDBLOCK &&
               retry_again(&rt))
            ;
        ck_assert_int_eq(st, CHAN_OK);
        ck_assert_mem_eq(v, s.value, size);
        if (buf == 0)
            ck_assert_int_eq(chan_recv(sync, NULL), CHAN_OK);
        tu_join(t);
        ck_assert_int_eq(s.status, CHAN_OK);
    }
    chan_release(c);
    chan_release(sync);
}
END_TEST

/* ---- test/chan/zerosize.go and zero-size elements ------------------------ */

static void *token_sender(void *p)
{
    send_arg_t *a = p;
    a->status = chan_send(a->c, NULL);
    tu_flag_set(&a->done);
    return NULL;
}

/* test/chan/zerosize.go makes chan [0]byte and chan struct{} of caps 0 and
 * 1; here every operation runs on them too, for caps 0, 1 and 5. A
 * zero-size channel's len counts tokens; a receive never writes to its elem.
 * CH-3, CH-4. */
START_TEST(test_chan_zerosize)
{
    static const size_t caps[] = {0, 1, 5};
    size_t cap = caps[_i];
    chan_t *c = chan_make(0, cap);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(chan_cap(c), cap);
    ck_assert_uint_eq(chan_len(c), 0);
    unsigned char canary[4] = {1, 2, 3, 4};
    for (size_t i = 0; i < cap; i++) {
        /* elem may be NULL or any pointer: nothing is read */
        ck_assert_int_eq(i % 2 ? chan_send(c, NULL) : chan_try_send(c, canary),
                         CHAN_OK);
        ck_assert_uint_eq(chan_len(c), i + 1);
    }
    ck_assert_int_eq(chan_try_send(c, NULL), CHAN_WOULDBLOCK);
    ck_assert_uint_eq(chan_len(c), cap);

    /* one more token through a blocked sender */
    send_arg_t s = {.c = c};
    pthread_t t = tu_spawn(token_sender, &s);
    tu_wait_waiters(c, 0, 1);
    ck_assert(!tu_flag_is_set(&s.done));
    for (size_t i = 0; i < cap + 1; i++) {
        ck_assert_int_eq(
            i % 2 ? chan_recv(c, canary) : chan_try_recv(c, canary), CHAN_OK);
        if (i == 0)
            tu_join(t);
    }
    ck_assert_int_eq(s.status, CHAN_OK);
    ck_assert_uint_eq(chan_len(c), 0);
    ck_assert_int_eq(chan_try_recv(c, canary), CHAN_WOULDBLOCK);

    /* a blocked receiver, then a token; then close with a token left */
    recv_arg_t r = {.c = c, .null_elem = true};
    t = tu_spawn(recv_worker, &r);
    tu_wait_waiters(c, 1, 0);
    ck_assert_int_eq(chan_send(c, canary), CHAN_OK);
    tu_join(t);
    ck_assert_int_eq(r.status, CHAN_OK);
    if (cap > 0)
        ck_assert_int_eq(chan_send(c, NULL), CHAN_OK);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    ck_assert_uint_eq(chan_len(c), cap > 0 ? 1 : 0);
    if (cap > 0)
        ck_assert_int_eq(chan_recv(c, canary), CHAN_OK);
    ck_assert_int_eq(chan_recv(c, canary), CHAN_CLOSED);
    ck_assert_int_eq(chan_try_recv(c, canary), CHAN_CLOSED);
    ck_assert_int_eq(canary[0] + canary[1] + canary[2] + canary[3], 10);
    ck_assert_int_eq(chan_send(c, NULL), CHAN_CLOSED);
    chan_release(c);
}
END_TEST

/* ---- test/chan/sieve1.go ------------------------------------------------- */

/* The sieve's threads run until a send or receive reports CHAN_CLOSED: a
 * failed send closes the thread's input, a failed receive its output, so
 * closing the last channel tears the chain down from the end. */
#define SIEVE_MAX 32

typedef struct sieve sieve_t;
typedef struct {
    sieve_t *s;
    chan_t *in, *out;
    int64_t prime;
} sieve_filter_t;

struct sieve {
    chan_t *primes;
    chan_t *chans[SIEVE_MAX + 1];
    int nchans;
    pthread_t threads[SIEVE_MAX + 1];
    sieve_filter_t filters[SIEVE_MAX];
    int nthreads;
    int bad;
};

static void *sieve_generate(void *p)
{
    chan_t *ch = p;
    for (int64_t i = 2; chan_send(ch, &i) == CHAN_OK; i++) /* 2, 3, 4, ... */
        ;
    return NULL;
}

static void *sieve_filter(void *p)
{
    sieve_filter_t *f = p;
    int64_t i;
    while (chan_recv(f->in, &i) == CHAN_OK) {
        if (i % f->prime != 0 && chan_send(f->out, &i) != CHAN_OK) {
            chan_close(f->in);
            return NULL;
        }
    }
    chan_close(f->out);
    return NULL;
}

static void *sieve_main(void *p)
{
    sieve_t *s = p;
    chan_t *ch = s->chans[s->nchans++] = chan_make(sizeof(int64_t), 0);
    if (pthread_create(&s->threads[s->nthreads++], NULL, sieve_generate, ch)) {
        s->bad++;
        return NULL;
    }
    for (;;) {
        int64_t prime;
        if (chan_recv(ch, &prime) != CHAN_OK) {
            s->bad++;
            break;
        }
        if (chan_send(s->primes, &prime) != CHAN_OK) {
            chan_close(ch); /* the consumer is done: tear down */
            break;
        }
        if (s->nchans > SIEVE_MAX) {
            s->bad++;
            chan_close(ch);
            break;
        }
        chan_t *ch1 = s->chans[s->nchans++] = chan_make(sizeof(int64_t), 0);
        sieve_filter_t *f = &s->filters[s->nthreads - 1];
        *f = (sieve_filter_t){s, ch, ch1, prime};
        if (pthread_create(&s->threads[s->nthreads++], NULL, sieve_filter, f)) {
            s->bad++;
            break;
        }
        ch = ch1;
    }
    return NULL;
}

/* test/chan/sieve1.go: the concurrent prime sieve, a chain of filter
 * threads joined by unbuffered channels, yields the 25 primes below 100.
 * CH-16, CH-25 (range), close as teardown (CH-9, CH-18). */
START_TEST(test_chan_sieve1)
{
    static const int64_t want[] = {2,  3,  5,  7,  11, 13, 17, 19, 23,
                                   29, 31, 37, 41, 43, 47, 53, 59, 61,
                                   67, 71, 73, 79, 83, 89, 97};
    enum { NWANT = sizeof want / sizeof want[0] };
    static sieve_t s;
    memset(&s, 0, sizeof s);
    s.primes = chan_make(sizeof(int64_t), 0);
    pthread_t t = tu_spawn(sieve_main, &s);
    for (int i = 0; i < NWANT; i++)
        ck_assert_int_eq(recv_i64(s.primes), want[i]);
    ck_assert_int_eq(chan_close(s.primes), CHAN_OK);
    tu_join(t);
    for (int i = 0; i < s.nthreads; i++)
        tu_join(s.threads[i]);
    ck_assert_int_eq(s.bad, 0);
    ck_assert_int_eq(s.nchans, NWANT + 1);
    for (int i = 0; i < s.nchans; i++)
        chan_release(s.chans[i]);
    chan_release(s.primes);
}
END_TEST

/* ---- contract: unbuffered rendezvous and direct handoff ------------------ */

typedef struct {
    chan_t *c;
    int n;
    atomic_int arrived; /* receives started */
    int short_sends;    /* sends that returned before their receiver came */
    int status;
} rdv_t;

static void *rdv_sender(void *p)
{
    rdv_t *a = p;
    for (int i = 0; i < a->n; i++) {
        int64_t v = i;
        if (chan_send(a->c, &v) != CHAN_OK)
            a->status = CHAN_INVALID;
        /* a send that returned must have met receive number i */
        if (atomic_load(&a->arrived) < i + 1)
            a->short_sends++;
    }
    return NULL;
}

/* Contract "rendezvous" (docs/semantics.md), unbuffered channels are
 * rendezvous: a send returns only once a receiver has taken the value. Shown by
 * ordering: the receiver announces each receive before it starts, and every
 * send must find its receive announced when it returns. With no receiver at
 * all, a send stays blocked. CH-8, CH-23. */
START_TEST(test_chan_unbuffered_rendezvous)
{
    rdv_t a = {.c = chan_make(sizeof(int64_t), 0), .n = 2000};
    pthread_t t = tu_spawn(rdv_sender, &a);
    tu_wait_waiters(a.c, 0, 1);
    ck_assert_uint_eq(chan_len(a.c), 0);
    for (int i = 0; i < a.n; i++) {
        if (i == 0) /* the first send waits for us, however long */
            tu_quiet_sleep();
        atomic_fetch_add(&a.arrived, 1);
        ck_assert_int_eq(recv_i64(a.c), i);
    }
    tu_join(t);
    ck_assert_int_eq(a.status, 0);
    ck_assert_int_eq(a.short_sends, 0);
    chan_release(a.c);
}
END_TEST

/* Contract "direct handoff" (docs/semantics.md), a value goes straight from a
 * blocked sender to a blocked receiver (no extra copy through the buffer): a
 * sender that finds a receiver queued on an empty buffered channel hands the
 * value to it; the buffer never holds it, so a third party cannot take it. The
 * converse on an unbuffered channel: a receiver takes a blocked sender's value.
 * CH-8 step 2, CH-12. */
START_TEST(test_chan_direct_handoff)
{
    chan_t *c = chan_make(sizeof(int64_t), 4);
    recv_arg_t r = {.c = c, .v = -1};
    pthread_t t = tu_spawn(recv_worker, &r);
    tu_wait_waiters(c, 1, 0);
    send_i64(c, 7);
    ck_assert_uint_eq(chan_len(c), 0);
    int64_t v = -2;
    ck_assert_int_eq(chan_try_recv(c, &v), CHAN_WOULDBLOCK);
    ck_assert_int_eq(v, -2);
    tu_join(t);
    ck_assert_int_eq(r.status, CHAN_OK);
    ck_assert_int_eq(r.v, 7);
    chan_release(c);

    c = chan_make(sizeof(int64_t), 0);
    send_arg_t s = {.c = c, .v = 9};
    t = tu_spawn(send_worker, &s);
    tu_wait_waiters(c, 0, 1);
    ck_assert_int_eq(recv_i64(c), 9);
    tu_join(t);
    ck_assert_int_eq(s.status, CHAN_OK);
    ck_assert_uint_eq(chan_len(c), 0);
    chan_release(c);
}
END_TEST

/* ---- contract: close ---------------------------------------------------- */

typedef struct {
    unsigned char bytes[24];
} big_t;

typedef struct {
    chan_t *c;
    big_t v;
    int status;
} big_recv_t;

static void *big_receiver(void *p)
{
    big_recv_t *a = p;
    a->status = chan_recv(a->c, &a->v);
    return NULL;
}

/* Contract "close wakes every waiter" (docs/semantics.md), every blocked
 * receiver wakes with CHAN_CLOSED and a zeroed value: eight receivers blocked
 * on an unbuffered, a buffered and a zero-size channel all wake with
 * CHAN_CLOSED and a zeroed 24-byte value. CH-14, CH-18. */
START_TEST(test_chan_close_wakes_receivers)
{
    enum { N = 8 };
    size_t esize = _i == 2 ? 0 : sizeof(big_t);
    chan_t *c = chan_make(esize, _i == 0 ? 0 : 4);
    big_recv_t r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i].c = c;
        r[i].status = -1;
        memset(r[i].v.bytes, 0xa5, sizeof r[i].v.bytes);
        t[i] = tu_spawn(big_receiver, &r[i]);
    }
    tu_wait_waiters(c, N, 0);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    big_t zero, pattern;
    memset(&zero, 0, sizeof zero);
    memset(&pattern, 0xa5, sizeof pattern);
    for (int i = 0; i < N; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(r[i].status, CHAN_CLOSED);
        /* a zero-size receive writes nothing */
        ck_assert_mem_eq(&r[i].v, esize ? &zero : &pattern, sizeof zero);
    }
    size_t nr, ns;
    tu_chan_waiters(c, &nr, &ns);
    ck_assert_uint_eq(nr + ns, 0);
    chan_release(c);
}
END_TEST

/* Contract "close wakes every waiter", the senders' side: every blocked sender
 * gets CHAN_CLOSED, and values already buffered are still received, in order,
 * before CHAN_CLOSED. Six senders blocked on a full (or unbuffered) channel
 * fail with CHAN_CLOSED, and none of their values is ever received. CH-9,
 * CH-13, CH-18. */
START_TEST(test_chan_close_wakes_senders)
{
    enum { N = 6 };
    size_t cap = _i == 0 ? 0 : 3;
    chan_t *c = chan_make(sizeof(int64_t), cap);
    for (size_t i = 0; i < cap; i++)
        send_i64(c, 100 + (int64_t)i);
    send_arg_t s[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        s[i] = (send_arg_t){.c = c, .v = 200 + i, .status = -1};
        t[i] = tu_spawn(send_worker, &s[i]);
    }
    tu_wait_waiters(c, 0, N);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    for (int i = 0; i < N; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(s[i].status, CHAN_CLOSED);
    }
    ck_assert_uint_eq(chan_len(c), cap);
    for (size_t i = 0; i < cap; i++)
        ck_assert_int_eq(recv_i64(c), 100 + (int64_t)i);
    int64_t v = 5;
    ck_assert_int_eq(chan_recv(c, &v), CHAN_CLOSED);
    ck_assert_int_eq(v, 0);
    v = 6;
    ck_assert_int_eq(chan_try_recv(c, &v), CHAN_CLOSED);
    ck_assert_int_eq(v, 0);
    chan_release(c);
}
END_TEST

/* Contract "close wakes every waiter" and "status codes" (docs/semantics.md),
 * the CHAN_CLOSED cases: close of a closed channel is CHAN_CLOSED and changes
 * nothing; a send on a closed channel is CHAN_CLOSED even with buffer space
 * free (CH-7); close of NULL is CHAN_INVALID (CH-17). */
START_TEST(test_chan_close_twice)
{
    chan_t *c = chan_make(sizeof(int64_t), 2);
    send_i64(c, 1);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    ck_assert_int_eq(chan_close(c), CHAN_CLOSED);
    ck_assert_int_eq(chan_close(c), CHAN_CLOSED);
    int64_t v = 2;
    ck_assert_int_eq(chan_send(c, &v), CHAN_CLOSED);
    ck_assert_int_eq(chan_try_send(c, &v), CHAN_CLOSED);
    ck_assert_uint_eq(chan_len(c), 1);
    ck_assert_int_eq(recv_i64(c), 1);
    ck_assert_int_eq(chan_recv(c, &v), CHAN_CLOSED);
    ck_assert_int_eq(chan_close(NULL), CHAN_INVALID);
    chan_release(c);
}
END_TEST

/* ---- contract: references ----------------------------------------------- */

static size_t refs_of(chan_t *c)
{
    return atomic_load(&c->refs);
}

/* Contract "references" (docs/semantics.md), a blocked operation holds its own
 * reference, so releasing a channel while others block on it is safe: the owner
 * releases its reference while a receiver and then a sender are blocked; a
 * second holder completes each operation and releases at once. A sleeping
 * operation counts no reference (chan.c: it takes one only from the last
 * release), and once woken never touches the channel, which the second
 * holder's release frees (ASan and valgrind watch the memory, LSan the
 * final free). */
START_TEST(test_chan_blocked_holds_ref)
{
    for (int dir = 0; dir < 2; dir++) {
        chan_t *c = chan_make(sizeof(int64_t), 0);
        chan_t *peer = chan_retain(c);
        ck_assert_ptr_eq(peer, c);
        ck_assert_uint_eq(refs_of(c), 2);
        recv_arg_t r = {.c = c, .v = -1};
        send_arg_t s = {.c = c, .v = 31};
        pthread_t t =
            dir ? tu_spawn(send_worker, &s) : tu_spawn(recv_worker, &r);
        tu_wait_waiters(c, dir ? 0 : 1, dir ? 1 : 0);
        ck_assert_uint_eq(refs_of(c), 2); /* none of the sleeper's own */
        chan_release(c);                  /* the owner lets go */
        if (dir)
            ck_assert_int_eq(recv_i64(peer), 31);
        else
            send_i64(peer, 30);
        chan_release(peer); /* the last reference: frees */
        tu_join(t);
        if (dir) {
            ck_assert_int_eq(s.status, CHAN_OK);
        } else {
            ck_assert_int_eq(r.status, CHAN_OK);
            ck_assert_int_eq(r.v, 30);
        }
    }
}
END_TEST

/* One blocking operation on a goroutine, which first says where its g keeps
 * a blocked operation (sched_g_sudog). */
typedef struct {
    recv_arg_t r;
    send_arg_t s;
    bool send;
    _Atomic(void *) sudog;
} g_op_t;

static void g_op(void *p)
{
    g_op_t *a = p;
    atomic_store(&a->sudog, sched_g_sudog(sched_getg()));
    if (a->send)
        send_worker(&a->s);
    else
        recv_worker(&a->r);
}

/* Go's sudog for a goroutine: a goroutine that blocks in a send or receive
 * queues the waiter kept in its g (chan.c, blocked_op_place), not one on its
 * stack: a close that wakes many goroutines then walks gs that lie side by
 * side. The value still reaches the peer, both ways, on unbuffered and ring
 * channels. */
START_TEST(test_chan_goroutine_waits_in_its_g)
{
    if (!sched_supported())
        return;
    for (int dir = 0; dir < 2; dir++) {
        for (size_t cap = 0; cap <= 8; cap += 8) {
            chan_t *c = chan_make(sizeof(int64_t), cap);
            for (size_t i = 0; dir && i < cap; i++)
                send_i64(c, 100 + (int64_t)i); /* the sender must block */
            static g_op_t a;
            a = (g_op_t){.r = {.c = c, .v = -1, .status = -1},
                         .s = {.c = c, .v = 77, .status = -1},
                         .send = dir == 1};
            ck_assert_int_eq(sched_go(g_op, &a), 0);
            tu_wait_waiters(c, dir ? 0 : 1, dir ? 1 : 0);
            chan__waitq_t *q = dir ? &c->sendq : &c->recvq;
            void *queued = (void *)atomic_load(&q->first);
            void *in_g = atomic_load(&a.sudog);
            ck_assert_ptr_eq(queued, in_g);
            if (dir) {
                for (size_t i = 0; i < cap; i++)
                    ck_assert_int_eq(recv_i64(c), 100 + (int64_t)i);
                ck_assert_int_eq(recv_i64(c), 77);
            } else {
                send_i64(c, 78);
            }
            ck_assert(tu_flag_wait(dir ? &a.s.done : &a.r.done, 10000));
            ck_assert_int_eq(dir ? a.s.status : a.r.status, CHAN_OK);
            if (!dir)
                ck_assert_int_eq(a.r.v, 78);
            chan_release(c);
        }
    }
}
END_TEST

/* Contract "references": the last reference goes while operations block on
 * the channel. Each blocked operation then takes one of its own (chan.c,
 * refs_to_blocked), so the channel stays; a peer that only borrows the
 * pointer (the blocked operations keep it alive) completes them one by one,
 * and the last one back frees the channel (ASan and valgrind watch the
 * memory, LSan the free). Receivers, then senders, on unbuffered and
 * buffered channels. */
START_TEST(test_chan_last_release_while_blocked)
{
    enum { N = 3 };
    for (int dir = 0; dir < 2; dir++) {
        for (size_t cap = 0; cap <= 8; cap += 8) {
            chan_t *c = chan_make(sizeof(int64_t), cap);
            for (size_t i = 0; dir && i < cap; i++)
                send_i64(c, 100 + (int64_t)i); /* senders must block */
            recv_arg_t r[N];
            send_arg_t s[N];
            pthread_t t[N];
            for (int i = 0; i < N; i++) {
                r[i] = (recv_arg_t){.c = c, .v = -1, .status = -1};
                s[i] = (send_arg_t){.c = c, .v = i, .status = -1};
                t[i] = dir ? tu_spawn(send_worker, &s[i])
                           : tu_spawn(recv_worker, &r[i]);
            }
            tu_wait_waiters(c, dir ? 0 : N, dir ? N : 0);
            chan_t *borrowed = c;
            chan_release(c); /* the last holder lets go */
            ck_assert_uint_eq(refs_of(borrowed), N); /* one per sleeper */
            int64_t sum = 0;
            for (int i = 0; i < N; i++) {
                if (dir)
                    sum += recv_i64(borrowed);
                else
                    send_i64(borrowed, 7);
            }
            for (int i = 0; i < N; i++) {
                tu_join(t[i]);
                ck_assert_int_eq(dir ? s[i].status : r[i].status, CHAN_OK);
                if (!dir)
                    ck_assert_int_eq(r[i].v, 7);
            }
            /* Buffered: the senders' values follow the buffer's own; the
             * buffer's are still in it (the channel was freed with them). */
            if (dir && cap == 0)
                ck_assert_int_eq(sum, 0 + 1 + 2);
        }
    }
}
END_TEST

/* Contract "references" and close: receivers and senders block on two channels,
 * each channel's owner releases it, and the closer, holding the last reference
 * but the waiters', closes and releases. Every waiter wakes with CHAN_CLOSED
 * and the channels are freed exactly once (by the closer's release, with
 * the queues empty). */
START_TEST(test_chan_release_while_blocked_close)
{
    enum { N = 5 };
    chan_t *rc = chan_make(sizeof(int64_t), 2);
    chan_t *sc = chan_make(sizeof(int64_t), 1);
    send_i64(sc, 1);
    chan_t *rc_closer = chan_retain(rc), *sc_closer = chan_retain(sc);
    recv_arg_t r[N];
    send_arg_t s[N];
    pthread_t tr[N], ts[N];
    for (int i = 0; i < N; i++) {
        r[i] = (recv_arg_t){.c = rc, .v = -1, .status = -1};
        s[i] = (send_arg_t){.c = sc, .v = i, .status = -1};
        tr[i] = tu_spawn(recv_worker, &r[i]);
        ts[i] = tu_spawn(send_worker, &s[i]);
    }
    tu_wait_waiters(rc, N, 0);
    tu_wait_waiters(sc, 0, N);
    chan_release(rc);
    chan_release(sc);
    ck_assert_uint_eq(refs_of(rc_closer), 1); /* sleepers count none */
    ck_assert_uint_eq(refs_of(sc_closer), 1);
    ck_assert_int_eq(chan_close(rc_closer), CHAN_OK);
    chan_release(rc_closer);
    ck_assert_int_eq(chan_close(sc_closer), CHAN_OK);
    chan_release(sc_closer);
    for (int i = 0; i < N; i++) {
        tu_join(tr[i]);
        tu_join(ts[i]);
        ck_assert_int_eq(r[i].status, CHAN_CLOSED);
        ck_assert_int_eq(r[i].v, 0);
        ck_assert_int_eq(s[i].status, CHAN_CLOSED);
    }
}
END_TEST

typedef struct {
    chan_t *c;
    int status;
} closer_arg_t;

static void *close_worker(void *p)
{
    closer_arg_t *a = p;
    a->status = chan_close(a->c);
    return NULL;
}

/* Contract "references" and close, with many waiters: close wakes them a
 * chunk at a time (chan.c), and the closer's reference is borrowed from an
 * owner who lets go as soon as the first waiter is back. 64 (one whole
 * chunk), 65 and 200 receivers all wake with CHAN_CLOSED and a zero value.
 * (The reference close holds across chunks matters when the last waiter of
 * a full chunk is back before the closer looks again: a window of
 * nanoseconds this test seldom hits.) */
START_TEST(test_chan_close_many_borrowed_ref)
{
    enum { MAXN = 200 };
    const int ns[] = {64, 65, MAXN};
    int n = ns[_i];
    chan_t *c = chan_make(sizeof(int64_t), 0);
    recv_arg_t *r = calloc(MAXN, sizeof *r);
    pthread_t *t = calloc(MAXN, sizeof *t);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < n; i++) {
        r[i] = (recv_arg_t){.c = c, .v = -1, .status = -1};
        t[i] = tu_spawn(recv_worker, &r[i]);
    }
    tu_wait_waiters(c, (size_t)n, 0);
    closer_arg_t closer = {.c = c, .status = -1}; /* borrows main's */
    pthread_t tc = tu_spawn(close_worker, &closer);
    for (bool back = false; !back; sched_yield())
        for (int i = 0; i < n && !back; i++)
            back = tu_flag_is_set(&r[i].done);
    chan_release(c); /* the owner lets go mid-close */
    tu_join(tc);
    ck_assert_int_eq(closer.status, CHAN_OK);
    for (int i = 0; i < n; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(r[i].status, CHAN_CLOSED);
        ck_assert_int_eq(r[i].v, 0);
    }
    free(r);
    free(t);
}
END_TEST

/* Contract "references" (docs/semantics.md): chan_retain returns its argument
 * and is NULL-safe; chan_release is NULL-safe; the reference count goes up and
 * down by one. */
START_TEST(test_chan_retain_release)
{
    ck_assert_ptr_null(chan_retain(NULL));
    chan_release(NULL);
    chan_t *c = chan_make(1, 1);
    ck_assert_ptr_eq(chan_retain(c), c);
    ck_assert_ptr_eq(chan_retain(c), c);
    ck_assert_uint_eq(refs_of(c), 3);
    chan_release(c);
    chan_release(c);
    ck_assert_uint_eq(refs_of(c), 1);
    unsigned char b = 4;
    ck_assert_int_eq(chan_send(c, &b), CHAN_OK);
    chan_release(c); /* frees the buffered value too: LSan checks */
}
END_TEST

/* ---- contract: arguments, NULL channels, status codes ------------------- */

/* Contract "chan_make" (docs/semantics.md), chan_make(0, huge) is fine (no
 * buffer): a chan struct{} of cap SIZE_MAX holds tokens and counts them. CH-1,
 * CH-3. */
START_TEST(test_chan_make_zero_huge)
{
    chan_t *c = chan_make(0, SIZE_MAX);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(chan_cap(c), SIZE_MAX);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(chan_try_send(c, NULL), CHAN_OK);
    ck_assert_uint_eq(chan_len(c), 1000);
    ck_assert_int_eq(chan_recv(c, NULL), CHAN_OK);
    ck_assert_uint_eq(chan_len(c), 999);
    chan_release(c);
}
END_TEST

/* Contract "chan_make" (docs/semantics.md): NULL with errno EINVAL when
 * elem_size * cap overflows (Go's "makechan: size out of range", CH-1). */
START_TEST(test_chan_make_overflow)
{
    static const size_t args[][2] = {{2, SIZE_MAX / 2 + 1},
                                     {SIZE_MAX, 2},
                                     {(size_t)1 << 32, (size_t)1 << 32},
                                     {SIZE_MAX, SIZE_MAX},
                                     {3, SIZE_MAX / 3 + 1}};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        errno = 0;
        ck_assert_ptr_null(chan_make(args[i][0], args[i][1]));
        ck_assert_int_eq(errno, EINVAL);
    }
}
END_TEST

/* Contract "chan_make": a size that does not overflow but cannot be allocated
 * is NULL with errno ENOMEM: at the very top of size_t (no room for the header)
 * and far beyond any address space (below 2^63, which valgrind would report as
 * a "fishy" malloc argument). */
START_TEST(test_chan_make_nomem)
{
    static const size_t args[][2] = {{1, SIZE_MAX},
                                     {SIZE_MAX, 1},
                                     {8, SIZE_MAX / 8},
                                     {(size_t)1 << 20, (size_t)1 << 42},
                                     {(size_t)1 << 31, (size_t)1 << 31}};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        errno = 0;
        ck_assert_ptr_null(chan_make(args[i][0], args[i][1]));
        ck_assert_int_eq(errno, ENOMEM);
    }
    /* nothing was left behind: ordinary channels still work */
    chan_t *c = chan_make(8, 8);
    ck_assert_ptr_nonnull(c);
    chan_release(c);
}
END_TEST

/* Contract "status codes" (docs/semantics.md): CHAN_OK is 0, the others are
 * non-zero and distinct; chan_strerror names each one and says "unknown status"
 * for anything else. */
START_TEST(test_chan_status_codes)
{
    static const int codes[] = {CHAN_OK, CHAN_CLOSED, CHAN_WOULDBLOCK,
                                CHAN_INVALID, CHAN_NOMEM};
    enum { N = sizeof codes / sizeof codes[0] };
    ck_assert_int_eq(CHAN_OK, 0);
    for (int i = 0; i < N; i++) {
        const char *s = chan_strerror(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        ck_assert_str_ne(s, "unknown status");
        for (int j = 0; j < i; j++) {
            ck_assert_int_ne(codes[i], codes[j]);
            ck_assert_str_ne(s, chan_strerror(codes[j]));
        }
        if (i > 0)
            ck_assert_int_ne(codes[i], 0);
    }
    static const int unknown[] = {-1, -CHAN_CLOSED, 5, 100, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        ck_assert_str_eq(chan_strerror(unknown[i]), "unknown status");
}
END_TEST

/* Contract "NULL elem" (docs/semantics.md), a send's elem may be NULL only when
 * elem_size == 0 (else CHAN_INVALID), for both sends and whatever the channel's
 * state: an invalid send changes nothing, even with a receiver waiting for it.
 */
START_TEST(test_chan_send_null_elem)
{
    chan_t *c = chan_make(sizeof(int64_t), 1);
    ck_assert_int_eq(chan_send(c, NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_try_send(c, NULL), CHAN_INVALID);
    ck_assert_uint_eq(chan_len(c), 0);

    chan_t *u = chan_make(sizeof(int64_t), 0);
    recv_arg_t r = {.c = u, .v = -1};
    pthread_t t = tu_spawn(recv_worker, &r);
    tu_wait_waiters(u, 1, 0);
    ck_assert_int_eq(chan_send(u, NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_try_send(u, NULL), CHAN_INVALID);
    tu_wait_waiters(u, 1, 0); /* the receiver is still queued, untouched */
    ck_assert(!tu_flag_is_set(&r.done));
    send_i64(u, 3);
    tu_join(t);
    ck_assert_int_eq(r.v, 3);

    /* receives may always discard into NULL */
    send_i64(c, 4);
    ck_assert_int_eq(chan_try_recv(c, NULL), CHAN_OK);
    send_i64(c, 5);
    ck_assert_int_eq(chan_recv(c, NULL), CHAN_OK);

    /* zero-size elements: NULL is fine for every operation */
    chan_t *z = chan_make(0, 1);
    ck_assert_int_eq(chan_send(z, NULL), CHAN_OK);
    ck_assert_int_eq(chan_try_send(z, NULL), CHAN_WOULDBLOCK);
    ck_assert_int_eq(chan_recv(z, NULL), CHAN_OK);
    ck_assert_int_eq(chan_try_send(z, NULL), CHAN_OK);
    ck_assert_int_eq(chan_try_recv(z, NULL), CHAN_OK);
    chan_release(z);
    chan_release(u);
    chan_release(c);
}
END_TEST

/* Contract "try leaves elem untouched" (docs/semantics.md): empty buffered and
 * unbuffered channels, and a full channel's try-send does not touch its source
 * either. */
START_TEST(test_chan_try_wouldblock_untouched)
{
    big_t v, copy;
    for (int i = 0; i < (int)sizeof v.bytes; i++)
        v.bytes[i] = (unsigned char)(0xc0 + i);
    copy = v;
    for (size_t cap = 0; cap < 3; cap++) {
        chan_t *c = chan_make(sizeof(big_t), cap);
        ck_assert_int_eq(chan_try_recv(c, &v), CHAN_WOULDBLOCK);
        ck_assert_mem_eq(&v, &copy, sizeof v);
        for (size_t i = 0; i < cap; i++)
            ck_assert_int_eq(chan_try_send(c, &v), CHAN_OK);
        ck_assert_int_eq(chan_try_send(c, &v), CHAN_WOULDBLOCK);
        ck_assert_mem_eq(&v, &copy, sizeof v);
        ck_assert_uint_eq(chan_len(c), cap);
        chan_release(c);
    }
}
END_TEST

/* Contract "NULL channel" (docs/semantics.md), the non-blocking half and the
 * NULL-safe accessors: try operations return CHAN_WOULDBLOCK and leave *elem
 * alone (CH-6, CH-11); len and cap are 0 (CH-4); close is CHAN_INVALID. */
START_TEST(test_chan_null_nonblocking)
{
    int64_t v = 42;
    ck_assert_int_eq(chan_try_send(NULL, &v), CHAN_WOULDBLOCK);
    ck_assert_int_eq(chan_try_send(NULL, NULL), CHAN_WOULDBLOCK);
    ck_assert_int_eq(chan_try_recv(NULL, &v), CHAN_WOULDBLOCK);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(chan_try_recv(NULL, NULL), CHAN_WOULDBLOCK);
    ck_assert_uint_eq(chan_len(NULL), 0);
    ck_assert_uint_eq(chan_cap(NULL), 0);
    ck_assert_int_eq(chan_close(NULL), CHAN_INVALID);
}
END_TEST

/* The blocked threads outlive the test function (they are left detached),
 * so their state is static. */
static tu_flag_t null_returned[4];
static int64_t null_value = 1;

static void *null_op(void *p)
{
    intptr_t k = (intptr_t)p;
    int64_t v = 0;
    switch (k) {
    case 0:
        chan_send(NULL, &null_value);
        break;
    case 1:
        chan_recv(NULL, &v);
        break;
    case 2:
        chan_send(NULL, NULL);
        break;
    default:
        chan_recv(NULL, NULL);
        break;
    }
    tu_flag_set(&null_returned[k]);
    return NULL;
}

/* Contract "NULL channel", send and receive block forever (CH-6, CH-11):
 * watched for a bounded time; the threads are then left blocked. */
START_TEST(test_chan_null_blocks_forever)
{
    for (intptr_t k = 0; k < 4; k++) {
        pthread_t t = tu_spawn(null_op, (void *)k);
        ck_assert_int_eq(pthread_detach(t), 0);
    }
    tu_quiet_sleep();
    for (int k = 0; k < 4; k++)
        ck_assert_msg(!tu_flag_is_set(&null_returned[k]),
                      "operation %d on a NULL channel returned", k);
}
END_TEST

/* ---- Go memory model (go.dev/ref/mem) --------------------------------------
 * Plain (non-atomic) data written before one side's channel operation is read
 * after the other side's; a missing happens-before edge is a data race that
 * ThreadSanitizer reports, and a torn read fails the value check. */

#define MM_N 2000
typedef struct {
    int64_t words[8];
} mm_slot_t;

typedef struct {
    chan_t *c;
    int mode;
    mm_slot_t *slots;
    int bad;
} mm_arg_t;

/* modes: 0 unbuffered, 1 cap 1, 2 cap 8 (blocking both sides); 3 cap 4 with
 * try-send and try-receive polling; 4 unbuffered, polling try-send against a
 * blocking receiver; 5 unbuffered, blocking send against polling try-recv */
static const size_t mm_caps[] = {0, 1, 8, 4, 0, 0};

static bool mm_poll_send(int mode)
{
    return mode == 3 || mode == 4;
}
static bool mm_poll_recv(int mode)
{
    return mode == 3 || mode == 5;
}

static void *mm_producer(void *p)
{
    mm_arg_t *a = p;
    for (int64_t i = 0; i < MM_N; i++) {
        for (int w = 0; w < 8; w++)
            a->slots[i].words[w] = i * 8 + w; /* never touched again here */
        int st;
        if (mm_poll_send(a->mode)) {
            retry_t rt = retry_start();
            while ((st = chan_try_send(a->c, &i)) == CHAN_WOULDBLOCK &&
                   retry_again(&rt))
                ;
        } else {
            st = chan_send(a->c, &i);
        }
        if (st != CHAN_OK)
            a->bad++;
    }
    return NULL;
}

/* Go memory model "a send on a channel is synchronized before the
 * completion of the corresponding receive" (CH-21), through every path: a
 * direct handoff to a blocked receiver, from a blocked sender, through the
 * buffer, and through the try forms. */
START_TEST(test_chan_hb_send_recv)
{
    int mode = _i;
    mm_slot_t *slots = calloc(MM_N, sizeof *slots);
    mm_arg_t a = {.c = chan_make(sizeof(int64_t), mm_caps[mode]),
                  .mode = mode,
                  .slots = slots};
    pthread_t t = tu_spawn(mm_producer, &a);
    int bad = 0;
    for (int64_t k = 0; k < MM_N; k++) {
        int64_t i = -1;
        int st;
        if (mm_poll_recv(mode)) {
            retry_t rt = retry_start();
            while ((st = chan_try_recv(a.c, &i)) == CHAN_WOULDBLOCK &&
                   retry_again(&rt))
                ;
        } else {
            st = chan_recv(a.c, &i);
        }
        ck_assert_int_eq(st, CHAN_OK);
        ck_assert_int_eq(i, k);
        for (int w = 0; w < 8; w++)
            if (slots[i].words[w] != i * 8 + w)
                bad++;
    }
    tu_join(t);
    ck_assert_int_eq(a.bad, 0);
    ck_assert_int_eq(bad, 0);
    chan_release(a.c);
    free(slots);
}
END_TEST

/* The plain data of the memory-model tests lives in static or heap storage:
 * clang 14's TSan was seen to miss a race on the test thread's stack. */
static mm_slot_t mm_payload;

typedef struct {
    chan_t *c;
    mm_slot_t *payload;
    int mode;
    int status;
    int64_t sum;
} mm_close_t;

static void *mm_close_reader(void *p)
{
    mm_close_t *a = p;
    int64_t v = -1;
    if (a->mode == 1) {
        retry_t rt = retry_start();
        while ((a->status = chan_try_recv(a->c, &v)) == CHAN_WOULDBLOCK &&
               retry_again(&rt))
            ;
    } else {
        a->status = chan_recv(a->c, &v);
    }
    if (a->status == CHAN_CLOSED)
        for (int w = 0; w < 8; w++)
            a->sum += a->payload->words[w];
    return NULL;
}

/* Go memory model "the closing of a channel is synchronized before a receive
 * that returns because the channel is closed" (CH-22, CH-20): the payload
 * written before close is read after CHAN_CLOSED, by a blocking receiver
 * (queued before the close or arriving after it) and by a polling
 * try-receiver (the lock-free fast path). Unbuffered and buffered. */
START_TEST(test_chan_hb_close)
{
    for (int iter = 0; iter < 200; iter++) {
        mm_close_t a = {.c = chan_make(sizeof(int64_t), iter % 2),
                        .payload = &mm_payload,
                        .mode = iter % 3,
                        .status = -1};
        pthread_t t = tu_spawn(mm_close_reader, &a);
        if (a.mode == 2)
            tu_wait_waiters(a.c, 1, 0);
        for (int w = 0; w < 8; w++)
            mm_payload.words[w] = iter + w;
        ck_assert_int_eq(chan_close(a.c), CHAN_OK);
        tu_join(t);
        ck_assert_int_eq(a.status, CHAN_CLOSED);
        ck_assert_int_eq(a.sum, 8 * iter + 28);
        chan_release(a.c);
    }
}
END_TEST

static int64_t mm_x; /* plain: written by the receiver before its receive */

typedef struct {
    chan_t *c;
    int64_t want; /* the value of mm_x this round */
    int64_t seen;
    int status;
} mm_rs_t;

static void *mm_rs_sender(void *p)
{
    mm_rs_t *a = p;
    int64_t v = 1;
    a->status = chan_send(a->c, &v);
    a->seen = mm_x;
    return NULL;
}

static void *mm_rs_receiver(void *p)
{
    mm_rs_t *a = p;
    mm_x = a->want;
    a->status = chan_recv(a->c, NULL);
    return NULL;
}

/* Go memory model "a receive from an unbuffered channel is synchronized
 * before the completion of the corresponding send" (CH-23): the receiver
 * writes x before receiving, the sender reads x after its send returns.
 * Even rounds queue the sender first (known queued before x is written);
 * odd rounds race a new receiver thread against this thread's send, so that
 * either may queue first. */
START_TEST(test_chan_hb_recv_before_send_completes)
{
    for (int iter = 0; iter < 400; iter++) {
        mm_rs_t a = {.c = chan_make(sizeof(int64_t), 0),
                     .want = 1000 + iter,
                     .status = -1};
        pthread_t t;
        if (iter % 2 == 0) {
            t = tu_spawn(mm_rs_sender, &a);
            tu_wait_waiters(a.c, 0, 1);
            mm_x = a.want;
            ck_assert_int_eq(recv_i64(a.c), 1);
            tu_join(t);
        } else {
            t = tu_spawn(mm_rs_receiver, &a);
            int64_t v = 1;
            ck_assert_int_eq(chan_send(a.c, &v), CHAN_OK);
            a.seen = mm_x; /* before the join: only the channel orders it */
            tu_join(t);
        }
        ck_assert_int_eq(a.status, CHAN_OK);
        ck_assert_int_eq(a.seen, a.want);
        chan_release(a.c);
    }
}
END_TEST

typedef struct {
    chan_t *sem;
    int64_t *counter;   /* plain: guarded by the semaphore when cap is 1 */
    atomic_int *inside; /* holders right now */
    atomic_int *max_inside;
    int n;
    int bad;
} sem_arg_t;

static void *sem_worker(void *p)
{
    sem_arg_t *a = p;
    for (int i = 0; i < a->n; i++) {
        if (chan_send(a->sem, NULL) != CHAN_OK) /* acquire */
            a->bad++;
        int now = atomic_fetch_add(a->inside, 1) + 1;
        int max = atomic_load(a->max_inside);
        while (now > max &&
               !atomic_compare_exchange_weak(a->max_inside, &max, now))
            ;
        if (chan_cap(a->sem) == 1)
            (*a->counter)++;
        atomic_fetch_sub(a->inside, 1);
        if (chan_recv(a->sem, NULL) != CHAN_OK) /* release */
            a->bad++;
    }
    return NULL;
}

/* Go memory model "the kth receive on a channel with capacity C is
 * synchronized before the completion of the k+Cth send" (CH-24): a chan
 * struct{} of cap C is a counting semaphore. Cap 1 is a mutex around a plain
 * counter (TSan checks the edges, the total checks exclusion); cap 2 never
 * lets more than two threads in. */
START_TEST(test_chan_semaphore)
{
    enum { T = 4, N = 2000 };
    for (size_t cap = 1; cap <= 2; cap++) {
        chan_t *sem = chan_make(0, cap);
        static int64_t counter;
        counter = 0;
        atomic_int inside = 0, max_inside = 0;
        sem_arg_t a[T];
        pthread_t t[T];
        for (int i = 0; i < T; i++) {
            a[i] = (sem_arg_t){sem, &counter, &inside, &max_inside, N, 0};
            t[i] = tu_spawn(sem_worker, &a[i]);
        }
        for (int i = 0; i < T; i++) {
            tu_join(t[i]);
            ck_assert_int_eq(a[i].bad, 0);
        }
        ck_assert_int_le(atomic_load(&max_inside), (int)cap);
        if (cap == 1)
            ck_assert_int_eq(counter, T * N);
        ck_assert_uint_eq(chan_len(sem), 0);
        chan_release(sem);
    }
}
END_TEST

/* ---- the suite ---------------------------------------------------------- */

Suite *chan_suite(void);
Suite *chan_suite(void)
{
    Suite *s = suite_create("chan");
    TCase *tc;

    tc = tu_tcase(s, "testchan", 30);
    tcase_add_loop_test(tc, test_chan_recv_empty_blocks, 0, N_TESTCHAN_CAPS);
    tcase_add_loop_test(tc, test_chan_send_full_blocks, 0, N_TESTCHAN_CAPS);
    tcase_add_loop_test(tc, test_chan_close_drains, 0, N_TESTCHAN_CAPS);
    tcase_add_loop_test(tc, test_chan_close_unblocks_recv, 0, N_TESTCHAN_CAPS);
    tcase_add_loop_test(tc, test_chan_fifo100, 0, N_TESTCHAN_CAPS);
    tcase_add_loop_test(tc, test_chan_multi_prodcons, 0, N_TESTCHAN_CAPS);
    tcase_add_loop_test(tc, test_chan_len_cap, 0, N_TESTCHAN_CAPS);
    tcase_add_test(tc, test_chan_flavour);
    tcase_add_test(tc, test_chan_release_right_after_recv);

    tc = tu_tcase(s, "nonblock_race", 60);
    tcase_add_test(tc, test_chan_nonblock_recv_race);
    tcase_add_test(tc, test_chan_nonblock_recv_close_race);
    tcase_add_test(tc, test_chan_try_recv_race_untouched);

    tc = tu_tcase(s, "multi_consumer", 60);
    tcase_add_test(tc, test_chan_multi_consumer);

    tc = tu_tcase(s, "fifo", 30);
    tcase_add_test(tc, test_chan_fifo_async);
    tcase_add_test(tc, test_chan_fifo_sync);
    tcase_add_loop_test(tc, test_chan_fifo_blocked_receivers, 0, 2);
    tcase_add_test(tc, test_chan_fifo_blocked_senders);
    tcase_add_test(tc, test_chan_full_buffer_sender_to_tail);

    tc = tu_tcase(s, "nonblock", 30);
    tcase_add_loop_test(tc, test_chan_nonblock, 0, 12);

    tc = tu_tcase(s, "zerosize", 30);
    tcase_add_loop_test(tc, test_chan_zerosize, 0, 3);

    tc = tu_tcase(s, "sieve", 30);
    tcase_add_test(tc, test_chan_sieve1);

    tc = tu_tcase(s, "rendezvous", 30);
    tcase_add_test(tc, test_chan_unbuffered_rendezvous);
    tcase_add_test(tc, test_chan_direct_handoff);

    tc = tu_tcase(s, "close", 30);
    tcase_add_loop_test(tc, test_chan_close_wakes_receivers, 0, 3);
    tcase_add_loop_test(tc, test_chan_close_wakes_senders, 0, 2);
    tcase_add_test(tc, test_chan_close_twice);

    tc = tu_tcase(s, "refs", 30);
    tcase_add_test(tc, test_chan_blocked_holds_ref);
    tcase_add_test(tc, test_chan_last_release_while_blocked);
    tcase_add_test(tc, test_chan_goroutine_waits_in_its_g);
    tcase_add_test(tc, test_chan_release_while_blocked_close);
    tcase_add_loop_test(tc, test_chan_close_many_borrowed_ref, 0, 3);
    tcase_add_test(tc, test_chan_retain_release);

    tc = tu_tcase(s, "args", 30);
    tcase_add_test(tc, test_chan_make_zero_huge);
    tcase_add_test(tc, test_chan_make_overflow);
    tcase_add_test(tc, test_chan_make_nomem);
    tcase_add_test(tc, test_chan_status_codes);
    tcase_add_test(tc, test_chan_send_null_elem);
    tcase_add_test(tc, test_chan_try_wouldblock_untouched);
    tcase_add_test(tc, test_chan_null_nonblocking);

    tc = tu_tcase(s, "null_chan", 30);
    tcase_add_test(tc, test_chan_null_blocks_forever);

    tc = tu_tcase(s, "memory_model", 60);
    tcase_add_loop_test(tc, test_chan_hb_send_recv, 0,
                        (int)(sizeof mm_caps / sizeof mm_caps[0]));
    tcase_add_test(tc, test_chan_hb_close);
    tcase_add_test(tc, test_chan_hb_recv_before_send_completes);
    tcase_add_test(tc, test_chan_semaphore);

    return s;
}

int main(void)
{
    return tu_run(chan_suite());
}
