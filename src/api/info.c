/* The GNU extras: mallopt, malloc_trim, mallinfo/mallinfo2, malloc_stats,
 * malloc_info, plus ta_stats_get and ta_version. Reports are built from a
 * snapshot and written after every allocator lock is released. */
#include "stats.h"
#include "log.h"
#include <errno.h>
#include <string.h>

TA_EXPORT const char *ta_version(void)
{
    return "tarena 0.1.0";
}

TA_EXPORT int ta_mallopt(int param, int value)
{
    if (!__atomic_load_n(&ta_booted, __ATOMIC_ACQUIRE))
        ta_boot();
    int rc = ta_options_mallopt(param, value);
    /* The caches skip perturbation on their fast path: make them re-read. */
    if (rc && param == M_PERTURB)
        ta_tcache_options_changed();
    return rc;
}

TA_EXPORT int ta_malloc_trim(size_t pad)
{
    if (!__atomic_load_n(&ta_booted, __ATOMIC_ACQUIRE))
        ta_boot();
    ta_tcache_flush_current();
    size_t released = 0;
    for (unsigned i = 0; i < ta_arena_count(); i++)
        released += ta_arena_trim(ta_arena_get(i), pad, true);
    return released > 0;
}

TA_EXPORT struct mallinfo2 ta_mallinfo2(void)
{
    ta_snapshot_t s;
    ta_snapshot_take(&s);
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = s.total.heap_bytes;
    mi.ordblks = s.total.free_runs;
    mi.smblks = s.total.free_slots;
    mi.hblks = s.mmap_count;
    mi.hblkhd = s.mmap_bytes;
    mi.fsmblks = s.total.slot_free_bytes;
    mi.fordblks = s.total.run_free_bytes + s.total.slot_free_bytes;
    mi.uordblks = mi.arena - mi.fordblks;
    mi.keepcost = s.total.top_bytes;
    return mi;
}

TA_EXPORT struct mallinfo ta_mallinfo(void)
{
    /* The old struct has int fields: saturate like glibc's conversion does not. */
    struct mallinfo2 m2 = ta_mallinfo2();
    struct mallinfo mi;
#define TA_CLAMP(v) ((int)((v) > (size_t)0x7fffffff ? 0x7fffffff : (v)))
    mi.arena = TA_CLAMP(m2.arena);
    mi.ordblks = TA_CLAMP(m2.ordblks);
    mi.smblks = TA_CLAMP(m2.smblks);
    mi.hblks = TA_CLAMP(m2.hblks);
    mi.hblkhd = TA_CLAMP(m2.hblkhd);
    mi.usmblks = TA_CLAMP(m2.usmblks);
    mi.fsmblks = TA_CLAMP(m2.fsmblks);
    mi.uordblks = TA_CLAMP(m2.uordblks);
    mi.fordblks = TA_CLAMP(m2.fordblks);
    mi.keepcost = TA_CLAMP(m2.keepcost);
#undef TA_CLAMP
    return mi;
}

static void stats_line(ta_buf_t *b, const char *label, uint64_t v)
{
    char num[24];
    ta_buf_t n = {num, 0, sizeof num};
    ta_buf_u64(&n, v);
    ta_buf_str(b, label);
    for (size_t i = n.len; i < 10; i++)
        ta_buf_str(b, " ");
    n.p[n.len] = 0;
    ta_buf_str(b, num);
    ta_buf_str(b, "\n");
}

/* glibc's layout, so scripts that read it keep working. */
TA_EXPORT void ta_malloc_stats(void)
{
    char mem[512];
    ta_buf_t b = {mem, 0, sizeof mem};
    ta_arena_snapshot_t one;
    for (unsigned i = 0; ta_snapshot_arena(i, &one); i++) {
        ta_buf_str(&b, "Arena ");
        ta_buf_u64(&b, i);
        ta_buf_str(&b, ":\n");
        stats_line(&b, "system bytes     = ", one.heap_bytes);
        stats_line(&b, "in use bytes     = ", one.heap_bytes - one.run_free_bytes - one.slot_free_bytes);
        ta_buf_write(&b, 2);
    }
    ta_snapshot_t s;
    ta_snapshot_take(&s);
    uint64_t in_use = s.total.heap_bytes - s.total.run_free_bytes - s.total.slot_free_bytes;
    ta_buf_str(&b, "Total (incl. mmap):\n");
    stats_line(&b, "system bytes     = ", s.total.heap_bytes + s.mmap_bytes);
    stats_line(&b, "in use bytes     = ", in_use + s.mmap_bytes);
    stats_line(&b, "max mmap regions = ", s.mmap_count);
    stats_line(&b, "max mmap bytes   = ", s.mmap_bytes);
    stats_line(&b, "trimmed bytes    = ", s.total.trimmed_bytes);
    ta_buf_str(&b, "(tarena)\n");
    ta_buf_write(&b, 2);
}

TA_EXPORT int ta_stats_get(ta_stats_t *out)
{
    if (!out || out->version != TA_STATS_VERSION || out->size < 2 * sizeof(uint32_t))
        return EINVAL;
    ta_snapshot_t s;
    ta_snapshot_take(&s);
    ta_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = out->size;
    st.version = TA_STATS_VERSION;
    st.heap_bytes = s.total.heap_bytes;
    st.heap_free_bytes = s.total.run_free_bytes + s.total.slot_free_bytes;
    st.mmapped_bytes = s.mmap_bytes;
    st.mmapped_blocks = s.mmap_count;
    st.in_use_bytes = st.heap_bytes - st.heap_free_bytes + st.mmapped_bytes;
    st.free_runs = s.total.free_runs;
    st.top_bytes = s.total.top_bytes;
    ta_tcache_totals_t tt;
    ta_tcache_totals(&tt);
    uint64_t unc[4];
    ta_uncached_totals(unc);
    st.allocs = tt.nmalloc + unc[0];
    st.frees = tt.nfree + unc[1];
    st.allocated_bytes = tt.bytes_malloc + unc[2];
    st.freed_bytes = tt.bytes_free + unc[3];
    st.cached_bytes = tt.cached_bytes;
    st.threads = tt.threads;
    st.dirty_bytes = s.total.dirty_bytes;
    st.purged_bytes = s.total.purged_bytes;
    st.resident_bytes = st.heap_bytes - (s.total.run_free_bytes - s.total.dirty_bytes) + st.mmapped_bytes;
    st.trimmer_running = ta_trim_running();
    st.trimmed_bytes = s.total.trimmed_bytes;
    st.sbrk_fallbacks = s.total.sbrk_fallbacks;
    st.arenas = s.narenas;
    memcpy(out, &st, TA_MIN((size_t)out->size, sizeof st));
    return 0;
}
