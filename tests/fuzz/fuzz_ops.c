/* fuzz_ops.c: a libFuzzer target that runs byte-coded channel programs
 * against a model.
 *
 * The input configures three channels (capacity and element size), then
 * encodes a sequence of operations: try send/receive, close, len/cap, try
 * selects of 1-12 cases (NULL channels, duplicates, both directions),
 * blocking send/receive/select only where the model says they cannot block,
 * a rendezvous with a helper thread or goroutine on unbuffered channels, bad
 * arguments, and release-and-remake. A per-channel FIFO model predicts every
 * result: the status, the value received (all of its bytes), len and cap, and
 * for a select which cases may be chosen and that only the chosen one is
 * written. Any disagreement aborts, which libFuzzer reports with the input.
 *
 * Build and run with .ci/fuzz, or cmake -DGOCHAN_FUZZ=ON with clang.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_ops: %s:%d: model disagrees: %s\n",          \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define NCHANS    3
#define MAX_CAP   16
#define MAX_ESIZE 32
#define MAX_CASES 12
#define MAX_PEERS 4 /* helper threads per input: they are slow */

static const size_t caps[8] = {0, 1, 2, 3, 4, 8, 16, 0};
static const size_t esizes[8] = {0, 1, 2, 4, 8, 16, 3, 32};

/* The model of one channel: Go's hchan without waiters (single thread). */
typedef struct model {
    chan_t *c;
    size_t cap, esize;
    bool closed;
    size_t len, head;
    unsigned char buf[MAX_CAP][MAX_ESIZE];
} model_t;

typedef struct input {
    const uint8_t *p;
    size_t n;
} input_t;

static bool take(input_t *in, uint8_t *b)
{
    if (in->n == 0)
        return false;
    *b = *in->p++;
    in->n--;
    return true;
}

static uint64_t counter;

/* A fresh value: every byte depends on the counter, so a torn or stale copy
 * shows. */
static void fresh(unsigned char *e, size_t esize)
{
    counter++;
    for (size_t i = 0; i < esize; i++)
        e[i] = (unsigned char)((counter >> ((i % 8) * 8)) ^ (i * 37) ^ 0x5A);
}

static void model_make(model_t *m, uint8_t cfg)
{
    m->cap = caps[cfg & 7];
    m->esize = esizes[(cfg >> 3) & 7];
    m->closed = false;
    m->len = m->head = 0;
    m->c = chan_make(m->esize, m->cap);
    REQUIRE(m->c != NULL);
}

static bool can_send(const model_t *m)
{
    return m->closed || m->len < m->cap;
}

static bool can_recv(const model_t *m)
{
    return m->closed || m->len > 0;
}

/* The effect of a send that proceeded; returns the expected status. */
static int model_send(model_t *m, const unsigned char *e)
{
    if (m->closed)
        return CHAN_CLOSED;
    memcpy(m->buf[(m->head + m->len) % m->cap], e, m->esize);
    m->len++;
    return CHAN_OK;
}

/* The effect of a receive that proceeded; checks what came out. */
static void model_recv(model_t *m, int status, const unsigned char *got,
                       bool discarded)
{
    if (m->len > 0) {
        REQUIRE(status == CHAN_OK);
        if (!discarded)
            REQUIRE(memcmp(got, m->buf[m->head], m->esize) == 0);
        m->head = (m->head + 1) % m->cap;
        m->len--;
    } else {
        REQUIRE(m->closed);
        REQUIRE(status == CHAN_CLOSED);
        for (size_t i = 0; !discarded && i < m->esize; i++)
            REQUIRE(got[i] == 0);
    }
}

static void check_len(const model_t *m)
{
    REQUIRE(chan_len(m->c) == m->len);
    REQUIRE(chan_cap(m->c) == m->cap);
}

static bool untouched(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0xEE)
            return false;
    return true;
}

/* A helper's half of a rendezvous: a plain thread, or a goroutine (chan_go)
 * that says it is done through a WaitGroup. */
typedef struct peer {
    chan_t *c;
    bool send;
    unsigned char e[MAX_ESIZE];
    int status;
    chan_waitgroup_t done;
} peer_t;

static void *peer_main(void *arg)
{
    peer_t *p = arg;
    p->status = p->send ? chan_send(p->c, p->e) : chan_recv(p->c, p->e);
    return NULL;
}

static void peer_goroutine(void *arg)
{
    peer_main(arg);
    chan_waitgroup_done(&((peer_t *)arg)->done);
}

/* One select, predicted case by case. */
static void op_select(model_t *ms, input_t *in, bool block)
{
    uint8_t b;
    if (!take(in, &b))
        return;
    size_t n = 1 + b % MAX_CASES;
    chan_case_t cs[MAX_CASES];
    unsigned char bufs[MAX_CASES][MAX_ESIZE];
    model_t *cm[MAX_CASES];
    bool any_ready = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = 0;
        (void)take(in, &x);
        cm[i] = (x & 3) < NCHANS ? &ms[x & 3] : NULL;
        bool send = x & 4;
        bool discard = (x & 8) && (!cm[i] || cm[i]->esize == 0 || !send);
        memset(bufs[i], 0xEE, MAX_ESIZE);
        if (send && cm[i])
            fresh(bufs[i], cm[i]->esize);
        cs[i] = send ? CHAN_SEND_CASE(cm[i] ? cm[i]->c : NULL,
                                      discard ? NULL : bufs[i])
                     : CHAN_RECV_CASE(cm[i] ? cm[i]->c : NULL,
                                      discard ? NULL : bufs[i]);
        cs[i].status = -77;
        if (cm[i])
            any_ready |= send ? can_send(cm[i]) : can_recv(cm[i]);
    }
    if (block && !any_ready)
        return; /* it would block forever: not a single-threaded program */
    int r = block ? chan_select(cs, n) : chan_try_select(cs, n);
    if (!any_ready) {
        REQUIRE(r == -1);
    } else {
        REQUIRE(r >= 0 && (size_t)r < n);
        model_t *m = cm[r];
        REQUIRE(m != NULL);
        if (cs[r].dir == CHAN_SEND) {
            REQUIRE(can_send(m));
            REQUIRE(cs[r].status == model_send(m, bufs[r]));
        } else {
            REQUIRE(can_recv(m));
            model_recv(m, cs[r].status, bufs[r], cs[r].elem == NULL);
            REQUIRE(untouched(bufs[r] + m->esize, MAX_ESIZE - m->esize));
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((int)i == r)
            continue;
        REQUIRE(cs[i].status == -77);
        if (cs[i].dir == CHAN_RECV)
            REQUIRE(untouched(bufs[i], MAX_ESIZE));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = {data, size};
    model_t ms[NCHANS];
    int peers = 0;
    for (int i = 0; i < NCHANS; i++) {
        uint8_t cfg = 0;
        (void)take(&in, &cfg);
        model_make(&ms[i], cfg);
    }
    uint8_t op;
    while (take(&in, &op)) {
        model_t *m = &ms[(op >> 4) % NCHANS];
        unsigned char e[MAX_ESIZE];
        int st;
        switch (op & 15) {
        case 0: /* try send */
            fresh(e, m->esize);
            st = chan_try_send(m->c, e);
            if (can_send(m))
                REQUIRE(st == model_send(m, e));
            else
                REQUIRE(st == CHAN_WOULDBLOCK);
            break;
        case 1: /* try receive */
            memset(e, 0xEE, sizeof e);
            st = chan_try_recv(m->c, e);
            if (can_recv(m)) {
                model_recv(m, st, e, false);
                REQUIRE(untouched(e + m->esize, MAX_ESIZE - m->esize));
            } else {
                REQUIRE(st == CHAN_WOULDBLOCK && untouched(e, MAX_ESIZE));
            }
            break;
        case 2: /* close */
            st = chan_close(m->c);
            REQUIRE(st == (m->closed ? CHAN_CLOSED : CHAN_OK));
            m->closed = true;
            break;
        case 3: /* len and cap */
            check_len(m);
            break;
        case 4: /* try select */
            op_select(ms, &in, false);
            break;
        case 5: /* blocking select with a ready case */
            op_select(ms, &in, true);
            break;
        case 6: /* blocking send that cannot block */
            if (!can_send(m))
                break;
            fresh(e, m->esize);
            st = chan_send(m->c, e);
            REQUIRE(st == model_send(m, e));
            break;
        case 7: /* blocking receive that cannot block */
            if (!can_recv(m))
                break;
            memset(e, 0xEE, sizeof e);
            st = chan_recv(m->c, e);
            model_recv(m, st, e, false);
            break;
        case 8: /* rendezvous with a helper thread on an unbuffered channel */
        case 9: {
            if (m->cap != 0 || m->closed || peers >= MAX_PEERS)
                break;
            peers++;
            peer_t p = {.c = m->c, .send = (op & 15) == 9};
            unsigned char mine[MAX_ESIZE];
            memset(mine, 0xEE, sizeof mine);
            if (p.send)
                fresh(p.e, m->esize);
            else
                fresh(mine, m->esize);
            bool as_goroutine = op & 16;
            pthread_t t;
            chan_waitgroup_init(&p.done);
            if (as_goroutine) {
                REQUIRE(chan_waitgroup_add(&p.done, 1) == CHAN_OK);
                REQUIRE(chan_go(peer_goroutine, &p) == CHAN_OK);
            } else {
                REQUIRE(pthread_create(&t, NULL, peer_main, &p) == 0);
            }
            st = p.send ? chan_recv(m->c, mine) : chan_send(m->c, mine);
            if (as_goroutine)
                chan_waitgroup_wait(&p.done);
            else
                REQUIRE(pthread_join(t, NULL) == 0);
            chan_waitgroup_destroy(&p.done);
            REQUIRE(st == CHAN_OK && p.status == CHAN_OK);
            REQUIRE(memcmp(mine, p.e, m->esize) == 0);
            check_len(m);
            break;
        }
        case 10: { /* bad arguments change nothing */
            memset(e, 0, sizeof e);
            if (m->esize)
                REQUIRE(chan_try_send(m->c, NULL) == CHAN_INVALID);
            REQUIRE(chan_close(NULL) == CHAN_INVALID);
            REQUIRE(chan_try_send(NULL, e) == CHAN_WOULDBLOCK);
            REQUIRE(chan_try_recv(NULL, e) == CHAN_WOULDBLOCK);
            REQUIRE(chan_len(NULL) == 0 && chan_cap(NULL) == 0);
            chan_case_t bad[2] = {CHAN_RECV_CASE(m->c, e),
                                  CHAN_RECV_CASE(m->c, e)};
            bad[1].dir = (chan_dir_t)(3 + (op >> 6));
            bad[0].status = -77;
            REQUIRE(chan_select(bad, 2) == -CHAN_INVALID);
            REQUIRE(chan_try_select(bad, 2) == -CHAN_INVALID);
            REQUIRE(bad[0].status == -77);
            REQUIRE(chan_try_select(NULL, 0) == -1);
            check_len(m);
            break;
        }
        case 11: { /* release and remake */
            uint8_t cfg = 0;
            (void)take(&in, &cfg);
            chan_t *extra = chan_retain(m->c);
            chan_release(m->c);
            chan_release(extra);
            model_make(m, cfg);
            break;
        }
        default: /* drain one channel as a range loop does, after close */
            if ((op & 15) != 12)
                break;
            if (!m->closed) {
                REQUIRE(chan_close(m->c) == CHAN_OK);
                m->closed = true;
            }
            for (;;) {
                memset(e, 0xEE, sizeof e);
                st = chan_recv(m->c, e);
                model_recv(m, st, e, false);
                if (st == CHAN_CLOSED)
                    break;
            }
            check_len(m);
            break;
        }
    }
    for (int i = 0; i < NCHANS; i++) {
        check_len(&ms[i]);
        chan_release(ms[i].c);
    }
    return 0;
}
