/* check_net.c: Go's tests of the network poller (internal/poll, os and net,
 * Go 1.19) ported to gochan's net layer (<gochan/net.h>), plus bad input and
 * faults.
 *
 * Each test names the Go test it ports ("Ports Go's ...") or says what it
 * adds, and the behaviour items (NP-) of GO-SEMANTICS.md section 7 it checks.
 * Go's fdMutex has no public API here, so its tests are ported as behaviour
 * through the handle: reads and writes serialized, close waking every call
 * and failing later ones with EBADF.
 *
 * Check's fork mode gives every test a fresh process: a lowered descriptor
 * limit or a SIGPIPE disposition stays in that test. Network tests talk only
 * to 127.0.0.1 and ::1 on ephemeral ports, or to unix sockets in a mkdtemp
 * directory. Waits for something that must happen are bounded (10 s,
 * scaled by CK_TIMEOUT_MULTIPLIER); checks that something does NOT happen
 * wait 50-100 ms (scaled). Timeouts are checked as "not before the deadline,
 * and within seconds", never to the millisecond. Loops that race close with
 * blocked calls run thousands of rounds but stop after ~1.5 s.
 *
 * Results of calls made on goroutines and threads are stored and asserted on
 * the test's main thread. errno is read right after each call through a
 * function that is not inlined (a goroutine may resume on another thread,
 * and compilers cache errno's address).
 */
#include <gochan/context.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/net.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include "chan/chan_test_hooks.h" /* chan__go_on_scheduler */
#include "sched/sanitizer.h"      /* SCHED__TSAN */
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS CHAN_MILLISECOND

/* ---- time ---- */

/* 10 s, scaled: the bound of every wait for something that must happen. */
static int64_t patience(void)
{
    return (int64_t)(10 * tu_scale()) * CHAN_SECOND;
}

/* ms milliseconds, scaled, in nanoseconds. */
static int64_t scaled_ms(int64_t ms)
{
    return (int64_t)((double)ms * tu_scale()) * MS;
}

/* The time budget of a loop that races close with blocked calls: it stops
 * after this long (unscaled: each test stays under ~2 s) or its rounds. */
static int64_t race_budget(void)
{
    return 1500 * MS;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* errno now, read through a call the compiler cannot fold into an address
 * computed before a call that may move a goroutine to another thread. */
static __attribute__((noinline)) int last_errno(void)
{
    return errno;
}

/* Asserts that expr returns -1 with errno e. */
#define ASSERT_ERR(expr, e)                                                    \
    do {                                                                       \
        errno = 0;                                                             \
        long long r_ = (long long)(expr);                                      \
        int e_ = errno;                                                        \
        ck_assert_msg(r_ == -1 && e_ == (e),                                   \
                      "%s = %lld, errno %d (%s); want -1 and %s", #expr, r_,   \
                      e_, strerror(e_), #e);                                   \
    } while (0)

/* Asserts that expr returns NULL with errno e (and releases what it made). */
#define ASSERT_NULL_ERR(expr, e)                                               \
    do {                                                                       \
        errno = 0;                                                             \
        chan_fd_t *p_ = (expr);                                                \
        int e_ = errno;                                                        \
        chan_fd_release(p_);                                                   \
        ck_assert_msg(p_ == NULL && e_ == (e),                                 \
                      "%s = %p, errno %d (%s); want NULL and %s", #expr,       \
                      (void *)p_, e_, strerror(e_), #e);                       \
    } while (0)

/* ---- the process: descriptors, threads, goroutines ---- */

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Open descriptors, leaving out those open on /proc: opendir's own here,
 * and the task file that sysmon opens for a moment when it asks whether a
 * thread in a system call waits in a futex (sched/sysmon.c), which would
 * otherwise count at random. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[sizeof "/proc/self/fd/" + sizeof e->d_name], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len < 0)
            continue; /* closed since readdir saw it */
        target[len] = '\0';
        if (strncmp(target, "/proc/", 6) != 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Asserts that the process holds want descriptors, waiting (bounded) for
 * the count to settle: a handle released right after a deadline fired may
 * be closed a moment later, by the timer thread that held the last
 * reference (as Go's finalizers close a dropped file later). */
static void assert_fds_settle(int want)
{
    int64_t deadline = chan_now() + 2 * CHAN_SECOND;
    int n;
    while ((n = count_fds()) != want && chan_now() < deadline)
        chan_sleep(CHAN_MILLISECOND);
    ck_assert_int_eq(n, want);
}

/* Kernel threads of this process. */
static int count_threads(void)
{
    return count_entries("/proc/self/task");
}

/* Waits, bounded, until every goroutine this test started has returned. */
static void wait_goroutines_done(void)
{
    int64_t deadline = chan_now() + patience();
    while (chan_num_goroutine() > 0 && chan_now() < deadline)
        tu_sleep_ms(1);
    ck_assert_msg(chan_num_goroutine() == 0, "%lld goroutines still running",
                  (long long)chan_num_goroutine());
}

/* ---- jobs: a function run on a goroutine or a plain thread ---- */

typedef struct job {
    void (*fn)(void *);
    void *arg;
    chan_t *done; /* closed when fn returned */
    pthread_t thread;
    bool on_thread;
} job_t;

static void job_body(void *p)
{
    job_t *j = p;
    chan_t *done = j->done; /* the body's own reference */
    j->fn(j->arg);
    chan_close(done);
    chan_release(done);
}

static void *job_thread(void *p)
{
    job_body(p);
    return NULL;
}

/* Starts fn(arg) on a plain thread (on_thread) or a goroutine. */
static void job_start(job_t *j, bool on_thread, void (*fn)(void *), void *arg)
{
    j->fn = fn;
    j->arg = arg;
    j->on_thread = on_thread;
    j->done = chan_make(0, 0);
    ck_assert_ptr_nonnull(j->done);
    chan_retain(j->done);
    if (on_thread)
        j->thread = tu_spawn(job_thread, j);
    else
        ck_assert_int_eq(chan_go(job_body, j), CHAN_OK);
}

/* Whether j finished within ms (scaled). */
static bool job_wait(job_t *j, int64_t ms)
{
    chan_t *after = chan_after(scaled_ms(ms));
    ck_assert_ptr_nonnull(after);
    chan_case_t cases[] = {CHAN_RECV_CASE(j->done, NULL),
                           CHAN_RECV_CASE(after, NULL)};
    int i = chan_select(cases, 2);
    chan_release(after);
    return i == 0;
}

static bool job_finished(job_t *j)
{
    return chan_try_recv(j->done, NULL) == CHAN_CLOSED;
}

/* Waits (10 s, scaled) for j and frees what job_start made. */
static void job_join(job_t *j)
{
    ck_assert_msg(job_wait(j, 10000),
                  "a goroutine or thread did not finish within 10 s");
    if (j->on_thread)
        tu_join(j->thread);
    chan_release(j->done);
    j->done = NULL;
}

/* ---- one I/O call, run by a job ---- */

typedef struct io_op {
    chan_fd_t *f;
    context_t *ctx;
    const char *wbuf; /* write: what to write (default: data) */
    char *rbuf;       /* read: where to (default: data) */
    size_t n;         /* default: 1 */
    ssize_t ret;
    int err;         /* errno when ret < n (or NULL accept), else 0 */
    chan_fd_t *conn; /* accept */
    int64_t t0, t1;  /* chan_now() before and after the call */
    char data[64];
} io_op_t;

static void op_init(io_op_t *o, chan_fd_t *f)
{
    memset(o, 0, sizeof *o);
    o->f = f;
    o->n = 1;
    o->data[0] = 'w';
}

static void op_read(void *p)
{
    io_op_t *o = p;
    o->t0 = chan_now();
    o->ret = chan_fd_read(o->f, o->rbuf ? o->rbuf : o->data, o->n);
    o->err = o->ret < 0 ? last_errno() : 0;
    o->t1 = chan_now();
}

static void op_read_ctx(void *p)
{
    io_op_t *o = p;
    o->t0 = chan_now();
    o->ret = chan_fd_read_ctx(o->ctx, o->f, o->rbuf ? o->rbuf : o->data, o->n);
    o->err = o->ret < 0 ? last_errno() : 0;
    o->t1 = chan_now();
}

static void op_write(void *p)
{
    io_op_t *o = p;
    o->t0 = chan_now();
    o->ret = chan_fd_write(o->f, o->wbuf ? o->wbuf : o->data, o->n);
    o->err = o->ret != (ssize_t)o->n ? last_errno() : 0;
    o->t1 = chan_now();
}

static void op_write_ctx(void *p)
{
    io_op_t *o = p;
    o->t0 = chan_now();
    o->ret = chan_fd_write_ctx(o->ctx, o->f, o->wbuf ? o->wbuf : o->data, o->n);
    o->err = o->ret != (ssize_t)o->n ? last_errno() : 0;
    o->t1 = chan_now();
}

static void op_accept(void *p)
{
    io_op_t *o = p;
    o->t0 = chan_now();
    o->conn = chan_fd_accept(o->f);
    o->ret = o->conn ? 0 : -1;
    o->err = o->conn ? 0 : last_errno();
    o->t1 = chan_now();
}

static void op_wait_read(void *p)
{
    io_op_t *o = p;
    o->t0 = chan_now();
    o->ret = chan_fd_wait_read(o->f);
    o->err = o->ret < 0 ? last_errno() : 0;
    o->t1 = chan_now();
}

/* As a C library does: waits for readability until data is there (peeked,
 * not taken) or the wait fails; wait_read may return early. */
static void op_wait_read_loop(void *p)
{
    io_op_t *o = p;
    o->t0 = chan_now();
    for (int i = 0; i < 100000; i++) {
        o->ret = chan_fd_wait_read(o->f);
        if (o->ret < 0) {
            o->err = last_errno();
            break;
        }
        char c = 0;
        if (recv(chan_fd_fileno(o->f), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
            break;
    }
    o->t1 = chan_now();
}

#define ASSERT_OP(o, want_ret, want_err)                                       \
    ck_assert_msg((o)->ret == (want_ret) && (o)->err == (want_err),            \
                  "call returned %zd, errno %d (%s); want %zd and %s",         \
                  (o)->ret, (o)->err, strerror((o)->err), (ssize_t)(want_ret), \
                  #want_err)

/* ---- descriptors ---- */

static void make_pipe(chan_fd_t **r, chan_fd_t **w)
{
    *r = *w = NULL;
    ck_assert_msg(chan_fd_pipe(r, w) == 0, "chan_fd_pipe: %s", strerror(errno));
    ck_assert_ptr_nonnull(*r);
    ck_assert_ptr_nonnull(*w);
}

static void make_socketpair(chan_fd_t **a, chan_fd_t **b)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    *a = chan_fd_new(sv[0]);
    *b = chan_fd_new(sv[1]);
    ck_assert_ptr_nonnull(*a);
    ck_assert_ptr_nonnull(*b);
}

/* Reads exactly n bytes unless end of file or an error comes first: the
 * count read, or -1 when an error came before any byte. */
static ssize_t read_full(chan_fd_t *f, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = chan_fd_read(f, (char *)buf + got, n - got);
        if (k < 0)
            return got ? (ssize_t)got : -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static void tmpdir_make(char dir[64])
{
    strcpy(dir, "/tmp/gochan-net-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static bool have_ipv6_loopback(void)
{
    int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

/* A local listener: Go's newLocalListener. */
typedef struct lsn {
    chan_fd_t *ln;
    const char *network;
    char addr[160]; /* its address, as chan_fd_local_addr gives it */
    char dir[64];   /* unix: the temporary directory, else "" */
} lsn_t;

static void lsn_open(lsn_t *l, const char *network)
{
    memset(l, 0, sizeof *l);
    l->network = network;
    char want[160];
    if (strcmp(network, "unix") == 0) {
        tmpdir_make(l->dir);
        snprintf(want, sizeof want, "%s/sock", l->dir);
    } else if (strcmp(network, "tcp6") == 0) {
        strcpy(want, "[::1]:0");
    } else {
        strcpy(want, "127.0.0.1:0");
    }
    l->ln = chan_net_listen(network, want);
    ck_assert_msg(l->ln != NULL, "listen %s %s: %s", network, want,
                  strerror(errno));
    ck_assert_msg(chan_fd_local_addr(l->ln, l->addr, sizeof l->addr) == 0,
                  "local_addr: %s", strerror(errno));
}

static chan_fd_t *lsn_dial(lsn_t *l)
{
    chan_fd_t *c = chan_net_dial(NULL, l->network, l->addr);
    ck_assert_msg(c != NULL, "dial %s %s: %s", l->network, l->addr,
                  strerror(errno));
    return c;
}

static chan_fd_t *lsn_accept(lsn_t *l)
{
    chan_fd_t *c = chan_fd_accept(l->ln);
    ck_assert_msg(c != NULL, "accept: %s", strerror(errno));
    return c;
}

/* A connected pair: the dialer's end and the accepted end. */
static void lsn_pair(lsn_t *l, chan_fd_t **client, chan_fd_t **server)
{
    *client = lsn_dial(l);
    *server = lsn_accept(l);
}

static void lsn_close(lsn_t *l)
{
    if (l->ln) {
        chan_fd_close(l->ln); /* may already be closed */
        chan_fd_release(l->ln);
        l->ln = NULL;
    }
    if (l->dir[0])
        tmpdir_remove(l->dir);
}

static const char *const stream_networks[] = {"tcp", "unix"};

/* A goroutine parks once on the poller, and this thread waits once, so that
 * the scheduler's threads, the poller and this thread's wake-up descriptor
 * exist before a test counts or limits descriptors. */
static void warm_up(void)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    io_op_t op;
    op_init(&op, r);
    job_t j;
    job_start(&j, false, op_read, &op);
    tu_sleep_ms(5);
    ck_assert_int_eq(chan_fd_write(w, "x", 1), 1);
    job_join(&j);
    ASSERT_OP(&op, 1, 0);
    /* This thread waits in poll(2) once, so its wake-up eventfd (made at
     * its first wait, kept until it exits) is counted before the test
     * counts: a 2 ms deadline could pass before the read under valgrind,
     * and the eventfd then appeared in the middle of a test (one more
     * descriptor than before). */
    ck_assert_int_eq(chan_fd_set_read_deadline(r, chan_now() + scaled_ms(50)),
                     0);
    char c = 0;
    ASSERT_ERR(chan_fd_read(r, &c, 1), ETIMEDOUT);
    /* Closed now, not when the deadline's timer drops its reference. */
    ck_assert_int_eq(chan_fd_close(r), 0);
    ck_assert_int_eq(chan_fd_close(w), 0);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}

static int fd_flags(chan_fd_t *f)
{
    int fl = fcntl(chan_fd_fileno(f), F_GETFL);
    ck_assert_int_ne(fl, -1);
    return fl;
}

static bool fd_cloexec(chan_fd_t *f)
{
    int fl = fcntl(chan_fd_fileno(f), F_GETFD);
    ck_assert_int_ne(fl, -1);
    return (fl & FD_CLOEXEC) != 0;
}

/* ==== internal/poll/fd_mutex_test.go, as behaviour of the handle ==== */

/* Ports Go's internal/poll/fd_mutex_test.go TestMutexLock: the reference
 * (Fd), the read lock (Read) and the write lock (Write) are each taken and
 * given back, again and again, and the handle goes on working. NP-6. */
START_TEST(test_fd_mutex_lock)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    int rfd = chan_fd_fileno(r);
    ck_assert_int_ge(rfd, 0);
    ck_assert_int_ge(chan_fd_fileno(w), 0);
    ck_assert_int_ne(chan_fd_fileno(w), rfd);
    for (int i = 0; i < 3; i++) {
        char c = (char)('a' + i), got = 0;
        ck_assert_int_eq(chan_fd_write(w, &c, 1), 1);
        ck_assert_int_eq(chan_fd_read(r, &got, 1), 1);
        ck_assert_int_eq(got, c);
        ck_assert_int_eq(chan_fd_fileno(r), rfd);
    }
    chan_fd_release(r);
    chan_fd_release(w);
}
END_TEST

/* Ports Go's internal/poll/fd_mutex_test.go TestMutexClose: once closed,
 * nothing can take the handle again: every call fails with EBADF (Go's
 * ErrNetClosing / ErrFileClosing), a second close too, Fd() is -1, and the
 * descriptor number itself is closed. NP-5. */
START_TEST(test_fd_mutex_close)
{
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    int num = chan_fd_fileno(a);
    ck_assert_int_eq(chan_fd_close(a), 0);
    ck_assert_int_eq(chan_fd_fileno(a), -1);
    char buf[16] = "x";
    ASSERT_ERR(chan_fd_read(a, buf, 1), EBADF);
    ASSERT_ERR(chan_fd_write(a, buf, 1), EBADF);
    ASSERT_ERR(chan_fd_read_ctx(NULL, a, buf, 1), EBADF);
    ASSERT_ERR(chan_fd_write_ctx(NULL, a, buf, 1), EBADF);
    ASSERT_ERR(chan_fd_set_deadline(a, 0), EBADF);
    ASSERT_ERR(chan_fd_set_read_deadline(a, chan_now() + CHAN_SECOND), EBADF);
    ASSERT_ERR(chan_fd_set_write_deadline(a, chan_now() + CHAN_SECOND), EBADF);
    ASSERT_ERR(chan_fd_wait_read(a), EBADF);
    ASSERT_ERR(chan_fd_wait_write(a), EBADF);
    ASSERT_ERR(chan_fd_close_write(a), EBADF);
    ASSERT_NULL_ERR(chan_fd_accept(a), EBADF);
    ASSERT_ERR(chan_fd_local_addr(a, buf, sizeof buf), EBADF);
    ASSERT_ERR(chan_fd_remote_addr(a, buf, sizeof buf), EBADF);
    ASSERT_ERR(chan_fd_close(a), EBADF);
    /* The number was closed (nothing else in this process opens one now). */
    errno = 0;
    ck_assert_int_eq(fcntl(num, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    /* The peer reads the end of file. */
    ck_assert_int_eq(chan_fd_read(b, buf, 1), 0);
    chan_fd_release(a);
    chan_fd_release(b);
}
END_TEST

/* Ports Go's internal/poll/fd_mutex_test.go TestMutexCloseUnblock: four
 * readers wait on one handle (one in the read, three for the read lock;
 * two goroutines and two plain threads); none returns before the close, and
 * the close wakes every one with EBADF. Then the read end is really closed:
 * a write meets EPIPE. NP-5, NP-6. */
START_TEST(test_fd_mutex_close_unblock)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    io_op_t ops[4];
    job_t jobs[4];
    for (int i = 0; i < 4; i++) {
        op_init(&ops[i], r);
        job_start(&jobs[i], i % 2 == 1, op_read, &ops[i]);
    }
    tu_quiet_sleep();
    for (int i = 0; i < 4; i++)
        ck_assert_msg(!job_finished(&jobs[i]),
                      "read %d returned %zd (errno %d) before the close", i,
                      ops[i].ret, ops[i].err);
    ck_assert_int_eq(chan_fd_close(r), 0);
    for (int i = 0; i < 4; i++) {
        job_join(&jobs[i]);
        ASSERT_OP(&ops[i], -1, EBADF);
    }
    ASSERT_ERR(chan_fd_write(w, "x", 1), EPIPE);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* TestMutexStress's writers: messages longer than PIPE_BUF (which the kernel
 * may split), each a header (length, writer, sequence) and a fill byte. */
typedef struct stress_writer {
    chan_fd_t *w;
    uint32_t id;
    int n;
    unsigned seed;
    atomic_int *bad;
} stress_writer_t;

enum { STRESS_HDR = 12, STRESS_MIN = 4096, STRESS_SPAN = 32768 };

static uint8_t stress_fill(uint32_t id, uint32_t seq)
{
    return (uint8_t)(id * 31 + seq * 7 + 1);
}

static void stress_write(void *p)
{
    stress_writer_t *s = p;
    char *buf = malloc(STRESS_MIN + STRESS_SPAN);
    if (!buf) {
        atomic_fetch_add(s->bad, 1);
        return;
    }
    for (int seq = 0; seq < s->n; seq++) {
        uint32_t len = STRESS_MIN + (uint32_t)(rand_r(&s->seed) % STRESS_SPAN);
        uint32_t hdr[3] = {len, s->id, (uint32_t)seq};
        memcpy(buf, hdr, sizeof hdr);
        memset(buf + STRESS_HDR, stress_fill(s->id, (uint32_t)seq),
               len - STRESS_HDR);
        if (chan_fd_write(s->w, buf, len) != (ssize_t)len)
            atomic_fetch_add(s->bad, 1);
        if (chan_fd_fileno(s->w) < 0) /* Go's Incref */
            atomic_fetch_add(s->bad, 1);
    }
    free(buf);
}

typedef struct stress_reader {
    chan_fd_t *r;
    int writers, n;
    int received;
    char why[128];
} stress_reader_t;

static void stress_read(void *p)
{
    stress_reader_t *s = p;
    int next[8] = {0};
    char *buf = malloc(STRESS_MIN + STRESS_SPAN);
    if (!buf) {
        snprintf(s->why, sizeof s->why, "out of memory");
        return;
    }
    while (s->received < s->writers * s->n) {
        uint32_t hdr[3];
        if (read_full(s->r, hdr, sizeof hdr) != (ssize_t)sizeof hdr) {
            snprintf(s->why, sizeof s->why, "short header read");
            break;
        }
        uint32_t len = hdr[0], id = hdr[1], seq = hdr[2];
        if (len < STRESS_MIN || len >= STRESS_MIN + STRESS_SPAN ||
            id >= (uint32_t)s->writers || seq != (uint32_t)next[id]) {
            snprintf(s->why, sizeof s->why,
                     "bad header: len %u writer %u seq %u (messages mixed)",
                     len, id, seq);
            break;
        }
        size_t body = len - STRESS_HDR;
        if (read_full(s->r, buf, body) != (ssize_t)body) {
            snprintf(s->why, sizeof s->why, "short body read");
            break;
        }
        uint8_t want = stress_fill(id, seq);
        for (size_t i = 0; i < body; i++)
            if ((uint8_t)buf[i] != want) {
                snprintf(s->why, sizeof s->why,
                         "writer %u message %u: byte %zu is %u, want %u "
                         "(messages interleaved)",
                         id, seq, i, (uint8_t)buf[i], want);
                free(buf);
                return;
            }
        next[id]++;
        s->received++;
    }
    free(buf);
}

/* Ports Go's internal/poll/fd_mutex_test.go TestMutexStress as behaviour:
 * four writers (two goroutines, two plain threads) write messages longer
 * than PIPE_BUF on one pipe while calling Fd(); since Write holds the write
 * lock for the whole buffer, looping over short writes, the reader finds
 * every message whole and in each writer's order. Then close makes later
 * calls fail. NP-5, NP-6. */
START_TEST(test_fd_mutex_stress)
{
    enum { P = 4 };
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    atomic_int bad = 0;
    stress_writer_t ws[P];
    job_t wj[P];
    int n = tu_short() ? 10 : 100;
    stress_reader_t rd = {.r = r, .writers = P, .n = n};
    job_t rj;
    job_start(&rj, false, stress_read, &rd);
    for (int i = 0; i < P; i++) {
        ws[i] = (stress_writer_t){w, (uint32_t)i, n, (unsigned)(i + 1), &bad};
        job_start(&wj[i], i >= 2, stress_write, &ws[i]);
    }
    for (int i = 0; i < P; i++)
        job_join(&wj[i]);
    job_join(&rj);
    ck_assert_msg(rd.why[0] == 0, "%s", rd.why);
    ck_assert_int_eq(rd.received, P * n);
    ck_assert_int_eq(atomic_load(&bad), 0);
    ck_assert_int_eq(chan_fd_close(w), 0);
    ck_assert_int_eq(chan_fd_read(r, rd.why, 1), 0); /* end of file */
    ck_assert_int_eq(chan_fd_close(r), 0);
    ASSERT_ERR(chan_fd_read(r, rd.why, 1), EBADF);
    ASSERT_ERR(chan_fd_write(w, rd.why, 1), EBADF);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* NP-6: a read and a write may run at once. A read blocks on one end of a
 * socket pair; a write on the same handle still goes through, and the
 * peer's reply then wakes the read. */
START_TEST(test_fd_read_write_at_once)
{
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    io_op_t rd, wr;
    op_init(&rd, a);
    job_t rj, wj;
    job_start(&rj, false, op_read, &rd);
    tu_quiet_sleep();
    ck_assert(!job_finished(&rj));
    op_init(&wr, a);
    wr.wbuf = "ping";
    wr.n = 4;
    job_start(&wj, true, op_write, &wr);
    job_join(&wj);
    ASSERT_OP(&wr, 4, 0);
    char buf[8] = {0};
    ck_assert_int_eq(read_full(b, buf, 4), 4);
    ck_assert_str_eq(buf, "ping");
    ck_assert(!job_finished(&rj));
    ck_assert_int_eq(chan_fd_write(b, "!", 1), 1);
    job_join(&rj);
    ASSERT_OP(&rd, 1, 0);
    ck_assert_int_eq(rd.data[0], '!');
    chan_fd_release(a);
    chan_fd_release(b);
    wait_goroutines_done();
}
END_TEST

typedef struct bulk {
    chan_fd_t *f;
    char *buf;
    size_t n;
    ssize_t ret;
} bulk_t;

static void bulk_write(void *p)
{
    bulk_t *b = p;
    b->ret = chan_fd_write(b->f, b->buf, b->n);
}

/* NP-6: Write writes the whole buffer, parking as often as needed: 4 MiB
 * through a socket pair arrive whole and in order. */
START_TEST(test_fd_write_whole)
{
    size_t n = (size_t)4 << 20;
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    char *out = malloc(n), *in = malloc(n);
    ck_assert(out && in);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(i * 131 >> 8);
    bulk_t bw = {a, out, n, 0};
    job_t j;
    job_start(&j, false, bulk_write, &bw);
    ck_assert_int_eq(read_full(b, in, n), (ssize_t)n);
    job_join(&j);
    ck_assert_int_eq(bw.ret, (ssize_t)n);
    ck_assert(memcmp(in, out, n) == 0);
    free(out);
    free(in);
    chan_fd_release(a);
    chan_fd_release(b);
    wait_goroutines_done();
}
END_TEST

/* ==== os/timeout_test.go (pipes) and net/timeout_test.go (TCP) ==== */

/* Go's readTimeoutTests on r, which has data waiting: a past deadline fails
 * every read at once even so; a deadline 50 ms ahead lets reads succeed until
 * it passes, then fails them, and not before it. */
static void read_timeout_steps(chan_fd_t *r)
{
    static const int64_t timeouts[] = {-5 * CHAN_SECOND, 50 * MS};
    for (int i = 0; i < 2; i++) {
        int64_t deadline = chan_now() + timeouts[i];
        ck_assert_int_eq(chan_fd_set_read_deadline(r, deadline), 0);
        for (int j = 0; j < 2; j++) {
            for (int k = 0;; k++) {
                ck_assert_int_lt(k, 1000);
                char b = 0;
                errno = 0;
                ssize_t n = chan_fd_read(r, &b, 1);
                int e = errno;
                bool must_fail = timeouts[i] < 0 || j == 1;
                ck_assert_msg(!must_fail || (n == -1 && e == ETIMEDOUT),
                              "#%d/%d: read = %zd, errno %d (%s); want "
                              "ETIMEDOUT",
                              i, j, n, e, strerror(e));
                if (n == 1) {
                    chan_sleep(timeouts[i] / 3);
                    continue;
                }
                ck_assert_msg(n == -1 && e == ETIMEDOUT,
                              "#%d/%d: read = %zd, errno %d (%s)", i, j, n, e,
                              strerror(e));
                ck_assert_int_ge(chan_now(), deadline);
                break;
            }
        }
    }
}

/* Ports Go's os/timeout_test.go TestReadTimeout. NP-4. */
START_TEST(test_os_read_timeout)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    const char msg[] = "READ TIMEOUT TEST";
    ck_assert_int_eq(chan_fd_write(w, msg, strlen(msg)), (ssize_t)strlen(msg));
    read_timeout_steps(r);
    chan_fd_release(r);
    chan_fd_release(w);
}
END_TEST

/* Ports Go's net/timeout_test.go TestReadTimeout: the same on TCP. NP-4. */
START_TEST(test_net_read_timeout)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    const char msg[] = "READ TIMEOUT TEST";
    ck_assert_int_eq(chan_fd_write(s, msg, strlen(msg)), (ssize_t)strlen(msg));
    read_timeout_steps(c);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
}
END_TEST

/* The goroutine of Go's Test{Read,Write}TimeoutMustNotReturn: sets both
 * deadlines in the past, then the other direction's, then clears its own,
 * and blocks in a read (or writes until a write blocks). */
typedef struct must_not_return {
    chan_fd_t *f;
    bool write;
    int set_failures;
    ssize_t ret;
    int err;
} must_not_return_t;

static void must_not_return_body(void *p)
{
    must_not_return_t *m = p;
    int64_t past = chan_now() - 5 * CHAN_SECOND;
    if (chan_fd_set_deadline(m->f, past) != 0)
        m->set_failures++;
    if ((m->write ? chan_fd_set_read_deadline(m->f, past)
                  : chan_fd_set_write_deadline(m->f, past)) != 0)
        m->set_failures++;
    if ((m->write ? chan_fd_set_write_deadline(m->f, 0)
                  : chan_fd_set_read_deadline(m->f, 0)) != 0)
        m->set_failures++;
    if (!m->write) {
        char b = 0;
        m->ret = chan_fd_read(m->f, &b, 1);
        m->err = m->ret < 0 ? last_errno() : 0;
        return;
    }
    static const char chunk[65536];
    for (;;) {
        ssize_t n = chan_fd_write(m->f, chunk, sizeof chunk);
        if (n != (ssize_t)sizeof chunk) {
            m->ret = n;
            m->err = last_errno();
            return;
        }
    }
}

/* Runs the goroutine on f, checks that it has not returned after 100 ms,
 * closes to_close, and returns what the call gave. */
static must_not_return_t must_not_return(chan_fd_t *f, bool write,
                                         chan_fd_t *to_close)
{
    must_not_return_t m = {.f = f, .write = write};
    job_t j;
    job_start(&j, false, must_not_return_body, &m);
    ck_assert_msg(!job_wait(&j, 100),
                  "expected the call not to return, but it returned %zd, "
                  "errno %d (%s)",
                  m.ret, m.err, strerror(m.err));
    ck_assert_int_eq(chan_fd_close(to_close), 0);
    job_join(&j);
    ck_assert_int_eq(m.set_failures, 0);
    ck_assert_msg(m.err != ETIMEDOUT, "the call timed out");
    return m;
}

/* Ports Go's os/timeout_test.go TestReadTimeoutMustNotReturn: past deadlines
 * in the other direction and a cleared read deadline do not stop a read;
 * closing the writer ends it with end of file, not a timeout. NP-4. */
START_TEST(test_os_read_timeout_must_not_return)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    must_not_return_t m = must_not_return(r, false, w);
    ck_assert_int_eq(m.ret, 0);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* Ports Go's net/timeout_test.go TestReadTimeoutMustNotReturn: on TCP; Close
 * of the connection itself ends the read with EBADF (ErrNetClosing), not a
 * timeout. NP-4, NP-5. */
START_TEST(test_net_read_timeout_must_not_return)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c = lsn_dial(&l);
    must_not_return_t m = must_not_return(c, false, c);
    ck_assert_int_eq(m.ret, -1);
    ck_assert_int_eq(m.err, EBADF);
    chan_fd_release(c);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Go's writeTimeoutTests on w: a past deadline fails a write at once even
 * with room in the buffer; a 10 ms one lets writes through until it passes. */
static void write_timeout_step(chan_fd_t *w, int64_t timeout)
{
    const char msg[] = "WRITE TIMEOUT TEST";
    int64_t deadline = chan_now() + timeout;
    ck_assert_int_eq(chan_fd_set_write_deadline(w, deadline), 0);
    for (int j = 0; j < 2; j++) {
        for (int k = 0;; k++) {
            ck_assert_int_lt(k, 100000);
            errno = 0;
            ssize_t n = chan_fd_write(w, msg, strlen(msg));
            int e = errno;
            bool must_fail = timeout < 0 || j == 1;
            ck_assert_msg(!must_fail || (n == -1 && e == ETIMEDOUT),
                          "%d: write = %zd, errno %d (%s); want ETIMEDOUT", j,
                          n, e, strerror(e));
            if (n == (ssize_t)strlen(msg)) {
                chan_sleep(timeout / 3);
                continue;
            }
            ck_assert_msg(n == -1 && e == ETIMEDOUT,
                          "%d: write = %zd, errno %d (%s)", j, n, e,
                          strerror(e));
            ck_assert_int_ge(chan_now(), deadline);
            break;
        }
    }
}

/* Ports Go's os/timeout_test.go TestWriteTimeout. NP-4. */
START_TEST(test_os_write_timeout)
{
    static const int64_t timeouts[] = {-5 * CHAN_SECOND, 10 * MS};
    for (int i = 0; i < 2; i++) {
        chan_fd_t *r, *w;
        make_pipe(&r, &w);
        write_timeout_step(w, timeouts[i]);
        chan_fd_release(r);
        chan_fd_release(w);
    }
}
END_TEST

/* Ports Go's net/timeout_test.go TestWriteTimeout: the same on TCP. NP-4. */
START_TEST(test_net_write_timeout)
{
    static const int64_t timeouts[] = {-5 * CHAN_SECOND, 10 * MS};
    lsn_t l;
    lsn_open(&l, "tcp");
    for (int i = 0; i < 2; i++) {
        chan_fd_t *c = lsn_dial(&l);
        write_timeout_step(c, timeouts[i]);
        chan_fd_release(c);
    }
    lsn_close(&l);
}
END_TEST

/* Ports Go's os/timeout_test.go TestWriteTimeoutMustNotReturn: writes fill
 * the pipe and block despite past deadlines elsewhere; closing the reader
 * ends them with EPIPE, not a timeout (and SIGPIPE does not kill us). */
START_TEST(test_os_write_timeout_must_not_return)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    must_not_return_t m = must_not_return(w, true, r);
    ck_assert_int_eq(m.err, EPIPE);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* Ports Go's net/timeout_test.go TestWriteTimeoutMustNotReturn: on TCP the
 * blocked write ends with EBADF when the connection is closed. */
START_TEST(test_net_write_timeout_must_not_return)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c = lsn_dial(&l);
    must_not_return_t m = must_not_return(c, true, c);
    ck_assert_int_eq(m.err, EBADF);
    chan_fd_release(c);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Go's timeoutUpperBound / nextTimeout: a timeout of d should return within
 * d * 11/10; when the machine is slower, try again with a longer one, up to
 * 4 s (scaled). */
static int64_t max_dynamic_timeout(void)
{
    return (int64_t)(4 * tu_scale()) * CHAN_SECOND;
}

/* Ports Go's {os,net}/timeout_test.go TestReadTimeoutFluctuation on r, which
 * has no data: a read with a deadline d ahead returns ETIMEDOUT, never before
 * the deadline, and close to it. NP-4. */
static void read_timeout_fluctuation(chan_fd_t *r)
{
    int64_t d = 1 * MS;
    char b[256];
    for (int tries = 0; tries < 64; tries++) {
        int64_t t0 = chan_now(), deadline = t0 + d;
        ck_assert_int_eq(chan_fd_set_read_deadline(r, deadline), 0);
        errno = 0;
        ssize_t n = chan_fd_read(r, b, sizeof b);
        int e = errno;
        int64_t t1 = chan_now(), actual = t1 - t0;
        ck_assert_msg(n == -1 && e == ETIMEDOUT,
                      "read = %zd, errno %d (%s); want ETIMEDOUT", n, e,
                      strerror(e));
        ck_assert_msg(t1 >= deadline,
                      "read took %lld ns; expected at least %lld",
                      (long long)actual, (long long)d);
        if (actual <= d * 11 / 10)
            return;
        ck_assert_msg(actual < max_dynamic_timeout(),
                      "read took %lld ms; expected at most %lld ms",
                      (long long)(actual / MS), (long long)(d * 11 / 10 / MS));
        d = actual * 5 / 4;
        if (d > max_dynamic_timeout())
            d = max_dynamic_timeout();
    }
    ck_abort_msg("read deadlines never fired on time");
}

/* Ports Go's {os,net}/timeout_test.go TestWriteTimeoutFluctuation on w, whose
 * reader never reads: writes until one fails with ETIMEDOUT, never before the
 * deadline. */
static void write_timeout_fluctuation(chan_fd_t *w)
{
    int64_t d = 1 * MS;
    const char msg[] = "TIMEOUT TRANSMITTER";
    for (int tries = 0; tries < 64; tries++) {
        int64_t t0 = chan_now(), deadline = t0 + d, total = 0;
        ck_assert_int_eq(chan_fd_set_write_deadline(w, deadline), 0);
        ssize_t n;
        int e;
        for (;;) {
            errno = 0;
            n = chan_fd_write(w, msg, strlen(msg));
            e = errno;
            if (n > 0)
                total += n;
            if (n != (ssize_t)strlen(msg))
                break;
        }
        int64_t t1 = chan_now(), actual = t1 - t0;
        ck_assert_msg(e == ETIMEDOUT, "write = %zd, errno %d (%s)", n, e,
                      strerror(e));
        ck_assert_msg(t1 >= deadline,
                      "write took %lld ns; expected at least %lld",
                      (long long)actual, (long long)d);
        if (actual <= d * 11 / 10)
            return;
        if (total > 0) {
            /* the buffer was still filling: give it longer */
            if (d <= max_dynamic_timeout() / 2)
                d *= 2;
            continue;
        }
        ck_assert_msg(actual < max_dynamic_timeout(),
                      "write took %lld ms; expected at most %lld ms",
                      (long long)(actual / MS), (long long)(d * 11 / 10 / MS));
        d = actual * 5 / 4;
        if (d > max_dynamic_timeout())
            d = max_dynamic_timeout();
    }
    ck_abort_msg("write deadlines never fired on time");
}

/* Ports Go's os/timeout_test.go TestReadTimeoutFluctuation and
 * TestWriteTimeoutFluctuation. NP-4. */
START_TEST(test_os_timeout_fluctuation)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    read_timeout_fluctuation(r);
    write_timeout_fluctuation(w);
    chan_fd_release(r);
    chan_fd_release(w);
}
END_TEST

/* Ports Go's net/timeout_test.go TestReadTimeoutFluctuation and
 * TestWriteTimeoutFluctuation on TCP. NP-4. */
START_TEST(test_net_timeout_fluctuation)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    read_timeout_fluctuation(c);
    write_timeout_fluctuation(c);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
}
END_TEST

/* Go's testVariousDeadlines: one side copies to or from the descriptor until
 * an error. */
typedef struct copier {
    chan_fd_t *f;
    int64_t timeout; /* reader: its deadline, from the start */
    bool close_after;
    int64_t n;
    ssize_t ret;
    int err;
    int64_t dt;
} copier_t;

/* Go's io.Copy(w, neverEnding('a')). */
static void copy_forever(void *p)
{
    copier_t *c = p;
    char buf[4096];
    memset(buf, 'a', sizeof buf);
    for (;;) {
        ssize_t k = chan_fd_write(c->f, buf, sizeof buf);
        if (k > 0)
            c->n += k;
        if (k != (ssize_t)sizeof buf) {
            c->ret = k;
            c->err = last_errno();
            return;
        }
    }
}

/* Go's io.Copy(io.Discard, r) after SetDeadline(t0 + timeout). */
static void copy_discard(void *p)
{
    copier_t *c = p;
    int64_t t0 = chan_now();
    if (c->timeout && chan_fd_set_deadline(c->f, t0 + c->timeout) != 0) {
        c->ret = -2;
        return;
    }
    char buf[4096];
    for (;;) {
        ssize_t k = chan_fd_read(c->f, buf, sizeof buf);
        if (k > 0) {
            c->n += k;
            continue;
        }
        c->ret = k;
        c->err = k < 0 ? last_errno() : 0;
        break;
    }
    c->dt = chan_now() - t0;
    if (c->close_after)
        chan_fd_close(c->f);
}

static const int64_t various_timeouts[] = {
    1,    2,    5,     50,     100,    200,    500,    750,
    1000, 5000, 25000, 250000, 500000, 1 * MS, 5 * MS, 100 * MS};
enum { N_VARIOUS = sizeof various_timeouts / sizeof various_timeouts[0] };

/* Ports Go's os/timeout_test.go TestVariousDeadlines (and its 1Proc/4Proc
 * forms, which CI gets from GOCHAN_MAXPROCS=1): a writer floods a pipe while
 * a reader with deadlines from 1 ns to 100 ms copies it away; every reader
 * times out within 5 s, and the writer then meets EPIPE. Go's longest
 * timeouts (250 ms to 1 s) and third run are left out for time. NP-4. */
START_TEST(test_os_various_deadlines)
{
    int runs = tu_short() ? 1 : 2;
    for (int i = 0; i < N_VARIOUS; i++)
        for (int run = 0; run < runs; run++) {
            chan_fd_t *r, *w;
            make_pipe(&r, &w);
            copier_t wc = {.f = w}, rc = {.f = r,
                                          .timeout = various_timeouts[i],
                                          .close_after = true};
            job_t wj, rj;
            job_start(&wj, false, copy_forever, &wc);
            job_start(&rj, false, copy_discard, &rc);
            ck_assert_msg(job_wait(&rj, 5000),
                          "timeout %lld ns: the reader did not time out in 5 s",
                          (long long)various_timeouts[i]);
            job_join(&rj);
            ck_assert_msg(rc.ret == -1 && rc.err == ETIMEDOUT,
                          "timeout %lld ns: copy = %lld bytes, %zd, errno %d "
                          "(%s); want a timeout",
                          (long long)various_timeouts[i], (long long)rc.n,
                          rc.ret, rc.err, strerror(rc.err));
            job_join(&wj);
            ck_assert_int_eq(wc.err, EPIPE);
            chan_fd_release(r);
            chan_fd_release(w);
        }
    wait_goroutines_done();
}
END_TEST

/* Go's net testVariousDeadlines server: accepts one connection at a time and
 * reads until the client closes it. */
static void various_server(void *p)
{
    lsn_t *l = p;
    for (;;) {
        chan_fd_t *c = chan_fd_accept(l->ln);
        if (!c)
            return;
        char b = 0;
        chan_fd_read(c, &b, 1);
        chan_fd_close(c);
        chan_fd_release(c);
    }
}

/* Ports Go's net/timeout_test.go TestVariousDeadlines: a client that reads
 * from a silent server with deadlines from 1 ns to 100 ms always times out.
 * NP-4. */
START_TEST(test_net_various_deadlines)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    job_t sj;
    job_start(&sj, false, various_server, &l);
    int runs = tu_short() ? 1 : 2;
    for (int i = 0; i < N_VARIOUS; i++)
        for (int run = 0; run < runs; run++) {
            copier_t rc = {.f = lsn_dial(&l), .timeout = various_timeouts[i]};
            int64_t t0 = chan_now();
            copy_discard(&rc);
            ck_assert_msg(rc.ret == -1 && rc.err == ETIMEDOUT,
                          "timeout %lld ns: copy = %zd, errno %d (%s); want "
                          "a timeout",
                          (long long)various_timeouts[i], rc.ret, rc.err,
                          strerror(rc.err));
            ck_assert_int_le(chan_now() - t0, 5 * CHAN_SECOND * tu_scale());
            chan_fd_close(rc.f);
            chan_fd_release(rc.f);
        }
    ck_assert_int_eq(chan_fd_close(l.ln), 0); /* ends the server's accept */
    job_join(&sj);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Go's TestReadWriteDeadlineRace: one goroutine moves both deadlines to 2 us
 * ahead every 2 us while another reads and a third writes; every call
 * succeeds or times out. */
typedef struct deadline_race {
    chan_fd_t *r, *w;
    int n;
    atomic_int bad;
    atomic_int last_bad_errno;
} deadline_race_t;

static void drace_setter(void *p)
{
    deadline_race_t *d = p;
    for (int i = 0; i < d->n; i++) {
        if (chan_fd_set_read_deadline(d->r, chan_now() + 2 * CHAN_MICROSECOND))
            break;
        if (chan_fd_set_write_deadline(d->w, chan_now() + 2 * CHAN_MICROSECOND))
            break;
        chan_sleep(2 * CHAN_MICROSECOND);
    }
}

static void drace_reader(void *p)
{
    deadline_race_t *d = p;
    char b = 0;
    for (int i = 0; i < d->n; i++)
        if (chan_fd_read(d->r, &b, 1) < 0) {
            int e = last_errno();
            if (e != ETIMEDOUT) {
                atomic_fetch_add(&d->bad, 1);
                atomic_store(&d->last_bad_errno, e);
            }
        }
}

static void drace_writer(void *p)
{
    deadline_race_t *d = p;
    char b = 'b';
    for (int i = 0; i < d->n; i++)
        if (chan_fd_write(d->w, &b, 1) < 0) {
            int e = last_errno();
            if (e != ETIMEDOUT) {
                atomic_fetch_add(&d->bad, 1);
                atomic_store(&d->last_bad_errno, e);
            }
        }
}

static void deadline_race(chan_fd_t *r, chan_fd_t *w)
{
    deadline_race_t d = {.r = r, .w = w, .n = tu_short() ? 50 : 1000};
    job_t j[3];
    job_start(&j[0], false, drace_setter, &d);
    job_start(&j[1], false, drace_reader, &d);
    job_start(&j[2], false, drace_writer, &d);
    for (int i = 0; i < 3; i++)
        job_join(&j[i]);
    ck_assert_msg(atomic_load(&d.bad) == 0,
                  "%d calls failed with other errors than a timeout (last "
                  "%s)",
                  atomic_load(&d.bad),
                  strerror(atomic_load(&d.last_bad_errno)));
    wait_goroutines_done();
}

/* Ports Go's os/timeout_test.go TestReadWriteDeadlineRace. NP-4. */
START_TEST(test_os_read_write_deadline_race)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    deadline_race(r, w);
    chan_fd_release(r);
    chan_fd_release(w);
}
END_TEST

/* Ports Go's net/timeout_test.go TestReadWriteDeadlineRace: on one TCP
 * connection (reads and writes on the same handle). NP-4. */
START_TEST(test_net_read_write_deadline_race)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c = lsn_dial(&l);
    deadline_race(c, c);
    chan_fd_release(c);
    lsn_close(&l);
}
END_TEST

/* Go's TestRacyRead / TestRacyWrite: ten goroutines read (write) with 1 ms
 * deadlines while the other end streams, scribbling over their buffer as
 * soon as each call returns (the sanitizers see any late access to it);
 * every failure is a timeout, after which the deadline is set again. */
typedef struct racy {
    chan_fd_t *f;
    bool write;
    int rounds;
    atomic_int bad;
} racy_t;

static void racy_body(void *p)
{
    racy_t *r = p;
    char b1[1024], b2[1024];
    memset(b1, 1, sizeof b1);
    memset(b2, 2, sizeof b2);
    for (int j = 0; j < r->rounds; j++) {
        ssize_t want = r->write ? (ssize_t)sizeof b1 : 1;
        ssize_t n = r->write ? chan_fd_write(r->f, b1, sizeof b1)
                             : chan_fd_read(r->f, b1, sizeof b1);
        int e = n < want ? last_errno() : 0;
        memcpy(b1, b2, sizeof b1);
        if (n < want) {
            if (e != ETIMEDOUT)
                atomic_fetch_add(&r->bad, 1);
            if (r->write)
                chan_fd_set_write_deadline(r->f, chan_now() + MS);
            else
                chan_fd_set_read_deadline(r->f, chan_now() + MS);
        }
    }
}

static void racy(bool write)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    copier_t other = {.f = write ? r : w};
    job_t oj;
    job_start(&oj, false, write ? copy_discard : copy_forever, &other);
    racy_t rc = {
        .f = write ? w : r, .write = write, .rounds = tu_short() ? 20 : 100};
    if (write)
        ck_assert_int_eq(chan_fd_set_write_deadline(w, chan_now() + MS), 0);
    else
        ck_assert_int_eq(chan_fd_set_read_deadline(r, chan_now() + MS), 0);
    job_t j[10];
    for (int i = 0; i < 10; i++)
        job_start(&j[i], false, racy_body, &rc);
    for (int i = 0; i < 10; i++)
        job_join(&j[i]);
    ck_assert_int_eq(atomic_load(&rc.bad), 0);
    /* End the streaming side: its peer goes away. */
    ck_assert_int_eq(chan_fd_close(write ? w : r), 0);
    job_join(&oj);
    if (write)
        ck_assert_int_eq(other.ret, 0); /* end of file */
    else
        ck_assert_int_eq(other.err, EPIPE);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}

/* Ports Go's os/timeout_test.go TestRacyRead. NP-4. */
START_TEST(test_os_racy_read)
{
    racy(false);
}
END_TEST

/* Ports Go's os/timeout_test.go TestRacyWrite. NP-4. */
START_TEST(test_os_racy_write)
{
    racy(true);
}
END_TEST

/* Ports Go's os/timeout_test.go TestNonpollableDeadline, and uses the regular
 * file: it works in blocking mode (from the main thread and from a
 * goroutine), every deadline call fails with ENOTSUP (Go's ErrNoDeadline),
 * and the RawConn waits return at once. A directory is taken too, and
 * reading it fails with EISDIR. NP-3. */
START_TEST(test_os_nonpollable_deadline)
{
    char path[] = "/tmp/gochan-net-file-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    chan_fd_t *f = chan_fd_new(fd);
    ck_assert_ptr_nonnull(f);
    int64_t deadline = chan_now() + 10 * CHAN_SECOND;
    ASSERT_ERR(chan_fd_set_deadline(f, deadline), ENOTSUP);
    ASSERT_ERR(chan_fd_set_read_deadline(f, deadline), ENOTSUP);
    ASSERT_ERR(chan_fd_set_write_deadline(f, deadline), ENOTSUP);
    ASSERT_ERR(chan_fd_set_deadline(f, 0), ENOTSUP);
    const char msg[] = "hello, file";
    ck_assert_int_eq(chan_fd_write(f, msg, strlen(msg)), (ssize_t)strlen(msg));
    ck_assert_int_eq(lseek(chan_fd_fileno(f), 0, SEEK_SET), 0);
    char buf[32] = {0};
    ck_assert_int_eq(chan_fd_read(f, buf, sizeof buf), (ssize_t)strlen(msg));
    ck_assert_str_eq(buf, msg);
    ck_assert_int_eq(chan_fd_read(f, buf, sizeof buf), 0); /* end of file */
    ck_assert_int_eq(chan_fd_wait_read(f), 0);
    ck_assert_int_eq(chan_fd_wait_write(f), 0);
    /* From a goroutine. */
    ck_assert_int_eq(lseek(chan_fd_fileno(f), 0, SEEK_SET), 0);
    io_op_t op;
    op_init(&op, f);
    op.n = strlen(msg);
    job_t j;
    job_start(&j, false, op_read, &op);
    job_join(&j);
    ASSERT_OP(&op, (ssize_t)strlen(msg), 0);
    ck_assert(memcmp(op.data, msg, strlen(msg)) == 0);
    ck_assert_int_eq(chan_fd_close(f), 0);
    ASSERT_ERR(chan_fd_read(f, buf, 1), EBADF);
    chan_fd_release(f);

    int dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(dfd, 0);
    chan_fd_t *d = chan_fd_new(dfd);
    ck_assert_ptr_nonnull(d);
    ASSERT_ERR(chan_fd_set_read_deadline(d, deadline), ENOTSUP);
    ASSERT_ERR(chan_fd_read(d, buf, sizeof buf), EISDIR);
    ck_assert_int_eq(chan_fd_close(d), 0);
    chan_fd_release(d);
    wait_goroutines_done();
}
END_TEST

/* ==== os/pipe_test.go ==== */

typedef struct delayed_close {
    chan_fd_t *f;
    int64_t delay;
    int ret;
    int err;
} delayed_close_t;

static void delayed_close(void *p)
{
    delayed_close_t *d = p;
    chan_sleep(d->delay);
    d->ret = chan_fd_close(d->f);
    d->err = d->ret ? last_errno() : 0;
}

/* Ports Go's os/pipe_test.go TestClosedPipeRaceRead: a goroutine closes the
 * read end 20 ms after this thread started reading it; the read fails with
 * EBADF (Go's fs.ErrClosed), whichever came first. NP-5. */
START_TEST(test_pipe_closed_race_read)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    delayed_close_t dc = {r, 20 * MS, 0, 0};
    job_t j;
    job_start(&j, false, delayed_close, &dc);
    char b = 0;
    ASSERT_ERR(chan_fd_read(r, &b, 1), EBADF);
    job_join(&j);
    ck_assert_int_eq(dc.ret, 0);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

static size_t pipe_write_limit(void)
{
    size_t limit = 131073;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1)
            limit = v + 1;
        fclose(f);
    }
    return limit;
}

/* Ports Go's os/pipe_test.go TestClosedPipeRaceWrite: a write of more than a
 * pipe can ever hold, with nobody reading, is ended by a close of the write
 * end from a goroutine: it returns what it wrote (or -1) with EBADF. NP-5. */
START_TEST(test_pipe_closed_race_write)
{
    size_t limit = pipe_write_limit();
    char *buf = calloc(1, limit);
    ck_assert_ptr_nonnull(buf);
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    delayed_close_t dc = {w, 20 * MS, 0, 0};
    job_t j;
    job_start(&j, false, delayed_close, &dc);
    errno = 0;
    ssize_t n = chan_fd_write(w, buf, limit);
    int e = errno;
    job_join(&j);
    ck_assert_int_eq(dc.ret, 0);
    ck_assert_msg(n < (ssize_t)limit && e == EBADF,
                  "write = %zd of %zu, errno %d (%s); want EBADF", n, limit, e,
                  strerror(e));
    free(buf);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* Ports Go's os/pipe_test.go TestCloseWithBlockingReadByFd: Fd() is taken
 * first (in Go that makes the file blocking; gochan keeps polling it), a
 * read blocks, and a close from another goroutine returns at once and ends
 * the read with EBADF (or end of file once the writer is closed too). */
START_TEST(test_pipe_close_with_blocking_read)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    ck_assert_int_ge(chan_fd_fileno(r), 0);
    delayed_close_t dc = {r, 20 * MS, 0, 0};
    io_op_t rd;
    op_init(&rd, r);
    job_t cj, rj;
    job_start(&cj, false, delayed_close, &dc);
    job_start(&rj, false, op_read, &rd);
    job_join(&cj);
    ck_assert_int_eq(dc.ret, 0);
    if (!job_wait(&rj, 1000)) {
        /* Go closes the writer here to unblock a read that hangs; that is
         * a failure all the same. */
        chan_fd_close(w);
        job_join(&rj);
        ck_abort_msg("the read did not return within 1 s of the close");
    }
    job_join(&rj);
    ck_assert_msg((rd.ret == -1 && rd.err == EBADF) || rd.ret == 0,
                  "read = %zd, errno %d (%s); want EBADF or end of file",
                  rd.ret, rd.err, strerror(rd.err));
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

static void pipe_eof_writer(void *p)
{
    chan_fd_t *w = p;
    for (int i = 0; i < 3; i++) {
        chan_sleep(10 * MS);
        char line[16];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        if (chan_fd_write(w, line, (size_t)n) != n)
            break;
    }
    chan_sleep(10 * MS);
    chan_fd_close(w);
}

typedef struct pipe_eof_reader {
    chan_fd_t *r;
    char text[64];
    size_t len;
    ssize_t last;
    int err;
} pipe_eof_reader_t;

static void pipe_eof_reader(void *p)
{
    pipe_eof_reader_t *pr = p;
    for (;;) {
        ssize_t n = chan_fd_read(pr->r, pr->text + pr->len,
                                 sizeof pr->text - 1 - pr->len);
        if (n <= 0) {
            pr->last = n;
            pr->err = n < 0 ? last_errno() : 0;
            break;
        }
        pr->len += (size_t)n;
    }
    chan_fd_close(pr->r);
}

/* Ports Go's os/pipe_test.go TestPipeEOF: a goroutine writes three lines
 * 10 ms apart and closes; another reads them all, then end of file (0). NP-7.
 */
START_TEST(test_pipe_eof)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    pipe_eof_reader_t pr = {.r = r};
    job_t wj, rj;
    job_start(&wj, false, pipe_eof_writer, w);
    job_start(&rj, false, pipe_eof_reader, &pr);
    job_join(&rj);
    job_join(&wj);
    ck_assert_int_eq(pr.last, 0);
    ck_assert_str_eq(pr.text, "line 0\nline 1\nline 2\n");
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

typedef struct fd_race {
    chan_fd_t *f;
    int fd;
    atomic_int bad;
} fd_race_t;

static void fd_race_call(void *p)
{
    fd_race_t *fr = p;
    if (chan_fd_fileno(fr->f) != fr->fd)
        atomic_fetch_add(&fr->bad, 1);
}

/* Ports Go's os/pipe_test.go TestFdRace: 100 goroutines ask for Fd() at once
 * and all get the same number. */
START_TEST(test_pipe_fd_race)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    fd_race_t fr = {.f = w, .fd = chan_fd_fileno(w)};
    ck_assert_int_ge(fr.fd, 0);
    job_t j[100];
    for (int i = 0; i < 100; i++)
        job_start(&j[i], false, fd_race_call, &fr);
    for (int i = 0; i < 100; i++)
        job_join(&j[i]);
    ck_assert_int_eq(atomic_load(&fr.bad), 0);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

typedef struct fd_read_race {
    chan_fd_t *r, *w;
    chan_t *started;
    io_op_t rd;
    int fileno_got;
} fd_read_race_t;

static void fd_read_race_reader(void *p)
{
    fd_read_race_t *f = p;
    chan_fd_set_read_deadline(f->r, chan_now() + CHAN_MINUTE);
    chan_close(f->started);
    f->rd.n = 10;
    op_read(&f->rd);
}

static void fd_read_race_other(void *p)
{
    fd_read_race_t *f = p;
    chan_recv(f->started, NULL);
    chan_sleep(10 * MS); /* likely inside the read by now */
    f->fileno_got = chan_fd_fileno(f->r);
    char zeros[10] = {0};
    chan_fd_write(f->w, zeros, sizeof zeros);
    chan_fd_close(f->r);
}

/* Ports Go's os/pipe_test.go TestFdReadRace: Fd() while a read with a
 * one-minute deadline waits must not wait for that read; the write and close
 * that follow end the read long before its deadline. */
START_TEST(test_pipe_fd_read_race)
{
    fd_read_race_t f = {.fileno_got = -2};
    make_pipe(&f.r, &f.w);
    f.started = chan_make(0, 0);
    op_init(&f.rd, f.r);
    job_t rj, oj;
    job_start(&rj, false, fd_read_race_reader, &f);
    job_start(&oj, false, fd_read_race_other, &f);
    job_join(&oj);
    job_join(&rj);
    ck_assert_int_ge(f.fileno_got, 0);
    ck_assert_msg(f.rd.err != ETIMEDOUT, "read timed out");
    ck_assert_msg(f.rd.ret == 10 || (f.rd.ret == -1 && f.rd.err == EBADF),
                  "read = %zd, errno %d", f.rd.ret, f.rd.err);
    chan_release(f.started);
    chan_fd_release(f.r);
    chan_fd_release(f.w);
    wait_goroutines_done();
}
END_TEST

/* Ports Go's os/pipe_test.go TestEPIPE (for descriptors other than 1 and 2,
 * where Go returns EPIPE rather than dying), and the brief's SIGPIPE check:
 * with SIGPIPE at its default action (which kills), writes to a pipe, a unix
 * socket and a TCP connection whose reader is gone return EPIPE (TCP: or
 * ECONNRESET), from this plain thread and from a goroutine, and the process
 * lives on. */
START_TEST(test_sigpipe)
{
    signal(SIGPIPE, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);

    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    ck_assert_int_eq(chan_fd_close(r), 0);
    ASSERT_ERR(chan_fd_write(w, "x", 1), EPIPE);
    io_op_t op;
    op_init(&op, w);
    job_t j;
    job_start(&j, false, op_write, &op);
    job_join(&j);
    ASSERT_OP(&op, -1, EPIPE);
    chan_fd_release(r);
    chan_fd_release(w);

    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    ck_assert_int_eq(chan_fd_close(b), 0);
    ASSERT_ERR(chan_fd_write(a, "x", 1), EPIPE);
    op_init(&op, a);
    job_start(&j, true, op_write, &op);
    job_join(&j);
    ASSERT_OP(&op, -1, EPIPE);
    chan_fd_release(a);
    chan_fd_release(b);

    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    ck_assert_int_eq(chan_fd_close(s), 0);
    int e = 0;
    for (int k = 0; k < 200 && e == 0; k++) {
        errno = 0;
        if (chan_fd_write(c, "x", 1) < 0)
            e = errno;
        else
            tu_sleep_ms(1);
    }
    ck_assert_msg(e == EPIPE || e == ECONNRESET,
                  "write to a closed TCP peer: errno %d (%s)", e, strerror(e));
    /* Once the reset is reported, writes meet EPIPE. */
    ASSERT_ERR(chan_fd_write(c, "x", 1), EPIPE);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* ==== net/timeout_test.go: accept, prolonged and concurrent deadlines ==== */

/* Ports Go's net/timeout_test.go TestAcceptTimeout: a past deadline fails
 * Accept at once even with a connection waiting; a deadline 50 ms ahead lets
 * accepts through until it passes, then fails them, not before it. NP-4. */
START_TEST(test_net_accept_timeout)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c = lsn_dial(&l); /* waits in the backlog */
    static const int64_t timeouts[] = {-5 * CHAN_SECOND, 50 * MS};
    for (int i = 0; i < 2; i++) {
        int64_t deadline = chan_now() + timeouts[i];
        ck_assert_int_eq(chan_fd_set_deadline(l.ln, deadline), 0);
        for (int j = 0; j < 2; j++)
            for (int k = 0;; k++) {
                ck_assert_int_lt(k, 1000);
                errno = 0;
                chan_fd_t *s = chan_fd_accept(l.ln);
                int e = errno;
                bool must_fail = timeouts[i] < 0 || j == 1;
                ck_assert_msg(!must_fail || (s == NULL && e == ETIMEDOUT),
                              "#%d/%d: accept = %p, errno %d (%s)", i, j,
                              (void *)s, e, strerror(e));
                if (s) {
                    chan_fd_release(s);
                    chan_sleep(10 * MS);
                    continue;
                }
                ck_assert_int_eq(e, ETIMEDOUT);
                ck_assert_int_ge(chan_now(), deadline);
                break;
            }
    }
    chan_fd_release(c);
    lsn_close(&l);
}
END_TEST

typedef struct accept_deadlines {
    lsn_t *l;
    bool must_return;
    int set_failures;
    io_op_t op;
} accept_deadlines_t;

static void accept_deadlines_body(void *p)
{
    accept_deadlines_t *a = p;
    if (a->must_return) {
        a->set_failures += chan_fd_set_deadline(a->l->ln, 0) != 0;
        a->set_failures +=
            chan_fd_set_deadline(a->l->ln, chan_now() + 10 * MS) != 0;
    } else {
        a->set_failures +=
            chan_fd_set_deadline(a->l->ln, chan_now() - 5 * CHAN_SECOND) != 0;
        a->set_failures += chan_fd_set_deadline(a->l->ln, 0) != 0;
    }
    op_init(&a->op, a->l->ln);
    op_accept(&a->op);
    chan_fd_release(a->op.conn);
}

/* Ports Go's net/timeout_test.go TestAcceptTimeoutMustReturn: a deadline
 * set 10 ms ahead (after clearing) ends a blocked accept with ETIMEDOUT. */
START_TEST(test_net_accept_timeout_must_return)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    accept_deadlines_t a = {.l = &l, .must_return = true};
    job_t j;
    job_start(&j, false, accept_deadlines_body, &a);
    job_join(&j);
    ck_assert_int_eq(a.set_failures, 0);
    ASSERT_OP(&a.op, -1, ETIMEDOUT);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Ports Go's net/timeout_test.go TestAcceptTimeoutMustNotReturn: a past
 * deadline, then cleared, leaves accept blocked; Close ends it with EBADF.
 * NP-4, NP-5. */
START_TEST(test_net_accept_timeout_must_not_return)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    accept_deadlines_t a = {.l = &l, .must_return = false};
    job_t j;
    job_start(&j, false, accept_deadlines_body, &a);
    ck_assert_msg(!job_wait(&j, 100), "accept returned: %zd, errno %d",
                  a.op.ret, a.op.err);
    ck_assert_int_eq(chan_fd_close(l.ln), 0);
    job_join(&j);
    ck_assert_int_eq(a.set_failures, 0);
    ASSERT_OP(&a.op, -1, EBADF);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Go's TestReadWriteProlongedTimeout server: one goroutine reads and one
 * writes a byte at a time, each pushing its deadline an hour ahead first. */
typedef struct prolonged {
    chan_fd_t *c;
    atomic_int set_failures;
} prolonged_t;

static void prolonged_reader(void *p)
{
    prolonged_t *pr = p;
    char b = 0;
    for (;;) {
        if (chan_fd_set_read_deadline(pr->c, chan_now() + CHAN_HOUR) != 0) {
            atomic_fetch_add(&pr->set_failures, 1);
            return;
        }
        if (chan_fd_read(pr->c, &b, 1) <= 0)
            return;
    }
}

static void prolonged_writer(void *p)
{
    prolonged_t *pr = p;
    char b = 'p';
    for (;;) {
        if (chan_fd_set_write_deadline(pr->c, chan_now() + CHAN_HOUR) != 0) {
            atomic_fetch_add(&pr->set_failures, 1);
            return;
        }
        if (chan_fd_write(pr->c, &b, 1) != 1)
            return;
    }
}

static void prolonged_server(void *p)
{
    prolonged_t *pr = p;
    job_t r, w;
    job_start(&r, false, prolonged_reader, pr);
    job_start(&w, false, prolonged_writer, pr);
    job_join(&r);
    job_join(&w);
}

/* Ports Go's net/timeout_test.go TestReadWriteProlongedTimeout: deadlines
 * moved concurrently with reads and writes in flight (a data race in Go's
 * past): nothing fails until the client goes away. NP-4. */
START_TEST(test_net_read_write_prolonged_timeout)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    prolonged_t pr = {.c = s};
    job_t sj;
    job_start(&sj, false, prolonged_server, &pr);
    int n = tu_short() ? 100 : 1000;
    char b = 'c';
    for (int i = 0; i < n; i++) {
        chan_fd_write(c, &b, 1);
        chan_fd_read(c, &b, 1);
    }
    ck_assert_int_eq(chan_fd_close(c), 0);
    job_join(&sj);
    ck_assert_int_eq(atomic_load(&pr.set_failures), 0);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

typedef struct concurrent_deadlines {
    chan_fd_t **c;
    int conns, tries, i;
    int64_t now;
    atomic_int *failures;
} concurrent_deadlines_t;

static void concurrent_deadlines_body(void *p)
{
    concurrent_deadlines_t *cd = p;
    for (int j = cd->tries; j > 0; j--)
        for (int k = 0; k < cd->conns; k++) {
            int64_t shift = (int64_t)cd->i * j * k * CHAN_SECOND;
            if (chan_fd_set_read_deadline(cd->c[k],
                                          cd->now + 2 * CHAN_HOUR + shift) != 0)
                atomic_fetch_add(cd->failures, 1);
            if (chan_fd_set_write_deadline(cd->c[k],
                                           cd->now + CHAN_HOUR + shift) != 0)
                atomic_fetch_add(cd->failures, 1);
        }
}

/* Ports Go's net/timeout_test.go TestConcurrentSetDeadline (issue 35367):
 * eight goroutines move the deadlines of ten connections ever earlier at
 * once; every call succeeds. NP-4. */
START_TEST(test_net_concurrent_set_deadline)
{
    enum { G = 8, CONNS = 10 };
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c[CONNS];
    for (int k = 0; k < CONNS; k++)
        c[k] = lsn_dial(&l);
    atomic_int failures = 0;
    concurrent_deadlines_t cd[G];
    job_t j[G];
    int64_t now = chan_now();
    for (int i = 0; i < G; i++) {
        cd[i] = (concurrent_deadlines_t){c, CONNS, tu_short() ? 10 : 100,
                                         i, now,   &failures};
        job_start(&j[i], false, concurrent_deadlines_body, &cd[i]);
    }
    for (int i = 0; i < G; i++)
        job_join(&j[i]);
    ck_assert_int_eq(atomic_load(&failures), 0);
    for (int k = 0; k < CONNS; k++)
        chan_fd_release(c[k]);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* ==== net/net_test.go ==== */

typedef struct close_write_server {
    lsn_t *l;
    ssize_t read1, write1;
    int close_write_ret, err_read, err_write;
} close_write_server_t;

static void close_write_server(void *p)
{
    close_write_server_t *cw = p;
    chan_fd_t *c = chan_fd_accept(cw->l->ln);
    if (!c) {
        cw->read1 = -2;
        return;
    }
    chan_fd_set_deadline(c, chan_now() + patience());
    char b = 's';
    cw->read1 = chan_fd_read(c, &b, 1);
    cw->err_read = cw->read1 < 0 ? last_errno() : 0;
    cw->close_write_ret = chan_fd_close_write(c);
    cw->write1 = chan_fd_write(c, &b, 1);
    cw->err_write = cw->write1 < 0 ? last_errno() : 0;
    chan_fd_close(c);
    chan_fd_release(c);
}

/* Ports Go's net/net_test.go TestCloseWrite, for "tcp" and "unix": after
 * CloseWrite each side reads end of file (0) and its own writes fail
 * (EPIPE, without SIGPIPE killing us). */
START_TEST(test_net_close_write)
{
    const char *network = stream_networks[_i];
    lsn_t l;
    lsn_open(&l, network);
    close_write_server_t cw = {.l = &l};
    job_t sj;
    job_start(&sj, false, close_write_server, &cw);
    chan_fd_t *c = lsn_dial(&l);
    ck_assert_int_eq(chan_fd_set_deadline(c, chan_now() + patience()), 0);
    ck_assert_int_eq(chan_fd_close_write(c), 0);
    char b = 0;
    ck_assert_int_eq(chan_fd_read(c, &b, 1), 0);
    ASSERT_ERR(chan_fd_write(c, &b, 1), EPIPE);
    job_join(&sj);
    ck_assert_msg(cw.read1 == 0, "%s server read = %zd, errno %d; want 0",
                  network, cw.read1, cw.err_read);
    ck_assert_int_eq(cw.close_write_ret, 0);
    ck_assert_msg(cw.write1 == -1 && cw.err_write == EPIPE,
                  "%s server write = %zd, errno %d; want EPIPE", network,
                  cw.write1, cw.err_write);
    chan_fd_release(c);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Ports Go's net/net_test.go TestConnClose, for "tcp" and "unix": a read
 * after Close fails with EBADF. NP-5. */
START_TEST(test_net_conn_close)
{
    lsn_t l;
    lsn_open(&l, stream_networks[_i]);
    chan_fd_t *c = lsn_dial(&l);
    ck_assert_int_eq(chan_fd_close(c), 0);
    char b = 0;
    ASSERT_ERR(chan_fd_read(c, &b, 1), EBADF);
    chan_fd_release(c);
    lsn_close(&l);
}
END_TEST

/* Ports Go's net/net_test.go TestListenerClose, for "tcp" and "unix": Accept
 * after Close fails with EBADF; a unix listener removes its path (Go's
 * unlinkOnClose). NP-5. */
START_TEST(test_net_listener_close)
{
    const char *network = stream_networks[_i];
    lsn_t l;
    lsn_open(&l, network);
    ck_assert_int_eq(chan_fd_close(l.ln), 0);
    ASSERT_NULL_ERR(chan_fd_accept(l.ln), EBADF);
    if (strcmp(network, "unix") == 0) {
        struct stat st;
        ck_assert_int_eq(stat(l.addr, &st), -1);
        ck_assert_int_eq(errno, ENOENT);
    }
    lsn_close(&l);
}
END_TEST

/* Ports Go's net/net_test.go TestListenCloseListen: Listen on the address a
 * closed listener had succeeds at once (SO_REUSEADDR). NP-9. */
START_TEST(test_net_listen_close_listen)
{
    for (int tries = 0; tries < 10; tries++) {
        lsn_t l;
        lsn_open(&l, "tcp");
        char addr[160];
        strcpy(addr, l.addr);
        ck_assert_int_eq(chan_fd_close(l.ln), 0);
        chan_fd_t *again = chan_net_listen("tcp", addr);
        int e = errno;
        lsn_close(&l);
        if (again) {
            char got[160];
            ck_assert_int_eq(chan_fd_local_addr(again, got, sizeof got), 0);
            ck_assert_str_eq(got, addr);
            chan_fd_release(again);
            return;
        }
        fprintf(stderr, "relisten on %s failed (try %d): %s\n", addr, tries + 1,
                strerror(e));
    }
    ck_abort_msg("failed to listen/close/listen on the same address");
}
END_TEST

/* Ports Go's net/net_test.go TestZeroByteRead, for "tcp" and "unix": a read
 * of zero bytes returns 0 at once on both ends, with nothing to read (Go's
 * Read(nil)). NP-7. */
START_TEST(test_net_zero_byte_read)
{
    lsn_t l;
    lsn_open(&l, stream_networks[_i]);
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    char b = 0;
    ck_assert_int_eq(chan_fd_read(c, NULL, 0), 0);
    ck_assert_int_eq(chan_fd_read(s, NULL, 0), 0);
    ck_assert_int_eq(chan_fd_read(c, &b, 0), 0);
    ck_assert_int_eq(chan_fd_read_ctx(NULL, s, &b, 0), 0);
    /* a write of zero bytes is no error either */
    ck_assert_int_eq(chan_fd_write(c, &b, 0), 0);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
}
END_TEST

/* Ports Go's net/net_test.go TestReadTimeoutUnblocksRead: a deadline moved
 * into the past (Go's time.Unix(123, 0)) while a read waits ends that read
 * with ETIMEDOUT. NP-4, NP-10. */
START_TEST(test_net_read_timeout_unblocks_read)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    io_op_t rd;
    op_init(&rd, s);
    job_t j;
    job_start(&j, false, op_read, &rd);
    ck_assert(!job_wait(&j, 100));
    ck_assert_int_eq(
        chan_fd_set_read_deadline(s, chan_now() - 123 * CHAN_SECOND), 0);
    ck_assert_msg(job_wait(&j, 5000), "the read did not finish within 5 s");
    job_join(&j);
    ASSERT_OP(&rd, -1, ETIMEDOUT);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Ports Go's net/net_test.go TestCloseUnblocksRead: the peer's Close ends a
 * blocked read with end of file (0). NP-7. */
START_TEST(test_net_close_unblocks_read)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    io_op_t rd;
    op_init(&rd, c);
    job_t j;
    job_start(&j, false, op_read, &rd);
    chan_sleep(20 * MS);
    ck_assert_int_eq(chan_fd_close(s), 0);
    job_join(&j);
    ASSERT_OP(&rd, 0, 0);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* ==== net/dial_test.go, dial_unix_test.go, timeout_test.go TestDialTimeout
 * ==== */

/* A raw listener whose accept queue is full: with a backlog of 0 Linux
 * queues one connection and then drops SYNs, so a later connect stays in
 * progress. Each connect is probed: the first that does not complete within
 * 200 ms shows the queue is full. False (and nothing open) if it never
 * fills. */
typedef struct full_listener {
    int lfd;
    int conns[8];
    int nconns;
    char addr[64];
} full_listener_t;

static void full_listener_close(full_listener_t *f)
{
    for (int i = 0; i < f->nconns; i++)
        close(f->conns[i]);
    f->nconns = 0;
    if (f->lfd >= 0)
        close(f->lfd);
    f->lfd = -1;
}

static bool full_listener_open(full_listener_t *f)
{
    memset(f, 0, sizeof *f);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(f->lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(f->lfd, 0), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", ntohs(a.sin_port));
    for (int i = 0; i < 8; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(s, 0);
        f->conns[f->nconns++] = s;
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            continue;
        ck_assert_int_eq(errno, EINPROGRESS);
        struct pollfd p = {s, POLLOUT, 0};
        if (poll(&p, 1, 200) == 0)
            return true; /* this one hangs: the queue is full */
    }
    full_listener_close(f);
    return false;
}

typedef struct dial_op {
    context_t *ctx;
    const char *network, *address;
    chan_fd_t *conn;
    int err;
    int64_t t0, t1;
} dial_op_t;

static void op_dial(void *p)
{
    dial_op_t *d = p;
    d->t0 = chan_now();
    d->conn = chan_net_dial(d->ctx, d->network, d->address);
    d->err = d->conn ? 0 : last_errno();
    d->t1 = chan_now();
}

/* Ports Go's net/timeout_test.go TestDialTimeout (Go stalls connect with a
 * socket filter; here a listener's full accept queue makes the handshake
 * hang on loopback), and the "canceled from another goroutine while
 * dialing" half of net/dial_test.go TestDialCancel, from a plain thread
 * (_i 0) and a goroutine (_i 1): a context deadline 100 ms ahead ends the
 * dial with ETIMEDOUT, not before it; a cancel 50 ms in ends it with
 * ECANCELED; no descriptor is left behind. NP-9, NP-10. */
START_TEST(test_net_dial_timeout)
{
    bool on_thread = _i == 0;
    full_listener_t f;
    if (!full_listener_open(&f)) {
        fprintf(stderr, "dial_timeout: the accept queue never filled; "
                        "skipped\n");
        return;
    }
    warm_up();
    int fds = count_fds();

    context_cancel_t *cancel;
    context_t *ctx =
        context_with_timeout(context_background(), 100 * MS, &cancel);
    ck_assert_ptr_nonnull(ctx);
    int64_t deadline;
    ck_assert(context_deadline(ctx, &deadline));
    dial_op_t d = {.ctx = ctx, .network = "tcp", .address = f.addr};
    job_t j;
    job_start(&j, on_thread, op_dial, &d);
    job_join(&j);
    ck_assert_msg(d.conn == NULL && d.err == ETIMEDOUT,
                  "dial = %p, errno %d (%s); want ETIMEDOUT", (void *)d.conn,
                  d.err, strerror(d.err));
    ck_assert_int_ge(d.t1, deadline);
    ck_assert_int_le(d.t1 - d.t0, 5 * CHAN_SECOND * tu_scale());
    context_cancel(cancel);
    context_release(ctx);
    assert_fds_settle(fds);

    ctx = context_with_cancel(context_background(), &cancel);
    ck_assert_ptr_nonnull(ctx);
    d = (dial_op_t){.ctx = ctx, .network = "tcp", .address = f.addr};
    job_start(&j, on_thread, op_dial, &d);
    ck_assert_msg(!job_wait(&j, 50), "dial returned: %p, errno %d",
                  (void *)d.conn, d.err);
    context_cancel(cancel);
    job_join(&j);
    ck_assert_msg(d.conn == NULL && d.err == ECANCELED,
                  "dial = %p, errno %d (%s); want ECANCELED", (void *)d.conn,
                  d.err, strerror(d.err));
    context_release(ctx);
    assert_fds_settle(fds);

    full_listener_close(&f);
    wait_goroutines_done();
}
END_TEST

typedef struct canceler {
    context_cancel_t *cancel;
    int how;
} canceler_t;

static void cancel_soon(void *p)
{
    canceler_t *c = p;
    if (c->how == 1)
        chan_gosched();
    else if (c->how == 2)
        chan_sleep(50 * CHAN_MICROSECOND);
    context_cancel(c->cancel);
}

/* Ports Go's net/dial_unix_test.go TestDialContextCancelRace (issue 16523):
 * a cancel racing a loopback dial, hundreds of times at varied moments; each
 * dial either connects (a usable connection) or fails with ECANCELED, and no
 * descriptor is left behind either way. NP-9. */
START_TEST(test_net_dial_cancel_race)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    warm_up();
    int fds = count_fds();
    int rounds = tu_rounds(300), connected = 0, canceled = 0;
    int64_t end = chan_now() + race_budget();
    for (int i = 0; i < rounds && (i < 20 || chan_now() < end); i++) {
        canceler_t c = {.how = i % 3};
        context_t *ctx = context_with_cancel(context_background(), &c.cancel);
        ck_assert_ptr_nonnull(ctx);
        job_t j;
        job_start(&j, false, cancel_soon, &c);
        errno = 0;
        chan_fd_t *conn = chan_net_dial(ctx, "tcp", l.addr);
        int e = errno;
        job_join(&j);
        if (conn) {
            connected++;
            ck_assert_int_eq(chan_fd_write(conn, "x", 1), 1);
            chan_fd_release(conn);
            /* Keep the backlog short: take one waiting connection. */
            chan_fd_release(lsn_accept(&l));
        } else {
            ck_assert_msg(e == ECANCELED, "round %d: dial errno %d (%s)", i, e,
                          strerror(e));
            canceled++;
        }
        context_release(ctx);
    }
    assert_fds_settle(fds);
    fprintf(stderr, "dial_cancel_race: %d connected, %d canceled\n", connected,
            canceled);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* The echo server of Go's TestCancelAfterDial: echoes the first line of each
 * connection and closes it. */
static void echo_line_server(void *p)
{
    lsn_t *l = p;
    for (;;) {
        chan_fd_t *c = chan_fd_accept(l->ln);
        if (!c)
            return;
        char line[64];
        size_t n = 0;
        while (n < sizeof line && chan_fd_read(c, line + n, 1) == 1)
            if (line[n++] == '\n')
                break;
        chan_fd_write(c, line, n);
        chan_fd_close(c);
        chan_fd_release(c);
    }
}

/* Ports Go's net/dial_test.go TestCancelAfterDial (issue 15078): canceling
 * the dial's context after the dial returned does not hurt the connection:
 * it still writes, reads the echo, and reads end of file. NP-9. */
START_TEST(test_net_cancel_after_dial)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    job_t sj;
    job_start(&sj, false, echo_line_server, &l);
    for (int i = 0; i < 10; i++) {
        context_cancel_t *cancel;
        context_t *ctx = context_with_cancel(context_background(), &cancel);
        chan_fd_t *c = chan_net_dial(ctx, "tcp", l.addr);
        int e = errno;
        context_cancel(cancel);
        chan_sleep(10 * MS);
        ck_assert_msg(c != NULL, "dial: %s", strerror(e));
        ck_assert_int_eq(chan_fd_set_deadline(c, chan_now() + patience()), 0);
        const char msg[] = "echo!\n";
        ck_assert_int_eq(chan_fd_write(c, msg, strlen(msg)),
                         (ssize_t)strlen(msg));
        char got[16] = {0};
        ck_assert_int_eq(read_full(c, got, strlen(msg)), (ssize_t)strlen(msg));
        ck_assert_str_eq(got, msg);
        ck_assert_int_eq(chan_fd_read(c, got, 1), 0);
        chan_fd_release(c);
        context_release(ctx);
    }
    ck_assert_int_eq(chan_fd_close(l.ln), 0);
    job_join(&sj);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* The brief's dial with a context already done: canceled, ECANCELED; past
 * its deadline, ETIMEDOUT; neither leaves a descriptor. A background context
 * dials as usual. NP-9. */
START_TEST(test_net_dial_ctx_already_done)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    warm_up();
    int fds = count_fds();
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    context_cancel(cancel);
    ASSERT_NULL_ERR(chan_net_dial(ctx, "tcp", l.addr), ECANCELED);
    context_release(ctx);
    ctx = context_with_deadline(context_background(), chan_now() - CHAN_SECOND,
                                &cancel);
    ASSERT_NULL_ERR(chan_net_dial(ctx, "tcp", l.addr), ETIMEDOUT);
    context_release(ctx);
    assert_fds_settle(fds);
    chan_fd_t *c = chan_net_dial(context_background(), "tcp", l.addr);
    ck_assert_ptr_nonnull(c);
    chan_fd_release(c);
    assert_fds_settle(fds);
    lsn_close(&l);
}
END_TEST

/* net.Dial to a port nobody listens on: ECONNREFUSED; a unix path that does
 * not exist: ENOENT; a unix socket file nobody listens on: ECONNREFUSED (as
 * Go reports them). NP-9. */
START_TEST(test_net_dial_refused)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    char addr[160];
    strcpy(addr, l.addr);
    lsn_close(&l);
    ASSERT_NULL_ERR(chan_net_dial(NULL, "tcp", addr), ECONNREFUSED);

    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/nobody", dir);
    ASSERT_NULL_ERR(chan_net_dial(NULL, "unix", path), ENOENT);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, path);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&un, sizeof un), 0);
    ASSERT_NULL_ERR(chan_net_dial(NULL, "unix", path), ECONNREFUSED);
    close(s);
    tmpdir_remove(dir);
}
END_TEST

/* ==== bad input ==== */

/* os.NewFile of a bad descriptor: chan_fd_new(-1), a closed number and
 * numbers far out of range give NULL with EBADF. */
START_TEST(test_fd_new_bad_descriptor)
{
    ASSERT_NULL_ERR(chan_fd_new(-1), EBADF);
    ASSERT_NULL_ERR(chan_fd_new(INT_MIN), EBADF);
    ASSERT_NULL_ERR(chan_fd_new(INT_MAX), EBADF);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(close(fd), 0);
    ASSERT_NULL_ERR(chan_fd_new(fd), EBADF);
}
END_TEST

/* -1 with errno one of EINVAL or EBADF (a NULL handle: the contract says
 * EINVAL for NULL arguments; EBADF is what close(NULL) gives). */
#define ASSERT_NULL_HANDLE(expr)                                               \
    do {                                                                       \
        errno = 0;                                                             \
        long long r_ = (long long)(expr);                                      \
        int e_ = errno;                                                        \
        ck_assert_msg(r_ == -1 && (e_ == EINVAL || e_ == EBADF),               \
                      "%s = %lld, errno %d (%s); want -1 and EINVAL", #expr,   \
                      r_, e_, strerror(e_));                                   \
    } while (0)

/* NULL arguments: never a crash; -1 or NULL with EINVAL (EBADF for
 * chan_fd_close(NULL), as its comment says), and nothing created. */
START_TEST(test_null_arguments)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    int fds = count_fds();
    char buf[64];

    ck_assert_ptr_null(chan_fd_retain(NULL));
    chan_fd_release(NULL);
    ASSERT_ERR(chan_fd_close(NULL), EINVAL); /* net.h: EINVAL for NULL */
    ck_assert_int_eq(chan_fd_fileno(NULL), -1);
    ASSERT_NULL_HANDLE(chan_fd_close_write(NULL));
    ASSERT_NULL_HANDLE(chan_fd_read(NULL, buf, 1));
    ASSERT_NULL_HANDLE(chan_fd_write(NULL, buf, 1));
    ASSERT_NULL_HANDLE(chan_fd_read_ctx(NULL, NULL, buf, 1));
    ASSERT_NULL_HANDLE(chan_fd_write_ctx(NULL, NULL, buf, 1));
    ASSERT_NULL_HANDLE(chan_fd_set_deadline(NULL, 0));
    ASSERT_NULL_HANDLE(chan_fd_set_read_deadline(NULL, 0));
    ASSERT_NULL_HANDLE(chan_fd_set_write_deadline(NULL, 0));
    ASSERT_NULL_HANDLE(chan_fd_wait_read(NULL));
    ASSERT_NULL_HANDLE(chan_fd_wait_write(NULL));
    ASSERT_NULL_HANDLE(chan_fd_local_addr(NULL, buf, sizeof buf));
    ASSERT_NULL_HANDLE(chan_fd_remote_addr(NULL, buf, sizeof buf));
    errno = 0;
    ck_assert_ptr_null(chan_fd_accept(NULL));
    ck_assert(errno == EINVAL || errno == EBADF);

    chan_fd_t *r = NULL, *w = NULL;
    ASSERT_ERR(chan_fd_pipe(NULL, &w), EINVAL);
    ck_assert_ptr_null(w);
    ASSERT_ERR(chan_fd_pipe(&r, NULL), EINVAL);
    ck_assert_ptr_null(r);
    ASSERT_ERR(chan_fd_pipe(NULL, NULL), EINVAL);

    ASSERT_NULL_ERR(chan_net_listen(NULL, "127.0.0.1:0"), EINVAL);
    ASSERT_NULL_ERR(chan_net_listen("tcp", NULL), EINVAL);
    ASSERT_NULL_ERR(chan_net_listen(NULL, NULL), EINVAL);
    ASSERT_NULL_ERR(chan_net_dial(NULL, NULL, l.addr), EINVAL);
    ASSERT_NULL_ERR(chan_net_dial(NULL, "tcp", NULL), EINVAL);

    /* A NULL buffer with a length (read(2) would say EFAULT). */
    errno = 0;
    ck_assert_int_eq(chan_fd_read(a, NULL, 1), -1);
    ck_assert(errno == EINVAL || errno == EFAULT);
    errno = 0;
    ck_assert_int_eq(chan_fd_write(a, NULL, 1), -1);
    ck_assert(errno == EINVAL || errno == EFAULT);
    ck_assert_int_eq(chan_fd_read(a, NULL, 0), 0); /* Go's Read(nil) */
    ASSERT_ERR(chan_fd_local_addr(l.ln, NULL, 16), EINVAL);
    ASSERT_ERR(chan_fd_remote_addr(a, NULL, 16), EINVAL);
    errno = 0;
    ck_assert_int_eq(chan_fd_local_addr(l.ln, buf, 0), -1);
    ck_assert(errno == ENOSPC || errno == EINVAL);

    assert_fds_settle(fds);
    /* The handles still work. */
    ck_assert_int_eq(chan_fd_write(b, "k", 1), 1);
    ck_assert_int_eq(chan_fd_read(a, buf, 1), 1);
    chan_fd_release(a);
    chan_fd_release(b);
    lsn_close(&l);
}
END_TEST

/* What Go 1.19 does with each address, checked with net.Listen and net.Dial
 * (see the report): want 0 means Go succeeds, so gochan must; ANY_ERR means
 * Go fails with an address error that has no errno. */
enum { ANY_ERR = -1, REFUSED_OR_INVAL = -2 };

typedef struct addr_case {
    const char *network, *address;
    int want;
    bool needs_ipv6;
} addr_case_t;

static const addr_case_t listen_cases[] = {
    /* Go: all addresses of the host, an ephemeral port. */
    {"tcp", "", 0, false},
    {"tcp", ":", 0, false},
    {"tcp", ":0", 0, false},
    {"tcp4", ":0", 0, false},
    {"tcp6", ":0", 0, true},
    {"tcp", "127.0.0.1:", 0, false},
    {"tcp", "localhost:", 0, false},
    {"tcp", "[127.0.0.1]:0", 0, false},
    {"tcp4", "127.0.0.1:0", 0, false},
    {"tcp6", "[::1]:0", 0, true},
    {"tcp", "[::1]:0", 0, true},
    /* Go: missing ']', missing port, too many colons, invalid port. */
    {"tcp", "[::1", EINVAL, false},
    {"tcp", "[::1]", EINVAL, false},
    {"tcp", "::1", EINVAL, false},
    {"tcp", "127.0.0.1", EINVAL, false},
    {"tcp", "127.0.0.1:0:0", EINVAL, false},
    {"tcp", "127.0.0.1:99999", EINVAL, false},
    {"tcp", "127.0.0.1:65536", EINVAL, false},
    {"tcp", "127.0.0.1:-1", EINVAL, false},
    /* Go: "no suitable address found". */
    {"tcp4", "[::1]:0", ANY_ERR, false},
    {"tcp6", "127.0.0.1:0", ANY_ERR, false},
    /* Go: unknown network (or, for udp, not a stream listener). */
    {"udp", ":0", EINVAL, false},
    {"foo", ":0", EINVAL, false},
    {"", ":0", EINVAL, false},
    {"TCP", ":0", EINVAL, false},
};

/* Bad networks and addresses for net.Listen: each case as Go 1.19 answers
 * it; a listener that Go makes on all addresses is reachable on 127.0.0.1
 * (and on ::1 when it is dual-stack). NP-9. */
START_TEST(test_listen_addresses)
{
    bool v6 = have_ipv6_loopback();
    for (size_t i = 0; i < sizeof listen_cases / sizeof listen_cases[0]; i++) {
        const addr_case_t *tc = &listen_cases[i];
        if (tc->needs_ipv6 && !v6)
            continue;
        errno = 0;
        chan_fd_t *ln = chan_net_listen(tc->network, tc->address);
        int e = errno;
        if (tc->want != 0) {
            chan_fd_release(ln);
            ck_assert_msg(ln == NULL && (tc->want == ANY_ERR || e == tc->want),
                          "listen(%s, \"%s\") = %p, errno %d (%s); want "
                          "NULL and %s",
                          tc->network, tc->address, (void *)ln, e, strerror(e),
                          tc->want == ANY_ERR ? "an error"
                                              : strerror(tc->want));
            continue;
        }
        ck_assert_msg(ln != NULL, "listen(%s, \"%s\"): %s; Go succeeds",
                      tc->network, tc->address, strerror(e));
        char addr[160];
        ck_assert_int_eq(chan_fd_local_addr(ln, addr, sizeof addr), 0);
        const char *colon = strrchr(addr, ':');
        ck_assert_ptr_nonnull(colon);
        int port = atoi(colon + 1);
        ck_assert_msg(port > 0 && port < 65536, "listen(%s, \"%s\"): addr %s",
                      tc->network, tc->address, addr);
        bool wildcard = tc->address[0] == 0 || tc->address[0] == ':';
        if (wildcard && strcmp(tc->network, "tcp4") == 0)
            ck_assert_msg(strncmp(addr, "0.0.0.0:", 8) == 0, "addr %s", addr);
        if (wildcard && strcmp(tc->network, "tcp6") == 0)
            ck_assert_msg(strncmp(addr, "[::]:", 5) == 0, "addr %s", addr);
        if (wildcard && strcmp(tc->network, "tcp6") != 0) {
            char to[64];
            snprintf(to, sizeof to, "127.0.0.1:%d", port);
            chan_fd_t *c = chan_net_dial(NULL, "tcp", to);
            ck_assert_msg(c != NULL, "listen(%s, \"%s\") at %s: dial %s: %s",
                          tc->network, tc->address, addr, to, strerror(errno));
            chan_fd_release(c);
        }
        if (wildcard && v6 && strcmp(tc->network, "tcp4") != 0) {
            char to[64];
            snprintf(to, sizeof to, "[::1]:%d", port);
            chan_fd_t *c = chan_net_dial(NULL, "tcp", to);
            ck_assert_msg(c != NULL, "listen(%s, \"%s\") at %s: dial %s: %s",
                          tc->network, tc->address, addr, to, strerror(errno));
            chan_fd_release(c);
        }
        ck_assert_int_eq(chan_fd_close(ln), 0);
        chan_fd_release(ln);
    }
    /* A port in use: EADDRINUSE (SO_REUSEADDR does not allow two). */
    lsn_t l;
    lsn_open(&l, "tcp");
    ASSERT_NULL_ERR(chan_net_listen("tcp", l.addr), EADDRINUSE);
    lsn_close(&l);
}
END_TEST

/* Bad networks and addresses for net.Dial, as Go 1.19 answers them. Go
 * dials an empty host as the local system (":port" connects), and an empty
 * or zero port as port 0 (ECONNREFUSED); the contract allows EINVAL for an
 * empty port. NP-9. */
START_TEST(test_dial_addresses)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    const char *port = strrchr(l.addr, ':') + 1;
    char colon_port[32], localhost[64];
    snprintf(colon_port, sizeof colon_port, ":%s", port);
    snprintf(localhost, sizeof localhost, "localhost:%s", port);
    const addr_case_t cases[] = {
        {"tcp", l.addr, 0, false},
        {"tcp4", l.addr, 0, false},
        {"tcp", colon_port, 0, false},
        {"tcp", localhost, 0, false},
        {"tcp4", localhost, 0, false},
        {"tcp", "", EINVAL, false},
        {"tcp", ":", REFUSED_OR_INVAL, false},
        {"tcp", "127.0.0.1:", REFUSED_OR_INVAL, false},
        {"tcp", "127.0.0.1:0", ECONNREFUSED, false},
        {"tcp", "127.0.0.1", EINVAL, false},
        {"tcp", "[::1", EINVAL, false},
        {"tcp", "127.0.0.1:99999", EINVAL, false},
        {"tcp", "127.0.0.1:-1", EINVAL, false},
        {"foo", l.addr, EINVAL, false},
        {"", l.addr, EINVAL, false},
        {"tcp6", l.addr, ANY_ERR, false},
        {"unix", "", EINVAL, false},
        {"unix", "/nonexistent-gochan-dir/sock", ENOENT, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const addr_case_t *tc = &cases[i];
        errno = 0;
        chan_fd_t *c = chan_net_dial(NULL, tc->network, tc->address);
        int e = errno;
        if (tc->want == 0) {
            ck_assert_msg(c != NULL, "dial(%s, \"%s\"): %s; Go succeeds",
                          tc->network, tc->address, strerror(e));
            chan_fd_t *s = lsn_accept(&l);
            ck_assert_int_eq(chan_fd_write(c, "d", 1), 1);
            char b = 0;
            ck_assert_int_eq(chan_fd_read(s, &b, 1), 1);
            ck_assert_int_eq(b, 'd');
            chan_fd_release(s);
            chan_fd_release(c);
            continue;
        }
        chan_fd_release(c);
        bool ok = c == NULL && (tc->want == ANY_ERR || e == tc->want ||
                                (tc->want == REFUSED_OR_INVAL &&
                                 (e == ECONNREFUSED || e == EINVAL)));
        ck_assert_msg(ok, "dial(%s, \"%s\") = %p, errno %d (%s); want NULL",
                      tc->network, tc->address, (void *)c, e, strerror(e));
    }
    lsn_close(&l);
}
END_TEST

/* Unix socket paths: Go takes up to 107 bytes (sun_path less its NUL) and
 * says EINVAL beyond; "" makes Linux pick an abstract address (Go: "@xxxxx");
 * "@name" is Linux's abstract namespace, reported as "@name"; a second
 * listener on a path in use gets EADDRINUSE. */
START_TEST(test_unix_addresses)
{
    char dir[64];
    tmpdir_make(dir);
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1; /* 107 */
    char path[256];
    size_t dl = strlen(dir);
    snprintf(path, sizeof path, "%s/", dir);
    memset(path + dl + 1, 'p', max - dl - 1);
    path[max] = 0;
    ck_assert_uint_eq(strlen(path), max);

    chan_fd_t *ln = chan_net_listen("unix", path);
    ck_assert_msg(ln != NULL, "listen on a %zu-byte path: %s; Go succeeds", max,
                  strerror(errno));
    char got[256];
    ck_assert_int_eq(chan_fd_local_addr(ln, got, sizeof got), 0);
    ck_assert_str_eq(got, path);
    ASSERT_NULL_ERR(chan_net_listen("unix", path), EADDRINUSE);
    chan_fd_t *c = chan_net_dial(NULL, "unix", path);
    ck_assert_msg(c != NULL, "dial a %zu-byte path: %s", max, strerror(errno));
    ck_assert_int_eq(chan_fd_remote_addr(c, got, sizeof got), 0);
    ck_assert_str_eq(got, path);
    chan_fd_t *s = chan_fd_accept(ln);
    ck_assert_ptr_nonnull(s);
    chan_fd_release(s);
    chan_fd_release(c);
    ck_assert_int_eq(chan_fd_close(ln), 0);
    chan_fd_release(ln);

    path[max] = 'q'; /* 108 bytes: no room for the NUL */
    path[max + 1] = 0;
    ASSERT_NULL_ERR(chan_net_listen("unix", path), EINVAL);
    ASSERT_NULL_ERR(chan_net_dial(NULL, "unix", path), EINVAL);
    memset(path + max, 'r', 200 - max);
    path[200] = 0;
    ASSERT_NULL_ERR(chan_net_listen("unix", path), EINVAL);
    ASSERT_NULL_ERR(chan_net_dial(NULL, "unix", path), EINVAL);

    ln = chan_net_listen("unix", "");
    ck_assert_msg(ln != NULL, "listen(unix, \"\"): %s; Go succeeds (autobind)",
                  strerror(errno));
    ck_assert_int_eq(chan_fd_local_addr(ln, got, sizeof got), 0);
    ck_assert_msg(got[0] == '@', "autobound address \"%s\"", got);
    chan_fd_release(ln);

    char name[64];
    snprintf(name, sizeof name, "@gochan-check-net-%d", (int)getpid());
    ln = chan_net_listen("unix", name);
    ck_assert_msg(ln != NULL, "listen(unix, %s): %s", name, strerror(errno));
    ck_assert_int_eq(chan_fd_local_addr(ln, got, sizeof got), 0);
    ck_assert_str_eq(got, name);
    c = chan_net_dial(NULL, "unix", name);
    ck_assert_msg(c != NULL, "dial(unix, %s): %s", name, strerror(errno));
    s = chan_fd_accept(ln);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(chan_fd_write(c, "@", 1), 1);
    ck_assert_int_eq(chan_fd_read(s, got, 1), 1);
    chan_fd_release(s);
    chan_fd_release(c);
    chan_fd_release(ln);
    tmpdir_remove(dir);
}
END_TEST

/* Addr().String() and RemoteAddr().String(): "127.0.0.1:port", "[::1]:port"
 * and the unix path, matching across the two ends; ENOSPC for a buffer one
 * byte short; ENOTCONN for a listener's remote address, ENOTSOCK for a
 * pipe's. */
START_TEST(test_addr_strings)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    int port = 0;
    ck_assert_int_eq(sscanf(l.addr, "127.0.0.1:%d", &port), 1);
    ck_assert(port > 0 && port < 65536);
    chan_fd_t *c, *s;
    lsn_pair(&l, &c, &s);
    char cl[160], cr[160], sl[160], sr[160];
    ck_assert_int_eq(chan_fd_local_addr(c, cl, sizeof cl), 0);
    ck_assert_int_eq(chan_fd_remote_addr(c, cr, sizeof cr), 0);
    ck_assert_int_eq(chan_fd_local_addr(s, sl, sizeof sl), 0);
    ck_assert_int_eq(chan_fd_remote_addr(s, sr, sizeof sr), 0);
    ck_assert_str_eq(cr, l.addr);
    ck_assert_str_eq(sl, l.addr);
    ck_assert_str_eq(cl, sr);
    ck_assert(strncmp(cl, "127.0.0.1:", 10) == 0);
    size_t len = strlen(l.addr);
    char small[160];
    ASSERT_ERR(chan_fd_local_addr(l.ln, small, len), ENOSPC);
    ck_assert_int_eq(chan_fd_local_addr(l.ln, small, len + 1), 0);
    ck_assert_str_eq(small, l.addr);
    ASSERT_ERR(chan_fd_remote_addr(l.ln, small, sizeof small), ENOTCONN);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);

    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    ASSERT_ERR(chan_fd_local_addr(r, small, sizeof small), ENOTSOCK);
    ASSERT_ERR(chan_fd_close_write(w), ENOTSOCK);
    chan_fd_release(r);
    chan_fd_release(w);

    if (have_ipv6_loopback()) {
        lsn_open(&l, "tcp6");
        ck_assert_int_eq(sscanf(l.addr, "[::1]:%d", &port), 1);
        lsn_pair(&l, &c, &s);
        ck_assert_int_eq(chan_fd_remote_addr(c, cr, sizeof cr), 0);
        ck_assert_str_eq(cr, l.addr);
        ck_assert_int_eq(chan_fd_local_addr(c, cl, sizeof cl), 0);
        ck_assert(strncmp(cl, "[::1]:", 6) == 0);
        chan_fd_release(c);
        chan_fd_release(s);
        lsn_close(&l);
    }

    lsn_open(&l, "unix");
    ck_assert(strncmp(l.addr, l.dir, strlen(l.dir)) == 0);
    lsn_pair(&l, &c, &s);
    ck_assert_int_eq(chan_fd_remote_addr(c, cr, sizeof cr), 0);
    ck_assert_str_eq(cr, l.addr);
    ck_assert_int_eq(chan_fd_local_addr(s, sl, sizeof sl), 0);
    ck_assert_str_eq(sl, l.addr);
    chan_fd_release(c);
    chan_fd_release(s);
    lsn_close(&l);
}
END_TEST

/* ==== deadlines and contexts at the edges ==== */

/* Deadlines at INT64_MIN, in the past, now, 0 (none) and INT64_MAX: past
 * ones fail reads, writes and RawConn waits at once even with data waiting
 * (Go checks before the system call); 0 and INT64_MAX never fire; moving a
 * waiting read's deadline to INT64_MIN ends it. NP-4. */
START_TEST(test_deadline_extremes)
{
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    ck_assert_int_eq(chan_fd_write(b, "abc", 3), 3);
    char c = 0;
    const int64_t past[] = {INT64_MIN, INT64_MIN + 1, -1, 0 /* now */,
                            chan_now() - 1};
    for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
        int64_t t = i == 3 ? chan_now() : past[i];
        ck_assert_int_eq(chan_fd_set_read_deadline(a, t), 0);
        ASSERT_ERR(chan_fd_read(a, &c, 1), ETIMEDOUT);
        ASSERT_ERR(chan_fd_wait_read(a), ETIMEDOUT);
    }
    ck_assert_int_eq(chan_fd_set_read_deadline(a, 0), 0);
    ck_assert_int_eq(chan_fd_read(a, &c, 1), 1);
    ck_assert_int_eq(c, 'a');
    ck_assert_int_eq(chan_fd_set_read_deadline(a, INT64_MAX), 0);
    ck_assert_int_eq(chan_fd_read(a, &c, 1), 1);
    ck_assert_int_eq(c, 'b');
    ck_assert_int_eq(chan_fd_read(a, &c, 1), 1);
    ck_assert_int_eq(c, 'c');

    /* INT64_MAX: a read waits (and does not time out at once through an
     * overflow); moving the deadline to INT64_MIN ends it. */
    io_op_t rd;
    op_init(&rd, a);
    job_t j;
    job_start(&j, false, op_read, &rd);
    ck_assert_msg(!job_wait(&j, 100), "read returned %zd, errno %d", rd.ret,
                  rd.err);
    ck_assert_int_eq(chan_fd_set_read_deadline(a, INT64_MIN), 0);
    job_join(&j);
    ASSERT_OP(&rd, -1, ETIMEDOUT);

    /* Writes: the same. */
    ck_assert_int_eq(chan_fd_set_write_deadline(a, INT64_MIN), 0);
    ASSERT_ERR(chan_fd_write(a, "x", 1), ETIMEDOUT);
    ASSERT_ERR(chan_fd_wait_write(a), ETIMEDOUT);
    ck_assert_int_eq(chan_fd_set_write_deadline(a, INT64_MAX), 0);
    ck_assert_int_eq(chan_fd_write(a, "x", 1), 1);
    ck_assert_int_eq(chan_fd_wait_write(a), 0);
    ck_assert_int_eq(chan_fd_read(b, &c, 1), 1);

    /* SetDeadline sets both; a close ends a read waiting under INT64_MAX. */
    ck_assert_int_eq(chan_fd_set_deadline(a, INT64_MIN), 0);
    ASSERT_ERR(chan_fd_write(a, "x", 1), ETIMEDOUT);
    ASSERT_ERR(chan_fd_read(a, &c, 1), ETIMEDOUT);
    ck_assert_int_eq(chan_fd_set_deadline(a, INT64_MAX), 0);
    op_init(&rd, a);
    job_start(&j, true, op_read, &rd);
    ck_assert(!job_wait(&j, 50));
    ck_assert_int_eq(chan_fd_close(a), 0);
    job_join(&j);
    ASSERT_OP(&rd, -1, EBADF);
    chan_fd_release(a);
    chan_fd_release(b);
    wait_goroutines_done();
}
END_TEST

/* Listener deadlines at the edges: INT64_MIN fails accept even with a
 * connection waiting; INT64_MAX lets it through. NP-4. */
START_TEST(test_deadline_extremes_accept)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    chan_fd_t *c = lsn_dial(&l);
    ck_assert_int_eq(chan_fd_set_deadline(l.ln, INT64_MIN), 0);
    ASSERT_NULL_ERR(chan_fd_accept(l.ln), ETIMEDOUT);
    ck_assert_int_eq(chan_fd_set_deadline(l.ln, INT64_MAX), 0);
    chan_fd_t *s = lsn_accept(&l);
    chan_fd_release(s);
    chan_fd_release(c);
    lsn_close(&l);
}
END_TEST

/* A context already done when the call starts: read_ctx and write_ctx fail
 * at once with ECANCELED (canceled) or ETIMEDOUT (past its deadline), even
 * with data waiting and room to write; only that call: later calls on the
 * handle work. A context that is never done (Background) changes nothing.
 * NP-10. */
START_TEST(test_ctx_already_done)
{
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    ck_assert_int_eq(chan_fd_write(b, "hi!", 3), 3);
    char c = 0;
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    ck_assert_ptr_nonnull(ctx);
    context_cancel(cancel);
    ASSERT_ERR(chan_fd_read_ctx(ctx, a, &c, 1), ECANCELED);
    ASSERT_ERR(chan_fd_write_ctx(ctx, a, "x", 1), ECANCELED);
    context_release(ctx);
    ck_assert_int_eq(chan_fd_read(a, &c, 1), 1);
    ck_assert_int_eq(c, 'h');

    ctx = context_with_deadline(context_background(), chan_now() - CHAN_SECOND,
                                &cancel);
    ck_assert_ptr_nonnull(ctx);
    ASSERT_ERR(chan_fd_read_ctx(ctx, a, &c, 1), ETIMEDOUT);
    ASSERT_ERR(chan_fd_write_ctx(ctx, a, "x", 1), ETIMEDOUT);
    context_cancel(cancel);
    context_release(ctx);
    ctx = context_with_timeout(context_background(), 0, &cancel);
    ck_assert_ptr_nonnull(ctx);
    ASSERT_ERR(chan_fd_read_ctx(ctx, a, &c, 1), ETIMEDOUT);
    context_cancel(cancel);
    context_release(ctx);

    ck_assert_int_eq(chan_fd_read_ctx(NULL, a, &c, 1), 1);
    ck_assert_int_eq(c, 'i');
    ck_assert_int_eq(chan_fd_read_ctx(context_background(), a, &c, 1), 1);
    ck_assert_int_eq(c, '!');
    ck_assert_int_eq(chan_fd_write_ctx(context_background(), a, "y", 1), 1);
    ck_assert_int_eq(chan_fd_read(b, &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    chan_fd_release(a);
    chan_fd_release(b);
}
END_TEST

/* ==== the same blocking calls on plain threads and goroutines ==== */

/* The brief's "plain threads (_i 0) and goroutines (_i 1) doing the same
 * blocking calls": a read deadline; a context canceled from another thread;
 * a context timeout; a write deadline and a canceled write with the buffer
 * full; close waking a blocked read and write; a RawConn wait; and later
 * calls unaffected by a context that stopped an earlier one. NP-4, NP-5,
 * NP-10. */
START_TEST(test_blocking_calls)
{
    bool on_thread = _i == 0;
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    io_op_t op;
    job_t j;

    /* A read deadline 50 ms ahead. */
    int64_t deadline = chan_now() + 50 * MS;
    ck_assert_int_eq(chan_fd_set_read_deadline(a, deadline), 0);
    op_init(&op, a);
    job_start(&j, on_thread, op_read, &op);
    job_join(&j);
    ASSERT_OP(&op, -1, ETIMEDOUT);
    ck_assert_int_ge(op.t1, deadline);
    ck_assert_int_eq(chan_fd_set_read_deadline(a, 0), 0);

    /* A context canceled while the read waits. */
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    op_init(&op, a);
    op.ctx = ctx;
    job_start(&j, on_thread, op_read_ctx, &op);
    ck_assert_msg(!job_wait(&j, 50), "read_ctx returned %zd, errno %d", op.ret,
                  op.err);
    context_cancel(cancel);
    job_join(&j);
    ASSERT_OP(&op, -1, ECANCELED);
    context_release(ctx);

    /* A context that times out. */
    ctx = context_with_timeout(context_background(), 50 * MS, &cancel);
    ck_assert(context_deadline(ctx, &deadline));
    op_init(&op, a);
    op.ctx = ctx;
    job_start(&j, on_thread, op_read_ctx, &op);
    job_join(&j);
    ASSERT_OP(&op, -1, ETIMEDOUT);
    ck_assert_int_ge(op.t1, deadline);
    context_cancel(cancel);
    context_release(ctx);

    /* Only those calls were stopped. */
    ck_assert_int_eq(chan_fd_write(b, "r", 1), 1);
    op_init(&op, a);
    job_start(&j, on_thread, op_read, &op);
    job_join(&j);
    ASSERT_OP(&op, 1, 0);
    ck_assert_int_eq(op.data[0], 'r');

    /* A write deadline with a write bigger than the socket's buffers: it
     * writes what fits, then fails with ETIMEDOUT and the count. */
    size_t big = (size_t)8 << 20;
    char *buf = calloc(1, big);
    ck_assert_ptr_nonnull(buf);
    deadline = chan_now() + 50 * MS;
    ck_assert_int_eq(chan_fd_set_write_deadline(a, deadline), 0);
    op_init(&op, a);
    op.wbuf = buf;
    op.n = big;
    job_start(&j, on_thread, op_write, &op);
    job_join(&j);
    ck_assert_msg(op.ret > 0 && op.ret < (ssize_t)big && op.err == ETIMEDOUT,
                  "write = %zd, errno %d (%s)", op.ret, op.err,
                  strerror(op.err));
    ck_assert_int_ge(op.t1, deadline);
    ck_assert_int_eq(chan_fd_set_write_deadline(a, 0), 0);

    /* A write on the full buffer, canceled through its context. */
    ctx = context_with_cancel(context_background(), &cancel);
    op_init(&op, a);
    op.ctx = ctx;
    op.wbuf = buf;
    op.n = 65536;
    job_start(&j, on_thread, op_write_ctx, &op);
    ck_assert(!job_wait(&j, 50));
    context_cancel(cancel);
    job_join(&j);
    ck_assert_msg(op.ret < 65536 && op.err == ECANCELED,
                  "write_ctx = %zd, errno %d (%s)", op.ret, op.err,
                  strerror(op.err));
    context_release(ctx);

    /* A RawConn wait on b, which has data: it returns at once. */
    op_init(&op, b);
    job_start(&j, on_thread, op_wait_read, &op); /* b has data: at once */
    job_join(&j);
    ASSERT_OP(&op, 0, 0);

    /* Close wakes a blocked read and a blocked write. */
    io_op_t rd, wr;
    op_init(&rd, a);
    op_init(&wr, a);
    wr.wbuf = buf;
    wr.n = 65536;
    job_t rj, wj;
    job_start(&rj, on_thread, op_read, &rd);
    job_start(&wj, on_thread, op_write, &wr);
    ck_assert(!job_wait(&rj, 50));
    ck_assert(!job_finished(&wj));
    ck_assert_int_eq(chan_fd_close(a), 0);
    job_join(&rj);
    job_join(&wj);
    ASSERT_OP(&rd, -1, EBADF);
    ck_assert_msg(wr.ret < 65536 && wr.err == EBADF, "write = %zd, errno %d",
                  wr.ret, wr.err);
    free(buf);
    chan_fd_release(a);
    chan_fd_release(b);

    /* Accept: a deadline, then close. */
    lsn_t l;
    lsn_open(&l, "tcp");
    deadline = chan_now() + 50 * MS;
    ck_assert_int_eq(chan_fd_set_deadline(l.ln, deadline), 0);
    op_init(&op, l.ln);
    job_start(&j, on_thread, op_accept, &op);
    job_join(&j);
    ASSERT_OP(&op, -1, ETIMEDOUT);
    ck_assert_int_ge(op.t1, deadline);
    ck_assert_int_eq(chan_fd_set_deadline(l.ln, 0), 0);
    op_init(&op, l.ln);
    job_start(&j, on_thread, op_accept, &op);
    ck_assert(!job_wait(&j, 50));
    ck_assert_int_eq(chan_fd_close(l.ln), 0);
    job_join(&j);
    ASSERT_OP(&op, -1, EBADF);
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* RawConn (chan_fd_wait_read / wait_write) for a C library doing its own
 * non-blocking I/O on the number: after EAGAIN the wait returns once data
 * comes (it may return early: the library then sees EAGAIN and waits
 * again); with a deadline it ends with ETIMEDOUT; after close, EBADF. */
START_TEST(test_wait_read_write)
{
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    int fd = chan_fd_fileno(a);
    char c = 0;
    errno = 0;
    ck_assert_int_eq(recv(fd, &c, 1, MSG_DONTWAIT), -1);
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    ck_assert_int_eq(chan_fd_wait_write(a), 0);

    io_op_t op;
    op_init(&op, a);
    job_t j;
    job_start(&j, false, op_wait_read_loop, &op);
    tu_quiet_sleep();
    ck_assert(!job_finished(&j));
    ck_assert_int_eq(chan_fd_write(b, "w", 1), 1);
    job_join(&j);
    ASSERT_OP(&op, 0, 0);
    int tries = 0;
    while (recv(fd, &c, 1, MSG_DONTWAIT) != 1) {
        ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
        ck_assert_int_lt(++tries, 1000);
        ck_assert_int_eq(chan_fd_wait_read(a), 0);
    }
    ck_assert_int_eq(c, 'w');

    int64_t deadline = chan_now() + 30 * MS;
    ck_assert_int_eq(chan_fd_set_read_deadline(a, deadline), 0);
    int r = 0;
    for (tries = 0; tries < 1000 && (r = chan_fd_wait_read(a)) == 0; tries++)
        ck_assert_int_eq(recv(fd, &c, 1, MSG_DONTWAIT), -1);
    ck_assert_int_eq(r, -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_int_ge(chan_now(), deadline);
    ck_assert_int_eq(chan_fd_set_read_deadline(a, 0), 0);

    op_init(&op, a);
    job_start(&j, true, op_wait_read_loop, &op);
    tu_quiet_sleep();
    ck_assert(!job_finished(&j));
    ck_assert_int_eq(chan_fd_close(a), 0);
    job_join(&j);
    ck_assert_msg(op.ret == -1 && op.err == EBADF, "wait_read = %zd, errno %d",
                  op.ret, op.err);
    ASSERT_ERR(chan_fd_wait_read(a), EBADF);
    chan_fd_release(a);
    chan_fd_release(b);
    wait_goroutines_done();
}
END_TEST

/* ==== faults: close races, resets, running out of descriptors ==== */

/* Lets the racing call get (or not get) into its wait: round i does
 * nothing, yields, or sleeps 50 us. */
static void race_pause(int i)
{
    if (i % 3 == 1)
        sched_yield();
    else if (i % 3 == 2)
        sleep_us(50);
}

/* Go's os TestClosedPipeRaceRead and internal/poll TestMutexCloseUnblock,
 * thousands of times: close racing a read that is about to block or has
 * blocked (on a goroutine, every fourth on a plain thread) always ends it
 * with EBADF. NP-5. */
START_TEST(test_close_race_read_many)
{
    int rounds = tu_rounds(3000), i;
    int64_t end = chan_now() + race_budget();
    for (i = 0; i < rounds && (i < 20 || chan_now() < end); i++) {
        chan_fd_t *r, *w;
        make_pipe(&r, &w);
        io_op_t op;
        op_init(&op, r);
        job_t j;
        job_start(&j, i % 4 == 3, op_read, &op);
        race_pause(i);
        ck_assert_int_eq(chan_fd_close(r), 0);
        job_join(&j);
        ck_assert_msg(op.ret == -1 && op.err == EBADF,
                      "round %d: read = %zd, errno %d (%s)", i, op.ret, op.err,
                      strerror(op.err));
        chan_fd_release(r);
        chan_fd_release(w);
    }
    wait_goroutines_done();
}
END_TEST

/* Go's os TestClosedPipeRaceWrite, thousands of times: close racing a write
 * of more than the pipe holds ends it with EBADF and the count it wrote. */
START_TEST(test_close_race_write_many)
{
    static const char big[1 << 17];
    int rounds = tu_rounds(3000), i;
    int64_t end = chan_now() + race_budget();
    for (i = 0; i < rounds && (i < 20 || chan_now() < end); i++) {
        chan_fd_t *r, *w;
        make_pipe(&r, &w);
        io_op_t op;
        op_init(&op, w);
        op.wbuf = big;
        op.n = sizeof big;
        job_t j;
        job_start(&j, i % 4 == 3, op_write, &op);
        race_pause(i);
        ck_assert_int_eq(chan_fd_close(w), 0);
        job_join(&j);
        ck_assert_msg(op.ret < (ssize_t)sizeof big && op.err == EBADF,
                      "round %d: write = %zd, errno %d (%s)", i, op.ret, op.err,
                      strerror(op.err));
        chan_fd_release(r);
        chan_fd_release(w);
    }
    wait_goroutines_done();
}
END_TEST

/* Go's net TestListenerClose and TestAcceptTimeoutMustNotReturn, thousands
 * of times: close racing a blocked accept ends it with EBADF. */
START_TEST(test_close_race_accept_many)
{
    int rounds = tu_rounds(2000), i;
    int64_t end = chan_now() + race_budget();
    for (i = 0; i < rounds && (i < 20 || chan_now() < end); i++) {
        chan_fd_t *ln = chan_net_listen("tcp", "127.0.0.1:0");
        ck_assert_msg(ln != NULL, "listen: %s", strerror(errno));
        io_op_t op;
        op_init(&op, ln);
        job_t j;
        job_start(&j, i % 4 == 3, op_accept, &op);
        race_pause(i);
        ck_assert_int_eq(chan_fd_close(ln), 0);
        job_join(&j);
        chan_fd_release(op.conn);
        ck_assert_msg(op.ret == -1 && op.err == EBADF,
                      "round %d: accept = %zd, errno %d (%s)", i, op.ret,
                      op.err, strerror(op.err));
        chan_fd_release(ln);
    }
    wait_goroutines_done();
}
END_TEST

/* NP-5: close releases the number only once no call on it is in flight, and
 * a late readiness event wakes nobody: a read racing the close of its pipe
 * never reads from the new pipe that the process opens right after (and
 * that likely got the same number); that pipe's byte stays for its own
 * reader. */
START_TEST(test_close_race_number_reused)
{
    int rounds = tu_rounds(1000), i, reused = 0;
    int64_t end = chan_now() + race_budget();
    for (i = 0; i < rounds && (i < 20 || chan_now() < end); i++) {
        chan_fd_t *r1, *w1, *r2, *w2;
        make_pipe(&r1, &w1);
        int num = chan_fd_fileno(r1);
        io_op_t op;
        op_init(&op, r1);
        job_t j;
        job_start(&j, i % 2 == 1, op_read, &op);
        race_pause(i);
        ck_assert_int_eq(chan_fd_close(r1), 0);
        make_pipe(&r2, &w2);
        reused += chan_fd_fileno(r2) == num || chan_fd_fileno(w2) == num;
        ck_assert_int_eq(chan_fd_write(w2, "n", 1), 1);
        job_join(&j);
        ck_assert_msg(op.ret == -1 && op.err == EBADF,
                      "round %d: the closed pipe's read = %zd (%c), errno %d",
                      i, op.ret, op.ret == 1 ? op.data[0] : '-', op.err);
        ck_assert_int_eq(
            chan_fd_set_read_deadline(r2, chan_now() + scaled_ms(2000)), 0);
        char c = 0;
        ck_assert_int_eq(chan_fd_read(r2, &c, 1), 1);
        ck_assert_int_eq(c, 'n');
        chan_fd_release(r1);
        chan_fd_release(w1);
        chan_fd_release(r2);
        chan_fd_release(w2);
    }
    fprintf(stderr, "close_race_number_reused: %d of %d rounds reused it\n",
            reused, i);
    wait_goroutines_done();
}
END_TEST

/* A peer that resets the connection (SO_LINGER 0, then close): a read
 * blocked at the time, and a read made after, fail with ECONNRESET. */
START_TEST(test_conn_reset)
{
    lsn_t l;
    lsn_open(&l, "tcp");
    struct linger lg = {1, 0};
    for (int blocked = 1; blocked >= 0; blocked--) {
        chan_fd_t *c, *s;
        lsn_pair(&l, &c, &s);
        ck_assert_int_eq(chan_fd_set_read_deadline(c, chan_now() + patience()),
                         0);
        io_op_t rd;
        op_init(&rd, c);
        job_t j;
        if (blocked) {
            job_start(&j, false, op_read, &rd);
            ck_assert(!job_wait(&j, 50));
        }
        ck_assert_int_eq(setsockopt(chan_fd_fileno(s), SOL_SOCKET, SO_LINGER,
                                    &lg, sizeof lg),
                         0);
        ck_assert_int_eq(chan_fd_close(s), 0);
        if (blocked) {
            job_join(&j);
        } else {
            tu_sleep_ms(10);
            op_read(&rd);
        }
        ASSERT_OP(&rd, -1, ECONNRESET);
        chan_fd_release(c);
        chan_fd_release(s);
    }
    lsn_close(&l);
    wait_goroutines_done();
}
END_TEST

/* Highest open descriptor below limit. */
static int highest_fd_below(long limit)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int max = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd < limit && fd > max)
            max = fd;
    }
    closedir(d);
    return max;
}

/* NP-8: accept when the process is out of descriptors. With RLIMIT_NOFILE
 * lowered and every descriptor below it taken, Accept fails with EMFILE at
 * once (Go passes EMFILE on; net/http sleeps and tries again), and so do
 * Pipe, Dial and Listen, creating nothing; once descriptors free up the
 * same listener accepts the waiting connections, which work. */
START_TEST(test_accept_emfile)
{
    if (tu_short()) {
        /* valgrind does not lower the kernel's limit: it closes a
         * descriptor above its own limit after the call made it, and an
         * accepted connection is lost that way. */
        fprintf(stderr, "accept_emfile: skipped under valgrind\n");
        return;
    }
    lsn_t l;
    lsn_open(&l, "tcp");
    warm_up();
    chan_fd_t *c1 = lsn_dial(&l), *c2 = lsn_dial(&l);
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)highest_fd_below((long)old.rlim_cur) + 8;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    enum { MAX_FILL = 4096 };
    static int fill[MAX_FILL];
    int nfill = 0;
    for (;;) {
        ck_assert_int_lt(nfill, MAX_FILL);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ck_assert_int_eq(errno, EMFILE);
            break;
        }
        fill[nfill++] = fd;
    }
    ck_assert_int_ge(nfill, 2);

    ASSERT_NULL_ERR(chan_fd_accept(l.ln), EMFILE);
    ASSERT_NULL_ERR(chan_fd_accept(l.ln), EMFILE); /* still */
    chan_fd_t *r = NULL, *w = NULL;
    ASSERT_ERR(chan_fd_pipe(&r, &w), EMFILE);
    ck_assert_ptr_null(r);
    ck_assert_ptr_null(w);
    ASSERT_NULL_ERR(chan_net_dial(NULL, "tcp", l.addr), EMFILE);
    ASSERT_NULL_ERR(chan_net_listen("tcp", "127.0.0.1:0"), EMFILE);

    /* One free: a pipe (two) still fails and leaves that one free. */
    close(fill[--nfill]);
    ASSERT_ERR(chan_fd_pipe(&r, &w), EMFILE);
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(probe, 0);
    close(probe);

    chan_fd_t *s1 = chan_fd_accept(l.ln);
    ck_assert_msg(s1 != NULL, "accept after a descriptor freed up: %s",
                  strerror(errno));
    ASSERT_NULL_ERR(chan_fd_accept(l.ln), EMFILE);
    close(fill[--nfill]);
    chan_fd_t *s2 = chan_fd_accept(l.ln);
    ck_assert_msg(s2 != NULL, "accept: %s", strerror(errno));

    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    while (nfill > 0)
        close(fill[--nfill]);

    ck_assert_int_eq(chan_fd_write(c1, "1", 1), 1);
    ck_assert_int_eq(chan_fd_write(c2, "2", 1), 1);
    char a = 0, b = 0;
    ck_assert_int_eq(chan_fd_read(s1, &a, 1), 1);
    ck_assert_int_eq(chan_fd_read(s2, &b, 1), 1);
    ck_assert_int_eq(a, '1');
    ck_assert_int_eq(b, '2');
    chan_fd_release(s1);
    chan_fd_release(s2);
    chan_fd_release(c1);
    chan_fd_release(c2);
    lsn_close(&l);
}
END_TEST

/* NP-1, NP-8: descriptors the poller serves are non-blocking (chan_fd_new
 * switches a blocking pipe over); those gochan makes are close-on-exec too
 * (Go's pipe2(O_CLOEXEC), socket(SOCK_CLOEXEC), accept4(SOCK_CLOEXEC)). */
START_TEST(test_fd_flags)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    chan_fd_t *f = chan_fd_new(p[0]), *g = chan_fd_new(p[1]);
    ck_assert(f && g);
    ck_assert(fd_flags(f) & O_NONBLOCK);
    ck_assert(fd_flags(g) & O_NONBLOCK);
    ck_assert_int_eq(chan_fd_write(g, "b", 1), 1);
    char c = 0;
    ck_assert_int_eq(chan_fd_read(f, &c, 1), 1);
    chan_fd_release(f);
    chan_fd_release(g);

    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    ck_assert(fd_flags(r) & O_NONBLOCK);
    ck_assert(fd_flags(w) & O_NONBLOCK);
    ck_assert(fd_cloexec(r));
    ck_assert(fd_cloexec(w));
    chan_fd_release(r);
    chan_fd_release(w);

    for (int i = 0; i < 2; i++) {
        lsn_t l;
        lsn_open(&l, stream_networks[i]);
        chan_fd_t *cl, *sv;
        lsn_pair(&l, &cl, &sv);
        chan_fd_t *all[] = {l.ln, cl, sv};
        for (int k = 0; k < 3; k++) {
            ck_assert_msg(fd_flags(all[k]) & O_NONBLOCK, "%s #%d blocking",
                          stream_networks[i], k);
            ck_assert_msg(fd_cloexec(all[k]), "%s #%d not close-on-exec",
                          stream_networks[i], k);
        }
        chan_fd_release(cl);
        chan_fd_release(sv);
        lsn_close(&l);
    }
}
END_TEST

/* Reference counting: a retained handle keeps the descriptor open after the
 * first release; the last release closes it (the writer then meets EPIPE);
 * release after close is fine. */
START_TEST(test_fd_retain_release)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    chan_fd_t *r2 = chan_fd_retain(r);
    ck_assert_ptr_eq(r2, r);
    chan_fd_release(r);
    ck_assert_int_eq(chan_fd_write(w, "k", 1), 1);
    char c = 0;
    ck_assert_int_eq(chan_fd_read(r2, &c, 1), 1);
    ck_assert_int_eq(c, 'k');
    chan_fd_release(r2);
    ASSERT_ERR(chan_fd_write(w, "k", 1), EPIPE);
    ck_assert_int_eq(chan_fd_close(w), 0);
    chan_fd_release(w);
}
END_TEST

static void noop_handler(int sig)
{
    (void)sig;
}

/* NP-7: EINTR is retried. A plain thread blocked in a read, and one blocked
 * in a write on a full buffer, get signals whose handler has no SA_RESTART;
 * neither call returns, and each completes once the peer acts. */
START_TEST(test_fd_eintr_retried)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = noop_handler;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);

    io_op_t rd;
    op_init(&rd, a);
    job_t j;
    job_start(&j, true, op_read, &rd);
    tu_quiet_sleep();
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(pthread_kill(j.thread, SIGUSR1), 0);
        tu_sleep_ms(5);
    }
    ck_assert_msg(!job_wait(&j, 20), "read returned %zd, errno %d", rd.ret,
                  rd.err);
    ck_assert_int_eq(chan_fd_write(b, "z", 1), 1);
    job_join(&j);
    ASSERT_OP(&rd, 1, 0);
    ck_assert_int_eq(rd.data[0], 'z');

    size_t n = (size_t)2 << 20;
    char *out = calloc(1, n), *in = malloc(n);
    ck_assert(out && in);
    io_op_t wr;
    op_init(&wr, a);
    wr.wbuf = out;
    wr.n = n;
    job_start(&j, true, op_write, &wr);
    tu_quiet_sleep();
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(pthread_kill(j.thread, SIGUSR1), 0);
        tu_sleep_ms(5);
    }
    ck_assert(!job_finished(&j));
    ck_assert_int_eq(read_full(b, in, n), (ssize_t)n);
    job_join(&j);
    ASSERT_OP(&wr, (ssize_t)n, 0);
    free(out);
    free(in);
    chan_fd_release(a);
    chan_fd_release(b);
}
END_TEST

/* ==== goroutines parked on the poller ==== */

typedef struct many {
    chan_fd_t *f;
    char got;
    ssize_t ret;
    atomic_int *finished;
} many_t;

static void many_read(void *p)
{
    many_t *m = p;
    m->ret = chan_fd_read(m->f, &m->got, 1);
    atomic_fetch_add(m->finished, 1);
}

static void echo_goroutine(void *p)
{
    chan_t *c = p;
    long v;
    while (chan_recv(c, &v) == CHAN_OK)
        if (v < 0)
            break;
}

/* Others still run: a plain thread hands a goroutine 1,000 values over an
 * unbuffered channel, within 10 s. */
static void other_goroutines_run(void)
{
    chan_t *c = chan_make(sizeof(long), 0);
    ck_assert_ptr_nonnull(c);
    job_t j;
    job_start(&j, false, echo_goroutine, c);
    for (long v = 0; v < 1000; v++)
        ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
    long stop = -1;
    ck_assert_int_eq(chan_send(c, &stop), CHAN_OK);
    job_join(&j);
    chan_release(c);
}

/* NP-1 (Go's 10,000 goroutines each blocked reading its own socket run on
 * GOMAXPROCS threads and a few), and section F's "I/O-blocked goroutines do
 * not stall others": 1,000 goroutines (200 under ThreadSanitizer or
 * valgrind) park in reads of their own sockets; chan_num_goroutine counts
 * them, the process has fewer than 64 threads, other goroutines still run,
 * and a byte to each socket wakes each reader with its byte. On kernel
 * threads (GOCHAN_SCHED=0) the thread count is not checked. */
START_TEST(test_many_goroutines_blocked)
{
    int n = (SCHED__TSAN || tu_short()) ? 200 : 1000;
    bool sched = chan__go_on_scheduler();
    if (!sched)
        n = 100;
    struct rlimit old, raised;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    raised = old;
    if (raised.rlim_cur < (rlim_t)(2 * n + 256)) {
        raised.rlim_cur = (rlim_t)(2 * n + 256);
        if (raised.rlim_cur > raised.rlim_max) { /* as many as allowed */
            raised.rlim_cur = raised.rlim_max;
            n = (int)(raised.rlim_max - 256) / 2;
            ck_assert_int_ge(n, 100);
        }
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &raised), 0);
    }
    chan_fd_t **a = calloc((size_t)n, sizeof *a),
              **b = calloc((size_t)n, sizeof *b);
    many_t *m = calloc((size_t)n, sizeof *m);
    ck_assert(a && b && m);
    atomic_int finished = 0;
    for (int i = 0; i < n; i++) {
        make_socketpair(&a[i], &b[i]);
        m[i] = (many_t){.f = a[i], .finished = &finished};
    }
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(chan_go(many_read, &m[i]), CHAN_OK);
    ck_assert_int_eq(chan_num_goroutine(), n);
    tu_sleep_ms(100 * (int64_t)tu_scale()); /* let them reach their reads */
    ck_assert_int_eq(atomic_load(&finished), 0);
    ck_assert_int_eq(chan_num_goroutine(), n);
    int threads = count_threads();
    if (sched)
        ck_assert_msg(threads < 64, "%d threads for %d goroutines in reads",
                      threads, n);
    other_goroutines_run();
    ck_assert_int_eq(atomic_load(&finished), 0);
    for (int i = 0; i < n; i++) {
        char c = (char)i;
        ck_assert_int_eq(chan_fd_write(b[i], &c, 1), 1);
    }
    int64_t deadline = chan_now() + patience();
    while (atomic_load(&finished) < n && chan_now() < deadline)
        tu_sleep_ms(1);
    ck_assert_int_eq(atomic_load(&finished), n);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(m[i].ret, 1);
        ck_assert_int_eq(m[i].got, (char)i);
        chan_fd_release(a[i]);
        chan_fd_release(b[i]);
    }
    wait_goroutines_done();
    free(a);
    free(b);
    free(m);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}
END_TEST

/* Adapts Go's runtime TestNetpollBreak / netpollBreak (NP-2): with every
 * goroutine parked on I/O (the scheduler's threads asleep in the poller, with
 * no timer due), (1) a goroutine started from a plain thread runs promptly;
 * (2) a deadline set from a plain thread ends the parked read on time (the
 * sleeping poller must wake to take the new timer); (3) a plain thread and
 * a goroutine ping-pong through two pipes 100 times. "Promptly" is 2 s
 * (scaled) here: loaded machines are slow, a missing wakeup is forever. */
static void nop(void *p)
{
    (void)p;
}

typedef struct echo_pipes {
    chan_fd_t *in, *out;
    int count;
} echo_pipes_t;

static void echo_pipes(void *p)
{
    echo_pipes_t *e = p;
    char c = 0;
    while (chan_fd_read(e->in, &c, 1) == 1) {
        if (chan_fd_write(e->out, &c, 1) != 1)
            break;
        e->count++;
    }
}

START_TEST(test_netpoll_break)
{
    warm_up();
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    io_op_t rd;
    op_init(&rd, r);
    job_t rj;
    job_start(&rj, false, op_read, &rd);
    tu_sleep_ms(50);

    int64_t t0 = chan_now();
    job_t g;
    job_start(&g, false, nop, NULL);
    ck_assert_msg(job_wait(&g, 2000), "a new goroutine did not run in 2 s");
    ck_assert_int_le(chan_now() - t0, scaled_ms(2000));
    job_join(&g);
    tu_sleep_ms(50);

    int64_t deadline = chan_now() + 20 * MS;
    ck_assert_int_eq(chan_fd_set_read_deadline(r, deadline), 0);
    ck_assert_msg(job_wait(&rj, 2000), "the deadline did not end the read");
    job_join(&rj);
    ASSERT_OP(&rd, -1, ETIMEDOUT);
    ck_assert_int_ge(rd.t1, deadline);
    ck_assert_int_eq(chan_fd_set_read_deadline(r, 0), 0);

    chan_fd_t *r2, *w2;
    make_pipe(&r2, &w2);
    echo_pipes_t e = {r, w2, 0};
    job_t ej;
    job_start(&ej, false, echo_pipes, &e);
    t0 = chan_now();
    for (int i = 0; i < 100; i++) {
        char c = (char)i, back = 0;
        ck_assert_int_eq(chan_fd_write(w, &c, 1), 1);
        ck_assert_int_eq(chan_fd_read(r2, &back, 1), 1);
        ck_assert_int_eq(back, c);
    }
    ck_assert_int_le(chan_now() - t0, patience());
    ck_assert_int_eq(chan_fd_close(w), 0);
    job_join(&ej);
    ck_assert_int_eq(e.count, 100);
    chan_fd_release(r);
    chan_fd_release(w);
    chan_fd_release(r2);
    chan_fd_release(w2);
    wait_goroutines_done();
}
END_TEST

static void *thread_waits_once(void *p)
{
    io_op_t *o = p;
    chan_fd_set_read_deadline(o->f, chan_now() + MS);
    op_read(o);
    return NULL;
}

/* Plain threads that waited on the poller leave nothing behind when they
 * exit: 20 threads each park once in a read that times out, and once they
 * are joined the process has the descriptors it had before. */
START_TEST(test_thread_exit_no_fd_leak)
{
    warm_up();
    chan_fd_t *a, *b;
    make_socketpair(&a, &b);
    int fds = count_fds();
    for (int i = 0; i < 20; i++) {
        io_op_t op;
        op_init(&op, a);
        tu_join(tu_spawn(thread_waits_once, &op));
        ASSERT_OP(&op, -1, ETIMEDOUT);
    }
    assert_fds_settle(fds);
    chan_fd_release(a);
    chan_fd_release(b);
}
END_TEST

/* ==== fork (NP-11) ==== */

static void *child_writer(void *p)
{
    chan_fd_t *w = p;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    chan_fd_write(w, "c", 1);
    return NULL;
}

/* The child's part: an exit status naming the step that failed. */
static int fork_child_body(void)
{
    chan_fd_t *r, *w;
    if (chan_fd_pipe(&r, &w) != 0)
        return 10;
    char b = 0;
    if (!TU_FORK_NO_THREADS) {
        /* A read that times out: the child waits on a poller of its own
         * (while the parent's reader is woken in the parent). */
        if (chan_fd_set_read_deadline(r, chan_now() + 200 * MS) != 0)
            return 11;
        if (chan_fd_read(r, &b, 1) != -1 || errno != ETIMEDOUT)
            return 12;
        if (chan_fd_set_read_deadline(r, 0) != 0)
            return 13;
        /* A plain thread of the child writes while this one waits. */
        pthread_t t;
        if (pthread_create(&t, NULL, child_writer, w) != 0)
            return 14;
        ssize_t n = chan_fd_read(r, &b, 1);
        pthread_join(t, NULL);
        if (n != 1 || b != 'c')
            return 15;
    } else {
        if (chan_fd_write(w, "c", 1) != 1 || chan_fd_read(r, &b, 1) != 1 ||
            b != 'c')
            return 16;
    }
    if (chan_fd_close(w) != 0 || chan_fd_read(r, &b, 1) != 0)
        return 17;
    chan_fd_release(r);
    chan_fd_release(w);
    return 0;
}

/* NP-11: a forked child (of a parent whose poller is in use, with a
 * goroutine parked in a read) makes a pipe and reads and writes it on plain
 * threads, blocking and with a deadline, and exits 0; meanwhile the parent's
 * parked reader is still woken by the parent's write (the child did not take
 * its event from a shared epoll instance). Under the sanitizers the child
 * stays on one thread and does not block. */
START_TEST(test_fork_child_poller)
{
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    io_op_t rd;
    op_init(&rd, r);
    job_t j;
    job_start(&j, false, op_read, &rd);
    tu_sleep_ms(20);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child's own bound. SIGALRM must kill only the child: Check's
         * inherited handler would SIGKILL the test's whole process group. */
        signal(SIGALRM, SIG_DFL);
        alarm((unsigned)(10 * tu_scale()));
        _exit(fork_child_body());
    }
    tu_sleep_ms(50);
    ck_assert_int_eq(chan_fd_write(w, "p", 1), 1);
    job_join(&j);
    ASSERT_OP(&rd, 1, 0);
    ck_assert_int_eq(rd.data[0], 'p');

    int status = 0;
    int64_t deadline = chan_now() + patience();
    pid_t got;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && chan_now() < deadline)
        tu_sleep_ms(1);
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("the child did not exit within 10 s");
    }
    ck_assert_int_eq(got, pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s %d",
                  WIFEXITED(status) ? "exit status" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* A goroutine whose P sysmon took while it sat in a blocking system call,
 * and which then parks on the poller, is woken by readiness. Its M, left
 * without a P, blocks in the poller itself when nobody else does
 * (sched/proc.c, exitsyscall). Before, with every P idle, sysmon asleep
 * (no waiter on the poller yet when it looked) and that M asleep too,
 * nobody polled, and the goroutine waited for ever (test_fd_write_whole
 * hung so under valgrind in CI). */
struct retaken {
    int rawfd;
    chan_fd_t *r;
    _Atomic int state;
    ssize_t got;
};

static void retaken_reader(void *p)
{
    struct retaken *t = p;
    char c;
    atomic_store(&t->state, 1);
    ssize_t n = read(t->rawfd, &c, 1); /* sysmon takes the P meanwhile */
    (void)n;
    atomic_store(&t->state, 2);
    t->got = chan_fd_read(t->r, &c, 1); /* parks on the poller */
    atomic_store(&t->state, 3);
}

static bool state_reaches(_Atomic int *state, int want, int64_t ms)
{
    int64_t deadline = chan_now() + scaled_ms(ms);
    while (atomic_load(state) < want && chan_now() < deadline)
        sleep_us(1000);
    return atomic_load(state) >= want;
}

START_TEST(test_retaken_goroutine_parks_on_poller)
{
    int raw[2];
    ck_assert_int_eq(pipe(raw), 0);
    chan_fd_t *r, *w;
    make_pipe(&r, &w);
    struct retaken t = {.rawfd = raw[0], .r = r};
    ck_assert_int_eq(chan_go(retaken_reader, &t), CHAN_OK);
    ck_assert(state_reaches(&t.state, 1, 5000));
    /* sysmon retakes the P after 10 ms, hands it off idle, and sleeps. */
    sleep_us(100 * 1000);
    ck_assert_int_eq(write(raw[1], "x", 1), 1);
    ck_assert(state_reaches(&t.state, 2, 5000));
    sleep_us(50 * 1000); /* it parks on the poller */
    ck_assert_int_eq(chan_fd_write(w, "y", 1), 1);
    ck_assert_msg(state_reaches(&t.state, 3, 5000),
                  "the goroutine never woke for its data");
    ck_assert_int_eq(t.got, 1);
    close(raw[0]);
    close(raw[1]);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* ==== the suite ==== */

/* NP-10: a _ctx call whose context is canceled before anything else wakes
 * it fails with ECANCELED, even when end of file comes right after the
 * cancel (the AfterFunc that sets the call's flag runs a moment later). A
 * goroutine reads an empty pipe; this thread cancels, then closes the
 * write end at once. Bounded: 50 rounds. */
struct ctx_read {
    context_t *ctx;
    chan_fd_t *r;
    _Atomic int done;
    ssize_t rc;
    int err;
};

static void ctx_read_once(void *p)
{
    struct ctx_read *c = p;
    char b;
    c->rc = chan_fd_read_ctx(c->ctx, c->r, &b, 1);
    c->err = errno;
    atomic_store(&c->done, 1);
}

START_TEST(test_read_ctx_cancel_before_eof)
{
    for (int round = 0; round < 50; round++) {
        chan_fd_t *r, *w;
        ck_assert_int_eq(chan_fd_pipe(&r, &w), 0);
        context_cancel_t *cancel;
        context_t *ctx = context_with_cancel(context_background(), &cancel);
        ck_assert_ptr_nonnull(ctx);
        struct ctx_read c = {.ctx = ctx, .r = r};
        ck_assert_int_eq(chan_go(ctx_read_once, &c), CHAN_OK);
        /* Odd rounds: the read waits. Even rounds: the cancel may come
         * before the read has looked at its context, or between that and
         * its first read(2) (which then finds end of file). */
        if (round % 2)
            chan_sleep(2 * CHAN_MILLISECOND);
        context_cancel(cancel);
        ck_assert_int_eq(chan_fd_close(w), 0);
        int64_t deadline = chan_now() + 10 * CHAN_SECOND;
        while (!atomic_load(&c.done) && chan_now() < deadline)
            chan_sleep(CHAN_MILLISECOND);
        ck_assert_msg(atomic_load(&c.done), "round %d: read never returned",
                      round);
        ck_assert_msg(c.rc == -1 && c.err == ECANCELED,
                      "round %d: read = %zd, errno %d; want ECANCELED", round,
                      c.rc, c.err);
        context_release(ctx);
        chan_fd_release(r);
        chan_fd_release(w);
    }
    wait_goroutines_done();
}
END_TEST

/* The goroutine dump names a read parked on the poller with Go's wait
 * reason "IO wait" and the descriptor. */
START_TEST(test_dump_io_wait)
{
    chan_debug_enable(true);
    chan_fd_t *r, *w;
    ck_assert_int_eq(chan_fd_pipe(&r, &w), 0);
    struct ctx_read c = {.ctx = NULL, .r = r};
    ck_assert_int_eq(chan_go(ctx_read_once, &c), CHAN_OK);
    char want[32];
    snprintf(want, sizeof want, "IO wait, blocked");
    char fdtext[32];
    snprintf(fdtext, sizeof fdtext, "fd %d", chan_fd_fileno(r));
    bool seen = false;
    for (int i = 0; i < 1000 && !seen; i++) { /* bounded: about 10 s */
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        ck_assert_ptr_nonnull(mem);
        chan_debug_dump(mem);
        fclose(mem);
        seen = strstr(text, want) && strstr(text, fdtext);
        free(text);
        if (!seen)
            chan_sleep(10 * CHAN_MILLISECOND);
    }
    ck_assert_msg(seen, "the dump never showed \"%s\" with \"%s\"", want,
                  fdtext);
    ck_assert_int_eq(chan_fd_write(w, "x", 1), 1);
    int64_t deadline = chan_now() + 10 * CHAN_SECOND;
    while (!atomic_load(&c.done) && chan_now() < deadline)
        chan_sleep(CHAN_MILLISECOND);
    ck_assert_int_eq(c.rc, 1);
    chan_debug_enable(false);
    chan_fd_release(r);
    chan_fd_release(w);
    wait_goroutines_done();
}
END_TEST

/* chan_fd_new makes a blocking descriptor non-blocking for the poller; the
 * flag belongs to the open file description (a dup, or a shell's stdin,
 * shares it), so closing the handle gives it back. */
START_TEST(test_fd_new_restores_blocking)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    int dup_fd = dup(p[0]);
    ck_assert_int_ge(dup_fd, 0);
    chan_fd_t *f = chan_fd_new(p[0]);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(fcntl(dup_fd, F_GETFL) & O_NONBLOCK,
                  "the poller serves the pipe: it is non-blocking");
    ck_assert_int_eq(chan_fd_close(f), 0);
    ck_assert_msg(!(fcntl(dup_fd, F_GETFL) & O_NONBLOCK),
                  "closing the handle gave the description its flag back");
    chan_fd_release(f);
    close(dup_fd);
    close(p[1]);
}
END_TEST

/* NP-5: a deadline that fires as its handle is closed must not touch the
 * poll descriptor, which the next descriptor may already have (they are
 * reused): a short deadline on a pipe, closed at once, then a new pipe whose
 * read of a byte already waiting must succeed. Bounded: 300 rounds. The
 * window (between the close's destroy and its stop of the timers) is
 * narrow: a guard more than a reliable reproduction. */
START_TEST(test_deadline_fires_after_close)
{
    int stale = 0;
    for (int round = 0; round < 300; round++) {
        chan_fd_t *r, *w;
        ck_assert_int_eq(chan_fd_pipe(&r, &w), 0);
        ck_assert_int_eq(chan_fd_set_read_deadline(r, chan_now() + 20000), 0);
        ck_assert_int_eq(chan_fd_close(r), 0);
        chan_fd_release(r);
        chan_fd_release(w);
        ck_assert_int_eq(chan_fd_pipe(&r, &w), 0);
        ck_assert_int_eq(chan_fd_write(w, "x", 1), 1);
        chan_sleep(100000); /* the old deadline has fired by now */
        char b;
        if (chan_fd_read(r, &b, 1) != 1)
            stale++;
        chan_fd_release(r);
        chan_fd_release(w);
    }
    ck_assert_msg(stale == 0,
                  "%d reads failed: a closed handle's deadline "
                  "expired the next descriptor",
                  stale);
}
END_TEST

static Suite *net_suite(void)
{
    Suite *s = suite_create("net");
    struct {
        const char *name;
        const TTest *test;
        int loops; /* 0: a plain test; n: _i runs 0..n-1 */
    } cases[] = {
        /* internal/poll/fd_mutex_test.go */
        {"fd_mutex_lock", test_fd_mutex_lock, 0},
        {"fd_mutex_close", test_fd_mutex_close, 0},
        {"fd_mutex_close_unblock", test_fd_mutex_close_unblock, 0},
        {"fd_mutex_stress", test_fd_mutex_stress, 0},
        {"fd_read_write_at_once", test_fd_read_write_at_once, 0},
        {"fd_write_whole", test_fd_write_whole, 0},
        /* os/timeout_test.go */
        {"os_nonpollable_deadline", test_os_nonpollable_deadline, 0},
        {"os_read_timeout", test_os_read_timeout, 0},
        {"os_read_timeout_must_not_return",
         test_os_read_timeout_must_not_return, 0},
        {"os_write_timeout", test_os_write_timeout, 0},
        {"os_write_timeout_must_not_return",
         test_os_write_timeout_must_not_return, 0},
        {"os_timeout_fluctuation", test_os_timeout_fluctuation, 0},
        {"os_various_deadlines", test_os_various_deadlines, 0},
        {"os_read_write_deadline_race", test_os_read_write_deadline_race, 0},
        {"os_racy_read", test_os_racy_read, 0},
        {"os_racy_write", test_os_racy_write, 0},
        /* os/pipe_test.go */
        {"pipe_closed_race_read", test_pipe_closed_race_read, 0},
        {"pipe_closed_race_write", test_pipe_closed_race_write, 0},
        {"pipe_close_with_blocking_read", test_pipe_close_with_blocking_read,
         0},
        {"pipe_eof", test_pipe_eof, 0},
        {"pipe_fd_race", test_pipe_fd_race, 0},
        {"pipe_fd_read_race", test_pipe_fd_read_race, 0},
        {"sigpipe", test_sigpipe, 0},
        /* net/timeout_test.go */
        {"net_dial_timeout", test_net_dial_timeout, 2},
        {"net_accept_timeout", test_net_accept_timeout, 0},
        {"net_accept_timeout_must_return", test_net_accept_timeout_must_return,
         0},
        {"net_accept_timeout_must_not_return",
         test_net_accept_timeout_must_not_return, 0},
        {"net_read_timeout", test_net_read_timeout, 0},
        {"net_read_timeout_must_not_return",
         test_net_read_timeout_must_not_return, 0},
        {"net_write_timeout", test_net_write_timeout, 0},
        {"net_write_timeout_must_not_return",
         test_net_write_timeout_must_not_return, 0},
        {"net_timeout_fluctuation", test_net_timeout_fluctuation, 0},
        {"net_various_deadlines", test_net_various_deadlines, 0},
        {"net_read_write_prolonged_timeout",
         test_net_read_write_prolonged_timeout, 0},
        {"net_read_write_deadline_race", test_net_read_write_deadline_race, 0},
        {"net_concurrent_set_deadline", test_net_concurrent_set_deadline, 0},
        /* net/net_test.go */
        {"net_close_write", test_net_close_write, 2},
        {"net_conn_close", test_net_conn_close, 2},
        {"net_listener_close", test_net_listener_close, 2},
        {"net_listen_close_listen", test_net_listen_close_listen, 0},
        {"net_zero_byte_read", test_net_zero_byte_read, 2},
        {"net_read_timeout_unblocks_read", test_net_read_timeout_unblocks_read,
         0},
        {"net_close_unblocks_read", test_net_close_unblocks_read, 0},
        /* net/dial_test.go, dial_unix_test.go */
        {"net_dial_cancel_race", test_net_dial_cancel_race, 0},
        {"net_cancel_after_dial", test_net_cancel_after_dial, 0},
        {"net_dial_ctx_already_done", test_net_dial_ctx_already_done, 0},
        {"net_dial_refused", test_net_dial_refused, 0},
        /* runtime: netpollBreak, goroutines parked on I/O */
        {"netpoll_break", test_netpoll_break, 0},
        {"many_goroutines_blocked", test_many_goroutines_blocked, 0},
        {"fork_child_poller", test_fork_child_poller, 0},
        {"thread_exit_no_fd_leak", test_thread_exit_no_fd_leak, 0},
        /* bad input */
        {"fd_new_bad_descriptor", test_fd_new_bad_descriptor, 0},
        {"null_arguments", test_null_arguments, 0},
        {"listen_addresses", test_listen_addresses, 0},
        {"dial_addresses", test_dial_addresses, 0},
        {"unix_addresses", test_unix_addresses, 0},
        {"addr_strings", test_addr_strings, 0},
        {"deadline_extremes", test_deadline_extremes, 0},
        {"deadline_extremes_accept", test_deadline_extremes_accept, 0},
        {"ctx_already_done", test_ctx_already_done, 0},
        /* blocking calls on threads and goroutines */
        {"blocking_calls", test_blocking_calls, 2},
        {"wait_read_write", test_wait_read_write, 0},
        /* faults */
        {"close_race_read_many", test_close_race_read_many, 0},
        {"close_race_write_many", test_close_race_write_many, 0},
        {"close_race_accept_many", test_close_race_accept_many, 0},
        {"close_race_number_reused", test_close_race_number_reused, 0},
        {"conn_reset", test_conn_reset, 0},
        {"accept_emfile", test_accept_emfile, 0},
        {"fd_flags", test_fd_flags, 0},
        {"fd_retain_release", test_fd_retain_release, 0},
        {"fd_eintr_retried", test_fd_eintr_retried, 0},
        /* contexts and the dump */
        {"read_ctx_cancel_before_eof", test_read_ctx_cancel_before_eof, 0},
        {"retaken_goroutine_parks_on_poller",
         test_retaken_goroutine_parks_on_poller, 0},
        {"dump_io_wait", test_dump_io_wait, 0},
        {"fd_new_restores_blocking", test_fd_new_restores_blocking, 0},
        {"deadline_fires_after_close", test_deadline_fires_after_close, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tu_tcase(s, cases[i].name, 60);
        if (cases[i].loops)
            tcase_add_loop_test(tc, cases[i].test, 0, cases[i].loops);
        else
            tcase_add_test(tc, cases[i].test);
    }
    return s;
}

int main(void)
{
    return tu_run(net_suite());
}
