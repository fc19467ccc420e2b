#!/usr/bin/env python3
"""Writes the handcrafted seed corpus of fuzz_ops into tests/fuzz/corpus/.

Input format (see fuzz_ops.c): byte 0 = flags (1: two threads, 2: workers
leave their blocks to the main thread, 4: thorough checks), then 8-byte
records [thread<<7 | op, slot, size word (LE u32), align, extra].
Usage: tests/fuzz/make_corpus.py [out_dir]"""
import os
import struct
import sys

KIB, MIB = 1024, 1024 * 1024
OP = dict(malloc=0, calloc=6, realloc=8, reallocarray=11, posix_memalign=12,
          aligned_alloc=14, memalign=15, free=16, handoff=22, usable=24,
          misc=25, errors=28, inject=29, misuse=30)
MISC = dict(trim=0, mallopt=1, stats=2, mallinfo=3, churn=4, freerun=5, sweep=6)
BOUNDARIES = [0, 1, 8, 15, 16, 17, 31, 32, 33, 48, 127, 128, 129, 1023, 1024, 1025,
              1280, 1281, 4095, 4096, 4097, 8191, 8192, 8193, 16384, 24576, 32767,
              32768, 32769, 65535, 65536, 65537, 126976, 131071, 131072, 131073,
              135168, 262144, 1048575, 1048576, 2097151, 2097152, 2097153, 4194304]


def size_word(s):
    """A size word that decodes to s (see decode_size)."""
    if s in BOUNDARIES:
        return 5 << 28 | BOUNDARIES.index(s)
    if s <= 256:
        return s
    if s <= 4 * KIB:
        return 7 << 28 | s
    if s < 33 * KIB:
        return 10 << 28 | s
    if 32 * KIB <= s < 256 * KIB:
        return 13 << 28 | (s - 32 * KIB)
    if s < MIB:
        return 14 << 28 | s
    return 15 << 28 | (s - MIB)


def rec(op, slot=0, size=0, align=0, extra=0, thread=0):
    return struct.pack('<BBIBB', thread << 7 | OP[op], slot & 0xff, size_word(size), align, extra)


def misc(kind, slot=0, size=0, extra=0, thread=0):
    return rec('misc', slot, size, MISC[kind], extra, thread)


def basic():
    out = [bytes([0])]
    sizes = [1, 16, 24, 100, 256, 1000, 4097, 20000, 32768, 40000, 131072, 300000, 2 * MIB]
    for i, s in enumerate(sizes):
        out.append(rec('malloc', i, s))
    for i, s in enumerate(sizes):
        out.append(rec('realloc', i, s * 3 // 2 + 1))
    out.append(rec('calloc', 20, 5000, extra=7))
    out.append(misc('stats'))
    for i in range(0, len(sizes), 2):
        out.append(rec('free', i))
    out.append(misc('stats'))
    out.append(rec('usable', 1))
    return b''.join(out)


def threads():
    out = [bytes([1])]
    for i in range(24):
        t = i & 1
        out.append(rec('malloc', i, [32, 500, 3000, 70000][i % 4], thread=t))
    for i in range(0, 24, 2):
        out.append(rec('handoff', i, extra=0x80 | (i % 16), thread=0))   # give
        out.append(rec('handoff', 40 + i, extra=0x40 | (i % 16), thread=1))  # take, free
    for i in range(1, 24, 2):
        out.append(rec('handoff', i, extra=0x80 | (i % 16), thread=1))
        out.append(rec('handoff', 60 + i, extra=(i % 16), thread=0))
    out.append(misc('stats', thread=1))
    out.append(misc('trim', extra=0, thread=0))
    return b''.join(out)


def aligned():
    out = [bytes([0])]
    for a in list(range(13)) + [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]:
        out.append(rec('posix_memalign', a, 100 + a * 10, align=a))
        out.append(rec('aligned_alloc', 20 + a, 5000, align=a))
        out.append(rec('memalign', 40 + a, 70000, align=a | 1, extra=0))  # non power of two
    out.append(rec('memalign', 70, 3000, extra=1))  # valloc
    out.append(rec('memalign', 71, 3000, extra=2))  # pvalloc
    out.append(rec('realloc', 20, 9000))
    out.append(misc('sweep'))
    return b''.join(out)


def large():
    out = [bytes([4])]
    out.append(misc('mallopt', extra=3 + 7 * 3))          # M_MMAP_THRESHOLD 65536
    for i, s in enumerate([200 * KIB, MIB, 3 * MIB, 4 * MIB, 150 * KIB]):
        out.append(rec('malloc', i, s))
    for i in range(5):
        out.append(rec('realloc', i, 0, extra=1 | (60 << 2)))   # grow a little
        out.append(rec('realloc', i, 0, extra=2 | (63 << 2)))   # shrink
        out.append(rec('realloc', i, 0, extra=3))               # double
    out.append(rec('free', 1))
    out.append(misc('trim', extra=0))
    out.append(misc('mallopt', extra=4 + 7 * 0))          # M_MMAP_MAX 0
    out.append(rec('malloc', 9, 2 * MIB))
    out.append(rec('realloc', 9, 3 * MIB))
    out.append(misc('stats'))
    out.append(misc('mallinfo', extra=0xff))
    return b''.join(out)


def leave():
    out = [bytes([3])]
    for i in range(40):
        out.append(rec('malloc', i, (i * 977) % 5000, thread=i & 1))
    for i in range(0, 40, 3):
        out.append(rec('handoff', i, extra=0x80 | (i % 16), thread=i & 1))
    return b''.join(out)


def errors():
    out = [bytes([0])]
    out.append(rec('malloc', 0, 64))
    for e in range(9 * 8):
        out.append(rec('errors', 0, extra=e))
    return b''.join(out)


def misuse_extra(kind, call, k):
    """The extra byte of a misuse record: extra % 6 = kind (misaligned,
    interior, slab tail, a page into a page run, a freed block, a slot never
    handed out), extra >> 6 = call (free, realloc, malloc_usable_size); k
    varies the offset."""
    for r in range(k, k + 64):
        e = 64 * call + r % 64
        if e % 6 == kind:
            return e
    raise ValueError


def misuse():
    """Pointers tarena never handed out, made from live blocks of every
    kind and given to free, realloc and malloc_usable_size: each call must
    be refused."""
    out = [bytes([0])]
    sizes = [16, 48, 80, 100, 448, 1000, 3584, 20000, 40000, 300 * KIB]
    for i, s in enumerate(sizes):
        out.append(rec('malloc', i, s))
    for i in range(len(sizes)):
        for kind in (0, 1, 2, 3, 5):
            for call in range(3):
                out.append(rec('misuse', i, extra=misuse_extra(kind, call, 5 * i + call)))
    for i in range(len(sizes)):
        out.append(rec('misuse', i, extra=misuse_extra(4, i % 3, 0)))   # a freed block
        out.append(rec('malloc', 20 + i, sizes[i]))                    # nothing handed out twice
    return b''.join(out)


def churn():
    out = [bytes([1])]
    for i, s in enumerate([16, 48, 1024, 4096, 32768, 20000]):
        out.append(misc('churn', size=s, extra=63, thread=i & 1))
    out.append(misc('mallopt', extra=0x23))               # M_PERTURB 0x23
    for i, s in enumerate([16, 48, 1024]):
        out.append(misc('churn', size=s, extra=40, thread=0))
        out.append(rec('malloc', i, s, thread=1))
    out.append(misc('freerun', slot=0, extra=31))
    return b''.join(out)


def inject():
    """Bursts under injected OS failures (r[6]: TA_OS_* mask, r[7]: skip,
    count; 0x80: fail until cleared), then ordinary work that must succeed."""
    out = [bytes([0])]
    for i, s in enumerate([100, 40000, 200 * KIB, 3 * MIB]):
        out.append(rec('malloc', i, s))
    for mask, extra, size in [(2, 0x80, 300 * KIB), (3, 0x80, 64 * KIB), (1, 0x04, MIB),
                              (4, 0x80, 3 * MIB), (15, 0x81, 5000), (8, 0x80, 2 * MIB)]:
        out.append(rec('inject', 8 + mask, size, align=mask, extra=extra))
        out.append(rec('realloc', 3, 0, extra=3))   # the mapped block: mremap paths
    for i, s in enumerate([100, 40000, 200 * KIB, 3 * MIB]):
        out.append(rec('malloc', 20 + i, s))
    out.append(misc('trim'))
    out.append(misc('stats'))
    return b''.join(out)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus')
    os.makedirs(d, exist_ok=True)
    for name, fn in [('basic', basic), ('threads', threads), ('aligned', aligned), ('large', large),
                     ('leave', leave), ('errors', errors), ('churn', churn), ('inject', inject),
                     ('misuse', misuse)]:
        with open(os.path.join(d, 'seed-' + name), 'wb') as f:
            f.write(fn())


if __name__ == '__main__':
    main()
