/* debug.c: the registry of blocked operations and its dump (gochan/debug.h).
 *
 * Blocked operations link a record on their own stack into one global list
 * while they sleep; a record is unlinked, under the same lock, before its
 * operation returns, so the dump only ever reads live records. A blocked
 * operation holds a reference to each of its channels, so the channels a
 * record names are alive too.
 */
#include "debug.h"

#include <gochan/debug.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chan_impl.h"

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

void chan__debug_block(chan__blocked_t *b)
{
    b->tid = current_tid();
    b->since = chan_now();
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
    pthread_mutex_lock(&registry_lock);
    if (b->prev)
        b->prev->next = b->next;
    else
        registry = b->next;
    if (b->next)
        b->next->prev = b->prev;
    pthread_mutex_unlock(&registry_lock);
}

_Noreturn void chan__debug_block_forever(const char *op,
                                         const chan_case_t *cases, size_t n)
{
    chan__blocked_t record = {.op = op, .cases = cases, .ncases = n};
    if (chan__debug_enabled())
        chan__debug_block(&record);
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
    fprintf(out, "thread %ld: %s, blocked %.3fs: ", b->tid, b->op,
            (double)(now - b->since) / 1e9);
    if (!b->cases && b->ncases == 0 && strcmp(b->op, "select") != 0) {
        dump_chan(out, b->c);
    } else {
        for (size_t i = 0; i < b->ncases; i++) {
            fprintf(out, "%s[%zu] %s ", i ? ", " : "", i,
                    b->cases[i].dir == CHAN_SEND ? "send on" : "receive from");
            dump_chan(out, b->cases[i].chan);
        }
        if (b->ncases == 0)
            fprintf(out, "no cases (select {})");
    }
    fputc('\n', out);
}

size_t chan_debug_dump(FILE *out)
{
    if (!out)
        return 0;
    int64_t now = chan_now();
    size_t n = 0;
    pthread_mutex_lock(&registry_lock);
    for (const chan__blocked_t *b = registry; b; b = b->next)
        n++;
    fprintf(out, "gochan: %zu blocked operation%s\n", n, n == 1 ? "" : "s");
    for (const chan__blocked_t *b = registry; b; b = b->next)
        dump_one(out, b, now);
    pthread_mutex_unlock(&registry_lock);
    fflush(out);
    return n;
}

/* SIGQUIT: the handler writes a byte to a pipe (async-signal-safe); a helper
 * thread reads it and prints the dump outside signal context. */
static int sigquit_pipe[2] = {-1, -1};
static pthread_mutex_t sigquit_lock = PTHREAD_MUTEX_INITIALIZER;

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
        pthread_t printer;
        pthread_attr_t attr;
        int err = 0;
        if (pipe(sigquit_pipe) != 0) {
            err = errno;
        } else {
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            err = pthread_create(&printer, &attr, sigquit_printer, NULL);
            pthread_attr_destroy(&attr);
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
