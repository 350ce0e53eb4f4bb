# rdma_resolve_addr's neighbour wait and timeout_ms on a wire-bound device
# (tests/wire_cm_resolve.sh): root, two network namespaces.
add_executable(cm_resolve ${CMAKE_CURRENT_SOURCE_DIR}/cm_resolve.c)
target_link_libraries(cm_resolve PRIVATE rdmacm)
add_test(NAME wire_cm_resolve
	 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/wire_cm_resolve.sh
		 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(wire_cm_resolve PROPERTIES TIMEOUT 120
		     SKIP_RETURN_CODE 77)
