# Data path (engine) tests: traffic between QPs of a private daemon.
sv_add_c_test(test_traffic_rc ${CMAKE_CURRENT_SOURCE_DIR}/test_traffic_rc.c)
sv_add_c_test(test_traffic_ud ${CMAKE_CURRENT_SOURCE_DIR}/test_traffic_ud.c)
# UD sends posted, then their AH and QP destroyed at once: all arrive.
sv_add_c_test(test_ud_teardown ${CMAKE_CURRENT_SOURCE_DIR}/test_ud_teardown.c)
# These exit with their QPs/MRs still open (teardown is the daemon's job at
# close); leak checking would report the library objects they never freed.
set_tests_properties(test_traffic_rc test_traffic_ud PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# The data path at scale and under attack (datapath helper).
sv_add_c_test(test_dp_scale ${CMAKE_CURRENT_SOURCE_DIR}/test_dp_scale.c)
sv_add_c_test(test_dp_isolation ${CMAKE_CURRENT_SOURCE_DIR}/test_dp_isolation.c)
sv_add_c_test(test_dp_doorbells ${CMAKE_CURRENT_SOURCE_DIR}/test_dp_doorbells.c)
sv_add_c_test(test_dp_fair ${CMAKE_CURRENT_SOURCE_DIR}/test_dp_fair.c)
set_tests_properties(test_dp_scale test_dp_isolation test_dp_doorbells test_dp_fair PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Small payloads captured at post time on the daemon path (post.c).
sv_add_c_test(test_dp_capture ${CMAKE_CURRENT_SOURCE_DIR}/test_dp_capture.c)
set_tests_properties(test_dp_capture PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Large payloads staged at post time on the daemon path (stage.c).
sv_add_c_test(test_dp_stage ${CMAKE_CURRENT_SOURCE_DIR}/test_dp_stage.c)
set_tests_properties(test_dp_stage PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Small receives scattered to the CQ and copied at poll (cq_scatter.c).
sv_add_c_test(test_dp_scatter ${CMAKE_CURRENT_SOURCE_DIR}/test_dp_scatter.c)
set_tests_properties(test_dp_scatter PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# The engine keeps off the CPU of a process that streams doorbells.
add_executable(unit_eng_steer ${CMAKE_CURRENT_SOURCE_DIR}/unit_eng_steer.c)
target_link_libraries(unit_eng_steer PRIVATE svdcore)
target_include_directories(unit_eng_steer PRIVATE ${PROJECT_SOURCE_DIR}/daemon/nic)
add_test(NAME unit_eng_steer COMMAND unit_eng_steer)
set_tests_properties(unit_eng_steer PROPERTIES SKIP_RETURN_CODE 77)
