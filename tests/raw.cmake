# Raw packet QPs and flow steering (daemon/nic/eng_raw.c, verbs/std_flow.c).
sv_add_c_test(test_raw_flow ${CMAKE_CURRENT_LIST_DIR}/test_raw_flow.c)
# RSS: receive WQs, indirection tables, RSS QPs (daemon/verbs/std_wq.c).
sv_add_c_test(test_raw_rss ${CMAKE_CURRENT_LIST_DIR}/test_raw_rss.c)
