/* Run-time options: one global struct generated from options.def, filled at
 * start-up from the environment (precedence: TARENA_* over GLIBC_TUNABLES over
 * MALLOC_* over defaults) and changed later by mallopt. */
#ifndef TA_OPTIONS_H
#define TA_OPTIONS_H
#include "internal.h"
#include <malloc.h>

typedef struct ta_options {
#define TA_OPTION(field, def, min, max, env, mparam, genv, gtun, doc) uint64_t field;
#include "options.def"
#undef TA_OPTION
    /* True once the user set one of the thresholds: glibc then stops moving
     * the mmap and trim thresholds by itself. */
    bool thresholds_fixed;
} ta_options_t;

extern ta_options_t ta_opt TA_HIDDEN;

/* Reads the environment once it is available; safe to call more than once. */
void ta_options_init(void) TA_HIDDEN;
/* mallopt: 1 on success, 0 for a rejected value (glibc: unknown params give 1). */
int ta_options_mallopt(int param, int value) TA_HIDDEN;
/* Value of NAME in the environment, or NULL: walks environ, never allocates. */
const char *ta_env_lookup(const char *name) TA_HIDDEN;
/* Writes "name=value" lines to fd. */
void ta_options_print(int fd) TA_HIDDEN;
#endif
