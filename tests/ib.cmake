# Issue 15: LID routing between the daemon's InfiniBand devices.
sv_add_c_test(test_ib_route ${CMAKE_CURRENT_SOURCE_DIR}/test_ib_route.c)
