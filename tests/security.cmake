# Issue 18: security and robustness.
sv_add_c_test(test_fate ${CMAKE_CURRENT_LIST_DIR}/test_fate.c)
sv_add_c_test(test_flood ${CMAKE_CURRENT_LIST_DIR}/test_flood.c)
sv_add_c_test(test_cross_user ${CMAKE_CURRENT_LIST_DIR}/test_cross_user.c)
# Both users exit with objects open (reclaiming them is the daemon's job).
set_tests_properties(test_cross_user PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
