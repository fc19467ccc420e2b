/* libFuzzer harness: the input is a program of allocator operations over the
 * ta_* API (malloc, calloc, realloc, reallocarray, the aligned calls, free,
 * usable_size, malloc_trim, mallopt, stats, and bursts under injected OS
 * failures), run by one or two fresh threads against a shadow model of every
 * live block. See tests/fuzz/README.md.
 *
 * Input: byte 0 = flags, then 8-byte operation records
 *   r[0] bit 7: which thread runs the record (two-thread mode), bits 0-4: op
 *   r[1] slot, r[2..5] size word (little endian), r[6] alignment, r[7] extra.
 * flags bit 0: two worker threads (else one); bit 1: workers leave their
 * blocks behind for the main thread to free after they exited; bit 2:
 * thorough mode (every live block checked every 16 ops, not 4 of them).
 *
 * Each live block has an id; its usable size holds a pattern derived from
 * the id and the offset (all of it up to 256 KiB; head, tail and a window
 * every 64 KiB beyond), checked before every realloc and free and by a
 * sampled sweep every 16 operations, so overlapping blocks, lost realloc
 * contents and writes by the allocator into live memory are all seen. A
 * second thread runs the records whose selector bit is set; blocks move
 * between the threads through a small locked hand-off array, so frees cross
 * threads and arenas. The allocator's counters are checked against the model
 * (exactly, whenever only one of our threads runs). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "options.h" /* ta_opt: restored before every input */
#include "pagemap.h"
#include "span.h"
#include "tarena.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)
#define SLOTS 128            /* live blocks per thread (two threads: 256) */
#define HANDOFF 16           /* blocks in flight between the threads */
#define LIVE_CAP (24 * MIB)  /* bytes a thread keeps live at most */
#define SWEEP_EVERY 16       /* ops between two sampled checks */
#define SWEEP_BLOCKS 4       /* blocks per sampled check */
#define FULL_CHECK_MAX (256 * KIB) /* larger blocks: head, tail and samples */

typedef struct blk {
    unsigned char *p;
    size_t size;   /* requested */
    size_t usable; /* malloc_usable_size when it was made; the pattern covers it */
    size_t align;  /* promised alignment */
    uint64_t id;
} blk_t;

typedef struct worker {
    const uint8_t *ops;
    size_t nrec;
    unsigned self;     /* 0 or 1: the selector value this worker runs */
    bool two, leave, thorough;
    blk_t b[SLOTS];
    size_t live_bytes;
    unsigned evict, sweep, nops;
} worker_t;

static blk_t handoff[HANDOFF];
static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t next_id = 1; /* atomic */
static ta_options_t default_opt;
static FILE *devnull;
static bool stats_exact; /* only one of our threads allocates: counters exact */
/* Set once this input injected OS failures (ta_test_os_fail): from then on
 * an allocation may fail with ENOMEM, in either thread; it must leave
 * everything intact (a failed realloc keeps its block). */
static int inject_seen; /* atomic */

static bool may_fail(void)
{
    return __atomic_load_n(&inject_seen, __ATOMIC_SEQ_CST) != 0;
}

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_ops: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* The pattern loops run over megabytes per input: neither coverage-traced
 * nor ASan-checked (the blocks are tarena's memory, which ASan does not
 * track anyway), or they would be most of the fuzzer's time. */
#if defined(__clang__)
#define FZ_HOT __attribute__((no_sanitize("address", "coverage")))
#else
#define FZ_HOT
#endif
typedef uint64_t __attribute__((may_alias)) fz_u64;

/* ---- the pattern: 8-byte words, seed(id) ^ index * K (cheap, position
 * dependent, different for every block). Byte o is byte o%8 of word o/8. */
FZ_HOT static inline __attribute__((always_inline)) uint64_t pat_seed(uint64_t id)
{
    uint64_t x = id * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    return x * 0xBF58476D1CE4E5B9ull;
}
FZ_HOT static inline __attribute__((always_inline)) uint64_t pat_word(uint64_t seed, size_t w)
{
    return seed ^ ((uint64_t)w * 0xD6E8FEB86659FD93ull);
}
FZ_HOT static inline __attribute__((always_inline)) unsigned char pat_byte(uint64_t seed, size_t o)
{
    return (unsigned char)(pat_word(seed, o >> 3) >> ((o & 7) * 8));
}

/* Blocks are 16-byte aligned, so p + o is 8-byte aligned when o is. */
FZ_HOT static void pat_fill(unsigned char *p, size_t from, size_t to, uint64_t id)
{
    uint64_t seed = pat_seed(id);
    size_t o = from;
    for (; o < to && (o & 7); o++)
        p[o] = pat_byte(seed, o);
    for (; o + 8 <= to; o += 8)
        *(fz_u64 *)(p + o) = pat_word(seed, o >> 3);
    for (; o < to; o++)
        p[o] = pat_byte(seed, o);
}

/* First offset in [from, to) that does not hold the pattern, or SIZE_MAX. */
FZ_HOT static size_t pat_check(const unsigned char *p, size_t from, size_t to, uint64_t id)
{
    uint64_t seed = pat_seed(id);
    size_t o = from;
    for (; o < to && (o & 7); o++)
        if (p[o] != pat_byte(seed, o))
            return o;
    for (; o + 8 <= to; o += 8) {
        if (*(const fz_u64 *)(p + o) != pat_word(seed, o >> 3)) {
            for (size_t i = o;; i++)
                if (p[i] != pat_byte(seed, i))
                    return i;
        }
    }
    for (; o < to; o++)
        if (p[o] != pat_byte(seed, o))
            return o;
    return SIZE_MAX;
}

/* Where a block carries the pattern: all of it up to FULL_CHECK_MAX bytes;
 * in larger blocks the first and last 4 KiB and 512 bytes every 64 KiB (so
 * a 4 MiB block costs a few pages, not a 4 MiB fill per operation). Calls
 * fn on each region clipped to [0, limit). */
typedef void region_fn(const blk_t *b, size_t from, size_t to, const char *when);
static void visit_regions(const blk_t *b, size_t usable, size_t limit, region_fn *fn, const char *when)
{
    size_t end = TA_MIN(usable, limit);
    if (usable <= FULL_CHECK_MAX) {
        fn(b, 0, end, when);
        return;
    }
    fn(b, 0, TA_MIN(4 * KIB, end), when);
    for (size_t o = 64 * KIB; o + 512 <= usable - 4 * KIB && o < end; o += 64 * KIB)
        fn(b, o, TA_MIN(o + 512, end), when);
    if (usable - 4 * KIB < end)
        fn(b, usable - 4 * KIB, end, when);
}

static void check_range(const blk_t *b, size_t from, size_t to, const char *when)
{
    if (from >= to)
        return;
    size_t bad = pat_check(b->p, from, to, b->id);
    if (bad != SIZE_MAX)
        fail("%s: block %p (id %llu, size %zu, usable %zu, align %zu) corrupted at offset %zu: "
             "0x%02x, expected 0x%02x",
             when, (void *)b->p, (unsigned long long)b->id, b->size, b->usable, b->align, bad,
             b->p[bad], pat_byte(pat_seed(b->id), bad));
}

static void fill_range(const blk_t *b, size_t from, size_t to, const char *when)
{
    (void)when;
    if (from < to)
        pat_fill(b->p, from, to, b->id);
}

static void check_block(const blk_t *b, const char *when)
{
    visit_regions(b, b->usable, b->usable, check_range, when);
}

static void fill_block(const blk_t *b)
{
    visit_regions(b, b->usable, b->usable, fill_range, NULL);
}

FZ_HOT static size_t first_nonzero(const unsigned char *p, size_t n)
{
    size_t o = 0;
    for (; o + 8 <= n; o += 8)
        if (*(const fz_u64 *)(p + o))
            break;
    for (; o < n; o++)
        if (p[o])
            return o;
    return SIZE_MAX;
}

/* ---- decoding */
static const size_t boundaries[] = {
    0, 1, 8, 15, 16, 17, 31, 32, 33, 48, 127, 128, 129, 1023, 1024, 1025, 1280, 1281,
    4095, 4096, 4097, 8191, 8192, 8193, 16384, 24576, 32767, 32768, 32769, 65535,
    65536, 65537, 126976, 131071, 131072, 131073, 135168, 262144, 1048575, 1048576,
    2097151, 2097152, 2097153, 4194304,
};
#define NBOUNDARIES (sizeof boundaries / sizeof boundaries[0])

/* Mostly small (the thread caches and slabs), some medium (page runs, the
 * mmap threshold), few large: 1/16 up to 1 MiB, 1/16 up to 4 MiB. */
static size_t decode_size(const uint8_t *r)
{
    uint32_t v = (uint32_t)r[2] | (uint32_t)r[3] << 8 | (uint32_t)r[4] << 16 | (uint32_t)r[5] << 24;
    uint32_t x = v & 0x0fffffff;
    switch (v >> 28) {
    case 0: case 1: case 2: case 3: case 4:
        return x % 257;
    case 5: case 6:
        return boundaries[x % NBOUNDARIES];
    case 7: case 8: case 9:
        return x % (4 * KIB + 1);
    case 10: case 11: case 12:
        return x % (33 * KIB);
    case 13:
        return 32 * KIB + x % (224 * KIB); /* medium blocks, around M_MMAP_THRESHOLD */
    case 14:
        return x % MIB;
    default:
        return MIB + x % (3 * MIB + 1);
    }
}

/* 16 B .. 64 KiB; 0xf0 and up: 128 KiB .. 2 MiB. */
static size_t decode_align(uint8_t a)
{
    if (a >= 0xf0)
        return (size_t)128 * KIB << ((a - 0xf0) % 5);
    return (size_t)16 << (a % 13);
}

static size_t round_pow2(size_t a)
{
    size_t r = 1;
    while (r < a)
        r <<= 1;
    return r;
}

static uint64_t new_id(void)
{
    return __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
}

/* ---- the model */
static void blk_drop(worker_t *w, blk_t *b)
{
    w->live_bytes -= b->usable;
    memset(b, 0, sizeof *b);
}

static void release(worker_t *w, blk_t *b, bool cfree)
{
    if (!b->p)
        return;
    check_block(b, "before free");
    if (cfree)
        ta_cfree(b->p);
    else
        ta_free(b->p);
    blk_drop(w, b);
}

/* Frees blocks (oldest slots first) until `need` more bytes fit under the cap. */
static void make_room(worker_t *w, size_t need)
{
    for (unsigned i = 0; i < SLOTS && w->live_bytes + need > LIVE_CAP; i++) {
        blk_t *b = &w->b[w->evict++ % SLOTS];
        release(w, b, false);
    }
}

/* Checks a fresh block and takes it into slot b. */
static void adopt(worker_t *w, blk_t *b, void *p, size_t size, size_t align, bool zeroed, const char *what)
{
    if (!p) {
        if (may_fail() && errno == ENOMEM)
            return; /* the slot stays empty */
        fail("%s(%zu, align %zu) returned NULL (errno %d)", what, size, align, errno);
    }
    uintptr_t a = (uintptr_t)p;
    if (a % 16)
        fail("%s(%zu) returned %p: not 16-byte aligned", what, size, p);
    if (align > 16 && a % align)
        fail("%s(%zu, align %zu) returned %p: misaligned", what, size, align, p);
    size_t usable = ta_malloc_usable_size(p);
    if (usable < size)
        fail("%s(%zu): usable size %zu is smaller than the request", what, size, usable);
    if (zeroed) {
        size_t bad = first_nonzero(p, size);
        if (bad != SIZE_MAX)
            fail("%s(%zu) = %p: byte %zu is 0x%02x, not zero", what, size, p, bad, ((unsigned char *)p)[bad]);
    }
    b->p = p;
    b->size = size;
    b->usable = usable;
    b->align = TA_MAX(align, (size_t)16);
    b->id = new_id();
    w->live_bytes += usable;
    fill_block(b);
}

/* ---- operations */
static void op_malloc(worker_t *w, blk_t *b, size_t size)
{
    release(w, b, false);
    make_room(w, size);
    adopt(w, b, ta_malloc(size), size, 0, false, "malloc");
}

static void op_calloc(worker_t *w, blk_t *b, size_t size, uint8_t extra)
{
    size_t elem = 1 + extra % 64;
    size_t n = size / elem;
    release(w, b, false);
    make_room(w, n * elem);
    adopt(w, b, ta_calloc(n, elem), n * elem, 0, true, "calloc");
}

static void op_realloc(worker_t *w, blk_t *b, size_t size, uint8_t extra, bool array)
{
    if (!b->p) {
        make_room(w, size);
        void *p = array ? ta_reallocarray(NULL, size, 1) : ta_realloc(NULL, size);
        adopt(w, b, p, size, 0, false, array ? "reallocarray(NULL)" : "realloc(NULL)");
        return;
    }
    switch (extra & 3) {
    case 1: /* grow a little: in-place growth of slab slack, page runs, mremap */
        size = TA_MIN(b->size + (size_t)(extra >> 2) * 64, 4 * MIB);
        break;
    case 2: /* shrink */
        size = b->size - TA_MIN(b->size, (size_t)(extra >> 2) * 512);
        break;
    case 3:
        size = TA_MIN(b->size * 2 + 1, 4 * MIB);
        break;
    default:
        break;
    }
    check_block(b, "before realloc");
    if (size > b->usable)
        make_room(w, size - b->usable);
    if (!b->p) { /* make_room took it */
        op_realloc(w, b, size, 0, array);
        return;
    }
    void *q;
    if (array) {
        size_t elem = 1 + extra % 16;
        size_t n = size / elem;
        size = n * elem;
        q = ta_reallocarray(b->p, n, elem);
    } else {
        q = ta_realloc(b->p, size);
    }
    if (size == 0) {
        /* glibc semantics: realloc(p, 0) frees p and returns NULL. */
        if (q)
            fail("realloc(%p, 0) returned %p, not NULL", (void *)b->p, q);
        blk_drop(w, b);
        return;
    }
    if (!q) {
        if (may_fail() && errno == ENOMEM) {
            check_block(b, "after failed realloc (OS failure injected)");
            return;
        }
        fail("realloc(%p, %zu) failed (errno %d)", (void *)b->p, size, errno);
    }
    blk_t old = *b;
    size_t keep = TA_MIN(old.size, size);
    b->p = q;
    /* The preserved prefix: the old request's bytes that fit the new one. */
    size_t usable = ta_malloc_usable_size(q);
    if (usable < size)
        fail("realloc(%p, %zu) = %p: usable size %zu too small", (void *)old.p, size, q, usable);
    if ((uintptr_t)q % 16)
        fail("realloc(%zu) = %p: not 16-byte aligned", size, q);
    b->usable = usable;
    b->size = size;
    /* The old block's patterned regions within the kept prefix must have
     * moved along; then the new block gets its own regions. */
    visit_regions(b, old.usable, keep, check_range, "after realloc (kept prefix)");
    b->align = 16; /* realloc keeps only the default alignment */
    w->live_bytes += usable - old.usable;
    fill_block(b);
}

static void op_aligned(worker_t *w, blk_t *b, unsigned kind, size_t size, uint8_t araw)
{
    size_t align = decode_align(araw);
    release(w, b, false);
    make_room(w, size + (align > 4096 ? align : 0));
    void *p = NULL;
    switch (kind) {
    case 0: {
        int rc = ta_posix_memalign(&p, align, size);
        if (rc == ENOMEM && may_fail())
            return;
        if (rc)
            fail("posix_memalign(%zu, %zu) = %d", align, size, rc);
        adopt(w, b, p, size, align, false, "posix_memalign");
        return;
    }
    case 1:
        adopt(w, b, ta_aligned_alloc(align, size), size, align, false, "aligned_alloc");
        return;
    case 2:
        /* memalign rounds an alignment that is not a power of two up. */
        if (araw & 1)
            align = align - align / 4;
        adopt(w, b, ta_memalign(align, size), size, round_pow2(align), false, "memalign");
        return;
    case 3:
        adopt(w, b, ta_valloc(size), size, 4096, false, "valloc");
        return;
    default: {
        void *q = ta_pvalloc(size);
        adopt(w, b, q, size, 4096, false, "pvalloc");
        size_t want = (TA_MAX(size, (size_t)1) + 4095) & ~(size_t)4095;
        if (b->p && b->usable < want)
            fail("pvalloc(%zu): usable %zu < %zu", size, b->usable, want);
        return;
    }
    }
}

/* Calls that must fail, and must leave everything intact. */
static void op_errors(worker_t *w, blk_t *b, uint8_t extra)
{
    (void)w;
    void *p = (void *)&p;
    int e;
    switch (extra % 9) {
    case 0: {
        static const size_t bad[] = {0, 1, 2, 4, 24, 48, 3000, 12288};
        size_t a = bad[(extra / 9) % 8];
        int rc = ta_posix_memalign(&p, a, 64);
        if (rc != EINVAL || p != (void *)&p)
            fail("posix_memalign(align %zu) = %d, memptr %s; want EINVAL, untouched", a, rc,
                 p == (void *)&p ? "untouched" : "written");
        break;
    }
    case 1:
        errno = 0;
        p = ta_aligned_alloc(48, 64);
        if (p || errno != EINVAL)
            fail("aligned_alloc(48, 64) = %p errno %d; want NULL, EINVAL", p, errno);
        break;
    case 2:
        errno = 0;
        p = ta_malloc(SIZE_MAX - extra);
        e = errno;
        if (p || e != ENOMEM)
            fail("malloc(SIZE_MAX - %u) = %p errno %d", extra, p, e);
        break;
    case 3:
        errno = 0;
        p = ta_calloc(SIZE_MAX / 2, 3);
        if (p || errno != ENOMEM)
            fail("calloc overflow = %p errno %d", p, errno);
        break;
    case 4:
        errno = 0;
        p = ta_malloc((size_t)PTRDIFF_MAX + 1);
        if (p || errno != ENOMEM)
            fail("malloc(PTRDIFF_MAX + 1) = %p errno %d", p, errno);
        break;
    case 5:
    case 6:
        if (!b->p)
            break;
        errno = 0;
        p = extra % 9 == 5 ? ta_realloc(b->p, SIZE_MAX - 4096) : ta_reallocarray(b->p, SIZE_MAX / 4, 8);
        if (p || errno != ENOMEM)
            fail("oversized realloc(%p) = %p errno %d; want NULL, ENOMEM", (void *)b->p, p, errno);
        check_block(b, "after failed realloc");
        break;
    case 7:
        ta_free(NULL);
        if (ta_malloc_usable_size(NULL) != 0)
            fail("malloc_usable_size(NULL) != 0");
        break;
    default:
        /* ta_owns never aborts and knows its own blocks. */
        if (ta_owns(&p) || ta_owns(NULL) || ta_owns(devnull))
            fail("ta_owns accepts a pointer tarena never handed out");
        if (b->p && (!ta_owns(b->p) || ta_owns(b->p + 1)))
            fail("ta_owns(%p) = %d, ta_owns(p + 1) = %d", (void *)b->p, ta_owns(b->p), ta_owns(b->p + 1));
        break;
    }
}

/* Calls with pointers tarena never handed out, made from a live block:
 * misaligned, interior, the tail of its slab past the last slot, a page
 * into a page run; and (one thread only, so nothing can take it in
 * between) the first slot its slab never handed out or a block already
 * freed. Given to free, realloc (NULL and EINVAL)
 * or malloc_usable_size (0), each must be detected (the misuse count goes up
 * by one; check action 0 for the call, so nothing aborts or prints) and
 * leave every block intact. Serialised, so the count is this call's. */
static pthread_mutex_t misuse_lock = PTHREAD_MUTEX_INITIALIZER;
static void op_misuse(worker_t *w, blk_t *b, uint8_t extra)
{
    if (!b->p)
        return;
    check_block(b, "before misuse");
    uintptr_t p = (uintptr_t)b->p, bad = 0;
    ta_span_t *s = ta_pagemap_get(p);
    unsigned k = extra / 6;
    switch (extra % 6) {
    case 0:
        bad = p + 1 + k % 15;
        break;
    case 1:
        if (b->usable >= 32)
            bad = p + 16 * (1 + k % ((b->usable - 16) / 16));
        break;
    case 2:
        if (s && s->state == TA_SPAN_SLAB) {
            bad = s->start + (uintptr_t)s->nobjs * ta_classes[s->sclass].size;
            if (bad + 16 > ta_span_end(s))
                bad = 0; /* no tail */
        }
        break;
    case 3:
        if (s && s->state != TA_SPAN_SLAB && b->usable > 4096)
            bad = p + 4096;
        break;
    case 4:
        if (!w->two)
            bad = p; /* freed first, below */
        break;
    default:
        /* The first slot its slab never handed out (in the slab's free map;
         * one thread only, or the other could take it in between). */
        if (!w->two && s && s->state == TA_SPAN_SLAB) {
            uint32_t never = TA_RELAXED_LOAD(s->fresh);
            if (never < s->nobjs)
                bad = s->start + (uintptr_t)never * ta_classes[s->sclass].size;
        }
        break;
    }
    if (!bad)
        return;
    pthread_mutex_lock(&misuse_lock);
    bool twice = bad == p;
    size_t size = b->size;
    if (twice) {
        ta_free(b->p);
        blk_drop(w, b);
    }
    /* The same pointer through free, realloc or malloc_usable_size. */
    unsigned call = (extra >> 6) % 3;
    static const char *const calls[] = {"free", "realloc", "malloc_usable_size"};
    uint64_t saved = TA_OPT(check_action);
    TA_OPT_SET(check_action, 0);
    unsigned long before = ta_test_misuse_count();
    bool answer_ok = true;
    if (call == 0) {
        ta_free((void *)bad);
    } else if (call == 1) {
        errno = 0;
        void *q = ta_realloc((void *)bad, 1 + k);
        answer_ok = q == NULL && errno == EINVAL;
        if (q)
            ta_free(q);
    } else {
        answer_ok = ta_malloc_usable_size((void *)bad) == 0;
    }
    unsigned long seen = ta_test_misuse_count() - before;
    TA_OPT_SET(check_action, saved);
    pthread_mutex_unlock(&misuse_lock);
    if (seen != 1 || !answer_ok)
        fail("%s(%p) (%s of a %zu-byte block at %p) went through: %lu reports, want 1%s", calls[call], (void *)bad,
             twice ? "second free" : extra % 6 == 0 ? "misaligned pointer" : extra % 6 == 1 ? "interior pointer"
             : extra % 6 == 2 ? "slab tail" : extra % 6 == 3 ? "page inside a page run" : "slot never handed out",
             size, (void *)p, seen,
             answer_ok ? "" : call == 1 ? "; realloc must return NULL with errno EINVAL" : "; usable size must be 0");
    if (!twice)
        check_block(b, "after misuse");
}

static void op_usable(worker_t *w, blk_t *b)
{
    (void)w;
    if (!b->p)
        return;
    size_t u = ta_malloc_usable_size(b->p);
    if (u != b->usable)
        fail("malloc_usable_size(%p) changed from %zu to %zu", (void *)b->p, b->usable, u);
    if (!ta_owns(b->p))
        fail("ta_owns(%p) = 0 for a live block", (void *)b->p);
    check_block(b, "usable_size");
}

static void op_handoff(worker_t *w, blk_t *b, uint8_t extra)
{
    unsigned h = extra % HANDOFF;
    pthread_mutex_lock(&handoff_lock);
    if (extra & 0x80) {
        /* give: the block leaves this thread's model */
        if (b->p && !handoff[h].p) {
            handoff[h] = *b;
            w->live_bytes -= b->usable;
            memset(b, 0, sizeof *b);
        }
        pthread_mutex_unlock(&handoff_lock);
        return;
    }
    blk_t got = handoff[h];
    memset(&handoff[h], 0, sizeof handoff[h]);
    pthread_mutex_unlock(&handoff_lock);
    if (!got.p)
        return;
    release(w, b, false);
    *b = got;
    w->live_bytes += got.usable;
    check_block(b, "after hand-off");
    if (extra & 0x40) /* free right away: a cross-thread free */
        release(w, b, false);
}

static void stats_check(size_t expect_blocks, size_t expect_bytes, const char *when)
{
    ta_stats_t st;
    memset(&st, 0xa5, sizeof st);
    st.size = sizeof st;
    st.version = TA_STATS_VERSION;
    if (ta_stats_get(&st) != 0)
        fail("ta_stats_get failed");
    if (st.heap_free_bytes > st.heap_bytes)
        fail("stats: heap_free_bytes %llu > heap_bytes %llu", (unsigned long long)st.heap_free_bytes,
             (unsigned long long)st.heap_bytes);
    if (st.dirty_bytes > st.heap_free_bytes)
        fail("stats: dirty_bytes %llu > heap_free_bytes %llu", (unsigned long long)st.dirty_bytes,
             (unsigned long long)st.heap_free_bytes);
    if (expect_blocks == SIZE_MAX)
        return;
    if (st.allocs - st.frees != expect_blocks || st.allocated_bytes - st.freed_bytes != expect_bytes)
        fail("stats %s: allocs %llu - frees %llu = %lld live blocks, expected %zu; "
             "allocated %llu - freed %llu = %lld bytes, expected %zu",
             when, (unsigned long long)st.allocs, (unsigned long long)st.frees,
             (long long)(st.allocs - st.frees), expect_blocks, (unsigned long long)st.allocated_bytes,
             (unsigned long long)st.freed_bytes, (long long)(st.allocated_bytes - st.freed_bytes),
             expect_bytes);
}

/* Live blocks in this worker and the hand-off array (single-thread mode). */
static void model_totals(worker_t *w, size_t *blocks, size_t *bytes)
{
    *blocks = *bytes = 0;
    for (unsigned i = 0; i < SLOTS; i++)
        if (w->b[i].p) {
            ++*blocks;
            *bytes += w->b[i].usable;
        }
    pthread_mutex_lock(&handoff_lock);
    for (unsigned i = 0; i < HANDOFF; i++)
        if (handoff[i].p) {
            ++*blocks;
            *bytes += handoff[i].usable;
        }
    pthread_mutex_unlock(&handoff_lock);
}

static void op_misc(worker_t *w, blk_t *b, const uint8_t *r)
{
    uint8_t extra = r[7];
    switch (r[6] % 8) {
    case 0: {
        static const size_t pads[] = {0, 4096, 64 * KIB, MIB, SIZE_MAX};
        int rc = ta_malloc_trim(pads[extra % 5]);
        if (rc != 0 && rc != 1)
            fail("malloc_trim returned %d", rc);
        break;
    }
    case 1: {
        static const int params[] = {M_PERTURB, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD,
                                     M_MMAP_MAX, M_MXFAST, 12345};
        static const int values[] = {0, 1, 4096, 65536, 128 * 1024, 1 << 20, 32 << 20, -1};
        int param = params[extra % 7];
        int value = values[(extra / 7) % 8];
        if (param == M_PERTURB)
            value = (extra & 0x40) ? 0 : extra;
        if (param == M_MMAP_MAX && value > 65536)
            value = 65536;
        int want = 1;
        if (param == M_MMAP_THRESHOLD && (value < 0 || value > (32 << 20)))
            want = 0;
        if (param == M_MXFAST && (value < 0 || value > 160))
            want = 0;
        int rc = ta_mallopt(param, value);
        if (rc != want)
            fail("mallopt(%d, %d) = %d, expected %d", param, value, rc, want);
        break;
    }
    case 2: {
        size_t blocks = SIZE_MAX, bytes = 0;
        if (stats_exact)
            model_totals(w, &blocks, &bytes);
        stats_check(blocks, bytes, "during the run");
        break;
    }
    case 3: {
        struct mallinfo2 mi = ta_mallinfo2();
        if (mi.fordblks > mi.arena)
            fail("mallinfo2: fordblks %zu > arena %zu", mi.fordblks, mi.arena);
        if (extra == 0xff && ta_malloc_info(0, devnull) != 0)
            fail("malloc_info failed");
        break;
    }
    case 4: /* churn one size: tcache refill, overflow flush, GC */
    {
        size_t size = decode_size(r);
        if (size > 64 * KIB)
            size %= 64 * KIB;
        void *tmp[64];
        unsigned n = 1 + extra % 64;
        for (unsigned i = 0; i < n; i++) {
            tmp[i] = ta_malloc(size);
            if (!tmp[i] && !(may_fail() && errno == ENOMEM))
                fail("malloc(%zu) failed in churn", size);
            if (tmp[i])
                memset(tmp[i], 0x5a, TA_MIN(size, (size_t)64));
        }
        for (unsigned i = 0; i < n; i++)
            ta_free(tmp[extra & 1 ? n - 1 - i : i]);
        break;
    }
    case 5: /* free a run of slots */
        for (unsigned i = 0; i < 1u + extra % 32; i++)
            release(w, &w->b[(r[1] + i) % SLOTS], i & 1);
        break;
    default:
        for (unsigned i = 0; i < SLOTS; i++)
            if (w->b[i].p)
                check_block(&w->b[i], "sweep");
        break;
    }
    (void)b;
}

/* A burst of allocations while the OS layer fails (fault injection): sbrk,
 * mmap, mremap and madvise as chosen by r[6], after r[7] % 4 successful
 * calls, once to eight times or until cleared. */
static void op_inject(worker_t *w, const uint8_t *r)
{
    unsigned mask = r[6] & TA_OS_ALL;
    long skip = r[7] % 4;
    long count = (r[7] & 0x80) ? -1 : 1 + (r[7] >> 2) % 8;
    __atomic_store_n(&inject_seen, 1, __ATOMIC_SEQ_CST);
    ta_test_os_fail(mask ? mask : TA_OS_MMAP, skip, count);
    for (unsigned i = 0; i < 1u + r[1] % 4; i++) {
        blk_t *t = &w->b[(r[1] + i * 17) % SLOTS];
        size_t size = TA_MIN(decode_size(r) + (size_t)i * 100000, 4 * MIB);
        switch ((r[0] + i) % 3) {
        case 0:
            op_malloc(w, t, size);
            break;
        case 1:
            op_realloc(w, t, size, r[7], false);
            break;
        default:
            op_aligned(w, t, 0, size, r[6]);
            break;
        }
    }
    ta_test_os_fail(0, 0, 0);
}

static void sweep(worker_t *w)
{
    for (unsigned i = 0; i < (w->thorough ? SLOTS : SWEEP_BLOCKS); i++) {
        blk_t *b = &w->b[w->sweep++ % SLOTS];
        if (b->p)
            check_block(b, "sampled check");
    }
}

static void run_record(worker_t *w, const uint8_t *r)
{
    blk_t *b = &w->b[r[1] % SLOTS];
    size_t size = decode_size(r);
    uint8_t extra = r[7];
    switch (r[0] & 31) {
    case 0: case 1: case 2: case 3: case 4: case 5:
        op_malloc(w, b, size);
        break;
    case 6: case 7:
        op_calloc(w, b, size, extra);
        break;
    case 8: case 9: case 10:
        op_realloc(w, b, size, extra, false);
        break;
    case 11:
        op_realloc(w, b, size, extra, true);
        break;
    case 12: case 13:
        op_aligned(w, b, 0, size, r[6]);
        break;
    case 14:
        op_aligned(w, b, 1, size, r[6]);
        break;
    case 15:
        op_aligned(w, b, 2 + extra % 3, size, r[6]);
        break;
    case 16: case 17: case 18: case 19: case 20: case 21:
        release(w, b, (extra & 7) == 0);
        break;
    case 22: case 23:
        op_handoff(w, b, extra);
        break;
    case 24:
        op_usable(w, b);
        break;
    case 25: case 26: case 27:
        op_misc(w, b, r);
        break;
    case 28:
        op_errors(w, b, extra);
        break;
    case 29:
        op_inject(w, r);
        break;
    case 30:
        op_misuse(w, b, extra);
        break;
    default:
        op_malloc(w, b, size & 255);
        break;
    }
    if (++w->nops % SWEEP_EVERY == 0)
        sweep(w);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (size_t i = 0; i < w->nrec; i++) {
        const uint8_t *r = w->ops + 8 * i;
        if (w->two && (r[0] >> 7) != w->self)
            continue;
        run_record(w, r);
    }
    if (!w->leave)
        for (unsigned i = 0; i < SLOTS; i++)
            release(w, &w->b[i], false);
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ta_free(ta_malloc(1)); /* boot */
    /* A busy trimmer finds more races: purge idle pages after 10 ms unless
     * the environment says otherwise. */
    if (!getenv("TARENA_DECAY_MS"))
        ta_opt.decay_ms = 10;
    default_opt = ta_opt;
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        fail("cannot open /dev/null");
    return 0;
}

static worker_t workers[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    /* Every input starts from the default options (mallopt records change them). */
    ta_opt = default_opt;
    bool two = flags & 1;
    unsigned n = two ? 2 : 1;
    for (unsigned i = 0; i < n; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].ops = data + 1;
        workers[i].nrec = (size - 1) / 8;
        workers[i].self = i;
        workers[i].two = two;
        workers[i].leave = flags & 2;
        workers[i].thorough = flags & 4;
    }
    stats_exact = !two;
    __atomic_store_n(&inject_seen, 0, __ATOMIC_RELAXED);
    /* Fresh threads every time: a new thread cache each input, and thread
     * exit (cache flush, remote frees into other arenas) every input. */
    pthread_t th[2];
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, worker_main, &workers[i]) != 0)
            fail("pthread_create failed");
    for (unsigned i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    /* What the workers left and what is still in flight: freed by the main
     * thread, after its allocating threads are gone. */
    for (unsigned i = 0; i < n; i++)
        for (unsigned s = 0; s < SLOTS; s++)
            release(&workers[i], &workers[i].b[s], false);
    for (unsigned h = 0; h < HANDOFF; h++) {
        if (handoff[h].p) {
            worker_t *w = &workers[0];
            w->live_bytes += handoff[h].usable;
            release(w, &handoff[h], false);
        }
    }
    ta_test_os_fail(0, 0, 0);
    stats_exact = true;
    stats_check(0, 0, "after the input");
    return 0;
}
