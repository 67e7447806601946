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
    sched__ctx_t main, co;
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
    co_t *c = p;
    c->entered++;
    c->aligned = frame_is_aligned();
    /* glibc's printf of a double uses aligned SSE moves on x86-64: a
     * misaligned stack would crash here. */
    snprintf(c->formatted, sizeof c->formatted, "%.2f", 2.5);
    for (;;) {
        c->rounds++;
        sched__ctx_switch(&c->co, c->main);
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
    c.co = sched__ctx_make(st.lo + st.size, co_counter, &c);
    volatile int local = 42;
    for (int i = 1; i <= 1000; i++) {
        sched__ctx_switch(&c.main, c.co);
        ck_assert_int_eq(c.rounds, i);
    }
    ck_assert_int_eq(c.entered, 1);
    ck_assert(c.aligned);
    ck_assert_str_eq(c.formatted, "2.50");
    ck_assert_int_eq(local, 42);
    sched__stack_put(&st);
}
END_TEST

static void co_rounding(void *p)
{
    co_t *c = p;
    c->round_mode_at_start = fegetround();
    fesetround(FE_UPWARD);
    for (;;) {
        c->rounds = fegetround() == FE_UPWARD;
        sched__ctx_switch(&c->co, c->main);
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
    ck_assert_int_eq(fesetround(FE_DOWNWARD), 0);
    c.co = sched__ctx_make(st.lo + st.size, co_rounding, &c);
    ck_assert_int_eq(fesetround(FE_TONEAREST), 0);
    sched__ctx_switch(&c.main, c.co);
    ck_assert_int_eq(c.round_mode_at_start, FE_DOWNWARD);
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    sched__ctx_switch(&c.main, c.co);
    ck_assert_int_eq(c.rounds, 1); /* still FE_UPWARD over there */
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
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
