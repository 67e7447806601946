/* sanitizer.h: internal to gochan, never installed. Which of AddressSanitizer,
 * ThreadSanitizer and valgrind can be told about goroutine stacks, and the
 * declarations for telling them, so that the code using them needs no
 * conditionals beyond `if (SCHED__ASAN)`.
 */
#ifndef GOCHAN_SCHED_SANITIZER_H
#define GOCHAN_SCHED_SANITIZER_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCHED__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define SCHED__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SCHED__ASAN)
#define SCHED__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(SCHED__TSAN)
#define SCHED__TSAN 1
#endif
#ifndef SCHED__ASAN
#define SCHED__ASAN 0
#endif
#ifndef SCHED__TSAN
#define SCHED__TSAN 0
#endif

#if SCHED__ASAN
/* From <sanitizer/common_interface_defs.h> and <sanitizer/asan_interface.h>,
 * declared here so that no header path is needed. */
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void *__asan_region_is_poisoned(void *beg, size_t size);
#endif

#if SCHED__TSAN
/* From <sanitizer/tsan_interface.h>. */
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_set_fiber_name(void *fiber, const char *name);
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SCHED__VALGRIND 1
#endif
#endif
#ifndef SCHED__VALGRIND
#define SCHED__VALGRIND 0
#endif

#endif /* GOCHAN_SCHED_SANITIZER_H */
