/* Start-up: the first allocation boots the arenas (nothing here allocates, so
 * it works from inside the dynamic loader and before constructors); a
 * constructor then reads the options again (environ may not have been set
 * on the first call) and installs the fork handlers. */
#define _GNU_SOURCE
#include "api.h"
#include "log.h"
#include <pthread.h>
#include <sys/single_threaded.h>

bool ta_booted;
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

/* glibc's stdio list lock: taken before ours at fork so that a thread in
 * fflush(NULL) waiting on a FILE lock held by a thread inside malloc cannot
 * deadlock the fork (glibc's own order is stdio list, then malloc). */
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
extern void _IO_list_resetlock(void);

static bool fork_locked;
static bool fork_interrupted; /* the forking thread was inside the allocator */

static void fork_prepare(void)
{
    /* Single-threaded: nobody else can hold a lock (glibc takes none either).
     * And a fork from a signal handler that interrupted this thread while it
     * held an allocator lock must not wait for that lock: it would wait for
     * itself. The child re-initialises every lock in both cases. */
    fork_interrupted = ta_locks_held != 0;
    fork_locked = !__libc_single_threaded && !fork_interrupted;
    if (!fork_locked)
        return;
    _IO_list_lock();
    ta_arena_prefork();
    ta_tcache_prefork();
    ta_harden_prefork();
}

static void fork_parent(void)
{
    if (!fork_locked)
        return;
    ta_harden_postfork(false, false);
    ta_tcache_postfork(false, false);
    ta_arena_postfork(false, NULL);
    _IO_list_unlock();
}

static void fork_child(void)
{
    /* Re-initialise every lock even when none was taken: in a
     * single-threaded process the fork may come from a signal handler that
     * interrupted malloc, and the child must not inherit that lock held.
     * Locks first: the cache may then rebind to another arena. */
    ta_tcache_t *self = ta_tcache_tls;
    ta_arena_postfork(true, self != &ta_tcache_empty ? self->arena : NULL);
    ta_lock_forget_held();
    ta_tcache_postfork(true, fork_interrupted);
    ta_harden_postfork(true, fork_interrupted);
    ta_trim_postfork_child();
    if (fork_locked)
        _IO_list_resetlock();
}

static void boot_run(void)
{
    ta_options_init();
    /* Latched here, before the first block exists: it decides their layout. */
    unsigned harden = (unsigned)TA_OPT(harden);
    ta_hardened = harden & 1 ? TA_HARDEN_ALL : harden & TA_HARDEN_ALL;
    ta_arena_boot();
    ta_tcache_boot();
    ta_trim_boot();
    if (ta_hardened)
        ta_harden_boot();
    __atomic_store_n(&ta_booted, true, __ATOMIC_RELEASE);
}

void ta_boot(void)
{
    pthread_once(&boot_once, boot_run);
}

__attribute__((constructor(101))) static void ta_boot_constructor(void)
{
    ta_boot();
    ta_options_init();
    /* The first allocation came before the environment could be read (it
     * is latched then): say so rather than run unhardened silently. */
    if (TA_OPT(harden) && !ta_hardened)
        ta_log_warn("TARENA_HARDEN ignored", "the environment was not readable at the first allocation");
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
