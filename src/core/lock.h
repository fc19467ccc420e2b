/* Named, ranked mutexes. Every allocator lock has a rank from ta_lock_rank_t;
 * a thread may only take a lock of higher rank than the ones it holds (debug
 * builds check and abort naming both locks), and fork takes them in rank order. */
#ifndef TA_LOCK_H
#define TA_LOCK_H
#include "internal.h"
#include <pthread.h>

typedef enum ta_lock_rank {
    TA_RANK_ARENA_TABLE = 10, /* arena table: binding threads to arenas */
    TA_RANK_BIN = 20,         /* one per size class per arena */
    TA_RANK_PAGES = 30,       /* an arena's page heap: spans, growth, trim */
    TA_RANK_META = 40,        /* the span-descriptor allocator */
    TA_RANK_PAGEMAP = 50,     /* page-map leaf creation */
    TA_RANK_TCACHE_LIST = 60, /* list of live thread caches */
    TA_RANK_QUARANTINE = 70,  /* hardened mode: one per quarantine stripe (leaf) */
} ta_lock_rank_t;

typedef struct ta_lock {
    pthread_mutex_t mutex;
    const char *name;
    ta_lock_rank_t rank;
} ta_lock_t;

#define TA_LOCK_INITIALIZER(nm, rk) {PTHREAD_MUTEX_INITIALIZER, (nm), (rk)}

void ta_lock_init(ta_lock_t *lock, const char *name, ta_lock_rank_t rank) TA_HIDDEN;

/* Allocator locks the calling thread holds. Fork reads it: a fork from a
 * signal handler that interrupted the allocator while it held a lock must
 * not wait for that lock (it would wait for itself). Owner thread only. */
extern TA_TLS unsigned ta_locks_held TA_HIDDEN;

#ifdef TA_DEBUG
void ta_lock_acquire(ta_lock_t *lock) TA_HIDDEN;
bool ta_lock_try(ta_lock_t *lock) TA_HIDDEN;
void ta_lock_release(ta_lock_t *lock) TA_HIDDEN;
#else
/* The count covers the lock from before taking it until after releasing
 * it, so a signal handler never sees 0 while the lock is held (the fences
 * keep the compiler from moving the count across the mutex calls). */
static TA_ALWAYS_INLINE void ta_lock_acquire(ta_lock_t *lock)
{
    ta_locks_held++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    pthread_mutex_lock(&lock->mutex);
}
static TA_ALWAYS_INLINE bool ta_lock_try(ta_lock_t *lock)
{
    ta_locks_held++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (pthread_mutex_trylock(&lock->mutex) == 0)
        return true;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ta_locks_held--;
    return false;
}
static TA_ALWAYS_INLINE void ta_lock_release(ta_lock_t *lock)
{
    pthread_mutex_unlock(&lock->mutex);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ta_locks_held--;
}
#endif

/* After fork, in the child: the lock is free again and nobody holds it. */
void ta_lock_reinit(ta_lock_t *lock) TA_HIDDEN;
/* In a fork child, after every lock was re-initialised: this thread holds
 * none any more, whatever it held when the fork interrupted it. */
void ta_lock_forget_held(void) TA_HIDDEN;
/* Fork handlers take every lock through these, bypassing the rank checks
 * (they take many locks of one rank). */
void ta_lock_acquire_for_fork(ta_lock_t *lock) TA_HIDDEN;
void ta_lock_release_for_fork(ta_lock_t *lock) TA_HIDDEN;
#endif
