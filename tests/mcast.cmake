# UD multicast groups: attach/detach and delivery (std_mcast.c, eng_mcast.c).
sv_add_c_test(test_mcast ${CMAKE_CURRENT_SOURCE_DIR}/test_mcast.c)
# Exits with its objects open (the daemon reclaims them at close).
set_tests_properties(test_mcast PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
