/* patterns.c: the patterns of Rob Pike's "Go Concurrency Patterns" talk
 * (go.dev/talks/2012/concurrency.slide), one function each, in the talk's
 * order, each checking what it printed.
 *
 * 1. Generator: a function that returns a channel.
 *
 *     func boring(msg string) <-chan string {
 *         c := make(chan string)
 *         go func() {
 *             for i := 0; ; i++ {
 *                 c <- fmt.Sprintf("%s %d", msg, i)
 *                 time.Sleep(time.Duration(rand.Intn(1e3)) * time.Millisecond)
 *             }
 *         }()
 *         return c
 *     }
 *
 * 2. Fan-in with select: func fanIn(in1, in2 <-chan string) <-chan string,
 *    one goroutine that selects over both inputs.
 * 3. Timeout per message: select { case s := <-c: ...
 *                                  case <-time.After(d): "You're too slow." }
 * 4. Timeout for the whole conversation: timeout := time.After(d) once,
 *    outside the loop.
 * 5. Quit channel with cleanup (a round trip):
 *        quit <- "Bye!"; fmt.Printf("Joe says: %q\n", <-quit)
 *    and in the generator: case <-quit: cleanup(); quit <- "See you!"; return
 * 6. Daisy chain: 10,000 goroutines, each adding one to what its right
 *    neighbour sends, so the leftmost channel receives 10,001:
 *
 *     func f(left, right chan int) { left <- 1 + <-right }
 *     leftmost := make(chan int); right, left := leftmost, leftmost
 *     for i := 0; i < n; i++ {
 *         right = make(chan int); go f(left, right); left = right
 *     }
 *     go func(c chan int) { c <- 1 }(right)
 *     fmt.Println(<-leftmost)
 *
 * Unlike the talk's programs, every generator here is told to stop (by a quit
 * channel) before main returns, so no thread is left behind. The sleeps are
 * shorter than the talk's (milliseconds, not a second) to keep the run short.
 * The daisy chain uses 10,000 goroutines (chan_go's 256 KiB stacks are mostly
 * untouched virtual memory) unless the machine refuses more, or a sanitizer
 * or valgrind (CK_TIMEOUT_MULTIPLIER set) makes them costly; the program
 * says how many it used.
 */
#include <gochan/chan.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char text[32];
} msg_t; /* Go's string, by value in the channel */

static chan_waitgroup_t threads = CHAN_WAITGROUP_INIT;
static int failures;

static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

/* A seeded pseudo-random generator (rand.Intn), shared under a mutex. */
static pthread_mutex_t rand_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long rand_state = 2012;

static int rand_intn(int n)
{
    pthread_mutex_lock(&rand_mu);
    rand_state = rand_state * 6364136223846793005ul + 1442695040888963407ul;
    int v = (int)((rand_state >> 33) % (unsigned long)n);
    pthread_mutex_unlock(&rand_mu);
    return v;
}

/* ---- 1. generator, and 5. its quit channel ------------------------------ */

struct boring {
    char msg[16];
    chan_t *c;     /* out: the messages */
    chan_t *quit;  /* in: a quit request; out: the cleanup reply */
    int max_delay; /* milliseconds */
    bool cleaned;  /* set by cleanup(), read after the round trip */
};

static void cleanup(struct boring *b)
{
    b->cleaned = true;
}

/* The generator's goroutine: sends "msg i" until quit receives a word, then
 * cleans up and answers on quit. */
static void boring_loop(void *arg)
{
    struct boring *b = arg;
    for (int i = 0;; i++) {
        msg_t m;
        snprintf(m.text, sizeof m.text, "%s %d", b->msg, i);
        msg_t bye;
        chan_case_t cases[] = {CHAN_SEND_CASE(b->c, &m),
                               CHAN_RECV_CASE(b->quit, &bye)};
        if (chan_select(cases, 2) == 1) { /* case <-quit: */
            cleanup(b);
            msg_t reply = {"See you!"};
            chan_send(b->quit, &reply);
            break;
        }
        chan_sleep(rand_intn(b->max_delay) * CHAN_MILLISECOND);
    }
}

/* boring(msg): returns the generator; its channels belong to it and the
 * caller frees it with boring_stop. */
static struct boring *boring(const char *msg, int max_delay)
{
    struct boring *b = calloc(1, sizeof *b);
    if (!b)
        exit(1);
    snprintf(b->msg, sizeof b->msg, "%s", msg);
    b->c = chan_make(sizeof(msg_t), 0);
    b->quit = chan_make(sizeof(msg_t), 0);
    b->max_delay = max_delay;
    if (!b->c || !b->quit || chan_waitgroup_go(&threads, boring_loop, b))
        exit(1);
    return b;
}

/* quit <- "Bye!"; reply := <-quit: the round trip that waits for cleanup. */
static void boring_stop(struct boring *b, const char *who)
{
    msg_t bye = {"Bye!"}, reply = {""};
    chan_send(b->quit, &bye);
    chan_recv(b->quit, &reply);
    printf("%s says: \"%s\"\n", who, reply.text);
    check(strcmp(reply.text, "See you!") == 0 && b->cleaned,
          "quit round trip and cleanup");
}

static void boring_free(struct boring *b)
{
    chan_release(b->c);
    chan_release(b->quit);
    free(b);
}

static void generator(void)
{
    printf("-- generator --\n");
    struct boring *joe = boring("boring!", 5);
    for (int i = 0; i < 5; i++) {
        msg_t m;
        chan_recv(joe->c, &m);
        printf("You say: \"%s\"\n", m.text);
        char want[32];
        snprintf(want, sizeof want, "boring! %d", i);
        check(strcmp(m.text, want) == 0, "generator sends in order");
    }
    printf("You're boring; I'm leaving.\n");
    boring_stop(joe, "Joe"); /* the quit channel, pattern 5 */
    boring_free(joe);
}

/* ---- 2. fan-in with select
 * ---------------------------------------------------- */

struct fan_in {
    chan_t *in1, *in2, *out, *quit;
};

/* go func() { for { select { case s := <-in1: c <- s; case s := <-in2: c <-
 * s } } }(), plus a quit case so that it ends. */
static void fan_in_loop(void *arg)
{
    struct fan_in *f = arg;
    for (;;) {
        msg_t m;
        chan_case_t cases[] = {CHAN_RECV_CASE(f->in1, &m),
                               CHAN_RECV_CASE(f->in2, &m),
                               CHAN_RECV_CASE(f->quit, NULL)};
        if (chan_select(cases, 3) == 2)
            break;
        chan_case_t send[] = {CHAN_SEND_CASE(f->out, &m),
                              CHAN_RECV_CASE(f->quit, NULL)};
        if (chan_select(send, 2) == 1)
            break;
    }
    chan_release(f->in1);
    chan_release(f->in2);
    chan_release(f->out);
    chan_release(f->quit);
    free(f);
}

/* fanIn(in1, in2): the returned channel is the caller's; closing quit stops
 * the multiplexer. */
static chan_t *fan_in(chan_t *in1, chan_t *in2, chan_t *quit)
{
    struct fan_in *f = malloc(sizeof *f);
    chan_t *out = chan_make(sizeof(msg_t), 0);
    if (!f || !out)
        exit(1);
    /* The multiplexer holds its own references: the caller may release its
     * channels while the multiplexer is still finishing its last select. */
    *f = (struct fan_in){chan_retain(in1), chan_retain(in2), chan_retain(out),
                         chan_retain(quit)};
    if (chan_waitgroup_go(&threads, fan_in_loop, f))
        exit(1);
    return out;
}

static void fan_in_with_select(void)
{
    printf("-- fan-in with select --\n");
    struct boring *joe = boring("Joe", 3), *ann = boring("Ann", 3);
    chan_t *quit = chan_make(0, 0);
    chan_t *c = fan_in(joe->c, ann->c, quit);
    int from_joe = 0, from_ann = 0;
    for (int i = 0; i < 10; i++) {
        msg_t m;
        chan_recv(c, &m);
        printf("%s\n", m.text);
        from_joe += strncmp(m.text, "Joe ", 4) == 0;
        from_ann += strncmp(m.text, "Ann ", 4) == 0;
    }
    printf("You're both boring; I'm leaving.\n");
    check(from_joe + from_ann == 10 && from_joe > 0 && from_ann > 0,
          "fan-in interleaves both talkers");
    chan_close(quit);        /* stops the multiplexer first... */
    boring_stop(joe, "Joe"); /* ...then each talker */
    boring_stop(ann, "Ann");
    boring_free(joe);
    boring_free(ann);
    chan_release(c);
    chan_release(quit);
}

/* ---- 3, 4. timeouts
 * ------------------------------------------------------------- */

static void timeout_per_message(void)
{
    printf("-- timeout per message (time.After in the select) --\n");
    /* Joe pauses up to 30 ms between messages; we wait 15 ms for each. */
    struct boring *joe = boring("Joe", 30);
    int got = 0, slow = 0;
    while (slow == 0 || got < 3) {
        msg_t m;
        chan_t *after = chan_after(15 * CHAN_MILLISECOND);
        if (!after)
            exit(1);
        chan_case_t cases[] = {CHAN_RECV_CASE(joe->c, &m),
                               CHAN_RECV_CASE(after, NULL)};
        if (chan_select(cases, 2) == 0) {
            printf("%s\n", m.text);
            got++;
        } else {
            printf("You're too slow.\n");
            slow++;
        }
        chan_release(after); /* the timer thread holds its own reference */
    }
    boring_stop(joe, "Joe");
    boring_free(joe);
    check(got >= 3 && slow >= 1, "per-message timeout fired");
}

static void timeout_whole_conversation(void)
{
    printf("-- timeout for the whole conversation --\n");
    struct boring *joe = boring("Joe", 10);
    int64_t start = chan_now();
    chan_t *timeout = chan_after(60 * CHAN_MILLISECOND); /* once, outside */
    if (!timeout)
        exit(1);
    int got = 0;
    for (;;) {
        msg_t m;
        chan_case_t cases[] = {CHAN_RECV_CASE(joe->c, &m),
                               CHAN_RECV_CASE(timeout, NULL)};
        if (chan_select(cases, 2) == 1) {
            printf("You talk too much. (%d messages)\n", got);
            break;
        }
        got++;
    }
    int64_t took = chan_now() - start;
    chan_release(timeout);
    boring_stop(joe, "Joe");
    boring_free(joe);
    check(got >= 1 && took >= 60 * CHAN_MILLISECOND,
          "conversation timed out after 60 ms");
}

/* ---- 6. daisy chain
 * ------------------------------------------------------------- */

struct link {
    chan_t *left, *right; /* references owned by the link */
};

/* func f(left, right chan int) { left <- 1 + <-right } */
static void whisper(void *arg)
{
    struct link *l = arg;
    int v = 0;
    chan_recv(l->right, &v);
    v++;
    chan_send(l->left, &v);
    chan_release(l->left);
    chan_release(l->right);
    free(l);
}

static void first_whisper(void *arg)
{
    chan_t *c = arg;
    int one = 1;
    chan_send(c, &one);
    chan_release(c);
}

/* How long a chain to build: 10,000, or fewer where threads are costly. */
static int chain_length(void)
{
    int n = 10000;
    const char *why = NULL;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    n = 2000, why = "a sanitizer build";
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
    n = 2000, why = "a sanitizer build";
#endif
#endif
    if (getenv("CK_TIMEOUT_MULTIPLIER"))
        n = 300, why = "CK_TIMEOUT_MULTIPLIER is set (valgrind, whose default "
                       "limit is 500 threads, or a slow run)";
    if (why)
        printf("(a shorter chain: %s)\n", why);
    return n;
}

static void daisy_chain(void)
{
    printf("-- daisy chain --\n");
    int want = chain_length();
    chan_t *leftmost = chan_make(sizeof(int), 0);
    if (!leftmost)
        exit(1);
    chan_t *left = chan_retain(leftmost), *right = NULL;
    int n = 0;
    for (; n < want; n++) {
        right = chan_make(sizeof(int), 0);
        struct link *l = malloc(sizeof *l);
        if (!right || !l)
            exit(1);
        *l = (struct link){left, chan_retain(right)}; /* takes left's ref */
        if (chan_waitgroup_go(&threads, whisper, l) != CHAN_OK) {
            /* The machine allows no more threads: end the chain here. */
            chan_release(l->right);
            free(l);
            chan_release(right);
            break;
        }
        left = right;
    }
    /* left is now the rightmost channel (leftmost itself if n == 0). */
    if (chan_waitgroup_go(&threads, first_whisper, left) != CHAN_OK)
        exit(1);
    int got = 0;
    chan_recv(leftmost, &got);
    chan_release(leftmost);
    if (n < want)
        printf("the machine allowed %d threads of the %d wanted\n", n, want);
    printf("%d (a chain of %d threads)\n", got, n);
    check(n > 0 && got == n + 1, "daisy chain sums to n + 1");
}

int main(void)
{
    chan_debug_enable(true);
    generator();
    fan_in_with_select();
    timeout_per_message();
    timeout_whole_conversation();
    daisy_chain();

    chan_waitgroup_wait(&threads);
    size_t blocked = chan_debug_dump(stdout);
    check(blocked == 0, "no thread left blocked");
    if (failures)
        return 1;
    printf("ok: every pattern behaved, every thread ended\n");
    return 0;
}
