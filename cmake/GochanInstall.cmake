# cmake --install: headers as <gochan/...>, the libraries, gochan.pc and a
# CMake package so that find_package(gochan) gives gochan::gochan.
include(CMakePackageConfigHelpers)

install(TARGETS gochan gochan_static EXPORT gochanTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(module chan sync select context signal net)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
endforeach()

install(EXPORT gochanTargets NAMESPACE gochan::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gochan)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/gochanConfig.cmake.in
  ${PROJECT_BINARY_DIR}/gochanConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gochan)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gochanConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gochanConfig.cmake
              ${PROJECT_BINARY_DIR}/gochanConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gochan)

# Relocatable: prefix is derived from where the .pc file sits.
file(RELATIVE_PATH GOCHAN_PC_TO_PREFIX
     "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
configure_file(${PROJECT_SOURCE_DIR}/cmake/gochan.pc.in
               ${PROJECT_BINARY_DIR}/gochan.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/gochan.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# valgrind suppressions for gochan's own long-lived threads (see the file).
install(FILES ${PROJECT_SOURCE_DIR}/cmake/gochan.supp
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gochan)

# gdb's goroutine commands (gdb/gochan-gdb.py): where gdb auto-loads them for
# the library (<datadir>/gdb/auto-load/<full libdir>/<library's real file
# name>-gdb.py; gdb loads it from there when that directory is in its
# auto-load safe-path, e.g. for a /usr install), and under share/gochan for
# `source` by hand.
install(FILES ${PROJECT_SOURCE_DIR}/gdb/gochan-gdb.py
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gochan)
install(FILES ${PROJECT_SOURCE_DIR}/gdb/gochan-gdb.py
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gdb/auto-load${CMAKE_INSTALL_FULL_LIBDIR}
        RENAME libgochan.so.${PROJECT_VERSION}-gdb.py)
