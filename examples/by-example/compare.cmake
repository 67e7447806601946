# Runs one gochan by Example program (C, or its Go twin built beforehand)
# and compares what it prints on stdout, and its exit status, with the
# chapter's expected output. Run as a CTest test:
#
#   cmake -DCOMMAND=<program> -DEXPECTED=<slug>.out -DRULE=<rule>
#         [-DMASK=<regex>] [-DSTATUS=<n>] -P compare.cmake
#
# RULE is exact (byte for byte), lines (the same lines in any order), masked
# (every match of MASK, a CMake regex, becomes # in both outputs first) or
# lines+masked (both). STATUS is the expected exit status (default 0).
cmake_minimum_required(VERSION 3.23)

foreach(var COMMAND EXPECTED RULE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compare.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED STATUS OR STATUS STREQUAL "")
  set(STATUS 0)
endif()
if(NOT RULE MATCHES "^(exact|lines|masked|lines\\+masked)$")
  message(FATAL_ERROR "compare.cmake: unknown rule '${RULE}'")
endif()
if(RULE MATCHES "masked" AND (NOT DEFINED MASK OR MASK STREQUAL ""))
  message(FATAL_ERROR "compare.cmake: rule ${RULE} needs -DMASK=<regex>")
endif()

execute_process(COMMAND ${COMMAND}
                OUTPUT_VARIABLE actual
                ERROR_VARIABLE errors
                RESULT_VARIABLE status
                TIMEOUT 120)
file(READ "${EXPECTED}" expected)

# Brings a text to the form the rule compares: masked, and for lines a
# sorted list of its lines. CMake lists split on ';' and nest on '[' ']', so
# those are encoded first (and never decoded: both sides get the same).
function(normalize text out)
  if(RULE MATCHES "masked")
    string(REGEX REPLACE "${MASK}" "#" text "${text}")
  endif()
  if(RULE MATCHES "lines")
    string(REPLACE ";" "<semicolon>" text "${text}")
    string(REPLACE "[" "<lbracket>" text "${text}")
    string(REPLACE "]" "<rbracket>" text "${text}")
    string(REPLACE "\n" ";" lines "${text}")
    list(SORT lines)
    string(REPLACE ";" "\n" text "${lines}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

normalize("${actual}" actual_n)
normalize("${expected}" expected_n)

set(failed "")
if(NOT "${status}" STREQUAL "${STATUS}")
  set(failed "exit status ${status}, expected ${STATUS}")
endif()
if(NOT actual_n STREQUAL expected_n)
  string(APPEND failed " output differs (rule ${RULE})")
endif()
if(failed)
  message("---- printed:\n${actual}---- expected (${EXPECTED}):\n${expected}"
          "---- stderr:\n${errors}----")
  if(RULE MATCHES "masked|lines")
    message("---- printed, as compared:\n${actual_n}\n"
            "---- expected, as compared:\n${expected_n}\n----")
  endif()
  message(FATAL_ERROR "${failed}")
endif()
