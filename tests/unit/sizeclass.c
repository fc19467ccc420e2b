/* Unit suite "sizeclass": the size-class table, exhaustively — the class of
 * every request size, the shape of the table, each class's slab geometry and
 * the divide-by-multiply index for every byte offset of every slab. */
#include "unit.h"
#include "sizeclass.h"
#include "span.h"

static void test_size2class_smallest_fit(void)
{
    unsigned bad = 0;
    for (size_t s = 1; s <= TA_SMALL_MAX; s++) {
        unsigned c = ta_size2class(s);
        if (c >= TA_NCLASSES || ta_class2size(c) < s || (c > 0 && ta_class2size(c - 1) >= s)) {
            if (bad++ < 5)
                CU_FAIL("ta_size2class: not the smallest class holding the size");
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* 0 counts as 1; the ends of the range. */
    CU_ASSERT_EQUAL(ta_size2class(0), 0);
    CU_ASSERT_EQUAL(ta_size2class(1), 0);
    CU_ASSERT_EQUAL(ta_size2class(TA_SMALL_MAX), TA_NCLASSES - 1);
    CU_ASSERT_EQUAL(ta_class2size(TA_NCLASSES - 1), TA_SMALL_MAX);
}

/* The class boundaries exactly: size maps to its own class, size+1 to the next. */
static void test_size2class_boundaries(void)
{
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        size_t sz = ta_class2size(c);
        CU_ASSERT_EQUAL(ta_size2class(sz), c);
        if (c + 1 < TA_NCLASSES)
            CU_ASSERT_EQUAL(ta_size2class(sz + 1), c + 1);
        if (c > 0)
            CU_ASSERT_EQUAL(ta_size2class(ta_class2size(c - 1) + 1), c);
    }
}

static void test_table_shape(void)
{
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        const ta_class_info_t *ci = &ta_classes[c];
        CU_ASSERT_EQUAL(ci->size % TA_QUANTUM, 0);
        CU_ASSERT(ci->size > 0);
        CU_ASSERT_EQUAL(ta_class2size(c), ci->size);
        if (c > 0)
            CU_ASSERT(ci->size > ta_classes[c - 1].size);
        /* Internal waste bound of the spacing: at most 25% above the previous class. */
        if (c > 0 && ci->size > 128)
            CU_ASSERT(ci->size - ta_classes[c - 1].size <= ta_classes[c - 1].size / 4 + TA_QUANTUM);
    }
    CU_ASSERT_EQUAL(ta_classes[0].size, TA_QUANTUM);
}

static void test_slab_geometry(void)
{
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        const ta_class_info_t *ci = &ta_classes[c];
        size_t slab = (size_t)ci->slab_pages * 4096;
        CU_ASSERT(ci->slab_pages >= 1);
        CU_ASSERT(ci->slab_pages <= TA_SLAB_MAX_PAGES);
        CU_ASSERT((size_t)ci->slab_objs * ci->size <= slab);
        CU_ASSERT(ci->slab_objs <= TA_SLAB_MAX_OBJS);
        CU_ASSERT(ci->slab_objs >= 2);
        /* Every object that fits is used (up to the freemap's limit)... */
        CU_ASSERT(ci->slab_objs == TA_SLAB_MAX_OBJS || slab - (size_t)ci->slab_objs * ci->size < ci->size);
        /* ...and what is left over is at most 1/8 of the slab. */
        CU_ASSERT(slab - (size_t)ci->slab_objs * ci->size <= slab / 8);
        /* The freemap holds the bits of every object. */
        CU_ASSERT(ci->slab_objs <= sizeof(((ta_span_t *)0)->freemap) * 8);
    }
}

/* ta_class_index(cls, off) == off / size for every byte offset of a slab. */
static void test_class_index_exhaustive(void)
{
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        const ta_class_info_t *ci = &ta_classes[c];
        uint32_t slab = (uint32_t)ci->slab_pages * 4096u;
        unsigned bad = 0;
        for (uint32_t off = 0; off < slab; off++)
            if (ta_class_index(c, off) != off / ci->size)
                bad++;
        CU_ASSERT_EQUAL(bad, 0);
        /* Start-of-object test as ta_lookup does it. */
        for (uint32_t i = 0; i < ci->slab_objs; i++) {
            uint32_t off = i * ci->size;
            CU_ASSERT_EQUAL(ta_class_index(c, off) * ci->size, off);
            if (ci->size > 1)
                CU_ASSERT_NOT_EQUAL(ta_class_index(c, off + 1) * ci->size, off + 1);
        }
    }
}

TA_SUITE(sizeclass)
{
    UNIT_FIXTURE(suite);
    TA_ADD(suite, test_size2class_smallest_fit);
    TA_ADD(suite, test_size2class_boundaries);
    TA_ADD(suite, test_table_shape);
    TA_ADD(suite, test_slab_geometry);
    TA_ADD(suite, test_class_index_exhaustive);
}
