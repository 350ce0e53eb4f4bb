# The RoCEv2 wire (docs/wire.md).
add_executable(unit_wire ${CMAKE_CURRENT_SOURCE_DIR}/unit_wire.c)
target_link_libraries(unit_wire PRIVATE svdcore)
add_test(NAME unit_wire COMMAND unit_wire)
set_tests_properties(unit_wire PROPERTIES TIMEOUT 60)

# Two network namespaces and a daemon in each (tests/wire_lib.sh): root.
add_test(NAME wire_port COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/wire_port.sh
	 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(wire_port PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
if(SV_SANITIZE)
  set_property(TEST wire_port APPEND PROPERTY ENVIRONMENT
	       "SVT_NO_DEBIAN_TOOLS=1")
endif()

# Debian's pingpongs and perftest between two daemons in two namespaces,
# IPv4 and IPv6 GIDs (uninstrumented tools: not in sanitizer builds).
add_test(NAME wire_rdma COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/wire_rdma.sh
	 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(wire_rdma PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
if(SV_SANITIZE)
  set_property(TEST wire_rdma APPEND PROPERTY ENVIRONMENT
	       "SVT_NO_DEBIAN_TOOLS=1")
endif()

# RC over a lossy wire: 10 MB of checked SENDs, then write/read/atomic
# perftest. Root. wire_loss: the daemons' lossy test transport (runs
# anywhere); wire_netem: netem on the veth (77 only where the kernel has
# no netem qdisc).
foreach(mode knob netem)
  if(mode STREQUAL knob)
    set(name wire_loss)
  else()
    set(name wire_netem)
  endif()
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/wire_loss.sh
	   ${CMAKE_BINARY_DIR}/bin 10)
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
		       ENVIRONMENT "WIRE_LOSS_MODE=${mode}")
  if(SV_SANITIZE)
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
		 "SVT_NO_DEBIAN_TOOLS=1")
  endif()
endforeach()

# ECN: CE-marked packets answered with CNPs, the sender's rate cut. Root.
add_test(NAME wire_ecn COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/wire_ecn.sh
	 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(wire_ecn PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
if(SV_SANITIZE)
  set_property(TEST wire_ecn APPEND PROPERTY ENVIRONMENT
	       "SVT_NO_DEBIAN_TOOLS=1")
endif()
