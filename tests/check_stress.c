/* check_stress.c: model-checked random stress of channels and select.
 *
 * Each test runs seeded random programs: 2-8 workers (threads, goroutines, or
 * both mixed, by seed) issue sends, receives,
 * try operations, selects (blocking and with default, with NULL cases,
 * duplicate channels and mixed directions), closes and releases on 1-6
 * channels of mixed capacities (0, 1, 3, 16) and element sizes (0, 8, 24, 64).
 * Every operation is bracketed by two tickets from one global counter, so the
 * checker knows which operations finished before others began, and every
 * value encodes (sender, channel, sequence) and fills its whole element with a
 * checksum pattern. After the program, the channels are drained and the log is
 * checked against Go's rules:
 *   - a value whose send returned CHAN_OK is received exactly once (by a
 *     thread or by the final drain), on its own channel, intact;
 *   - nothing else is ever received (no value of a failed or unchosen send);
 *   - FIFO: if send(x) returned before send(y) began on one channel, y is not
 *     received before x's receive began (this includes per-sender order);
 *   - close: exactly one close succeeds; no send succeeds after it and no
 *     receive succeeds after a receive saw closed-and-drained; closed
 *     receives zero their element; WOULDBLOCK leaves it untouched;
 *   - a select runs exactly one case and writes only that case;
 *   - no thread is stuck: every blocking operation ends once everything is
 *     closed (a stuck thread fails the test with the program's seed).
 *
 * Termination: the test thread is the coordinator. It closes the channels in
 * a random order, each once the threads have completed a random share of their
 * operations or as soon as progress stalls (every thread blocked), so every
 * blocking operation is eventually released by a close.
 *
 * Time: GOCHAN_STRESS_SECONDS (default 5) is the wall time of the whole suite;
 * programs shrink by CK_TIMEOUT_MULTIPLIER under sanitizers and valgrind.
 * Every program prints its seed; GOCHAN_STRESS_SEED=<seed> runs only that
 * program (repeatedly, for the time budget) to reproduce a failure.
 *
 * Item ids such as (CH-14) and (SEL-8) are those of docs/semantics.md.
 */
#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chan/chan_impl.h" /* waiter counts: "is this thread blocked yet?" */
#include "testutil.h"

Suite *stress_suite(void);

/* ---- budget, seeds, random numbers ------------------------------------ */

#define MAX_THREADS 8
#define MAX_CHANS   6
#define MAX_ESIZE   64
#define MAX_CASES   12

static double budget_seconds(void)
{
    const char *s = getenv("GOCHAN_STRESS_SECONDS");
    double x = s ? atof(s) : 5.0;
    return x > 0 ? x : 5.0;
}

/* The fixed seed from GOCHAN_STRESS_SEED, if any. */
static bool fixed_seed(uint64_t *seed)
{
    const char *s = getenv("GOCHAN_STRESS_SEED");
    if (!s || !*s)
        return false;
    *seed = strtoull(s, NULL, 0);
    return true;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
    return splitmix64(s);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((rng_next(s) >> 32) * n) >> 32);
}

static double now_s(void)
{
    return (double)chan_now() / 1e9;
}

/* The seed source for one test: a fixed seed, or a fresh one per program. */
typedef struct seeder {
    bool fixed;
    uint64_t base;
    uint64_t state;
} seeder_t;

static seeder_t seeder_make(const char *test)
{
    seeder_t s = {0};
    s.fixed = fixed_seed(&s.base);
    if (!s.fixed) {
        s.base = (uint64_t)chan_now() ^ ((uint64_t)getpid() << 32);
        s.state = s.base;
    }
    printf("%s: %s seed 0x%016" PRIx64 "\n", test,
           s.fixed ? "GOCHAN_STRESS_SEED" : "base", s.base);
    return s;
}

static uint64_t seeder_next(seeder_t *s)
{
    return s->fixed ? s->base : splitmix64(&s->state);
}

/* ---- values ------------------------------------------------------------ */

/* A value: (sender + 1) << 56 | channel << 48 | sequence; never 0, so a
 * zeroed element is never mistaken for a value. */
static uint64_t value_make(int sender, int ch, uint64_t seq)
{
    return ((uint64_t)(sender + 1) << 56) | ((uint64_t)ch << 48) | seq;
}

static int value_sender(uint64_t v)
{
    return (int)(v >> 56) - 1;
}

static int value_chan(uint64_t v)
{
    return (int)((v >> 48) & 0xff);
}

static unsigned char fill_byte(uint64_t v, size_t i)
{
    uint64_t h = v * 0x9E3779B97F4A7C15ULL;
    return (unsigned char)((h >> ((i & 7) * 8)) ^ (i * 31));
}

/* Writes v into a whole element: the first 8 bytes hold v, the rest a
 * pattern derived from v, so a torn or misplaced copy is detected. */
static void elem_fill(unsigned char *buf, size_t esize, uint64_t v)
{
    if (esize == 0)
        return;
    memcpy(buf, &v, sizeof v);
    for (size_t i = sizeof v; i < esize; i++)
        buf[i] = fill_byte(v, i);
}

/* The value in buf, or 0 when the element is not one elem_fill wrote. */
static uint64_t elem_value(const unsigned char *buf, size_t esize)
{
    uint64_t v;
    memcpy(&v, buf, sizeof v);
    if (v == 0)
        return 0;
    for (size_t i = sizeof v; i < esize; i++)
        if (buf[i] != fill_byte(v, i))
            return 0;
    return v;
}

#define UNTOUCHED 0xA5

static bool elem_is(const unsigned char *buf, size_t esize, unsigned char b)
{
    for (size_t i = 0; i < esize; i++)
        if (buf[i] != b)
            return false;
    return true;
}

/* ---- programs and logs ------------------------------------------------- */

enum op_kind {
    OP_SEND,
    OP_RECV,
    OP_TRY_SEND,
    OP_TRY_RECV,
    OP_SELECT,
    OP_TRY_SELECT,
    OP_CLOSE,
    OP_RELEASE,
    OP_LENCAP,
    OP_KINDS
};

static const char *const op_names[OP_KINDS] = {
    "send",       "recv",  "try_send", "try_recv", "select",
    "try_select", "close", "release",  "len/cap"};

enum rec_kind {
    REC_SEND_OK,
    REC_SEND_CLOSED,
    REC_RECV_OK,
    REC_RECV_CLOSED,
    REC_CLOSE_OK,
    REC_CLOSE_CLOSED
};

/* One completed operation: what it did and its ticket interval [ts, te]. */
typedef struct rec {
    uint64_t v; /* the value sent or received (0 on element-less channels) */
    uint64_t ts, te;
    uint8_t kind, ch, thread;
} rec_t;

typedef struct pchan {
    chan_t *c;
    size_t cap, esize;
} pchan_t;

typedef struct program program_t;

typedef struct worker {
    program_t *p;
    int id;
    uint64_t rng;
    int nops;
    chan_t *mine[MAX_CHANS]; /* this thread's references; NULL once released */
    uint64_t seq;
    rec_t *recs;
    size_t nrecs, caprecs;
    uint64_t ops;    /* operations completed and checked */
    _Atomic int cur; /* the operation now running, for a stuck report */
    _Atomic int cur_ch;
    _Atomic bool blocking;      /* inside an operation that may block */
    int close_at, close_ch;     /* closes close_ch before op close_at */
    int release_at, release_ch; /* releases its reference likewise */
    tu_flag_t done;
    bool failed;
    char err[256];
} worker_t;

struct program {
    uint64_t seed;
    int nthreads, nchans;
    pchan_t ch[MAX_CHANS];
    unsigned weight[OP_KINDS], wsum;
    int max_cases;
    _Atomic uint64_t ticket;
    _Atomic uint64_t progress;   /* operations completed by all threads */
    worker_t w[MAX_THREADS + 1]; /* the last one is the coordinator */
};

static uint64_t tick(program_t *p)
{
    return atomic_fetch_add_explicit(&p->ticket, 1, memory_order_seq_cst);
}

static void wfail(worker_t *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(w->err, sizeof w->err, "thread %d op %" PRIu64 ": ", w->id,
                     w->ops);
    vsnprintf(w->err + n, sizeof w->err - (size_t)n, fmt, ap);
    va_end(ap);
}

static void wrec(worker_t *w, int kind, int ch, uint64_t v, uint64_t ts,
                 uint64_t te)
{
    if (w->nrecs == w->caprecs) {
        w->caprecs = w->caprecs ? 2 * w->caprecs : 256;
        w->recs = realloc(w->recs, w->caprecs * sizeof *w->recs);
        if (!w->recs)
            abort();
    }
    w->recs[w->nrecs++] = (rec_t){.v = v,
                                  .ts = ts,
                                  .te = te,
                                  .kind = (uint8_t)kind,
                                  .ch = (uint8_t)ch,
                                  .thread = (uint8_t)w->id};
}

static void program_make(program_t *p, uint64_t seed, double scale)
{
    static const size_t caps[] = {0, 1, 3, 16};
    static const size_t esizes[] = {0, 8, 8, 24, 64};
    memset(p, 0, sizeof *p);
    uint64_t r = seed;
    p->seed = seed;
    p->nthreads = 2 + (int)rng_below(&r, MAX_THREADS - 1);
    p->nchans = 1 + (int)rng_below(&r, MAX_CHANS);
    for (int i = 0; i < p->nchans; i++) {
        p->ch[i].cap = caps[rng_below(&r, 4)];
        p->ch[i].esize = esizes[rng_below(&r, 5)];
    }
    /* A random operation mix per program: some programs mostly block, some
     * mostly poll, some are all selects. Closes and releases stay rare. */
    for (int k = 0; k < OP_KINDS; k++)
        p->weight[k] = rng_below(&r, 10);
    p->weight[OP_SEND + rng_below(&r, 6)] += 10;
    p->weight[OP_CLOSE] = 0; /* scheduled below, rarely */
    p->weight[OP_RELEASE] = 0;
    p->weight[OP_LENCAP] = rng_below(&r, 2);
    p->wsum = 0;
    for (int k = 0; k < OP_KINDS; k++)
        p->wsum += p->weight[k];
    if (p->weight[OP_SEND] + p->weight[OP_RECV] + p->weight[OP_SELECT] +
            p->weight[OP_TRY_SEND] + p->weight[OP_TRY_RECV] +
            p->weight[OP_TRY_SELECT] ==
        0) {
        p->weight[OP_SELECT] = 5;
        p->wsum += 5;
    }
    /* Selects of more than 8 cases use the per-thread pool. */
    p->max_cases = rng_below(&r, 8) == 0 ? MAX_CASES : 6;
    int maxops = (int)(400 / scale);
    if (maxops < 20)
        maxops = 20;
    for (int t = 0; t <= p->nthreads; t++) {
        worker_t *w = &p->w[t];
        w->p = p;
        w->id = t;
        w->rng = seed ^ ((uint64_t)(t + 1) * 0xD6E8FEB86659FD93ULL);
        w->nops =
            t < p->nthreads ? 10 + (int)rng_below(&r, (uint32_t)maxops) : 0;
        /* A worker closes a channel early in one program of four, and
         * drops its reference to one in one of three. */
        w->close_at = rng_below(&r, 4) == 0 && t < p->nthreads
                          ? (int)rng_below(&r, (uint32_t)w->nops)
                          : -1;
        w->close_ch = (int)rng_below(&r, (uint32_t)p->nchans);
        w->release_at = rng_below(&r, 3) == 0 && t < p->nthreads
                            ? (int)rng_below(&r, (uint32_t)w->nops)
                            : -1;
        w->release_ch = (int)rng_below(&r, (uint32_t)p->nchans);
    }
}

/* ---- the operations a worker runs -------------------------------------- */

static int pick_op(worker_t *w)
{
    uint32_t x = rng_below(&w->rng, w->p->wsum);
    for (int k = 0; k < OP_KINDS; k++) {
        if (x < w->p->weight[k])
            return k;
        x -= w->p->weight[k];
    }
    return OP_LENCAP;
}

static void do_send(worker_t *w, int ch, bool block)
{
    program_t *p = w->p;
    chan_t *c = w->mine[ch];
    size_t es = p->ch[ch].esize;
    alignas(max_align_t) unsigned char buf[MAX_ESIZE];
    uint64_t v = value_make(w->id, ch, w->seq++);
    elem_fill(buf, es, v);
    const void *e = es || rng_below(&w->rng, 2) ? buf : NULL;
    if (!c)
        block = false; /* released: Go's nil channel would block forever */
    uint64_t ts = tick(p);
    int st = block ? chan_send(c, e) : chan_try_send(c, e);
    uint64_t te = tick(p);
    if (es && elem_value(buf, es) != v)
        wfail(w, "send modified its source element");
    if (!c) {
        if (st != CHAN_WOULDBLOCK)
            wfail(w, "try_send on NULL returned %d", st);
        return;
    }
    if (st == CHAN_OK)
        wrec(w, REC_SEND_OK, ch, es ? v : 0, ts, te);
    else if (st == CHAN_CLOSED)
        wrec(w, REC_SEND_CLOSED, ch, es ? v : 0, ts, te);
    else if (st != CHAN_WOULDBLOCK || block)
        wfail(w, "%s on chan %d returned %d", block ? "send" : "try_send", ch,
              st);
}

static void do_recv(worker_t *w, int ch, bool block)
{
    program_t *p = w->p;
    chan_t *c = w->mine[ch];
    size_t es = p->ch[ch].esize;
    alignas(max_align_t) unsigned char buf[MAX_ESIZE];
    memset(buf, UNTOUCHED, sizeof buf);
    void *e = es || rng_below(&w->rng, 2) ? buf : NULL;
    if (!c)
        block = false;
    uint64_t ts = tick(p);
    int st = block ? chan_recv(c, e) : chan_try_recv(c, e);
    uint64_t te = tick(p);
    if (!c) {
        if (st != CHAN_WOULDBLOCK || !elem_is(buf, MAX_ESIZE, UNTOUCHED))
            wfail(w, "try_recv on NULL returned %d or wrote", st);
        return;
    }
    if (!elem_is(buf + es, MAX_ESIZE - es, UNTOUCHED))
        wfail(w, "recv on chan %d wrote past its element", ch);
    if (st == CHAN_OK) {
        uint64_t v = es ? elem_value(buf, es) : 0;
        if (es && !v)
            wfail(w, "recv on chan %d got a corrupt element", ch);
        wrec(w, REC_RECV_OK, ch, v, ts, te);
    } else if (st == CHAN_CLOSED) {
        if (!elem_is(buf, es, 0))
            wfail(w, "closed recv on chan %d did not zero", ch);
        wrec(w, REC_RECV_CLOSED, ch, 0, ts, te);
    } else if (st == CHAN_WOULDBLOCK && !block) {
        if (!elem_is(buf, es, UNTOUCHED))
            wfail(w, "try_recv WOULDBLOCK on chan %d wrote", ch);
    } else {
        wfail(w, "%s on chan %d returned %d", block ? "recv" : "try_recv", ch,
              st);
    }
}

static void do_select(worker_t *w, bool block)
{
    program_t *p = w->p;
    size_t n = 1 + rng_below(&w->rng, (uint32_t)p->max_cases);
    chan_case_t cases[MAX_CASES];
    alignas(max_align_t) unsigned char bufs[MAX_CASES][MAX_ESIZE];
    uint64_t vals[MAX_CASES];
    int chs[MAX_CASES];
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (int)rng_below(&w->rng, (uint32_t)p->nchans);
        bool nil = rng_below(&w->rng, 10) == 0;
        chan_t *c = nil ? NULL : w->mine[ch];
        size_t es = p->ch[ch].esize;
        chs[i] = ch;
        vals[i] = 0;
        live += c != NULL;
        if (rng_below(&w->rng, 2)) {
            vals[i] = value_make(w->id, ch, w->seq++);
            elem_fill(bufs[i], es, vals[i]);
            memset(bufs[i] + es, UNTOUCHED, MAX_ESIZE - es);
            cases[i] =
                CHAN_SEND_CASE(c, es || rng_below(&w->rng, 2) ? bufs[i] : NULL);
        } else {
            memset(bufs[i], UNTOUCHED, MAX_ESIZE);
            cases[i] =
                CHAN_RECV_CASE(c, es || rng_below(&w->rng, 2) ? bufs[i] : NULL);
        }
        cases[i].status = -77;
    }
    if (live == 0)
        block = false; /* select {} would block forever */
    uint64_t ts = tick(p);
    int r = block ? chan_select(cases, n) : chan_try_select(cases, n);
    uint64_t te = tick(p);
    if (r < -1 || r >= (int)n || (r == -1 && block)) {
        wfail(w, "select of %zu cases returned %d", n, r);
        return;
    }
    if (r >= 0 && !cases[r].chan) {
        wfail(w, "select chose case %d whose channel is NULL", r);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t es = p->ch[chs[i]].esize;
        if ((int)i == r)
            continue;
        bool intact = cases[i].dir == CHAN_SEND
                          ? es == 0 || elem_value(bufs[i], es) == vals[i]
                          : elem_is(bufs[i], MAX_ESIZE, UNTOUCHED);
        if (cases[i].status != -77 || !intact) {
            wfail(w, "select (returned %d) wrote to case %zu", r, i);
            return;
        }
    }
    if (r < 0)
        return;
    int ch = chs[r];
    size_t es = p->ch[ch].esize;
    int st = cases[r].status;
    if (!elem_is(bufs[r] + es, MAX_ESIZE - es, UNTOUCHED))
        wfail(w, "select case %d wrote past its element", r);
    if (cases[r].dir == CHAN_SEND) {
        if (st == CHAN_OK)
            wrec(w, REC_SEND_OK, ch, es ? vals[r] : 0, ts, te);
        else if (st == CHAN_CLOSED)
            wrec(w, REC_SEND_CLOSED, ch, es ? vals[r] : 0, ts, te);
        else
            wfail(w, "select send case status %d", st);
    } else if (st == CHAN_OK) {
        uint64_t v = es ? elem_value(bufs[r], es) : 0;
        if (es && !v)
            wfail(w, "select recv on chan %d got a corrupt element", ch);
        wrec(w, REC_RECV_OK, ch, v, ts, te);
    } else if (st == CHAN_CLOSED) {
        if (!elem_is(bufs[r], es, 0) && cases[r].elem)
            wfail(w, "closed select recv on chan %d did not zero", ch);
        wrec(w, REC_RECV_CLOSED, ch, 0, ts, te);
    } else {
        wfail(w, "select recv case status %d", st);
    }
}

static void do_close(worker_t *w, int ch, chan_t *c)
{
    uint64_t ts = tick(w->p);
    int st = chan_close(c);
    uint64_t te = tick(w->p);
    if (!c) {
        if (st != CHAN_INVALID)
            wfail(w, "close(NULL) returned %d", st);
    } else if (st == CHAN_OK || st == CHAN_CLOSED) {
        wrec(w, st == CHAN_OK ? REC_CLOSE_OK : REC_CLOSE_CLOSED, ch, 0, ts, te);
    } else {
        wfail(w, "close of chan %d returned %d", ch, st);
    }
}

static void *worker_main(void *arg);

static void worker_goroutine(void *arg)
{
    worker_main(arg);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    program_t *p = w->p;
    for (int i = 0; i < w->nops && !w->failed; i++) {
        int op = pick_op(w);
        int ch = (int)rng_below(&w->rng, (uint32_t)p->nchans);
        if (i == w->close_at) {
            op = OP_CLOSE;
            ch = w->close_ch;
        } else if (i == w->release_at) {
            op = OP_RELEASE;
            ch = w->release_ch;
        }
        chan_t *c = w->mine[ch];
        atomic_store(&w->blocking,
                     op == OP_SEND || op == OP_RECV || op == OP_SELECT);
        atomic_store(&w->cur, op);
        atomic_store(&w->cur_ch, ch);
        switch (op) {
        case OP_SEND:
        case OP_TRY_SEND:
            do_send(w, ch, op == OP_SEND);
            break;
        case OP_RECV:
        case OP_TRY_RECV:
            do_recv(w, ch, op == OP_RECV);
            break;
        case OP_SELECT:
        case OP_TRY_SELECT:
            do_select(w, op == OP_SELECT);
            break;
        case OP_CLOSE:
            do_close(w, ch, c);
            break;
        case OP_RELEASE:
            chan_release(c); /* NULL-safe */
            w->mine[ch] = NULL;
            break;
        default:
            if (chan_cap(c) != (c ? p->ch[ch].cap : 0) ||
                chan_len(c) > chan_cap(c))
                wfail(w, "chan %d: len %zu cap %zu (made with cap %zu)", ch,
                      chan_len(c), chan_cap(c), p->ch[ch].cap);
            break;
        }
        w->ops++;
        atomic_store(&w->blocking, false);
        atomic_fetch_add(&p->progress, 1);
    }
    atomic_store(&w->cur, -1);
    for (int ch = 0; ch < p->nchans; ch++) {
        chan_release(w->mine[ch]);
        w->mine[ch] = NULL;
    }
    tu_flag_set(&w->done);
    return NULL;
}

/* ---- the checker ------------------------------------------------------- */

typedef struct vent {
    uint64_t v;
    const rec_t *send;
    const rec_t *recv;
    int nrecv;
} vent_t;

static size_t vhash(uint64_t v, size_t mask)
{
    return (size_t)((v * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
}

static vent_t *vfind(vent_t *tab, size_t mask, uint64_t v)
{
    size_t i = vhash(v, mask);
    while (tab[i].v && tab[i].v != v)
        i = (i + 1) & mask;
    return &tab[i];
}

typedef struct fifo_ent {
    uint64_t sts, ste, rts, rte, v;
} fifo_ent_t;

static int cmp_ste(const void *a, const void *b)
{
    const fifo_ent_t *x = a, *y = b;
    return x->ste < y->ste ? -1 : x->ste > y->ste;
}

static int cmp_sts(const void *a, const void *b)
{
    const fifo_ent_t *x = a, *y = b;
    return x->sts < y->sts ? -1 : x->sts > y->sts;
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            snprintf(msg, msz, __VA_ARGS__);                                   \
            goto out;                                                          \
        }                                                                      \
    } while (0)

/* Checks one finished program's log; false with a message on a violation. */
static bool check_program(program_t *p, char *msg, size_t msz,
                          uint64_t *values_checked)
{
    bool ok = false;
    size_t total = 0;
    int nw = p->nthreads + 1;
    for (int t = 0; t < nw; t++)
        total += p->w[t].nrecs;
    size_t tabsize = 64;
    while (tabsize < 2 * total)
        tabsize *= 2;
    size_t mask = tabsize - 1;
    vent_t *tab = calloc(tabsize, sizeof *tab);
    fifo_ent_t *fe = malloc((total + 1) * sizeof *fe);
    fifo_ent_t *fb = malloc((total + 1) * sizeof *fb);
    if (!tab || !fe || !fb)
        abort();

    for (int ch = 0; ch < p->nchans; ch++) {
        const rec_t *close_ok = NULL;
        uint64_t closed_recv_te = UINT64_MAX; /* earliest closed receive */
        int64_t tokens = 0;
        size_t es = p->ch[ch].esize;
        for (int t = 0; t < nw; t++)
            for (size_t i = 0; i < p->w[t].nrecs; i++) {
                const rec_t *r = &p->w[t].recs[i];
                if (r->ch != ch)
                    continue;
                if (r->kind == REC_CLOSE_OK) {
                    CHECK(!close_ok, "chan %d closed successfully twice", ch);
                    close_ok = r;
                }
                if (r->kind == REC_RECV_CLOSED && r->te < closed_recv_te)
                    closed_recv_te = r->te;
            }
        CHECK(close_ok, "chan %d: no close succeeded", ch);
        memset(tab, 0, tabsize * sizeof *tab);
        /* Sends first, so that receives find them. */
        for (int t = 0; t < nw; t++)
            for (size_t i = 0; i < p->w[t].nrecs; i++) {
                const rec_t *r = &p->w[t].recs[i];
                if (r->ch != ch)
                    continue;
                switch (r->kind) {
                case REC_SEND_OK:
                    CHECK(r->ts < close_ok->te,
                          "chan %d: thread %d's send began after close "
                          "returned [%" PRIu64 ",%" PRIu64
                          "] and still succeeded [%" PRIu64 ",%" PRIu64 "]",
                          ch, r->thread, close_ok->ts, close_ok->te, r->ts,
                          r->te);
                    if (es) {
                        vent_t *e = vfind(tab, mask, r->v);
                        CHECK(!e->v, "value %#" PRIx64 " sent twice", r->v);
                        e->v = r->v;
                        e->send = r;
                    }
                    tokens++;
                    break;
                case REC_SEND_CLOSED:
                case REC_CLOSE_CLOSED:
                case REC_RECV_CLOSED:
                    CHECK(r->te > close_ok->ts,
                          "chan %d: thread %d saw it closed [%" PRIu64
                          ",%" PRIu64 "] before close began [%" PRIu64
                          ",%" PRIu64 "] (record kind %d)",
                          ch, r->thread, r->ts, r->te, close_ok->ts,
                          close_ok->te, r->kind);
                    break;
                default:
                    break;
                }
            }
        size_t nfe = 0;
        for (int t = 0; t < nw; t++)
            for (size_t i = 0; i < p->w[t].nrecs; i++) {
                const rec_t *r = &p->w[t].recs[i];
                if (r->ch != ch || r->kind != REC_RECV_OK)
                    continue;
                tokens--;
                CHECK(r->ts < closed_recv_te,
                      "chan %d: thread %d received [%" PRIu64 ",%" PRIu64
                      "] after a receive had reported it closed and "
                      "drained (ended %" PRIu64 ")",
                      ch, r->thread, r->ts, r->te, closed_recv_te);
                if (!es)
                    continue;
                CHECK(value_chan(r->v) == ch,
                      "thread %d received value %#" PRIx64
                      " of chan %d on chan %d",
                      r->thread, r->v, value_chan(r->v), ch);
                vent_t *e = vfind(tab, mask, r->v);
                CHECK(e->v,
                      "chan %d: thread %d received value %#" PRIx64
                      " (sender %d) whose send never succeeded",
                      ch, r->thread, r->v, value_sender(r->v));
                CHECK(e->nrecv == 0,
                      "chan %d: value %#" PRIx64
                      " received twice (threads %d and %d)",
                      ch, r->v, e->recv->thread, r->thread);
                CHECK(r->te > e->send->ts,
                      "chan %d: value %#" PRIx64 " received before sent", ch,
                      r->v);
                e->nrecv = 1;
                e->recv = r;
                fe[nfe++] =
                    (fifo_ent_t){e->send->ts, e->send->te, r->ts, r->te, r->v};
            }
        CHECK(tokens == 0,
              "chan %d: %" PRId64 " more successful sends than receives "
              "(values lost or duplicated)",
              ch, tokens);
        if (!es)
            continue;
        for (size_t i = 0; i < tabsize; i++)
            CHECK(!tab[i].v || tab[i].nrecv == 1,
                  "chan %d: value %#" PRIx64 " (sender %d) was sent but "
                  "never received",
                  ch, tab[i].v, value_sender(tab[i].v));
        /* FIFO: no y whose send began after x's send ended may be received
         * entirely before x's receive began. Sweep y by send start, keeping
         * the latest receive start among the x sent strictly before. */
        memcpy(fb, fe, nfe * sizeof *fe);
        qsort(fe, nfe, sizeof *fe, cmp_ste);
        qsort(fb, nfe, sizeof *fb, cmp_sts);
        size_t a = 0;
        const fifo_ent_t *latest = NULL;
        for (size_t b = 0; b < nfe; b++) {
            for (; a < nfe && fe[a].ste < fb[b].sts; a++)
                if (!latest || fe[a].rts > latest->rts)
                    latest = &fe[a];
            CHECK(!latest || latest->rts < fb[b].rte,
                  "chan %d: FIFO broken: value %#" PRIx64 " was sent [%" PRIu64
                  ",%" PRIu64 "] before value %#" PRIx64 " [%" PRIu64
                  ",%" PRIu64 "] but received [%" PRIu64 ",%" PRIu64
                  "] after it [%" PRIu64 ",%" PRIu64 "]",
                  ch, latest->v, latest->sts, latest->ste, fb[b].v, fb[b].sts,
                  fb[b].ste, latest->rts, latest->rte, fb[b].rts, fb[b].rte);
        }
        *values_checked += nfe;
    }
    ok = true;
out:
    free(tab);
    free(fe);
    free(fb);
    return ok;
}

/* ---- running one program ------------------------------------------------ */

/* How many waiters are queued on c now, read under c's lock. */
static void queued(chan_t *c, size_t *nrecv, size_t *nsend)
{
    sched__lock(&c->lock);
    size_t nr = 0, ns = 0;
    for (chan__waiter_t *w = atomic_load(&c->recvq.first); w; w = w->next)
        nr++;
    for (chan__waiter_t *w = atomic_load(&c->sendq.first); w; w = w->next)
        ns++;
    sched__unlock(&c->lock);
    *nrecv = nr;
    *nsend = ns;
}

/* Waits (bounded) until c has exactly nrecv and nsend waiters queued. */
static bool wait_queued(chan_t *c, size_t nrecv, size_t nsend)
{
    double end = now_s() + 10 * tu_scale();
    for (;;) {
        size_t r, s;
        queued(c, &r, &s);
        if (r == nrecv && s == nsend)
            return true;
        if (now_s() > end)
            return false;
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

typedef struct totals {
    uint64_t programs, ops, values;
} totals_t;

/* Runs one program; returns false with a message in msg on any failure. */
static bool run_program(uint64_t seed, totals_t *tot, char *msg, size_t msz)
{
    double scale = tu_scale();
    program_t *p = malloc(sizeof *p);
    if (!p)
        abort();
    program_make(p, seed, scale);
    worker_t *co = &p->w[p->nthreads]; /* the coordinator's log */
    bool ok = false;
    int started = 0;
    pthread_t tids[MAX_THREADS];

    for (int i = 0; i < p->nchans; i++) {
        p->ch[i].c = chan_make(p->ch[i].esize, p->ch[i].cap);
        if (!p->ch[i].c) {
            snprintf(msg, msz, "chan_make failed");
            goto out;
        }
        for (int t = 0; t < p->nthreads; t++)
            p->w[t].mine[i] = chan_retain(p->ch[i].c);
    }
    uint64_t total_ops = 0;
    for (int t = 0; t < p->nthreads; t++)
        total_ops += (uint64_t)p->w[t].nops;
    /* Workers run as threads, as goroutines (chan_go), or mixed, so that
     * goroutines and plain threads meet on the same channels and selects. */
    int mode = (int)(seed % 3); /* 0 threads, 1 goroutines, 2 mixed */
    bool as_goroutine[MAX_THREADS];
    for (int t = 0; t < p->nthreads; t++, started++) {
        as_goroutine[t] = mode == 1 || (mode == 2 && t % 2 == 1);
        if (as_goroutine[t]) {
            if (chan_go(worker_goroutine, &p->w[t]) != CHAN_OK) {
                snprintf(msg, msz, "chan_go failed");
                started = 0; /* the child exits; started workers go with it */
                goto out;
            }
        } else {
            tids[t] = tu_spawn(worker_main, &p->w[t]);
        }
    }

    /* Close in a random order, each channel at a random share of the work or
     * when progress stalls. */
    uint64_t r = seed ^ 0xC0FFEEULL;
    int order[MAX_CHANS];
    uint64_t at[MAX_CHANS];
    for (int i = 0; i < p->nchans; i++) {
        int j = (int)rng_below(&r, (uint32_t)i + 1);
        order[i] = order[j];
        order[j] = i;
    }
    for (int i = 0; i < p->nchans; i++)
        at[i] = total_ops * (30 + rng_below(&r, 80)) / 100;
    /* Random blocking programs deadlock often. When every unfinished thread
     * is in a blocking operation and none has completed one for a moment,
     * the coordinator joins in: a try operation that serves one queued waiter
     * (its values are logged and checked like everyone's). If that does not
     * help for a while, it closes the next channel early. A false alarm is
     * harmless either way. */
    for (int i = 0; i < p->nchans; i++)
        co->mine[i] = p->ch[i].c; /* borrowed from the program */
    double stall = 0.0003 * scale, nudge = 0.00002 * scale;
    uint64_t nudges = 0;
    uint64_t last = atomic_load(&p->progress);
    double last_change = now_s();
    for (int k = 0; k < p->nchans;) {
        uint64_t prog = atomic_load(&p->progress);
        double t = now_s();
        if (prog != last) {
            last = prog;
            last_change = t;
        }
        int ndone = 0, nblocking = 0;
        for (int i = 0; i < p->nthreads; i++) {
            ndone += tu_flag_is_set(&p->w[i].done);
            nblocking += !tu_flag_is_set(&p->w[i].done) &&
                         atomic_load(&p->w[i].blocking);
        }
        if (t - last_change > 10 * scale) {
            snprintf(msg, msz,
                     "no thread completed an operation for 10 s "
                     "with channels still open (a try operation hangs?)");
            started = 0;
            goto out; /* the child exits; stuck threads go with it */
        }
        bool all_blocked = ndone + nblocking == p->nthreads;
        if (prog >= at[k] || ndone == p->nthreads ||
            (all_blocked && t - last_change > stall)) {
            do_close(co, order[k], p->ch[order[k]].c);
            k++;
            last_change = t;
            continue;
        }
        if (all_blocked && t - last_change > nudge && nudges < total_ops) {
            int first = (int)rng_below(&r, (uint32_t)p->nchans);
            for (int i = 0; i < p->nchans; i++) {
                int ch = (first + i) % p->nchans;
                size_t nr, ns;
                queued(p->ch[ch].c, &nr, &ns);
                if (nr || ns) {
                    if (nr)
                        do_send(co, ch, false);
                    else
                        do_recv(co, ch, false);
                    co->ops++;
                    nudges++;
                    break;
                }
            }
        }
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    /* Everything is closed: every thread must finish. */
    for (int t = 0; t < p->nthreads; t++) {
        worker_t *w = &p->w[t];
        if (!tu_flag_wait(&w->done, 10000)) {
            int op = atomic_load(&w->cur);
            snprintf(msg, msz,
                     "thread %d stuck in op %" PRIu64 " (%s on chan %d) "
                     "after every channel was closed",
                     t, w->ops, op >= 0 ? op_names[op] : "-",
                     atomic_load(&w->cur_ch));
            started = 0; /* cannot join a stuck thread; the child exits */
            goto out;
        }
    }
    for (int t = 0; t < p->nthreads; t++)
        if (!as_goroutine[t])
            tu_join(tids[t]); /* a goroutine is done with w once done is set */
    started = 0;
    for (int t = 0; t < p->nthreads; t++)
        if (p->w[t].failed) {
            snprintf(msg, msz, "%s", p->w[t].err);
            goto out;
        }

    /* Drain: buffered values survive close and come out in order, then
     * CHAN_CLOSED; a closed channel never reports WOULDBLOCK. */
    for (int ch = 0; ch < p->nchans; ch++) {
        chan_t *c = p->ch[ch].c;
        bool blocking = rng_below(&r, 2);
        for (size_t i = 0;; i++) {
            if (i > p->ch[ch].cap) {
                snprintf(msg, msz, "chan %d: drained more than its cap", ch);
                goto out;
            }
            size_t before = co->nrecs;
            do_recv(co, ch, blocking);
            co->ops++;
            if (co->failed)
                break;
            if (co->nrecs == before) {
                snprintf(msg, msz,
                         "chan %d: try_recv on a closed channel "
                         "returned WOULDBLOCK",
                         ch);
                goto out;
            }
            if (co->recs[co->nrecs - 1].kind == REC_RECV_CLOSED)
                break;
        }
        co->mine[ch] = NULL;
        if (chan_len(c) != 0) {
            snprintf(msg, msz, "chan %d: len %zu after drain", ch, chan_len(c));
            goto out;
        }
    }
    if (co->failed) {
        snprintf(msg, msz, "drain: %s", co->err);
        goto out;
    }
    ok = check_program(p, msg, msz, &tot->values);

    for (int t = 0; t <= p->nthreads; t++)
        tot->ops += p->w[t].ops;
    tot->programs++;
out:
    for (int t = 0; t < started; t++)
        tu_join(tids[t]);
    for (int i = 0; i < p->nchans; i++)
        chan_release(p->ch[i].c);
    if (ok) {
        for (int t = 0; t <= p->nthreads; t++)
            free(p->w[t].recs);
        free(p);
    }
    /* On failure the child exits; the program is left for nobody to free. */
    return ok;
}

/* Model-checked random programs over channels and select (Go's TestChan,
 * TestMultiConsumer, TestSelectStress and doubleselect.go, randomized). */
START_TEST(test_stress_random_programs)
{
    seeder_t sd = seeder_make("stress random programs");
    double end = now_s() + budget_seconds() * 0.45;
    totals_t tot = {0};
    char msg[768];
    do {
        uint64_t seed = seeder_next(&sd);
        program_t info;
        program_make(&info, seed, tu_scale());
        printf("stress: program seed=0x%016" PRIx64 " threads=%d chans=%d\n",
               seed, info.nthreads, info.nchans);
        bool ok = run_program(seed, &tot, msg, sizeof msg);
        if (!ok)
            fflush(stdout);
        ck_assert_msg(ok,
                      "program seed=0x%016" PRIx64 " (rerun with "
                      "GOCHAN_STRESS_SEED=0x%016" PRIx64 "): %s",
                      seed, seed, msg);
    } while (now_s() < end);
    printf("stress random programs: %" PRIu64 " programs, %" PRIu64
           " operations checked, %" PRIu64 " values traced send->receive\n",
           tot.programs, tot.ops, tot.values);
    fflush(stdout);
    ck_assert_uint_gt(tot.ops, 0);
}
END_TEST

/* ---- targeted scenarios -------------------------------------------------- */

enum blocker_kind {
    B_RECV,      /* chan_recv(c) */
    B_SEL_RECV,  /* select { <-c; <-idle; nil } */
    B_SEL_DUP,   /* select { <-c; <-c } */
    B_SEND,      /* chan_send(c) */
    B_SEL_SEND,  /* select { c <- v; nil <- v; <-idle } */
    B_SEL_MIXED, /* select { <-a; b <- v }: queued on two channels */
    B_SEL_SELF   /* select { <-c; c <- v } on unbuffered c: never pairs */
};

typedef struct blocker {
    int kind;
    chan_t *a, *b, *idle; /* borrowed: the test keeps them alive, or not */
    uint64_t v;           /* the value a sender offers */
    int result;           /* select index or -1 */
    int status;
    uint64_t got;
    tu_flag_t done;
} blocker_t;

static void *blocker_main(void *arg)
{
    blocker_t *b = arg;
    uint64_t out = UINT64_MAX;
    chan_case_t cs[3];
    b->result = -1;
    switch (b->kind) {
    case B_RECV:
        b->status = chan_recv(b->a, &out);
        break;
    case B_SEND:
        b->status = chan_send(b->a, &b->v);
        break;
    case B_SEL_RECV:
        cs[0] = CHAN_RECV_CASE(b->a, &out);
        cs[1] = CHAN_RECV_CASE(b->idle, NULL);
        cs[2] = CHAN_RECV_CASE(NULL, NULL);
        b->result = chan_select(cs, 3);
        break;
    case B_SEL_DUP:
        cs[0] = CHAN_RECV_CASE(b->a, &out);
        cs[1] = CHAN_RECV_CASE(b->a, &out);
        b->result = chan_select(cs, 2);
        break;
    case B_SEL_SEND:
        cs[0] = CHAN_SEND_CASE(b->a, &b->v);
        cs[1] = CHAN_SEND_CASE(NULL, &b->v);
        cs[2] = CHAN_RECV_CASE(b->idle, NULL);
        b->result = chan_select(cs, 3);
        break;
    case B_SEL_MIXED:
        cs[0] = CHAN_RECV_CASE(b->a, &out);
        cs[1] = CHAN_SEND_CASE(b->b, &b->v);
        b->result = chan_select(cs, 2);
        break;
    case B_SEL_SELF:
        cs[0] = CHAN_RECV_CASE(b->a, &out);
        cs[1] = CHAN_SEND_CASE(b->a, &b->v);
        b->result = chan_select(cs, 2);
        break;
    }
    if (b->result >= 0)
        b->status = cs[b->result].status;
    b->got = out;
    tu_flag_set(&b->done);
    return NULL;
}

static bool blockers_wait(blocker_t *bs, int n)
{
    for (int i = 0; i < n; i++)
        if (!tu_flag_wait(&bs[i].done, 10000))
            return false;
    return true;
}

typedef struct helper {
    chan_t *c; /* the helper's own reference */
    int mode;  /* 0: close; 1: send n values; 2: receive n values */
    int n;
    tu_flag_t go;
    uint64_t got[32];
    int status[32];
} helper_t;

static void *helper_main(void *arg)
{
    helper_t *h = arg;
    while (!tu_flag_wait(&h->go, 1000))
        ;
    if (h->mode == 0)
        h->status[0] = chan_close(h->c);
    for (int i = 0; h->mode && i < h->n; i++) {
        uint64_t v = 1000 + (uint64_t)i;
        h->status[i] =
            h->mode == 1 ? chan_send(h->c, &v) : chan_recv(h->c, &h->got[i]);
    }
    chan_release(h->c);
    return NULL;
}

/* A blocked operation holds its own reference: the test drops its reference
 * while threads are blocked, and the channel is closed, fed or drained by a
 * helper that drops the last other reference; the blocked threads then wake
 * on memory that may be freed under them at once, unless they hold it (a
 * select's, or one the last release handed to a still queued operation:
 * chan.c), and they must not touch it (ASan and valgrind watch the free). */
START_TEST(test_stress_release_while_blocked)
{
    seeder_t sd = seeder_make("stress release while blocked");
    double end = now_s() + budget_seconds() * 0.12;
    uint64_t rounds = 0, woken = 0;
    do {
        uint64_t seed = seeder_next(&sd), r = seed;
        int mode = (int)rng_below(&r, 3); /* receivers, senders, self-select */
        int n = mode == 2 ? 1 : 1 + (int)rng_below(&r, 4);
        size_t cap = mode == 1 ? rng_below(&r, 2) : 0;
        chan_t *c = chan_make(sizeof(uint64_t), cap);
        chan_t *idle = chan_make(0, 0);
        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_nonnull(idle);
        for (size_t i = 0; i < cap; i++) {
            uint64_t v = 500 + i;
            ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
        }
        blocker_t bs[4];
        pthread_t tids[4];
        size_t nrecv = 0, nsend = 0;
        for (int i = 0; i < n; i++) {
            static const int rk[] = {B_RECV, B_SEL_RECV, B_SEL_DUP};
            static const int sk[] = {B_SEND, B_SEL_SEND};
            bs[i] = (blocker_t){.a = c, .idle = idle, .v = 1 + (uint64_t)i};
            bs[i].kind = mode == 0   ? rk[rng_below(&r, 3)]
                         : mode == 1 ? sk[rng_below(&r, 2)]
                                     : B_SEL_SELF;
            nrecv += mode == 0 ? 1 + (bs[i].kind == B_SEL_DUP) : mode == 2;
            nsend += mode != 0;
            tids[i] = tu_spawn(blocker_main, &bs[i]);
        }
        bool queued_ok = wait_queued(c, nrecv, nsend);
        ck_assert_msg(queued_ok, "seed 0x%016" PRIx64 ": blockers never queued",
                      seed);
        /* The self-select must still be blocked: it never pairs with itself. */
        ck_assert(!tu_flag_is_set(&bs[0].done) || mode != 2);

        helper_t h = {.c = chan_retain(c), .n = n};
        h.mode = mode == 2 ? 0 : (int)rng_below(&r, 2) * (mode == 0 ? 1 : 2);
        if (h.mode == 2)
            h.n = n + (int)cap;
        pthread_t ht = tu_spawn(helper_main, &h);
        chan_release(c); /* now only the helper and the blockers hold c */
        tu_flag_set(&h.go);
        ck_assert_msg(blockers_wait(bs, n),
                      "seed 0x%016" PRIx64 ": a blocked thread never woke "
                      "(mode %d, helper %d)",
                      seed, mode, h.mode);
        tu_join(ht);
        uint64_t seen = 0;
        for (int i = 0; i < n; i++) {
            tu_join(tids[i]);
            blocker_t *b = &bs[i];
            int want = h.mode == 0 ? CHAN_CLOSED : CHAN_OK;
            ck_assert_msg(b->status == want,
                          "seed 0x%016" PRIx64 ": blocker %d (kind %d) "
                          "status %d, want %d",
                          seed, i, b->kind, b->status, want);
            if (b->kind == B_SEL_RECV || b->kind == B_SEL_SEND)
                ck_assert_int_eq(b->result, 0);
            if (b->kind == B_SEL_DUP)
                ck_assert(b->result == 0 || b->result == 1);
            if (mode == 0 && h.mode == 0)
                ck_assert_uint_eq(b->got, 0); /* zeroed by close */
            if (mode == 0 && h.mode == 1) {
                ck_assert(b->got >= 1000 && b->got < 1000 + (uint64_t)n);
                seen |= 1ULL << (b->got - 1000);
            }
        }
        if (mode == 0 && h.mode == 1)
            ck_assert_uint_eq(seen, (1ULL << n) - 1); /* each value once */
        if (h.mode == 2) {
            /* The buffered values first, in order, then every blocked
             * sender's value exactly once. */
            for (size_t i = 0; i < cap; i++)
                ck_assert_uint_eq(h.got[i], 500 + i);
            for (int i = 0; i < n; i++) {
                uint64_t g = h.got[cap + (size_t)i];
                ck_assert(h.status[cap + (size_t)i] == CHAN_OK && g >= 1 &&
                          g <= (uint64_t)n && !(seen & (1ULL << g)));
                seen |= 1ULL << g;
            }
        }
        if (mode == 2 || h.mode == 0)
            ck_assert_int_eq(h.status[0], CHAN_OK); /* the close */
        for (int i = 0; h.mode == 1 && i < n; i++)
            ck_assert_int_eq(h.status[i], CHAN_OK);
        chan_release(idle);
        rounds++;
        woken += (uint64_t)n;
    } while (now_s() < end);
    printf("stress release while blocked: %" PRIu64 " rounds, %" PRIu64
           " blocked operations woken after the last outside reference "
           "went\n",
           rounds, woken);
    ck_assert_uint_gt(rounds, 0);
}
END_TEST

/* close wakes every waiter (Go's closechan; CH-14, CH-18, SEL-8): many
 * receivers and senders, plain and in selects, blocked on two channels, are
 * all released by two closes; a select queued on both channels wakes for the
 * channel closed first; the senders' values never enter the buffer. */
START_TEST(test_stress_close_wakes_all)
{
    seeder_t sd = seeder_make("stress close wakes all");
    double end = now_s() + budget_seconds() * 0.12;
    uint64_t rounds = 0, woken = 0;
    enum { N = 16 };
    do {
        uint64_t seed = seeder_next(&sd), r = seed;
        static const size_t caps[] = {0, 1, 3};
        size_t acap = caps[rng_below(&r, 3)], bcap = caps[rng_below(&r, 3)];
        chan_t *a = chan_make(sizeof(uint64_t), acap);
        chan_t *b = chan_make(sizeof(uint64_t), bcap);
        chan_t *idle = chan_make(0, 0);
        ck_assert(a && b && idle);
        for (size_t i = 0; i < bcap; i++) {
            uint64_t v = 700 + i;
            ck_assert_int_eq(chan_send(b, &v), CHAN_OK);
        }
        int n = 1 + (int)rng_below(&r, N);
        blocker_t bs[N];
        pthread_t tids[N];
        size_t arecv = 0, bsend = 0;
        for (int i = 0; i < n; i++) {
            static const int kinds[] = {B_RECV, B_SEL_RECV, B_SEL_DUP,
                                        B_SEND, B_SEL_SEND, B_SEL_MIXED};
            int k = kinds[rng_below(&r, 6)];
            bool on_b = k == B_SEND || k == B_SEL_SEND;
            bs[i] = (blocker_t){.kind = k,
                                .a = on_b ? b : a,
                                .b = b,
                                .idle = idle,
                                .v = 1 + (uint64_t)i};
            arecv += on_b ? 0 : 1 + (k == B_SEL_DUP);
            bsend += on_b || k == B_SEL_MIXED;
            tids[i] = tu_spawn(blocker_main, &bs[i]);
        }
        ck_assert_msg(wait_queued(a, arecv, 0) && wait_queued(b, 0, bsend),
                      "seed 0x%016" PRIx64 ": blockers never queued", seed);
        bool a_first = rng_below(&r, 2);
        ck_assert_int_eq(chan_close(a_first ? a : b), CHAN_OK);
        ck_assert_int_eq(chan_close(a_first ? b : a), CHAN_OK);
        ck_assert_int_eq(chan_close(a), CHAN_CLOSED);
        ck_assert_msg(blockers_wait(bs, n),
                      "seed 0x%016" PRIx64 ": close left a thread blocked",
                      seed);
        for (int i = 0; i < n; i++) {
            tu_join(tids[i]);
            blocker_t *x = &bs[i];
            ck_assert_msg(x->status == CHAN_CLOSED,
                          "seed 0x%016" PRIx64 ": blocker %d kind %d status "
                          "%d after close",
                          seed, i, x->kind, x->status);
            if (x->kind == B_SEL_MIXED)
                ck_assert_msg(x->result == (a_first ? 0 : 1),
                              "seed 0x%016" PRIx64 ": select on both woke "
                              "for case %d though %s closed first",
                              seed, x->result, a_first ? "a" : "b");
            else if (x->kind == B_SEL_RECV || x->kind == B_SEL_SEND)
                ck_assert_int_eq(x->result, 0);
            if (x->kind != B_SEND && x->kind != B_SEL_SEND &&
                !(x->kind == B_SEL_MIXED && !a_first))
                ck_assert_uint_eq(x->got, 0);
        }
        for (size_t i = 0; i < bcap; i++) {
            uint64_t v = 0;
            ck_assert_int_eq(chan_recv(b, &v), CHAN_OK);
            ck_assert_uint_eq(v, 700 + i);
        }
        uint64_t v = 1;
        ck_assert_int_eq(chan_try_recv(b, &v), CHAN_CLOSED);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(chan_recv(a, NULL), CHAN_CLOSED);
        chan_release(a);
        chan_release(b);
        chan_release(idle);
        rounds++;
        woken += (uint64_t)n;
    } while (now_s() < end);
    printf("stress close wakes all: %" PRIu64 " rounds, %" PRIu64
           " blocked operations woken by close\n",
           rounds, woken);
    ck_assert_uint_gt(rounds, 0);
}
END_TEST

/* ---- context storms ------------------------------------------------------ */

#define CX_NODES 24
#define CX_AFS   6
#define CX_KEYS  3

enum cx_kind {
    CX_CANCEL,
    CX_CANCEL_CAUSE,
    CX_TIMEOUT,
    CX_DEADLINE,
    CX_VALUE,
    CX_WITHOUT_CANCEL,
    CX_KINDS
};

typedef struct cx_node {
    context_t *ctx;
    context_cancel_t *cancel; /* NULL for value and without-cancel nodes */
    int parent;               /* -1: the root, a WithCancel of Background */
    int kind;
    bool cut; /* below a WithoutCancel: the root's cancel stops there */
    int key;  /* value nodes: which key */
} cx_node_t;

typedef struct cx_tree {
    cx_node_t n[CX_NODES];
    int nn;
    context_after_func_t *af[CX_AFS];
    int naf;
    _Atomic int ran[CX_AFS];
    uint64_t rng;
} cx_tree_t;

static const context_error_t storm_cause = {"storm cause"};
static const char cx_keys[CX_KEYS] = {'a', 'b', 'c'};

static void cx_after(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

typedef struct cx_worker {
    chan_t *handoff; /* builder -> canceller: cx_tree_t * */
    chan_t *ack;     /* canceller -> builder */
    double end;
    uint64_t seed;
    uint64_t trees, nodes, afs_ran, afs_stopped;
    bool failed;
    char err[256];
} cx_worker_t;

#define CXFAIL(w, ...)                                                         \
    do {                                                                       \
        if (!(w)->failed) {                                                    \
            (w)->failed = true;                                                \
            snprintf((w)->err, sizeof(w)->err, __VA_ARGS__);                   \
        }                                                                      \
    } while (0)

/* Err and Done agree (Go >= 1.26: a non-nil Err implies Done is closed) and
 * Cause is set exactly when Err is. */
static void cx_check_consistent(cx_worker_t *w, cx_node_t *x, int i)
{
    const context_error_t *err = context_err(x->ctx);
    chan_t *done = context_done(x->ctx);
    if (err && err != &context_canceled && err != &context_deadline_exceeded)
        CXFAIL(w, "node %d: Err is %p, neither sentinel", i, (void *)err);
    if (err && (!done || chan_try_recv(done, NULL) != CHAN_CLOSED))
        CXFAIL(w, "node %d (kind %d): Err set but Done not closed", i, x->kind);
    if (err && !context_cause(x->ctx))
        CXFAIL(w, "node %d: Err set but Cause NULL", i);
}

static void *cx_canceller_main(void *arg)
{
    cx_worker_t *w = arg;
    cx_tree_t *t;
    while (chan_recv(w->handoff, &t) == CHAN_OK) {
        for (int k = 0; k < t->nn; k++) {
            int i = (int)rng_below(&t->rng, (uint32_t)t->nn);
            cx_node_t *x = &t->n[i];
            if (x->cancel && rng_below(&t->rng, 3) == 0)
                context_cancel_cause(x->cancel, &storm_cause);
            cx_check_consistent(w, x, i);
        }
        int one = 1;
        chan_send(w->ack, &one);
    }
    return NULL;
}

static void cx_build(cx_tree_t *t, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->rng = seed;
    t->nn = 1 + (int)rng_below(&t->rng, CX_NODES);
    t->n[0] = (cx_node_t){.parent = -1, .kind = CX_CANCEL};
    t->n[0].ctx = context_with_cancel(context_background(), &t->n[0].cancel);
    for (int i = 1; i < t->nn; i++) {
        cx_node_t *x = &t->n[i];
        x->parent = (int)rng_below(&t->rng, (uint32_t)i);
        x->kind = (int)rng_below(&t->rng, CX_KINDS);
        context_t *p = t->n[x->parent].ctx;
        x->cut = t->n[x->parent].cut || x->kind == CX_WITHOUT_CANCEL;
        int64_t d = (int64_t)rng_below(&t->rng, 3000000) - 500000;
        switch (x->kind) {
        case CX_CANCEL:
            x->ctx = context_with_cancel(p, &x->cancel);
            break;
        case CX_CANCEL_CAUSE:
            x->ctx = context_with_cancel_cause(p, &x->cancel);
            break;
        case CX_TIMEOUT:
            x->ctx = context_with_timeout(p, d, &x->cancel);
            break;
        case CX_DEADLINE:
            x->ctx = context_with_deadline(p, chan_now() + d, &x->cancel);
            break;
        case CX_VALUE:
            x->key = (int)rng_below(&t->rng, CX_KEYS);
            x->ctx = context_with_value(p, &cx_keys[x->key],
                                        (void *)(uintptr_t)(i + 1));
            break;
        default:
            x->ctx = context_without_cancel(p);
            break;
        }
    }
    t->naf = (int)rng_below(&t->rng, CX_AFS + 1);
    for (int k = 0; k < t->naf; k++)
        t->af[k] =
            context_after_func(t->n[rng_below(&t->rng, (uint32_t)t->nn)].ctx,
                               cx_after, &t->ran[k]);
}

/* Whether x is done, or becomes done soon. Below a WithoutCancel, a parent
 * may be done because its deadline fired: the timer's thread cancels the
 * parent first and its children after, so a child may lag a moment, as in
 * Go. Everywhere else the cancels that made the parent done have returned. */
static bool cx_done_soon(cx_node_t *x)
{
    if (context_err(x->ctx))
        return true;
    if (!x->cut)
        return false;
    chan_t *timeout = chan_after((int64_t)(10e9 * tu_scale()));
    if (!timeout)
        return false;
    chan_case_t cases[2] = {CHAN_RECV_CASE(context_done(x->ctx), NULL),
                            CHAN_RECV_CASE(timeout, NULL)};
    int chosen = chan_select(cases, 2);
    chan_release(timeout);
    return chosen == 0;
}

/* The value a node must see for key k: the nearest value node above. */
static void *cx_expect_value(const cx_tree_t *t, int i, int k)
{
    for (; i >= 0; i = t->n[i].parent)
        if (t->n[i].kind == CX_VALUE && t->n[i].key == k)
            return (void *)(uintptr_t)(i + 1);
    return NULL;
}

static void *cx_builder_main(void *arg)
{
    cx_worker_t *w = arg;
    uint64_t r = w->seed;
    cx_tree_t *t = malloc(sizeof *t);
    if (!t)
        abort();
    while (!w->failed && now_s() < w->end) {
        cx_build(t, splitmix64(&r));
        for (int i = 0; i < t->nn; i++)
            if (!t->n[i].ctx)
                CXFAIL(w, "constructor of node %d failed", i);
        for (int k = 0; k < t->naf; k++)
            if (!t->af[k])
                CXFAIL(w, "context_after_func failed");
        if (w->failed)
            break;
        /* The canceller cancels random nodes while this thread cancels
         * others and the root, and deadlines fire on the timer thread. */
        chan_send(w->handoff, &t);
        for (int i = t->nn - 1; i >= 0; i--)
            if (t->n[i].cancel && rng_below(&r, 4) == 0)
                context_cancel(t->n[i].cancel);
        context_cancel(t->n[0].cancel);
        /* Once the root's cancel returned, everything not cut off by a
         * WithoutCancel is done (cancel is synchronous for children). */
        for (int i = 0; i < t->nn; i++) {
            cx_node_t *x = &t->n[i];
            cx_check_consistent(w, x, i);
            if (!x->cut && !context_err(x->ctx))
                CXFAIL(w,
                       "node %d (kind %d) not done after its root's "
                       "cancel",
                       i, x->kind);
            for (int k = 0; k < CX_KEYS; k++)
                if (context_value(x->ctx, &cx_keys[k]) !=
                    cx_expect_value(t, i, k))
                    CXFAIL(w, "node %d: wrong value for key %d", i, k);
            int64_t dl, pdl;
            if (x->parent >= 0 && context_deadline(x->ctx, &dl) &&
                x->kind != CX_WITHOUT_CANCEL &&
                context_deadline(t->n[x->parent].ctx, &pdl) && dl > pdl)
                CXFAIL(w, "node %d: deadline later than its parent's", i);
        }
        int one;
        chan_recv(w->ack, &one);
        for (int i = 0; i < t->nn; i++) { /* and again, after both */
            cx_node_t *x = &t->n[i];
            cx_check_consistent(w, x, i);
            if (x->parent >= 0 && context_err(t->n[x->parent].ctx) &&
                x->kind != CX_WITHOUT_CANCEL && !cx_done_soon(x))
                CXFAIL(w, "node %d: parent done, child not", i);
        }
        /* Stop every AfterFunc once: true means f never runs, false that it
         * ran or runs now; either way exactly once in all. */
        bool stopped[CX_AFS];
        for (int k = 0; k < t->naf; k++) {
            stopped[k] = context_after_func_stop(t->af[k]);
            w->afs_stopped += stopped[k];
        }
        /* Release in a random order: parents may go before children. */
        int order[CX_NODES];
        for (int i = 0; i < t->nn; i++) {
            int j = (int)rng_below(&r, (uint32_t)i + 1);
            order[i] = order[j];
            order[j] = i;
        }
        for (int i = 0; i < t->nn; i++)
            context_release(t->n[order[i]].ctx);
        double until = now_s() + 10 * tu_scale();
        for (int k = 0; k < t->naf; k++) {
            while (!stopped[k] && atomic_load(&t->ran[k]) == 0 &&
                   now_s() < until)
                tu_sleep_ms(1);
            int ran = atomic_load(&t->ran[k]);
            if (ran != !stopped[k])
                CXFAIL(w, "AfterFunc %d ran %d times (stop returned %d)", k,
                       ran, stopped[k]);
            w->afs_ran += (uint64_t)ran;
        }
        w->trees++;
        w->nodes += (uint64_t)t->nn;
    }
    free(t);
    chan_close(w->handoff);
    return NULL;
}

/* Context storms: pairs of threads build random trees of every context kind
 * (WithCancel, WithCancelCause, WithTimeout, WithDeadline, WithValue,
 * WithoutCancel) with AfterFuncs, cancel them from both threads at once while
 * short deadlines fire on the timer thread, check Go's rules (a canceled
 * parent cancels its children, but not through WithoutCancel; Err implies
 * Done is closed; values come from the nearest ancestor; a child's deadline is
 * never later than its parent's; every AfterFunc runs exactly once unless its
 * stop returned true), then stop and release everything in a random order. */
START_TEST(test_stress_context_storm)
{
    seeder_t sd = seeder_make("stress context storm");
    enum { PAIRS = 2 };
    cx_worker_t ws[PAIRS];
    pthread_t tb[PAIRS], tc[PAIRS];
    double end = now_s() + budget_seconds() * 0.2;
    for (int i = 0; i < PAIRS; i++) {
        ws[i] = (cx_worker_t){.handoff = chan_make(sizeof(cx_tree_t *), 0),
                              .ack = chan_make(sizeof(int), 0),
                              .end = end,
                              .seed = seeder_next(&sd) + (uint64_t)i};
        ck_assert(ws[i].handoff && ws[i].ack);
        printf("stress context storm: pair %d seed 0x%016" PRIx64 "\n", i,
               ws[i].seed);
        tc[i] = tu_spawn(cx_canceller_main, &ws[i]);
        tb[i] = tu_spawn(cx_builder_main, &ws[i]);
    }
    uint64_t trees = 0, nodes = 0, ran = 0, stopped = 0;
    for (int i = 0; i < PAIRS; i++) {
        tu_join(tb[i]);
        tu_join(tc[i]);
        ck_assert_msg(!ws[i].failed,
                      "context storm pair %d (seed 0x%016" PRIx64 "): %s", i,
                      ws[i].seed, ws[i].err);
        trees += ws[i].trees;
        nodes += ws[i].nodes;
        ran += ws[i].afs_ran;
        stopped += ws[i].afs_stopped;
        chan_release(ws[i].handoff);
        chan_release(ws[i].ack);
    }
    printf("stress context storm: %" PRIu64 " trees, %" PRIu64
           " contexts, %" PRIu64 " AfterFuncs ran, %" PRIu64 " stopped\n",
           trees, nodes, ran, stopped);
    ck_assert_uint_gt(trees, 0);
}
END_TEST

/* ---- buffered channels value by value (issue 21) -------------------------
 *
 * Producers and consumers on one or two buffered channels of capacity 1, 2,
 * 8, 1024 or 2048, as plain threads and goroutines mixed, each operation chosen
 * at random among the blocking form, the try form (polled) and a select
 * (blocking or with default; with duplicate and NULL cases, over both
 * channels). With the lock-free ring (GOCHAN_CHAN_LOCKFREE) these mix fast-path
 * operations, which touch no lock, with locked ones and parked waiters on the
 * same channels; the locked build runs them as well. Every value is tracked one
 * by one: a value whose send returned CHAN_OK is received exactly once and a
 * value whose send failed never; a consumer sees each producer's values on
 * one channel in the order they were sent (CH-16); after CHAN_CLOSED from a
 * channel a consumer gets nothing more from it (CH-13). Rounds start either
 * with the consumers parked on the empty channels or with the producers
 * parked on full ones, so that full and empty transitions meet sleepers. In
 * the close race, a closer closes the channels while producers still send
 * and consumers receive (CH-7, CH-9, CH-14, CH-18). */

#define RV_MAX_P 4
#define RV_MAX_C 4

typedef struct rv_round rv_round_t;

typedef struct rv_worker {
    rv_round_t *r;
    int id; /* producers 0..np-1, then consumers */
    bool producer, goroutine;
    uint64_t rng;
    uint32_t last[RV_MAX_P][2]; /* consumer: last seq + 1 per producer, chan */
    uint64_t count;             /* values sent OK / received OK */
    tu_flag_t done;
    bool failed;
    char err[200];
} rv_worker_t;

struct rv_round {
    uint64_t seed;
    chan_t *ch[2];
    int nch, np, nc;
    size_t cap;
    uint32_t n;            /* values per producer */
    _Atomic uint8_t *seen; /* np * n receive counts */
    _Atomic uint8_t *sent; /* np * n: 1 once the send returned CHAN_OK */
    bool close_race;
    bool consumers_first;
    _Atomic bool closing; /* every channel is closed or being closed */
    rv_worker_t w[RV_MAX_P + RV_MAX_C];
};

static void rv_fail(rv_worker_t *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(w->err, sizeof w->err,
                     "%s %d: ", w->producer ? "producer" : "consumer", w->id);
    vsnprintf(w->err + n, sizeof w->err - (size_t)n, fmt, ap);
    va_end(ap);
}

static void rv_poll_pause(uint64_t *rng)
{
    if (rng_below(rng, 4) == 0)
        sched_yield();
}

static void rv_producer(rv_worker_t *w)
{
    rv_round_t *r = w->r;
    for (uint32_t seq = 0; seq < r->n && !w->failed; seq++) {
        uint64_t v = ((uint64_t)(w->id + 1) << 32) | seq; /* never 0 */
        int k = (int)(seq % (uint32_t)r->nch);
        int status;
        switch (rng_below(&w->rng, 4)) {
        case 0:
            status = chan_send(r->ch[k], &v);
            break;
        case 1: /* polled: fast path only, while the ring has room */
            while ((status = chan_try_send(r->ch[k], &v)) == CHAN_WOULDBLOCK)
                rv_poll_pause(&w->rng);
            break;
        default: { /* select over both channels, or one channel twice */
            chan_case_t cases[3] = {
                CHAN_SEND_CASE(r->ch[k], &v),
                CHAN_SEND_CASE(r->ch[r->nch - 1 - k], &v),
                CHAN_SEND_CASE(NULL, &v),
            };
            bool try = rng_below(&w->rng, 3) == 0;
            int i;
            while ((i = try ? chan_try_select(cases, 3)
                            : chan_select(cases, 3)) == CHAN_SELECT_DEFAULT)
                rv_poll_pause(&w->rng);
            if (i < 0 || i > 1) {
                rv_fail(w, "select returned %d", i);
                return;
            }
            status = cases[i].status;
            break;
        }
        }
        if (status == CHAN_OK) {
            atomic_store(&r->sent[(size_t)w->id * r->n + seq], 1);
            w->count++;
        } else if (status != CHAN_CLOSED) {
            rv_fail(w, "send returned %d", status);
        } else if (!atomic_load(&r->closing)) {
            rv_fail(w, "send returned CHAN_CLOSED before any close");
        } else if (rng_below(&w->rng, 2) == 0) {
            return; /* stop at a refusal, or go on being refused */
        }
    }
}

/* One received value v from channel k (or CHAN_CLOSED): the checks. */
static void rv_got(rv_worker_t *w, int k, int status, uint64_t v, bool open[2])
{
    rv_round_t *r = w->r;
    if (status == CHAN_CLOSED) {
        if (v != 0)
            rv_fail(w, "CHAN_CLOSED with a non-zero value");
        open[k] = false;
        return;
    }
    if (status != CHAN_OK) {
        rv_fail(w, "receive returned %d", status);
        return;
    }
    if (!open[k]) {
        rv_fail(w, "a value from chan %d after it reported closed", k);
        return;
    }
    uint32_t p = (uint32_t)(v >> 32) - 1, seq = (uint32_t)v;
    if (v == 0 || p >= (uint32_t)r->np || seq >= r->n) {
        rv_fail(w, "value %#" PRIx64 " was never sent", v);
        return;
    }
    if (atomic_fetch_add(&r->seen[(size_t)p * r->n + seq], 1) != 0)
        rv_fail(w, "value %#" PRIx64 " received twice", v);
    if (seq + 1 <= w->last[p][k])
        rv_fail(w, "producer %u's value %u on chan %d after its value %u", p,
                seq, k, w->last[p][k] - 1);
    w->last[p][k] = seq + 1;
    w->count++;
}

static void rv_consumer(rv_worker_t *w)
{
    rv_round_t *r = w->r;
    bool open[2] = {true, r->nch == 2};
    bool first = true;
    while ((open[0] || open[1]) && !w->failed) {
        int k =
            open[0] && open[1] ? (int)rng_below(&w->rng, 2) : (open[0] ? 0 : 1);
        uint64_t v = 0;
        /* The first operation blocks, so that consumers-first rounds
         * start with every consumer parked. */
        uint32_t how = first ? 2 : rng_below(&w->rng, 4);
        first = false;
        if (how == 0 && !(open[0] && open[1])) {
            int st = chan_recv(r->ch[k], &v); /* before v is read */
            rv_got(w, k, st, v, open);
        } else if (how == 1) {
            int st = chan_try_recv(r->ch[k], &v);
            if (st == CHAN_WOULDBLOCK)
                rv_poll_pause(&w->rng);
            else
                rv_got(w, k, st, v, open);
        } else { /* select over the open channels, the first one twice */
            uint64_t got[4] = {0, 0, 0, 0};
            chan_t *a = open[k] ? r->ch[k] : NULL;
            chan_t *b = open[1 - k] ? r->ch[1 - k] : NULL;
            chan_case_t cases[4] = {
                CHAN_RECV_CASE(a, &got[0]),
                CHAN_RECV_CASE(b, &got[1]),
                CHAN_RECV_CASE(a, &got[2]),
                CHAN_RECV_CASE(NULL, &got[3]),
            };
            bool try = how == 3 && rng_below(&w->rng, 2) == 0;
            int i = try ? chan_try_select(cases, 4) : chan_select(cases, 4);
            if (i == CHAN_SELECT_DEFAULT && try) {
                rv_poll_pause(&w->rng);
                continue;
            }
            if (i < 0 || i > 2) {
                rv_fail(w, "select returned %d", i);
                return;
            }
            for (int j = 0; j < 4; j++)
                if (j != i && got[j] != 0)
                    rv_fail(w, "select wrote case %d, chose %d", j, i);
            rv_got(w, i == 1 ? 1 - k : k, cases[i].status, got[i], open);
        }
    }
}

static void rv_main(void *arg)
{
    rv_worker_t *w = arg;
    if (w->producer)
        rv_producer(w);
    else
        rv_consumer(w);
    tu_flag_set(&w->done);
}

static void *rv_thread(void *arg)
{
    rv_main(arg);
    return NULL;
}

/* Waits (bounded, no failure) until n operations are queued on c. */
static void rv_wait_parked(chan_t *c, size_t nrecv, size_t nsend)
{
    double end = now_s() + 0.2 * tu_scale();
    size_t qr, qs;
    do {
        queued(c, &qr, &qs);
        if (qr >= nrecv && qs >= nsend)
            return;
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    } while (now_s() < end);
}

static void rv_close_all(rv_round_t *r)
{
    atomic_store(&r->closing, true);
    for (int k = 0; k < r->nch; k++)
        ck_assert_int_eq(chan_close(r->ch[k]), CHAN_OK);
}

/* Runs one round; false with msg on a broken rule. */
static bool rv_round(uint64_t seed, bool close_race, uint64_t *values,
                     char *msg, size_t msz)
{
    /* 1 and 2: the locked buffer; 8: the smallest ring, drawn twice as
     * often because it fills and empties most; 1024: the largest whose
     * slots are a cache line apart; 2048: a packed ring (chan_lf.c,
     * slot_stride). */
    static const size_t caps[] = {1, 2, 8, 8, 1024, 2048};
    rv_round_t *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    uint64_t rng = seed;
    r->seed = seed;
    r->close_race = close_race;
    r->nch = 1 + (int)rng_below(&rng, 2);
    r->np = 1 + (int)rng_below(&rng, RV_MAX_P);
    r->nc = 1 + (int)rng_below(&rng, RV_MAX_C);
    r->cap = caps[rng_below(&rng, sizeof caps / sizeof caps[0])];
    uint32_t n = (uint32_t)(3000 / tu_scale());
    r->n = n < 50 ? 50 : n;
    r->consumers_first = rng_below(&rng, 2) == 0;
    r->seen = calloc((size_t)r->np * r->n, 1);
    r->sent = calloc((size_t)r->np * r->n, 1);
    ck_assert_ptr_nonnull(r->seen);
    ck_assert_ptr_nonnull(r->sent);
    for (int k = 0; k < r->nch; k++) {
        r->ch[k] = chan_make(sizeof(uint64_t), r->cap);
        ck_assert_ptr_nonnull(r->ch[k]);
    }
    int mix = (int)rng_below(&rng, 3); /* threads, goroutines, mixed */
    int nw = r->np + r->nc;
    pthread_t tids[RV_MAX_P + RV_MAX_C];
    for (int i = 0; i < nw; i++) {
        rv_worker_t *w = &r->w[i];
        w->r = r;
        w->producer = i < r->np;
        w->id = w->producer ? i : i - r->np;
        w->rng = seed ^ ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL);
        w->goroutine = mix == 1 || (mix == 2 && rng_below(&rng, 2) == 0);
    }
    /* Start one side, let it park (on empty channels, or on full ones once
     * the producers have filled them), then the other. */
    int order[RV_MAX_P + RV_MAX_C];
    for (int i = 0; i < nw; i++)
        order[i] = r->consumers_first ? (i + r->np) % nw : i;
    for (int j = 0; j < nw; j++) {
        rv_worker_t *w = &r->w[order[j]];
        if (w->goroutine)
            ck_assert_int_eq(chan_go(rv_main, w), CHAN_OK);
        else
            tids[order[j]] = tu_spawn(rv_thread, w);
        if (j + 1 == (r->consumers_first ? r->nc : r->np))
            rv_wait_parked(r->ch[0], r->consumers_first ? 1 : 0,
                           r->consumers_first ? 0 : 1);
    }
    if (close_race) { /* close while both sides run */
        tu_sleep_ms((int64_t)rng_below(&rng, 3));
        rv_close_all(r);
    }
    double end = now_s() + 60 * tu_scale();
    for (int i = 0; i < r->np; i++)
        if (!tu_flag_wait(&r->w[i].done, (int64_t)((end - now_s()) * 1000)))
            ck_abort_msg("round 0x%016" PRIx64 ": producer %d stuck", seed, i);
    if (!close_race)
        rv_close_all(r);
    for (int i = r->np; i < nw; i++)
        if (!tu_flag_wait(&r->w[i].done, (int64_t)((end - now_s()) * 1000)))
            ck_abort_msg("round 0x%016" PRIx64 ": consumer %d stuck", seed,
                         i - r->np);
    for (int i = 0; i < nw; i++)
        if (!r->w[i].goroutine)
            tu_join(tids[i]);

    bool ok = true;
    msg[0] = 0;
    for (int i = 0; i < nw && ok; i++)
        if (r->w[i].failed) {
            snprintf(msg, msz, "%s", r->w[i].err);
            ok = false;
        }
    uint64_t sent = 0, got = 0;
    for (size_t i = 0; ok && i < (size_t)r->np * r->n; i++) {
        uint8_t s = atomic_load(&r->sent[i]), g = atomic_load(&r->seen[i]);
        sent += s;
        got += g;
        if (s != g) {
            snprintf(msg, msz,
                     "producer %zu's value %zu: sent OK %u times, received "
                     "%u times",
                     i / r->n, i % r->n, s, g);
            ok = false;
        }
    }
    for (int k = 0; ok && k < r->nch; k++) {
        uint64_t v = 1;
        int st = chan_try_recv(r->ch[k], &v);
        if (st != CHAN_CLOSED || v != 0 || chan_len(r->ch[k]) != 0) {
            snprintf(msg, msz, "chan %d not drained after the round", k);
            ok = false;
        }
    }
    if (ok && !close_race && sent != (uint64_t)r->np * r->n) {
        snprintf(msg, msz, "%" PRIu64 " of %" PRIu64 " sends failed",
                 (uint64_t)r->np * r->n - sent, (uint64_t)r->np * r->n);
        ok = false;
    }
    *values += got;
    for (int k = 0; k < r->nch; k++)
        chan_release(r->ch[k]);
    free(r->seen);
    free(r->sent);
    free(r);
    return ok;
}

static void rv_run(const char *name, bool close_race, double share)
{
    seeder_t sd = seeder_make(name);
    double end = now_s() + budget_seconds() * share;
    uint64_t rounds = 0, values = 0;
    char msg[256];
    int max_rounds = close_race ? 400 : 200; /* bounded, and by time */
    do {
        uint64_t seed = seeder_next(&sd);
        bool ok = rv_round(seed, close_race, &values, msg, sizeof msg);
        ck_assert_msg(ok,
                      "%s round seed=0x%016" PRIx64 " (rerun with "
                      "GOCHAN_STRESS_SEED=0x%016" PRIx64 "): %s",
                      name, seed, seed, msg);
        rounds++;
    } while (now_s() < end && rounds < (uint64_t)max_rounds);
    printf("%s: %" PRIu64 " rounds, %" PRIu64 " values traced one by one\n",
           name, rounds, values);
    fflush(stdout);
    ck_assert_uint_gt(values, 0);
}

START_TEST(test_stress_buffered_values)
{
    rv_run("stress buffered values", false, 0.15);
}
END_TEST

START_TEST(test_stress_buffered_close_race)
{
    rv_run("stress buffered close race", true, 0.15);
}
END_TEST

Suite *stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tcase_create("channels");
    /* The budget is wall time; the slack covers one slow program. */
    tcase_set_timeout(tc, budget_seconds() + 60);
    tcase_add_test(tc, test_stress_random_programs);
    tcase_add_test(tc, test_stress_release_while_blocked);
    tcase_add_test(tc, test_stress_close_wakes_all);
    suite_add_tcase(s, tc);
    TCase *bv = tcase_create("buffered");
    tcase_set_timeout(bv, budget_seconds() + 120);
    tcase_add_test(bv, test_stress_buffered_values);
    tcase_add_test(bv, test_stress_buffered_close_race);
    suite_add_tcase(s, bv);
    TCase *cx = tcase_create("context");
    tcase_set_timeout(cx, budget_seconds() + 60);
    tcase_add_test(cx, test_stress_context_storm);
    suite_add_tcase(s, cx);
    return s;
}

int main(void)
{
    return tu_run(stress_suite());
}
