/* The one size-class table. Classes step by 16 bytes up to 128, then by four
 * per doubling up to 32 KiB (at most 25% internal waste, 12.5% on average).
 * Each class lives in slabs of a fixed page count chosen for low tail waste. */
#ifndef TA_SIZECLASS_H
#define TA_SIZECLASS_H
#include "internal.h"

#define TA_NCLASSES 40
#define TA_SMALL_MAX ((size_t)32768)
#define TA_SLAB_MAX_OBJS 512
#define TA_SLAB_MAX_PAGES 16

typedef struct ta_class_info {
    uint32_t size;      /* object size in bytes */
    uint16_t slab_pages;
    uint16_t slab_objs; /* objects per slab, <= TA_SLAB_MAX_OBJS */
    uint32_t div_magic; /* ceil(2^32 / size): offset / size as a multiply */
} ta_class_info_t;

extern const ta_class_info_t ta_classes[TA_NCLASSES] TA_HIDDEN;
/* (size + 15) / 16 -> class, for sizes up to 1024. */
extern const uint8_t ta_class_lookup_small[65] TA_HIDDEN;

/* Class of a request of 1..TA_SMALL_MAX bytes (0 counts as 1). */
static TA_ALWAYS_INLINE unsigned ta_size2class(size_t size)
{
    if (TA_LIKELY(size <= 1024))
        return ta_class_lookup_small[(size + 15) >> 4];
    /* Above 1024: four classes per power of two. lg = floor(log2(size-1)). */
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1));
    unsigned shift = lg - 2;
    unsigned sub = (unsigned)((size - 1) >> shift) & 3u; /* which quarter */
    /* 1025..1280 is class 20 (lg = 10). */
    return 20u + (lg - 10u) * 4u + sub;
}

static TA_ALWAYS_INLINE size_t ta_class2size(unsigned cls)
{
    return ta_classes[cls].size;
}

/* Index of the object at byte offset off of a slab of class cls. */
static TA_ALWAYS_INLINE uint32_t ta_class_index(unsigned cls, uint32_t off)
{
    return (uint32_t)(((uint64_t)off * ta_classes[cls].div_magic) >> 32);
}
#endif
