# Client memory (daemon/nic/mem.c): truncation, identity, sharing.
sv_add_c_test(test_mem_truncate ${CMAKE_CURRENT_LIST_DIR}/test_mem_truncate.c)
# These exit with objects open on purpose (the daemon reclaims them).
set_tests_properties(test_mem_truncate PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sv_add_c_test(test_mem_identity ${CMAKE_CURRENT_LIST_DIR}/test_mem_identity.c)
set_tests_properties(test_mem_identity PROPERTIES ENVIRONMENT
  "ASAN_OPTIONS=detect_leaks=0")
sv_add_c_test(test_mem_backing ${CMAKE_CURRENT_LIST_DIR}/test_mem_backing.c)
set_tests_properties(test_mem_backing PROPERTIES ENVIRONMENT
  "ASAN_OPTIONS=detect_leaks=0")
# The same program, pid reuse in a private pid namespace.
add_test(NAME test_mem_pidreuse COMMAND test_mem_identity pidreuse)
set_tests_properties(test_mem_pidreuse PROPERTIES SKIP_RETURN_CODE 77
  TIMEOUT 120 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# exec again as a second user with its own daemon (which may then use
# process_vm_*), into a setuid-root program.
add_test(NAME test_mem_execuser COMMAND test_mem_identity execuser)
set_tests_properties(test_mem_execuser PROPERTIES SKIP_RETURN_CODE 77
  TIMEOUT 120 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Seed 000 / issue 11: PDs and MRs shared across unrelated processes.
sv_add_c_test(test_share_seed ${CMAKE_CURRENT_LIST_DIR}/test_share_seed.c)
add_test(NAME test_share_ucc COMMAND test_share_seed ucc)
set_tests_properties(test_share_seed test_share_ucc PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
