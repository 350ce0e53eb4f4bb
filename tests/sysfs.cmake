# Issue 15 (device node, sysfs view, InfiniBand link layer) and the CLI part
# of issue 18 item 4.
sv_add_c_test(test_sysfs_ib ${CMAKE_CURRENT_SOURCE_DIR}/test_sysfs_ib.c)
# The child exits with its QPs open: teardown is the daemon's job.
set_tests_properties(test_sysfs_ib PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")

# Helper run by test_sysfs_view.sh under "softverbs run" (not a test).
add_executable(sysfs_probe ${CMAKE_CURRENT_SOURCE_DIR}/sysfs_probe.c)
target_link_libraries(sysfs_probe PRIVATE ibverbs)

# The view softverbs run mounts (namespace and fallback) against
# ibv_devinfo -v; the device node; the host left untouched.
add_test(NAME test_sysfs_view
	 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_sysfs_view.sh
		 ${CMAKE_BINARY_DIR}/bin/softverbs
		 ${CMAKE_BINARY_DIR}/bin/sysfs_probe
		 ${CMAKE_CURRENT_SOURCE_DIR}/sysfs_vs_devinfo.py)
set_tests_properties(test_sysfs_view PROPERTIES TIMEOUT 120
		     SKIP_RETURN_CODE 77)
# Debian's uninstrumented ibv_devinfo cannot load a sanitized libibverbs:
# the sanitizer build checks the view without it.
if(SV_SANITIZE)
  set_property(TEST test_sysfs_view APPEND PROPERTY ENVIRONMENT
	       "SVT_NO_DEBIAN_TOOLS=1")
endif()

# status/stop: not running, not responding (SIGSTOP), permission denied.
add_test(NAME test_sysfs_cli_state
	 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_sysfs_cli_state.sh
		 ${CMAKE_BINARY_DIR}/bin/softverbs)
set_tests_properties(test_sysfs_cli_state PROPERTIES TIMEOUT 120
		     SKIP_RETURN_CODE 77)

# UCX through softverbs run: ucx_info -d and a short ucx_perftest.
add_test(NAME test_sysfs_ucx
	 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_sysfs_ucx.sh
		 ${CMAKE_BINARY_DIR}/bin/softverbs)
set_tests_properties(test_sysfs_ucx PROPERTIES TIMEOUT 180
		     SKIP_RETURN_CODE 77)
if(SV_SANITIZE)
  set_property(TEST test_sysfs_ucx APPEND PROPERTY ENVIRONMENT
	       "SVT_NO_DEBIAN_TOOLS=1")
endif()
