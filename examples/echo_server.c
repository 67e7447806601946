/* echo_server.c: a TCP echo server written the Go way, on gochan's network
 * poller (gochan/net.h): one goroutine per connection, each parked in
 * chan_fd_read as long as its client is quiet (10,000 quiet clients cost
 * 10,000 parked goroutines on GOMAXPROCS threads, not 10,000 threads), and a
 * clean stop on SIGINT or SIGTERM: the listener and every connection are
 * closed, every goroutine returns, everything is released, and main exits 0,
 * so that valgrind finds nothing left behind.
 *
 * Twin of echo_server.go, line for line; comments say what each Go line
 * becomes. bench/echo.sh measures both with one load generator
 * (bench/go/echoload).
 *
 *     echo_server [address]      serve on address (default 127.0.0.1:0)
 *     echo_server --selftest N   serve on 127.0.0.1:0, dial it N times from
 *                                goroutines of this process, check every
 *                                echo, then stop as on SIGTERM; exit 0 if
 *                                all matched (CTest runs this)
 *
 * The first line on standard output is "listening on ADDR".
 */
#include <gochan.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One connection being served: a node of the server's set (Go's
 * map[net.Conn]struct{}). */
struct conn {
    chan_fd_t *fd;
    struct conn *prev, *next;
    struct server *srv;
};

/* type server struct { ln; mu; conns; closing; wg } */
struct server {
    chan_fd_t *ln;
    chan_mutex_t mu;     /* mu sync.Mutex: guards conns and closing */
    struct conn *conns;  /* conns map[net.Conn]struct{} */
    bool closing;        /* closing bool */
    chan_waitgroup_t wg; /* wg sync.WaitGroup: the connection goroutines */
    int accept_errno;    /* serve's error: 0 when the listener was closed */
};

/* echo: copies what the client sends back to it until end of file, or an
 * error (the server closed the connection at shutdown, the client reset
 * it). buf := make([]byte, 4096) lives on the goroutine's stack. */
static void echo(chan_fd_t *c)
{
    char buf[4096];
    for (;;) {
        /* n, err := c.Read(buf): n > 0, 0 (io.EOF) or -1 (err, in errno) */
        ssize_t n = chan_fd_read(c, buf, sizeof buf);
        if (n <= 0)
            return; /* 0 is io.EOF: the client is done; -1 an error */
        if (chan_fd_write(c, buf, (size_t)n) != n) /* c.Write(buf[:n]) */
            return;
    }
}

/* func (s *server) handle(c net.Conn): one connection, on its own goroutine. */
static void handle(void *arg)
{
    struct conn *c = arg;
    struct server *s = c->srv;
    echo(c->fd);
    chan_mutex_lock(&s->mu); /* s.mu.Lock(); delete(s.conns, c) */
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    chan_mutex_unlock(&s->mu);
    chan_fd_close(c->fd);   /* c.Close() (EBADF if shutdown closed it first) */
    chan_fd_release(c->fd); /* the collector's part in Go */
    free(c);
    chan_waitgroup_done(&s->wg); /* defer s.wg.Done() */
}

/* func (s *server) serve() error: accepts until the listener is closed.
 * Go runs it on main; main is a plain thread in C, where an accept holds the
 * thread, so it runs as a goroutine (serve_main) that parks instead. */
static void serve(struct server *s)
{
    for (;;) {
        chan_fd_t *fd = chan_fd_accept(s->ln); /* c, err := s.ln.Accept() */
        if (fd == NULL) {
            int err = errno;
            chan_mutex_lock(&s->mu);
            bool closing = s->closing;
            chan_mutex_unlock(&s->mu);
            /* errors.Is(err, net.ErrClosed): shutdown closed the listener */
            if (err == EBADF || closing)
                return;
            if (err == EMFILE || err == ENFILE || err == ECONNABORTED ||
                err == ENOBUFS || err == ENOMEM) {
                chan_sleep(5 * CHAN_MILLISECOND); /* wait, retry */
                continue;
            }
            s->accept_errno = err; /* return err */
            return;
        }
        struct conn *c = calloc(1, sizeof *c);
        chan_mutex_lock(&s->mu);       /* s.mu.Lock() */
        if (s->closing || c == NULL) { /* accepted as shutdown began */
            chan_mutex_unlock(&s->mu);
            chan_fd_release(fd); /* c.Close() */
            free(c);
            continue;
        }
        c->fd = fd;
        c->srv = s;
        c->next = s->conns; /* s.conns[c] = struct{}{} */
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        chan_waitgroup_add(&s->wg, 1); /* s.wg.Add(1) */
        chan_mutex_unlock(&s->mu);
        if (chan_go(handle, c) != CHAN_OK) { /* go s.handle(c) */
            chan_fd_close(fd); /* no goroutine to be had: drop c at once */
            handle(c);
        }
    }
}

/* func (s *server) shutdown(ctx, done): waits for ctx to be done (a signal,
 * or stop), then closes the listener and every connection: Accept and every
 * blocked Read return. */
struct shutdown_args {
    struct server *srv;
    context_t *ctx;
    chan_t *done; /* done chan<- struct{} */
};

static void shutdown_on_done(void *arg)
{
    struct shutdown_args *a = arg;
    struct server *s = a->srv;
    chan_recv(context_done(a->ctx), NULL); /* <-ctx.Done() */
    chan_mutex_lock(&s->mu);
    s->closing = true;
    chan_fd_close(s->ln); /* s.ln.Close() */
    for (struct conn *c = s->conns; c; c = c->next)
        chan_fd_close(c->fd); /* for c := range s.conns { c.Close() } */
    chan_mutex_unlock(&s->mu);
    chan_close(a->done); /* close(done) */
}

/* ---- the self-test: clients on goroutines of this process --------------- */

/* pattern fills a message that differs by client, message and byte. */
static void pattern(unsigned char *b, size_t n, int client, int msg)
{
    for (size_t j = 0; j < n; j++)
        b[j] = (unsigned char)(client * 31 + msg * 7 + (int)j);
}

static const size_t sizes[] = {1, 64, 1000, 16384, 5};
enum { NSIZES = sizeof sizes / sizeof sizes[0], MAXSIZE = 16384 };

/* io.ReadFull(c, b) bounded by ctx: 0, or -1 with errno (EPIPE standing for
 * io.ErrUnexpectedEOF). */
static int read_full(context_t *ctx, chan_fd_t *c, unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = chan_fd_read_ctx(ctx, c, b + got, n - got);
        if (r == 0)
            errno = EPIPE;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

struct selftest {
    const char *addr;
    int n;
    context_t *ctx;         /* context.WithTimeout(Background, 60s) */
    atomic_int failed;      /* var failed atomic.Int32 */
    chan_waitgroup_t wg;    /* the n clients */
    chan_t *ready;          /* the idle client has had its echo */
    chan_t *idle;           /* idle := make(chan error, 1): errno, 0 if ok */
    chan_t *result;         /* result := make(chan bool, 1) */
    chan_waitgroup_t alive; /* every self-test goroutine, for main */
};

struct client_args {
    struct selftest *t;
    int id;
};

/* client dials addr, sends each message of sizes, checks its echo, then
 * half-closes and expects end of file from the server. NULL, or what failed
 * with its errno in *errp (Go's error value). */
static const char *client(struct selftest *t, int id, int *errp)
{
    /* c, err := d.DialContext(ctx, "tcp", addr); Go bounds the reads and
     * writes by ctx with c.SetDeadline; C passes ctx to each call. */
    chan_fd_t *c = chan_net_dial(t->ctx, "tcp", t->addr);
    if (c == NULL) {
        *errp = errno;
        return "dial failed";
    }
    const char *err = NULL;
    /* out, in := make([]byte, n), make([]byte, n), once for all messages */
    unsigned char *o = malloc(MAXSIZE), *i = malloc(MAXSIZE);
    if (o == NULL || i == NULL)
        err = "out of memory";
    for (int m = 0; err == NULL && m < NSIZES; m++) { /* for m, n := range */
        pattern(o, sizes[m], id, m);
        if (chan_fd_write_ctx(t->ctx, c, o, sizes[m]) != (ssize_t)sizes[m])
            err = "write failed"; /* c.Write(out) */
        else if (read_full(t->ctx, c, i, sizes[m]) != 0)
            err = "read failed"; /* io.ReadFull(c, in) */
        else if (memcmp(i, o, sizes[m]) != 0)
            err = "echo differs";
        if (err != NULL)
            *errp = errno;
    }
    if (err == NULL) {
        chan_fd_close_write(c); /* c.(*net.TCPConn).CloseWrite() */
        unsigned char b;
        if (chan_fd_read_ctx(t->ctx, c, &b, 1) != 0) { /* want io.EOF */
            *errp = errno;
            err = "no end of file after CloseWrite";
        }
    }
    free(o);
    free(i);
    chan_fd_release(c); /* defer c.Close() */
    return err;
}

static void client_main(void *arg)
{
    struct client_args *a = arg;
    struct selftest *t = a->t;
    int e = 0;
    const char *err = client(t, a->id, &e);
    if (err != NULL) {
        fprintf(stderr, "client %d: %s (%s)\n", a->id, err, strerror(e));
        atomic_fetch_add(&t->failed, 1); /* failed.Add(1) */
    }
    free(a);
    chan_waitgroup_done(&t->wg); /* defer wg.Done() */
}

/* idleClient echoes once, says so on ready, then stays quiet until the
 * server's shutdown closes the connection (end of file). */
static void idle_client(void *arg)
{
    struct selftest *t = arg;
    int err = 0;
    chan_fd_t *c = chan_net_dial(t->ctx, "tcp", t->addr);
    unsigned char b[3];
    if (c == NULL)
        err = errno;
    else if (chan_fd_write_ctx(t->ctx, c, "hi\n", 3) != 3 ||
             read_full(t->ctx, c, b, 3) != 0)
        err = errno ? errno : EIO;
    chan_close(t->ready); /* close(ready) */
    if (err == 0 && chan_fd_read_ctx(t->ctx, c, b, 3) != 0)
        err = errno ? errno : EIO; /* want io.EOF at shutdown */
    chan_fd_release(c);            /* defer c.Close() */
    chan_send(t->idle, &err);      /* idle <- idleClient(ctx, addr, ready) */
    chan_waitgroup_done(&t->alive);
}

/* selfTest runs n clients and the idle one, then stops the server as Ctrl-C
 * would, and sends whether everything matched on t->result. */
static void self_test(void *arg)
{
    struct selftest *t = arg;
    chan_waitgroup_add(&t->alive, 1);
    if (chan_go(idle_client, t) != CHAN_OK) { /* go func() { idle <- ... }() */
        int err = errno;
        chan_close(t->ready);
        chan_send(t->idle, &err);
        chan_waitgroup_done(&t->alive);
    }
    for (int i = 0; i < t->n; i++) {
        struct client_args *a = malloc(sizeof *a);
        chan_waitgroup_add(&t->wg, 1); /* wg.Add(1) */
        if (a == NULL) {
            atomic_fetch_add(&t->failed, 1);
            chan_waitgroup_done(&t->wg);
            continue;
        }
        a->t = t;
        a->id = i;
        if (chan_go(client_main, a) != CHAN_OK) /* go func(i int) {...}(i) */
            client_main(a);                     /* no goroutine: run it here */
    }
    chan_waitgroup_wait(&t->wg); /* wg.Wait() */
    chan_recv(t->ready, NULL);   /* <-ready */
    /* syscall.Kill(os.Getpid(), syscall.SIGTERM). raise sends it to this
     * thread: kill(getpid(), ...) works as well, but the kernel then gives
     * it to main, parked in a futex, where ThreadSanitizer defers a handler
     * until the thread's next libc call, which never comes (a hang in CI's
     * TSan run). */
    raise(SIGTERM);
    int err;
    chan_recv(t->idle, &err); /* if err := <-idle; err != nil */
    if (err != 0) {
        fprintf(stderr, "idle client: %s\n", strerror(err));
        atomic_fetch_add(&t->failed, 1);
    }
    int failed = atomic_load(&t->failed);
    printf("selftest: %d clients, %d failed\n", t->n, failed);
    bool ok = failed == 0;
    chan_send(t->result, &ok); /* result <- selfTest(addr, n) */
    chan_waitgroup_done(&t->alive);
}

/* The accept loop as a goroutine (see serve), and main's way to wait for it
 * (served is closed when it returns): in Go, main itself calls s.serve(). */
struct serve_args {
    struct server *srv;
    chan_t *served;
};

static void serve_main(void *arg)
{
    struct serve_args *a = arg;
    serve(a->srv);
    chan_close(a->served);
}

static int usage(void)
{
    fprintf(stderr, "usage: echo_server [address] | --selftest N\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:0"; /* addr, selftest := "127.0.0.1:0", 0 */
    int selftest = 0;
    if (argc == 3 && strcmp(argv[1], "--selftest") == 0) {
        selftest = atoi(argv[2]);
        if (selftest < 1 || selftest > 100000)
            return usage();
    } else if (argc == 2) {
        addr = argv[1];
    } else if (argc > 2) {
        return usage();
    }

    /* ctx, stop := signal.NotifyContext(context.Background(), SIGINT,
     * SIGTERM): ctx is done on the first of them (or on stop). */
    const int sigs[] = {SIGINT, SIGTERM};
    context_cancel_t *stop;
    context_t *ctx =
        context_signal_notify(context_background(), sigs, 2, &stop);
    if (ctx == NULL || context_done(ctx) == NULL) {
        perror("echo_server: signal.NotifyContext");
        return 1;
    }

    chan_fd_t *ln = chan_net_listen("tcp", addr); /* net.Listen("tcp", addr) */
    if (ln == NULL) {
        fprintf(stderr, "echo_server: listen %s: %s\n", addr, strerror(errno));
        context_cancel(stop);
        context_release(ctx);
        return 1;
    }
    char name[128];
    if (chan_fd_local_addr(ln, name, sizeof name) != 0) { /* ln.Addr() */
        perror("echo_server: local address");
        chan_fd_release(ln);
        context_cancel(stop);
        context_release(ctx);
        return 1;
    }
    printf("listening on %s\n", name); /* fmt.Println("listening on", ...) */
    fflush(stdout);                    /* Go's os.Stdout is unbuffered */

    /* s := &server{ln: ln, conns: make(map[net.Conn]struct{})} */
    struct server s = {.ln = ln, .mu = CHAN_MUTEX_INIT};
    chan_waitgroup_init(&s.wg);

    /* closed := make(chan struct{}); go s.shutdown(ctx, closed) */
    struct shutdown_args sa = {&s, ctx, chan_make(0, 0)};
    if (sa.done == NULL || chan_go(shutdown_on_done, &sa) != CHAN_OK) {
        perror("echo_server: go s.shutdown");
        return 1; /* nothing serves yet: the process exit releases it all */
    }

    /* result := make(chan bool, 1); the self-test, or true at once */
    struct selftest t = {.addr = name, .n = selftest};
    chan_waitgroup_init(&t.wg);
    chan_waitgroup_init(&t.alive);
    t.result = chan_make(sizeof(bool), 1);
    context_cancel_t *cancel_test = NULL;
    bool ok = true;
    if (selftest > 0) {
        /* ctx, cancel := context.WithTimeout(context.Background(), 60s) */
        t.ctx = context_with_timeout(context_background(), 60 * CHAN_SECOND,
                                     &cancel_test);
        t.ready = chan_make(0, 0);
        t.idle = chan_make(sizeof(int), 1);
        chan_waitgroup_add(&t.alive, 1);
        if (t.ctx == NULL || t.ready == NULL || t.idle == NULL ||
            chan_go(self_test, &t) != CHAN_OK) { /* go func() { ... }() */
            perror("echo_server: self-test");
            chan_waitgroup_done(&t.alive);
            ok = false;
            context_cancel(stop);
        }
    }

    /* err = s.serve(), on a goroutine; main waits for it to return */
    struct serve_args sv = {&s, chan_make(0, 0)};
    if (sv.served == NULL || chan_go(serve_main, &sv) != CHAN_OK)
        s.accept_errno = errno;
    else
        chan_recv(sv.served, NULL);
    context_cancel(stop);       /* stop(): an accept error ends it too */
    chan_recv(sa.done, NULL);   /* <-closed */
    chan_waitgroup_wait(&s.wg); /* s.wg.Wait() */
    if (selftest > 0 && ok)
        chan_recv(t.result, &ok); /* ok := <-result */
    chan_waitgroup_wait(&t.alive);

    /* Go's collector and its defers would take care of these; in C, drop
     * every reference: defer stop() (and the self-test's defer cancel()). */
    chan_fd_release(ln);
    chan_release(sa.done);
    chan_release(sv.served);
    chan_release(t.result);
    chan_release(t.ready);
    chan_release(t.idle);
    chan_waitgroup_destroy(&t.wg);
    chan_waitgroup_destroy(&t.alive);
    chan_waitgroup_destroy(&s.wg);
    if (cancel_test != NULL) {
        context_cancel(cancel_test);
        context_release(t.ctx);
    }
    context_cancel(stop);
    context_release(ctx);
    if (s.accept_errno != 0) {
        fprintf(stderr, "echo_server: accept: %s\n", strerror(s.accept_errno));
        return 1;
    }
    return ok ? 0 : 1;
}
