# Issue 15: LID routing between the daemon's InfiniBand devices.
sv_add_c_test(test_ib_route ${CMAKE_CURRENT_SOURCE_DIR}/test_ib_route.c)
# Both sides exit with their objects open: teardown is the daemon's job.
set_tests_properties(test_ib_route PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
