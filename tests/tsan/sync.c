/* sync.c: a correct user program, built with -fsanitize=thread against the
 * plain (uninstrumented) libgochan, that shares plain memory under Mutex,
 * RWMutex, Cond and Once from goroutines and plain threads at once. The
 * locks are contended (several lockers, short critical sections) so that
 * Lock, Unlock, RLock and Once.Do take their slow paths inside the library,
 * where TSan sees no atomics: ThreadSanitizer must report nothing, which it
 * can only do if sync/ announces its happens-before edges
 * (sched/internal/race.h). Exits 0 when every count adds up.
 */
#include <gochan.h>

#include <pthread.h>
#include <stdio.h>

#define WORKERS 4    /* goroutines, and as many plain threads */
#define ROUNDS  2000 /* lock/unlock pairs per worker */
#define ONCES   200  /* Once objects raced on, one after another */

/* ---- Mutex: a plain counter and a plain array, under m ---- */

static chan_mutex_t m = CHAN_MUTEX_INIT;
static long counter;
static long history[16];

static void mutex_work(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        chan_mutex_lock(&m);
        history[counter % 16] = counter;
        counter++;
        chan_mutex_unlock(&m);
    }
}

/* ---- RWMutex: writers keep a == b; readers check it ---- */

static chan_rwmutex_t rw = CHAN_RWMUTEX_INIT;
static long pair_a, pair_b;
static long bad_reads;

static void rwmutex_work(int id)
{
    for (int i = 0; i < ROUNDS / 4; i++) {
        if (id % 2 == 0) { /* a writer */
            chan_rwmutex_lock(&rw);
            pair_a++;
            pair_b++;
            chan_rwmutex_unlock(&rw);
        } else { /* a reader; the count is only read, never written here */
            chan_rwmutex_rlock(&rw);
            long a = pair_a, b = pair_b;
            chan_rwmutex_runlock(&rw);
            if (a != b) {
                chan_mutex_lock(&m);
                bad_reads++;
                chan_mutex_unlock(&m);
            }
        }
    }
}

/* ---- Cond: a plain queue of items, producers and consumers ---- */

static chan_mutex_t qm = CHAN_MUTEX_INIT;
static chan_cond_t qc = CHAN_COND_INIT(&qm);
static long queue[8];
static int qlen;
static long consumed_sum;

static void cond_produce(long v)
{
    chan_mutex_lock(&qm);
    while (qlen == 8)
        chan_cond_wait(&qc);
    queue[qlen++] = v;
    chan_cond_broadcast(&qc);
    chan_mutex_unlock(&qm);
}

static void cond_consume(void)
{
    chan_mutex_lock(&qm);
    while (qlen == 0)
        chan_cond_wait(&qc);
    consumed_sum += queue[--qlen];
    chan_cond_broadcast(&qc);
    chan_mutex_unlock(&qm);
}

static void cond_work(int id)
{
    for (int i = 0; i < ROUNDS / 4; i++) {
        if (id % 2 == 0)
            cond_produce(i);
        else
            cond_consume();
    }
}

/* ---- Once: f writes plain memory that every caller then reads ---- */

static chan_once_t onces[ONCES];
static long once_data[ONCES][4];
static long once_runs;

static void once_init(void *arg)
{
    long *d = arg;
    for (int i = 0; i < 4; i++)
        d[i] = i + 1;
    once_runs++; /* only under the one running f */
}

static long once_work(void)
{
    long sum = 0;
    for (int k = 0; k < ONCES; k++) {
        chan_once_do(&onces[k], once_init, once_data[k]);
        for (int i = 0; i < 4; i++)
            sum += once_data[k][i];
    }
    return sum;
}

/* ---- the workers: the same work on goroutines and plain threads ---- */

static chan_t *start; /* closed when every worker has been started */
static chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
static long once_sums[2 * WORKERS];

static void work(int id)
{
    chan_recv(start, NULL);
    once_sums[id] = once_work();
    mutex_work();
    rwmutex_work(id);
    cond_work(id);
}

static void goroutine(void *arg)
{
    work((int)(long)arg);
    chan_waitgroup_done(&wg);
}

static void *thread(void *arg)
{
    work((int)(long)arg);
    return NULL;
}

int main(void)
{
    start = chan_make(0, 0);
    pthread_t threads[WORKERS];
    chan_waitgroup_add(&wg, WORKERS);
    for (long i = 0; i < WORKERS; i++) {
        if (chan_go(goroutine, (void *)i) != CHAN_OK)
            return 2;
        pthread_create(&threads[i], NULL, thread, (void *)(WORKERS + i));
    }
    chan_close(start);
    chan_waitgroup_wait(&wg);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);
    chan_release(start);

    int bad = counter != 2L * WORKERS * ROUNDS || bad_reads != 0 ||
              pair_a != pair_b || pair_a != (long)WORKERS * ROUNDS / 4 ||
              qlen != 0 || once_runs != ONCES;
    /* WORKERS producers (the even ids) each put 0 .. ROUNDS/4 - 1. */
    long n = ROUNDS / 4;
    bad |= consumed_sum != WORKERS * (n * (n - 1) / 2);
    for (int i = 0; i < 2 * WORKERS; i++)
        bad |= once_sums[i] != 10L * ONCES;
    printf("sync: %s\n", bad ? "FAILED" : "ok");
    return bad;
}
