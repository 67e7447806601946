/* signal.c: Go's os/signal (signal.go, with the runtime's sigqueue.go) on
 * gochan channels: Notify, Stop, Reset, Ignore and the delivery thread.
 *
 * Design. A signal can arrive on any thread at any instruction, so the
 * handler (on_signal) does only what is async-signal-safe: it marks the
 * signal pending in a per-signal flag, counts it in `caught` and writes one
 * byte to a non-blocking pipe (if the pipe is full, a wakeup is already on
 * its way). One delivery thread, started by the first Notify and alive for
 * the rest of the process (gochan's other service threads live as long),
 * sleeps in read() on that pipe; woken, it takes every pending flag and, for
 * each signal, try-sends its number to every channel that wants it. Several
 * arrivals of one signal between two rounds merge into one, as Go's sig.mask
 * merges them.
 *
 * The state is in two structs, by what protects it. Go's handlers table is
 * `handlers`: `list`, one entry per channel (its signal mask and a reference
 * to the channel), with `ref`, how many entries want each signal, and the
 * delivery thread's progress. Everything in it is under `handlers.mu`, which
 * the delivery thread holds while it sends, so once Stop has taken an entry
 * out under mu no send to that channel can follow. What the handler touches
 * is `sigq` (Go's runtime sig): atomics only, as a handler may interrupt a
 * holder of mu.
 *
 * Stop must also lose no signal (Go's TestAtomicStop): a signal caught by our
 * handler just before Stop gave the default disposition back must still reach
 * the channel, since its default effect will never happen. Stop therefore
 * keeps the entry in the list marked `stopping` (Go's handlers.stopping:
 * Notify no longer finds it, delivery still sends to it), waits until no
 * handler is running (`inflight`) and until the delivery thread has handled
 * every signal caught so far (`handled` reaches `caught`; Go's
 * signalWaitUntilIdle), and only then removes the entry.
 *
 * Lock order: handlers.mu, then a channel's lock (inside chan_try_send).
 * Nothing here waits while holding mu, except on the `idle` condition, which
 * releases it.
 */
#include <gochan/signal.h>

#include <gochan/timer.h>

#include "chan_internal.h"
#include "deadlock.h"
#include "invariant.h"
#include "signal_impl.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define SIG_WORDS ((NSIG + 63) / 64)

/* One registered channel: Go's handler, plus the channel it is for. */
typedef struct handler {
    chan_t *c;                /* a reference, dropped when the entry goes */
    uint64_t mask[SIG_WORDS]; /* the signals c wants */
    bool stopping;            /* Stop is draining it; Notify skips it */
    struct handler *next;
} handler;

/* Go's os/signal handlers: the registrations and the delivery thread's
 * progress, all under mu (read_fd excepted, see there). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t idle;          /* handled moved */
    handler *list;                /* one entry per channel */
    long ref[NSIG];               /* entries (not stopping) per signal */
    struct sigaction saved[NSIG]; /* what gochan's first takeover replaced */
    bool has_saved[NSIG];         /* saved[sig] is to be given back */
    bool running;                 /* the delivery thread is started */
    unsigned long handled;        /* caught count fully delivered */
    int read_fd; /* the pipe's read end: set under mu before the delivery
                    thread starts, then read by that thread alone */
} handlers = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
    .read_fd = -1,
};

/* Go's runtime sig (sigqueue.go): what the handler shares with everyone.
 * The handler may interrupt a holder of handlers.mu, so it cannot take a
 * lock: lock-free atomics only. */
static struct {
    atomic_int wanted[NSIG];  /* 1: some channel wants it (ref > 0) */
    atomic_int pending[NSIG]; /* 1: arrived, not yet delivered */
    atomic_ulong caught;      /* arrivals counted by the handler */
    atomic_int inflight;      /* handlers running now */
    atomic_int wake_fd;       /* the pipe's write end, set before use */
} sigq = {.wake_fd = -1};

/* What the deadlock check reads (sched/internal/deadlock.h), without mu:
 * how many entries handlers.list holds (a signal may come for any of them,
 * and the delivery thread would send it on), and whether the delivery
 * thread exists. Written under mu. */
static struct {
    atomic_int entries;
    atomic_bool running;
} dl_seen;

static int signal_idle_threads(void)
{
    if (atomic_load(&dl_seen.entries) != 0)
        return -1;
    return atomic_load(&dl_seen.running) ? 1 : 0;
}

static sched_deadlock_source_t signal_source = {signal_idle_threads, NULL};

/* ---- which signals ---- */

/* A signal a channel may ask for: see signal.h. glibc keeps 32 and 33 for
 * itself, below SIGRTMIN. */
static bool sig_valid(int sig)
{
    if (sig <= 0 || sig >= NSIG || sig > SIGRTMAX ||
        (sig > 31 && sig < SIGRTMIN))
        return false;
    switch (sig) {
    case SIGKILL:
    case SIGSTOP: /* cannot be caught */
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL: /* a handler returning from a real fault faults again */
        return false;
    default:
        return true;
    }
}

/* The "all" set of an empty list: see signal.h for why these three stay out.
 */
static bool sig_in_all(int sig)
{
    return sig_valid(sig) && sig != SIGABRT && sig != SIGTRAP && sig != SIGSYS;
}

bool chan__signal_list_valid(const int *sigs, size_t nsigs)
{
    if (nsigs > 0 && !sigs)
        return false;
    for (size_t i = 0; i < nsigs; i++)
        if (!sig_valid(sigs[i]))
            return false;
    return true;
}

/* The signals a call names, each once, into list (NSIG entries): sigs, or
 * when nsigs is 0 the "all" set, or with every (Reset) every valid signal,
 * since giving back touches only what gochan took. The list was validated. */
static size_t expand(const int *sigs, size_t nsigs, bool every, int *list)
{
    size_t n = 0;
    if (nsigs == 0) {
        for (int sig = 1; sig < NSIG; sig++)
            if (every ? sig_valid(sig) : sig_in_all(sig))
                list[n++] = sig;
        return n;
    }
    bool seen[NSIG] = {false};
    for (size_t i = 0; i < nsigs; i++)
        if (!seen[sigs[i]]) {
            seen[sigs[i]] = true;
            list[n++] = sigs[i];
        }
    return n;
}

static bool wants(const handler *h, int sig)
{
    return (h->mask[sig / 64] >> (sig % 64)) & 1;
}

static bool mask_empty(const handler *h)
{
    for (int i = 0; i < SIG_WORDS; i++)
        if (h->mask[i])
            return false;
    return true;
}

/* ---- the handler and the delivery thread ---- */

/* Async-signal-safe: atomics that are lock-free, write() and raise(); errno
 * is the interrupted code's. The pending flag is set before `caught` counts
 * it, so the delivery thread, having read caught, sees the flag.
 *
 * A signal nobody wants any more (Stop or Reset cleared `wanted`, and is
 * giving the saved disposition back, or has) is raised again: it is blocked
 * while its handler runs, so it comes back once this returns, and keeps
 * coming back until the saved disposition is in place, which then acts on it
 * (Go's handler likewise falls back to the default action). With inflight
 * counted first, Stop either sees this handler running and waits for it, or
 * had cleared wanted before it began (both are sequentially consistent). */
static void on_signal(int sig)
{
    int saved_errno = errno;
    atomic_fetch_add(&sigq.inflight, 1);
    if (!atomic_load(&sigq.wanted[sig])) {
        raise(sig);
        atomic_fetch_sub(&sigq.inflight, 1);
        errno = saved_errno;
        return;
    }
    atomic_store_explicit(&sigq.pending[sig], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sigq.caught, 1, memory_order_release);
    char byte = 0;
    ssize_t ignored = write(
        atomic_load_explicit(&sigq.wake_fd, memory_order_relaxed), &byte, 1);
    (void)ignored; /* EAGAIN: the pipe is full, a wakeup is pending */
    atomic_fetch_sub(&sigq.inflight, 1);
    errno = saved_errno;
}

/* Go's process(sig): mu is held. A full or closed channel just misses it. */
static void process(int sig)
{
    for (handler *h = handlers.list; h; h = h->next)
        if (wants(h, sig))
            (void)chan_try_send(h->c, &sig);
}

/* Go's signal_recv loop (watchSignalLoop). Runs with every signal blocked,
 * so that the handler never interrupts it. */
static void *delivery_thread(void *unused)
{
    (void)unused;
    char buf[64];
    for (;;) {
        if (read(handlers.read_fd, buf, sizeof buf) < 0 && errno != EINTR)
            continue; /* cannot happen: the pipe is never closed */
        pthread_mutex_lock(&handlers.mu);
        unsigned long seen =
            atomic_load_explicit(&sigq.caught, memory_order_acquire);
        for (int sig = 1; sig < NSIG; sig++)
            if (atomic_exchange_explicit(&sigq.pending[sig], 0,
                                         memory_order_relaxed))
                process(sig);
        /* handled <= caught: only what the handler counted is delivered. */
        sched__invariant(handlers.handled <= seen &&
                             seen <= atomic_load(&sigq.caught),
                         "signal: handled moves up to caught, never past it");
        handlers.handled = seen;
        pthread_cond_broadcast(&handlers.idle);
        pthread_mutex_unlock(&handlers.mu);
    }
    return NULL;
}

/* fork(): the child has no delivery thread. mu is taken around the fork so
 * that the child's copy of the state is consistent; the child forgets the
 * thread and its pipe (signals caught there stay pending), so that its next
 * Notify starts a thread of its own and its Stop does not wait for one. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&handlers.mu);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&handlers.mu);
}

static void fork_child(void)
{
    if (handlers.running) {
        close(atomic_exchange(&sigq.wake_fd, -1));
        close(handlers.read_fd);
        handlers.read_fd = -1;
        handlers.running = false;
        atomic_store(&dl_seen.running, false);
        handlers.handled = atomic_load(&sigq.caught);
    }
    pthread_mutex_unlock(&handlers.mu);
}

/* The pipe and the delivery thread, once per process; mu is held. 0, or -1
 * when either cannot be made (then nothing is left behind and a later Notify
 * retries). */
static int start_delivery(void)
{
    static bool atfork;
    if (handlers.running)
        return 0;
    if (!atfork && pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        return -1;
    if (!atfork)
        sched_deadlock_add_source(&signal_source);
    atfork = true;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    if (fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0)
        goto fail;
    handlers.read_fd = fds[0];
    atomic_store(&sigq.wake_fd, fds[1]);
    /* The thread inherits this mask: every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = sched__thread_start(delivery_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0)
        goto fail;
    handlers.running = true;
    atomic_store(&dl_seen.running, true);
    return 0;
fail:
    close(fds[0]);
    close(fds[1]);
    handlers.read_fd = -1;
    atomic_store(&sigq.wake_fd, -1);
    return -1;
}

/* ---- dispositions (mu is held) ---- */

/* Go's enableSignal and ignoreSignal: installs fn (our handler or SIG_IGN)
 * for sig, saving the disposition it replaces if none is saved yet. */
static void take_over(int sig, void (*fn)(int))
{
    atomic_store(&sigq.wanted[sig], fn == on_signal);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    /* On the M's alternate stack, as Go's handler, since a goroutine's
     * stack may be nearly full. Not under valgrind: a handler run on the
     * alternate stack of a thread whose stack pointer is in a goroutine's
     * (registered) stack leaves valgrind's idea of that stack wrong, and
     * a later push on it is reported as an invalid write (seen with
     * examples/echo_server, which raises SIGTERM from a goroutine). The
     * relay handler is small, and a goroutine's stack has 64 KiB of guard
     * below it. */
    sa.sa_flags = SA_RESTART | (RUNNING_ON_VALGRIND ? 0 : SA_ONSTACK);
    sigaction(sig, &sa, handlers.has_saved[sig] ? NULL : &handlers.saved[sig]);
    handlers.has_saved[sig] = true;
}

/* Go's disableSignal: the saved disposition back, if gochan replaced one. */
static void give_back(int sig)
{
    atomic_store(&sigq.wanted[sig], 0);
    if (handlers.has_saved[sig]) {
        sigaction(sig, &handlers.saved[sig], NULL);
        handlers.has_saved[sig] = false;
    }
}

/* ---- Notify ---- */

static handler *find(chan_t *c)
{
    for (handler *h = handlers.list; h; h = h->next)
        if (h->c == c && !h->stopping)
            return h;
    return NULL;
}

int chan_signal_notify(chan_t *c, const int *sigs, size_t nsigs)
{
    if (!c || chan__elem_size(c) != sizeof(int) ||
        !chan__signal_list_valid(sigs, nsigs))
        return CHAN_INVALID;
    int list[NSIG];
    size_t n = expand(sigs, nsigs, false, list);
    pthread_mutex_lock(&handlers.mu);
    handler *h = find(c);
    bool fresh = !h;
    if (fresh)
        h = calloc(1, sizeof *h);
    if (!h || start_delivery() != 0) {
        pthread_mutex_unlock(&handlers.mu);
        if (fresh)
            free(h);
        return CHAN_NOMEM;
    }
    if (fresh) {
        h->c = chan_retain(c);
        h->next = handlers.list;
        handlers.list = h;
        atomic_fetch_add(&dl_seen.entries, 1);
    }
    for (size_t i = 0; i < n; i++) {
        int sig = list[i];
        if (wants(h, sig))
            continue;
        h->mask[sig / 64] |= UINT64_C(1) << (sig % 64);
        if (handlers.ref[sig]++ == 0)
            take_over(sig, on_signal);
    }
    pthread_mutex_unlock(&handlers.mu);
    return CHAN_OK;
}

/* ---- Stop ---- */

/* Unlinks h from handlers.list; mu is held. */
static void unlink_handler(handler *h)
{
    for (handler **p = &handlers.list; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            atomic_fetch_sub(&dl_seen.entries, 1);
            return;
        }
}

/* Go's signalWaitUntilIdle, with mu held (and released while waiting): every
 * signal our handler caught before now has been delivered. A handler still
 * running has not counted yet, so wait for those first. On a goroutine it
 * sleeps in short parks rather than blocking its thread on the condition. */
static void wait_until_idle(void)
{
    while (atomic_load(&sigq.inflight) != 0)
        sched_yield(); /* a few instructions of a handler on another CPU */
    unsigned long target =
        atomic_load_explicit(&sigq.caught, memory_order_acquire);
    sched__invariant(handlers.handled <= target,
                     "signal: handled never passes caught");
    bool park = chan__on_goroutine();
    while (handlers.running && handlers.handled < target) {
        if (!park) {
            pthread_cond_wait(&handlers.idle, &handlers.mu);
            continue;
        }
        pthread_mutex_unlock(&handlers.mu);
        chan_sleep(50 * CHAN_MICROSECOND);
        pthread_mutex_lock(&handlers.mu);
    }
}

int chan_signal_stop(chan_t *c)
{
    if (!c)
        return CHAN_INVALID;
    pthread_mutex_lock(&handlers.mu);
    handler *h = find(c);
    if (!h) {
        pthread_mutex_unlock(&handlers.mu);
        return CHAN_OK; /* Go: Stop of an unregistered channel does nothing */
    }
    h->stopping = true;
    for (int sig = 1; sig < NSIG; sig++)
        if (wants(h, sig) && --handlers.ref[sig] == 0)
            give_back(sig);
    wait_until_idle();
    unlink_handler(h);
    pthread_mutex_unlock(&handlers.mu);
    chan_release(h->c);
    free(h);
    return CHAN_OK;
}

/* ---- Reset and Ignore ---- */

/* Go's cancel(sigs, action): no entry wants these signals any more (entries
 * left with none go, and with them gochan's reference), then action. */
static int cancel(const int *sigs, size_t nsigs, bool ignore)
{
    if (!chan__signal_list_valid(sigs, nsigs))
        return CHAN_INVALID;
    int list[NSIG];
    size_t n = expand(sigs, nsigs, !ignore, list);
    handler *gone = NULL;
    pthread_mutex_lock(&handlers.mu);
    for (size_t i = 0; i < n; i++) {
        int sig = list[i];
        for (handler **p = &handlers.list; *p;) {
            handler *h = *p;
            if (!h->stopping && wants(h, sig)) {
                h->mask[sig / 64] &= ~(UINT64_C(1) << (sig % 64));
                handlers.ref[sig]--;
            }
            if (!h->stopping && mask_empty(h)) {
                *p = h->next; /* no signal left: Go deletes it from m */
                atomic_fetch_sub(&dl_seen.entries, 1);
                h->next = gone;
                gone = h;
                continue;
            }
            p = &h->next;
        }
        if (ignore)
            take_over(sig, SIG_IGN);
        else
            give_back(sig);
    }
    pthread_mutex_unlock(&handlers.mu);
    while (gone) {
        handler *h = gone;
        gone = h->next;
        chan_release(h->c);
        free(h);
    }
    return CHAN_OK;
}

int chan_signal_reset(const int *sigs, size_t nsigs)
{
    return cancel(sigs, nsigs, false);
}

int chan_signal_ignore(const int *sigs, size_t nsigs)
{
    return cancel(sigs, nsigs, true);
}
