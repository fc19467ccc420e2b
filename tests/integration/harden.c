/* Integration suite "harden": hardened mode (TARENA_HARDEN, read at
 * start-up), each feature alone (2 canary, 4 guard page, 8 junk, 16
 * quarantine, 32 random order) and all together (1): what it does, what it
 * reports, and that TARENA_HARDEN=0 does none of it. Every case runs
 * ta_harden_helper (harden_helper.c) in a process of its own. */
#include "harden_run.h"
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define HARDEN(v) "TARENA_HARDEN=" #v

/* Runs args under TARENA_HARDEN=mode plus env2 (may be NULL). */
static void run_mode(const char *mode, const char *env2, const char *const args[], er_result_t *r)
{
    const char *env[] = {mode, env2, NULL};
    hr_run(env, args, r);
}

/* ---- layout: what the canary takes, whether thread caches run ---- */

static void test_usable_sizes(void)
{
    static const struct {
        const char *mode;
        uint64_t u24, u32, cached;
    } want[] = {
        /* The canary's 8 bytes come out of the slot: 24 + 8 fits the
         * 32-byte class exactly, 32 + 8 needs the 48-byte one. Every
         * hardened mode runs without thread caches. */
        {HARDEN(0), 32, 32, 1}, {HARDEN(1), 24, 40, 0}, {HARDEN(2), 24, 40, 0},
        {HARDEN(4), 32, 32, 0}, {HARDEN(8), 32, 32, 0}, {HARDEN(32), 32, 32, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *args[] = {"usable", "24", "usable", "32", "cached", "24", NULL};
        er_result_t r;
        run_mode(want[i].mode, NULL, args, &r);
        if (!hr_expect_exit0(&r, want[i].mode)) {
            er_free(&r);
            continue;
        }
        IT_ASSERT(hr_get(&r, "usable_24") == want[i].u24 && hr_get(&r, "usable_32") == want[i].u32 &&
                      hr_get(&r, "cached") == want[i].cached,
                  "%s: usable(24), usable(32), cached: got \"%s\", want %llu %llu %llu", want[i].mode, r.out,
                  (unsigned long long)want[i].u24, (unsigned long long)want[i].u32,
                  (unsigned long long)want[i].cached);
        er_free(&r);
    }
}

/* ---- canaries ---- */

/* One byte past the usable end, then free (or realloc): SIGABRT after one
 * report naming the block. */
static void expect_canary_abort(const char *mode, const char *env2, const char *size, const char *align,
                                const char *how)
{
    char what[128];
    snprintf(what, sizeof what, "%s: %s of a %s-byte block (align %s) with its canary overwritten", mode, how, size,
             align);
    const char *args[] = {"mmap_threshold", "1m", "overflow", size, align, how, NULL};
    er_result_t r;
    run_mode(mode, env2, args, &r);
    hr_expect_abort(&r, what);
    hr_expect_report(&r, what, strcmp(how, "free") == 0 ? "tarena: free(): " : "tarena: realloc(): ",
                     "heap overflow: canary after the block overwritten", "ptr");
    er_free(&r);
}

static void test_canary_slab_blocks(void)
{
    static const char *const sizes[] = {"1", "24", "100", "3000", "32000"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        expect_canary_abort(HARDEN(1), NULL, sizes[i], "0", "free");
        expect_canary_abort(HARDEN(2), NULL, sizes[i], "0", "free");
    }
    /* Aligned blocks come from other classes: the canary follows them too. */
    expect_canary_abort(HARDEN(1), NULL, "100", "64", "free");
    expect_canary_abort(HARDEN(1), NULL, "5000", "4096", "free");
}

/* Page runs (the mmap threshold raised to 1 MiB keeps them off mmap). */
static void test_canary_page_runs(void)
{
    expect_canary_abort(HARDEN(1), NULL, "100k", "0", "free");
    expect_canary_abort(HARDEN(2), NULL, "100k", "0", "free");
    expect_canary_abort(HARDEN(1), NULL, "500k", "0", "free");
}

/* TARENA_CHECK_ACTION=1: the report, then the program goes on (the block
 * is leaked) and the allocator keeps working. */
static void test_canary_report_and_continue(void)
{
    const char *args[] = {"overflow", "100", "0", "free", NULL};
    er_result_t r;
    run_mode(HARDEN(1), "TARENA_CHECK_ACTION=1", args, &r);
    if (!hr_expect_exit0(&r, "canary, check action 1")) {
        er_free(&r);
        return;
    }
    hr_expect_report(&r, "canary, check action 1", "tarena: free(): ", "heap overflow", "ptr");
    CU_ASSERT_EQUAL(hr_get(&r, "still_works"), 1);
    er_free(&r);
}

/* ---- realloc ---- */

/* Growing and shrinking across slab, page-run and mapped sizes keeps the
 * contents and every canary (the final free would report one). */
static void test_realloc_keeps_contents(void)
{
    static const char *const modes[] = {HARDEN(1), HARDEN(2), HARDEN(4)};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const char *args[] = {"realloc_chain", NULL};
        er_result_t r;
        run_mode(modes[i], NULL, args, &r);
        if (!hr_expect_exit0(&r, modes[i])) {
            er_free(&r);
            continue;
        }
        IT_ASSERT(r.errlen == 0, "%s: realloc chain reported \"%s\"", modes[i], r.err);
        CU_ASSERT_EQUAL(hr_get(&r, "realloc_ok"), 1);
        er_free(&r);
    }
}

static void test_realloc_detects_canary(void)
{
    expect_canary_abort(HARDEN(1), NULL, "100", "0", "realloc");
    expect_canary_abort(HARDEN(1), NULL, "100k", "0", "realloc");
}

/* Check action 1: realloc reports, fails with EINVAL and leaves the block
 * as it was. */
static void test_realloc_canary_einval(void)
{
    static const char *const sizes[] = {"100", "100k"};
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = {"action1", "mmap_threshold", "1m", "overflow", sizes[i], "0", "realloc", NULL};
        er_result_t r;
        run_mode(HARDEN(1), NULL, args, &r);
        if (!hr_expect_exit0(&r, "realloc, bad canary, action 1")) {
            er_free(&r);
            continue;
        }
        hr_expect_report(&r, "realloc, bad canary, action 1", "tarena: realloc(): ", "heap overflow", "ptr");
        IT_ASSERT(hr_get(&r, "realloc_null") == 1 && hr_get(&r, "realloc_errno") == EINVAL &&
                      hr_get(&r, "old_intact") == 1,
                  "size %s: want realloc NULL, errno EINVAL, block intact: \"%s\"", sizes[i], r.out);
        CU_ASSERT_EQUAL(hr_get(&r, "still_works"), 1);
        er_free(&r);
    }
}

/* ---- guard pages ---- */

/* A mapped block: its last usable byte is writable, the next one is the
 * guard page (the helper checks the fault address: exit 40). */
static void test_guard_page(void)
{
    static const char *const modes[] = {HARDEN(1), HARDEN(4)};
    static const char *const sizes[] = {"128k", "200000", "1048576"};
    for (size_t m = 0; m < 2; m++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            const char *args[] = {"guard", sizes[i], NULL};
            er_result_t r;
            run_mode(modes[m], NULL, args, &r);
            char st[64];
            IT_ASSERT(r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 40,
                      "%s: write after a %s-byte block: %s, want a fault right at p + usable (exit 40); %s",
                      modes[m], sizes[i], er_status_str(r.status, st, sizeof st), r.out);
            /* usable = the mapping less the guard page: whole pages */
            IT_ASSERT(hr_get(&r, "usable") % it_page() == 0, "%s: usable %s is no whole number of pages",
                      modes[m], r.out);
            er_free(&r);
        }
}

/* ---- junk fill ---- */

/* New blocks hold new_byte (all of the request), freed ones freed_byte
 * (slab blocks, past the first words), calloc zeroes regardless. */
static void expect_junk(const char *mode, const char *perturb, unsigned new_byte, unsigned freed_byte)
{
    static const char *const sizes[] = {"100", "3000", "100k", "300k"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        /* 300k is mapped, 100k a page run */
        const char *args[8] = {"mmap_threshold", "256k"}, **a = args + 2;
        if (perturb) {
            *a++ = "perturb";
            *a++ = perturb;
        }
        *a++ = "junk";
        *a++ = sizes[i];
        *a = NULL;
        er_result_t r;
        run_mode(mode, NULL, args, &r);
        if (!hr_expect_exit0(&r, mode)) {
            er_free(&r);
            continue;
        }
        IT_ASSERT(hr_get(&r, "new_byte") == new_byte && hr_get(&r, "new_uniform") == 1,
                  "%s%s%s, size %s: new block not all %#x: \"%s\"", mode, perturb ? " perturb " : "",
                  perturb ? perturb : "", sizes[i], new_byte, r.out);
        uint64_t fb;
        if (er_get_u64(r.out, "freed_byte", &fb))
            IT_ASSERT(fb == freed_byte && hr_get(&r, "freed_uniform") == 1,
                      "%s, size %s: freed block not all %#x: \"%s\"", mode, sizes[i], freed_byte, r.out);
        CU_ASSERT_EQUAL(hr_get(&r, "calloc_zero"), 1);
        er_free(&r);
    }
}

static void test_junk_fill(void)
{
    expect_junk(HARDEN(1), NULL, 0x24, 0xdb);
    expect_junk(HARDEN(8), NULL, 0x24, 0xdb);
}

/* M_PERTURB's byte wins over the default junk: ~byte on malloc, byte on free. */
static void test_junk_perturb(void)
{
    expect_junk(HARDEN(1), "0x5a", 0xa5, 0x5a);
}

/* ---- quarantine ---- */

/* The block just freed does not come back while the blocks freed after it
 * fit the quarantine: a thread's frees all go to one of its 8 stripes, 512
 * KiB each by default, so at most 400 KiB of frees here. Without hardening
 * the thread cache hands the block straight back (the control). */
static void test_quarantine_delays_reuse(void)
{
    static const struct {
        const char *mode;
        int reused;
    } modes[] = {{HARDEN(0), 1}, {HARDEN(16), 0}, {HARDEN(1), 0}};
    static const struct {
        const char *size, *n;
    } runs[] = {{"64", "100"}, {"3000", "100"}, {"20000", "20"}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
        for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
            const char *args[] = {"reuse", runs[i].size, runs[i].n, NULL};
            er_result_t r;
            run_mode(modes[m].mode, NULL, args, &r);
            if (!hr_expect_exit0(&r, modes[m].mode)) {
                er_free(&r);
                continue;
            }
            uint64_t got = hr_get(&r, "reused");
            IT_ASSERT(modes[m].reused ? got > 0 : got == 0,
                      "%s: a %s-byte block came back %llu times in %s malloc/free pairs", modes[m].mode,
                      runs[i].size, (unsigned long long)got, runs[i].n);
            er_free(&r);
        }
}

/* A second free of a block still in the quarantine is a double free. */
static void test_quarantine_double_free(void)
{
    static const char *const modes[] = {HARDEN(16), HARDEN(1)};
    static const char *const sizes[] = {"64", "40000"}; /* a slab block, a page run */
    for (size_t m = 0; m < 2; m++)
        for (size_t i = 0; i < 2; i++) {
            char what[64];
            snprintf(what, sizeof what, "%s, double free of %s bytes", modes[m], sizes[i]);
            const char *args[] = {"double_free", sizes[i], NULL};
            er_result_t r;
            run_mode(modes[m], NULL, args, &r);
            hr_expect_abort(&r, what);
            hr_expect_report(&r, what, "tarena: free(): ", "double free", "ptr");
            er_free(&r);
        }
}

/* The quarantine holds about TARENA_QUARANTINE bytes whatever the mix of
 * sizes: 4000 small blocks, then 5000 of 60000 bytes through a 4 MiB one;
 * and, with 8 KiB per stripe, 20000-byte blocks (too big to queue) freed
 * after small ones go straight back instead of being lost. in_use counts
 * what was not given back; everything here was freed. */
static void test_quarantine_budget(void)
{
    static const struct {
        const char *quarantine, *desc;
        const char *const args[8];
        uint64_t max_in_use;
    } cases[] = {
        {"TARENA_QUARANTINE=4m", "4000 small frees, then 5000 of 60000 bytes",
         {"free_small", "4000", "churn", "60000", "5000", "0", "in_use"}, 8 * IT_MIB},
        {"TARENA_QUARANTINE=64k", "2000 times a 64-byte free, then a 20000-byte one",
         {"churn", "20000", "2000", "1", "in_use"}, IT_MIB},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        er_result_t r;
        run_mode(HARDEN(1), cases[i].quarantine, cases[i].args, &r);
        if (!hr_expect_exit0(&r, cases[i].quarantine)) {
            er_free(&r);
            continue;
        }
        uint64_t in_use = hr_get(&r, "in_use");
        IT_ASSERT(in_use <= cases[i].max_in_use, "%s, %s: %llu bytes still held after every block was freed",
                  cases[i].quarantine, cases[i].desc, (unsigned long long)in_use);
        er_free(&r);
    }
}

/* A write to a freed block is found when it leaves the quarantine (kept
 * small here so that it leaves soon: 8 KiB per stripe for slab blocks, 128
 * KiB for the page run). Checking needs the junk fill: 1 has it, 24 is
 * quarantine + junk alone. */
static void test_write_after_free(void)
{
    static const char *const modes[] = {HARDEN(1), HARDEN(24)};
    static const struct {
        const char *size, *off, *quarantine;
    } cases[] = {
        {"64", "0", "64k"}, {"64", "8", "64k"}, {"64", "20", "64k"}, {"64", "63", "64k"},
        {"3000", "2999", "64k"}, {"40000", "20000", "1m"},
    };
    for (size_t m = 0; m < 2; m++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char what[96], q[64];
            snprintf(what, sizeof what, "%s, %s-byte block written at %s after free", modes[m], cases[i].size,
                     cases[i].off);
            snprintf(q, sizeof q, "TARENA_QUARANTINE=%s", cases[i].quarantine);
            const char *args[] = {"write_after_free", cases[i].size, cases[i].off, NULL};
            er_result_t r;
            run_mode(modes[m], q, args, &r);
            hr_expect_abort(&r, what);
            hr_expect_report(&r, what, "tarena: free(): ", "write after free: block changed while in quarantine",
                             "ptr");
            er_free(&r);
        }
}

/* Check action 1: reported once; the block is never handed out again. */
static void test_write_after_free_report_and_continue(void)
{
    const char *args[] = {"write_after_free", "64", "20", NULL};
    const char *env[] = {HARDEN(1), "TARENA_QUARANTINE=64k", "TARENA_CHECK_ACTION=1", NULL};
    er_result_t r;
    hr_run(env, args, &r);
    if (!hr_expect_exit0(&r, "write after free, action 1")) {
        er_free(&r);
        return;
    }
    hr_expect_report(&r, "write after free, action 1", "tarena: free(): ", "write after free", "ptr");
    CU_ASSERT_EQUAL(hr_get(&r, "handed_out_again"), 0);
    er_free(&r);
}

/* ---- random slot order ---- */

/* 64 blocks of one size in a row: in random order about half the steps go
 * up; in address order (the control, no hardening) nearly all or none do
 * (a new batch from the bin may start elsewhere). */
static void test_random_order(void)
{
    static const char *const modes[] = {HARDEN(0), HARDEN(32), HARDEN(1)};
    for (size_t m = 0; m < 3; m++) {
        const char *args[] = {"order", "48", "64", NULL};
        er_result_t r;
        run_mode(modes[m], NULL, args, &r);
        if (!hr_expect_exit0(&r, modes[m])) {
            er_free(&r);
            continue;
        }
        uint64_t up = hr_get(&r, "up");
        if (m == 0)
            IT_ASSERT(up < 8 || up > 55, "%s: %llu of 63 steps up, want (nearly) address order", modes[m],
                      (unsigned long long)up);
        else /* about 31.5 +- 4 when random: the bounds are many deviations off */
            IT_ASSERT(up >= 8 && up <= 55, "%s: %llu of 63 steps up: looks ordered", modes[m],
                      (unsigned long long)up);
        er_free(&r);
    }
}

/* ---- threads and fork ---- */

/* 4 threads, every block freed by another thread than its allocator, all
 * size ranges and calls, contents checked: no report, nothing damaged. */
static void test_threads_cross_free(void)
{
    const char *args[] = {"threads", NULL};
    er_result_t r;
    run_mode(HARDEN(1), NULL, args, &r);
    if (!hr_expect_exit0(&r, "threads")) {
        er_free(&r);
        return;
    }
    IT_ASSERT(r.errlen == 0, "threads: reports \"%s\"", r.err);
    CU_ASSERT_EQUAL(hr_get(&r, "mt_errors"), 0);
    er_free(&r);
}

/* 20 forks while another thread allocates: each child frees the parent's
 * blocks, churns, and still gets its one canary report (check action 1). */
static void test_fork(void)
{
    const char *args[] = {"forks", "20", NULL};
    er_result_t r;
    run_mode(HARDEN(1), NULL, args, &r);
    if (!hr_expect_exit0(&r, "forks")) {
        er_free(&r);
        return;
    }
    CU_ASSERT_EQUAL(hr_get(&r, "forks_ok"), 20);
    CU_ASSERT_EQUAL(hr_get(&r, "mt_errors"), 0);
    size_t lines = er_count_lines(r.err, "tarena: free(): heap overflow");
    IT_ASSERT(lines == 20 && er_count_lines(r.err, "") == 20, "forks: want 20 canary reports, got \"%s\"", r.err);
    er_free(&r);
}

/* ---- off ---- */

/* TARENA_HARDEN=0: no canary in the slot, thread caches on, blocks come
 * straight back, nothing junk-filled, no report. */
static void test_off_does_nothing(void)
{
    const char *args[] = {"usable", "24", "cached", "24", "reuse", "64", "10", "junk", "100", NULL};
    er_result_t r;
    run_mode(HARDEN(0), NULL, args, &r);
    if (!hr_expect_exit0(&r, "TARENA_HARDEN=0")) {
        er_free(&r);
        return;
    }
    IT_ASSERT(r.errlen == 0, "TARENA_HARDEN=0: reports \"%s\"", r.err);
    CU_ASSERT_EQUAL(hr_get(&r, "usable_24"), 32);
    CU_ASSERT_EQUAL(hr_get(&r, "cached"), 1);
    CU_ASSERT(hr_get(&r, "reused") > 0);
    CU_ASSERT(hr_get(&r, "new_byte") != 0x24);
    CU_ASSERT(hr_get(&r, "freed_byte") != 0xdb);
    er_free(&r);
}

TA_SUITE(harden)
{
    TA_ADD(suite, test_usable_sizes);
    TA_ADD(suite, test_canary_slab_blocks);
    TA_ADD(suite, test_canary_page_runs);
    TA_ADD(suite, test_canary_report_and_continue);
    TA_ADD(suite, test_realloc_keeps_contents);
    TA_ADD(suite, test_realloc_detects_canary);
    TA_ADD(suite, test_realloc_canary_einval);
    TA_ADD(suite, test_guard_page);
    TA_ADD(suite, test_junk_fill);
    TA_ADD(suite, test_junk_perturb);
    TA_ADD(suite, test_quarantine_delays_reuse);
    TA_ADD(suite, test_quarantine_double_free);
    TA_ADD(suite, test_quarantine_budget);
    TA_ADD(suite, test_write_after_free);
    TA_ADD(suite, test_write_after_free_report_and_continue);
    TA_ADD(suite, test_random_order);
    TA_ADD(suite, test_threads_cross_free);
    TA_ADD(suite, test_fork);
    TA_ADD(suite, test_off_does_nothing);
}
