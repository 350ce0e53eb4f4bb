# A product failure is a failure, not a skip: every daemon test (all
# sv_add_c_test programs, and the CLI test) run against a softverbsd that
# exits 1 must fail. Sorts last, so every test above is registered.
get_property(SV_DAEMON_TESTS GLOBAL PROPERTY SV_DAEMON_TESTS)
add_test(NAME fake_daemon
	 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_fake_daemon.sh
		 ${CMAKE_BINARY_DIR}/bin ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh
		 ${SV_DAEMON_TESTS})
set_tests_properties(fake_daemon PROPERTIES TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
