/* debug.c: the registry of blocked operations and its dump (gochan/debug.h).
 *
 * Blocked operations link a record on their own stack into one global list
 * while they sleep; a record is unlinked, under the same lock, before its
 * operation returns, so the dump only ever reads live records. A blocked
 * operation holds a reference to each of its channels, so the channels a
 * record names are alive too.
 *
 * The dump is formatted into memory under the registry lock and written
 * after the lock is dropped: a slow or stuck output (stderr into a pipe that
 * nobody reads) then holds up only the thread that dumps, never every thread
 * that blocks or wakes in gochan.
 */
#include "blocked.h"

#include <gochan/debug.h>

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chan_impl.h"
#include "deadlock.h"
#include "thread.h"

atomic_int chan__debug_state;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static chan__blocked_t *registry; /* protected by registry_lock */

bool chan__debug_enabled_slow(void)
{
    const char *env = getenv("GOCHAN_DEBUG");
    int state = env && strcmp(env, "1") == 0 ? 2 : 1;
    int unknown = 0;
    /* A concurrent chan_debug_enable wins over the environment. */
    atomic_compare_exchange_strong(&chan__debug_state, &unknown, state);
    return atomic_load(&chan__debug_state) == 2;
}

void chan_debug_enable(bool on)
{
    atomic_store(&chan__debug_state, on ? 2 : 1);
}

static long current_tid(void)
{
#ifdef SYS_gettid
    return (long)syscall(SYS_gettid);
#else
    return (long)(uintptr_t)pthread_self();
#endif
}

/* Tells the tracer what b waits on (sched/internal/trace.h). */
static void trace_wait_object(const chan__blocked_t *b)
{
    if (b->reason == SCHED_WAIT_SELECT)
        sched__trace_wait_object(b->reason, SCHED__TRACE_OBJ_SELECT, NULL,
                                 b->ncases);
    else if (b->c)
        sched__trace_wait_object(b->reason, SCHED__TRACE_OBJ_CHAN, b->c,
                                 b->c->dataqsiz);
    else if (b->sync_obj)
        sched__trace_wait_object(b->reason, SCHED__TRACE_OBJ_SYNC, b->sync_obj,
                                 0);
    else if (b->reason == SCHED_WAIT_IO)
        sched__trace_wait_object(b->reason, SCHED__TRACE_OBJ_FD, NULL,
                                 (uint32_t)b->fd);
    else
        sched__trace_wait_object(b->reason, SCHED__TRACE_OBJ_NONE, NULL, 0);
}

void chan__debug_block(chan__blocked_t *b)
{
    if (sched__tracing())
        trace_wait_object(b);
    b->listed = atomic_load(&chan__debug_state) == 2;
    if (!b->listed)
        return;
    b->tid = current_tid();
    b->goid = chan__goid();
    b->since = chan_now();
    chan__stacks_here(b); /* a plain thread's frames, when the build can */
    b->prev = NULL;
    pthread_mutex_lock(&registry_lock);
    b->next = registry;
    if (registry)
        registry->prev = b;
    registry = b;
    pthread_mutex_unlock(&registry_lock);
}

void chan__debug_unblock(chan__blocked_t *b)
{
    if (!b->listed)
        return;
    pthread_mutex_lock(&registry_lock);
    if (b->prev)
        b->prev->next = b->next;
    else
        registry = b->next;
    if (b->next)
        b->next->prev = b->prev;
    pthread_mutex_unlock(&registry_lock);
    free(b->pcs);
}

void chan__park_recorded(struct chan__parker *p, chan__blocked_t *b)
{
    chan__debug_block(b);
    chan__park_as(p, b->reason);
    chan__debug_unblock(b);
}

_Noreturn void chan__debug_block_forever(chan__blocked_t *b)
{
    if (chan__debug_enabled())
        chan__debug_block(b);
    chan__block_forever();
}

static void dump_chan(FILE *out, chan_t *c)
{
    if (!c) {
        fprintf(out, "nil chan");
        return;
    }
    fprintf(out, "chan %p (len %zu, cap %zu%s)", (void *)c, chan__qcount(c),
            c->dataqsiz, chan__is_closed(c) ? ", closed" : "");
}

static void dump_one(FILE *out, const chan__blocked_t *b, int64_t now)
{
    if (b->goid)
        fprintf(out, "goroutine %" PRIu64 ": ", b->goid);
    else
        fprintf(out, "thread %ld: ", b->tid);
    fprintf(out, "%s, blocked %.3fs: ", sched_wait_reason_string(b->reason),
            (double)(now - b->since) / 1e9);
    switch (b->reason) {
    case SCHED_WAIT_SELECT:
        for (size_t i = 0; i < b->ncases; i++) {
            chan_t *c;
            bool send;
            b->case_at(b->cases, i, &c, &send);
            fprintf(out, "%s[%zu] %s ", i ? ", " : "", i,
                    send ? "send on" : "receive from");
            dump_chan(out, c);
        }
        break;
    case SCHED_WAIT_SELECT_NO_CASES:
        fprintf(out, "no cases (select {})");
        break;
    case SCHED_WAIT_SYNC_MUTEX_LOCK:
    case SCHED_WAIT_SYNC_RWMUTEX_RLOCK:
    case SCHED_WAIT_SYNC_RWMUTEX_LOCK:
    case SCHED_WAIT_SYNC_COND_WAIT:
    case SCHED_WAIT_SYNC_WAITGROUP_WAIT:
    case SCHED_WAIT_SEMACQUIRE:
        fprintf(out, "%p", b->sync_obj);
        break;
    case SCHED_WAIT_IO:
        fprintf(out, "fd %d", b->fd);
        break;
    default:
        dump_chan(out, b->c);
        break;
    }
    fputc('\n', out);
}

/* Formats the dump into memory under the registry lock; *n is how many
 * operations it lists. NULL when memory runs out. */
static char *dump_format(size_t *n, size_t *len)
{
    char *text = NULL;
    FILE *mem = open_memstream(&text, len);
    if (!mem)
        return NULL;
    int64_t now = chan_now();
    *n = 0;
    pthread_mutex_lock(&registry_lock);
    for (const chan__blocked_t *b = registry; b; b = b->next)
        (*n)++;
    fprintf(mem, "gochan: %zu blocked operation%s\n", *n, *n == 1 ? "" : "s");
    for (const chan__blocked_t *b = registry; b; b = b->next)
        dump_one(mem, b, now);
    chan__stacks_t *stacks = chan__stacks_collect(registry);
    pthread_mutex_unlock(&registry_lock);
    chan__stacks_print(mem, stacks, now); /* every goroutine's stack */
    bool failed = ferror(mem) != 0;
    if (fclose(mem) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}

size_t chan_debug_dump(FILE *out)
{
    if (!out)
        return 0;
    size_t n = 0, len = 0;
    char *text = dump_format(&n, &len);
    if (!text) {
        fputs("gochan: no memory for the blocked-operation dump\n", out);
        fflush(out);
        return 0;
    }
    fwrite(text, 1, len, out); /* outside every gochan lock */
    fflush(out);
    free(text);
    return n;
}

/* ---- the deadlock report's dump (sched/internal/deadlock.h) ------------ */

/* The blocked operations when they are recorded (GOCHAN_DEBUG=1), else the
 * goroutines the scheduler knows, with what it knows of their waits. */
static void deadlock_dump(FILE *out)
{
    if (chan__debug_enabled()) {
        size_t n = 0, len = 0;
        char *text = dump_format(&n, &len);
        if (text) {
            fwrite(text, 1, len, out);
            free(text);
            return;
        }
    }
    (void)sched_deadlock_print_goroutines(out);
    fputs("(run with GOCHAN_DEBUG=1 to list every blocked operation and "
          "its channels)\n",
          out);
}

__attribute__((constructor)) static void deadlock_dump_init(void)
{
    sched_deadlock_set_dump(deadlock_dump);
}

/* SIGQUIT: the handler writes a byte to a pipe (async-signal-safe); a helper
 * thread reads it and prints the dump outside signal context. The write end
 * is non-blocking, so the handler never waits: a full pipe already holds
 * dumps to come, and one more would add nothing. */
static int sigquit_pipe[2] = {-1, -1};
static pthread_mutex_t sigquit_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool sigquit_printing; /* the printer thread exists */

/* The printer only prints: it wakes nothing, whatever it does. */
static int sigquit_idle_threads(void)
{
    return atomic_load(&sigquit_printing) ? 1 : 0;
}

static sched_deadlock_source_t sigquit_source = {sigquit_idle_threads, NULL};

static void on_sigquit(int sig)
{
    (void)sig;
    int saved = errno;
    char byte = 'q';
    ssize_t ignored = write(sigquit_pipe[1], &byte, 1);
    (void)ignored;
    errno = saved;
}

static void *sigquit_printer(void *arg)
{
    (void)arg;
    char byte;
    while (read(sigquit_pipe[0], &byte, 1) >= 0 || errno == EINTR)
        chan_debug_dump(stderr);
    return NULL;
}

int chan_debug_on_sigquit(void)
{
    chan_debug_enable(true);
    pthread_mutex_lock(&sigquit_lock);
    int status = CHAN_OK;
    if (sigquit_pipe[0] < 0) {
        int err = 0;
        if (pipe(sigquit_pipe) != 0) {
            err = errno;
        } else if (fcntl(sigquit_pipe[1], F_SETFL, O_NONBLOCK) != 0 ||
                   fcntl(sigquit_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
                   fcntl(sigquit_pipe[1], F_SETFD, FD_CLOEXEC) != 0) {
            err = errno;
            close(sigquit_pipe[0]);
            close(sigquit_pipe[1]);
            sigquit_pipe[0] = sigquit_pipe[1] = -1;
        } else {
            static bool registered;
            if (!registered) {
                sched_deadlock_add_source(&sigquit_source);
                sched_deadlock_add_handler(on_sigquit);
                registered = true;
            }
            err = sched__thread_start(sigquit_printer, NULL);
            if (!err)
                atomic_store(&sigquit_printing, true);
            if (err) {
                close(sigquit_pipe[0]);
                close(sigquit_pipe[1]);
                sigquit_pipe[0] = sigquit_pipe[1] = -1;
            }
        }
        if (err) {
            errno = err;
            status = CHAN_NOMEM;
        }
    }
    if (status == CHAN_OK) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigquit;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGQUIT, &sa, NULL);
    }
    pthread_mutex_unlock(&sigquit_lock);
    return status;
}
