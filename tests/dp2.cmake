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
# Loss tests over the transport's SOFTVERBS_LOSS knob. 100 MB per loss
# rate (7-13 s each at load 20 on 2 cores); 25 MB in the sanitizer build.
sv_add_c_test(test_loss_mixed ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_mixed.c)
sv_add_c_test(test_loss_total ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_total.c)
if(SV_SANITIZE)
  set(sv_loss_mb 25)
else()
  set(sv_loss_mb 100)
endif()
set_tests_properties(test_loss_mixed PROPERTIES TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0;SVT_LOSS_MB=${sv_loss_mb}")
set_tests_properties(test_loss_total PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
