/* fiber.c: annotated context switches (see fiber.h). */
#include "fiber.h"

#include <pthread.h>
#include <stdlib.h>

#include "sanitizer.h"

void sched__fiber_init_thread(sched__fiber_t *f)
{
    *f = (sched__fiber_t){0};
    if (SCHED__ASAN) {
        pthread_attr_t attr;
        void *lo;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
                f->stack_lo = lo;
                f->stack_size = size;
            }
            pthread_attr_destroy(&attr);
        }
    }
    if (SCHED__TSAN) {
        f->tsan = __tsan_get_current_fiber();
    }
}

void sched__fiber_make(sched__fiber_t *f, const sched__stack_t *st,
                       void (*entry)(void *), void *arg)
{
    *f = (sched__fiber_t){0};
    f->entry = entry;
    f->entry_arg = arg;
    f->fpcontrol = sched__ctx_fpcontrol(); /* inherited from the maker */
    f->stack_lo = st->lo;
    f->stack_size = st->size;
    if (SCHED__TSAN) {
        f->tsan = __tsan_create_fiber(0);
    }
}

void sched__fiber_started(void)
{
    if (SCHED__ASAN) {
        /* No fake stack yet: this fiber never ran. */
        __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
    }
}

/* The first switch to a fiber writes its first frame (see fiber.h). */
static void make_ctx_if_new(sched__fiber_t *f)
{
    if (!f->ctx)
        f->ctx = sched__ctx_make((char *)f->stack_lo + f->stack_size, f->entry,
                                 f->entry_arg, f->fpcontrol);
}

#ifndef SCHED__FIBER_PREFETCH
#define SCHED__FIBER_PREFETCH 1024
#endif

void sched__fiber_prefetch(const sched__fiber_t *to)
{
    const char *sp = to->ctx;
    if (!sp || !to->stack_lo)
        return;
    const char *top = (const char *)to->stack_lo + to->stack_size;
    if (sp >= top)
        return;
    size_t len = (size_t)(top - sp);
    if (len > SCHED__FIBER_PREFETCH)
        len = SCHED__FIBER_PREFETCH;
    for (size_t off = 0; off < len; off += 64)
        __builtin_prefetch(sp + off);
}

void sched__fiber_switch(sched__fiber_t *from, sched__fiber_t *to)
{
    make_ctx_if_new(to);
    if (SCHED__ASAN) {
        __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->stack_lo,
                                       to->stack_size);
    }
    if (SCHED__TSAN) {
        __tsan_switch_to_fiber(to->tsan, 0);
    }
    sched__ctx_switch(&from->ctx, to->ctx);
    if (SCHED__ASAN) {
        __sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
    }
}

void sched__fiber_exit(sched__fiber_t *from, sched__fiber_t *to)
{
    if (SCHED__ASAN) {
        /* NULL: the fiber dies, so ASan frees its fake stack. */
        __sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
    }
    if (SCHED__TSAN) {
        __tsan_switch_to_fiber(to->tsan, 0);
    }
    sched__ctx_switch(&from->ctx, to->ctx);
    abort(); /* nothing switches back to a fiber that exited */
}

void sched__fiber_destroy(sched__fiber_t *f)
{
    if (SCHED__TSAN) {
        if (f->tsan)
            __tsan_destroy_fiber(f->tsan);
    }
    f->tsan = NULL;
}
