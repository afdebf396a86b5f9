/* testsuite.h -- the one function each tests/unit/test_<name>.c and
 * tests/integration/test_<name>.c defines.
 * check_main.c runs it; see that file for the exit-status contract. */
#ifndef BF_TESTS_TESTSUITE_H
#define BF_TESTS_TESTSUITE_H

#include <check.h>

Suite *test_suite(void);

#endif
