/* The span-descriptor allocator: fixed-size records carved from 64 KiB
 * mappings and recycled through a free list. Never unmapped (type-stable
 * memory), which is what makes lock-free page-map lookups safe. */
#include "span.h"
#include "lock.h"
#include "os.h"
#include "vg.h"
#include <string.h>

#define TA_SPAN_CHUNK ((size_t)64 * 1024)

static ta_lock_t meta_lock = TA_LOCK_INITIALIZER("meta", TA_RANK_META);
static ta_span_t *free_spans;   /* meta lock */
static char *chunk_cur, *chunk_end; /* meta lock */

ta_span_t *ta_span_new(void)
{
    ta_span_t *s = NULL;
    ta_lock_acquire(&meta_lock);
    if (free_spans) {
        s = free_spans;
        free_spans = s->next;
    } else {
        /* Sizes, not pointers: chunk_cur starts NULL, and NULL + n is UB. */
        if (!chunk_cur || (size_t)(chunk_end - chunk_cur) < sizeof(ta_span_t)) {
            void *mem;
            if (ta_os_map(TA_SPAN_CHUNK, TA_PAGE_SIZE, &mem) == 0) {
                chunk_cur = mem;
                TA_VG_META_BEGIN(mem, TA_SPAN_CHUNK); /* valgrind: `start` hides no leak */
                chunk_end = chunk_cur + TA_SPAN_CHUNK;
            }
        }
        if (chunk_cur && (size_t)(chunk_end - chunk_cur) >= sizeof(ta_span_t)) {
            s = (ta_span_t *)chunk_cur;
            chunk_cur += sizeof(ta_span_t);
        }
    }
    ta_lock_release(&meta_lock);
    if (s) {
        /* Leave state NONE until the owner fills the record in. Everything
         * but `arena`, which is NULL already (fresh memory, or cleared by
         * ta_span_delete): a page-lock holder of another arena may be
         * reading it right now through a stale page-map entry (see
         * ta_span_delete), so it is only ever written atomically. */
        TA_ASSERT(!TA_RELAXED_LOAD(s->arena));
        memset(s, 0, offsetof(ta_span_t, arena));
        memset((char *)s + offsetof(ta_span_t, arena) + sizeof s->arena, 0,
               sizeof *s - offsetof(ta_span_t, arena) - sizeof s->arena);
    }
    return s;
}

/* Page-lock holders look at neighbouring records through page-map entries
 * that may be stale (only the first page of a BLOCK or MMAP span is kept up
 * to date), so they may reach a record that was deleted and is now being
 * filled in by another arena under that arena's lock. They read `arena`
 * first, atomically, and read nothing else unless it is their own arena:
 * arena is set to a only under a's page lock, and cleared here (also under
 * a's page lock) before the record can be reused, so a holder of a's lock
 * that sees arena == a knows the record stays a's, guarded by the lock it
 * holds (state also by a's bin locks, hence atomic), for as long as it
 * holds it. The lock, not the load, orders everything else it reads. */
void ta_span_delete(ta_span_t *s)
{
    __atomic_store_n(&s->state, TA_SPAN_NONE, __ATOMIC_RELAXED);
    TA_RELAXED_STORE(s->arena, NULL);
    s->npages = 0;
    ta_lock_acquire(&meta_lock);
    s->next = free_spans;
    free_spans = s;
    ta_lock_release(&meta_lock);
}

void ta_span_prefork(void)
{
    ta_lock_acquire_for_fork(&meta_lock);
}

void ta_span_postfork(bool child)
{
    if (child)
        ta_lock_reinit(&meta_lock);
    else
        ta_lock_release_for_fork(&meta_lock);
}
