# Unit tests linking the daemon core directly (no daemon process).
add_executable(unit_validator ${CMAKE_CURRENT_SOURCE_DIR}/unit_validator.c)
target_link_libraries(unit_validator PRIVATE svdcore)
add_test(NAME unit_validator COMMAND unit_validator)
set_tests_properties(unit_validator PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)

add_executable(unit_ids ${CMAKE_CURRENT_SOURCE_DIR}/unit_ids.c)
target_link_libraries(unit_ids PRIVATE svdcore)
add_test(NAME unit_ids COMMAND unit_ids)
set_tests_properties(unit_ids PROPERTIES TIMEOUT 60)

# The library's biased ring lock on its own (no daemon): mutual exclusion
# through borrows, the switch to shared, a forked child.
add_executable(unit_bias_lock ${CMAKE_CURRENT_SOURCE_DIR}/unit_bias_lock.c
  ${CMAKE_SOURCE_DIR}/lib/providers/softverbs/bias_lock.c)
target_include_directories(unit_bias_lock PRIVATE
  ${CMAKE_SOURCE_DIR}/lib/providers/softverbs ${CMAKE_SOURCE_DIR}/tests
  ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(unit_bias_lock PRIVATE Threads::Threads)
add_test(NAME unit_bias_lock COMMAND unit_bias_lock)
set_tests_properties(unit_bias_lock PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
