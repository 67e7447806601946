/* check_debug.c: the blocked-thread dump (gochan/debug.h), gochan's answer to
 * Go's goroutine dump on SIGQUIT and its "all goroutines are asleep" report
 * (docs/semantics.md CH-26 notes a library cannot detect deadlock itself). */
#include <gochan/chan.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/sync.h>

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan/chan_test_hooks.h" /* chan__go_on_scheduler */
#include "sched/internal/waitreason.h"
#include "testutil.h"

/* Polls the dump until it lists want operations; false after ~5 s scaled. */
static bool wait_for_blocked(size_t want)
{
    for (int i = 0; i < 5000 * tu_scale(); i++) {
        FILE *devnull = fopen("/dev/null", "w");
        size_t n = chan_debug_dump(devnull);
        fclose(devnull);
        if (n == want)
            return true;
        tu_sleep_ms(1);
    }
    return false;
}

/* The dump as a string; the caller frees it. */
static char *dump_to_string(size_t *count)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(mem);
    *count = chan_debug_dump(mem);
    fclose(mem);
    return text;
}

static void *receiver(void *arg)
{
    long v;
    chan_recv(arg, &v);
    return NULL;
}

static void *selector(void *arg)
{
    chan_t **cs = arg;
    long v = 7;
    chan_case_t cases[] = {CHAN_RECV_CASE(cs[0], NULL),
                           CHAN_SEND_CASE(cs[1], &v)};
    chan_select(cases, 2);
    return NULL;
}

/* A blocked receive and a blocked select are listed with their channels, and
 * leave the list when they complete. */
START_TEST(test_debug_dump_lists_blocked_threads)
{
    chan_debug_enable(true);
    chan_t *a = chan_make(sizeof(long), 0);
    chan_t *b = chan_make(sizeof(long), 0);
    chan_t *cs[2] = {a, b};
    pthread_t r = tu_spawn(receiver, a);
    pthread_t s = tu_spawn(selector, cs);
    ck_assert(wait_for_blocked(2));

    size_t n;
    char *text = dump_to_string(&n);
    char addr[64];
    snprintf(addr, sizeof addr, "%p", (void *)a);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_nonnull(strstr(text, "gochan: 2 blocked operations"));
    ck_assert_ptr_nonnull(strstr(text, "chan receive"));
    ck_assert_ptr_nonnull(strstr(text, "select"));
    ck_assert_ptr_nonnull(strstr(text, "send on chan"));
    ck_assert_ptr_nonnull(strstr(text, addr));
    free(text);

    long v = 1;
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK); /* one of the two takes it */
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK);
    tu_join(r);
    tu_join(s);
    ck_assert(wait_for_blocked(0));
    chan_release(a);
    chan_release(b);
}
END_TEST

static void *nil_receiver(void *arg)
{
    (void)arg;
    chan_recv(NULL, NULL);
    return NULL;
}

/* A receive on a nil channel, blocked forever, is listed as such. */
START_TEST(test_debug_dump_lists_nil_channel)
{
    chan_debug_enable(true);
    pthread_t t = tu_spawn(nil_receiver, NULL);
    pthread_detach(t);
    ck_assert(wait_for_blocked(1));
    size_t n;
    char *text = dump_to_string(&n);
    ck_assert_ptr_nonnull(strstr(text, "nil chan"));
    free(text);
}
END_TEST

/* Disabled (the default without GOCHAN_DEBUG=1), nothing is recorded. */
START_TEST(test_debug_disabled_records_nothing)
{
    chan_debug_enable(false);
    chan_t *a = chan_make(sizeof(long), 0);
    pthread_t r = tu_spawn(receiver, a);
    tu_quiet_sleep();
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_uint_eq(chan_debug_dump(devnull), 0);
    fclose(devnull);
    long v = 1;
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK);
    tu_join(r);
    chan_release(a);
}
END_TEST

/* SIGQUIT prints the dump to stderr and the process keeps running. */
START_TEST(test_debug_sigquit_prints_dump)
{
    FILE *err = tmpfile();
    ck_assert_ptr_nonnull(err);
    ck_assert_int_ge(dup2(fileno(err), STDERR_FILENO), 0);
    ck_assert_int_eq(chan_debug_on_sigquit(), CHAN_OK);
    chan_t *a = chan_make(sizeof(long), 0);
    pthread_t r = tu_spawn(receiver, a);
    ck_assert(wait_for_blocked(1));
    raise(SIGQUIT);

    char buf[4096] = {0};
    bool printed = false;
    for (int i = 0; i < 5000 * tu_scale() && !printed; i++) {
        tu_sleep_ms(1);
        ssize_t got = pread(fileno(err), buf, sizeof buf - 1, 0);
        printed = got > 0 && strstr(buf, "chan receive") != NULL;
    }
    ck_assert_msg(printed, "no dump on stderr: %s", buf);
    long v = 1;
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK);
    tu_join(r);
    chan_release(a);
}
END_TEST

static void go_receiver(void *arg)
{
    long v;
    chan_recv(arg, &v);
}

/* Go's goroutine dump names goroutines by id: a goroutine blocked in gochan
 * is listed as "goroutine N", a plain thread as "thread TID". */
START_TEST(test_debug_dump_names_goroutines)
{
    chan_debug_enable(true);
    chan_t *a = chan_make(sizeof(long), 0);
    ck_assert_int_eq(chan_go(go_receiver, a), CHAN_OK);
    ck_assert(wait_for_blocked(1));
    size_t n;
    char *text = dump_to_string(&n);
    const char *want = chan__go_on_scheduler() ? "goroutine " : "thread ";
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    ck_assert_msg(strstr(text, "chan receive") != NULL, "%s", text);
    free(text);
    long v = 1;
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK);
    chan_release(a);
}
END_TEST

static void go_locker(void *m)
{
    chan_mutex_lock(m);
    chan_mutex_unlock(m);
}

static void go_reader(void *rw)
{
    chan_rwmutex_rlock(rw);
    chan_rwmutex_runlock(rw);
}

static void go_cond_waiter(void *c)
{
    chan_cond_t *cond = c;
    chan_mutex_lock(cond->l);
    chan_cond_wait(cond);
    chan_mutex_unlock(cond->l);
}

static void go_wg_waiter(void *wg)
{
    chan_waitgroup_wait(wg);
}

/* GR-10: waits in sync show Go's wait reasons ("sync.Mutex.Lock",
 * "sync.RWMutex.RLock", "sync.Cond.Wait", "sync.WaitGroup.Wait") and the
 * object waited on. */
START_TEST(test_debug_dump_names_sync_waits)
{
    chan_debug_enable(true);
    chan_mutex_t m = CHAN_MUTEX_INIT, cm = CHAN_MUTEX_INIT;
    chan_rwmutex_t rw = CHAN_RWMUTEX_INIT;
    chan_cond_t cond = CHAN_COND_INIT(&cm);
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    chan_mutex_lock(&m);
    chan_rwmutex_lock(&rw);
    ck_assert_int_eq(chan_waitgroup_add(&wg, 1), CHAN_OK);
    ck_assert_int_eq(chan_go(go_locker, &m), CHAN_OK);
    ck_assert_int_eq(chan_go(go_reader, &rw), CHAN_OK);
    ck_assert_int_eq(chan_go(go_cond_waiter, &cond), CHAN_OK);
    ck_assert_int_eq(chan_go(go_wg_waiter, &wg), CHAN_OK);
    ck_assert(wait_for_blocked(4));
    size_t n;
    char *text = dump_to_string(&n);
    char want[64];
    snprintf(want, sizeof want, "sync.Mutex.Lock, blocked");
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    snprintf(want, sizeof want, "s: %p", (void *)&m);
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    ck_assert_msg(strstr(text, "sync.RWMutex.RLock, blocked") != NULL, "%s",
                  text);
    ck_assert_msg(strstr(text, "sync.Cond.Wait, blocked") != NULL, "%s", text);
    snprintf(want, sizeof want, "sync.WaitGroup.Wait, blocked");
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    snprintf(want, sizeof want, "s: %p", (void *)&wg);
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    free(text);
    chan_waitgroup_done(&wg);
    chan_mutex_unlock(&m);
    chan_rwmutex_unlock(&rw);
    chan_mutex_lock(&cm);
    chan_cond_signal(&cond);
    chan_mutex_unlock(&cm);
    ck_assert(wait_for_blocked(0));
}
END_TEST

/* GR-10: the one list of wait reasons (sched/internal/waitreason.h) names every
 * entry with Go's string, as runtime2.go's waitReasonStrings, and anything
 * else "unknown wait reason", as Go's waitReason.String. */
START_TEST(test_debug_wait_reason_strings)
{
    for (int r = 0; r < SCHED_WAIT_REASONS; r++)
        ck_assert_str_ne(sched_wait_reason_string(r), "unknown wait reason");
    ck_assert_str_eq(sched_wait_reason_string(SCHED_WAIT_ZERO), "");
    ck_assert_str_eq(sched_wait_reason_string(SCHED_WAIT_CHAN_RECEIVE),
                     "chan receive");
    ck_assert_str_eq(sched_wait_reason_string(SCHED_WAIT_SELECT_NO_CASES),
                     "select (no cases)");
    ck_assert_str_eq(sched_wait_reason_string(SCHED_WAIT_SYNC_WAITGROUP_WAIT),
                     "sync.WaitGroup.Wait");
    ck_assert_str_eq(sched_wait_reason_string(SCHED_WAIT_SEMACQUIRE),
                     "semacquire");
    ck_assert_str_eq(sched_wait_reason_string(SCHED_WAIT_IO), "IO wait");
    ck_assert_str_eq(sched_wait_reason_string(SCHED_WAIT_REASONS),
                     "unknown wait reason");
    ck_assert_str_eq(sched_wait_reason_string((sched_wait_reason_t)-1),
                     "unknown wait reason");
}
END_TEST

/* A pipe whose buffer is full, so that a blocking write to it waits until
 * someone reads. fds[0] is the read end, fds[1] the (blocking) write end. */
static void full_pipe(int fds[2])
{
    ck_assert_int_eq(pipe(fds), 0);
    int flags = fcntl(fds[1], F_GETFL);
    ck_assert_int_eq(fcntl(fds[1], F_SETFL, flags | O_NONBLOCK), 0);
    char block[4096] = {0};
    while (write(fds[1], block, sizeof block) > 0)
        ;
    while (write(fds[1], block, 1) > 0)
        ;
    ck_assert_int_eq(fcntl(fds[1], F_SETFL, flags), 0);
}

typedef struct {
    FILE *out;
    size_t listed;
    tu_flag_t started, done;
} dumper_t;

static void *dumper(void *arg)
{
    dumper_t *d = arg;
    tu_flag_set(&d->started);
    d->listed = chan_debug_dump(d->out);
    tu_flag_set(&d->done);
    return NULL;
}

typedef struct {
    chan_t *ping, *pong;
    int rounds;
    bool ok; /* every value came back; read after done */
    tu_flag_t done;
} pingpong_t;

static void *pinger(void *arg)
{
    pingpong_t *p = arg;
    p->ok = true;
    for (long i = 0; i < p->rounds; i++) {
        long v = i;
        chan_send(p->ping, &v);
        chan_recv(p->pong, &v);
        p->ok = p->ok && v == i;
    }
    tu_flag_set(&p->done);
    return NULL;
}

static void *ponger(void *arg)
{
    pingpong_t *p = arg;
    long v;
    for (int i = 0; i < p->rounds; i++) {
        chan_recv(p->ping, &v);
        chan_send(p->pong, &v);
    }
    return NULL;
}

/* Regression: a dump into an output that nobody reads (stderr a full pipe)
 * blocked in fprintf while holding the registry lock, and from then on every
 * thread that blocked or woke in gochan waited for that lock: a ping-pong
 * stopped dead. The dump now formats under the lock and writes after. */
START_TEST(test_debug_stuck_dump_blocks_nobody_else)
{
    chan_debug_enable(true);
    chan_t *never = chan_make(sizeof(long), 0);
    pthread_t r = tu_spawn(receiver, never);
    ck_assert(wait_for_blocked(1));

    int fds[2];
    full_pipe(fds);
    dumper_t d = {.out = fdopen(fds[1], "w")};
    ck_assert_ptr_nonnull(d.out);
    setvbuf(d.out, NULL, _IONBF, 0); /* every fprintf is a write */
    pthread_t dt = tu_spawn(dumper, &d);
    ck_assert(tu_flag_wait(&d.started, 10000));
    tu_quiet_sleep(); /* let it reach its write, which cannot finish */
    ck_assert(!tu_flag_is_set(&d.done));

    /* Every blocking operation below records itself in the registry. */
    pingpong_t p = {.ping = chan_make(sizeof(long), 0),
                    .pong = chan_make(sizeof(long), 0),
                    .rounds = 1000};
    pthread_t pt = tu_spawn(ponger, &p);
    pthread_t it = tu_spawn(pinger, &p);
    ck_assert_msg(tu_flag_wait(&p.done, 10000),
                  "a stuck dump stopped a ping-pong");
    tu_join(it);
    tu_join(pt);
    ck_assert(p.ok);
    ck_assert(!tu_flag_is_set(&d.done)); /* the dump was stuck all along */

    /* Drain the pipe until the dump has been written in full. */
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    char sink[4096];
    while (!tu_flag_is_set(&d.done))
        if (read(fds[0], sink, sizeof sink) <= 0)
            tu_sleep_ms(1);
    tu_join(dt);
    ck_assert_uint_ge(d.listed, 1);
    fclose(d.out);
    close(fds[0]);
    long v = 1;
    ck_assert_int_eq(chan_send(never, &v), CHAN_OK);
    tu_join(r);
    chan_release(never);
    chan_release(p.ping);
    chan_release(p.pong);
}
END_TEST

typedef struct {
    int signals;
    tu_flag_t done;
} raiser_t;

static void *raiser(void *arg)
{
    raiser_t *r = arg;
    for (int i = 0; i < r->signals; i++)
        raise(SIGQUIT);
    tu_flag_set(&r->done);
    return NULL;
}

/* Regression: the SIGQUIT handler wrote to its pipe with a blocking write;
 * with the printer stuck on a full stderr, a signal after the pipe filled
 * (64 KiB of them) would hang whichever thread took it. The write end is now
 * non-blocking: every raise returns. */
START_TEST(test_debug_sigquit_never_blocks)
{
    int fds[2];
    full_pipe(fds);
    ck_assert_int_ge(dup2(fds[1], STDERR_FILENO), 0); /* stderr is stuck */
    ck_assert_int_eq(chan_debug_on_sigquit(), CHAN_OK);
    raiser_t r = {.signals = 70000}; /* more than a pipe holds */
    pthread_t t = tu_spawn(raiser, &r);
    ck_assert_msg(tu_flag_wait(&r.done, 20000), "a SIGQUIT handler blocked");
    tu_join(t);
    /* Unstick the printer, so that exit's flush of stderr (ThreadSanitizer
     * flushes it) does not wait behind it: its write fails with EPIPE, and
     * the dumps still pending go to /dev/null. */
    signal(SIGPIPE, SIG_IGN);
    int devnull = open("/dev/null", O_WRONLY);
    ck_assert_int_ge(devnull, 0);
    ck_assert_int_ge(dup2(devnull, STDERR_FILENO), 0);
    close(fds[0]);
}
END_TEST

/* ---- stack traces in the dump (GR-10) -------------------------------------
 * With libdw (GOCHAN_HAVE_STACKS, set by CMake), the dump goes on with Go's
 * traceback of every goroutine and of every recorded plain thread; without,
 * it keeps the one-line form, and these tests check that it does. */
#ifndef GOCHAN_HAVE_STACKS
#define GOCHAN_HAVE_STACKS 0
#endif

/* Polls the dump until its text holds want; the text (to free) or NULL
 * after ~5 s scaled. */
static char *wait_for_text(const char *want)
{
    for (int i = 0; i < 5000 * tu_scale(); i++) {
        size_t n;
        char *text = dump_to_string(&n);
        if (strstr(text, want))
            return text;
        free(text);
        tu_sleep_ms(1);
    }
    return NULL;
}

static void stack_receiver(void *c)
{
    long v;
    chan_recv(c, &v);
}

static void stack_locker(void *m)
{
    chan_mutex_lock(m);
    chan_mutex_unlock(m);
}

/* The go statements, in a function of their own that the dump must name
 * after "created by". */
__attribute__((noinline)) static void start_stack_goroutines(chan_t *c,
                                                             chan_mutex_t *m)
{
    ck_assert_int_eq(chan_go(stack_receiver, c), CHAN_OK);
    ck_assert_int_eq(chan_go(stack_locker, m), CHAN_OK);
}

/* Go's header with the wait reason, a frame naming the function that
 * blocked, and "created by" naming the function that called chan_go. */
START_TEST(test_debug_stacks_goroutine_frames)
{
    chan_debug_enable(true);
    chan_t *c = chan_make(sizeof(long), 0);
    static chan_mutex_t m = CHAN_MUTEX_INIT; /* outlives the goroutine */
    chan_mutex_lock(&m);
    start_stack_goroutines(c, &m);
    ck_assert(wait_for_blocked(2));
    size_t n;
    char *text = dump_to_string(&n);
    ck_assert_uint_eq(n, 2);
    ck_assert_msg(strstr(text, "gochan: 2 blocked operations"), "%s", text);
    if (!GOCHAN_HAVE_STACKS) {
        ck_assert_msg(!strstr(text, "[chan receive"), "%s", text);
        ck_assert_msg(!strstr(text, "created by"), "%s", text);
    } else if (chan__go_on_scheduler()) {
        ck_assert_msg(strstr(text, " [chan receive]:\n"), "%s", text);
        ck_assert_msg(strstr(text, " [sync.Mutex.Lock]:\n"), "%s", text);
        ck_assert_msg(strstr(text, "\nstack_receiver()\n\t"), "%s", text);
        ck_assert_msg(strstr(text, "\nstack_locker()\n\t"), "%s", text);
        ck_assert_msg(strstr(text, "check_debug.c:"), "%s", text);
        ck_assert_msg(strstr(text, "created by start_stack_goroutines\n\t"),
                      "%s", text);
    } else { /* goroutines are threads: their frames from block time */
        ck_assert_msg(strstr(text, "[chan receive]:\n"), "%s", text);
        ck_assert_msg(strstr(text, "\nstack_receiver()\n\t"), "%s", text);
    }
    free(text);
    long v = 1;
    ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
    chan_mutex_unlock(&m);
    ck_assert(wait_for_blocked(0));
    chan_release(c);
}
END_TEST

/* Go lists every goroutine, recorded or not: with recording off, the
 * goroutine still shows, from the scheduler's list of all goroutines. */
START_TEST(test_debug_stacks_unrecorded_goroutine)
{
    if (!GOCHAN_HAVE_STACKS || !chan__go_on_scheduler())
        return;
    chan_debug_enable(false);
    chan_t *c = chan_make(sizeof(long), 0);
    static chan_mutex_t m = CHAN_MUTEX_INIT; /* outlives the goroutine */
    chan_mutex_lock(&m);
    start_stack_goroutines(c, &m);
    char *text = wait_for_text("\nstack_locker()\n");
    ck_assert_ptr_nonnull(text);
    free(text);
    text = wait_for_text("\nstack_receiver()\n");
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "gochan: 0 blocked operations"), "%s", text);
    ck_assert_msg(strstr(text, " [chan receive]:\n"), "%s", text);
    free(text);
    long v = 1;
    ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
    chan_mutex_unlock(&m);
    chan_release(c);
}
END_TEST

static void *plain_stack_receiver(void *c)
{
    long v;
    chan_recv(c, &v);
    return NULL;
}

/* A plain thread blocked in gochan: "thread TID [reason]:" and the frames it
 * had when it blocked. */
START_TEST(test_debug_stacks_plain_thread)
{
    chan_debug_enable(true);
    chan_t *c = chan_make(sizeof(long), 0);
    pthread_t t = tu_spawn(plain_stack_receiver, c);
    ck_assert(wait_for_blocked(1));
    size_t n;
    char *text = dump_to_string(&n);
    if (GOCHAN_HAVE_STACKS) {
        ck_assert_msg(strstr(text, "\nthread "), "%s", text);
        ck_assert_msg(strstr(text, " [chan receive]:\n"), "%s", text);
        ck_assert_msg(strstr(text, "\nplain_stack_receiver()\n\t"), "%s", text);
    } else {
        ck_assert_msg(!strstr(text, "[chan receive]"), "%s", text);
    }
    free(text);
    long v = 1;
    ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
    tu_join(t);
    chan_release(c);
}
END_TEST

/* Deeper than the copy the dump takes (128 KiB): the frames that fit, then
 * the walk stops; the dump goes on. */
__attribute__((noinline)) static long deep_recv(chan_t *c, int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    long v = 0;
    if (depth > 0)
        v = deep_recv(c, depth - 1);
    else
        chan_recv(c, &v);
    return v + pad[0];
}

static void deep_receiver(void *c)
{
    deep_recv(c, 300);
}

START_TEST(test_debug_stacks_deep_stack)
{
    if (!GOCHAN_HAVE_STACKS || !chan__go_on_scheduler())
        return;
    chan_debug_enable(true);
    chan_t *c = chan_make(sizeof(long), 0);
    ck_assert_int_eq(chan_go_stack(deep_receiver, c, 1024 * 1024), CHAN_OK);
    ck_assert(wait_for_blocked(1));
    size_t n;
    char *text = dump_to_string(&n);
    ck_assert_msg(strstr(text, "\ndeep_recv()\n\t"), "%s", text);
    ck_assert_msg(strstr(text, "...additional frames elided..."), "%s", text);
    ck_assert_msg(strstr(text, "created by test_debug_stacks_deep_stack"), "%s",
                  text);
    free(text);
    long v = 1;
    ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
    chan_release(c);
}
END_TEST

static void short_lived(void *c)
{
    long v = 1;
    chan_send(c, &v); /* parks until the churner receives */
}

typedef struct {
    chan_t *c;
    int rounds;
    tu_flag_t done;
} churn_t;

/* Starts goroutines that park and end, round after round. */
static void *churner(void *arg)
{
    churn_t *ch = arg;
    for (int i = 0; i < ch->rounds; i++) {
        for (int k = 0; k < 8; k++)
            ck_assert_int_eq(chan_go(short_lived, ch->c), CHAN_OK);
        for (int k = 0; k < 8; k++) {
            long v;
            ck_assert_int_eq(chan_recv(ch->c, &v), CHAN_OK);
        }
    }
    tu_flag_set(&ch->done);
    return NULL;
}

/* Dumps while goroutines start, park, run and end on other threads: every
 * dump completes and is well formed. */
START_TEST(test_debug_stacks_dump_while_churning)
{
    chan_debug_enable(true);
    churn_t ch = {.c = chan_make(sizeof(long), 0),
                  .rounds = tu_short() ? 100 : 2000};
    pthread_t t = tu_spawn(churner, &ch);
    int dumps = 0;
    bool saw_goroutine = false;
    while (!tu_flag_is_set(&ch.done) || dumps < 3) {
        size_t n;
        char *text = dump_to_string(&n);
        ck_assert_msg(strncmp(text, "gochan: ", 8) == 0, "%s", text);
        saw_goroutine |= strstr(text, "\ngoroutine ") != NULL;
        free(text);
        dumps++;
    }
    tu_join(t);
    ck_assert_int_ge(dumps, 3);
    if (GOCHAN_HAVE_STACKS && chan__go_on_scheduler())
        ck_assert(saw_goroutine);
    chan_release(ch.c);
}
END_TEST

static Suite *debug_suite(void)
{
    Suite *s = suite_create("debug");
    TCase *tc = tcase_create("dump");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_debug_dump_lists_blocked_threads);
    tcase_add_test(tc, test_debug_dump_lists_nil_channel);
    tcase_add_test(tc, test_debug_disabled_records_nothing);
    tcase_add_test(tc, test_debug_sigquit_prints_dump);
    tcase_add_test(tc, test_debug_dump_names_goroutines);
    tcase_add_test(tc, test_debug_dump_names_sync_waits);
    tcase_add_test(tc, test_debug_wait_reason_strings);
    tcase_add_test(tc, test_debug_stuck_dump_blocks_nobody_else);
    tcase_add_test(tc, test_debug_sigquit_never_blocks);
    suite_add_tcase(s, tc);
    tc = tcase_create("stacks");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_debug_stacks_goroutine_frames);
    tcase_add_test(tc, test_debug_stacks_unrecorded_goroutine);
    tcase_add_test(tc, test_debug_stacks_plain_thread);
    tcase_add_test(tc, test_debug_stacks_deep_stack);
    tcase_add_test(tc, test_debug_stacks_dump_while_churning);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(debug_suite());
}
