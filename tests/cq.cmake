# Completion queues and completion channels (lib/cq.c, lib/cq_ex.c,
# daemon/std_cq.c).
sv_add_c_test(test_cq_basic ${CMAKE_CURRENT_LIST_DIR}/test_cq_basic.c)
sv_add_c_test(test_cq_channel ${CMAKE_CURRENT_LIST_DIR}/test_cq_channel.c)
sv_add_c_test(test_cq_ex ${CMAKE_CURRENT_LIST_DIR}/test_cq_ex.c)
