# Shared helpers for the C tests; sorts first so every other tests/*.cmake
# may use them.
#
# sv_add_c_test(NAME src.c...) builds a test program linked against the
# drop-in libibverbs (target ibverbs) and registers it with ctest: exit 0
# pass, 1 fail, 77 skip (only when the machine lacks something). Tests
# start their own daemon via tests/svtest.h, which finds it through
# SVT_BINDIR (or $SOFTVERBSD). Every such test must need the daemon:
# zz-fake-daemon.cmake runs them all against a daemon that exits 1 and
# requires each to fail. A test that needs no daemon uses add_executable.
function(sv_add_c_test NAME)
  add_executable(${NAME} ${ARGN})
  target_include_directories(${NAME} PRIVATE
    ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(${NAME} PRIVATE
    SVT_BINDIR="${CMAKE_BINARY_DIR}/bin")
  target_link_libraries(${NAME} PRIVATE ibverbs Threads::Threads)
  add_dependencies(${NAME} softverbsd)
  add_test(NAME ${NAME} COMMAND ${NAME})
  set_tests_properties(${NAME} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
  set_property(GLOBAL APPEND PROPERTY SV_DAEMON_TESTS ${NAME})
endfunction()
