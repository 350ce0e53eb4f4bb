# Issue 18 (security helper): a connected QP takes packets only from its
# peer, and refusals are counted in `softverbs dev list`.
sv_add_c_test(test_sec_foreign ${CMAKE_CURRENT_LIST_DIR}/test_sec_foreign.c)
set_tests_properties(test_sec_foreign PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
