/* Hardened mode: canaries, junk fill and the quarantine (see harden.h).
 * The quarantine is a set of lock-striped FIFO rings of freed blocks; a
 * block leaves it, oldest first, once its stripe holds too many bytes or
 * entries, and is then checked for writes made after it was freed. */
#include "harden.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include "secret.h"
#include <string.h>

/* Freed blocks are filled with this unless M_PERTURB names a byte. */
#define TA_JUNK_BYTE 0xdbu
/* Larger blocks are not quarantined: filling and checking them would cost
 * more than reuse-after-free of such blocks is worth delaying. */
#define TA_QUARANTINE_MAX_BLOCK ((size_t)64 * 1024)
#define TA_QUARANTINE_STRIPES 8u
#define TA_QUARANTINE_SLOTS 4096u

typedef struct q_entry {
    void *p;
    uint32_t usable;
    uint8_t junk;
} q_entry_t;

/* A cache line (or two) each: no false sharing between stripes. */
typedef struct q_stripe {
    ta_lock_t lock;
    q_entry_t *ring;
    unsigned head, count;   /* oldest entry, number held */
    size_t bytes;
} __attribute__((aligned(64))) q_stripe_t;

static q_stripe_t stripes[TA_QUARANTINE_STRIPES];

void ta_harden_boot(void)
{
    for (unsigned i = 0; i < TA_QUARANTINE_STRIPES; i++)
        ta_lock_init(&stripes[i].lock, "harden.quarantine", TA_RANK_QUARANTINE);
    if (!(ta_hardened & TA_HARDEN_QUARANTINE) || !TA_OPT(quarantine_bytes))
        return;
    void *mem;
    size_t ring = TA_QUARANTINE_SLOTS * sizeof(q_entry_t);
    /* Without it, hardened mode still runs, just without delayed reuse. */
    if (ta_os_map(ring * TA_QUARANTINE_STRIPES, TA_PAGE_SIZE, &mem))
        return;
    for (unsigned i = 0; i < TA_QUARANTINE_STRIPES; i++)
        stripes[i].ring = (q_entry_t *)((char *)mem + i * ring);
}

/* Address-dependent and secret: an overflow cannot write the right value
 * back by accident or by copying a canary from elsewhere. */
static uint64_t canary_at(const void *where)
{
    uint64_t x = ta_free_key ^ (uint64_t)(uintptr_t)where;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

static uint64_t *canary_slot(const ta_span_t *s, const void *p)
{
    return (uint64_t *)((char *)p + ta_block_usable(s));
}

void ta_harden_arm(void *p)
{
    if (!(ta_hardened & TA_HARDEN_CANARY))
        return;
    ta_span_t *s = ta_pagemap_get((uintptr_t)p);
    if (s->state != TA_SPAN_MMAP) {
        uint64_t *c = canary_slot(s, p);
        *c = canary_at(c);
    }
}

bool ta_harden_canary_ok(const ta_span_t *s, const void *p)
{
    if (!(ta_hardened & TA_HARDEN_CANARY) || s->state == TA_SPAN_MMAP)
        return true;
    const uint64_t *c = canary_slot(s, p);
    return *c == canary_at(c);
}

unsigned ta_harden_junk(void)
{
    uint64_t perturb = TA_OPT(perturb);
    return perturb ? (unsigned)perturb : ta_hardened & TA_HARDEN_JUNK ? TA_JUNK_BYTE : 0;
}

/* A thread keeps to one stripe (threads are dealt out in turn), so a
 * stripe's lock and counters stay in one core's cache: going round all
 * stripes made every free bounce them between cores and cost 3-4x more.
 * Picking by address instead would let a malloc/free loop cycle inside one
 * stripe while a block sits in another forever. */
static q_stripe_t *my_stripe(void)
{
    static TA_TLS unsigned mine;
    static unsigned dealt;
    if (!mine)
        mine = __atomic_add_fetch(&dealt, 1, __ATOMIC_RELAXED) % TA_QUARANTINE_STRIPES + 1;
    return &stripes[mine - 1];
}

/* Adds *e (when not NULL; it fits a stripe) to q; returns in *out the oldest
 * entry if the ring is full or q is over its byte budget (out->p NULL if
 * not). One entry per call: the caller calls again, with e NULL, until q is
 * within its budget (an insert of a large block may need several). */
static void quarantine_swap(q_stripe_t *q, const q_entry_t *e, q_entry_t *out)
{
    out->p = NULL;
    ta_lock_acquire(&q->lock);
    if (e && q->count == TA_QUARANTINE_SLOTS) {
        *out = q->ring[q->head];
        q->head = (q->head + 1) % TA_QUARANTINE_SLOTS;
        q->count--;
        q->bytes -= out->usable;
    }
    if (e) {
        q->ring[(q->head + q->count) % TA_QUARANTINE_SLOTS] = *e;
        q->count++;
        q->bytes += e->usable;
    }
    if (!out->p && q->count && q->bytes > TA_OPT(quarantine_bytes)) {
        *out = q->ring[q->head];
        q->head = (q->head + 1) % TA_QUARANTINE_SLOTS;
        q->count--;
        q->bytes -= out->usable;
    }
    ta_lock_release(&q->lock);
}

/* Whether a block that sat in the quarantine still holds only junk (and the
 * free key in its second word). */
static bool untouched_since_free(const ta_span_t *s, const q_entry_t *e)
{
    const uint64_t *w = e->p;
    if (!(TA_CHECKS_OFF || ta_block_marked_free(s, w)))
        return false;
    if (!e->junk) /* quarantine without junk fill: only the key is known */
        return true;
    uint64_t pattern = 0x0101010101010101ull * e->junk;
    if (w[0] != pattern)
        return false;
    /* Usable sizes are multiples of 8 (16-byte classes and pages, less
     * the 8-byte canary). */
    for (size_t i = 2; i < e->usable / 8; i++)
        if (w[i] != pattern)
            return false;
    return true;
}

/* Adds *in (if not NULL) to q and lets go of what must leave: the first
 * block that passed its check, with its span in *sp, or NULL when nothing
 * (more) leaves. A block written after free is reported and kept out of
 * circulation; the next one is looked at. */
static void *quarantine_release(ta_span_t **sp, q_stripe_t *q, const q_entry_t *in, const char *func)
{
    for (;;) {
        q_entry_t out;
        quarantine_swap(q, in, &out);
        in = NULL;
        if (!out.p)
            return NULL;
        ta_span_t *s = ta_pagemap_get((uintptr_t)out.p);
        if (!untouched_since_free(s, &out)) {
            ta_log_misuse(func, "write after free: block changed while in quarantine", out.p);
            continue;
        }
        if (s->state == TA_SPAN_BLOCK)
            ta_block_mark_live(out.p); /* the pages may become anything next */
        *sp = s;
        return out.p;
    }
}

void *ta_harden_free(ta_span_t **sp, void *p, const char *func)
{
    ta_span_t *s = *sp;
    if (!ta_harden_canary_ok(s, p)) {
        /* The neighbour's memory (or our own metadata) may be damaged too:
         * the block is left alone rather than recycled. */
        ta_log_misuse(func, "heap overflow: canary after the block overwritten", p);
        return NULL;
    }
    size_t usable = ta_block_usable(s);
    unsigned junk = ta_harden_junk();
    /* Too big for a stripe: straight through (queuing it would flush the
     * whole stripe for nothing). */
    bool quarantine = stripes[0].ring && s->state != TA_SPAN_MMAP && usable <= TA_QUARANTINE_MAX_BLOCK &&
                      usable <= TA_OPT(quarantine_bytes);
    /* Junk on free (M_PERTURB's semantics); a mapping about to be unmapped
     * only when M_PERTURB asks, as without hardening. */
    if (junk && (s->state != TA_SPAN_MMAP || TA_OPT(perturb)))
        memset(p, (int)junk, usable);
    if (!quarantine)
        return p;
    ta_block_mark_free(s, p);
    q_entry_t in = {p, (uint32_t)usable, (uint8_t)junk};
    return quarantine_release(sp, my_stripe(), &in, func);
}

void *ta_harden_next(ta_span_t **sp, const char *func)
{
    return stripes[0].ring ? quarantine_release(sp, my_stripe(), NULL, func) : NULL;
}

void ta_harden_prefork(void)
{
    if (!ta_hardened)
        return;
    for (unsigned i = 0; i < TA_QUARANTINE_STRIPES; i++)
        ta_lock_acquire_for_fork(&stripes[i].lock);
}

void ta_harden_postfork(bool child, bool interrupted)
{
    if (!ta_hardened)
        return;
    for (unsigned i = 0; i < TA_QUARANTINE_STRIPES; i++) {
        if (!child) {
            ta_lock_release_for_fork(&stripes[i].lock);
            continue;
        }
        ta_lock_reinit(&stripes[i].lock);
        /* A ring the interrupted thread was changing cannot be trusted:
         * its blocks stay out of circulation (leaked) in the child. */
        if (interrupted) {
            stripes[i].head = stripes[i].count = 0;
            stripes[i].bytes = 0;
        }
    }
}
