/* check_deadlock.c: Go's deadlock report (GR-9; sched/deadlock.c): "fatal
 * error: all goroutines are asleep - deadlock!", the dump, exit status 2.
 *
 * Each scenario runs in a forked child, a fresh process as a program starts
 * (no gochan state yet, the default signal dispositions, GOCHAN_* set for
 * it): the test reads its stderr and exit status. A program that must be
 * reported has to exit with 2 and Go's line within a bounded wait. One that
 * must not be has to be still running after a short wait (a report comes
 * within milliseconds); then the test makes it finish (a byte on a pipe, a
 * signal, a timer that fires) and it must exit with 0.
 *
 * Every scenario runs three ways: goroutines on the scheduler, goroutines on
 * kernel threads (GOCHAN_SCHED=0), and on one processor (GOCHAN_MAXPROCS=1).
 *
 * Go's runtime/crash_test.go: TestSimpleDeadlock and TestLockedDeadlock2 are
 * ported (test_deadlock_simple, test_deadlock_locked; TestLockedDeadlock is
 * the simple one here, main being a plain thread). TestInitDeadlock (a
 * deadlock in init) and TestGoexitDeadlock ("no goroutines (main called
 * runtime.Goexit)") have no counterpart: C has no init goroutine, and main
 * is not a goroutine that can Goexit.
 *
 * Under ThreadSanitizer nothing is ever reported (its runtime adds a thread
 * of its own to the process, which the check cannot tell from a user's):
 * there the must-report scenarios only check that a child never reports
 * falsely, i.e. that it is still running or reported correctly.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/net.h>
#include <gochan/select.h>
#include <gochan/signal.h>
#include <gochan/sync.h>
#include <gochan/timer.h>

#include "testutil.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

static const char fatal[] =
    "fatal error: all goroutines are asleep - deadlock!\n\n";

/* ---- children ------------------------------------------------------------ */

enum mode { MODE_SCHED, MODE_THREADS, MODE_ONE_P, NMODES };
static const char *const mode_names[NMODES] = {"scheduler", "GOCHAN_SCHED=0",
                                               "GOCHAN_MAXPROCS=1"};

typedef struct {
    pid_t pid;
    int err_fd;     /* the child's stderr */
    int release_fd; /* the write end of the child's release pipe */
    int status;     /* waitpid's, once it exited */
    char err[8192];
} child_t;

/* The child's end of its release pipe: a read of one byte returns when the
 * test releases it. */
static int release_fd;

static void wait_release(void)
{
    char b;
    while (read(release_fd, &b, 1) < 0 && errno == EINTR)
        ;
}

static void child_start(child_t *ch, int (*body)(void), enum mode mode,
                        bool deadlock_off)
{
    int errp[2], relp[2];
    ck_assert_int_eq(pipe(errp), 0);
    ck_assert_int_eq(pipe(relp), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(errp[0]);
        close(relp[1]);
        dup2(errp[1], STDERR_FILENO);
        close(errp[1]);
        release_fd = relp[0];
        /* As a program starts: Check's handlers are not the program's (the
         * fault signals keep theirs: a sanitizer's). */
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE &&
                sig != SIGILL && sig != SIGTRAP)
                (void)signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Each mode sets both: CI runs the suite itself with either in
         * the environment. */
        setenv("GOCHAN_SCHED", mode == MODE_THREADS ? "0" : "1", 1);
        if (mode == MODE_ONE_P)
            setenv("GOCHAN_MAXPROCS", "1", 1);
        else
            unsetenv("GOCHAN_MAXPROCS");
        if (deadlock_off)
            setenv("GOCHAN_DEADLOCK", "0", 1);
        _exit(body());
    }
    close(errp[1]);
    close(relp[0]);
    ch->pid = pid;
    ch->err_fd = errp[0];
    ch->release_fd = relp[1];
    ch->status = -1;
    ch->err[0] = '\0';
}

/* Waits up to ms (scaled) for the child to exit: true if it did. */
static bool child_wait(child_t *ch, int64_t ms)
{
    int64_t deadline =
        chan_now() + (int64_t)((double)ms * tu_scale()) * CHAN_MILLISECOND;
    for (;;) {
        pid_t got = waitpid(ch->pid, &ch->status, WNOHANG);
        if (got == ch->pid)
            break;
        if (chan_now() >= deadline)
            return false;
        tu_sleep_ms(2);
    }
    size_t len = 0;
    ssize_t n;
    while (len < sizeof ch->err - 1 &&
           (n = read(ch->err_fd, ch->err + len, sizeof ch->err - 1 - len)) > 0)
        len += (size_t)n;
    ch->err[len] = '\0';
    close(ch->err_fd);
    close(ch->release_fd);
    return true;
}

static void child_kill(child_t *ch)
{
    kill(ch->pid, SIGKILL);
    ck_assert(child_wait(ch, 10000));
}

static bool reported(const child_t *ch)
{
    return WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == 2 &&
           strncmp(ch->err, fatal, sizeof fatal - 1) == 0;
}

/* The child must report: exit 2, Go's line and a blank line first. */
static void expect_report(int (*body)(void), enum mode mode)
{
    child_t ch;
    child_start(&ch, body, mode, false);
    if (UNDER_TSAN) {
        /* No report can be proved under TSan (see the top): the child must
         * only not report anything false. */
        if (!child_wait(&ch, 4 * TU_QUIET_MS))
            child_kill(&ch);
        ck_assert_msg(ch.err[0] == '\0' || reported(&ch), "%s: %s",
                      mode_names[mode], ch.err);
        return;
    }
    ck_assert_msg(child_wait(&ch, 10000), "%s: no report within 10 s",
                  mode_names[mode]);
    ck_assert_msg(reported(&ch), "%s: status %d, stderr: %s", mode_names[mode],
                  ch.status, ch.err);
}

/* The child may be reported or not, but nothing else (a deadlock whose last
 * event is a goroutine thread's exit, under GOCHAN_SCHED=0: see
 * docs/scheduler.md). */
static void expect_report_or_silence(int (*body)(void), enum mode mode)
{
    child_t ch;
    child_start(&ch, body, mode, false);
    if (!child_wait(&ch, 1000))
        child_kill(&ch);
    ck_assert_msg(ch.err[0] == '\0' || reported(&ch), "%s: %s",
                  mode_names[mode], ch.err);
}

/* How release finishes a child that must not be reported. */
typedef enum {
    RELEASE_PIPE,   /* a byte on its release pipe */
    RELEASE_SIGNAL, /* SIGUSR1 */
    RELEASE_NONE,   /* it ends by itself (a timer) */
} release_t;

/* The child must not report: still running after a short wait; then
 * released, it must exit with 0 and have printed nothing. */
static void expect_silence(int (*body)(void), enum mode mode, release_t how,
                           bool deadlock_off)
{
    child_t ch;
    child_start(&ch, body, mode, deadlock_off);
    ck_assert_msg(!child_wait(&ch, 4 * TU_QUIET_MS),
                  "%s: exited (status %d) with: %s", mode_names[mode],
                  ch.status, ch.err);
    if (how == RELEASE_SIGNAL && UNDER_TSAN) {
        /* TSan holds an asynchronous signal back until the thread it landed
         * on makes a call TSan intercepts, and a thread asleep in a raw
         * futex wait (an idle M) may never make one: silence is all that
         * can be checked there. */
        child_kill(&ch);
        ck_assert_msg(ch.err[0] == '\0', "%s: %s", mode_names[mode], ch.err);
        return;
    }
    if (how == RELEASE_PIPE)
        ck_assert_int_eq(write(ch.release_fd, "x", 1), 1);
    else if (how == RELEASE_SIGNAL)
        ck_assert_int_eq(kill(ch.pid, SIGUSR1), 0);
    ck_assert_msg(child_wait(&ch, 10000), "%s: did not finish",
                  mode_names[mode]);
    ck_assert_msg(WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0,
                  "%s: status %d, stderr: %s", mode_names[mode], ch.status,
                  ch.err);
    ck_assert_msg(ch.err[0] == '\0', "%s: %s", mode_names[mode], ch.err);
}

/* ---- programs that deadlock ---------------------------------------------- */

/* Go's TestSimpleDeadlock: main does select {}. */
static int simple_deadlock(void)
{
    chan_select(NULL, 0);
    return 0;
}

/* Main receives from a channel nobody will ever send on. */
static int main_recv(void)
{
    chan_t *c = chan_make(sizeof(int), 0);
    int v;
    chan_recv(c, &v);
    return 0;
}

/* Main receives from a nil channel (Go: "chan receive (nil chan)"). */
static int main_recv_nil(void)
{
    chan_recv(NULL, NULL);
    return 0;
}

static chan_t *cyc_a, *cyc_b;

static void cycle_worker(void *arg)
{
    (void)arg;
    int v;
    chan_recv(cyc_a, &v); /* nobody sends on a: main waits on b */
    chan_send(cyc_b, &v);
}

/* Main and two goroutines in a cycle: each waits for another. */
static int cycle(void)
{
    cyc_a = chan_make(sizeof(int), 0);
    cyc_b = chan_make(sizeof(int), 0);
    chan_go(cycle_worker, NULL);
    chan_go(cycle_worker, NULL);
    int v;
    chan_recv(cyc_b, &v);
    return 0;
}

/* A WaitGroup that is never done, no goroutine at all. */
static int waitgroup_alone(void)
{
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    chan_waitgroup_add(&wg, 1);
    chan_waitgroup_wait(&wg);
    return 0;
}

static chan_waitgroup_t wg_half = CHAN_WAITGROUP_INIT;

static void wg_worker(void *arg)
{
    (void)arg;
    chan_waitgroup_done(&wg_half);
}

/* Two added, one done, its goroutine gone: main waits forever. The last
 * event may be the goroutine's end. */
static int waitgroup_half_done(void)
{
    chan_waitgroup_add(&wg_half, 2);
    chan_go(wg_worker, NULL);
    chan_waitgroup_wait(&wg_half);
    return 0;
}

static chan_t *chain_done, *chain_in;

static void chain_first(void *arg)
{
    (void)arg;
    int v;
    chan_recv(chain_in, &v); /* nobody sends */
    chan_send(chain_done, &v);
}

static void chain_blocked(void *arg)
{
    chan_mutex_t *m = arg;
    chan_mutex_lock(m); /* held by main, forever */
}

/* Goroutines all blocked (a receive, a Mutex, a select, a nil channel)
 * while main waits on one of them. */
static int all_blocked(void)
{
    static chan_mutex_t m = CHAN_MUTEX_INIT;
    chain_done = chan_make(sizeof(int), 0);
    chain_in = chan_make(sizeof(int), 0);
    chan_mutex_lock(&m);
    chan_go(chain_first, NULL);
    chan_go(chain_blocked, &m);
    chan_go(chain_blocked, &m);
    int v;
    chan_recv(chain_done, &v);
    return 0;
}

static void locked_forever(void *arg)
{
    (void)arg;
    chan_select(NULL, 0);
}

/* Go's TestLockedDeadlock2: a goroutine locked to its thread blocks
 * forever, and so does main. */
static int locked_deadlock(void)
{
    chan_go_locked(locked_forever, NULL);
    chan_t *c = chan_make(sizeof(int), 1);
    chan_recv(c, NULL);
    return 0;
}

/* A timer that fired long ago leaves nothing pending. */
static int after_fired(void)
{
    chan_t *after = chan_after(1 * CHAN_MILLISECOND);
    chan_recv(after, NULL);
    chan_release(after);
    chan_t *c = chan_make(sizeof(int), 0);
    chan_recv(c, NULL);
    return 0;
}

/* ---- programs that only look deadlocked ---------------------------------- */

static int64_t quiet_ns(void)
{
    return (int64_t)(4 * TU_QUIET_MS * tu_scale()) * CHAN_MILLISECOND;
}

/* Main receives from a timer's channel that fires after the quiet wait. */
static int main_after(void)
{
    chan_t *after = chan_after(3 * quiet_ns());
    chan_recv(after, NULL);
    chan_release(after);
    return 0;
}

static chan_t *wake;

static void sleeper(void *arg)
{
    (void)arg;
    chan_sleep(3 * quiet_ns());
    chan_send(wake, &(int){1});
}

/* A goroutine sleeps, then wakes main. */
static int goroutine_sleeps(void)
{
    wake = chan_make(sizeof(int), 0);
    chan_go(sleeper, NULL);
    chan_recv(wake, NULL);
    return 0;
}

static void *foreign(void *arg)
{
    (void)arg;
    wait_release(); /* a plain blocking read(), as sleep() would be */
    chan_send(wake, &(int){1});
    return NULL;
}

/* A thread gochan did not start blocks outside gochan, then wakes main. */
static int foreign_thread(void)
{
    wake = chan_make(sizeof(int), 0);
    pthread_t t;
    if (pthread_create(&t, NULL, foreign, NULL) != 0)
        return 3;
    chan_recv(wake, NULL);
    pthread_join(t, NULL);
    return 0;
}

static void *foreign_sleeps(void *arg)
{
    (void)arg;
    int64_t ns = 3 * quiet_ns();
    struct timespec ts = {(time_t)(ns / CHAN_SECOND), (long)(ns % CHAN_SECOND)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    chan_send(wake, &(int){1});
    return NULL;
}

/* A foreign thread asleep in nanosleep(2), which then wakes main (no
 * release needed). */
static int foreign_thread_sleep(void)
{
    wake = chan_make(sizeof(int), 0);
    pthread_t t;
    if (pthread_create(&t, NULL, foreign_sleeps, NULL) != 0)
        return 3;
    chan_recv(wake, NULL);
    pthread_join(t, NULL);
    return 0;
}

static chan_t *sig_wake;

static void on_usr1(int sig)
{
    (void)sig;
    chan_try_send(sig_wake, &(int){1}); /* the handler wakes main */
}

/* A user's signal handler may wake main. */
static int signal_handler(void)
{
    sig_wake = chan_make(sizeof(int), 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    chan_recv(sig_wake, NULL);
    return 0;
}

static void reader(void *arg)
{
    (void)arg;
    wait_release(); /* a blocking read() on a goroutine, not the poller */
    chan_send(wake, &(int){1});
}

/* A goroutine in a blocking read() system call on a pipe. */
static int goroutine_read(void)
{
    wake = chan_make(sizeof(int), 0);
    chan_go(reader, NULL);
    chan_recv(wake, NULL);
    return 0;
}

static void poll_reader(void *arg)
{
    chan_fd_t *f = arg;
    char b;
    chan_fd_read(f, &b, 1); /* parks on the network poller */
    chan_send(wake, &(int){1});
}

/* A goroutine waits on the network poller for the release pipe. */
static int goroutine_netpoll(void)
{
    wake = chan_make(sizeof(int), 0);
    chan_fd_t *f = chan_fd_new(release_fd);
    if (!f)
        return 3;
    chan_go(poll_reader, f);
    chan_recv(wake, NULL);
    chan_fd_release(f);
    return 0;
}

/* signal.Notify: a signal may come and be sent on the channel. */
static int signal_notify(void)
{
    chan_t *c = chan_make(sizeof(int), 1);
    int usr1 = SIGUSR1;
    if (chan_signal_notify(c, &usr1, 1) != CHAN_OK)
        return 3;
    int got = 0;
    chan_recv(c, &got);
    return got == SIGUSR1 ? 0 : 4;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_deadlock_simple)
{
    /* Go's TestSimpleDeadlock (runtime/crash_test.go). */
    for (int m = 0; m < NMODES; m++)
        expect_report(simple_deadlock, (enum mode)m);
}
END_TEST

START_TEST(test_deadlock_main_recv)
{
    for (int m = 0; m < NMODES; m++) {
        expect_report(main_recv, (enum mode)m);
        expect_report(main_recv_nil, (enum mode)m);
    }
}
END_TEST

START_TEST(test_deadlock_cycle)
{
    for (int m = 0; m < NMODES; m++)
        expect_report(cycle, (enum mode)m);
}
END_TEST

START_TEST(test_deadlock_waitgroup)
{
    for (int m = 0; m < NMODES; m++) {
        expect_report(waitgroup_alone, (enum mode)m);
        /* A goroutine thread's end is not seen (docs/scheduler.md). */
        if (m == MODE_THREADS)
            expect_report_or_silence(waitgroup_half_done, (enum mode)m);
        else
            expect_report(waitgroup_half_done, (enum mode)m);
    }
}
END_TEST

START_TEST(test_deadlock_all_blocked)
{
    for (int m = 0; m < NMODES; m++)
        expect_report(all_blocked, (enum mode)m);
}
END_TEST

START_TEST(test_deadlock_locked)
{
    /* Go's TestLockedDeadlock2. */
    for (int m = 0; m < NMODES; m++)
        expect_report(locked_deadlock, (enum mode)m);
}
END_TEST

START_TEST(test_deadlock_after_fired)
{
    for (int m = 0; m < NMODES; m++)
        expect_report(after_fired, (enum mode)m);
}
END_TEST

START_TEST(test_deadlock_report_dump)
{
    /* The dump follows the blank line: with GOCHAN_DEBUG=1, every blocked
     * operation with its channel. */
    if (UNDER_TSAN)
        return; /* no report there (see the top) */
    setenv("GOCHAN_DEBUG", "1", 1);
    child_t ch;
    child_start(&ch, cycle, MODE_SCHED, false);
    ck_assert(child_wait(&ch, 10000));
    unsetenv("GOCHAN_DEBUG");
    ck_assert_msg(reported(&ch), "%s", ch.err);
    ck_assert_msg(strstr(ch.err, "gochan: 3 blocked operations") != NULL, "%s",
                  ch.err);
    ck_assert_msg(strstr(ch.err, "chan receive") != NULL, "%s", ch.err);
    /* Without it, the goroutines the scheduler knows. */
    child_start(&ch, cycle, MODE_SCHED, false);
    ck_assert(child_wait(&ch, 10000));
    ck_assert_msg(reported(&ch), "%s", ch.err);
    ck_assert_msg(strstr(ch.err, "goroutine ") != NULL, "%s", ch.err);
}
END_TEST

START_TEST(test_deadlock_not_timer)
{
    for (int m = 0; m < NMODES; m++) {
        expect_silence(main_after, (enum mode)m, RELEASE_NONE, false);
        expect_silence(goroutine_sleeps, (enum mode)m, RELEASE_NONE, false);
    }
}
END_TEST

START_TEST(test_deadlock_not_foreign_thread)
{
    for (int m = 0; m < NMODES; m++)
        expect_silence(foreign_thread, (enum mode)m, RELEASE_PIPE, false);
    expect_silence(foreign_thread_sleep, MODE_SCHED, RELEASE_NONE, false);
}
END_TEST

START_TEST(test_deadlock_not_signal_handler)
{
    for (int m = 0; m < NMODES; m++)
        expect_silence(signal_handler, (enum mode)m, RELEASE_SIGNAL, false);
}
END_TEST

START_TEST(test_deadlock_not_syscall)
{
    for (int m = 0; m < NMODES; m++)
        expect_silence(goroutine_read, (enum mode)m, RELEASE_PIPE, false);
}
END_TEST

START_TEST(test_deadlock_not_netpoll)
{
    for (int m = 0; m < NMODES; m++)
        expect_silence(goroutine_netpoll, (enum mode)m, RELEASE_PIPE, false);
}
END_TEST

START_TEST(test_deadlock_not_signal_notify)
{
    for (int m = 0; m < NMODES; m++)
        expect_silence(signal_notify, (enum mode)m, RELEASE_SIGNAL, false);
}
END_TEST

START_TEST(test_deadlock_env_off)
{
    /* GOCHAN_DEADLOCK=0: a real deadlock stays silent (and hangs, as
     * before: the test kills it). */
    for (int m = 0; m < NMODES; m++) {
        child_t ch;
        child_start(&ch, main_recv, (enum mode)m, true);
        ck_assert_msg(!child_wait(&ch, 4 * TU_QUIET_MS), "%s: %s",
                      mode_names[m], ch.err);
        child_kill(&ch);
        ck_assert_msg(ch.err[0] == '\0', "%s: %s", mode_names[m], ch.err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deadlock");
    TCase *tc = tu_tcase(s, "report", 120);
    tcase_add_test(tc, test_deadlock_simple);
    tcase_add_test(tc, test_deadlock_main_recv);
    tcase_add_test(tc, test_deadlock_cycle);
    tcase_add_test(tc, test_deadlock_waitgroup);
    tcase_add_test(tc, test_deadlock_all_blocked);
    tcase_add_test(tc, test_deadlock_locked);
    tcase_add_test(tc, test_deadlock_after_fired);
    tcase_add_test(tc, test_deadlock_report_dump);
    tc = tu_tcase(s, "silent", 120);
    tcase_add_test(tc, test_deadlock_not_timer);
    tcase_add_test(tc, test_deadlock_not_foreign_thread);
    tcase_add_test(tc, test_deadlock_not_signal_handler);
    tcase_add_test(tc, test_deadlock_not_syscall);
    tcase_add_test(tc, test_deadlock_not_netpoll);
    tcase_add_test(tc, test_deadlock_not_signal_notify);
    tcase_add_test(tc, test_deadlock_env_off);
    return tu_run(s);
}
