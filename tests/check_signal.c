/* check_signal.c: Go's os/signal tests (src/os/signal/signal_test.go) ported
 * to gochan's signal layer, plus the status codes of the contract.
 *
 * Each test names the Go test it ports and the behaviour items (SG-) it
 * checks; the ids are those of docs/semantics.md. Check's fork mode gives
 * every test a fresh process, so dispositions and the delivery thread start
 * anew each time and kill(getpid(), ...) reaches only that test. Waits for a
 * signal are bounded (10 s, scaled); checks that a signal does NOT come wait
 * tu_quiet_sleep. Nothing depends on exact timing.
 */
#include <gochan/context.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/signal.h>
#include <gochan/timer.h>

#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*sighandler_fn)(int);

/* ThreadSanitizer defers a handler to the interrupted thread's next
 * intercepted call, and drops a deferred signal whose disposition became
 * SIG_DFL meanwhile: a signal caught just before Stop gave SIG_DFL back can be
 * lost there, which no code outside TSan can prevent. */
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifndef TU_TSAN
#define TU_TSAN 0
#endif

/* 10 s, scaled: the bound of every wait for something that must happen. */
static int64_t patience(void)
{
    return (int64_t)(10 * tu_scale()) * CHAN_SECOND;
}

/* Go's waitSig1: receives from c until want arrives (true), or patience()
 * passes, or another signal comes (false). With all, SIGCHLD (which a test
 * process may get unasked, as Go filters SIGURG) is skipped. */
static bool wait_sig(chan_t *c, int want, bool all)
{
    int64_t deadline = chan_now() + patience();
    for (;;) {
        int64_t left = deadline - chan_now();
        if (left <= 0)
            return false;
        chan_t *after = chan_after(left);
        ck_assert_ptr_nonnull(after);
        int sig = 0;
        chan_case_t cases[] = {CHAN_RECV_CASE(c, &sig),
                               CHAN_RECV_CASE(after, NULL)};
        int i = chan_select(cases, 2);
        chan_release(after);
        if (i != 0)
            return false;
        if (sig == want)
            return true;
        if (!all || sig != SIGCHLD) {
            fprintf(stderr, "got signal %d, want %d\n", sig, want);
            return false;
        }
    }
}

/* Nothing arrives on c within the quiet time. */
static bool stays_quiet(chan_t *c)
{
    tu_quiet_sleep();
    int sig = 0;
    return chan_try_recv(c, &sig) == CHAN_WOULDBLOCK;
}

static chan_t *sig_chan(size_t cap)
{
    chan_t *c = chan_make(sizeof(int), cap);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void notify1(chan_t *c, int sig)
{
    ck_assert_int_eq(chan_signal_notify(c, &sig, 1), CHAN_OK);
}

static sighandler_fn disposition(int sig)
{
    struct sigaction sa;
    ck_assert_int_eq(sigaction(sig, NULL, &sa), 0);
    return sa.sa_handler;
}

/* gochan's handler (or any function) is installed for sig. */
static bool caught_by_handler(int sig)
{
    sighandler_fn h = disposition(sig);
    return h != SIG_DFL && h != SIG_IGN;
}

/* Waits, bounded, until sig's disposition is before again (Check's own
 * handler, for SIGINT): the NotifyContext goroutine unregisters shortly
 * after stop. */
static bool wait_disposition(int sig, sighandler_fn before)
{
    int64_t deadline = chan_now() + patience();
    while (disposition(sig) != before) {
        if (chan_now() > deadline)
            return false;
        tu_sleep_ms(1);
    }
    return true;
}

static bool wait_done(context_t *ctx)
{
    chan_t *after = chan_after(patience());
    ck_assert_ptr_nonnull(after);
    chan_case_t cases[] = {CHAN_RECV_CASE(context_done(ctx), NULL),
                           CHAN_RECV_CASE(after, NULL)};
    int i = chan_select(cases, 2);
    chan_release(after);
    return i == 0;
}

static void kill_self(int sig)
{
    ck_assert_int_eq(kill(getpid(), sig), 0);
}

/* ---- Notify ---- */

/* TestSignal (SG-1): delivery to one channel, to an all-signals channel, and
 * a full channel that nobody reads does not hold up the others. */
START_TEST(test_signal_notify)
{
    chan_t *c = sig_chan(1);
    notify1(c, SIGHUP);
    kill_self(SIGHUP);
    ck_assert(wait_sig(c, SIGHUP, false));

    chan_t *c1 = sig_chan(10);
    ck_assert_int_eq(chan_signal_notify(c1, NULL, 0), CHAN_OK); /* all */
    kill_self(SIGWINCH);
    ck_assert(wait_sig(c1, SIGWINCH, true));

    /* Two more SIGHUPs reach c1; c keeps the first one, and is full. */
    kill_self(SIGHUP);
    ck_assert(wait_sig(c1, SIGHUP, true));
    kill_self(SIGHUP);
    ck_assert(wait_sig(c1, SIGHUP, true));
    ck_assert(wait_sig(c, SIGHUP, false));

    ck_assert_int_eq(chan_signal_stop(c1), CHAN_OK);
    ck_assert_int_eq(chan_signal_stop(c), CHAN_OK);
    chan_release(c1);
    chan_release(c);
}
END_TEST

/* SG-1: several channels each get a copy, and a full channel drops: c (cap
 * 1, never read) holds one SIGUSR1 while a witness channel counts three. */
START_TEST(test_signal_copies_and_drops)
{
    chan_t *c = sig_chan(1), *witness = sig_chan(8);
    notify1(c, SIGUSR1);
    notify1(witness, SIGUSR1);
    for (size_t i = 1; i <= 3; i++) {
        kill_self(SIGUSR1);
        /* One at a time: arrivals not yet delivered would merge. */
        int64_t deadline = chan_now() + patience();
        while (chan_len(witness) < i && chan_now() < deadline)
            tu_sleep_ms(1);
        ck_assert_uint_eq(chan_len(witness), i);
    }
    ck_assert_uint_eq(chan_len(c), 1);
    chan_signal_stop(c);
    chan_signal_stop(witness);
    chan_release(c);
    chan_release(witness);
}
END_TEST

/* SG-1: a second Notify on a channel adds to its set; the channel also
 * outlives the caller's reference while registered. */
START_TEST(test_signal_notify_adds)
{
    chan_t *c = sig_chan(2);
    notify1(c, SIGUSR1);
    notify1(c, SIGUSR2);
    notify1(c, SIGUSR1); /* again: no second copy */
    chan_t *mine = chan_retain(c);
    chan_release(c); /* gochan's reference keeps it registered */
    kill_self(SIGUSR2);
    ck_assert(wait_sig(mine, SIGUSR2, false));
    kill_self(SIGUSR1);
    ck_assert(wait_sig(mine, SIGUSR1, false));
    ck_assert(stays_quiet(mine));
    chan_signal_stop(mine);
    chan_release(mine);
}
END_TEST

/* TestStress (SG-1, SG-2): a thread kills itself with SIGUSR1 as fast as it
 * can while main drains a channel of one; then, after a settle time, Stop and
 * close. A send after Stop would be a send on a closed channel. */
struct stress {
    chan_t *sig;
    long kills;
};

static void *stress_sender(void *arg)
{
    struct stress *s = arg;
    int64_t end = chan_now() + (tu_short() ? 50 : 500) * CHAN_MILLISECOND;
    while (chan_now() < end) {
        kill(getpid(), SIGUSR1);
        s->kills++;
        sched_yield();
    }
    tu_quiet_sleep(); /* Go's quiesce: let every signal land */
    chan_signal_stop(s->sig);
    chan_close(s->sig);
    return NULL;
}

START_TEST(test_signal_stress)
{
    struct stress s = {sig_chan(1), 0};
    notify1(s.sig, SIGUSR1);
    pthread_t t = tu_spawn(stress_sender, &s);
    long got = 0;
    int v;
    while (chan_recv(s.sig, &v) == CHAN_OK) {
        ck_assert_int_eq(v, SIGUSR1);
        got++;
    }
    tu_join(t);
    ck_assert_int_ge(got, 1);
    ck_assert_int_le(got, s.kills);
    chan_release(s.sig);
}
END_TEST

/* ---- Stop ---- */

/* TestStop (SG-2): for each signal, delivery, then Stop gives the default
 * disposition back. SIGWINCH, whose default is to ignore, is sent again and
 * nothing arrives; SIGHUP and SIGUSR1 would end the process (see
 * test_signal_stop_default_effect). */
START_TEST(test_signal_stop)
{
    int sigs[] = {SIGWINCH, SIGHUP, SIGUSR1};
    for (size_t i = 0; i < 3; i++) {
        int sig = sigs[i];
        sighandler_fn before = disposition(sig);
        chan_t *c = sig_chan(1);
        notify1(c, sig);
        ck_assert(caught_by_handler(sig));
        kill_self(sig);
        ck_assert(wait_sig(c, sig, false));
        ck_assert_int_eq(chan_signal_stop(c), CHAN_OK);
        ck_assert(disposition(sig) == before);
        if (sig == SIGWINCH) {
            kill_self(sig);
            ck_assert(stays_quiet(c));
        }
        ck_assert_int_eq(chan_signal_stop(c), CHAN_OK); /* again: no-op */
        chan_release(c);
    }
}
END_TEST

/* SG-2, SG-3: once Stop has returned, SIGUSR1 has its default effect again
 * (the test process ends by it; Check expects that). */
START_TEST(test_signal_stop_default_effect)
{
    chan_t *c = sig_chan(1);
    notify1(c, SIGUSR1);
    raise(SIGUSR1);
    ck_assert(wait_sig(c, SIGUSR1, false));
    chan_signal_stop(c);
    raise(SIGUSR1);
    tu_quiet_sleep();
}
END_TEST

/* SG-3: a notified SIGINT or SIGTERM no longer ends the program. */
START_TEST(test_signal_no_default_effect)
{
    chan_t *c = sig_chan(2);
    int sigs[] = {SIGINT, SIGTERM};
    ck_assert_int_eq(chan_signal_notify(c, sigs, 2), CHAN_OK);
    kill_self(SIGINT);
    ck_assert(wait_sig(c, SIGINT, false));
    kill_self(SIGTERM);
    ck_assert(wait_sig(c, SIGTERM, false));
    chan_signal_stop(c);
    chan_release(c);
}
END_TEST

/* ---- Reset and Ignore ---- */

/* Go's testCancel, for TestReset (ignore false) and TestIgnore (true): both
 * undo the Notify calls for SIGWINCH and SIGHUP; nothing arrives after. */
static void check_cancel(bool ignore)
{
    sighandler_fn before = disposition(SIGHUP); /* SIG_IGN under nohup */
    chan_t *c1 = sig_chan(1), *c2 = sig_chan(1);
    notify1(c1, SIGWINCH);
    notify1(c2, SIGHUP);
    kill_self(SIGWINCH);
    ck_assert(wait_sig(c1, SIGWINCH, false));
    kill_self(SIGHUP);
    ck_assert(wait_sig(c2, SIGHUP, false));

    int both[] = {SIGWINCH, SIGHUP};
    if (ignore) {
        ck_assert_int_eq(chan_signal_ignore(both, 2), CHAN_OK);
        ck_assert(disposition(SIGHUP) == SIG_IGN);
        ck_assert(disposition(SIGWINCH) == SIG_IGN);
    } else {
        ck_assert_int_eq(chan_signal_reset(both, 2), CHAN_OK);
        ck_assert(disposition(SIGHUP) == before);
    }
    kill_self(SIGWINCH);
    if (ignore)
        kill_self(SIGHUP); /* ignored, so the process lives */
    ck_assert(stays_quiet(c1));
    ck_assert(stays_quiet(c2));
    /* The channels lost their last signal: Stop has nothing to do. */
    ck_assert_int_eq(chan_signal_stop(c1), CHAN_OK);
    chan_release(c1);
    chan_release(c2);
}

START_TEST(test_signal_reset)
{
    check_cancel(false);
}
END_TEST

START_TEST(test_signal_ignore)
{
    check_cancel(true);
}
END_TEST

/* TestIgnored (SG-2): notified means not ignored; after Stop and Ignore it
 * is ignored; Reset() of everything undoes the Ignore too. */
START_TEST(test_signal_ignored)
{
    chan_t *c = sig_chan(1);
    notify1(c, SIGWINCH);
    ck_assert(caught_by_handler(SIGWINCH));
    chan_signal_stop(c);
    int sig = SIGWINCH;
    ck_assert_int_eq(chan_signal_ignore(&sig, 1), CHAN_OK);
    ck_assert(disposition(SIGWINCH) == SIG_IGN);
    /* Reset() also gives back a signal outside "all", named explicitly. */
    int abrt = SIGABRT;
    sighandler_fn abrt_before = disposition(SIGABRT);
    ck_assert_int_eq(chan_signal_notify(c, &abrt, 1), CHAN_OK);
    ck_assert(disposition(SIGABRT) != abrt_before);
    ck_assert_int_eq(chan_signal_reset(NULL, 0), CHAN_OK);
    ck_assert(disposition(SIGWINCH) == SIG_DFL);
    ck_assert(disposition(SIGABRT) == abrt_before);
    ck_assert_int_eq(chan_signal_stop(c), CHAN_OK); /* Reset removed it */
    chan_release(c);
}
END_TEST

/* ---- TestAtomicStop ---- */

static void *stop_thread(void *arg)
{
    chan_signal_stop(arg);
    return NULL;
}

/* Go's atomicStopTestProgram, in a child process: Notify, Stop on another
 * thread while SIGINT is sent; then the signal either reached cs or ended
 * the process. Exit status 3 means a signal was lost. */
static void atomic_stop_program(void)
{
    signal(SIGINT, SIG_DFL); /* a background shell may have ignored it */
    int64_t timeout = (int64_t)(2 * tu_scale()) * CHAN_SECOND;
    bool lost = false;
    for (int i = 0; i < 10; i++) {
        chan_t *cs = chan_make(sizeof(int), 1);
        int sig = SIGINT;
        if (!cs || chan_signal_notify(cs, &sig, 1) != CHAN_OK)
            _exit(4);
        pthread_t t;
        if (pthread_create(&t, NULL, stop_thread, cs) != 0)
            _exit(4);
        kill(getpid(), SIGINT);
        /* Polled, not a blocking select: ThreadSanitizer runs a handler only
         * when the thread it interrupted next enters an intercepted call,
         * and gochan's parking futex is a raw system call. */
        int64_t deadline = chan_now() + timeout;
        while (chan_try_recv(cs, NULL) != CHAN_OK) {
            if (chan_now() > deadline) {
                fprintf(stderr, "lost signal on try %d\n", i);
                lost = true;
                break;
            }
            tu_sleep_ms(1);
        }
        pthread_join(t, NULL);
        chan_release(cs);
    }
    _exit(lost && !TU_TSAN ? 3 : 0); /* TSan: reported, not failed */
}

START_TEST(test_signal_atomic_stop)
{
    for (int exec = 0; exec < 10; exec++) {
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            atomic_stop_program();
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        bool died_of_sigint = WIFSIGNALED(status) && WTERMSIG(status) == SIGINT;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        ck_assert_msg(died_of_sigint || clean, "run %d: status %#x", exec,
                      status);
    }
}
END_TEST

/* fork(): the child has no delivery thread; its Stop must not wait for one,
 * and its next Notify starts its own (regression: without the atfork reset,
 * the child's Stop could wait forever). */
START_TEST(test_signal_fork_child)
{
    chan_t *c = sig_chan(1);
    notify1(c, SIGUSR1);
    kill_self(SIGUSR1);
    ck_assert(wait_sig(c, SIGUSR1, false));
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child's own bound. SIGALRM must kill only the child: Check's
         * inherited handler would SIGKILL the test's whole process group. */
        signal(SIGALRM, SIG_DFL);
        alarm((unsigned)(10 * tu_scale()));
        raise(SIGUSR1); /* caught, with no thread to deliver it */
        chan_signal_stop(c);
        chan_release(c); /* the child's copy of the test's reference */
        if (TU_FORK_NO_THREADS)
            _exit(0);
        chan_t *c2 = chan_make(sizeof(int), 1);
        int sig = SIGUSR2, got = 0;
        if (!c2 || chan_signal_notify(c2, &sig, 1) != CHAN_OK)
            _exit(4);
        raise(SIGUSR2);
        bool ok = chan_recv(c2, &got) == CHAN_OK && got == SIGUSR2;
        chan_signal_stop(c2);
        chan_release(c2);
        _exit(ok ? 0 : 5);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x", status);
    chan_signal_stop(c);
    chan_release(c);
}
END_TEST

/* ---- NotifyContext ---- */

static void *kill_sigint(void *unused)
{
    (void)unused;
    kill(getpid(), SIGINT);
    return NULL;
}

/* TestNotifyContextNotifications (SG-4), "once" and "multiple": n SIGINTs
 * from n threads end the context, and those after the first are swallowed
 * (the process lives) although stop was not called. */
START_TEST(test_signal_notify_context_notifications)
{
    int n = _i == 0 ? 1 : 10;
    int sig = SIGINT;
    sighandler_fn before = disposition(SIGINT);
    context_cancel_t *stop;
    context_t *ctx =
        context_signal_notify(context_background(), &sig, 1, &stop);
    ck_assert_ptr_nonnull(ctx);
    pthread_t threads[10];
    for (int i = 0; i < n; i++)
        threads[i] = tu_spawn(kill_sigint, NULL);
    for (int i = 0; i < n; i++)
        tu_join(threads[i]);
    ck_assert(wait_done(ctx));
    ck_assert_ptr_eq(context_err(ctx), &context_canceled);
    tu_quiet_sleep(); /* Go's settleTime: the late SIGINTs must not kill */
    tu_quiet_sleep();
    ck_assert(disposition(SIGINT) != before); /* still diverted, as in Go */
    context_cancel(stop);
    context_release(ctx);
    ck_assert(disposition(SIGINT) == before); /* freed: unregistered */
}
END_TEST

/* TestNotifyContextStop (SG-4): notified means not ignored; stop ends the
 * context with Canceled and, shortly after, unregisters. */
START_TEST(test_signal_notify_context_stop)
{
    int sig = SIGHUP;
    sighandler_fn before = disposition(SIGHUP); /* SIG_IGN under nohup */
    ck_assert_int_eq(chan_signal_ignore(&sig, 1), CHAN_OK);
    ck_assert(disposition(SIGHUP) == SIG_IGN);
    context_cancel_t *cancel_parent, *stop;
    context_t *parent =
        context_with_cancel(context_background(), &cancel_parent);
    ck_assert_ptr_nonnull(parent);
    context_t *c = context_signal_notify(parent, &sig, 1, &stop);
    ck_assert_ptr_nonnull(c);
    ck_assert(caught_by_handler(SIGHUP));
    char buf[128];
    context_string(c, buf, sizeof buf);
    ck_assert_str_eq(buf, "signal.NotifyContext(context.Background.WithCancel, "
                          "[hangup])");
    context_cancel(stop);
    ck_assert_ptr_eq(context_err(c), &context_canceled); /* at once */
    ck_assert(wait_done(c));
    /* The goroutine unregistered: the disposition saved before Ignore (the
     * process's own: SIG_DFL, or SIG_IGN when started under nohup), as
     * Reset undoes Ignore. */
    ck_assert(wait_disposition(SIGHUP, before));
    context_release(c);
    context_cancel(cancel_parent);
    context_release(parent);
}
END_TEST

/* TestNotifyContextCancelParent (SG-4). */
START_TEST(test_signal_notify_context_cancel_parent)
{
    int sig = SIGINT;
    sighandler_fn before = disposition(SIGINT);
    context_cancel_t *cancel_parent, *stop;
    context_t *parent =
        context_with_cancel(context_background(), &cancel_parent);
    context_t *c = context_signal_notify(parent, &sig, 1, &stop);
    ck_assert_ptr_nonnull(c);
    char buf[128];
    context_string(c, buf, sizeof buf);
    ck_assert_str_eq(buf, "signal.NotifyContext(context.Background.WithCancel, "
                          "[interrupt])");
    context_cancel(cancel_parent);
    ck_assert(wait_done(c));
    ck_assert_ptr_eq(context_err(c), &context_canceled);
    ck_assert(wait_disposition(SIGINT, before));
    context_cancel(stop);
    context_release(c);
    context_release(parent);
}
END_TEST

/* TestNotifyContextPrematureCancelParent (SG-4): a parent canceled before. */
START_TEST(test_signal_notify_context_premature_cancel_parent)
{
    int sig = SIGINT;
    context_cancel_t *cancel_parent, *stop;
    context_t *parent =
        context_with_cancel(context_background(), &cancel_parent);
    context_cancel(cancel_parent);
    context_t *c = context_signal_notify(parent, &sig, 1, &stop);
    ck_assert_ptr_nonnull(c);
    char buf[128];
    context_string(c, buf, sizeof buf);
    ck_assert_str_eq(buf, "signal.NotifyContext(context.Background.WithCancel, "
                          "[interrupt])");
    ck_assert(wait_done(c));
    ck_assert_ptr_eq(context_err(c), &context_canceled);
    context_cancel(stop);
    context_release(c);
    context_release(parent);
}
END_TEST

/* TestNotifyContextSimultaneousStop (SG-4): ten threads call stop at once. */
static void *call_stop(void *arg)
{
    context_cancel(arg);
    return NULL;
}

START_TEST(test_signal_notify_context_simultaneous_stop)
{
    int sig = SIGINT;
    context_cancel_t *stop;
    context_t *c = context_signal_notify(context_background(), &sig, 1, &stop);
    ck_assert_ptr_nonnull(c);
    char buf[128];
    context_string(c, buf, sizeof buf);
    ck_assert_str_eq(buf, "signal.NotifyContext(context.Background, "
                          "[interrupt])");
    pthread_t threads[10];
    for (int i = 0; i < 10; i++)
        threads[i] = tu_spawn(call_stop, stop);
    for (int i = 0; i < 10; i++)
        tu_join(threads[i]);
    ck_assert(wait_done(c));
    ck_assert_ptr_eq(context_err(c), &context_canceled);
    context_release(c);
}
END_TEST

/* Go's Signal.String (syscall.Signal), as fmt.Println(sig) prints it. */
START_TEST(test_signal_string)
{
    char buf[64];
    ck_assert_uint_eq(chan_signal_string(SIGINT, buf, sizeof buf), 9);
    ck_assert_str_eq(buf, "interrupt");
    chan_signal_string(SIGTERM, buf, sizeof buf);
    ck_assert_str_eq(buf, "terminated");
    chan_signal_string(SIGHUP, buf, sizeof buf);
    ck_assert_str_eq(buf, "hangup");
    chan_signal_string(SIGUSR1, buf, sizeof buf);
    ck_assert_str_eq(buf, "user defined signal 1");
    chan_signal_string(200, buf, sizeof buf);
    ck_assert_str_eq(buf, "signal 200");
    ck_assert_uint_eq(chan_signal_string(SIGTERM, NULL, 0), 10);
    ck_assert_uint_eq(chan_signal_string(SIGTERM, buf, 4), 10);
    ck_assert_str_eq(buf, "ter");
}
END_TEST

/* TestNotifyContextStringer (SG-4), plus no brackets for "all", a signal
 * Go has no name for, a child's name and snprintf-style truncation. */
START_TEST(test_signal_notify_context_stringer)
{
    context_cancel_t *cancel_parent, *stop, *stop_all, *cancel_child;
    context_t *parent =
        context_with_cancel(context_background(), &cancel_parent);
    int sigs[] = {SIGHUP, SIGINT, SIGTERM};
    context_t *c = context_signal_notify(parent, sigs, 3, &stop);
    ck_assert_ptr_nonnull(c);
    const char *want = "signal.NotifyContext(context.Background.WithCancel, "
                       "[hangup interrupt terminated])";
    char buf[128];
    ck_assert_uint_eq(context_string(c, buf, sizeof buf), strlen(want));
    ck_assert_str_eq(buf, want);
    for (size_t n = 0; n <= strlen(want) + 1; n++) {
        char small[128];
        memset(small, 'x', sizeof small);
        ck_assert_uint_eq(context_string(c, small, n), strlen(want));
        if (n > 0) {
            ck_assert_uint_eq(strlen(small),
                              n - 1 < strlen(want) ? n - 1 : strlen(want));
            ck_assert_int_eq(strncmp(small, want, strlen(small)), 0);
        }
    }
    context_t *child = context_with_cancel(c, &cancel_child);
    context_string(child, buf, sizeof buf);
    ck_assert_str_eq(buf, "signal.NotifyContext(context.Background.WithCancel,"
                          " [hangup interrupt terminated]).WithCancel");

    context_t *all =
        context_signal_notify(context_background(), NULL, 0, &stop_all);
    ck_assert_ptr_nonnull(all);
    context_string(all, buf, sizeof buf);
    ck_assert_str_eq(buf, "signal.NotifyContext(context.Background)");
    context_cancel(stop_all);
    context_release(all);

    int rt = SIGRTMIN + 1;
    context_t *r =
        context_signal_notify(context_background(), &rt, 1, &stop_all);
    ck_assert_ptr_nonnull(r);
    context_string(r, buf, sizeof buf);
    char expect[80];
    snprintf(expect, sizeof expect,
             "signal.NotifyContext(context.Background, [signal %d])", rt);
    ck_assert_str_eq(buf, expect);
    context_cancel(stop_all);
    context_release(r);

    context_cancel(cancel_child);
    context_release(child);
    context_cancel(stop);
    context_release(c);
    context_cancel(cancel_parent);
    context_release(parent);
}
END_TEST

/* SG-4: a signal ends the context and its children; freeing it gives the
 * disposition back even though stop was never called. */
START_TEST(test_signal_notify_context_signal)
{
    int sig = SIGUSR1;
    context_cancel_t *stop, *cancel_child;
    context_t *c = context_signal_notify(context_background(), &sig, 1, &stop);
    ck_assert_ptr_nonnull(c);
    context_t *child = context_with_cancel(c, &cancel_child);
    ck_assert_ptr_nonnull(child);
    ck_assert_ptr_null(context_err(c));
    kill_self(SIGUSR1);
    ck_assert(wait_done(child));
    ck_assert_ptr_eq(context_err(c), &context_canceled);
    ck_assert_ptr_eq(context_cause(c), &context_canceled);
    context_cancel(cancel_child);
    context_release(child);
    context_release(c);
    /* The last reference may be the cancel's, on the watcher's thread (it
     * holds the child while it cancels it), so freeing may come just after. */
    ck_assert(wait_disposition(SIGUSR1, SIG_DFL));
}
END_TEST

/* ---- status codes ---- */

/* Contract "bad input changes nothing": NULL channels, a channel of the
 * wrong element size, signals that cannot be caught or are faults, numbers
 * out of range; each leaves SIGUSR1 as it was. */
START_TEST(test_signal_invalid_arguments)
{
    chan_t *c = sig_chan(1);
    chan_t *bytes = chan_make(1, 1);
    int usr1 = SIGUSR1;
    int bad[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,   SIGFPE, SIGILL,
                 0,       -1,      NSIG,    NSIG + 1, 32};
    ck_assert_int_eq(chan_signal_notify(NULL, &usr1, 1), CHAN_INVALID);
    ck_assert_int_eq(chan_signal_notify(bytes, &usr1, 1), CHAN_INVALID);
    ck_assert_int_eq(chan_signal_notify(c, NULL, 1), CHAN_INVALID);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int pair[] = {SIGUSR1, bad[i]};
        ck_assert_int_eq(chan_signal_notify(c, pair, 2), CHAN_INVALID);
        ck_assert_int_eq(chan_signal_reset(pair, 2), CHAN_INVALID);
        ck_assert_int_eq(chan_signal_ignore(pair, 2), CHAN_INVALID);
        errno = 0;
        context_cancel_t *stop = (context_cancel_t *)&stop;
        ck_assert_ptr_null(
            context_signal_notify(context_background(), pair, 2, &stop));
        ck_assert_int_eq(errno, EINVAL);
        ck_assert_ptr_null(stop);
    }
    ck_assert(disposition(SIGUSR1) == SIG_DFL);
    ck_assert_int_eq(chan_signal_reset(NULL, 1), CHAN_INVALID);
    ck_assert_int_eq(chan_signal_stop(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_signal_stop(c), CHAN_OK); /* never registered */

    context_cancel_t *stop;
    errno = 0;
    ck_assert_ptr_null(context_signal_notify(NULL, &usr1, 1, &stop));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(
        context_signal_notify(context_background(), &usr1, 1, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(disposition(SIGUSR1) == SIG_DFL);

    /* What is accepted: SIGABRT named explicitly, a real-time signal. */
    int ok[] = {SIGABRT, SIGRTMIN, SIGRTMAX};
    ck_assert_int_eq(chan_signal_notify(c, ok, 3), CHAN_OK);
    ck_assert_int_eq(chan_signal_stop(c), CHAN_OK);
    chan_release(bytes);
    chan_release(c);
}
END_TEST

/* The "all" set (nsigs 0) leaves out SIGABRT, SIGTRAP and SIGSYS and the
 * faults, and takes SIGINT, SIGCHLD and the real-time signals. */
START_TEST(test_signal_all_set)
{
    chan_t *c = sig_chan(4);
    sighandler_fn before = disposition(SIGINT);
    /* Not SIGRTMAX: valgrind keeps it for itself and refuses a handler. */
    int in[] = {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGRTMIN, SIGRTMAX - 1};
    int out[] = {SIGABRT, SIGTRAP, SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    sighandler_fn in_before[6];
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        in_before[i] = disposition(in[i]);
    ck_assert_int_eq(chan_signal_notify(c, NULL, 0), CHAN_OK);
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        ck_assert_msg(disposition(in[i]) != in_before[i], "signal %d", in[i]);
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        ck_assert_msg(!caught_by_handler(out[i]) ||
                          /* the sanitizers' own fault handlers */
                          out[i] == SIGSEGV || out[i] == SIGBUS ||
                          out[i] == SIGFPE || out[i] == SIGILL,
                      "signal %d", out[i]);
    kill_self(SIGRTMIN);
    ck_assert(wait_sig(c, SIGRTMIN, true));
    ck_assert_int_eq(chan_signal_stop(c), CHAN_OK);
    ck_assert(disposition(SIGINT) == before);
    chan_release(c);
}
END_TEST

/* Stop from a goroutine parks rather than blocking its thread, and works. */
struct go_stop {
    chan_t *c;
    chan_t *done;
};

static void go_stop(void *arg)
{
    struct go_stop *g = arg;
    chan_signal_stop(g->c);
    chan_close(g->done);
}

START_TEST(test_signal_stop_on_goroutine)
{
    struct go_stop g = {sig_chan(1), chan_make(0, 0)};
    notify1(g.c, SIGUSR2);
    kill_self(SIGUSR2);
    ck_assert(wait_sig(g.c, SIGUSR2, false));
    ck_assert_int_eq(chan_go(go_stop, &g), CHAN_OK);
    chan_recv(g.done, NULL);
    ck_assert(!caught_by_handler(SIGUSR2));
    chan_release(g.done);
    chan_release(g.c);
}
END_TEST

/* A signal raised by a goroutine is handled while its M runs on the
 * goroutine's stack; the goroutine then goes on calling and parking. Under
 * valgrind, a handler on the alternate stack used to leave valgrind's idea
 * of the goroutine's stack wrong, and the goroutine's next calls were
 * reported as invalid writes (so the test fails there: valgrind's
 * --error-exitcode): signal.c installs the handler without SA_ONSTACK
 * under valgrind. 20 rounds. */
struct raiser {
    chan_t *sigs, *relayed, *done;
    int got;
};

static void raise_from_goroutine(void *arg)
{
    struct raiser *r = arg;
    for (int i = 0; i < 20; i++) {
        raise(SIGUSR1);
        int sig = 0;
        if (chan_recv(r->relayed, &sig) == CHAN_OK && sig == SIGUSR1)
            r->got++;
    }
    chan_close(r->done);
}

static void relay(void *arg)
{
    struct raiser *r = arg;
    for (int i = 0; i < 20; i++) {
        int sig = 0;
        chan_recv(r->sigs, &sig);
        chan_send(r->relayed, &sig);
    }
}

START_TEST(test_signal_raise_on_goroutine)
{
    struct raiser r = {sig_chan(4), sig_chan(0), chan_make(0, 0), 0};
    notify1(r.sigs, SIGUSR1);
    ck_assert_int_eq(chan_go(relay, &r), CHAN_OK);
    ck_assert_int_eq(chan_go(raise_from_goroutine, &r), CHAN_OK);
    chan_recv(r.done, NULL);
    ck_assert_int_eq(r.got, 20);
    ck_assert_int_eq(chan_signal_stop(r.sigs), CHAN_OK);
    chan_release(r.done);
    chan_release(r.relayed);
    chan_release(r.sigs);
}
END_TEST

static Suite *signal_suite(void)
{
    Suite *s = suite_create("signal");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"notify", test_signal_notify},
        {"copies_and_drops", test_signal_copies_and_drops},
        {"notify_adds", test_signal_notify_adds},
        {"stress", test_signal_stress},
        {"stop", test_signal_stop},
        {"no_default_effect", test_signal_no_default_effect},
        {"reset", test_signal_reset},
        {"ignore", test_signal_ignore},
        {"ignored", test_signal_ignored},
        {"atomic_stop", test_signal_atomic_stop},
        {"fork_child", test_signal_fork_child},
        {"notify_context_stop", test_signal_notify_context_stop},
        {"notify_context_cancel_parent",
         test_signal_notify_context_cancel_parent},
        {"notify_context_premature_cancel_parent",
         test_signal_notify_context_premature_cancel_parent},
        {"notify_context_simultaneous_stop",
         test_signal_notify_context_simultaneous_stop},
        {"notify_context_stringer", test_signal_notify_context_stringer},
        {"string", test_signal_string},
        {"notify_context_signal", test_signal_notify_context_signal},
        {"invalid_arguments", test_signal_invalid_arguments},
        {"all_set", test_signal_all_set},
        {"stop_on_goroutine", test_signal_stop_on_goroutine},
        {"raise_on_goroutine", test_signal_raise_on_goroutine},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tu_tcase(s, cases[i].name, 60);
        tcase_add_test(tc, cases[i].test);
    }
    TCase *tc = tu_tcase(s, "stop_default_effect", 60);
    tcase_add_test_raise_signal(tc, test_signal_stop_default_effect, SIGUSR1);
    tc = tu_tcase(s, "notify_context_notifications", 60);
    tcase_add_loop_test(tc, test_signal_notify_context_notifications, 0, 2);
    return s;
}

int main(void)
{
    return tu_run(signal_suite());
}
