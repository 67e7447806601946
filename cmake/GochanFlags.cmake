# Warnings and sanitizers live in one INTERFACE target that every gochan target
# links PRIVATE, so they never leak into consumers' builds.
add_library(gochan_build_flags INTERFACE)
target_compile_options(gochan_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  $<$<BOOL:${GOCHAN_WERROR}>:-Werror>)
if(GOCHAN_SANITIZER)
  target_compile_options(gochan_build_flags INTERFACE
    -fsanitize=${GOCHAN_SANITIZER} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(gochan_build_flags INTERFACE -fsanitize=${GOCHAN_SANITIZER})
endif()
# The portable lock and parker (lock.h, chan/park_cond.c) on Linux too, to
# test them where they are not the default.
# The lock-free buffered channels (chan/chan_lf.h): every gochan target and
# test sees the same struct chan.
if(GOCHAN_CHAN_LOCKFREE)
  target_compile_definitions(gochan_build_flags INTERFACE GOCHAN_CHAN_LOCKFREE)
endif()
if(NOT GOCHAN_FUTEX_BUILD)
  target_compile_definitions(gochan_build_flags INTERFACE GOCHAN_NO_FUTEX)
endif()
