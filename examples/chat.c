/* chat.c: the chat server of "The Go Programming Language" (Donovan and
 * Kernighan), section 8.10 (gopl.io/ch8/chat), on gochan's network poller.
 * Twin of chat.go: the book's program with the clean shutdown below.
 *
 * A broadcaster goroutine owns the set of clients, where a client is its
 * outgoing message channel. Each connection gets a handleConn goroutine,
 * which announces the client and sends every line it reads to the
 * broadcaster, and a clientWriter goroutine, which writes the client's
 * channel to its connection:
 *
 *     type client chan<- string // an outgoing message channel
 *
 *     var (
 *         entering = make(chan client)
 *         leaving  = make(chan client)
 *         messages = make(chan string) // all incoming client messages
 *     )
 *
 * Beyond the book, which runs until it is killed: SIGINT or SIGTERM stops
 * the server cleanly, through signal.NotifyContext (context_signal_notify).
 * Its Done closes the listener and wakes the read of every handleConn
 * (chan_fd_read_ctx), so every client leaves as at end of file and its
 * connection is closed; once every handleConn and clientWriter has returned,
 * main closes messages, the broadcaster's cue to return. Nothing is left
 * running or allocated, and the process exits 0.
 *
 *     chat                       the check CTest runs: serves 127.0.0.1:0
 *                                and, in the same process, 3 scripted
 *                                clients talk through it; then the program
 *                                sends itself SIGTERM
 *     chat --serve [ADDR]        the book's server (ADDR: localhost:8000)
 *                                until SIGINT or SIGTERM; try it with nc
 *     chat --check [CMD ARG...]  starts CMD as a process (by default this
 *                                program, --serve 127.0.0.1:0), waits for its
 *                                "chat: listening on ADDR" line, talks to it
 *                                with the 3 scripted clients, stops it with
 *                                SIGTERM and wants exit status 0. After
 *                                `go build -o /tmp/chatgo chat.go`,
 *                                `chat --check /tmp/chatgo 127.0.0.1:0`
 *                                checks the Go twin the same way.
 */
#define _POSIX_C_SOURCE 200809L /* kill, posix_spawn, waitpid, fcntl */

#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/go.h>
#include <gochan/net.h>
#include <gochan/select.h>
#include <gochan/signal.h>
#include <gochan/timer.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ; /* posix_spawn's environment; unistd.h hides it */

enum {
    ADDR_SIZE = 64,   /* "127.0.0.1:43123", "[::1]:80", and the NUL */
    MSG_SIZE = 512,   /* a message: "ADDR: line" and the NUL */
    SCAN_SIZE = 400,  /* the longest line the scanner takes, "\n" included */
    CLIENTS = 3,      /* the scripted clients of the check */
    WAIT_SECONDS = 5, /* the check's bound on every wait */
};

static void must(bool ok, const char *what)
{
    if (!ok) {
        perror(what);
        exit(1);
    }
}

/* ---- the book's program ------------------------------------------------- */

/* A Go string on a channel. Channels copy fixed-size values, so a message is
 * a struct with its text inside (cut at MSG_SIZE - 1 bytes). */
struct message {
    char text[MSG_SIZE];
};

/* Go's package-level variables, made by serve before any goroutine starts;
 * every goroutine borrows serve's references. A client is a chan_t * (Go's
 * chan<- string) that carries struct message. */
static chan_t *entering; /* chan client */
static chan_t *leaving;  /* chan client */
static chan_t *messages; /* chan string: all incoming client messages */

/* Not in the book: done on SIGINT or SIGTERM (chat.go's shutdown; C has
 * shutdown(2)). */
static context_t *server_ctx;
/* Not in the book: every handleConn and clientWriter, and the goroutine
 * that closes the listener; main waits for them before it returns. */
static chan_waitgroup_t conns = CHAN_WAITGROUP_INIT;
static chan_waitgroup_t broadcasting = CHAN_WAITGROUP_INIT;

/* ch <- fmt.Sprintf(format, ...) */
static void send_text(chan_t *ch, const char *format, ...)
{
    struct message msg;
    va_list ap;
    va_start(ap, format);
    vsnprintf(msg.text, sizeof msg.text, format, ap);
    va_end(ap);
    chan_send(ch, &msg);
}

/* bufio.Scanner with ScanLines over a chan_fd_t: a line ends at "\n" (a "\r"
 * before it is dropped), and the last one may lack it. A line longer than
 * SCAN_SIZE - 1 bytes stops the scanner (Go's bufio.ErrTooLong). */
struct scanner {
    chan_fd_t *f;
    context_t *ctx;      /* NULL: reads stop only at f's deadline */
    char buf[SCAN_SIZE]; /* bytes read and not yet returned: [start, end) */
    size_t start, end;
    char text[SCAN_SIZE]; /* Text(): the last line, NUL-terminated */
    int err;              /* Err(): 0 at end of file, else an errno */
    bool eof;             /* no more reads: end of file or an error */
};

/* input.Scan(): true with the next line in s->text, false at the end. Each
 * pass of the loop returns, or reads more bytes into a buffer it empties as
 * it returns lines, so it ends. */
static bool scan(struct scanner *s)
{
    for (;;) {
        char *line = s->buf + s->start;
        size_t have = s->end - s->start;
        char *nl = memchr(line, '\n', have);
        if (nl || (s->eof && have > 0)) {
            size_t len = nl ? (size_t)(nl - line) : have;
            s->start += nl ? len + 1 : len;
            if (len > 0 && line[len - 1] == '\r')
                len--;
            memcpy(s->text, line, len);
            s->text[len] = '\0';
            return true;
        }
        if (s->eof)
            return false;
        memmove(s->buf, line, have); /* keep the partial line */
        s->start = 0;
        s->end = have;
        if (s->end == sizeof s->buf) { /* bufio.ErrTooLong */
            s->err = EMSGSIZE;
            s->eof = true;
            return false;
        }
        ssize_t n = chan_fd_read_ctx(s->ctx, s->f, s->buf + s->end,
                                     sizeof s->buf - s->end);
        if (n > 0) {
            s->end += (size_t)n;
        } else {
            s->err = n < 0 ? errno : 0;
            s->eof = true;
        }
    }
}

/* clients := make(map[client]bool), as a small array the broadcaster owns,
 * with a reference to every client channel in it. */
struct clients {
    chan_t **v;
    size_t n, cap;
};

static void clients_add(struct clients *cs, chan_t *cli)
{
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 8;
        cs->v = realloc(cs->v, cs->cap * sizeof *cs->v);
        must(cs->v != NULL, "realloc");
    }
    cs->v[cs->n++] = chan_retain(cli);
}

/* delete(clients, cli); close(cli) */
static void clients_remove(struct clients *cs, chan_t *cli)
{
    for (size_t i = 0; i < cs->n; i++) {
        if (cs->v[i] == cli) {
            cs->v[i] = cs->v[--cs->n];
            chan_close(cli);
            chan_release(cli);
            return;
        }
    }
}

static void broadcaster(void *arg)
{
    (void)arg;
    struct clients clients = {NULL, 0, 0};
    for (;;) {
        struct message msg;
        chan_t *cli;
        chan_case_t cases[] = {
            CHAN_RECV_CASE(messages, &msg), /* case msg := <-messages: */
            CHAN_RECV_CASE(entering, &cli), /* case cli := <-entering: */
            CHAN_RECV_CASE(leaving, &cli),  /* case cli := <-leaving: */
        };
        int i = chan_select(cases, 3);
        if (i == 0 && cases[0].status == CHAN_CLOSED)
            break; /* not in the book: main closed messages, all have left */
        if (i == 0) {
            /* Broadcast incoming message to all clients' outgoing message
             * channels: for cli := range clients { cli <- msg } */
            for (size_t k = 0; k < clients.n; k++)
                chan_send(clients.v[k], &msg);
        } else if (i == 1) {
            clients_add(&clients, cli); /* clients[cli] = true */
        } else {
            clients_remove(&clients, cli); /* delete(clients, cli); close */
        }
    }
    for (size_t k = 0; k < clients.n; k++) { /* none: every client left */
        chan_close(clients.v[k]);
        chan_release(clients.v[k]);
    }
    free(clients.v);
    chan_waitgroup_done(&broadcasting);
}

/* clientWriter(conn, ch)'s arguments: a reference to each. */
struct writer {
    chan_fd_t *conn;
    chan_t *ch; /* <-chan string */
};

static void client_writer(void *arg)
{
    struct writer *w = arg;
    struct message msg;
    while (chan_recv(w->ch, &msg) == CHAN_OK) { /* for msg := range ch */
        /* fmt.Fprintln(conn, msg) // NOTE: ignoring network errors. The
         * write stops at shutdown too, so that a client that stopped
         * reading cannot hold up the broadcaster then. */
        size_t len = strlen(msg.text);
        msg.text[len] = '\n'; /* Println's newline, where the NUL was */
        chan_fd_write_ctx(server_ctx, w->conn, msg.text, len + 1);
    }
    chan_fd_release(w->conn);
    chan_release(w->ch);
    free(w);
    chan_waitgroup_done(&conns);
}

static void handle_conn(void *arg)
{
    chan_fd_t *conn = arg;
    chan_t *ch = chan_make(sizeof(struct message), 0); /* outgoing messages */
    struct writer *w = malloc(sizeof *w);
    must(ch != NULL && w != NULL, "handle_conn");
    *w = (struct writer){chan_fd_retain(conn), chan_retain(ch)};
    chan_waitgroup_add(&conns, 1);
    must(chan_go(client_writer, w) == CHAN_OK, "chan_go"); /* go clientWriter */

    char who[ADDR_SIZE]; /* who := conn.RemoteAddr().String() */
    if (chan_fd_remote_addr(conn, who, sizeof who) != 0)
        snprintf(who, sizeof who, "?");
    send_text(ch, "You are %s", who);           /* ch <- "You are " + who */
    send_text(messages, "%s has arrived", who); /* messages <- ... */
    chan_send(entering, &ch);                   /* entering <- ch */

    /* input := bufio.NewScanner(conn); for input.Scan() { ... }. The read
     * also ends when the server shuts down (ECANCELED), as at end of file. */
    struct scanner input = {.f = conn, .ctx = server_ctx};
    while (scan(&input))
        send_text(messages, "%s: %s", who, input.text);
    /* NOTE: ignoring potential errors from input.Err() */

    chan_send(leaving, &ch);                 /* leaving <- ch */
    send_text(messages, "%s has left", who); /* messages <- who + ... */
    chan_fd_close(conn);                     /* conn.Close() */
    chan_release(ch);
    chan_fd_release(conn);
    chan_waitgroup_done(&conns);
}

/* Not in the book: go func() { <-ctx.Done(); listener.Close() }() */
static void close_on_shutdown(void *arg)
{
    chan_fd_t *listener = arg;
    chan_recv(context_done(server_ctx), NULL);
    chan_fd_close(listener); /* Accept fails with EBADF: main's loop ends */
    chan_fd_release(listener);
    chan_waitgroup_done(&conns);
}

/* The book's main, on address, until SIGINT or SIGTERM. It prints "chat:
 * listening on ADDR" (ADDR with the port chosen for ":0"), and sends ADDR
 * on listening too when that is not NULL. 0 once everything has stopped. */
static int serve(const char *address, chan_t *listening)
{
    /* ctx, stop := signal.NotifyContext(context.Background(),
     *                                   os.Interrupt, syscall.SIGTERM) */
    const int sigs[] = {SIGINT, SIGTERM};
    context_cancel_t *stop;
    server_ctx = context_signal_notify(context_background(), sigs, 2, &stop);
    must(server_ctx != NULL, "context_signal_notify");

    /* listener, err := net.Listen("tcp", "localhost:8000") */
    chan_fd_t *listener = chan_net_listen("tcp", address);
    if (!listener) {
        fprintf(stderr, "chat: listen %s: %s\n", address, strerror(errno));
        context_cancel(stop);
        context_release(server_ctx);
        return 1; /* log.Fatal(err) */
    }
    entering = chan_make(sizeof(chan_t *), 0);
    leaving = chan_make(sizeof(chan_t *), 0);
    messages = chan_make(sizeof(struct message), 0);
    must(entering && leaving && messages, "chan_make");

    char addr[ADDR_SIZE];
    must(chan_fd_local_addr(listener, addr, sizeof addr) == 0, "local_addr");
    printf("chat: listening on %s\n", addr);
    fflush(stdout);
    if (listening)
        chan_send(listening, addr);

    chan_waitgroup_add(&broadcasting, 1);
    must(chan_go(broadcaster, NULL) == CHAN_OK, "chan_go"); /* go broadcaster */
    chan_waitgroup_add(&conns, 1);
    must(chan_go(close_on_shutdown, chan_fd_retain(listener)) == CHAN_OK,
         "chan_go");
    for (;;) {
        chan_fd_t *conn = chan_fd_accept(listener); /* listener.Accept() */
        if (!conn) {
            if (context_err(server_ctx))
                break; /* not in the book: the listener was closed */
            perror("chat: accept");            /* log.Print(err); continue */
            chan_sleep(10 * CHAN_MILLISECOND); /* (EMFILE: let some go) */
            continue;
        }
        chan_waitgroup_add(&conns, 1);
        must(chan_go(handle_conn, conn) == CHAN_OK, "chan_go"); /* go ... */
    }

    /* Not in the book: every client has left and its connection is closed;
     * then close messages, the broadcaster's cue to return. */
    chan_waitgroup_wait(&conns);
    chan_close(messages);
    chan_waitgroup_wait(&broadcasting);

    chan_fd_release(listener);
    chan_release(entering);
    chan_release(leaving);
    chan_release(messages);
    context_cancel(stop); /* defer stop() */
    context_release(server_ctx);
    return 0;
}

/* ---- the check: scripted clients (not in the book) ---------------------- */

/* One scripted client. */
struct peer {
    chan_fd_t *conn;
    char addr[ADDR_SIZE]; /* its own address: the server's `who` for it */
    struct scanner in;
};

static int checks, failures;

static bool fail(int k, const char *why, const char *want)
{
    printf("FAIL: client %d: %s; want \"%s\"\n", k, why, want);
    failures++;
    return false;
}

/* The next line client k receives, within WAIT_SECONDS, must be format. */
static bool expect(struct peer *p, int k, const char *format, ...)
{
    char want[MSG_SIZE];
    va_list ap;
    va_start(ap, format);
    vsnprintf(want, sizeof want, format, ap);
    va_end(ap);
    checks++;
    chan_fd_set_read_deadline(p->conn, chan_now() + WAIT_SECONDS * CHAN_SECOND);
    if (!scan(&p->in))
        return fail(k, p->in.err ? strerror(p->in.err) : "end of file", want);
    printf("client %d <- %s\n", k, p->in.text);
    if (strcmp(p->in.text, want) != 0)
        return fail(k, "another line", want);
    return true;
}

/* Client k types a line. */
static bool say(struct peer *p, int k, const char *line)
{
    char buf[SCAN_SIZE];
    int len = snprintf(buf, sizeof buf, "%s\n", line);
    chan_fd_set_write_deadline(p->conn,
                               chan_now() + WAIT_SECONDS * CHAN_SECOND);
    printf("client %d -> %s\n", k, line);
    checks++;
    if (chan_fd_write(p->conn, buf, (size_t)len) != len)
        return fail(k, strerror(errno), line);
    return true;
}

/* The server must close client k's connection within WAIT_SECONDS: end of
 * file (or a reset), after at most CLIENTS "... has left" lines (others
 * leaving at the same shutdown may be announced first). */
static bool expect_closed(struct peer *p, int k)
{
    checks++;
    chan_fd_set_read_deadline(p->conn, chan_now() + WAIT_SECONDS * CHAN_SECOND);
    for (int i = 0; i <= CLIENTS; i++) {
        if (!scan(&p->in)) {
            if (p->in.err != 0 && p->in.err != ECONNRESET)
                return fail(k, strerror(p->in.err), "end of file");
            printf("client %d <- end of file\n", k);
            return true;
        }
        size_t len = strlen(p->in.text);
        if (len < 9 || strcmp(p->in.text + len - 9, " has left") != 0)
            return fail(k, p->in.text, "end of file");
        printf("client %d <- %s\n", k, p->in.text);
    }
    return fail(k, "too many lines", "end of file");
}

/* The conversation: CLIENTS clients join one by one, each says hello, and
 * the last one leaves. false at the first check that fails. */
static bool converse(struct peer *peers, const char *addr)
{
    for (int k = 0; k < CLIENTS; k++) {
        struct peer *p = &peers[k];
        /* conn, err := net.Dial("tcp", addr), within WAIT_SECONDS */
        context_cancel_t *cancel;
        context_t *ctx = context_with_timeout(
            context_background(), WAIT_SECONDS * CHAN_SECOND, &cancel);
        must(ctx != NULL, "context_with_timeout");
        p->conn = chan_net_dial(ctx, "tcp", addr);
        int dial_errno = errno;
        context_cancel(cancel);
        context_release(ctx);
        checks++;
        if (!p->conn)
            return fail(k, strerror(dial_errno), "a connection");
        if (chan_fd_local_addr(p->conn, p->addr, sizeof p->addr) != 0)
            return fail(k, strerror(errno), "its own address");
        p->in = (struct scanner){.f = p->conn};

        if (!expect(p, k, "You are %s", p->addr))
            return false;
        for (int j = 0; j < k; j++)
            if (!expect(&peers[j], j, "%s has arrived", p->addr))
                return false;
        /* Every client gets every line, its own too: the echo also tells
         * that the server has entered client k. */
        char hello[64];
        snprintf(hello, sizeof hello, "hello from client %d", k);
        if (!say(p, k, hello))
            return false;
        for (int j = 0; j <= k; j++)
            if (!expect(&peers[j], j, "%s: %s", p->addr, hello))
                return false;
    }
    /* The last client leaves: it ends its input (shutdown(SHUT_WR)), as nc
     * does at end of file. The others hear it, and the server closes its
     * connection. */
    struct peer *last = &peers[CLIENTS - 1];
    checks++;
    if (chan_fd_close_write(last->conn) != 0)
        return fail(CLIENTS - 1, strerror(errno), "close_write");
    printf("client %d -> end of file\n", CLIENTS - 1);
    for (int j = 0; j < CLIENTS - 1; j++)
        if (!expect(&peers[j], j, "%s has left", last->addr))
            return false;
    return expect_closed(last, CLIENTS - 1);
}

/* The whole check against the server at addr: the conversation, then
 * stop(arg) (SIGTERM to the server), after which the server must close
 * every connection left. Returns the number of failed checks. */
static int check_server(const char *addr, void (*stop)(void *), void *arg)
{
    struct peer peers[CLIENTS];
    memset(peers, 0, sizeof peers);
    bool ok = converse(peers, addr);
    printf("stopping the server with SIGTERM\n");
    stop(arg);
    for (int k = 0; ok && k < CLIENTS - 1; k++)
        ok = expect_closed(&peers[k], k);
    for (int k = 0; k < CLIENTS; k++)
        chan_fd_release(peers[k].conn);
    return failures;
}

/* chat: server and clients in this process. */
struct served {
    chan_t *listening; /* chan [ADDR_SIZE]char: serve's address */
    chan_t *status;    /* chan int: serve's result */
};

static void serve_here(void *arg)
{
    struct served *s = arg;
    int status = serve("127.0.0.1:0", s->listening);
    chan_send(s->status, &status);
}

static void stop_self(void *arg)
{
    (void)arg;
    kill(getpid(), SIGTERM); /* as if from `kill PID` */
}

/* Waits for c within WAIT_SECONDS; true when a value came. */
static bool recv_within(chan_t *c, void *v)
{
    chan_t *after = chan_after(WAIT_SECONDS * CHAN_SECOND);
    chan_case_t cases[] = {CHAN_RECV_CASE(c, v), CHAN_RECV_CASE(after, NULL)};
    int i = chan_select(cases, 2);
    chan_release(after);
    return i == 0 && cases[0].status == CHAN_OK;
}

static int check_in_process(void)
{
    struct served s = {chan_make(ADDR_SIZE, 1), chan_make(sizeof(int), 1)};
    must(s.listening && s.status, "chan_make");
    must(chan_go(serve_here, &s) == CHAN_OK, "chan_go");
    char addr[ADDR_SIZE];
    if (!recv_within(s.listening, addr)) {
        printf("FAIL: the server did not start\n");
        return 1; /* exit while it may run: nothing more to check */
    }
    check_server(addr, stop_self, NULL);

    int status = -1;
    if (!recv_within(s.status, &status)) {
        printf("FAIL: the server did not stop within %d s\n", WAIT_SECONDS);
        return 1;
    }
    /* Every goroutine it started has returned (the signal watcher of
     * signal.NotifyContext ends just after its context: allow it 5 s). */
    int64_t left = chan_num_goroutine();
    for (int i = 0; i < 500 && (left = chan_num_goroutine()) > 0; i++)
        chan_sleep(10 * CHAN_MILLISECOND);
    chan_release(s.listening);
    chan_release(s.status);
    if (failures || status != 0 || left != 0) {
        printf("FAIL: %d of %d checks failed, server status %d, %lld "
               "goroutines left\n",
               failures, checks, status, (long long)left);
        return 1;
    }
    printf("ok: %d checks passed; the server stopped on SIGTERM, closed "
           "every connection, and every goroutine returned\n",
           checks);
    return 0;
}

/* chat --check: the server is another process. */
static void stop_process(void *arg)
{
    kill(*(pid_t *)arg, SIGTERM);
}

/* posix_spawnp(cmd) with its stdout on a pipe, which *out reads. */
static pid_t spawn(char **cmd, chan_fd_t **out)
{
    int fds[2];
    must(pipe(fds) == 0, "pipe");
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC); /* dup2 into 1 clears it there */
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    /* The child starts with no signal blocked and SIGTERM, SIGINT and
     * SIGPIPE at their defaults, whatever this process did with them. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int err = posix_spawnp(&pid, cmd[0], &actions, &attr, cmd, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        fprintf(stderr, "chat: cannot run %s: %s\n", cmd[0], strerror(err));
        return -1;
    }
    *out = chan_fd_new(fds[0]);
    must(*out != NULL, "chan_fd_new");
    return pid;
}

static int check_process(char **cmd)
{
    chan_fd_t *out;
    pid_t pid = spawn(cmd, &out);
    if (pid < 0)
        return 1;

    /* Its first lines, within WAIT_SECONDS: "chat: listening on ADDR". */
    static const char banner[] = "chat: listening on ";
    struct scanner lines = {.f = out};
    char addr[ADDR_SIZE] = "";
    chan_fd_set_read_deadline(out, chan_now() + WAIT_SECONDS * CHAN_SECOND);
    for (int i = 0; i < 10 && !addr[0] && scan(&lines); i++) {
        const char *rest = lines.text + sizeof banner - 1;
        if (strncmp(lines.text, banner, sizeof banner - 1) == 0 &&
            strlen(rest) < sizeof addr)
            memcpy(addr, rest, strlen(rest) + 1);
    }
    checks++;
    if (addr[0]) {
        printf("%s%s (process %ld)\n", banner, addr, (long)pid);
        check_server(addr, stop_process, &pid);
    } else {
        printf("FAIL: %s printed no \"%sADDR\" line\n", cmd[0], banner);
        failures++;
        stop_process(&pid);
    }

    /* It must exit 0 within WAIT_SECONDS of SIGTERM. */
    int status = 0;
    pid_t done = 0;
    checks++;
    for (int i = 0; i < WAIT_SECONDS * 100 && done == 0; i++) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0)
            chan_sleep(10 * CHAN_MILLISECOND);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        printf("FAIL: the server did not exit within %d s of SIGTERM\n",
               WAIT_SECONDS);
        failures++;
    } else if (done < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL: the server ended with status %#x, want exit 0\n",
               (unsigned)status);
        failures++;
    }
    chan_fd_release(out);
    if (failures) {
        printf("FAIL: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("ok: %d checks passed; the server process closed every "
           "connection and exited 0 on SIGTERM\n",
           checks);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--serve") == 0 && argc <= 3)
        return serve(argc == 3 ? argv[2] : "localhost:8000", NULL);
    if (argc >= 2 && strcmp(argv[1], "--check") == 0) {
        char serve_flag[] = "--serve", any_port[] = "127.0.0.1:0";
        char *self[] = {argv[0], serve_flag, any_port, NULL};
        return check_process(argc > 2 ? argv + 2 : self);
    }
    if (argc >= 2) {
        fprintf(stderr, "usage: %s [--serve [ADDR] | --check [CMD ARG...]]\n",
                argv[0]);
        return 2;
    }
    return check_in_process();
}
