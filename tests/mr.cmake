# Memory and simple objects: PD, MR, MW, AH, import.
sv_add_c_test(test_mr_validate ${CMAKE_CURRENT_LIST_DIR}/test_mr_validate.c)
sv_add_c_test(test_pd_basic ${CMAKE_CURRENT_LIST_DIR}/test_pd_basic.c)
sv_add_c_test(test_odp ${CMAKE_CURRENT_LIST_DIR}/test_odp.c)
# ODP with import, parent domains, dma-buf and DM (issue 19).
sv_add_c_test(test_odp_combo ${CMAKE_CURRENT_LIST_DIR}/test_odp_combo.c)
set_tests_properties(test_odp_combo PROPERTIES ENVIRONMENT
  "ASAN_OPTIONS=detect_leaks=0")
# The library's lkey registry by iova: capture at post and ODP prefetch (mr_keys.c).
sv_add_c_test(test_mr_keys ${CMAKE_CURRENT_LIST_DIR}/test_mr_keys.c)
