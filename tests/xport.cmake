# The transport (daemon/nic/eng_pkt*.c, eng_xport*.c): codec unit test and
# traffic tests through the lossy test transport.
add_executable(unit_pkt ${CMAKE_CURRENT_SOURCE_DIR}/unit_pkt.c)
target_link_libraries(unit_pkt PRIVATE svdcore)
target_include_directories(unit_pkt PRIVATE ${PROJECT_SOURCE_DIR}/daemon/nic)
add_test(NAME unit_pkt COMMAND unit_pkt)
set_tests_properties(unit_pkt PROPERTIES TIMEOUT 60)

sv_add_c_test(test_loss_basic ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_basic.c)
set_tests_properties(test_loss_basic PROPERTIES TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# An RC QP whose peer does not expect its PSNs: bounded retries, no flood.
sv_add_c_test(test_rc_wrong_peer ${CMAKE_CURRENT_SOURCE_DIR}/test_rc_wrong_peer.c)
set_tests_properties(test_rc_wrong_peer PROPERTIES TIMEOUT 120
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# A connection's last ACK lost after the receiver destroyed its QP (ghosts).
sv_add_c_test(test_loss_ghost ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_ghost.c)
set_tests_properties(test_loss_ghost PROPERTIES TIMEOUT 120
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
