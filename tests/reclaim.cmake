sv_add_c_test(test_reclaim ${CMAKE_CURRENT_LIST_DIR}/test_reclaim.c)
