/* ping_pong.c: the ping-pong of Sameer Ajmani's "Advanced Go Concurrency
 * Patterns" talk (go.dev/talks/2013/advconc.slide): two players hit one ball
 * across an unbuffered channel, the table.
 *
 *     type Ball struct{ hits int }
 *
 *     func main() {
 *         table := make(chan *Ball)
 *         go player("ping", table)
 *         go player("pong", table)
 *         table <- new(Ball) // game on; toss the ball
 *         time.Sleep(1 * time.Second)
 *         <-table // game over; grab the ball
 *         panic("show me the stacks")
 *     }
 *
 *     func player(name string, table chan *Ball) {
 *         for {
 *             ball := <-table
 *             ball.hits++
 *             fmt.Println(name, ball.hits)
 *             time.Sleep(100 * time.Millisecond)
 *             table <- ball
 *         }
 *     }
 *
 * The talk's panic shows both players blocked receiving from the table; here
 * chan_debug_dump (gochan/debug.h) shows the same without ending the program.
 * Then closing the table sends the players home, and the program checks that
 * the hits alternated ping, pong, ping, ... and that both players left.
 * Times are a tenth of the talk's.
 */
#include <gochan/chan.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/timer.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct ball {
    int hits;
    const char *last; /* who hit it last: the game's referee checks turns */
    bool out_of_turn;
};

struct player {
    const char *name;
    chan_t *table; /* chan *Ball, borrowed: main outlives the players */
};

static chan_waitgroup_t players = CHAN_WAITGROUP_INIT;

static void player(void *arg)
{
    struct player *p = arg;
    struct ball *ball;
    /* for { ball := <-table ... }, until the table is closed */
    while (chan_recv(p->table, &ball) == CHAN_OK) {
        ball->hits++;
        if (ball->last == p->name)
            ball->out_of_turn = true;
        ball->last = p->name;
        printf("%s %d\n", p->name, ball->hits);
        chan_sleep(10 * CHAN_MILLISECOND);
        if (chan_send(p->table, &ball) != CHAN_OK)
            break;
    }
}

/* How many threads are blocked in gochan now (the dump, to a scratch file). */
static size_t blocked_now(void)
{
    FILE *scratch = tmpfile();
    size_t n = scratch ? chan_debug_dump(scratch) : 0;
    if (scratch)
        fclose(scratch);
    return n;
}

int main(void)
{
    chan_debug_enable(true);
    chan_t *table = chan_make(sizeof(struct ball *), 0);
    if (!table)
        return 1;
    struct player ping = {"ping", table}, pong = {"pong", table};
    if (chan_waitgroup_go(&players, player, &ping) != CHAN_OK ||
        chan_waitgroup_go(&players, player, &pong) != CHAN_OK)
        return 1;

    struct ball game = {0, NULL, false}, *ball = &game;
    chan_send(table, &ball); /* game on; toss the ball */
    chan_sleep(100 * CHAN_MILLISECOND);
    chan_recv(table, &ball); /* game over; grab the ball */

    /* "show me the stacks": wait until both players are back at the table
     * (the one who just hit may still be on its way), then dump. */
    int64_t give_up = chan_now() + 10 * CHAN_SECOND;
    while (blocked_now() < 2 && chan_now() < give_up)
        chan_sleep(CHAN_MILLISECOND);
    printf("the players, as Go's panic would show them:\n");
    size_t waiting = chan_debug_dump(stdout);

    chan_close(table); /* go home */
    chan_waitgroup_wait(&players);
    size_t left = chan_debug_dump(stdout);
    chan_release(table);

    bool ok = ball == &game && game.hits >= 2 && !game.out_of_turn &&
              waiting == 2 && left == 0;
    /* The first hitter is whichever player received first; after that they
     * alternate, which the referee checked on every hit. */
    printf("%s: %d hits, %s; %zu players waited at the table, %zu left "
           "blocked\n",
           ok ? "ok" : "FAIL", game.hits,
           game.out_of_turn ? "someone hit out of turn" : "strictly in turn",
           waiting, left);
    return ok ? 0 : 1;
}
