# Issue 18 (security helper). Tests whose programs exit with objects open
# (reclaiming them is the daemon's job) run without leak reports.
#
# test_sec_foreign: a connected QP takes packets only from its peer, and
# refusals are counted in `softverbs dev list`.
# test_sec_truncate: truncation of every kind of mapped memory by a client
# that does not seal its rings (it interposes syscall/fcntl); _direct: the
# file-backed MR's case with the direct path on.
# test_sec_keys: keys and QPNs differ between two daemon starts (the
# permutation's keys come from getrandom() at start).
# test_sec_limits: the per-user limit on doorbell pages (--limit-db-pages).
# test_sec_blame: a requester killed in the middle of a 1 GiB WRITE or
# READ; the responder's QP and memory are untouched.
# test_sec_deputy: no confused deputy: VA memory of a process holding more
# than the client's ids (a saved root uid) is refused; fully dropped, it
# registers.
foreach(t test_sec_foreign test_sec_truncate test_sec_keys test_sec_limits
	  test_sec_blame test_sec_deputy)
  sv_add_c_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
endforeach()
target_link_libraries(test_sec_truncate PRIVATE ${CMAKE_DL_LIBS})
add_test(NAME test_sec_truncate_direct COMMAND test_sec_truncate direct)
set_tests_properties(test_sec_truncate_direct PROPERTIES SKIP_RETURN_CODE 77
		     TIMEOUT 120 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
set_tests_properties(test_sec_foreign test_sec_truncate test_sec_blame
		     test_sec_deputy PROPERTIES
		     ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# "softverbs run" as a real unprivileged user (useradd): its own daemon and
# root's shared one, in a user namespace (issues 15 and 18).
add_test(NAME test_sec_userns
	 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_sec_userns.sh
		 ${CMAKE_BINARY_DIR}/bin/softverbs
		 ${CMAKE_BINARY_DIR}/bin/sysfs_probe)
set_tests_properties(test_sec_userns PROPERTIES TIMEOUT 120
		     SKIP_RETURN_CODE 77)
