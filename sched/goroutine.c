/* goroutine.c: a goroutine's life (Go's newproc, goexit and the free g
 * lists): making its g and stack, starting it, ending it, and the queries on
 * goroutines. The scheduling itself is proc.c's.
 */
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal/invariant.h"
#include "internal/thread.h"
#include "internal/trace.h"

static _Atomic int64_t ngoroutines; /* sched_go'ed and not yet returned */
static _Atomic uint64_t goidgen;

/* Free gs kept per P before half go to the global list (Go: 64 and 32). */
enum { GFREE_LOCAL_MAX = 64, GFREE_BATCH = 32 };

/* ---- free gs ------------------------------------------------------------- */

/* As Go's gfput and gfget, a dead g on a P's free list keeps its stack (of
 * the current size), so that a goroutine ending and another starting on the
 * same P touch neither the stack pool's lock nor a cold stack. The global
 * list holds gs without stacks: those moving there give theirs to the pool,
 * under one lock for the batch, where sysmon can trim them (a g kept with
 * its stack for ever would pin the page its goroutine touched). */

/* Gives back the stacks of the gs on list (linked by schedlink), one pool
 * lock a batch. */
static void gfree_strip_stacks(sched_g *list)
{
    sched__stack_t batch[GFREE_LOCAL_MAX];
    size_t n = 0;
    for (sched_g *gp = list; gp; gp = gp->schedlink) {
        if (!gp->stack.lo)
            continue;
        batch[n++] = gp->stack;
        gp->stack = (sched__stack_t){0};
        if (n == GFREE_LOCAL_MAX) {
            sched__stack_put_batch(batch, n);
            n = 0;
        }
    }
    sched__stack_put_batch(batch, n);
}

static void gfput_global(sched_g *gp)
{
    gp->schedlink = NULL;
    gfree_strip_stacks(gp);
    sched__lock(&sched__state.gflock);
    gp->schedlink = sched__state.gfree;
    sched__state.gfree = gp;
    sched__state.ngfree++;
    sched__unlock(&sched__state.gflock);
}

/* Go's gfput: a dead g (with its stack, or none) onto pp's free list, half
 * of which moves to the global one when it grows long. */
static void gfput(sched__p_t *pp, sched_g *gp)
{
    sched__invariant(sched__gstatus(gp) == SCHED__Gdead, "gfput: g not dead");
    if (!pp) {
        gfput_global(gp);
        return;
    }
    gp->schedlink = pp->gfree;
    pp->gfree = gp;
    if (++pp->gfree_n < GFREE_LOCAL_MAX)
        return;
    /* The first gfree_n - GFREE_BATCH move, as one list. */
    int32_t moved = pp->gfree_n - GFREE_BATCH;
    sched_g *head = pp->gfree, *tail = head;
    for (int32_t i = 1; i < moved; i++)
        tail = tail->schedlink;
    pp->gfree = tail->schedlink;
    pp->gfree_n = GFREE_BATCH;
    tail->schedlink = NULL;
    gfree_strip_stacks(head); /* outside the list's lock */
    sched__lock(&sched__state.gflock);
    tail->schedlink = sched__state.gfree;
    sched__state.gfree = head;
    sched__state.ngfree += moved;
    sched__unlock(&sched__state.gflock);
}

/* Go's gfget: a free g from pp's list (perhaps with a stack), refilled from
 * the global one (without). */
static sched_g *gfget(sched__p_t *pp)
{
    if (pp && pp->gfree) {
        sched_g *gp = pp->gfree;
        pp->gfree = gp->schedlink;
        pp->gfree_n--;
        return gp;
    }
    sched__lock(&sched__state.gflock);
    sched_g *gp = sched__state.gfree;
    if (gp) {
        sched__state.gfree = gp->schedlink;
        sched__state.ngfree--;
    }
    while (pp && sched__state.gfree && pp->gfree_n < GFREE_BATCH) {
        sched_g *g1 = sched__state.gfree;
        sched__state.gfree = g1->schedlink;
        sched__state.ngfree--;
        g1->schedlink = pp->gfree;
        pp->gfree = g1;
        pp->gfree_n++;
    }
    sched__unlock(&sched__state.gflock);
    return gp;
}

/* gs are carved from slabs of G_SLAB, line-aligned for sched_g_sudog, and
 * never freed (as Go's allgs): so they lie side by side, in the order they
 * were made, without malloc's header and alignment slack between them. A
 * slab starts with a line that links it to the one before, so that each
 * slab has a pointer to its start (leak checkers count a block that only
 * pointers into its middle reach as possibly lost). */
enum { G_SLAB = 32 };

typedef struct g_slab {
    _Alignas(sched_g) struct g_slab *older;
} g_slab_t;

/* A zeroed g from the current slab (a new one when it is used up), linked
 * into allgs; NULL when out of memory. allglock held. */
static sched_g *carveg_locked(void)
{
    static g_slab_t *slabs; /* the newest */
    static sched_g *next;   /* its next unused g */
    static int left;
    if (left == 0) {
        void *mem = NULL;
        if (posix_memalign(&mem, _Alignof(sched_g),
                           sizeof(g_slab_t) + G_SLAB * sizeof(sched_g)) != 0 ||
            !mem)
            return NULL;
        g_slab_t *slab = mem;
        slab->older = slabs;
        slabs = slab;
        next = (sched_g *)(slab + 1);
        left = G_SLAB;
    }
    sched_g *gp = memset(next++, 0, sizeof(sched_g));
    left--;
    /* Before it is in allgs: the traceback reads the status of every g
     * there, under allglock. */
    atomic_init(&gp->status, SCHED__Gidle);
    gp->alllink = sched__state.allgs;
    sched__state.allgs = gp;
    return gp;
}

static sched_g *allocg(void)
{
    sched__lock(&sched__state.allglock);
    sched_g *gp = carveg_locked();
    sched__unlock(&sched__state.allglock);
    if (!gp)
        return NULL;
    sched__casgstatus(gp, SCHED__Gidle, SCHED__Gdead);
    return gp;
}

void *sched_g_sudog(sched_g *gp)
{
    return gp->sudog;
}

void sched__forallg(void (*fn)(sched_g *gp, void *arg), void *arg)
{
    sched__lock(&sched__state.allglock);
    for (sched_g *gp = sched__state.allgs; gp; gp = gp->alllink)
        fn(gp, arg);
    sched__unlock(&sched__state.allglock);
}

/* ---- starting and ending goroutines ------------------------------------ */

static sched_g *goexit0(sched__m_t *mp, sched_g *gp)
{
    if (sched__tracing())
        sched__trace_end(gp->goid);
    sched__casgstatus(gp, SCHED__Grunning, SCHED__Gdead);
    sched__fiber_destroy(&gp->fiber);
    if (mp->p && gp->stack.size == sched__stack_size()) {
        sched__stack_retire(&gp->stack); /* kept by gp: see gfput */
    } else {
        sched__stack_put(&gp->stack);
        gp->stack = (sched__stack_t){0};
    }
    gp->fn = NULL;
    gp->arg = NULL;
    free(gp->args_heap); /* sched_go_copy's copy that did not fit the g */
    gp->args_heap = NULL;
    gfput(mp->p, gp);
    /* release: a thread that sees the count drop sees the stack and g back
     * in their pools. */
    atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_release);
    return NULL;
}

/* Go's goexit1: g0 frees the stack we are standing on. */
static _Noreturn void goexit1(sched__m_t *mp, sched_g *gp)
{
    mp->mcall_fn = goexit0;
    sched__fiber_exit(&gp->fiber, &mp->g0);
}

/* Every goroutine's first frame. */
static void goroutine_main(void *arg)
{
    sched__fiber_started();
    sched__switched_in(sched__getm());
    sched_g *gp = arg;
    gp->fn(gp->arg);
    sched__m_t *mp = sched__getm();
    if (!mp) /* a forked child's thread, no longer a goroutine (proc.c) */
        sched__thread_goexit();
    goexit1(mp, gp);
}

void sched_goexit(void)
{
    sched__m_t *mp = sched__getm();
    if (mp && mp->curg)
        goexit1(mp, mp->curg);
}

void sched__goroutine_atfork_child(void)
{
    atomic_store_explicit(&ngoroutines, 0, memory_order_relaxed);
}

/* A dead g with a fresh stack of stack_size bytes (0: the default), ready to
 * run fn(arg); *err on failure. */
static sched_g *newg(sched__p_t *pp, void (*fn)(void *), void *arg,
                     size_t stack_size, const void *pc, int *err)
{
    sched_g *gp = gfget(pp);
    if (!gp && !(gp = allocg())) {
        *err = ENOMEM;
        return NULL;
    }
    if ((*err = sched__stack_keep_or_get(&gp->stack, stack_size)) != 0) {
        gfput(pp, gp);
        return NULL;
    }
    /* Odd while its fields change, for the traceback (proc.h). */
    uint32_t gen = atomic_load_explicit(&gp->schedgen, memory_order_relaxed);
    atomic_store_explicit(&gp->schedgen, gen + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    gp->fn = fn;
    gp->arg = arg;
    gp->gopc = pc;
    sched_g *parent = sched_getg();
    gp->parentgoid = parent ? parent->goid : 0;
    gp->wait_reason = SCHED_WAIT_ZERO;
    /* relaxed: ids need only be unique. */
    gp->goid = atomic_fetch_add_explicit(&goidgen, 1, memory_order_relaxed) + 1;
    sched__fiber_make(&gp->fiber, &gp->stack, goroutine_main, gp);
    atomic_store_explicit(&gp->schedgen, gen + 2, memory_order_release);
    return gp;
}

/* What sched_go_copy copies into the new g, and where from. */
struct go_copy {
    const void *args;
    size_t size;
    void *heap; /* a malloc'd copy when size > SCHED__G_ARGS_INLINE */
};

/* gp->arg becomes the private copy: in the g when it fits, else the heap
 * copy made before anything changed (so that ENOMEM changes nothing). */
static void go_copy_into(sched_g *gp, struct go_copy *cp)
{
    if (cp->heap) {
        gp->args_heap = cp->heap;
        gp->arg = cp->heap;
    } else {
        if (cp->size)
            memcpy(gp->args_inline, cp->args, cp->size);
        gp->arg = gp->args_inline;
    }
}

/* sched_go, sched_go_stack and sched_go_copy (cp non-NULL). */
static int go_start(void (*fn)(void *), void *arg, struct go_copy *cp,
                    size_t stack_size, const void *pc)
{
    int err = sched__start();
    if (err)
        return err;
    sched__m_t *mp = sched__getm();
    sched__p_t *pp = sched__p_enter(mp);
    sched_g *gp = newg(pp, fn, arg, stack_size, pc, &err);
    if (gp && cp)
        go_copy_into(gp, cp);
    if (gp) {
        /* relaxed: a count; the queues order the goroutine's start. */
        atomic_fetch_add_explicit(&ngoroutines, 1, memory_order_relaxed);
        if (sched__tracing())
            sched__trace_create(gp->goid, fn);
        sched__casgstatus(gp, SCHED__Gdead, SCHED__Grunnable);
        if (pp) {
            sched__runqput(pp, gp, true); /* Go's newproc: runs next here */
            sched__wakep();
        } else {
            sched__inject(gp);
        }
    }
    sched__p_leave(mp, pp);
    return err;
}

int sched_go(void (*fn)(void *arg), void *arg)
{
    return fn ? go_start(fn, arg, NULL, 0, __builtin_return_address(0))
              : EINVAL;
}

static bool stack_size_ok(size_t stack_size)
{
    return stack_size == 0 ||
           (stack_size >= SCHED__STACK_MIN && stack_size <= SCHED__STACK_MAX);
}

int sched_go_stack(void (*fn)(void *arg), void *arg, size_t stack_size)
{
    if (!fn || !stack_size_ok(stack_size))
        return EINVAL;
    return go_start(fn, arg, NULL, stack_size, __builtin_return_address(0));
}

int sched_go_at(const void *pc, void (*fn)(void *arg), void *arg,
                size_t stack_size)
{
    if (!fn || !stack_size_ok(stack_size))
        return EINVAL;
    return go_start(fn, arg, NULL, stack_size, pc);
}

static int go_copy(void (*fn)(void *args), const void *args, size_t size,
                   size_t stack_size, const void *pc)
{
    if (!fn || (!args && size > 0) || !stack_size_ok(stack_size))
        return EINVAL;
    struct go_copy cp = {args, size, NULL};
    if (size > SCHED__G_ARGS_INLINE) {
        if (!(cp.heap = malloc(size)))
            return ENOMEM;
        memcpy(cp.heap, args, size);
    }
    int err = go_start(fn, NULL, &cp, stack_size, pc);
    if (err)
        free(cp.heap);
    return err;
}

int sched_go_copy(void (*fn)(void *args), const void *args, size_t size,
                  size_t stack_size)
{
    return go_copy(fn, args, size, stack_size, __builtin_return_address(0));
}

int sched_go_copy_at(const void *pc, void (*fn)(void *args), const void *args,
                     size_t size, size_t stack_size)
{
    return go_copy(fn, args, size, stack_size, pc);
}

int sched_go_locked(void (*fn)(void *arg), void *arg)
{
    return fn ? sched__thread_go(fn, arg) : EINVAL;
}

/* ---- queries ------------------------------------------------------------- */

bool sched_supported(void)
{
    return true;
}

sched_g *sched_getg(void)
{
    sched__m_t *mp = sched__getm();
    return mp ? mp->curg : NULL;
}

int64_t sched_num_goroutine(void)
{
    /* acquire: pairs with goexit0's release. */
    return atomic_load_explicit(&ngoroutines, memory_order_acquire);
}

uint64_t sched_goid(sched_g *gp)
{
    return gp->goid;
}

sched_wait_reason_t sched_wait_reason(sched_g *gp)
{
    return gp->wait_reason;
}

bool sched_canspin(int iter)
{
    enum { ACTIVE_SPIN = 4 }; /* rounds, as Go's active_spin */
    if (iter >= ACTIVE_SPIN || sched__ncpu() <= 1)
        return false;
    sched__m_t *mp = sched__getm();
    if (!mp || !mp->curg || !mp->p)
        return true; /* a plain thread: the kernel runs the owner elsewhere */
    int32_t busy_elsewhere = sched__nprocs - atomic_load(&sched__state.npidle) -
                             atomic_load(&sched__state.nmspinning) - 1;
    return busy_elsewhere > 0 && sched__runqempty(mp->p);
}
