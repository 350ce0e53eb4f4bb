# ABI checks of the built libibverbs.so.1 (included by tests/CMakeLists.txt).
#
#   exports         the dynamic symbol table equals Debian's libibverbs.so.1
#                   (146 default + 34 compat symbols with their versions)
#   consumers_load  every installed consumer (ibverbs-utils, perftest,
#                   librdmacm, provider libraries, pyverbs) resolves all its
#                   libibverbs imports against the built library; skipped
#                   (77) when none is installed, e.g. on a bare CI runner
#
# The reference files are copies kept in tests/ref/ so that a clean clone
# (without ../shared) can run these tests.

set(SV_LIBIBVERBS ${CMAKE_BINARY_DIR}/lib/libibverbs.so.1)
set(SV_ABI_REF_DIR ${CMAKE_CURRENT_LIST_DIR}/ref)

add_test(NAME exports
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_exports.sh
		${SV_LIBIBVERBS} ${SV_ABI_REF_DIR}/libibverbs-exports.txt)

add_test(NAME consumers_load
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_consumers.sh
		${CMAKE_BINARY_DIR}/lib ${SV_ABI_REF_DIR}/abi-consumers.txt)
set_tests_properties(consumers_load PROPERTIES SKIP_RETURN_CODE 77)
