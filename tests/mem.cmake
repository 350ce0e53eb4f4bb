# Client memory (daemon/nic/mem.c): truncation, identity, sharing.
sv_add_c_test(test_mem_truncate ${CMAKE_CURRENT_LIST_DIR}/test_mem_truncate.c)
# These exit with objects open on purpose (the daemon reclaims them).
set_tests_properties(test_mem_truncate PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
