/* goroutines.c: `go f(x)` is chan_go(f, x). Twin of goroutines.go.
 *
 * Rule: lines. The three callers print concurrently, so the order of their
 * lines differs from run to run (in Go as in C); the set of lines does not.
 */
#include <gochan/go.h>
#include <gochan/timer.h>

#include <stdio.h>

/* func count(who string): a goroutine's function takes one void *. */
static void count(void *arg)
{
    const char *who = arg;
    for (int i = 1; i <= 3; i++)
        printf("%s counts %d\n", who, i); /* printf is thread-safe */
}

/* C has no function literals: the anonymous goroutine is a named static
 * function, and its argument travels in the void *. */
static void anonymous(void *arg)
{
    const char *msg = arg;
    printf("%s\n", msg);
}

int main(void)
{
    /* count("main"): an ordinary call, finished before main goes on. */
    count("main");

    /* go count("goroutine"): starts it on gochan's scheduler and returns at
     * once. The argument is a string literal, which lives forever. */
    chan_go(count, "goroutine");

    /* go func(msg string) { ... }("an anonymous goroutine") */
    chan_go(anonymous, "an anonymous goroutine");

    /* time.Sleep(250 * time.Millisecond): crude, as in Go; the waitgroups
     * chapter waits properly. */
    chan_sleep(250 * CHAN_MILLISECOND);
    printf("done\n");
    return 0;
}
