# Tag matching: TM-SRQs, ibv_post_srq_ops, eager / unexpected / rendezvous.
sv_add_c_test(test_tm ${CMAKE_CURRENT_LIST_DIR}/test_tm.c)
