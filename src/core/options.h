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
/* Every thread (and the trimmer) reads options with no lock, while mallopt,
 * or any thread that frees a mapped block (the dynamic mmap threshold), may
 * change them: so after boot every access goes through these relaxed
 * atomics, plain loads and stores on x86-64 and aarch64. Each option is one
 * word used on its own; nothing needs two of them to agree (glibc reads its
 * mp_ the same way, racily). */
#define TA_OPT(field) TA_RELAXED_LOAD(ta_opt.field)
#define TA_OPT_SET(field, v) TA_RELAXED_STORE(ta_opt.field, (v))
/* Sets every option from *from, one word at a time (the unit tests). */
void ta_options_restore(const ta_options_t *from) TA_HIDDEN;
/* Hardened mode (TARENA_HARDEN) as latched at boot: it changes the layout of
 * blocks (canaries, guard pages), so it never changes while any exist.
 * A mask of features; TARENA_HARDEN=1 turns on all of them, other values
 * pick features by these bits (used to measure each one's cost). Any
 * feature turns the thread caches off: every call is checked. */
enum {
    TA_HARDEN_CANARY = 2,      /* canary after slab and page-run blocks */
    TA_HARDEN_GUARD = 4,       /* guard page after mapped blocks */
    TA_HARDEN_JUNK = 8,        /* junk fill on malloc and free */
    TA_HARDEN_QUARANTINE = 16, /* delayed reuse, checked for writes after free */
    TA_HARDEN_RANDOM = 32,     /* random slot order in slabs */
    TA_HARDEN_ALL = 62,
};
extern unsigned ta_hardened TA_HIDDEN;
/* Bytes at the end of slab and page-run blocks taken by the canary. */
#define TA_CANARY_SIZE 8u
#define TA_CANARY_BYTES() ((ta_hardened & TA_HARDEN_CANARY) ? TA_CANARY_SIZE : 0u)

/* Reads the environment once it is available; safe to call more than once. */
void ta_options_init(void) TA_HIDDEN;
/* mallopt: 1 on success, 0 for a rejected value (glibc: unknown params give 1). */
int ta_options_mallopt(int param, int value) TA_HIDDEN;
/* Value of NAME in the environment, or NULL: walks environ, never allocates. */
const char *ta_env_lookup(const char *name) TA_HIDDEN;
/* Writes "name=value" lines to fd. */
void ta_options_print(int fd) TA_HIDDEN;
#endif
