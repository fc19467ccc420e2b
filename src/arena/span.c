/* The span-descriptor allocator: fixed-size records carved from 64 KiB
 * mappings and recycled through a free list. Never unmapped (type-stable
 * memory), which is what makes lock-free page-map lookups safe. */
#include "span.h"
#include "lock.h"
#include "os.h"
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
        /* Leave state NONE until the owner fills the record in. */
        memset(s, 0, sizeof *s);
    }
    return s;
}

void ta_span_delete(ta_span_t *s)
{
    __atomic_store_n(&s->state, TA_SPAN_NONE, __ATOMIC_RELAXED);
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
