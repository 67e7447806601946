/* check_sched.c: the scheduler suite (sched_suite): sched/'s context switch,
 * goroutine stacks, run queues, and goroutines parked and readied with
 * sched_gopark and sched_goready (Go's runtime/proc_test.go, where it
 * applies).
 *
 * The scheduler is internal, so this suite includes sched/'s headers. Each
 * test runs in its own forked child (Check's default), so each starts with a
 * scheduler that has not started yet. Goroutines report through atomics and
 * flags; the test thread, a plain pthread, asserts.
 *
 * The executable is linked with -Wl,--wrap=mmap (see CMakeLists.txt), so the
 * library's stack mappings go through the wrapper below, which can make them
 * fail.
 */
#include <check.h>
#include <errno.h>
#include <fenv.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sched/context.h"
#include "sched/fiber.h"

#include "testutil.h"

Suite *sched_suite(void);

/* ---- mmap, failing on demand --------------------------------------------- */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);

static atomic_bool mmap_fails;

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    if (atomic_load(&mmap_fails)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return __real_mmap(addr, len, prot, flags, fd, off);
}

/* ---- context switch ------------------------------------------------------ */

typedef struct {
    sched__fiber_t main, co;
    int entered;
    int rounds;
    int round_mode_at_start;
    bool aligned;
    char formatted[32];
} co_t;

/* A frame address is 16-byte aligned when the stack was at entry (x86-64:
 * rbp after its push; AArch64: x29 = sp). */
static __attribute__((noinline)) bool frame_is_aligned(void)
{
    return ((uintptr_t)__builtin_frame_address(0) & 15) == 0;
}

static void co_counter(void *p)
{
    sched__fiber_started();
    co_t *c = p;
    c->entered++;
    c->aligned = frame_is_aligned();
    /* glibc's printf of a double uses aligned SSE moves on x86-64: a
     * misaligned stack would crash here. */
    snprintf(c->formatted, sizeof c->formatted, "%.2f", 2.5);
    for (;;) {
        c->rounds++;
        sched__fiber_switch(&c->co, &c->main);
    }
}

/* A new context runs its entry on its own stack, 16-byte aligned; each switch
 * to it resumes it where it switched away, and each switch back resumes the
 * caller, with its locals (callee-saved registers) intact. */
START_TEST(test_switch_roundtrip)
{
    sched__stack_t st;
    ck_assert_int_eq(sched__stack_get(&st), 0);
    co_t c = {0};
    sched__fiber_init_thread(&c.main);
    sched__fiber_make(&c.co, &st, co_counter, &c);
    volatile int local = 42;
    for (int i = 1; i <= 1000; i++) {
        sched__fiber_switch(&c.main, &c.co);
        ck_assert_int_eq(c.rounds, i);
    }
    ck_assert_int_eq(c.entered, 1);
    ck_assert(c.aligned);
    ck_assert_str_eq(c.formatted, "2.50");
    ck_assert_int_eq(local, 42);
    sched__fiber_destroy(&c.co);
    sched__stack_put(&st);
}
END_TEST

static void co_rounding(void *p)
{
    sched__fiber_started();
    co_t *c = p;
    c->round_mode_at_start = fegetround();
    fesetround(FE_UPWARD);
    for (;;) {
        c->rounds = fegetround() == FE_UPWARD;
        sched__fiber_switch(&c->co, &c->main);
    }
}

/* The floating-point control state belongs to the context, as it belongs to
 * the thread for pthreads: a new context starts with its creator's, and a
 * context's changes stay with it across switches. */
START_TEST(test_switch_fp_control)
{
    sched__stack_t st;
    ck_assert_int_eq(sched__stack_get(&st), 0);
    co_t c = {0};
    sched__fiber_init_thread(&c.main);
    ck_assert_int_eq(fesetround(FE_DOWNWARD), 0);
    sched__fiber_make(&c.co, &st, co_rounding, &c);
    ck_assert_int_eq(fesetround(FE_TONEAREST), 0);
    sched__fiber_switch(&c.main, &c.co);
    ck_assert_int_eq(c.round_mode_at_start, FE_DOWNWARD);
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    sched__fiber_switch(&c.main, &c.co);
    ck_assert_int_eq(c.rounds, 1); /* still FE_UPWARD over there */
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    sched__fiber_destroy(&c.co);
    sched__stack_put(&st);
}
END_TEST

typedef struct {
    sched__fiber_t main, co;
    char *seen;
} dying_t;

static __attribute__((noinline)) void use(volatile char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)i;
}

/* Dies in the middle of a frame with a large local array, leaving its
 * redzones poisoned under ASan. */
static void co_die_mid_frame(void *p)
{
    sched__fiber_started();
    dying_t *d = p;
    volatile char big[3000];
    use(big, sizeof big);
    d->seen = (char *)big;
    sched__fiber_exit(&d->co, &d->main);
}

/* Fills its stack with frames of another shape. */
static void co_reuse(void *p)
{
    sched__fiber_started();
    dying_t *d = p;
    volatile char buf[8192];
    use(buf, sizeof buf);
    d->seen = (char *)buf;
    sched__fiber_exit(&d->co, &d->main);
}

/* A fiber that exits for good never runs again, and its stack, back in the
 * pool, serves a new fiber with differently shaped frames: the sanitizers
 * must not see the old frames in it (ASan's redzones are cleared on reuse). */
START_TEST(test_switch_exit_and_reuse)
{
    dying_t d = {0};
    sched__fiber_init_thread(&d.main);
    sched__stack_t st;
    ck_assert_int_eq(sched__stack_get(&st), 0);
    sched__fiber_make(&d.co, &st, co_die_mid_frame, &d);
    sched__fiber_switch(&d.main, &d.co);
    ck_assert(d.seen >= st.lo && d.seen < st.lo + st.size);
    sched__fiber_destroy(&d.co);
    char *lo = st.lo;
    sched__stack_put(&st);

    ck_assert_int_eq(sched__stack_get(&st), 0);
    ck_assert_ptr_eq(st.lo, lo);
    d.seen = NULL;
    sched__fiber_make(&d.co, &st, co_reuse, &d);
    sched__fiber_switch(&d.main, &d.co);
    ck_assert(d.seen >= st.lo && d.seen < st.lo + st.size);
    sched__fiber_destroy(&d.co);
    sched__stack_put(&st);
}
END_TEST

/* ---- stacks -------------------------------------------------------------- */

/* True when the kernel can read the byte at p (a guard page makes it fault:
 * EFAULT, without a signal). */
static bool readable(const char *p)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    bool ok = write(fds[1], p, 1) == 1;
    close(fds[0]);
    close(fds[1]);
    return ok;
}

/* A stack is the current size, readable and writable from lo to its top, with
 * an inaccessible guard page just below lo. */
START_TEST(test_stack_guard)
{
    sched__stack_t st;
    ck_assert_int_eq(sched__stack_get(&st), 0);
    ck_assert_uint_eq(st.size, SCHED__STACK_DEFAULT);
    st.lo[0] = 1;
    st.lo[st.size - 1] = 1;
    ck_assert(readable(st.lo));
    ck_assert(readable(st.lo + st.size - 1));
    ck_assert(!readable(st.lo - 1));
    ck_assert(!readable(st.lo - getpagesize()));
    sched__stack_put(&st);
}
END_TEST

/* Freed stacks are reused, last freed first; the pool keeps at most
 * SCHED__STACK_POOL_MAX and unmaps the rest. */
START_TEST(test_stack_reuse)
{
    sched__stack_t a, b, c;
    ck_assert_int_eq(sched__stack_get(&a), 0);
    ck_assert_int_eq(sched__stack_get(&b), 0);
    ck_assert_ptr_ne(a.lo, b.lo);
    sched__stack_put(&a);
    sched__stack_put(&b);
    ck_assert_uint_eq(sched__stack_pool_count(), 2);
    ck_assert_int_eq(sched__stack_get(&c), 0);
    ck_assert_ptr_eq(c.lo, b.lo);
    ck_assert_int_eq(sched__stack_get(&c), 0);
    ck_assert_ptr_eq(c.lo, a.lo);
    ck_assert_uint_eq(sched__stack_pool_count(), 0);
    sched__stack_put(&c);

    enum { N = SCHED__STACK_POOL_MAX + 10 };
    static sched__stack_t many[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(sched__stack_get(&many[i]), 0);
    for (int i = 0; i < N; i++)
        sched__stack_put(&many[i]);
    ck_assert_uint_eq(sched__stack_pool_count(), SCHED__STACK_POOL_MAX);
    sched__stack_pool_drain();
    ck_assert_uint_eq(sched__stack_pool_count(), 0);
}
END_TEST

/* When the stack cannot be mapped, sched__stack_get is ENOMEM and leaves its
 * argument alone; it works again once memory is back. */
START_TEST(test_stack_enomem)
{
    sched__stack_t st = {.lo = NULL, .size = 7};
    atomic_store(&mmap_fails, true);
    ck_assert_int_eq(sched__stack_get(&st), ENOMEM);
    ck_assert_ptr_null(st.lo);
    ck_assert_uint_eq(st.size, 7);
    atomic_store(&mmap_fails, false);
    ck_assert_int_eq(sched__stack_get(&st), 0);
    sched__stack_put(&st);
}
END_TEST

/* GOCHAN_STACK_SIZE sets the size of stacks, in bytes rounded up to pages. */
START_TEST(test_stack_size_env)
{
    setenv("GOCHAN_STACK_SIZE", "100000", 1);
    size_t page = (size_t)getpagesize();
    ck_assert_uint_eq(sched__stack_size(), (100000 + page - 1) / page * page);
    sched__stack_t st;
    ck_assert_int_eq(sched__stack_get(&st), 0);
    ck_assert_uint_eq(st.size, sched__stack_size());
    sched__stack_put(&st);
}
END_TEST

/* Absurd values of GOCHAN_STACK_SIZE are ignored: the default applies. */
START_TEST(test_stack_size_env_absurd)
{
    static const char *absurd[] = {"1",   "0", "-262144",
                                   "12x", "",  "99999999999999999999999"};
    setenv("GOCHAN_STACK_SIZE", absurd[_i], 1);
    ck_assert_uint_eq(sched__stack_size(), SCHED__STACK_DEFAULT);
}
END_TEST

/* The internal setter takes sizes in [SCHED__STACK_MIN, SCHED__STACK_MAX],
 * rounded up to pages, and later stacks have the new size; pooled stacks of
 * the old size are not handed out any more. */
START_TEST(test_stack_set_size)
{
    ck_assert_int_eq(sched__stack_set_size(SCHED__STACK_MIN - 1), EINVAL);
    ck_assert_int_eq(sched__stack_set_size((size_t)SCHED__STACK_MAX + 1),
                     EINVAL);
    ck_assert_uint_eq(sched__stack_size(), SCHED__STACK_DEFAULT);
    sched__stack_t old;
    ck_assert_int_eq(sched__stack_get(&old), 0);
    sched__stack_put(&old);
    ck_assert_int_eq(sched__stack_set_size(SCHED__STACK_MIN + 1), 0);
    size_t page = (size_t)getpagesize();
    ck_assert_uint_eq(sched__stack_size(), SCHED__STACK_MIN + page);
    sched__stack_t st;
    ck_assert_int_eq(sched__stack_get(&st), 0);
    ck_assert_uint_eq(st.size, SCHED__STACK_MIN + page);
    ck_assert_uint_eq(sched__stack_pool_count(), 0);
    sched__stack_put(&st);
}
END_TEST

/* ---- the suite ----------------------------------------------------------- */

Suite *sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc;

    tc = tu_tcase(s, "switch", 10);
    tcase_add_test(tc, test_switch_roundtrip);
    tcase_add_test(tc, test_switch_fp_control);
    tcase_add_test(tc, test_switch_exit_and_reuse);

    tc = tu_tcase(s, "stack", 30);
    tcase_add_test(tc, test_stack_guard);
    tcase_add_test(tc, test_stack_reuse);
    tcase_add_test(tc, test_stack_enomem);
    tcase_add_test(tc, test_stack_size_env);
    tcase_add_loop_test(tc, test_stack_size_env_absurd, 0, 6);
    tcase_add_test(tc, test_stack_set_size);

    return s;
}

int main(void)
{
    return tu_run(sched_suite());
}
