# Issue 18 (security helper): a connected QP takes packets only from its
# peer, and refusals are counted in `softverbs dev list`.
sv_add_c_test(test_sec_foreign ${CMAKE_CURRENT_LIST_DIR}/test_sec_foreign.c)
set_tests_properties(test_sec_foreign PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Truncation of every kind of mapped memory by a client that does not seal
# its rings (it interposes syscall/fcntl). Exits with objects open.
sv_add_c_test(test_sec_truncate ${CMAKE_CURRENT_LIST_DIR}/test_sec_truncate.c)
target_link_libraries(test_sec_truncate PRIVATE ${CMAKE_DL_LIBS})
set_tests_properties(test_sec_truncate PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# "softverbs run" as a real unprivileged user (useradd): its own daemon and
# root's shared one, in a user namespace (issues 15 and 18).
add_test(NAME test_sec_userns
	 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_sec_userns.sh
		 ${CMAKE_BINARY_DIR}/bin/softverbs
		 ${CMAKE_BINARY_DIR}/bin/sysfs_probe)
set_tests_properties(test_sec_userns PROPERTIES TIMEOUT 120
		     SKIP_RETURN_CODE 77)
# Keys and QPNs differ between two daemon starts (the permutation's keys
# come from getrandom() at start).
sv_add_c_test(test_sec_keys ${CMAKE_CURRENT_LIST_DIR}/test_sec_keys.c)
# The per-user limit on doorbell pages (--limit-db-pages), per user.
sv_add_c_test(test_sec_limits ${CMAKE_CURRENT_LIST_DIR}/test_sec_limits.c)
# A requester killed in the middle of a 1 GiB WRITE or READ: the
# responder's QP and memory are untouched. Exits with objects open.
sv_add_c_test(test_sec_blame ${CMAKE_CURRENT_LIST_DIR}/test_sec_blame.c)
set_tests_properties(test_sec_blame PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# No confused deputy: VA memory of a process holding more than the
# client's ids (a saved root uid) is refused; fully dropped, it registers.
sv_add_c_test(test_sec_deputy ${CMAKE_CURRENT_LIST_DIR}/test_sec_deputy.c)
set_tests_properties(test_sec_deputy PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
