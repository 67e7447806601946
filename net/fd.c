/* fd.c: chan_fd_t, Go's internal/poll.FD (fd_unix.go, fd_poll_runtime.go,
 * fd_mutex.go's users) and os.Pipe, over the poller of
 * sched/internal/netpoll.h.
 *
 * A handle has two counts. refs counts the handles (chan_fd_retain and
 * release) and keeps the struct alive. The fdMutex (fdmutex.h) counts the
 * calls in flight and records the close: chan_fd_close marks it closed and
 * wakes every waiter (sched_netpoll_evict), and the last call to leave
 * destroys the descriptor (deregisters it, then close(2)), so a number reused
 * by the process is never touched by a stale call.
 *
 * Every I/O call follows Go's FD.Read: take the side's lock (reads with
 * reads, writes with writes), check the poll descriptor's errors and forget
 * stale readiness (prepare), then loop: the system call, and on EAGAIN wait
 * on the poller and try again. EINTR is retried; EAGAIN never escapes.
 *
 * Deadlines (Go's SetReadDeadline) are chan/ timers run on the timer thread:
 * when one fires, it marks its direction expired in the poll descriptor,
 * which wakes the waiter and fails every later call until the deadline
 * moves. Each arming has a sequence number, so a timer that fires as it is
 * being replaced changes nothing. An armed timer holds a handle reference.
 *
 * Contexts (chan_fd_read_ctx) are an AfterFunc per call that sets the call's
 * cancel flag and wakes it: only that call stops, unlike a deadline.
 */
#include "net_impl.h"

#include <gochan/timer.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blocked.h"
#include "fdmutex.h"
#include "internal/chan_internal.h"
#include "invariant.h"
#include "lock.h"
#include "netpoll.h"
#include "scheduler.h"
#include "race.h"
#include "sema.h"

/* Go's maxRW: the most one read or write system call is given. */
#define MAX_RW (1 << 30)

/* One direction's deadline: the armed timer and its arming. */
struct deadline_arg;
struct deadline {
    chan_timer_t *timer;      /* NULL when none is armed or kept */
    struct deadline_arg *arg; /* the armed timer's, while it is armed */
    uint64_t seq;             /* bumped at each change */
};

struct deadline_arg {
    chan_fd_t *f; /* a handle reference, dropped by whoever ends the arming */
    uint64_t seq;
    int mode;
};

struct chan_fd {
    _Atomic long refs;
    net__fdmutex_t mu;
    int sysfd;            /* valid until destroyed */
    _Atomic int fileno;   /* sysfd, or -1 once closed */
    sched_polldesc_t *pd; /* NULL: blocking mode (the poller refused) */
    bool is_socket;
    bool made_nonblock;    /* chan_fd_new set O_NONBLOCK: cleared at close */
    uint32_t csema;        /* blocking mode: Close waits for destroy */
    char *unlink_path;     /* a unix listener's path */
    sched__lock_t dl_lock; /* rd, wd */
    struct deadline rd, wd;
};

/* net_impl.h's errno: an opaque call, so no compiler keeps its result. */
__attribute__((noinline)) int *net__errno_location(void)
{
    int *where = &(*__errno_location());
    __asm__ __volatile__("" : "+r"(where)::"memory");
    return where;
}

/* ---- making and destroying ----------------------------------------------- */

static chan_fd_t *fd_alloc(int sysfd)
{
    chan_fd_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    atomic_init(&f->mu.state, 0);
    atomic_init(&f->fileno, sysfd);
    f->sysfd = sysfd;
    sched__lock_init(&f->dl_lock);
    return f;
}

static bool fd_is_socket(int sysfd)
{
    struct stat st;
    return fstat(sysfd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Wraps sysfd, already non-blocking (a socket when is_socket): NULL with
 * errno. EPERM from the poller (a regular file) means blocking mode, not
 * failure. */
static chan_fd_t *fd_make(int sysfd, bool is_socket)
{
    chan_fd_t *f = fd_alloc(sysfd);
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    int err = sched_netpoll_open(sysfd, &f->pd);
    if (err == EPERM) {
        f->pd = NULL;
    } else if (err) {
        sched__lock_destroy(&f->dl_lock);
        free(f);
        errno = err;
        return NULL;
    }
    f->is_socket = is_socket;
    return f;
}

chan_fd_t *net__fd_new_socket(int sysfd)
{
    return fd_make(sysfd, true);
}

chan_fd_t *chan_fd_new(int fd)
{
    int flags = fd < 0 ? -1 : fcntl(fd, F_GETFL);
    if (flags < 0) {
        errno = EBADF;
        return NULL;
    }
    chan_fd_t *f = fd_make(fd, fd_is_socket(fd));
    if (!f)
        return NULL;
    /* The poller serves it: its calls must never block the thread. */
    if (f->pd && !(flags & O_NONBLOCK)) {
        if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0) {
            f->made_nonblock = true;
        } else {
            sched_netpoll_close(f->pd);
            f->pd = NULL;
        }
    }
    return f;
}

/* Go's FD.destroy: the last call in flight of a closed handle. */
static void fd_destroy(chan_fd_t *f)
{
    if (f->pd)
        sched_netpoll_close(f->pd);
    /* The flag belongs to the open file description, which a parent shell
     * may share (stdin): give it back as we found it. */
    if (f->made_nonblock) {
        int flags = fcntl(f->sysfd, F_GETFL);
        if (flags >= 0)
            (void)fcntl(f->sysfd, F_SETFL, flags & ~O_NONBLOCK);
    }
    close(f->sysfd); /* Linux frees the number even on EINTR: never retry */
    if (f->unlink_path)
        (void)unlink(f->unlink_path);
    f->sysfd = -1;
    if (!f->pd)
        sync__semrelease(&f->csema, false);
}

int net__fd_incref(chan_fd_t *f, int *sysfd)
{
    int err = f ? net__fdmutex_incref(&f->mu) : EINVAL;
    if (!err && sysfd)
        *sysfd = f->sysfd;
    return err;
}

void net__fd_decref(chan_fd_t *f)
{
    if (net__fdmutex_decref(&f->mu))
        fd_destroy(f);
}

static int fd_rwlock(chan_fd_t *f, bool read)
{
    return net__fdmutex_rwlock(&f->mu, read);
}

static void fd_rwunlock(chan_fd_t *f, bool read)
{
    if (net__fdmutex_rwunlock(&f->mu, read))
        fd_destroy(f);
}

bool net__fd_unlink_on_close(chan_fd_t *f, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return false;
    free(f->unlink_path);
    f->unlink_path = copy;
    return true;
}

int chan_fd_fileno(chan_fd_t *f)
{
    return f ? atomic_load_explicit(&f->fileno, memory_order_relaxed) : -1;
}

/* ---- deadlines ----------------------------------------------------------- */

static struct deadline *deadline_of(chan_fd_t *f, int mode)
{
    return mode == SCHED_POLL_READ ? &f->rd : &f->wd;
}

/* Ends d's arming and forgets its timer; dl_lock held. Returns the arming's
 * argument when the timer will not fire any more (the caller then frees it
 * and drops its handle reference), else NULL: the firing timer does. */
static struct deadline_arg *deadline_disarm_locked(struct deadline *d)
{
    struct deadline_arg *arg = NULL;
    d->seq++;
    if (d->timer) {
        if (chan_timer_stop(d->timer))
            arg = d->arg;
        chan_timer_release(d->timer);
        d->timer = NULL;
    }
    d->arg = NULL;
    return arg;
}

static void deadline_arg_done(struct deadline_arg *arg)
{
    if (!arg)
        return;
    chan_fd_t *f = arg->f;
    free(arg);
    chan_fd_release(f);
}

/* On the timer thread: the deadline passed, unless it changed meanwhile.
 * Close bumps the sequence under dl_lock before the descriptor is destroyed
 * (fd_close), so a matching sequence means the poll descriptor is still
 * this handle's, not one already given to another descriptor. */
static void deadline_fire(void *p)
{
    struct deadline_arg *arg = p;
    chan_fd_t *f = arg->f;
    sched__lock(&f->dl_lock);
    struct deadline *d = deadline_of(f, arg->mode);
    if (d->seq == arg->seq) {
        d->arg = NULL; /* ours to free now; the timer handle stays in d */
        sched_netpoll_set_expired(f->pd, arg->mode, true);
    }
    sched__unlock(&f->dl_lock);
    deadline_arg_done(arg);
}

/* Arms d for t, after now; dl_lock held. 0 or ENOMEM. */
static int deadline_arm_locked(chan_fd_t *f, int mode, int64_t t, int64_t now)
{
    struct deadline *d = deadline_of(f, mode);
    struct deadline_arg *arg = malloc(sizeof *arg);
    if (!arg)
        return ENOMEM;
    *arg = (struct deadline_arg){chan_fd_retain(f), d->seq, mode};
    chan_timer_t *timer =
        chan__after_func_on_timer_thread(t - now, deadline_fire, arg);
    if (!timer) {
        int err = errno;
        free(arg);
        chan_fd_release(f); /* not the last: the caller holds one */
        return err;
    }
    d->timer = timer;
    d->arg = arg;
    return 0;
}

/* Go's setDeadlineImpl for one direction; dl_lock held. *old: an arming
 * ended here, for the caller to finish outside the lock. */
static int deadline_set_locked(chan_fd_t *f, int mode, int64_t t,
                               struct deadline_arg **old)
{
    *old = deadline_disarm_locked(deadline_of(f, mode));
    int64_t now = chan_now();
    if (t != 0 && t <= now) {
        sched_netpoll_set_expired(f->pd, mode, true);
        return 0;
    }
    sched_netpoll_set_expired(f->pd, mode, false);
    return t == 0 ? 0 : deadline_arm_locked(f, mode, t, now);
}

static int set_deadlines(chan_fd_t *f, int64_t t, bool read, bool write)
{
    int err = net__fd_incref(f, NULL);
    if (!err && !f->pd) {
        net__fd_decref(f);
        err = ENOTSUP; /* Go's ErrNoDeadline */
    }
    if (err) {
        errno = err;
        return -1;
    }
    struct deadline_arg *old_r = NULL, *old_w = NULL;
    sched__lock(&f->dl_lock);
    /* A close that came meanwhile has disarmed both (fd_close): arm none. */
    if (chan_fd_fileno(f) < 0)
        err = EBADF;
    if (read && !err)
        err = deadline_set_locked(f, SCHED_POLL_READ, t, &old_r);
    if (write && !err)
        err = deadline_set_locked(f, SCHED_POLL_WRITE, t, &old_w);
    sched__unlock(&f->dl_lock);
    deadline_arg_done(old_r);
    deadline_arg_done(old_w);
    net__fd_decref(f);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int chan_fd_set_deadline(chan_fd_t *f, int64_t t)
{
    return set_deadlines(f, t, true, true);
}

int chan_fd_set_read_deadline(chan_fd_t *f, int64_t t)
{
    return set_deadlines(f, t, true, false);
}

int chan_fd_set_write_deadline(chan_fd_t *f, int64_t t)
{
    return set_deadlines(f, t, false, true);
}

/* ---- closing and lifetime ------------------------------------------------ */

/* Stops both deadlines for good (Close). */
static void deadlines_stop(chan_fd_t *f)
{
    sched__lock(&f->dl_lock);
    struct deadline_arg *r = deadline_disarm_locked(&f->rd);
    struct deadline_arg *w = deadline_disarm_locked(&f->wd);
    sched__unlock(&f->dl_lock);
    deadline_arg_done(r);
    deadline_arg_done(w);
}

/* Go's FD.Close. The deadlines stop before the last reference can destroy
 * the descriptor, so no timer touches its poll descriptor after. */
static int fd_close(chan_fd_t *f)
{
    int err = net__fdmutex_incref_and_close(&f->mu);
    if (err)
        return err;
    atomic_store_explicit(&f->fileno, -1, memory_order_seq_cst);
    if (f->pd)
        sched_netpoll_evict(f->pd); /* every waiter wakes with EBADF */
    deadlines_stop(f);
    net__fd_decref(f);
    if (!f->pd) /* Go waits for a blocking descriptor to be closed */
        sync__semacquire(&f->csema, false, SCHED_WAIT_SEMACQUIRE, &f->mu);
    return 0;
}

int chan_fd_close(chan_fd_t *f)
{
    int err = f ? fd_close(f) : EINVAL;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

chan_fd_t *chan_fd_retain(chan_fd_t *f)
{
    if (f)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void chan_fd_release(chan_fd_t *f)
{
    if (!f)
        return;
    sched__race_drop_ref(&f->refs);
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    sched__race_last_ref(&f->refs);
    /* No call is in flight and no timer is armed: each would hold a
     * reference. A timer that fired may still be kept in a deadline. */
    (void)fd_close(f);
    chan_timer_release(f->rd.timer);
    chan_timer_release(f->wd.timer);
    sched__lock_destroy(&f->dl_lock);
    free(f->unlink_path);
    free(f);
}

int chan_fd_close_write(chan_fd_t *f)
{
    int sysfd;
    int err = net__fd_incref(f, &sysfd);
    if (!err) {
        if (shutdown(sysfd, SHUT_WR) != 0)
            err = errno;
        net__fd_decref(f);
    }
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/* ---- waiting on the poller ----------------------------------------------- */

/* One _ctx call's cancellation: shared by the call and its AfterFunc,
 * freed by whichever of the two is done last. */
struct io_cancel {
    _Atomic bool cancel; /* set by the AfterFunc, which then wakes the call */
    _Atomic int refs;
    sched__lock_t lock; /* call_done */
    bool call_done;     /* the call returned: its handle may be closed */
    context_t *ctx;
    chan_fd_t *f;
    int mode;
};

static int netpoll_wait(chan_fd_t *f, int mode, struct io_cancel *cancel)
{
    int err = sched_netpoll_wait(f->pd, mode, cancel ? &cancel->cancel : NULL);
    /* The AfterFunc sets the flag a moment after the cancel: a call woken
     * meanwhile (end of file came after the cancel) must see the cancel
     * first, as it would a passed deadline. */
    if (!err && cancel && context_err(cancel->ctx))
        err = ECANCELED;
    return err;
}

/* Waits for f's descriptor in mode, recorded for the dump as Go's "IO wait".
 * 0, EBADF, ETIMEDOUT or ECANCELED (cancel's context is done). */
static int fd_wait(chan_fd_t *f, int mode, struct io_cancel *cancel)
{
    if (!chan__debug_enabled())
        return netpoll_wait(f, mode, cancel);
    chan__blocked_t record = {.reason = SCHED_WAIT_IO, .fd = f->sysfd};
    chan__debug_block(&record);
    int err = netpoll_wait(f, mode, cancel);
    chan__debug_unblock(&record);
    return err;
}

/* A descriptor in blocking mode that still says EAGAIN (non-blocking, yet
 * epoll refused it): wait in poll(2). */
static void fd_poll_blocking(int sysfd, int mode)
{
    struct pollfd pfd = {
        .fd = sysfd,
        .events = mode == SCHED_POLL_READ ? POLLIN : POLLOUT,
    };
    (void)poll(&pfd, 1, -1);
}

/* After the system call said EAGAIN: 0 to try again, or an errno. */
static int fd_wait_again(chan_fd_t *f, int mode, struct io_cancel *cancel)
{
    if (!f->pd) {
        fd_poll_blocking(f->sysfd, mode);
        return 0;
    }
    return fd_wait(f, mode, cancel);
}

/* ---- read and write ------------------------------------------------------ */

static ssize_t sys_read(chan_fd_t *f, void *buf, size_t n)
{
    ssize_t rc;
    do
        rc = read(f->sysfd, buf, n > MAX_RW ? MAX_RW : n);
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* write(2) on a descriptor that is not a socket (MSG_NOSIGNAL is for
 * sockets): SIGPIPE is blocked around it and a SIGPIPE it raised is taken
 * back, so that a closed reader is EPIPE, never the end of the process, as
 * in Go. A goroutine cannot change thread in between: nothing here parks. */
static ssize_t write_nosigpipe(int sysfd, const void *buf, size_t n)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    bool was_pending =
        sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    ssize_t rc = write(sysfd, buf, n);
    int err = errno;
    if (rc < 0 && err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return rc;
}

static ssize_t sys_write(chan_fd_t *f, const void *buf, size_t n)
{
    if (n > MAX_RW)
        n = MAX_RW;
    ssize_t rc;
    do
        rc = f->is_socket ? send(f->sysfd, buf, n, MSG_NOSIGNAL)
                          : write_nosigpipe(f->sysfd, buf, n);
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* The reads and writes of a handle: lock the side, prepare, loop. */
static int io_begin(chan_fd_t *f, int mode)
{
    if (!f)
        return EINVAL;
    int err = fd_rwlock(f, mode == SCHED_POLL_READ);
    if (err)
        return err;
    if (f->pd && (err = sched_netpoll_reset(f->pd, mode)) != 0)
        fd_rwunlock(f, mode == SCHED_POLL_READ);
    return err;
}

/* Go's FD.Read: a read of nothing returns 0 once the lock is held, before
 * the deadline is checked. */
static ssize_t fd_read(chan_fd_t *f, void *buf, size_t n,
                       struct io_cancel *cancel)
{
    if (f && !buf && n > 0)
        f = NULL; /* EINVAL */
    int err = f && n == 0 ? fd_rwlock(f, true) : io_begin(f, SCHED_POLL_READ);
    if (err) {
        errno = err;
        return -1;
    }
    ssize_t rc = 0;
    if (n > 0) {
        while ((rc = sys_read(f, buf, n)) < 0 && errno == EAGAIN) {
            if ((err = fd_wait_again(f, SCHED_POLL_READ, cancel)) != 0) {
                errno = err;
                break;
            }
        }
    }
    err = errno;
    fd_rwunlock(f, true);
    errno = err;
    return rc;
}

static ssize_t fd_write(chan_fd_t *f, const void *buf, size_t n,
                        struct io_cancel *cancel)
{
    if (f && !buf && n > 0)
        f = NULL; /* EINVAL */
    int err = io_begin(f, SCHED_POLL_WRITE);
    if (err) {
        errno = err;
        return -1;
    }
    size_t done = 0;
    err = 0;
    while (done < n || n == 0) {
        ssize_t rc = sys_write(f, (const char *)buf + done, n - done);
        if (rc > 0)
            done += (size_t)rc;
        if (n == 0 || done == n)
            break;
        if (rc < 0 && errno == EAGAIN) {
            if ((err = fd_wait_again(f, SCHED_POLL_WRITE, cancel)) != 0)
                break;
            continue;
        }
        if (rc < 0) {
            err = errno;
            break;
        }
        if (rc == 0) { /* io.ErrUnexpectedEOF: nothing taken, no error */
            err = EIO;
            break;
        }
    }
    fd_rwunlock(f, false);
    if (err) {
        errno = err;
        return done > 0 ? (ssize_t)done : -1;
    }
    return (ssize_t)done;
}

/* The end of a public I/O call: a preemption point (sched_preempt_point),
 * since a goroutine whose I/O keeps succeeding never parks. errno survives
 * the yield. */
static ssize_t io_done(ssize_t rc)
{
    int err = errno;
    sched_preempt_point();
    errno = err;
    return rc;
}

ssize_t chan_fd_read(chan_fd_t *f, void *buf, size_t n)
{
    return io_done(fd_read(f, buf, n, NULL));
}

ssize_t chan_fd_write(chan_fd_t *f, const void *buf, size_t n)
{
    return io_done(fd_write(f, buf, n, NULL));
}

/* ---- contexts ------------------------------------------------------------ */

static void io_cancel_put(struct io_cancel *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        chan_fd_release(c->f);
        sched__lock_destroy(&c->lock);
        free(c);
    }
}

/* The AfterFunc: ctx is done. Once the call has returned, its handle may be
 * closed and its poll descriptor serve another descriptor: touch it only
 * while the call runs. (A reference from the fdMutex would do, but would
 * delay the close(2) of a handle closed at once after the call, and a dial
 * that gave up must leave no descriptor behind when it returns.) */
static void io_cancel_fire(void *p)
{
    struct io_cancel *c = p;
    atomic_store_explicit(&c->cancel, true, memory_order_seq_cst);
    sched__lock(&c->lock);
    if (!c->call_done)
        sched_netpoll_unblock(c->f->pd, c->mode);
    sched__unlock(&c->lock);
    io_cancel_put(c);
}

/* ctx's error as an errno: ETIMEDOUT for a deadline, else ECANCELED. */
static int ctx_errno(context_t *ctx)
{
    const context_error_t *err = context_err(ctx);
    return err && context_error_is(err, &context_deadline_exceeded) ? ETIMEDOUT
                                                                    : ECANCELED;
}

typedef ssize_t (*io_fn)(chan_fd_t *f, void *buf, size_t n,
                         struct io_cancel *cancel);

static ssize_t io_ctx(context_t *ctx, chan_fd_t *f, void *buf, size_t n,
                      int mode, io_fn io)
{
    if (ctx && context_err(ctx)) {
        errno = ctx_errno(ctx);
        return -1;
    }
    if (!ctx || !f || !f->pd || !context_done(ctx))
        return io(f, buf, n, NULL); /* nothing can stop it midway */
    struct io_cancel *c = malloc(sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return -1;
    }
    atomic_init(&c->cancel, false);
    atomic_init(&c->refs, 2);
    sched__lock_init(&c->lock);
    c->call_done = false;
    c->ctx = ctx; /* the call keeps it alive: the AfterFunc does not read it */
    c->f = chan_fd_retain(f);
    c->mode = mode;
    context_after_func_t *stop = context_after_func(ctx, io_cancel_fire, c);
    if (!stop) {
        int err = errno;
        chan_fd_release(f);
        free(c);
        errno = err;
        return -1;
    }
    ssize_t rc = io(f, buf, n, c);
    int err = errno;
    sched__lock(&c->lock);
    c->call_done = true;
    sched__unlock(&c->lock);
    if (rc < 0 && err == ECANCELED)
        err = ctx_errno(ctx);
    if (rc == 0 && n > 0 && mode == SCHED_POLL_READ && context_err(ctx)) {
        /* End of file, and the context is done: the cancel may have come
         * first (before the call waited at all, or before the writer
         * closed), so it wins, as NP-10 says. Nothing is lost: end of file
         * stays for the next read. */
        rc = -1;
        err = ctx_errno(ctx);
    }
    if (context_after_func_stop(stop))
        io_cancel_put(c); /* it will never run: its reference is ours */
    io_cancel_put(c);
    errno = err;
    return rc;
}

/* fd_write in io_fn's shape (io_fn's buffer is not const). */
static ssize_t write_io(chan_fd_t *f, void *buf, size_t n,
                        struct io_cancel *cancel)
{
    return fd_write(f, buf, n, cancel);
}

ssize_t chan_fd_read_ctx(context_t *ctx, chan_fd_t *f, void *buf, size_t n)
{
    return io_done(io_ctx(ctx, f, buf, n, SCHED_POLL_READ, fd_read));
}

ssize_t chan_fd_write_ctx(context_t *ctx, chan_fd_t *f, const void *buf,
                          size_t n)
{
    return io_done(io_ctx(ctx, f, (void *)buf, n, SCHED_POLL_WRITE, write_io));
}

/* ---- waiting for C libraries (RawConn) ----------------------------------- */

/* Waits without forgetting readiness that came since the library's EAGAIN:
 * the edge it left in the slot ends the wait at once. 0, or -1 with errno. */
static int fd_wait_ready(chan_fd_t *f, int mode, struct io_cancel *cancel)
{
    int err = f ? fd_rwlock(f, mode == SCHED_POLL_READ) : EINVAL;
    if (err) {
        errno = err;
        return -1;
    }
    if (f->pd)
        err = fd_wait(f, mode, cancel);
    fd_rwunlock(f, mode == SCHED_POLL_READ);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int chan_fd_wait_read(chan_fd_t *f)
{
    return fd_wait_ready(f, SCHED_POLL_READ, NULL);
}

int chan_fd_wait_write(chan_fd_t *f)
{
    return fd_wait_ready(f, SCHED_POLL_WRITE, NULL);
}

/* ---- pipes, accept, connect ---------------------------------------------- */

int chan_fd_pipe(chan_fd_t **r, chan_fd_t **w)
{
    int p[2];
    if (!r || !w) {
        errno = EINVAL;
        return -1;
    }
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    chan_fd_t *rf = fd_make(p[0], false);
    chan_fd_t *wf = rf ? fd_make(p[1], false) : NULL;
    if (!wf) {
        int err = errno;
        if (rf)
            chan_fd_release(rf); /* closes p[0] */
        else
            close(p[0]);
        close(p[1]);
        errno = err;
        return -1;
    }
    *r = rf;
    *w = wf;
    return 0;
}

/* What Go sets on every accepted TCP connection: no Nagle delay, and
 * keep-alive probes every 15 s (net/tcpsock_posix.go, sockopt_linux.go). */
static void tcp_accepted_options(int sysfd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(sysfd, (struct sockaddr *)&ss, &len) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return;
    int one = 1, secs = 15;
    (void)setsockopt(sysfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(sysfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    (void)setsockopt(sysfd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof secs);
    (void)setsockopt(sysfd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs);
}

/* accept4 on ln's descriptor, waiting on the poller: the new descriptor, or
 * -1 with errno. ln's read lock held. */
static int accept_locked(chan_fd_t *ln)
{
    for (;;) {
        int s = accept4(ln->sysfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s >= 0)
            return s;
        if (errno == EINTR || errno == ECONNABORTED)
            continue; /* Go retries a connection reset before accept */
        if (errno != EAGAIN)
            return -1;
        int err = fd_wait_again(ln, SCHED_POLL_READ, NULL);
        if (err) {
            errno = err;
            return -1;
        }
    }
}

chan_fd_t *chan_fd_accept(chan_fd_t *ln)
{
    int err = io_begin(ln, SCHED_POLL_READ);
    if (err) {
        errno = err;
        return NULL;
    }
    int s = accept_locked(ln);
    err = errno;
    fd_rwunlock(ln, true);
    if (s < 0) {
        errno = err;
        return NULL;
    }
    tcp_accepted_options(s);
    chan_fd_t *f = fd_make(s, true);
    if (!f) {
        err = errno;
        close(s);
        errno = err;
        return NULL;
    }
    sched_preempt_point(); /* an accept loop in a burst never parks */
    return f;
}

/* io_ctx's shape for a wait for writability (a connect in progress). */
static ssize_t wait_write_io(chan_fd_t *f, void *buf, size_t n,
                             struct io_cancel *cancel)
{
    (void)buf;
    (void)n;
    return fd_wait_ready(f, SCHED_POLL_WRITE, cancel);
}

/* Go's netFD.connect after EINPROGRESS: wait until writable, then ask the
 * socket how the connect went. */
int net__fd_connect_wait(context_t *ctx, chan_fd_t *f)
{
    for (;;) {
        if (io_ctx(ctx, f, NULL, 0, SCHED_POLL_WRITE, wait_write_io) < 0)
            return errno;
        int sysfd, soerr = 0;
        socklen_t len = sizeof soerr;
        int err = net__fd_incref(f, &sysfd);
        if (err)
            return err;
        if (getsockopt(sysfd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        bool connected =
            soerr == EISCONN ||
            (soerr == 0 &&
             getpeername(sysfd, (struct sockaddr *)&peer, &plen) == 0);
        net__fd_decref(f);
        if (connected)
            return 0;
        if (soerr != 0 && soerr != EINPROGRESS && soerr != EALREADY &&
            soerr != EINTR)
            return soerr;
    }
}
