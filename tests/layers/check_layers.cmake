# Run by the CTest test "layers" (see CMakeLists.txt here).
set(failed FALSE)
function(probe target want_ok pattern)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR}
                          --target ${target}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(want_ok AND NOT rc EQUAL 0)
    message(SEND_ERROR "${target} should build:\n${out}")
  elseif(NOT want_ok AND rc EQUAL 0)
    message(SEND_ERROR "${target} built: an upward include was allowed")
  elseif(NOT want_ok AND NOT out MATCHES "${pattern}")
    message(SEND_ERROR "${target} failed, but not for ${pattern}:\n${out}")
  else()
    message(STATUS "${target}: as expected")
  endif()
endfunction()
probe(layer_probe_control TRUE "")
probe(layer_probe_sched_includes_chan FALSE "gochan/chan.h")
probe(layer_probe_chan_includes_select FALSE "gochan/select.h")
probe(layer_probe_chan_includes_sync FALSE "gochan/sync.h")
probe(layer_probe_select_includes_context FALSE "gochan/context.h")
probe(layer_probe_context_includes_park FALSE "park.h")
probe(layer_probe_context_includes_signal FALSE "gochan/signal.h")
probe(layer_probe_net_includes_signal FALSE "gochan/signal.h")
probe(layer_probe_chan_includes_sched_proc FALSE "proc.h")

# No library source reaches around the include path with a relative path.
file(GLOB_RECURSE sources ${SOURCE_DIR}/sched/*.[ch] ${SOURCE_DIR}/chan/*.[ch]
     ${SOURCE_DIR}/sync/*.[ch] ${SOURCE_DIR}/select/*.[ch]
     ${SOURCE_DIR}/context/*.[ch] ${SOURCE_DIR}/signal/*.[ch]
     ${SOURCE_DIR}/net/*.[ch])
foreach(src ${sources})
  file(STRINGS ${src} escapes REGEX "^[ \t]*#[ \t]*include[ \t]*\"\\.\\./")
  if(escapes)
    message(SEND_ERROR "${src} includes outside its layer: ${escapes}")
  endif()
endforeach()
