# Runs every gochan by Example program once with GOCHAN_TRACE=OUT/<slug>.json
# so that gen.py can draw each chapter's goroutine timeline from its trace.
# Used by the by-example-site target and by CTest's by-example_site_traces
# (the fixture of by-example_site):
#
#   cmake -DCHAPTERS=<chapters.txt> -DBIN_DIR=<dir of byex_*> -DOUT=<dir>
#         -P traces.cmake
#
# A program that exits with another status than chapters.txt's status=N, or
# writes no trace (a library without the tracer), is reported and skipped:
# its page says it has no timeline. The programs read no input (stdin is
# /dev/null) and each runs for under a second; TIMEOUT bounds a stuck one.
cmake_minimum_required(VERSION 3.23)

foreach(var CHAPTERS BIN_DIR OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "traces.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED TIMEOUT)
  set(TIMEOUT 60)
endif()

file(MAKE_DIRECTORY ${OUT})
file(STRINGS ${CHAPTERS} lines)
set(total 0)
set(written 0)
foreach(line ${lines})
  if(line MATCHES "^#" OR line STREQUAL "")
    continue()
  endif()
  string(REPLACE "\t" ";" fields "${line}")
  list(GET fields 0 slug)
  set(status 0)
  if(line MATCHES "\tstatus=([0-9]+)")
    set(status ${CMAKE_MATCH_1})
  endif()
  math(EXPR total "${total} + 1")
  string(REPLACE "-" "_" exe byex_${slug})
  set(trace ${OUT}/${slug}.json)
  file(REMOVE ${trace})
  if(NOT EXISTS ${BIN_DIR}/${exe})
    message(WARNING "traces: ${slug}: no program ${BIN_DIR}/${exe}")
    continue()
  endif()
  set(ENV{GOCHAN_TRACE} ${trace})
  execute_process(COMMAND ${BIN_DIR}/${exe}
                  INPUT_FILE /dev/null
                  OUTPUT_QUIET
                  ERROR_VARIABLE errors
                  RESULT_VARIABLE rc
                  TIMEOUT ${TIMEOUT})
  unset(ENV{GOCHAN_TRACE})
  if(NOT "${rc}" STREQUAL "${status}")
    message(WARNING "traces: ${slug}: exit status ${rc}, expected ${status}"
                    "\n${errors}")
  endif()
  if(EXISTS ${trace})
    math(EXPR written "${written} + 1")
  endif()
endforeach()
message(STATUS "traces: ${written} of ${total} chapters wrote a trace "
               "into ${OUT}")
