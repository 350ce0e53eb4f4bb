# Unit tests linking the daemon core directly (no daemon process).
add_executable(unit_validator ${CMAKE_CURRENT_SOURCE_DIR}/unit_validator.c)
target_link_libraries(unit_validator PRIVATE svdcore)
add_test(NAME unit_validator COMMAND unit_validator)
set_tests_properties(unit_validator PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)

add_executable(unit_ids ${CMAKE_CURRENT_SOURCE_DIR}/unit_ids.c)
target_link_libraries(unit_ids PRIVATE svdcore)
add_test(NAME unit_ids COMMAND unit_ids)
set_tests_properties(unit_ids PROPERTIES TIMEOUT 60)
