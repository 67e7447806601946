/* mutexes.c: sync.Mutex lets one goroutine at a time touch shared state.
 * Twin of mutexes.go.
 *
 * Rule: exact. Only the final counts are printed, after every goroutine is
 * done. Go prints its map as map[a:20000 b:10000]; C has no map, so the
 * two counters are fields and the line is printed in Go's format.
 */
#include <gochan/go.h>
#include <gochan/sync.h>

#include <stdio.h>
#include <string.h>

/* type Counters struct { mu sync.Mutex; counts map[string]int } */
struct counters {
    chan_mutex_t mu; /* guards a and b */
    int a, b;
};

/* func (c *Counters) inc(name string) */
static void inc(struct counters *c, const char *name)
{
    chan_mutex_lock(&c->mu); /* c.mu.Lock() */
    if (strcmp(name, "a") == 0)
        c->a++;
    else
        c->b++;
    chan_mutex_unlock(&c->mu); /* defer c.mu.Unlock(): C unlocks at the end */
}

/* c := Counters{...}: static, so it outlives every goroutine; a static
 * mutex needs no initialiser (its zero value is unlocked, as in Go). */
static struct counters c = {CHAN_MUTEX_INIT, 0, 0};
static chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;

/* doIncrement := func(name string, n int), as a goroutine: its arguments
 * in a struct. */
struct increment {
    const char *name;
    int n;
};

static void do_increment(void *arg)
{
    const struct increment *inc_arg = arg;
    for (int i = 0; i < inc_arg->n; i++)
        inc(&c, inc_arg->name);
    chan_waitgroup_done(&wg); /* defer wg.Done() */
}

int main(void)
{
    /* Static: the goroutines read them while main waits. */
    static const struct increment a1 = {"a", 10000}, a2 = {"a", 10000},
                                  b1 = {"b", 10000};
    chan_waitgroup_add(&wg, 3);
    chan_go(do_increment, (void *)&a1);
    chan_go(do_increment, (void *)&a2);
    chan_go(do_increment, (void *)&b1);

    chan_waitgroup_wait(&wg);
    printf("map[a:%d b:%d]\n", c.a, c.b); /* fmt.Println(c.counts) */
    chan_waitgroup_destroy(&wg);
    return 0;
}
