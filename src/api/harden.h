/* Hardened mode (TARENA_HARDEN=1, latched at boot): canaries after slab and
 * page-run blocks, junk fill, and a bounded quarantine that delays reuse and
 * checks that freed blocks stayed untouched. Guard pages after mapped blocks
 * and random slot order live in the arena layer (large.c, bins.c). */
#ifndef TA_HARDEN_H
#define TA_HARDEN_H
#include "arena.h"

/* Maps the quarantine; called at boot when hardened. */
void ta_harden_boot(void) TA_HIDDEN;
/* Writes the canary after a block just allocated (any size). */
void ta_harden_arm(void *p) TA_HIDDEN;
/* Whether the canary after a live block is intact (true for mappings). */
bool ta_harden_canary_ok(const ta_span_t *s, const void *p) TA_HIDDEN;
/* Byte that new blocks are filled with, XORed with 0xff (M_PERTURB's, else
 * the hardened default); 0 when nothing is filled. */
unsigned ta_harden_junk(void) TA_HIDDEN;
/* free() of a validated block in hardened mode: checks the canary, fills
 * the block with junk and quarantines it. Returns the block that must really
 * be released now (p itself, or one the quarantine let go, checked for
 * writes after free), with its span in *s; NULL when there is none. */
void *ta_harden_free(ta_span_t **s, void *p, const char *func) TA_HIDDEN;
/* After releasing what ta_harden_free returned: the next block that must
 * leave the calling thread's quarantine stripe (still over its byte budget),
 * checked, with its span in *s; NULL once the stripe is within budget. */
void *ta_harden_next(ta_span_t **s, const char *func) TA_HIDDEN;
/* Fork: the quarantine's locks, taken after every other allocator lock. */
void ta_harden_prefork(void) TA_HIDDEN;
void ta_harden_postfork(bool child, bool interrupted) TA_HIDDEN;
#endif
