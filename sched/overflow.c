/* overflow.c: a goroutine that overflows its stack dies with a message
 * ("gochan: goroutine N stack overflow") instead of a bare SIGSEGV.
 *
 * The guard below each stack (stack.c) turns an overflow into a fault
 * whose address lies just below the running goroutine's stack. That fault
 * cannot be handled on the overflowed stack itself, so each M has an
 * alternate signal stack and the handler runs there (SA_ONSTACK). Any other
 * fault goes to the handler that was installed before ours (a sanitizer's,
 * the application's), or gets the default action.
 */
#include "overflow.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proc.h"

/* A fault this far below a stack is taken for an overflow: one in the guard
 * (SCHED__STACK_GUARD, the largest frame whose overflow is sure to be
 * caught). */
#define OVERFLOW_SPAN SCHED__STACK_GUARD

#define ALTSTACK_SIZE (64u * 1024u)

static struct sigaction previous; /* set once, before ours is installed */

static void write_str(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

/* Async-signal-safe: no stdio. */
static void report_overflow(uint64_t goid)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + goid % 10);
        goid /= 10;
    } while (goid);
    char line[64] = "gochan: goroutine ";
    size_t len = strlen(line);
    while (n > 0)
        line[len++] = digits[--n];
    line[len] = '\0';
    write_str(line);
    write_str(" stack overflow\n");
}

static bool is_overflow(const sched_g *gp, const char *addr)
{
    return gp && gp->stack.lo && addr < gp->stack.lo &&
           (size_t)(gp->stack.lo - addr) <= OVERFLOW_SPAN;
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    sched_g *gp = sched_getg();
    if (is_overflow(gp, info->si_addr)) {
        report_overflow(sched_goid(gp));
        abort();
    }
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, uctx);
    } else if (previous.sa_handler == SIG_DFL ||
               previous.sa_handler == SIG_IGN) {
        /* Put the default back; returning re-executes the faulting access,
         * which then takes it (a core dump, as without us). */
        signal(sig, SIG_DFL);
    } else {
        previous.sa_handler(sig);
    }
}

int sched__signal_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSEGV, &sa, &previous) == 0 ? 0 : errno;
}

bool sched__signal_unchain(int sig, struct sigaction *sa)
{
    if (sig != SIGSEGV || !(sa->sa_flags & SA_SIGINFO) ||
        sa->sa_sigaction != on_segv)
        return false;
    *sa = previous; /* written once, before on_segv was installed */
    return true;
}

int sched__signal_altstack(void)
{
    void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return ENOMEM;
    stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        int err = errno;
        munmap(p, ALTSTACK_SIZE);
        return err;
    }
    return 0;
}
