# Large VA-to-VA copies split with the engine's copy helper
# (daemon/nic/mem_va_pair.c), forced on, on the daemon path.
sv_add_c_test(test_va_pair ${CMAKE_CURRENT_LIST_DIR}/test_va_pair.c)
