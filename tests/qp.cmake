# QPs, SRQs and XRC domains (control path).
sv_add_c_test(test_qp_state ${CMAKE_CURRENT_LIST_DIR}/test_qp_state.c)
# Thread domains and parent domains (lib/providers/softverbs/domain.c).
sv_add_c_test(test_td ${CMAKE_CURRENT_LIST_DIR}/test_td.c)
# A receive posted to a QP in ERROR is flushed (post.c rings for it).
sv_add_c_test(test_recv_err_flush ${CMAKE_CURRENT_LIST_DIR}/test_recv_err_flush.c)
# ibv_open_qp: XRC targets shared between processes (daemon/verbs/qp_share.c).
sv_add_c_test(test_open_qp ${CMAKE_CURRENT_LIST_DIR}/test_open_qp.c)
# One QP posted to from four threads (the biased ring lock borrowed, then
# shared): every completion once, every slot right; both paths.
sv_add_c_test(test_qp_threads ${CMAKE_CURRENT_LIST_DIR}/test_qp_threads.c)
add_test(NAME test_qp_threads_off COMMAND test_qp_threads)
set_tests_properties(test_qp_threads_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120 ENVIRONMENT "SOFTVERBS_DIRECT=0")
