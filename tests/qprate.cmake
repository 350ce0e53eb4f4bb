# The fast control path (issue 17): ring pool, fork, command flags.
sv_add_c_test(test_ctl_fast ${CMAKE_CURRENT_LIST_DIR}/test_ctl_fast.c)
sv_add_c_test(test_ctl_posted ${CMAKE_CURRENT_LIST_DIR}/test_ctl_posted.c)
