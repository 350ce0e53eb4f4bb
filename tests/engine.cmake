# Data path (engine) tests: traffic between QPs of a private daemon.
sv_add_c_test(test_traffic_rc ${CMAKE_CURRENT_SOURCE_DIR}/test_traffic_rc.c)
sv_add_c_test(test_traffic_ud ${CMAKE_CURRENT_SOURCE_DIR}/test_traffic_ud.c)
