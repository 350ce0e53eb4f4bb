# Resource domains (issue 12, seed 002): doorbell pages per TD and per
# resource domain index, exhaustion, allocator-backed rings, threads
# (lib/providers/softverbs/domain*.c, daemon/verbs/std_db.c).
sv_add_c_test(test_td_domains ${CMAKE_CURRENT_LIST_DIR}/test_td_domains.c)
sv_add_c_test(test_td_alloc ${CMAKE_CURRENT_LIST_DIR}/test_td_alloc.c)
sv_add_c_test(test_td_threads ${CMAKE_CURRENT_LIST_DIR}/test_td_threads.c)
sv_add_c_test(test_td_ucx ${CMAKE_CURRENT_LIST_DIR}/test_td_ucx.c)
