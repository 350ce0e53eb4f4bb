# Huge pages (issues 11, 19): MRs over MAP_HUGETLB and hugetlbfs memory.
#
# hugepages_reserve raises vm.nr_hugepages to at least 16 (32 MiB) when it
# runs as root and the pool is smaller, so the hugepage tests run instead
# of skipping; it never lowers the pool (other programs on the machine may
# be using pages of it). Not root: it does nothing, and the tests skip when
# the machine has no free huge pages.
add_test(NAME hugepages_reserve
	 COMMAND sh -c "if [ \"$(id -u)\" = 0 ] && [ -w /proc/sys/vm/nr_hugepages ] && [ \"$(cat /proc/sys/vm/nr_hugepages)\" -lt 16 ]; then echo 16 >/proc/sys/vm/nr_hugepages; fi; grep HugePages_ /proc/meminfo; exit 0")
set_tests_properties(hugepages_reserve PROPERTIES FIXTURES_SETUP hugepages)
sv_add_c_test(test_huge ${CMAKE_CURRENT_LIST_DIR}/test_huge.c)
set_tests_properties(test_huge PROPERTIES ENVIRONMENT
  "ASAN_OPTIONS=detect_leaks=0")
set_tests_properties(test_huge test_dmabuf PROPERTIES
  FIXTURES_REQUIRED hugepages)
