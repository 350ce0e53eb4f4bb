# The benchmark tool as a tool: the harness's statistics and its handling of
# failing, hanging and garbage runs, and bench/run.sh's exit status. No
# figure is measured or judged here (bench/run.sh does that; not a test).
add_test(NAME bench_harness
	 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench_harness_test.sh)
set_tests_properties(bench_harness PROPERTIES TIMEOUT 60)
