/* Ranked mutexes: initialisation, fork re-initialisation, and in debug builds
 * a per-thread stack of held locks that catches rank inversions. */
#include "lock.h"
#include "log.h"
#include <stdlib.h>

TA_TLS unsigned ta_locks_held;

void ta_lock_init(ta_lock_t *lock, const char *name, ta_lock_rank_t rank)
{
    pthread_mutex_init(&lock->mutex, NULL);
    lock->name = name;
    lock->rank = rank;
}

void ta_lock_reinit(ta_lock_t *lock)
{
    pthread_mutex_init(&lock->mutex, NULL);
}

void ta_lock_acquire_for_fork(ta_lock_t *lock)
{
    pthread_mutex_lock(&lock->mutex);
}

void ta_lock_release_for_fork(ta_lock_t *lock)
{
    pthread_mutex_unlock(&lock->mutex);
}

#ifdef TA_DEBUG
#define TA_MAX_HELD 16
static TA_TLS ta_lock_t *held[TA_MAX_HELD];
static TA_TLS int nheld;
#endif

void ta_lock_forget_held(void)
{
    ta_locks_held = 0;
#ifdef TA_DEBUG
    nheld = 0;
#endif
}

#ifdef TA_DEBUG
static void lock_check_rank(ta_lock_t *lock)
{
    if (nheld == 0)
        return;
    ta_lock_t *top = held[nheld - 1];
    if (top->rank < lock->rank)
        return;
    char mem[256];
    ta_buf_t b = {mem, 0, sizeof mem};
    ta_buf_str(&b, "tarena: lock rank inversion: taking ");
    ta_buf_str(&b, lock->name);
    ta_buf_str(&b, " (rank ");
    ta_buf_u64(&b, (uint64_t)lock->rank);
    ta_buf_str(&b, ") while holding ");
    ta_buf_str(&b, top->name);
    ta_buf_str(&b, " (rank ");
    ta_buf_u64(&b, (uint64_t)top->rank);
    ta_buf_str(&b, ")\n");
    ta_buf_write(&b, 2);
    abort();
}

void ta_lock_acquire(ta_lock_t *lock)
{
    lock_check_rank(lock);
    ta_locks_held++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    pthread_mutex_lock(&lock->mutex);
    if (nheld < TA_MAX_HELD)
        held[nheld] = lock;
    nheld++;
}

bool ta_lock_try(ta_lock_t *lock)
{
    /* A trylock cannot deadlock, so it is exempt from the order check. */
    ta_locks_held++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (pthread_mutex_trylock(&lock->mutex) != 0) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        ta_locks_held--;
        return false;
    }
    if (nheld < TA_MAX_HELD)
        held[nheld] = lock;
    nheld++;
    return true;
}

void ta_lock_release(ta_lock_t *lock)
{
    /* Locks are usually released in reverse order; find it anyway. */
    for (int i = TA_MIN(nheld, TA_MAX_HELD) - 1; i >= 0; i--) {
        if (held[i] == lock) {
            for (int j = i; j + 1 < TA_MIN(nheld, TA_MAX_HELD); j++)
                held[j] = held[j + 1];
            break;
        }
    }
    nheld--;
    pthread_mutex_unlock(&lock->mutex);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ta_locks_held--;
}
#endif
