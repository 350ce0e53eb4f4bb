# librdmacm.so.1 (included by tests/CMakeLists.txt).
#
#   rdmacm_exports    the dynamic symbol table equals Debian's librdmacm.so.1
#                     (RDMACM_1.0: 62, 1.1: 1, 1.2: 2, 1.3: 3)
#   rdmacm_consumers  every installed program/library that NEEDs
#                     librdmacm.so.1 loads on it with BIND_NOW (77 when none)
#   test_cm_*         the connection manager, one feature per program

add_test(NAME rdmacm_exports
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_exports.sh
		${CMAKE_BINARY_DIR}/lib/librdmacm.so.1
		${CMAKE_CURRENT_LIST_DIR}/ref/librdmacm-exports.txt)

# Not under ASan: preloading an instrumented library into uninstrumented
# Debian binaries fails for ASan's own reasons, not the ABI's.
if(NOT SV_SANITIZE)
  add_test(NAME rdmacm_consumers
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_rdmacm_consumers.sh
		${CMAKE_BINARY_DIR}/lib)
  set_tests_properties(rdmacm_consumers PROPERTIES SKIP_RETURN_CODE 77)
endif()

# sv_add_cm_test(NAME src.c...): a C test linked against both drop-ins.
function(sv_add_cm_test NAME)
  sv_add_c_test(${NAME} ${ARGN})
  target_link_libraries(${NAME} PRIVATE rdmacm)
endfunction()

file(GLOB SV_CM_TESTS ${CMAKE_CURRENT_LIST_DIR}/test_cm_*.c)
foreach(src ${SV_CM_TESTS})
  get_filename_component(name ${src} NAME_WE)
  sv_add_cm_test(${name} ${src})
endforeach()
