/* The size-class table, generated at compile time by the macros below so that
 * sizes, slab geometry and the divide-by-multiply constants cannot drift. */
#include "sizeclass.h"

/* Slab pages per class: the smallest count (<= 16 pages) holding at least four
 * objects (two above 8 KiB) with at most 1/8 of the slab left over, so a slab
 * feeds a cache refill without much tail waste; the unit test checks this. */
#define C(sz, pages)                                                          \
    {(sz), (pages), (uint16_t)TA_MIN(((pages)*4096u) / (sz), TA_SLAB_MAX_OBJS), \
     (uint32_t)((((uint64_t)1 << 32) + (sz)-1) / (sz))}

const ta_class_info_t ta_classes[TA_NCLASSES] = {
    C(16, 1),    C(32, 1),    C(48, 1),    C(64, 1),     C(80, 1),
    C(96, 1),    C(112, 1),   C(128, 1),   C(160, 1),    C(192, 1),
    C(224, 1),   C(256, 1),   C(320, 1),   C(384, 1),    C(448, 1),
    C(512, 1),   C(640, 1),   C(768, 1),   C(896, 1),    C(1024, 1),
    C(1280, 2),  C(1536, 2),  C(1792, 2),  C(2048, 2),   C(2560, 4),
    C(3072, 3),  C(3584, 4),  C(4096, 4),  C(5120, 5),   C(6144, 6),
    C(7168, 7),  C(8192, 8),  C(10240, 5), C(12288, 6),  C(14336, 7),
    C(16384, 8), C(20480, 10), C(24576, 12), C(28672, 14), C(32768, 16),
};

const uint8_t ta_class_lookup_small[65] = {
    0,                                     /* 0 -> 16 */
    0,  1,  2,  3,  4,  5,  6,  7,         /* 16..128 */
    8,  8,  9,  9,  10, 10, 11, 11,        /* 129..256 */
    12, 12, 12, 12, 13, 13, 13, 13,        /* 257..384 */
    14, 14, 14, 14, 15, 15, 15, 15,        /* 385..512 */
    16, 16, 16, 16, 16, 16, 16, 16,        /* 513..640 */
    17, 17, 17, 17, 17, 17, 17, 17,        /* 641..768 */
    18, 18, 18, 18, 18, 18, 18, 18,        /* 769..896 */
    19, 19, 19, 19, 19, 19, 19, 19,        /* 897..1024 */
};
