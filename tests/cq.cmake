# Completion queues and completion channels (lib/cq.c, lib/cq_ex.c,
# daemon/std_cq.c).
sv_add_c_test(test_cq_basic ${CMAKE_CURRENT_LIST_DIR}/test_cq_basic.c)
sv_add_c_test(test_cq_channel ${CMAKE_CURRENT_LIST_DIR}/test_cq_channel.c)
sv_add_c_test(test_cq_ex ${CMAKE_CURRENT_LIST_DIR}/test_cq_ex.c)

# Daemon-side unit test (links the core; plays the engine).
add_executable(test_cq_unit ${CMAKE_CURRENT_LIST_DIR}/test_cq_unit.c)
target_link_libraries(test_cq_unit PRIVATE svdcore)
add_test(NAME test_cq_unit COMMAND test_cq_unit)
set_tests_properties(test_cq_unit PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
