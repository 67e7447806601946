/* signal_context.c: Go's signal.NotifyContext and its signalCtx.
 *
 * As in Go, the context is a cancel context (context_with_cancel of the
 * parent) seen through a wrapper that only changes String; the wrapper is a
 * foreign context (context_init) whose other methods forward to the cancel
 * context, so that children find that cancelCtx through Value and join its
 * children set, as they do in Go. A buffered channel of one is registered
 * with chan_signal_notify, and a goroutine waits for the first of: a signal
 * (it cancels) or Done (stop or the parent; it unregisters the channel).
 *
 * Where C differs: Go's stop is a closure that cancels and then Stops the
 * channel. Here stop is the cancel handle itself (the type
 * context_cancel_t), so nothing runs inside context_cancel but the cancel;
 * the goroutine does the unregistering, shortly after. After a signal the
 * goroutine cannot tell a later stop from nothing (the context is already
 * done), so the channel stays registered, swallowing further arrivals as Go
 * does until stop, until the wrapper is freed.
 */
#include <gochan/signal.h>

#include <gochan/go.h>
#include <gochan/select.h>

#include "signal_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Go's signalCtx. Immutable after construction. */
typedef struct sigctx {
    context_t ctx;            /* the wrapper; its vtable is sigctx_vtable */
    context_t *inner;         /* Go's embedded Context: a cancel context */
    context_cancel_t *cancel; /* inner's cancel handle: the stop handle */
    chan_t *ch;               /* chan int, cap 1, registered for sigs */
    int *sigs;                /* a copy, for String; NULL when nsigs is 0 */
    size_t nsigs;
} sigctx;

/* What the watching goroutine owns: references of its own. */
typedef struct watch {
    context_t *inner;
    context_cancel_t *cancel; /* valid while inner is */
    chan_t *ch;
    chan_t *done; /* inner's Done, borrowed from inner */
} watch;

/* ---- Go's signal names (syscall's table for Linux) ---- */

static const struct {
    int sig;
    const char *name;
} names[] = {
    {SIGHUP, "hangup"},
    {SIGINT, "interrupt"},
    {SIGQUIT, "quit"},
    {SIGILL, "illegal instruction"},
    {SIGTRAP, "trace/breakpoint trap"},
    {SIGABRT, "aborted"},
    {SIGBUS, "bus error"},
    {SIGFPE, "floating point exception"},
    {SIGKILL, "killed"},
    {SIGUSR1, "user defined signal 1"},
    {SIGSEGV, "segmentation fault"},
    {SIGUSR2, "user defined signal 2"},
    {SIGPIPE, "broken pipe"},
    {SIGALRM, "alarm clock"},
    {SIGTERM, "terminated"},
#ifdef SIGSTKFLT
    {SIGSTKFLT, "stack fault"},
#endif
    {SIGCHLD, "child exited"},
    {SIGCONT, "continued"},
    {SIGSTOP, "stopped (signal)"},
    {SIGTSTP, "stopped"},
    {SIGTTIN, "stopped (tty input)"},
    {SIGTTOU, "stopped (tty output)"},
    {SIGURG, "urgent I/O condition"},
    {SIGXCPU, "CPU time limit exceeded"},
    {SIGXFSZ, "file size limit exceeded"},
    {SIGVTALRM, "virtual timer expired"},
    {SIGPROF, "profiling timer expired"},
    {SIGWINCH, "window changed"},
    {SIGIO, "I/O possible"},
#ifdef SIGPWR
    {SIGPWR, "power failure"},
#endif
    {SIGSYS, "bad system call"},
};

/* Go's Signal.String: the name, else "signal N". tmp holds the latter. */
static const char *signal_name(int sig, char tmp[32])
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    snprintf(tmp, 32, "signal %d", sig);
    return tmp;
}

size_t chan_signal_string(int sig, char *buf, size_t n)
{
    char tmp[32];
    int len = snprintf(buf, n, "%s", signal_name(sig, tmp));
    return len < 0 ? 0 : (size_t)len;
}

/* ---- the wrapper's methods ---- */

static bool sigctx_deadline(context_t *self, int64_t *deadline)
{
    return context_deadline(((sigctx *)self)->inner, deadline);
}

static chan_t *sigctx_done(context_t *self)
{
    return context_done(((sigctx *)self)->inner);
}

static const context_error_t *sigctx_err(context_t *self)
{
    return context_err(((sigctx *)self)->inner);
}

static void *sigctx_value(context_t *self, const void *key)
{
    return context_value(((sigctx *)self)->inner, key);
}

/* Appends s at *pos, snprintf style: what fits in n, always NUL-terminated;
 * *pos counts the whole length. */
static void put(char *buf, size_t n, size_t *pos, const char *s)
{
    size_t len = strlen(s);
    if (*pos < n) {
        size_t room = n - 1 - *pos;
        size_t k = len < room ? len : room;
        memcpy(buf + *pos, s, k);
        buf[*pos + k] = '\0';
    }
    *pos += len;
}

/* Go's signalCtx.String: the cancel context's name less ".WithCancel", then
 * the signals' names in brackets. The name is written in place; what follows
 * overwrites its suffix. */
static size_t sigctx_string(context_t *self, char *buf, size_t n)
{
    static const char suffix[] = ".WithCancel";
    sigctx *c = (sigctx *)self;
    size_t pos = 0;
    put(buf, n, &pos, "signal.NotifyContext(");
    size_t len = pos < n ? context_string(c->inner, buf + pos, n - pos)
                         : context_string(c->inner, NULL, 0);
    if (len >= sizeof suffix - 1)
        len -= sizeof suffix - 1;
    pos += len;
    for (size_t i = 0; i < c->nsigs; i++) {
        char tmp[32];
        put(buf, n, &pos, i == 0 ? ", [" : " ");
        put(buf, n, &pos, signal_name(c->sigs[i], tmp));
        if (i == c->nsigs - 1)
            put(buf, n, &pos, "]");
    }
    put(buf, n, &pos, ")");
    return pos;
}

/* The last reference is gone: nobody can observe the context, so end its
 * goroutine (cancel) and unregister, whether or not stop was called. */
static void sigctx_free(context_t *self)
{
    sigctx *c = (sigctx *)self;
    context_cancel(c->cancel);
    chan_signal_stop(c->ch);
    chan_release(c->ch);
    context_release(c->inner);
    free(c->sigs);
    free(c);
}

static const context_vtable_t sigctx_vtable = {
    .deadline = sigctx_deadline,
    .done = sigctx_done,
    .err = sigctx_err,
    .value = sigctx_value,
    .string = sigctx_string,
    .free = sigctx_free,
};

/* ---- the watching goroutine ---- */

/* Go's `select { case <-c.ch: c.cancel(); case <-c.Done(): }`, plus the
 * unregistering that Go's stop does, when the end was not a signal. */
static void watcher(void *arg)
{
    watch *w = arg;
    chan_case_t cases[] = {CHAN_RECV_CASE(w->ch, NULL),
                           CHAN_RECV_CASE(w->done, NULL)};
    if (chan_select(cases, 2) == 0)
        context_cancel(w->cancel);
    else
        chan_signal_stop(w->ch);
    chan_release(w->ch);
    context_release(w->inner);
    free(w);
}

/* Starts the watcher with references of its own; 0 or -1 (ENOMEM). */
static int start_watcher(sigctx *c, chan_t *done)
{
    watch *w = malloc(sizeof *w);
    if (!w)
        return -1;
    *w = (watch){context_retain(c->inner), c->cancel, chan_retain(c->ch), done};
    if (chan_go(watcher, w) != CHAN_OK) {
        chan_release(w->ch);
        context_release(w->inner);
        free(w);
        return -1;
    }
    return 0;
}

/* ---- NotifyContext ---- */

/* Undoes a construction that got as far as c's non-NULL fields. */
static context_t *fail(sigctx *c, int err)
{
    if (c->ch) {
        chan_signal_stop(c->ch);
        chan_release(c->ch);
    }
    if (c->inner) {
        context_cancel(c->cancel);
        context_release(c->inner);
    }
    free(c->sigs);
    free(c);
    errno = err;
    return NULL;
}

context_t *context_signal_notify(context_t *parent, const int *sigs,
                                 size_t nsigs, context_cancel_t **stop)
{
    if (stop)
        *stop = NULL;
    if (!parent || !stop || !chan__signal_list_valid(sigs, nsigs)) {
        errno = EINVAL;
        return NULL;
    }
    sigctx *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    if (nsigs > 0) {
        c->sigs = malloc(nsigs * sizeof *c->sigs);
        if (!c->sigs)
            return fail(c, ENOMEM);
        memcpy(c->sigs, sigs, nsigs * sizeof *sigs);
        c->nsigs = nsigs;
    }
    c->inner = context_with_cancel(parent, &c->cancel);
    if (!c->inner)
        return fail(c, errno);
    c->ch = chan_make(sizeof(int), 1);
    chan_t *done = context_done(c->inner);
    if (!c->ch || !done || chan_signal_notify(c->ch, sigs, nsigs) != CHAN_OK)
        return fail(c, ENOMEM);
    if (context_err(c->inner))
        chan_signal_stop(c->ch); /* done by its parent already: no watcher */
    else if (start_watcher(c, done) != 0)
        return fail(c, ENOMEM);
    context_init(&c->ctx, &sigctx_vtable);
    *stop = c->cancel;
    return &c->ctx;
}
