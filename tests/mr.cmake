# Memory and simple objects: PD, MR, MW, AH, import.
sv_add_c_test(test_mr_validate ${CMAKE_CURRENT_LIST_DIR}/test_mr_validate.c)
sv_add_c_test(test_pd_basic ${CMAKE_CURRENT_LIST_DIR}/test_pd_basic.c)
sv_add_c_test(test_odp ${CMAKE_CURRENT_LIST_DIR}/test_odp.c)
