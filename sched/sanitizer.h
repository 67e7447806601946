/* sanitizer.h: internal to gochan, never installed. Whether AddressSanitizer,
 * ThreadSanitizer and valgrind are there to be told about goroutine stacks,
 * and the declarations for telling them, so that the code using them needs
 * no conditionals beyond `if (SCHED__ASAN)`.
 */
#ifndef GOCHAN_SCHED_SANITIZER_H
#define GOCHAN_SCHED_SANITIZER_H

#include <stddef.h>

/* The sanitizers' entry points are weak references, resolved at run time:
 * they are there when the program is built with that sanitizer, whether or
 * not libgochan itself is (a user's -fsanitize=thread program against the
 * stock library must still see goroutines as fibers), and NULL otherwise.
 * From <sanitizer/common_interface_defs.h>, <sanitizer/asan_interface.h> and
 * <sanitizer/tsan_interface.h>, declared here so that no header is needed. */
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size) __attribute__((weak));
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old)
    __attribute__((weak));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size)
    __attribute__((weak));
void *__asan_region_is_poisoned(void *beg, size_t size) __attribute__((weak));

/* <sanitizer/lsan_interface.h>: LeakSanitizer scans a root region for
 * pointers as it scans thread stacks. */
void __lsan_register_root_region(const void *p, size_t size)
    __attribute__((weak));
void __lsan_unregister_root_region(const void *p, size_t size)
    __attribute__((weak));

void *__tsan_get_current_fiber(void) __attribute__((weak));
void *__tsan_create_fiber(unsigned flags) __attribute__((weak));
void __tsan_destroy_fiber(void *fiber) __attribute__((weak));
void __tsan_switch_to_fiber(void *fiber, unsigned flags) __attribute__((weak));

/* Whether this process runs under AddressSanitizer / ThreadSanitizer. */
#define SCHED__ASAN (__sanitizer_start_switch_fiber != NULL)
#define SCHED__TSAN (__tsan_switch_to_fiber != NULL)

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define SCHED__VALGRIND 1
#endif
#endif
#ifndef SCHED__VALGRIND
#define SCHED__VALGRIND 0
#endif

#endif /* GOCHAN_SCHED_SANITIZER_H */
