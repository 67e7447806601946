# Run by the CTest test typed_wrong_type_does_not_compile (CMakeLists.txt in
# tests/). Compiles probes.c with the C compiler: the control must compile,
# every PROBE must fail, and for the reason it names (an incompatible type).
# -Werror=incompatible-pointer-types is what GCC 14 and later do by default;
# older compilers warn, and -Werror or -pedantic-errors make it an error.
set(flags -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only
          -I${SOURCE_DIR}/chan/include -I${SOURCE_DIR}/select/include)
set(failed FALSE)
execute_process(COMMAND ${CC} ${flags} ${SOURCE_DIR}/tests/typed/probes.c
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(SEND_ERROR "the control should compile:\n${out}")
  set(failed TRUE)
endif()
foreach(n RANGE 1 8)
  execute_process(COMMAND ${CC} -std=c11 -fsyntax-only
                          -Werror=incompatible-pointer-types
                          -I${SOURCE_DIR}/chan/include
                          -I${SOURCE_DIR}/select/include -DPROBE=${n}
                          ${SOURCE_DIR}/tests/typed/probes.c
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0)
    message(SEND_ERROR "PROBE=${n} compiled: a wrong type was accepted")
    set(failed TRUE)
  elseif(NOT out MATCHES "incompatible")
    message(SEND_ERROR "PROBE=${n} failed, but not for a type:\n${out}")
    set(failed TRUE)
  else()
    message(STATUS "PROBE=${n}: rejected, as it must be")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "typed channels: see above")
endif()
