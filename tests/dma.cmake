# Device memory, dma-buf MRs and the data-direct DMA path (seed 003).
sv_add_c_test(test_dm ${CMAKE_CURRENT_LIST_DIR}/test_dm.c)
sv_add_c_test(test_dmabuf ${CMAKE_CURRENT_LIST_DIR}/test_dmabuf.c)
sv_add_c_test(test_datadirect ${CMAKE_CURRENT_LIST_DIR}/test_datadirect.c)
sv_add_c_test(test_dmabuf_hole ${CMAKE_CURRENT_LIST_DIR}/test_dmabuf_hole.c)
# Long transfers split with the worker, per copy method (dd_pick.h).
sv_add_c_test(test_dd_split ${CMAKE_CURRENT_LIST_DIR}/test_dd_split.c)
foreach(method memcpy stream)
  add_test(NAME test_dd_split_${method} COMMAND test_dd_split ${method})
  set_tests_properties(test_dd_split_${method} PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
# Objects left to the daemon's teardown would read as leaks.
set_tests_properties(test_dm test_dmabuf test_datadirect test_dmabuf_hole
		     test_dd_split test_dd_split_memcpy test_dd_split_stream
		     PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# The data-direct DMA engine on its own (links the daemon core).
add_executable(unit_dd ${CMAKE_CURRENT_SOURCE_DIR}/unit_dd.c)
target_link_libraries(unit_dd PRIVATE svdcore)
add_test(NAME unit_dd COMMAND unit_dd)
set_tests_properties(unit_dd PROPERTIES TIMEOUT 120)
