/* Integration suite "align": posix_memalign, aligned_alloc and memalign for
 * every power-of-two alignment from 8 B to 16 MiB and sizes around each
 * alignment and the mmap threshold, alone and interleaved with other blocks. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>

#define MAX_ALIGN (16 * IT_MIB)
#define MMAP_THRESHOLD (128 * IT_KIB)

enum { VIA_POSIX, VIA_ALIGNED_ALLOC, VIA_MEMALIGN, VIA_COUNT };
static const char *via_name[] = {"posix_memalign", "aligned_alloc", "memalign"};

static void *alloc_aligned(int via, size_t align, size_t size)
{
    switch (via) {
    case VIA_POSIX: {
        void *p = NULL;
        return posix_memalign(&p, align, size) == 0 ? p : NULL;
    }
    case VIA_ALIGNED_ALLOC:
        return aligned_alloc(align, size);
    default:
        return memalign(align, size);
    }
}

/* Allocates one block, checks alignment, ownership and usable size, fills
 * all usable bytes and checks them again; returns 0 when all went well. */
static int one_aligned(int via, size_t align, size_t size, uint64_t seed)
{
    unsigned char *p = alloc_aligned(via, it_opaque(align), it_opaque(size));
    IT_ASSERT(p != NULL, "%s(%zu, %zu) = NULL", via_name[via], align, size);
    if (!p)
        return 1;
    int bad = 0;
    size_t us = malloc_usable_size(p);
    bad |= !it_is_aligned(p, align);
    IT_ASSERT(it_is_aligned(p, align), "%s(%zu, %zu) = %p misaligned", via_name[via], align, size, (void *)p);
    bad |= us < size;
    IT_ASSERT(us >= size, "%s(%zu, %zu): usable %zu", via_name[via], align, size, us);
    bad |= !ta_owns(p);
    IT_ASSERT(ta_owns(p), "%s(%zu, %zu) = %p not owned", via_name[via], align, size, (void *)p);
    it_fill(p, us, seed);
    ptrdiff_t off = it_check(p, us, seed);
    bad |= off >= 0;
    IT_ASSERT(off < 0, "%s(%zu, %zu): byte %td of %zu did not keep its value", via_name[via], align, size, off,
              us);
    free(p);
    return bad;
}

static void test_every_alignment(int via)
{
    uint64_t seed = 1;
    for (size_t a = 8; a <= MAX_ALIGN; a <<= 1) {
        const size_t sizes[] = {0,
                                1,
                                a - 1,
                                a,
                                3 * a,
                                MMAP_THRESHOLD - 1,
                                MMAP_THRESHOLD,
                                MMAP_THRESHOLD + 1,
                                MMAP_THRESHOLD + a};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (one_aligned(via, a, sizes[i], seed++))
                return; /* one report per function is enough */
    }
}

static void test_posix_memalign_all(void)
{
    test_every_alignment(VIA_POSIX);
}

static void test_aligned_alloc_all(void)
{
    test_every_alignment(VIA_ALIGNED_ALLOC);
}

static void test_memalign_all(void)
{
    test_every_alignment(VIA_MEMALIGN);
}

/* Alignments below sizeof(void *) are valid for aligned_alloc and memalign
 * (only posix_memalign rejects them): a normal block satisfies them. */
static void test_small_alignments(void)
{
    for (size_t a = 1; a < sizeof(void *); a <<= 1) {
        errno = 0;
        void *p = aligned_alloc(it_opaque(a), 10);
        IT_ASSERT(p != NULL, "aligned_alloc(%zu, 10) = NULL errno %d", a, errno);
        if (p)
            memset(p, 5, 10);
        free(p);
        void *q = memalign(it_opaque(a), 10);
        IT_ASSERT(q != NULL, "memalign(%zu, 10) = NULL", a);
        if (q)
            memset(q, 6, 10);
        free(q);
    }
    /* Through a pointer: glibc declares memalign alloc_align(1), and clang's
     * UBSan (-fsanitize=alignment) then checks the result against an
     * "alignment" of 0, which no pointer passes. */
    void *(*volatile memalign_fn)(size_t, size_t) = memalign;
    void *z = memalign_fn(it_opaque(0), 10);
    IT_ASSERT(z != NULL, "memalign(0, 10) = NULL"); /* glibc: as malloc */
    free(z);
}

/* Aligned blocks live side by side with plain ones, get realloc'd and freed
 * in random order: their usable ranges must never overlap, which the
 * per-block patterns (checked at every free and at the end) would show. */
static void test_interleaved(void)
{
    enum { SLOTS = 128, OPS = 4000 };
    struct {
        unsigned char *p;
        size_t n;
        uint64_t seed;
    } s[SLOTS];
    memset(s, 0, sizeof s);
    it_rng_t r = {0xA11A};
    unsigned long errors = 0;
    for (int op = 0; op < OPS && errors < 5; op++) {
        int k = (int)it_range(&r, 0, SLOTS - 1);
        if (s[k].p) {
            ptrdiff_t off = it_check(s[k].p, s[k].n, s[k].seed);
            IT_ASSERT(off < 0, "op %d: block %p (size %zu) corrupted at %td", op, (void *)s[k].p, s[k].n, off);
            errors += off >= 0;
            if (it_range(&r, 0, 9) == 0) { /* realloc keeps the contents, not the alignment */
                size_t n = it_logsize(&r, 300 * IT_KIB);
                unsigned char *q = realloc(s[k].p, n);
                IT_ASSERT(q != NULL, "op %d: realloc to %zu failed", op, n);
                if (!q)
                    continue;
                size_t keep = n < s[k].n ? n : s[k].n;
                off = it_check(q, keep, s[k].seed);
                IT_ASSERT(off < 0, "op %d: realloc %zu -> %zu lost byte %td", op, s[k].n, n, off);
                errors += off >= 0;
                s[k].p = q;
                s[k].n = n;
                s[k].seed = (uint64_t)op << 8 | 1;
                it_fill(q, n, s[k].seed);
                continue;
            }
            free(s[k].p);
            s[k].p = NULL;
            continue;
        }
        size_t n = it_range(&r, 0, 3) == 0 ? it_logsize(&r, IT_MIB) : it_logsize(&r, 4096) - 1;
        unsigned shift = it_range(&r, 0, 15) == 0 ? (unsigned)it_range(&r, 17, 21) : (unsigned)it_range(&r, 3, 16);
        size_t a = (size_t)1 << shift;
        int via = (int)it_range(&r, 0, VIA_COUNT); /* VIA_COUNT: plain malloc */
        unsigned char *p = via == VIA_COUNT ? malloc(n) : alloc_aligned(via, a, n);
        IT_ASSERT(p != NULL, "op %d: allocation of %zu (align %zu) failed", op, n, a);
        if (!p) {
            errors++;
            continue;
        }
        if (via != VIA_COUNT) {
            IT_ASSERT(it_is_aligned(p, a), "op %d: %s(%zu, %zu) = %p misaligned", op, via_name[via], a, n,
                      (void *)p);
            errors += !it_is_aligned(p, a);
        }
        s[k].p = p;
        s[k].n = n;
        s[k].seed = (uint64_t)op << 8;
        it_fill(p, n, s[k].seed);
    }
    for (int k = 0; k < SLOTS; k++) {
        if (!s[k].p)
            continue;
        ptrdiff_t off = it_check(s[k].p, s[k].n, s[k].seed);
        IT_ASSERT(off < 0, "final: block %p (size %zu) corrupted at %td", (void *)s[k].p, s[k].n, off);
        free(s[k].p);
    }
}

TA_SUITE(align)
{
    TA_ADD(suite, test_posix_memalign_all);
    TA_ADD(suite, test_aligned_alloc_all);
    TA_ADD(suite, test_memalign_all);
    TA_ADD(suite, test_small_alignments);
    TA_ADD(suite, test_interleaved);
}
