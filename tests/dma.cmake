# Device memory, dma-buf MRs and the data-direct DMA path (seed 003).
sv_add_c_test(test_dm ${CMAKE_CURRENT_LIST_DIR}/test_dm.c)
sv_add_c_test(test_dmabuf ${CMAKE_CURRENT_LIST_DIR}/test_dmabuf.c)
sv_add_c_test(test_datadirect ${CMAKE_CURRENT_LIST_DIR}/test_datadirect.c)
sv_add_c_test(test_dmabuf_hole ${CMAKE_CURRENT_LIST_DIR}/test_dmabuf_hole.c)
# Objects left to the daemon's teardown would read as leaks.
set_tests_properties(test_dm test_dmabuf test_datadirect test_dmabuf_hole
		     PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# The data-direct DMA engine on its own (links the daemon core).
add_executable(unit_dd ${CMAKE_CURRENT_SOURCE_DIR}/unit_dd.c)
target_link_libraries(unit_dd PRIVATE svdcore)
add_test(NAME unit_dd COMMAND unit_dd)
set_tests_properties(unit_dd PROPERTIES TIMEOUT 120)
