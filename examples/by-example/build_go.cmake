# Builds every Go twin named in CHAPTERS (a list of slugs) from SOURCE_DIR
# into BIN_DIR with GO, one `go build` each, sharing one build cache (the
# test's environment sets GOCACHE and friends under the build tree). The
# by-example-go_build test runs it once, as the fixture of every Go test.
cmake_minimum_required(VERSION 3.23)
file(MAKE_DIRECTORY "${BIN_DIR}")
foreach(slug ${CHAPTERS})
  execute_process(COMMAND "${GO}" build -o "${BIN_DIR}/${slug}"
                          "${SOURCE_DIR}/${slug}.go"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "go build ${slug}.go failed (${rc})")
  endif()
endforeach()
