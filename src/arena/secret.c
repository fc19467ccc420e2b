/* Per-process secrets (see secret.h): drawn from getrandom at boot, falling
 * back to the kernel's per-exec random bytes when the entropy pool is not
 * ready yet (very early boot). Never zero. */
#include "secret.h"
#include <errno.h>
#include <sys/auxv.h>
#include <sys/random.h>

uint64_t ta_free_key;
uintptr_t ta_link_key;

static uint64_t secret_new(unsigned which)
{
    uint64_t key = 0;
    int saved = errno;
    if (getrandom(&key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
        const uint64_t *r = (const uint64_t *)getauxval(AT_RANDOM);
        key = (r ? r[which & 1] : 0) ^ (uint64_t)(uintptr_t)&key;
    }
    errno = saved;
    return key ? key : 0x9e3779b97f4a7c15ull;
}

void ta_secret_boot(void)
{
    ta_free_key = secret_new(0);
    /* Low bits clear: a decoded valid pointer stays 16-byte aligned, so the
     * alignment check catches any corruption of the low bits. Top bit set:
     * a raw pointer or small integer written over an entry (bit 63 clear)
     * decodes to a value above the address space, which ta_link_plausible
     * rejects. */
    ta_link_key = ((uintptr_t)secret_new(1) & ~(uintptr_t)(TA_QUANTUM - 1)) | (uintptr_t)1 << 63;
}
