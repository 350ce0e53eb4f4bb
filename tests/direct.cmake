# Issue 17: the same-host direct path (docs/direct-path.md).
sv_add_c_test(test_direct_basic ${CMAKE_CURRENT_LIST_DIR}/test_direct_basic.c)
add_test(NAME test_direct_basic_off COMMAND test_direct_basic off)
set_tests_properties(test_direct_basic_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_dereg ${CMAKE_CURRENT_LIST_DIR}/test_direct_dereg.c)
sv_add_c_test(test_direct_kill ${CMAKE_CURRENT_LIST_DIR}/test_direct_kill.c)
# The killed target leaves its objects to the daemon.
set_tests_properties(test_direct_kill PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sv_add_c_test(test_direct_xuser ${CMAKE_CURRENT_LIST_DIR}/test_direct_xuser.c)
set_tests_properties(test_direct_xuser PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sv_add_c_test(test_direct_atomic ${CMAKE_CURRENT_LIST_DIR}/test_direct_atomic.c)
sv_add_c_test(test_direct_send ${CMAKE_CURRENT_LIST_DIR}/test_direct_send.c)
add_test(NAME test_direct_send_off COMMAND test_direct_send off)
set_tests_properties(test_direct_send_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_send_kill
  ${CMAKE_CURRENT_LIST_DIR}/test_direct_send_kill.c)
# The killed receiver leaves its objects to the daemon.
set_tests_properties(test_direct_send_kill PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sv_add_c_test(test_direct_unsig ${CMAKE_CURRENT_LIST_DIR}/test_direct_unsig.c)
sv_add_c_test(test_direct_list ${CMAKE_CURRENT_LIST_DIR}/test_direct_list.c)
add_test(NAME test_direct_list_off COMMAND test_direct_list off)
set_tests_properties(test_direct_list_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_wimm ${CMAKE_CURRENT_LIST_DIR}/test_direct_wimm.c)
add_test(NAME test_direct_wimm_off COMMAND test_direct_wimm off)
set_tests_properties(test_direct_wimm_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_bigsend ${CMAKE_CURRENT_LIST_DIR}/test_direct_bigsend.c)
add_test(NAME test_direct_bigsend_off COMMAND test_direct_bigsend off)
set_tests_properties(test_direct_bigsend_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_early ${CMAKE_CURRENT_LIST_DIR}/test_direct_early.c)
add_test(NAME test_direct_early_fifo COMMAND test_direct_early fifo)
set_tests_properties(test_direct_early_fifo PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_split ${CMAKE_CURRENT_LIST_DIR}/test_direct_split.c)
add_test(NAME test_direct_split_off COMMAND test_direct_split off)
set_tests_properties(test_direct_split_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_inv ${CMAKE_CURRENT_LIST_DIR}/test_direct_inv.c)
add_test(NAME test_direct_inv_off COMMAND test_direct_inv off)
set_tests_properties(test_direct_inv_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_chan ${CMAKE_CURRENT_LIST_DIR}/test_direct_chan.c)
add_test(NAME test_direct_chan_off COMMAND test_direct_chan off)
set_tests_properties(test_direct_chan_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
sv_add_c_test(test_direct_assist ${CMAKE_CURRENT_LIST_DIR}/test_direct_assist.c)
add_test(NAME test_direct_assist_off COMMAND test_direct_assist off)
set_tests_properties(test_direct_assist_off PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
add_test(NAME test_direct_assist_noassist COMMAND test_direct_assist noassist)
set_tests_properties(test_direct_assist_noassist PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120)
add_test(NAME test_direct_kill_assist COMMAND test_direct_kill)
set_tests_properties(test_direct_kill_assist PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120 ENVIRONMENT "SOFTVERBS_DIRECT_ASSIST=3")
# Small WRITEs to VA regions through the target's helper (direct_war.c).
sv_add_c_test(test_direct_war ${CMAKE_CURRENT_LIST_DIR}/test_direct_war.c)
foreach(mode stop dereg kill sizes poller killpoll tail)
  add_test(NAME test_direct_war_${mode} COMMAND test_direct_war ${mode})
  set_tests_properties(test_direct_war_${mode} PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
# The killed target leaves its objects to the daemon.
set_tests_properties(test_direct_war_kill test_direct_war_killpoll PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
