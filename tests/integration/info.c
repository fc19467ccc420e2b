/* Integration suite "info": the GNU extras — mallopt (accepted parameters and
 * their effect), M_PERTURB, mallinfo/mallinfo2 figures, malloc_trim,
 * malloc_stats, malloc_info XML — and the ta_stats_get snapshot API. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

#define DEFAULT_MMAP_THRESHOLD (128 * 1024)

/* Put back what the tests below change (glibc's defaults), so that the
 * order of the tests in this suite does not matter. */
static void restore_defaults(void)
{
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    mallopt(M_TOP_PAD, 128 * 1024);
    mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD);
    mallopt(M_MMAP_MAX, 65536);
    mallopt(M_PERTURB, 0);
}

static void test_mallopt_accepts_known(void)
{
    static const struct {
        int param, value;
        const char *name;
    } ok[] = {
        {M_TRIM_THRESHOLD, 256 * 1024, "M_TRIM_THRESHOLD"}, {M_TOP_PAD, 64 * 1024, "M_TOP_PAD"},
        {M_MMAP_THRESHOLD, 256 * 1024, "M_MMAP_THRESHOLD"}, {M_MMAP_THRESHOLD, 32 << 20, "M_MMAP_THRESHOLD 32M"},
        {M_MMAP_MAX, 65536, "M_MMAP_MAX"},                  {M_ARENA_MAX, 8, "M_ARENA_MAX"},
        {M_ARENA_TEST, 8, "M_ARENA_TEST"},                  {M_PERTURB, 0x5a, "M_PERTURB"},
        {M_PERTURB, 0, "M_PERTURB 0"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = mallopt(ok[i].param, ok[i].value);
        IT_ASSERT(rc == 1, "mallopt(%s, %d) = %d, want 1", ok[i].name, ok[i].value, rc);
        rc = ta_mallopt(ok[i].param, ok[i].value);
        IT_ASSERT(rc == 1, "ta_mallopt(%s, %d) = %d, want 1", ok[i].name, ok[i].value, rc);
    }
    restore_defaults();
}

/* tarena answers 0 for parameters it does not know and for an mmap threshold
 * above glibc's documented 64-bit maximum of 32 MiB (HEAP_MAX_SIZE / 2);
 * glibc 2.36 itself answers 1 to all of these. */
/* glibc answers 1 for a parameter it does not know (mallopt(3), BUGS), and
 * tarena keeps that; a value out of range is what returns 0. */
static void test_mallopt_rejects_out_of_range(void)
{
    static const int unknown[] = {12345, -100, 999, -42};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int rc = mallopt(unknown[i], 1);
        IT_ASSERT(rc == 1, "mallopt(%d, 1) = %d, want 1 (glibc) for an unknown parameter", unknown[i], rc);
    }
    int rc = mallopt(M_MMAP_THRESHOLD, (32 << 20) + 1);
    IT_ASSERT(rc == 0, "mallopt(M_MMAP_THRESHOLD, 32M + 1) = %d, want 0", rc);
    rc = mallopt(M_MMAP_THRESHOLD, 64 << 20);
    IT_ASSERT(rc == 0, "mallopt(M_MMAP_THRESHOLD, 64M) = %d, want 0", rc);
    restore_defaults();
}

/* The thresholds are not just accepted but obeyed: hblks (blocks mmapped on
 * their own) tells whether a request was served by mmap. */
static void test_mallopt_mmap_settings_take_effect(void)
{
    CU_ASSERT_EQUAL_FATAL(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
    size_t h0 = mallinfo2().hblks;
    void *p = malloc(512 * 1024);
    size_t h1 = mallinfo2().hblks;
    free(p);
    CU_ASSERT_EQUAL_FATAL(mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1);
    size_t h2 = mallinfo2().hblks;
    void *q = malloc(512 * 1024);
    size_t h3 = mallinfo2().hblks;
    free(q);
    CU_ASSERT_EQUAL_FATAL(mallopt(M_MMAP_MAX, 0), 1);
    size_t h4 = mallinfo2().hblks;
    void *r = malloc(2 << 20);
    size_t h5 = mallinfo2().hblks;
    free(r);
    restore_defaults();
    CU_ASSERT_TRUE(p && q && r);
    IT_ASSERT(h1 == h0, "malloc(512K) with M_MMAP_THRESHOLD 1M was mmapped (hblks %zu -> %zu)", h0, h1);
    IT_ASSERT(h3 == h2 + 1, "malloc(512K) with M_MMAP_THRESHOLD 128K not mmapped (hblks %zu -> %zu)", h2, h3);
    IT_ASSERT(h5 == h4, "malloc(2M) with M_MMAP_MAX 0 was mmapped (hblks %zu -> %zu)", h4, h5);
}

/* glibc's M_PERTURB: allocated bytes are filled with perturb ^ 0xff. Each
 * size is first used and zeroed, so a reused block that skipped the fill
 * shows zeros; a fresh one is asked for too. */
static void test_perturb_fills_allocations(void)
{
    static const size_t sizes[] = {24, 200, 3000, 50000, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t s = sizes[i];
        void *pre = malloc(s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pre);
        memset(pre, 0, s);
        free(pre);
        CU_ASSERT_EQUAL_FATAL(mallopt(M_PERTURB, 0x5a), 1);
        unsigned char *a = malloc(it_opaque(s)), *b = malloc(it_opaque(s));
        mallopt(M_PERTURB, 0);
        CU_ASSERT_FATAL(a && b);
        ptrdiff_t oa = it_check_byte(a, s, 0xa5), ob = it_check_byte(b, s, 0xa5);
        IT_ASSERT(oa < 0, "malloc(%zu) (reused) with M_PERTURB 0x5a: byte %td is %#x, want 0xa5", s, oa,
                  oa < 0 ? 0 : a[oa]);
        IT_ASSERT(ob < 0, "malloc(%zu) (second) with M_PERTURB 0x5a: byte %td is %#x, want 0xa5", s, ob,
                  ob < 0 ? 0 : b[ob]);
        free(a);
        free(b);
    }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static struct mallinfo old_mallinfo(void)
{
    return mallinfo();
}
#pragma GCC diagnostic pop

static void test_mallinfo2_figures(void)
{
    enum { N = 10240 };
    static void *blk[N];
    restore_defaults();
    struct mallinfo2 a = mallinfo2();
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(1024);
        CU_ASSERT_PTR_NOT_NULL_FATAL(blk[i]);
        memset(blk[i], 9, 1024);
    }
    struct mallinfo2 b = mallinfo2();
    IT_ASSERT(b.uordblks >= a.uordblks + 10 * IT_MIB, "uordblks %zu -> %zu after 10 MiB of 1 KiB blocks",
              a.uordblks, b.uordblks);
    IT_ASSERT(b.arena >= b.uordblks, "arena %zu < uordblks %zu", b.arena, b.uordblks);
    /* glibc's identity for the heap part: arena = in use + free */
    IT_ASSERT(a.arena == a.uordblks + a.fordblks, "arena %zu != uordblks %zu + fordblks %zu", a.arena, a.uordblks,
              a.fordblks);
    IT_ASSERT(b.arena == b.uordblks + b.fordblks, "arena %zu != uordblks %zu + fordblks %zu", b.arena, b.uordblks,
              b.fordblks);
    IT_ASSERT(b.keepcost <= b.fordblks, "keepcost %zu > fordblks %zu", b.keepcost, b.fordblks);

    void *big = malloc(IT_MIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 1, IT_MIB);
    struct mallinfo2 c = mallinfo2();
    ta_stats_t st = it_stats();
    struct mallinfo old = old_mallinfo();
    free(big);
    struct mallinfo2 d = mallinfo2();
    IT_ASSERT(c.hblks == b.hblks + 1, "hblks %zu -> %zu after malloc(1M)", b.hblks, c.hblks);
    IT_ASSERT(c.hblkhd >= b.hblkhd + IT_MIB, "hblkhd %zu -> %zu after malloc(1M)", b.hblkhd, c.hblkhd);
    IT_ASSERT(d.hblks == b.hblks && d.hblkhd == b.hblkhd, "after free(1M): hblks %zu hblkhd %zu, before %zu %zu",
              d.hblks, d.hblkhd, b.hblks, b.hblkhd);
    IT_ASSERT(st.mmapped_blocks == c.hblks, "ta_stats mmapped_blocks %llu != mallinfo2 hblks %zu",
              (unsigned long long)st.mmapped_blocks, c.hblks);
    IT_ASSERT((size_t)old.hblks == c.hblks, "mallinfo hblks %d != mallinfo2 hblks %zu", old.hblks, c.hblks);
    IT_ASSERT((size_t)old.hblkhd == c.hblkhd, "mallinfo hblkhd %d != mallinfo2 hblkhd %zu", old.hblkhd, c.hblkhd);

    for (int i = N - 1; i >= 0; i--)
        free(blk[i]);
    struct mallinfo2 e = mallinfo2();
    /* a little may stay in the thread cache, not 10 MiB */
    IT_ASSERT(e.uordblks <= a.uordblks + IT_MIB, "uordblks %zu after freeing all (was %zu before allocating)",
              e.uordblks, a.uordblks);
    IT_ASSERT(e.arena == e.uordblks + e.fordblks, "arena %zu != uordblks %zu + fordblks %zu", e.arena, e.uordblks,
              e.fordblks);
}

/* 16 MiB of 4 KiB blocks (below the mmap threshold) extend the heap top;
 * once all are freed that top goes back to the OS, by automatic trimming or
 * by malloc_trim(0): trimmed_bytes and the resident size both show it. */
static void test_malloc_trim_releases_top(void)
{
    enum { N = 4096 };
    static void *blk[N];
    restore_defaults();
    malloc_trim(0);
    ta_stats_t s0 = it_stats();
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(4096);
        CU_ASSERT_PTR_NOT_NULL_FATAL(blk[i]);
        memset(blk[i], 0x3c, 4096);
    }
    size_t rss_full = it_rss_bytes();
    for (int i = N - 1; i >= 0; i--)
        free(blk[i]);
    ta_stats_t s1 = it_stats();
    int r = malloc_trim(0);
    ta_stats_t s2 = it_stats();
    size_t rss_trimmed = it_rss_bytes();
    IT_ASSERT(s2.trimmed_bytes >= s0.trimmed_bytes + 8 * IT_MIB,
              "trimmed_bytes grew by %llu after freeing 16 MiB at the top (malloc_trim returned %d)",
              (unsigned long long)(s2.trimmed_bytes - s0.trimmed_bytes), r);
    IT_ASSERT(rss_trimmed + 8 * IT_MIB <= rss_full, "RSS %zu KiB -> %zu KiB after freeing 16 MiB and trimming",
              rss_full >> 10, rss_trimmed >> 10);
    /* 1 means "memory was released": then the counter must say so too */
    IT_ASSERT(r == 0 || s2.trimmed_bytes > s1.trimmed_bytes,
              "malloc_trim returned 1 but trimmed_bytes did not change (%llu)",
              (unsigned long long)s2.trimmed_bytes);
    IT_ASSERT(r == 0 || r == 1, "malloc_trim returned %d", r);
}

/* Runs fn with fd 2 sent to a temporary file; returns what was written. */
static size_t capture_stderr(void (*fn)(void), char *buf, size_t len)
{
    FILE *tmp = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fileno(tmp), 0, SEEK_SET);
    ssize_t n = read(fileno(tmp), buf, len - 1);
    fclose(tmp);
    n = n < 0 ? 0 : n;
    buf[n] = 0;
    return (size_t)n;
}

static void test_malloc_stats_output(void)
{
    static char buf[16384];
    size_t n = capture_stderr(malloc_stats, buf, sizeof buf);
    IT_ASSERT(n > 0 && (strstr(buf, "Arena") || strstr(buf, "tarena")),
              "malloc_stats wrote %zu bytes to stderr without \"Arena\" or \"tarena\": %.200s", n, buf);
    n = capture_stderr(ta_malloc_stats, buf, sizeof buf);
    IT_ASSERT(n > 0 && (strstr(buf, "Arena") || strstr(buf, "tarena")), "ta_malloc_stats wrote %zu bytes", n);
}

/* Tag balance without an XML library: every <name ...> closed by </name> in
 * order, <name .../> and <?...?> standalone, exactly one root. */
static int xml_balanced(const char *s, char *err, size_t errlen)
{
    char stack[32][64];
    int depth = 0, roots = 0;
    while ((s = strchr(s, '<')) != NULL) {
        const char *end = strchr(s, '>');
        if (!end)
            return snprintf(err, errlen, "unterminated tag"), 0;
        if (s[1] == '?' || s[1] == '!') {
            s = end + 1;
            continue;
        }
        int closing = s[1] == '/';
        const char *name = s + 1 + closing;
        size_t nl = strcspn(name, " \t\n/>");
        if (nl == 0 || nl >= 64)
            return snprintf(err, errlen, "bad tag name"), 0;
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], name, nl) != 0 || stack[depth - 1][nl])
                return snprintf(err, errlen, "</%.*s> does not close the open element", (int)nl, name), 0;
            depth--;
        } else if (end[-1] != '/') {
            if (depth == 32)
                return snprintf(err, errlen, "nested too deep"), 0;
            if (depth == 0)
                roots++;
            memcpy(stack[depth], name, nl);
            stack[depth++][nl] = 0;
        } else if (depth == 0) {
            roots++;
        }
        s = end + 1;
    }
    if (depth)
        return snprintf(err, errlen, "<%s> never closed", stack[depth - 1]), 0;
    if (roots != 1)
        return snprintf(err, errlen, "%d root elements", roots), 0;
    return 1;
}

static void test_malloc_info_xml(void)
{
    char path[] = "/tmp/ta_integ_info_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    void *keep[3] = {malloc(100), malloc(5000), malloc(1 << 20)}; /* something to report */
    int rc = malloc_info(0, f);
    CU_ASSERT_EQUAL(rc, 0);
    fflush(f);
    long len = ftell(f);
    char *xml = malloc(len > 0 ? (size_t)len + 1 : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
    rewind(f);
    size_t got = len > 0 ? fread(xml, 1, (size_t)len, f) : 0;
    xml[got] = 0;
    IT_ASSERT(strncmp(xml, "<malloc version=", 16) == 0, "malloc_info output starts with \"%.40s\"", xml);
    char err[128] = "";
    IT_ASSERT(xml_balanced(xml, err, sizeof err), "malloc_info XML unbalanced: %s", err);
    if (access("/usr/bin/xmllint", X_OK) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout %s >&2", path);
        int st = system(cmd);
        IT_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "xmllint rejects the malloc_info output (status %#x)", st);
    }
    /* Options must be 0. glibc returns EINVAL itself, its manual says -1 with
     * errno EINVAL: either will do. */
    errno = 0;
    rc = malloc_info(1, f);
    IT_ASSERT(rc == EINVAL || (rc == -1 && errno == EINVAL), "malloc_info(1, f) = %d errno %d, want EINVAL", rc,
              errno);
    fclose(f);
    unlink(path);
    free(xml);
    for (int i = 0; i < 3; i++)
        free(keep[i]);
}

static void test_stats_get_api(void)
{
    CU_ASSERT_EQUAL(ta_stats_get(NULL), EINVAL);
    ta_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = 0;
    s.version = TA_STATS_VERSION;
    CU_ASSERT_EQUAL(ta_stats_get(&s), EINVAL);
    s.size = 4; /* not even the header */
    CU_ASSERT_EQUAL(ta_stats_get(&s), EINVAL);
    s.size = sizeof s;
    s.version = 0;
    CU_ASSERT_EQUAL(ta_stats_get(&s), EINVAL);
    s.version = TA_STATS_VERSION + 1;
    CU_ASSERT_EQUAL(ta_stats_get(&s), EINVAL);

    /* Never a byte past the caller's size: with a short size the call may
     * refuse (EINVAL) or fill the prefix, but must not write beyond it. */
    union {
        ta_stats_t st;
        unsigned char raw[sizeof(ta_stats_t) + 64];
    } u;
    memset(&u, 0xEE, sizeof u);
    u.st.size = (uint32_t)offsetof(ta_stats_t, in_use_bytes);
    u.st.version = TA_STATS_VERSION;
    int rc = ta_stats_get(&u.st);
    CU_ASSERT_TRUE(rc == 0 || rc == EINVAL);
    CU_ASSERT_EQUAL(it_check_byte(u.raw + offsetof(ta_stats_t, in_use_bytes),
                                  sizeof u.raw - offsetof(ta_stats_t, in_use_bytes), 0xEE),
                    -1);
    memset(&u, 0xEE, sizeof u);
    u.st.size = sizeof(ta_stats_t);
    u.st.version = TA_STATS_VERSION;
    CU_ASSERT_EQUAL(ta_stats_get(&u.st), 0);
    CU_ASSERT_EQUAL(it_check_byte(u.raw + sizeof(ta_stats_t), 64, 0xEE), -1);
    CU_ASSERT_EQUAL(u.st.size, sizeof(ta_stats_t));
    CU_ASSERT_EQUAL(u.st.version, TA_STATS_VERSION);
}

/* A quiescent single-threaded snapshot is consistent with what was done. */
static void test_stats_snapshot_consistent(void)
{
    enum { N = 1000 };
    static void *blk[N];
    restore_defaults();
    ta_stats_t a = it_stats();
    struct mallinfo2 ma = mallinfo2();
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(100);
        CU_ASSERT_PTR_NOT_NULL_FATAL(blk[i]);
    }
    void *big = malloc(4 * IT_MIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    ta_stats_t b = it_stats();
    struct mallinfo2 mb = mallinfo2();
    for (int i = 0; i < N; i++)
        free(blk[i]);
    free(big);
    ta_stats_t c = it_stats();

    IT_ASSERT(b.allocs >= a.allocs + N + 1, "allocs %llu -> %llu after %d allocations",
              (unsigned long long)a.allocs, (unsigned long long)b.allocs, N + 1);
    IT_ASSERT(c.frees >= b.frees + N + 1, "frees %llu -> %llu after %d frees", (unsigned long long)b.frees,
              (unsigned long long)c.frees, N + 1);
    /* Whether the 4 MiB block was mmapped on its own is the allocator's
     * choice (glibc serves it from a large enough free top); the two
     * reporting APIs must agree about it, and about its size. */
    IT_ASSERT(b.mmapped_blocks - a.mmapped_blocks == mb.hblks - ma.hblks,
              "mmapped_blocks %llu -> %llu but mallinfo2 hblks %zu -> %zu", (unsigned long long)a.mmapped_blocks,
              (unsigned long long)b.mmapped_blocks, ma.hblks, mb.hblks);
    if (b.mmapped_blocks == a.mmapped_blocks + 1)
        IT_ASSERT(b.mmapped_bytes >= a.mmapped_bytes + 4 * IT_MIB, "mmapped_bytes %llu -> %llu after malloc(4M)",
                  (unsigned long long)a.mmapped_bytes, (unsigned long long)b.mmapped_bytes);
    IT_ASSERT(b.in_use_bytes >= a.in_use_bytes + 4 * IT_MIB + N * 100, "in_use_bytes %llu -> %llu",
              (unsigned long long)a.in_use_bytes, (unsigned long long)b.in_use_bytes);
    IT_ASSERT(c.mmapped_blocks == a.mmapped_blocks && c.mmapped_bytes == a.mmapped_bytes,
              "after free(4M): mmapped %llu blocks %llu bytes, before %llu %llu",
              (unsigned long long)c.mmapped_blocks, (unsigned long long)c.mmapped_bytes,
              (unsigned long long)a.mmapped_blocks, (unsigned long long)a.mmapped_bytes);
    IT_ASSERT(c.in_use_bytes + 4 * IT_MIB <= b.in_use_bytes, "in_use_bytes %llu -> %llu after freeing 4 MiB",
              (unsigned long long)b.in_use_bytes, (unsigned long long)c.in_use_bytes);
    const ta_stats_t *all[] = {&a, &b, &c};
    for (int i = 0; i < 3; i++) {
        IT_ASSERT(all[i]->heap_free_bytes <= all[i]->heap_bytes, "snapshot %d: heap_free %llu > heap %llu", i,
                  (unsigned long long)all[i]->heap_free_bytes, (unsigned long long)all[i]->heap_bytes);
        IT_ASSERT(all[i]->top_bytes <= all[i]->heap_bytes, "snapshot %d: top %llu > heap %llu", i,
                  (unsigned long long)all[i]->top_bytes, (unsigned long long)all[i]->heap_bytes);
        IT_ASSERT(all[i]->in_use_bytes >= all[i]->mmapped_bytes, "snapshot %d: in_use %llu < mmapped %llu", i,
                  (unsigned long long)all[i]->in_use_bytes, (unsigned long long)all[i]->mmapped_bytes);
        IT_ASSERT(all[i]->arenas >= 1, "snapshot %d: %llu arenas", i, (unsigned long long)all[i]->arenas);
    }
}

TA_SUITE(info)
{
    TA_ADD(suite, test_mallopt_accepts_known);
    TA_ADD(suite, test_mallopt_rejects_out_of_range);
    TA_ADD(suite, test_mallopt_mmap_settings_take_effect);
    TA_ADD(suite, test_perturb_fills_allocations);
    TA_ADD(suite, test_mallinfo2_figures);
    TA_ADD(suite, test_malloc_trim_releases_top);
    TA_ADD(suite, test_malloc_stats_output);
    TA_ADD(suite, test_malloc_info_xml);
    TA_ADD(suite, test_stats_get_api);
    TA_ADD(suite, test_stats_snapshot_consistent);
}
