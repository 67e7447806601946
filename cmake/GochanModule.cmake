# gochan_layer(<target> <dir> [USES <layer>...] [FRIEND_OF <layer>...])
#
# Gives <target> a layer's build settings: its own directory <dir> as a
# PRIVATE include directory, its public headers (<dir>/include, if any) as
# PUBLIC ones, and for each layer below it that it USES, that layer's public
# headers and the internal headers it offers upward (gochan_<layer>_upward).
# FRIEND_OF also opens a layer's private directory, as select/ may read the
# channel internals (Go's select.go lives in the runtime beside chan.go).
# Nothing else is on the include path, so an include of a header of a layer
# above, or of one not used, fails to build.
function(gochan_layer target dir)
  cmake_parse_arguments(L "" "" "USES;FRIEND_OF" ${ARGN})
  # Invariants are checked in Debug and in every sanitizer build.
  set(sanitized OFF)
  if(GOCHAN_SANITIZER)
    set(sanitized ON)
  endif()
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE GOCHAN_BUILDING
    $<$<OR:$<CONFIG:Debug>,$<BOOL:${sanitized}>>:GOCHAN_INVARIANTS>)
  target_include_directories(${target} PRIVATE ${dir})
  if(EXISTS ${dir}/include)
    target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${dir}/include>)
  endif()
  foreach(layer ${L_USES})
    target_link_libraries(${target} PRIVATE gochan_${layer} gochan_${layer}_upward)
  endforeach()
  foreach(layer ${L_FRIEND_OF})
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/${layer})
  endforeach()
  target_link_libraries(${target} PUBLIC Threads::Threads
                        PRIVATE $<BUILD_INTERFACE:gochan_build_flags>)
  set_target_properties(${target} PROPERTIES C_VISIBILITY_PRESET hidden)
endfunction()

# gochan_module(<layer> SOURCES <file>... [UPWARD <dir>] [USES ...] [FRIEND_OF ...])
#
# One layer's object library, gochan_<layer>, and gochan_<layer>_upward, the
# INTERFACE target that carries the internal headers the layer offers the
# layers above it (UPWARD, a directory; none by default).
function(gochan_module layer)
  cmake_parse_arguments(M "" "UPWARD" "SOURCES;USES;FRIEND_OF" ${ARGN})
  add_library(gochan_${layer} OBJECT ${M_SOURCES})
  gochan_layer(gochan_${layer} ${CMAKE_CURRENT_SOURCE_DIR}
               USES ${M_USES} FRIEND_OF ${M_FRIEND_OF})
  add_library(gochan_${layer}_upward INTERFACE)
  if(M_UPWARD)
    target_include_directories(gochan_${layer}_upward INTERFACE
                               ${CMAKE_CURRENT_SOURCE_DIR}/${M_UPWARD})
  endif()
  set_property(GLOBAL APPEND PROPERTY GOCHAN_MODULES gochan_${layer})
endfunction()
