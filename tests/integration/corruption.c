/* Integration suite "corruption": heap corruption that reaches tarena's own
 * free lists in the default (unhardened) mode. An overwritten thread-cache
 * entry (safe-linking), an overwritten remote-free link and a block freed
 * twice while a thread cache holds it must each give one report line and
 * SIGABRT, or with check action 1 a report and a working allocator that
 * never hands a block out twice. Scenarios run in ta_harden_helper. */
#include "harden_run.h"
#include "integ.h"
#include "ta_test.h"

#include <stdio.h>
#include <string.h>

/* One size per group of classes, smallest to largest cached: the entry's
 * check must not depend on where the class's stack lies in the cache. */
static const char *const tcache_sizes[] = {"16", "48", "100", "1000", "3000", "20000", "32000"};
#define NSIZES (sizeof tcache_sizes / sizeof tcache_sizes[0])
/* What lands in the entry: the block's own address (a pointer-sized
 * overflow writing a plausible heap pointer) and one 8 bytes into it. */
static const char *const offsets[] = {"0", "8"};

static void tcache_case(const char *cmd, const char *size, const char *off, int action1, const char *prefix)
{
    char what[96];
    snprintf(what, sizeof what, "%s size %s, entry = block + %s%s", cmd, size, off, action1 ? ", action 1" : "");
    const char *args[] = {action1 ? "action1" : cmd, action1 ? cmd : size, action1 ? size : off,
                          action1 ? off : NULL, NULL};
    er_result_t r;
    hr_run(NULL, args, &r);
    if (action1) {
        /* The malloc that found the entry bad still returns a block of ours,
         * and the class keeps working. */
        if (hr_expect_exit0(&r, what))
            IT_ASSERT((strcmp(cmd, "tcache_flush") == 0 || hr_get(&r, "popped_ours") == 1) &&
                          hr_get(&r, "still_works") == 1,
                      "%s: \"%s\"", what, r.out);
    } else {
        hr_expect_abort(&r, what);
    }
    hr_expect_report(&r, what, prefix, "corrupted thread-cache entry", NULL);
    er_free(&r);
}

/* malloc pops the overwritten entry: its decoded value fails the check. */
static void test_tcache_pop_abort(void)
{
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t o = 0; o < 2; o++)
            tcache_case("tcache_pop", tcache_sizes[s], offsets[o], 0, "tarena: malloc(): ");
}

/* Check action 1: reported, the bin dropped, and the class keeps handing out
 * distinct, intact blocks afterwards. */
static void test_tcache_pop_report_and_continue(void)
{
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t o = 0; o < 2; o++)
            tcache_case("tcache_pop", tcache_sizes[s], offsets[o], 1, "tarena: malloc(): ");
}

/* The entry is never popped but flushed (malloc_trim empties the cache):
 * it does not decode to a block of ours. */
static void test_tcache_flush_abort(void)
{
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t o = 0; o < 2; o++)
            tcache_case("tcache_flush", tcache_sizes[s], offsets[o], 0, "tarena: free(): ");
}

static void test_tcache_flush_report_and_continue(void)
{
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t o = 0; o < 2; o++)
            tcache_case("tcache_flush", tcache_sizes[s], offsets[o], 1, "tarena: free(): ");
}

/* No background trimmer: it would drain the remote stack on its own, maybe
 * before the helper writes the link. Up to 4 arenas, so the freeing thread
 * gets one of its own even on one CPU. No thread caches: with them the
 * freeing thread would collect both blocks in its outbox and give them back
 * under the bin lock when it exits; without, each goes onto the remote
 * stack. */
static const char *const remote_env[] = {"TARENA_BACKGROUND_TRIM=0", "TARENA_ARENA_MAX=4", "TARENA_TCACHE_COUNT=0",
                                         NULL};

/* The link in the head block of a remote-free stack is overwritten with a
 * pointer that is no block of ours: the drain stops there with a report that
 * names it, instead of following it. (That the blocks really went the remote
 * way shows in the report itself: only the drain of a remote stack says
 * "remote free list".) */
static void test_remote_link_abort(void)
{
    const char *args[] = {"remote", "3000", "1", NULL};
    er_result_t r;
    hr_run(remote_env, args, &r);
    hr_expect_abort(&r, "remote link overwritten");
    hr_expect_report(&r, "remote link overwritten", "tarena: free(): ", "corrupted remote free list", "ptr");
    er_free(&r);
}

static void test_remote_link_report_and_continue(void)
{
    const char *args[] = {"action1", "remote", "3000", "1", NULL};
    er_result_t r;
    hr_run(remote_env, args, &r);
    if (!hr_expect_exit0(&r, "remote link overwritten, action 1")) {
        er_free(&r);
        return;
    }
    hr_expect_report(&r, "remote link overwritten, action 1", "tarena: free(): ", "corrupted remote free list",
                     "ptr");
    CU_ASSERT_EQUAL(hr_get(&r, "survived"), 1);
    CU_ASSERT_EQUAL(hr_get(&r, "still_works"), 1);
    er_free(&r);
}

/* The control: the same remote frees without the write are drained quietly
 * (the check accepts every genuine node). */
static void test_remote_clean_no_report(void)
{
    const char *args[] = {"remote", "3000", "0", NULL};
    er_result_t r;
    hr_run(remote_env, args, &r);
    if (!hr_expect_exit0(&r, "remote frees, no write")) {
        er_free(&r);
        return;
    }
    IT_ASSERT(r.errlen == 0, "remote frees without corruption reported \"%s\"", r.err);
    CU_ASSERT_EQUAL(hr_get(&r, "still_works"), 1);
    er_free(&r);
}

/* ---- double frees of blocks a thread cache holds ---- */

/* Slab classes small to large (16: the key is the slot's last word). */
static const char *const df_sizes[] = {"16", "48", "1000", "20000"};

/* Runs cmd with arg in the helper, aborting and (action1) going on; either
 * way exactly one report naming the block, and with action1 no block is
 * handed out twice afterwards. */
static void double_free_case(const char *const env[], const char *cmd, const char *arg, const char *what)
{
    for (int action1 = 0; action1 <= 1; action1++) {
        const char *args[] = {action1 ? "action1" : cmd, action1 ? cmd : arg, action1 ? arg : NULL, NULL};
        char what1[128];
        snprintf(what1, sizeof what1, "%s%s", what, action1 ? ", action 1" : "");
        er_result_t r;
        hr_run(env, args, &r);
        if (action1) {
            if (hr_expect_exit0(&r, what1)) {
                CU_ASSERT_EQUAL(hr_get(&r, "never_twice"), 1);
                CU_ASSERT_EQUAL(hr_get(&r, "still_works"), 1);
            }
        } else {
            hr_expect_abort(&r, what1);
        }
        hr_expect_report(&r, what1, "tarena: free(): ", "double free", "ptr");
        er_free(&r);
    }
}

/* free(p), free(q), free(p): not back to back, so only the key in p tells. */
static void test_cache_double_free(void)
{
    char what[96];
    for (size_t i = 0; i < sizeof df_sizes / sizeof df_sizes[0]; i++) {
        snprintf(what, sizeof what, "free p, q, p of %s bytes", df_sizes[i]);
        double_free_case(NULL, "cache_double_free", df_sizes[i], what);
    }
}

/* One arena, so the second thread's cache would take the block. */
static const char *const one_arena_env[] = {"TARENA_ARENA_MAX=1", "TARENA_BACKGROUND_TRIM=0", NULL};

/* Freed by main into its cache, freed again by another thread. */
static void test_cross_thread_double_free(void)
{
    double_free_case(one_arena_env, "cross_double_free", "100", "double free across threads");
}

/* Up to 4 arenas, so the freeing thread gets one of its own even on one
 * CPU, and no background trimmer. */
static const char *const own_arena_env[] = {"TARENA_ARENA_MAX=4", "TARENA_BACKGROUND_TRIM=0", NULL};

/* Another arena's block, freed twice by a thread that does not keep such
 * blocks: the first free puts it in the thread's outbox (the helper checks
 * that it is there; a block over 8 KiB goes straight back to its slab), the
 * second is reported, and once the outbox is sent back the block is handed
 * out once, never twice. */
static void test_outbox_double_free(void)
{
    for (size_t i = 0; i < sizeof df_sizes / sizeof df_sizes[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "double free into an outbox, %s bytes", df_sizes[i]);
        double_free_case(own_arena_env, "outbox_double_free", df_sizes[i], what);
    }
}

TA_SUITE(corruption)
{
    TA_ADD(suite, test_cache_double_free);
    TA_ADD(suite, test_cross_thread_double_free);
    TA_ADD(suite, test_outbox_double_free);
    TA_ADD(suite, test_tcache_pop_abort);
    TA_ADD(suite, test_tcache_pop_report_and_continue);
    TA_ADD(suite, test_tcache_flush_abort);
    TA_ADD(suite, test_tcache_flush_report_and_continue);
    TA_ADD(suite, test_remote_link_abort);
    TA_ADD(suite, test_remote_link_report_and_continue);
    TA_ADD(suite, test_remote_clean_no_report);
}
