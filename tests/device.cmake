# Device model and device queries.
sv_add_c_test(test_device_query ${CMAKE_CURRENT_LIST_DIR}/test_device_query.c)
sv_add_c_test(test_device_async ${CMAKE_CURRENT_LIST_DIR}/test_device_async.c)
sv_add_c_test(test_device_write ${CMAKE_CURRENT_LIST_DIR}/test_device_write.c)
