/* malloc_info(): glibc's XML layout (<malloc version="1"> with a <heap> per
 * arena, free sizes, totals and system figures), so tools that parse glibc's
 * output read ours. Uses stdio on the caller's stream: no allocator lock is
 * held while it writes, so stdio may call malloc freely. */
#include "stats.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

static void xml_totals(FILE *f, uint64_t rest_count, uint64_t rest_bytes, uint64_t small_count,
                       uint64_t small_bytes)
{
    fprintf(f, "<total type=\"fast\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n", small_count, small_bytes);
    fprintf(f, "<total type=\"rest\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n", rest_count, rest_bytes);
}

static void xml_system(FILE *f, uint64_t system)
{
    fprintf(f, "<system type=\"current\" size=\"%" PRIu64 "\"/>\n", system);
    fprintf(f, "<system type=\"max\" size=\"%" PRIu64 "\"/>\n", system);
    fprintf(f, "<aspace type=\"total\" size=\"%" PRIu64 "\"/>\n", system);
    fprintf(f, "<aspace type=\"mprotect\" size=\"%" PRIu64 "\"/>\n", system);
}

TA_EXPORT int ta_malloc_info(int options, FILE *f)
{
    if (options != 0 || !f) {
        errno = EINVAL;
        return -1;
    }
    fputs("<malloc version=\"1\">\n", f);
    ta_arena_snapshot_t a;
    for (unsigned i = 0; ta_snapshot_arena(i, &a); i++) {
        fprintf(f, "<heap nr=\"%u\">\n<sizes>\n", i);
        for (unsigned b = 0; b < TA_NBUCKETS; b++) {
            if (!a.run_count[b])
                continue;
            uint64_t lo = b < TA_EXACT_BUCKETS ? (uint64_t)(b + 1) : (uint64_t)1 << (b - TA_EXACT_BUCKETS + 6);
            uint64_t hi = b < TA_EXACT_BUCKETS ? lo : (lo << 1) - 1;
            fprintf(f, "  <size from=\"%" PRIu64 "\" to=\"%" PRIu64 "\" total=\"%" PRIu64 "\" count=\"%" PRIu64 "\"/>\n",
                    lo << TA_PAGE_SHIFT, hi << TA_PAGE_SHIFT, a.run_bytes[b], a.run_count[b]);
        }
        fputs("</sizes>\n", f);
        xml_totals(f, a.free_runs, a.run_free_bytes, a.free_slots, a.slot_free_bytes);
        xml_system(f, a.heap_bytes);
        fputs("</heap>\n", f);
    }
    ta_snapshot_t s;
    ta_snapshot_take(&s);
    xml_totals(f, s.total.free_runs, s.total.run_free_bytes, s.total.free_slots, s.total.slot_free_bytes);
    fprintf(f, "<total type=\"mmap\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n", s.mmap_count, s.mmap_bytes);
    xml_system(f, s.total.heap_bytes);
    fputs("</malloc>\n", f);
    return 0;
}
