/* TSan builds only (linked with -Wl,--wrap=... by tests/fuzz/CMakeLists.txt):
 * tells ThreadSanitizer about the ordering that liburcu provides, since the
 * library itself is not instrumented. Without it every block that travels
 * through a bin's remote-free stack, and every thread-cache record that is
 * reclaimed after an RCU grace period, shows up as a false data race.
 *  - __cds_lfs_pop_all acquires the stack; tarena's chain push
 *    (ta_bin_free_remote) releases it in TSan builds: what a thread wrote
 *    before pushing a node is visible to whoever pops it.
 *  - urcu_bp_read_unlock releases, urcu_bp_synchronize_rcu acquires (after
 *    the grace period): what a reader did in its read section happens before
 *    the updater's code after synchronize_rcu (e.g. freeing the record). */
#include <sanitizer/tsan_interface.h>
#include <urcu/lfstack.h>
#include <urcu/urcu-bp.h>

struct cds_lfs_head *__real___cds_lfs_pop_all(cds_lfs_stack_ptr_t s);
struct cds_lfs_head *__wrap___cds_lfs_pop_all(cds_lfs_stack_ptr_t s);
void __real_urcu_bp_read_unlock(void);
void __wrap_urcu_bp_read_unlock(void);
void __real_urcu_bp_synchronize_rcu(void);
void __wrap_urcu_bp_synchronize_rcu(void);

struct cds_lfs_head *__wrap___cds_lfs_pop_all(cds_lfs_stack_ptr_t s)
{
    struct cds_lfs_head *head = __real___cds_lfs_pop_all(s);
    __tsan_acquire(s._s);
    return head;
}

static char grace_period;

void __wrap_urcu_bp_read_unlock(void)
{
    __tsan_release(&grace_period);
    __real_urcu_bp_read_unlock();
}

void __wrap_urcu_bp_synchronize_rcu(void)
{
    __real_urcu_bp_synchronize_rcu();
    __tsan_acquire(&grace_period);
}
