/* stack.c: goroutine stacks, mapped, guarded and pooled (see context.h).
 *
 * Each stack is its own anonymous mapping: MAP_NORESERVE, so a 256 KiB stack
 * costs only the pages a goroutine touches (usually one or two) and no swap
 * reservation; MADV_NOHUGEPAGE, so that a transparent huge page never turns
 * that into 2 MiB. The guard below it, SCHED__STACK_GUARD (64 KiB: a frame
 * or alloca that large still faults in it rather than writing over the
 * stack below; one page let a 40 KB local array jump it), is installed with
 * madvise(MADV_GUARD_INSTALL) (Linux 6.13+), page-table markers that keep
 * the stacks' mappings mergeable: no extra kernel mapping per stack. Older
 * kernels reject the advice with EINVAL and we fall back to
 * mprotect(PROT_NONE), which splits the mapping in two (the guard is then
 * reserved address space, never memory): with the default
 * vm.max_map_count of 65,530 that limits a process to about 32,000 live
 * stacks.
 *
 * Stacks are pooled, LIFO, without bound: a goroutine that starts right after
 * another returned gets its warm stack back, and ending many goroutines at
 * once costs no munmap each (an unmap shoots down the range in every
 * thread's TLB and takes the kernel's mm lock: measured, 80% of ending
 * 100,000 goroutines). sysmon trims the pool back to SCHED__STACK_POOL_KEEP
 * in the background, as Go's scavenger returns stack memory. A pooled
 * stack keeps the pages its last goroutine touched: they are not given back
 * with MADV_DONTNEED. Measured with bench/sched_bench (2 cores, Linux 6.18),
 * starting, running and ending a goroutine costs 0.18 us without it and
 * 6.4 us with it (SCHED__STACK_DONTNEED=1): the call must shoot down the
 * range in every thread's TLB, and the next goroutine faults the page in
 * again, while a typical goroutine touches only the top page or two. The
 * pool's bound caps what it can hold (at most 1,024 stacks' touched pages).
 */
#include "context.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal/invariant.h"
#include "internal/lock.h"
#include "sanitizer.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif
#ifndef PIDFD_SELF
#define PIDFD_SELF (-10000) /* Linux 6.15: "this process" for pidfd calls */
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440 /* the same on every architecture */
#endif

/* 1: pooled stacks give their pages back with MADV_DONTNEED (see above: 35
 * times slower). */
#ifndef SCHED__STACK_DONTNEED
#define SCHED__STACK_DONTNEED 0
#endif

/* The size of new stacks, 0 until first read. Relaxed: it is a lone value
 * that publishes nothing else; a stack records its own size. */
static _Atomic size_t stack_size;

/* Stacks mapped and not unmapped, wherever they are (for tests). */
static _Atomic size_t mapped;

/* Set once madvise(MADV_GUARD_INSTALL) is known not to work here. */
static atomic_bool guard_by_mprotect;

static sched__lock_t pool_lock = SCHED__LOCK_INIT;
static sched__stack_t *pool; /* pool_cap slots, pool_len used; pool_lock */
static size_t pool_len, pool_cap;
static uint64_t pool_ops; /* gets and puts so far; pool_lock */

static size_t page_size(void)
{
    static _Atomic size_t page;
    size_t p = atomic_load_explicit(&page, memory_order_relaxed);
    if (p == 0) {
        long n = sysconf(_SC_PAGESIZE);
        p = n > 0 ? (size_t)n : 4096;
        atomic_store_explicit(&page, p, memory_order_relaxed);
    }
    return p;
}

static size_t round_to_pages(size_t n)
{
    size_t page = page_size();
    return (n + page - 1) / page * page;
}

static bool size_is_sane(size_t bytes)
{
    return bytes >= SCHED__STACK_MIN && bytes <= SCHED__STACK_MAX;
}

/* GOCHAN_STACK_SIZE, in bytes; the default when unset or absurd. */
/* The guard below each stack, in whole pages. */
static size_t guard_size(void)
{
    return round_to_pages(SCHED__STACK_GUARD);
}

static size_t size_from_env(void)
{
    const char *s = getenv("GOCHAN_STACK_SIZE");
    if (!s || *s < '0' || *s > '9')
        return SCHED__STACK_DEFAULT;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || !size_is_sane((size_t)n))
        return SCHED__STACK_DEFAULT;
    return round_to_pages((size_t)n);
}

size_t sched__stack_size(void)
{
    size_t n = atomic_load_explicit(&stack_size, memory_order_relaxed);
    if (n != 0)
        return n;
    size_t unset = 0;
    n = size_from_env();
    /* A concurrent sched__stack_set_size wins over the environment. */
    atomic_compare_exchange_strong_explicit(
        &stack_size, &unset, n, memory_order_relaxed, memory_order_relaxed);
    return atomic_load_explicit(&stack_size, memory_order_relaxed);
}

int sched__stack_set_size(size_t bytes)
{
    if (!size_is_sane(bytes))
        return EINVAL;
    atomic_store_explicit(&stack_size, round_to_pages(bytes),
                          memory_order_relaxed);
    return 0;
}

int sched__stack_guard_is_mprotect(void)
{
    return atomic_load_explicit(&guard_by_mprotect, memory_order_relaxed);
}

/* LeakSanitizer scans thread stacks, not goroutine stacks, and would call
 * a block leaked that only a parked goroutine's stack points to: a stack is
 * a root region while it is mapped (pooled ones too: a stale pointer there
 * can hide a leak, but registering at every start and exit would cost two
 * locked calls and a linear search in LSan's list per goroutine). Only the
 * stack, never its guard, which LSan would fault on. LSan (clang 14)
 * unregisters by a linear search: at most SCHED__LSAN_ROOTS_MAX stacks are
 * registered at once, so trimming a pool of 100,000 stays cheap (measured
 * under ASan, check_sched's park case: 7 s unregistered, 75 s with every
 * stack registered, 15 s with 8,192, 7 s with 2,048); beyond it, a block
 * held only by a goroutine's stack may be reported. */
#ifndef SCHED__LSAN_ROOTS_MAX
#define SCHED__LSAN_ROOTS_MAX 2048
#endif
static _Atomic size_t lsan_roots; /* registered now */

static void lsan_register(sched__stack_t *s)
{
    s->lsan_root = false;
    if (!__lsan_register_root_region)
        return;
    if (atomic_fetch_add_explicit(&lsan_roots, 1, memory_order_relaxed) >=
        SCHED__LSAN_ROOTS_MAX) {
        atomic_fetch_sub_explicit(&lsan_roots, 1, memory_order_relaxed);
        return;
    }
    __lsan_register_root_region(s->lo, s->size);
    s->lsan_root = true;
}

static void lsan_unregister(const sched__stack_t *s)
{
    if (!s->lsan_root)
        return;
    __lsan_unregister_root_region(s->lo, s->size);
    atomic_fetch_sub_explicit(&lsan_roots, 1, memory_order_relaxed);
}

/* valgrind does not know MADV_GUARD_INSTALL: it takes the guard for memory
 * like the rest of the mapping, and its leak check then reads every guard
 * page, each read a fault it recovers from. Likewise it reads every pooled
 * stack, page by page, though nobody's pointers live there. Marked
 * unaddressable, both are skipped (measured: check_go's test children spent
 * minutes in the leak check at exit), and a stray access to either is
 * reported. */
static void valgrind_noaccess(void *p, size_t len)
{
#if SCHED__VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, len);
#else
    (void)p;
    (void)len;
#endif
}

static int install_guard(char *guard, size_t len)
{
    valgrind_noaccess(guard, len);
    if (!atomic_load_explicit(&guard_by_mprotect, memory_order_relaxed)) {
        if (madvise(guard, len, MADV_GUARD_INSTALL) == 0)
            return 0;
        if (errno == EINVAL) /* a kernel before 6.13 */
            atomic_store_explicit(&guard_by_mprotect, true,
                                  memory_order_relaxed);
    }
    return mprotect(guard, len, PROT_NONE) == 0 ? 0 : ENOMEM;
}

/* Installs the guards of n stacks mapped span bytes apart from base with
 * one process_madvise(2) (Linux 6.15+: PIDFD_SELF), so that a batch takes
 * the kernel's mm lock once, not once per stack: each call takes it for
 * writing, and the goroutines faulting in their first stack pages on the
 * other Ms wait for it (measured: 20% of starting a million goroutines was
 * madvise, a third of that waiting for the lock). Returns how many guards,
 * from the first, it installed: 0 on a kernel without it, where
 * install_guard does them one by one. */
static atomic_bool guard_at_once_unsupported;

static size_t install_guards_at_once(char *base, size_t span, size_t guard_len,
                                     size_t n)
{
    struct iovec iov[SCHED__STACK_MAP_BATCH];
    if (n > SCHED__STACK_MAP_BATCH ||
        atomic_load_explicit(&guard_at_once_unsupported,
                             memory_order_relaxed) ||
        atomic_load_explicit(&guard_by_mprotect, memory_order_relaxed))
        return 0;
#if SCHED__VALGRIND
    if (RUNNING_ON_VALGRIND)
        return 0; /* it does not know the call, and warns at every batch */
#endif
    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec){base + i * span, guard_len};
    long done =
        syscall(SYS_process_madvise, PIDFD_SELF, iov, n, MADV_GUARD_INSTALL, 0);
    if (done < 0) {
        atomic_store_explicit(&guard_at_once_unsupported, true,
                              memory_order_relaxed);
        return 0;
    }
    return (size_t)done / guard_len; /* a short count: the rest one by one */
}

void sched__stack_guards_one_by_one(void)
{
    atomic_store_explicit(&guard_at_once_unsupported, true,
                          memory_order_relaxed);
}

/* Maps up to n stacks of size bytes, each above its guard, with one mmap,
 * one madvise and one process_madvise for them all (a batch takes a few
 * system calls per SCHED__STACK_MAP_BATCH goroutine starts, not per start);
 * each can be unmapped on its own later. Returns how many it made (0:
 * ENOMEM). */
static size_t stack_map(sched__stack_t *s, size_t n, size_t size)
{
    size_t guard_len = guard_size(), span = guard_len + size;
    char *base =
        mmap(NULL, n * span, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return 0;
    /* Best effort: without it a stack still works, only costs more. */
    (void)madvise(base, n * span, MADV_NOHUGEPAGE);
    size_t guarded = install_guards_at_once(base, span, guard_len, n);
    size_t made = 0;
    for (; made < n; made++) {
        char *guard = base + made * span;
        if (made < guarded)
            valgrind_noaccess(guard, guard_len);
        else if (install_guard(guard, guard_len) != 0)
            break;
        s[made].lo = guard + guard_len;
        s[made].size = size;
        s[made].valgrind_id = 0;
#if SCHED__VALGRIND
        s[made].valgrind_id =
            VALGRIND_STACK_REGISTER(s[made].lo, s[made].lo + size);
#endif
        lsan_register(&s[made]);
    }
    if (made < n)
        munmap(base + made * span, (n - made) * span);
    atomic_fetch_add_explicit(&mapped, made, memory_order_relaxed);
    return made;
}

/* A new stack, and a batch of spares for the pool when memory allows. */
static int stack_map_new(sched__stack_t *s, size_t size)
{
    sched__stack_t batch[SCHED__STACK_MAP_BATCH];
    size_t made = stack_map(batch, SCHED__STACK_MAP_BATCH, size);
    if (made == 0)
        made =
            stack_map(batch, 1, size); /* a big map may fail where one fits */
    if (made == 0)
        return ENOMEM;
    *s = batch[0];
    for (size_t i = 1; i < made; i++)
        sched__stack_put(&batch[i]);
    return 0;
}

/* Clears ASan's poison from a stack: frames that never returned (a
 * goroutine's first ones) leave redzones behind that a new goroutine's
 * frames, or whatever is mapped here next, would trip over. Only from the
 * first poisoned byte up (the used part is at the top): writing the shadow of
 * the whole stack would allocate it, 32 KiB of shadow per stack. */
static void asan_clear(const sched__stack_t *s)
{
    if (!SCHED__ASAN || !__asan_region_is_poisoned)
        return;
    char *p = __asan_region_is_poisoned(s->lo, s->size);
    if (p)
        __asan_unpoison_memory_region(p, (size_t)(s->lo + s->size - p));
}

static void stack_unmap(sched__stack_t *s)
{
    atomic_fetch_sub_explicit(&mapped, 1, memory_order_relaxed);
    lsan_unregister(s);
#if SCHED__VALGRIND
    VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
    asan_clear(s);
    munmap(s->lo - guard_size(), guard_size() + s->size);
}

/* pool_lock held. Doubles the pool's array; false without memory (the stack
 * is then unmapped instead). */
static bool pool_grow_locked(void)
{
    size_t cap = pool_cap ? 2 * pool_cap : SCHED__STACK_POOL_KEEP;
    sched__stack_t *grown = realloc(pool, cap * sizeof *grown);
    if (!grown)
        return false;
    pool = grown;
    pool_cap = cap;
    return true;
}

/* Pops a pooled stack of the given size; stacks of an older size are unmapped
 * on the way (they only exist after sched__stack_set_size). */
static bool pool_pop(sched__stack_t *s, size_t size)
{
    bool found = false;
    sched__lock(&pool_lock);
    pool_ops++;
    while (pool_len > 0 && !found) {
        *s = pool[--pool_len];
        if (s->size == size)
            found = true;
        else
            stack_unmap(s);
    }
    sched__unlock(&pool_lock);
    return found;
}

void sched__stack_retire(sched__stack_t *s)
{
#if SCHED__STACK_DONTNEED
    (void)madvise(s->lo, s->size, MADV_DONTNEED);
#endif
    valgrind_noaccess(s->lo, s->size);
}

void sched__stack_revive(sched__stack_t *s)
{
    asan_clear(s);
#if SCHED__VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(s->lo, s->size); /* valgrind_noaccess */
#endif
}

int sched__stack_get(sched__stack_t *s)
{
    size_t size = sched__stack_size();
    sched__stack_t got;
    if (pool_pop(&got, size)) {
        sched__stack_revive(&got);
    } else {
        int err = stack_map_new(&got, size); /* clean: fresh pages */
        if (err)
            return err;
    }
    sched__invariant(got.lo && got.size == size, "stack: wrong size");
    *s = got;
    return 0;
}

int sched__stack_keep_or_get(sched__stack_t *s, size_t size)
{
    size_t want = size ? round_to_pages(size) : sched__stack_size();
    if (s->lo && s->size == want && want == sched__stack_size()) {
        sched__stack_revive(s);
        return 0;
    }
    if (s->lo) {
        sched__stack_put(s);
        *s = (sched__stack_t){0};
    }
    return sched__stack_get_size(s, size);
}

int sched__stack_get_size(sched__stack_t *s, size_t size)
{
    size = size ? round_to_pages(size) : sched__stack_size();
    if (size == sched__stack_size())
        return sched__stack_get(s);
    /* The rare goroutine that asked for more (or less): no batch, no pool. */
    return stack_map(s, 1, size) == 1 ? 0 : ENOMEM;
}

void sched__stack_put_batch(sched__stack_t *s, size_t n)
{
    for (; n > 64; s += 64, n -= 64)
        sched__stack_put_batch(s, 64);
    size_t size = sched__stack_size();
    /* Before another thread can pop them. Their goroutines are gone: goexit0
     * runs on the M's own stack. */
    for (size_t i = 0; i < n; i++)
        if (s[i].size == size)
            sched__stack_retire(&s[i]);
    uint64_t pooled = 0; /* bit i: s[i] went into the pool */
    sched__lock(&pool_lock);
    for (size_t i = 0; i < n; i++) {
        if (s[i].size == size && (pool_len < pool_cap || pool_grow_locked())) {
            pool[pool_len++] = s[i];
            pooled |= (uint64_t)1 << i;
        }
    }
    pool_ops++;
    sched__unlock(&pool_lock);
    for (size_t i = 0; i < n; i++) /* another size, or no room */
        if (!(pooled >> i & 1))
            stack_unmap(&s[i]);
}

void sched__stack_put(sched__stack_t *s)
{
    sched__stack_put_batch(s, 1);
}

size_t sched__stack_trim_if_quiet(size_t max, int64_t now)
{
    static uint64_t seen;       /* pool_ops at the last call; sysmon's own */
    static int64_t quiet_since; /* when pool_ops was last seen to change */
    sched__lock(&pool_lock);
    bool changed = pool_ops != seen;
    seen = pool_ops;
    sched__unlock(&pool_lock);
    if (changed)
        quiet_since = now;
    return !changed && now - quiet_since >= SCHED__STACK_TRIM_QUIET_NS
               ? sched__stack_trim(max)
               : 0;
}

size_t sched__stack_trim(size_t max)
{
    sched__stack_t batch[64];
    size_t done = 0;
    while (done < max) {
        size_t n = 0;
        sched__lock(&pool_lock);
        while (n < 64 && done + n < max && pool_len > SCHED__STACK_POOL_KEEP)
            batch[n++] = pool[--pool_len];
        sched__unlock(&pool_lock);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) /* outside the lock */
            stack_unmap(&batch[i]);
        done += n;
    }
    return done;
}

size_t sched__stack_mapped_count(void)
{
    return atomic_load_explicit(&mapped, memory_order_relaxed);
}

size_t sched__stack_pool_count(void)
{
    sched__lock(&pool_lock);
    size_t n = pool_len;
    sched__unlock(&pool_lock);
    return n;
}

void sched__stack_pool_drain(void)
{
    sched__lock(&pool_lock);
    while (pool_len > 0)
        stack_unmap(&pool[--pool_len]);
    sched__unlock(&pool_lock);
}

/* The pool a forked child forgot, still pointed to: leak checkers
 * (valgrind in the child) see it as reachable, not lost. */
__attribute__((used)) static sched__stack_t *forgotten_pool;

void sched__stack_atfork_child(void)
{
    forgotten_pool = pool;
    pool_lock = (sched__lock_t)SCHED__LOCK_INIT;
    pool = NULL;
    pool_len = pool_cap = 0;
}
