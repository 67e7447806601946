/* check_trace.c: the execution trace (chan_trace_start / chan_trace_stop,
 * <gochan/debug.h>; the format is docs/trace.md). A small program shape is
 * traced and the file read back: one JSON object, the goroutines' create,
 * running, block (with Go's wait reasons), unblock and end events, wake
 * arrows in pairs; then the faults: bad paths, a full disk, a closed pipe,
 * start twice, stop without start, many goroutines, stop racing events.
 */
#include <gochan/chan.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/timer.h>

#include "chan/chan_test_hooks.h" /* chan__go_on_scheduler */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scheduler.h"
#include "trace.h"
#include "testutil.h"

/* ---- reading a trace back ------------------------------------------------ */

typedef struct {
    char *text;
    size_t len;
    /* the objects of traceEvents, each a NUL-terminated copy */
    char **ev;
    size_t nev;
} trace_t;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* One JSON value, balanced outside strings, ending with "]}" (whitespace
 * aside); collects the objects at depth 2 (the events). */
static void trace_read(trace_t *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->text = slurp(path, &t->len);
    size_t end = t->len;
    while (end > 0 && (t->text[end - 1] == '\n' || t->text[end - 1] == ' '))
        end--;
    ck_assert_msg(end >= 2 && t->text[0] == '{' && t->text[end - 2] == ']' &&
                      t->text[end - 1] == '}',
                  "not one object ending with ]}");
    /* Plain tests in the loop: every ck_assert is a message to Check's
     * parent, too many for a file of a million characters. */
    int depth = 0;
    bool instr = false, esc = false, ok = true;
    size_t evstart = 0, cap = 0;
    for (size_t i = 0; i < end; i++) {
        char c = t->text[i];
        if (instr) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                instr = false;
            else if ((unsigned char)c < 0x20)
                ok = false; /* a control character in a string */
            continue;
        }
        if (c == '"') {
            instr = true;
        } else if (c == '{' || c == '[') {
            if (depth == 2 && c == '{')
                evstart = i;
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
            if (depth < 0 || (depth == 0 && i != end - 1)) {
                ok = false; /* unbalanced, or text after the object */
                break;
            }
            if (depth == 2 && c == '}') {
                if (t->nev == cap) {
                    cap = cap ? 2 * cap : 256;
                    t->ev = realloc(t->ev, cap * sizeof *t->ev);
                    if (!t->ev)
                        abort();
                }
                t->ev[t->nev++] = strndup(t->text + evstart, i + 1 - evstart);
            }
        }
    }
    ck_assert_msg(ok && depth == 0 && !instr, "not one balanced JSON object");
    ck_assert_ptr_nonnull(strstr(t->text, "\"traceEvents\":["));
}

static void trace_free(trace_t *t)
{
    for (size_t i = 0; i < t->nev; i++)
        free(t->ev[i]);
    free(t->ev);
    free(t->text);
}

/* The string value of the first "key" in ev, or "" when absent. */
static const char *str(const char *ev, const char *key, char *buf, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(ev, pat);
    buf[0] = 0;
    if (!p)
        return buf;
    p += strlen(pat);
    size_t j = 0;
    while (*p && *p != '"' && j + 1 < n)
        buf[j++] = *p++;
    buf[j] = 0;
    return buf;
}

/* The number after "key", or -1 when absent or not a number. */
static int64_t num(const char *ev, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(ev, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    if (*p < '0' || *p > '9')
        return -1;
    return strtoll(p, NULL, 10);
}

static bool is(const char *ev, const char *ph, const char *name)
{
    char b1[64], b2[64];
    return strcmp(str(ev, "ph", b1, sizeof b1), ph) == 0 &&
           strcmp(str(ev, "name", b2, sizeof b2), name) == 0;
}

/* How many events of ph/name on goroutine goid (pid 1), whose args contain
 * want (NULL: any). */
static int count_g(const trace_t *t, const char *ph, const char *name,
                   uint64_t goid, const char *want)
{
    int n = 0;
    for (size_t i = 0; i < t->nev; i++)
        if (is(t->ev[i], ph, name) && num(t->ev[i], "pid") == 1 &&
            num(t->ev[i], "tid") == (int64_t)goid &&
            (!want || strstr(t->ev[i], want)))
            n++;
    return n;
}

static int count(const trace_t *t, const char *ph, const char *name,
                 const char *want)
{
    int n = 0;
    for (size_t i = 0; i < t->nev; i++)
        if (is(t->ev[i], ph, name) && (!want || strstr(t->ev[i], want)))
            n++;
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every wake arrow's "s" has exactly one "f" with its id, and back. */
static int check_flows(const trace_t *t)
{
    int64_t *s = calloc(t->nev + 1, sizeof *s), *f = calloc(t->nev + 1, 8);
    ck_assert(s && f);
    size_t ns = 0, nf = 0;
    for (size_t i = 0; i < t->nev; i++) {
        if (is(t->ev[i], "s", "wake"))
            s[ns++] = num(t->ev[i], "id");
        else if (is(t->ev[i], "f", "wake"))
            f[nf++] = num(t->ev[i], "id");
    }
    ck_assert_uint_eq(ns, nf);
    qsort(s, ns, sizeof *s, cmp_i64);
    qsort(f, nf, sizeof *f, cmp_i64);
    size_t bad = 0;
    for (size_t i = 0; i < ns; i++)
        if (s[i] <= 0 || s[i] != f[i] || (i && s[i] == s[i - 1]))
            bad++;
    ck_assert_msg(bad == 0, "%zu wake arrows without their pair", bad);
    free(s);
    free(f);
    return (int)ns;
}

static int64_t dropped(const trace_t *t)
{
    const char *p = strstr(t->text, "\"dropped_events\":");
    ck_assert_ptr_nonnull(p);
    return strtoll(p + strlen("\"dropped_events\":"), NULL, 10);
}

static void tmp_path(char *buf, size_t n, const char *what)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, n, "%s/gochan_trace_%ld_%s.json", dir ? dir : "/tmp",
             (long)getpid(), what);
}

/* ---- the program shape --------------------------------------------------- */

enum { ROUNDS = 5 };

typedef struct {
    chan_t *ball; /* unbuffered */
    chan_t *done; /* cap 2 */
    _Atomic uint64_t goid[2];
} shape_t;

static uint64_t my_goid(void)
{
    sched_g *g = sched_getg();
    return g ? sched_goid(g) : 0;
}

static void pinger(void *arg)
{
    shape_t *s = arg;
    atomic_store(&s->goid[0], my_goid());
    for (int i = 0; i < ROUNDS; i++) {
        int v = i;
        ck_assert_int_eq(chan_send(s->ball, &v), CHAN_OK);
        ck_assert_int_eq(chan_recv(s->ball, &v), CHAN_OK);
    }
    chan_sleep(20 * CHAN_MILLISECOND); /* a timer */
    ck_assert_int_eq(chan_close(s->ball), CHAN_OK);
    int one = 1;
    chan_send(s->done, &one);
}

static void ponger(void *arg)
{
    shape_t *s = arg;
    atomic_store(&s->goid[1], my_goid());
    int v;
    while (chan_recv(s->ball, &v) == CHAN_OK)
        if (chan_send(s->ball, &v) != CHAN_OK)
            break;
    int one = 1;
    chan_send(s->done, &one);
}

START_TEST(test_trace_ping_pong_shape)
{
    if (!sched_supported())
        return;
    char path[256];
    tmp_path(path, sizeof path, "shape");
    ck_assert_int_eq(chan_trace_start(path), 0);
    shape_t s = {.ball = chan_make(sizeof(int), 0),
                 .done = chan_make(sizeof(int), 2)};
    ck_assert_int_eq(chan_go(ponger, &s), CHAN_OK);
    ck_assert_int_eq(chan_go(pinger, &s), CHAN_OK);
    int v;
    ck_assert_int_eq(chan_recv(s.done, &v), CHAN_OK); /* main blocks */
    ck_assert_int_eq(chan_recv(s.done, &v), CHAN_OK);
    /* Their "end" records come after their last send: wait (bounded) until
     * both have ended, so that the stop finds the records in their rings. */
    for (int i = 0; i < 10000 && chan_num_goroutine() > 0; i++)
        chan_sleep(CHAN_MILLISECOND);
    ck_assert_int_eq(chan_trace_stop(), 0);

    trace_t t;
    trace_read(&t, path);
    ck_assert_int_eq(dropped(&t), 0);
    if (!chan__go_on_scheduler()) {
        /* GOCHAN_SCHED=0: chan_go started threads, which the trace shows
         * as plain threads (docs/trace.md): blocked slices and arrows. */
        ck_assert_int_ge(count(&t, "X", "blocked", NULL), 1);
        check_flows(&t);
        trace_free(&t);
        unlink(path);
        chan_release(s.ball);
        chan_release(s.done);
        return;
    }
    char ball[64];
    snprintf(ball, sizeof ball, "chan %p (cap 0)", (void *)s.ball);
    /* Whether a hand-off parks depends on timing (a wake-up that comes
     * before the park commits leaves no block), so the counts are checked
     * against each other: every block has its unblock and its arrow. */
    uint64_t ping = atomic_load(&s.goid[0]), pong = atomic_load(&s.goid[1]);
    int ball_blocks = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t g = atomic_load(&s.goid[i]);
        ck_assert_uint_gt(g, 0);
        ck_assert_int_eq(count_g(&t, "M", "thread_name", g, NULL), 1);
        ck_assert_int_eq(count_g(&t, "i", "create", g, "\"by\":\"thread "), 1);
        ck_assert_int_ge(count_g(&t, "X", "running", g, "\"p\":"), 1);
        int blocks = count_g(&t, "i", "block", g, NULL);
        ck_assert_int_eq(count_g(&t, "i", "unblock", g, NULL), blocks);
        ck_assert_int_eq(count_g(&t, "f", "wake", g, NULL), blocks);
        ck_assert_int_eq(count_g(&t, "i", "end", g, NULL), 1);
        ball_blocks += count_g(&t, "i", "block", g, ball);
    }
    ck_assert_int_ge(ball_blocks, 1);
    /* The ponger only ever waits on the ball (to receive or to send), and
     * only the pinger wakes it. */
    char want[160];
    snprintf(want, sizeof want, "\"object\":\"%s\"", ball);
    ck_assert_int_eq(
        count_g(&t, "i", "block", pong, want),
        count_g(&t, "i", "block", pong, "\"reason\":\"chan receive\"") +
            count_g(&t, "i", "block", pong, "\"reason\":\"chan send\""));
    ck_assert_int_eq(count_g(&t, "i", "block", pong, want),
                     count_g(&t, "i", "block", pong, NULL));
    char by[32];
    snprintf(by, sizeof by, "\"by\":%" PRIu64 "}", ping);
    ck_assert_int_eq(count_g(&t, "i", "unblock", pong, by),
                     count_g(&t, "i", "unblock", pong, NULL));
    /* The pinger's sleep: a block for "sleep", the unblock by the timer;
     * the timer's fire on the timer thread. (Under valgrind the timer may
     * fire before the receive parks.) */
    int sleeps = count_g(&t, "i", "block", ping, "\"reason\":\"sleep\"");
    ck_assert_int_le(sleeps, 1);
    if (!tu_short())
        ck_assert_int_eq(sleeps, 1);
    ck_assert_int_eq(count_g(&t, "i", "unblock", ping, "\"by\":\"timer\""),
                     sleeps);
    snprintf(by, sizeof by, "\"by\":%" PRIu64 "}", pong);
    ck_assert_int_eq(count_g(&t, "i", "unblock", ping, by) + sleeps,
                     count_g(&t, "i", "unblock", ping, NULL));
    ck_assert_int_ge(count(&t, "i", "timer fire", "\"object\":\"timer 0x"), 1);
    ck_assert_int_ge(count(&t, "M", "thread_name", "(timer)"), 1);
    /* The close, on the pinger's track. */
    ck_assert_int_eq(count_g(&t, "i", "chan close", ping, ball), 1);
    /* main, a plain thread, blocked receiving from done, and was woken. */
    char done[64];
    snprintf(done, sizeof done, "chan %p (cap 2)", (void *)s.done);
    ck_assert_int_ge(count(&t, "X", "blocked", done), 1);
    ck_assert_int_ge(count(&t, "M", "thread_name", "(main)"), 1);
    ck_assert_int_ge(count(&t, "M", "process_name", NULL), 2);
    ck_assert_int_ge(check_flows(&t), ball_blocks);

    trace_free(&t);
    unlink(path);
    chan_release(s.ball);
    chan_release(s.done);
}
END_TEST

/* ---- faults -------------------------------------------------------------- */

START_TEST(test_trace_bad_arguments)
{
    errno = 0;
    ck_assert_int_eq(chan_trace_start(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(chan_trace_start("/nonexistent-gochan-dir/t.json"), -1);
    ck_assert_int_eq(errno, ENOENT);
    errno = 0;
    ck_assert_int_eq(chan_trace_stop(), -1); /* never started */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(!sched__tracing());
    /* The program goes on. */
    chan_t *c = chan_make(sizeof(int), 1);
    int v = 7;
    ck_assert_int_eq(chan_send(c, &v), CHAN_OK);
    ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
    chan_release(c);
}
END_TEST

START_TEST(test_trace_start_twice_stop_twice)
{
    char path[256];
    tmp_path(path, sizeof path, "twice");
    ck_assert_int_eq(chan_trace_start(path), 0);
    errno = 0;
    ck_assert_int_eq(chan_trace_start(path), -1);
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(chan_trace_stop(), 0);
    errno = 0;
    ck_assert_int_eq(chan_trace_stop(), -1);
    ck_assert_int_eq(errno, EINVAL);
    trace_t t;
    trace_read(&t, path); /* empty but whole */
    trace_free(&t);
    /* and again: a second session in the same process */
    ck_assert_int_eq(chan_trace_start(path), 0);
    ck_assert_int_eq(chan_trace_stop(), 0);
    trace_read(&t, path);
    trace_free(&t);
    unlink(path);
}
END_TEST

/* Runs goroutines that ping-pong until stop is set. */
typedef struct {
    chan_t *c;
    _Atomic bool stop;
    _Atomic int sides;
    chan_t *done;
} churn_t;

static void churn_side(void *arg)
{
    churn_t *k = arg;
    int v = 0;
    if (atomic_fetch_add(&k->sides, 1) == 1) /* the second one answers */
        (void)chan_recv(k->c, &v);
    while (!atomic_load(&k->stop)) {
        if (chan_send(k->c, &v) != CHAN_OK || chan_recv(k->c, &v) != CHAN_OK)
            break;
    }
    chan_close(k->c); /* the other side sees CHAN_CLOSED */
    chan_send(k->done, &v);
}

static void churn_start(churn_t *k)
{
    k->c = chan_make(sizeof(int), 0);
    k->done = chan_make(sizeof(int), 2);
    atomic_init(&k->stop, false);
    atomic_init(&k->sides, 0);
    ck_assert_int_eq(chan_go(churn_side, k), CHAN_OK);
    ck_assert_int_eq(chan_go(churn_side, k), CHAN_OK);
}

static void churn_stop(churn_t *k)
{
    atomic_store(&k->stop, true);
    int v;
    ck_assert_int_eq(chan_recv(k->done, &v), CHAN_OK);
    ck_assert_int_eq(chan_recv(k->done, &v), CHAN_OK);
    chan_release(k->c);
    chan_release(k->done);
}

/* Waits (bounded) until a failed write has turned tracing off. */
static bool wait_trace_off(void)
{
    for (int i = 0; i < 1000 * tu_scale() && sched__tracing(); i++)
        tu_sleep_ms(10);
    return !sched__tracing();
}

START_TEST(test_trace_full_disk)
{
    if (access("/dev/full", W_OK) != 0)
        return;
    churn_t k;
    ck_assert_int_eq(chan_trace_start("/dev/full"), 0);
    churn_start(&k);
    ck_assert(wait_trace_off()); /* stopped by itself */
    churn_stop(&k);              /* the program went on */
    errno = 0;
    ck_assert_int_eq(chan_trace_stop(), -1);
    ck_assert_int_eq(errno, ENOSPC);
    errno = 0;
    ck_assert_int_eq(chan_trace_stop(), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_trace_closed_pipe)
{
    char path[256];
    tmp_path(path, sizeof path, "fifo");
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(rd, 0);
    ck_assert_int_eq(chan_trace_start(path), 0);
    close(rd); /* the reader goes away: writes fail with EPIPE */
    churn_t k;
    churn_start(&k);
    ck_assert(wait_trace_off());
    churn_stop(&k); /* alive: no SIGPIPE killed us */
    errno = 0;
    ck_assert_int_eq(chan_trace_stop(), -1);
    ck_assert_int_eq(errno, EPIPE);
    sigset_t pending;
    sigpending(&pending);
    ck_assert(!sigismember(&pending, SIGPIPE));
    unlink(path);
}
END_TEST

typedef struct {
    _Atomic long left;
    chan_t *done;
} many_t;

static void short_lived(void *arg)
{
    many_t *m = arg;
    if (atomic_fetch_sub(&m->left, 1) == 1) {
        int v = 1;
        chan_send(m->done, &v);
    }
}

START_TEST(test_trace_many_goroutines)
{
    if (!sched_supported())
        return;
    const long n = tu_short() ? 2000 : 100000;
    char path[256];
    tmp_path(path, sizeof path, "many");
    many_t m = {.done = chan_make(sizeof(int), 1)};
    atomic_init(&m.left, n);
    ck_assert_int_eq(chan_trace_start(path), 0);
    for (long i = 0; i < n; i++) {
        int rc;
        while ((rc = chan_go(short_lived, &m)) == CHAN_NOMEM)
            chan_gosched();
        ck_assert_int_eq(rc, CHAN_OK);
    }
    int v;
    ck_assert_int_eq(chan_recv(m.done, &v), CHAN_OK);
    ck_assert_int_eq(chan_trace_stop(), 0);
    trace_t t;
    trace_read(&t, path);
    int creates = count(&t, "i", "create", NULL);
    int ends = count(&t, "i", "end", NULL);
    int64_t drops = dropped(&t);
    ck_assert_int_le(creates, n);
    ck_assert_int_le(ends, n);
    if (chan__go_on_scheduler()) { /* threads have no create (docs/trace.md) */
        /* every create was written or counted as dropped */
        ck_assert_int_ge(creates + drops, n);
        ck_assert_int_gt(creates, 0);
    }
    check_flows(&t);
    trace_free(&t);
    unlink(path);
    chan_release(m.done);
}
END_TEST

/* A plain thread that ping-pongs with a goroutine while traces start and
 * stop around it. */
static void *racer_thread(void *arg)
{
    churn_t *k = arg;
    int v = 0;
    while (!atomic_load(&k->stop))
        if (chan_send(k->c, &v) != CHAN_OK || chan_recv(k->c, &v) != CHAN_OK)
            break;
    chan_close(k->c);
    return NULL;
}

static void racer_goroutine(void *arg)
{
    churn_t *k = arg;
    int v;
    while (chan_recv(k->c, &v) == CHAN_OK && chan_send(k->c, &v) == CHAN_OK)
        ;
    chan_send(k->done, &v);
}

START_TEST(test_trace_stop_races_events)
{
    churn_t k = {.c = chan_make(sizeof(int), 0),
                 .done = chan_make(sizeof(int), 1)};
    atomic_init(&k.stop, false);
    ck_assert_int_eq(chan_go(racer_goroutine, &k), CHAN_OK);
    pthread_t th = tu_spawn(racer_thread, &k);
    char path[256];
    tmp_path(path, sizeof path, "race");
    int sessions = tu_short() ? 5 : 30;
    for (int i = 0; i < sessions; i++) {
        ck_assert_int_eq(chan_trace_start(path), 0);
        tu_sleep_ms(1 + i % 3);
        ck_assert_int_eq(chan_trace_stop(), 0);
        trace_t t;
        trace_read(&t, path);
        check_flows(&t);
        trace_free(&t);
    }
    atomic_store(&k.stop, true);
    tu_join(th);
    int v;
    ck_assert_int_eq(chan_recv(k.done, &v), CHAN_OK);
    chan_release(k.c);
    chan_release(k.done);
    unlink(path);
}
END_TEST

static Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tu_tcase(s, "shape", 60);
    tcase_add_test(tc, test_trace_ping_pong_shape);
    tc = tu_tcase(s, "faults", 120);
    tcase_add_test(tc, test_trace_bad_arguments);
    tcase_add_test(tc, test_trace_start_twice_stop_twice);
    tcase_add_test(tc, test_trace_full_disk);
    tcase_add_test(tc, test_trace_closed_pipe);
    tcase_add_test(tc, test_trace_many_goroutines);
    tcase_add_test(tc, test_trace_stop_races_events);
    return s;
}

int main(void)
{
    return tu_run(trace_suite());
}
