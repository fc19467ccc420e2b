/* The background trimmer: a thread named tarena-trim that runs the arenas'
 * purge policy (ta_arena_purge_step) when a free leaves enough to give back
 * and then on a timer while idle free pages remain. Started lazily, outside
 * every allocator lock, by the first ta_trim_kick() that has work for it. */
#ifndef TA_TRIM_H
#define TA_TRIM_H
#include "arena.h"

/* Called by the API layer after frees, with no allocator lock held: wakes
 * (or first creates) the trimmer when an arena asked for it. */
void ta_trim_kick_slow(void) TA_HIDDEN;
static TA_ALWAYS_INLINE void ta_trim_kick(void)
{
    if (TA_UNLIKELY(__atomic_load_n(&ta_arena_release_pending, __ATOMIC_RELAXED)))
        ta_trim_kick_slow();
}
/* At start-up: sets up the trimmer's condition variable (no allocation). */
void ta_trim_boot(void) TA_HIDDEN;
/* Whether the trimmer thread exists (tests, stats). */
bool ta_trim_running(void) TA_HIDDEN;
/* Fork: the child has no trimmer; it starts one again when needed. */
void ta_trim_postfork_child(void) TA_HIDDEN;
#endif
