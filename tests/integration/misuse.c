/* Integration suite "misuse": free()/realloc() of pointers tarena never handed
 * out, interior pointers and double frees must abort with one clear line on
 * stderr. Each case runs in a fork()ed child, since abort is the outcome. */
#include "integ.h"
#include "ta_test.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <tarena.h>

typedef enum {
    FREE_STACK,
    FREE_STATIC,
    FREE_INTERIOR_SMALL,
    FREE_INTERIOR_LARGE,
    FREE_MISALIGNED,
    DOUBLE_FREE_SMALL,
    DOUBLE_FREE_LARGE,
    FREE_AFTER_REALLOC_ZERO,
    REALLOC_STACK,
    REALLOC_INTERIOR,
    REALLOC_FREED,
} misuse_t;

static char never_allocated[256];

/* The child stores the pointer it misuses in a MAP_SHARED page just before
 * the call, so the parent can look for that value in the message (the
 * child's stack and heap addresses are not known to the parent beforehand). */
static volatile uintptr_t *shared_ptr;

static int misuse_child(void *arg)
{
    misuse_t what = (misuse_t)(intptr_t)arg;
    char stack_buf[64];
    unsigned char *p = NULL, *bad = NULL;
    switch (what) {
    case FREE_STACK:
    case REALLOC_STACK:
        bad = (unsigned char *)stack_buf + 16;
        break;
    case FREE_STATIC:
        bad = (unsigned char *)never_allocated + 64;
        break;
    case FREE_INTERIOR_SMALL:
    case REALLOC_INTERIOR:
        p = malloc(64);
        bad = p + 16;
        break;
    case FREE_INTERIOR_LARGE:
        p = malloc(IT_MIB); /* mmapped: a page-aligned interior pointer */
        bad = p + 4096;
        break;
    case FREE_MISALIGNED:
        p = malloc(100);
        bad = p + 1;
        break;
    case DOUBLE_FREE_SMALL:
    case REALLOC_FREED:
        p = malloc(32);
        bad = p;
        free(it_launder(p));
        break;
    case DOUBLE_FREE_LARGE:
        p = malloc(2 * IT_MIB);
        bad = p;
        free(it_launder(p));
        break;
    case FREE_AFTER_REALLOC_ZERO:
        p = malloc(48);
        bad = p;
        if (realloc(it_launder(p), it_opaque(0)) != NULL)
            return 3;
        break;
    }
    if (!bad)
        return 2;
    *shared_ptr = (uintptr_t)bad;
    if (what >= REALLOC_STACK) {
        void *r = realloc(it_launder(bad), 200);
        (void)r;
    } else {
        free(it_launder(bad));
    }
    return 0; /* not aborted: the parent reports it */
}

/* Finds a 0x... number in the message equal to ptr (any case or padding). */
static int mentions_pointer(const char *msg, uintptr_t ptr)
{
    for (const char *s = msg; (s = strstr(s, "0x")) != NULL; s += 2)
        if ((uintptr_t)strtoull(s, NULL, 16) == ptr)
            return 1;
    return 0;
}

static void expect_abort(misuse_t what, const char *name, const char *prefix)
{
    it_child_t c;
    if (!shared_ptr) {
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        CU_ASSERT_FATAL(m != MAP_FAILED);
        shared_ptr = m;
    }
    *shared_ptr = 0;
    CU_ASSERT_EQUAL_FATAL(it_run_child(misuse_child, (void *)(intptr_t)what, 1, 20, &c), 0);
    char why[64];
    IT_ASSERT(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "%s: child ended with %s, want SIGABRT",
              name, it_status_str(c.status, why, sizeof why));
    const char *nl = strchr(c.out, '\n');
    IT_ASSERT(c.outlen > 0 && nl == c.out + c.outlen - 1, "%s: want exactly one line on stderr, got \"%s\"", name,
              c.out);
    IT_ASSERT(strncmp(c.out, prefix, strlen(prefix)) == 0, "%s: message \"%s\" does not start with \"%s\"", name,
              c.out, prefix);
    IT_ASSERT(strstr(c.out, "invalid pointer") || strstr(c.out, "double free"),
              "%s: message \"%s\" says neither \"invalid pointer\" nor \"double free\"", name, c.out);
    IT_ASSERT(*shared_ptr != 0 && mentions_pointer(c.out, *shared_ptr), "%s: message \"%s\" lacks the pointer %#lx",
              name, c.out, (unsigned long)*shared_ptr);
}

#define CASE(fn, what, prefix)                                                                                     \
    static void fn(void)                                                                                           \
    {                                                                                                              \
        expect_abort(what, #what, prefix);                                                                         \
    }
CASE(test_free_stack_address, FREE_STACK, "tarena: free(): ")
CASE(test_free_static_array, FREE_STATIC, "tarena: free(): ")
CASE(test_free_interior_small, FREE_INTERIOR_SMALL, "tarena: free(): ")
CASE(test_free_interior_large, FREE_INTERIOR_LARGE, "tarena: free(): ")
CASE(test_free_misaligned, FREE_MISALIGNED, "tarena: free(): ")
CASE(test_double_free_small, DOUBLE_FREE_SMALL, "tarena: free(): ")
CASE(test_double_free_large, DOUBLE_FREE_LARGE, "tarena: free(): ")
CASE(test_free_after_realloc_zero, FREE_AFTER_REALLOC_ZERO, "tarena: free(): ")
CASE(test_realloc_stack_address, REALLOC_STACK, "tarena: realloc(): ")
CASE(test_realloc_interior, REALLOC_INTERIOR, "tarena: realloc(): ")
CASE(test_realloc_freed, REALLOC_FREED, "tarena: realloc(): ")

/* M_CHECK_ACTION / TARENA_CHECK_ACTION: 1 reports and goes on, 0 goes on
 * silently; either way the misused block is left alone and the allocator
 * keeps working (no block handed out twice afterwards). */
static int check_action_child(void *arg)
{
    int action = (int)(intptr_t)arg;
    if (mallopt(M_CHECK_ACTION, action) != 1)
        return 10;
    int local;
    void *p = malloc(48);
    free(p);
    free(p);                      /* double free, small */
    free(&local);                 /* invalid pointer */
    void *big = malloc(300000);
    free(big);
    free(big);                    /* double free of a mapping */
    errno = 0;
    if (realloc(&local, 10) != NULL || errno != EINVAL)
        return 11;
    void *a = malloc(48), *b = malloc(48);
    if (!a || !b || a == b)
        return 12;
    free(a);
    free(b);
    return 0;
}

static void expect_check_action(int action, size_t want_lines)
{
    it_child_t c;
    CU_ASSERT_EQUAL_FATAL(it_run_child(check_action_child, (void *)(intptr_t)action, 1, 20, &c), 0);
    char why[64];
    IT_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "check action %d: child ended with %s", action,
              it_status_str(c.status, why, sizeof why));
    size_t lines = 0;
    for (size_t i = 0; i < c.outlen; i++)
        lines += c.out[i] == '\n';
    IT_ASSERT(lines == want_lines, "check action %d: %zu lines on stderr, want %zu: \"%s\"", action, lines,
              want_lines, c.out);
}

static void test_check_action_report_and_continue(void)
{
    expect_check_action(1, 4);
}

static void test_check_action_ignore(void)
{
    expect_check_action(0, 0);
}

/* The parent keeps working after all that: nothing leaked out of the children. */
static void test_parent_unaffected(void)
{
    void *p = malloc(100);
    CU_ASSERT_TRUE(p && ta_owns(p));
    free(p);
}

TA_SUITE(misuse)
{
    TA_ADD(suite, test_free_stack_address);
    TA_ADD(suite, test_free_static_array);
    TA_ADD(suite, test_free_interior_small);
    TA_ADD(suite, test_free_interior_large);
    TA_ADD(suite, test_free_misaligned);
    TA_ADD(suite, test_double_free_small);
    TA_ADD(suite, test_double_free_large);
    TA_ADD(suite, test_free_after_realloc_zero);
    TA_ADD(suite, test_realloc_stack_address);
    TA_ADD(suite, test_realloc_interior);
    TA_ADD(suite, test_realloc_freed);
    TA_ADD(suite, test_check_action_report_and_continue);
    TA_ADD(suite, test_check_action_ignore);
    TA_ADD(suite, test_parent_unaffected);
}
