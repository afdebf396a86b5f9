/* check_main.c -- the main() of every Check binary (unit and
 * integration suites).
 *
 * Each tests/{unit,integration}/test_<name>.c defines `Suite *test_suite(void)`; this file
 * runs it with Check and prints Check's summary line, so `make check` shows
 * one "N%: Checks: ..., Failures: ..., Errors: ..." line per suite.
 * The exit status is the CI verdict: 0 only when every test passed.
 */
#include <stdlib.h>

#include "testsuite.h"

int main(void)
{
    SRunner *sr = srunner_create(test_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
