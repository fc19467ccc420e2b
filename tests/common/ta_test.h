/* Shared CUnit glue: each test file declares its suite with TA_SUITE(name)
 * and adds tests inside; the runner (runner.c) runs one suite by name or all. */
#ifndef TA_TEST_H
#define TA_TEST_H
#include <CUnit/CUnit.h>

typedef void (*ta_suite_fill_fn)(CU_pSuite suite);
void ta_test_register(const char *name, ta_suite_fill_fn fill);

/* TA_SUITE(arena) { TA_ADD(suite, test_fn); ... } */
#define TA_SUITE(name)                                                     \
    static void ta_suite_fill_##name(CU_pSuite suite);                    \
    __attribute__((constructor)) static void ta_suite_reg_##name(void)     \
    {                                                                      \
        ta_test_register(#name, ta_suite_fill_##name);                     \
    }                                                                      \
    static void ta_suite_fill_##name(CU_pSuite suite)
#define TA_ADD(suite, fn) CU_add_test((suite), #fn, (fn))

#endif
