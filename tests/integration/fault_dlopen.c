/* Integration suite "fault_dlopen": a module (ta_fault_dlopen_lib) loaded and
 * unloaded 300 times; it allocates in its constructor and frees in its
 * destructor, has dynamic TLS, runs a thread, and hands out blocks that are
 * checked and freed after dlclose. Resident memory and live blocks stay flat. */
#include "envrun.h"
#include "integ.h"
#include "ta_test.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>

#ifndef TA_FAULT_DLOPEN_LIB
#error "TA_FAULT_DLOPEN_LIB must name the ta_fault_dlopen_lib module"
#endif

enum { LOADS = 300, WARM = 50, HAND = 12 };
/* Allowed growth between load WARM and the last one, both measured after
 * malloc_trim(0) (so pages freed but not yet purged do not count). A leak of
 * one small block per load shows in the live blocks; of a page, in RSS. */
#define RSS_SLACK (2 * IT_MIB)
#define LIVE_SLACK 16

typedef void (*set_report_fn)(int *);
typedef int (*work_fn)(unsigned, unsigned char **, size_t);

/* The module's pattern (fault_dlopen_lib.c fill()). */
static int handed_intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t k = 0; k < n; k++)
        if (p[k] != (unsigned char)(seed * 31u + k * 7u))
            return 0;
    return 1;
}

static long long live_blocks(void)
{
    ta_stats_t st = it_stats();
    return (long long)(st.allocs - st.frees);
}

static void test_dlopen_dlclose_churn(void)
{
    size_t rss0 = 0;
    long long live0 = 0;
    unsigned bad = 0;
    for (unsigned i = 0; i < LOADS && bad < 3; i++) {
        void *h = dlopen(TA_FAULT_DLOPEN_LIB, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            IT_ASSERT(0, "load %u: dlopen: %s", i, dlerror());
            return;
        }
        set_report_fn set_report;
        work_fn work;
        *(void **)&set_report = dlsym(h, "ta_dl_set_report");
        *(void **)&work = dlsym(h, "ta_dl_work");
        CU_ASSERT_FATAL(set_report != NULL && work != NULL);
        int report = 0;
        set_report(&report);
        unsigned char *blocks[HAND];
        int rc = work(i, blocks, HAND);
        IT_ASSERT(rc == 0, "load %u: the module's allocations or TLS failed", i);
        bad += rc != 0;
        if (rc != 0) {
            dlclose(h);
            continue;
        }
        IT_ASSERT(dlclose(h) == 0, "load %u: dlclose: %s", i, dlerror());
        IT_ASSERT(report == 1, "load %u: module destructor %s", i,
                  report == 0 ? "did not run" : "found its constructor's blocks corrupted");
        bad += report != 1;
        if (i == 0) {
            /* Really unloaded (else the churn would test nothing). */
            void *again = dlopen(TA_FAULT_DLOPEN_LIB, RTLD_NOW | RTLD_NOLOAD);
            IT_ASSERT(again == NULL, "the module stayed loaded after dlclose");
            if (again)
                dlclose(again);
        }
        for (size_t k = 0; k < HAND; k++) {
            IT_ASSERT(handed_intact(blocks[k], k * 1000 + 1, i + (unsigned)k),
                      "load %u: block %zu handed out by the module changed after dlclose", i, k);
            free(blocks[k]);
        }
        if (i == WARM) {
            malloc_trim(0);
            rss0 = er_rss_bytes();
            live0 = live_blocks();
        }
    }
    malloc_trim(0);
    size_t rss1 = er_rss_bytes();
    long long live1 = live_blocks();
    IT_ASSERT(rss1 <= rss0 + RSS_SLACK, "resident memory grew from %zu to %zu KiB over %d loads", rss0 / 1024,
              rss1 / 1024, LOADS - WARM - 1);
    IT_ASSERT(live1 <= live0 + LIVE_SLACK, "live blocks grew from %lld to %lld over %d loads", live0, live1,
              LOADS - WARM - 1);
}

TA_SUITE(fault_dlopen)
{
    TA_ADD(suite, test_dlopen_dlclose_churn);
}
