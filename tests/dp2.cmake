# Data path tests of the dptest helper (issue 10 "what it must show"):
# every operation and error status, the QP limit, loss.
sv_add_c_test(test_ops_matrix ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_matrix.c)
set_tests_properties(test_ops_matrix PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sv_add_c_test(test_err_status ${CMAKE_CURRENT_SOURCE_DIR}/test_err_status.c)
set_tests_properties(test_err_status PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sv_add_c_test(test_max_qp ${CMAKE_CURRENT_SOURCE_DIR}/test_max_qp.c)
set_tests_properties(test_max_qp PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
