/* Unit suite "lock": ranked locks. Debug builds (TA_DEBUG) abort on a rank
 * inversion with a line naming both locks; every build keeps the per-thread
 * count of held locks that fork relies on. */
#include "unit.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_held_count(void)
{
    ta_lock_t a = TA_LOCK_INITIALIZER("test.a", TA_RANK_BIN);
    ta_lock_t b = TA_LOCK_INITIALIZER("test.b", TA_RANK_PAGES);
    unsigned base = ta_locks_held;
    ta_lock_acquire(&a);
    CU_ASSERT_EQUAL(ta_locks_held, base + 1);
    CU_ASSERT_TRUE(ta_lock_try(&b));
    CU_ASSERT_EQUAL(ta_locks_held, base + 2);
    CU_ASSERT_FALSE(ta_lock_try(&b)); /* already held: a failed try counts nothing */
    CU_ASSERT_EQUAL(ta_locks_held, base + 2);
    ta_lock_release(&b);
    ta_lock_release(&a);
    CU_ASSERT_EQUAL(ta_locks_held, base);
}

/* Takes a page-rank lock, then a bin-rank one: an inversion. */
static void test_rank_inversion(void)
{
    int fds[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        ta_lock_t pages = TA_LOCK_INITIALIZER("test.pages", TA_RANK_PAGES);
        ta_lock_t bin = TA_LOCK_INITIALIZER("test.bin", TA_RANK_BIN);
        ta_lock_acquire(&pages);
        ta_lock_acquire(&bin);
        _exit(0);
    }
    close(fds[1]);
    char out[512] = {0};
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
#ifdef TA_DEBUG
    CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CU_ASSERT_TRUE(n > 0 && strstr(out, "lock rank inversion") && strstr(out, "test.bin") &&
                   strstr(out, "test.pages"));
#else
    /* Release builds do not check ranks: the child simply goes on. */
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_TRUE(n <= 0);
#endif
}

TA_SUITE(lock)
{
    UNIT_FIXTURE(suite);
    TA_ADD(suite, test_held_count);
    TA_ADD(suite, test_rank_inversion);
}
