# The softverbs CLI against a real daemon in a private runtime directory.
add_test(NAME cli
	 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.sh
		 ${CMAKE_BINARY_DIR}/bin/softverbs)
set_tests_properties(cli PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
