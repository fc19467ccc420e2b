/* CUnit runner shared by the unit and integration test binaries:
 * `runner SUITE` runs one registered suite, `runner` runs them all, `runner -l` lists. */
#include "ta_test.h"
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TA_MAX_SUITES 64
static struct {
    const char *name;
    ta_suite_fill_fn fill;
} suites[TA_MAX_SUITES];
static int nsuites;

void ta_test_register(const char *name, ta_suite_fill_fn fill)
{
    if (nsuites < TA_MAX_SUITES) {
        suites[nsuites].name = name;
        suites[nsuites].fill = fill;
        nsuites++;
    }
}

/* TA_TEST_SKIP="test_a test_b": those tests are left inactive (listed as
 * such, not failed). tests/valgrind uses it for the few tests that cannot
 * work under valgrind, each with its reason. */
static void skip_listed(CU_pSuite s)
{
    const char *list = getenv("TA_TEST_SKIP");
    char name[128];
    for (int n = 0; list && sscanf(list, " %127s%n", name, &n) == 1; list += n) {
        CU_pTest t = CU_get_test(s, name);
        if (t)
            CU_set_test_active(t, CU_FALSE);
    }
    CU_set_fail_on_inactive(CU_FALSE);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-l") == 0) {
        for (int i = 0; i < nsuites; i++)
            puts(suites[i].name);
        return 0;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    int matched = 0;
    for (int i = 0; i < nsuites; i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
            continue;
        CU_pSuite s = CU_add_suite(suites[i].name, NULL, NULL);
        if (!s)
            return 2;
        suites[i].fill(s);
        skip_listed(s);
        matched++;
    }
    if (!matched) {
        fprintf(stderr, "no suite named %s\n", argc > 1 ? argv[1] : "(any)");
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return (failed || ran == 0) ? 1 : 0;
}
