/* Integration suite "calloc": calloc returns zeroed memory even where the
 * same bytes were just dirtied and freed (small, page-run, mmapped sizes,
 * realloc-shrunk tails, with M_PERTURB set), and handles zero sizes. */
#include "integ.h"
#include "ta_test.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>

static const size_t sizes[] = {1,     8,     15,     16,     24,     48,     100,    256,    512,
                               1000,  2048,  4095,   4096,   5000,   16384,  32768,  65536,  100000,
                               131071, 131072, 131073, 262144, 1 << 20, 4 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Enough blocks per size to cycle through the thread cache and the arena's
 * free lists, but at most ~2 MiB per size. */
static size_t count_for(size_t size)
{
    size_t n = (2 * IT_MIB) / size;
    return n < 2 ? 2 : n > 256 ? 256 : n;
}

/* Dirty (0xAB over the whole usable size), free, then calloc the same size
 * the same number of times, as a whole and split into nmemb x size. */
static void dirty_then_calloc(int round)
{
    void *blk[256];
    for (size_t i = 0; i < NSIZES; i++) {
        size_t s = sizes[i], n = count_for(s);
        for (size_t k = 0; k < n; k++) {
            blk[k] = malloc(s);
            CU_ASSERT_PTR_NOT_NULL_FATAL(blk[k]);
            memset(blk[k], 0xAB, malloc_usable_size(blk[k]));
        }
        for (size_t k = 0; k < n; k++)
            free(blk[k]);
        size_t got = 0;
        while (got < n) {
            /* alternate the calloc(1, s) and calloc(s / 4, 4) shapes */
            int split = (got & 1) && s % 4 == 0;
            size_t nm = split ? s / 4 : 1, sz = split ? 4 : s;
            blk[got] = calloc(it_opaque(nm), it_opaque(sz));
            CU_ASSERT_PTR_NOT_NULL_FATAL(blk[got]);
            ptrdiff_t off = it_check_byte(blk[got++], s, 0);
            IT_ASSERT(off < 0, "round %d: calloc(%zu, %zu) #%zu byte %td not zero", round, nm, sz, got - 1, off);
            if (off >= 0) /* one report per size */
                break;
        }
        for (size_t k = 0; k < got; k++)
            free(blk[k]);
    }
}

static void test_calloc_zeroes_dirty_memory(void)
{
    for (int round = 0; round < 3; round++)
        dirty_then_calloc(round);
}

/* The tail a shrinking realloc gives back was dirty; calloc may get it next. */
static void test_calloc_after_realloc_shrink(void)
{
    static const size_t big[] = {4096, 65536, 120000, 1 << 20};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        void *keep[16];
        for (int k = 0; k < 16; k++) {
            unsigned char *p = malloc(big[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            memset(p, 0xAB, malloc_usable_size(p));
            keep[k] = realloc(p, 40);
            CU_ASSERT_PTR_NOT_NULL_FATAL(keep[k]);
        }
        for (int k = 0; k < 16; k++) {
            size_t want = big[i] / 2 - 64;
            unsigned char *z = calloc(1, want);
            CU_ASSERT_PTR_NOT_NULL_FATAL(z);
            ptrdiff_t off = it_check_byte(z, want, 0);
            IT_ASSERT(off < 0, "calloc(1, %zu) after shrinking %zu-byte blocks: byte %td not zero", want, big[i],
                      off);
            free(z);
        }
        for (int k = 0; k < 16; k++) {
            CU_ASSERT_EQUAL(it_check_byte(keep[k], 40, 0xAB), -1);
            free(keep[k]);
        }
    }
}

/* M_PERTURB fills freed memory with the perturb byte; calloc must still
 * return zeros, not perturbed bytes. */
static void test_calloc_zero_with_perturb(void)
{
    CU_ASSERT_EQUAL_FATAL(mallopt(M_PERTURB, 0x5a), 1);
    static const size_t s[] = {24, 700, 9000, 200000};
    for (size_t i = 0; i < 4; i++) {
        void *b[8];
        for (int k = 0; k < 8; k++)
            b[k] = malloc(s[i]);
        for (int k = 0; k < 8; k++)
            free(b[k]);
        for (int k = 0; k < 8; k++) {
            b[k] = calloc(1, s[i]);
            IT_ASSERT(b[k] && it_check_byte(b[k], s[i], 0) < 0, "calloc(1, %zu) with M_PERTURB not zero", s[i]);
        }
        for (int k = 0; k < 8; k++)
            free(b[k]);
    }
    mallopt(M_PERTURB, 0);
}

static void test_calloc_zero_sizes(void)
{
    void *a = calloc(it_opaque(0), 10), *b = calloc(10, it_opaque(0)), *c = calloc(it_opaque(0), it_opaque(0));
    CU_ASSERT_TRUE(a && b && c);
    CU_ASSERT_TRUE(a != b && b != c && a != c);
    CU_ASSERT_TRUE(ta_owns(a) && ta_owns(b) && ta_owns(c));
    free(a);
    free(b);
    free(c);
}

TA_SUITE(calloc)
{
    TA_ADD(suite, test_calloc_zeroes_dirty_memory);
    TA_ADD(suite, test_calloc_after_realloc_shrink);
    TA_ADD(suite, test_calloc_zero_with_perturb);
    TA_ADD(suite, test_calloc_zero_sizes);
}
