/* deadlock.c: Go's checkdead (runtime/proc.go) for a library that shares its
 * process with threads it did not start (see deadlock.h, and "Deadlock
 * detection" in docs/scheduler.md).
 *
 * Go's runtime owns every thread and counts them under sched.lock: when the
 * last M goes idle with no goroutine runnable and no timer pending, nothing
 * can run again. A library cannot count the threads of its process that
 * way, so the check counts what it knows to be asleep for good (idle Ms,
 * plain threads asleep in a gochan wait, idle service threads) and asks the
 * kernel how many threads there are (/proc/self/stat, field 20): a report
 * needs the two to be equal. A thread gochan does not know about (one in
 * read(), in sleep(), in pthread_join, computing) makes them differ.
 *
 * The reads cannot all happen at one instant, and no lock stops the world
 * while they are made. What makes them agree is a rule every wake-up
 * follows: whoever wakes an idle M or a sleeping plain thread bumps `gen`
 * after taking it off the books and before it can run. A check reads gen
 * first and last and reports only when it did not move. Between those reads
 * nothing asleep was woken, so whatever was running at the end was running
 * all along and was seen running by the read that concerns it. The things
 * that may wake a sleeper without a thread of the process (a timer, a file
 * descriptor in the poller, a signal) are read after the threads: each can
 * only have appeared through a thread that was running when it was counted.
 *
 * The cost: nothing on the fast paths. A plain thread pays an atomic
 * increment and the cheap checks when it goes to sleep in the kernel, its
 * waker an atomic decrement and increment; /proc is read only when every
 * counter already says the process is asleep.
 */
#include "internal/deadlock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadlock_impl.h"
#include "internal/race.h"
#ifdef __linux__
#include "internal/netpoll.h"
#endif

/* GOCHAN_DEADLOCK: 0 not read yet, 1 off, 2 on. */
static atomic_int enabled_state;

/* Bumped after every wake-up of something counted as asleep. */
static _Atomic uint64_t gen;
/* Plain threads counted asleep in a gochan wait (sched_deadlock_park). A
 * waker may take one off just before its sleeper counts itself, so it may
 * dip below zero for a moment. */
static _Atomic int32_t plain_parked;
static atomic_bool reported;

/* Plain threads that have slept in a gochan wait at least once and not yet
 * exited: while more of them are alive than asleep, one is awake, and the
 * check needs no /proc to know it (two threads handing values back and
 * forth never read it). A thread's pthread key destructor takes it off, a
 * moment before it is gone. */
static _Atomic int32_t known_alive;
static _Thread_local bool tls_known;
static pthread_key_t known_key;
static pthread_once_t known_once = PTHREAD_ONCE_INIT;
static bool known_key_ok;

static void known_exit(void *v)
{
    (void)v;
    tls_known = false;
    atomic_fetch_sub_explicit(&known_alive, 1, memory_order_seq_cst);
}

static void known_key_make(void)
{
    known_key_ok = pthread_key_create(&known_key, known_exit) == 0;
}

/* Counts the calling thread in known_alive, once. Without the key (no
 * memory) it is not counted, which only costs the shortcut. */
static void known_register(void)
{
    if (tls_known)
        return;
    pthread_once(&known_once, known_key_make);
    if (!known_key_ok || pthread_setspecific(known_key, &known_key) != 0)
        return;
    tls_known = true;
    atomic_fetch_add_explicit(&known_alive, 1, memory_order_seq_cst);
}

static _Atomic(sched_deadlock_source_t *) sources;

enum { MAX_HANDLERS = 8 };
static _Atomic uintptr_t known_handlers[MAX_HANDLERS];
static _Atomic uintptr_t dump_fn;

/* The fault signals' handlers found at load, before any code of the
 * program's ran: a sanitizer's (AddressSanitizer and ThreadSanitizer install
 * theirs for SIGSEGV, SIGBUS and SIGFPE before constructors run). They
 * report a fault, which nothing asleep can raise. */
static const int fault_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
enum { NFAULT = sizeof fault_sigs / sizeof fault_sigs[0] };
static uintptr_t fault_at_load[NFAULT];

bool sched_deadlock_enabled(void)
{
    int st = atomic_load_explicit(&enabled_state, memory_order_relaxed);
    if (st == 0) {
        const char *env = getenv("GOCHAN_DEADLOCK");
        st = env && strcmp(env, "0") == 0 ? 1 : 2;
        atomic_store_explicit(&enabled_state, st, memory_order_relaxed);
    }
    return st == 2;
}

void sched_deadlock_add_source(sched_deadlock_source_t *src)
{
    src->next = atomic_load(&sources);
    while (!atomic_compare_exchange_weak(&sources, &src->next, src))
        ;
}

void sched_deadlock_add_handler(void (*handler)(int))
{
    uintptr_t h = (uintptr_t)handler;
    for (int i = 0; i < MAX_HANDLERS; i++) {
        uintptr_t none = 0;
        if (atomic_load(&known_handlers[i]) == h ||
            atomic_compare_exchange_strong(&known_handlers[i], &none, h))
            return;
    }
}

void sched_deadlock_set_dump(void (*dump)(FILE *out))
{
    atomic_store(&dump_fn, (uintptr_t)dump);
}

void sched_deadlock_bump(void)
{
    atomic_fetch_add_explicit(&gen, 1, memory_order_seq_cst);
}

bool sched_deadlock_park(void)
{
    if (!sched_deadlock_enabled())
        return false;
    known_register();
    atomic_fetch_add_explicit(&plain_parked, 1, memory_order_seq_cst);
    sched_checkdead();
    return true;
}

void sched_deadlock_unpark(void)
{
    atomic_fetch_sub_explicit(&plain_parked, 1, memory_order_seq_cst);
    sched_deadlock_bump();
}

void sched_deadlock_park_forever(void)
{
    if (!sched_deadlock_enabled())
        return;
    known_register();
    atomic_fetch_add_explicit(&plain_parked, 1, memory_order_seq_cst);
    sched_checkdead();
}

/* ---- what the check reads ------------------------------------------------ */

/* The number of threads of the process, from the kernel: field 20 of
 * /proc/self/stat, read in one go. -1 when it cannot tell. */
static int proc_threads(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf - 1)) < 0 && errno == EINTR)
        ;
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    for (int field = 2; field < 20; p++) {
        if (*p == '\0')
            return -1;
        if (*p == ' ')
            field++;
    }
    char *end;
    long k = strtol(p, &end, 10);
    return end != p && k > 0 && k < INT32_MAX ? (int)k : -1;
}

/* The sources' idle threads, or -1 when one may still wake something (and
 * when a goroutine waits on the network poller). */
static int sources_idle_threads(void)
{
#ifdef __linux__
    if (sched_netpoll_waiters() != 0)
        return -1;
#endif
    int n = 0;
    for (sched_deadlock_source_t *s = atomic_load(&sources); s; s = s->next) {
        int k = s->idle_threads();
        if (k < 0)
            return -1;
        n += k;
    }
    return n;
}

static uintptr_t handler_of(const struct sigaction *sa)
{
    return sa->sa_flags & SA_SIGINFO ? (uintptr_t)sa->sa_sigaction
                                     : (uintptr_t)sa->sa_handler;
}

static bool handler_known(int sig, uintptr_t h)
{
    for (int i = 0; i < MAX_HANDLERS; i++)
        if (atomic_load(&known_handlers[i]) == h)
            return true;
    for (int i = 0; i < NFAULT; i++)
        if (fault_sigs[i] == sig && fault_at_load[i] == h)
            return true;
    return false;
}

/* No signal has a handler that could wake a sleeper: each is the default,
 * ignored, or one of gochan's own that wakes nothing. A user's handler may
 * send on a channel when a signal comes, so it rules a report out. */
static bool dispositions_quiet(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) != 0)
            continue; /* one the C library keeps for itself (32, 33) */
        for (int hop = 0;; hop++) {
            uintptr_t h = handler_of(&sa);
            if (h == (uintptr_t)SIG_DFL || h == (uintptr_t)SIG_IGN)
                break;
            if (hop < 4 && sched__deadlock_unchain(sig, &sa))
                continue; /* gochan's overflow report: what it passes on */
            if (!handler_known(sig, h))
                return false;
            break;
        }
    }
    return true;
}

/* ThreadSanitizer's runtime runs a thread of its own, which /proc counts
 * and nothing here can tell from a user's: under it there is no proof, so
 * no report. (AddressSanitizer and valgrind add no thread.) */
static bool tool_threads(void)
{
    return __tsan_acquire != NULL;
}

/* ---- the report ---------------------------------------------------------- */

static void write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static const char fatal_line[] =
    "fatal error: all goroutines are asleep - deadlock!\n\n";

/* Go's throw("all goroutines are asleep - deadlock!"): the line, a blank
 * line, the dump, and exit status 2 without running atexit handlers (Go
 * runs none). What the program printed to stdout goes out first, unless a
 * sleeper holds the stream. */
static _Noreturn void report(void)
{
    if (ftrylockfile(stdout) == 0) {
        fflush(stdout);
        funlockfile(stdout);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        fputs(fatal_line, mem);
        void (*dump)(FILE *) = (void (*)(FILE *))atomic_load(&dump_fn);
        if (dump)
            dump(mem);
        else
            (void)sched__deadlock_print_goroutines(mem);
        if (fclose(mem) == 0 && text)
            write_all(STDERR_FILENO, text, len);
        else
            write_all(STDERR_FILENO, fatal_line, sizeof fatal_line - 1);
    } else {
        write_all(STDERR_FILENO, fatal_line, sizeof fatal_line - 1);
    }
    _exit(2);
}

size_t sched_deadlock_print_goroutines(FILE *out)
{
    return sched__deadlock_print_goroutines(out);
}

/* ---- the check ----------------------------------------------------------- */

void sched_checkdead(void)
{
    if (!sched_deadlock_enabled() || tool_threads())
        return;
    uint64_t gen0 = atomic_load_explicit(&gen, memory_order_seq_cst);
    /* The cheap counters first: a plain thread known to be awake, a source
     * busy, a P running. */
    int32_t plain = atomic_load_explicit(&plain_parked, memory_order_seq_cst);
    if (plain < 0 ||
        plain < atomic_load_explicit(&known_alive, memory_order_seq_cst) ||
        sources_idle_threads() < 0)
        return;
    int sched_threads;
    if (!sched__deadlock_sched_idle(&sched_threads))
        return;
    /* The threads, then what only a running thread can have started. */
    int nthreads = proc_threads();
    if (nthreads < 0)
        return;
    int src_threads = sources_idle_threads();
    if (src_threads < 0 || nthreads != sched_threads + plain + src_threads ||
        !dispositions_quiet() || !sched__deadlock_all_waiting())
        return;
    if (atomic_load_explicit(&gen, memory_order_seq_cst) != gen0)
        return; /* something woke while we looked: whoever sleeps next checks */
    if (atomic_exchange(&reported, true))
        return; /* another thread is reporting */
    report();
}

/* ---- load and fork ------------------------------------------------------- */

/* The child of fork() has one thread, the one that forked, which sleeps in
 * no gochan wait. */
static void deadlock_atfork_child(void)
{
    atomic_store(&plain_parked, 0);
    atomic_store(&known_alive, tls_known ? 1 : 0);
    atomic_store(&reported, false);
}

__attribute__((constructor)) static void deadlock_init(void)
{
    for (int i = 0; i < NFAULT; i++) {
        struct sigaction sa;
        if (sigaction(fault_sigs[i], NULL, &sa) == 0)
            fault_at_load[i] = handler_of(&sa);
    }
    (void)pthread_atfork(NULL, NULL, deadlock_atfork_child);
}
