/* Option parsing from the environment and mallopt, generated from options.def.
 * Environment access walks `environ` directly: no getenv, no allocation. */
#include "options.h"
#include "log.h"
#include <string.h>

extern char **environ;

ta_options_t ta_opt = {
#define TA_OPTION(field, def, min, max, env, mparam, genv, gtun, doc) .field = (def),
#include "options.def"
#undef TA_OPTION
};
unsigned ta_hardened;

typedef struct option_desc {
    const char *env, *glibc_env, *glibc_tunable;
    uint64_t min, max;
    int mallopt_param;
    size_t offset;
} option_desc_t;

static const option_desc_t option_table[] = {
#define TA_OPTION(field, def, mn, mx, env, mparam, genv, gtun, doc) \
    {env, genv, gtun, (mn), (mx), (mparam), offsetof(ta_options_t, field)},
#include "options.def"
#undef TA_OPTION
};
#define NOPTIONS (sizeof option_table / sizeof option_table[0])

static uint64_t *option_slot(const option_desc_t *d)
{
    return (uint64_t *)((char *)&ta_opt + d->offset);
}

/* Decimal or 0x-hex, optional k/m/g suffix (binary units). */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    unsigned base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    size_t digits = 0;
    for (; i < len; i++, digits++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    if (!digits)
        return false;
    if (i < len) {
        unsigned shift;
        switch (s[i]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return false;
        }
        if (i + 1 != len || v > (UINT64_MAX >> shift))
            return false;
        v <<= shift;
    }
    *out = v;
    return true;
}

static void option_apply(const option_desc_t *d, const char *name, const char *val, size_t len)
{
    uint64_t v;
    if (!parse_u64(val, len, &v) || v < d->min || v > d->max) {
        ta_log_warn("ignoring bad value for", name);
        return;
    }
    TA_RELAXED_STORE(*option_slot(d), v);
    if (d->offset == offsetof(ta_options_t, trim_threshold) ||
        d->offset == offsetof(ta_options_t, top_pad) ||
        d->offset == offsetof(ta_options_t, mmap_threshold) ||
        d->offset == offsetof(ta_options_t, mmap_max))
        TA_OPT_SET(thresholds_fixed, true);
}

void ta_options_restore(const ta_options_t *from)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        TA_RELAXED_STORE(*option_slot(&option_table[i]),
                         *(const uint64_t *)((const char *)from + option_table[i].offset));
    TA_OPT_SET(thresholds_fixed, from->thresholds_fixed);
}

/* Value of NAME in environ, or NULL. */
const char *ta_env_lookup(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* GLIBC_TUNABLES=key=val:key=val. */
static void apply_tunables(const char *t)
{
    while (t && *t) {
        const char *end = strchr(t, ':');
        size_t len = end ? (size_t)(end - t) : strlen(t);
        const char *eq = memchr(t, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - t);
            for (size_t i = 0; i < NOPTIONS; i++) {
                const char *key = option_table[i].glibc_tunable;
                if (key && strlen(key) == klen && memcmp(key, t, klen) == 0)
                    option_apply(&option_table[i], key, eq + 1, len - klen - 1);
            }
        }
        t = end ? end + 1 : NULL;
    }
}

void ta_options_init(void)
{
    static bool done;
    if (done || !environ)
        return;
    done = true;
    /* Lowest precedence first, so later channels overwrite. */
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option_desc_t *d = &option_table[i];
        const char *v = d->glibc_env ? ta_env_lookup(d->glibc_env) : NULL;
        if (v)
            option_apply(d, d->glibc_env, v, strlen(v));
    }
    apply_tunables(ta_env_lookup("GLIBC_TUNABLES"));
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option_desc_t *d = &option_table[i];
        const char *v = ta_env_lookup(d->env);
        if (v)
            option_apply(d, d->env, v, strlen(v));
    }
    if (TA_OPT(show_options))
        ta_options_print(2);
}

int ta_options_mallopt(int param, int value)
{
    switch (param) {
    case M_TRIM_THRESHOLD:
    case M_TOP_PAD:
        /* glibc stores these as unsigned long: -1 means "never". */
        TA_RELAXED_STORE(*(param == M_TRIM_THRESHOLD ? &ta_opt.trim_threshold : &ta_opt.top_pad),
                         (uint64_t)(unsigned long)(long)value);
        TA_OPT_SET(thresholds_fixed, true);
        return 1;
    case M_MMAP_THRESHOLD:
        if (value < 0 || (uint64_t)value > 32u * 1024 * 1024)
            return 0;
        TA_OPT_SET(mmap_threshold, (uint64_t)value);
        TA_OPT_SET(thresholds_fixed, true);
        return 1;
    case M_MMAP_MAX:
        TA_OPT_SET(mmap_max, value < 0 ? 0 : (uint64_t)value);
        TA_OPT_SET(thresholds_fixed, true);
        return 1;
    case M_PERTURB:
        TA_OPT_SET(perturb, (uint64_t)value & 0xff);
        return 1;
    case M_ARENA_TEST:
        if (value > 0)
            TA_OPT_SET(arena_test, (uint64_t)value);
        return 1;
    case M_ARENA_MAX:
        if (value > 0)
            TA_OPT_SET(arena_max, (uint64_t)value);
        return 1;
    case M_CHECK_ACTION:
        /* glibc keeps the low bits: 1 print, 2 abort. */
        TA_OPT_SET(check_action, (uint64_t)value & 3);
        return 1;
    case M_MXFAST:
        /* No fastbins here; accept glibc's range so callers see no difference. */
        return value >= 0 && value <= 160;
    default:
        /* glibc answers 1 for parameters it does not know. */
        return 1;
    }
}

void ta_options_print(int fd)
{
    char mem[128];
    ta_buf_t b = {mem, 0, sizeof mem};
    for (size_t i = 0; i < NOPTIONS; i++) {
        ta_buf_str(&b, "tarena: option ");
        ta_buf_str(&b, option_table[i].env);
        ta_buf_str(&b, "=");
        ta_buf_u64(&b, TA_RELAXED_LOAD(*option_slot(&option_table[i])));
        ta_buf_str(&b, "\n");
        ta_buf_write(&b, fd);
    }
}
