/* Shared by the suites corruption and harden: running ta_harden_helper in a
 * fresh process with a chosen environment (hardened mode and the other
 * options are read at start-up) and checking the one-line report tarena
 * writes on stderr when it detects heap corruption. */
#ifndef TA_HARDEN_RUN_H
#define TA_HARDEN_RUN_H

#include "envrun.h"

#ifndef TA_HARDEN_HELPER
#error "TA_HARDEN_HELPER must name the ta_harden_helper program"
#endif

/* Runs the helper with args (NULL-terminated) under env ("NAME=VALUE",
 * NULL-terminated, may be NULL; every other allocator variable is removed).
 * Asserts that it could be run; r must be er_free()d. */
void hr_run(const char *const env[], const char *const args[], er_result_t *r);

/* Asserts that the helper was killed by SIGABRT right after reporting;
 * returns whether it was. */
int hr_expect_abort(const er_result_t *r, const char *what);
/* Asserts that it exited with status 0; returns whether it did (its KEY=
 * lines are worth reading only then). */
int hr_expect_exit0(const er_result_t *r, const char *what);
/* Asserts that stderr is exactly one line that starts with prefix (e.g.
 * "tarena: free(): "), contains text and, where ptr_key is not NULL, names
 * the pointer the helper printed as ptr_key=0x... on stdout. */
void hr_expect_report(const er_result_t *r, const char *what, const char *prefix, const char *text,
                      const char *ptr_key);
/* KEY=VALUE from the helper's stdout; asserts that it is there. */
uint64_t hr_get(const er_result_t *r, const char *key);

#endif
