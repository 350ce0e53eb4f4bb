# rdma_cm between two daemons in two network namespaces: the CM's MADs on
# the wire (QP1). Root, like wire_rdma; Debian's uninstrumented tools.
add_test(NAME wire_cm COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/wire_cm.sh
	 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(wire_cm PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
if(SV_SANITIZE)
  set_property(TEST wire_cm APPEND PROPERTY ENVIRONMENT
	       "SVT_NO_DEBIAN_TOOLS=1")
endif()
